"""The trapezoidal step's inner solve by algebraic-multigrid-preconditioned CG (symmetric drifts).

Each sparse trapezoidal step solves M x' = b with M = I - hF/2. A direct factor of M fills as
n^(4/3) or worse on a 3-D grid (44e6 non-zeros for 3-D Poisson 40^3, 100 x nnz(M)), so its
per-step cost grows faster than nnz. For a symmetric drift F (an ideal array's: F = -A scaled)
M is symmetric positive definite with eigenvalues >= 1, and CG preconditioned by one
smoothed-aggregation V-cycle (pyamg builds the hierarchy once; numba runs it) converges in a
number of iterations independent of n (9-10 on 2-D / 3-D Poisson to 1e-12): O(nnz) per step.

Accuracy: each solve stops when every chain's residual |b - M x'|_2 <= PCG_RTOL |b|_2 (warm
start from the previous state). The time average the solve reads obeys, summing
M x_{k+1} - R x_k = c + noise_k + r_k over the run (M - R = -hF), x_bar's error from the residuals
is (-hF)^-1 r_bar, |(-hF)^-1|_2 = 1 / (h lambda_min(-F)) = 1 at the trapezoidal step h = 1 / lambda_min,
so it is <= PCG_RTOL max_k |b_k| ~ PCG_RTOL |M|_2 |x_bar| <= PCG_RTOL (1 + h lambda_max / 2) |x_bar|:
3e-10 relative for 3-D Poisson 40^3 (kappa 680), four decades below the noise term of the error
budget (~1e-6), hence not a separate budget term (:attr:`AMGHierarchy.mean_error_rel` states it).
The stationary covariance is the Lyapunov solution to the same relative order.

Which inner solve (:func:`prefer_amg`): the direct factor unless M is symmetric and its factor
is predicted to fill badly. The prediction is O(nnz): the widest breadth-first level from a
pseudo-peripheral node is a vertex separator of size s, about n^((d-1)/d) on a d-dimensional
grid; a factor's dense separator block has ~s^2 / 2 entries, so s^2 / (2 nnz) is about 0.1 on
any 2-D grid (fill n log n: the direct factor is cheaper per step than AMG) and grows as n^(1/3)
on 3-D grids (0.52 at 12^3, 0.68 at 16^3, 1.64 at 40^3). AMG above FILL_RATIO_AMG = 0.6, i.e. on
3-D grids from 16^3: there the per-step cost follows nnz (slope 1.06-1.08 over 16^3..40^3, against
1.36-1.44 for the factor), the set-up is no factorisation (SuperLU took 45 s at 40^3) and memory is
O(nnz). Below, the direct factor is kept: its per-step work is smaller (AMG-PCG costs about 100
nnz(M) multiply-adds per solve, the factor of 3-D Poisson 16^3 has 22 nnz(M)), so a small 3-D grid
pays for AMG in long runs more than it saves. Runs of many chains (inv: 8 chains, thousands of
steps) are dominated by the per-step cost, not the factorisation, and the direct factor's
multi-chain substitution is cheaper per chain than AMG-PCG (one chain at a time) up to about 24^3
(inv of 3-D Poisson 16^3: 28 s direct, 247 s AMG), so they take AMG only above
FILL_RATIO_AMG_MANY = 1.2 (from 32^3; at 40^3 AMG is cheaper per step: 157 against 251 ms).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

PCG_RTOL = 1e-12  # inner solve: |b - M x|_2 <= PCG_RTOL |b|_2 per chain
TYPICAL_ITERATIONS = 10  # measured on 2-D / 3-D Poisson (9-12): the run-time estimate's inner solve
PCG_MAXITER = 200  # never reached on the grids measured (<= 12); more raises StepError after the run
FILL_RATIO_AMG = 0.6  # s^2 / (2 nnz(M)) above this: AMG-PCG (module doc): 3-D grids from 16^3 (0.68; 12^3: 0.52)
FILL_RATIO_AMG_MANY = 1.2  # the same for runs of more than FEW_CHAINS chains (inv): from 32^3 (1.32; 24^3: 1.0)
FEW_CHAINS = 2
MAX_COARSE = 200  # coarsest level solved by a dense inverse of at most this size


@dataclass
class AMGHierarchy:
    """A smoothed-aggregation hierarchy as flat arrays for the numba V-cycle.

    Level l (0 = M itself) has ``sizes[l]`` unknowns; its CSR matrix is rows ``rowoff[l] ..``
    of ``Ap`` (each level's indptr stored with its own zero base, shifted by ``nzoff[l]``),
    inverse diagonal ``Dinv[voff[l]: voff[l] + sizes[l]]``; the prolongation P_l (sizes[l] x
    sizes[l+1]) and restriction R_l = P_l^T the same way (``Pp``, ``Rp``). The coarsest level is
    solved by ``Cinv`` (dense inverse)."""

    sizes: np.ndarray
    voff: np.ndarray
    Ap: np.ndarray
    Ai: np.ndarray
    Ax: np.ndarray
    arow: np.ndarray
    anz: np.ndarray
    Dinv: np.ndarray
    Pp: np.ndarray
    Pi: np.ndarray
    Px: np.ndarray
    prow: np.ndarray
    pnz: np.ndarray
    Rp: np.ndarray
    Ri: np.ndarray
    Rx: np.ndarray
    rrow: np.ndarray
    rnz: np.ndarray
    Cinv: np.ndarray
    operator_complexity: float
    mean_error_rel: float  # bound on the time average's relative error from the inner residuals

    def arrays(self) -> tuple:
        return (self.sizes, self.voff, self.Ap, self.Ai, self.Ax, self.arow, self.anz, self.Dinv, self.Pp, self.Pi,
                self.Px, self.prow, self.pnz, self.Rp, self.Ri, self.Rx, self.rrow, self.rnz, self.Cinv)

    @property
    def work_per_iteration(self) -> float:
        """Multiply-adds of one PCG iteration per chain: the V-cycle (two symmetric Gauss-Seidel
        sweeps, a residual, restriction and prolongation on every level, the coarse inverse), one
        product with M and the vector updates."""
        nl = len(self.sizes)
        w = 0.0
        for lv in range(nl - 1):
            a = self.anz[lv + 1] - self.anz[lv]
            w += 5.0 * a + (self.pnz[lv + 1] - self.pnz[lv]) + (self.rnz[lv + 1] - self.rnz[lv])
        w += float(self.Cinv.size)
        return w + float(self.anz[1] - self.anz[0]) + 5.0 * float(self.sizes[0])


def separator_fill_ratio(M) -> float:
    """s^2 / (2 nnz(M)), s the widest breadth-first level of M's graph from a pseudo-peripheral
    node (two sweeps: the farthest node from node 0, then the levels from it); module doc."""
    M = sp.csr_matrix(M)
    n = M.shape[0]
    if n < 2:
        return 0.0
    G = (M != 0).astype(np.int8)
    d = csgraph.shortest_path(G, indices=0, unweighted=True, directed=False)
    start = int(np.argmax(np.where(np.isfinite(d), d, -1.0)))
    d = csgraph.shortest_path(G, indices=start, unweighted=True, directed=False)
    s = int(np.bincount(d[np.isfinite(d)].astype(np.int64)).max())
    return 0.5 * float(s) ** 2 / float(M.nnz)


def prefer_amg(M, symmetric: bool, chains: int = 1) -> bool:
    """AMG-PCG for a symmetric M whose direct factor is predicted to fill badly (module doc); for
    runs of more than FEW_CHAINS chains the bar is FILL_RATIO_AMG_MANY."""
    bar = FILL_RATIO_AMG if int(chains) <= FEW_CHAINS else FILL_RATIO_AMG_MANY
    if not (symmetric and M.shape[0] > MAX_COARSE and np.all(M.diagonal() > 0)):  # SPD needs a positive diagonal
        return False
    return separator_fill_ratio(M) > bar


def _csr(m):
    m = sp.csr_matrix(m, dtype=np.float64)
    m.sum_duplicates()
    m.sort_indices()
    return m


def build_hierarchy(M, h_lambda_max: float) -> AMGHierarchy:
    """pyamg's smoothed-aggregation hierarchy of the SPD matrix M, flattened for the kernels;
    ``h_lambda_max`` (an upper bound of h lambda_max(-F)) sizes :attr:`AMGHierarchy.mean_error_rel`."""
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(_csr(M), symmetry="symmetric", max_coarse=MAX_COARSE)
    As = [_csr(lv.A) for lv in ml.levels]
    Ps = [_csr(lv.P) for lv in ml.levels[:-1]]
    Rs = [_csr(p.T) for p in Ps]

    def flat(mats):
        rows = np.zeros(len(mats) + 1, np.int64)
        nz = np.zeros(len(mats) + 1, np.int64)
        for i, m in enumerate(mats):
            rows[i + 1] = rows[i] + m.shape[0] + 1
            nz[i + 1] = nz[i] + m.nnz
        if not mats:
            return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0), rows, nz
        p = np.concatenate([m.indptr.astype(np.int64) for m in mats])
        i_ = np.concatenate([m.indices.astype(np.int64) for m in mats])
        x = np.concatenate([m.data for m in mats])
        return p, i_, x, rows, nz

    sizes = np.array([a.shape[0] for a in As], np.int64)
    voff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    Ap, Ai, Ax, arow, anz = flat(As)
    Pp, Pi, Px, prow, pnz = flat(Ps)
    Rp, Ri, Rx, rrow, rnz = flat(Rs)
    Dinv = np.concatenate([1.0 / a.diagonal() for a in As])
    Cinv = np.ascontiguousarray(np.linalg.inv(As[-1].toarray()))
    return AMGHierarchy(sizes, voff, Ap, Ai, Ax, arow, anz, Dinv, Pp, Pi, Px, prow, pnz, Rp, Ri, Rx, rrow, rnz,
                        Cinv, float(ml.operator_complexity()), PCG_RTOL * (1.0 + 0.5 * float(h_lambda_max)))


# ------------------------------------------------------------------ kernels (one chain: 1-D vectors, which
# numba runs at scipy's CSR speed; 2-D (n, k) blocks measured 2-3x slower per non-zero)
@nb.njit(cache=True)
def _spmv(p, i_, x, X, Y, acc):
    """Y (+)= A X for CSR (p, i_, x); p's entries count from its own block's start p[0]."""
    z = p[0]
    for r in range(p.shape[0] - 1):
        s = Y[r] if acc else 0.0
        for q in range(p[r] - z, p[r + 1] - z):
            s += x[q] * X[i_[q]]
        Y[r] = s


@nb.njit(cache=True)
def _sgs(p, i_, x, Dinv, X, B):
    """One symmetric Gauss-Seidel sweep (forward, then backward) on A X = B:
    X_r += (B_r - A_r. X) / A_rr row by row."""
    n = p.shape[0] - 1
    z = p[0]
    for rr in range(2 * n):
        r = rr if rr < n else 2 * n - 1 - rr
        s = B[r]
        for q in range(p[r] - z, p[r + 1] - z):
            s -= x[q] * X[i_[q]]
        X[r] += s * Dinv[r]


@nb.njit(cache=True)
def _vcycle(sizes, voff, Ap, Ai, Ax, arow, anz, Dinv, Pp, Pi, Px, prow, pnz, Rp, Ri, Rx, rrow, rnz, Cinv,
            B, X, Bl, Xl, Tl):
    """X = V(B): one smoothed-aggregation V-cycle (a symmetric Gauss-Seidel sweep before and after
    the coarse correction: a symmetric preconditioner, as CG needs). Bl, Xl, Tl: work (sum of sizes)."""
    nl = sizes.shape[0]
    Bl[: sizes[0]] = B
    for lv in range(nl - 1):
        o, m = voff[lv], sizes[lv]
        A = (Ap[arow[lv]: arow[lv + 1]], Ai[anz[lv]: anz[lv + 1]], Ax[anz[lv]: anz[lv + 1]])
        Xl[o: o + m] = 0.0
        _sgs(A[0], A[1], A[2], Dinv[o: o + m], Xl[o: o + m], Bl[o: o + m])
        _spmv(A[0], A[1], A[2], Xl[o: o + m], Tl[o: o + m], False)
        Tl[o: o + m] = Bl[o: o + m] - Tl[o: o + m]
        o1 = voff[lv + 1]
        _spmv(Rp[rrow[lv]: rrow[lv + 1]], Ri[rnz[lv]: rnz[lv + 1]], Rx[rnz[lv]: rnz[lv + 1]], Tl[o: o + m],
              Bl[o1: o1 + sizes[lv + 1]], False)
    oc, nc = voff[nl - 1], sizes[nl - 1]
    for i in range(nc):
        s = 0.0
        for j in range(nc):
            s += Cinv[i, j] * Bl[oc + j]
        Xl[oc + i] = s
    for lv in range(nl - 2, -1, -1):
        o, m, o1 = voff[lv], sizes[lv], voff[lv + 1]
        _spmv(Pp[prow[lv]: prow[lv + 1]], Pi[pnz[lv]: pnz[lv + 1]], Px[pnz[lv]: pnz[lv + 1]],
              Xl[o1: o1 + sizes[lv + 1]], Xl[o: o + m], True)
        _sgs(Ap[arow[lv]: arow[lv + 1]], Ai[anz[lv]: anz[lv + 1]], Ax[anz[lv]: anz[lv + 1]], Dinv[o: o + m],
             Xl[o: o + m], Bl[o: o + m])
    X[:] = Xl[: sizes[0]]


@nb.njit(cache=True)
def pcg_solve(sizes, voff, Ap, Ai, Ax, arow, anz, Dinv, Pp, Pi, Px, prow, pnz, Rp, Ri, Rx, rrow, rnz, Cinv,
              B, X, W, rtol, maxiter):
    """X <- M^-1 B (1-D) by V-cycle-preconditioned CG from the initial guess X, until
    |B - M X|_2 <= rtol |B|_2. W: work vectors (R, Z, Pd, Q, Bl, Xl, Tl) (:func:`work_arrays`).
    Returns the iterations taken (maxiter + 1 if not converged)."""
    R, Z, Pd, Q, Bl, Xl, Tl = W
    n = B.shape[0]
    A0 = (Ap[: arow[1]], Ai[: anz[1]], Ax[: anz[1]])
    _spmv(A0[0], A0[1], A0[2], X, R, False)
    bn = 0.0
    rn = 0.0
    for i in range(n):
        R[i] = B[i] - R[i]
        bn += B[i] * B[i]
        rn += R[i] * R[i]
    tol2 = rtol * rtol * bn
    if rn <= tol2:
        return 0
    _vcycle(sizes, voff, Ap, Ai, Ax, arow, anz, Dinv, Pp, Pi, Px, prow, pnz, Rp, Ri, Rx, rrow, rnz, Cinv,
            R, Z, Bl, Xl, Tl)
    rz = 0.0
    for i in range(n):
        Pd[i] = Z[i]
        rz += R[i] * Z[i]
    for it in range(1, maxiter + 1):
        _spmv(A0[0], A0[1], A0[2], Pd, Q, False)
        pq = 0.0
        for i in range(n):
            pq += Pd[i] * Q[i]
        if not pq > 0.0:  # M not positive definite on this direction (or a non-finite value)
            return maxiter + 1
        alpha = rz / pq
        rn = 0.0
        for i in range(n):
            X[i] += alpha * Pd[i]
            R[i] -= alpha * Q[i]
            rn += R[i] * R[i]
        if rn <= tol2:
            return it
        _vcycle(sizes, voff, Ap, Ai, Ax, arow, anz, Dinv, Pp, Pi, Px, prow, pnz, Rp, Ri, Rx, rrow, rnz, Cinv,
                R, Z, Bl, Xl, Tl)
        new = 0.0
        for i in range(n):
            new += R[i] * Z[i]
        beta = new / rz
        rz = new
        for i in range(n):
            Pd[i] = Z[i] + beta * Pd[i]
    return maxiter + 1


def work_arrays(hier: AMGHierarchy) -> tuple:
    n = int(hier.sizes[0])
    tot = int(hier.voff[-1])
    return tuple(np.zeros(n) for _ in range(4)) + tuple(np.zeros(tot) for _ in range(3))
