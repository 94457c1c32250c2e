"""Calibration against an error model it does not assume: an additive switch on-resistance per
programmable resistor (R -> R + r_on) is not a per-position gain, so block calibration cannot
remove it, unlike a multiplicative tolerance. What must hold anyway: calibration with noisy,
finite-time probes removes what it models, does not make the foreign error worse, and the reported
error_bound still covers the calibrated device's error."""
import numpy as np
import pytest

from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import SwitchResistance, Tolerance
from spucircuit.linalg.calibration import calibrate
from spucircuit.linalg.error_bound import device_budget
from spucircuit.numerics.matrices import random_spd

N = 8


def run(imp, m, calibrated):
    A = random_spd(N, 30, seed=m)
    b = np.random.default_rng(m).standard_normal(N)
    xs = np.linalg.solve(A, b)
    dev = Device(imp, seed=m, scale="oracle").program(A, b)
    if calibrated:
        nominal = dev.nominal
        cal = calibrate(dev, N, evaluate="twin", seed=m)  # noisy, finite-time probes
        assert cal.analog_time_s > 0
        dev.program_mapped(nominal, calibration=cal)
    x, rep = dev.steady_x(b)
    lam = np.linalg.eigvalsh(A)[0]
    bound = device_budget(dev, x, b, lam_lower=lam, lam_source="oracle", clipped=rep["adc_clipped"]).relative
    return np.linalg.norm(x - xs) / np.linalg.norm(xs), bound


@pytest.mark.parametrize("m", range(3))
def test_noisy_calibration_removes_the_gain_error_it_models(m):
    before, _ = run(Tolerance(1.0), m, False)
    after, bound = run(Tolerance(1.0), m, True)
    assert after < 1e-3 * before
    assert after <= bound


@pytest.mark.parametrize("m", range(3))
def test_switch_resistance_survives_calibration_without_growing_and_stays_bounded(m):
    imp = chain(Tolerance(1.0), SwitchResistance(20.0, 20.0))
    before, _ = run(imp, m, False)
    alone, _ = run(SwitchResistance(20.0, 20.0), m, False)
    after, bound = run(imp, m, True)
    # the tolerance part goes, the switch part stays (not a per-position gain): what is left is of
    # the order of the switch resistance's own error, and not more
    assert 0.3 * alone <= after <= 1.3 * alone
    assert after <= bound
