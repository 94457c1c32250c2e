"""SPICE waveforms (PULSE, SIN, EXP, PWL, SFFM): SPICE's defaults, values, breakpoints, the chord
bound of max_step, and ngspice's own source values at its time points (skipped without ngspice)."""
import math
import shutil

import numpy as np
import pytest

from spucircuit.circuit.waveforms import Am, Exp, Pulse, Pwl, Sffm, Sin
from spucircuit.errors import NetlistError

TSTEP, TSTOP = 0.1, 3.0


def test_defaults_follow_ngspice():
    p = Pulse(0, 1).resolve(TSTEP, TSTOP)
    assert (p.td, p.tr, p.tf, p.pw, p.per) == (0.0, TSTEP, TSTEP, TSTOP, TSTOP)
    p0 = Pulse(0, 1, 0.2, 0, 0, 0, 0).resolve(TSTEP, TSTOP)  # zeros take the defaults too
    assert (p0.td, p0.tr, p0.tf, p0.pw, p0.per) == (0.2, TSTEP, TSTEP, TSTOP, TSTOP)
    s = Sin(1, 2).resolve(TSTEP, TSTOP)
    assert (s.freq, s.td, s.theta, s.phase) == (1 / TSTOP, 0.0, 0.0, 0.0)
    e = Exp(0, 1).resolve(TSTEP, TSTOP)
    assert (e.td1, e.tau1, e.td2, e.tau2) == (TSTEP, TSTEP, 2 * TSTEP, TSTEP)
    f = Sffm(0, 1).resolve(TSTEP, TSTOP)
    assert (f.fc, f.mdi, f.fs) == (1 / TSTOP, 0.0, 1 / TSTOP)


def test_unresolved_defaults_are_refused():
    with pytest.raises(NetlistError, match="resolve"):
        Pulse(0, 1).value(0.5)
    with pytest.raises(NetlistError, match="tstep"):
        Sin(0, 1).resolve(0.0, 1.0)


def test_pulse_values_and_corners():
    p = Pulse(-1, 2, 0.5, 0.1, 0.2, 0.3, 1.0, 2).resolve(TSTEP, TSTOP)
    corners = np.array([0.5, 0.6, 0.9, 1.1, 1.5, 1.6, 1.9, 2.1])
    assert np.allclose(p.breakpoints(0, 10), corners)  # NP = 2 pulses only
    assert np.allclose(p.value(corners), [-1, 2, 2, -1] * 2)
    mid = 0.5 * (corners[:-1] + corners[1:])
    lin = 0.5 * (p.value(corners[:-1]) + p.value(corners[1:]))
    assert np.allclose(p.value(mid[[0, 2, 4, 6]]), lin[[0, 2, 4, 6]])  # straight ramps
    assert p.value(3.55) == -1 and p.max_step(1e-9) == math.inf


def test_sin_exp_sffm_formulas():
    t = np.linspace(0, 3, 301)
    s = Sin(0.5, 2, 0.7, 0.4, 0.3, 30).resolve(TSTEP, TSTOP)
    ref = np.where(t <= 0.4, 0.5 + 2 * math.sin(math.pi / 6),
                   0.5 + 2 * np.sin(2 * math.pi * 0.7 * (t - 0.4) + math.pi / 6) * np.exp(-(t - 0.4) * 0.3))
    assert np.allclose(s.value(t), ref, rtol=0, atol=1e-14)
    assert s.initial_value() == pytest.approx(ref[0], abs=1e-15) and list(s.breakpoints(0, 3)) == [0.4]
    e = Exp(1, -1, 0.2, 0.1, 0.5, 0.3).resolve(TSTEP, TSTOP)
    ref = (1 - 2 * np.where(t > 0.2, 1 - np.exp(-(t - 0.2) / 0.1), 0)
           + 2 * np.where(t > 0.5, 1 - np.exp(-(t - 0.5) / 0.3), 0))
    assert np.allclose(e.value(t), ref, rtol=0, atol=1e-14)
    f = Sffm(0.1, 2, 3, 0.5, 0.4).resolve(TSTEP, TSTOP)
    assert np.allclose(f.value(t), 0.1 + 2 * np.sin(2 * math.pi * 3 * t + 0.5 * np.sin(2 * math.pi * 0.4 * t)))


@pytest.mark.parametrize("wf", [Sin(0, 3, 50, 0, 20, 10), Exp(0, 1, 0.02, 0.01, 0.03, 0.02), Sffm(0, 1, 40, 2, 5),
                                Am(1, 0.5, 5, 40, 0.01)])
