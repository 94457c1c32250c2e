"""The device's OU dynamics for TNGD, and the two ideal numerical devices.

Every device ("solver") propagates, for an analog time t in units of tau (the device's time
constant),

    dx = -(A x - g) dt + sqrt(2 kappa0) dW,      A = F + lambda I,  F = Ut^T Ut  (GGN factor, m x N)

from a given x0 and returns one sample x(t) (the paper reads a single sample). Its mean relaxes as
expm(-A t)(x0 - A^-1 g) + A^-1 g and its stationary law is N(A^-1 g, kappa0 A^-1).

Interface (duck-typed): ``prepare(factor, damping, rhs) -> OUSystem`` once per uploaded system,
``propagate(system, x0, t, kappa0, rng) -> x``. This module holds the system record
(:class:`OUSystem`), its checks, the catalogue (:data:`SOLVERS`, :func:`make_solver`) and:

* :class:`ExactOUSolver` - the ideal reference: exact propagation (mean and noise) using the
  low-rank structure: eigendecomposition of the m x m Gram matrix Ut Ut^T = R^T J J^T R / b, so
  phi(A) v = phi(lambda) v + Ut^T W diag((phi(lambda + s) - phi(lambda)) / s) W^T Ut v; no N x N
  matrix (O(m^2 N + m^3) per system, O(m N) per application). Only when m > N it decomposes the
  smaller N x N matrix F instead.
* :class:`EulerOUSolver` - Euler-Maruyama with step dt (the paper simulated with dt = 0.1 tau).

The circuit twins are in :mod:`tngd.devices.twin` and :mod:`tngd.devices.factored_twin`;
:mod:`tngd.devices` adds them to :data:`SOLVERS`.
"""
from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import numpy as np

from tngd.errors import ConfigError


class OUSystem(NamedTuple):
    """One uploaded linear system: A = factor^T factor + damping I, right-hand side rhs."""

    factor: np.ndarray  # Ut, (m, N)
    damping: np.ndarray  # lambda, 0-d
    rhs: np.ndarray  # g, (N,)
    eigvals: np.ndarray  # s of Ut Ut^T (m <= N) or of F = Ut^T Ut (m > N); (0,) if not needed
    eigvecs: np.ndarray  # their eigenvectors W, (m, m) or (N, N); (0, 0) if not needed


def empty_system(n: int) -> OUSystem:
    """A placeholder system of size n (no factor, zero rhs): "nothing uploaded yet"."""
    return OUSystem(np.zeros((0, n)), np.asarray(0.0), np.zeros(n), np.zeros(0), np.zeros((0, 0)))


def validate_run(t, kappa0):
    """Check a run's analog time and noise level (shared by every device's ``propagate``).

    Args:
        t: analog time in tau units, >= 0 (inf allowed; each device says whether it supports it).
        kappa0: noise level, finite and >= 0.

    Returns:
        ``(float(t), float(kappa0))``.

    Raises:
        ConfigError: t < 0 or NaN, or kappa0 negative or not finite.
    """
    t = float(t)
    if not (t >= 0) or math.isnan(t):
        raise ConfigError(f"analog time t must be >= 0 (tau units), got {t!r}")
    kappa0 = float(kappa0)
    if not (np.isfinite(kappa0) and kappa0 >= 0):
        raise ConfigError(f"noise level kappa0 must be finite and >= 0, got {kappa0!r}")
    return t, kappa0


def begin_run(t, kappa0, x0, who: str):
    """:func:`validate_run` plus the start state, for the devices that cannot run forever: returns
    ``(t, kappa0, x0)`` (float, float, float array); raises ConfigError naming ``who`` for t = inf."""
    t, kappa0 = validate_run(t, kappa0)
    if t > 0 and not np.isfinite(t):
        raise ConfigError(f"the {who} needs a finite analog time t")
    return t, kappa0, np.asarray(x0, dtype=float)


