"""Sampled trajectories of a linear SDE dx = (F x + c) dt + dW, cov(dW) = Q dt (any time unit):
the exact discretisation, the exact log-probability of a trajectory, and the least-squares (maximum
likelihood) fit of the discrete recursion x_{k+1} = Phi x_k + d + e_k from sampled paths.

Exact discretisation at step h (Van Loan, IEEE TAC 23, 1978):

    x_{k+1} | x_k ~ N(Phi x_k + d, Sigma_h),  Phi = expm(F h),  d = int_0^h expm(F s) ds c
                                                                  (= (Phi - I) F^-1 c for invertible F),
    Sigma_h = int_0^h expm(F s) Q expm(F^T s) ds,  which solves F Sigma_h + Sigma_h F^T = Phi Q Phi^T - Q.

Least squares: regressing x_{k+1} on (x_k, 1) over every pair of consecutive samples is the maximum
likelihood estimate of (Phi, d) given the starts (Gaussian residuals), and needs no stationarity:
E[x_{k+1} | x_k] = Phi x_k + d from any start. Its asymptotic covariance is
cov(B_i., B_j.) = Sigma_ij (Z^T Z)^-1 (Z the regressors, B the rows of [Phi, d]): the residuals are
a martingale difference sequence, so this holds for correlated pairs from the same chain too.
The residual covariance estimates Sigma_h with the Wishart variance (S_ik S_jl + S_il S_jk) / N.
Pure numpy / scipy: no circuit types, no draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from spucircuit.errors import MatrixError
from spucircuit.numerics.matrices import as_matrix, as_vector, check_psd


def discretize_lti(F, Q, h: float, c=None) -> tuple:
    """(Phi, d, Sigma_h) of dx = (F x + c) dt + dW, cov(dW) = Q dt at step h (module doc; any F,
    singular included, through Van Loan's block exponentials)."""
    F = as_matrix(F, "F")
    n = F.shape[0]
    Q = check_psd(Q, n) if np.any(Q) else np.zeros((n, n))
    c = np.zeros(n) if c is None else as_vector(c, n, "c")
    h = float(h)
    if not (np.isfinite(h) and h > 0):
        raise MatrixError(f"step h must be finite and > 0, got {h!r}")
    M = np.zeros((2 * n, 2 * n))
    M[:n, :n], M[:n, n:], M[n:, n:] = -F, Q, F.T
    G = sla.expm(M * h)
    Phi = G[n:, n:].T
    Sigma = Phi @ G[:n, n:]
    Mc = np.zeros((n + 1, n + 1))
    Mc[:n, :n], Mc[:n, n] = F, c
    d = sla.expm(Mc * h)[:n, n]
    return Phi, d, 0.5 * (Sigma + Sigma.T)


def log_prob(xs, F, Q, h: float, c=None) -> float:
    """log p(x_1, ..., x_K | x_0) of a trajectory ``xs`` (K + 1, n) sampled every h from
    dx = (F x + c) dt + dW, cov(dW) = Q dt: the sum of the exact transition densities (module doc).
    Sigma_h must be positive definite (a Q that drives every direction within h)."""
    xs = np.asarray(xs, dtype=float)
    F = as_matrix(F, "F")
    n = F.shape[0]
    if xs.ndim != 2 or xs.shape[1] != n or xs.shape[0] < 2:
        raise MatrixError(f"trajectory has shape {xs.shape}: expected (K + 1, {n}) with K >= 1")
    if not np.all(np.isfinite(xs)):
        raise MatrixError("trajectory contains NaN or inf")
    Phi, d, S = discretize_lti(F, Q, h, c)
    try:
        L = np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise MatrixError("the one-step covariance Sigma_h is singular: Q does not drive every direction "
                          "(the trajectory has no density)") from None
    r = xs[1:] - xs[:-1] @ Phi.T - d
    w = sla.solve_triangular(L, r.T, lower=True)
    K = r.shape[0]
    return float(-0.5 * np.sum(w * w) - K * (np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2.0 * np.pi)))


