"""Log-determinants on the twin (Aifer et al., "Thermodynamic linear algebra"): log det A for SPD A
from the equilibrium statistics of the circuit :func:`~spucircuit.linalg.solve.inv` runs.

Method ``equilibrium covariance``: the array programmed with A relaxes to cov(x) = (q/2) A^-1, so

    log det A = -log det(A^-1_hat) + bias correction,   A^-1_hat = 2 cov(x) / q  (inv's estimate).

* Standard error: the delta method, d log det S = tr(S^-1 dS): log det S_hat - log det S is to first
  order the time mean of the scalar series u(t) = (x(t) - x_bar)^T S_hat^-1 (x(t) - x_bar) (whose mean
  is tr(S_hat^-1 S_hat) = n) minus its expectation, so se is the standard error of that mean, from
  u's autocovariance summed over lags (:func:`~spucircuit.numerics.stats.series_mean_se`: honours
  the samples' correlation in time and uses every sample). The spread of the 32 batch values
  tr(S_hat^-1 S_b) estimates the same variance, but with a 13 % relative spread of its own: at n = 64
  it gave z-scores beyond 3.5 on runs whose se came out 20 % low (measured on 100 seeds of a
  64 x 64 case: error std 0.041, series se 0.043, batch se 0.034 to 0.051).
* Bias: log det of a sample covariance is biased low: E log det S_hat - log det S = -tr(S^-1
  cov(x_mean)) - 1/2 E tr((S^-1 dS)^2) + O(N^-2) (the first term from centring on the sample mean,
  the second the curvature of log det). Both are estimated from the same batches (the covariance of
  the batch means; the spread of the batch covariances) and subtracted. For N independent samples
  this is the expansion of the exact Wishart term sum_{i=1..n} psi((N - i)/2) + n log(2/N)
  (psi the digamma function), -n/N - n(n + 1)/2N; for a run's correlated samples the Wishart term at
  one effective N is not enough (the mean decorrelates at half the rate of the covariance, and the
  modes at different rates): on an 8 x 8 case it corrected only 60 % of the bias. The correction's
  size is also kept in the error bound, as what its second-order model may miss.
* Systematic: inv's bound s on |A^-1_dev - A^-1|_F (noise anisotropy, pruning, transient, read-out;
  :func:`~spucircuit.linalg.error_bound.inv_budget`) moves log det by at most
  sqrt(n) L s / (1 - L s), L >= lambda_max(A) the Gershgorin bound (what the device computes from the
  entries): log det(X + D) - log det X = sum log(1 + mu_i), mu the eigenvalues of X^-1/2 D X^-1/2,
  |mu| <= |X^-1|_2 |D|_2 <= L s.

Relative error: |log det_hat - log det A| / n, the error per dimension: it is the relative error of
the geometric-mean eigenvalue det(A)^(1/n) (to first order), and unlike a division by |log det A|
it does not blow up when det A is near 1 (log det A = 0 for many well-scaled matrices) and does not
grow with n for a fixed accuracy per eigenvalue. ``error_bound`` is in the same unit.
Cost: inv's (one stationary run), plus O(batches n^2) digital work.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import polygamma, psi

from spucircuit.errors import SPUError
from spucircuit.linalg.error_bound import Z_NOISE
from spucircuit.linalg.solve import SolveInfo, inv
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, SpectrumBounds
from spucircuit.numerics.matrices import check_spd
from spucircuit.numerics.stats import batch_covariances, series_mean_se

METHOD = "equilibrium covariance (inv on the twin), second-order bias correction from batches"


def wishart_logdet_moments(N: float, n: int) -> tuple:
    """(bias, variance) of log det of a sample covariance with N degrees of freedom (independent samples) in n dimensions:
    sum_i psi((N - i + 1)/2) + n log(2/N) and sum_i psi'((N - i + 1)/2), i = 1..n (N > n - 1)."""
    a = (N - np.arange(n)) / 2.0
    return float(np.sum(psi(a)) + n * np.log(2.0 / N)), float(np.sum(polygamma(1, a)))


def effective_dof(var: float, n: int, upper: float) -> float:
    """The N in (n, upper] whose Wishart log-det variance is ``var`` (``upper`` when the measured
    variance is below even that of ``upper`` independent samples, n when above that of n)."""
    f = lambda logN: wishart_logdet_moments(np.exp(logN), n)[1] - var
    lo, hi = np.log(n + 1e-9), np.log(max(upper, n + 1.0))
    if f(hi) >= 0:
        return float(np.exp(hi))
    if f(lo) <= 0:
        return float(n)
    return float(np.exp(brentq(f, lo, hi, xtol=1e-10)))


def batch_means(x, batches: int) -> np.ndarray:
    """(batches, n): the means of the same batches as :func:`~spucircuit.numerics.stats.batch_covariances`."""
    m, k, n = x.shape
    nb = batches // k
    L = m // nb
    return x[: nb * L].reshape(nb, L, k, n).transpose(2, 0, 1, 3).reshape(k * nb, L, n).mean(axis=1)