def make_system(factor, damping, rhs, eig: bool, gram=None) -> OUSystem:
    """The uploaded system A = Ut^T Ut + lambda I, g, checked.

    Args:
        factor: Ut (m, N): an array, or a structured factor with ``@``, ``.T @``, ``shape`` and
            ``gram()`` (:class:`tngd.nn.lowrank.LowRankFactor`), kept as it is when m <= N.
        damping: lambda, finite and > 0.
        rhs: g (N,).
        eig: also decompose the smaller of the Gram matrix Ut Ut^T (m <= N, O(m^2 N + m^3)) and
            F = Ut^T Ut (m > N, O(m N^2 + N^3)).
        gram: Ut Ut^T (m, m) when the caller has it (a network's reverse pass forms it from the
            layers' structure for much less than the O(m^2 N) product); used when m <= N.

    Returns:
        The :class:`OUSystem`.

    Raises:
        ConfigError: lambda not finite and > 0, or shapes that do not match (gram included).
    """
    # a structured factor (tngd.nn.lowrank.LowRankFactor: U @ v, U.T @ w, gram()) stays one
    U = factor if hasattr(factor, "rmatvec") else np.asarray(factor, dtype=float)
    lam = float(damping)
    if not (np.isfinite(lam) and lam > 0):
        raise ConfigError(f"damping lambda must be finite and > 0, got {damping!r}")
    g = np.asarray(rhs, dtype=float)
    if U.ndim != 2 or g.shape != (U.shape[1],):
        raise ConfigError(f"factor (m, N) and rhs (N,) do not match: {U.shape}, {g.shape}")
    if eig and U.shape[0] > U.shape[1]:  # m > N: the N x N GGN is the smaller eigenproblem
        U = np.asarray(U, dtype=float)
        s, W = np.linalg.eigh(U.T @ U)
    elif eig:
        if gram is None:
            gram = U.gram() if hasattr(U, "gram") else U @ U.T
        G = np.asarray(gram, dtype=float)
        if G.shape != (U.shape[0],) * 2:
            raise ConfigError(f"the Gram matrix of a factor {U.shape} must be {(U.shape[0],) * 2}, got {G.shape}")
        s, W = np.linalg.eigh(G)
    else:
        s, W = np.zeros(0), np.zeros((0, 0))
    return OUSystem(U, np.asarray(lam), g, s, W)


class ExactOUSolver:
    """Ideal device: exact in distribution for any t (t = inf gives the stationary law)."""

    name = "exact"
    takes_factor_operator = True  # prepare() takes a structured factor and its Gram matrix (see make_system)

    def prepare(self, factor, damping, rhs, gram=None) -> OUSystem:
        """The system with its Gram eigendecomposition, O(m^2 N + m^3), or O(m^3) given ``gram``
        = Ut Ut^T; ``factor`` may be a structured factor (see :func:`make_system`)."""
        return make_system(factor, damping, rhs, eig=True, gram=gram)

    @staticmethod
    def _apply(sys: OUSystem, f, v):
        """f(A) v for a scalar function f of the eigenvalues of A (vectorised over v's last axis)."""
        lam, s, W, U = float(sys.damping), sys.eigvals, sys.eigvecs, sys.factor
        out = f(np.asarray(lam)) * v
        if U.shape[0] > U.shape[1]:  # dense mode (m > N): W holds the eigenvectors of F itself
            s = np.maximum(s, 0.0)
            return W @ (f(lam + s) * (W.T @ v))
        if s.size:
            tol = max(s.max(initial=0.0), lam) * s.size * np.finfo(float).eps
            rng_modes = s > tol  # numerically zero Gram eigenvalues leave A = lambda there
            ss = np.where(rng_modes, s, 1.0)
            psi = np.where(rng_modes, (f(lam + ss) - f(np.asarray(lam))) / ss, 0.0)
            out = out + U.T @ (W @ (psi * (W.T @ (U @ v))))
        return out

    def mean(self, sys: OUSystem, x0, t):
        """E x(t) = expm(-A t) x0 + A^-1 (I - expm(-A t)) g."""
        t = float(t)
        x0 = np.asarray(x0, dtype=float)
        if t == 0:
            return x0.copy()
        fe = lambda a: np.exp(-a * t)  # noqa: E731
        fm = lambda a: -np.expm1(-a * t) / a  # noqa: E731
        return self._apply(sys, fe, x0) + self._apply(sys, fm, sys.rhs)

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        """One sample x(t) ~ N(E x(t), kappa0 A^-1 (I - e^{-2 A t})) from x0, O(m N) (exact for any
        t, inf included); ``rng`` draws the noise (unused when kappa0 = 0)."""
        t, kappa0 = validate_run(t, kappa0)
        x = self.mean(sys, x0, t)
        if kappa0 > 0 and t > 0:
            fn = lambda a: np.sqrt(-np.expm1(-2.0 * a * t) / a)  # noqa: E731  cov = kappa0 fn(A)^2
            z = rng.standard_normal(x.shape)
            x = x + np.sqrt(kappa0) * self._apply(sys, fn, z)
        return x


