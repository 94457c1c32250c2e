"""``.noise`` from every noise source, as ngspice: the white noise that reaches the output without passing
a state (resistive dividers, ngspice's examples/noise/resdiv.cir) and resistor flicker noise
(model kf, af, ef with the DC current; ngspice's resnoise.c), against ngspice (output and input noise
PSD within 1e-2; measured 3.5e-7 where thermal noise dominates - ngspice's Boltzmann constant
1.38064852e-23 against CODATA 2018's - and below 1e-14 where flicker noise does) and the analytic forms (4 k_B T R_parallel; R^2 (m kf |I/m|^af /
(A f^ef) + 4 k_B T / R))."""
import warnings

import numpy as np
import pytest

from spucircuit.constants import K_B
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.frequency import small_signal_analyses
from tests.helpers import ngspice_or_skip

T_NG = 300.15  # ngspice's default 27 C

DIVIDERS = """resistive dividers (ngspice examples/noise/resdiv.cir)
V1 1 0 dc 0 ac 1
R1 1 2 10k
R2 2 0 10k

V11 11 0 dc 0 ac 1
R11 11 12 10k
R12 12 0 10k noisy=0

V21 21 0 dc 0 ac 1
R21 21 22 10k
R22 22 0 10k
C22 22 0 1u
{card}
.end
"""
CARDS = {"plain": ".noise v(2) V1 dec 10 1 100k", "quiet": ".noise v(12) V11 dec 10 1 100k",
         "filter": ".noise v(22) V21 dec 10 1 100k"}

FLICKER = """carbon resistor flicker noise (after ngspice tests/regression/misc/test-noise-2.cir)
.temp 25
i1 1 0 dc 1e-3
r1 1 2 1k rmodel l=1u w=10u{m}
{cap}v1 2 0 dc 0 ac 1
.model rmodel r tc1=0.01 kf=100e-18 af=1.1 ef={ef}
+ dlr=0.01u dw=0.01u
+ tnom=25
.noise v(1) v1 dec 5 1k 100k
.end
"""


def _analytic_flicker(f, m=1.0, ef=1.0, T=298.15):
    area = (1e-6 - 2e-8) * (10e-6 - 2e-8)  # ressetup.c: (L - 2 dlr)^lf (W - 2 dw)^wf
    R = 1e3 / m
    flick = m * 100e-18 * (1e-3 / m) ** 1.1 / (area * f ** ef)
    return R * R * (flick + 4 * K_B * T / R)


@pytest.mark.parametrize("which", list(CARDS))
def test_dividers_are_analytic(which):
    tw = small_signal_analyses(parse_spice(DIVIDERS.format(card=CARDS[which]), "d.cir"))
    f = tw["noise_f"]
    want = {"plain": 4 * K_B * T_NG * 5e3 + 0 * f, "quiet": 4 * K_B * T_NG * 1e4 / 4 + 0 * f,
            "filter": 4 * K_B * T_NG * 5e3 / (1 + (2 * np.pi * f * 5e3 * 1e-6) ** 2)}[which]
    assert np.max(np.abs(tw["noise_onoise_psd"] / want - 1)) < 1e-12
    assert np.allclose(tw["noise_inoise_psd"], tw["noise_onoise_psd"] / np.abs(tw["noise_gain"]) ** 2, rtol=1e-15)


@pytest.mark.parametrize("m,ef,cap", [(1, 1.0, ""), (2, 1.0, ""), (2, 1.3, "c1 1 2 10n\n")])
def test_flicker_is_analytic(m, ef, cap):
    text = FLICKER.format(m=f" m={m}", ef=ef, cap=cap)
    tw = small_signal_analyses(parse_spice(text, "f.cir"))
    f = tw["noise_f"]
    want = _analytic_flicker(f, m, ef)
    if cap:  # the resistor's noise current shunted by C: |Z|^2 = R^2 / (1 + (w R C)^2)
        want = want / (1 + (2 * np.pi * f * 1e3 / m * 10e-9) ** 2)
    assert np.max(np.abs(tw["noise_onoise_psd"] / want - 1)) < 1e-12
    assert np.max(np.abs(tw["noise_inoise_psd"] / want - 1)) < 1e-12  # the gain from v1 to v(1) is 1


def test_m_resistor_equals_parallel_instances():
    """ngspice's test-noise-3: r1 m=2 and two parallel copies give the same noise (flicker and thermal)."""
    one = small_signal_analyses(parse_spice(FLICKER.format(m=" m=2", ef=1, cap=""), "a.cir"))
    two = FLICKER.format(m="", ef=1, cap="").replace("r1 1 2 1k rmodel l=1u w=10u",
                                                     "r1a 1 2 1k rmodel l=1u w=10u\nr1b 1 2 1k rmodel l=1u w=10u")
    two = small_signal_analyses(parse_spice(two, "b.cir"))
    assert np.allclose(one["noise_onoise_psd"], two["noise_onoise_psd"], rtol=1e-12, atol=0)


def test_quiet_resistor_has_no_flicker():
    text = FLICKER.format(m="", ef=1, cap="").replace("w=10u", "w=10u noisy=0")
    tw = small_signal_analyses(parse_spice(text, "q.cir"))
    assert np.all(tw["noise_onoise_psd"] == 0.0)


def _against_ngspice(text):
    from spucircuit.io.ngspice import run_ngspice

    ns = {p.plotname.lower(): p for p in run_ngspice(text).plots}["noise spectral density curves"]
    tw = small_signal_analyses(parse_spice(text, "x.cir"))
    assert np.allclose(ns.data[:, 0].real, tw["noise_f"], rtol=1e-12, atol=0)
    on = np.max(np.abs(tw["noise_onoise_psd"] / ns["onoise_spectrum"].real ** 2 - 1))
    inn = np.max(np.abs(tw["noise_inoise_psd"] / ns["inoise_spectrum"].real ** 2 - 1))
    return on, inn