@dataclass
class Var1Fit:
    """Least-squares fit of x_{k+1} = Phi x_k + d_g + e_k (one intercept per group g of runs).

    Phi (n, n); d (groups, n); Sigma (n, n) residual covariance (Sigma_h); pairs: N;
    cov_B (n (n + g), n (n + g)): the asymptotic covariance of vec(B), B = [Phi, d^T] row-major
    (entry (i, a) at i (n + g) + a); se_phi, se_d: standard errors of Phi and d."""

    Phi: np.ndarray
    d: np.ndarray
    Sigma: np.ndarray
    pairs: int
    cov_B: np.ndarray
    se_phi: np.ndarray
    se_d: np.ndarray
    Zi: np.ndarray | None = None  # (Z^T Z)^-1, (n + g, n + g): cov_B = kron(Sigma, Zi)

    def cov_phi(self) -> np.ndarray:
        """Asymptotic covariance of vec(Phi) (row-major, entry (i, a) at i n + a)."""
        n = self.Phi.shape[0]
        k = self.cov_B.shape[0] // n
        idx = (np.arange(n)[:, None] * k + np.arange(n)[None, :]).ravel()
        return self.cov_B[np.ix_(idx, idx)]

    def cov_sigma(self) -> np.ndarray:
        """Asymptotic covariance of vec(Sigma) (row-major): (S_ik S_jl + S_il S_jk) / N."""
        S = self.Sigma
        return (np.einsum("ik,jl->ijkl", S, S) + np.einsum("il,jk->ijkl", S, S)).reshape(S.size, S.size) / self.pairs


class Var1Stats:
    """Sufficient statistics of x_{k+1} = Phi x_k + d_g + e_k, accumulated from runs segment by
    segment (a long run never needs to be held in memory): ``add(x, group)`` with x (m, chains, n)
    consecutive samples; a segment continues the previous one of its group (its first sample pairs
    with that one's last) unless ``new=True``."""

    def __init__(self, n: int, groups: int = 1):
        self.n, self.groups = int(n), int(groups)
        k = self.n + self.groups
        self.Szz = np.zeros((k, k))
        self.Syz = np.zeros((self.n, k))
        self.Syy = np.zeros((self.n, self.n))
        self.pairs = 0
        self._last: dict = {}

    def add(self, x, group: int = 0, new: bool = False) -> None:
        x = np.asarray(x, dtype=float)
        if x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3 or x.shape[2] != self.n:
            raise MatrixError(f"samples have shape {x.shape}: expected (m, chains, {self.n})")
        if not 0 <= group < self.groups:
            raise MatrixError(f"group {group} is outside 0..{self.groups - 1}")
        last = None if new else self._last.get(group)
        full = x if last is None else np.concatenate([last[None], x], axis=0)
        self._last[group] = x[-1].copy()
        if full.shape[0] < 2:
            return
        X = full[:-1].reshape(-1, self.n)
        Y = full[1:].reshape(-1, self.n)
        Z = np.zeros((X.shape[0], self.n + self.groups))
        Z[:, : self.n] = X
        Z[:, self.n + group] = 1.0
        self.Szz += Z.T @ Z
        self.Syz += Y.T @ Z
        self.Syy += Y.T @ Y
        self.pairs += X.shape[0]

    def fit(self) -> Var1Fit:
        n, k, N = self.n, self.n + self.groups, self.pairs
        if N <= k:
            raise MatrixError(f"{N} sample pairs cannot fit {k} coefficients per row: run longer")
        try:
            Zi = np.linalg.inv(self.Szz)
        except np.linalg.LinAlgError:
            raise MatrixError("the samples do not span every direction (singular regressors): run longer "
                              "or with noise") from None
        B = self.Syz @ Zi
        R = self.Syy - B @ self.Syz.T
        Sigma = 0.5 * (R + R.T) / (N - k)
        cov_B = np.kron(Sigma, Zi)
        dg = np.sqrt(np.clip(np.outer(np.diag(Sigma), np.diag(Zi)), 0.0, None))  # (n, k)
        return Var1Fit(Phi=B[:, :n], d=B[:, n:].T.copy(), Sigma=Sigma, pairs=N, cov_B=cov_B,
                       se_phi=dg[:, :n], se_d=dg[:, n:].T.copy(), Zi=Zi)


