"""Optimizers with one optax-style interface.

    opt = tngd(lr=0.01, damping=0.01, t=50.0)
    state = opt.init(theta)
    updates, state = opt.update(grads, state, theta, curvature=batch)   # batch: tngd.Batch
    theta = apply_updates(theta, updates)                               # theta + updates

Parameters and gradients are flat float64 vectors (N,). States are NamedTuples of arrays and
are never modified in place. ``curvature`` is the mini-batch's :class:`~tngd.nn.curvature.MiniBatchCurvature`
(GGN-vector products, GGN factor, dense GGN); first-order optimizers ignore it, second-order
ones raise ConfigError without it. ``opt.needs_curvature`` tells a training loop which is which.

Natural-gradient optimizers solve (F + lambda I) g~ = grad with F = J^T H J / b (GGN) and step
theta <- theta - lr g~:

* ``ngd``           dense Cholesky solve, O(N^3 + m N^2)
* ``ngd_cg``        conjugate gradient with GGN-vector products (JVP + VJP), fixed iterations
* ``ngd_woodbury``  Woodbury identity with U = J^T, V = H J / b (m x m solve)
* ``tngd``          the device's OU dynamics for analog time t, warm-started (Algorithm 1)
* ``tngd_adam``     TNGD's natural gradient fed to Adam with beta1 = beta2 = 0
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.linalg as sla

from spucircuit.numerics.cg import conjugate_gradient

from tngd.errors import ConfigError
from tngd.devices import ExactOUSolver, OUSystem, empty_system


def apply_updates(params, updates):
    return np.asarray(params, dtype=float) + updates


def _positive(name, v, allow_zero=False):
    v = float(v)
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        raise ConfigError(f"{name} must be finite and {'>=' if allow_zero else '>'} 0, got {v!r}")
    return v


def _need(curvature, who):
    if curvature is None:
        raise ConfigError(f"{who} needs curvature information: pass curvature=tngd.Batch(...)")
    return curvature


# ------------------------------------------------------------------------------ first order
class SGDState(NamedTuple):
    momentum: np.ndarray
    count: np.ndarray


class SGD:
    """theta <- theta - lr v,  v <- momentum v + grad (v = grad when momentum = 0)."""

    needs_curvature = False

    def __init__(self, lr: float = 0.1, momentum: float = 0.0):
        self.lr = _positive("learning rate", lr)
        self.momentum = float(momentum)
        if not (0.0 <= self.momentum < 1.0):
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")

    def init(self, params) -> SGDState:
        return SGDState(np.zeros_like(np.asarray(params, dtype=float)), np.asarray(0))

    def update(self, grads, state: SGDState, params=None, curvature=None):
        g = np.asarray(grads, dtype=float)
        v = self.momentum * state.momentum + g if self.momentum else g.copy()
        return -self.lr * v, SGDState(v, state.count + 1)


class AdamState(NamedTuple):
    mu: np.ndarray
    nu: np.ndarray
    count: np.ndarray


class Adam:
    """Adam (Kingma & Ba) with bias correction; beta1 = beta2 = 0 gives g / (|g| + eps)."""

    needs_curvature = False

    def __init__(self, lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr = _positive("learning rate", lr)
        self.b1, self.b2 = float(b1), float(b2)
        for nm, b in (("b1", self.b1), ("b2", self.b2)):
            if not 0.0 <= b < 1.0:
                raise ConfigError(f"Adam {nm} must be in [0, 1), got {b!r}")
        self.eps = _positive("eps", eps)

    def init(self, params) -> AdamState:
        z = np.zeros_like(np.asarray(params, dtype=float))
        return AdamState(z, z.copy(), np.asarray(0))

    def update(self, grads, state: AdamState, params=None, curvature=None):
        g = np.asarray(grads, dtype=float)
        k = int(state.count) + 1
        mu = self.b1 * state.mu + (1 - self.b1) * g
        nu = self.b2 * state.nu + (1 - self.b2) * g * g
        mhat = mu / (1 - self.b1 ** k)
        vhat = nu / (1 - self.b2 ** k)
        return -self.lr * mhat / (np.sqrt(vhat) + self.eps), AdamState(mu, nu, np.asarray(k))


# ----------------------------------------------------------------------------- natural gradient
class CountState(NamedTuple):
    count: np.ndarray


class _DirectNaturalGradient:
    """Shared shape of the direct (stateless) NGD solvers: theta -= lr (F + lambda I)^-1 grad.
    Subclasses define ``natural_gradient(grads, curvature)``."""

    needs_curvature = True

    def __init__(self, lr: float = 0.01, damping: float = 0.01):
        self.lr = _positive("learning rate", lr)
        self.damping = _positive("damping", damping)

    def init(self, params) -> CountState:
        return CountState(np.asarray(0))

    def update(self, grads, state, params=None, curvature=None):
        return -self.lr * self.natural_gradient(grads, curvature), CountState(state.count + 1)


class NGD(_DirectNaturalGradient):
    """Exact NGD: dense (F + lambda I) g~ = grad by Cholesky; F formed from the GGN factor."""

    def natural_gradient(self, grads, curvature):
        F = _need(curvature, "NGD").ggn().copy()
        F[np.diag_indices_from(F)] += self.damping
        return sla.cho_solve(sla.cho_factor(F, lower=True), np.asarray(grads, dtype=float))


class NGDCGState(NamedTuple):
    solution: np.ndarray
    count: np.ndarray


class NGDCG:
    """NGD-CG: CG on (F + lambda I) g~ = grad with F v = J^T H J v / b (JVP + VJP, J never formed),
    a fixed number of iterations; starts from 0 or (warm_start) from the previous solution."""

    needs_curvature = True

    def __init__(self, lr: float = 0.01, damping: float = 0.01, iters: int = 10, warm_start: bool = False):
        self.lr = _positive("learning rate", lr)
        self.damping = _positive("damping", damping)
        self.iters = int(iters)
        if self.iters < 1:
            raise ConfigError(f"CG iterations must be >= 1, got {iters!r}")
        self.warm_start = bool(warm_start)

    def init(self, params) -> NGDCGState:
        return NGDCGState(np.zeros_like(np.asarray(params, dtype=float)), np.asarray(0))

    def natural_gradient(self, grads, curvature, x0=None):
        c = _need(curvature, "NGD-CG")
        g = np.asarray(grads, dtype=float)
        x0 = np.zeros_like(g) if x0 is None else x0
        return conjugate_gradient(lambda v: c.ggn_matvec(v) + self.damping * v, g, x0, self.iters)

    def update(self, grads, state, params=None, curvature=None):
        x = self.natural_gradient(grads, curvature, state.solution if self.warm_start else None)
        return -self.lr * x, NGDCGState(x, state.count + 1)


def woodbury_solve(U, V, lam: float, v):
    """(lambda I + U V)^-1 v = lambda^-1 v - lambda^-2 U (I + lambda^-1 V U)^-1 V v.

    (The paper prints lambda^-1 I for the first term: a typo, physics.md 5.)  U (N, m), V (m, N).
    """
    m = U.shape[1]
    inner = np.eye(m) + (V @ U) / lam
    return v / lam - (U @ np.linalg.solve(inner, V @ v)) / lam**2


class NGDWoodbury(_DirectNaturalGradient):
    """NGD-Woodbury: F + lambda I = lambda I + U V with U = J^T (N x m), V = H J / b (m x N)."""

    def natural_gradient(self, grads, curvature):
        c = _need(curvature, "NGD-Woodbury")
        J = c.jacobian()
        H = c.hessian_blocks()
        V = np.matmul(H, J.reshape(c.b, c.dz, -1)).reshape(c.m, -1) / c.b
        return woodbury_solve(J.T, V, self.damping, np.asarray(grads, dtype=float))


# ---------------------------------------------------------------------------------------- TNGD
class TNGDState(NamedTuple):
    g_tilde: np.ndarray  # device state: the last natural-gradient estimate read out
    count: np.ndarray
    previous: OUSystem  # the system uploaded at the previous step (used during the delay td)
    inner: Any  # state of the optimizer the natural gradient is fed to (SGD or Adam)


class TNGD:
    """Thermodynamic NGD (Algorithm 1 of the paper).

    Each step k uploads (Ut_k, lambda, grad_k) and lets the device evolve
    dg~ = -((F_k + lambda I) g~ - grad_k) dt + N(0, 2 kappa0 dt) for analog time t (tau units),
    then reads one sample g~_k and feeds it to ``inner`` (SGD(lr): theta -= lr g~).

    Warm start (``x0='previous'``, Algorithm 1): the device starts from the previous read-out
    g~_{k-1}; its state is never reset. At the first step it starts from g~_0 = grad of that
    step's batch. ``x0='gradient'`` resets it to the current batch gradient each step instead.

    Delay td (0 <= td <= t): the new system is uploaded td after the previous read-out; during
    those td the device keeps evolving under the previous system (F_{k-1}, grad_{k-1}), then for
    t - td under the new one. So a read-out happens every t, and td = t is the fully pipelined
    case. (At k = 0 there is no previous system: the device holds g~_0 during the delay.)

    t = 0 returns x0 unchanged: with x0 = 'gradient' (or at the first step of Algorithm 1) that is
    exactly SGD's update; t -> inf (mean, kappa0 = 0) is exactly NGD's update.
    """

    needs_curvature = True

    def __init__(self, lr: float = 0.01, damping: float = 0.01, t: float = 50.0, td: float = 0.0,
                 kappa0: float = 0.0, solver=None, x0: str = "previous", seed: int = 0, inner=None):
        self.damping = _positive("damping", damping)
        self.t = float(t)  # may be inf (the stationary limit) with the exact solver
        if not self.t >= 0:
            raise ConfigError(f"analog time t must be >= 0 (tau units), got {t!r}")
        self.td = _positive("delay td", td, allow_zero=True)  # finite
        if self.td > self.t:
            raise ConfigError(f"delay td ({td}) must not exceed the analog time t ({t})")
        self.kappa0 = _positive("kappa0", kappa0, allow_zero=True)
        if x0 not in ("previous", "gradient"):
            raise ConfigError(f"x0 must be 'previous' (Algorithm 1) or 'gradient', got {x0!r}")
        self.x0 = x0
        self.solver = solver if solver is not None else ExactOUSolver()
        self.seed = int(seed)
        self.inner = inner if inner is not None else SGD(lr)
        self.lr = self.inner.lr

    def init(self, params) -> TNGDState:
        p = np.asarray(params, dtype=float)
        return TNGDState(np.zeros_like(p), np.asarray(0), empty_system(p.size), self.inner.init(p))

    def natural_gradient(self, grads, state: TNGDState, curvature):
        """(g~_k, system_k): the device read-out at this step."""
        c = _need(curvature, "TNGD")
        g = np.asarray(grads, dtype=float)
        k = int(state.count)
        system = self.solver.prepare(c.factor(), self.damping, g)
        rng = np.random.default_rng([self.seed, k])
        x = g.copy() if (k == 0 or self.x0 == "gradient") else state.g_tilde
        if self.td > 0 and k > 0:
            x = self.solver.propagate(state.previous, x, self.td, self.kappa0, rng)
        x = self.solver.propagate(system, x, self.t - self.td, self.kappa0, rng)
        return x, system

    def update(self, grads, state: TNGDState, params=None, curvature=None):
        x, system = self.natural_gradient(grads, state, curvature)
        updates, inner = self.inner.update(x, state.inner, params)
        keep = system if self.td > 0 else empty_system(x.size)
        return updates, TNGDState(x, state.count + 1, keep, inner)


# ------------------------------------------------------------------------------- constructors
def sgd(lr=0.1, momentum=0.0):
    return SGD(lr, momentum)


def adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    return Adam(lr, b1, b2, eps)


def ngd(lr=0.01, damping=0.01):
    return NGD(lr, damping)


def ngd_cg(lr=0.01, damping=0.01, iters=10, warm_start=False):
    return NGDCG(lr, damping, iters, warm_start)


def ngd_woodbury(lr=0.01, damping=0.01):
    return NGDWoodbury(lr, damping)


def tngd(lr=0.01, damping=0.01, t=50.0, td=0.0, kappa0=0.0, solver=None, x0="previous", seed=0):
    return TNGD(lr, damping, t, td, kappa0, solver, x0, seed)


def tngd_adam(lr=1e-3, damping=0.01, t=50.0, td=0.0, kappa0=0.0, solver=None, x0="previous", seed=0,
              eps=1e-8):
    """TNGD's natural gradient fed to Adam with beta1 = beta2 = 0 (paper, language-model runs)."""
    return TNGD(lr, damping, t, td, kappa0, solver, x0, seed, inner=Adam(lr, 0.0, 0.0, eps))


OPTIMIZERS = {"sgd": sgd, "adam": adam, "ngd": ngd, "ngd-cg": ngd_cg, "ngd-woodbury": ngd_woodbury,
              "tngd": tngd, "tngd-adam": tngd_adam}
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "ngd": 0.01, "ngd-cg": 0.01, "ngd-woodbury": 0.01,
              "tngd": 0.01, "tngd-adam": 1e-3}
