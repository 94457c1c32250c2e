"""The trapezoidal (implicit-midpoint) scheme for dx = (F x + B u) dt + dW, cov(dW) = Q dt:

    (I - hF/2) x_{k+1} = (I + hF/2) x_k + h B u + dW_k,     dW_k ~ N(0, h Q).

Why this scheme (SPICE's own integrator): with L = (I - hF/2)^-1 and M = L (I + hF/2) the step is
x' = M x + h L B u + L dW, and

* its stationary mean m solves (I - hF/2) m = (I + hF/2) m + h B u, i.e. F m + B u = 0: exact;
* its stationary covariance P solves P = M P M^T + h L Q L^T. Multiplying by (I - hF/2) on both
  sides, (I - hF/2) P (I - hF/2)^T = (I + hF/2) P (I + hF/2)^T + h Q, and the h^2 terms cancel:
  h (F P + P F^T + Q) = 0, the continuous Lyapunov equation. Exact for every step h;
* it is A-stable (|eigenvalues of M| < 1 for every stable F and every h > 0) and second order
  for transients.

So the step is set by the slowest dynamics and the accuracy asked of transients, not by the
stiffest mode (:class:`~spucircuit.linalg.solve.RunPolicy`), and each step costs one product with
(I + hF/2) and one solve with the factorisation of (I - hF/2), computed once per step size:

* ``kind='sparse'`` (a CSR drift): SuperLU (an LDL^T with a symmetric ordering for a symmetric
  drift, else COLAMD with pivoting: :func:`_factor`); its triangular factors are run by a
  numba kernel with the chains as multiple right-hand sides, the noise G xi from a sparse factor G
  of Q (G G^T = Q: the compile's one column per noise source, or a banded Cholesky, or the
  diagonal). Nothing n x n is formed. For a symmetric drift whose factor would fill badly (3-D
  grids: :func:`~spucircuit.integrate.amg_pcg.prefer_amg`) the solve is instead algebraic-
  multigrid-preconditioned CG to a relative residual of 1e-12, warm-started from the previous
  state, one chain at a time (``inner='amg-pcg'``, :mod:`spucircuit.integrate.amg_pcg`: O(nnz)
  per step, no factor);
* ``kind='dense'``, ``form='factored'`` (few chains, the default of a solve): LAPACK's LU of
  I - hF/2 and a factor G of Q (Cholesky, G G^T = Q), about n^3 flops to set up; a numba kernel
  runs each step as one pair of triangular solves and one triangular product, using
  (I - hF/2)^-1 (I + hF/2) x = (I - hF/2)^-1 (2 x) - x (so I + hF/2 is never formed):
  x' = (I - hF/2)^-1 (2 x + h B u + sqrt(h) G xi) - x. The set-up (LU and G) is cached by the
  content of F and Q (:func:`_dense_factors`), so passes on the same circuit at other inputs
  (auto-ranging, then the run) factor it once;
* ``kind='dense'``, ``form='affine'`` (many chains): M = 2 L - I and Q_h = h L Q L^T (L = (I - hF/2)^-1)
  as an ordinary affine recursion for the BLAS kernels of :mod:`spucircuit.integrate.kernels`
  (about 19 n^3 flops to set up, then one gemm per step for all chains).

The scheme is not L-stable: a mode with h |lambda| >> 1 has multiplier about -1 + 4 / (h |lambda|),
so a start far from equilibrium leaves slowly decaying, sign-alternating stiff components. A run
may therefore begin with ``damp_steps`` damped steps, each two backward-Euler half steps
(I - hF/2) x' = x + (h/2) B u + dW(h/2): the same factorisation, multiplier 1 / (1 + h |lambda|/2)
per half step (L-stable), the same stationary mean. They cover analog time h each.
"""
from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit.errors import StepError
from spucircuit.integrate import amg_pcg
from spucircuit.integrate.discretize import (
    Discretization,
    noise_setup,
    sparse_noise_factor,
)
from spucircuit.integrate.kernels import run as run_affine
from spucircuit.statespace.model import StateSpace, noise_factor
from spucircuit.statespace.operators import DENSITY_THRESHOLD, SparseDrift

DAMP_STEPS = 6  # damped steps (2 backward-Euler half steps each) at the start of a run from a new state
DIAG_RTOL = 1e-13
FACTORED_MAX_CHAINS = 2  # dense drift: the factored form for runs of up to this many chains (dense_form)


