"""Each imperfection's DC error bound (imperfections.dc_error) against the residual the device it
describes really leaves, A x_dev - b, with x_dev from the compiled circuit (the test may know the
fabricated values; the bound may not). A bound must cover, and must not be vacuous: its median
over fabrication draws stays within a small factor of the residual it bounds."""
import warnings

import numpy as np
import pytest

from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import (
    DAC,
    ADC,
    CapacitorBank,
    InjectedNoise,
    OpAmpBandwidth,
    OpAmpBias,
    OpAmpGain,
    OpAmpNoise,
    OpAmpOffset,
    ResistorBank,
    SwitchResistance,
    Thermal,
    Tolerance,
)
from spucircuit.linalg.error_bound import dc_context
from spucircuit.numerics.matrices import random_spd

A = random_spd(8, 30, seed=1)
B = np.random.default_rng(2).standard_normal(8)
DRAWS = 12

# model, least fraction of draws covered (1 for bounds that are certain), largest median bound/actual
CASES = {
    "bank nearest": (ResistorBank(8), 1.0, 6.0),
    "bank stochastic": (ResistorBank(8, rounding="stochastic"), 1.0, 10.0),
    "bank log grid": (ResistorBank(6, grid="log"), 1.0, 6.0),
    "bank resistance grid": (ResistorBank(8, grid="resistance"), 1.0, 10.0),
    "tolerance gaussian": (Tolerance(1.0), 0.9, 8.0),
    "tolerance uniform": (Tolerance(1.0, dist="uniform"), 1.0, 8.0),
    "gain": (OpAmpGain(1e3), 1.0, 1.5),
    "gain spread": (OpAmpGain(1e3, spread_pct=10), 0.9, 3.0),
    "offset gaussian": (OpAmpOffset(1e-3), 0.9, 8.0),
    "offset uniform": (OpAmpOffset(1e-3, dist="uniform"), 1.0, 8.0),
    "dac stochastic": (DAC(8, 2.0, rounding="stochastic"), 1.0, 5.0),
    "dac part errors": (DAC(10, 2.0, gain_error=2e-3, offset_lsb=0.5, inl_lsb=1.0, dnl_lsb=0.5), 1.0, 5.0),
    "thermal tcr": (Thermal(350.0, tcr_ppm_per_k=100, tcr_spread_ppm_per_k=50), 0.9, 8.0),
    "bandwidth": (OpAmpBandwidth(1e6, a0=1e4), 1.0, 1.5),
    "switch resistance": (SwitchResistance(20.0, 20.0), 1.0, 3.0),
    "bias, every op-amp": (OpAmpBias(10e-9, 2e-9), 0.9, 8.0),
    "bias, summing nodes": (OpAmpBias(10e-9, select=r"U\d+"), 1.0, 1.5),
    "all of them": (chain(ResistorBank(10), Tolerance(0.2), OpAmpGain(1e4), OpAmpOffset(1e-4), DAC(10, 2.0),
                          Thermal(310.0, tcr_spread_ppm_per_k=20)), 0.9, 10.0),
}


def residual_and_bound(imp, seed):
    dev = Device(imp, seed=seed).program(A, B)
    v = dev.programmed.input_volts(B)
    if dev.build.dac is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = dev.build.dac.quantize(v)[0]
    x = dev.effective().x_star(v)
    ctx, own = dc_context(dev, np.abs(x), B)
    err = imp.dc_error(ctx)
    assert not err.unbounded
    return float(np.linalg.norm(A @ x - B)), err.residual_norm() + float(np.linalg.norm(own))


@pytest.mark.parametrize("case", list(CASES))
def test_residual_bound_covers_and_is_tight(case):
    imp, cover, loose = CASES[case]
    pairs = np.array([residual_and_bound(imp, s) for s in range(DRAWS)])
    assert np.all(pairs[:, 0] > 0)
    # a certain bound may equal the residual (a known deterministic error): compare up to round-off
    assert np.mean(pairs[:, 0] <= pairs[:, 1] * (1 + 1e-9)) >= cover
    assert np.median(pairs[:, 1] / pairs[:, 0]) <= loose


def test_nearest_dac_error_is_known_exactly():
    # the controller wrote the codes: its bound is the DAC's residual itself (up to round-off)
    actual, bound = residual_and_bound(DAC(8, 2.0), 0)
    assert bound == pytest.approx(actual, rel=1e-9)


@pytest.mark.parametrize("imp", [CapacitorBank(6), InjectedNoise(1e-20), OpAmpNoise(10e-9, 1e-12)])
def test_dynamics_and_noise_models_leave_no_dc_error(imp):
    dev = Device(imp, seed=0).program(A, B)
    err = imp.dc_error(dc_context(dev, np.abs(np.linalg.solve(A, B)), B)[0])
    assert err.residual_norm() == 0 and not err.unbounded and not err.readout.any()
    if not isinstance(imp, CapacitorBank):  # and indeed: the noise-free DC answer is exact
        x = dev.effective().x_star(dev.programmed.input_volts(B))
        assert np.linalg.norm(A @ x - B) < 1e-12 * np.linalg.norm(B)


def test_adc_read_out_is_half_an_lsb_per_component():
    dev = Device(ADC(10, 2.0), seed=0).program(A, B)
    err = ADC(10, 2.0).dc_error(dc_context(dev, np.ones(8), B)[0])
    assert err.readout == pytest.approx(np.full(8, 0.5 * 2.0 / 511 / dev.nominal.v_unit_v))


def test_a_model_without_a_bound_says_so():
    class Mystery(OpAmpGain):
        dc_error = ResistorBank.__mro__[1].dc_error  # the protocol's default

    dev = Device(chain(ResistorBank(8), Mystery(1e3)), seed=0).program(A, B)
    err = dev.imperfection.dc_error(dc_context(dev, np.ones(8), B)[0])
    assert err.unbounded == ("Mystery: no DC error model",)
