"""Ranging a real device can do: scales and run times from what the device can compute (its own
entries and the problem class), never from the exact answer or the true spectrum."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.linalg.solve import autorange
from spucircuit.numerics.bounds import SpectrumBounds
from spucircuit.studies.sweep import run_study


def test_the_default_mapping_does_not_know_the_answer():
    """Same v_unit for b and any permutation of b (the answer x* moves, the bound does not); the
    oracle's v_unit follows x* (which is why it is only a labelled upper bound)."""
    A = sc.random_spd(8, cond=50, seed=3)
    b = np.random.default_rng(3).standard_normal(8)
    v = sc.integrator_array(A, b).v_unit_v
    oracle = set()
    for perm in (np.random.default_rng(4 + k).permutation(8) for k in range(6)):
        assert sc.integrator_array(A, b[perm]).v_unit_v == v
        oracle.add(sc.integrator_array(A, b[perm], scale="oracle").v_unit_v)
    assert len(oracle) > 1
    assert sc.integrator_array(A, b).scaling["method"] == "bound"


def test_the_default_factored_mapping_does_not_know_the_answer():
    rng = np.random.default_rng(5)
    J, g = rng.standard_normal((6, 10)), rng.standard_normal(10)
    base = factored_circuit(J, None, 0.3, g, r_max=1e9).scales
    for perm in (rng.permutation(10) for _ in range(5)):
        assert factored_circuit(J, None, 0.3, g[perm], r_max=1e9).scales == base
    assert factored_circuit(J, None, 0.3, g, r_max=1e9, scale="cg").scales != base  # the host estimate moves


def test_bounds_hold():
    for seed in range(20):
        A = sc.random_spd(6, cond=10 ** (seed % 4), seed=seed)
        b = np.random.default_rng(seed).standard_normal(6)
        bd = SpectrumBounds.from_matrix(A, kappa_max=1e3)
        lam = np.linalg.eigvalsh(A)
        assert bd.lam_max_lower <= lam[-1] <= bd.lam_max_upper * (1 + 1e-12)
        assert bd.lam_min_lower <= lam[0]
        assert np.max(np.abs(np.linalg.solve(A, b))) <= bd.solution_bound(b)


def test_default_run_time_follows_the_problem_class_not_the_spectrum():
    """Same diagonal, same entries up to sign (same bounds), lambda_min 4x apart: the same default
    analog time; the oracle's times differ 4x."""
    a = 3.0 / 7.0  # eigenvalues 1 + 2a, 1 - a, 1 - a  against  1 + a, 1 + a, 1 - 2a
    A1 = np.array([[1, a, a], [a, 1, a], [a, a, 1.0]])
    A2 = np.array([[1, a, -a], [a, 1, a], [-a, a, 1.0]])
    assert np.linalg.eigvalsh(A1)[0] == pytest.approx(4 * np.linalg.eigvalsh(A2)[0])
    b = np.array([1.0, -0.5, 0.25])
    t = []
    for A in (A1, A2):
        _, info = sc.solve(A, b, seed=1, return_info=True, kappa_max=20.0)
        t.append((info.burn_in_s + info.window_s, info.dt_s))
        assert info.scale["rates"] == "spec"
    assert t[0] == t[1]
    _, o1 = sc.solve(A1, b, seed=1, return_info=True, scale="oracle", kappa_max=20.0)
    _, o2 = sc.solve(A2, b, seed=1, return_info=True, scale="oracle", kappa_max=20.0)
    assert (o2.burn_in_s + o2.window_s) / (o1.burn_in_s + o1.window_s) == pytest.approx(4.0, rel=1e-3)


def test_autorange_rescales_on_clipping_and_on_an_unresolved_read_out():
    x_true = np.array([0.3, -2.0, 1.0])
    fs, lsb = 1.0, 1.0 / 127

    def device(v_unit):  # an 8-bit read-out of x at v_unit volts per unit, clipping beyond 1 V
        volts = x_true * v_unit
        clipped = int(np.sum(np.abs(volts) > fs))
        return np.round(np.clip(volts, -fs, fs) / lsb) * lsb / v_unit, clipped, 1e-6

    for v0 in (1e-4, 1.0, 30.0):  # far below the ADC's resolution, near it, clipping
        v, info = autorange(device, v0, 1.0, lsb_v=lsb)
        assert v * 2.0 == pytest.approx(0.8, rel=0.02)  # max |x| = 2 lands at 0.8 of the swing
        assert info["ranging_time_s"] == pytest.approx(1e-6 * info["passes"])
        assert info["passes"] >= 2  # each start is off: too small to resolve, or clipping


@pytest.mark.slow
def test_autorange_reaches_the_oracle_at_12_bits():
    """n = 16, cond 100, converter-limited (12-bit DAC and ADC), 6 matrices x 2 draws: the median
    relative solve error with the device's own ranging is within 1.3x of the oracle scale's."""
    res = run_study({"n": 16, "cond": 100.0, "matrices": 6, "draws": 2, "dac_bits": 12, "adc_bits": 12,
                     "eval": "steady"}, {"scale": ["autorange", "oracle", "bound"]}, workers=1)
    med = {s["scale"]: s["solve_error_median"] for s in res.summary()}
    assert med["autorange"] <= 1.3 * med["oracle"]
    assert med["bound"] > 3 * med["autorange"]  # staying at the bound costs bits: ranging is what helps
