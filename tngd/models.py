"""Small neural networks with hand-written, vectorised forward, reverse (VJP) and forward (JVP) modes.

Parameters live in one flat float64 vector ``theta`` (N,); :meth:`Sequential.unflatten` gives views.
Reverse mode takes a *stack* of K output cotangents at once, ``dZ`` of shape (K, B, dz), and returns
either their batch sums (K, N) or per-example gradients (B, K, N). With K = dz and one-hot
cotangents this is the per-example output Jacobian in one vectorised pass (no N or b*dz separate
passes); with the columns of the loss-Hessian square roots as cotangents it is the GGN factor.

Models: :func:`mlp` (dense layers) and :func:`cnn` (the TNGD paper's network: one convolution, then
two dense layers). A convolution must be the first layer (its input gradient is never needed).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tngd.errors import ConfigError


# ---------------------------------------------------------------------------------------- layers
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
    """y = x W^T + b, x (B, d_in) -> y (B, d_out); W (d_out, d_in), b (d_out,)."""

    def __init__(self, d_in: int, d_out: int):
        self.d_in, self.d_out = int(d_in), int(d_out)
        self.shapes = [(self.d_out, self.d_in), (self.d_out,)]

    def init(self, rng, gain):
        return [rng.normal(0.0, gain / np.sqrt(self.d_in), self.shapes[0]), np.zeros(self.d_out)]

    def out_shape(self, in_shape):
        if tuple(in_shape) != (self.d_in,):
            raise ConfigError(f"dense layer expects inputs of shape ({self.d_in},), got {tuple(in_shape)}")
        return (self.d_out,)

    def forward(self, p, x):
        W, b = p
        return x @ W.T + b, x

    def backward(self, p, x, dy, per_example, need_dx, out=None):
        W, _ = p
        if per_example:  # (B, K, out, in) and (B, K, out)
            dyb = dy.transpose(1, 0, 2)
            grads = [_outer(dyb, x, out), dyb]
        else:  # (K, out, in) and (K, out)
            grads = [np.matmul(dy.transpose(0, 2, 1), x), dy.sum(axis=1)]
        return (dy @ W if need_dx else None), grads

    def jvp(self, p, dp, x, dx):
        W, _ = p
        dW, db = dp
        out = x @ dW.T + db
        if dx is not None:
            out = out + dx @ W.T
        return out


class Conv2D:
    """Valid (no padding) 2-D convolution with stride, as im2col + matmul.

    x (B, C, H, W) -> y (B, P, F) with P = Ho * Wo output positions (position-major layout; a
    following Flatten makes it (B, P * F)). Kernel (F, C, k, k), bias (F,).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1):
        self.c_in, self.c_out, self.k, self.stride = int(c_in), int(c_out), int(kernel), int(stride)
        if min(self.c_in, self.c_out, self.k, self.stride) < 1:
            raise ConfigError("convolution channels, kernel and stride must be >= 1")
        self.shapes = [(self.c_out, self.c_in, self.k, self.k), (self.c_out,)]

    def init(self, rng, gain):
        fan_in = self.c_in * self.k * self.k
        return [rng.normal(0.0, gain / np.sqrt(fan_in), self.shapes[0]), np.zeros(self.c_out)]

    def out_shape(self, in_shape):
        if len(in_shape) != 3 or in_shape[0] != self.c_in:
            raise ConfigError(f"convolution expects images of shape ({self.c_in}, H, W), got {tuple(in_shape)}")
        _, H, W = in_shape
        if H < self.k or W < self.k:
            raise ConfigError(f"images {H}x{W} are smaller than the {self.k}x{self.k} kernel")
        ho = (H - self.k) // self.stride + 1
        wo = (W - self.k) // self.stride + 1
        return (ho * wo, self.c_out)

    def patches(self, x):
        win = sliding_window_view(x, (self.k, self.k), axis=(2, 3))[:, :, ::self.stride, ::self.stride]
        B, C, ho, wo = win.shape[:4]
        return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(B, ho * wo, C * self.k * self.k)

    def forward(self, p, x):
        K, b = p
        P = self.patches(x)
        return P @ K.reshape(self.c_out, -1).T + b, P

    def backward(self, p, P, dy, per_example, need_dx, out=None):
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
        if dx is not None:
            raise ConfigError("a convolution must be the first layer")
        dK, db = dp
        return P @ dK.reshape(self.c_out, -1).T + db


