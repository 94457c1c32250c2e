"""The spectral probe (issue 15): Lanczos estimates lambda_min from above, a shifted LDL^T proves a
lower bound, and solve plans with it where the kappa_max spec is broken (2-D Poisson 72 x 72,
cond 2.1e3 > 1e3)."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import spucircuit
from spucircuit.device import base
from spucircuit.numerics.bounds import SpectrumBounds
from spucircuit.numerics.spectral import gershgorin_lower, probe_lambda_min


def poisson2d(m):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], (m, m))
    eye = sp.identity(m)
    return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()


def laplacian_plus_shift(n, shift, seed):
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, 4 * n)
    j = rng.integers(0, n, 4 * n)
    keep = i != j
    W = sp.coo_matrix((rng.uniform(0.5, 1.0, keep.sum()), (i[keep], j[keep])), shape=(n, n)).tocsr()
    W = W + W.T
    return (sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W + shift * sp.identity(n)).tocsr()


@pytest.mark.parametrize("A,method", [(poisson2d(16), "ldlt"), (laplacian_plus_shift(300, 0.01, 1), "gershgorin")],
                         ids=["poisson16", "graph"])
def test_probe_brackets_lambda_min(A, method):
    """lower <= lambda_min <= theta (theta a Rayleigh quotient), certified by the shifted LDL^T (a
    connected Laplacian plus a shift: Gershgorin's bound is the shift, lambda_min itself), within
    10 % of lambda_min (tight enough to plan with), its work counted."""
    lam = spla.eigsh(A, k=1, sigma=0, which="LM", return_eigenvectors=False)[0]
    p = probe_lambda_min(A, seed=1)
    assert p.method == method and p.factorisations == (method == "ldlt")
    assert p.lower <= lam <= p.theta * (1 + 1e-12)
    assert p.lower >= 0.9 * lam
    assert p.matvecs > 0 and (p.factor_flops > 0) == (method == "ldlt") and p.nnz == A.nnz


def test_probe_gershgorin_when_it_is_tighter():
    """A diagonal matrix: Gershgorin's bound is lambda_min itself, no factorisation needed."""
    A = sp.diags(np.arange(1.0, 51.0)).tocsr()
    p = probe_lambda_min(A, seed=1)
    assert p.method == "gershgorin" and p.lower == 1.0 and p.factorisations == 0
    assert gershgorin_lower(poisson2d(4)) == 0.0


def test_solve_plans_with_the_probe_where_the_spec_breaks():
    """2-D Poisson 72 x 72: the spec's max_i A_ii / kappa_max = 4e-3 is above the true lambda_min
    (3.7e-3), so planning with it would be wrong; the probe's certified bound is below lambda_min,
    the run plans with it, and the error is within the reported bound. The probe's work is in the
    ledger."""
    A = poisson2d(72)
    lam = spla.eigsh(A, k=1, sigma=0, which="LM", return_eigenvectors=False)[0]
    assert SpectrumBounds.from_matrix(A).lam_min_lower > lam  # the default spec is broken here
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    base.reset_ledger()
    x, info = spucircuit.solve(A, b, seed=5, return_info=True)
    probe = info.scale["probe"]
    assert base.LEDGER["compute_s"] >= base.SETUP_COST_S[0] + probe["compute_s"] > base.SETUP_COST_S[0]
    assert info.error_budget["lam_source"] == "probe"
    assert info.error_budget["lam_lower"] == probe["lower"] <= lam <= probe["theta"]
    xstar = spla.spsolve(A.tocsc(), b)
    err = np.linalg.norm(x - xstar)
    assert err <= info.error_budget["absolute"], (err, info.error_budget)
    assert info.error_bound < 1e-3
