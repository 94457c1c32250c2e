"""Time stepping of the compiled SDE  dx = (F x + B u) dt + dW,  cov(dW) = Q dt.

Both schemes reduce to the affine recursion  x_{k+1} = M x_k + c + N xi_k  (xi_k ~ N(0, I)),
run entirely inside a numba kernel (no Python per step), for many chains at once:

* ``"euler"`` — Euler–Maruyama: M = I + h F, c = h B u, N N^T = h Q. First order; stable only
  for max |1 + h lambda(F)| < 1; its stationary covariance carries an O(h) bias (it solves the
  discrete Lyapunov equation S = M S M^T + h Q instead of the continuous one).
* ``"exact"`` — the exact discretisation of a linear SDE (the process sampled at t_k = k h):
  M = expm(F h), c = F^-1 (M - I) B u, N N^T = Q_h = int_0^h e^{Fs} Q e^{F^T s} ds.
  Chosen because for a linear circuit it is exact in distribution for any h: no stability limit
  and no step-size bias, so the stationary mean is A^-1 b and the covariance is the Lyapunov
  solution to round-off, and long equilibrations of ill-conditioned (stiff) systems take few
  steps. It costs one expm and one Lyapunov solve per step size (cached), and a dense M.

Noise handling: a diagonal Q costs n normals per step; a full Q is applied through a factor N
(n x r) in blocks of steps, so that it is one matrix-matrix product (BLAS-3) per block rather
than a matrix-vector product per step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.linalg as sla

from .compiler import StateSpace, noise_factor
from .errors import StepError
from .operators import DenseDrift, SparseDrift

NOISE_OFF, NOISE_DIAG, NOISE_FULL = 0, 1, 2
EULER_SAFETY = 0.1  # automatic Euler step = 0.1 x the largest stable step


@dataclass
class Discretization:
    """One scheme at one step size: everything a kernel needs (arrays only)."""

    scheme: str
    dt: float  # s
    kind: str  # 'dense' or 'sparse' (storage of M)
    MT: np.ndarray | None  # dense M transposed (C-contiguous), so chains-major X @ MT = (M X^T)^T
    indptr: np.ndarray | None
    indices: np.ndarray | None
    data: np.ndarray | None
    c: np.ndarray  # constant term per step (state units)
    noise_mode: int
    noise_diag: np.ndarray  # (n,) per-step std when diagonal
    NT: np.ndarray  # (r, n) per-step noise factor transposed when full


# ------------------------------------------------------------------ stability
def eigenvalues(ss: StateSpace) -> np.ndarray:
    """Eigenvalues of F (1/s), cached on the state space (dense eigvals; O(n^3) once)."""
    ev = getattr(ss, "_eig_cache", None)
    if ev is None:
        ev = np.linalg.eigvals(ss.drift.to_dense())
        ss._eig_cache = ev
    return ev


def max_stable_euler_step(ss: StateSpace) -> float:
    """Largest h with max |1 + h lambda| < 1 over eigenvalues lambda of F (s).

    |1 + h lambda|^2 < 1  <=>  h < 2 (-Re lambda) / |lambda|^2  for each lambda.
    """
    ev = eigenvalues(ss)
    if np.any(ev.real >= 0):
        lam = ev[np.argmax(ev.real)]
        raise StepError(f"drift has an eigenvalue with non-negative real part ({lam:.4g} 1/s): "
                        "the circuit is not stable and has no stationary state")
    return float(np.min(2.0 * (-ev.real) / np.abs(ev) ** 2))


def spectral_radius(ss: StateSpace) -> float:
    return float(np.max(np.abs(eigenvalues(ss))))


def auto_dt(ss: StateSpace, scheme: str) -> float:
    """Default step (s): 0.1 x the Euler stability limit; 0.5 / rho(F) for the exact scheme."""
    if scheme == "euler":
        return EULER_SAFETY * max_stable_euler_step(ss)
    return 0.5 / spectral_radius(ss)


def check_euler_step(ss: StateSpace, dt: float) -> None:
    hmax = max_stable_euler_step(ss)
    if dt >= hmax:
        ev = eigenvalues(ss)
        amp = np.abs(1.0 + dt * ev)
        k = int(np.argmax(amp))
        raise StepError(
            f"time step {dt:.4g} s is unstable for Euler-Maruyama: |1 + h*lambda| = {amp[k]:.4g} > 1 "
            f"for lambda = {ev[k]:.4g} 1/s; the largest stable step is {hmax:.4g} s "
            f"(suggested {EULER_SAFETY * hmax:.4g} s), or use scheme='exact'"
        )


# ------------------------------------------------------------ discretisation
def discretize(ss: StateSpace, dt: float, scheme: str = "exact", noise: bool = True) -> Discretization:
    """Build the affine recursion for ``scheme`` at step ``dt`` (s)."""
    if not (np.isfinite(dt) and dt > 0):
        raise StepError(f"time step must be finite and > 0 s, got {dt!r}")
    u = ss.offset
    Q = ss.diffusion if noise else None
    if scheme == "euler":
        check_euler_step(ss, dt)
        c = dt * u
        Qh = None if Q is None else dt * Q
        if isinstance(ss.drift, SparseDrift):
            import scipy.sparse as sp

            M = (sp.identity(ss.n, format="csr") + dt * ss.drift.csr).tocsr()
            M.sort_indices()
            dense = None
            sparse = (M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data.astype(np.float64))
        else:
            M = np.eye(ss.n) + dt * ss.drift.to_dense()
            dense, sparse = np.ascontiguousarray(M.T), None
    elif scheme == "exact":
        F = ss.drift.to_dense()
        Phi = sla.expm(F * dt)
        try:
            c = np.linalg.solve(F, (Phi - np.eye(ss.n)) @ u)
        except np.linalg.LinAlgError:
            aug = np.zeros((ss.n + 1, ss.n + 1))
            aug[: ss.n, : ss.n] = F * dt
            aug[: ss.n, ss.n] = u * dt
            c = sla.expm(aug)[: ss.n, ss.n]
        Qh = None if Q is None else exact_noise_covariance(F, Q, dt, Phi)
        dense, sparse = np.ascontiguousarray(Phi.T), None
    else:
        raise StepError(f"unknown scheme {scheme!r}: use 'exact' or 'euler'")
    n = ss.n
    if Qh is None or not np.any(Qh):
        mode, nd_, NT = NOISE_OFF, np.zeros(n), np.zeros((1, n))
    else:
        kind, fac = noise_factor(Qh)
        if kind == "diag":
            mode, nd_, NT = NOISE_DIAG, fac, np.zeros((1, n))
        else:
            mode, nd_, NT = NOISE_FULL, np.zeros(n), np.ascontiguousarray(fac.T)
    return Discretization(
        scheme=scheme, dt=float(dt), kind="dense" if dense is not None else "sparse", MT=dense,
        indptr=None if sparse is None else sparse[0], indices=None if sparse is None else sparse[1],
        data=None if sparse is None else sparse[2], c=np.ascontiguousarray(c, dtype=np.float64),
        noise_mode=mode, noise_diag=np.ascontiguousarray(nd_), NT=NT,
    )


def exact_noise_covariance(F, Q, h, Phi=None):
    """Q_h = int_0^h e^{Fs} Q e^{F^T s} ds.

    Van Loan's block exponential when ||F h|| is small; otherwise (stable F) the identity
    Q_h = S - Phi S Phi^T with S the continuous Lyapunov solution F S + S F^T + Q = 0, which
    avoids the overflow of e^{-F h} in Van Loan's block for stiff steps.
    """
    n = F.shape[0]
    Phi = sla.expm(F * h) if Phi is None else Phi
    if np.linalg.norm(F, 1) * h <= 1.0:
        blk = np.zeros((2 * n, 2 * n))
        blk[:n, :n] = -F * h
        blk[:n, n:] = Q * h
        blk[n:, n:] = F.T * h
        E = sla.expm(blk)
        Qh = E[n:, n:].T @ E[:n, n:]
    else:
        S = sla.solve_continuous_lyapunov(F, -Q)
        Qh = S - Phi @ S @ Phi.T
    return 0.5 * (Qh + Qh.T)


# -------------------------------------------------------------------- kernels
@nb.njit(cache=True)
def _fill_normals(a):
    flat = a.reshape(-1)
    for i in range(flat.size):
        flat[i] = np.random.standard_normal()


@nb.njit(cache=True)
def _add_noise_and_c(Y, c, mode, noise_diag, Z, zrow):
    k, n = Y.shape
    if mode == 1:
        for a in range(k):
            for i in range(n):
                Y[a, i] += c[i] + noise_diag[i] * np.random.standard_normal()
    elif mode == 2:
        for a in range(k):
            for i in range(n):
                Y[a, i] += c[i] + Z[zrow + a, i]
    else:
        for a in range(k):
            for i in range(n):
                Y[a, i] += c[i]


@nb.njit(cache=True)
def _run_dense(MT, c, mode, noise_diag, NT, X0, n_steps, save_every, seed, samples, xsum, block):
    """x <- M x + c + N xi for all chains (rows of X); saves every ``save_every`` steps."""
    np.random.seed(seed)
    k, n = X0.shape
    X = X0.copy()
    Y = np.empty_like(X)
    r = NT.shape[0]
    Xi = np.empty((block * k, r))
    Z = np.empty((block * k, n))
    zpos = block
    isave = 0
    for step in range(n_steps):
        if k == 1:
            np.dot(X[0], MT, Y[0])  # BLAS gemv
        else:
            np.dot(X, MT, Y)  # BLAS gemm
        if mode == 2 and zpos == block:
            _fill_normals(Xi)
            np.dot(Xi, NT, Z)  # noise for ``block`` steps in one gemm
            zpos = 0
        _add_noise_and_c(Y, c, mode, noise_diag, Z, zpos * k)
        zpos += 1
        X, Y = Y, X
        xsum += X
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return X


@nb.njit(cache=True)
def _run_sparse(indptr, indices, data, c, mode, noise_diag, NT, X0, n_steps, save_every, seed,
                samples, xsum, block):
    """Same recursion with M in CSR form."""
    np.random.seed(seed)
    k, n = X0.shape
    X = X0.copy()
    Y = np.empty_like(X)
    r = NT.shape[0]
    Xi = np.empty((block * k, r))
    Z = np.empty((block * k, n))
    zpos = block
    isave = 0
    for step in range(n_steps):
        for a in range(k):
            for i in range(n):
                acc = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    acc += data[p] * X[a, indices[p]]
                Y[a, i] = acc
        if mode == 2 and zpos == block:
            _fill_normals(Xi)
            np.dot(Xi, NT, Z)
            zpos = 0
        _add_noise_and_c(Y, c, mode, noise_diag, Z, zpos * k)
        zpos += 1
        X, Y = Y, X
        xsum += X
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return X


def noise_block(k: int, n: int) -> int:
    """Steps of full-matrix noise generated per gemm: ~256 rows, at most ~32 MB of buffer."""
    b = max(1, 256 // max(k, 1))
    return int(max(1, min(b, 4_000_000 // max(k * n, 1))))


def run(disc: Discretization, X0: np.ndarray, n_steps: int, save_every: int, seed: int):
    """Advance chains X0 (k, n) by ``n_steps``; returns (X_final, samples, xsum).

    samples: (n_steps // save_every, k, n), the state after every ``save_every`` steps;
    xsum: (k, n), the sum of the state after each step (for time averages).
    """
    X0 = np.ascontiguousarray(X0, dtype=np.float64)
    k, n = X0.shape
    n_steps = int(n_steps)
    save_every = max(1, int(save_every))
    samples = np.zeros((n_steps // save_every, k, n))
    xsum = np.zeros((k, n))
    seed = int(seed) & 0xFFFFFFFF
    block = noise_block(k, n)
    if disc.kind == "dense":
        X = _run_dense(disc.MT, disc.c, disc.noise_mode, disc.noise_diag, disc.NT, X0, n_steps,
                       save_every, seed, samples, xsum, block)
    else:
        X = _run_sparse(disc.indptr, disc.indices, disc.data, disc.c, disc.noise_mode,
                        disc.noise_diag, disc.NT, X0, n_steps, save_every, seed, samples, xsum, block)
    return X, samples, xsum
