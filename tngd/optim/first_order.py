"""First-order optimizers: :func:`sgd` (with momentum) and :func:`adam`; they ignore curvature."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tngd.errors import ConfigError
from tngd.optim.base import check_positive


class SGDState(NamedTuple):
    """SGD's state: the momentum buffer v (N,) and the step count."""

    momentum: np.ndarray
    count: np.ndarray


class SGD:
    """theta <- theta - lr v,  v <- momentum v + grad (v = grad when momentum = 0); O(N) per step.

    Args:
        lr: learning rate, > 0.
        momentum: in [0, 1).

    Raises:
        ConfigError: a value out of range.
    """

    needs_curvature = False

    def __init__(self, lr: float = 0.1, momentum: float = 0.0):
        self.lr = check_positive("learning rate", lr)
        self.momentum = float(momentum)
        if not (0.0 <= self.momentum < 1.0):
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")

    def init(self, params) -> SGDState:
        """Zero momentum, count 0."""
        return SGDState(np.zeros_like(np.asarray(params, dtype=float)), np.asarray(0))

    def update(self, grads, state: SGDState, params=None, curvature=None):
        """(-lr v, new state)."""
        g = np.asarray(grads, dtype=float)
        v = self.momentum * state.momentum + g if self.momentum else g.copy()
        return -self.lr * v, SGDState(v, state.count + 1)


class AdamState(NamedTuple):
    """Adam's state: first and second moments (N,) and the step count."""

    mu: np.ndarray
    nu: np.ndarray
    count: np.ndarray


class Adam:
    """Adam (Kingma & Ba) with bias correction; beta1 = beta2 = 0 gives g / (|g| + eps).

    mu <- b1 mu + (1 - b1) g, nu <- b2 nu + (1 - b2) g^2, update = -lr mu^ / (sqrt(nu^) + eps) with
    mu^ = mu / (1 - b1^k), nu^ = nu / (1 - b2^k); O(N) per step.

    Args:
        lr: learning rate, > 0.
        b1, b2: moment decay rates in [0, 1).
        eps: > 0.

    Raises:
        ConfigError: a value out of range.
    """

    needs_curvature = False

    def __init__(self, lr: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr = check_positive("learning rate", lr)
        self.b1, self.b2 = float(b1), float(b2)
        for nm, b in (("b1", self.b1), ("b2", self.b2)):
            if not 0.0 <= b < 1.0:
                raise ConfigError(f"Adam {nm} must be in [0, 1), got {b!r}")
        self.eps = check_positive("eps", eps)

    def init(self, params) -> AdamState:
        """Zero moments, count 0."""
        z = np.zeros_like(np.asarray(params, dtype=float))
        return AdamState(z, z.copy(), np.asarray(0))

    def update(self, grads, state: AdamState, params=None, curvature=None):
        """(-lr mu^ / (sqrt(nu^) + eps), new state)."""
        g = np.asarray(grads, dtype=float)
        k = int(state.count) + 1
        mu = self.b1 * state.mu + (1 - self.b1) * g
        nu = self.b2 * state.nu + (1 - self.b2) * g * g
        mhat = mu / (1 - self.b1 ** k)
        vhat = nu / (1 - self.b2 ** k)
        return -self.lr * mhat / (np.sqrt(vhat) + self.eps), AdamState(mu, nu, np.asarray(k))


def sgd(lr=0.1, momentum=0.0) -> SGD:
    """Stochastic gradient descent (see :class:`SGD`).

    Args:
        lr: learning rate.
        momentum: heavy-ball momentum (0: plain SGD).

    Returns:
        The optimizer.
    """
    return SGD(lr, momentum)


def adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8) -> Adam:
    """Adam (see :class:`Adam`).

    Args:
        lr, b1, b2, eps: as :class:`Adam`.

    Returns:
        The optimizer.
    """
    return Adam(lr, b1, b2, eps)