def test_max_step_bounds_the_chord_error(wf):
    wf = wf.resolve(TSTEP, TSTOP)
    rtol = 1e-6
    h = wf.max_step(rtol)
    amp = abs(getattr(wf, "va", None) or (wf.v2 - wf.v1)) * (abs(getattr(wf, "vo", 0)) + 1 if isinstance(wf, Am) else 1)
    t0 = np.arange(max(wf.breakpoints(0, 1), default=0.0), 0.3, h)  # steps end on breakpoints: none inside
    mid = wf.value(t0 + h / 2)
    chord = 0.5 * (wf.value(t0) + wf.value(t0 + h))
    err = np.max(np.abs(mid - chord))
    assert err <= rtol * amp
    assert err >= 0.05 * rtol * amp  # the bound is not loose by orders of magnitude


def test_pwl_repeat():
    w = Pwl((0.0, 0.125, 0.375, 0.5), (0.0, 1.0, -1.0, 0.5), r=0.125)  # repeats [0.125, 0.5] every 0.375 s
    t = np.linspace(0.51, 1.99, 50)
    assert np.allclose(w.value(t), w.value(0.125 + np.mod(t - 0.5, 0.375)))
    assert w.value(0.875) == 0.5 and w.value(0.875, side="right") == 1.0  # the jump back to the value at r
    assert np.allclose(w.breakpoints(0, 1.0), [0, 0.125, 0.375, 0.5, 0.75, 0.875])


def test_pwl_jumps_and_delay():
    w = Pwl((0.0, 0.5, 0.5, 1.0), (0.0, 1.0, 2.0, -1.0), td=0.25)
    assert w.value(0.75) == 1.0 and w.value(0.75, side="right") == 2.0  # at the jump: before / after
    assert w.value(0.0) == 0.0 and w.value(2.0) == -1.0 and w.value(0.5) == pytest.approx(0.5)
    assert list(w.breakpoints(0, 10)) == [0.25, 0.75, 1.25]
    with pytest.raises(NetlistError, match="must not decrease"):
        Pwl((0.0, 1.0, 0.5), (0, 0, 0))


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
def test_values_match_ngspice(tmp_path):
    from spucircuit.io.ngspice import run_ngspice

    cards = {"a": ("PULSE(0 1 0.3 0 0 0.5 1.1)", Pulse(0, 1, 0.3, 0, 0, 0.5, 1.1)),
             "b": ("SIN(0.5 2 0 0.2 0.3 30)", Sin(0.5, 2, 0, 0.2, 0.3, 30)),
             "c": ("EXP(0 1)", Exp(0, 1)),
             "d": ("PWL(0 0 0.5 1 0.5 2 1 -1)", Pwl((0, 0.5, 0.5, 1), (0, 1, 2, -1))),
             "e": ("PULSE(0 1)", Pulse(0, 1)),
             "f": ("EXP(1 -1 0.2 0 0 0.3)", Exp(1, -1, 0.2, 0, 0, 0.3)),
             "g": ("PULSE 0 2 0.1 0.05 0.05 0.2 0.5 2", Pulse(0, 2, 0.1, 0.05, 0.05, 0.2, 0.5, 2)),
             "h": ("SFFM(0.2 1 2 0.5 0.7)", Sffm(0.2, 1, 2, 0.5, 0.7)),
             "i": ("AM(2 0.5 3 20 0.1)", Am(2, 0.5, 3, 20, 0.1)), "j": ("AM(2 0.5 3 20)", Am(2, 0.5, 3, 20))}
    text = "waveforms\n" + "".join(f"V{k} {k} 0 {c}\nR{k} {k} 0 1k\n" for k, (c, _) in cards.items())
    cards["k"] = ("PWL(0 0 0.1 1 0.3 -1 0.4 0.5) r=0.1", Pwl((0, .1, .3, .4), (0, 1, -1, .5), r=0.1))
    cards["l"] = ("PWL(0 0 0.1 1 0.3 -1 0.4 0.5) td=0.05 r=0", Pwl((0, .1, .3, .4), (0, 1, -1, .5), td=0.05, r=0.0))
    text = "waveforms\n" + "".join(f"V{k} {k} 0 {c}\nR{k} {k} 0 1k\n" for k, (c, _) in cards.items())
    res = run_ngspice(text + f".tran {TSTEP} {TSTOP} 0 1m\n.end\n")
    for k, (_, wf) in cards.items():
        wf = wf.resolve(TSTEP, TSTOP)
        # ngspice prints the value after a PWL repeat's jump at the jump's instant, this the value before it
        keep = np.min(np.abs(res.t[:, None] - wf.breakpoints(0.4, TSTOP)[None, :]), axis=1, initial=1.0) > 1e-9 \
            if getattr(wf, "r", None) is not None else np.ones(res.t.size, bool)
        assert np.max(np.abs(wf.value(res.t) - res.voltage(k))[keep]) < 1e-12, k
