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
  For a symmetric drift (an ideal integrator array) it runs in the eigenbasis of F instead
  (``kind='eigen'``): M is diagonal there, and the set-up is one eigh plus two products.

Noise handling (``Discretization.noise_mode``):

* 0 — off; 1 — diagonal Q_h: n normals per step, scaled;
* 2 — full Q_h through a factor N (N N^T = Q_h): the Cholesky factor when Q_h is positive
  definite, else the eigen-factor U sqrt(L) (n x r, null directions dropped). With a
  well-conditioned Cholesky factor the dense kernel runs in the whitened basis y = N^-1 x
  (:func:`whitened`): the same recursion, whose noise is n plain normals per step, so a step
  costs one gemv/gemm plus the normals. Otherwise N is applied explicitly, in blocks of steps
  with one matrix-matrix product (BLAS-3) per row band of N (the zero half of a triangular N
  is skipped);
* 3 — sparse drift with a sparse Q_h: a sparse Cholesky factor N (CSR, from a banded Cholesky
  after reverse Cuthill-McKee reordering), one sparse product per step, never an n x n array.

All arithmetic is float64. Normals come from a numpy ``Generator`` (PCG64) seeded per call, so
a given seed reproduces the samples bit for bit (same BLAS library and thread count).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from spucircuit.errors import StepError
from spucircuit.statespace.model import StateSpace, noise_factor
from spucircuit.statespace.operators import SparseDrift

NOISE_OFF, NOISE_DIAG, NOISE_FULL, NOISE_SPARSE = 0, 1, 2, 3
DIAG_RTOL = 1e-13  # Q_h is diagonal when every off-diagonal entry is below this x max diag
SPARSE_NOISE_MAX_FILL = 0.05  # banded noise factor used while (bandwidth + 1) / n is below this
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
    NT: np.ndarray  # (r, n) per-step noise factor N transposed when full (N lower-triangular if r == n)
    noise_indptr: np.ndarray | None = None  # CSR of N (n x n) when noise_mode == 3
    noise_indices: np.ndarray | None = None
    noise_data: np.ndarray | None = None
    diag: np.ndarray | None = None  # kind 'eigen': M = U diag(diag) U^T, the recursion runs on U^T x
    basis: np.ndarray | None = None  # kind 'eigen': orthonormal eigenvectors U of a symmetric drift


# ------------------------------------------------------------------ stability
SYM_RTOL = 1e-12  # F is treated as symmetric when max|F - F^T| <= SYM_RTOL max|F|


def symmetric_eigen(ss: StateSpace):
    """(lambda, U) of a symmetric drift F = U diag(lambda) U^T (1/s), or None if F is not
    symmetric. Cached on the state space. An integrator array with equal capacitors and its
    resistor pairs R_ij = R_ji has an exactly symmetric drift; mismatch breaks the symmetry and
    the general (non-symmetric) path is used. F is symmetrised, an O(SYM_RTOL) change."""
    cache = ss.symmetric_eigen_cache
    if cache is None:
        F = ss.drift.to_dense()
        scale = float(np.max(np.abs(F))) if F.size else 0.0
        cache = (None,)
        if scale > 0 and np.max(np.abs(F - F.T)) <= SYM_RTOL * scale:
            lam, U = np.linalg.eigh(0.5 * (F + F.T))
            cache = ((lam, np.ascontiguousarray(U)),)
        ss.symmetric_eigen_cache = cache
    return cache[0]


def eigenvalues(ss: StateSpace) -> np.ndarray:
    """Eigenvalues of F (1/s), cached on the state space (dense eigh when F is symmetric, else
    eigvals; O(n^3) once)."""
    ev = ss.eigenvalues_cache
    if ev is None:
        sym = symmetric_eigen(ss)
        ev = sym[0].astype(complex) if sym is not None else np.linalg.eigvals(ss.drift.to_dense())
        ss.eigenvalues_cache = ev
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
    elif scheme == "exact" and symmetric_eigen(ss) is not None:
        return _discretize_eigen(ss, dt, u, Q)
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
        raise StepError(f"unknown scheme {scheme!r}: use 'exact' or 'euler' here, or 'trapezoidal' through "
                        "spucircuit.integrate.trapezoidal.discretize_trapezoidal")
    n = ss.n
    mode, nd_, NT, nsp = noise_setup(Qh, n, sparse_ok=sparse is not None)
    return Discretization(
        scheme=scheme, dt=float(dt), kind="dense" if dense is not None else "sparse", MT=dense,
        indptr=None if sparse is None else sparse[0], indices=None if sparse is None else sparse[1],
        data=None if sparse is None else sparse[2], c=np.ascontiguousarray(c, dtype=np.float64),
        noise_mode=mode, noise_diag=np.ascontiguousarray(nd_), NT=NT,
        noise_indptr=None if nsp is None else nsp[0], noise_indices=None if nsp is None else nsp[1],
        noise_data=None if nsp is None else nsp[2],
    )


