"""Selected entries of A^-1 (its diagonal, or given (i, j)) from the stationary covariance of only
the coordinates they need (issue 15): a dense inverse of a 65,000-node array is not the point.

The twin runs as :func:`~spucircuit.linalg.solve.inv` does (b = 0, injected noise, the same run
policy), but nothing n x n is kept: the run advances in chunks of steps, and each chunk's samples
of the needed coordinates are folded into per-batch sums of x_i x_j and x_i (O(n) memory for the
diagonal, O(k) for k entries plus the chunk). A^-1_ij = 2 cov(x_i, x_j) / q with q the mean
diagonal of the x-unit diffusion; its standard error comes from batch covariances (batches at
least 5 slowest relaxation times long, centred on the pooled mean, as
:func:`~spucircuit.numerics.stats.cov_and_se`).

The trapezoidal scheme's start: from x = 0 a mode with z = h lambda >> 1 gains its variance only
by a factor rho^2 = ((1 - z/2) / (1 + z/2))^2 ~ 1 - 8 / z per step, far too slowly at the step the
slowest dynamics allow. Since the scheme's stationary covariance is exact at *every* step, a
mode once stationary stays so when the step changes: :func:`settle_covariance` runs a ladder of
steps 2 / lambda_upper x 4^j up to h, LADDER_STEPS each, giving every mode one rung with z in
[0.5, 2] (|rho| <= 0.6); the bound on what is left is
:func:`~spucircuit.linalg.error_bound.trapezoidal_covariance_transient`.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spucircuit.device.base import add_work
from spucircuit.errors import SPUError

LADDER_RATIO = 4.0
LADDER_STEPS = 16
CHUNK_VALUES = 4_000_000  # samples x chains x n a chunk of the run keeps (32 MB)
SE_BATCHES = 32  # batch-chains of the standard error (as cov_and_se)


def parse_entries(entries, diagonal: bool, n: int) -> tuple:
    """(rows, cols) of the wanted entries: the diagonal, or a list of (i, j) pairs; one-line SPUError
    for anything else."""
    if diagonal and entries is not None:
        raise SPUError("give either diagonal=True or entries=[(i, j), ...], not both")
    if diagonal:
        idx = np.arange(n)
        return idx, idx
    try:
        e = np.asarray(entries)
        ok = e.ndim == 2 and e.shape[1] == 2 and e.shape[0] >= 1 and np.issubdtype(e.dtype, np.integer)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SPUError(f"entries must be a non-empty list of integer (i, j) pairs, got {entries!r:.80}")
    if e.min() < 0 or e.max() >= n:
        raise SPUError(f"entries must index a {n} x {n} matrix (0 <= i, j < {n}), got a pair with index "
                       f"{int(e.min()) if e.min() < 0 else int(e.max())}")
    return e[:, 0].astype(np.int64), e[:, 1].astype(np.int64)


def settle_covariance(spu, h: float, lam_upper: float, tau: float) -> tuple:
    """Run the step ladder (module doc) from the current state; leaves the step at ``h`` (s).
    Returns (analog time s, rungs, steps per rung)."""
    rungs = []
    hj = 2.0 / lam_upper * tau
    while hj < h:
        rungs.append(hj)
        hj *= LADDER_RATIO
    t = 0.0
    for hj in rungs:
        spu.set_dt(hj)
        t += spu.run(LADDER_STEPS * hj, max_samples=1, adc=False).analog_time_s
    if rungs:
        spu.set_dt(h)
    return t, len(rungs), LADDER_STEPS


def selected_covariance(spu, rows, cols, n_steps: int, min_batch: int) -> tuple:
    """cov(x_rows, x_cols) over ``n_steps`` steps of every chain (samples every step), and its
    standard error from batch covariances; only the needed coordinates are read out. Returns
    (cov, se, batches, analog time s)."""
    k = spu.chains
    need = np.unique(np.concatenate([rows, cols]))
    ri, ci = np.searchsorted(need, rows), np.searchsorted(need, cols)
    nb = max(2, SE_BATCHES // k) if k < SE_BATCHES else 1
    nb = max(1, min(nb, n_steps // max(1, int(min_batch))))
    L = n_steps // nb  # steps per batch; the tail that does not fill a batch is not run
    if L < 1:
        raise SPUError(f"the run has {n_steps} steps, fewer than the {nb} batches of the covariance estimate: "
                       "take a smaller time step or a longer time")
    chunk = max(1, min(L, CHUNK_VALUES // max(1, k * spu.n)))
    P = np.zeros((nb, k, len(rows)))
    S = np.zeros((nb, k, len(need)))
    t = 0.0
    for b in range(nb):
        done = 0
        while done < L:
            m = min(chunk, L - done)
            res = spu.run(m * spu.dt, save_every=1, max_samples=m, adc=False)
            x = res.x[:, :, need]  # (m, chains, |need|)
            P[b] += np.einsum("tcp,tcp->cp", x[:, :, ri], x[:, :, ci])
            S[b] += x.sum(axis=0)
            t += res.analog_time_s
            done += m
    P /= L
    S /= L
    mu = S.mean(axis=(0, 1))
    covs = P - mu[ri] * S[:, :, ci] - S[:, :, ri] * mu[ci] + mu[ri] * mu[ci]  # centred on the pooled mean
    covs = covs.reshape(nb * k, -1)
    se = covs.std(axis=0, ddof=1) / np.sqrt(covs.shape[0]) if covs.shape[0] > 1 else np.full(len(rows), np.nan)
    add_work(1e-9 * float(n_steps) * k * (len(rows) + len(need)))  # the folding of the samples
    return covs.mean(axis=0), se, nb * k, t


def diffusion_diagonal_stats(Qx) -> tuple:
    """(q, anisotropy) of the x-unit diffusion (dense or sparse), without forming it densely."""
    from spucircuit.linalg.error_bound import diffusion_anisotropy

    d = Qx.diagonal() if sp.issparse(Qx) else np.diag(np.asarray(Qx, float))
    q = float(np.mean(d))
    return q, (diffusion_anisotropy(Qx) if q > 0 else float("inf"))
