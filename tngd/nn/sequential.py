"""The model: :class:`Sequential`, a chain of :mod:`tngd.nn.layers` with one flat float64 parameter
vector ``theta`` (N,), and the two networks of the TNGD paper, :func:`mlp` and :func:`cnn`.

Reverse mode takes a *stack* of K output cotangents at once, ``dZ`` of shape (K, B, dz), and returns
either their batch sums (K, N) or per-example gradients (B, K, N). With K = dz and one-hot
cotangents this is the per-example output Jacobian in one vectorised pass (no N or b*dz separate
passes); with the columns of the loss-Hessian square roots as cotangents it is the GGN factor.
"""
from __future__ import annotations

import numpy as np

from tngd.errors import ConfigError
from tngd.nn.layers import Activation, Conv2D, Dense, Flatten
from tngd.nn.lowrank import ExplicitBlock, LowRankFactor, OuterBlock

INITS = ("he", "pytorch")  # Sequential.init schemes

class Sequential:
    """A chain of layers with a flat parameter vector.

    Inputs of another shape with the same size are reshaped (so flat 784-vectors feed a CNN).
    Parameter slices are laid out layer by layer, each layer's arrays in its ``shapes`` order.

    Args:
        layers: layer objects (:mod:`tngd.nn.layers` protocol); the last must output a vector.
        input_shape: shape of one example (without the batch axis), e.g. (64,) or (1, 28, 28).
        name: a label (``describe``, error messages).
        activation: the hidden activation, for the initialisation gain (He for relu).

    Raises:
        ConfigError: the layers do not chain on this input shape, or the output is not a vector.
    """

    def __init__(self, layers, input_shape, name="model", activation="relu", init="he"):
        if init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        self.init_scheme = init
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
        """Initial parameters drawn from ``default_rng(seed)``; returns theta (N,).

        ``init_scheme`` 'he': He (relu) or Glorot-like (tanh) normal weights (gain 1 for the last
        layer), zero biases. 'pytorch': PyTorch's default for Linear and Conv2d, every weight and
        bias uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), fan_in = inputs x
        kernel area: about 1/3 of He's weight scale, so the GGN starts about 10x smaller (the
        curvature operating point the paper's step sizes assume)."""
        rng = np.random.default_rng(seed)
        gain = np.sqrt(2.0) if self.activation == "relu" else 1.0
        parts = []
        for i, layer in enumerate(self.layers):
            if self.init_scheme == "pytorch":
                if layer.shapes:
                    bound = 1.0 / np.sqrt(np.prod(layer.shapes[0][1:]))
                    parts += [rng.uniform(-bound, bound, sh).ravel() for sh in layer.shapes]
                continue
            last = i == max(j for j, lay in enumerate(self.layers) if lay.shapes)
            parts += [a.ravel() for a in layer.init(rng, 1.0 if last else gain)]
        return np.concatenate(parts).astype(float)

    def unflatten(self, theta):
        """Per layer, views of theta (N,) shaped as its parameter arrays; ConfigError for a wrong size."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ConfigError(f"{self.name} has {self.n_params} parameters, got a vector of shape {theta.shape}")
        return [[theta[sl].reshape(s) for sl, s in layer_sl] for layer_sl in self.slices]

    def describe(self) -> dict:
        """JSON-ready summary: name, n_params, input_shape, output_dim, activation, init, layer names."""
        return {"name": self.name, "n_params": self.n_params, "input_shape": list(self.input_shape),
                "output_dim": self.output_dim, "activation": self.activation, "init": self.init_scheme,
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

    def per_example_factor(self, theta, caches, dZ) -> LowRankFactor:
        """The per-example reverse mode of :meth:`backward` (rows (example, cotangent), B K x N) as a
        :class:`~tngd.nn.lowrank.LowRankFactor`: dense layers' blocks kept as outer products
        (O(B K d_out + B d_in) memory), the others' as explicit per-example gradients."""
        params = self.unflatten(theta)
        dZ = np.asarray(dZ, dtype=float)
        K, B = dZ.shape[:2]
        first = next(i for i, lay in enumerate(self.layers) if lay.shapes)
        blocks, dy = [], dZ
        for i in range(len(self.layers) - 1, first - 1, -1):
            layer, sl = self.layers[i], self.slices[i]
            if hasattr(layer, "per_example_outer"):
                dy, D, X = layer.per_example_outer(params[i], caches[i], dy, i > first)
                blocks.append(OuterBlock(D, X, K, sl[0][0], sl[1][0]))
                continue
            dy, grads = layer.backward(params[i], caches[i], dy, True, i > first)
            if sl:
                M = np.concatenate([np.reshape(g, (B * K, -1)) for g in grads], axis=1)
                blocks.append(ExplicitBlock(M, slice(sl[0][0].start, sl[-1][0].stop)))
        return LowRankFactor(blocks, B * K, self.n_params)

    def vjp(self, theta, caches, dz):
        """sum_b dz[b] . dz_b/dtheta for one cotangent dz (B, dz) -> (N,); the cost of one
        backward pass, O(B N) for dense layers."""
        return self.backward(theta, caches, np.asarray(dz)[None])[0]

    def jvp(self, theta, caches, v):
        """Forward mode: J v as per-example output tangents (B, dz), without forming J; O(B N)
        for dense layers."""
        params = self.unflatten(theta)
        dparams = self.unflatten(v)
        dh = None
        for layer, p, dp, c in zip(self.layers, params, dparams, caches):
            dh = layer.jvp(p, dp, c, dh)
        return dh

    def jacobian(self, theta, caches, batch_size):
        """Per-example output Jacobian J, (B * dz, N), rows ordered (example, output): one
        reverse pass with dz one-hot cotangents, O(B dz N) memory and FLOPs."""
        dz = self.output_dim
        dZ = np.broadcast_to(np.eye(dz)[:, None, :], (dz, batch_size, dz))
        return self.backward(theta, caches, dZ, per_example=True).reshape(batch_size * dz, self.n_params)


