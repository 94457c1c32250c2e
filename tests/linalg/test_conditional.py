"""Conditional Gaussians on the twin (issue 16, item 6): mean and covariance of x_a given x_b from a
solve and an inv of P_aa agree with the Schur complement of Sigma = P^-1 within 4 computed standard
errors, and the error bound covers both relative errors in at least 90 % of 25 seeded instances (n from 3 to 16, and 32, 32, 64, 64, 64)."""
import time

import numpy as np
import pytest

from spucircuit.errors import MatrixError
from spucircuit.linalg.conditional import conditional
from spucircuit.numerics.matrices import random_spd
from tests.helpers import instance_line, zscores

# instances 20-24 are large: n = 32, 32, 64, 64, 64 (the done-when's range is n = 2 to 64)
LARGE = {20: 32, 21: 32, 22: 64, 23: 64, 24: 64}
N_INSTANCES = 25


def reference(P, mu, obs, v):
    S = np.linalg.inv(P)
    a = np.setdiff1d(np.arange(len(P)), obs)
    K = S[np.ix_(a, obs)] @ np.linalg.inv(S[np.ix_(obs, obs)])
    return mu[a] + K @ (v - mu[obs]), S[np.ix_(a, a)] - K @ S[np.ix_(obs, a)]


def test_agrees_with_the_schur_complement_and_the_bound_covers():
    covered, zm, zc = [], [], []
    for k in range(N_INSTANCES):
        rng = np.random.default_rng(4000 + k)
        n = LARGE.get(k, int(rng.integers(3, 17)))
        P = random_spd(n, 10.0, seed=5000 + k)
        mu = rng.standard_normal(n)
        obs = np.sort(rng.choice(n, int(rng.integers(1, n)), replace=False))
        v = rng.standard_normal(len(obs))
        t0 = time.perf_counter()
        m, C, info = conditional(P, obs, v, mean=mu, seed=k, kappa_max=10.0, return_info=True)
        m_ref, C_ref = reference(P, mu, obs, v)
        zm.append(np.abs(zscores(m, m_ref, info.mean_standard_error)))
        zc.append(np.abs(zscores(C, C_ref, info.standard_error))[np.triu_indices(len(C))])
        err = max(np.linalg.norm(m - m_ref) / np.linalg.norm(m_ref), np.linalg.norm(C - C_ref) / np.linalg.norm(C_ref))
        se = max(np.linalg.norm(info.mean_standard_error) / np.linalg.norm(m_ref),
                 np.linalg.norm(info.standard_error) / np.linalg.norm(C_ref))
        instance_line("conditional", k, n, err, se, info.error_bound, info, time.perf_counter() - t0)
        covered.append(err <= info.error_bound)
    for z in (np.concatenate(zm), np.concatenate(zc)):
        assert np.mean(z > 4) <= 0.005 and z.max() < 6, (np.mean(z > 4), z.max())
    assert np.mean(covered) >= 0.9


@pytest.mark.parametrize("obs, msg", [([5], "outside 0..2"), ([0, 0], "must not repeat"), ([0, 1, 2], "between 1 and"),
                                      ([], "between 1 and"), ([0.5], "must be integers")])
def test_bad_indices_are_named(obs, msg):
    with pytest.raises(MatrixError, match=msg):
        conditional(np.eye(3), obs, np.zeros(len(obs)))
