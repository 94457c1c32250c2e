"""The kernel of piecewise-linear runs: circuits whose op-amps clip at their rails.

Within one saturation *mode* (which op-amps sit on which rail) the circuit is linear, and one chain
advances by the mode's exact step x <- Phi x + c + L z (:mod:`spucircuit.device.saturation` builds
Phi, c, L per mode). After every step the kernel applies the mode rule (:func:`next_mode`) to what
the mode's circuit says of each op-amp (its output if linear, its differential input if saturated)
and returns as soon as a mode changes (that step is kept: the switch is located to within one
step), so the caller can switch to the new mode's step. No Python runs per step.
"""
from __future__ import annotations

import numba as nb
import numpy as np

RAIL_RTOL = 1e-9


@nb.njit(cache=True)
def next_mode(v, mode, rail, out):
    """The mode rule. A linear op-amp (mode 0) whose output v leaves [-rail, rail] by more than
    RAIL_RTOL goes to that rail (an output driven exactly to the rail, as by a buffer of a saturated
    integrator, stays linear). A saturated one (mode +-1, v its differential input signed towards
    its rail) stays while v > rail RAIL_RTOL (a balanced input leaves the output at the rail,
    linear). Writes ``out``; returns whether any mode changed."""
    changed = False
    edge = rail * (1.0 + RAIL_RTOL)
    for i in range(v.size):
        if mode[i] == 0:
            new = 1 if v[i] > edge else (-1 if v[i] < -edge else 0)
        else:
            new = mode[i] if v[i] > rail * RAIL_RTOL else 0
        out[i] = new
        if new != mode[i]:
            changed = True
    return changed


@nb.njit(cache=True)
def run_mode(Phi, c, L, x, n_steps, step0, save_every, seed, Wd, wd, rail, mode, Wr, wr, samples, xsum, osum,
             satcount):
    """Advance one chain ``x`` (n,) in place by up to ``n_steps`` exact steps of the current mode.

    Phi (n, n), c (n,), L (n, nz): the mode's step. Wd (m, n), wd (m,): per op-amp, its output (V)
    if linear, its differential input signed towards its rail if saturated, in this mode. Wr, wr:
    the read-out op-amps' linear-mode outputs (clipped at +-rail they are the outputs). ``step0`` is
    the global index of the first step (the state after every global step that is a multiple of
    ``save_every`` goes to ``samples[g // save_every - 1]``). Accumulates xsum += x and osum +=
    clip(Wr x + wr) after every step and satcount[i] += 1 for every step op-amp i spent saturated.
    Returns the steps done: fewer than n_steps when a mode changed (at the last step done).
    """
    np.random.seed(seed)
    n = x.size
    m = Wd.shape[0]
    r = Wr.shape[0]
    nz = L.shape[1]
    z = np.empty(nz)
    y = np.empty(n)
    v = np.empty(m)
    new = np.empty(m, dtype=np.int64)
    for k in range(n_steps):
        for j in range(nz):
            z[j] = np.random.standard_normal()
        for i in range(n):
            acc = c[i]
            for j in range(n):
                acc += Phi[i, j] * x[j]
            for j in range(nz):
                acc += L[i, j] * z[j]
            y[i] = acc
        for i in range(n):
            x[i] = y[i]
            xsum[i] += y[i]
        g = step0 + k + 1
        if g % save_every == 0:
            samples[g // save_every - 1, :] = x
        for i in range(r):
            o = wr[i]
            for j in range(n):
                o += Wr[i, j] * x[j]
            osum[i] += min(max(o, -rail), rail)
        for i in range(m):
            if mode[i] != 0:
                satcount[i] += 1
            a = wd[i]
            for j in range(n):
                a += Wd[i, j] * x[j]
            v[i] = a
        if next_mode(v, mode, rail, new):
            return k + 1
    return n_steps