def mlp(input_shape, n_out: int, hidden=(64,), activation: str = "relu", init: str = "he") -> Sequential:
    """Multilayer perceptron: flatten, then Dense + activation for each hidden width, then Dense.

    Args:
        input_shape: shape of one example (flattened first if it has more than one axis).
        n_out: outputs dz.
        hidden: hidden widths.
        activation: ``'relu'`` or ``'tanh'``.

    Returns:
        The :class:`Sequential` (name ``'mlp'``).
    """
    input_shape = tuple(input_shape)
    for nm, v in [("n_out", n_out)] + [("hidden width", h) for h in hidden]:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"mlp: {nm} must be an integer >= 1, got {v!r}")
    d = int(np.prod(input_shape))
    layers = [Flatten()] if len(input_shape) > 1 else []
    for h in hidden:
        layers += [Dense(d, h), Activation(activation)]
        d = h
    layers.append(Dense(d, n_out))
    return Sequential(layers, input_shape, name="mlp", activation=activation, init=init)


def cnn(input_shape, n_out: int, channels: int = 4, kernel: int = 3, stride: int = 1, hidden: int = 32,
        activation: str = "relu", init: str = "he") -> Sequential:
    """The paper's CNN: Conv2D(channels, kernel, stride) + act -> Flatten -> Dense(hidden) + act -> Dense(n_out).

    Args:
        input_shape: (C, H, W) or (H, W) (one channel).
        n_out: outputs dz.
        channels, kernel, stride: the convolution.
        hidden: width of the hidden dense layer.
        activation: ``'relu'`` or ``'tanh'``.

    Returns:
        The :class:`Sequential` (name ``'cnn'``).

    Raises:
        ConfigError: input_shape is not an image shape, or the layers do not fit it.
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
    return Sequential(layers, input_shape, name="cnn", activation=activation, init=init)
