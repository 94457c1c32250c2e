"""Converters with a real part's errors (device.converters.Converter): gain and offset error, INL
bow, per-code DNL, ADC transition noise; the exact average over that noise against Monte Carlo;
the error bound against what the errors do to a solve; the named converter profiles."""
import numpy as np
import pytest

from spucircuit.device.converters import Converter
from spucircuit.errors import SPUError
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.profiles import CONVERTER_PROFILE_NAMES, converter_profile
from spucircuit.linalg.error_bound import device_budget
from spucircuit.linalg.solve import device_solve
from spucircuit.numerics.matrices import random_spd


def transitions(conv: Converter, n=400_001):
    """Input voltages where the (noise-free) code steps up, over the whole range."""
    v = np.linspace(-conv.full_scale_v, conv.full_scale_v, n)
    q = conv.quantize(v)[0]
    return v[1:][np.diff(q) > 0]


def test_gain_and_offset_move_every_code_and_inl_bows_between_the_ends():
    ideal = Converter(10, 1.0)
    lsb = ideal.lsb
    t0 = transitions(ideal)
    tg = transitions(Converter(10, 1.0, gain_error=1e-2))
    to = transitions(Converter(10, 1.0, offset_lsb=0.3))
    ti = transitions(Converter(10, 1.0, inl_lsb=2.0))
    assert np.allclose(tg, t0 / 1.01, atol=lsb / 100)  # v (1 + g) reaches each threshold sooner
    assert np.allclose(to, t0 - 0.3 * lsb, atol=lsb / 100)
    shift = (t0[: len(ti)] - ti) / lsb if len(ti) == len(t0) else None
    assert shift is not None
    assert abs(shift[0]) < 0.05 and abs(shift[-1]) < 0.05 and shift[len(shift) // 2] == pytest.approx(2.0, abs=0.05)


def test_dnl_widths_stay_within_one_plus_minus_dnl_and_are_fixed_per_seed():
    c = Converter(8, 1.0, dnl_lsb=0.6, dnl_seed=4)
    w = np.diff(transitions(c)) / c.lsb
    assert np.all(np.abs(w - 1) <= 0.6 + 0.01) and np.std(w) > 0.1
    assert np.array_equal(c.quantize(np.linspace(-1, 1, 999))[0],
                          Converter(8, 1.0, dnl_lsb=0.6, dnl_seed=4).quantize(np.linspace(-1, 1, 999))[0])
    assert not np.array_equal(transitions(c), transitions(Converter(8, 1.0, dnl_lsb=0.6, dnl_seed=5)))


def test_mean_over_transition_noise_matches_monte_carlo():
    c = Converter(8, 1.0, noise_lsb=0.7, dnl_lsb=0.5, inl_lsb=1.0, gain_error=1e-3, offset_lsb=0.3, dnl_seed=3)
    v = np.linspace(-0.95, 0.95, 9)
    rng = np.random.default_rng(0)
    draws = np.array([c.quantize(v, rng)[0] for _ in range(20_000)])
    se = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - c.mean_quantize(v)[0]) < 5 * se + 1e-12)


def test_bad_converter_settings_are_named():
    with pytest.raises(SPUError, match="random generator"):
        Converter(8, 1.0, noise_lsb=0.5).quantize([0.1])
    with pytest.raises(SPUError, match="DNL"):
        Converter(24, 1.0, dnl_lsb=0.5)
    with pytest.raises(SPUError, match="dnl_lsb"):
        Converter(8, 1.0, dnl_lsb=-1.0)


@pytest.mark.parametrize("name", [n for n in CONVERTER_PROFILE_NAMES if n != "ideal"])
def test_profile_converters_in_a_device_stay_within_their_error_bound(name):
    prof = converter_profile(name)
    A = random_spd(6, 10, seed=1)
    lam = np.linalg.eigvalsh(A)[0]
    for m in range(4):
        b = np.random.default_rng(m).standard_normal(6)
        dev = Device(chain(prof.dac(10, 2.0), prof.adc(10, 2.0)), seed=m, scale="oracle").program(A, b)
        x, rep = dev.steady_x(b)
        xs = np.linalg.solve(A, b)
        err = np.linalg.norm(x - xs) / np.linalg.norm(xs)
        bound = device_budget(dev, x, b, lam_lower=lam, lam_source="oracle", clipped=rep["adc_clipped"]).relative
        ideal, _ = Device(chain(converter_profile("ideal").dac(10, 2.0), converter_profile("ideal").adc(10, 2.0)),
                          seed=m, scale="oracle").program(A, b).steady_x(b)
        assert err <= bound
        assert not np.array_equal(x, ideal)  # the part's errors do reach the answer


def test_transition_noise_runs_reproducibly_on_the_twin():
    prof = converter_profile("general-purpose")
    A = random_spd(4, 5, seed=2)
    b = np.ones(4)

    def solve(run_seed):  # a fresh device each time: a solve auto-ranges (re-programs) its device
        dev = Device(chain(prof.dac(12, 2.0), prof.adc(12, 2.0)), seed=0).program(A, b)
        return device_solve(dev, b, seed=run_seed, time="200tau")

    (x1, i1), (x2, _), (x3, _) = solve(3), solve(3), solve(4)
    assert np.array_equal(x1, x2) and not np.array_equal(x1, x3) and i1.adc_samples > 0


@pytest.mark.parametrize("kw", [{}, {"dnl_lsb": 0.5}, {"dnl_lsb": 0.5, "noise_lsb": 0.8, "inl_lsb": 1.0}])
def test_an_overflowed_nan_input_is_counted_as_clipped_not_a_crash(kw):
    """An unstable circuit's read-out overflows to inf / NaN: the converter counts it as clipped and
    keeps it NaN (the row's error is then NaN, never an IndexError from a code table)."""
    c = Converter(12, 2.0, **kw)
    v = np.array([0.1, np.nan, -np.inf, np.inf, -0.3])
    q, lo, hi = c.quantize(v, np.random.default_rng(0))
    assert np.isnan(q[1]) and np.all(np.isfinite(q[[0, 2, 3, 4]])) and (lo, hi) == (1, 2)
    q, lo, hi = c.mean_quantize(v)
    assert np.isnan(q[1]) and (lo, hi) == (1, 2)