@dataclass
class TrapezoidalDiscretization:
    """One trapezoidal step size: what the kernels need (arrays and factors, no Python per step).

    dense : ``step`` / ``damp`` are affine recursions (:class:`Discretization`) of one trapezoidal
            step and of one damped step (two backward-Euler half steps).
    sparse: R = I + hF/2 (CSR), the SuperLU factors of I - hF/2 (L strictly lower and U strictly
            upper in CSR, U's diagonal, row / column permutations), c = h B u and the noise factor
            G (CSR, n x m, G G^T = Q; None without noise).
    """

    dt: float
    kind: str
    n: int
    step: Discretization | None = None
    damp: Discretization | None = None
    R: tuple | None = None
    lu: tuple | None = None
    c: np.ndarray | None = None
    G: tuple | None = None
    noise_m: int = 0
    factor_nnz: int = 0  # non-zeros of L + U (sparse), the per-step work besides R and G
    scheme: str = "trapezoidal"
    form: str = "affine"  # dense: 'affine' (step / damp) or 'factored' (lu = (LU^T, pivots), G = (G^T,))
    G_lower: bool = False  # dense factored: G is lower triangular (a Cholesky factor)
    inner: str = "direct"  # sparse: 'direct' (SuperLU factor in lu) or 'amg-pcg' (amg, the matrix I - hF/2 in lu)
    amg: object = None  # sparse 'amg-pcg': the AMGHierarchy
    pcg_iterations: int = 0  # sparse 'amg-pcg': the most inner iterations one solve took so far

    @property
    def inner_solve(self) -> dict | None:
        """The sparse step's inner solve, for a result's info (None for a dense drift)."""
        if self.kind != "sparse":
            return None
        if self.inner == "direct":
            return {"method": "direct", "factor_nnz": int(self.factor_nnz)}
        return {"method": "amg-pcg", "rtol": amg_pcg.PCG_RTOL, "levels": int(len(self.amg.sizes)),
                "operator_complexity": self.amg.operator_complexity, "max_iterations": int(self.pcg_iterations),
                "mean_error_rel": self.amg.mean_error_rel}

    @property
    def work_per_chain_step(self) -> float:
        """Multiply-adds per chain and step (the run-time estimate)."""
        if self.kind == "dense":
            if self.form == "factored" and self.G is not None:
                return float(self.n) ** 2 * (1.5 if self.G_lower else 1.0 + self.noise_m / self.n)
            return float(self.n) ** 2
        return float(self.R[2].size + self.factor_nnz + (0 if self.G is None else self.G[2].size) + self.noise_m)


def _csr_arrays(m) -> tuple:
    """(indptr, indices, data) for the kernels, int64 indices (int32 would save a third of the
    factor's memory but measured no faster per step: the kernel is latency-bound, not bandwidth-bound)."""
    m = sp.csr_matrix(m, dtype=np.float64)
    m.sum_duplicates()
    m.sort_indices()
    return (m.indptr.astype(np.int64), m.indices.astype(np.int64), np.ascontiguousarray(m.data, dtype=np.float64))


def use_sparse(ss: StateSpace) -> bool:
    """A CSR drift with fewer than DENSITY_THRESHOLD x n^2 non-zeros runs on the sparse factor."""
    d = ss.drift
    return isinstance(d, SparseDrift) and d.nnz < DENSITY_THRESHOLD * float(d.n) ** 2


def diffusion_factor(ss: StateSpace):
    """A sparse G (CSR, n x m) with G G^T = Q, or None if Q = 0.

    In order: the compile's own factor (one column per virtual ground or noise source: Johnson
    noise is a sum of rank-one terms), the square root of a diagonal Q, a banded sparse Cholesky
    factor (:func:`~spucircuit.integrate.discretize.sparse_noise_factor`), and last the
    eigen-factor of a dense Q (an n x r array: only for a Q that arrived dense)."""
    G = getattr(ss, "diffusion_factor", None)
    if G is not None:
        return sp.csr_matrix(G) if G.nnz else None
    Q = ss.diffusion
    if sp.issparse(Q):
        Q = sp.csr_matrix(Q)
        if Q.nnz == 0:
            return None
        d = Q.diagonal()
        off = Q - sp.diags(d)
        scale = float(np.max(np.abs(d)))
        if off.nnz == 0 or float(np.max(np.abs(off.data))) <= DIAG_RTOL * scale:
            return sp.diags(np.sqrt(np.clip(d, 0.0, None))).tocsr()
        nsp = sparse_noise_factor(Q)
        if nsp is not None:
            return sp.csr_matrix((nsp[2], nsp[1], nsp[0]), shape=Q.shape)
        Q = Q.toarray()
    Q = np.asarray(Q, dtype=float)
    if not np.any(Q):
        return None
    kind, fac = noise_factor(Q)
    return sp.diags(fac).tocsr() if kind == "diag" else sp.csr_matrix(fac)


