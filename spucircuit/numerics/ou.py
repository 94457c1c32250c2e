"""Exact references for the linear SDE dx = (F x + u) dt + dW, cov(dW) = Q dt (any units).

These are the theory the twin is checked against: the mean transient (expm), the stationary
covariance (continuous Lyapunov), and the stationary covariance of the Euler recursion
(discrete Lyapunov). For the solver form dx = -(A x - b) dt + sqrt(2 kappa) dW use F = -A,
u = b, Q = 2 kappa I: mean A^-1 b, covariance kappa A^-1 (physics.md 1).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def stationary_mean(F, u):
    """x* = -F^-1 u."""
    return -np.linalg.solve(np.asarray(F, float), np.asarray(u, float))


def mean_transient(F, u, x0, t):
    """<x(t)> = x* + expm(F t) (x0 - x*) at times t (scalar or 1-D array); shape (..., n)."""
    F = np.asarray(F, float)
    xs = stationary_mean(F, u)
    ts = np.atleast_1d(np.asarray(t, float))
    out = np.array([xs + sla.expm(F * ti) @ (np.asarray(x0, float) - xs) for ti in ts])
    return out[0] if np.ndim(t) == 0 else out


def stationary_cov(F, Q):
    """Solution S of F S + S F^T + Q = 0 (continuous Lyapunov)."""
    S = sla.solve_continuous_lyapunov(np.asarray(F, float), -np.asarray(Q, float))
    return 0.5 * (S + S.T)


def euler_stationary_cov(F, Q, h):
    """Stationary covariance of x <- (I + h F) x + sqrt(h) N xi: S = M S M^T + h Q."""
    M = np.eye(F.shape[0]) + h * np.asarray(F, float)
    S = sla.solve_discrete_lyapunov(M, h * np.asarray(Q, float))
    return 0.5 * (S + S.T)


def mean_relaxation_norm(A, b, x0, t):
    """||<x(t)> - A^-1 b|| for dx = -(A x - b) dt: ||expm(-A t)(x0 - x*)|| (t in the A's time unit)."""
    A = np.asarray(A, float)
    w, V = np.linalg.eigh(0.5 * (A + A.T))
    xs = np.linalg.solve(A, b)
    d0 = V.T @ (np.asarray(x0, float) - xs)
    ts = np.atleast_1d(np.asarray(t, float))
    return np.linalg.norm(np.exp(-np.outer(ts, w)) * d0, axis=1)
