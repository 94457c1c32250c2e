"""Standard errors of time averages of correlated samples (batch means / independent chains)."""
from __future__ import annotations

import numpy as np

from spucircuit.errors import StepError
from spucircuit.numerics.scaling import extreme_scale


def _batches(samples: np.ndarray, n_batches: int) -> np.ndarray:
    """(m, chains, n) -> (chains * n_batches, n) batch means; the tail that does not fill a batch
    is dropped."""
    m = samples.shape[0]
    nb = max(1, min(n_batches, m))
    L = m // nb
    s = samples[: nb * L].reshape(nb, L, *samples.shape[1:]).mean(axis=1)  # (nb, chains, n)
    return s.reshape(nb * samples.shape[1], -1) if samples.ndim == 3 else s


def mean_and_se(samples: np.ndarray, n_batches: int = 32, min_batch: int = 1):
    """Mean over (time, chains) and its standard error from batch means.

    ``samples`` is (m, chains, n). Each chain is split into ``n_batches // chains`` batches
    (at least 2 when there are fewer chains than ``n_batches``), but no batch shorter than
    ``min_batch`` samples: batches must be several autocorrelation times long for the SE to be
    honest (solve() sets min_batch to 5 slowest relaxation times). Computed on samples / s, s a
    power of two (exact: :func:`~spucircuit.numerics.scaling.extreme_scale`), so that samples of any magnitude neither underflow nor overflow.
    """
    samples = np.asarray(samples, float)
    s = extreme_scale(samples)
    if s is not None:
        mean, se = mean_and_se(samples / s, n_batches, min_batch)
        return mean * s, se * s
    if samples.ndim == 2:
        samples = samples[:, None, :]
    m, k = samples.shape[0], samples.shape[1]
    nb = max(2, n_batches // k) if k < n_batches else 1
    nb = max(1, min(nb, m // max(1, int(min_batch))))
    B = _batches(samples, nb)  # (k * nb, n)
    mean = B.mean(axis=0)
    se = B.std(axis=0, ddof=1) / np.sqrt(B.shape[0]) if B.shape[0] > 1 else np.full(mean.shape, np.nan)
    return mean, se


def batch_covariances(samples: np.ndarray, n_batches: int = 32, mean=None) -> np.ndarray:
    """(batches, n, n): the covariance of each batch of ``samples`` (m, chains, n) about the pooled
    mean (or ``mean``, a known one), every chain split into ``n_batches // chains`` batches (at least 2);
    their mean is the pooled covariance and their spread its batch-means standard error. Not
    rescaled: see :func:`cov_and_se` for samples of extreme magnitude."""
    samples = np.asarray(samples, float)
    if samples.ndim == 2:
        samples = samples[:, None, :]
    m, k, n = samples.shape
    nb = max(2, n_batches // k) if k < n_batches else 1
    L = m // nb
    if L < 1:  # a NaN covariance would come out
        raise StepError(f"the run kept {m} samples per chain, fewer than the {nb} batches of the covariance "
                        "estimate: take a smaller time step or a longer time")
    blocks = samples[: nb * L].reshape(nb, L, k, n).transpose(2, 0, 1, 3).reshape(k * nb, L, n)
    # centre on the pooled mean (not per batch: per-batch centring biases the covariance of
    # correlated samples by about -2 tau_int / L)
    mu = samples[: nb * L].reshape(-1, n).mean(axis=0) if mean is None else np.asarray(mean, float)
    c = blocks - mu[None, None, :]
    return np.einsum("bti,btj->bij", c, c) / L


def cov_and_se(samples: np.ndarray, n_batches: int = 32, mean=None):
    """Covariance over (time, chains) and the SE of each entry from batch covariances
    (:func:`batch_covariances`).

    If ``mean`` is given (a known mean) it is used instead of the sample mean. Computed on
    samples / s (s a power of two: exact) so that no product under- or overflows; the result
    overflows only if the covariance itself is beyond the float range.
    """
    samples = np.asarray(samples, float)
    s = extreme_scale(samples)
    if s is not None:
        cov, se = cov_and_se(samples / s, n_batches, None if mean is None else np.asarray(mean, float) / s)
        return cov * s * s, se * s * s
    covs = batch_covariances(samples, n_batches, mean)
    cov = covs.mean(axis=0)
    se = covs.std(axis=0, ddof=1) / np.sqrt(covs.shape[0])
    return cov, se


def series_mean_se(u: np.ndarray) -> tuple:
    """(se, tau_int) of the grand mean of a scalar series ``u`` (m, chains) of independent chains,
    from its autocovariance: var(mean) = tau_int gamma_0 / (m chains), tau_int = 1 + 2 sum_l rho_l
    summed by Geyer's initial monotone sequence (Statist. Sci. 7, 1992: the pair sums gamma_2j +
    gamma_2j+1 of a reversible chain are positive and decreasing; the sum stops at the first that is
    not). Uses every sample, so it is far less noisy than the spread of a few dozen batch means (a
    32-batch SE has a relative spread of 1/sqrt(62) = 13 %); O(m log m) per chain (FFT)."""
    u = np.asarray(u, float)
    if u.ndim == 1:
        u = u[:, None]
    m, k = u.shape
    d = u - u.mean()
    f = np.fft.rfft(d, n=2 * m, axis=0)
    acov = np.fft.irfft(f * np.conj(f), axis=0)[:m].sum(axis=1) / (m * k)  # gamma_l, pooled over chains
    g0 = acov[0]
    if not g0 > 0:
        return 0.0, 1.0
    pairs = acov[: 2 * (m // 2)].reshape(-1, 2).sum(axis=1)  # Gamma_j = gamma_2j + gamma_2j+1
    stop = np.flatnonzero(pairs <= 0)
    pairs = pairs[: stop[0] if stop.size else len(pairs)]
    pairs = np.minimum.accumulate(pairs)  # the initial monotone sequence
    var_sum = -g0 + 2.0 * pairs.sum()  # sum over all lags -m < l < m of gamma_l
    if not var_sum > 0:  # a strongly alternating series: fall back to independent samples
        var_sum = g0
    return float(np.sqrt(var_sum / (m * k))), float(var_sum / g0)
