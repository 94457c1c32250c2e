"""What a device can know about A's spectrum without solving anything: bounds from its entries and a
problem-class spec.

For a symmetric positive definite A (physics.md 1):

* lambda_max <= max_i sum_j |A_ij|            (Gershgorin: every eigenvalue lies in a row's disc)
* lambda_max >= max_i A_ii                    (Rayleigh quotient of a unit vector e_i)
* lambda_min >= lambda_max / kappa_max >= max_i A_ii / kappa_max   (the spec: cond(A) <= kappa_max)
* |x*|_inf <= |x*|_2 <= |b|_2 / lambda_min <= kappa_max |b|_2 / max_i A_ii,   x* = A^-1 b

The device reads its own programmed entries, so these cost O(nnz) and use neither the exact answer
nor the true spectrum. A problem that breaks its spec (cond(A) > kappa_max) can make the solution
bound too small: the device then sees its converters clip or its op-amps saturate, and ranging
(:mod:`spucircuit.linalg.solve`) rescales.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from spucircuit.errors import MatrixError
from spucircuit.numerics.scaling import extreme_scale

KAPPA_MAX_DEFAULT = 1e3  # the default problem class: condition numbers up to 1e3
KAPPA_MAX_LIMIT = 1e15  # about 1/eps of float64


def invariant_norm(v) -> float:
    """|v|_2 summed in sorted order: the same bits for any permutation of v (a bound that must not
    depend on where the large entries sit); scaled first if its magnitude is extreme
    (:func:`~spucircuit.numerics.scaling.extreme_scale`), so that v * v neither under- nor overflows."""
    v = np.asarray(v, dtype=float).ravel()
    s = extreme_scale(v)
    if s is not None:
        return invariant_norm(v / s) * s
    return float(np.sqrt(np.sum(np.sort(v * v))))


def check_kappa_max(kappa_max) -> float:
    """A condition-number spec: finite and >= 1, else MatrixError naming it."""
    try:
        k = float(kappa_max)
    except (TypeError, ValueError):
        raise MatrixError(f"kappa_max must be a number >= 1, got {kappa_max!r}") from None
    if not (np.isfinite(k) and k >= 1):
        raise MatrixError(f"kappa_max must be finite and >= 1, got {kappa_max!r}")
    if k > KAPPA_MAX_LIMIT:  # its run times (220 kappa_max tau) and bounds leave the float range
        raise MatrixError(f"kappa_max {k:g} is above {KAPPA_MAX_LIMIT:g}: a matrix that ill-conditioned is singular in "
                          "double precision")
    return k


@dataclass(frozen=True)
class SpectrumBounds:
    """Bounds on the spectrum of an SPD matrix from its entries and ``kappa_max`` (module doc).

    lam_max_upper : Gershgorin bound on lambda_max (sets steps: the fastest mode)
    lam_max_lower : max diagonal entry, a lower bound on lambda_max
    kappa_max     : the problem class's largest condition number
    """

    lam_max_upper: float
    lam_max_lower: float
    kappa_max: float
    lam_min_floor: float = 0.0  # a known lower bound on lambda_min (e.g. the damping of A = F + lambda I)
    lam_min_certified: float | None = None  # a proved lower bound (spectral probe): replaces the kappa_max spec

    def certified(self, lower: float | None) -> "SpectrumBounds":
        """The same bounds with lambda_min >= ``lower`` proved (:mod:`spucircuit.numerics.spectral`);
        None leaves them as they are."""
        if lower is None:
            return self
        return SpectrumBounds(lam_max_upper=self.lam_max_upper, lam_max_lower=self.lam_max_lower,
                              kappa_max=self.kappa_max, lam_min_floor=self.lam_min_floor, lam_min_certified=float(lower))

    @property
    def source(self) -> str:
        """'probe' (a certified lower bound) or 'spec' (the problem class's kappa_max)."""
        return "spec" if self.lam_min_certified is None else "probe"

    @classmethod
    def from_matrix(cls, A, kappa_max: float = KAPPA_MAX_DEFAULT) -> "SpectrumBounds":
        """O(nnz) bounds of a dense array or scipy.sparse matrix."""
        k = check_kappa_max(kappa_max)
        if sp.issparse(A):
            rows = np.asarray(abs(A).sum(axis=1)).ravel()
            diag = A.diagonal()
        else:
            A = np.asarray(A, dtype=float)
            rows = np.abs(A).sum(axis=1)
            diag = np.diag(A)
        return cls(lam_max_upper=float(rows.max()), lam_max_lower=float(diag.max()), kappa_max=k)

    @property
    def lam_min_lower(self) -> float:
        """lambda_min >= lambda_max / kappa_max >= max_i A_ii / kappa_max (or the known floor); a
        certified bound replaces the spec (which a large grid breaks)."""
        if self.lam_min_certified is not None:
            return max(self.lam_min_certified, self.lam_min_floor)
        return max(self.lam_max_lower / self.kappa_max, self.lam_min_floor)

    def solution_bound(self, b) -> float:
        """An upper bound on max_i |x*_i| for x* = A^-1 b: |b|_2 / lambda_min_lower."""
        return invariant_norm(b) / self.lam_min_lower

    def to_dict(self) -> dict:
        return {"lam_max_upper": self.lam_max_upper, "lam_max_lower": self.lam_max_lower,
                "lam_min_lower": self.lam_min_lower, "kappa_max": self.kappa_max, "lam_min_source": self.source}
