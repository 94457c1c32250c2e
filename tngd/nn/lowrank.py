"""The GGN factor Ut (m x N) kept in the layers' structure instead of as an m x N array.

A dense layer's per-example gradient for cotangent k is an outer product, dW = dy[k, i] x_i^T
(and db = dy[k, i]), so its block of Ut is fully described by the cotangents D (m, d_out) and the
inputs X (b, d_in): O(m d_out + b d_in) numbers instead of m d_out d_in. Products with it cost
the same order:

    (Ut v)[(i, k)]   = D[(i, k)] . (W_v x_i + b_v)                         O(b d_out d_in + m d_out)
    (Ut^T w)_W       = sum_i (sum_k w[(i, k)] D[(i, k)]) x_i^T               O(m d_out + b d_out d_in)
    (Ut Ut^T)        = (D D^T) * ((X X^T + 1) expanded over k)               O(m^2 d_out + b^2 d_in)

(W_v, b_v: the layer's part of v). Other layers (the convolution, 40 parameters in the paper's
CNN) keep their per-example gradients as an explicit (m, n_layer) block. Rows are ordered
(example i, cotangent k), as :meth:`tngd.nn.sequential.Sequential.backward` per example.

:class:`LowRankFactor` is what the exact OU device needs (``U @ v``, ``U.T @ w``, ``shape``,
the Gram matrix); ``toarray()`` (or ``np.asarray``) gives the dense Ut for everything else.
"""
from __future__ import annotations

import numpy as np


class OuterBlock:
    """A dense layer's rows of Ut: weights at columns ``w`` (d_out x d_in, row-major), bias at ``b``."""

    def __init__(self, D, X, K, w: slice, b: slice):
        self.D, self.X, self.K, self.w, self.b = D, X, int(K), w, b  # D (B K, d_out), X (B, d_in)

    def matvec(self, v):
        B = self.X.shape[0]
        d_out = self.D.shape[1]
        XV = self.X @ v[self.w].reshape(d_out, -1).T + v[self.b]  # (B, d_out): W_v x_i + b_v
        return np.einsum("iko,io->ik", self.D.reshape(B, self.K, d_out), XV).reshape(-1)

    def rmatvec(self, w, out):
        B = self.X.shape[0]
        E = np.einsum("ik,iko->io", w.reshape(B, self.K), self.D.reshape(B, self.K, -1))  # (B, d_out)
        out[self.w] = (E.T @ self.X).reshape(-1)
        out[self.b] = self.D.T @ w

    def gram(self):
        XX = np.repeat(np.repeat(self.X @ self.X.T + 1.0, self.K, axis=0), self.K, axis=1)
        return (self.D @ self.D.T) * XX

    def fill(self, out):
        """Write the block into the dense (m, N) array ``out`` (C order: its column slices reshape to views)."""
        B, d_out = self.X.shape[0], self.D.shape[1]
        view = out[:, self.w].reshape(B, self.K, d_out, -1)
        assert np.may_share_memory(view, out)
        np.multiply(self.D.reshape(B, self.K, d_out, 1), self.X[:, None, None, :], out=view)
        out[:, self.b] = self.D


class ExplicitBlock:
    """A layer's rows of Ut as an explicit (m, n_layer) array at columns ``cols``."""

    def __init__(self, M, cols: slice):
        self.M, self.cols = M, cols

    def matvec(self, v):
        return self.M @ v[self.cols]

    def rmatvec(self, w, out):
        out[self.cols] = self.M.T @ w

    def gram(self):
        return self.M @ self.M.T

    def fill(self, out):
        out[:, self.cols] = self.M


class LowRankFactor:
    """Ut (m x N) as per-layer blocks (see the module docstring); columns no block covers are zero.

    ``U @ v`` (v (N,) or (N, r)), ``U.T @ w`` (w (m,) or (m, r)), ``shape``, ``gram()`` and
    ``toarray()``; ``np.asarray(U)`` is the dense array.
    """

    def __init__(self, blocks, m: int, n: int):
        self.blocks, self.shape = list(blocks), (int(m), int(n))
        self.ndim, self.dtype = 2, np.dtype(float)

    def matvec(self, v):
        v = np.asarray(v, dtype=float)
        if v.ndim == 2:
            return np.stack([self.matvec(c) for c in v.T], axis=1)
        out = np.zeros(self.shape[0])
        for blk in self.blocks:
            out += blk.matvec(v)
        return out

    def rmatvec(self, w):
        w = np.asarray(w, dtype=float)
        if w.ndim == 2:
            return np.stack([self.rmatvec(c) for c in w.T], axis=1)
        out = np.zeros(self.shape[1])
        for blk in self.blocks:
            blk.rmatvec(w, out)
        return out

    def __matmul__(self, v):
        return self.matvec(v)

    @property
    def T(self):
        return _Transposed(self)

    def gram(self) -> np.ndarray:
        """Ut Ut^T (m, m), block by block (dense layers from their structure)."""
        G = np.zeros((self.shape[0],) * 2)
        for blk in self.blocks:
            G += blk.gram()
        return G

    def toarray(self) -> np.ndarray:
        """The dense Ut (m, N)."""
        out = np.zeros(self.shape)
        for blk in self.blocks:
            blk.fill(out)
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)


class _Transposed:
    def __init__(self, U):
        self.U, self.shape = U, U.shape[::-1]

    def __matmul__(self, w):
        return self.U.rmatvec(w)
