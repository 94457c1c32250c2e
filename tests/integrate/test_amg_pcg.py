"""The trapezoidal step's AMG-preconditioned CG inner solve (issue 15, per-step cost on 3-D grids).

* the inner solve meets its stated residual (|b - M x| <= rtol |b|) in a number of iterations that
  does not grow with n, hence its error |x - M^-1 b| <= rtol |b| (M's eigenvalues are >= 1);
* the one-step map it realises has, as stationary covariance, the continuous Lyapunov solution
  to within the first-order perturbation bound the solve tolerance gives (exact to that tolerance);
* the automatic choice: direct factor on 2-D grids and for a non-symmetric drift, AMG-PCG on 3-D;
* solve() on a 3-D Poisson matrix runs the AMG path and its error lies within its bound.
"""
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

import spucircuit
from spucircuit.errors import StepError
from spucircuit.integrate import amg_pcg
from spucircuit.integrate.trapezoidal import discretize_trapezoidal, run_trapezoidal
from spucircuit.numerics.ou import stationary_cov
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.operators import SparseDrift


def _poisson(m, dim):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], (m, m))
    eye = sp.identity(m)
    if dim == 2:
        return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()
    return (sp.kron(sp.kron(T, eye), eye) + sp.kron(sp.kron(eye, T), eye) + sp.kron(sp.kron(eye, eye), T)).tocsr()


def _ss(F, Q, Bu):
    n = F.shape[0]
    return StateSpace(drift=SparseDrift(sp.csr_matrix(F)), input_matrix=np.eye(n), inputs=np.asarray(Bu, float),
                      input_names=[f"u{i}" for i in range(n)], diffusion=sp.csr_matrix(Q),
                      state_names=[f"x{i}" for i in range(n)], x0=np.zeros(n), temperature_k=300.0)


def _lam_min(A):
    return float(sla.eigh(A.toarray(), eigvals_only=True, subset_by_index=[0, 0])[0])


@pytest.mark.parametrize("m", [8, 12])
def test_pcg_meets_its_residual_in_bounded_iterations(m):
    """3-D Poisson, h = 1 / lambda_min: every solve reaches rtol in at most TYPICAL_ITERATIONS + 3
    iterations at both sizes (n-independent), and the error is within rtol |b| / lambda_min(M)."""
    A = _poisson(m, 3)
    n = A.shape[0]
    h = 1.0 / _lam_min(A)
    M = (sp.identity(n) + 0.5 * h * A).tocsr()
    hier = amg_pcg.build_hierarchy(M, h * 12.0)
    assert len(hier.sizes) >= 2  # a real V-cycle, not only the coarse inverse
    W = amg_pcg.work_arrays(hier)
    x_ref_all = sla.solve(M.toarray(), np.eye(n)[:, :3] + 1.0)
    for j in range(3):
        b = np.eye(n)[:, j] + 1.0
        x = np.zeros(n)
        it = amg_pcg.pcg_solve(*hier.arrays(), b, x, W, amg_pcg.PCG_RTOL, amg_pcg.PCG_MAXITER)
        assert 1 <= it <= amg_pcg.TYPICAL_ITERATIONS + 3, it
        assert np.linalg.norm(b - M @ x) <= amg_pcg.PCG_RTOL * np.linalg.norm(b)
        assert np.linalg.norm(x - x_ref_all[:, j]) <= amg_pcg.PCG_RTOL * np.linalg.norm(b)  # lambda_min(M) >= 1


