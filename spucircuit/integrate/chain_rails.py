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
                e = sbx[j] * rng.standard_normal() if (noise and sbx[j] != 0.0) else 0.0
                if gx[j] != 0.0:
                    inv, hit = _clip(gx[j] * up, rh)  # the inverting buffer's output is -inv
                    sat_bx[j] += hit
                    DM1[c, j] = inv - up + (0.0 if hit else e)
                else:
                    DM1[c, j] = -up
        stage_rows(G1, UP1, DM1, Y, 1.0)
        for c in range(k):
            for r in range(m):
                na = sa[r] * rng.standard_normal() if (noise and sa[r] != 0.0) else 0.0
                v, hit = _clip(-Y[c, r] * id1[r], rh)
                sat_a[r] += hit
                if not hit:
                    v -= na * id1[r]
                Y[c, r] = v
                e = sby[r] * rng.standard_normal() if (noise and sby[r] != 0.0) else 0.0
                if gy[r] != 0.0:
                    inv, hit = _clip(gy[r] * v, rh)
                    sat_by[r] += hit
                    UM2[c, r] = inv - v + (0.0 if hit else e)
                else:
                    UM2[c, r] = -v
        stage_blocks(G2, Y, UM2, W)
        for c in range(k):
            for r in range(m):
                nc = sc[r] * rng.standard_normal() if (noise and sc[r] != 0.0) else 0.0
                v, hit = _clip(-W[c, r] * id2[r], rh)
                sat_c[r] += hit
                if not hit:
                    v -= nc * id2[r]
                W[c, r] = v
                e = sbw[r] * rng.standard_normal() if (noise and sbw[r] != 0.0) else 0.0
                if gw[r] != 0.0:
                    inv, hit = _clip(gw[r] * v, rh)
                    sat_bw[r] += hit
                    UM3[c, r] = inv - v + (0.0 if hit else e)
                else:
                    UM3[c, r] = -v
        if shared:
            stage_cols(G1, W, UM3, Z, ratio3)
        else:
            stage_rows(G3, W, UM3, Z, 1.0)
        for c in range(k):
            for i in range(n):
                u = X[c, i]
                o, _ = _clip(om[i] * u, rail)
                z = Z[c, i] + hgl[i] * u - hgs[i] * (o - u) + cst[i]
                if noise and ss[i] != 0.0:
                    z += ss[i] * rng.standard_normal()
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
