"""Drift operators F (units 1/s): the linear map of the state-space SDE, kept as an operator.

Two storage kinds exist today, each with its own numba kernel in :mod:`spucircuit.integrate`:

* ``DenseDrift``  — an (n, n) C-contiguous float64 array (resistor arrays are dense).
* ``SparseDrift`` — CSR arrays (indptr, indices, data), for sparse couplings.

The integrator never asks an operator for an n x n matrix; only ``matvec`` and the structural
arrays. Factored circuits (a chain of resistor-array stages, TNGD App. C) add a third kind with
the same interface, so that an N x N matrix is never formed.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DENSITY_THRESHOLD = 0.25  # below this fraction of non-zeros a compiled drift is stored as CSR
ZERO_RTOL = 1e-14  # entries below this fraction of max|F| are MNA round-off of structural zeros


class DriftOperator:
    kind = "abstract"
    n: int

    def matvec(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def to_dense(self) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def gershgorin_radius(self) -> float:
        """Upper bound on the spectral radius (max absolute row sum), 1/s."""
        raise NotImplementedError  # pragma: no cover


class DenseDrift(DriftOperator):
    kind = "dense"

    def __init__(self, F):
        self.matrix = np.ascontiguousarray(F, dtype=np.float64)
        self.n = self.matrix.shape[0]

    def matvec(self, x):
        return self.matrix @ x

    def to_dense(self):
        return self.matrix

    def gershgorin_radius(self):
        return float(np.max(np.sum(np.abs(self.matrix), axis=1)))

    @property
    def nnz(self):
        return int(np.count_nonzero(self.matrix))


class SparseDrift(DriftOperator):
    kind = "sparse"

    def __init__(self, F):
        m = sp.csr_matrix(F, dtype=np.float64)
        m.sort_indices()
        self.csr = m
        self.indptr = m.indptr.astype(np.int64)
        self.indices = m.indices.astype(np.int64)
        self.data = m.data
        self.n = m.shape[0]

    def matvec(self, x):
        return self.csr @ x

    def to_dense(self):
        return self.csr.toarray()

    def gershgorin_radius(self):
        return float(np.max(np.asarray(abs(self.csr).sum(axis=1)).ravel()))

    @property
    def nnz(self):
        return int(self.csr.nnz)


def make_drift(F, density_threshold: float = DENSITY_THRESHOLD) -> DriftOperator:
    """Wrap a compiled drift matrix, choosing dense or CSR storage by its density."""
    if sp.issparse(F):
        return SparseDrift(F)
    F = np.array(F, dtype=np.float64)
    if F.ndim != 2 or F.shape[0] != F.shape[1]:
        raise ValueError(f"drift must be square, got shape {F.shape}")
    if F.size:
        # an entry is MNA round-off when it is tiny against its own row and column (a global max would
        # wipe the whole diagonal of a badly scaled cascade, entries from 1e7 to 1e33: ngspice's pz2.cir)
        rmax = np.maximum(F.max(axis=1), -F.min(axis=1))
        cmax = np.maximum(F.max(axis=0), -F.min(axis=0))
        for i in range(0, F.shape[0], 256):  # row blocks: no n x n temporaries beside F
            blk = F[i:i + 256]
            blk[np.abs(blk) <= ZERO_RTOL * np.minimum(rmax[i:i + 256, None], cmax[None, :])] = 0.0
    n = F.shape[0]
    if n >= 32 and np.count_nonzero(F) < density_threshold * n * n:
        return SparseDrift(F)
    return DenseDrift(F)