def trace_series_se(x, W) -> float:
    """Standard error of the time mean of u(t) = (x(t) - x_bar)^T W (x(t) - x_bar), ``x`` (m, chains, n)
    (module doc: the first-order error of log det of the sample covariance for W = S_hat^-1)."""
    c = x - x.reshape(-1, x.shape[-1]).mean(axis=0)
    u = np.einsum("tci,tci->tc", c @ W, c)
    return series_mean_se(u)[0]


def logdet_se_and_bias(covs, means, n: int) -> tuple:
    """(se, bias, N_eff) of log det of the pooled covariance S_hat = mean_b S_b of batch covariances
    ``covs`` (B, n, n) centred on the pooled mean, ``means`` (B, n) the batch means (module doc):
    se^2 = var_b tr(W S_b) / B and bias = -tr(W C_mean) - 1/2 tr((W dS)^2), W = S_hat^-1, with the
    covariance of the pooled mean C_mean = cov_b(means) / B and E tr((W dS)^2) = mean_b tr((W (S_b -
    S_hat))^2) / (B - 1); N_eff: the Wishart degrees of freedom of the same log-det variance."""
    B = len(covs)
    S = covs.mean(axis=0)
    W = np.linalg.inv(S)
    lin = np.einsum("ij,bji->b", W, covs)
    se = float(np.std(lin, ddof=1) / np.sqrt(B))
    D = np.einsum("ij,bjk->bik", W, covs - S)
    second = float(np.mean(np.einsum("bij,bji->b", D, D)) / (B - 1))
    dm = means - means.mean(axis=0)
    C_mean = dm.T @ dm / (B - 1) / B
    bias = -float(np.trace(W @ C_mean)) - 0.5 * second
    return se, bias, effective_dof(se * se, n, upper=1e15)


def logdet(A, *, time=None, chains: int = 8, seed=None, kappa_max: float = KAPPA_MAX_DEFAULT,
           return_info: bool = False, progress=False, **kwargs):
    """log det A for SPD A from the twin's equilibrium covariance (module doc).

    Args:
        A: (n, n) symmetric positive definite.
        time, chains, seed, kappa_max, progress, kwargs: as :func:`~spucircuit.linalg.solve.inv`
            (default analog time 2000 slowest relaxation times from the bound max_i A_ii / kappa_max).

    Returns:
        log det A, or (log det A, :class:`SolveInfo`) with ``standard_error`` (of log det, absolute),
        ``error_bound`` (on |error| / n), ``error_budget`` (absolute terms, ``method``,
        ``effective_dof``, ``bias_correction``) and ``analog_time_s``.
    """
    A = check_spd(A)
    n = A.shape[0]
    Ainv, info_inv, run = inv(A, time=time, chains=chains, seed=seed, kappa_max=kappa_max, progress=progress,
                              keep_run=True, **kwargs)
    sign, ld_inv = np.linalg.slogdet(Ainv)
    if sign <= 0:
        raise SPUError("the run's covariance is not positive definite (too few samples): give a longer time")
    x = run.res.x
    x = x / np.sqrt(np.mean(np.var(x, axis=(0, 1))))  # rescaled: log det needs only ratios
    covs = batch_covariances(x)
    _, bias, _ = logdet_se_and_bias(covs, batch_means(x, len(covs)), n)
    se = trace_series_se(x, np.linalg.inv(covs.mean(axis=0)))
    N = effective_dof(se * se, n, upper=1e15)
    value = -(ld_inv - bias)
    eb = info_inv.error_budget
    s = eb["systematic"] + eb["transient"] + eb["readout"]
    L = SpectrumBounds.from_matrix(A, kappa_max).lam_max_upper
    unbounded = list(eb["unbounded"])
    if L * s < 1:
        systematic = float(np.sqrt(n) * L * s / (1.0 - L * s))
    else:
        systematic = float("inf")
        unbounded.append(f"inv's bound {s:.3g} on |A^-1_dev - A^-1|_F is not below 1 / lambda_max_upper = {1 / L:.3g}")
    absolute = None if unbounded else Z_NOISE * se + abs(bias) + systematic
    budget = {"absolute": absolute, "relative": None if absolute is None else absolute / n, "noise": Z_NOISE * se,
              "bias_correction": bias, "bias_term": abs(bias), "systematic": systematic, "z": Z_NOISE,
              "normalisation": "n (error per dimension)", "effective_dof": N, "method": METHOD,
              "inv_budget": eb, "unbounded": unbounded}
    info = SolveInfo(
        task="logdet", standard_error=np.float64(se), analog_time_s=info_inv.analog_time_s,
        burn_in_s=info_inv.burn_in_s, tau_s=info_inv.tau_s, dt_s=info_inv.dt_s, chains=chains,
        noise_psd_A2_per_Hz=info_inv.noise_psd_A2_per_Hz, diffusion_x_per_tau=info_inv.diffusion_x_per_tau,
        components=info_inv.components, mapped=info_inv.mapped, scale=info_inv.scale,
        error_bound=budget["relative"], error_budget=budget,
    )
    return (value, info) if return_info else value
