"""The trapezoidal (implicit-midpoint) scheme against theory (issue 15's first done-when item).

* its one-step map's stationary covariance (discrete Lyapunov, exact) equals the continuous
  Lyapunov solution to rounding, for a non-symmetric stable drift and a step 100x the stiffest
  time constant; its stationary mean is -F^-1 B u;
* the sparse kernel (SuperLU factors in numba) and the dense factored one (LAPACK LU in numba)
  run the same map as the dense affine one, to rounding;
* sampled: the covariance of many chains lies within its computed standard errors of the
  Lyapunov solution (dense affine, dense factored and sparse paths);
* transients: the noise-free mean converges to expm's at second order (error ratio 4 per halving).
"""
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from spucircuit.errors import StepError
from spucircuit.integrate.trapezoidal import (
    diffusion_factor,
    discretize_trapezoidal,
    run_trapezoidal,
)
from spucircuit.numerics.ou import mean_transient, stationary_cov, stationary_mean
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.operators import DenseDrift, SparseDrift


def _drift(n, seed, sparse=False):
    """A stable non-symmetric drift with rates spread over two decades: F = -S + K, S SPD (banded
    when ``sparse``), K skew; Re lambda(F) <= -lambda_min(S) < 0."""
    rng = np.random.default_rng(seed)
    if sparse:
        d = np.logspace(0, 2, n)
        off = 0.3 * np.sqrt(d[:-1] * d[1:]) * rng.uniform(-1, 1, n - 1)
        S = np.diag(d) + np.diag(off, 1) + np.diag(off, -1)
        k = rng.uniform(-5, 5, n - 1)
        K = np.diag(k, 1) - np.diag(k, -1)
    else:
        Qo, _ = np.linalg.qr(rng.standard_normal((n, n)))
        S = (Qo * np.logspace(0, 2, n)) @ Qo.T
        K = rng.standard_normal((n, n))
        K = 3.0 * (K - K.T)
    F = -S + K
    assert np.all(np.linalg.eigvals(F).real < 0)
    return F


def _diffusion(n, seed, sparse=False):
    rng = np.random.default_rng(seed + 1)
    if sparse:  # sum of rank-one terms (resistor-like, e_i - e_j) plus diagonal
        Q = np.diag(rng.uniform(0.5, 2.0, n))
        for i in range(n - 1):
            a = np.zeros(n)
            a[i], a[i + 1] = 1.0, -1.0
            Q += rng.uniform(0.1, 1.0) * np.outer(a, a)
        return Q
    G = rng.standard_normal((n, n // 2))
    return G @ G.T + np.diag(rng.uniform(0.1, 1.0, n))


def _ss(F, Q, Bu, sparse):
    n = F.shape[0]
    drift = SparseDrift(sp.csr_matrix(F)) if sparse else DenseDrift(F)
    return StateSpace(drift=drift, input_matrix=np.eye(n), inputs=np.asarray(Bu, float), input_names=[f"u{i}" for i in range(n)],
                      diffusion=sp.csr_matrix(Q) if sparse else Q, state_names=[f"x{i}" for i in range(n)],
                      x0=np.zeros(n), temperature_k=300.0)


def _stiff_step(F):
    return 100.0 / float(np.max(np.abs(np.linalg.eigvals(F))))  # 100 x the stiffest time constant


@pytest.mark.parametrize("n,seed", [(6, 0), (12, 1), (20, 2)])
def test_derivation_stationary_covariance_is_continuous_lyapunov(n, seed):
    """P = M P M^T + h L Q L^T (discrete Lyapunov of the one-step map) is F P + P F^T + Q = 0."""
    F, Q = _drift(n, seed), _diffusion(n, seed)
    h = _stiff_step(F)
    I = np.eye(n)
    L = np.linalg.inv(I - 0.5 * h * F)
    M = L @ (I + 0.5 * h * F)
    P_disc = sla.solve_discrete_lyapunov(M, h * L @ Q @ L.T)
    P = sla.solve_continuous_lyapunov(F, -Q)
    assert np.max(np.abs(P_disc - P)) / np.max(np.abs(P)) < 1e-10


@pytest.mark.parametrize("n,seed", [(6, 3), (12, 4), (20, 5)])
def test_scheme_one_step_map_is_exact_in_stationarity(n, seed):
    """The implemented (dense) step: its stationary covariance and mean, exactly, at h = 100 tau_stiff."""
    F, Q = _drift(n, seed), _diffusion(n, seed)
    Bu = np.random.default_rng(seed).standard_normal(n)
    h = _stiff_step(F)
    disc = discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False)
    M = disc.step.MT.T
    Qh = disc.step.NT.T @ disc.step.NT
    P_disc = sla.solve_discrete_lyapunov(M, Qh)
    P = stationary_cov(F, Q)
    assert np.max(np.abs(P_disc - P)) / np.max(np.abs(P)) < 1e-10
    m = np.linalg.solve(np.eye(n) - M, disc.step.c)
    m_ref = stationary_mean(F, Bu)
    assert np.max(np.abs(m - m_ref)) / np.max(np.abs(m_ref)) < 1e-10
    # the damped step (two backward-Euler half steps) keeps the mean exact too
    md = np.linalg.solve(np.eye(n) - disc.damp.MT.T, disc.damp.c)
    assert np.max(np.abs(md - m_ref)) / np.max(np.abs(m_ref)) < 1e-10


@pytest.mark.parametrize("n,seed", [(12, 6), (20, 7)])
def test_sparse_kernel_runs_the_same_map(n, seed):
    """SuperLU factors in the numba kernel: x' = M x + c to rounding of the dense map (and the
    damped step), and the noise factor G G^T = Q."""
    F, Q = _drift(n, seed, sparse=True), _diffusion(n, seed, sparse=True)
    Bu = np.random.default_rng(seed).standard_normal(n)
    h = _stiff_step(F)
    dense = discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False)
    ss = _ss(F, Q, Bu, True)
    spd = discretize_trapezoidal(ss, h, noise=False)
    assert spd.kind == "sparse"
    X0 = np.random.default_rng(seed + 9).standard_normal((5, n))
    for damp, ref in ((0, dense.step), (1, dense.damp)):
        X1, _, _ = run_trapezoidal(spd, X0, 1, 1, 0, damp_steps=damp)
        want = X0 @ ref.MT + ref.c
        assert np.max(np.abs(X1 - want)) / np.max(np.abs(want)) < 1e-12
    G = diffusion_factor(ss)
    assert np.max(np.abs((G @ G.T).toarray() - Q)) / np.max(np.abs(Q)) < 1e-12


