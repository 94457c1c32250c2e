"""Resistor models and geometry (``.model mname R``, ``l= w= m= scale= ac= tc1= tc2= tce= temp= dtemp=``)
as ngspice 39 computes them (src/spicelib/devices/res/restemp.c, ressetup.c): the values against the
formulas, the .op and .ac of a circuit using every form against ngspice (node voltages within 1e-9
relative; measured 1e-15), subcircuit-local models, round trips and bad input naming file and line."""

import numpy as np
import pytest

from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice, write_spice
from spucircuit.statespace.frequency import small_signal_analyses
from spucircuit.statespace.operating_point import operating_point
from tests.helpers import ngspice_or_skip

MODELS = """resistor models and geometry
V1 in 0 dc 1 ac 1
Rg in a rgeo l=20u w=2u
Rm a b 3k rtc m=2 scale=1.5
Rac b 0 10k ac=4k tc1=1m
Rdef b c rdef
Rdf c 0 rgeo
Rtce c d 1k tce=2m dtemp=5
C1 d 0 1n
Rload d 0 5k
.model rgeo r rsh=100 narrow=0.5u short=1u defw=5u l=8u
.model rtc r tc1=2m tc2=1e-5 tnom=20
.model rdef r r=2.2k
.temp 40
.op
.ac dec 5 1k 10meg
.end
"""


def _values(nl):
    return {e.name: e.value for e in nl.elements("R")}


def test_values_follow_ngspice_formulas():
    nl = parse_spice(MODELS, "m.cir")
    r = _values(nl)
    # restemp.c: R = (L - 2 short) / (W - 2 narrow) rsh; conductance m / (R factor scale)
    assert r["Rg"] == pytest.approx((20e-6 - 2e-6) / (2e-6 - 1e-6) * 100, rel=1e-15)
    assert r["Rdf"] == pytest.approx((8e-6 - 2e-6) / (5e-6 - 1e-6) * 100, rel=1e-15)  # the model's l and defw
    dt = 40.0 - 20.0  # .temp - the model's tnom
    assert r["Rm"] == pytest.approx(3e3 * (1 + 2e-3 * dt + 1e-5 * dt * dt) * 1.5 / 2, rel=1e-15)
    assert r["Rac"] == pytest.approx(10e3 * (1 + 1e-3 * 13), rel=1e-15)  # tnom 27 C
    assert nl.meta["ac"]["resistors"]["Rac"] == pytest.approx(4e3 * (1 + 1e-3 * 13), rel=1e-15)
    assert r["Rdef"] == 2.2e3
    assert r["Rtce"] == pytest.approx(1e3 * 1.01 ** (2e-3 * (40 + 5 - 27)), rel=1e-15)


def test_plain_value_stays_on_the_bulk_path_and_round_trips():
    nl = parse_spice(MODELS, "m.cir")
    again = parse_spice(write_spice(nl, None), "again.cir")
    assert _values(again) == _values(nl)
    assert again.meta["ac"] == nl.meta["ac"]
    plain = "t\n" + "".join(f"R{k} n{k} 0 {k + 1}k\n" for k in range(50)) + ".end\n"
    assert parse_spice(plain, "p.cir", bulk=True).tables["R"].values.tolist() == [1e3 * (k + 1) for k in range(50)]


def test_noise_data_round_trips_through_the_writer():
    text = ("t\nV1 1 0 dc 1 ac 1\nR1 1 2 1k rk l=2u w=5u dtemp=10\nR3 2 0 rm l=11u w=2u ac=2.5k\nC1 2 0 1n\n"
            ".model rk r kf=1e-20 af=1.2 ef=0.9\n.model rm r rsh=1000 narrow=1u\n.noise v(2) V1 dec 2 1 1k\n.end\n")
    nl = parse_spice(text, "n.cir")
    again = parse_spice(write_spice(nl, None), "again.cir")
    for key in ("flicker", "noise_dtemp", "open_resistors", "ac"):
        assert again.meta[key] == nl.meta[key], key
    assert nl.meta["flicker"]["resistors"]["R1"] == {"kf": 1e-20, "af": 1.2, "ef": 0.9, "m": 1.0,
                                                     "area": pytest.approx(2e-6 * 5e-6, rel=1e-15)}
    assert _values(again) == _values(nl)


def test_zero_effective_width_is_open_for_dc_and_uses_its_ac_value():
    text = ("t\nV1 1 0 dc 1 ac 1\nR1 1 2 1k\nR3 2 0 rm l=11u w=2u ac=2.5k\nR4 2 0 rm l=11u w=2u\n"
            ".model rm r rsh=1000 narrow=1u\n.ac lin 1 1k 1k\n.end\n")
    nl = parse_spice(text, "o.cir")
    assert list(_values(nl)) == ["R1"]  # conductance 0 (ngspice divides by W - 2 narrow = 0)
    assert nl.meta["open_resistors"] == {"R3": ["2", "0"], "R4": ["2", "0"]}
    v = small_signal_analyses(nl)["ac_v"][0]
    assert v[1] == pytest.approx(2.5e3 / (1e3 + 2.5e3), rel=1e-12)  # only R3's ac= enters the .ac


