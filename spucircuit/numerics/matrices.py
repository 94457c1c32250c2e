"""Checks on user matrices and vectors; each failure names the problem (MatrixError)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spucircuit.errors import MatrixError


def _real(x, name: str):
    """x itself, or its real part if every imaginary part is zero; MatrixError for a complex x
    (a cast to float would silently drop the imaginary parts)."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        return x  # the caller's conversion names the problem
    if np.iscomplexobj(a):
        im = np.imag(a)
        if np.any(im != 0):
            k = tuple(int(v) for v in np.argwhere(im != 0)[0])
            raise MatrixError(f"{name} is complex (first non-real entry {name}{list(k)} = {a[k]}): the SPU solves real "
                              "systems; write A x = b as the real 2n x 2n system [[Re A, -Im A], [Im A, Re A]]")
        return np.real(a)
    return x


def as_matrix(A, name: str = "A") -> np.ndarray:
    """A finite, square, float64 2-D array, or MatrixError naming what is wrong."""
    A = _real(A, name)
    try:
        A = np.array(A, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MatrixError(f"{name} is not a numeric array: {exc}") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise MatrixError(f"{name} has wrong shape {A.shape}: expected a non-empty square (n, n) matrix")
    bad = ~np.isfinite(A)
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise MatrixError(f"{name} contains NaN or inf (first at {name}[{i},{j}] = {A[i, j]})")
    return A


def ldlt_positive(A) -> tuple:
    """Is the symmetric scipy.sparse A positive definite? One sparse LDL^T: SuperLU with a symmetric
    ordering (MMD on A + A^T) and no pivoting (SymmetricMode, diag_pivot_thresh 0), which for a
    symmetric A is L D L^T with D = U's diagonal; by Sylvester's law of inertia A is positive
    definite iff it completes with a symmetric permutation and every pivot > 0.
    Returns (positive, smallest pivot, non-zeros of L + U, flops ~ sum over columns of L of count^2)."""
    import scipy.sparse.linalg as spla

    try:
        lu = spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options=dict(SymmetricMode=True))
    except RuntimeError:  # exactly singular
        return False, 0.0, 0, 0.0
    piv = lu.U.diagonal()
    counts = np.diff(lu.L.indptr).astype(float)
    ok = bool(np.all(lu.perm_r == lu.perm_c) and np.all(piv > 0))
    return ok, float(np.min(piv)), int(lu.L.nnz + lu.U.nnz), float(np.sum(counts * counts))