def test_sparse_factors_reused_for_the_same_drift():
    """Another input on the same drift and step (auto-ranging's pass, then the run) reuses the
    SuperLU factors; another step or drift factors again, and runs its own map."""
    n = 16
    F, Q = _drift(n, 8, sparse=True), _diffusion(n, 8, sparse=True)
    Bu = np.random.default_rng(8).standard_normal(n)
    h = _stiff_step(F)
    a = discretize_trapezoidal(_ss(F, Q, Bu, True), h)
    b = discretize_trapezoidal(_ss(F.copy(), Q, 3.0 * Bu, True), h)
    assert b.lu[0] is a.lu[0]
    assert np.allclose(b.c, 3.0 * h * Bu, rtol=1e-14, atol=0)
    c = discretize_trapezoidal(_ss(F, Q, Bu, True), 0.5 * h)
    assert c.lu[0] is not a.lu[0]
    F2 = F.copy()
    F2[0, 0] *= 1.5
    d = discretize_trapezoidal(_ss(F2, Q, Bu, True), h, noise=False)
    X1, _, _ = run_trapezoidal(d, np.ones((1, n)), 1, 1, 0)
    want = np.linalg.solve(np.eye(n) - 0.5 * h * F2, (np.eye(n) + 0.5 * h * F2) @ np.ones(n) + h * Bu)
    assert np.max(np.abs(X1[0] - want)) / np.max(np.abs(want)) < 1e-12


