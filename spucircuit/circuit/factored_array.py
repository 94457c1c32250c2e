"""The factored TNGD circuit (TNGD App. C, physics.md 2b): F = J^T H J / b is never formed.

Three programmable resistor arrays hold J (m x N), H (m x m, block diagonal, one dz x dz block per
sample) and J^T (N x m), m = b * dz. Only the N parameter nodes integrate; the two m-node stages
are static inverting transimpedance stages:

    stage 1 (J):   y_k = -(1/D1_k) [ sum_j G1_kj V(x_j or xn_j) + n_a,k ]          (node a_k -> y_k)
    stage 2 (H):   w_k = -(1/D2_k) [ sum_l G2_kl V(y_l or yn_l) + n_c,k ]          (node c_k -> w_k)
    integrators:   C_i dv_i/dt = -[ sum_k G3_ik V(w_k or wn_k) + d_i v_i + G_in,i V_in,i + n_s,i ]

Two inversions cancel, so C dv/dt = -(g3 g2 g1 r_f1 r_f2) J^T H J v - G_lambda v + ... (ideal
op-amps, D = 1/r_f). **Signs**: as in :mod:`spucircuit.mapping`, a negative entry takes its input
from an inverting buffer (op-amp, two equal resistors r_buffer) of the source column: ``xn_j`` for
J, ``yn_l`` for H, ``wn_k`` for J^T; a buffer exists only for columns that need one. ``lambda`` is a
resistor R_lambda in parallel with each integrating capacitor (x_i -> s_i); g enters through DAC
voltages V_in behind R_in.

**Scales** (:class:`FactoredScales`, every one recorded): array conductances G1 = g1 |J|,
G2 = g2 |H|, G3 = g3 |J^T| (S per unit); feedback resistors r_f1, r_f2; then
``g_unit = b_norm g1 g2 g3 r_f1 r_f2`` is the conductance per unit of A = F + lambda I, with the 1/b
of F = J^T H J / b folded in (b_norm = b, or 1 for an already normalised factor);
``tau = C / g_unit``; R_lambda = 1 / (g_unit lambda); V_in = -R_in g_unit v_unit g; x = V(x) / v_unit.
In tau units the circuit obeys dx = -(A x - g) dt + noise.

Op-amps may have finite open-loop gain A0 (netlist ``U`` value): every stage then gets the exact
per-row factor D = G_f + (sum G_in + G_f) / A0 and every integrator the extra leak
beta (sum G + G_in), beta = 1 / (A0 + 1) (its summing node sits at -v / (A0 + 1)).

**Component values -> chain.** :class:`FactoredComponents` holds the component values as arrays
(signed conductances: the sign says which source node a resistor hangs on). The netlist is an
*export* of these arrays (:meth:`FactoredComponents.to_netlist`), and
:func:`components_from_netlist` reads them back from any such netlist's tables by topology alone
(node roles and the resistor/op-amp/capacitor values), so a tolerance perturbation of the netlist
reaches the chain. :class:`ChainDrift` is the drift operator built from the arrays: O(N m) per
step, O(N m) memory (the arrays themselves), never an N x N matrix. While the J and J^T arrays
hold identical values (nominal programming) they share one m x N buffer (``G3 = None``,
``G3 = g3_ratio * G1^T``); a perturbation materialises a separate J^T array.

**Noise.** Every resistor has Johnson noise, a white current of one-sided PSD 4 k_B T / R. Each
resistor joins a driven node (op-amp output or DAC, which absorbs the current) to one summing node,
so the node injections are independent per summing node with intensity (variance per second)
q = 2 k_B T sum G. They propagate through the later stages exactly like the signal: the a-node
noise of stage 1 reaches the integrators through H and J^T, a buffer's noise through the
negative entries it feeds. Optional injected noise (``noise_psd``, A^2/Hz, e.g. from kappa0) sits at
the N summing nodes s_i. Euler-Maruyama draws one normal per summing node per step and pushes
the whole increment through the chain in one pass.

**Schemes** (:class:`FactoredSPU`):

* ``euler`` - Euler-Maruyama, one fused numba pass over the arrays per step (the shared J / J^T
  buffer is streamed once: each group of H-block rows of J is re-read for J^T right after its
  stage-1 sums, from cache); automatic step
  0.1 x the stability limit 2 Re(mu) / |mu|^2 of the eigenvalue mu of largest modulus (Arnoldi /
  power iteration on the chain); a user step beyond the limit raises :class:`StepError`.
* ``exponential`` - uses F' = D + U V^T (U = diag(1/C) G3eff, V^T = stage 2 x stage 1, m x N,
  possibly non-symmetric after perturbation) and K = V^T U (m x m, O(m^2 N) once per programming).
  With a uniform diagonal D = d I (nominal lambda resistors and capacitors, ideal op-amps) the step
  is **exact in distribution for any h**: e^{-F' h} = e^{-d h} (I + U Phi(h) V^T),
  Phi(h) = (e^{-K h} - I) K^{-1}, and the noise covariance is exact through the low-rank algebra
  (see :class:`ExpDiscretization`). With a non-uniform diagonal (perturbed lambda resistors,
  finite gain) D = d I + Delta and Delta is integrated by exponential Euler (ETD1): global error
  O(h ||Delta||) in transients, while the stationary mean stays exact.

**Device imperfections** (component values of one physical device, see the section at the end):
:func:`quantize_array` / :func:`quantize_h_blocks` program the arrays with b-bit resistors (the
conductance grid and rounding rules of :func:`spucircuit.nonideal.quantize_values`; the J^T array
takes the J array's codes; Laplacian-form H blocks are rounded edge by edge so they stay PSD);
:class:`FabricationMismatch` is a fixed per-device, per-position resistor mismatch;
:func:`imperfect_components` applies both to a nominal :class:`FactoredComponents`;
:func:`measure_input_gains` is the calibration probe (arrays open: per-integrator input gain).
Converters (``spucircuit.nonideal.Converter``) and K-device ensembles are driven by
``tngd.solvers.FactoredTwinSolver``.

Warm start: :class:`FactoredSPU` keeps the capacitor voltages across runs and across
reprogramming (:meth:`FactoredSPU.program`), as a device would. Keep ``v_unit`` fixed across TNGD
steps (pass ``scales=`` or ``v_unit=``); if it does change, the state is rescaled explicitly (a DAC
rewrite, counted in ``FactoredSPU.rescaled``) so that x is preserved.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace

import numba as nb
import numpy as np
import scipy.linalg as sla

from spucircuit.constants import C_DEFAULT, K_B, R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM, V_SWING_DEFAULT
from spucircuit.errors import MatrixError, NetlistError, RealizabilityError, StepError
from spucircuit.circuit.netlist import Netlist
from spucircuit.statespace.operators import DriftOperator

_ZERO_RTOL = 1e-13  # |entry| below this x max|entry| is a structural zero (no resistor)
EULER_SAFETY = 0.1  # automatic Euler step = 0.1 x the stability limit
NETLIST_MAX_RESISTORS = 250_000  # factored_circuit builds the netlist automatically below this
DENSE_MAX_N = 4000  # to_dense / diffusion_dense refuse larger N (they form N x N)
_FM = {"reassoc", "contract"}  # lets LLVM vectorise the reductions (deterministic on one machine)


# =====================================================================================
# numba kernels: one stage of the chain, the fused Euler-Maruyama step
# =====================================================================================
# The stage kernels take the direct inputs UP and DM = (inverted input) - UP: a signed entry g
# contributes g * (UP if g >= 0 else UP + DM) = g UP + min(g, 0) DM, a branch-free form LLVM
# vectorises. Rows (or column blocks, or row chunks) are split over threads (numba prange) by a
# partition that does not depend on the thread count, and every output is reduced by one thread in
# a fixed order, so results do not depend on the thread count.
#
# Building blocks: _dot4 / _dot1 (rows . vector over a column range) and _axpy4 / _axpy1
# (acc += rows^T . coefficients over a column range) work on 4 rows at once, so each vector entry
# loaded from memory serves four array rows (register blocking; the array is the only stream).
# Loops run over slices from index 0: numba's negative-index wraparound on an index that LLVM cannot
# prove non-negative (range(t0, t1)) would turn the contiguous loads into gathers.
_TILE = 2048  # columns per tile: 4 rows x 2048 x 8 B = 64 KB, the vector tiles stay in L1
_COLBLK = 2048  # columns per thread task in _stage_cols
_GROUP_ROWS = 8  # fused Euler pass: H blocks are grouped to at least this many array rows
_CHUNKS = 8  # fused Euler pass: fixed number of row chunks (each with its own J^T accumulator)


@nb.njit(cache=True, fastmath=_FM)
def _dot4(G, r, up, dm, t0, t1):
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


@nb.njit(cache=True, fastmath=_FM)
def _dot1(G, r, up, dm, t0, t1):
    g0 = G[r, t0:t1]
    u_ = up[t0:t1]
    d_ = dm[t0:t1]
    a0 = b0 = 0.0
    for j in range(t1 - t0):
        x = g0[j]
        a0 += x * u_[j]
        b0 += min(x, 0.0) * d_[j]
    return a0 + b0


@nb.njit(cache=True, fastmath=_FM)
def _axpy4(G, r, u0, u1, u2, u3, d0, d1, d2, d3, t0, t1, acc):
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


@nb.njit(cache=True, fastmath=_FM)
def _axpy1(G, r, u0, d0, t0, t1, acc):
    g0 = G[r, t0:t1]
    for j in range(t1 - t0):
        x0 = g0[j]
        acc[j] += x0 * u0 + min(x0, 0.0) * d0


@nb.njit(cache=True, fastmath=_FM)
def _rows_dot(G, r0, r1, UP, DM, OUT, c, t0, t1):
    """OUT[c, r] += rows r0..r1-1 of G . (UP[c], DM[c]) over columns t0..t1-1."""
    up = UP[c]
    dm = DM[c]
    r = r0
    while r + 4 <= r1:
        s0, s1, s2, s3 = _dot4(G, r, up, dm, t0, t1)
        OUT[c, r] += s0
        OUT[c, r + 1] += s1
        OUT[c, r + 2] += s2
        OUT[c, r + 3] += s3
        r += 4
    while r < r1:
        OUT[c, r] += _dot1(G, r, up, dm, t0, t1)
        r += 1


@nb.njit(cache=True, fastmath=_FM)
def _rows_axpy(G, r0, r1, U, D, scale, t0, t1, acc):
    """acc[j - t0] += scale sum_{r0 <= r < r1} G[r, j] U[r] + min(G[r, j], 0) D[r], t0 <= j < t1."""
    r = r0
    while r + 4 <= r1:
        _axpy4(G, r, scale * U[r], scale * U[r + 1], scale * U[r + 2], scale * U[r + 3],
               scale * D[r], scale * D[r + 1], scale * D[r + 2], scale * D[r + 3], t0, t1, acc)
        r += 4
    while r < r1:
        _axpy1(G, r, scale * U[r], scale * D[r], t0, t1, acc)
        r += 1


@nb.njit(cache=True, fastmath=_FM, parallel=True)
def _stage_rows(G, UP, DM, OUT, scale):
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
        for t0 in range(0, n, _TILE):
            t1 = min(n, t0 + _TILE)
            for c in range(k):
                _rows_dot(G, r0, r1, UP, DM, OUT, c, t0, t1)
        for c in range(k):
            for r in range(r0, r1):
                OUT[c, r] *= scale


@nb.njit(cache=True, fastmath=_FM, parallel=True)
def _stage_cols(G, UP, DM, OUT, scale):
    """Transposed use of an (R, n) array: OUT[c, j] = scale * sum_r (G[r, j] UP[c, r] + min(G[r, j], 0) DM[c, r]).
    Column blocks per thread, accumulated in a local buffer (provably unaliased: vectorised)."""
    R, n = G.shape
    k = UP.shape[0]
    nblk = (n + _COLBLK - 1) // _COLBLK
    for bi in nb.prange(nblk):
        j0 = bi * _COLBLK
        j1 = min(n, j0 + _COLBLK)
        w = j1 - j0
        acc = np.zeros((k, w))
        for c in range(k):
            _rows_axpy(G, 0, R, UP[c], DM[c], scale, j0, j1, acc[c])
        for c in range(k):
            for j in range(w):
                OUT[c, j0 + j] = acc[c, j]


@nb.njit(cache=True, fastmath=_FM)
def _stage_blocks(G2, UP, DM, OUT):
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


@nb.njit(cache=True, fastmath=_FM)
def _rowmat(A, B, OUT):
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


@nb.njit(cache=True, fastmath=_FM)
def _scan(G):
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
def _build_array(J, g, gmin, gmax, zthr, G):
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


@nb.njit(cache=True, fastmath=_FM)
def _group_stage2(G2, r0, r1, c, Y, NA, id1, gy, UM2, NBY, NC, id2, gw, W, UM3, NBW):
    """Rows r0..r1 (whole H blocks) of chain c: stage-1 sums Y (+ a-node noise) -> y (1/D1, sign),
    stage 2 (their H blocks) + c-node noise -> w (1/D2, sign), and the buffer inputs UM2, UM3."""
    dz = G2.shape[1]
    for r in range(r0, r1):
        v = -(Y[c, r] + NA[c, r]) * id1[r]
        Y[c, r] = v
        UM2[c, r] = (gy[r] - 1.0) * v + NBY[c, r]
    for o in range(r0, r1, dz):
        blk = o // dz
        for i in range(dz):
            s = 0.0
            for l in range(dz):
                g = G2[blk, i, l]
                s += g * Y[c, o + l] + min(g, 0.0) * UM2[c, o + l]
            r = o + i
            v = -(s + NC[c, r]) * id2[r]
            W[c, r] = v
            UM3[c, r] = (gw[r] - 1.0) * v + NBW[c, r]


@nb.njit(cache=True, fastmath=_FM, parallel=True)
def _euler_pass(G1, G2, shared, ratio3, UP1, UM1, NA, NBY, NC, NBW, id1, gy, id2, gw,
                Y, UM2, W, UM3, ACC, gstart, cstart):
    """One pass through the chain for every chain c (rows of UP1; inputs and noise already drawn).

    The rows of the J array are taken in groups of whole H blocks (rows gstart[g]..gstart[g + 1]):
    stage 1 (the group's rows of J), the a-node noise and 1/D1, stage 2 (its H blocks), the c-node
    noise and 1/D2 complete the group's w (:func:`_group_stage2`). With the shared J / J^T buffer,
    stage 3 (J^T w) of a group then reads the same rows again, right after stage 1 (while they are
    still in cache), into the chunk's accumulator ACC[ch] (a chunk = groups cstart[ch]..cstart[ch + 1],
    one thread task; the caller sums the chunks in a fixed order): the J buffer is streamed from
    memory once per step, not twice. Stage 1 of the next group runs in the same column-tile loop as
    stage 3 of the current one (the memory stream and the cached re-read overlap); this does not
    change any sum's order."""
    k, n = UP1.shape
    for ch in nb.prange(cstart.shape[0] - 1):
        g0 = cstart[ch]
        g1 = cstart[ch + 1]
        acc = ACC[ch]
        if shared:
            for c in range(k):
                for j in range(n):
                    acc[c, j] = 0.0
        for c in range(k):
            for r in range(gstart[g0], gstart[g0 + 1]):
                Y[c, r] = 0.0
        for t0 in range(0, n, _TILE):
            t1 = min(n, t0 + _TILE)
            for c in range(k):
                _rows_dot(G1, gstart[g0], gstart[g0 + 1], UP1, UM1, Y, c, t0, t1)
        for gi in range(g0, g1):
            r0 = gstart[gi]
            r1 = gstart[gi + 1]
            nxt = gi + 1 < g1  # stage 1 of the next group in this chunk (rows r1..r2)
            r2 = gstart[gi + 2] if nxt else r1
            for c in range(k):
                _group_stage2(G2, r0, r1, c, Y, NA, id1, gy, UM2, NBY, NC, id2, gw, W, UM3, NBW)
                for r in range(r1, r2):
                    Y[c, r] = 0.0
            if shared or nxt:
                for t0 in range(0, n, _TILE):
                    t1 = min(n, t0 + _TILE)
                    for c in range(k):
                        if nxt:
                            _rows_dot(G1, r1, r2, UP1, UM1, Y, c, t0, t1)
                        if shared:
                            _rows_axpy(G1, r0, r1, W[c], UM3[c], ratio3, t0, t1, acc[c, t0:t1])


