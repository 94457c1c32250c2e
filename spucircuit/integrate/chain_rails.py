"""Euler-Maruyama for the factored circuit (TNGD App. C) with op-amp rails: every op-amp output
clips at +-rail, and a saturated integrator winds up and recovers.

The state u is each integrating capacitor's voltage (output minus summing node). An integrator whose
op-amp has open-loop gain A0 drives its output to out = (1 - beta) u, beta = 1 / (A0 + 1), while
that lies within the rails, and to the rail beyond them; in both cases its summing node sits at
s = out - u (= -beta u when linear, so for ideal op-amps 0; for a railed op-amp the inputs are no
longer held together). KCL at the summing node, with inflow(s) = sum_k G_ik (V_k - s) +
G_in (V_in - s) + noise and R_lambda across the capacitor, gives

    C du/dt = -(inflow(0) - (S3_i + G_in,i) s_i + G_lambda,i u_i),   s_i = clip((1 - beta_i) u_i) - u_i

(S3_i the row sum of |G3|): one expression for both modes, which reduces to the linear chain's
drift (:class:`~spucircuit.statespace.chain.ChainDrift`, d = G_lambda + beta (S3 + G_in)) off the
rails. The static stages (J, H and the inverting buffers) have no state: their outputs clip at the
rails, and a clipped stage passes none of its input noise (its output is held at the rail). The
Johnson noise at the integrators' summing nodes flows into the capacitors in either mode.

Values are volt-seconds (multiplied by the step h) as in :func:`~spucircuit.integrate.chain_kernels.euler_kernel`.
Saturation is counted per op-amp (steps x chains on a rail). Cost O(N m) per step, unfused: a run
with rails takes about twice the fused kernel's time per step.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from spucircuit.numerics.signed_arrays import stage_blocks, stage_cols, stage_rows


@nb.njit(cache=True)
def _clip(v, lim):
    """(clipped value, 1 if clipped else 0)."""
    if v > lim:
        return lim, 1
    if v < -lim:
        return -lim, 1
    return v, 0


@nb.njit(cache=True)
def _draw(rng, coef, noise):
    """coef x a standard normal, or 0 (no draw) for a node without noise."""
    return coef * rng.standard_normal() if (noise and coef != 0.0) else 0.0


@nb.njit(cache=True)
def _stage(S, idr, nz, rh):
    """A static inverting stage's output from its input sum S (1 / D = idr), clipped at +-rh; its
    node noise nz passes only while it is not clipped. Returns (output, 1 if clipped)."""
    v, hit = _clip(-S * idr, rh)
    if not hit:
        v -= nz * idr
    return v, hit


@nb.njit(cache=True)
def _inverted(g, v, e, rh):
    """The UM entry for an inverting buffer of gain g on v (its output's magnitude minus v; -v where
    the column has none, g = 0), clipped at +-rh, its noise e passed only while not clipped.
    Returns (entry, 1 if clipped)."""
    if g == 0.0:
        return -v, 0
    inv, hit = _clip(g * v, rh)
    return inv - v + (0.0 if hit else e), hit


@nb.njit(cache=True)
def euler_rails_kernel(G1, G2, G3, shared, ratio3, om, gx, sbx, id1, sa, gy, sby, id2, sc, gw, sbw,
                       hgl, hgs, cst, ss, invc, h, rail, X, n_steps, save_every, rng, noise, samples, xsum,
                       osum, sat_int, sat_bx, sat_a, sat_by, sat_c, sat_bw, UP1, DM1, Y, UM2, W, UM3, Z):
    """Advance every chain (rows of X, capacitor voltages, V) by n_steps Euler steps of h (s).

    om: 1 - beta per integrator; gx, gy, gw: buffer gains (0 where a column has no buffer); id1,
    id2: 1 / D of the static stages; sbx, sa, sby, sc, sbw, ss: sqrt(q h) noise coefficients (buffer
    ones divided by their D); hgl = h G_lambda, hgs = h (S3 + G_in), cst = h G_in V_in; invc = 1 / C.
    Accumulates xsum (states) and osum (integrator outputs, V) over steps; sat_* count the steps
    each op-amp spent on a rail, summed over chains. Returns the number of saved samples."""
    k, n = X.shape
    m = G1.shape[0]
    rh = rail * h
    isave = 0
    for step in range(n_steps):
        for c in range(k):
            for j in range(n):
                o, hit = _clip(om[j] * X[c, j], rail)
                sat_int[j] += hit
                up = o * h
                UP1[c, j] = up
                DM1[c, j], hit = _inverted(gx[j], up, _draw(rng, sbx[j], noise), rh)
                sat_bx[j] += hit
        stage_rows(G1, UP1, DM1, Y, 1.0)
        for c in range(k):
            for r in range(m):
                Y[c, r], hit = _stage(Y[c, r], id1[r], _draw(rng, sa[r], noise), rh)
                sat_a[r] += hit
                UM2[c, r], hit = _inverted(gy[r], Y[c, r], _draw(rng, sby[r], noise), rh)
                sat_by[r] += hit
        stage_blocks(G2, Y, UM2, W)
        for c in range(k):
            for r in range(m):
                W[c, r], hit = _stage(W[c, r], id2[r], _draw(rng, sc[r], noise), rh)
                sat_c[r] += hit
                UM3[c, r], hit = _inverted(gw[r], W[c, r], _draw(rng, sbw[r], noise), rh)
                sat_bw[r] += hit
        if shared:
            stage_cols(G1, W, UM3, Z, ratio3)
        else:
            stage_rows(G3, W, UM3, Z, 1.0)
        for c in range(k):
            for i in range(n):
                u = X[c, i]
                o, _ = _clip(om[i] * u, rail)
                z = Z[c, i] + hgl[i] * u - hgs[i] * (o - u) + cst[i] + _draw(rng, ss[i], noise)
                u = u - z * invc[i]
                X[c, i] = u
                xsum[c, i] += u
                o, _ = _clip(om[i] * u, rail)
                osum[c, i] += o
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return isave


def rails_scratch(k: int, n: int, m: int):
    """The work arrays of :func:`euler_rails_kernel` for k chains."""
    return (np.empty((k, n)), np.empty((k, n)), np.empty((k, m)), np.empty((k, m)), np.empty((k, m)),
            np.empty((k, m)), np.empty((k, n)))