class Activation:
    """Elementwise relu or tanh (relu'(0) := 0)."""

    shapes: list = []

    def __init__(self, kind: str = "relu"):
        if kind not in ("relu", "tanh"):
            raise ConfigError(f"unknown activation {kind!r}: use 'relu' or 'tanh'")
        self.kind = kind

    def init(self, rng, gain):
        return []

    def out_shape(self, in_shape):
        return tuple(in_shape)

    def forward(self, p, x):
        if self.kind == "relu":
            return np.maximum(x, 0.0), (x > 0).astype(float)
        y = np.tanh(x)
        return y, 1.0 - y * y

    def backward(self, p, d, dy, per_example, need_dx, out=None):
        return dy * d, []

    def jvp(self, p, dp, d, dx):
        return None if dx is None else d * dx


class Flatten:
    shapes: list = []

    def init(self, rng, gain):
        return []

    def out_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def forward(self, p, x):
        return x.reshape(x.shape[0], -1), x.shape[1:]

    def backward(self, p, shape, dy, per_example, need_dx, out=None):
        return dy.reshape(dy.shape[0], dy.shape[1], *shape), []

    def jvp(self, p, dp, shape, dx):
        return None if dx is None else dx.reshape(dx.shape[0], -1)


# ----------------------------------------------------------------------------------- the model
class Sequential:
    """A chain of layers with a flat parameter vector.

    input_shape : shape of one example (without the batch axis), e.g. (64,) or (1, 28, 28).
    Inputs of another shape with the same size are reshaped (so flat 784-vectors feed a CNN).
    """

    def __init__(self, layers, input_shape, name="model", activation="relu"):
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.name = name
        self.activation = activation
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.out_shape(shape)
        if len(shape) != 1:
            raise ConfigError(f"the last layer must output a vector, got shape {shape}")
        self.output_dim = shape[0]
        self.slices = []  # per layer: list of (slice, shape)
        off = 0
        for layer in self.layers:
            sl = []
            for s in layer.shapes:
                size = int(np.prod(s))
                sl.append((slice(off, off + size), s))
                off += size
            self.slices.append(sl)
        self.n_params = off

    # ------------------------------------------------------------------ parameters
    def init(self, seed=0) -> np.ndarray:
        """He (relu) or Glorot-like (tanh) normal weights, zero biases."""
        rng = np.random.default_rng(seed)
        gain = np.sqrt(2.0) if self.activation == "relu" else 1.0
        parts = []
        for i, layer in enumerate(self.layers):
            last = i == max(j for j, lay in enumerate(self.layers) if lay.shapes)
            parts += [a.ravel() for a in layer.init(rng, 1.0 if last else gain)]
        return np.concatenate(parts).astype(float)

    def unflatten(self, theta):
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ConfigError(f"{self.name} has {self.n_params} parameters, got a vector of shape {theta.shape}")
        return [[theta[sl].reshape(s) for sl, s in layer_sl] for layer_sl in self.slices]

    def describe(self) -> dict:
        return {"name": self.name, "n_params": self.n_params, "input_shape": list(self.input_shape),
                "output_dim": self.output_dim, "activation": self.activation,
                "layers": [type(layer).__name__ for layer in self.layers]}

    def _prep(self, x):
        x = np.asarray(x, dtype=float)
        if x.shape[1:] != self.input_shape:
            if int(np.prod(x.shape[1:])) != int(np.prod(self.input_shape)):
                raise ConfigError(f"{self.name} expects examples of shape {self.input_shape}, got {x.shape[1:]}")
            x = x.reshape((x.shape[0],) + self.input_shape)
        return x

    # ---------------------------------------------------------------------- modes
    def forward(self, theta, x, return_cache=False):
        """z = f_theta(x), shape (B, dz); with return_cache also the caches reverse/forward mode use."""
        params = self.unflatten(theta)
        h = self._prep(x)
        caches = []
        for layer, p in zip(self.layers, params):
            h, c = layer.forward(p, h)
            caches.append(c)
        return (h, caches) if return_cache else h

    def backward(self, theta, caches, dZ, per_example=False):
        """Reverse mode for a stack of cotangents dZ (K, B, dz).

        Returns sum_b dZ[k, b] . dz_b/dtheta as (K, N), or per example (B, K, N).
        """
        params = self.unflatten(theta)
        dZ = np.asarray(dZ, dtype=float)
        K, B = dZ.shape[:2]
        out = np.empty((B, K, self.n_params) if per_example else (K, self.n_params))
        first = next(i for i, lay in enumerate(self.layers) if lay.shapes)  # no input grads below it
        dy = dZ
        for i in range(len(self.layers) - 1, first - 1, -1):
            layer = self.layers[i]
            first_block = out[..., self.slices[i][0][0]] if (per_example and self.slices[i]) else None
            dy, grads = layer.backward(params[i], caches[i], dy, per_example, i > first, first_block)
            for (sl, _), g in zip(self.slices[i], grads):
                dst = out[..., sl]
                if not np.may_share_memory(g, dst):  # already written in place otherwise
                    dst[...] = g.reshape(dst.shape)
        return out

    def vjp(self, theta, caches, dz):
        """sum_b dz[b] . dz_b/dtheta for one cotangent dz (B, dz) -> (N,)."""
        return self.backward(theta, caches, np.asarray(dz)[None])[0]

    def jvp(self, theta, caches, v):
        """Forward mode: J v as per-example output tangents (B, dz), without forming J."""
        params = self.unflatten(theta)
        dparams = self.unflatten(v)
        dh = None
        for layer, p, dp, c in zip(self.layers, params, dparams, caches):
            dh = layer.jvp(p, dp, c, dh)
        return dh

    def jacobian(self, theta, caches, batch_size):
        """Per-example output Jacobian J, (B * dz, N), rows ordered (example, output)."""
        dz = self.output_dim
        dZ = np.broadcast_to(np.eye(dz)[:, None, :], (dz, batch_size, dz))
        return self.backward(theta, caches, dZ, per_example=True).reshape(batch_size * dz, self.n_params)