@nb.njit(cache=True)
def _euler_kernel(G1, G2, G3, shared, ratio3, om, gx, sbx, id1, sa, gy, sby, id2, sc, gw, sbw,
                  hd, cst, ss, invc, X, n_steps, save_every, rng, noise, samples, xsum,
                  UP1, UM1, Y, UM2, W, UM3, Z, NA, NBY, NC, NBW, ACC, gstart, cstart):
    """Euler-Maruyama for all chains (rows of X): per step, the normals are drawn (serially, one
    stream), then one fused pass through the chain (:func:`_euler_pass`; a separate J^T array is
    applied after it by rows), then the integrator update.

    Inputs enter the chain already multiplied by h (volt-seconds), so each stage output is a
    charge (UM* hold the inverted-minus-direct input differences, see the stage kernels); node noise is the
    charge increment N(0, q h) of its summing node (sa, sc, ss are sqrt(q h)), buffer noise the
    voltage-second increment (sbx, sby, sbw = sqrt(q h) / D). A node without noise (coefficient 0)
    draws no normal."""
    k, n = X.shape
    m = G1.shape[0]
    nch = ACC.shape[0]
    isave = 0
    for step in range(n_steps):
        for c in range(k):
            for j in range(n):
                up = om[j] * X[c, j]
                UP1[c, j] = up
                dm = (gx[j] - 1.0) * up
                if noise and sbx[j] != 0.0:
                    dm += sbx[j] * rng.standard_normal()
                UM1[c, j] = dm
        if noise:
            for c in range(k):
                for r in range(m):
                    NA[c, r] = sa[r] * rng.standard_normal() if sa[r] != 0.0 else 0.0
                    NBY[c, r] = sby[r] * rng.standard_normal() if sby[r] != 0.0 else 0.0
                    NC[c, r] = sc[r] * rng.standard_normal() if sc[r] != 0.0 else 0.0
                    NBW[c, r] = sbw[r] * rng.standard_normal() if sbw[r] != 0.0 else 0.0
        _euler_pass(G1, G2, shared, ratio3, UP1, UM1, NA, NBY, NC, NBW, id1, gy, id2, gw,
                    Y, UM2, W, UM3, ACC, gstart, cstart)
        if not shared:
            _stage_rows(G3, W, UM3, Z, 1.0)
        for c in range(k):
            for i in range(n):
                if shared:
                    z = ACC[0, c, i]
                    for ch in range(1, nch):
                        z += ACC[ch, c, i]
                else:
                    z = Z[c, i]
                z += hd[i] * X[c, i] + cst[i]
                if noise and ss[i] != 0.0:
                    z += ss[i] * rng.standard_normal()
                v = X[c, i] - z * invc[i]
                X[c, i] = v
                xsum[c, i] += v
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return isave