def dense_form(chains: int) -> str:
    """The dense form for a run of ``chains`` chains: 'factored' (n^3 set-up, triangular solves
    per chain in numba) up to FACTORED_MAX_CHAINS, else 'affine' (19 n^3 set-up, then one BLAS
    gemm per step for all chains: cheaper once many chains share it)."""
    return "factored" if int(chains) <= FACTORED_MAX_CHAINS else "affine"


def discretize_trapezoidal(ss: StateSpace, dt: float, noise: bool = True, sparse: bool | None = None,
                           form: str = "affine", inner: str | None = None,
                           chains: int = 1) -> TrapezoidalDiscretization:
    """The trapezoidal step of ``ss`` at step ``dt`` (s); ``sparse`` None: :func:`use_sparse`;
    ``form``: a dense drift's 'affine' or 'factored' form (module doc, :func:`dense_form`);
    ``inner``: a sparse drift's inner solve, 'direct', 'amg-pcg' (a symmetric drift only) or
    None (:func:`~spucircuit.integrate.amg_pcg.prefer_amg` chooses, for runs of ``chains`` chains)."""
    if not (np.isfinite(dt) and dt > 0):
        raise StepError(f"time step must be finite and > 0 s, got {dt!r}")
    if form not in ("affine", "factored"):
        raise StepError(f"trapezoidal form must be 'affine' or 'factored', got {form!r}")
    if inner not in (None, "direct", "amg-pcg"):
        raise StepError(f"trapezoidal inner solve must be 'direct', 'amg-pcg' or None, got {inner!r}")
    h = float(dt)
    n = ss.n
    sparse = use_sparse(ss) if sparse is None else bool(sparse)
    Bu = np.asarray(ss.offset, dtype=float)
    if sparse:
        F = ss.drift.csr if isinstance(ss.drift, SparseDrift) else sp.csr_matrix(ss.drift.to_dense())
        R, factors, factor_nnz, hier = _sparse_factors(F, h, inner, chains)
        G = diffusion_factor(ss) if noise else None
        return TrapezoidalDiscretization(
            dt=h, kind="sparse", n=n, R=R, lu=factors,
            c=np.ascontiguousarray(h * Bu), G=None if G is None else _csr_arrays(G),
            noise_m=0 if G is None else G.shape[1], factor_nnz=factor_nnz,
            inner="direct" if hier is None else "amg-pcg", amg=hier)
    if form == "factored":
        LUT, piv, GT, lower = _dense_factors(ss, h, noise)
        return TrapezoidalDiscretization(
            dt=h, kind="dense", n=n, form="factored", lu=(LUT, piv), c=np.ascontiguousarray(h * Bu),
            G=None if GT is None else (GT,), noise_m=0 if GT is None else GT.shape[0], G_lower=lower)
    F = ss.drift.to_dense()
    I = np.eye(n)
    with np.errstate(all="ignore"):
        fac = sla.lu_factor(I - (0.5 * h) * F, check_finite=False)
    piv = np.abs(np.diag(fac[0]))
    if not np.all(np.isfinite(piv)) or piv.min() == 0:
        raise StepError(f"I - hF/2 is singular at step {h:.4g} s: the drift has an eigenvalue 2/h")
    Li = sla.lu_solve(fac, I, check_finite=False)  # L = (I - hF/2)^-1
    M = 2.0 * Li - I  # L (I + hF/2) = L (2 I - (I - hF/2)) = 2 L - I
    LBu = h * (Li @ Bu)
    Qh = Qd = None
    if noise:
        Q = ss.diffusion.toarray() if sp.issparse(ss.diffusion) else np.asarray(ss.diffusion, dtype=float)
        if np.any(Q):
            LQ = Li @ Q
            Qh = h * (LQ @ Li.T)
            Qh = 0.5 * (Qh + Qh.T)
            L2 = Li @ Li
            Qd = 0.5 * h * (L2 @ Q @ L2.T + LQ @ Li.T)  # two half steps: (h/2)(L^2 Q L^2T + L Q L^T)
            Qd = 0.5 * (Qd + Qd.T)
    step = _affine(h, M, LBu, Qh, n)
    damp = _affine(h, Li @ Li, Li @ (0.5 * LBu) + 0.5 * LBu, Qd, n)
    return TrapezoidalDiscretization(dt=h, kind="dense", n=n, step=step, damp=damp)


