"""Scale-robust arithmetic: norms and statistics that are right for any overall scale of the data.

A vector of size 1e-300 has a squared norm below the smallest double (numpy's norm returns 0), and
one of size 1e200 a squared norm above the largest (inf). Dividing by a power of two first is
exact; in the normal range (:data:`SAFE_LO` to :data:`SAFE_HI`) these functions are numpy's own, and
outside it they give the right answer instead of 0, inf or NaN.
"""
from __future__ import annotations

import math

import numpy as np


def pow2_scale(a) -> float:
    """The power of two s with max|a| / s in [1, 2) (1.0 if a is empty, all zero or not finite):
    dividing by s is exact."""
    a = np.asarray(a, float)
    m = float(np.max(np.abs(a))) if a.size else 0.0
    if not (math.isfinite(m) and m > 0.0):
        return 1.0
    return math.ldexp(1.0, math.frexp(m)[1] - 1)


SAFE_LO, SAFE_HI = 2.0 ** -200, 2.0 ** 200  # magnitudes whose squares and products stay normal doubles


def extreme_scale(a) -> float | None:
    """:func:`pow2_scale` of ``a`` when its magnitude is outside [2^-200, 2^200] (where squares or
    products of n ~ 1e9 terms could under- or overflow), else None: in between, arithmetic on ``a``
    itself is safe and rescaling would only copy it."""
    s = pow2_scale(a)
    return s if not (SAFE_LO <= s <= SAFE_HI) else None


def norm2(a) -> float:
    """Euclidean norm of a vector, Frobenius norm of a matrix (the 2-norm of all entries), without
    underflow or overflow: s * ||a / s|| with s = :func:`pow2_scale` (inf only if the norm is)."""
    a = np.asarray(a, float)
    s = extreme_scale(a)
    return float(np.linalg.norm(a)) if s is None else float(np.linalg.norm(a / s)) * s


def relative_error(x, ref) -> float:
    """||x - ref|| / ||ref|| (Euclidean / Frobenius), right for any overall scale of x and ref;
    inf for a non-zero error against ref = 0, 0 for x = ref = 0."""
    num, den = norm2(np.asarray(x, float) - np.asarray(ref, float)), norm2(ref)
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den
