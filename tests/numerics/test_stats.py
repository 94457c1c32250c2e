"""series_mean_se (the log-determinant's standard error, issue 16): on AR(1) chains with known
autocorrelation the integrated autocorrelation time and the standard error are the theoretical ones."""
import numpy as np

from spucircuit.numerics.stats import series_mean_se


def ar1(rng, rho, m, k):
    u = np.empty((m, k))
    u[0] = rng.standard_normal(k)  # stationary start (unit variance)
    e = rng.standard_normal((m, k)) * np.sqrt(1 - rho**2)
    for t in range(1, m):
        u[t] = rho * u[t - 1] + e[t]
    return u


def test_ar1_tau_and_calibration():
    """tau_int = (1 + rho) / (1 - rho) = 9 for rho = 0.8; 40 independent runs: their mean tau_int within 4
    of its standard errors of 9 (to the window's O(1/m) truncation), and the z-scores of the means
    (true mean 0) have mean square 1 within 4 of its standard errors (var z^2 = 2)."""
    rng = np.random.default_rng(5)
    rho, m, k, R = 0.8, 5000, 4, 40
    taus, z = [], []
    for _ in range(R):
        u = ar1(rng, rho, m, k)
        se, tau = series_mean_se(u)
        taus.append(tau)
        z.append(u.mean() / se)
    taus, z = np.array(taus), np.array(z)
    assert abs(taus.mean() - 9.0) <= 4 * taus.std(ddof=1) / np.sqrt(R) + 9.0 * 40 / m, taus.mean()
    assert abs(np.mean(z**2) - 1.0) <= 4 * np.sqrt(2.0 / R)


def test_independent_samples_and_constant():
    rng = np.random.default_rng(1)
    se, tau = series_mean_se(rng.standard_normal((20000, 2)))
    assert abs(tau - 1.0) <= 4 * np.sqrt(2 * 3 / 40000) + 0.05  # a few lags of noise in the sum
    assert series_mean_se(np.ones((10, 3))) == (0.0, 1.0)