_LU_CACHE: dict = {}  # one entry: (kind, n, h, digest of F) -> factors (_sparse_factors, _dense_factors)


def _digest(a) -> tuple:
    a = np.ascontiguousarray(a)
    return a.shape, a.dtype.str, hashlib.blake2b(a.data, digest_size=20).digest()


def _is_lower(G) -> bool:
    return not np.any(np.triu(G, 1))


def _sparse_factors(F, h: float, inner: str | None = None, chains: int = 1) -> tuple:
    """(R = I + hF/2 as CSR arrays, the kernel's SuperLU factor arrays of I - hF/2, their
    non-zeros, None) for a CSR drift, cached by the content of F, h and ``inner`` (one entry, as
    :func:`_dense_factors`): auto-ranging's pass and the run factor the same drift once. With the
    AMG-PCG inner solve (``inner``, :func:`discretize_trapezoidal`): (R, I - hF/2 as CSR arrays,
    the estimated multiply-adds of one inner solve, the AMGHierarchy)."""
    n = F.shape[0]
    F = sp.csr_matrix(F)
    key = ("sparse", n, h, inner, int(chains) <= amg_pcg.FEW_CHAINS, _digest(F.indptr), _digest(F.indices), _digest(F.data))
    hit = _LU_CACHE.get(key)
    if hit is not None:
        return hit
    _LU_CACHE.clear()
    eye = sp.identity(n, format="csr")
    M = sp.csr_matrix(eye - (0.5 * h) * F)
    if inner != "direct":
        sym = _symmetric(M)
        if inner == "amg-pcg" and not sym:
            raise StepError("the AMG-PCG inner solve needs a symmetric drift (I - hF/2 symmetric positive definite)")
        if inner == "amg-pcg" or amg_pcg.prefer_amg(M, sym, chains):
            h_lam_max = float(np.max(np.abs(F).sum(axis=1))) * h  # Gershgorin: h lambda_max(-F) <= h max row sum
            hier = amg_pcg.build_hierarchy(M, h_lam_max)
            work = int(amg_pcg.TYPICAL_ITERATIONS * hier.work_per_iteration)
            out = _LU_CACHE[key] = (_csr_arrays(eye + (0.5 * h) * F), _csr_arrays(M), work, hier)
            return out
    lu = _factor(sp.csc_matrix(M), h)
    del M
    perm_r, perm_c = lu.perm_r.astype(np.int64), lu.perm_c.astype(np.int64)
    L = sp.tril(lu.L, -1, format="csr")
    U = lu.U.tocsr()
    del lu
    Ud = U.diagonal().copy()
    Us = sp.triu(U, 1, format="csr")
    nnz = int(L.nnz + U.nnz)
    del U
    if not (np.all(np.isfinite(Ud)) and np.all(Ud != 0)):
        raise StepError(f"I - hF/2 is singular at step {h:.4g} s: the drift has an eigenvalue 2/h")
    factors = (*_csr_arrays(L), *_csr_arrays(Us), np.ascontiguousarray(1.0 / Ud), perm_r, perm_c)
    del L, Us
    out = _LU_CACHE[key] = (_csr_arrays(eye + (0.5 * h) * F), factors, nnz, None)
    return out


