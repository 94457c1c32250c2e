"""Products of signed conductance arrays (numba): the resistor-array stages of a factored circuit.

A stage computes out_k = scale_k sum_j G_kj V(source_j) with signed conductances G: a negative
entry hangs on the inverted (buffered) source node. The kernels take the direct inputs UP and
DM = (inverted input) - UP, so a signed entry g contributes g UP + min(g, 0) DM, a branch-free form
LLVM vectorises. Rows (or column blocks) are split over threads by a partition that does not depend
on the thread count, and every output is reduced by one thread in a fixed order, so results do not
depend on the number of threads. Cost O(rows x columns) per product; no temporaries.
"""
from __future__ import annotations

import numba as nb
import numpy as np

FM = {"reassoc", "contract"}  # lets LLVM vectorise the reductions (deterministic on one machine)


# =====================================================================================
# numba kernels: one stage of the chain, the fused Euler-Maruyama step
# =====================================================================================
# The stage kernels take the direct inputs UP and DM = (inverted input) - UP: a signed entry g
# contributes g * (UP if g >= 0 else UP + DM) = g UP + min(g, 0) DM, a branch-free form LLVM
# vectorises. Rows (or column blocks, or row chunks) are split over threads (numba prange) by a
# partition that does not depend on the thread count, and every output is reduced by one thread in
# a fixed order, so results do not depend on the thread count.
#
# Building blocks: dot4 / dot1 (rows . vector over a column range) and axpy4 / axpy1
# (acc += rows^T . coefficients over a column range) work on 4 rows at once, so each vector entry
# loaded from memory serves four array rows (register blocking; the array is the only stream).
# Loops run over slices from index 0: numba's negative-index wraparound on an index that LLVM cannot
# prove non-negative (range(t0, t1)) would turn the contiguous loads into gathers.
TILE = 2048  # columns per tile: 4 rows x 2048 x 8 B = 64 KB, the vector tiles stay in L1
COLBLK = 2048  # columns per thread task in stage_cols


@nb.njit(cache=True, fastmath=FM)
def dot4(G, r, up, dm, t0, t1):
    """sum_{t0 <= j < t1} G[r + i, j] up[j] + min(G[r + i, j], 0) dm[j] for i = 0..3."""
    g0 = G[r, t0:t1]
    g1 = G[r + 1, t0:t1]
    g2 = G[r + 2, t0:t1]
    g3 = G[r + 3, t0:t1]
    u_ = up[t0:t1]
    d_ = dm[t0:t1]
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = 0.0
    for j in range(t1 - t0):
        u = u_[j]
        d = d_[j]
        x = g0[j]
        a0 += x * u
        b0 += min(x, 0.0) * d
        x = g1[j]
        a1 += x * u
        b1 += min(x, 0.0) * d
        x = g2[j]
        a2 += x * u
        b2 += min(x, 0.0) * d
        x = g3[j]
        a3 += x * u
        b3 += min(x, 0.0) * d
    return a0 + b0, a1 + b1, a2 + b2, a3 + b3


@nb.njit(cache=True, fastmath=FM)
def dot1(G, r, up, dm, t0, t1):
    g0 = G[r, t0:t1]
    u_ = up[t0:t1]
    d_ = dm[t0:t1]
    a0 = b0 = 0.0
    for j in range(t1 - t0):
        x = g0[j]
        a0 += x * u_[j]
        b0 += min(x, 0.0) * d_[j]
    return a0 + b0


@nb.njit(cache=True, fastmath=FM)
def axpy4(G, r, u0, u1, u2, u3, d0, d1, d2, d3, t0, t1, acc):
    """acc[j - t0] += sum_i G[r + i, j] u_i + min(G[r + i, j], 0) d_i, i = 0..3, t0 <= j < t1."""
    g0 = G[r, t0:t1]
    g1 = G[r + 1, t0:t1]
    g2 = G[r + 2, t0:t1]
    g3 = G[r + 3, t0:t1]
    for j in range(t1 - t0):
        x0 = g0[j]
        x1 = g1[j]
        x2 = g2[j]
        x3 = g3[j]
        acc[j] += (x0 * u0 + min(x0, 0.0) * d0 + x1 * u1 + min(x1, 0.0) * d1
                   + x2 * u2 + min(x2, 0.0) * d2 + x3 * u3 + min(x3, 0.0) * d3)


@nb.njit(cache=True, fastmath=FM)
def axpy1(G, r, u0, d0, t0, t1, acc):
    g0 = G[r, t0:t1]
    for j in range(t1 - t0):
        x0 = g0[j]
        acc[j] += x0 * u0 + min(x0, 0.0) * d0


@nb.njit(cache=True, fastmath=FM)
def rows_dot(G, r0, r1, UP, DM, OUT, c, t0, t1):
    """OUT[c, r] += rows r0..r1-1 of G . (UP[c], DM[c]) over columns t0..t1-1."""
    up = UP[c]
    dm = DM[c]
    r = r0
    while r + 4 <= r1:
        s0, s1, s2, s3 = dot4(G, r, up, dm, t0, t1)
        OUT[c, r] += s0
        OUT[c, r + 1] += s1
        OUT[c, r + 2] += s2
        OUT[c, r + 3] += s3
        r += 4
    while r < r1:
        OUT[c, r] += dot1(G, r, up, dm, t0, t1)
        r += 1


