"""The exact discretisation, the trajectory log-probability and the least-squares fit of
spucircuit.numerics.trajectory against direct references."""
import numpy as np
import pytest
import scipy.linalg as sla
from scipy.stats import multivariate_normal

from spucircuit.errors import MatrixError
from spucircuit.numerics.trajectory import (
    Var1Stats,
    delta_cov,
    discretize_lti,
    drift_from_discrete,
    log_prob,
    power_and_cov,
)


def _system(n=3, seed=0):
    rng = np.random.default_rng(seed)
    F = -np.eye(n) + 0.5 * rng.standard_normal((n, n))
    F -= max(0.0, np.linalg.eigvals(F).real.max() + 0.2) * np.eye(n)
    B = rng.standard_normal((n, n))
    return F, B @ B.T / n + 0.1 * np.eye(n), rng.standard_normal(n)


def test_discretisation_against_quadrature():
    F, Q, c = _system()
    h = 0.37
    Phi, d, S = discretize_lti(F, Q, h, c)
    s = np.linspace(0, h, 2001)
    E = [sla.expm(F * t) for t in s]
    S_ref = np.trapezoid([e @ Q @ e.T for e in E], s, axis=0)
    d_ref = np.trapezoid([e @ c for e in E], s, axis=0)
    assert np.allclose(Phi, sla.expm(F * h), rtol=0, atol=1e-13)
    assert np.allclose(S, S_ref, rtol=1e-6, atol=1e-9)
    assert np.allclose(d, d_ref, rtol=1e-6, atol=1e-9)
    assert np.allclose(d, (Phi - np.eye(3)) @ np.linalg.solve(F, c), atol=1e-12)
    assert np.allclose(F @ S + S @ F.T, Phi @ Q @ Phi.T - Q, atol=1e-12)
    F2, Q2 = drift_from_discrete(Phi, S, h)  # and back
    assert np.allclose(F2, F, atol=1e-9) and np.allclose(Q2, Q, atol=1e-9)


@pytest.mark.parametrize("K", [1, 2, 5])
def test_log_prob_is_the_density_of_the_stacked_trajectory(K):
    """log p(x_1..x_K | x_0) against the joint Gaussian of the stacked vector: means Phi^k x0 + sum
    Phi^j d, covariances cov(x_i, x_j) = Phi^(i-j) V_j (i >= j), V_j = sum_{l<j} Phi^l Sigma Phi^lT."""
    F, Q, c = _system(seed=K)
    h, n = 0.5, 3
    Phi, d, S = discretize_lti(F, Q, h, c)
    rng = np.random.default_rng(10 + K)
    xs = rng.standard_normal((K + 1, n))
    mean, V = [], [np.zeros((n, n))]
    m = xs[0]
    for _ in range(K):
        m = Phi @ m + d
        mean.append(m)
        V.append(Phi @ V[-1] @ Phi.T + S)
    C = np.zeros((K * n, K * n))
    for i in range(1, K + 1):
        for j in range(1, i + 1):
            blk = np.linalg.matrix_power(Phi, i - j) @ V[j]
            C[(i - 1) * n:i * n, (j - 1) * n:j * n] = blk
            C[(j - 1) * n:j * n, (i - 1) * n:i * n] = blk.T
    ref = multivariate_normal(np.concatenate(mean), C).logpdf(xs[1:].ravel())
    assert log_prob(xs, F, Q, h, c) == pytest.approx(ref, rel=1e-10, abs=1e-9)


def test_log_prob_bad_input():
    F, Q, _ = _system()
    with pytest.raises(MatrixError, match="expected"):
        log_prob(np.zeros((1, 3)), F, Q, 0.1)
    with pytest.raises(MatrixError, match="Sigma_h is singular"):
        log_prob(np.zeros((3, 3)), -np.eye(3), np.diag([1.0, 0.0, 0.0]), 0.1)


def test_least_squares_fit_recovers_phi_within_its_standard_errors():
    """Exact AR(1) paths (no circuit): the fit is within 4 SE entry by entry and the SEs are the
    spread (mean z^2 = 1 within 4 of its own SE over 40 seeds x 9 entries)."""
    F, Q, c = _system()
    Phi, d, S = discretize_lti(F, Q, 0.3, c)
    L = np.linalg.cholesky(S)
    z = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = np.zeros((4000, 4, 3))
        for k in range(1, 4000):
            x[k] = x[k - 1] @ Phi.T + d + rng.standard_normal((4, 3)) @ L.T
        st = Var1Stats(3)
        st.add(x[:1500])
        st.add(x[1500:])  # a continuing segment
        fit = st.fit()
        assert fit.pairs == 3999 * 4
        z.append(((fit.Phi - Phi) / fit.se_phi).ravel())
        z.append((fit.d[0] - d) / fit.se_d[0])
    z = np.concatenate(z)
    assert np.abs(z).max() < 4.5 and abs(np.mean(z**2) - 1) <= 4 * np.sqrt(2 / z.size)


def test_power_covariance_against_finite_differences():
    F, _, _ = _system()
    Phi = sla.expm(0.2 * F)
    cov = np.diag(np.linspace(1, 2, 9)) * 1e-4
    P, C = power_and_cov(Phi, cov, 5)
    assert np.allclose(P, np.linalg.matrix_power(Phi, 5))
    C2 = delta_cov(lambda t: np.linalg.matrix_power(t.reshape(3, 3), 5), Phi.ravel(), cov)
    assert np.allclose(C, C2, rtol=1e-6, atol=1e-14)


def test_power_and_cov_kron_is_the_jacobian_product():
    """The Kronecker form of the m-th power's covariance equals J kron(Sigma, G) J^T (power_and_cov)."""
    from spucircuit.numerics.trajectory import power_and_cov, power_and_cov_kron

    rng = np.random.default_rng(0)
    for n, m in ((3, 4), (5, 1), (6, 7)):
        P = 0.3 * rng.standard_normal((n, n))
        S, G = (W @ W.T for W in (rng.standard_normal((n, n)), rng.standard_normal((n, n))))
        E1, C1 = power_and_cov(P, np.kron(S, G), m)
        E2, C2 = power_and_cov_kron(P, S, G, m)
        assert np.array_equal(E1, E2)
        assert np.abs(C1 - C2).max() <= 1e-12 * np.abs(C1).max()