def _dense_factors(ss: StateSpace, h: float, noise: bool) -> tuple:
    """(LU^T C-contiguous, LAPACK's 1-based int32 pivots, G^T C-contiguous or None, G lower triangular) for a
    dense drift: LAPACK's LU of I - hF/2 (2/3 n^3 flops) and a factor G G^T = Q (Cholesky,
    1/3 n^3; the eigen-factor if Q is only semidefinite). The LU is cached by the content of F
    (one entry, so memory stays that of one factorisation): the same circuit run again at other
    inputs reuses it (auto-ranging, then the run). G is not: the input resistors' Johnson noise
    changes Q's diagonal with the inputs' scale."""
    F = ss.drift.to_dense()
    n = F.shape[0]
    key = ("dense", n, h, _digest(F))
    lu = _LU_CACHE.get(key)
    if lu is None:
        _LU_CACHE.clear()  # the old entry's memory goes before the new one is made
        M = np.empty((n, n), order="F")  # LAPACK's layout, so that the LU overwrites it (no copy)
        np.multiply(F, -0.5 * h, out=M)
        M[np.diag_indices(n)] += 1.0
        with np.errstate(all="ignore"):
            LU, piv = sla.lu_factor(M, overwrite_a=True, check_finite=False)
        del M
        d = np.abs(np.diag(LU))
        if not np.all(np.isfinite(LU)) or d.min() == 0:
            raise StepError(f"I - hF/2 is singular at step {h:.4g} s: the drift has an eigenvalue 2/h")
        lu = _LU_CACHE[key] = (np.ascontiguousarray(LU.T), (piv + 1).astype(np.int32))  # LAPACK's 1-based pivots
        del LU
    Q = None
    if noise:
        Q = ss.diffusion.toarray() if sp.issparse(ss.diffusion) else np.asarray(ss.diffusion, dtype=float)
    if Q is None or not np.any(Q):
        return (*lu, None, False)
    try:
        G = np.linalg.cholesky(Q)
        if not np.all(np.isfinite(G)):
            raise np.linalg.LinAlgError("non-finite Cholesky factor")
        lower = True
    except np.linalg.LinAlgError:  # semidefinite (states without noise): rank-revealing factor
        kind, fac = noise_factor(Q)
        G = np.diag(fac) if kind == "diag" else fac
        lower = G.shape[1] == n and _is_lower(G)
    g = (np.ascontiguousarray(G.T), lower)
    return (*lu, *g)


def _symmetric(M) -> bool:
    D = (M - M.T).tocoo()
    return D.nnz == 0 or float(np.max(np.abs(D.data))) <= DIAG_RTOL * float(np.max(np.abs(M.data)))


def _factor(M, h: float):
    """SuperLU of M = I - hF/2. A symmetric M (an ideal array's drift) is factored as LDL^T: a
    symmetric minimum-degree ordering and no pivoting (about half COLAMD's fill on grids: 44e6
    instead of 96e6 non-zeros for 3-D Poisson 40^3), kept if it completes with a symmetric
    permutation and positive pivots (M positive definite); otherwise, and for a non-symmetric M,
    COLAMD with partial pivoting."""
    try:
        if _symmetric(M):
            lu = spla.splu(M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=dict(SymmetricMode=True))
            if np.all(lu.perm_r == lu.perm_c) and np.all(lu.U.diagonal() > 0):
                return lu
        return spla.splu(M, permc_spec="COLAMD")
    except RuntimeError as exc:
        raise StepError(f"I - hF/2 is singular at step {h:.4g} s ({exc}): the drift has an eigenvalue 2/h") from None


def _affine(h, M, c, Qh, n) -> Discretization:
    mode, nd_, NT, _ = noise_setup(Qh, n, sparse_ok=False)
    return Discretization(scheme="trapezoidal", dt=h, kind="dense", MT=np.ascontiguousarray(M.T), indptr=None,
                          indices=None, data=None, c=np.ascontiguousarray(c, dtype=np.float64), noise_mode=mode,
                          noise_diag=np.ascontiguousarray(nd_), NT=NT)


# ------------------------------------------------------------------ kernels
@nb.njit(cache=True)
def _lu_solve(Lp, Li, Lx, Up, Ui, Ux, Udinv, perm_r, perm_c, B, W, X):
    """X = (I - hF/2)^-1 B for state-major B (n, k), from SuperLU's Pr A Pc = L U (L unit lower,
    its strict part here; U's strict part and 1 / diagonal): W = Pr B, W <- U^-1 L^-1 W, X = Pc W."""
    n, k = B.shape
    for i in range(n):
        r = perm_r[i]
        for a in range(k):
            W[r, a] = B[i, a]
    for i in range(n):
        for p in range(Lp[i], Lp[i + 1]):
            j = Li[p]
            v = Lx[p]
            for a in range(k):
                W[i, a] -= v * W[j, a]
    for i in range(n - 1, -1, -1):
        for p in range(Up[i], Up[i + 1]):
            j = Ui[p]
            v = Ux[p]
            for a in range(k):
                W[i, a] -= v * W[j, a]
        d = Udinv[i]
        for a in range(k):
            W[i, a] *= d
    for i in range(n):
        r = perm_c[i]
        for a in range(k):
            X[i, a] = W[r, a]