def mlp(input_shape, n_out: int, hidden=(64,), activation: str = "relu") -> Sequential:
    """Multilayer perceptron: flatten, then Dense + activation for each hidden width, then Dense."""
    input_shape = tuple(input_shape)
    d = int(np.prod(input_shape))
    layers = [Flatten()] if len(input_shape) > 1 else []
    for h in hidden:
        layers += [Dense(d, h), Activation(activation)]
        d = h
    layers.append(Dense(d, n_out))
    return Sequential(layers, input_shape, name="mlp", activation=activation)


def cnn(input_shape, n_out: int, channels: int = 4, kernel: int = 3, stride: int = 1, hidden: int = 32,
        activation: str = "relu") -> Sequential:
    """The paper's CNN: Conv2D(channels, kernel, stride) + act -> Flatten -> Dense(hidden) + act -> Dense(n_out).

    input_shape : (C, H, W) or (H, W) (one channel).
    """
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) == 2:
        input_shape = (1,) + input_shape
    if len(input_shape) != 3:
        raise ConfigError(f"the CNN needs image inputs (C, H, W) or (H, W), got example shape {input_shape}")
    conv = Conv2D(input_shape[0], channels, kernel, stride)
    npos, F = conv.out_shape(input_shape)
    layers = [conv, Activation(activation), Flatten(), Dense(npos * F, hidden), Activation(activation),
              Dense(hidden, n_out)]
    return Sequential(layers, input_shape, name="cnn", activation=activation)
