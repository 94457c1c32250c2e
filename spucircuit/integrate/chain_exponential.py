"""Exponential scheme for a :class:`~spucircuit.statespace.chain.ChainDrift` (low rank).

With F' = D + U V^T (U = diag(1/C) G3eff, V^T = stage 2 x stage 1, m x N) and K = V^T U (m x m,
O(m^2 N) once per programming): for a uniform diagonal D = d I the step is **exact in distribution
for any h**, e^{-F' h} = e^{-d h} (I + U Phi(h) V^T), Phi(h) = (e^{-K h} - I) K^{-1}, with the noise
covariance exact through the same low-rank algebra (:class:`ExpDiscretization`). A non-uniform
diagonal D = d I + Delta (perturbed lambda resistors, finite gain) is integrated by exponential Euler
(ETD1): global error O(h ||Delta||) in transients, stationary mean exact. Cost O(m N) per step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from spucircuit.errors import StepError
from spucircuit.numerics.signed_arrays import rowmat
from spucircuit.statespace.chain import ChainDrift


# =====================================================================================
# exponential scheme
# =====================================================================================
def _phi1(z):
    """(e^z - 1) / z elementwise, stable near 0 (complex or real)."""
    z = np.asarray(z)
    out = np.empty_like(z, dtype=np.result_type(z, float))
    small = np.abs(z) < 0.5
    zs = z[small]
    acc = np.zeros_like(zs, dtype=out.dtype)
    for k in range(22, 0, -1):  # Horner for sum z^j / (j+1)!
        acc = 1.0 + acc * zs / (k + 1)
    out[small] = acc
    zl = z[~small]
    out[~small] = np.expm1(zl) / zl if np.isrealobj(zl) else (np.exp(zl) - 1.0) / zl
    return out


def _gl_nodes(h: float, cmax: float, npts: int = 20):
    """Gauss-Legendre nodes/weights on [0, h], panels [0, u1], then doubling (u1 = 1/cmax): exact
    to round-off for e^{-c u}, |c| <= cmax (each rate is resolved where it is not negligible)."""
    x, w = np.polynomial.legendre.leggauss(npts)
    u1 = h if cmax * h <= 1.0 else 1.0 / cmax
    edges = [0.0, u1]
    while edges[-1] < h:
        edges.append(min(h, 2.0 * edges[-1]))
    e = np.asarray(edges)
    lo, hi = e[:-1], e[1:]
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    u = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    wt = (half[:, None] * w[None, :]).ravel()
    return u, wt


def _decompose(K, Lft=None, Kc=None):
    """K = W diag(lam) Winv. Symmetric K: eigh. K = Lft Kc with both symmetric and Kc positive
    definite (nominal J/H circuits): eigh of L^T Lft L (Kc = L L^T), W = L^-T Q. Otherwise eig, with a
    reconstruction check (a defective K raises StepError)."""
    nrm = float(np.linalg.norm(K, 1)) or 1.0
    if np.max(np.abs(K - K.T)) <= 1e-12 * nrm:
        lam, W = np.linalg.eigh(0.5 * (K + K.T))
        return lam, W, W.T, "symmetric"
    if Lft is not None and Kc is not None:
        nl_, nk = np.linalg.norm(Lft, 1) or 1.0, np.linalg.norm(Kc, 1) or 1.0
        if np.max(np.abs(Lft - Lft.T)) <= 1e-12 * nl_ and np.max(np.abs(Kc - Kc.T)) <= 1e-12 * nk:
            try:
                L = np.linalg.cholesky(0.5 * (Kc + Kc.T))
                B = L.T @ (0.5 * (Lft + Lft.T)) @ L
                lam, Q = np.linalg.eigh(0.5 * (B + B.T))
                W = sla.solve_triangular(L.T, Q, lower=False)
                Winv = Q.T @ L.T
                res = np.linalg.norm(K @ W - W * lam, 1) / (nrm * np.linalg.norm(W, 1))
                if res <= 1e-10:
                    return lam, W, Winv, "symmetric-definite"
            except np.linalg.LinAlgError:
                pass
    lam, W = np.linalg.eig(K)
    try:
        Winv = np.linalg.inv(W)
    except np.linalg.LinAlgError:
        Winv = None
    if Winv is None or not np.all(np.isfinite(Winv)) or \
            np.linalg.norm((W * lam) @ Winv - K, 1) > 1e-8 * nrm:
        raise StepError("the low-rank matrix K = V^T U is (numerically) defective, so the exponential "
                        "scheme cannot diagonalise it: use scheme='euler'")
    if np.max(np.abs(lam.imag), initial=0.0) <= 1e-13 * np.max(np.abs(lam), initial=1.0) and \
            np.max(np.abs(W.imag)) <= 1e-13 * np.max(np.abs(W)):
        lam, W, Winv = lam.real, W.real, Winv.real
    return lam, W, Winv, "general"


@dataclass
class ExpDiscretization:
    """One step h of the exponential scheme for M = dbar I + U V^T (state v, SI units).

    Mean:   v' = e^{-dbar h} (v + U Phi_h V^T v) + a1 r + U Psi1 V^T r,   r = offset - Delta v
            (Phi_h = (e^{-K h} - I) K^-1, Psi1 = int_0^h e^{-dbar u} Phi(u) du, a1 = int_0^h e^{-dbar u} du;
            with Delta = 0 the forcing term is precomputed: force_n + U force_m)
    Noise:  dW = P dB_P + U L_w dB_w (P = [diag(sigma_sum), diag(1/C) G3m diag(sigma_bw)]) gives,
            exactly, zeta1 = sqrt(a) P z (a = int e^{-2 dbar u}),  zeta2 = (X / a) V^T zeta1 + Lc z',
            noise = zeta1 + U zeta2, with X = int e^{-2 dbar u} Phi(u) du and
            Lc Lc^T = Y1 + Y2 - X S X^T / a  (Y1 = int e^{-2 dbar u} Phi S Phi^T, Y2 = int e^{-2 dbar u} E Sigma_w E^T,
            S = V^T P P^T V): the projection of zeta2 on zeta1 plus an independent remainder.
    All m x m functions come from K = W diag(lam) W^-1 and are applied in the eigenbasis (O(m^2) per
    vector, no m x m function matrix is formed); the integrals over u by Gauss-Legendre on graded
    panels (exact to round-off for exponentials with rates up to 2 dbar + 2 max|lam|).
    """

    h: float
    dbar: float
    uniform: bool
    e_dh: float
    a1: float
    a: float
    W: np.ndarray  # eigenvectors of K (m, m), real or complex
    Winv: np.ndarray
    phi: np.ndarray  # e^{-dbar h} Phi_h in the eigenbasis (m,)
    psi: np.ndarray  # Psi1 in the eigenbasis (m,)
    xa: np.ndarray  # X / a in the eigenbasis (m,)
    Lc: np.ndarray | None
    force_n: np.ndarray | None  # uniform: a1 * offset (N,)
    force_m: np.ndarray | None  # uniform: Psi1 V^T offset (m,), enters through U
    delta: np.ndarray  # (N,) D - dbar
    sigma_sum: np.ndarray  # (N,)
    sigma_bw: np.ndarray  # (m,)
    noise: bool
    decomposition: str

    def matrix(self, which: str) -> np.ndarray:
        """'Phi' (= Phi_h, without e^{-dbar h}), 'Psi1' or 'Xa' as a dense m x m matrix (checks)."""
        vals = {"Phi": self.phi / self.e_dh, "Psi1": self.psi, "Xa": self.xa}[which]
        M_ = (self.W * vals) @ self.Winv
        return M_.real if np.iscomplexobj(M_) else M_

    def apply(self, T, vals):
        """Rows of T (k, m) in the eigenbasis coordinates, scaled by vals, back: real (k, m)."""
        out = _mm(np.ascontiguousarray(T * vals), self.WT)
        return out.real if np.iscomplexobj(out) else out

    @property
    def WT(self):
        if getattr(self, "_WT", None) is None:
            self._WT = np.ascontiguousarray(self.W.T)
            self._WinvT = np.ascontiguousarray(self.Winv.T)
            self._LcT = None if self.Lc is None else np.ascontiguousarray(self.Lc.T)
        return self._WT


def _mm(A, B):
    """A @ B through the serial numba kernel (common dtype: float64 or complex128)."""
    dt = np.result_type(A, B)
    A = np.ascontiguousarray(A, dtype=dt)
    B = np.ascontiguousarray(B, dtype=dt)
    out = np.empty((A.shape[0], B.shape[1]), dtype=dt)
    rowmat(A, B, out)
    return out


def exponential_discretization(chain: ChainDrift, h: float, noise: bool = True) -> ExpDiscretization:
    if not (np.isfinite(h) and h > 0):
        raise StepError(f"time step must be finite and > 0 s, got {h!r}")
    noise = bool(noise) and chain.has_noise
    lr = chain.lowrank(noise)
    key = "_eig"
    if key not in lr:
        lr[key] = _decompose(lr["K"], lr["Lft"], lr["Kc"])
    lam, W, Winv, kind = lr[key]
    D = chain.diag
    dbar = float(np.mean(D))
    delta = D - dbar
    uniform = bool(np.max(np.abs(delta)) <= 1e-13 * max(abs(dbar), 1e-300))
    if uniform:
        delta = np.zeros_like(D)
    cmax = 2.0 * abs(dbar) + 2.0 * float(np.max(np.abs(lam), initial=0.0))
    u, wt = _gl_nodes(h, cmax)
    ph = -u[None, :] * _phi1(-np.outer(lam, u))  # phi_i(u_q), (m, Q)
    w1 = wt * np.exp(-dbar * u)
    w2 = wt * np.exp(-2.0 * dbar * u)
    e_dh = math.exp(-dbar * h)
    a1 = h * float(_phi1(np.array(-dbar * h)))
    a = h * float(_phi1(np.array(-2.0 * dbar * h)))
    phi_h = e_dh * (-h * _phi1(-lam * h))
    psi = ph @ w1
    Xdiag = ph @ w2
    Lc = None
    sig_sum = np.sqrt(chain.q_sum) * chain.invc if noise else np.zeros(chain.n)
    sig_bw = np.sqrt(chain.q_bw) / chain.Dw if noise else np.zeros(chain.m)
    if noise:
        S, Sw = lr["S"], lr["Sigma_w"]
        St = Winv @ S @ Winv.T
        Swt = Winv @ Sw @ Winv.T
        Kpp = (ph * w2) @ ph.T
        E = np.exp(-np.outer(lam, u))
        Kee = (E * w2) @ E.T
        Y = W @ (Kpp * St + Kee * Swt) @ W.T
        X = (W * Xdiag) @ Winv
        Cc = Y - X @ S @ X.T / a
        Cc = np.real(Cc) if np.iscomplexobj(Cc) else Cc
        Cc = 0.5 * (Cc + Cc.T)
        try:  # positive definite in practice; the eigen-factor handles the semidefinite case
            Lc = np.linalg.cholesky(Cc)
            if not np.all(np.isfinite(Lc)):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            ev, Q = np.linalg.eigh(Cc)
            keep = ev > 1e-13 * max(ev[-1], 0.0)
            Lc = np.ascontiguousarray(Q[:, keep] * np.sqrt(ev[keep]))
    disc = ExpDiscretization(h=float(h), dbar=dbar, uniform=uniform, e_dh=e_dh, a1=a1, a=a, W=W, Winv=Winv,
                             phi=phi_h, psi=psi, xa=Xdiag / a, Lc=Lc, force_n=None, force_m=None, delta=delta,
                             sigma_sum=sig_sum, sigma_bw=sig_bw, noise=noise, decomposition=kind)
    if uniform:
        wc = chain.apply_Vt(chain.offset[None])
        disc.force_n = a1 * chain.offset
        disc.force_m = disc.apply(wc @ Winv.T, psi)[0]
    return disc


def exponential_step(chain: ChainDrift, disc: ExpDiscretization, X: np.ndarray, rng=None) -> np.ndarray:
    """One step for the rows of X (k, N); normals from numpy Generator ``rng`` (needed with noise).

    Reads the J array once (V^T of the stacked x, r, and the node part of zeta1) and the J^T array
    once (U of the m-vector together with the w-buffer noise of zeta1, min(G3, 0) sigma_bw z_b, one
    signed pass: both enter through G3); the w-buffer noise reaches V^T zeta1 through the cached
    m x m matrix V^T diag(1/C) G3m. Plus O(m^2) per chain."""
    k, N = X.shape
    m = chain.m
    rows = [X]
    if not disc.uniform:
        R = chain.offset - disc.delta * X
        rows.append(R)
    sa = math.sqrt(disc.a)
    Eb = None
    if disc.noise:
        zs = rng.standard_normal((k, N))
        zb = rng.standard_normal((k, m))
        zm = rng.standard_normal((k, disc.Lc.shape[1]))
        Z1s = (sa * disc.sigma_sum) * zs  # node part of zeta1 = sqrt(a) P z
        rows.append(Z1s)
        if np.any(disc.sigma_bw > 0):
            Eb = (sa * disc.sigma_bw) * zb  # buffer part: sqrt(a) diag(1/C) G3m sigma_bw z_b, via J^T below
    disc.WT  # noqa: B018  (caches the transposed factors)
    Vt = chain.apply_Vt(np.concatenate(rows, axis=0))
    if Eb is not None:
        Vt[-k:] += _mm(Eb, chain.lowrank(True)["VtG3m_T"])
    T = _mm(Vt, disc._WinvT)  # eigenbasis coordinates
    vals = [disc.phi] + ([] if disc.uniform else [disc.psi]) + ([disc.xa] if disc.noise else [])
    mu = disc.apply(sum(T[i * k:(i + 1) * k] * v for i, v in enumerate(vals)), 1.0)
    new = disc.e_dh * X
    if disc.uniform:
        new += disc.force_n
        mu += disc.force_m
    else:
        new += disc.a1 * R
    if disc.noise:
        mu += _mm(zm, disc._LcT)
        new += Z1s
    # U mu + diag(1/C) G3m Eb in one pass: G3 takes mu on its direct entries, mu gw + Eb on its negative ones
    new += chain.stage3(mu, mu * chain.gw if Eb is None else mu * chain.gw + Eb) * chain.invc
    return new


def exponential_step_dense(chain: ChainDrift, disc: ExpDiscretization):
    """(Phi_full, force, Cov) of one step as dense N x N arrays (small circuits: for checks):
    v' = Phi_full v + force + noise, cov(noise) = Cov (uniform diagonal only)."""
    chain.guard_dense("exponential_step_dense")
    if not disc.uniform:
        raise StepError("exponential_step_dense: only for a uniform diagonal")
    N = chain.n
    I = np.eye(N)
    U = chain.apply_U(np.eye(chain.m)).T  # (N, m)
    Vt = chain.apply_Vt(I).T  # (m, N)
    Phi = disc.e_dh * (I + U @ disc.matrix("Phi") @ Vt)
    force = disc.force_n + U @ disc.force_m
    cov = np.zeros((N, N))
    if disc.noise:
        Gm = chain.apply_G3m(np.eye(chain.m)).T * chain.invc[:, None]
        P = np.concatenate([np.diag(disc.sigma_sum), Gm * disc.sigma_bw], axis=1)
        T1 = math.sqrt(disc.a) * P
        A1 = (I + U @ disc.matrix("Xa") @ Vt) @ T1
        UL = U @ disc.Lc
        cov = A1 @ A1.T + UL @ UL.T
    return Phi, force, cov