def _discretize_eigen(ss: StateSpace, dt: float, u, Q) -> Discretization:
    """Exact scheme for a symmetric drift F = U diag(lam) U^T, in the eigenbasis y = U^T x:

        y' = e^{lam h} y + c + N xi,   c = expm1(lam h) / lam * U^T B u,
        N N^T = Q_h' = (U^T Q U) o K,  K_ij = expm1((lam_i + lam_j) h) / (lam_i + lam_j),

    which is U^T (exact-scheme recursion) U term by term: e^{F h} = U e^{lam h} U^T and
    Q_h = int_0^h e^{Fs} Q e^{Fs} ds = U [(U^T Q U) o K] U^T (expm1 / x -> h at x = 0). A step
    is then a diagonal scaling plus the noise, and the set-up one eigh (shared with the
    eigenvalues) and two products, instead of expm + Schur-based Lyapunov (seconds at n = 1024).
    """
    lam, U = symmetric_eigen(ss)
    n = ss.n
    h = float(dt)

    def phi1(z):  # expm1(z h) / z, = h at z = 0
        zh = z * h
        out = np.full(zh.shape, h)
        nz = zh != 0
        out[nz] = np.expm1(zh[nz]) / z[nz]
        return out

    with np.errstate(over="ignore"):  # a step of many relaxation times: lam h -> -inf, e^{lam h} -> 0 (exact)
        d = np.exp(lam * h)
        c = phi1(lam) * (U.T @ u)
        Qh = None
        if Q is not None and np.any(Q):
            Qe = U.T @ Q @ U
            Qh = Qe * phi1(lam[:, None] + lam[None, :])
            Qh = 0.5 * (Qh + Qh.T)
    mode, nd_, NT, _ = noise_setup(Qh, n, sparse_ok=False)
    return Discretization(
        scheme="exact", dt=h, kind="eigen", MT=None, indptr=None, indices=None, data=None,
        c=np.ascontiguousarray(c, dtype=np.float64), noise_mode=mode,
        noise_diag=np.ascontiguousarray(nd_), NT=NT, diag=np.ascontiguousarray(d), basis=U,
    )


def noise_setup(Qh, n: int, sparse_ok: bool):
    """(mode, noise_diag, NT, sparse CSR arrays of N or None) for per-step covariance Q_h."""
    zeros = np.zeros(n)
    if Qh is None or not np.any(Qh):
        return NOISE_OFF, zeros, np.zeros((1, n)), None
    Qh = np.asarray(Qh, dtype=np.float64)
    d = np.diag(Qh)
    scale = float(np.max(np.abs(d)))
    if scale == 0.0 or np.max(np.abs(Qh - np.diag(d))) <= DIAG_RTOL * scale:
        return NOISE_DIAG, np.sqrt(np.clip(d, 0.0, None)), np.zeros((1, n)), None
    if sparse_ok:
        nsp = sparse_noise_factor(Qh)
        if nsp is not None:
            return NOISE_SPARSE, zeros, np.zeros((1, n)), nsp
    try:
        L = np.linalg.cholesky(Qh)  # numpy's LAPACK, as the rest of the set-up (see _run_eigen)
        if not np.all(np.isfinite(L)):
            raise np.linalg.LinAlgError("non-finite Cholesky factor")
        return NOISE_FULL, zeros, np.ascontiguousarray(L.T), None
    except (np.linalg.LinAlgError, sla.LinAlgError):
        pass  # semidefinite (states without noise) or round-off: rank-revealing eigen-factor
    kind, fac = noise_factor(Qh)
    if kind == "diag":
        return NOISE_DIAG, fac, np.zeros((1, n)), None
    return NOISE_FULL, zeros, np.ascontiguousarray(fac.T), None


def sparse_noise_factor(Qh, max_fill: float = SPARSE_NOISE_MAX_FILL, zero_rtol: float = 1e-14):
    """Sparse N with N N^T = Q_h for a sparse positive-definite Q_h, as CSR (indptr, indices, data).

    Entries below ``zero_rtol`` x max|Q_h| are taken as structural zeros (MNA round-off). The
    matrix is reordered by reverse Cuthill-McKee to a band; if the band is narrow
    ((bandwidth + 1) <= max_fill * n) its banded Cholesky factor L gives N = P^T L (rows permuted
    back). Returns None when Q_h is not sparse/banded enough or not positive definite.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    n = Qh.shape[0]
    if sp.issparse(Qh):  # a sparse Q_h stays sparse (the trapezoidal scheme's noise factor)
        Qs = sp.csr_matrix(Qh, dtype=np.float64)
        amax = float(np.max(np.abs(Qs.data))) if Qs.nnz else 0.0
        Qs.data[np.abs(Qs.data) <= zero_rtol * amax] = 0.0
        Qs.eliminate_zeros()
        if Qs.nnz > max_fill * n * n:
            return None
    else:
        amax = float(np.max(np.abs(Qh)))
        mask = np.abs(Qh) > zero_rtol * amax
        if np.count_nonzero(mask) > max_fill * n * n:
            return None
        Qs = sp.csr_matrix(np.where(mask, Qh, 0.0))
    perm = reverse_cuthill_mckee(Qs, symmetric_mode=True)
    Qp = Qs[perm][:, perm].tocoo()
    bw = int(np.max(np.abs(Qp.row - Qp.col))) if Qp.nnz else 0
    if bw + 1 > max_fill * n:
        return None
    low = Qp.row >= Qp.col
    ab = np.zeros((bw + 1, n))
    ab[Qp.row[low] - Qp.col[low], Qp.col[low]] = Qp.data[low]
    try:
        cb = sla.cholesky_banded(ab, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, sla.LinAlgError):
        return None
    if not np.all(np.isfinite(cb)):
        return None
    dd, jj = np.nonzero(cb)  # L[j + d, j] = cb[d, j]
    L = sp.csr_matrix((cb[dd, jj], (jj + dd, jj)), shape=(n, n))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(n)
    N = L[inv].tocsr()  # row perm[i] of N is row i of L:  N N^T = P^T Qp P = Q_h
    N.sort_indices()
    return (N.indptr.astype(np.int64), N.indices.astype(np.int64),
            np.ascontiguousarray(N.data, dtype=np.float64))


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
