"""Thermodynamic NGD (Algorithm 1 of the paper): the natural gradient read from an analog device,
fed to an inner optimizer.

* :class:`DeviceNaturalGradient` (:func:`device_natural_gradient`): grads -> g~, the device's
  read-out after analog time t of dg~ = -((F + lambda I) g~ - grad) dt + N(0, 2 kappa0 dt);
  warm-started, with delay td; it has the device-time hook.
* :class:`TNGD` = ``chain(DeviceNaturalGradient(...), inner)``: :func:`tngd` with SGD(lr) as the
  inner optimizer, :func:`tngd_adam` with Adam(lr, beta1 = beta2 = 0).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tngd.devices.ou import ExactOUSolver, OUSystem, empty_system
from tngd.errors import ConfigError
from tngd.optim.base import Chain, DeviceTime, check_positive, require_curvature
from tngd.optim.first_order import SGD, adam

X0_MODES = ("warm", "reset", "paper")
X0_ALIASES = {"previous": "warm", "gradient": "reset"}  # the names before the paper mode existed


def canonical_x0(x0) -> str:
    """'warm', 'reset' or 'paper' (the former names 'previous' and 'gradient' are accepted)."""
    m = X0_ALIASES.get(x0, x0)
    if m not in X0_MODES:
        raise ConfigError(f"x0 must be one of {', '.join(X0_MODES)} (warm: Algorithm 1; reset: the gradient every "
                          f"step; paper: reset when td = 0), got {x0!r}")
    return m


class DeviceState(NamedTuple):
    """The device step's state."""

    g_tilde: np.ndarray  # device state: the last natural-gradient estimate read out
    count: np.ndarray
    previous: OUSystem  # the system uploaded at the previous step (used during the delay td)


