"""The optimizer protocol (optax-style), :func:`chain` to compose optimizers, and the pieces every
optimizer shares.

    opt = tngd(lr=0.01, damping=0.01, t=50.0)
    state = opt.init(theta)
    updates, state = opt.update(grads, state, theta, curvature=c)   # c: tngd.MiniBatchCurvature
    theta = apply_updates(theta, updates)                           # theta + updates

Parameters and gradients are flat float64 vectors (N,). States are NamedTuples (a tuple for a
chain) and are never modified in place. ``curvature`` is the mini-batch's
:class:`~tngd.nn.curvature.MiniBatchCurvature`; first-order optimizers ignore it, second-order ones
raise ConfigError without it; ``opt.needs_curvature`` tells a training loop which is which.

An optimizer that runs part of its step on an analog device also has the *device-time hook*
``device_time(curvature) -> DeviceTime``: it builds what the device is sent (host work) and says
how much device time the step uses, so a training loop can cost the step with a hardware model
(:func:`device_time` returns None for a purely digital optimizer).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np

from tngd.errors import ConfigError


class Optimizer(Protocol):
    """What every optimizer provides (a structural type: nothing needs to inherit from it).

    Attributes:
        needs_curvature: whether ``update`` needs the mini-batch curvature.
    """

    needs_curvature: bool

    def init(self, params) -> Any:
        """The initial state for parameters ``params`` (N,)."""

    def update(self, grads, state, params=None, curvature=None) -> tuple:
        """``(updates, new_state)`` for gradients ``grads`` (N,); the caller adds the updates."""


class DeviceTime(NamedTuple):
    """One optimizer step's use of an analog device: the problem sizes (they set the upload and
    the read-out) and the analog time."""

    N: int  # parameters
    b: int  # batch size
    dz: int  # network outputs (m = b dz rows of the uploaded factor)
    t_tau: float  # analog time, units of the device's tau


def device_time(optimizer, curvature) -> DeviceTime | None:
    """The optimizer's device-time hook, or None for a purely digital optimizer.

    Args:
        optimizer: any optimizer.
        curvature: the step's mini-batch curvature.

    Returns:
        ``optimizer.device_time(curvature)`` when the optimizer has the hook, else None.
    """
    hook = getattr(optimizer, "device_time", None)
    return None if hook is None else hook(curvature)


def apply_updates(params, updates):
    """theta + updates (a new float64 array).

    Args:
        params: theta (N,).
        updates: the optimizer's updates (N,).

    Returns:
        The updated parameters.
    """
    return np.asarray(params, dtype=float) + updates


def check_positive(name: str, v, allow_zero: bool = False) -> float:
    """A hyper-parameter checked to be finite and > 0 (>= 0 with ``allow_zero``).

    Args:
        name: what it is, for the message.
        v: the value.
        allow_zero: accept 0.

    Returns:
        ``float(v)``.

    Raises:
        ConfigError: not finite, or out of range.
    """
    v = float(v)
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        raise ConfigError(f"{name} must be finite and {'>=' if allow_zero else '>'} 0, got {v!r}")
    return v


def require_curvature(curvature, who: str):
    """The curvature a second-order step needs.

    Args:
        curvature: the value passed to ``update``.
        who: the optimizer's name, for the message.

    Returns:
        ``curvature``.

    Raises:
        ConfigError: it is None.
    """
    if curvature is None:
        raise ConfigError(f"{who} needs curvature information: pass curvature=tngd.MiniBatchCurvature(...)")
    return curvature


class Chain:
    """Optimizers applied in sequence: each one's updates are the next one's gradients.

    ``chain(a, b).update(g, ...)`` = ``b.update(a.update(g, ...)[0], ...)``; the state is the tuple
    of the parts' states. Curvature goes to the parts that need it; the device-time hook is the
    first part's that has one.

    Args:
        *parts: optimizers (at least one).

    Raises:
        ConfigError: no parts.
    """

    def __init__(self, *parts):
        if not parts:
            raise ConfigError("chain needs at least one optimizer")
        self.parts = tuple(parts)

    @property
    def needs_curvature(self) -> bool:
        """Whether any part needs the curvature."""
        return any(p.needs_curvature for p in self.parts)

    def init(self, params) -> tuple:
        """The tuple of the parts' initial states."""
        return tuple(p.init(params) for p in self.parts)

    def update(self, grads, state, params=None, curvature=None):
        """Run the parts in order; returns (the last part's updates, the tuple of new states)."""
        updates, new = grads, []
        for part, s in zip(self.parts, state):
            updates, s = part.update(updates, s, params, curvature=curvature if part.needs_curvature else None)
            new.append(s)
        return updates, tuple(new)

    def device_time(self, curvature) -> DeviceTime | None:
        """The first part's device time (see :func:`device_time`), or None."""
        for part in self.parts:
            dt = device_time(part, curvature)
            if dt is not None:
                return dt
        return None


def chain(*parts) -> Chain:
    """Compose optimizers (see :class:`Chain`); e.g. ``chain(device_natural_gradient(...), adam(lr))``.

    Args:
        *parts: optimizers, applied in order.

    Returns:
        The :class:`Chain`.
    """
    return Chain(*parts)