def check_spd_sparse(A, name: str = "A", sym_rtol: float = 1e-10, factor: bool = True):
    """A scipy.sparse A as symmetrised CSR float64 if square, finite, symmetric and positive
    definite, else MatrixError naming why. All in O(nnz) plus one sparse factorisation
    (:func:`ldlt_positive`; ``factor=False`` leaves it to the caller, e.g. a spectral probe whose
    shifted factorisation proves positive definiteness too)."""
    if np.iscomplexobj(A.data) and np.any(np.imag(A.data) != 0):
        raise MatrixError(f"{name} is complex: the SPU solves real systems; write A x = b as the real 2n x 2n system "
                          "[[Re A, -Im A], [Im A, Re A]]")
    try:
        A = sp.csr_matrix(np.real(A) if np.iscomplexobj(A.data) else A, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MatrixError(f"{name} is not a numeric sparse matrix: {exc}") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise MatrixError(f"{name} has wrong shape {A.shape}: expected a non-empty square (n, n) matrix")
    A.sum_duplicates()
    bad = ~np.isfinite(A.data)
    if bad.any():
        c = A.tocoo()
        k = int(np.flatnonzero(~np.isfinite(c.data))[0])
        raise MatrixError(f"{name} contains NaN or inf (first at {name}[{c.row[k]},{c.col[k]}] = {c.data[k]})")
    scale = float(np.max(np.abs(A.data))) if A.nnz else 0.0
    D = (A - A.T).tocoo()
    if D.nnz and float(np.max(np.abs(D.data))) > sym_rtol * max(scale, np.finfo(float).tiny):
        k = int(np.argmax(np.abs(D.data)))
        i, j = int(D.row[k]), int(D.col[k])
        raise MatrixError(f"{name} is not symmetric: {name}[{i},{j}] = {float(A[i, j])!r} but "
                          f"{name}[{j},{i}] = {float(A[j, i])!r}")
    A = sp.csr_matrix(0.5 * (A + A.T))
    d = A.diagonal()
    if np.any(d <= 0):
        i = int(np.flatnonzero(d <= 0)[0])
        raise MatrixError(f"{name} is not positive definite: diagonal entry {name}[{i},{i}] = {d[i]:.6g} <= 0")
    if factor:
        ok, piv, _, _ = ldlt_positive(A)
        if not ok:
            raise MatrixError(f"{name} is not positive definite: its LDL^T factorisation has a pivot {piv:.6g} <= 0")
    return A


def check_spd(A, name: str = "A", sym_rtol: float = 1e-10) -> np.ndarray:
    """Return A (float64) if symmetric positive definite, else raise MatrixError naming why
    (a scipy.sparse A is checked sparsely and returned as CSR: :func:`check_spd_sparse`)."""
    if sp.issparse(A):
        return check_spd_sparse(A, name, sym_rtol)
    A = as_matrix(A, name)
    scale = float(np.max(np.abs(A)))
    asym = np.abs(A - A.T)
    if asym.max() > sym_rtol * max(scale, np.finfo(float).tiny):
        i, j = map(int, np.unravel_index(np.argmax(asym), asym.shape))
        raise MatrixError(
            f"{name} is not symmetric: {name}[{i},{j}] = {float(A[i, j])!r} but {name}[{j},{i}] = {float(A[j, i])!r}"
        )
    A = 0.5 * (A + A.T)
    try:
        np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        lam = float(np.linalg.eigvalsh(A)[0])
        raise MatrixError(
            f"{name} is not positive definite: smallest eigenvalue {lam:.6g} <= 0"
        ) from None
    return A


def as_vector(b, n: int, name: str = "b") -> np.ndarray:
    b = _real(b, name)
    try:
        b = np.array(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MatrixError(f"{name} is not a numeric array: {exc}") from None
    if b.ndim == 2 and 1 in b.shape:
        b = b.reshape(-1)
    if b.shape != (n,):
        raise MatrixError(f"{name} has wrong shape {b.shape}: expected ({n},) to match the matrix")
    if not np.all(np.isfinite(b)):
        i = int(np.flatnonzero(~np.isfinite(b))[0])
        raise MatrixError(f"{name} contains NaN or inf (first at {name}[{i}] = {b[i]})")
    return b


RANDOM_SPD_MAX_N = 8192
COND_MAX = 1e15  # about 1/eps of float64: a larger condition number is not representable


def random_spd(n: int, cond: float = 10.0, seed=None, min_rel_entry: float = 2e-3) -> np.ndarray:
    """Random dense SPD matrix with eigenvalues log-spaced in [1/cond, 1] (random eigenbasis).

    Off-diagonal entries smaller than ``min_rel_entry`` x max|A| (unrealizable by a resistor
    range of ratio 1/min_rel_entry) are pushed out to +-min_rel_entry x max|A|; the change is a
    symmetric perturbation far below lambda_min for the default settings, checked afterwards.
    Signs and magnitudes of the rest are those of Q diag(lambda) Q^T: the matrix is not
    diagonally dominant and has negative entries.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise MatrixError(f"n must be an integer, got {n!r}")
    if n < 1:
        raise MatrixError(f"n must be >= 1, got {n}")
    if n > RANDOM_SPD_MAX_N:
        raise MatrixError(f"n = {n} is above {RANDOM_SPD_MAX_N}: a dense random n x n matrix and its QR would need "
                          f"{3 * 8 * n * n / 1e9:.3g} GB")
    try:
        cond = float(cond)
    except (TypeError, ValueError):
        raise MatrixError(f"condition number must be a number, got {cond!r}") from None
    if not (cond >= 1 and np.isfinite(cond)):
        raise MatrixError(f"condition number must be finite and >= 1, got {cond}")
    if cond > COND_MAX:
        raise MatrixError(f"condition number {cond:g} is above {COND_MAX:g}: such a matrix is singular in double "
                          "precision")
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise MatrixError(f"seed must be None or an integer >= 0, got {seed!r}") from None
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    lam = np.logspace(0.0, -np.log10(cond), n) if n > 1 else np.ones(1)
    A = (Q * lam) @ Q.T
    A = 0.5 * (A + A.T)
    if min_rel_entry > 0 and n > 1:
        scale = np.max(np.abs(A))
        thr = min_rel_entry * scale
        off = ~np.eye(n, dtype=bool)
        A[off & (np.abs(A) < 1e-12 * scale)] = 0.0  # round-off of exact zeros stays zero
        small = off & (np.abs(A) < thr) & (A != 0)
        A[small] = np.where(A[small] >= 0, thr, -thr)
        A = 0.5 * (A + A.T)
        if cond > 1:  # a diagonal shift restores the requested condition number exactly
            w = np.linalg.eigvalsh(A)
            A = A + np.eye(n) * (w[-1] - cond * w[0]) / (cond - 1.0)
    check_spd(A)
    return A


def check_stable(F, name: str = "F", what: str | None = None) -> np.ndarray:
    """Return F (float64) if every eigenvalue has a negative real part (a stable drift dx = F x dt),
    else MatrixError naming the largest real part (and ``what`` needs it, when given: F is then the
    drift a circuit realises). The eigenvalues serve this check only."""
    F = as_matrix(F, name)
    top = float(np.max(np.linalg.eigvals(F).real))
    if not top < 0:
        if what is not None:
            raise MatrixError(f"{what}: the circuit's drift {name} has an eigenvalue with real part {top:.6g} >= 0 "
                              "(unstable: no stationary circuit realises it)")
        raise MatrixError(f"{name} is not stable: its largest eigenvalue real part is {top:.6g} >= 0 (a stable drift "
                          "has every eigenvalue in the left half-plane)")
    return F


def check_psd(Q, n: int, name: str = "Q", sym_rtol: float = 1e-10) -> np.ndarray:
    """Return Q (float64, symmetrised) if it is an (n, n) symmetric positive semi-definite matrix,
    else MatrixError naming why (eigenvalues down to -1e-12 x max|Q| count as zero)."""
    Q = as_matrix(Q, name)
    if Q.shape != (n, n):
        raise MatrixError(f"{name} has wrong shape {Q.shape}: expected ({n}, {n}) to match the matrix")
    scale = float(np.max(np.abs(Q)))
    asym = np.abs(Q - Q.T)
    if asym.max() > sym_rtol * max(scale, np.finfo(float).tiny):
        i, j = map(int, np.unravel_index(np.argmax(asym), asym.shape))
        raise MatrixError(
            f"{name} is not symmetric: {name}[{i},{j}] = {float(Q[i, j])!r} but {name}[{j},{i}] = {float(Q[j, i])!r}")
    Q = 0.5 * (Q + Q.T)
    lam = float(np.linalg.eigvalsh(Q)[0])
    if lam < -1e-12 * scale or scale == 0:
        raise MatrixError(f"{name} is not positive semi-definite: smallest eigenvalue {lam:.6g} < 0" if scale else
                          f"{name} is zero: a covariance needs noise to drive it")
    return Q
