"""Per-example losses L(y, z) of the network output z (B, dz), with the derivatives GGN methods need.

The batch objective is the mean  l = (1/b) sum_i L(y_i, z_i);  ``grad`` returns dL_i/dz_i per
example (not divided by b), ``hessian`` the dz x dz blocks H_i = d^2 L_i / dz_i^2, ``hessian_sqrt``
factors R_i with R_i R_i^T = H_i, and ``hvp`` applies H_i to per-example vectors without forming it.
"""
from __future__ import annotations

import numpy as np

from tngd.errors import ConfigError


def one_hot(y, k: int) -> np.ndarray:
    """(B, k) float rows e_{y_i} for integer labels y (B,)."""
    y = np.asarray(y)
    out = np.zeros((y.shape[0], k))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def log_softmax(z):
    """log softmax over the last axis, shifted by the maximum (no overflow)."""
    z = np.asarray(z, dtype=float)
    m = z.max(axis=-1, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _targets(y, dz):
    """One-hot rows for integer labels y (B,), else y itself as float (B, dz)."""
    y = np.asarray(y)
    return one_hot(y, dz) if y.ndim == 1 else np.asarray(y, float)


def softmax(z):
    """softmax over the last axis (exp of :func:`log_softmax`)."""
    return np.exp(log_softmax(z))


class SoftmaxCrossEntropy:
    """L = -log softmax(z)_y for integer labels y (or a probability vector y of shape (B, dz)).

    H = diag(p) - p p^T;  R = diag(sqrt p) - p sqrt(p)^T satisfies R R^T = H.
    """

    name = "ce"

    def value(self, z, y):
        """Per-example loss L_i, (B,)."""
        return -(_targets(y, z.shape[1]) * log_softmax(z)).sum(axis=1)

    def grad(self, z, y):
        """dL_i/dz_i = softmax(z_i) - t_i, (B, dz) (not divided by B)."""
        return softmax(z) - _targets(y, z.shape[1])

    def hessian(self, z, y=None):
        """H_i = diag(p_i) - p_i p_i^T, (B, dz, dz)."""
        p = softmax(z)
        return p[:, :, None] * np.eye(z.shape[1]) - p[:, :, None] * p[:, None, :]

    def hessian_sqrt(self, z, y=None):
        """R_i = diag(sqrt p_i) - p_i sqrt(p_i)^T with R_i R_i^T = H_i, (B, dz, dz)."""
        p = softmax(z)
        s = np.sqrt(p)
        return s[:, :, None] * np.eye(z.shape[1]) - p[:, :, None] * s[:, None, :]

    def hvp(self, z, y, u):
        """H_i u_i per example without forming H, O(B dz)."""
        p = softmax(z)
        return p * u - p * (p * u).sum(axis=1, keepdims=True)


class MeanSquaredError:
    """L = 0.5 ||z - t||^2 (summed over outputs); t = one_hot(y) for integer labels, else y itself.

    H = I, R = I.
    """

    name = "mse"

    def value(self, z, y):
        """Per-example loss L_i, (B,)."""
        return 0.5 * ((z - _targets(y, z.shape[1])) ** 2).sum(axis=1)

    def grad(self, z, y):
        """dL_i/dz_i = z_i - t_i, (B, dz)."""
        return z - _targets(y, z.shape[1])

    def hessian(self, z, y=None):
        """H_i = I, (B, dz, dz)."""
        return np.broadcast_to(np.eye(z.shape[1]), (z.shape[0], z.shape[1], z.shape[1])).copy()

    def hessian_sqrt(self, z, y=None):
        """R_i = I."""
        return self.hessian(z, y)

    def hvp(self, z, y, u):
        """H_i u_i = u_i (a copy)."""
        return np.array(u, dtype=float, copy=True)


LOSSES = {"ce": SoftmaxCrossEntropy, "cross-entropy": SoftmaxCrossEntropy, "mse": MeanSquaredError}


def make_loss(name: str):
    """A loss by name.

    Args:
        name: ``'ce'`` / ``'cross-entropy'`` (:class:`SoftmaxCrossEntropy`) or ``'mse'``.

    Returns:
        A new loss object.

    Raises:
        ConfigError: an unknown name.
    """
    try:
        return LOSSES[name]()
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}: use one of {sorted(LOSSES)}") from None


def accuracy(z, y) -> float:
    """Fraction of examples whose largest output z_i is the label (integer or one-hot / probability y)."""
    y = np.asarray(y)
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    return float(np.mean(np.argmax(z, axis=1) == labels))
