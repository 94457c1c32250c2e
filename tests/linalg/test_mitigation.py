"""Averaging error mitigation: an ensemble of K devices programmed with stratified unbiased
(stochastic) roundings of the target. Error against component imprecision eps goes from ~eps
(one device) to ~eps^2 (pooled), for solve and inv (fixed seed family)."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.models import InjectedNoise, ResistorBank, Tolerance
from spucircuit.linalg.mitigation import Ensemble, eps_scan, fit_slope
from tests.helpers import zscores

EPS = [0.2, 0.1, 0.05, 0.025, 0.0125]


@pytest.fixture(scope="module")
def family():
    return [sc.random_spd(8, 10.0, seed=s) for s in range(4)]


@pytest.mark.parametrize("task", ["solve", "inv"])
def test_error_slope_goes_from_one_to_two(family, task):
    """Relative error (geometric mean over 4 matrices, n = 8, cond 10) against the level ratio
    1 + eps of a log-spaced bank: one device with nearest rounding has slope <= 1.3; the pooled
    K = 128 stratified ensemble has slope >= 1.7 (O(eps^2) bias; first-order residual O(eps/K))."""
    r = eps_scan(family, EPS, K=128, task=task, seed=0)
    assert r["slope_single"] <= 1.3
    assert r["slope_ensemble"] >= 1.7
    assert np.all(r["ensemble"] < r["single"])  # and it is a reduction at every eps
    assert r["ensemble"][-1] < 0.1 * r["single"][-1]


def test_independent_roundings_do_not_reach_eps_squared(family):
    """Independent roundings at the same K leave an O(eps / sqrt K) spread: slope well below 2."""
    r = eps_scan(family[:2], EPS, K=32, task="solve", scheme="independent", seed=0)
    s = eps_scan(family[:2], EPS, K=32, task="solve", scheme="stratified", seed=0)
    assert r["slope_ensemble"] < 1.5
    assert s["ensemble"][-1] < r["ensemble"][-1]


def test_stratified_members_average_to_the_target_within_a_step_over_K():
    """Each member is an unbiased stochastic rounding; the K programmed conductances of every
    position average to the target within one level step / K."""
    A = sc.random_spd(6, 10.0, seed=1)
    K = 16
    bank = ResistorBank(6, (1e3, 1e6), rounding="stochastic")
    ens = Ensemble(chain(bank), K, seed=3).program(A, np.ones(6))
    step_g = (1e-3 - 1e-6) / 63
    G = np.array([1.0 / m.build.netlist.tables["R"].values for m in ens.members])
    names = ens.members[0].build.netlist.tables["R"].names
    sel = np.array([nm.startswith("R") and "_" in nm for nm in names])
    G_target = 1.0 / ens.nominal.netlist.tables["R"].values
    dev = np.abs(G.mean(axis=0) - G_target)[sel]
    assert np.max(dev) <= step_g / K * (1 + 1e-9)
    ind = Ensemble(chain(bank), K, seed=3, scheme="independent").program(A, np.ones(6))
    Gi = np.array([1.0 / m.build.netlist.tables["R"].values for m in ind.members])
    assert np.max(np.abs(Gi.mean(axis=0) - G_target)[sel]) > step_g / K


def test_reprogrammed_board_keeps_its_fabrication_errors():
    A = sc.random_spd(5, 10.0, seed=2)
    imp = chain(Tolerance(1.0))
    same = Ensemble(imp, 4, seed=1, devices="reprogram").program(A, np.ones(5))
    sep = Ensemble(imp, 4, seed=1, devices="separate").program(A, np.ones(5))
    v_same = [m.build.netlist.tables["R"].values for m in same.members]
    v_sep = [m.build.netlist.tables["R"].values for m in sep.members]
    assert all(np.array_equal(v_same[0], v) for v in v_same[1:])
    assert not np.allclose(v_sep[0], v_sep[1])


def test_noisy_pooled_solve_matches_exact_pooled_mean():
    """With noise on, the twin's pooled ensemble mean agrees with the exact pooled mean
    mean_k A_k^-1 b within 4 standard errors (SE pooled from the members' batch means), and it is
    closer to A^-1 b than the typical single member."""
    n, K = 5, 4
    A = sc.random_spd(n, 5.0, seed=6)
    b = np.random.default_rng(6).standard_normal(n)
    x = np.linalg.solve(A, b)
    mc0 = sc.integrator_array(A, b)
    psd = 4 * (5e-3 * mc0.v_unit_v) ** 2 * mc0.c_f**2 / mc0.tau_s
    imp = chain(ResistorBank(5, (1e3, 1e6), rounding="stochastic"), InjectedNoise(psd))
    ens = Ensemble(imp, K, seed=2).program(A, b)
    x_exact, info_e = ens.steady_solve()
    xp, info = ens.solve(chains=2, seed=4, time="3000tau", scale="bound")  # no converters: nothing to range
    se = info["standard_error"]
    assert np.all(se > 0)
    assert np.all(np.abs(zscores(xp, x_exact, se)) < 4)
    single = [np.linalg.norm(m - x) for m in info_e["members"]]
    assert np.linalg.norm(x_exact - x) < np.median(single)
    assert info["analog_time_s"] == pytest.approx(K * 3000 * mc0.tau_s, rel=1e-3)


def test_fit_slope():
    eps = np.array([0.1, 0.05, 0.025])
    assert fit_slope(eps, 3 * eps**2) == pytest.approx(2.0)
    assert fit_slope(eps, eps) == pytest.approx(1.0)