def drift_from_discrete(Phi, Sigma, h: float) -> tuple:
    """(F, Q) of the continuous SDE whose exact discretisation at step h has Phi and Sigma_h:
    F = logm(Phi) / h (principal logarithm; MatrixError if Phi has an eigenvalue on (-inf, 0], which no
    real drift sampled at h produces), Q from Q - Phi Q Phi^T = -(F Sigma + Sigma F^T) (module doc)."""
    Phi = as_matrix(Phi, "Phi")
    ev = np.linalg.eigvals(Phi)
    bad = (np.abs(ev.imag) <= 1e-12 * np.abs(ev).max()) & (ev.real <= 0)
    if np.any(bad):
        raise MatrixError(f"Phi has the eigenvalue {ev[bad][0].real:.4g} on the negative real axis: no real drift "
                          "gives it (sample the trajectory more densely)")
    L = sla.logm(Phi)
    F = np.real(L) / float(h)
    W = -(F @ Sigma + Sigma @ F.T)
    Q = sla.solve_discrete_lyapunov(Phi, W)
    return F, 0.5 * (Q + Q.T)


def power_and_cov(Phi, cov_phi, m: int) -> tuple:
    """(Phi^m, cov of vec(Phi^m)) for an estimate Phi with covariance ``cov_phi`` (row-major vec), to
    first order: d(Phi^m) = sum_j Phi^j dPhi Phi^(m-1-j), i.e. J = sum_j Phi^j kron (Phi^(m-1-j))^T."""
    Phi = np.asarray(Phi, dtype=float)
    m = int(m)
    powers = [np.eye(Phi.shape[0])]
    for _ in range(m):
        powers.append(powers[-1] @ Phi)
    J = sum(np.kron(powers[j], powers[m - 1 - j].T) for j in range(m))
    return powers[m], J @ cov_phi @ J.T


def power_and_cov_kron(Phi, Sigma, G, m: int) -> tuple:
    """:func:`power_and_cov` for the least-squares covariance cov(vec Phi) = kron(Sigma, G) (G the
    regressors' block of (Z^T Z)^-1): with J = sum_j kron(Phi^j, (Phi^(m-1-j))^T),

        J kron(Sigma, G) J^T = sum_{j,k} kron(Phi^j Sigma Phi^k^T, R_j^T G R_k),   R_j = Phi^(m-1-j),

    one (n^2, m^2) x (m^2, n^2) product: O(m^2 n^4) instead of the O(n^6) of forming J (40x faster
    at n = 64, m = 9)."""
    Phi, Sigma, G = (np.asarray(a, dtype=float) for a in (Phi, Sigma, G))
    n, m = Phi.shape[0], int(m)
    powers = [np.eye(n)]
    for _ in range(m):
        powers.append(powers[-1] @ Phi)
    left = np.stack([powers[j] @ Sigma for j in range(m)])  # P^j Sigma
    X = np.einsum("pij,qkj->pqik", left, np.stack(powers[:m]))  # (P^j Sigma) (P^k)^T
    R = np.stack([powers[m - 1 - j] for j in range(m)])
    GR = np.einsum("ab,qbc->qac", G, R)  # G R_k
    Y = np.einsum("pba,qbc->pqac", R, GR)  # R_j^T G R_k
    C = (X.reshape(m * m, n * n).T @ Y.reshape(m * m, n * n)).reshape(n, n, n, n)  # [i, k, a, c]
    return powers[m], C.transpose(0, 2, 1, 3).reshape(n * n, n * n)


def delta_cov(f, theta, cov, rel_step: float = 1e-6) -> np.ndarray:
    """Covariance of f(theta) (a flat array) for theta with covariance ``cov``: J cov J^T with J by
    central differences, steps rel_step x max(|theta_k|, max |theta|)."""
    theta = np.asarray(theta, dtype=float)
    f0 = np.asarray(f(theta), dtype=float).ravel()
    J = np.zeros((f0.size, theta.size))
    scale = max(float(np.abs(theta).max()), 1e-300)
    for k in range(theta.size):
        e = rel_step * max(abs(theta[k]), scale)
        tp, tm = theta.copy(), theta.copy()
        tp[k] += e
        tm[k] -= e
        J[:, k] = (np.asarray(f(tp), float).ravel() - np.asarray(f(tm), float).ravel()) / (2 * e)
    return J @ cov @ J.T
