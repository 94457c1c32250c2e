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

import numba as nb
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
    cache = getattr(ss, "_sym_eig", None)
    if cache is None:
        F = ss.drift.to_dense()
        scale = float(np.max(np.abs(F))) if F.size else 0.0
        cache = (None,)
        if scale > 0 and np.max(np.abs(F - F.T)) <= SYM_RTOL * scale:
            lam, U = np.linalg.eigh(0.5 * (F + F.T))
            cache = ((lam, np.ascontiguousarray(U)),)
        ss._sym_eig = cache
    return cache[0]


def eigenvalues(ss: StateSpace) -> np.ndarray:
    """Eigenvalues of F (1/s), cached on the state space (dense eigh when F is symmetric, else
    eigvals; O(n^3) once)."""
    ev = getattr(ss, "_eig_cache", None)
    if ev is None:
        sym = symmetric_eigen(ss)
        ev = sym[0].astype(complex) if sym is not None else np.linalg.eigvals(ss.drift.to_dense())
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
        raise StepError(f"unknown scheme {scheme!r}: use 'exact' or 'euler'")
    n = ss.n
    mode, nd_, NT, nsp = _noise_setup(Qh, n, sparse_ok=sparse is not None)
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

    d = np.exp(lam * h)
    c = phi1(lam) * (U.T @ u)
    Qh = None
    if Q is not None and np.any(Q):
        Qe = U.T @ Q @ U
        Qh = Qe * phi1(lam[:, None] + lam[None, :])
        Qh = 0.5 * (Qh + Qh.T)
    mode, nd_, NT, _ = _noise_setup(Qh, n, sparse_ok=False)
    return Discretization(
        scheme="exact", dt=h, kind="eigen", MT=None, indptr=None, indices=None, data=None,
        c=np.ascontiguousarray(c, dtype=np.float64), noise_mode=mode,
        noise_diag=np.ascontiguousarray(nd_), NT=NT, diag=np.ascontiguousarray(d), basis=U,
    )


def _noise_setup(Qh, n: int, sparse_ok: bool):
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


# -------------------------------------------------------------------- kernels
# Random numbers: a numpy ``Generator`` (PCG64, seeded with ``seed``) is passed into the kernel;
# numba draws from it natively (~4 ns per normal here, against ~29 ns for the legacy
# ``np.random.standard_normal`` inside numba), so a given seed gives the same stream on every run.
#
# Explicit full noise (mode 2 outside the whitened basis) is applied in blocks of ``block`` steps:
# XiT (r, block*k) normals, then ZT = N XiT (n, block*k) by one BLAS gemm per row band of N. When
# N is the Cholesky factor (lower triangular) the bands skip the zero upper triangle (~40% fewer
# flops). Each step adds c + noise and accumulates xsum in one fused pass, without temporaries.
# Diagonal noise (mode 1, and the whitened basis) draws each step's k*n normals in one tight
# loop before the update pass (~2x faster than drawing inside the update loop).
# numba ``parallel=True`` is not used: on 2 cores the gemv/gemm already runs on both (BLAS
# threads), and the remaining O(k n) loops are memory-bound.


SMALL_N = 128  # one chain below this: a plain loop beats a BLAS gemv (whose threads cost more than the work)


@nb.njit(cache=True)
def _small_gemm(A, B, C):
    """C = A @ B by plain loops, for one chain of a small system: a 2-thread OpenBLAS call costs
    more in thread hand-off than the arithmetic (500 Euler steps at n = 64: 14.3 ms through gemv,
    1.5 ms with this loop)."""
    for i in range(A.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] = 0.0
        for p in range(A.shape[1]):
            aip = A[i, p]
            for j in range(C.shape[1]):
                C[i, j] += aip * B[p, j]


@nb.njit(cache=True)
def _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT, small=False):
    """ZT = N @ XiT for fresh standard normals XiT; N packed as row bands N[s:e, :w]. ``small``:
    plain loops instead of BLAS (one chain of a small system)."""
    flat = XiT.reshape(-1)
    for i in range(flat.size):
        flat[i] = rng.standard_normal()
    for b in range(nedges.size - 1):
        s = nedges[b]
        e = nedges[b + 1]
        w = nwidth[b]
        Nb = Npack[noffs[b]:noffs[b + 1]].reshape((e - s, w))
        if small:
            _small_gemm(Nb, XiT[:w], ZT[s:e])
        else:
            np.dot(Nb, XiT[:w], ZT[s:e])  # BLAS gemm on contiguous blocks (one per block of steps)


