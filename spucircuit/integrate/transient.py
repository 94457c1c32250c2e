"""Variable-step transient of dx = (F x + B u(t)) dt + dW with time-dependent inputs (SPICE's .tran).

The run starts at t = 0 and steps exactly onto every requested output time and every breakpoint of
the inputs (a PULSE corner, a PWL point); between two such points the steps are equal and no longer
than ``hmax``. Inside a step [t_k, t_k + h] the input is the straight line from a_k = u(t_k+) to
b_k = u(t_{k+1}-), exact for piecewise-linear inputs (PULSE, PWL), and

* ``scheme='exact'``: x_{k+1} = e^{Fh} x_k + h phi1(Fh) B a_k + h phi2(Fh) B (b_k - a_k), the exact
  solution for a linear input (phi1(z) = (e^z - 1)/z, phi2(z) = (e^z - 1 - z)/z^2), all three blocks
  from one exponential of the augmented matrix [[Fh, hB, 0], [0, 0, I], [0, 0, 0]] (Al-Mohy &
  Higham 2011, eq. 2.11). Exact for any step: ``hmax`` only has to resolve smooth inputs (SIN,
  EXP, SFFM: the chord of a step stays within ``rtol`` of the waveform's amplitude);
* ``scheme='trapezoidal'``: (I - hF/2) x_{k+1} = (I + hF/2) x_k + (h/2) B (a_k + b_k), SPICE's own
  rule, second order; its step is also bounded by ``TRAP_Z`` / (spectral radius of F), which keeps
  the phase error of every mode below ~TRAP_Z^2 / 12.

A voltage source that closes a loop of capacitors also drives the current C du/dt into it:
dx/dt = F x + B u + B_1 du/dt (``ss.input_rate_matrix``). Inside a step du/dt = (b_k - a_k)/h is
constant, which adds phi1(Fh) B_1 (b_k - a_k) (exact) or (I - hF/2)^-1 B_1 (b_k - a_k) (trapezoidal)
to the step; a jump of the source at a breakpoint moves the state at once by B_1 (a_k - b_{k-1}) (the
charge the capacitors take).

With noise each step adds a Gaussian of the exact covariance int_0^h e^{Fs} Q e^{F^T s} ds
(exact scheme) or h L Q L^T, L = (I - hF/2)^-1 (trapezoidal); without noise nothing is drawn.
Steps of the same length share their matrices (lengths that differ by less than 2^-46 of the run, i.e. by rounding, are one length), so a run
costs one matrix exponential per distinct step length and one small product per step (numba).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.linalg as sla

from spucircuit.errors import StepError
from spucircuit.integrate.discretize import eigenvalues, exact_noise_covariance
from spucircuit.statespace.inputs import InputSchedule
from spucircuit.statespace.model import StateSpace, noise_factor

__all__ = ["TransientResult", "transient", "time_grid", "MAX_TRAN_STEPS", "TRAP_Z", "INPUT_RTOL"]

MAX_TRAN_STEPS = 10_000_000  # internal steps of one run (memory: ~ 16 (w + 1) + 40 bytes each)
MAX_STEP_LENGTHS = 200_000  # distinct step lengths (one set of step matrices each)
MATRIX_BYTES = 2e9  # memory for the step matrices of all lengths
TRAP_Z = 0.01  # trapezoidal: h * spectral radius <= TRAP_Z (phase error of a mode ~ TRAP_Z^2 / 12 per 1/lambda)
INPUT_RTOL = 1e-8  # smooth inputs: chord error <= INPUT_RTOL x amplitude per step
_MERGE = 1e-12  # points closer than this x the run length are one point
_QUANT = 2.0 ** -46  # step lengths are grouped on this fraction of the run length


@dataclass
class TransientResult:
    """States at the output times. ``t`` (s), ``states`` (len(t), n), ``inputs`` (len(t), n_inputs),
    ``n_steps`` internal steps, ``n_lengths`` distinct step lengths, ``h_max`` (s) the longest step."""

    t: np.ndarray
    states: np.ndarray
    inputs: np.ndarray
    n_steps: int
    n_lengths: int
    h_max: float


def time_grid(t_out: np.ndarray, t_end: float, breakpoints: np.ndarray, hmax: float):
    """Internal step times from 0 to ``t_end``: every output time and breakpoint (a breakpoint within
    1e-12 t_end of an output time is that time), each gap split into equal steps <= ``hmax``.

    Returns (H, m, out_pos): the hard points H (H[0] = 0, H[-1] = t_end), the number of steps in each
    gap and the position of each output time in H."""
    tol = _MERGE * t_end
    t_out = np.asarray(t_out, dtype=float)
    t_out = np.where(np.abs(t_out - t_end) <= tol, t_end, t_out)  # snap a rounded last grid time onto t_end
    anchors = np.unique(np.concatenate([[0.0, t_end], t_out]))
    bp = np.unique(np.asarray(breakpoints, dtype=float))
    bp = bp[(bp > 0) & (bp < t_end)]
    snapped = np.empty(0)
    if bp.size:  # a breakpoint within tol of an output time (or of another breakpoint) is that point
        j = np.clip(np.searchsorted(anchors, bp), 1, anchors.size - 1)
        jn = np.where(np.abs(bp - anchors[j - 1]) <= np.abs(anchors[j] - bp), j - 1, j)
        near = np.abs(bp - anchors[jn]) <= tol
        snapped = np.stack([anchors[jn[near]], bp[near]]) if np.any(near) else snapped
        bp = bp[~near]
        if bp.size > 1:
            bp = bp[np.concatenate([[True], np.diff(bp) > tol])]
    H = np.unique(np.concatenate([anchors, bp]))
    pos = np.searchsorted(H, t_out).astype(np.int64)
    # the steps run to the breakpoint's own time where one was absorbed (a steep ramp's corner is
    # where the input turns; the output time differs by <= tol)
    if snapped.size:
        k = np.searchsorted(H, snapped[0])
        inner = (k > 0) & (k < H.size - 1)
        H = H.copy()
        H[k[inner]] = snapped[1][inner]
    gaps = np.diff(H)
    if not math.isfinite(hmax):
        m = np.ones(gaps.size, dtype=np.int64)
    else:
        with np.errstate(over="ignore"):
            m = np.maximum(1, np.ceil(gaps / hmax * (1 - 1e-12)))
        if float(np.sum(m)) > MAX_TRAN_STEPS:
            raise StepError(f"the transient needs {float(np.sum(m)):.3g} internal steps of <= {hmax:.3g} s over "
                            f"{t_end:.4g} s, more than {MAX_TRAN_STEPS:.0e}: shorten the run, relax TMAX or use "
                            "the exact scheme")
        m = m.astype(np.int64)
    return H, m, pos


def _step_matrices(F, B, w, h, scheme, Q, B1=None):
    """(E, P, R, N) for one step length: x' = E x + P a + R b + N xi (a, b: [1, varying inputs]);
    ``B1`` (n, w): the varying inputs' du/dt term, folded into P and R (module docstring)."""
    n = F.shape[0]
    nb_ = B.shape[1]
    if scheme == "exact":
        extra = 0 if B1 is None else w
        size = n + nb_ + w + extra
        M = np.zeros((size, size))
        M[:n, :n] = F * h
        M[:n, n:n + nb_] = B * h
        M[n + 1:n + nb_, n + nb_:n + nb_ + w] = np.eye(w)  # varying inputs (columns 1..w of B) ramp: phi2 block
        if extra:
            M[:n, n + nb_ + w:] = B1 * h  # h phi1(Fh) B1, no ramp
        X = sla.expm(M)
        E = X[:n, :n]
        G1 = X[:n, n:n + nb_]
        G2 = np.zeros((n, nb_))
        G2[:, 1:] = X[:n, n + nb_:n + nb_ + w]
        P, R = G1 - G2, G2
        if extra:
            D1 = X[:n, n + nb_ + w:] / h  # phi1(Fh) B1
            P, R = P.copy(), R.copy()
            P[:, 1:] -= D1
            R[:, 1:] += D1
        Qh = exact_noise_covariance(F, Q, h, E) if Q is not None else None
    else:
        I = np.eye(n)
        lu = sla.lu_factor(I - 0.5 * h * F)
        E = sla.lu_solve(lu, I + 0.5 * h * F)
        P = sla.lu_solve(lu, 0.5 * h * B)
        R = P.copy()
        if B1 is not None:
            D1 = sla.lu_solve(lu, B1)  # (I - hF/2)^-1 B1
            P[:, 1:] -= D1
            R[:, 1:] += D1
        if Q is not None:
            L = sla.lu_solve(lu, I)
            Qh = h * L @ Q @ L.T
            Qh = 0.5 * (Qh + Qh.T)
        else:
            Qh = None
    N = np.zeros((n, n))
    if Qh is not None:
        mode, fac = noise_factor(Qh)
        if mode == "diag":
            N = np.diag(fac)
        else:
            N[:, :fac.shape[1]] = fac
    return E, P, R, N


