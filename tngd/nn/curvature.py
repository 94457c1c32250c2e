"""One mini-batch's loss, gradient and GGN curvature, computed lazily from one forward pass.

Conventions (b = batch size, dz = outputs, m = b * dz, N = parameters):

    l(theta)  = (1/b) sum_i L(y_i, f_theta(x_i))
    grad      = (1/b) J^T g_z                       g_z = stacked dL_i/dz_i
    F (GGN)   = (1/b) J^T H J,   H = blockdiag(H_i)  (dz x dz blocks)
              = Ut^T Ut,         Ut = (1/sqrt b) R^T J  (m x N), R = blockdiag(R_i), R_i R_i^T = H_i

``factor()`` builds Ut directly by reverse mode with the columns of R_i as cotangents (one pass,
same cost as J); ``ggn_matvec`` uses a JVP, the loss-Hessian product and a VJP and never forms J.
:class:`MiniBatchCurvature` (formerly ``Batch``, kept as an alias) holds all of it.
"""
from __future__ import annotations

import numpy as np

from tngd.errors import ConfigError
from tngd.nn.losses import accuracy


class MiniBatchCurvature:
    """One mini-batch's loss, gradient and GGN curvature at theta; every derived quantity is
    computed on first use and memoised.

    Args:
        model: a :class:`~tngd.nn.sequential.Sequential`.
        loss: a loss from :mod:`tngd.nn.losses`.
        theta: parameters (N,).
        x, y: the mini-batch's inputs (b, ...) and labels (b,) or targets (b, dz).

    Raises:
        ConfigError: inputs and labels of different lengths (or inputs that do not fit the model).

    Attributes:
        z: network outputs (b, dz); b, dz; loss_value: the batch mean loss; per_example_loss (b,).
    """

    def __init__(self, model, loss, theta, x, y):
        self.model, self.loss = model, loss
        self.theta = np.asarray(theta, dtype=float)
        self.x, self.y = x, y
        self.z, self.caches = model.forward(self.theta, x, return_cache=True)
        self.b, self.dz = self.z.shape
        if np.asarray(y).shape[0] != self.b:
            raise ConfigError(f"{self.b} inputs but {np.asarray(y).shape[0]} labels")
        self.per_example_loss = loss.value(self.z, y)
        self.loss_value = float(np.mean(self.per_example_loss))
        self._cache: dict = {}

    @property
    def m(self) -> int:
        """Rows of J and of the GGN factor, b dz."""
        return self.b * self.dz

    @property
    def n_params(self) -> int:
        """Parameters N."""
        return self.model.n_params

    def _memo(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    # --------------------------------------------------------------------- first order
    @property
    def grad(self) -> np.ndarray:
        """Gradient of the batch mean loss, (1/b) J^T g_z, (N,): one reverse pass, O(b N)."""
        return self._memo("grad", lambda: self.model.vjp(self.theta, self.caches,
                                                          self.loss.grad(self.z, self.y) / self.b))

    # -------------------------------------------------------------------- second order
    def jacobian(self) -> np.ndarray:
        """Per-example output Jacobian J (m, N), rows (example, output): O(m N)."""
        return self._memo("J", lambda: self.model.jacobian(self.theta, self.caches, self.b))

    def hessian_blocks(self) -> np.ndarray:
        """Loss Hessian blocks H_i (b, dz, dz)."""
        return self._memo("H", lambda: self.loss.hessian(self.z, self.y))

    def hessian_sqrt_blocks(self) -> np.ndarray:
        """R_i (b, dz, dz) with R_i R_i^T = H_i."""
        return self._memo("R", lambda: self.loss.hessian_sqrt(self.z, self.y))

    def factor_operator(self):
        """Ut (m, N) as a :class:`~tngd.nn.lowrank.LowRankFactor` (``@``, ``.T @``, ``gram()``), dense
        layers kept as outer products: one reverse pass without forming the m x N array,
        O(m d_out + b d_in) memory per dense layer."""
        def build():
            R = self.hessian_sqrt_blocks()
            dZ = R.transpose(2, 0, 1) / np.sqrt(self.b)  # dZ[k, i, :] = R_i[:, k] -> row k of R_i^T J_i
            return self.model.per_example_factor(self.theta, self.caches, dZ)
        return self._memo("Uop", build)

    def factor(self) -> np.ndarray:
        """Ut (m, N) with F = Ut^T Ut: rows (1/sqrt b) R_i^T J_i, built in one reverse pass, O(m N)."""
        return self._memo("Ut", lambda: self.factor_operator().toarray())

    def gram(self) -> np.ndarray:
        """The Gram matrix Ut Ut^T (m, m), whose non-zero eigenvalues are F's, layer by layer from
        :meth:`factor_operator` (dense layers: O(m^2 d_out + b^2 d_in), not O(m^2 N))."""
        return self._memo("G", lambda: self.factor_operator().gram())

    def ggn(self) -> np.ndarray:
        """Dense F = J^T H J / b (N, N); O(m N^2): small N only.

        Formed as a general product of two distinct arrays on purpose: numpy sends ``U.T @ U`` to
        OpenBLAS syrk, which crashed (free(): invalid size, SIGSEGV) with 2 threads at N ~ 2e4 and
        m = 640 (OpenBLAS 0.3.31 in scipy-openblas64, measured 2026-11-23)."""
        def build():
            U = self.factor()
            return np.ascontiguousarray(U.T) @ U
        return self._memo("F", build)

    def note_spectrum(self, eigvals) -> None:
        """Record the spectrum of the smaller of Ut Ut^T and Ut^T Ut, where a device computed it
        anyway (the exact OU device decomposes the Gram matrix): :meth:`ggn_top_and_trace` is then
        free, its largest value and sum (the non-zero eigenvalues of F are the Gram's)."""
        ev = np.asarray(eigvals, dtype=float)
        if ev.size and np.all(np.isfinite(ev)) and "top_trace" not in self._cache:
            self._cache["top_trace"] = (float(ev.max()), float(ev.sum()))

    def ggn_top_and_trace(self) -> tuple:
        """(largest eigenvalue, trace) of F = Ut^T Ut: the curvature operating point, per tau.

        From the spectrum a device recorded (:meth:`note_spectrum`: free), else from the smaller of
        the Gram matrix Ut Ut^T (:meth:`gram`, formed with the factor) and F itself: its trace, and
        its top eigenvalue by a dense eigendecomposition up to 1,024 rows (O(m^3): 0.05 s at
        m = 640), by Lanczos (scipy's ARPACK, relative tolerance 1e-3) above. Memoised."""
        def build():
            if self.m > self.n_params:  # the N x N GGN is the smaller matrix
                U = self.factor()
                M = np.ascontiguousarray(U.T) @ U
            else:
                M = self.gram()
            if not np.all(np.isfinite(M)):  # a diverged step: nothing to measure
                return float("nan"), float("nan")
            trace = float(np.trace(M))
            if M.shape[0] <= 1024 or trace == 0.0:
                return float(np.linalg.eigvalsh(M)[-1]), trace
            from scipy.sparse.linalg import ArpackNoConvergence, eigsh

            try:
                v0 = np.ones(M.shape[0])  # a fixed start: the same bits every run
                return float(eigsh(M, k=1, which="LA", tol=1e-3, v0=v0, return_eigenvectors=False)[0]), trace
            except ArpackNoConvergence:  # rare: the dense eigendecomposition instead
                return float(np.linalg.eigvalsh(M)[-1]), trace
        return self._memo("top_trace", build)

    def ggn_matvec(self, v) -> np.ndarray:
        """F v = J^T H J v / b by forward mode (J v), H blocks, reverse mode (J^T .); J never
        formed: O(b N) per product."""
        v = np.asarray(v, dtype=float)
        u = self.model.jvp(self.theta, self.caches, v)
        hu = self.loss.hvp(self.z, self.y, u)
        return self.model.vjp(self.theta, self.caches, hu) / self.b

    def accuracy(self) -> float:
        """Fraction of the batch classified correctly."""
        return accuracy(self.z, self.y)


#: The former name of :class:`MiniBatchCurvature`.
Batch = MiniBatchCurvature