@nb.njit(cache=True, fastmath=FM)
def rows_axpy(G, r0, r1, U, D, scale, t0, t1, acc):
    """acc[j - t0] += scale sum_{r0 <= r < r1} G[r, j] U[r] + min(G[r, j], 0) D[r], t0 <= j < t1."""
    r = r0
    while r + 4 <= r1:
        axpy4(G, r, scale * U[r], scale * U[r + 1], scale * U[r + 2], scale * U[r + 3],
               scale * D[r], scale * D[r + 1], scale * D[r + 2], scale * D[r + 3], t0, t1, acc)
        r += 4
    while r < r1:
        axpy1(G, r, scale * U[r], scale * D[r], t0, t1, acc)
        r += 1


@nb.njit(cache=True, fastmath=FM, parallel=True)
def stage_rows(G, UP, DM, OUT, scale):
    """OUT[c, r] = scale * sum_j (G[r, j] UP[c, j] + min(G[r, j], 0) DM[c, j]).
    Tasks: 4 rows each; columns in tiles so that several inputs c reuse the rows' tile from cache."""
    R, n = G.shape
    k = UP.shape[0]
    for q in nb.prange((R + 3) // 4):
        r0 = 4 * q
        r1 = min(R, r0 + 4)
        for c in range(k):
            for r in range(r0, r1):
                OUT[c, r] = 0.0
        for t0 in range(0, n, TILE):
            t1 = min(n, t0 + TILE)
            for c in range(k):
                rows_dot(G, r0, r1, UP, DM, OUT, c, t0, t1)
        for c in range(k):
            for r in range(r0, r1):
                OUT[c, r] *= scale


@nb.njit(cache=True, fastmath=FM, parallel=True)
def stage_cols(G, UP, DM, OUT, scale):
    """Transposed use of an (R, n) array: OUT[c, j] = scale * sum_r (G[r, j] UP[c, r] + min(G[r, j], 0) DM[c, r]).
    Column blocks per thread, accumulated in a local buffer (provably unaliased: vectorised)."""
    R, n = G.shape
    k = UP.shape[0]
    nblk = (n + COLBLK - 1) // COLBLK
    for bi in nb.prange(nblk):
        j0 = bi * COLBLK
        j1 = min(n, j0 + COLBLK)
        w = j1 - j0
        acc = np.zeros((k, w))
        for c in range(k):
            rows_axpy(G, 0, R, UP[c], DM[c], scale, j0, j1, acc[c])
        for c in range(k):
            for j in range(w):
                OUT[c, j0 + j] = acc[c, j]


@nb.njit(cache=True, fastmath=FM)
def stage_blocks(G2, UP, DM, OUT):
    """Block-diagonal stage, G2 (b, dz, dz): OUT[c, o + r] = sum_l G2[blk, r, l] UP + min(G2, 0) DM."""
    nb_, dz, _ = G2.shape
    k = UP.shape[0]
    for blk in range(nb_):
        o = blk * dz
        for r in range(dz):
            for c in range(k):
                acc = 0.0
                for l in range(dz):
                    g = G2[blk, r, l]
                    acc += g * UP[c, o + l] + min(g, 0.0) * DM[c, o + l]
                OUT[c, o + r] = acc


@nb.njit(cache=True, fastmath=FM)
def rowmat(A, B, OUT):
    """OUT = A @ B for small matrices (A (k, m), B (m, p)), serial: the per-step m x m products of
    the exponential scheme stay off BLAS, whose idle worker threads would otherwise spin against
    the numba stage kernels on a small machine."""
    k, m = A.shape
    p = B.shape[1]
    for c in range(k):
        o = OUT[c]
        for j in range(p):
            o[j] = 0.0
        for i in range(m):
            a = A[c, i]
            b = B[i]
            for j in range(p):
                o[j] += a * b[j]


@nb.njit(cache=True, fastmath=FM)
def scan_array(G):
    """One pass over an (R, n) signed array: |G| row sums, |G| column sums, and whether each row /
    column has a negative entry."""
    R, n = G.shape
    rs = np.zeros(R)
    cs = np.zeros(n)
    cmin = np.zeros(n)
    rneg = np.zeros(R, np.bool_)
    for r in range(R):
        acc = 0.0
        mn = 0.0
        for j in range(n):
            g = G[r, j]
            a = abs(g)
            acc += a
            cs[j] += a
            mn = min(mn, g)
            cmin[j] = min(cmin[j], g)
        rs[r] = acc
        rneg[r] = mn < 0.0
    return rs, cs, rneg, cmin < 0.0


@nb.njit(cache=True)
def build_array(J, g, gmin, gmax, zthr, G):
    """G = g J with structural zeros (|J| <= zthr) and entries needing R > r_max (g|J| < gmin)
    left open, in one pass. Returns (n_small, sum dJ^2, sum J^2, n_big, first big (r, c))."""
    R, n = J.shape
    n_small = 0
    n_big = 0
    d2 = 0.0
    j2 = 0.0
    br = -1
    bc = -1
    for r in range(R):
        for c in range(n):
            v = J[r, c]
            j2 += v * v
            a = abs(v)
            x = g * v
            if a <= zthr:
                x = 0.0
            elif g * a < gmin:
                n_small += 1
                d2 += v * v
                x = 0.0
            elif g * a > gmax:
                if n_big == 0:
                    br = r
                    bc = c
                n_big += 1
            G[r, c] = x
    return n_small, d2, j2, n_big, br, bc