def _euler_partition(b: int, dz: int, k: int):
    """Row groups (whole H blocks, >= _GROUP_ROWS rows) and chunks of groups for _euler_pass; fixed
    by the shapes alone (never by the thread count). At most m / 8 chains' worth of chunk
    accumulators (k x N each): <= 1/8 of the bytes of J."""
    bpg = max(1, -(-_GROUP_ROWS // dz))
    gstart = np.array(list(range(0, b, bpg)) + [b], dtype=np.int64) * dz
    ng = len(gstart) - 1
    nch = max(1, min(_CHUNKS, ng, (b * dz) // (8 * k)))
    cstart = np.array([(i * ng) // nch for i in range(nch + 1)], dtype=np.int64)
    return gstart, cstart


# =====================================================================================
# component values
# =====================================================================================
def _inv_gain(a):
    """1/A0 elementwise (0 for an ideal op-amp)."""
    a = np.asarray(a, dtype=float)
    return np.where(np.isinf(a), 0.0, 1.0 / np.where(np.isinf(a), 1.0, a))


@dataclass
class FactoredComponents:
    """Every component value of a factored circuit, as arrays (SI units).

    Signed conductances (S): a positive entry is a resistor 1/G from the direct node, a negative
    one a resistor 1/|G| from the inverted (buffer) node, 0 is open.

    G1 (m, N)        J array, into stage-1 summing nodes a_k, from x_j (+) / xn_j (-)
    G2 (b, dz, dz)   H array (block k of rows/columns k*dz ...), into c_k, from y_l (+) / yn_l (-)
    G3 (N, m)|None   J^T array, into integrator summing nodes s_i, from w_k (+) / wn_k (-);
                     None: the same values as g3_ratio * G1^T (one shared buffer)
    gf1, gf2 (m,)    stage feedback conductances (y_k -> a_k, w_k -> c_k)
    g_lambda (N,)    damping resistors x_i -> s_i (parallel to C)
    g_in, v_in (N,)  input resistors and DAC voltages (in_i -> s_i)
    c, ic (N,)       integrating capacitors (x_i -> s_i) and their initial voltages
    noise_psd (N,)   injected white current at s_i, one-sided PSD A^2/Hz
    bx_g, bx_f (N,)  inverting buffer of x_j: input (x_j -> bx_j) and feedback (xn_j -> bx_j), 0 = none
    by_g, by_f, bw_g, bw_f (m,)  the same for y_k and w_k
    gain_* :         op-amp open-loop gains (inf = ideal): int (N), bx (N), s1, by, s2, bw (m)
    """

    G1: np.ndarray
    G2: np.ndarray
    G3: np.ndarray | None
    g3_ratio: float
    gf1: np.ndarray
    gf2: np.ndarray
    g_lambda: np.ndarray
    g_in: np.ndarray
    v_in: np.ndarray
    c: np.ndarray
    ic: np.ndarray
    noise_psd: np.ndarray
    bx_g: np.ndarray
    bx_f: np.ndarray
    by_g: np.ndarray
    by_f: np.ndarray
    bw_g: np.ndarray
    bw_f: np.ndarray
    gain_int: np.ndarray
    gain_bx: np.ndarray
    gain_s1: np.ndarray
    gain_by: np.ndarray
    gain_s2: np.ndarray
    gain_bw: np.ndarray
    # cached _scan(G1) (|G1| row / column sums, negative rows / columns); the arrays are treated as
    # immutable once built (perturbed() returns a copy and drops it)
    _scan: tuple | None = field(default=None, repr=False, compare=False)

    def scan_g1(self):
        if self._scan is None:
            self._scan = _scan(np.ascontiguousarray(self.G1, dtype=np.float64))
        return self._scan

    @property
    def n(self) -> int:
        return self.G1.shape[1]

    @property
    def m(self) -> int:
        return self.G1.shape[0]

    @property
    def b(self) -> int:
        return self.G2.shape[0]

    @property
    def dz(self) -> int:
        return self.G2.shape[1]

    def G3_array(self) -> np.ndarray:
        """The J^T array as an (N, m) array (materialised from G1 when shared)."""
        if self.G3 is not None:
            return self.G3
        return np.ascontiguousarray(self.G1.T) * self.g3_ratio

    def G2_dense(self) -> np.ndarray:
        """The H array as an (m, m) block-diagonal matrix (small m)."""
        return sla.block_diag(*self.G2) if self.b else np.zeros((0, 0))

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        N, m, b, dz = self.n, self.m, self.b, self.dz
        if b * dz != m or self.G2.shape != (b, dz, dz):
            raise NetlistError(f"H array shape {self.G2.shape} does not match m = {m}")
        if self.G3 is not None and self.G3.shape != (N, m):
            raise NetlistError(f"J^T array shape {self.G3.shape}, expected {(N, m)}")
        for nm, n_ in (("gf1", m), ("gf2", m), ("g_lambda", N), ("g_in", N), ("v_in", N), ("c", N),
                       ("ic", N), ("noise_psd", N), ("bx_g", N), ("bx_f", N), ("by_g", m), ("by_f", m),
                       ("bw_g", m), ("bw_f", m), ("gain_int", N), ("gain_bx", N), ("gain_s1", m),
                       ("gain_by", m), ("gain_s2", m), ("gain_bw", m)):
            a = getattr(self, nm)
            if a.shape != (n_,):
                raise NetlistError(f"{nm} has shape {a.shape}, expected ({n_},)")
        if np.any(self.c <= 0) or not np.all(np.isfinite(self.c)):
            raise NetlistError("every integrator needs a finite capacitance > 0")
        if np.any(self.gf1 <= 0) or np.any(self.gf2 <= 0):
            raise NetlistError("every stage needs a feedback resistor (finite, > 0)")
        for nm in ("gain_int", "gain_bx", "gain_s1", "gain_by", "gain_s2", "gain_bw"):
            if np.any(~(getattr(self, nm) > 0)):
                raise NetlistError(f"op-amp gains ({nm}) must be > 0")
        if np.any(self.noise_psd < 0):
            raise NetlistError("injected noise PSD must be >= 0")
        # a negative entry needs the inverting buffer of its column
        _, _, neg_w, neg_x = self.scan_g1()
        if self.G3 is not None:
            _, _, _, neg_w = _scan(np.ascontiguousarray(self.G3, dtype=np.float64))
        neg_y = (self.G2 < 0).any(axis=1).reshape(m)
        for nm, need, g_, f_ in (("x", neg_x, self.bx_g, self.bx_f), ("y", neg_y, self.by_g, self.by_f),
                                 ("w", neg_w, self.bw_g, self.bw_f)):
            bad = need & ~((g_ > 0) & (f_ > 0))
            if np.any(bad):
                raise NetlistError(f"column {int(np.flatnonzero(bad)[0])} has negative entries but no "
                                   f"inverting buffer {nm}n{int(np.flatnonzero(bad)[0])}")

    # --------------------------------------------------------------- modelling
    def copy(self) -> "FactoredComponents":
        return replace(self, **{f: (None if getattr(self, f) is None else
                                    (getattr(self, f).copy() if isinstance(getattr(self, f), np.ndarray)
                                     else getattr(self, f)))
                                for f in self.__dataclass_fields__})

    def perturbed(self, sigma: float, rng) -> "FactoredComponents":
        """A copy with every resistor R -> R (1 + sigma z), z ~ N(0, 1) independent per resistor
        (the J^T array gets its own draws, so it is materialised). Draw order: G1 (row-major
        over all entries), G2, G3, gf1, gf2, g_lambda, g_in, bx_g, bx_f, by_g, by_f, bw_g, bw_f;
        open entries draw too (so the pattern does not depend on pruning). Done in row chunks:
        no temporary of the size of an array."""
        sigma = float(sigma)
        if not (np.isfinite(sigma) and sigma >= 0):
            raise RealizabilityError(f"tolerance sigma must be finite and >= 0, got {sigma!r}")
        rng = np.random.default_rng(rng)
        new = self.copy()
        new._scan = None
        if new.G3 is None:
            new.G3 = self.G3_array()
            new.g3_ratio = 1.0

        def scale(a):
            flat = a.reshape(a.shape[0], -1)
            for r0 in range(0, flat.shape[0], 64):
                blk = flat[r0:r0 + 64]
                f = 1.0 + sigma * rng.standard_normal(blk.shape)
                if np.any(f <= 0):
                    raise RealizabilityError(f"tolerance sigma = {sigma} drew a non-positive resistance")
                blk /= f  # conductance = 1 / resistance
        for nm in ("G1", "G2", "G3"):
            scale(getattr(new, nm))
        for nm in ("gf1", "gf2", "g_lambda", "g_in", "bx_g", "bx_f", "by_g", "by_f", "bw_g", "bw_f"):
            scale(getattr(new, nm).reshape(-1, 1))
        return new

    def resistor_count(self) -> int:
        nz1 = int(np.count_nonzero(self.G1))
        nz3 = nz1 if self.G3 is None else int(np.count_nonzero(self.G3))
        return (nz1 + nz3 + int(np.count_nonzero(self.G2)) + self.m * 2
                + int(np.count_nonzero(self.g_lambda)) + self.n
                + int(np.count_nonzero(self.bx_g)) * 2 + int(np.count_nonzero(self.by_g)) * 2
                + int(np.count_nonzero(self.bw_g)) * 2)

    def component_counts(self) -> dict:
        nbx, nby, nbw = (int(np.count_nonzero(a)) for a in (self.bx_g, self.by_g, self.bw_g))
        return {"resistors": self.resistor_count(), "capacitors": self.n,
                "op_amps": self.n + 2 * self.m + nbx + nby + nbw, "integrators": self.n,
                "transimpedance_stages": 2 * self.m, "inverting_buffers": nbx + nby + nbw,
                "dc_sources": self.n, "noise_sources": int(np.count_nonzero(self.noise_psd)),
                "array_resistors": {"J": int(np.count_nonzero(self.G1)), "H": int(np.count_nonzero(self.G2)),
                                    "JT": int(np.count_nonzero(self.G1 if self.G3 is None else self.G3))}}

    # ----------------------------------------------------------------- netlist
    def to_netlist(self, title: str | None = None, meta: dict | None = None) -> Netlist:
        """The netlist of these components (bulk ``add_elements``; one Python object per node)."""
        self.validate()
        N, m, b, dz = self.n, self.m, self.b, self.dz
        nl = Netlist(title or f"factored TNGD circuit N={N} b={b} dz={dz} (spucircuit)")
        nd = nl.node

        def nodes(prefix, idx):
            return np.array([nd(f"{prefix}{i}") for i in idx], dtype=np.int64)

        ar = np.arange
        x, s, inn = nodes("x", ar(N)), nodes("s", ar(N)), nodes("in", ar(N))
        a_, y, c_, w = nodes("a", ar(m)), nodes("y", ar(m)), nodes("c", ar(m)), nodes("w", ar(m))
        buf = {}
        for nm, g_, src in (("x", self.bx_g, x), ("y", self.by_g, y), ("w", self.bw_g, w)):
            idx = np.flatnonzero(g_ > 0)
            inv = np.full(len(src), -1, np.int64)
            sm = np.full(len(src), -1, np.int64)
            inv[idx] = nodes(f"{nm}n", idx)
            sm[idx] = nodes(f"b{nm}", idx)
            buf[nm] = (idx, inv, sm)
        zN, zm = np.zeros(N, np.int64), np.zeros(m, np.int64)
        # op-amps (out, +, -)
        U_names, U_nodes, U_vals = [f"U{i}" for i in range(N)], [np.stack([x, zN, s], 1)], [self.gain_int]
        U_names += [f"UA{k}" for k in range(m)] + [f"UC{k}" for k in range(m)]
        U_nodes += [np.stack([y, zm, a_], 1), np.stack([w, zm, c_], 1)]
        U_vals += [self.gain_s1, self.gain_s2]
        for nm, gain in (("x", self.gain_bx), ("y", self.gain_by), ("w", self.gain_bw)):
            idx, inv, sm = buf[nm]
            U_names += [f"UB{nm.upper()}{j}" for j in idx]
            U_nodes.append(np.stack([inv[idx], np.zeros(len(idx), np.int64), sm[idx]], 1))
            U_vals.append(gain[idx])
        nl.add_elements("U", U_names, np.concatenate(U_nodes), np.concatenate(U_vals))
        nl.add_elements("C", [f"C{i}" for i in range(N)], np.stack([x, s], 1), self.c, self.ic)
        nl.add_elements("V", [f"VIN{i}" for i in range(N)], np.stack([inn, zN], 1), self.v_in)
        R_names, R_nodes, R_vals = [], [], []

        def addR(names, src, dst, g):
            R_names.extend(names)
            R_nodes.append(np.stack([src, dst], 1))
            R_vals.append(1.0 / np.abs(g))
        il = np.flatnonzero(self.g_lambda > 0)
        addR([f"RL{i}" for i in il], x[il], s[il], self.g_lambda[il])
        addR([f"RIN{i}" for i in range(N)], inn, s, self.g_in)
        addR([f"RFA{k}" for k in range(m)], y, a_, self.gf1)
        addR([f"RFC{k}" for k in range(m)], w, c_, self.gf2)
        for nm, g_, f_, src in (("X", self.bx_g, self.bx_f, x), ("Y", self.by_g, self.by_f, y),
                                ("W", self.bw_g, self.bw_f, w)):
            idx, inv, sm = buf[nm.lower()]
            addR([f"RG{nm}{j}" for j in idx], src[idx], sm[idx], g_[idx])
            addR([f"RF{nm}{j}" for j in idx], inv[idx], sm[idx], f_[idx])
        kk, jj = np.nonzero(self.G1)
        g = self.G1[kk, jj]
        addR([f"RJ{k}_{j}" for k, j in zip(kk, jj)], np.where(g > 0, x[jj], buf["x"][1][jj]), a_[kk], g)
        bb, rr, ll = np.nonzero(self.G2)
        g = self.G2[bb, rr, ll]
        kr, lc = bb * dz + rr, bb * dz + ll
        addR([f"RH{k}_{l}" for k, l in zip(kr, lc)], np.where(g > 0, y[lc], buf["y"][1][lc]), c_[kr], g)
        G3 = self.G3_array()
        ii, kk = np.nonzero(G3)
        g = G3[ii, kk]
        addR([f"RT{i}_{k}" for i, k in zip(ii, kk)], np.where(g > 0, w[kk], buf["w"][1][kk]), s[ii], g)
        nl.add_elements("R", R_names, np.concatenate(R_nodes), np.concatenate(R_vals))
        inj = np.flatnonzero(self.noise_psd > 0)
        if len(inj):
            nl.add_elements("N", [f"NS{i}" for i in inj], np.stack([np.zeros(len(inj), np.int64), s[inj]], 1),
                            self.noise_psd[inj])
        nl.meta["factored"] = {"N": N, "b": b, "dz": dz, **(meta or {})}
        return nl


_ROLES = ("gnd", "x", "xn", "s", "in", "bx", "a", "y", "yn", "by", "c", "w", "wn", "bw")
_RC = {r: i for i, r in enumerate(_ROLES)}
_ROLE_RE = re.compile(r"^(xn|x|s|in|bx|a|yn|y|by|c|wn|w|bw)(\d+)$", re.IGNORECASE)
_SUMMING = np.array([r in ("s", "a", "c", "bx", "by", "bw") for r in _ROLES])


def components_from_netlist(netlist: Netlist, b: int | None = None, dz: int | None = None) -> FactoredComponents:
    """Read a factored circuit's component values back from a netlist's tables.

    Only topology and values are used (node roles from the node names ``x<i> s<i> in<i> xn<j> bx<j>
    a<k> y<k> yn<k> by<k> c<k> w<k> wn<k> bw<k>``, then which resistor joins which nodes); element
    names are ignored, parallel resistors add. The H block size comes from ``netlist.meta`` or, if
    absent (e.g. after a SPICE round trip), the smallest block size consistent with the H resistors.
    Anything that is not part of the architecture raises :class:`NetlistError` naming it.
    """
    names = netlist.node_names
    role = np.zeros(len(names), np.int64)
    idx = np.zeros(len(names), np.int64)
    for i, nm in enumerate(names[1:], 1):
        mt = _ROLE_RE.match(nm)
        if not mt:
            raise NetlistError(f"node {nm!r} is not part of a factored circuit (expected x<i>, s<i>, a<k>, ...)")
        role[i] = _RC[mt.group(1).lower()]
        idx[i] = int(mt.group(2))

    def count(r):
        sel = idx[role == _RC[r]]
        if len(sel) and (len(np.unique(sel)) != len(sel) or sel.max() != len(sel) - 1):
            raise NetlistError(f"nodes {r}<i> must be numbered 0..n-1 without gaps")
        return len(sel)
    N, m = count("x"), count("a")
    for r, n_ in (("s", N), ("in", N), ("y", m), ("c", m), ("w", m)):
        if count(r) != n_:
            raise NetlistError(f"a factored circuit needs {n_} nodes {r}<i>, found {count(r)}")
    if N == 0 or m == 0:
        raise NetlistError("not a factored circuit: no x<i> or a<k> nodes")
    meta = netlist.meta.get("factored", {})
    b = meta.get("b") if b is None else b
    dz = meta.get("dz") if dz is None else dz
    t = netlist.tables
    f64 = np.float64
    G1p, G1n = np.zeros((m, N)), np.zeros((m, N))
    G2p, G2n = np.zeros((m, m)), np.zeros((m, m))
    G3p, G3n = np.zeros((N, m)), np.zeros((N, m))
    vec = {k: np.zeros(n_) for k, n_ in (("gf1", m), ("gf2", m), ("g_lambda", N), ("g_in", N), ("bx_g", N),
                                         ("bx_f", N), ("by_g", m), ("by_f", m), ("bw_g", m), ("bw_f", m))}
    if len(t["R"]):
        p, q = t["R"].nodes[:, 0], t["R"].nodes[:, 1]
        G = 1.0 / t["R"].values
        sp_, sq = _SUMMING[role[p]], _SUMMING[role[q]]
        bad = sp_ == sq
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise NetlistError(f"resistor {t['R'].names[i]!r} ({names[p[i]]} - {names[q[i]]}) must join one "
                               "summing node to one driven node")
        sn = np.where(sq, q, p)
        dn = np.where(sq, p, q)
        rs, rd, ks, kd = role[sn], role[dn], idx[sn], idx[dn]
        used = np.zeros(len(G), bool)

        def pick(r_src, r_sum, same=None):
            sel = np.isin(rd, [_RC[r] for r in r_src]) & (rs == _RC[r_sum])
            if same is not None:
                wrong = sel & (ks != kd)
                if np.any(wrong):
                    i = int(np.flatnonzero(wrong)[0])
                    raise NetlistError(f"resistor {t['R'].names[i]!r} joins {names[dn[i]]} to {names[sn[i]]}: "
                                       "not part of a factored circuit")
            used[sel] = True
            return sel
        for key, src, sm in (("g_lambda", "x", "s"), ("g_in", "in", "s"), ("gf1", "y", "a"), ("gf2", "w", "c"),
                             ("bx_g", "x", "bx"), ("bx_f", "xn", "bx"), ("by_g", "y", "by"),
                             ("by_f", "yn", "by"), ("bw_g", "w", "bw"), ("bw_f", "wn", "bw")):
            sel = pick([src], sm, same=True)
            np.add.at(vec[key], ks[sel], G[sel])
        for (Gp, Gn), srcs, sm in (((G1p, G1n), ("x", "xn"), "a"), ((G2p, G2n), ("y", "yn"), "c"),
                                   ((G3p, G3n), ("w", "wn"), "s")):
            sel = pick(srcs, sm)
            pos = sel & np.isin(rd, [_RC[srcs[0]]])
            neg = sel & np.isin(rd, [_RC[srcs[1]]])
            np.add.at(Gp, (ks[pos], kd[pos]), G[pos])
            np.add.at(Gn, (ks[neg], kd[neg]), G[neg])
        if not used.all():
            i = int(np.flatnonzero(~used)[0])
            raise NetlistError(f"resistor {t['R'].names[i]!r} ({names[p[i]]} - {names[q[i]]}) is not part of "
                               "a factored circuit")
    for nm_, (Gp, Gn) in (("J", (G1p, G1n)), ("H", (G2p, G2n)), ("J^T", (G3p, G3n))):
        both = (Gp > 0) & (Gn > 0)
        if np.any(both):
            k, j = np.argwhere(both)[0]
            raise NetlistError(f"{nm_} array entry ({k}, {j}) has resistors from both the direct and the "
                               "inverted node: not supported")
    G1, G2full, G3 = G1p - G1n, G2p - G2n, G3p - G3n
    # H blocks
    nzk, nzl = np.nonzero(G2full)
    if dz is None:
        dz = next(d for d in range(1, m + 1) if m % d == 0 and np.all(nzk // d == nzl // d))
        b = m // dz
    b, dz = int(b), int(dz)
    if b * dz != m or np.any(nzk // dz != nzl // dz):
        raise NetlistError(f"H resistors do not fit {b} diagonal blocks of size {dz}")
    G2 = np.stack([G2full[k * dz:(k + 1) * dz, k * dz:(k + 1) * dz] for k in range(b)])
    # op-amps: (out, +, -), + grounded, - on the summing node of the same index
    gains = {r: np.full(n_, np.nan) for r, n_ in (("x", N), ("xn", N), ("y", m), ("yn", m), ("w", m), ("wn", m))}
    summ = {"x": "s", "xn": "bx", "y": "a", "yn": "by", "w": "c", "wn": "bw"}
    for i, (o, ip, im) in enumerate(t["U"].nodes):
        r = _ROLES[role[o]]
        if r not in summ or ip != 0 or _ROLES[role[im]] != summ[r] or idx[im] != idx[o]:
            raise NetlistError(f"op-amp {t['U'].names[i]!r} is not a factored-circuit stage "
                               f"(out {names[o]}, + {names[ip]}, - {names[im]})")
        gains[r][idx[o]] = t["U"].values[i]
    for r, gg in gains.items():
        need = np.ones(len(gg), bool) if r in ("x", "y", "w") else \
            (vec[{"xn": "bx_g", "yn": "by_g", "wn": "bw_g"}[r]] > 0)
        miss = need & np.isnan(gg)
        if np.any(miss):
            raise NetlistError(f"node {r}{int(np.flatnonzero(miss)[0])} has no op-amp driving it")
        gains[r] = np.where(np.isnan(gg), np.inf, gg)
    c = np.zeros(N)
    ic = np.zeros(N)
    for i, (p_, q_) in enumerate(t["C"].nodes):
        if not (_ROLES[role[p_]] == "x" and _ROLES[role[q_]] == "s" and idx[p_] == idx[q_]):
            raise NetlistError(f"capacitor {t['C'].names[i]!r} is not an integrating capacitor x<i> - s<i>")
        c[idx[p_]] += t["C"].values[i]
        ic[idx[p_]] = t["C"].ic[i]
    v_in = np.zeros(N)
    for i, (p_, q_) in enumerate(t["V"].nodes):
        if not (_ROLES[role[p_]] == "in" and q_ == 0):
            raise NetlistError(f"voltage source {t['V'].names[i]!r} is not a DAC in<i> - 0")
        v_in[idx[p_]] = t["V"].values[i]
    psd = np.zeros(N)
    for i, (p_, q_) in enumerate(t["N"].nodes):
        other, sn_ = (p_, q_) if role[q_] == _RC["s"] else (q_, p_)
        if other != 0 or role[sn_] != _RC["s"]:
            raise NetlistError(f"noise source {t['N'].names[i]!r} must connect ground to a summing node s<i>")
        psd[idx[sn_]] += t["N"].values[i]
    for k in ("L", "G", "I"):
        if len(t[k]):
            raise NetlistError(f"element {t[k].names[0]!r}: kind {k} is not part of a factored circuit")
    comp = FactoredComponents(
        G1=G1.astype(f64), G2=G2, G3=G3, g3_ratio=1.0, gf1=vec["gf1"], gf2=vec["gf2"],
        g_lambda=vec["g_lambda"], g_in=vec["g_in"], v_in=v_in, c=c, ic=ic, noise_psd=psd,
        bx_g=vec["bx_g"], bx_f=vec["bx_f"], by_g=vec["by_g"], by_f=vec["by_f"], bw_g=vec["bw_g"],
        bw_f=vec["bw_f"], gain_int=gains["x"], gain_bx=gains["xn"], gain_s1=gains["y"],
        gain_by=gains["yn"], gain_s2=gains["w"], gain_bw=gains["wn"])
    comp.validate()
    return comp


def perturb_netlist_resistors(netlist: Netlist, sigma: float, rng) -> Netlist:
    """In place: every resistor R -> R (1 + sigma z), z ~ N(0, 1) (a fabrication tolerance)."""
    rng = np.random.default_rng(rng)
    tab = netlist.tables["R"]
    f = 1.0 + float(sigma) * rng.standard_normal(len(tab))
    if np.any(f <= 0):
        raise RealizabilityError(f"tolerance sigma = {sigma} drew a non-positive resistance")
    tab.set_values(slice(None), tab.values * f)
    return netlist


# =====================================================================================
# the chain: drift operator from component values
# =====================================================================================
class ChainDrift(DriftOperator):
    """Drift operator of a factored circuit, from its component values (units 1/s).

    State v (N,) = capacitor voltages (V). dv/dt = F v + offset + noise with

        F v = -D v - U (V^T v),   D = d / C (diagonal),  U = diag(1/C) G3eff (N x m),
        V^T = diag(1/D2) G2eff diag(1/D1) G1eff diag(1 - beta)  (m x N)

    where Geff are the signed arrays with negative entries multiplied by their buffer's gain.
    Applied stage by stage (numba), O(N m) per product; nothing of size N x N is formed except by
    :meth:`to_dense` / :meth:`diffusion_dense` (checks on small circuits).
    """

    kind = "chain"

    def __init__(self, comp: FactoredComponents, temperature_k: float = T_ROOM, noise: bool = True):
        comp.validate()
        if not (np.isfinite(temperature_k) and temperature_k >= 0):
            raise NetlistError(f"temperature must be finite and >= 0 K, got {temperature_k!r}")
        self.comp = comp
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.n, self.m = comp.n, comp.m
        m = self.m
        self.shared = comp.G3 is None
        self._G3 = np.zeros((1, 1)) if self.shared else np.ascontiguousarray(comp.G3, dtype=np.float64)
        self.G1 = np.ascontiguousarray(comp.G1, dtype=np.float64)
        self.G2 = np.ascontiguousarray(comp.G2, dtype=np.float64)
        self.ratio3 = float(comp.g3_ratio)
        # row sums of |G| (summing-node total conductances), one pass
        S1, cs1, _, _ = comp.scan_g1()
        S3 = cs1 * self.ratio3 if self.shared else _scan(self._G3)[0]
        S2 = np.abs(self.G2).sum(axis=2).reshape(m)
        self.S1, self.S2, self.S3 = S1, S2, S3
        ia = _inv_gain
        self.beta = ia(comp.gain_int) / (1.0 + ia(comp.gain_int))  # 1 / (A0 + 1)
        self.om = 1.0 - self.beta
        self.D1 = comp.gf1 + (S1 + comp.gf1) * ia(comp.gain_s1)
        self.D2 = comp.gf2 + (S2 + comp.gf2) * ia(comp.gain_s2)

        def buffer(g_, f_, gain):
            has = g_ > 0
            D = np.where(has, f_ + (g_ + f_) * ia(gain), 1.0)
            return np.where(has, g_ / D, 0.0), D, has
        self.gx, self.Dx, hx = buffer(comp.bx_g, comp.bx_f, comp.gain_bx)
        self.gy, self.Dy, hy = buffer(comp.by_g, comp.by_f, comp.gain_by)
        self.gw, self.Dw, hw = buffer(comp.bw_g, comp.bw_f, comp.gain_bw)
        self.d = comp.g_lambda + self.beta * (S3 + comp.g_in)
        self.invc = 1.0 / comp.c
        self.diag = self.d * self.invc  # D (1/s)
        self.offset = -comp.g_in * comp.v_in * self.invc  # B u (V/s)
        # noise intensities (variance of the injected current per second, A^2/s) per summing node
        kT2 = 2.0 * K_B * self.temperature_k if self.noise else 0.0
        self.q_s = kT2 * (S3 + comp.g_lambda + comp.g_in) + (0.5 * comp.noise_psd if self.noise else 0.0)
        self.q_a = kT2 * (S1 + comp.gf1)
        self.q_c = kT2 * (S2 + comp.gf2)
        self.q_bx = np.where(hx, kT2 * (comp.bx_g + comp.bx_f), 0.0)
        self.q_by = np.where(hy, kT2 * (comp.by_g + comp.by_f), 0.0)
        self.q_bw = np.where(hw, kT2 * (comp.bw_g + comp.bw_f), 0.0)
        self.has_noise = bool(any(np.any(q > 0) for q in (self.q_s, self.q_a, self.q_c, self.q_bx,
                                                            self.q_by, self.q_bw)))
        self._lowrank = {}
        self._rho = None

    # ------------------------------------------------------------- chain passes
    def _vt(self, V):
        """w = V^T v for the rows of V (k, N): stages 1 and 2 without noise. Returns (k, m)."""
        V = np.atleast_2d(np.asarray(V, dtype=np.float64))
        k = V.shape[0]
        up = np.ascontiguousarray(V * self.om)
        dm = up * (self.gx - 1.0)
        Y = np.empty((k, self.m))
        _stage_rows(self.G1, up, dm, Y, 1.0)
        Y *= -1.0 / self.D1
        W = np.empty((k, self.m))
        _stage_blocks(self.G2, Y, np.ascontiguousarray(Y * (self.gy - 1.0)), W)
        W *= -1.0 / self.D2
        return W

    def _g3(self, UP, UM):
        """(k, N): sum_k G3[i, k] (UP[k] if G3[i, k] >= 0 else UM[k])."""
        UP = np.ascontiguousarray(np.atleast_2d(UP), dtype=np.float64)
        UM = np.ascontiguousarray(np.atleast_2d(UM) - UP, dtype=np.float64)  # -> difference
        Z = np.empty((UP.shape[0], self.n))
        if self.shared:
            _stage_cols(self.G1, UP, UM, Z, self.ratio3)
        else:
            _stage_rows(self._G3, UP, UM, Z, 1.0)
        return Z

    def apply_U(self, R):
        """U r = diag(1/C) G3eff r for rows of R (k, m)."""
        R = np.atleast_2d(R)
        return self._g3(R, R * self.gw) * self.invc

    def apply_G3m(self, E):
        """min(G3, 0) e for rows of E (k, m) (the negative entries only: buffer noise of wn_k)."""
        E = np.atleast_2d(E)
        return self._g3(np.zeros_like(E), E)

    def apply_Vt(self, V):
        return self._vt(V)

    def matvec(self, x):
        """F x (V/s), noise-free and without the constant input term; x (N,) or (k, N)."""
        x = np.asarray(x, dtype=np.float64)
        X = np.atleast_2d(x)
        out = -(self.apply_U(self._vt(X)) + self.diag * X)
        return out[0] if x.ndim == 1 else out

    def response(self, inj: dict, k: int) -> np.ndarray:
        """State-rate response (V/s), shape (k, N), to node current injections (A) and buffer-node
        injections given as dict entries s (k, N), a (k, m), c (k, m), bx (k, N), by (k, m), bw (k, m)."""
        N, m = self.n, self.m
        z = lambda key, n_: np.asarray(inj.get(key, np.zeros((k, n_))), dtype=float)  # noqa: E731
        up = np.zeros((k, N))
        dm = z("bx", N) / self.Dx
        Y = np.empty((k, m))
        _stage_rows(self.G1, up, np.ascontiguousarray(dm), Y, 1.0)
        Y = np.ascontiguousarray(-(Y + z("a", m)) / self.D1)
        W = np.empty((k, m))
        _stage_blocks(self.G2, Y, np.ascontiguousarray((self.gy - 1.0) * Y + z("by", m) / self.Dy), W)
        W = -(W + z("c", m)) / self.D2
        Z = self._g3(W, self.gw * W + z("bw", m) / self.Dw)
        return -(Z + z("s", N)) * self.invc

    # ----------------------------------------------------------- dense (checks)
    def _guard(self, what):
        if self.n > DENSE_MAX_N:
            raise NetlistError(f"{what} forms an N x N matrix; N = {self.n} > {DENSE_MAX_N}")

    def to_dense(self):
        """F as an N x N array (small circuits only: for checks)."""
        self._guard("to_dense")
        return self.matvec(np.eye(self.n)).T

    def noise_map_dense(self):
        """(T, q): state-rate response T (N, n_src) to each noise source and its intensity q (A^2/s)."""
        self._guard("noise_map_dense")
        cols, qs = [], []
        for key, n_, q in (("s", self.n, self.q_s), ("a", self.m, self.q_a), ("c", self.m, self.q_c),
                           ("bx", self.n, self.q_bx), ("by", self.m, self.q_by), ("bw", self.m, self.q_bw)):
            cols.append(self.response({key: np.eye(n_)}, n_).T)
            qs.append(q)
        return np.concatenate(cols, axis=1), np.concatenate(qs)

    def diffusion_dense(self):
        """Q (V^2/s) with dv = (F v + offset) dt + dW, cov(dW) = Q dt (small circuits only)."""
        T, q = self.noise_map_dense()
        Q = (T * q) @ T.T
        return 0.5 * (Q + Q.T)

    # ---------------------------------------------------------------- spectrum
    def gershgorin_radius(self) -> float:
        """Upper bound on the spectral radius: max row sum of |D| + |U| |V^T| (1/s), O(N m)."""
        # |U| |V^T| 1 with every entry's absolute value and the larger of direct / inverted gains
        absG1 = np.abs(self.G1)
        up = np.ascontiguousarray(np.abs(self.om) * np.maximum(self.gx, 1.0))[None]
        Y = np.empty((1, self.m))
        _stage_rows(absG1, up, np.zeros_like(up), Y, 1.0)
        Y /= np.abs(self.D1)
        W = np.empty((1, self.m))
        _stage_blocks(np.abs(self.G2), np.ascontiguousarray(Y * np.maximum(self.gy, 1.0)), np.zeros_like(Y), W)
        W /= np.abs(self.D2)
        W = np.ascontiguousarray(W * np.maximum(self.gw, 1.0))
        Z = np.empty((1, self.n))
        if self.shared:
            _stage_cols(absG1, W, np.zeros_like(W), Z, self.ratio3)
        else:
            _stage_rows(np.abs(self._G3), W, np.zeros_like(W), Z, 1.0)
        return float(np.max(np.abs(self.diag) + Z[0] * self.invc))

    def dominant_eigenvalue(self, method: str = "arnoldi", tol: float = 1e-10, maxiter: int = 2000, seed: int = 0):
        """Eigenvalue of F' = -F of largest modulus (1/s): Arnoldi (ARPACK, the Krylov refinement of
        power iteration) or plain power iteration with a Rayleigh-quotient stop; matvecs on the
        chain only (O(N m) each, no N x N)."""
        if self._rho is not None and self._rho[0] == method:
            return self._rho[1]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.n)
        mu = None
        if method == "arnoldi" and self.n > 2:
            import scipy.sparse.linalg as spla

            op = spla.LinearOperator((self.n, self.n), matvec=lambda v: -self.matvec(v), dtype=float)
            try:
                ev = spla.eigs(op, k=1, which="LM", v0=x, tol=tol, maxiter=maxiter)[0]
                mu = complex(ev[0])
            except Exception:  # ARPACK did not converge: fall back to power iteration
                mu = None
        if mu is None:
            if method not in ("arnoldi", "power"):
                raise StepError(f"unknown spectral-radius method {method!r}: use 'arnoldi' or 'power'")
            x /= np.linalg.norm(x)
            prev = 0.0
            for _ in range(maxiter):
                y = -self.matvec(x)
                lam = float(x @ y)
                nrm = np.linalg.norm(y)
                if nrm == 0:
                    break
                x = y / nrm
                if abs(lam - prev) <= tol * abs(lam):
                    break
                prev = lam
            mu = complex(lam)
        self._rho = (method, mu)
        return mu

    def spectral_radius(self, method: str = "arnoldi") -> float:
        return abs(self.dominant_eigenvalue(method))

    def max_stable_euler_step(self, method: str = "arnoldi") -> float:
        """2 Re(mu) / |mu|^2 for the dominant eigenvalue mu of F' (s): |1 - h mu| < 1."""
        mu = self.dominant_eigenvalue(method)
        if mu.real <= 0:
            raise StepError(f"drift has an eigenvalue with non-negative real part ({-mu:.4g} 1/s): not stable")
        return 2.0 * mu.real / abs(mu) ** 2

    # ------------------------------------------------------------- low rank
    def lowrank(self, noise: bool | None = None) -> dict:
        """m x m matrices of F' = D + U V^T (cached): K = V^T U and, with noise, S = V^T P P^T V, the
        stage-noise covariance Sigma_w (V^2/s) entering through U, the P-part pieces. Costs
        O(m^2 N) flops (chunked BLAS over N, no N x m temporary)."""
        noise = self.has_noise if noise is None else (noise and self.has_noise)
        key = bool(noise)
        if key in self._lowrank:
            return self._lowrank[key]
        N, m = self.n, self.m
        s1 = self.om * self.invc
        qs = (self.om * self.invc) ** 2 * self.q_s
        rx = self.q_bx / self.Dx ** 2
        blas = sla.blas
        Fz = lambda: np.zeros((m, m), order="F")  # noqa: E731  (BLAS accumulates in place)
        KcT = Fz()  # Kc^T in Fortran order (= Kc in C order)
        CmT = Fz() if noise else None
        Sd = Fz() if noise else None
        Sx = Fz() if noise else None
        anyx = noise and bool(np.any(rx > 0))
        anyw = noise and bool(np.any(self.q_bw > 0))
        # nominal shared arrays with unit-gain buffers: G3eff = ratio G1eff^T, so Kc is a syrk
        sym = self.shared and bool(np.all((self.gx == 1.0) | (self.comp.bx_g == 0))) and \
            bool(np.all((self.gw == 1.0) | (self.comp.bw_g == 0)))
        L = max(64, (1 << 17) // max(1, m))

        def gemm(CT, A_, B_):  # C += A_ @ B_ via C^T += B_^T A_^T on Fortran views (no copies)
            blas.dgemm(1.0, B_.T, A_.T, beta=1.0, c=CT, overwrite_c=1)

        def syrk(C, X_, alpha=1.0):  # upper triangle of C += alpha X_ X_^T
            blas.dsyrk(alpha, X_.T, beta=1.0, c=C, trans=1, lower=0, overwrite_c=1)
        # uniform (1 - beta) / C: Kc = ratio s1 G1 G1^T in one syrk on the whole array (G1^T is a
        # Fortran view: no copy, no chunk temporaries)
        fast = sym and bool(np.all(s1 == s1[0])) and bool(np.all((self.gx == 1.0) | (self.comp.bx_g == 0)))
        if fast:
            syrk(KcT, self.G1, alpha=float(self.ratio3 * s1[0]))
        for j0 in range(0, N, L) if (noise or not fast) else ():
            j1 = min(N, j0 + L)
            A = self.G1[:, j0:j1]
            A1 = A if fast else np.where(A < 0, A * self.gx[j0:j1], A)
            if not fast:
                if sym:
                    syrk(KcT, A1 * np.sqrt(s1[j0:j1] * self.ratio3))
                else:
                    B = (A.T * self.ratio3) if self.shared else self._G3[j0:j1]
                    gemm(KcT, A1, np.where(B < 0, B * self.gw, B) * s1[j0:j1, None])
            if noise:
                if anyw:
                    B = (A.T * self.ratio3) if self.shared else self._G3[j0:j1]
                    gemm(CmT, A1, np.minimum(B, 0.0) * s1[j0:j1, None])
                syrk(Sd, A1 * np.sqrt(qs[j0:j1]))
                if anyx:
                    syrk(Sx, np.minimum(A, 0.0) * np.sqrt(rx[j0:j1]))

        def full(U_):  # symmetric matrix from its upper triangle
            return np.triu(U_) + np.triu(U_, 1).T
        Kc = full(KcT) if sym else np.ascontiguousarray(KcT.T)
        if noise:
            Cm = np.ascontiguousarray(CmT.T)
            Sd, Sx = full(Sd), full(Sx)
        # Lft = diag(1/D2) G2eff diag(1/D1)
        G2eff = np.where(self.G2 < 0, self.G2 * self.gy.reshape(self.G2.shape[0], 1, -1), self.G2)
        b_, dz = self.G2.shape[0], self.G2.shape[1]

        def lft(M_):  # Lft @ M_ for M_ (m, r)
            T_ = (M_ / self.D1[:, None]).reshape(b_, dz, -1)
            return (np.einsum("bij,bjr->bir", G2eff, T_).reshape(m, -1)) / self.D2[:, None]
        K = lft(Kc)
        out = {"K": K, "Kc": Kc, "Lft": lft(np.eye(m)), "noise": noise}
        if noise:
            LS = lft(Sd)
            S = lft(LS.T).T
            if anyw:
                VtG3m = lft(Cm)  # V^T diag(1/C) G3m (m x m): the w-buffer noise seen through V^T
                out["VtG3m_T"] = np.ascontiguousarray(VtG3m.T)  # (for rows: E @ VtG3m^T)
                LC = VtG3m * (np.sqrt(self.q_bw) / self.Dw)
                S = S + LC @ LC.T
            # Sigma_w: covariance rate of the stage-2 output noise (V^2/s); y noise is correlated
            # across rows through the x-buffers (Sx), so Sy is a full m x m matrix
            Sy = (Sx + np.diag(self.q_a)) / np.outer(self.D1, self.D1)
            G2m = np.minimum(self.G2, 0.0)
            rb = self.q_by / self.Dy ** 2

            def bd(Gb, M_):  # blockdiag(Gb) @ M_ for M_ (m, r)
                return np.einsum("bij,bjr->bir", Gb, M_.reshape(b_, dz, -1)).reshape(m, -1)
            Sw = bd(G2eff, bd(G2eff, Sy).T).T
            Gm_r = G2m * np.sqrt(rb).reshape(b_, 1, dz)
            Sw += bd(Gm_r, np.eye(m)) @ bd(Gm_r, np.eye(m)).T if np.any(rb > 0) else 0.0
            Sw += np.diag(self.q_c)
            Sw /= np.outer(self.D2, self.D2)
            out.update(S=0.5 * (S + S.T), Sigma_w=0.5 * (Sw + Sw.T))
        self._lowrank[key] = out
        return out


# =====================================================================================
# exponential scheme
# =====================================================================================
def _phi1(z):
    """(e^z - 1) / z elementwise, stable near 0 (complex or real)."""
    z = np.asarray(z)
    out = np.empty_like(z, dtype=np.result_type(z, float))
    small = np.abs(z) < 0.5
    zs = z[small]
    acc = np.zeros_like(zs, dtype=out.dtype)
    for k in range(22, 0, -1):  # Horner for sum z^j / (j+1)!
        acc = 1.0 + acc * zs / (k + 1)
    out[small] = acc
    zl = z[~small]
    out[~small] = np.expm1(zl) / zl if np.isrealobj(zl) else (np.exp(zl) - 1.0) / zl
    return out


def _gl_nodes(h: float, cmax: float, npts: int = 20):
    """Gauss-Legendre nodes/weights on [0, h], panels [0, u1], then doubling (u1 = 1/cmax): exact
    to round-off for e^{-c u}, |c| <= cmax (each rate is resolved where it is not negligible)."""
    x, w = np.polynomial.legendre.leggauss(npts)
    u1 = h if cmax * h <= 1.0 else 1.0 / cmax
    edges = [0.0, u1]
    while edges[-1] < h:
        edges.append(min(h, 2.0 * edges[-1]))
    e = np.asarray(edges)
    lo, hi = e[:-1], e[1:]
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    u = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    wt = (half[:, None] * w[None, :]).ravel()
    return u, wt


def _decompose(K, Lft=None, Kc=None):
    """K = W diag(lam) Winv. Symmetric K: eigh. K = Lft Kc with both symmetric and Kc positive
    definite (nominal J/H circuits): eigh of L^T Lft L (Kc = L L^T), W = L^-T Q. Otherwise eig, with a
    reconstruction check (a defective K raises StepError)."""
    nrm = float(np.linalg.norm(K, 1)) or 1.0
    if np.max(np.abs(K - K.T)) <= 1e-12 * nrm:
        lam, W = np.linalg.eigh(0.5 * (K + K.T))
        return lam, W, W.T, "symmetric"
    if Lft is not None and Kc is not None:
        nl_, nk = np.linalg.norm(Lft, 1) or 1.0, np.linalg.norm(Kc, 1) or 1.0
        if np.max(np.abs(Lft - Lft.T)) <= 1e-12 * nl_ and np.max(np.abs(Kc - Kc.T)) <= 1e-12 * nk:
            try:
                L = np.linalg.cholesky(0.5 * (Kc + Kc.T))
                B = L.T @ (0.5 * (Lft + Lft.T)) @ L
                lam, Q = np.linalg.eigh(0.5 * (B + B.T))
                W = sla.solve_triangular(L.T, Q, lower=False)
                Winv = Q.T @ L.T
                res = np.linalg.norm(K @ W - W * lam, 1) / (nrm * np.linalg.norm(W, 1))
                if res <= 1e-10:
                    return lam, W, Winv, "symmetric-definite"
            except np.linalg.LinAlgError:
                pass
    lam, W = np.linalg.eig(K)
    try:
        Winv = np.linalg.inv(W)
    except np.linalg.LinAlgError:
        Winv = None
    if Winv is None or not np.all(np.isfinite(Winv)) or \
            np.linalg.norm((W * lam) @ Winv - K, 1) > 1e-8 * nrm:
        raise StepError("the low-rank matrix K = V^T U is (numerically) defective, so the exponential "
                        "scheme cannot diagonalise it: use scheme='euler'")
    if np.max(np.abs(lam.imag), initial=0.0) <= 1e-13 * np.max(np.abs(lam), initial=1.0) and \
            np.max(np.abs(W.imag)) <= 1e-13 * np.max(np.abs(W)):
        lam, W, Winv = lam.real, W.real, Winv.real
    return lam, W, Winv, "general"


@dataclass
class ExpDiscretization:
    """One step h of the exponential scheme for M = dbar I + U V^T (state v, SI units).

    Mean:   v' = e^{-dbar h} (v + U Phi_h V^T v) + a1 r + U Psi1 V^T r,   r = offset - Delta v
            (Phi_h = (e^{-K h} - I) K^-1, Psi1 = int_0^h e^{-dbar u} Phi(u) du, a1 = int_0^h e^{-dbar u} du;
            with Delta = 0 the forcing term is precomputed: force_n + U force_m)
    Noise:  dW = P dB_P + U L_w dB_w (P = [diag(sigma_s), diag(1/C) G3m diag(sigma_bw)]) gives,
            exactly, zeta1 = sqrt(a) P z (a = int e^{-2 dbar u}),  zeta2 = (X / a) V^T zeta1 + Lc z',
            noise = zeta1 + U zeta2, with X = int e^{-2 dbar u} Phi(u) du and
            Lc Lc^T = Y1 + Y2 - X S X^T / a  (Y1 = int e^{-2 dbar u} Phi S Phi^T, Y2 = int e^{-2 dbar u} E Sigma_w E^T,
            S = V^T P P^T V): the projection of zeta2 on zeta1 plus an independent remainder.
    All m x m functions come from K = W diag(lam) W^-1 and are applied in the eigenbasis (O(m^2) per
    vector, no m x m function matrix is formed); the integrals over u by Gauss-Legendre on graded
    panels (exact to round-off for exponentials with rates up to 2 dbar + 2 max|lam|).
    """

    h: float
    dbar: float
    uniform: bool
    e_dh: float
    a1: float
    a: float
    W: np.ndarray  # eigenvectors of K (m, m), real or complex
    Winv: np.ndarray
    phi: np.ndarray  # e^{-dbar h} Phi_h in the eigenbasis (m,)
    psi: np.ndarray  # Psi1 in the eigenbasis (m,)
    xa: np.ndarray  # X / a in the eigenbasis (m,)
    Lc: np.ndarray | None
    force_n: np.ndarray | None  # uniform: a1 * offset (N,)
    force_m: np.ndarray | None  # uniform: Psi1 V^T offset (m,), enters through U
    delta: np.ndarray  # (N,) D - dbar
    sigma_s: np.ndarray  # (N,)
    sigma_bw: np.ndarray  # (m,)
    noise: bool
    decomposition: str

    def matrix(self, which: str) -> np.ndarray:
        """'Phi' (= Phi_h, without e^{-dbar h}), 'Psi1' or 'Xa' as a dense m x m matrix (checks)."""
        vals = {"Phi": self.phi / self.e_dh, "Psi1": self.psi, "Xa": self.xa}[which]
        M_ = (self.W * vals) @ self.Winv
        return M_.real if np.iscomplexobj(M_) else M_

    def apply(self, T, vals):
        """Rows of T (k, m) in the eigenbasis coordinates, scaled by vals, back: real (k, m)."""
        out = _mm(np.ascontiguousarray(T * vals), self.WT)
        return out.real if np.iscomplexobj(out) else out

    @property
    def WT(self):
        if getattr(self, "_WT", None) is None:
            self._WT = np.ascontiguousarray(self.W.T)
            self._WinvT = np.ascontiguousarray(self.Winv.T)
            self._LcT = None if self.Lc is None else np.ascontiguousarray(self.Lc.T)
        return self._WT


def _mm(A, B):
    """A @ B through the serial numba kernel (common dtype: float64 or complex128)."""
    dt = np.result_type(A, B)
    A = np.ascontiguousarray(A, dtype=dt)
    B = np.ascontiguousarray(B, dtype=dt)
    out = np.empty((A.shape[0], B.shape[1]), dtype=dt)
    _rowmat(A, B, out)
    return out


def exponential_discretization(chain: ChainDrift, h: float, noise: bool = True) -> ExpDiscretization:
    if not (np.isfinite(h) and h > 0):
        raise StepError(f"time step must be finite and > 0 s, got {h!r}")
    noise = bool(noise) and chain.has_noise
    lr = chain.lowrank(noise)
    key = "_eig"
    if key not in lr:
        lr[key] = _decompose(lr["K"], lr["Lft"], lr["Kc"])
    lam, W, Winv, kind = lr[key]
    D = chain.diag
    dbar = float(np.mean(D))
    delta = D - dbar
    uniform = bool(np.max(np.abs(delta)) <= 1e-13 * max(abs(dbar), 1e-300))
    if uniform:
        delta = np.zeros_like(D)
    cmax = 2.0 * abs(dbar) + 2.0 * float(np.max(np.abs(lam), initial=0.0))
    u, wt = _gl_nodes(h, cmax)
    ph = -u[None, :] * _phi1(-np.outer(lam, u))  # phi_i(u_q), (m, Q)
    w1 = wt * np.exp(-dbar * u)
    w2 = wt * np.exp(-2.0 * dbar * u)
    e_dh = math.exp(-dbar * h)
    a1 = h * float(_phi1(np.array(-dbar * h)))
    a = h * float(_phi1(np.array(-2.0 * dbar * h)))
    phi_h = e_dh * (-h * _phi1(-lam * h))
    psi = ph @ w1
    Xdiag = ph @ w2
    Lc = None
    sig_s = np.sqrt(chain.q_s) * chain.invc if noise else np.zeros(chain.n)
    sig_bw = np.sqrt(chain.q_bw) / chain.Dw if noise else np.zeros(chain.m)
    if noise:
        S, Sw = lr["S"], lr["Sigma_w"]
        St = Winv @ S @ Winv.T
        Swt = Winv @ Sw @ Winv.T
        Kpp = (ph * w2) @ ph.T
        E = np.exp(-np.outer(lam, u))
        Kee = (E * w2) @ E.T
        Y = W @ (Kpp * St + Kee * Swt) @ W.T
        X = (W * Xdiag) @ Winv
        Cc = Y - X @ S @ X.T / a
        Cc = np.real(Cc) if np.iscomplexobj(Cc) else Cc
        Cc = 0.5 * (Cc + Cc.T)
        try:  # positive definite in practice; the eigen-factor handles the semidefinite case
            Lc = np.linalg.cholesky(Cc)
            if not np.all(np.isfinite(Lc)):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            ev, Q = np.linalg.eigh(Cc)
            keep = ev > 1e-13 * max(ev[-1], 0.0)
            Lc = np.ascontiguousarray(Q[:, keep] * np.sqrt(ev[keep]))
    disc = ExpDiscretization(h=float(h), dbar=dbar, uniform=uniform, e_dh=e_dh, a1=a1, a=a, W=W, Winv=Winv,
                             phi=phi_h, psi=psi, xa=Xdiag / a, Lc=Lc, force_n=None, force_m=None, delta=delta,
                             sigma_s=sig_s, sigma_bw=sig_bw, noise=noise, decomposition=kind)
    if uniform:
        wc = chain.apply_Vt(chain.offset[None])
        disc.force_n = a1 * chain.offset
        disc.force_m = disc.apply(wc @ Winv.T, psi)[0]
    return disc


def exponential_step(chain: ChainDrift, disc: ExpDiscretization, X: np.ndarray, rng=None) -> np.ndarray:
    """One step for the rows of X (k, N); normals from numpy Generator ``rng`` (needed with noise).

    Reads the J array once (V^T of the stacked x, r, and the node part of zeta1) and the J^T array
    once (U of the m-vector together with the w-buffer noise of zeta1, min(G3, 0) sigma_bw z_b, one
    signed pass: both enter through G3); the w-buffer noise reaches V^T zeta1 through the cached
    m x m matrix V^T diag(1/C) G3m. Plus O(m^2) per chain."""
    k, N = X.shape
    m = chain.m
    rows = [X]
    if not disc.uniform:
        R = chain.offset - disc.delta * X
        rows.append(R)
    sa = math.sqrt(disc.a)
    Eb = None
    if disc.noise:
        zs = rng.standard_normal((k, N))
        zb = rng.standard_normal((k, m))
        zm = rng.standard_normal((k, disc.Lc.shape[1]))
        Z1s = (sa * disc.sigma_s) * zs  # node part of zeta1 = sqrt(a) P z
        rows.append(Z1s)
        if np.any(disc.sigma_bw > 0):
            Eb = (sa * disc.sigma_bw) * zb  # buffer part: sqrt(a) diag(1/C) G3m sigma_bw z_b, via J^T below
    disc.WT  # noqa: B018  (caches the transposed factors)
    Vt = chain.apply_Vt(np.concatenate(rows, axis=0))
    if Eb is not None:
        Vt[-k:] += _mm(Eb, chain.lowrank(True)["VtG3m_T"])
    T = _mm(Vt, disc._WinvT)  # eigenbasis coordinates
    vals = [disc.phi] + ([] if disc.uniform else [disc.psi]) + ([disc.xa] if disc.noise else [])
    mu = disc.apply(sum(T[i * k:(i + 1) * k] * v for i, v in enumerate(vals)), 1.0)
    new = disc.e_dh * X
    if disc.uniform:
        new += disc.force_n
        mu += disc.force_m
    else:
        new += disc.a1 * R
    if disc.noise:
        mu += _mm(zm, disc._LcT)
        new += Z1s
    # U mu + diag(1/C) G3m Eb in one pass: G3 takes mu on its direct entries, mu gw + Eb on its negative ones
    new += chain._g3(mu, mu * chain.gw if Eb is None else mu * chain.gw + Eb) * chain.invc
    return new


def exponential_step_dense(chain: ChainDrift, disc: ExpDiscretization):
    """(Phi_full, force, Cov) of one step as dense N x N arrays (small circuits: for checks):
    v' = Phi_full v + force + noise, cov(noise) = Cov (uniform diagonal only)."""
    chain._guard("exponential_step_dense")
    if not disc.uniform:
        raise StepError("exponential_step_dense: only for a uniform diagonal")
    N = chain.n
    I = np.eye(N)
    U = chain.apply_U(np.eye(chain.m)).T  # (N, m)
    Vt = chain.apply_Vt(I).T  # (m, N)
    Phi = disc.e_dh * (I + U @ disc.matrix("Phi") @ Vt)
    force = disc.force_n + U @ disc.force_m
    cov = np.zeros((N, N))
    if disc.noise:
        Gm = chain.apply_G3m(np.eye(chain.m)).T * chain.invc[:, None]
        P = np.concatenate([np.diag(disc.sigma_s), Gm * disc.sigma_bw], axis=1)
        T1 = math.sqrt(disc.a) * P
        A1 = (I + U @ disc.matrix("Xa") @ Vt) @ T1
        UL = U @ disc.Lc
        cov = A1 @ A1.T + UL @ UL.T
    return Phi, force, cov


# =====================================================================================
# mapping (J, H, lambda, g) -> circuit
# =====================================================================================
@dataclass
class FactoredScales:
    """Scale factors of one factored circuit (SI). See the module docstring for the formulas."""

    g1_s: float  # S per unit of J (J array)
    g2_s: float  # S per unit of H (H array)
    g3_s: float  # S per unit of J (J^T array)
    r_f1_ohm: float  # stage-1 feedback resistor
    r_f2_ohm: float  # stage-2 feedback resistor
    v_unit_v: float  # V per unit of x
    c_f: float  # integrating capacitance
    b_norm: float  # F = J^T H J / b_norm
    r_buffer_ohm: float
    r_min_ohm: float
    r_max_ohm: float

    @property
    def g_unit_s(self) -> float:
        """Conductance per unit of A = F + lambda I: b_norm g1 g2 g3 r_f1 r_f2 (S)."""
        return self.b_norm * self.g1_s * self.g2_s * self.g3_s * self.r_f1_ohm * self.r_f2_ohm

    @property
    def tau_s(self) -> float:
        return self.c_f / self.g_unit_s

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d.update(g_unit_S=self.g_unit_s, tau_s=self.tau_s)
        return d


@dataclass
class FactoredCircuit:
    """A programmed factored circuit: component values, every scale, realizability record."""

    components: FactoredComponents
    scales: FactoredScales
    damping: float
    rhs: np.ndarray  # g realised (after the DAC formula), problem units
    r_in_ohm: float
    r_lambda_ohm: float
    prune: dict
    design: dict = field(default_factory=dict)
    _netlist: Netlist | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.components.n

    @property
    def m(self) -> int:
        return self.components.m

    @property
    def tau_s(self) -> float:
        return self.scales.tau_s

    @property
    def g_unit_s(self) -> float:
        return self.scales.g_unit_s

    @property
    def v_unit_v(self) -> float:
        return self.scales.v_unit_v

    @property
    def netlist(self) -> Netlist:
        """The SPICE-exportable netlist, built on first access (refused above NETLIST_MAX_RESISTORS
        resistors: call ``to_netlist(force=True)`` if you mean it)."""
        if self._netlist is None:
            self._netlist = self.to_netlist()
        return self._netlist

    def to_netlist(self, force: bool = False) -> Netlist:
        nres = self.components.resistor_count()
        if nres > NETLIST_MAX_RESISTORS and not force:
            raise NetlistError(f"the netlist would hold {nres} resistors (> {NETLIST_MAX_RESISTORS}); "
                               "pass force=True to build it anyway")
        return self.components.to_netlist(meta={"scales": self.scales.to_dict()})

    def chain(self, temperature_k: float = T_ROOM, noise: bool = True) -> ChainDrift:
        return ChainDrift(self.components, temperature_k, noise)

    def with_injected_noise(self, psd) -> "FactoredCircuit":
        """Same circuit with white current noise of one-sided PSD ``psd`` (A^2/Hz) at every s_i
        (shares the component arrays)."""
        psd = np.broadcast_to(np.asarray(psd, dtype=float), (self.n,)).copy()
        if np.any(~np.isfinite(psd)) or np.any(psd < 0):
            raise RealizabilityError("injected noise PSD must be finite and >= 0 A^2/Hz")
        return replace(self, components=replace(self.components, noise_psd=psd), _netlist=None)

    def kappa0_psd(self, kappa0: float) -> float:
        """PSD (A^2/Hz) at each s_i giving dx = ... + sqrt(2 kappa0) dW in tau units:
        4 kappa0 C^2 v_unit^2 / tau."""
        return 4.0 * float(kappa0) * self.scales.c_f ** 2 * self.scales.v_unit_v ** 2 / self.tau_s

    def x_from_volts(self, v):
        return np.asarray(v) / self.scales.v_unit_v

    def volts_from_x(self, x):
        return np.asarray(x) * self.scales.v_unit_v

    def component_counts(self) -> dict:
        return self.components.component_counts()

    def to_dict(self) -> dict:
        def clean(o):
            if isinstance(o, dict):
                return {k: clean(v) for k, v in o.items()}
            if isinstance(o, float) and not np.isfinite(o):
                return None
            return o
        return clean({
            "architecture": "factored (TNGD App. C): J array -> H array -> J^T array -> integrators",
            "N": self.n, "m": self.m, "b": self.components.b, "dz": self.components.dz,
            "scales": self.scales.to_dict(), "damping": self.damping,
            "r_in_ohm": self.r_in_ohm, "r_lambda_ohm": self.r_lambda_ohm,
            "formulas": {
                "g_unit": "b_norm * g1 * g2 * g3 * r_f1 * r_f2 (S per unit of A = J^T H J / b_norm + lambda I)",
                "tau": "C / g_unit", "x": "V(x_i) / v_unit", "R_lambda": "1 / (g_unit * lambda)",
                "V_in": "-R_in * g_unit * v_unit * g_i", "R_J": "1 / (g1 |J_kj|)", "R_H": "1 / (g2 |H_kl|)",
                "R_JT": "1 / (g3 |J_kj|)"},
            "pruning": self.prune, "design": self.design,
            "component_counts": self.component_counts(),
        })

    def to_json(self, path) -> None:
        from spucircuit._util.files import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))


def _check_pos(name, v):
    if not (np.isfinite(v) and v > 0):
        raise RealizabilityError(f"{name} must be finite and > 0, got {v!r}")
    return float(v)


def _nominal_matvec(J, H, b_norm, lam, v):
    b, dz = H.shape[0], H.shape[1]
    u = (J @ v).reshape(b, dz)
    return J.T @ np.einsum("bij,bj->bi", H, u).reshape(-1) / b_norm + lam * v


def _cg_estimate(J, H, b_norm, lam, g, iters):
    """A few CG iterations on (J^T H J / b + lambda I) x = g (O(m N) each): a cheap estimate of
    x* used only to choose voltage scales (CG iterates grow in norm monotonically)."""
    from spucircuit.numerics.cg import conjugate_gradient

    return conjugate_gradient(lambda v: _nominal_matvec(J, H, b_norm, lam, v), g, None, iters,
                              stop_on_nonpositive=True)


def factored_circuit(J, H_blocks, damping, g, *, r_min: float = R_MIN_DEFAULT, r_max: float = R_MAX_DEFAULT,
                     c: float = C_DEFAULT, v_swing: float = V_SWING_DEFAULT, b_norm: float | None = None,
                     scales: FactoredScales | None = None, v_unit: float | None = None,
                     r_f1: float | None = None, r_f2: float | None = None, r_buffer: float | None = None,
                     headroom: float = 1.0, x_ref=None, cg_iters: int = 10, opamp_gain: float = np.inf,
                     noise_psd: float = 0.0, prune: bool = False, x0=None, netlist: bool | None = None,
                     title: str | None = None, out: np.ndarray | None = None) -> FactoredCircuit:
    """Map (J, H, lambda, g) onto the factored circuit (TNGD App. C).

    Parameters (SI units)
    ---------------------
    J        : (m, N) per-example output Jacobian (rows example-major, as ``tngd.Batch.jacobian``).
    H_blocks : (b, dz, dz) loss-Hessian blocks with m = b dz; None = identity 1 x 1 blocks (then J
               is an already normalised factor Ut with F = Ut^T Ut, and b_norm defaults to 1).
    damping  : lambda > 0.   g : (N,) right-hand side (the gradient).
    r_min, r_max : programmable resistance range (every resistor, arrays and stages).
    c        : integrating capacitance.   v_swing : target voltage swing for x*, stage outputs, DACs.
    b_norm   : F = J^T H J / b_norm (default b).
    scales   : reuse a previous programming's scales (g1, g2, g3, r_f1, r_f2, v_unit: tau and v_unit
               stay fixed; entries that then need R < r_min raise RealizabilityError).
    v_unit   : fix volts per unit of x (default v_swing / max|x_ref|).
    r_f1, r_f2 : feedback resistors (default: stage outputs reach v_swing for x_ref, clipped to range).
    headroom : the largest |J|, |H| entry maps to headroom * r_min (room for later, larger entries).
    x_ref    : typical solution used for the voltage scales (default: ``cg_iters`` CG iterations).
    opamp_gain : open-loop gain of every op-amp (inf = ideal).
    noise_psd  : injected white current at each s_i (A^2/Hz).
    prune    : leave entries needing R > r_max open (bound recorded) instead of raising.
    x0       : initial x (capacitor initial voltages).
    netlist  : build the Netlist now (True), never (False), or when small (None).
    out      : optional C-contiguous float64 (m, N) buffer that receives the J array (reprogramming
               an existing array in place: no new memory to fault in).

    The component arrays are built in row chunks directly from J (no Python object per element);
    nominal J and J^T arrays share one buffer. Pruning bound (recorded in ``prune``): with
    delta = ||A' - A||_2 / lambda <= [||dJ||_F ||H||_2 (||J||_F + ||J'||_F) + ||J'||_F^2 ||dH||_2] /
    (b_norm lambda), the realised natural gradient x' obeys ||x' - x|| / ||x|| <= delta / (1 - delta)
    (valid when every H block is positive semidefinite: lambda_min(A) >= lambda).
    """
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 2 or J.size == 0:
        raise MatrixError(f"J must be a non-empty (m, N) matrix, got shape {J.shape}")
    m, N = J.shape
    if H_blocks is None:
        H = np.ones((m, 1, 1))
        b_norm = 1.0 if b_norm is None else b_norm
    else:
        H = np.asarray(H_blocks, dtype=np.float64)
        if H.ndim != 3 or H.shape[1] != H.shape[2] or H.shape[0] * H.shape[1] != m:
            raise MatrixError(f"H_blocks must be (b, dz, dz) with b dz = m = {m}, got shape {H.shape}")
    b, dz = H.shape[0], H.shape[1]
    b_norm = float(b if b_norm is None else b_norm)
    _check_pos("b_norm", b_norm)
    if not np.all(np.isfinite(H)):
        raise MatrixError("H_blocks contain NaN or inf")
    lam = float(damping)
    if not (np.isfinite(lam) and lam > 0):
        raise MatrixError(f"damping lambda must be finite and > 0, got {damping!r}")
    g = np.asarray(g, dtype=np.float64).reshape(-1) if g is not None else np.zeros(N)
    if g.shape != (N,) or not np.all(np.isfinite(g)):
        raise MatrixError(f"g must be a finite vector of length N = {N}, got shape {g.shape}")
    for nm, v in (("r_min", r_min), ("r_max", r_max), ("c", c), ("v_swing", v_swing), ("headroom", headroom)):
        _check_pos(nm, v)
    if r_max < r_min:
        raise RealizabilityError(f"r_max ({r_max} Ohm) is below r_min ({r_min} Ohm)")
    if headroom < 1:
        raise RealizabilityError(f"headroom must be >= 1, got {headroom}")
    if not (np.isfinite(noise_psd) and noise_psd >= 0):
        raise RealizabilityError(f"noise_psd must be finite and >= 0 A^2/Hz, got {noise_psd!r}")
    if not (opamp_gain > 0):
        raise RealizabilityError(f"opamp_gain must be > 0 (inf = ideal), got {opamp_gain!r}")

    def in_range(nm, R):
        if not (r_min * (1 - 1e-12) <= R <= r_max * (1 + 1e-12)):
            raise RealizabilityError(f"{nm} = {R:.4g} Ohm is outside [{r_min:g}, {r_max:g}] Ohm")
        return float(R)
    Jmax = float(max(np.max(J), -np.min(J)))  # no |J| temporary; NaN / inf propagate
    if not np.isfinite(Jmax):
        raise MatrixError("J contains NaN or inf")
    Hmax = float(np.max(np.abs(H)))
    design = {}
    if scales is None:
        g1 = 1.0 / (r_min * headroom * Jmax) if Jmax > 0 else 1.0 / r_min
        g2 = 1.0 / (r_min * headroom * Hmax) if Hmax > 0 else 1.0 / r_min
        g3 = g1
        r_buffer = r_min if r_buffer is None else in_range("r_buffer", float(r_buffer))
        xr = _cg_estimate(J, H, b_norm, lam, g, int(cg_iters)) if x_ref is None else \
            np.asarray(x_ref, dtype=float).reshape(N)
        xmax = float(np.max(np.abs(xr)))
        vu = (v_swing / xmax if xmax > 0 else v_swing) if v_unit is None else _check_pos("v_unit", v_unit)
        Jx = J @ xr
        HJx = np.einsum("bij,bj->bi", H, Jx.reshape(b, dz)).reshape(-1)
        jxm, hjm = float(np.max(np.abs(Jx))), float(np.max(np.abs(HJx)))
        auto1, auto2 = r_f1 is None, r_f2 is None
        rf1 = float(np.clip(v_swing / (g1 * vu * jxm), r_min, r_max)) if (auto1 and jxm > 0) else \
            (r_min if auto1 else in_range("r_f1", float(r_f1)))
        rf2 = float(np.clip(v_swing / (g2 * rf1 * g1 * vu * hjm), r_min, r_max)) if (auto2 and hjm > 0) else \
            (r_min if auto2 else in_range("r_f2", float(r_f2)))
        # lambda resistor 1 / (g_unit lambda) must be realisable: adjust g_unit
        gu = b_norm * g1 * g2 * g3 * rf1 * rf2
        R_lam = 1.0 / (gu * lam)
        if R_lam < r_min:  # g_unit too large: lower the feedback resistors, then the array scales
            f = R_lam / r_min  # factor g_unit must be multiplied by (< 1)
            if auto1:
                k = max(f, r_min / rf1)
                rf1, f = rf1 * k, f / k
            if auto2 and f < 1:
                k = max(f, r_min / rf2)
                rf2, f = rf2 * k, f / k
            if f < 1:
                k = f ** (1.0 / 3.0)
                g1, g2, g3 = g1 * k, g2 * k, g3 * k
                design["array_scales_lowered_by"] = 1.0 / k
        elif R_lam > r_max:  # g_unit too small: raise the feedback resistors
            f = R_lam / r_max
            if auto1:
                k = min(f, r_max / rf1)
                rf1, f = rf1 * k, f / k
            if auto2 and f > 1:
                k = min(f, r_max / rf2)
                rf2, f = rf2 * k, f / k
        sc = FactoredScales(g1_s=g1, g2_s=g2, g3_s=g3, r_f1_ohm=rf1, r_f2_ohm=rf2, v_unit_v=vu, c_f=float(c),
                            b_norm=b_norm, r_buffer_ohm=float(r_buffer), r_min_ohm=float(r_min),
                            r_max_ohm=float(r_max))
        design.update(x_ref_max=xmax, stage1_peak_v=rf1 * g1 * vu * jxm, stage2_peak_v=rf2 * g2 * rf1 * g1 * vu * hjm,
                      note="peak stage voltages predicted for x_ref (ideal op-amps have no rails)")
    else:
        sc = replace(scales, b_norm=b_norm, r_min_ohm=float(r_min), r_max_ohm=float(r_max))
        if v_unit is not None:
            sc = replace(sc, v_unit_v=_check_pos("v_unit", v_unit))
        if not np.isclose(c, scales.c_f):
            sc = replace(sc, c_f=float(c))
    g1, g2, g3 = sc.g1_s, sc.g2_s, sc.g3_s
    gu = sc.g_unit_s
    R_lam = in_range("lambda resistor 1/(g_unit lambda)", 1.0 / (gu * lam))
    for nm, R in (("r_f1", sc.r_f1_ohm), ("r_f2", sc.r_f2_ohm), ("r_buffer", sc.r_buffer_ohm)):
        in_range(nm, R)
    # ---- arrays (chunked: no temporary of the size of J)
    gmax = 1.0 / r_min * (1 + 1e-12)
    gmin = 1.0 / r_max
    if out is not None:
        if not (isinstance(out, np.ndarray) and out.shape == (m, N) and out.dtype == np.float64
                and out.flags.c_contiguous and out.flags.writeable):
            raise MatrixError(f"out must be a writeable C-contiguous float64 array of shape {(m, N)}")
        G1 = out
    else:
        G1 = np.empty((m, N))
    n_small, dJ2, J2, n_big, br, bc = _build_array(np.ascontiguousarray(J), g1, gmin, gmax, _ZERO_RTOL * Jmax, G1)
    if n_small and not prune:
        small = (np.abs(J) * g1 < gmin) & (np.abs(J) > _ZERO_RTOL * Jmax)
        kk, jj = np.nonzero(small)
        shown = ", ".join(f"J[{k},{j}]={J[k, j]:.3g}" for k, j in zip(kk[:8], jj[:8]))
        more = f" and {n_small - 8} more" if n_small > 8 else ""
        raise RealizabilityError(
            f"{n_small} entries of J need a resistance above r_max = {r_max:g} Ohm (|J| < {gmin / g1:.3g}): "
            f"{shown}{more}. Widen the range (r_max), or pass prune=True to leave them open (error bound "
            "reported).")
    if n_big:
        raise RealizabilityError(
            f"with the given scales, {n_big} entries of J need a resistance below r_min = {r_min:g} Ohm (e.g. "
            f"J[{br},{bc}] = {J[br, bc]:.4g}, |J| > {gmax / g1:.4g}); re-design the scales (scales=None) or "
            "use more headroom")
    G2 = H * g2
    aH = np.abs(G2)
    if np.any(aH > gmax):
        raise RealizabilityError(f"with the given scales, entries of H need a resistance below r_min = "
                                 f"{r_min:g} Ohm (|H| > {gmax / g2:.4g}); re-design the scales or use more headroom")
    hzero = np.abs(H) <= _ZERO_RTOL * Hmax
    hsmall = (aH < gmin) & ~hzero
    dH = np.where(hsmall, H, 0.0)
    if np.any(hsmall) and not prune:
        bb, kk, ll = np.nonzero(hsmall)
        shown = ", ".join(f"H[{b_},{k},{l}]={H[b_, k, l]:.3g}" for b_, k, l in zip(bb[:8], kk[:8], ll[:8]))
        raise RealizabilityError(f"{int(hsmall.sum())} entries of H need a resistance above r_max = {r_max:g} "
                                 f"Ohm: {shown}. Widen r_max or pass prune=True.")
    G2[hsmall | hzero] = 0.0
    # bound
    Hn = float(np.max(np.linalg.norm(H, 2, axis=(1, 2))))  # batched over the blocks
    dHn = float(np.max(np.linalg.norm(dH, 2, axis=(1, 2))))
    Jf, dJf = math.sqrt(J2), math.sqrt(dJ2)
    Jpf = math.sqrt(max(J2 - dJ2, 0.0))
    tol_h = 1e-12 * max(Hn, 1e-300)
    h_psd = bool(np.allclose(H, H.transpose(0, 2, 1), rtol=0, atol=tol_h)
                 and np.min(np.linalg.eigvalsh(0.5 * (H + H.transpose(0, 2, 1)))) >= -tol_h)
    delta = (dJf * Hn * (Jf + Jpf) + Jpf ** 2 * dHn) / (b_norm * lam)
    bound = (delta / (1 - delta) if delta < 1 else float("inf")) if h_psd else None
    prune_info = {"pruned_J_entries": n_small, "pruned_H_entries": int(hsmall.sum()),
                  "dJ_fro": dJf, "dH_2": dHn, "delta": delta if h_psd else None,
                  "relative_solution_error_bound": bound, "h_blocks_psd": h_psd,
                  "rule": "entries with g |entry| < 1/r_max are left open (J and J^T arrays alike)"}
    # ---- vectors
    scan1 = _scan(G1)
    _, _, negw, negx = scan1
    negy = (G2 < 0).any(axis=1).reshape(m)
    gb = 1.0 / sc.r_buffer_ohm
    vu = sc.v_unit_v
    gmax_g = float(np.max(np.abs(g)))
    r_in = r_max if gmax_g == 0 else float(np.clip(v_swing / (gu * vu * gmax_g), r_min, r_max))
    x0v = np.zeros(N) if x0 is None else np.asarray(x0, dtype=float).reshape(N) * vu
    if not np.all(np.isfinite(x0v)):
        raise MatrixError("x0 must be finite")
    gain = float(opamp_gain)
    comp = FactoredComponents(
        G1=G1, G2=G2, G3=None, g3_ratio=g3 / g1, gf1=np.full(m, 1.0 / sc.r_f1_ohm),
        gf2=np.full(m, 1.0 / sc.r_f2_ohm), g_lambda=np.full(N, 1.0 / R_lam), g_in=np.full(N, 1.0 / r_in),
        v_in=-r_in * gu * vu * g, c=np.full(N, sc.c_f), ic=x0v, noise_psd=np.full(N, float(noise_psd)),
        bx_g=np.where(negx, gb, 0.0), bx_f=np.where(negx, gb, 0.0), by_g=np.where(negy, gb, 0.0),
        by_f=np.where(negy, gb, 0.0), bw_g=np.where(negw, gb, 0.0), bw_f=np.where(negw, gb, 0.0),
        gain_int=np.full(N, gain), gain_bx=np.full(N, gain), gain_s1=np.full(m, gain),
        gain_by=np.full(m, gain), gain_s2=np.full(m, gain), gain_bw=np.full(m, gain), _scan=scan1)
    fc = FactoredCircuit(components=comp, scales=sc, damping=lam, rhs=g.copy(), r_in_ohm=r_in,
                         r_lambda_ohm=R_lam, prune=prune_info, design=design)
    build = netlist if netlist is not None else comp.resistor_count() <= NETLIST_MAX_RESISTORS
    if build:
        nl = fc.to_netlist(force=True)
        if title:
            nl.title = title
        fc._netlist = nl
        # the chain must come from the netlist's component values: re-read them
        fc.components = components_from_netlist(nl)
    return fc


# =====================================================================================
# device
# =====================================================================================
@dataclass
class FactoredRunResult:
    """Output of :meth:`FactoredSPU.run`. t (s, since the run's start), states (n_save, chains, N)
    capacitor voltages, ``x`` the same in problem units (computed on access), mean_x the time
    average over every step."""

    t: np.ndarray
    states: np.ndarray
    mean_x: np.ndarray
    analog_time_s: float
    n_steps: int
    dt: float
    readout: np.ndarray  # x = states * readout (= (1 - beta) / v_unit)

    @property
    def x(self) -> np.ndarray:
        return self.states * self.readout


SAMPLE_BYTES_MAX = 1 << 27  # default cap on the saved samples of one run (128 MB)


class FactoredSPU:
    """Device twin of a factored circuit: program, run, read; the state persists (warm start).

    state: (chains, N) capacitor voltages (V). ``program`` replaces the component values and keeps
    the voltages (a device keeps its capacitor charge while the resistor arrays are reprogrammed).
    """

    def __init__(self, circuit: FactoredCircuit, *, temperature_k: float = T_ROOM, noise: bool = True,
                 scheme: str = "exponential", dt: float | None = None, chains: int = 1, seed=None,
                 spectral_method: str = "arnoldi"):
        if scheme not in ("exponential", "euler"):
            raise StepError(f"unknown scheme {scheme!r}: use 'exponential' or 'euler'")
        if int(chains) < 1:
            raise StepError(f"chains must be >= 1, got {chains}")
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.chains = int(chains)
        self.user_dt = dt
        self.spectral_method = spectral_method
        self._seedseq = np.random.SeedSequence(seed)
        self.state = None
        self.rescaled = 0
        self.time_s = 0.0
        self.program(circuit)

    def program(self, circuit: FactoredCircuit, keep_state: bool = True, *, temperature_k: float | None = None,
                noise: bool | None = None) -> None:
        """Load new component values (and optionally a new temperature / noise switch).

        The capacitor voltages persist (``keep_state``); if v_unit changed they are rescaled (an
        explicit DAC rewrite, counted in ``rescaled``) so that x is unchanged. The chain and its
        discretisations are cached for the last two circuits (re-running the previous system, as
        TNGD's delay td does, costs no new O(m^2 N) set-up)."""
        if not isinstance(circuit, FactoredCircuit):
            raise NetlistError(f"cannot program a {type(circuit).__name__}: give a FactoredCircuit")
        if temperature_k is not None:
            self.temperature_k = float(temperature_k)
        if noise is not None:
            self.noise = bool(noise)
        old = getattr(self, "circuit", None)
        self.circuit = circuit
        key = (id(circuit.components), self.temperature_k, self.noise)
        cache = getattr(self, "_cache", {})
        hit = cache.get(key)
        if hit is not None and hit[0] is circuit.components:
            self.chain, self._disc = hit[1], hit[2]
        else:
            self.chain = ChainDrift(circuit.components, self.temperature_k, self.noise)
            self._disc = {}
            cache = {k: v for k, v in list(cache.items())[-1:]}
            cache[key] = (circuit.components, self.chain, self._disc)
        self._cache = cache
        if self.state is None or not keep_state or self.state.shape[1] != circuit.n:
            self.state = np.tile(circuit.components.ic, (self.chains, 1)).astype(float)
        elif old is not None and old.v_unit_v != circuit.v_unit_v:
            self.state *= circuit.v_unit_v / old.v_unit_v
            self.rescaled += 1
        if self.user_dt is not None:
            self.check_dt(float(self.user_dt))

    @property
    def tau_s(self) -> float:
        return self.circuit.tau_s

    def reset(self, x0=None) -> None:
        """Write every chain's state: the capacitors' initial voltages, or x0 (problem units)."""
        if x0 is None:
            self.state = np.tile(self.circuit.components.ic, (self.chains, 1)).astype(float)
            return
        X = np.broadcast_to(np.asarray(x0, dtype=float), (self.chains, self.circuit.n))
        if not np.all(np.isfinite(X)):
            raise NetlistError("x0 must be finite with shape (N,) or (chains, N)")
        self.state = np.ascontiguousarray(X * self.circuit.v_unit_v / self.chain.om)

    def read(self) -> np.ndarray:
        """x = V(x_i) / v_unit for every chain, (chains, N); V(x) = (1 - beta) v_C."""
        return self.state * self.chain.om / self.circuit.v_unit_v

    # ---------------------------------------------------------------- steps
    def max_stable_dt(self) -> float:
        return self.chain.max_stable_euler_step(self.spectral_method)

    def check_dt(self, dt: float) -> None:
        if not (np.isfinite(dt) and dt > 0):
            raise StepError(f"time step must be finite and > 0 s, got {dt!r}")
        if self.scheme == "euler":
            hmax = self.max_stable_dt()
            if dt >= hmax:
                raise StepError(f"time step {dt:.4g} s is unstable for Euler-Maruyama: the largest stable step "
                                f"is {hmax:.4g} s ({hmax / self.tau_s:.4g} tau; suggested "
                                f"{EULER_SAFETY * hmax:.4g} s), or use scheme='exponential'")

    def auto_dt(self) -> float:
        return EULER_SAFETY * self.max_stable_dt()

    def run(self, duration, *, dt: float | None = None, save_every: int | None = None,
            max_samples: int | None = None, seed: int | None = None) -> FactoredRunResult:
        """Run for ``duration`` seconds (or '50tau'); the state persists. Steps: round(duration / dt).
        Euler: dt automatic (0.1 x the stability limit) unless given. Exponential: dt defaults to the
        whole duration (one step, exact in distribution for nominal components); pass dt for a
        trajectory or a time average. A sample is saved every ``save_every`` steps (default: at most
        ``max_samples``, itself at most 1000 and 128 MB of samples).
        Normals: numpy PCG64 seeded from the next child of the device seed, or from ``seed``."""
        from spucircuit._util.quantities import parse_time

        T = parse_time(duration, self.tau_s)
        if not (np.isfinite(T) and T > 0):
            raise StepError(f"run duration must be finite and > 0 s, got {duration!r}")
        dt = self.user_dt if dt is None else dt
        if self.scheme == "euler":
            dt = self.auto_dt() if dt is None else float(dt)
            self.check_dt(dt)
            n_steps = max(1, int(round(T / dt)))
        else:
            if dt is None:
                n_steps, dt = 1, T
            else:
                self.check_dt(float(dt))
                n_steps = max(1, int(round(T / float(dt))))
        dt = float(dt)
        k, N = self.state.shape
        if max_samples is None:
            max_samples = max(1, min(1000, SAMPLE_BYTES_MAX // (8 * k * N)))
        if save_every is None:
            save_every = max(1, -(-n_steps // int(max_samples)))
        save_every = max(1, int(save_every))
        if seed is None:
            seed = int(self._seedseq.spawn(1)[0].generate_state(1)[0])
        rng = np.random.Generator(np.random.PCG64(seed))
        n_save = n_steps // save_every
        samples = np.zeros((n_save, k, N))
        xsum = np.zeros((k, N))
        X = np.ascontiguousarray(self.state, dtype=np.float64).copy()
        if self.scheme == "euler":
            self._run_euler(X, dt, n_steps, save_every, rng, samples, xsum)
        else:
            disc = self._disc.get(dt)
            if disc is None:
                disc = exponential_discretization(self.chain, dt, self.noise)
                if len(self._disc) >= 4:
                    self._disc.pop(next(iter(self._disc)))
                self._disc[dt] = disc
            isave = 0
            for step in range(n_steps):
                X = exponential_step(self.chain, disc, X, rng)
                xsum += X
                if (step + 1) % save_every == 0 and isave < n_save:
                    samples[isave] = X
                    isave += 1
        self.state = X
        self.time_s += n_steps * dt
        ro = self.chain.om / self.circuit.v_unit_v
        return FactoredRunResult(t=dt * save_every * (np.arange(n_save) + 1), states=samples,
                                 mean_x=xsum / n_steps * ro, analog_time_s=n_steps * dt, n_steps=n_steps, dt=dt,
                                 readout=ro)

    def _run_euler(self, X, h, n_steps, save_every, rng, samples, xsum):
        ch = self.chain
        k, N = X.shape
        m = ch.m
        noise = ch.has_noise
        sq = lambda q: np.sqrt(q * h)  # noqa: E731
        args = (ch.G1, ch.G2, ch._G3, ch.shared, ch.ratio3, ch.om * h, ch.gx, sq(ch.q_bx) / ch.Dx,
                1.0 / ch.D1, sq(ch.q_a), ch.gy, sq(ch.q_by) / ch.Dy, 1.0 / ch.D2, sq(ch.q_c), ch.gw,
                sq(ch.q_bw) / ch.Dw, h * ch.d, h * ch.comp.g_in * ch.comp.v_in, sq(ch.q_s), ch.invc)
        args = tuple(np.ascontiguousarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args)
        gstart, cstart = _euler_partition(ch.G2.shape[0], ch.G2.shape[1], k)
        nch = len(cstart) - 1
        scratch = (np.empty((k, N)), np.empty((k, N)), np.empty((k, m)), np.empty((k, m)), np.empty((k, m)),
                   np.empty((k, m)), np.empty((k, 0 if ch.shared else N)), np.zeros((k, m)), np.zeros((k, m)),
                   np.zeros((k, m)), np.zeros((k, m)), np.empty((nch, k, N if ch.shared else 0)), gstart, cstart)
        _euler_kernel(*args, X, int(n_steps), int(save_every), rng, bool(noise), samples, xsum, *scratch)


# =====================================================================================
# device imperfections: resistor precision, fabrication mismatch, calibration probe
# =====================================================================================
def conductance_grid(bits: int, r_min: float, r_max: float):
    """The b-bit conductance grid of a programmable resistor over [r_min, r_max] (the default
    grid of :class:`spucircuit.nonideal.ResistorBank`): levels G_k = 1/r_max + k dG, k = 0..2^b - 1,
    dG = (1/r_min - 1/r_max) / (2^b - 1). Returns (G_0, dG, number of levels)."""
    L = 2 ** int(bits)
    gmin, gmax = 1.0 / float(r_max), 1.0 / float(r_min)
    return gmin, (gmax - gmin) / (L - 1), L


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finaliser (a bijection of uint64 with full avalanche)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always")
def _uniform_at(key, i):
    """Counter-based uniform in (0, 1) for position i under ``key``: the i-th output of a SplitMix64
    stream started at ``key`` (53 bits, + 1/2 so never 0 or 1)."""
    z = _mix64(key + (np.uint64(i) + np.uint64(1)) * _GOLDEN)
    return ((z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def counter_uniforms(key, n):
    """The uniforms of positions 0..n-1 under ``key`` (what the quantisation kernel draws)."""
    out = np.empty(n)
    k = np.uint64(key)
    for i in range(n):
        out[i] = _uniform_at(k, i)
    return out


@nb.njit(cache=True, parallel=True)
def _quantize_kernel(G, out, lo, hi, zmin, dz, L, stochastic, key):
    """Rows of a signed conductance array: |G| rounded on the grid zmin + k dz as
    :func:`spucircuit.nonideal.quantize_values` rounds resistances 1/|G| on its 'conductance' grid
    (same clipping rule, same nearest / conductance-unbiased stochastic rule; equal up to round-off),
    sign kept, open entries (G = 0) stay open. The uniform of entry (r, c) is the counter-based
    ``_uniform_at(key, r n + c)``, so rows are independent (threads do not change the result).
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
                if _uniform_at(key, base + c) < p - k:
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


def _key(rng) -> np.uint64:
    """A uint64 stream key from a numpy Generator, a SeedSequence, an int or None."""
    if isinstance(rng, np.random.Generator):
        return np.uint64(rng.integers(0, 2**63, dtype=np.int64))
    ss = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    return np.uint64(ss.generate_state(1, np.uint64)[0])


def quantize_array(G, bits: int, r_min: float, r_max: float, rounding: str = "stochastic", rng=None,
                   out: np.ndarray | None = None):
    """A signed conductance array (e.g. the J array, m x N) programmed with b-bit resistors.

    Every non-zero entry is rounded on :func:`conductance_grid` (``rounding`` 'nearest', or
    'stochastic': the upper of the two bracketing levels with the probability that makes
    E[G'] = G, so independent programmings average to the target); zeros stay open. Same rule as
    :func:`spucircuit.nonideal.quantize_values` (grid 'conductance', unbiased 'conductance'),
    in one compiled pass without temporaries. Uniforms: entry (r, c) of a row-major (R, n) view
    takes :func:`counter_uniforms` (key, ...)[r n + c], the key drawn from ``rng`` (a Generator:
    one integer; an int / SeedSequence: its first uint64 state word).
    Returns (G', number of targets clipped into [1/r_max, 1/r_min])."""
    _check_rounding(bits, rounding)
    G = np.ascontiguousarray(G, dtype=np.float64)
    if out is None:
        out = np.empty_like(G)
    stochastic = rounding == "stochastic"
    key = _key(rng) if stochastic else np.uint64(0)
    gmin, dG, L = conductance_grid(bits, r_min, r_max)
    G2d = G.reshape(G.shape[0], -1) if G.ndim > 1 else G.reshape(1, -1)
    clipped = _quantize_kernel(G2d, out.reshape(G2d.shape), float(r_min), float(r_max), gmin, dG, float(L),
                               stochastic, key)
    return out, int(clipped)


def _quantize_entries(vals, bits, r_min, r_max, rounding, u):
    """Signed conductances (any shape) through nonideal.quantize_values (zeros stay open)."""
    from spucircuit.imperfections.models import quantize_values

    vals = np.asarray(vals, dtype=float)
    out = np.zeros_like(vals)
    nz = vals != 0
    if not np.any(nz):
        return out, 0
    R, clipped = quantize_values(1.0 / np.abs(vals[nz]), bits, r_min, r_max, "conductance", rounding,
                                 "conductance", None if u is None else np.asarray(u)[nz])
    out[nz] = np.copysign(1.0 / R, vals[nz])
    return out, int(clipped)


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
        U = counter_uniforms(_key(rng), b * dz * dz + b * dz)
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


_FAB_NAMES = ("G1", "G2", "G3", "gf1", "gf2", "g_lambda", "g_in", "bx_g", "bx_f", "by_g", "by_f", "bw_g", "bw_f")


class FabricationMismatch:
    """Fixed resistor mismatch of one physical device: R_p = R_programmed,p (1 + d_p) for every
    resistor position p, d_p = max(sigma z_p, -0.9), z_p ~ N(0, 1) (the rule of
    :class:`spucircuit.nonideal.Tolerance`), drawn once from (seed, member).

    Positions: the J array (m, N), the J^T array indexed like J ((k, i) for its entry (i, k)), the
    H array (b, dz, dz) and the per-node resistors (gf1, gf2, by_*, bw_* per stage row; g_lambda,
    g_in, bx_* per integrator). Each array's draws are row-major in float32 from its own stream,
    so a position's draw does not depend on how many rows exist (a smaller batch uses the first
    rows; a larger one extends the draws) nor on what is programmed there: reprogramming the device
    keeps every resistor's error. Memory: two float32 m x N arrays."""

    def __init__(self, sigma: float, seed: int = 0, member: int = 0):
        sigma = float(sigma)
        if not (np.isfinite(sigma) and sigma >= 0):
            raise RealizabilityError(f"tolerance sigma must be finite and >= 0, got {sigma!r}")
        self.sigma = sigma
        self.seed = int(seed)
        self.member = int(member)
        self._cache: dict = {}

    def factors(self, name: str, shape) -> np.ndarray:
        """Conductance factors 1 / (1 + d) for the positions of ``shape`` (leading axis = rows)."""
        shape = tuple(int(s) for s in shape)
        hit = self._cache.get(name)
        if hit is not None and hit.shape[1:] == shape[1:] and hit.shape[0] >= shape[0]:
            return hit[:shape[0]]
        ss = np.random.SeedSequence([self.seed, 0xFAB, self.member, _FAB_NAMES.index(name)])
        z = np.random.Generator(np.random.PCG64(ss)).standard_normal(shape, dtype=np.float32)
        np.multiply(z, np.float32(self.sigma), out=z)
        np.maximum(z, np.float32(-0.9), out=z)
        z += np.float32(1.0)
        np.reciprocal(z, out=z)
        self._cache[name] = z
        return z

    def apply(self, comp: FactoredComponents, out3: np.ndarray | None = None) -> FactoredComponents:
        """In place on comp's arrays (G1, G2, vectors), except the J^T array, which is materialised
        (into ``out3``, (N, m), if given) from the shared J array *before* the J array is scaled."""
        m, N = comp.m, comp.n
        G3 = out3 if (out3 is not None and out3 is not comp.G3) else np.empty((N, m))
        f3 = self.factors("G3", (m, N)).T
        if comp.G3 is None:
            np.multiply(comp.G1.T, f3, out=G3)
            if comp.g3_ratio != 1.0:
                G3 *= comp.g3_ratio
        else:
            np.multiply(comp.G3, f3, out=G3)
        comp.G1 *= self.factors("G1", (m, N))
        comp.G2 = comp.G2 * self.factors("G2", comp.G2.shape)
        comp.G3, comp.g3_ratio = G3, 1.0
        for nm in _FAB_NAMES[3:]:
            v = getattr(comp, nm)
            setattr(comp, nm, v * self.factors(nm, v.shape))
        comp._scan = None
        return comp


def imperfect_components(comp: FactoredComponents, *, bits: int | None = None, rounding: str = "stochastic",
                         r_range=(R_MIN_DEFAULT, R_MAX_DEFAULT), rng=None,
                         mismatch: FabricationMismatch | None = None, v_in=None,
                         out: np.ndarray | None = None, out3: np.ndarray | None = None):
    """The component values one device realises when programmed with the nominal ``comp``.

    1. resistor precision (``bits``): the J array by :func:`quantize_array`, the H array by
       :func:`quantize_h_blocks`; the J^T array gets the *same codes* as the J array (its targets are
       the same conductances: g3 = g1), so it stays the shared buffer and F' = J'^T H' J' / b keeps
       its symmetric, positive semidefinite form. Stage feedback, lambda, input and buffer resistors
       are fixed (nominal) components.
    2. fabrication mismatch (``mismatch``): :meth:`FabricationMismatch.apply` (every resistor).
    3. ``v_in``: the DAC voltages actually applied (quantised / calibrated by the caller).

    ``rng`` (a numpy Generator, or a seed for one) gives one stream key per array, in the order J, H
    (and a separately targeted J^T array). ``out`` (m, N) and
    ``out3`` (N, m) are optional buffers for the J and materialised J^T arrays. Returns
    (components, info)."""
    info = {"clipped": 0}
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m, N = comp.m, comp.n
    G1 = out if out is not None else np.empty((m, N))
    G3 = comp.G3
    if bits is not None:
        _, c1 = quantize_array(comp.G1, bits, *r_range, rounding, rng, out=G1)
        G2, hinfo = quantize_h_blocks(comp.G2, bits, *r_range, rounding, rng)
        info.update(clipped=c1 + hinfo["clipped"], laplacian_blocks=hinfo["laplacian_blocks"])
        if G3 is not None or comp.g3_ratio != 1.0:  # own targets: own codes
            G3, c3 = quantize_array(comp.G3_array(), bits, *r_range, rounding, rng,
                                    out=out3 if (mismatch is None and out3 is not None) else None)
            info["clipped"] += c3
    else:
        np.copyto(G1, comp.G1)
        G2 = comp.G2.copy()
    new = replace(comp, G1=G1, G2=G2, G3=G3, g3_ratio=1.0 if G3 is not None else comp.g3_ratio,
                  v_in=comp.v_in.copy() if v_in is None else np.asarray(v_in, dtype=float).copy(), _scan=None,
                  **{nm: getattr(comp, nm).copy() for nm in _FAB_NAMES[3:]})
    if mismatch is not None:
        mismatch.apply(new, out3)
    new.validate()
    return new, info


def _open_integrators(comp: FactoredComponents, v_in) -> FactoredComponents:
    """comp's integrators with every array resistor open (one dummy, empty stage row): the
    calibration probe configuration."""
    N = comp.n
    zN, z1 = np.zeros(N), np.zeros(1)
    return FactoredComponents(
        G1=np.zeros((1, N)), G2=np.zeros((1, 1, 1)), G3=None, g3_ratio=1.0, gf1=comp.gf1[:1].copy(),
        gf2=comp.gf2[:1].copy(), g_lambda=comp.g_lambda.copy(), g_in=comp.g_in.copy(),
        v_in=np.asarray(v_in, dtype=float).copy(), c=comp.c.copy(), ic=zN.copy(), noise_psd=zN.copy(), bx_g=zN,
        bx_f=zN, by_g=z1, by_f=z1, bw_g=z1, bw_f=z1, gain_int=comp.gain_int.copy(), gain_bx=comp.gain_bx.copy(),
        gain_s1=comp.gain_s1[:1].copy(), gain_by=comp.gain_by[:1].copy(), gain_s2=comp.gain_s2[:1].copy(),
        gain_bw=comp.gain_bw[:1].copy())


def _open_response(comp: FactoredComponents):
    """Stationary integrator output V(x_i) per input volt with the arrays open, and the rate d/C (1/s)."""
    ia = _inv_gain(comp.gain_int)
    beta = ia / (1.0 + ia)
    d = comp.g_lambda + beta * comp.g_in
    return -(1.0 - beta) * comp.g_in / d, d / comp.c


def measure_input_gains(device: FactoredComponents, nominal: FactoredCircuit, *, temperature_k: float = T_ROOM,
                        noise: bool = True, seed=None, v_target: float = 0.5 * V_SWING_DEFAULT,
                        settle: float = 30.0, window: float = 50.0, dac=None, adc=None):
    """Calibration probe of one device: the per-integrator input gain rho_i.

    Every array resistor is switched open (all codes 'open'), so each integrator is an RC stage
    C dv/dt = -(d_i v + G_in,i V_in,i) + noise with d_i = G_lambda,i (+ op-amp loading); with probe
    voltages V_in chosen for a nominal response of ``v_target`` volts, the capacitors are written
    with that nominal response, the device twin is run for ``settle`` + ``window`` relaxation times
    of the slowest integrator (Johnson noise at ``temperature_k`` when ``noise``; exponential
    scheme, steps of half a relaxation time) and the window's time average is read (what is left
    of the settling transient: at most |rho - 1| e^-settle / window). rho_i = measured / nominal response = the device's
    (G_in,i / d_i) over the nominal ratio: the mismatch of the input and lambda resistors, fixed
    per device. ``dac(v) -> v'`` and ``adc(V) -> V'`` model the converters (the controller knows the
    DAC codes it chose). Returns (rho (N,), analog time s)."""
    nom = nominal.components
    k_nom, rate = _open_response(nom)
    V = v_target / k_nom
    if dac is not None:
        V = dac(V)
    circ = FactoredCircuit(components=_open_integrators(device, V), scales=nominal.scales, damping=nominal.damping,
                           rhs=np.zeros(device.n), r_in_ohm=nominal.r_in_ohm, r_lambda_ohm=nominal.r_lambda_ohm,
                           prune={})
    t_rel = 1.0 / float(np.min(rate))
    spu = FactoredSPU(circ, temperature_k=temperature_k, noise=noise, scheme="exponential", seed=seed)
    spu.state[:] = k_nom * V / (1.0 - spu.chain.beta)  # start at the nominal response (a DAC write)
    h = 0.5 * t_rel
    spu.run(settle * t_rel, dt=h, max_samples=1)
    res = spu.run(window * t_rel, dt=h, max_samples=1)
    volts = res.mean_x[0] * circ.v_unit_v  # time average of V(x_i)
    if adc is not None:
        volts = adc(volts)
    return volts / (k_nom * V), float(spu.time_s)
