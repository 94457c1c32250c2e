"""The factored circuit's drift operator (TNGD App. C), built from its component values.

Stage 1 (J), stage 2 (H) and the integrators (J^T) give, with ideal op-amps,
C dv/dt = -(g3 g2 g1 r_f1 r_f2) J^T H J v - G_lambda v + ...: :class:`ChainDrift` applies this
drift (and its noise: the Johnson current of every resistor, pushed through the later stages like
the signal) in O(N m) per product and O(N m) memory, never forming the N x N matrix. Finite op-amp
gain gives every stage the exact per-row factor D = G_f + (sum G_in + G_f) / A0.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from spucircuit.circuit.factored_components import FactoredComponents, inv_gain
from spucircuit.constants import K_B, T_ROOM
from spucircuit.errors import NetlistError, StepError
from spucircuit.numerics.signed_arrays import scan_array, stage_blocks, stage_cols, stage_rows
from spucircuit.statespace.operators import DriftOperator

DENSE_MAX_N = 4000  # to_dense / diffusion_dense refuse larger N (they form N x N)


# =====================================================================================
# the chain: drift operator from component values
# =====================================================================================
class ChainDrift(DriftOperator):
    """Drift operator of a factored circuit, from its component values (units 1/s).

    State v (N,) = capacitor voltages (V). dv/dt = F v + offset + noise with

        F v = -D v - U (V^T v),   D = d / C (diagonal),  U = diag(1/C) G3eff (N x m),
        V^T = diag(1/D2) G2eff diag(1/D1) G1eff diag(1 - beta)  (m x N)

    where Geff are the signed arrays with negative entries multiplied by their buffer's gain.
    Applied stage by stage (numba), O(N m) per product; nothing of size N x N is formed except by
    :meth:`to_dense` / :meth:`diffusion_dense` (checks on small circuits).
    """

    kind = "chain"

    def __init__(self, comp: FactoredComponents, temperature_k: float = T_ROOM, noise: bool = True):
        comp.validate()
        if not (np.isfinite(temperature_k) and temperature_k >= 0):
            raise NetlistError(f"temperature must be finite and >= 0 K, got {temperature_k!r}")
        self.comp = comp
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.n, self.m = comp.n, comp.m
        m = self.m
        self.shared = comp.G3 is None
        self.G3_array = np.zeros((1, 1)) if self.shared else np.ascontiguousarray(comp.G3, dtype=np.float64)
        self.G1 = np.ascontiguousarray(comp.G1, dtype=np.float64)
        self.G2 = np.ascontiguousarray(comp.G2, dtype=np.float64)
        self.ratio3 = float(comp.g3_ratio)
        # row sums of |G| (summing-node total conductances), one pass
        S1, cs1, _, _ = comp.scan_g1()
        S3 = cs1 * self.ratio3 if self.shared else scan_array(self.G3_array)[0]
        S2 = np.abs(self.G2).sum(axis=2).reshape(m)
        self.S1, self.S2, self.S3 = S1, S2, S3
        ia = inv_gain
        self.beta = ia(comp.gain_int) / (1.0 + ia(comp.gain_int))  # 1 / (A0 + 1)
        self.om = 1.0 - self.beta
        self.D1 = comp.gf1 + (S1 + comp.gf1) * ia(comp.gain_s1)
        self.D2 = comp.gf2 + (S2 + comp.gf2) * ia(comp.gain_s2)

        def buffer(g_, f_, gain):
            has = g_ > 0
            D = np.where(has, f_ + (g_ + f_) * ia(gain), 1.0)
            return np.where(has, g_ / D, 0.0), D, has
        self.gx, self.Dx, hx = buffer(comp.bx_g, comp.bx_f, comp.gain_bx)
        self.gy, self.Dy, hy = buffer(comp.by_g, comp.by_f, comp.gain_by)
        self.gw, self.Dw, hw = buffer(comp.bw_g, comp.bw_f, comp.gain_bw)
        self.d = comp.g_lambda + self.beta * (S3 + comp.g_in)
        self.invc = 1.0 / comp.c
        self.diag = self.d * self.invc  # D (1/s)
        self.offset = -comp.g_in * comp.v_in * self.invc  # B u (V/s)
        # noise intensities (variance of the injected current per second, A^2/s) per summing node
        kT2 = 2.0 * K_B * self.temperature_k if self.noise else 0.0
        self.q_sum = kT2 * (S3 + comp.g_lambda + comp.g_in) + (0.5 * comp.noise_psd if self.noise else 0.0)
        self.q_a = kT2 * (S1 + comp.gf1)
        self.q_c = kT2 * (S2 + comp.gf2)
        self.q_bx = np.where(hx, kT2 * (comp.bx_g + comp.bx_f), 0.0)
        self.q_by = np.where(hy, kT2 * (comp.by_g + comp.by_f), 0.0)
        self.q_bw = np.where(hw, kT2 * (comp.bw_g + comp.bw_f), 0.0)
        self.has_noise = bool(any(np.any(q > 0) for q in (self.q_sum, self.q_a, self.q_c, self.q_bx,
                                                            self.q_by, self.q_bw)))
        self._lowrank = {}
        self._rho = None

    # ------------------------------------------------------------- chain passes
    def _vt(self, V):
        """w = V^T v for the rows of V (k, N): stages 1 and 2 without noise. Returns (k, m)."""
        V = np.atleast_2d(np.asarray(V, dtype=np.float64))
        k = V.shape[0]
        up = np.ascontiguousarray(V * self.om)
        dm = up * (self.gx - 1.0)
        Y = np.empty((k, self.m))
        stage_rows(self.G1, up, dm, Y, 1.0)
        Y *= -1.0 / self.D1
        W = np.empty((k, self.m))
        stage_blocks(self.G2, Y, np.ascontiguousarray(Y * (self.gy - 1.0)), W)
        W *= -1.0 / self.D2
        return W

    def stage3(self, UP, UM):
        """(k, N): sum_k G3[i, k] (UP[k] if G3[i, k] >= 0 else UM[k])."""
        UP = np.ascontiguousarray(np.atleast_2d(UP), dtype=np.float64)
        UM = np.ascontiguousarray(np.atleast_2d(UM) - UP, dtype=np.float64)  # -> difference
        Z = np.empty((UP.shape[0], self.n))
        if self.shared:
            stage_cols(self.G1, UP, UM, Z, self.ratio3)
        else:
            stage_rows(self.G3_array, UP, UM, Z, 1.0)
        return Z

    def apply_U(self, R):
        """U r = diag(1/C) G3eff r for rows of R (k, m)."""
        R = np.atleast_2d(R)
        return self.stage3(R, R * self.gw) * self.invc

    def apply_G3m(self, E):
        """min(G3, 0) e for rows of E (k, m) (the negative entries only: buffer noise of wn_k)."""
        E = np.atleast_2d(E)
        return self.stage3(np.zeros_like(E), E)

    def apply_Vt(self, V):
        return self._vt(V)

    def matvec(self, x):
        """F x (V/s), noise-free and without the constant input term; x (N,) or (k, N)."""
        x = np.asarray(x, dtype=np.float64)
        X = np.atleast_2d(x)
        out = -(self.apply_U(self._vt(X)) + self.diag * X)
        return out[0] if x.ndim == 1 else out

    def response(self, inj: dict, k: int) -> np.ndarray:
        """State-rate response (V/s), shape (k, N), to node current injections (A) and buffer-node
        injections given as dict entries s (k, N), a (k, m), c (k, m), bx (k, N), by (k, m), bw (k, m)."""
        N, m = self.n, self.m
        z = lambda key, n_: np.asarray(inj.get(key, np.zeros((k, n_))), dtype=float)  # noqa: E731
        up = np.zeros((k, N))
        dm = z("bx", N) / self.Dx
        Y = np.empty((k, m))
        stage_rows(self.G1, up, np.ascontiguousarray(dm), Y, 1.0)
        Y = np.ascontiguousarray(-(Y + z("a", m)) / self.D1)
        W = np.empty((k, m))
        stage_blocks(self.G2, Y, np.ascontiguousarray((self.gy - 1.0) * Y + z("by", m) / self.Dy), W)
        W = -(W + z("c", m)) / self.D2
        Z = self.stage3(W, self.gw * W + z("bw", m) / self.Dw)
        return -(Z + z("s", N)) * self.invc

    # ----------------------------------------------------------- dense (checks)
    def guard_dense(self, what):
        if self.n > DENSE_MAX_N:
            raise NetlistError(f"{what} forms an N x N matrix; N = {self.n} > {DENSE_MAX_N}")

    def to_dense(self):
        """F as an N x N array (small circuits only: for checks)."""
        self.guard_dense("to_dense")
        return self.matvec(np.eye(self.n)).T

    def noise_map_dense(self):
        """(T, q): state-rate response T (N, n_src) to each noise source and its intensity q (A^2/s)."""
        self.guard_dense("noise_map_dense")
        cols, qs = [], []
        for key, n_, q in (("s", self.n, self.q_sum), ("a", self.m, self.q_a), ("c", self.m, self.q_c),
                           ("bx", self.n, self.q_bx), ("by", self.m, self.q_by), ("bw", self.m, self.q_bw)):
            cols.append(self.response({key: np.eye(n_)}, n_).T)
            qs.append(q)
        return np.concatenate(cols, axis=1), np.concatenate(qs)

    def diffusion_dense(self):
        """Q (V^2/s) with dv = (F v + offset) dt + dW, cov(dW) = Q dt (small circuits only)."""
        T, q = self.noise_map_dense()
        Q = (T * q) @ T.T
        return 0.5 * (Q + Q.T)

    # ---------------------------------------------------------------- spectrum
    def gershgorin_radius(self) -> float:
        """Upper bound on the spectral radius: max row sum of |D| + |U| |V^T| (1/s), O(N m)."""
        # |U| |V^T| 1 with every entry's absolute value and the larger of direct / inverted gains
        absG1 = np.abs(self.G1)
        up = np.ascontiguousarray(np.abs(self.om) * np.maximum(self.gx, 1.0))[None]
        Y = np.empty((1, self.m))
        stage_rows(absG1, up, np.zeros_like(up), Y, 1.0)
        Y /= np.abs(self.D1)
        W = np.empty((1, self.m))
        stage_blocks(np.abs(self.G2), np.ascontiguousarray(Y * np.maximum(self.gy, 1.0)), np.zeros_like(Y), W)
        W /= np.abs(self.D2)
        W = np.ascontiguousarray(W * np.maximum(self.gw, 1.0))
        Z = np.empty((1, self.n))
        if self.shared:
            stage_cols(absG1, W, np.zeros_like(W), Z, self.ratio3)
        else:
            stage_rows(np.abs(self.G3_array), W, np.zeros_like(W), Z, 1.0)
        return float(np.max(np.abs(self.diag) + Z[0] * self.invc))

    def dominant_eigenvalue(self, method: str = "arnoldi", tol: float = 1e-10, maxiter: int = 2000, seed: int = 0):
        """Eigenvalue of F' = -F of largest modulus (1/s): Arnoldi (ARPACK, the Krylov refinement of
        power iteration) or plain power iteration with a Rayleigh-quotient stop; matvecs on the
        chain only (O(N m) each, no N x N)."""
        if self._rho is not None and self._rho[0] == method:
            return self._rho[1]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.n)
        mu = None
        if method == "arnoldi" and self.n > 2:
            import scipy.sparse.linalg as spla

            op = spla.LinearOperator((self.n, self.n), matvec=lambda v: -self.matvec(v), dtype=float)
            try:
                ev = spla.eigs(op, k=1, which="LM", v0=x, tol=tol, maxiter=maxiter)[0]
                mu = complex(ev[0])
            except Exception:  # ARPACK did not converge: fall back to power iteration
                mu = None
        if mu is None:
            if method not in ("arnoldi", "power"):
                raise StepError(f"unknown spectral-radius method {method!r}: use 'arnoldi' or 'power'")
            x /= np.linalg.norm(x)
            prev = 0.0
            for _ in range(maxiter):
                y = -self.matvec(x)
                lam = float(x @ y)
                nrm = np.linalg.norm(y)
                if nrm == 0:
                    break
                x = y / nrm
                if abs(lam - prev) <= tol * abs(lam):
                    break
                prev = lam
            mu = complex(lam)
        self._rho = (method, mu)
        return mu

    def spectral_radius(self, method: str = "arnoldi") -> float:
        return abs(self.dominant_eigenvalue(method))

    def max_stable_euler_step(self, method: str = "arnoldi") -> float:
        """2 Re(mu) / |mu|^2 for the dominant eigenvalue mu of F' (s): |1 - h mu| < 1."""
        mu = self.dominant_eigenvalue(method)
        if mu.real <= 0:
            raise StepError(f"drift has an eigenvalue with non-negative real part ({-mu:.4g} 1/s): not stable")
        return 2.0 * mu.real / abs(mu) ** 2

    # ------------------------------------------------------------- low rank
    def lowrank(self, noise: bool | None = None) -> dict:
        """m x m matrices of F' = D + U V^T (cached): K = V^T U and, with noise, S = V^T P P^T V, the
        stage-noise covariance Sigma_w (V^2/s) entering through U, the P-part pieces. Costs
        O(m^2 N) flops (chunked BLAS over N, no N x m temporary)."""
        noise = self.has_noise if noise is None else (noise and self.has_noise)
        key = bool(noise)
        if key in self._lowrank:
            return self._lowrank[key]
        N, m = self.n, self.m
        s1 = self.om * self.invc
        qs = (self.om * self.invc) ** 2 * self.q_sum
        rx = self.q_bx / self.Dx ** 2
        blas = sla.blas
        Fz = lambda: np.zeros((m, m), order="F")  # noqa: E731  (BLAS accumulates in place)
        KcT = Fz()  # Kc^T in Fortran order (= Kc in C order)
        CmT = Fz() if noise else None
        Sd = Fz() if noise else None
        Sx = Fz() if noise else None
        anyx = noise and bool(np.any(rx > 0))
        anyw = noise and bool(np.any(self.q_bw > 0))
        # nominal shared arrays with unit-gain buffers: G3eff = ratio G1eff^T, so Kc is a syrk
        sym = self.shared and bool(np.all((self.gx == 1.0) | (self.comp.bx_g == 0))) and \
            bool(np.all((self.gw == 1.0) | (self.comp.bw_g == 0)))
        L = max(64, (1 << 17) // max(1, m))

        def gemm(CT, A_, B_):  # C += A_ @ B_ via C^T += B_^T A_^T on Fortran views (no copies)
            blas.dgemm(1.0, B_.T, A_.T, beta=1.0, c=CT, overwrite_c=1)

        def syrk(C, X_, alpha=1.0):  # upper triangle of C += alpha X_ X_^T
            blas.dsyrk(alpha, X_.T, beta=1.0, c=C, trans=1, lower=0, overwrite_c=1)
        # uniform (1 - beta) / C: Kc = ratio s1 G1 G1^T in one syrk on the whole array (G1^T is a
        # Fortran view: no copy, no chunk temporaries)
        fast = sym and bool(np.all(s1 == s1[0])) and bool(np.all((self.gx == 1.0) | (self.comp.bx_g == 0)))
        if fast:
            syrk(KcT, self.G1, alpha=float(self.ratio3 * s1[0]))
        for j0 in range(0, N, L) if (noise or not fast) else ():
            j1 = min(N, j0 + L)
            A = self.G1[:, j0:j1]
            A1 = A if fast else np.where(A < 0, A * self.gx[j0:j1], A)
            if not fast:
                if sym:
                    syrk(KcT, A1 * np.sqrt(s1[j0:j1] * self.ratio3))
                else:
                    B = (A.T * self.ratio3) if self.shared else self.G3_array[j0:j1]
                    gemm(KcT, A1, np.where(B < 0, B * self.gw, B) * s1[j0:j1, None])
            if noise:
                if anyw:
                    B = (A.T * self.ratio3) if self.shared else self.G3_array[j0:j1]
                    gemm(CmT, A1, np.minimum(B, 0.0) * s1[j0:j1, None])
                syrk(Sd, A1 * np.sqrt(qs[j0:j1]))
                if anyx:
                    syrk(Sx, np.minimum(A, 0.0) * np.sqrt(rx[j0:j1]))

        def full(U_):  # symmetric matrix from its upper triangle
            return np.triu(U_) + np.triu(U_, 1).T
        Kc = full(KcT) if sym else np.ascontiguousarray(KcT.T)
        if noise:
            Cm = np.ascontiguousarray(CmT.T)
            Sd, Sx = full(Sd), full(Sx)
        # Lft = diag(1/D2) G2eff diag(1/D1)
        G2eff = np.where(self.G2 < 0, self.G2 * self.gy.reshape(self.G2.shape[0], 1, -1), self.G2)
        b_, dz = self.G2.shape[0], self.G2.shape[1]

        def lft(M_):  # Lft @ M_ for M_ (m, r)
            T_ = (M_ / self.D1[:, None]).reshape(b_, dz, -1)
            return (np.einsum("bij,bjr->bir", G2eff, T_).reshape(m, -1)) / self.D2[:, None]
        K = lft(Kc)
        out = {"K": K, "Kc": Kc, "Lft": lft(np.eye(m)), "noise": noise}
        if noise:
            LS = lft(Sd)
            S = lft(LS.T).T
            if anyw:
                VtG3m = lft(Cm)  # V^T diag(1/C) G3m (m x m): the w-buffer noise seen through V^T
                out["VtG3m_T"] = np.ascontiguousarray(VtG3m.T)  # (for rows: E @ VtG3m^T)
                LC = VtG3m * (np.sqrt(self.q_bw) / self.Dw)
                S = S + LC @ LC.T
            # Sigma_w: covariance rate of the stage-2 output noise (V^2/s); y noise is correlated
            # across rows through the x-buffers (Sx), so Sy is a full m x m matrix
            Sy = (Sx + np.diag(self.q_a)) / np.outer(self.D1, self.D1)
            G2m = np.minimum(self.G2, 0.0)
            rb = self.q_by / self.Dy ** 2

            def bd(Gb, M_):  # blockdiag(Gb) @ M_ for M_ (m, r)
                return np.einsum("bij,bjr->bir", Gb, M_.reshape(b_, dz, -1)).reshape(m, -1)
            Sw = bd(G2eff, bd(G2eff, Sy).T).T
            Gm_r = G2m * np.sqrt(rb).reshape(b_, 1, dz)
            Sw += bd(Gm_r, np.eye(m)) @ bd(Gm_r, np.eye(m)).T if np.any(rb > 0) else 0.0
            Sw += np.diag(self.q_c)
            Sw /= np.outer(self.D2, self.D2)
            out.update(S=0.5 * (S + S.T), Sigma_w=0.5 * (Sw + Sw.T))
        self._lowrank[key] = out
        return out