def test_amg_step_stationary_covariance_is_lyapunov_to_the_solve_tolerance():
    """The AMG path's one-step map x' = M_h x + L_h (c + noise): read M_h and L_h column by
    column from noise-free runs (one step, and a damped step = two half steps L_h^2), then its
    discrete stationary covariance P_d = M_h P_d M_h^T + h L_h Q L_h^T. Against the continuous
    Lyapunov solution P: |P_d - P| within the first-order bound |(I - M (x) M)^-1|
    (2 |dM| |M| |P| + |dQh|) from the measured map errors, and those errors within the solve's
    rtol (M_h - M exact)."""
    A = _poisson(7, 3)  # n = 343 > MAX_COARSE: two levels
    n = A.shape[0]
    F = -A
    rng = np.random.default_rng(3)
    Q = np.diag(rng.uniform(0.5, 2.0, n))
    h = 1.0 / _lam_min(A)
    ss = _ss(F, Q, np.zeros(n))
    disc = discretize_trapezoidal(ss, h, noise=False, inner="amg-pcg")
    assert disc.inner == "amg-pcg" and disc.inner_solve["method"] == "amg-pcg"
    Mh, _, _ = run_trapezoidal(disc, np.eye(n), 1, 1, seed=0)  # rows: M_h e_i (chains = basis vectors)
    Mh = Mh.T
    L2, _, _ = run_trapezoidal(disc, np.eye(n), 1, 1, seed=0, damp_steps=1)  # L_h^2 e_i
    I = np.eye(n)
    L = sla.solve(I - 0.5 * h * F.toarray(), I)
    M = 2.0 * L - I
    dM = np.linalg.norm(Mh - M, 2)
    dL2 = np.linalg.norm(L2.T - L @ L, 2)
    # each column's solve error <= rtol |b|; |b| <= |I + hF/2| for a basis vector (<= 1 for the damped half steps)
    R_norm = np.linalg.norm(I + 0.5 * h * F.toarray(), 2)
    assert dM <= np.sqrt(n) * amg_pcg.PCG_RTOL * R_norm
    assert dL2 <= np.sqrt(n) * 2.001 * amg_pcg.PCG_RTOL
    assert dM > 0.0  # the iterative solve is really in the loop (not an exact factor)
    Lh = 0.5 * (Mh + I)  # M = 2 L - I
    Qh = h * Lh @ Q @ Lh.T
    Pd = sla.solve_discrete_lyapunov(Mh, Qh)
    P = stationary_cov(F.toarray(), Q)
    rho = np.max(np.abs(np.linalg.eigvalsh(0.5 * (M + M.T))))  # M symmetric: I - M (x) M has eigenvalues 1 - mu_i mu_j
    sens = 1.0 / (1.0 - rho ** 2)
    dQh = np.linalg.norm(Qh - h * L @ Q @ L.T, 2)
    bound = sens * (2.0 * dM * np.linalg.norm(M, 2) * np.linalg.norm(P, 2) + dQh) + 1e-12 * np.linalg.norm(P, 2)
    assert np.linalg.norm(Pd - P, 2) <= bound
    assert bound <= 1e-6 * np.linalg.norm(P, 2)  # the test has power: the bound is far below P's scale


def test_automatic_inner_solve_choice():
    """2-D grids (fill n log n) and small 3-D ones keep the direct factor; 3-D grids from 16^3 (fill
    n^(4/3)) take AMG-PCG; a
    non-symmetric drift keeps the direct factor, and asking it for AMG-PCG raises StepError."""
    for A, want in [(_poisson(64, 2), False), (_poisson(256, 2), False), (_poisson(12, 3), False),
                    (_poisson(16, 3), True), (_poisson(24, 3), True)]:
        M = (sp.identity(A.shape[0]) + A).tocsr()
        assert amg_pcg.prefer_amg(M, True) is want
        assert amg_pcg.prefer_amg(M, False) is False
    for m, want in [(24, False), (32, True)]:  # many chains (inv): the higher bar
        M = (sp.identity(m ** 3) + _poisson(m, 3)).tocsr()
        assert amg_pcg.prefer_amg(M, True, chains=8) is want
    n = 16 ** 3
    A = _poisson(16, 3)
    K = sp.diags([0.3 * np.ones(n - 1)], [1], (n, n))
    F = (-A + K - K.T).tocsr()
    ss = _ss(F, sp.identity(n), np.zeros(n))
    d = discretize_trapezoidal(ss, 1.0, noise=False)
    assert d.inner == "direct" and d.inner_solve["method"] == "direct"
    with pytest.raises(StepError, match="symmetric"):
        discretize_trapezoidal(ss, 1.0, noise=False, inner="amg-pcg")
    with pytest.raises(StepError, match="inner solve"):
        discretize_trapezoidal(ss, 1.0, noise=False, inner="cg")


def test_solve_3d_poisson_through_amg_within_bound():
    """solve() on 3-D Poisson 16^3 (n = 4,096): the automatic inner solve is AMG-PCG, each solve
    converged within the stated iterations, and the error against spsolve is within info.error_bound."""
    A = _poisson(16, 3)
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    x, info = spucircuit.solve(A, b, seed=1, return_info=True)
    assert info.scheme == "trapezoidal"
    assert info.inner_solve["method"] == "amg-pcg"
    assert 1 <= info.inner_solve["max_iterations"] <= amg_pcg.PCG_MAXITER
    assert info.inner_solve["mean_error_rel"] < 1e-2 * info.error_bound  # negligible in the budget (module doc)
    xs = sp.linalg.spsolve(A.tocsc(), b)
    err = np.linalg.norm(x - xs) / np.linalg.norm(xs)
    assert err <= info.error_bound


def test_amg_inner_solve_failure_raises_step_error():
    """Asked for AMG-PCG on an indefinite I - hF/2 (symmetric F with unstable modes, h = 1: the
    eigenvalues of I - hF/2 span -1.8 .. 3.8), the run raises StepError instead of returning
    unconverged states."""
    A = _poisson(7, 3)
    n = A.shape[0]
    F = (-A + 6.0 * sp.identity(n)).tocsr()
    disc = discretize_trapezoidal(_ss(F, sp.identity(n), np.ones(n)), 1.0, noise=False, inner="amg-pcg")
    with pytest.raises(StepError, match="did not reach"):
        run_trapezoidal(disc, np.ones((1, n)), 3, 1, seed=0)