@pytest.mark.parametrize("which", list(CARDS))
def test_dividers_match_ngspice(which):
    ngspice_or_skip("the .noise cross-check")
    on, inn = _against_ngspice(DIVIDERS.format(card=CARDS[which]))
    assert on < 1e-2 and inn < 1e-2, (on, inn)


@pytest.mark.parametrize("m,ef,cap,extra", [(1, 1.0, "", ""), (2, 1.3, "c1 1 2 10n\n", ""),
                                             (1, 1.0, "", " lf=0.9 wf=1.2")])
def test_flicker_matches_ngspice(m, ef, cap, extra):
    ngspice_or_skip("the .noise cross-check")
    on, inn = _against_ngspice(FLICKER.format(m=f" m={m}", ef=ef, cap=cap).replace("tnom=25", "tnom=25" + extra))
    assert on < 1e-2 and inn < 1e-2, (on, inn)


def test_subcircuit_flicker_matches_ngspice():
    """A subcircuit's own resistor model, flicker noise of a flattened element R.X1.r1, a DC current set by
    the subcircuit's source."""
    ngspice_or_skip("the .noise cross-check")
    text = ("sub\nX1 1 cell\nv1 2 0 dc 0 ac 1\nr9 1 2 2k\nc9 1 0 1n\n.subckt cell p\ni1 p 0 dc -2m\n"
            "r1 p 0 1k rk l=2u w=5u\n.model rk r kf=1e-16 af=1.2 tc1=1m\n.ends\n.temp 50\n"
            ".noise v(1) v1 dec 5 10 1meg\n.end\n")
    on, inn = _against_ngspice(text)
    assert on < 1e-2 and inn < 1e-2, (on, inn)


def test_transient_names_the_flicker_noise_it_leaves_out():
    from spucircuit.errors import NoiseModelWarning
    from spucircuit.statespace.mna import compile_netlist

    nl = parse_spice(FLICKER.format(m="", ef=1, cap="c1 1 2 10n\n"), "w.cir")
    with pytest.warns(NoiseModelWarning, match=r"flicker \(1/f\) noise of resistor r1 \(model kf\) is left out"):
        compile_netlist(nl, 300.0, noise=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_netlist(nl, 300.0, noise=False)  # no noise: nothing is left out
        small_signal_analyses(nl)  # .noise includes it


AC_RES = """ac= resistances in .noise: the AC network, the DC thermal noise
V1 1 0 dc 1 ac 1
R1 1 2 10k ac=5k
R2 2 0 10k tc1=1m temp=60 ac=7k
C2 2 0 1n
R3 2 0 {r3} ac=20k
.model rm r rsh=1000 narrow=1u
.noise v(2) V1 dec 5 1k 10meg
.end
"""


@pytest.mark.parametrize("r3,r3_dc", [("1meg", 1e6), ("rm l=11u w=2u", np.inf)])
def test_ac_resistances_in_noise_are_analytic(r3, r3_dc):
    """ngspice runs .noise on the AC conductances but each resistor's thermal noise is 4 k_B T G_dc (R3 in
    the model form has G_dc = 0: W - 2 narrow = 0): S = 4 k T (1/R1 + 1/R2_dc + 1/R3_dc) |Z|^2,
    Z = 1 / (1/5k + 1/R2_ac + 1/20k + jwC)."""
    tw = small_signal_analyses(parse_spice(AC_RES.format(r3=r3), "a.cir"))
    f = tw["noise_f"]
    fac = 1 + 1e-3 * (60 - 27)
    Z = 1 / (1 / 5e3 + 1 / (7e3 * fac) + 1 / 20e3 + 2j * np.pi * f * 1e-9)
    want = 4 * K_B * T_NG * (1 / 1e4 + 1 / (1e4 * fac) + 1 / r3_dc) * np.abs(Z) ** 2
    assert np.max(np.abs(tw["noise_onoise_psd"] / want - 1)) < 1e-12


def test_ac_resistances_in_noise_match_ngspice():
    """(ngspice 39 prints NaN for the zero-width R3, its thermal noise of a zero conductance: not compared.)"""
    ngspice_or_skip("the .noise cross-check")
    on, inn = _against_ngspice(AC_RES.format(r3="1meg"))
    assert on < 1e-2 and inn < 1e-2, (on, inn)


DTEMP = """dtemp heats a resistor's thermal noise (nevalsrc.c: 4 k (T + dtemp) G); temp= does not
V1 1 0 dc 0 ac 1
R1 1 2 10k dtemp=50
R2 2 0 10k temp=100
C2 2 0 1n
.noise v(2) V1 dec 5 1k 10meg
.end
"""


def test_dtemp_sets_the_noise_temperature():
    tw = small_signal_analyses(parse_spice(DTEMP, "t.cir"))
    f = tw["noise_f"]
    r2 = 1e4  # no tc: temp= changes no value, and ngspice's noise keeps the circuit temperature for it
    Z = 1 / (1 / 1e4 + 1 / r2 + 2j * np.pi * f * 1e-9)
    want = 4 * K_B * ((T_NG + 50) / 1e4 + T_NG / r2) * np.abs(Z) ** 2
    assert np.max(np.abs(tw["noise_onoise_psd"] / want - 1)) < 1e-12


def test_dtemp_matches_ngspice():
    ngspice_or_skip("the .noise cross-check")
    on, inn = _against_ngspice(DTEMP)
    assert on < 1e-2 and inn < 1e-2, (on, inn)