class DeviceNaturalGradient:
    """The device's natural gradient (Algorithm 1 of the paper), as a gradient transformation.

    Each step k uploads (Ut_k, lambda, grad_k) and lets the device evolve
    dg~ = -((F_k + lambda I) g~ - grad_k) dt + N(0, 2 kappa0 dt) for analog time t (tau units),
    then reads one sample g~_k: the "updates" it returns (an inner optimizer turns them into a
    parameter step, see :class:`TNGD`). Host cost per step: the GGN factor Ut (m x N, one reverse
    pass); device: :mod:`tngd.devices`.

    The start of each analog run, ``x0`` (the paper is not consistent about it, so it is an
    explicit setting, recorded with every run):

    * ``'warm'`` (Algorithm 1; alias ``'previous'``): the device starts from the previous read-out
      g~_{k-1}; its state is never reset. At the first step it starts from g~_0 = grad.
    * ``'reset'`` (alias ``'gradient'``): the device is reset to the current batch gradient every
      step. Only then is t -> 0 exactly SGD (the t-sweep text of the paper).
    * ``'paper'`` (Appendix B: "reset at each iteration, or not, in which case td > 0"): reset when
      td = 0, warm when td > 0.

    Delay td (0 <= td <= t): the new system is uploaded td after the previous read-out; during
    those td the device keeps evolving under the previous system (F_{k-1}, grad_{k-1}), then for
    t - td under the new one. So a read-out happens every t, and td = t is the fully pipelined
    case. (At k = 0 there is no previous system: the device holds g~_0 during the delay.)

    t = 0 returns x0 unchanged: with x0 = 'reset' (or at the first step of Algorithm 1) that is
    exactly the gradient; t -> inf (mean, kappa0 = 0) is exactly NGD's natural gradient.

    Args:
        damping: lambda, > 0.
        t: analog time per step, tau units, >= 0 (inf: the stationary limit, exact solver only).
        td: delay, 0 <= td <= t.
        kappa0: device noise level, >= 0.
        solver: the device (:mod:`tngd.devices`; default :class:`~tngd.devices.ou.ExactOUSolver`).
        x0: ``'warm'`` (Algorithm 1), ``'reset'`` or ``'paper'`` (see above).
        seed: seeds the run noise, one stream per step.

    Raises:
        ConfigError: a value out of range.
    """

    needs_curvature = True

    def __init__(self, damping: float = 0.01, t: float = 50.0, td: float = 0.0, kappa0: float = 0.0,
                 solver=None, x0: str = "warm", seed: int = 0):
        self.damping = check_positive("damping", damping)
        self.t = float(t)  # may be inf (the stationary limit) with the exact solver
        if not self.t >= 0:
            raise ConfigError(f"analog time t must be >= 0 (tau units), got {t!r}")
        self.td = check_positive("delay td", td, allow_zero=True)  # finite
        if self.td > self.t:
            raise ConfigError(f"delay td ({td}) must not exceed the analog time t ({t})")
        self.kappa0 = check_positive("kappa0", kappa0, allow_zero=True)
        self.x0 = canonical_x0(x0)
        self.solver = solver if solver is not None else ExactOUSolver()
        self.seed = int(seed)

    @property
    def resets(self) -> bool:
        """Whether each analog run starts from the current gradient (``'reset'``, or ``'paper'`` at
        td = 0) rather than from the previous read-out."""
        return self.x0 == "reset" or (self.x0 == "paper" and self.td == 0)

    def init(self, params) -> DeviceState:
        """g~ = 0, count 0, no previous system."""
        p = np.asarray(params, dtype=float)
        return DeviceState(np.zeros_like(p), np.asarray(0), empty_system(p.size))

    def natural_gradient(self, grads, state: DeviceState, curvature):
        """(g~_k, system_k): the device read-out at this step."""
        c = require_curvature(curvature, "TNGD")
        g = np.asarray(grads, dtype=float)
        k = int(state.count)
        if self._structured(c):  # the exact device: Ut kept in the layers' structure, its Gram from it
            system = self.solver.prepare(c.factor_operator(), self.damping, g, gram=c.gram())
        else:
            system = self.solver.prepare(c.factor(), self.damping, g)
        if hasattr(c, "note_spectrum"):  # the exact device's Gram spectrum: the curvature log for free
            c.note_spectrum(system.eigvals)
        rng = np.random.default_rng([self.seed, k])
        x = g.copy() if (k == 0 or self.resets) else state.g_tilde
        if self.td > 0 and k > 0:
            x = self.solver.propagate(state.previous, x, self.td, self.kappa0, rng)
        x = self.solver.propagate(system, x, self.t - self.td, self.kappa0, rng)
        return x, system

    def update(self, grads, state: DeviceState, params=None, curvature=None):
        """(g~_k, new state): the natural gradient itself, not yet a parameter step."""
        x, system = self.natural_gradient(grads, state, curvature)
        keep = system if self.td > 0 else empty_system(x.size)
        return x, DeviceState(x, state.count + 1, keep)

    def device_time(self, curvature) -> DeviceTime:
        """The device-time hook: builds the GGN factor Ut (m x N: the host's share of the step,
        memoised on ``curvature``, so the update reuses it) and returns (N, b, dz, t)."""
        c = require_curvature(curvature, "TNGD")
        c.factor()  # the m x N values a real device is programmed with: the host builds them every step
        return DeviceTime(c.n_params, c.b, c.dz, self.t)

    def _structured(self, c) -> bool:
        """Whether the device takes the factor in the network's structure (the exact device) and the
        curvature can give it (:meth:`tngd.nn.curvature.MiniBatchCurvature.factor_operator`). The
        device-time hook still builds the dense Ut: a real device is programmed with its values,
        so the host's share counts them (the simulation of the ideal device just does not need them)."""
        return getattr(self.solver, "takes_factor_operator", False) and hasattr(c, "factor_operator")


class TNGDState(NamedTuple):
    """TNGD's state: the device step's (g_tilde, count, previous) and the inner optimizer's."""

    g_tilde: np.ndarray  # device state: the last natural-gradient estimate read out
    count: np.ndarray
    previous: OUSystem  # the system uploaded at the previous step (used during the delay td)
    inner: Any  # state of the optimizer the natural gradient is fed to (SGD or Adam)


def _device_setting(name):
    return property(lambda self: getattr(self.device, name), lambda self, v: setattr(self.device, name, v),
                    doc=f"The device step's ``{name}`` (:class:`DeviceNaturalGradient`).")