@pytest.mark.parametrize("n,seed", [(12, 6), (20, 7)])
def test_dense_factored_kernel_runs_the_same_map(n, seed):
    """The dense factored form (LAPACK LU in the numba kernel, x' = L (2x + c) - x): the affine
    map's x' = M x + c to rounding (and the damped step), its noise factor G G^T = Q, lower
    triangular; the factorisation is reused for the same circuit at other inputs."""
    F, Q = _drift(n, seed), _diffusion(n, seed)
    Bu = np.random.default_rng(seed).standard_normal(n)
    h = _stiff_step(F)
    dense = discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False)
    fac = discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False, form="factored", noise=False)
    assert fac.form == "factored" and fac.G is None
    X0 = np.random.default_rng(seed + 9).standard_normal((2, n))
    for damp, ref in ((0, dense.step), (1, dense.damp)):
        X1, _, _ = run_trapezoidal(fac, X0, 1, 1, 0, damp_steps=damp)
        want = X0 @ ref.MT + ref.c
        assert np.max(np.abs(X1 - want)) / np.max(np.abs(want)) < 1e-12
    noisy = discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False, form="factored")
    G = noisy.G[0].T
    assert noisy.G_lower and np.max(np.abs(G @ G.T - Q)) / np.max(np.abs(Q)) < 1e-12
    other = discretize_trapezoidal(_ss(F, Q, 2.0 * Bu, False), h, sparse=False, form="factored")
    assert other.lu[0] is noisy.lu[0] and np.allclose(other.c, 2.0 * noisy.c, rtol=1e-15, atol=0)
    with pytest.raises(StepError, match="form"):
        discretize_trapezoidal(_ss(F, Q, Bu, False), h, sparse=False, form="eigen")


@pytest.mark.parametrize("path", ["dense", "factored", "factored-semidefinite", "sparse"])
def test_sampled_covariance_within_standard_errors(path):
    """20,000 independent chains, one snapshot each after a burn-in that leaves a transient below
    1e-15: every entry of the sample covariance within 4.5 computed standard errors of the
    Lyapunov solution, and the sample mean within 4.5 SE of -F^-1 B u. 'factored-semidefinite':
    Q of rank n/2 (no Cholesky factor: the eigen-factor, n x n/2, through BLAS gemm)."""
    n, seed, k = 8, 11, 20_000
    sparse = path == "sparse"
    F, Q = _drift(n, seed, sparse), _diffusion(n, seed, sparse)
    if path == "factored-semidefinite":
        Gq = np.random.default_rng(seed + 2).standard_normal((n, n // 2))
        Q = Gq @ Gq.T
    Bu = np.random.default_rng(seed).standard_normal(n)
    h = _stiff_step(F)
    disc = discretize_trapezoidal(_ss(F, Q, Bu, sparse), h, sparse=sparse,
                                  form="factored" if path.startswith("factored") else "affine")
    assert disc.kind == ("sparse" if sparse else "dense")
    if path == "factored-semidefinite":
        assert not disc.G_lower and disc.noise_m == n // 2
    M = np.linalg.solve(np.eye(n) - 0.5 * h * F, np.eye(n) + 0.5 * h * F)
    burn = int(np.ceil(np.log(1e-15) / np.log(np.max(np.abs(np.linalg.eigvals(M))))))
    X, _, _ = run_trapezoidal(disc, np.zeros((k, n)), burn, burn, seed=123)
    P, m = stationary_cov(F, Q), stationary_mean(F, Bu)
    d = X - X.mean(axis=0)
    se_m = X.std(axis=0, ddof=1) / np.sqrt(k)
    assert np.max(np.abs(X.mean(axis=0) - m) / se_m) < 4.5
    prod = d[:, :, None] * d[:, None, :]
    S = prod.sum(axis=0) / (k - 1)
    se = prod.std(axis=0, ddof=1) / np.sqrt(k)
    z = np.abs(S - P) / se
    assert np.max(z) < 4.5, np.max(z)
    assert np.max(se / np.abs(np.diag(P)).max()) < 0.02  # the check has power: SE below 2 % of the scale


def test_mean_transient_second_order():
    """Noise-free, from x0 to T = 1: the error against expm falls by ~4 per halving of h."""
    n = 6
    F = _drift(n, 21) / 20.0  # rates 0.05 .. 5 per unit time
    Bu = np.random.default_rng(21).standard_normal(n)
    x0 = np.random.default_rng(22).standard_normal(n)
    ss = _ss(F, _diffusion(n, 21), Bu, False)
    T = 1.0
    ref = mean_transient(F, Bu, x0, T)
    errs = []
    for steps in (10, 20, 40, 80):
        disc = discretize_trapezoidal(ss, T / steps, noise=False)
        X, _, _ = run_trapezoidal(disc, x0[None, :], steps, steps, seed=0)
        errs.append(np.max(np.abs(X[0] - ref)))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 3.7) & (ratios < 4.3)), ratios