@nb.njit(cache=True)
def _noise_buffers(mode, Npack, nwidth, n, cols):
    """Work arrays of the blocked full-noise path (mode 2): normals XiT (r_max, cols) and noise
    ZT (n, cols); 1 x 1 placeholders otherwise."""
    if mode == 2:
        rmax = 1
        for b in range(nwidth.size):
            rmax = max(rmax, nwidth[b])
        return np.empty((rmax, cols), Npack.dtype), np.empty((n, cols), Npack.dtype)
    return np.empty((1, 1), Npack.dtype), np.empty((1, 1), Npack.dtype)


@nb.njit(cache=True)
def _run_dense(MT, c, mode, noise_diag, Npack, nedges, nwidth, noffs, X0, n_steps, save_every, rng,
               samples, xsum, block):
    """x <- M x + c + N xi for all chains (rows of X); saves every ``save_every`` steps."""
    k, n = X0.shape
    X = X0.copy()
    Y = np.empty_like(X)
    XiT, ZT = _noise_buffers(mode, Npack, nwidth, n, block * k)
    Z1 = np.empty((k, n)) if mode == 1 else np.empty((1, 1))
    zf = Z1.reshape(-1)
    zpos = block
    isave = 0
    small = k == 1 and n <= SMALL_N  # no BLAS call at all (see SMALL_N)
    for step in range(n_steps):
        if small:
            _small_gemm(X, MT, Y)
        elif k == 1:
            np.dot(X[0], MT, Y[0])  # BLAS gemv
        else:
            np.dot(X, MT, Y)  # BLAS gemm
        if mode == 2:
            if zpos == block:
                _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT, small)
                zpos = 0
            z0 = zpos * k
            for a in range(k):
                za = z0 + a
                for i in range(n):
                    v = Y[a, i] + c[i] + ZT[i, za]
                    Y[a, i] = v
                    xsum[a, i] += v
            zpos += 1
        elif mode == 1:
            for j in range(zf.size):  # a tight draw loop first: ~2x faster than drawing inside
                zf[j] = rng.standard_normal()  # the update loop below
            for a in range(k):
                for i in range(n):
                    v = Y[a, i] + c[i] + noise_diag[i] * Z1[a, i]
                    Y[a, i] = v
                    xsum[a, i] += v
        else:
            for a in range(k):
                for i in range(n):
                    v = Y[a, i] + c[i]
                    Y[a, i] = v
                    xsum[a, i] += v
        X, Y = Y, X
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return X