def _phi12(z):
    """phi1(z) = (e^z - 1)/z and phi2(z) = (e^z - 1 - z)/z^2 (complex arrays); Taylor series for |z| < 0.1,
    where the quotients cancel (10 terms: truncation below 1e-17)."""
    small = np.abs(z) < 0.1
    zs = np.where(small, 1.0, z)
    with np.errstate(over="ignore", invalid="ignore"):
        e1 = np.expm1(zs)
        p1 = e1 / zs
        p2 = (e1 - zs) / zs ** 2
    s1 = np.zeros_like(z)
    s2 = np.zeros_like(z)
    for k in range(11, -1, -1):  # Horner: sum z^k / (k+1)!, sum z^k / (k+2)!
        s1 = s1 * z + 1.0 / math.factorial(k + 1)
        s2 = s2 * z + 1.0 / math.factorial(k + 2)
    return np.where(small, s1, p1), np.where(small, s2, p2)


EIG_MAX_COND = 1e5  # eigenvector condition number up to which the step matrices come from F's eigenbasis


def _eigen_step_matrices(F, B, w, hs, scheme, B1=None):
    """(E, P, R) stacks for all step lengths ``hs`` at once from F = V diag(lam) V^-1, or None when F's
    eigenvectors are ill-conditioned (then each length takes a matrix exponential). One eigen-
    decomposition and K n^3 multiply-adds in place of K exponentials: small BLAS calls on shared cores
    cost ~2 ms each in thread hand-off, so 3000 step lengths took 20 s through scipy's expm."""
    try:
        lam, V = np.linalg.eig(F)
        if not np.all(np.isfinite(V)) or np.linalg.cond(V) > EIG_MAX_COND:
            return None
        Vi = np.linalg.inv(V)
    except np.linalg.LinAlgError:
        return None
    W = Vi @ B
    Z = hs[:, None] * lam[None, :]
    if scheme == "exact":
        p1, p2 = _phi12(Z)
        with np.errstate(over="ignore", invalid="ignore"):
            d0 = np.exp(Z)
        d1, d2 = hs[:, None] * p1, hs[:, None] * p2
    else:  # (1 + z/2) / (1 - z/2) and (h/2) / (1 - z/2)
        d0 = (1 + 0.5 * Z) / (1 - 0.5 * Z)
        d1 = 0.5 * hs[:, None] / (1 - 0.5 * Z)
    E = np.einsum("ij,kj,jl->kil", V, d0, Vi).real
    G1 = np.einsum("ij,kj,jl->kil", V, d1, W).real
    D1 = None
    if B1 is not None:  # phi1(Fh) B1 = V (d1 / h) V^-1 B1 (exact); (I - hF/2)^-1 B1 = V (2 d1 / h) V^-1 B1 (trap.)
        scale = (1.0 if scheme == "exact" else 2.0) / hs[:, None]
        D1 = np.einsum("ij,kj,jl->kil", V, d1 * scale, Vi @ B1).real
    if scheme != "exact":
        P, R = G1, G1.copy()
    else:
        G2 = np.zeros_like(G1)
        G2[:, :, 1:] = np.einsum("ij,kj,jl->kil", V, d2, W[:, 1:]).real
        P, R = G1 - G2, G2
    if D1 is not None:
        P[:, :, 1:] -= D1
        R[:, :, 1:] += D1
    return E, P, R