class TNGD(Chain):
    """Thermodynamic NGD: ``chain(DeviceNaturalGradient(...), inner)``, the device's natural
    gradient g~ fed to ``inner`` (SGD(lr) by default: theta -= lr g~).

    The chain's state is kept flat as :class:`TNGDState`. With ``x0='gradient'`` (or at the first
    step of Algorithm 1) t = 0 is exactly the inner optimizer on the gradient (SGD's update);
    t -> inf (kappa0 = 0) is exactly NGD's update.

    Args:
        lr: learning rate of the default inner SGD.
        damping, t, td, kappa0, solver, x0, seed: the device step (:class:`DeviceNaturalGradient`).
        inner: the optimizer g~ is fed to (default ``SGD(lr)``; ``lr`` is then unused).

    Attributes:
        device: the :class:`DeviceNaturalGradient`; its settings (t, td, damping, kappa0, x0,
            seed, solver) read and write through.
        inner: the inner optimizer; lr: its learning rate.
    """

    def __init__(self, lr: float = 0.01, damping: float = 0.01, t: float = 50.0, td: float = 0.0,
                 kappa0: float = 0.0, solver=None, x0: str = "warm", seed: int = 0, inner=None):
        device = DeviceNaturalGradient(damping, t, td, kappa0, solver, x0, seed)
        super().__init__(device, inner if inner is not None else SGD(lr))
        self.device, self.inner = self.parts
        self.lr = self.inner.lr

    damping = _device_setting("damping")
    t = _device_setting("t")
    td = _device_setting("td")
    kappa0 = _device_setting("kappa0")
    x0 = _device_setting("x0")
    seed = _device_setting("seed")
    solver = _device_setting("solver")

    def init(self, params) -> TNGDState:
        """The device's and the inner optimizer's initial states, flat."""
        device, inner = super().init(params)
        return TNGDState(*device, inner)

    def update(self, grads, state: TNGDState, params=None, curvature=None):
        """(inner updates of g~, new state): one device read-out, then one inner step."""
        updates, (device, inner) = super().update(grads, (DeviceState(*state[:3]), state.inner), params, curvature)
        return updates, TNGDState(*device, inner)

    def natural_gradient(self, grads, state: TNGDState, curvature):
        """(g~_k, system_k): the device read-out at this step (:meth:`DeviceNaturalGradient.natural_gradient`)."""
        return self.device.natural_gradient(grads, DeviceState(*state[:3]), curvature)


def device_natural_gradient(damping=0.01, t=50.0, td=0.0, kappa0=0.0, solver=None, x0="warm",
                            seed=0) -> DeviceNaturalGradient:
    """The device's natural gradient as a chainable step (see :class:`DeviceNaturalGradient`).

    Args:
        damping, t, td, kappa0, solver, x0, seed: as :class:`DeviceNaturalGradient`.

    Returns:
        The gradient transformation grads -> g~.
    """
    return DeviceNaturalGradient(damping, t, td, kappa0, solver, x0, seed)


def tngd(lr=0.01, damping=0.01, t=50.0, td=0.0, kappa0=0.0, solver=None, x0="warm", seed=0) -> TNGD:
    """TNGD with SGD: theta -= lr g~ (Algorithm 1; see :class:`TNGD`).

    Args:
        lr: learning rate.
        damping, t, td, kappa0, solver, x0, seed: as :class:`DeviceNaturalGradient`.

    Returns:
        The optimizer.
    """
    return TNGD(lr, damping, t, td, kappa0, solver, x0, seed)


def tngd_adam(lr=1e-3, damping=0.01, t=50.0, td=0.0, kappa0=0.0, solver=None, x0="warm", seed=0,
              eps=1e-8) -> TNGD:
    """TNGD's natural gradient fed to Adam with beta1 = beta2 = 0 (paper, language-model runs):
    the device step chained with ``adam(lr, 0, 0, eps)``, i.e. theta -= lr g~ / (|g~| + eps).

    Args:
        lr: Adam's learning rate.
        damping, t, td, kappa0, solver, x0, seed: as :class:`DeviceNaturalGradient`.
        eps: Adam's epsilon.

    Returns:
        The optimizer (a :class:`TNGD` whose inner optimizer is Adam).
    """
    return TNGD(lr, damping, t, td, kappa0, solver, x0, seed, inner=adam(lr, 0.0, 0.0, eps))