@nb.njit(cache=True)
def _diag_steps(d, c, Z, X, step0, save_every, samples, isave, xsum):
    """x <- d * x + c + z_s for the steps s of block Z (steps, k, n; noise already drawn) and all
    chains: the recursion in the eigenbasis of a symmetric drift. No BLAS here (see ``run``)."""
    steps, k, n = Z.shape
    for s in range(steps):
        for a in range(k):
            for i in range(n):
                v = d[i] * X[a, i] + c[i] + Z[s, a, i]
                X[a, i] = v
                xsum[a, i] += v
        if (step0 + s + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = X
            isave += 1
    return isave


@nb.njit(cache=True)
def _csr_matvec(indptr, indices, data, x, y):
    """y = M x (CSR). Unsigned index arrays: numba then skips the negative-index wraparound."""
    for i in range(y.size):
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * x[indices[p]]
        y[i] = acc


@nb.njit(cache=True)
def _csr_matmat(indptr, indices, data, XT, YT):
    """YT = M XT (CSR) for state-major XT (n, k): the inner loop runs over chains, unit stride."""
    n, k = YT.shape
    for i in range(n):
        for a in range(k):
            YT[i, a] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            d = data[p]
            j = indices[p]
            for a in range(k):
                YT[i, a] += d * XT[j, a]


@nb.njit(cache=True)
def _csr_step(indptr, indices, data, XT, YT, ST, c, W, add_w):
    """YT = M XT + c (+ W) and ST += YT, row by row while the row is in cache (CSR M; chains
    state-major (n, k)). k == 1 has its own loop: a one-trip inner loop runs ~4x slower."""
    n, k = YT.shape
    if k == 1:
        x = XT.reshape(-1)
        y = YT.reshape(-1)
        st = ST.reshape(-1)
        for i in range(n):
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                acc += data[p] * x[indices[p]]
            acc += c[i]
            if add_w:
                acc += W[i, 0]
            y[i] = acc
            st[i] += acc
        return
    for i in range(n):
        for a in range(k):
            YT[i, a] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            d = data[p]
            j = indices[p]
            for a in range(k):
                YT[i, a] += d * XT[j, a]
        ci = c[i]
        if add_w:
            for a in range(k):
                v = YT[i, a] + ci + W[i, a]
                YT[i, a] = v
                ST[i, a] += v
        else:
            for a in range(k):
                v = YT[i, a] + ci
                YT[i, a] = v
                ST[i, a] += v


@nb.njit(cache=True)
def _run_sparse(indptr, indices, data, c, mode, noise_diag, Npack, nedges, nwidth, noffs,
                nindptr, nindices, ndata, X0, n_steps, save_every, rng, samples, xsum, block):
    """Same recursion with M in CSR form (indices unsigned). The chains are held state-major
    (n, k) inside, so products and updates run over chains with unit stride; mode 3 applies a
    sparse (CSR) noise factor to n fresh normals per chain and step."""
    k, n = X0.shape
    XT = np.ascontiguousarray(X0.T)
    YT = np.empty_like(XT)
    ST = np.zeros((n, k))
    XiT, ZT = _noise_buffers(mode, Npack, nwidth, n, block * k)
    XI = np.empty((n, k)) if mode == 3 else np.empty((1, 1))
    W = np.empty((n, k)) if mode == 1 or mode == 3 else np.empty((1, 1))
    zpos = block
    isave = 0
    for step in range(n_steps):
        if mode == 1:
            for i in range(n):
                si = noise_diag[i]
                for a in range(k):
                    W[i, a] = si * rng.standard_normal()
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, True)
        elif mode == 2:
            if zpos == block:
                _noise_block(rng, Npack, nedges, nwidth, noffs, XiT, ZT)
                zpos = 0
            _csr_step(indptr, indices, data, XT, YT, ST, c, ZT[:, zpos * k:(zpos + 1) * k], True)
            zpos += 1
        elif mode == 3:
            xf = XI.reshape(-1)
            for i in range(xf.size):
                xf[i] = rng.standard_normal()
            if k == 1:
                _csr_matvec(nindptr, nindices, ndata, xf, W.reshape(-1))
            else:
                _csr_matmat(nindptr, nindices, ndata, XI, W)
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, True)
        else:
            _csr_step(indptr, indices, data, XT, YT, ST, c, W, False)
        XT, YT = YT, XT
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            samples[isave] = XT.T
            isave += 1
    xsum += ST.T
    return np.ascontiguousarray(XT.T)


