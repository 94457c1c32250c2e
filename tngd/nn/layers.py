"""Neural-network layers with hand-written, vectorised forward, reverse (VJP) and forward (JVP) modes.

Every layer follows one protocol, used by :class:`tngd.nn.sequential.Sequential`:

* ``shapes``: the shapes of its parameter arrays (``[]``: none);
* ``init(rng, gain) -> [arrays]``: initial parameters;
* ``out_shape(in_shape) -> shape`` of one example's output (ConfigError if the input does not fit);
* ``forward(p, x) -> (y, cache)``;
* ``backward(p, cache, dy, per_example, need_dx, out=None) -> (dx or None, [parameter grads])``
  for a *stack* of K cotangents ``dy`` (K, B, ...): gradients summed over the batch (K, ...) or
  per example (B, K, ...);
* ``jvp(p, dp, cache, dx) -> dy``: the output tangent for parameter tangents ``dp`` (and an
  input tangent ``dx``, None for the first layer);
* optionally ``per_example_outer(p, cache, dy, need_dx) -> (dx, D, X)``: per-example gradients
  that are outer products D[(i, k)] X[i]^T, kept factored (:class:`Dense`; see
  :mod:`tngd.nn.lowrank`).

Layers: :class:`Dense`, :class:`Conv2D` (first layer only: its input gradient is never needed),
:class:`Activation` (relu, tanh), :class:`Flatten`.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tngd.errors import ConfigError


def _outer(dyb, x, out):
    """Per-example weight gradients dyb[b, k, o] x[b, i], written into ``out`` (a view of the
    result's (B, K, o * i) block) when given: no temporary of the largest array."""
    shape = dyb.shape + x.shape[1:]
    if out is not None:
        view = out.reshape(shape)  # a view: the block's last axis is contiguous
        if np.may_share_memory(view, out):
            np.multiply(dyb[:, :, :, None], x[:, None, None, :], out=view)
            return view
    return dyb[:, :, :, None] * x[:, None, None, :]


class Dense:
    """y = x W^T + b, x (B, d_in) -> y (B, d_out); W (d_out, d_in), b (d_out,).

    Cost per batch of B: forward 2 B d_in d_out FLOP; reverse mode for K cotangents the same per
    cotangent (batch sums) or B K d_out d_in values written (per example).

    Args:
        d_in, d_out: input and output widths.
    """

    def __init__(self, d_in: int, d_out: int):
        self.d_in, self.d_out = int(d_in), int(d_out)
        self.shapes = [(self.d_out, self.d_in), (self.d_out,)]

    def init(self, rng, gain):
        """[W ~ N(0, gain^2 / d_in), b = 0] from the generator ``rng``."""
        return [rng.normal(0.0, gain / np.sqrt(self.d_in), self.shapes[0]), np.zeros(self.d_out)]

    def out_shape(self, in_shape):
        """(d_out,); raises ConfigError unless in_shape == (d_in,)."""
        if tuple(in_shape) != (self.d_in,):
            raise ConfigError(f"dense layer expects inputs of shape ({self.d_in},), got {tuple(in_shape)}")
        return (self.d_out,)

    def forward(self, p, x):
        """(y, cache): y = x W^T + b, the cache is x."""
        W, b = p
        return x @ W.T + b, x

    def backward(self, p, x, dy, per_example, need_dx, out=None):
        """Reverse mode for K stacked cotangents dy (K, B, d_out): (dx = dy W or None, [dW, db]),
        dW (K, d_out, d_in) summed over the batch or (B, K, d_out, d_in) per example (written
        into ``out`` when given)."""
        W, _ = p
        if per_example:  # (B, K, out, in) and (B, K, out)
            dyb = dy.transpose(1, 0, 2)
            grads = [_outer(dyb, x, out), dyb]
        else:  # (K, out, in) and (K, out)
            grads = [np.matmul(dy.transpose(0, 2, 1), x), dy.sum(axis=1)]
        return (dy @ W if need_dx else None), grads

    def per_example_outer(self, p, x, dy, need_dx):
        """Reverse mode for K stacked cotangents dy (K, B, d_out), per example, without forming the
        gradients: (dx = dy W or None, D, x) with D = dy as (B K, d_out) rows (example, cotangent);
        the gradient of row (i, k) is D[(i, k)] x_i^T for W and D[(i, k)] for b (see
        :mod:`tngd.nn.lowrank`). O(K B d_out d_in) for dx only."""
        W, _ = p
        K, B = dy.shape[:2]
        return (dy @ W if need_dx else None), dy.transpose(1, 0, 2).reshape(B * K, -1), x

    def jvp(self, p, dp, x, dx):
        """Forward mode: dy = x dW^T + db (+ dx W^T when the input has a tangent dx)."""
        W, _ = p
        dW, db = dp
        out = x @ dW.T + db
        if dx is not None:
            out = out + dx @ W.T
        return out


class Conv2D:
    """Valid (no padding) 2-D convolution with stride, as im2col + matmul.

    x (B, C, H, W) -> y (B, P, F) with P = Ho * Wo output positions (position-major layout; a
    following Flatten makes it (B, P * F)). Kernel (F, C, k, k), bias (F,). Cost: forward
    2 B P F C k^2 FLOP; it must be the first layer (no input gradients).

    Args:
        c_in, c_out: input channels C and filters F.
        kernel: kernel size k.
        stride: stride in both directions.

    Raises:
        ConfigError: a size < 1.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1):
        self.c_in, self.c_out, self.k, self.stride = int(c_in), int(c_out), int(kernel), int(stride)
        if min(self.c_in, self.c_out, self.k, self.stride) < 1:
            raise ConfigError("convolution channels, kernel and stride must be >= 1")
        self.shapes = [(self.c_out, self.c_in, self.k, self.k), (self.c_out,)]

    def init(self, rng, gain):
        """[K ~ N(0, gain^2 / (C k^2)), b = 0] from the generator ``rng``."""
        fan_in = self.c_in * self.k * self.k
        return [rng.normal(0.0, gain / np.sqrt(fan_in), self.shapes[0]), np.zeros(self.c_out)]

    def out_shape(self, in_shape):
        """(P, F) for images (C, H, W); raises ConfigError for other shapes or images smaller than k."""
        if len(in_shape) != 3 or in_shape[0] != self.c_in:
            raise ConfigError(f"convolution expects images of shape ({self.c_in}, H, W), got {tuple(in_shape)}")
        _, H, W = in_shape
        if H < self.k or W < self.k:
            raise ConfigError(f"images {H}x{W} are smaller than the {self.k}x{self.k} kernel")
        ho = (H - self.k) // self.stride + 1
        wo = (W - self.k) // self.stride + 1
        return (ho * wo, self.c_out)

    def patches(self, x):
        """im2col: the (B, P, C k^2) patches of images x (B, C, H, W)."""
        win = sliding_window_view(x, (self.k, self.k), axis=(2, 3))[:, :, ::self.stride, ::self.stride]
        B, C, ho, wo = win.shape[:4]
        return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(B, ho * wo, C * self.k * self.k)

    def forward(self, p, x):
        """(y, cache): y = patches K^T + b (B, P, F), the cache is the patches."""
        K, b = p
        P = self.patches(x)
        return P @ K.reshape(self.c_out, -1).T + b, P

    def backward(self, p, P, dy, per_example, need_dx, out=None):
        """Reverse mode for K stacked cotangents dy (K, B, P, F): (None, [dK, db]), summed over
        the batch or per example; raises ConfigError if an input gradient is asked for."""
        if need_dx:
            raise ConfigError("a convolution must be the first layer (input gradients are not implemented)")
        Kn, B, npos, F = dy.shape
        if per_example:  # (B, K, F, c) via batched matmul over examples
            gK = np.matmul(dy.transpose(1, 0, 3, 2).reshape(B, Kn * F, npos), P).reshape(B, Kn, *self.shapes[0])
            gb = dy.sum(axis=2).transpose(1, 0, 2)
        else:
            gK = (dy.transpose(0, 3, 1, 2).reshape(Kn, F, B * npos) @ P.reshape(B * npos, -1)).reshape(Kn, *self.shapes[0])
            gb = dy.sum(axis=(1, 2))
        return None, [gK, gb]

    def jvp(self, p, dp, P, dx):
        """Forward mode: dy = patches dK^T + db (the input has no tangent)."""
        if dx is not None:
            raise ConfigError("a convolution must be the first layer")
        dK, db = dp
        return P @ dK.reshape(self.c_out, -1).T + db


class Activation:
    """Elementwise relu or tanh (relu'(0) := 0); no parameters, O(B d) per mode.

    Args:
        kind: ``'relu'`` or ``'tanh'``.

    Raises:
        ConfigError: another kind.
    """

    shapes: list = []

    def __init__(self, kind: str = "relu"):
        if kind not in ("relu", "tanh"):
            raise ConfigError(f"unknown activation {kind!r}: use 'relu' or 'tanh'")
        self.kind = kind

    def init(self, rng, gain):
        """No parameters: []."""
        return []

    def out_shape(self, in_shape):
        """The input shape."""
        return tuple(in_shape)

    def forward(self, p, x):
        """(y, cache): y = act(x), the cache is act'(x)."""
        if self.kind == "relu":
            return np.maximum(x, 0.0), (x > 0).astype(float)
        y = np.tanh(x)
        return y, 1.0 - y * y

    def backward(self, p, d, dy, per_example, need_dx, out=None):
        """(dy act'(x), []): the cotangents through the activation."""
        return dy * d, []

    def jvp(self, p, dp, d, dx):
        """act'(x) dx (None when the input has no tangent)."""
        return None if dx is None else d * dx


class Flatten:
    """(B, *shape) -> (B, prod(shape)); no parameters, no copies (reshapes only)."""

    shapes: list = []

    def init(self, rng, gain):
        """No parameters: []."""
        return []

    def out_shape(self, in_shape):
        """(prod(in_shape),)."""
        return (int(np.prod(in_shape)),)

    def forward(self, p, x):
        """(x flattened, the example shape)."""
        return x.reshape(x.shape[0], -1), x.shape[1:]

    def backward(self, p, shape, dy, per_example, need_dx, out=None):
        """(dy reshaped back to (K, B, *shape), [])."""
        return dy.reshape(dy.shape[0], dy.shape[1], *shape), []

    def jvp(self, p, dp, shape, dx):
        """dx flattened (None when the input has no tangent)."""
        return None if dx is None else dx.reshape(dx.shape[0], -1)
