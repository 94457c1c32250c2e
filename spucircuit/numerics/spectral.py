"""A certified lower bound on lambda_min of a large sparse SPD matrix: a Lanczos probe plus a
shifted LDL^T (issue 15).

The problem-class spec lambda_min >= max_i A_ii / kappa_max (:mod:`spucircuit.numerics.bounds`)
fails silently for large grids (2-D Poisson 128 x 128 has cond 6.6e3 > the default 1e3), and
Gershgorin's lower bound min_i (A_ii - sum_j!=i |A_ij|) is 0 for a Laplacian. What a device can do
instead, and what this module does, for a symmetric scipy.sparse A:

1. **Lanczos** (ARPACK ``eigsh``, which='SA', loose tolerance PROBE_TOL, a seeded start vector):
   the smallest Ritz pair (theta, y), |y| = 1, and its residual rho = |A y - theta y|. theta is a
   Rayleigh quotient, so theta >= lambda_min always: an *estimate* from above, never a bound from
   below; some eigenvalue lies within rho of theta, but Lanczos cannot prove it is the smallest.
   Cost: one product with A (O(nnz)) per iteration: a device applies its own drift.
2. **Certificate**: sigma = (1 - PROBE_MARGIN) theta - 2 rho, and one sparse LDL^T of A - sigma I
   (:func:`~spucircuit.numerics.matrices.ldlt_positive`). By Sylvester's law of inertia, every
   pivot > 0 proves lambda_min > sigma. Rounding is allowed for by subtracting
   ROUND_C n eps |A|_inf (a backward error of the factorisation, far below any sigma used here).
   If it fails (Lanczos had not found the smallest eigenvalue), sigma is divided by 4 and tried
   again, up to PROBE_TRIES times. The same factorisation proves A positive definite, so the
   unshifted SPD check is not needed when a certificate is found.
3. **Fallbacks**: Gershgorin's lower bound when it is positive and larger (e.g. a Laplacian plus a
   shift), else no certificate (``lower`` None): the caller keeps the problem-class spec.

Cost: matvecs x nnz multiply-adds plus the factorisation's sum over columns of L of count^2
flops, counted by the caller (:func:`spucircuit.device.base.add_work`). Neither step uses the
exact answer or the true spectrum.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from spucircuit.numerics.matrices import ldlt_positive

PROBE_TOL = 1e-2  # ARPACK's relative residual tolerance of the Ritz pair
PROBE_MARGIN = 0.05  # the certificate tries sigma = (1 - margin) theta - 2 rho first
PROBE_TRIES = 4  # sigma, sigma / 4, sigma / 16, sigma / 64
ROUND_C = 64.0  # rounding allowance ROUND_C n eps |A|_inf subtracted from a certified sigma


@dataclass(frozen=True)
class SpectralProbe:
    """What the probe found (1/tau units of A, i.e. A's own units).

    theta    : the smallest Ritz value (an upper bound on lambda_min, the planning estimate)
    residual : |A y - theta y| of its Ritz vector
    lower    : the certified lower bound on lambda_min (None: no certificate)
    method   : 'ldlt' (shifted factorisation), 'gershgorin', or 'none'
    matvecs, factorisations, factor_nnz (largest), factor_flops (sum): the probe's work
    """

    theta: float
    residual: float
    lower: float | None
    method: str
    matvecs: int
    factorisations: int
    factor_nnz: int
    factor_flops: float
    nnz: int

    def to_dict(self) -> dict:
        return asdict(self)


def gershgorin_lower(A) -> float:
    """min_i (A_ii - sum_{j != i} |A_ij|): a lower bound on every eigenvalue of a symmetric A (O(nnz))."""
    d = A.diagonal()
    off = np.asarray(abs(A).sum(axis=1)).ravel() - np.abs(d)
    return float(np.min(d - off))


def lanczos_smallest(A, seed=None, tol: float = PROBE_TOL) -> tuple:
    """(theta, rho, matvecs): the smallest Ritz value of symmetric sparse A from ARPACK's Lanczos
    with a seeded start vector, its residual norm and the products with A it took."""
    import scipy.sparse.linalg as spla

    n = A.shape[0]
    if n <= 2:  # ARPACK needs n > 2 for one eigenvalue: a 2 x 2 eigenproblem is direct
        w, V = np.linalg.eigh(A.toarray())
        return float(w[0]), float(np.linalg.norm(A @ V[:, 0] - w[0] * V[:, 0])), n
    count = [0]

    def mv(x):
        count[0] += 1
        return A @ x

    op = spla.LinearOperator(A.shape, matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    try:
        w, V = spla.eigsh(op, k=1, which="SA", tol=tol, v0=v0, maxiter=max(1000, 10 * n))
    except spla.ArpackNoConvergence as exc:  # the best Ritz pair so far is still a Rayleigh quotient
        if len(exc.eigenvalues) == 0:
            return float("nan"), float("inf"), count[0]
        w, V = exc.eigenvalues, exc.eigenvectors
    y = V[:, 0] / np.linalg.norm(V[:, 0])
    theta = float(y @ (A @ y))
    return theta, float(np.linalg.norm(A @ y - theta * y)), count[0] + 2


def probe_lambda_min(A, seed=None, tol: float = PROBE_TOL) -> SpectralProbe:
    """The certified lower bound on lambda_min of symmetric scipy.sparse A (module doc)."""
    A = sp.csr_matrix(A, dtype=np.float64)
    n = A.shape[0]
    theta, rho, matvecs = lanczos_smallest(A, seed, tol)
    g = gershgorin_lower(A)
    eye = sp.identity(n, format="csr")
    round_off = ROUND_C * n * np.finfo(float).eps * float(np.max(np.asarray(abs(A).sum(axis=1))))
    lower, method, nf, fnnz, flops = None, "none", 0, 0, 0.0
    sigma = (1.0 - PROBE_MARGIN) * theta - 2.0 * rho if np.isfinite(theta) else -np.inf
    for _ in range(PROBE_TRIES):
        if not (sigma - round_off > max(g, 0.0)):
            break
        ok, _, nnz, fl = ldlt_positive(A - sigma * eye)
        nf, fnnz, flops = nf + 1, max(fnnz, nnz), flops + fl
        if ok:
            lower, method = float(sigma - round_off), "ldlt"
            break
        sigma /= 4.0
    if lower is None and g > 0:
        lower, method = g, "gershgorin"
    return SpectralProbe(theta=theta, residual=rho, lower=lower, method=method, matvecs=matvecs,
                         factorisations=nf, factor_nnz=fnnz, factor_flops=flops, nnz=int(A.nnz))