def noise_block(k: int, n: int) -> int:
    """Steps of full-matrix noise generated per gemm: ~256 rows, at most ~32 MB of buffer."""
    b = max(1, 256 // max(k, 1))
    return int(max(1, min(b, 4_000_000 // max(k * n, 1))))


NOISE_BAND_ROWS = 128  # smallest row band of a triangular noise factor (keeps each gemm efficient)
NOISE_MAX_BANDS = 16


def noise_bands(NT: np.ndarray):
    """Pack N = NT^T as row bands for :func:`_noise_block`: (Npack, edges, widths, offsets).

    Band b holds N[edges[b]:edges[b+1], :widths[b]] (C order). For a lower-triangular N (the
    Cholesky factor) widths[b] = edges[b+1], so the zero upper triangle is skipped: with m bands
    the noise gemm costs (m + 1) / (2 m) of the full product. Otherwise one band of width r.
    """
    r, n = NT.shape
    N = NT.T
    if r == n and n >= 2 * NOISE_BAND_ROWS and not np.any(np.tril(NT, -1)):
        rows = max(NOISE_BAND_ROWS, -(-n // NOISE_MAX_BANDS))
        edges = np.append(np.arange(0, n, rows), n).astype(np.int64)
        widths = edges[1:].copy()
    else:
        edges = np.array([0, n], dtype=np.int64)
        widths = np.array([r], dtype=np.int64)
    parts = [np.ascontiguousarray(N[edges[b]:edges[b + 1], :widths[b]], dtype=np.float64).ravel()
             for b in range(len(widths))]
    offs = np.concatenate([[0], np.cumsum([p.size for p in parts])]).astype(np.int64)
    return np.concatenate(parts), edges, widths, offs


_EMPTY_F = np.zeros(1)
_EMPTY_I = np.zeros(2, dtype=np.int64)
_EMPTY_U = np.zeros(2, dtype=np.uint64)


def _unsigned(disc: Discretization, *names):
    """uint64 copies of CSR index arrays for the kernels, cached on ``disc`` per source array."""
    out = []
    for nm in names:
        src = getattr(disc, nm)
        key = "_u_" + nm
        cache = disc.__dict__.get(key)
        if cache is None or cache[0] is not src:
            cache = (src, np.ascontiguousarray(src, dtype=np.uint64))
            disc.__dict__[key] = cache
        out.append(cache[1])
    return out


def _kernel_noise(disc: Discretization):
    """Packed full-noise factor for the kernels, cached on ``disc`` (rebuilt if NT is replaced)."""
    if disc.noise_mode != NOISE_FULL:
        return _EMPTY_F, _EMPTY_I, _EMPTY_I[:1], _EMPTY_I
    cache = disc.__dict__.get("_bands")
    if cache is None or cache[0] is not disc.NT:
        cache = (disc.NT, *noise_bands(disc.NT))
        disc.__dict__["_bands"] = cache
    return cache[1:]


WHITEN_MIN_STEPS = 64  # shorter runs apply N explicitly (the change of basis costs ~3 steps)
WHITEN_MAX_COND = 1e4  # largest cond_1(L) for which the whitened basis is used


def whitened(disc: Discretization):
    """(L, L^T, MwT, cw) of the whitened recursion for full noise with a Cholesky factor, else None.

    With N = L lower triangular (N N^T = Q_h) and y = L^-1 x, the recursion
    x' = M x + c + L xi  is exactly  y' = Mw y + cw + xi,  Mw = L^-1 M L = I + L^-1 (M - I) L,
    cw = L^-1 c: the same process, but its noise is n independent standard normals per chain and
    step, so the n x n noise product disappears from every step (the per-step cost becomes that
    of diagonal noise). x = L y is formed only for what ``run`` returns.

    Round-off: forming Mw and mapping back multiply the relative rounding errors of the
    deterministic part by at most ~cond(L) = sqrt(cond(Q_h)); the basis is used only when the
    LAPACK estimate of cond_1(L) is <= WHITEN_MAX_COND (errors <= ~1e-12 relative), otherwise
    (and for a semidefinite Q_h, whose factor is not triangular) N is applied explicitly.
    Cached on ``disc`` (rebuilt if MT, NT or c are replaced).
    """
    key = (disc.MT, disc.NT, disc.c)
    cache = disc.__dict__.get("_white")
    if cache is not None and all(a is b for a, b in zip(cache[0], key)):
        return cache[1]
    res = None
    NT = disc.NT
    r, n = NT.shape
    if (disc.kind == "dense" and disc.noise_mode == NOISE_FULL and r == n
            and not np.any(np.tril(NT, -1)) and np.all(np.diag(NT) > 0)):
        from scipy.linalg import lapack

        L = np.ascontiguousarray(NT.T)
        rcond, info = lapack.dtrcon(L, norm="1", uplo="L", diag="N")
        if info == 0 and rcond * WHITEN_MAX_COND >= 1.0:
            D = disc.MT.T - np.eye(n)
            Mw = sla.solve_triangular(L, D @ L, lower=True, check_finite=False)
            Mw[np.diag_indices(n)] += 1.0
            cw = sla.solve_triangular(L, disc.c, lower=True, check_finite=False)
            if np.all(np.isfinite(Mw)) and np.all(np.isfinite(cw)):
                res = (L, np.ascontiguousarray(NT), np.ascontiguousarray(Mw.T), np.ascontiguousarray(cw))
    disc.__dict__["_white"] = (key, res)
    return res


@nb.njit(cache=True)
def _from_white(Y, LT, chunk):
    """x = L y for the rows of Y (rows, n), in place, one gemm per ``chunk`` rows. Inside numba so
    that it runs on the kernels' BLAS: a numpy matmul here would wake numpy's own OpenBLAS
    threads, whose spinning then slows the next run's gemms on a 2-core machine."""
    rows, n = Y.shape
    if rows == 0:
        return
    tmp = np.empty((min(chunk, rows), n))
    for r0 in range(0, rows, chunk):
        r1 = min(r0 + chunk, rows)
        t = tmp[:r1 - r0]
        np.dot(Y[r0:r1], LT, t)
        Y[r0:r1] = t


def _run_eigen(disc: Discretization, X0, n_steps: int, save_every: int, rng, samples, xsum):
    """The eigenbasis recursion (kind 'eigen'). Every product here (x <-> y = U^T x, the noise
    N xi for a block of steps) goes through numpy's BLAS, as the set-up (eigh, U^T Q U) does: the
    numba kernels call scipy's OpenBLAS, and alternating between two OpenBLAS libraries makes
    each wait for the other's spinning idle threads (a 2-thread n = 256 solve took 3x longer)."""
    k, n = X0.shape
    U = disc.basis
    Y = X0 @ U  # chains as rows: y^T = x^T U
    steps_per_block = max(1, min(n_steps, noise_block(k, n) * 4))
    Z = np.empty((steps_per_block, k, n))
    NT = disc.NT
    isave, done = 0, 0
    while done < n_steps:
        s = min(steps_per_block, n_steps - done)
        Zs = Z[:s]
        if disc.noise_mode == NOISE_FULL:
            Xi = rng.standard_normal((s * k, NT.shape[0]))
            np.matmul(Xi, NT, out=Zs.reshape(s * k, n))  # rows of N xi, N = NT^T
        elif disc.noise_mode == NOISE_DIAG:
            rng.standard_normal(out=Zs.reshape(-1))
            Zs *= disc.noise_diag
        else:
            Zs[...] = 0.0
        isave = _diag_steps(disc.diag, disc.c, Zs, Y, done, save_every, samples, isave, xsum)
        done += s
    UT = U.T
    flat = samples.reshape(-1, n)
    for r0 in range(0, flat.shape[0], 4096):  # x = U y, in place, bounded temporaries
        flat[r0:r0 + 4096] = flat[r0:r0 + 4096] @ UT
    xsum[...] = xsum @ UT
    return Y @ UT, samples, xsum


def run(disc: Discretization, X0: np.ndarray, n_steps: int, save_every: int, seed: int):
    """Advance chains X0 (k, n) by ``n_steps``; returns (X_final, samples, xsum).

    samples: (n_steps // save_every, k, n), the state after every ``save_every`` steps;
    xsum: (k, n), the sum of the state after each step (for time averages).
    The normals come from ``numpy.random.Generator(PCG64(seed & 0xFFFFFFFF))``: the same seed
    gives bit-identical results (for the same BLAS and thread count).
    Full noise with a well-conditioned Cholesky factor runs in the whitened basis (see
    :func:`whitened`) when ``n_steps >= WHITEN_MIN_STEPS``.
    """
    X0 = np.ascontiguousarray(X0, dtype=np.float64)
    k, n = X0.shape
    n_steps = int(n_steps)
    save_every = max(1, int(save_every))
    samples = np.zeros((n_steps // save_every, k, n))
    xsum = np.zeros((k, n))
    seed = int(seed) & 0xFFFFFFFF
    rng = np.random.Generator(np.random.PCG64(seed))
    block = noise_block(k, n)
    if disc.kind == "eigen":
        return _run_eigen(disc, X0, n_steps, save_every, rng, samples, xsum)
    if disc.kind == "dense":
        # a single small chain skips the whitened basis: its set-up and back-transform are BLAS
        # calls (scipy's trsm, numba's gemm) that cost more in thread hand-off than they save
        white = whitened(disc) if n_steps >= WHITEN_MIN_STEPS and (n > SMALL_N or k > 1) else None
        if white is not None:
            L, LT, MwT, cw = white
            Y0 = np.ascontiguousarray(sla.solve_triangular(L, X0.T, lower=True, check_finite=False).T)
            Y = _run_dense(MwT, cw, NOISE_DIAG, np.ones(n), _EMPTY_F, _EMPTY_I, _EMPTY_I[:1],
                           _EMPTY_I, Y0, n_steps, save_every, rng, samples, xsum, block)
            for arr in (Y, samples.reshape(-1, n), xsum):
                _from_white(arr, LT, 4096)
            return Y, samples, xsum
        Npack, nedges, nwidth, noffs = _kernel_noise(disc)
        X = _run_dense(disc.MT, disc.c, disc.noise_mode, disc.noise_diag, Npack, nedges, nwidth,
                       noffs, X0, n_steps, save_every, rng, samples, xsum, block)
    else:
        Npack, nedges, nwidth, noffs = _kernel_noise(disc)
        ip, ix = _unsigned(disc, "indptr", "indices")
        if disc.noise_mode == NOISE_SPARSE:
            (nip, nix), ndt = _unsigned(disc, "noise_indptr", "noise_indices"), disc.noise_data
        else:
            nip, nix, ndt = _EMPTY_U, _EMPTY_U, _EMPTY_F
        X = _run_sparse(ip, ix, np.ascontiguousarray(disc.data, dtype=np.float64), disc.c,
                        disc.noise_mode, disc.noise_diag, Npack, nedges, nwidth, noffs, nip, nix,
                        np.ascontiguousarray(ndt, dtype=np.float64), X0, n_steps, save_every, rng,
                        samples, xsum, block)
    return X, samples, xsum