def test_options_scale_multiplies_l_and_w():
    """ngspice 39 (checked: i(V1) = -5.55556e-04 with the option, -1.5e-03 without): l, w times scale."""
    text = "t\nV1 1 0 1\nR1 1 0 rm l=20 w=3\n.model rm r rsh=100 narrow=1u short=1u\n{}.end\n"
    assert _values(parse_spice(text.format(".options scale=1e-6\n"), "s.cir"))["R1"] == pytest.approx(1800, rel=1e-12)
    assert _values(parse_spice(text.format(""), "s.cir"))["R1"] == pytest.approx((20 - 2e-6) / (3 - 2e-6) * 100,
                                                                                   rel=1e-12)
    with pytest.raises(SpiceError, match=r"s\.cir:5: \.options scale must be finite and > 0"):
        parse_spice(text.format(".options scale=0\n"), "s.cir")


def test_subcircuit_models_are_local():
    text = ("t\nV1 a 0 1\nX1 a b cell\nR2 b 0 rm\n.model rm r r=1k\n.subckt cell p q\n.model rm r r=3k\n"
            "R1 p q rm\n.ends\n.end\n")
    r = _values(parse_spice(text, "s.cir"))
    assert r == {"R.X1.R1": 3e3, "R2": 1e3}


@pytest.mark.parametrize("body,line,msg", [
    ("R1 a 0 1k\n.model rx R foo=1\n", 3, "resistor model parameter 'foo' is not supported"),
    ("R1 a 0 1k\n.model rx R(rsh=1\n", 3, "unbalanced"),
    ("R1 a 0 1k\n.model rx R rsh\n", 3, "parameters are name=value"),
    ("R1 a 0 1k\n.model rx R rsh={1/0}\n", 3, ".model rx rsh"),
    ("R1 a 0 1k\n.model rx R\n.model rx R\n", 4, "defined twice"),
    ("R1 a 0 dx\n.model dx D is=1e-14\n", 2, "is a 'd' model, not a resistor model"),
    ("R1 a 0 rnone\n", 2, "'rnone' is not a number, nor a model"),
    ("R1 a 0 rx\n.model rx R tc1=1\n", 2, "missing value"),
    ("R1 a 0 rx\n.model rx R r=1m\n", 2, "missing value"),
    ("R1 a 0 1k m=0\n", 2, "multiplicity m must be > 0"),
    ("R1 a 0 1k scale=-1\n", 2, "scale must be finite and > 0"),
    ("R1 a 0 1k tce=1e9 temp=100\n", 2, "not finite"),
    ("R1 a 0 1k 2k\n", 2, "unexpected field '2k'"),
    ("R1 a 0 1k r=2k\n", 2, "value given twice"),
    ("R1 a 0 1k l=1u l=2u\n", 2, "given twice"),
    ("R1 a 0 1k rx l=1u\n.model rx R kf=1 short=1u\n", 2, "flicker-noise area"),
    ("R1 a 0 rx l=2u w=1u\n.model rx R rsh=1 short=1u\n", 2, "zero resistance"),
    ("R1 a 0 1k ac=0\n", 2, "ac resistance must be finite and non-zero"),
    ("R1 a 0 1k noisy=2\n", 2, "noisy must be 0 or 1"),
])
def test_bad_resistor_cards_name_file_and_line(body, line, msg):
    with pytest.raises(SpiceError) as ei:
        parse_spice("t\n" + body + "C1 a 0 1n\n.end\n", "bad.cir")
    assert ei.value.filename == "bad.cir" and ei.value.lineno == line, str(ei.value)
    assert msg in str(ei.value), str(ei.value)


def test_op_and_ac_match_ngspice():
    ngspice_or_skip("the resistor-model cross-check")
    from spucircuit.io.ngspice import run_ngspice

    plots = {p.plotname.lower(): p for p in run_ngspice(MODELS).plots}
    nl = parse_spice(MODELS, "m.cir")
    op = operating_point(nl)
    ngop = next(p for k, p in plots.items() if k.startswith("operating point"))
    for node in ("in", "a", "b", "c", "d"):
        assert op.voltage(node) == pytest.approx(float(ngop[f"v({node})"][0].real), rel=1e-9, abs=1e-15), node
    tw = small_signal_analyses(nl)
    ac = plots["ac analysis"]
    assert np.allclose(ac.data[:, 0].real, tw["ac_f"], rtol=1e-12, atol=0)
    for k, node in enumerate(tw["ac_nodes"]):
        assert np.max(np.abs(tw["ac_v"][:, k] / ac[f"v({node})"] - 1)) < 1e-9, node