class EulerOUSolver:
    """Euler-Maruyama with step ``dt`` (tau units); round(t / dt) equal steps covering t exactly.

    A x is applied as lambda x + Ut^T (Ut x): O(m N) per step. Unstable steps
    (dt (lambda + s_max) >= 2) raise ConfigError naming the largest stable step.
    """

    name = "euler"

    def __init__(self, dt: float = 0.1):
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"Euler step dt must be finite and > 0 (tau units), got {dt!r}")
        self.dt = float(dt)

    def prepare(self, factor, damping, rhs) -> OUSystem:
        """The system with s_max = ||Ut||_2^2 (for the stability check) in ``eigvals``."""
        sys = make_system(factor, damping, rhs, eig=False)
        U = sys.factor
        smax = float(np.linalg.norm(U, 2) ** 2) if U.size else 0.0
        return sys._replace(eigvals=np.array([smax]))

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        """x(t) after round(t / dt) Euler-Maruyama steps from x0, O(m N) each; ConfigError for
        an infinite t or an unstable step."""
        t, kappa0 = validate_run(t, kappa0)
        x = np.array(x0, dtype=float, copy=True)
        if t == 0:
            return x
        if not np.isfinite(t):
            raise ConfigError("the Euler solver needs a finite analog time t")
        n = max(1, int(round(t / self.dt)))
        h = t / n
        lam, U, g = float(sys.damping), sys.factor, sys.rhs
        amax = lam + float(sys.eigvals[0]) if sys.eigvals.size else lam
        if h * amax >= 2.0:
            raise ConfigError(f"Euler step {h:.3g} tau is unstable for lambda_max(A) = {amax:.3g}: "
                              f"use dt < {2.0 / amax:.3g} tau")
        sd = np.sqrt(2.0 * kappa0 * h)
        for _ in range(n):
            drift = lam * x + U.T @ (U @ x) - g
            x = x - h * drift
            if kappa0 > 0:
                x = x + sd * rng.standard_normal(x.shape)
        return x


#: name -> device class for :func:`make_solver`; :mod:`tngd.devices` adds "twin" and "factored".
SOLVERS = {"exact": ExactOUSolver, "euler": EulerOUSolver}


def make_solver(name: str, **kwargs):
    """A TNGD device by name.

    Args:
        name: a key of :data:`SOLVERS`: ``'exact'``, ``'euler'``, ``'twin'``, ``'factored'``.
        **kwargs: the device class's constructor options.

    Returns:
        A new device.

    Raises:
        ConfigError: an unknown name (or a bad option).
    """
    try:
        cls = SOLVERS[name]
    except KeyError:
        raise ConfigError(f"unknown TNGD solver {name!r}: use one of {sorted(SOLVERS)}") from None
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(f"TNGD solver {name!r} has no option {', '.join(map(repr, unknown))}; its options: "
                              f"{', '.join(params)}")
    return cls(**kwargs)