@nb.njit(cache=True)
def _trap_rhs(Rp, Ri, Rx, c, Gp, Gi, Gx, m, sqrt_h, damped, XT, rng, XI, RHS):
    """RHS (n, k) of one (half) step for state-major chains XT: R x + c + sqrt(h) G xi, or for a
    damped half step x + c/2 + sqrt(h/2) G xi."""
    n, k = XT.shape
    if damped:
        s_noise = sqrt_h * np.sqrt(0.5)
        for i in range(n):
            for a in range(k):
                RHS[i, a] = XT[i, a] + 0.5 * c[i]
    else:
        s_noise = sqrt_h
        for i in range(n):
            ci = c[i]
            for a in range(k):
                RHS[i, a] = ci
            for p in range(Rp[i], Rp[i + 1]):
                v = Rx[p]
                j = Ri[p]
                for a in range(k):
                    RHS[i, a] += v * XT[j, a]
    if m > 0:
        for q in range(m):
            for a in range(k):
                XI[q, a] = rng.standard_normal()
        for i in range(n):
            for p in range(Gp[i], Gp[i + 1]):
                v = s_noise * Gx[p]
                j = Gi[p]
                for a in range(k):
                    RHS[i, a] += v * XI[j, a]


@nb.njit(cache=True)
def _trap_save(XT, step, save_every, isave, samples, ST):
    n, k = XT.shape
    for i in range(n):
        for a in range(k):
            ST[i, a] += XT[i, a]
    if (step + 1) % save_every == 0 and isave < samples.shape[0]:
        for a in range(k):
            for i in range(n):
                samples[isave, a, i] = XT[i, a]
        return isave + 1
    return isave


@nb.njit(cache=True)
def _run_sparse_trap(Rp, Ri, Rx, c, Gp, Gi, Gx, m, Lp, Li, Lx, Up, Ui, Ux, Udinv, perm_r, perm_c, sqrt_h,
                     XT, n_steps, damp_steps, save_every, rng, samples, ST):
    """Advance state-major chains XT (n, k) in place by ``n_steps`` trapezoidal steps, the first
    ``damp_steps`` of them each two backward-Euler half steps; saves every ``save_every`` steps
    (samples (m_saved, k, n)) and sums the state after every step into ST (n, k)."""
    n, k = XT.shape
    RHS = np.empty((n, k))
    W = np.empty((n, k))
    XI = np.empty((max(m, 1), k))
    isave = 0
    for step in range(n_steps):
        damped = step < damp_steps
        for half in range(2 if damped else 1):
            _trap_rhs(Rp, Ri, Rx, c, Gp, Gi, Gx, m, sqrt_h, damped, XT, rng, XI, RHS)
            _lu_solve(Lp, Li, Lx, Up, Ui, Ux, Udinv, perm_r, perm_c, RHS, W, XT)
        isave = _trap_save(XT, step, save_every, isave, samples, ST)


@nb.njit(cache=True)
def _run_sparse_trap_amg(Rp, Ri, Rx, c, Gp, Gi, Gx, m, hier, rtol, maxiter, sqrt_h, XT, n_steps, damp_steps,
                         save_every, rng, samples, ST):
    """:func:`_run_sparse_trap` with the inner solve (I - hF/2) x' = RHS by AMG-preconditioned CG
    (``hier``: :meth:`AMGHierarchy.arrays`), chain by chain (contiguous vectors), each from the
    chain's previous state to |RHS - (I - hF/2) x'|_2 <= rtol |RHS|_2. Returns the most
    iterations one solve took (maxiter + 1: one did not converge; the run stops there)."""
    n, k = XT.shape
    RHS = np.empty((n, k))
    XI = np.empty((max(m, 1), k))
    bvec = np.empty(n)
    xvec = np.empty(n)
    tot = hier[1][-1]
    W = (np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(tot), np.zeros(tot), np.zeros(tot))
    isave = 0
    worst = 0
    for step in range(n_steps):
        damped = step < damp_steps
        for half in range(2 if damped else 1):
            _trap_rhs(Rp, Ri, Rx, c, Gp, Gi, Gx, m, sqrt_h, damped, XT, rng, XI, RHS)
            for a in range(k):
                for i in range(n):
                    bvec[i] = RHS[i, a]
                    xvec[i] = XT[i, a]
                it = amg_pcg.pcg_solve(*hier, bvec, xvec, W, rtol, maxiter)
                worst = max(worst, it)
                if it > maxiter:
                    return worst
                for i in range(n):
                    XT[i, a] = xvec[i]
        isave = _trap_save(XT, step, save_every, isave, samples, ST)
    return worst


