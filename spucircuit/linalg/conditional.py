"""Conditional Gaussians on the twin: x_a given x_b = v for x ~ N(mu, Sigma), given the precision P.

Conditioning on a precision matrix takes its sub-block: with a the free and b the observed
coordinates, x_a | x_b = v ~ N(m, P_aa^-1), m = mu_a - P_aa^-1 P_ab (v - mu_b). So the conditional
covariance is an :func:`~spucircuit.linalg.solve.inv` of P_aa on the twin and the conditional mean a
:func:`~spucircuit.linalg.solve.solve` of P_aa m = P_aa mu_a - P_ab (v - mu_b) (the right-hand side a
digital O(n^2) product); each run carries its own standard error, error bound and analog time, and
nothing here knows Sigma. Cost: the two runs (P_aa is (n - k) x (n - k) for k observed coordinates).
"""
from __future__ import annotations

import numpy as np

from spucircuit._util.seeds import seed_sequence
from spucircuit.errors import MatrixError
from spucircuit.linalg.solve import SolveInfo, inv, solve
from spucircuit.numerics.matrices import as_vector, check_spd


def split_indices(observed, n: int) -> tuple:
    """(free a, observed b) index arrays for observed coordinates ``observed`` of an n-vector; MatrixError
    for repeats, indices outside 0..n-1, none or all of them observed."""
    try:
        b = np.asarray(observed).reshape(-1)
        if b.size and not np.issubdtype(b.dtype, np.integer):
            if not np.all(np.isfinite(b.astype(float))) or np.any(b.astype(float) != np.round(b.astype(float))):
                raise ValueError
            b = b.astype(np.int64)
    except (TypeError, ValueError):
        raise MatrixError(f"observed indices must be integers, got {observed!r}") from None
    if b.size == 0 or b.size >= n:
        raise MatrixError(f"observe between 1 and n - 1 = {n - 1} coordinates, got {b.size}")
    if np.any((b < 0) | (b >= n)):
        raise MatrixError(f"observed index {int(b[(b < 0) | (b >= n)][0])} is outside 0..{n - 1}")
    if len(np.unique(b)) != b.size:
        raise MatrixError("observed indices must not repeat")
    a = np.setdiff1d(np.arange(n), b)
    return a, b.astype(np.int64)


def conditional(P, observed, values, *, mean=None, seed=None, time=None, chains: int = 8, kappa_max: float | None = None,
                return_info: bool = False, **kwargs):
    """Mean and covariance of x_a given x_b = ``values`` for x ~ N(mean, P^-1) (module doc).

    Args:
        P: (n, n) SPD precision matrix; observed: the k indices b; values: their k values v.
        mean: mu (default 0). seed: one seed for both runs. time, chains, kappa_max, kwargs: as
            :func:`solve` (the mean) and :func:`inv` (the covariance), which each run with them.

    Returns:
        (m, C) for the free coordinates a (ascending), or (m, C, :class:`SolveInfo`) whose
        ``standard_error`` is C's, ``mean_standard_error`` m's, ``analog_time_s`` both runs', and
        ``error_bound`` the larger of the two relative bounds (mean, 2-norm; covariance,
        Frobenius), both in ``error_budget``. ``components['free']`` lists a.
    """
    P = check_spd(P, "P")
    n = P.shape[0]
    a, b = split_indices(observed, n)
    v = as_vector(values, b.size, "values")
    mu = np.zeros(n) if mean is None else as_vector(mean, n, "mean")
    Paa, Pab = P[np.ix_(a, a)], P[np.ix_(a, b)]
    rhs = Paa @ mu[a] - Pab @ (v - mu[b])
    seeds = seed_sequence(seed).spawn(2)
    kw = dict(kwargs, time=time, **({} if kappa_max is None else {"kappa_max": kappa_max}))
    m, info_m = solve(Paa, rhs, seed=seeds[0], chains=chains, return_info=True, **kw)
    C, info_c = inv(Paa, seed=seeds[1], chains=chains, return_info=True, **kw)
    if not return_info:
        return m, C
    bounds = [e for e in (info_m.error_bound, info_c.error_bound) if e is not None]
    info = SolveInfo(
        task="conditional", standard_error=info_c.standard_error, mean=m, mean_standard_error=info_m.standard_error,
        analog_time_s=info_m.analog_time_s + info_c.analog_time_s, tau_s=info_c.tau_s, chains=chains,
        components={"free": a.tolist(), "observed": b.tolist()},
        error_bound=max(bounds) if len(bounds) == 2 else None,
        error_budget={"mean": info_m.error_budget, "covariance": info_c.error_budget},
    )
    return m, C, info
