"""The fused Euler-Maruyama kernel of the factored circuit (TNGD App. C): one step streams the shared
J / J^T array once (each group of H-block rows of J is re-read for J^T right after its stage-1 sums,
from cache), with a fixed row partition so the bits do not depend on the thread count.
Cost O(N m) per step."""
from __future__ import annotations

import numba as nb
import numpy as np

from spucircuit.numerics.signed_arrays import FM, TILE, rows_axpy, rows_dot, stage_rows

_GROUP_ROWS = 8  # fused Euler pass: H blocks are grouped to at least this many array rows
_CHUNKS = 8  # fused Euler pass: fixed number of row chunks (each with its own J^T accumulator)


@nb.njit(cache=True, fastmath=FM)
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


@nb.njit(cache=True, fastmath=FM, parallel=True)
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
        for t0 in range(0, n, TILE):
            t1 = min(n, t0 + TILE)
            for c in range(k):
                rows_dot(G1, gstart[g0], gstart[g0 + 1], UP1, UM1, Y, c, t0, t1)
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
                for t0 in range(0, n, TILE):
                    t1 = min(n, t0 + TILE)
                    for c in range(k):
                        if nxt:
                            rows_dot(G1, r1, r2, UP1, UM1, Y, c, t0, t1)
                        if shared:
                            rows_axpy(G1, r0, r1, W[c], UM3[c], ratio3, t0, t1, acc[c, t0:t1])


@nb.njit(cache=True)
def euler_kernel(G1, G2, G3, shared, ratio3, om, gx, sbx, id1, sa, gy, sby, id2, sc, gw, sbw,
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
            stage_rows(G3, W, UM3, Z, 1.0)
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


def euler_partition(b: int, dz: int, k: int):
    """Row groups (whole H blocks, >= _GROUP_ROWS rows) and chunks of groups for _euler_pass; fixed
    by the shapes alone (never by the thread count). At most m / 8 chains' worth of chunk
    accumulators (k x N each): <= 1/8 of the bytes of J."""
    bpg = max(1, -(-_GROUP_ROWS // dz))
    gstart = np.array(list(range(0, b, bpg)) + [b], dtype=np.int64) * dz
    ng = len(gstart) - 1
    nch = max(1, min(_CHUNKS, ng, (b * dz) // (8 * k)))
    cstart = np.array([(i * ng) // nch for i in range(nch + 1)], dtype=np.int64)
    return gstart, cstart