_VP = ctypes.c_void_p
_LAPACK: dict = {}


def _lapack() -> tuple:
    """(dgetrs, dtrmm, dgemm) of scipy's LAPACK / BLAS as ctypes function pointers, passed to the
    numba kernel as arguments (so the kernel still caches: no pointer is a global)."""
    if not _LAPACK:
        from numba.extending import get_cython_function_address as addr

        _LAPACK["f"] = (ctypes.CFUNCTYPE(None, *[_VP] * 9)(addr("scipy.linalg.cython_lapack", "dgetrs")),
                        ctypes.CFUNCTYPE(None, *[_VP] * 11)(addr("scipy.linalg.cython_blas", "dtrmm")),
                        ctypes.CFUNCTYPE(None, *[_VP] * 13)(addr("scipy.linalg.cython_blas", "dgemm")))
    return _LAPACK["f"]


@nb.njit(cache=True)
def _run_dense_trap(getrs, trmm, gemm, LUT, ipiv, c, GT, m, g_lower, sqrt_h, X, n_steps, damp_steps, save_every,
                    rng, samples, S):
    """Advance chain-major X (k, n) in place by ``n_steps`` trapezoidal steps from LAPACK's LU of
    I - hF/2 (LUT = LU^T: the column-major LU; ``ipiv`` its 1-based int32 pivots):
    x' = (I - hF/2)^-1 (2 x + c + sqrt(h) G xi) - x, the first ``damp_steps`` each two backward-Euler
    half steps x' = (I - hF/2)^-1 (x + c/2 + sqrt(h/2) G xi). GT = G^T (m, n), G lower triangular
    if ``g_lower``. All chains at once: one LAPACK getrs and one BLAS trmm (or gemm) per (half)
    step, called through the function pointers ``getrs``, ``trmm``, ``gemm``. Saves every
    ``save_every`` steps into samples (m_saved, k, n), sums into S (k, n)."""
    k, n = X.shape
    W = np.empty((k, n))
    XI = np.empty((k, max(m, 1)))
    ints = np.array([n, k, max(m, 1)], np.int32)
    info = np.zeros(1, np.int32)
    chars = np.array([78, 76, 85, 84], np.uint8)  # 'N', 'L', 'U', 'T' (column-major views of the C arrays)
    alpha = np.zeros(1)
    one = np.ones(1)
    isave = 0
    for step in range(n_steps):
        damped = step < damp_steps
        for half in range(2 if damped else 1):
            alpha[0] = sqrt_h * np.sqrt(0.5) if damped else sqrt_h
            for a in range(k):
                if damped:
                    for i in range(n):
                        W[a, i] = X[a, i] + 0.5 * c[i]
                else:
                    for i in range(n):
                        W[a, i] = 2.0 * X[a, i] + c[i]
            if m > 0:
                for a in range(k):
                    for q in range(m):
                        XI[a, q] = rng.standard_normal()
                if g_lower:  # XI^T <- s G XI^T (column-major: 'L', 'L', 'N', 'N'), then W += XI
                    trmm(chars[1:].ctypes, chars[1:].ctypes, chars.ctypes, chars.ctypes, ints.ctypes,
                         ints[1:].ctypes, alpha.ctypes, GT.ctypes, ints.ctypes, XI.ctypes, ints.ctypes)
                    for a in range(k):
                        for i in range(n):
                            W[a, i] += XI[a, i]
                else:  # W^T += s G XI^T
                    gemm(chars.ctypes, chars.ctypes, ints.ctypes, ints[1:].ctypes, ints[2:].ctypes, alpha.ctypes,
                         GT.ctypes, ints.ctypes, XI.ctypes, ints[2:].ctypes, one.ctypes, W.ctypes, ints.ctypes)
            getrs(chars.ctypes, ints.ctypes, ints[1:].ctypes, LUT.ctypes, ints.ctypes, ipiv.ctypes, W.ctypes,
                  ints.ctypes, info.ctypes)
            for a in range(k):
                if damped:
                    for i in range(n):
                        X[a, i] = W[a, i]
                else:
                    for i in range(n):
                        X[a, i] = W[a, i] - X[a, i]
        for a in range(k):
            for i in range(n):
                S[a, i] += X[a, i]
        if (step + 1) % save_every == 0 and isave < samples.shape[0]:
            for a in range(k):
                for i in range(n):
                    samples[isave, a, i] = X[a, i]
            isave += 1