@nb.njit(cache=True)
def _tran_kernel(x0, E, P, R, N, key, m, Ua, Ub, out_pos, noisy, rng, jump_step, jump_dx):
    """Run the steps; save the state at the hard points listed in out_pos (sorted positions). Before
    step jump_step[r] (sorted) the state moves by jump_dx[r] (a source jump into a capacitor loop)."""
    n = x0.size
    x = x0.copy()
    y = np.empty(n)
    n_out = out_pos.size
    saved = np.empty((n_out, n))
    j = 0
    while j < n_out and out_pos[j] == 0:
        saved[j] = x
        j += 1
    k = 0  # step counter
    r = 0  # next jump
    for s in range(m.size):
        q = key[s]
        for _ in range(m[s]):
            while r < jump_step.size and jump_step[r] == k:
                for i in range(n):
                    x[i] += jump_dx[r, i]
                r += 1
            for i in range(n):
                acc = 0.0
                for c in range(n):
                    acc += E[q, i, c] * x[c]
                for c in range(Ua.shape[1]):
                    acc += P[q, i, c] * Ua[k, c] + R[q, i, c] * Ub[k, c]
                y[i] = acc
            if noisy:
                xi = np.empty(n)
                for c in range(n):
                    xi[c] = rng.standard_normal()
                for i in range(n):
                    acc = 0.0
                    for c in range(n):
                        acc += N[q, i, c] * xi[c]
                    y[i] += acc
            for i in range(n):
                x[i] = y[i]
            k += 1
        while j < n_out and out_pos[j] == s + 1:
            saved[j] = x
            j += 1
    return saved


