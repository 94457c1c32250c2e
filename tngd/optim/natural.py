"""Digital natural-gradient optimizers: theta <- theta - lr g~ with (F + lambda I) g~ = grad,
F = J^T H J / b the mini-batch GGN (:class:`~tngd.nn.curvature.MiniBatchCurvature`).

* :func:`ngd`           dense Cholesky solve, O(m N^2 + N^3)
* :func:`ngd_cg`        conjugate gradient with GGN-vector products (JVP + VJP), fixed iterations,
                        O(c b N)
* :func:`ngd_woodbury`  Woodbury identity with U = J^T, V = H J / b (m x m solve), O(m^2 N + m^3)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from spucircuit.numerics.cg import conjugate_gradient
from tngd.errors import ConfigError
from tngd.optim.base import check_positive, require_curvature


class CountState(NamedTuple):
    """The state of a stateless optimizer: the step count."""

    count: np.ndarray


class _DirectNaturalGradient:
    """Shared shape of the direct (stateless) NGD solvers: theta -= lr (F + lambda I)^-1 grad.
    Subclasses define ``natural_gradient(grads, curvature)``."""

    needs_curvature = True

    def __init__(self, lr: float = 0.01, damping: float = 0.01):
        self.lr = check_positive("learning rate", lr)
        self.damping = check_positive("damping", damping)

    def init(self, params) -> CountState:
        """Count 0."""
        return CountState(np.asarray(0))

    def update(self, grads, state, params=None, curvature=None):
        """(-lr g~, count + 1)."""
        return -self.lr * self.natural_gradient(grads, curvature), CountState(state.count + 1)


class NGD(_DirectNaturalGradient):
    """Exact NGD: dense (F + lambda I) g~ = grad by Cholesky; F formed from the GGN factor,
    O(m N^2 + N^3 / 3) time and O(N^2) memory.

    Args:
        lr: learning rate, > 0.
        damping: lambda, > 0.
    """

    def natural_gradient(self, grads, curvature):
        """g~ = (F + lambda I)^-1 grad."""
        F = require_curvature(curvature, "NGD").ggn().copy()
        F[np.diag_indices_from(F)] += self.damping
        try:
            return sla.cho_solve(sla.cho_factor(F, lower=True), np.asarray(grads, dtype=float))
        except np.linalg.LinAlgError:  # the GGN has rank <= b dz < N: lambda below its round-off
            raise ConfigError(f"F + lambda I is not numerically positive definite at damping {self.damping:g}: the GGN "
                              f"is singular (rank <= batch x outputs); use a damping of at least "
                              f"{1e-12 * max(float(np.trace(F)) / len(F), 1e-300):.1g}") from None


class NGDCGState(NamedTuple):
    """NGD-CG's state: the last solution g~ (for the warm start) and the step count."""

    solution: np.ndarray
    count: np.ndarray


class NGDCG:
    """NGD-CG: CG on (F + lambda I) g~ = grad with F v = J^T H J v / b (JVP + VJP, J never formed),
    a fixed number of iterations c (O(c b N)); starts from 0 or (warm_start) from the previous
    solution.

    Args:
        lr: learning rate, > 0.
        damping: lambda, > 0.
        iters: CG iterations c, >= 1.
        warm_start: start each solve from the previous one.

    Raises:
        ConfigError: a value out of range.
    """

    needs_curvature = True

    def __init__(self, lr: float = 0.01, damping: float = 0.01, iters: int = 10, warm_start: bool = False):
        self.lr = check_positive("learning rate", lr)
        self.damping = check_positive("damping", damping)
        self.iters = int(iters)
        if self.iters < 1:
            raise ConfigError(f"CG iterations must be >= 1, got {iters!r}")
        self.warm_start = bool(warm_start)

    def init(self, params) -> NGDCGState:
        """Zero solution, count 0."""
        return NGDCGState(np.zeros_like(np.asarray(params, dtype=float)), np.asarray(0))

    def natural_gradient(self, grads, curvature, x0=None):
        """g~ after ``iters`` CG iterations from x0 (default 0)."""
        c = require_curvature(curvature, "NGD-CG")
        g = np.asarray(grads, dtype=float)
        x0 = np.zeros_like(g) if x0 is None else x0
        return conjugate_gradient(lambda v: c.ggn_matvec(v) + self.damping * v, g, x0, self.iters)

    def update(self, grads, state, params=None, curvature=None):
        """(-lr g~, new state)."""
        x = self.natural_gradient(grads, curvature, state.solution if self.warm_start else None)
        return -self.lr * x, NGDCGState(x, state.count + 1)


def woodbury_solve(U, V, lam: float, v):
    """(lambda I + U V)^-1 v = lambda^-1 v - lambda^-2 U (I + lambda^-1 V U)^-1 V v.

    (The paper prints lambda^-1 I for the first term: a typo.) Cost O(m^2 N + m^3).

    Args:
        U: (N, m).
        V: (m, N).
        lam: lambda > 0.
        v: (N,).

    Returns:
        The solution (N,).
    """
    m = U.shape[1]
    inner = np.eye(m) + (V @ U) / lam
    return v / lam - (U @ np.linalg.solve(inner, V @ v)) / lam**2


class NGDWoodbury(_DirectNaturalGradient):
    """NGD-Woodbury: F + lambda I = lambda I + U V with U = J^T (N x m), V = H J / b (m x N);
    O(m^2 N + m^3) (:func:`woodbury_solve`).

    Args:
        lr: learning rate, > 0.
        damping: lambda, > 0.
    """

    def natural_gradient(self, grads, curvature):
        """g~ = (lambda I + J^T H J / b)^-1 grad by the Woodbury identity."""
        c = require_curvature(curvature, "NGD-Woodbury")
        J = c.jacobian()
        H = c.hessian_blocks()
        V = np.matmul(H, J.reshape(c.b, c.dz, -1)).reshape(c.m, -1) / c.b
        return woodbury_solve(J.T, V, self.damping, np.asarray(grads, dtype=float))


def ngd(lr=0.01, damping=0.01) -> NGD:
    """Dense natural gradient descent (see :class:`NGD`).

    Args:
        lr, damping: learning rate and lambda.

    Returns:
        The optimizer.
    """
    return NGD(lr, damping)


def ngd_cg(lr=0.01, damping=0.01, iters=10, warm_start=False) -> NGDCG:
    """Natural gradient by conjugate gradients (see :class:`NGDCG`).

    Args:
        lr, damping, iters, warm_start: as :class:`NGDCG`.

    Returns:
        The optimizer.
    """
    return NGDCG(lr, damping, iters, warm_start)


def ngd_woodbury(lr=0.01, damping=0.01) -> NGDWoodbury:
    """Natural gradient by the Woodbury identity (see :class:`NGDWoodbury`).

    Args:
        lr, damping: learning rate and lambda.

    Returns:
        The optimizer.
    """
    return NGDWoodbury(lr, damping)