_EMPTY_G = (np.zeros(2, np.int64), np.zeros(0, np.int64), np.zeros(0))


def run_trapezoidal(disc: TrapezoidalDiscretization, X0, n_steps: int, save_every: int, seed: int,
                    damp_steps: int = 0):
    """Advance chains X0 (k, n) by ``n_steps`` steps (the first ``damp_steps`` damped, see the
    module doc); returns (X_final, samples (n_steps // save_every, k, n), xsum (k, n)) as
    :func:`spucircuit.integrate.kernels.run`. Normals from PCG64(seed & 0xFFFFFFFF)."""
    X0 = np.ascontiguousarray(X0, dtype=np.float64)
    k, n = X0.shape
    n_steps, save_every = int(n_steps), max(1, int(save_every))
    damp_steps = min(max(0, int(damp_steps)), n_steps)
    seed = int(seed) & 0xFFFFFFFF
    if disc.kind == "sparse":
        samples = np.zeros((n_steps // save_every, k, n))
        XT = np.ascontiguousarray(X0.T)
        ST = np.zeros((n, k))
        G = disc.G if disc.G is not None else _EMPTY_G
        if disc.inner == "amg-pcg":
            worst = _run_sparse_trap_amg(*disc.R, disc.c, *G, disc.noise_m, disc.amg.arrays(), amg_pcg.PCG_RTOL,
                                         amg_pcg.PCG_MAXITER, float(np.sqrt(disc.dt)), XT, n_steps, damp_steps,
                                         save_every, np.random.Generator(np.random.PCG64(seed)), samples, ST)
            disc.pcg_iterations = max(disc.pcg_iterations, int(worst))
            if worst > amg_pcg.PCG_MAXITER:
                raise StepError(f"the AMG-PCG inner solve of the trapezoidal step did not reach a relative residual "
                                f"of {amg_pcg.PCG_RTOL:g} in {amg_pcg.PCG_MAXITER} iterations (I - hF/2 not positive "
                                f"definite, or non-finite states)")
            return np.ascontiguousarray(XT.T), samples, np.ascontiguousarray(ST.T)
        _run_sparse_trap(*disc.R, disc.c, *G, disc.noise_m, *disc.lu, float(np.sqrt(disc.dt)), XT, n_steps,
                         damp_steps, save_every, np.random.Generator(np.random.PCG64(seed)), samples, ST)
        return np.ascontiguousarray(XT.T), samples, np.ascontiguousarray(ST.T)
    if disc.form == "factored":
        samples = np.zeros((n_steps // save_every, k, n))
        X = X0.copy()
        S = np.zeros((k, n))
        GT = disc.G[0] if disc.G is not None else np.zeros((1, n))
        _run_dense_trap(*_lapack(), *disc.lu, disc.c, GT, disc.noise_m, disc.G_lower, float(np.sqrt(disc.dt)), X, n_steps,
                        damp_steps, save_every, np.random.Generator(np.random.PCG64(seed)), samples, S)
        return X, samples, S
    if damp_steps == 0:
        return run_affine(disc.step, X0, n_steps, save_every, seed)
    # dense: the damped steps are their own affine recursion; samples stay on the global step grid
    seeds = np.random.SeedSequence(seed).generate_state(3)
    X, smp_d, _ = run_affine(disc.damp, X0, damp_steps, 1, int(seeds[0]))
    xsum = smp_d.sum(axis=0)
    parts = [smp_d[save_every - 1::save_every]]
    rest = n_steps - damp_steps
    lead = min((-damp_steps) % save_every, rest)  # steps up to the next global save point
    if lead:
        X, smp, xs = run_affine(disc.step, X, lead, lead, int(seeds[1]))
        xsum += xs
        parts.append(smp if (damp_steps + lead) % save_every == 0 else smp[:0])
        rest -= lead
    if rest:
        X, smp, xs = run_affine(disc.step, X, rest, save_every, int(seeds[2]))
        xsum += xs
        parts.append(smp)
    return X, np.concatenate(parts)[: n_steps // save_every], xsum