def transient(ss: StateSpace, schedule: InputSchedule, x0, t_out, *, t_end: float | None = None,
              scheme: str = "exact", tmax: float | None = None, noise: bool = False, seed=None,
              rtol: float = INPUT_RTOL, check=None) -> TransientResult:
    """States of ``ss`` at the times ``t_out`` (s, in [0, t_end]) from ``x0`` at t = 0, the inputs
    following ``schedule``. ``tmax`` caps the internal step; ``noise`` adds the diffusion (drawn from
    ``seed``); see the module docstring for the steps. ``check(n_steps, n_inputs)``, when given, is
    called with the internal step count and the number of varying inputs before any per-step array
    is allocated (the caller's run-time and memory limits)."""
    if scheme not in ("exact", "trapezoidal"):
        raise StepError(f"the transient runs the 'exact' (exponential) or 'trapezoidal' scheme, got {scheme!r}")
    t_out = np.asarray(t_out, dtype=float)
    t_end = float(t_out.max()) if t_end is None else float(t_end)
    if not (math.isfinite(t_end) and t_end > 0 and t_out.size and np.all(t_out >= 0) and np.all(t_out <= t_end)):
        raise StepError(f"output times must lie in [0, t_end] with t_end finite and > 0, got t_end = {t_end!r}")
    if tmax is not None and not (math.isfinite(tmax) and tmax > 0):
        raise StepError(f"TMAX must be finite and > 0 s, got {tmax!r}")
    F = np.asarray(ss.drift.to_dense(), dtype=float)
    n = F.shape[0]
    hmax = min(tmax if tmax is not None else math.inf, schedule.max_step(rtol))
    if scheme == "trapezoidal":
        rho = float(np.max(np.abs(eigenvalues(ss)))) if n else 0.0
        if rho > 0:
            hmax = min(hmax, TRAP_Z / rho)
    H, m, pos = time_grid(t_out, t_end, schedule.breakpoints(0.0, t_end), hmax)
    if check is not None:
        check(float(np.sum(m, dtype=float)), int(schedule.index.size))
    h_seg = np.diff(H) / m
    q = t_end * _QUANT
    keys_f = np.round(h_seg / q)
    uniq, first_of, key = np.unique(keys_f, return_index=True, return_inverse=True)
    h_key = h_seg[first_of]  # each group's length: one of its members (they differ by rounding only)
    if uniq.size > MAX_STEP_LENGTHS:
        raise StepError(f"the transient has {uniq.size} distinct step lengths (one matrix exponential each), more "
                        f"than {MAX_STEP_LENGTHS}: the inputs have too many irregular breakpoints for this run")
    # the inputs: a constant column (sources without a waveform) and the varying ones
    Bfull = np.asarray(ss.input_matrix.toarray() if hasattr(ss.input_matrix, "toarray") else ss.input_matrix,
                       dtype=float)
    idx = schedule.index
    const = np.array(schedule.base, dtype=float)
    const[idx] = 0.0
    B = np.column_stack([Bfull @ const if Bfull.size else np.zeros(n), Bfull[:, idx]])
    w = idx.size
    Q = None
    if noise:
        Q = ss.diffusion.toarray() if hasattr(ss.diffusion, "toarray") else np.asarray(ss.diffusion, dtype=float)
    K = h_key.size
    if float(K) * n * n * (3 + bool(noise)) * 8 > MATRIX_BYTES:
        raise StepError(f"the transient's {K} distinct step lengths need {K * n * n * (3 + bool(noise)) * 8 / 1e9:.3g} "
                        f"GB of step matrices (n = {n}), more than {MATRIX_BYTES / 1e9:g} GB")
    B1 = ss.input_rate_matrix  # du/dt term of sources closing capacitor loops (module docstring)
    B1v = None
    if B1 is not None and w and np.any(np.asarray(B1)[:, idx]):
        B1v = np.ascontiguousarray(np.asarray(B1, dtype=float)[:, idx])
    eig = None if noise else _eigen_step_matrices(F, B, w, h_key, scheme, B1v)
    if eig is not None:
        E, P, R = (np.ascontiguousarray(a) for a in eig)
        N = np.zeros((1, n, n))
    else:
        mats = [_step_matrices(F, B, w, float(h), scheme, Q, B1v) for h in h_key]
        E = np.ascontiguousarray(np.stack([a[0] for a in mats]))
        P = np.ascontiguousarray(np.stack([a[1] for a in mats]))
        R = np.ascontiguousarray(np.stack([a[2] for a in mats]))
        N = np.ascontiguousarray(np.stack([a[3] for a in mats]))
    # step start / end times and the inputs there (after / before a jump)
    seg = np.repeat(np.arange(m.size), m)
    first = np.concatenate([[0], np.cumsum(m)[:-1]])
    j_in = np.arange(seg.size) - first[seg]
    t0 = H[seg] + (H[seg + 1] - H[seg]) * (j_in / m[seg])
    t1 = H[seg] + (H[seg + 1] - H[seg]) * ((j_in + 1) / m[seg])
    Ua = np.ones((seg.size, w + 1))
    Ub = np.ones((seg.size, w + 1))
    if w:
        Ua[:, 1:] = schedule.values(t0, side="right")
        Ub[:, 1:] = schedule.values(t1, side="left")
    jump_step, jump_dx = np.zeros(0, np.int64), np.zeros((0, n))
    if B1v is not None and seg.size > 1:  # a jump of a loop-closing source at a step start: dx = B1 (a_k - b_{k-1})
        du = Ua[1:, 1:] - Ub[:-1, 1:]
        hit = np.flatnonzero(np.any(du != 0, axis=1))
        jump_step = (hit + 1).astype(np.int64)
        jump_dx = np.ascontiguousarray(du[hit] @ B1v.T)
    order = np.argsort(pos, kind="stable")
    ssq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.Generator(np.random.PCG64(ssq))
    saved = _tran_kernel(np.ascontiguousarray(x0, dtype=float), E, P, R, N, key.astype(np.int64), m,
                         Ua, Ub, pos[order].astype(np.int64), bool(noise), rng, jump_step, jump_dx)
    states = np.empty_like(saved)
    states[order] = saved
    return TransientResult(t=t_out, states=states, inputs=schedule.full(t_out), n_steps=int(seg.size),
                           n_lengths=int(uniq.size), h_max=float(h_seg.max()) if h_seg.size else 0.0)
