"""Rounding values onto b-bit grids: the programmable resistor (and capacitor) banks of a device.

:func:`quantize_values` is the reference (numpy, any grid: uniform in conductance, in resistance,
or log-spaced; ``nearest`` or ``stochastic`` rounding, unbiased in conductance or in value).
:func:`quantize_array` rounds a signed conductance array on the conductance grid in one compiled
pass (numba, rows in parallel, counter-based uniforms so threads do not change the result), and
:func:`quantize_h_blocks` rounds Laplacian-form H blocks edge by edge so they stay positive
semidefinite. Stochastic rounding picks the upper of the two bracketing levels with the probability
that makes E[h(v')] = h(v): independent programmings average to the target.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from spucircuit._util.keys import counter_uniforms, stream_key, uniform_at
from spucircuit.errors import RealizabilityError, SPUError


def conductance_grid(bits: int | None, r_min: float, r_max: float, levels: int | None = None):
    """The b-bit conductance grid of a programmable resistor over [r_min, r_max] (the default
    grid of :class:`~spucircuit.imperfections.models.ResistorBank`): levels G_k = 1/r_max + k dG,
    k = 0..L - 1, L = 2^b (or ``levels``), dG = (1/r_min - 1/r_max) / (L - 1).
    Returns (G_0, dG, L)."""
    L = int(levels) if levels else 2 ** int(bits)
    gmin, gmax = 1.0 / float(r_max), 1.0 / float(r_min)
    return gmin, (gmax - gmin) / (L - 1), L


def quantize_conductances(G, bits: int | None, r_min: float, r_max: float, rounding: str, u=None,
                          levels: int | None = None):
    """Signed conductances (any shape) rounded on the conductance grid: the numpy reference of
    :func:`quantize_array`'s kernel, with the same arithmetic in the same order (bit for bit equal
    when ``u`` holds that kernel's counter uniforms; a test checks it).

    |G| is clipped into [1/r_max, 1/r_min], p = (|G| - G_0) / dG; 'nearest' takes floor(p + 1/2),
    'stochastic' the upper of the two bracketing levels when u < p - floor(p), which is unbiased in
    conductance: E[G'] = G. Signs are kept, zeros (open positions) stay open.
    Returns (G', number of non-zero targets outside [r_min, r_max])."""
    G = np.asarray(G, dtype=np.float64)
    gmin, dz, L = conductance_grid(bits, r_min, r_max, levels)
    lo_t, hi_t = float(r_min) * (1.0 - 1e-12), float(r_max) * (1.0 + 1e-12)
    gl, gh = 1.0 / float(r_max), 1.0 / float(r_min)
    idz, top = 1.0 / dz, L - 1.0
    a = np.abs(G)
    nz = G != 0.0
    with np.errstate(divide="ignore"):
        v = 1.0 / a
    clipped = int(np.count_nonzero(nz & ((v < lo_t) | (v > hi_t))))
    p = np.minimum(np.maximum((np.minimum(np.maximum(a, gl), gh) - gmin) * idz, 0.0), top)
    if rounding == "stochastic":
        if u is None:
            raise SPUError("stochastic rounding needs uniforms")
        k = np.minimum(np.floor(p), L - 2.0)
        k = k + (np.asarray(u, dtype=float) < p - k)
    else:
        k = np.floor(p + 0.5)
    q = gmin + k * dz
    return np.where(nz, np.where(G > 0.0, q, -q), 0.0), clipped




@nb.njit(cache=True, parallel=True)
def _quantize_kernel(G, out, lo, hi, zmin, dz, L, stochastic, key):
    """Rows of a signed conductance array: |G| rounded on the grid zmin + k dz by the rule of
    :func:`quantize_conductances` (same arithmetic, same order: bit for bit),
    sign kept, open entries (G = 0) stay open. The uniform of entry (r, c) is the counter-based
    ``uniform_at(key, r n + c)``, so rows are independent (threads do not change the result).
    Returns the clip count."""
    R, n = G.shape
    lo_t = lo * (1.0 - 1e-12)
    hi_t = hi * (1.0 + 1e-12)
    gl, gh = 1.0 / hi, 1.0 / lo  # the clip of 1/|G| into [lo, hi], in conductance
    idz = 1.0 / dz
    top = L - 1.0
    clipped = np.zeros(R, np.int64)
    for r in nb.prange(R):
        cl = 0
        base = r * n
        for c in range(n):
            g = G[r, c]
            if g == 0.0:
                out[r, c] = 0.0
                continue
            a = abs(g)
            v = 1.0 / a
            if v < lo_t or v > hi_t:
                cl += 1
            p = min(max((min(max(a, gl), gh) - zmin) * idz, 0.0), top)
            if stochastic:
                k = min(math.floor(p), L - 2.0)
                if uniform_at(key, base + c) < p - k:
                    k += 1.0
            else:
                k = math.floor(p + 0.5)
            q = zmin + k * dz
            out[r, c] = q if g > 0.0 else -q
        clipped[r] = cl
    return clipped.sum()


def _check_rounding(bits, rounding):
    if int(bits) < 1:
        raise RealizabilityError(f"resistor precision needs bits >= 1, got {bits!r}")
    if rounding not in ("nearest", "stochastic"):
        raise RealizabilityError(f"unknown rounding {rounding!r}: use 'nearest' or 'stochastic'")




def quantize_array(G, bits: int, r_min: float, r_max: float, rounding: str = "stochastic", rng=None,
                   out: np.ndarray | None = None):
    """A signed conductance array (e.g. the J array, m x N) programmed with b-bit resistors.

    Every non-zero entry is rounded on :func:`conductance_grid` (``rounding`` 'nearest', or
    'stochastic': the upper of the two bracketing levels with the probability that makes
    E[G'] = G, so independent programmings average to the target); zeros stay open. Same rule as
    :func:`quantize_conductances` (its numpy reference, bit for bit), in one compiled pass without
    temporaries. Uniforms: entry (r, c) of a row-major (R, n) view
    takes :func:`counter_uniforms` (key, ...)[r n + c], the key drawn from ``rng`` (a Generator:
    one integer; an int / SeedSequence: its first uint64 state word).
    Returns (G', number of targets clipped into [1/r_max, 1/r_min])."""
    _check_rounding(bits, rounding)
    G = np.ascontiguousarray(G, dtype=np.float64)
    if out is None:
        out = np.empty_like(G)
    stochastic = rounding == "stochastic"
    key = stream_key(rng) if stochastic else np.uint64(0)
    gmin, dG, L = conductance_grid(bits, r_min, r_max)
    G2d = G.reshape(G.shape[0], -1) if G.ndim > 1 else G.reshape(1, -1)
    clipped = _quantize_kernel(G2d, out.reshape(G2d.shape), float(r_min), float(r_max), gmin, dG, float(L),
                               stochastic, key)
    return out, int(clipped)


def _quantize_entries(vals, bits, r_min, r_max, rounding, u):
    """Signed conductances (any shape) on the conductance grid (zeros stay open)."""
    return quantize_conductances(vals, bits, r_min, r_max, rounding, u)


def quantize_h_blocks(G2, bits: int, r_min: float, r_max: float, rounding: str = "stochastic", rng=None):
    """The H array (b, dz, dz) programmed with b-bit resistors, keeping each block's structure.

    * Blocks that are symmetric with off-diagonal entries <= 0 and row sums >= 0 (the softmax
      cross-entropy Hessian diag(p) - p p^T, diagonal Hessians, the 1 x 1 unit blocks of a GGN
      factor): written as H = L(w) + diag(d), a weighted graph Laplacian (edges w_kl = -H_kl) plus
      a diagonal d = row sums. Each edge w_kl and each d_k is one b-bit resistor; the diagonal
      entry is realised as parallel resistors (d_k and the row's edges, the controller writes the
      same code for both ends of an edge), so H' = L(w') + diag(d') stays symmetric positive
      semidefinite (the circuit stays stable) and E[H'] = H under stochastic rounding. A row sum
      below 1/r_max (e.g. the round-off of diag(p) - p p^T) is left open, like pruned entries.
    * Other symmetric blocks: entry-wise rounding with one shared draw for (k, l) and (l, k)
      (symmetric H', possibly indefinite). Non-symmetric blocks: independent draws.
    Returns (G2', info) with the clip count and the number of Laplacian-form blocks."""
    _check_rounding(bits, rounding)
    G2 = np.asarray(G2, dtype=np.float64)
    b, dz, _ = G2.shape
    stochastic = rounding == "stochastic"
    if stochastic:
        U = counter_uniforms(stream_key(rng), b * dz * dz + b * dz)
        Uraw = U[:b * dz * dz].reshape(b, dz, dz)
        Ud = U[b * dz * dz:].reshape(b, dz)
        Usym = np.triu(Uraw) + np.swapaxes(np.triu(Uraw, 1), 1, 2)
    else:
        Uraw = Usym = Ud = None
    scale = float(np.max(np.abs(G2))) if G2.size else 0.0
    tol = 1e-12 * scale
    eye = np.eye(dz, dtype=bool)
    sym = np.max(np.abs(G2 - np.swapaxes(G2, 1, 2)), axis=(1, 2), initial=0.0) <= tol
    off = np.where(eye, 0.0, G2)
    rows = G2.sum(axis=2)
    lap = sym & (np.max(off, axis=(1, 2), initial=0.0) <= tol) & (np.min(rows, axis=1, initial=0.0) >= -tol)
    out = np.empty_like(G2)
    clipped = 0
    if np.any(lap):
        W = np.maximum(-off[lap], 0.0)
        d = rows[lap]
        d = np.where(d >= 1.0 / r_max, d, 0.0)
        Wq, c1 = _quantize_entries(W, bits, r_min, r_max, rounding, None if Usym is None else Usym[lap])
        dq, c2 = _quantize_entries(d, bits, r_min, r_max, rounding, None if Ud is None else Ud[lap])
        blk = -Wq
        idx = np.arange(dz)
        blk[:, idx, idx] = dq + Wq.sum(axis=2)
        out[lap] = blk
        clipped += c1 + c2
    rest = ~lap
    if np.any(rest):
        U = None
        if stochastic:
            U = np.where(sym[:, None, None], Usym, Uraw)[rest]
        q, c = _quantize_entries(G2[rest], bits, r_min, r_max, rounding, U)
        out[rest] = q
        clipped += c
    return out, {"clipped": clipped, "laplacian_blocks": int(np.count_nonzero(lap)), "blocks": int(b)}




# -------------------------------------------------------------------------- quantisation
_GRIDS = {"conductance", "resistance", "linear", "log"}


def _transform(grid: str):
    if grid == "conductance":
        return (lambda v: 1.0 / v), (lambda z: 1.0 / z)
    if grid == "log":
        return np.log, np.exp
    return (lambda v: v), (lambda z: z)


def quantize_values(values, bits: int | None, lo: float, hi: float, grid: str, rounding: str,
                    unbiased: str = "conductance", u=None, levels: int | None = None):
    """Round component values onto a b-bit grid spanning [lo, hi].

    grid: 'conductance' (levels uniform in 1/v), 'resistance'/'linear' (uniform in v), 'log'.
    rounding: 'nearest' (nearest level in the grid's own variable) or 'stochastic' (one of the two
    bracketing levels, upper with probability p chosen so that E[h(v)] = h(target), h = 1/v for
    unbiased='conductance', h = v for 'resistance'/'value'; ``u`` are the uniforms).
    Returns (rounded values, number of targets clipped into the range).
    """
    v = np.asarray(values, dtype=float)
    if levels is None:
        if bits is None or bits <= 0:
            return v.copy(), 0
        levels = 2 ** int(bits)
    if int(levels) < 2:
        raise SPUError(f"a bank needs at least 2 levels, got {levels}")
    if grid not in _GRIDS:
        raise SPUError(f"unknown bank grid {grid!r}: use one of {sorted(_GRIDS)}")
    if rounding not in ("nearest", "stochastic"):
        raise SPUError(f"unknown rounding {rounding!r}: use 'nearest' or 'stochastic'")
    if not (0 < lo < hi):
        raise SPUError(f"bank range must satisfy 0 < lo < hi, got ({lo}, {hi})")
    L = int(levels)
    if grid == "conductance" and (rounding == "nearest" or unbiased == "conductance"):
        g, clipped = quantize_conductances(1.0 / v, None, lo, hi, rounding, u, levels=L)
        return 1.0 / g, clipped
    f, finv = _transform(grid)
    z_a, z_b = f(lo), f(hi)
    z_min, z_max = min(z_a, z_b), max(z_a, z_b)
    dz = (z_max - z_min) / (L - 1)
    clipped = int(np.count_nonzero((v < lo * (1 - 1e-12)) | (v > hi * (1 + 1e-12))))
    p = np.clip((f(np.clip(v, lo, hi)) - z_min) / dz, 0.0, L - 1.0)
    if rounding == "nearest":
        k = np.floor(p + 0.5)
        return finv(z_min + k * dz), clipped
    k0 = np.minimum(np.floor(p), L - 2)
    v0, v1 = finv(z_min + k0 * dz), finv(z_min + (k0 + 1) * dz)
    h = (lambda x: 1.0 / x) if unbiased == "conductance" else (lambda x: x)
    t = np.clip(v, lo, hi)
    prob1 = np.clip((h(t) - h(v0)) / (h(v1) - h(v0)), 0.0, 1.0)
    if u is None:
        raise SPUError("stochastic rounding needs uniforms")
    return np.where(np.asarray(u) < prob1, v1, v0), clipped


def conductance_error_bound(R_target, bits: int | None, r_range, grid: str = "conductance",
                            rounding: str = "nearest", levels: int | None = None) -> np.ndarray:
    """Largest |G_rounded - G_target| (S) a b-bit resistor bank can produce for each target.

    Closed forms: conductance grid, step dG = (1/r_min - 1/r_max) / (2^b - 1): dG / 2 (nearest),
    dG (stochastic). Resistance grid, step dR: 1/(R - dR/2) - 1/R (nearest; full step for
    stochastic). Log grid, ratio rho = (r_max/r_min)^(1/(2^b - 1)): (sqrt(rho) - 1) / R
    (nearest; (rho - 1) / R stochastic).
    """
    R = np.asarray(R_target, dtype=float)
    lo, hi = r_range
    L = int(levels) if levels else 2 ** int(bits)
    frac = 0.5 if rounding == "nearest" else 1.0
    if grid == "conductance":
        return np.full(R.shape, frac * (1.0 / lo - 1.0 / hi) / (L - 1))
    if grid in ("resistance", "linear"):
        dR = frac * (hi - lo) / (L - 1)
        return 1.0 / np.maximum(R - dR, lo) - 1.0 / R
    rho = (hi / lo) ** (1.0 / (L - 1))
    return (rho**frac - 1.0) / R
