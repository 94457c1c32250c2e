"""Selected entries of A^-1 (issue 15): the diagonal or given (i, j) from the stationary covariance of
only the needed coordinates, within their standard errors and the reported bound; the trapezoidal
start's covariance transient and its bound; ``spu inv --diagonal``."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

import spucircuit
from spucircuit.cli import main
from spucircuit.errors import SPUError
from spucircuit.linalg.error_bound import trapezoidal_covariance_transient
from spucircuit.linalg.selected import LADDER_RATIO, LADDER_STEPS


def poisson2d(m):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], (m, m))
    eye = sp.identity(m)
    return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()


def test_poisson16_diagonal_within_4se_and_bound():
    """2-D Poisson 16 x 16 from scipy.sparse: every diagonal entry of A^-1 within 4 SE of the exact
    one, the 2-norm error within the reported bound, the noise term the bulk of the bound (the
    systematic and transient terms are honest but small), and the test has power (errors well
    above rounding)."""
    A = poisson2d(16)
    d, info = spucircuit.inv(A, diagonal=True, seed=1, return_info=True)
    ref = np.diag(np.linalg.inv(A.toarray()))
    assert info.scheme == "trapezoidal" and d.shape == (256,) and info.standard_error.shape == (256,)
    z = (d - ref) / info.standard_error
    assert np.max(np.abs(z)) < 4.0, np.max(np.abs(z))
    err = np.linalg.norm(d - ref)
    eb = info.error_budget
    assert err <= eb["absolute"], (err, eb)
    assert eb["noise"] > eb["systematic"] + eb["transient"]
    assert info.scale["ladder_rungs"] >= 1 and err > 1e-6 * np.linalg.norm(ref)


def test_selected_entries_dense_and_sparse():
    """Given (i, j) pairs, sparse (trapezoidal) and dense (exponential): within 4 SE and the bound;
    a pair and its transpose give the same estimate (same samples, same product)."""
    A = poisson2d(6)
    ref = np.linalg.inv(A.toarray())
    pairs = [(0, 0), (0, 1), (1, 0), (5, 17), (35, 35)]
    for M in (A, A.toarray()):
        v, info = spucircuit.inv(M, entries=pairs, seed=2, return_info=True)
        exact = np.array([ref[i, j] for i, j in pairs])
        assert np.max(np.abs(v - exact) / info.standard_error) < 4.0
        assert np.linalg.norm(v - exact) <= info.error_budget["absolute"]
        assert v[1] == v[2]
    assert info.scheme == "exponential"


@pytest.mark.parametrize("kw,msg", [
    (dict(diagonal=True, entries=[(0, 0)]), "give either diagonal=True or entries"),
    (dict(entries=[(0, 36)]), "entries must index a 36 x 36 matrix (0 <= i, j < 36), got a pair with index 36"),
    (dict(entries=[(0.5, 1)]), "entries must be a non-empty list of integer (i, j) pairs"),
    (dict(entries=[]), "entries must be a non-empty list of integer (i, j) pairs"),
])
def test_selected_bad_entries(kw, msg):
    with pytest.raises(SPUError) as exc:
        spucircuit.inv(poisson2d(6), seed=1, **kw)
    assert msg in str(exc.value) and "\n" not in str(exc.value)


def test_covariance_transient_bound_covers_the_ladder():
    """The bound on the covariance the trapezoidal start still lacks, against the exact per-mode
    factor phi(lambda)^2 / lambda of a ladder (steps 2 / lambda_max x 4^j below h, LADDER_STEPS each)
    followed by K steps at h, on a dense grid of eigenvalues in [lambda_min, lambda_max]."""
    lam_min, lam_max = 1e-3, 8.0
    h = 1.0 / lam_min
    rungs, hj = [], 2.0 / lam_max
    while hj < h:
        rungs.append(hj)
        hj *= LADDER_RATIO
    lam = np.geomspace(lam_min, lam_max, 20001)
    rho = lambda z: (1 - z / 2) / (1 + z / 2)  # noqa: E731
    phi2 = np.ones_like(lam)
    for hj in rungs:
        phi2 *= rho(hj * lam) ** (2 * LADDER_STEPS)
    for K in (1, 5, 10):
        exact = np.max(phi2 * rho(h * lam) ** (2 * K) / lam)
        bound = trapezoidal_covariance_transient(lam_min, h, K, LADDER_STEPS)
        assert exact <= bound, (K, exact, bound)
    assert bound < 1e-7 / lam_min  # after the policy's 10 steps it is small: the ladder did its work
    # without the ladder the stiffest modes would still lack 99 % of their variance after 10 steps
    assert np.max(rho(h * lam) ** 20 * (lam > 4 / h)) > 0.99


def test_cli_inv_diagonal(tmp_path, capsys):
    A = poisson2d(8)
    sp.save_npz(tmp_path / "A.npz", A)
    out = tmp_path / "d.npy"
    assert main(["inv", "--matrix", str(tmp_path / "A.npz"), "--diagonal", "--seed", "3", "--out", str(out),
                 "--json", "--no-progress"]) == 0
    rec = json.loads(capsys.readouterr().out)
    d = np.load(out)
    assert d.shape == (64,) and rec["relative_error"] <= rec["error_bound"]
    assert np.array_equal(np.asarray(rec["diagonal"]), d)
