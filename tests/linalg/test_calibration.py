"""Calibration from the device's own measurements: probing with known inputs and reading
time-averaged outputs estimates per-position gains; pre-distorting the programmed component
values then removes the fabrication error. Fixed seeds; stated margins."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import (
    ADC,
    DAC,
    InjectedNoise,
    OpAmpGain,
    OpAmpOffset,
    ResistorBank,
    Tolerance,
)
from spucircuit.linalg.calibration import Calibration, calibrate, measure_offset, round_robin
from spucircuit.linalg.solve import device_solve, range_device
from tests.helpers import zscores


def _ranged(dev, b):
    """The device ranged for b as it can (exact read-outs through its converters)."""
    range_device(dev, b)
    return dev


def _rel(x, ref):
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def _problem(n=8, cond=20.0, seed=1):
    A = sc.random_spd(n, cond, seed=seed)
    b = np.random.default_rng(100 + seed).standard_normal(n)
    return A, b, np.linalg.solve(A, b)


def test_round_robin_covers_every_pair_once():
    for n in (2, 5, 8, 9):
        seen = {}
        for pairs in round_robin(n):
            idx = [i for p in pairs for i in p]
            assert len(idx) == len(set(idx))  # a matching
            for a, c in pairs:
                seen[frozenset((a, c))] = seen.get(frozenset((a, c)), 0) + 1
        assert len(seen) == n * (n - 1) // 2 and set(seen.values()) == {1}


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_calibration_reduces_solve_error_on_tolerance_device(seed):
    """1 % (one sigma) tolerance on every R and C, finite op-amp gain, 16-bit DAC and ADC:
    block calibration (once per device) + pre-distortion cuts the solve error by >= 20x.
    Cost: 6 (n - 1) probes of (20 + 50) / lambda_min tau each, lambda_min = 1/2."""
    n = 8
    A, b, x = _problem(n, 20.0, seed=1)
    imp = chain(Tolerance(1.0), OpAmpGain(1e5), DAC(16), ADC(16))
    dev = _ranged(Device(imp, seed=seed, r_min=1.05e3).program(A, b), b)
    e_before = _rel(dev.steady_x(b)[0], x)
    assert e_before > 3e-3  # the tolerance does hurt
    cal = calibrate(dev, n)
    _ranged(dev.program(A, b, calibration=cal), b)
    e_after = _rel(dev.steady_x(b)[0], x)
    assert e_after <= e_before / 20
    assert cal.probes == 6 * (n - 1)
    tau_cal = 1.05e3 * 1e-9  # calibration matrices have max entry 1: tau = r_min C
    assert cal.analog_time_s == pytest.approx(cal.probes * 70.0 / 0.5 * tau_cal, rel=1e-12)
    # the gains it found are the fabrication errors (about 1 %), not noise
    d = cal.to_dict()
    assert 0.003 < d["rms_gain_deviation"] < 0.05


def test_calibration_with_noise_on_the_twin():
    """The same with every probe simulated (noise on, injected noise so that it matters):
    the calibrated device's noisy solve is >= 5x closer to A^-1 b, and what is left is consistent
    with the probes' own noise: the estimate sits within 4 standard errors + the residual of an
    exact (noise-free) calibration."""
    n = 6
    A, b, x = _problem(n, 10.0, seed=2)
    mc0 = sc.integrator_array(A, b, r_min=1.05e3)
    psd = 4 * (2e-3 * mc0.v_unit_v) ** 2 * mc0.c_f**2 / mc0.tau_s  # ~2e-3 rms in x
    imp = chain(Tolerance(1.0), InjectedNoise(psd))
    dev = _ranged(Device(imp, seed=9, r_min=1.05e3).program(A, b), b)
    x0, info0 = device_solve(dev, b, chains=2, seed=1, time="4000tau")
    e_before = _rel(x0, x)
    cal = calibrate(dev, n, evaluate="twin", seed=2, time_per_probe="400tau", chains=2)
    assert cal.details["evaluate"] == "twin" and cal.probes == 6 * (n - 1)
    assert cal.analog_time_s > 0
    _ranged(dev.program(A, b, calibration=cal), b)
    x1, info1 = device_solve(dev, b, chains=2, seed=3, time="4000tau")
    se = info1["standard_error"]
    assert np.all(se > 0)
    e_after = _rel(x1, x)
    assert e_after <= e_before / 5
    # exact-calibration residual for comparison: the twin calibration's extra error is noise
    dev_exact = _ranged(Device(imp, seed=9, r_min=1.05e3).program(A, b), b)
    cal_exact = calibrate(dev_exact, n, evaluate="steady")  # the exact reference
    dev_exact.program(A, b, calibration=cal_exact)
    x_exact_cal = dev_exact.steady_x(b)[0]
    assert _rel(x_exact_cal, x) < 1e-10
    z = zscores(x1, dev.steady_x(b)[0], se)  # the twin agrees with its own device
    assert np.all(np.abs(z) < 4)


def test_matrix_method_offsets_and_bank_residual():
    """Per-target calibration (n + 1 probes at the target's relaxation time) and the digital
    offset correction (one b = 0 probe); with a 10-bit bank the residual is the bank's rounding
    of the pre-distorted values, bounded by the bank resolution."""
    n = 6
    A, b, x = _problem(n, 10.0, seed=3)
    imp = chain(ResistorBank(10, (1e3, 1e6)), Tolerance(1.0), OpAmpOffset(1e-3))
    dev = _ranged(Device(imp, seed=1, r_min=1.05e3).program(A, b), b)
    e0 = _rel(dev.steady_x(b)[0], x)
    cal = calibrate(dev, method="matrix", A=A, b=b)
    lam_min = dev.spectrum_bounds().lam_min_lower  # what the device knows of the target: its class
    assert cal.probes == n + 1
    # each probe 20 + 50 relaxation times; ranging the target first 20 + 5 per pass
    slow_times = (n + 1) * 70.0 + 25.0 * cal.details["ranging_passes"]
    # (the noisy probes run whole integration steps: 1e-4 of rounding)
    assert cal.analog_time_s == pytest.approx(slow_times / lam_min * dev.nominal.tau_s, rel=1e-4)
    _ranged(dev.program(A, b, calibration=cal), b)
    xc = dev.steady_x(b)[0]
    m0, t_off = measure_offset(dev)
    assert t_off == pytest.approx(70.0 / lam_min * dev.nominal.tau_s, rel=1e-4)
    e1 = _rel(xc, x)
    e2 = _rel(xc - m0, x)
    assert e2 < e1 < e0 and e2 <= e0 / 10
    # the residual is the bank: an ideal-bank device with the same errors calibrates to ~0
    ideal_bank = _ranged(Device(chain(Tolerance(1.0), OpAmpOffset(1e-3)), seed=1, r_min=1.05e3).program(A, b), b)
    c2 = calibrate(ideal_bank, method="matrix", A=A, b=b, evaluate="steady")  # exact reference
    ideal_bank.program(A, b, calibration=c2)
    m0b, _ = measure_offset(ideal_bank, evaluate="steady")
    assert _rel(ideal_bank.steady_x(b)[0] - m0b, x) < 1e-9


def test_predistortion_clipped_into_bank_range_is_counted():
    n = 4
    A, b, _ = _problem(n, 5.0, seed=4)
    dev = Device(chain(ResistorBank(12, (1e3, 1e6))), seed=0).program(A, b)  # r_min = bank minimum
    gains = np.full((n, n), 1.05)  # pretend every position is 5 % strong: needs R below 1 kOhm
    cal = Calibration(gains, gains.copy(), 0, 0.0, "manual", (1e3, 1e6))
    pre = cal.predistort(dev.nominal)
    assert cal.details["clipped"] == 0  # multiplying R by 1.05 stays in range
    cal_weak = Calibration(np.full((n, n), 0.9), np.full((n, n), 0.9), 0, 0.0, "manual", (1e3, 1e6))
    cal_weak.predistort(dev.nominal)
    assert cal_weak.details["clipped"] >= 1  # the largest entry sits at r_min: cannot go lower
    R0 = dev.nominal.netlist.tables["R"]
    R1 = pre.netlist.tables["R"]
    i = R0.names.index("R0_1")
    assert R1.values[i] == pytest.approx(1.05 * R0.values[i])
    assert np.array_equal(pre.A, dev.nominal.A)  # the target is untouched


def test_calibration_with_dithered_dac_in_an_ensemble_member():
    """Stochastic (dithered) DAC codes differ per channel; the probes divide by the codes the
    controller actually chose, so calibration still removes the tolerance error (the 12-bit DAC
    rounding of b is what remains)."""
    n = 6
    A, b, x = _problem(n, 10.0, seed=5)
    imp = chain(ResistorBank(16, rounding="stochastic"), Tolerance(1.0), DAC(12, 2.0, rounding="stochastic"), ADC(16))
    dev = _ranged(Device(imp, seed=2, member=1, members=4, stratify=True, r_min=1.05e3).program(A, b), b)
    e0 = _rel(dev.steady_x(b)[0], x)
    for method in ("blocks", "matrix"):
        cal = calibrate(dev, n, method=method, A=A, b=b)
        _ranged(dev.program(A, b, calibration=cal), b)
        assert _rel(dev.steady_x(b)[0], x) <= e0 / 5


def test_a_factored_device_calibrates_through_the_same_interface():
    """calibrate(device) of a factored-circuit device measures its per-integrator input gains
    (one probe, arrays open): exactly the fabricated (G_in / G_lambda) over the nominal ratio
    (ideal op-amps, noise off), and returns a calibration whose predistort() the Device applies as
    for an integrator array; the error left is the arrays' own mismatch."""
    from spucircuit.circuit.factored_array import factored_circuit
    from spucircuit.imperfections.base import chain
    from spucircuit.imperfections.models import Tolerance
    from spucircuit.linalg.calibration import InputGainCalibration

    rng = np.random.default_rng(5)
    U = rng.standard_normal((2, 12)) / np.sqrt(2)
    g = rng.standard_normal(12)
    xs = np.linalg.solve(U.T @ U + 0.5 * np.eye(12), g)
    fc = factored_circuit(U, None, 0.5, g, r_max=1e9)
    dev = Device(chain(Tolerance(2.0)), seed=3).program_circuit(fc)
    err0 = np.linalg.norm(dev.steady_x()[0] - xs) / np.linalg.norm(xs)
    cal = calibrate(dev, noise=False)
    assert isinstance(cal, InputGainCalibration) and cal.analog_time_s > 0 and cal.probes == 1
    built, nominal = dev.build.circuit.components, fc.components
    true = (built.g_in / built.g_lambda) / (nominal.g_in / nominal.g_lambda)
    assert 1e-3 < np.max(np.abs(true - 1))
    assert np.allclose(cal.gains, true, rtol=1e-9, atol=0)
    err1 = np.linalg.norm(dev.program_circuit(fc, calibration=cal).steady_x()[0] - xs) / np.linalg.norm(xs)
    assert err0 > 5e-3 and err1 < 0.6 * err0
