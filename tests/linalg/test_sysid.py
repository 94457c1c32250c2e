"""System identification (issue 16, item 5): the maximum-likelihood drift and diffusion of a perturbed
device from its own noisy trajectories (spucircuit.linalg.calibration.identify) agree with the
compiled device's exact drift and diffusion within their standard errors (4 SE per entry, and a
chi-square of the whole drift against its fitted covariance), reject the nominal drift, and calibrate
the device better than no calibration in a small study."""
import numpy as np
import pytest
from scipy.stats import chi2

import spucircuit as sc
from spucircuit.errors import SPUError
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device, x_diffusion
from spucircuit.imperfections.models import InjectedNoise, Tolerance
from spucircuit.linalg.calibration import calibrate, identify

RUN = "50000tau"  # each of the two runs; 8 chains


def _device(n, seed, pct=1.0):
    A = sc.random_spd(n, 5.0, seed=seed)
    b = np.random.default_rng(100 + seed).standard_normal(n)
    mc0 = sc.integrator_array(A, b, r_min=1.05e3)
    psd = 4 * (2e-2 * mc0.v_unit_v) ** 2 * mc0.c_f**2 / mc0.tau_s  # ~2e-2 rms in x
    imp = chain(Tolerance(pct), InjectedNoise(psd))
    return A, b, imp, Device(imp, seed=seed, r_min=1.05e3).program(A, b)


@pytest.mark.parametrize("n, seed", [(3, 1), (5, 2)])
def test_identify_recovers_the_perturbed_drift_and_diffusion(n, seed):
    A, b, imp, dev = _device(n, seed)
    eff = dev.effective()
    ident = identify(dev, time=RUN, chains=8, seed=seed, kappa_max=10)
    F_true = -eff.A_drift  # the compiled device's exact drift (tau units), the reference
    z = (ident.F - F_true) / ident.se_F
    assert np.abs(z).max() < 4, z
    d = (ident.F - F_true).ravel()
    assert d @ np.linalg.solve(ident.cov_F, d) < chi2.ppf(0.999, n * n)
    d0 = (ident.F + A).ravel()  # the nominal drift is rejected: the 1 % tolerance is resolved
    assert d0 @ np.linalg.solve(ident.cov_F, d0) > chi2.ppf(0.999, n * n)
    Q_true = x_diffusion(eff.ss, eff.Y, dev.build.mapped)
    assert np.abs((ident.Q - Q_true) / ident.se_Q).max() < 4
    assert np.abs((ident.A_hat - eff.A_dc) / ident.se_A_hat).max() < 4  # = D^-1 A_dev, what probes measure
    assert ident.analog_time_s == pytest.approx(2 * 50000 * dev.nominal.tau_s, rel=1e-3)


def test_sysid_calibration_beats_no_calibration():
    """Six devices (n = 4, 2 % tolerance on every R and C): the exact (noise-free) solve error of the
    device programmed with the sysid calibration against the same device without it. Measured: the
    median error falls by more than 2x and no device gets worse by more than its noise allows."""
    before, after = [], []
    for seed in range(6):
        A, b, imp, dev = _device(4, 10 + seed, pct=2.0)
        x = np.linalg.solve(A, b)
        before.append(np.linalg.norm(dev.steady_x(b)[0] - x) / np.linalg.norm(x))
        cal = calibrate(dev, method="sysid", A=A, b=b, time_per_probe=RUN, chains=8, seed=seed, kappa_max=10)
        assert cal.method == "sysid" and cal.probes == 2
        dev.program(A, b, calibration=cal)
        after.append(np.linalg.norm(dev.steady_x(b)[0] - x) / np.linalg.norm(x))
    before, after = np.array(before), np.array(after)
    print("sysid calibration study, relative solve error before / after:", np.round(before, 5), np.round(after, 5))
    assert np.median(after) < np.median(before) / 2
    assert np.mean(after) < np.mean(before)


def test_identify_bad_input():
    with pytest.raises(SPUError, match="program the device first"):
        identify(Device(None, seed=0))
    A, b, imp, dev = _device(3, 1)
    with pytest.raises(SPUError, match="probe must be 3 finite non-zero values"):
        identify(dev, probe=np.array([1.0, 0.0, 1.0]))
    with pytest.raises(SPUError, match="method='sysid' needs the target matrix A"):
        calibrate(dev, method="sysid")
