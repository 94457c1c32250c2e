"""Spellings of netlists from elsewhere (issue 13b, item 4): dc= / ac= on sources (AC recorded for the
.ac analysis), R= / C= / L= values, resistor ac=, values as ngspice 39 reads them (no RKM), DISTOF1/2,
tc1/tc2 with temp/dtemp/.temp, .ic inside a subcircuit, and the errors of their bad forms."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spucircuit._util.quantities import parse_number
from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice, write_spice


def _values(text):
    return {e.name: e.value for e in parse_spice(text).elements()}


# ngspice 39.3's reading of R/C/L values (INPevaluate, no RKM by default), measured with 'show r c l' on a deck of
# these tokens: the first letter after the number is the scale, the rest of the token is ignored
NGSPICE_39_VALUES = [
    ("4K7", 4e3), ("2R2", 2.0), ("4Meg7", 4e6), ("2meg5", 2e6), ("2m5", 2e-3), ("4M7", 4e-3), ("4L7", 4.0),
    ("1d3", 1e3), ("1e+", 1.0), ("1.5.3", 1.5), ("1e5k", 1e8), ("1.", 1.0), (".5k", 500.0), ("1mil", 2.54e-5),
    ("3MEGA", 3e6), ("2e-3meg", 2e3), ("1ex", 1.0), ("2:3", 2.0), ("1E-3X", 1e-3), ("+2k", 2e3), ("56Ohms", 56.0),
    ("1e-3wwww", 1e-3), ("-1.7", -1.7), ("27R56", 27.0), ("1u2", 1e-6), ("4F7", 4e-15), ("47fF", 4.7e-14),
    ("2200u2nnn", 2.2e-3), ("1e-6e", 1e-6), (".", 0.0),
]


@pytest.mark.parametrize("tok, value", NGSPICE_39_VALUES)
def test_numbers_as_ngspice_39_reads_them(tok, value):
    assert parse_number(tok) == pytest.approx(value, rel=4 * np.finfo(float).eps, abs=0)


def test_numbers_agree_with_ngspice():
    """The tokens above as R values (and C, L values where positive) read by ngspice 39 and by the twin."""
    import shutil
    import tempfile

    from tests.io.test_corpus import MEASURED, _compare_values

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    toks = [t for t, v in NGSPICE_39_VALUES if v != 0]
    lines = [f"R{k} 1 0 {t}" for k, t in enumerate(toks)]
    lines += [f"C{k} 1 0 {t}" for k, t in enumerate(toks) if not t.startswith("-")]
    lines += [f"L{k} 1 {k + 2} {t}\nR{k}x {k + 2} 0 1" for k, t in enumerate(toks) if not t.startswith("-")]
    deck = "numbers\nV1 1 0 1\n" + "\n".join(lines) + "\n.end\n"
    with tempfile.TemporaryDirectory() as work:
        assert _compare_values(parse_spice(deck), deck, work) == ""
    assert MEASURED["values"] < 1


def test_negative_capacitors_and_inductors_are_refused_with_the_line():
    # ngspice 39 takes them (capacitance -1e-06); the twin's states need C, L > 0
    for card, what in (("C1 1 0 -1u", "capacitor 'C1' has unrealizable value -1e-06 F"),
                       ("L1 1 0 -1m", "inductor 'L1' has unrealizable value -0.001 H")):
        with pytest.raises(SpiceError, match=r"n.cir:3: " + what):
            parse_spice(f"t\nV1 1 0 1\n{card}\nR1 1 0 1k\n.end\n", "n.cir")


@pytest.mark.parametrize("tok", ["R47", "K7", "abc", "+", "-", "", "-k", "e3"])
def test_tokens_that_are_no_number(tok):
    assert parse_number(tok) is None


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[+-]?(?:[0-9]{1,30}\.?[0-9]{0,30}|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,6})?", fullmatch=True))
def test_plain_decimals_read_as_float_does(tok):
    got = parse_number(tok)
    assert got == float(tok) and math.copysign(1, got) == math.copysign(1, float(tok))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.+-eEdDmMgGkKuUnNpPfFaAlLiIrR:_ x", max_size=30))
def test_any_token_is_a_number_or_none(tok):
    v = parse_number(tok)
    assert v is None or isinstance(v, float)


def test_value_spellings_in_cards():
    v = _values("t\nV1 a 0 dc=2\nR1 a b 4K7\nR2 b 0 R=2R2\nC1 b 0 C=1u\nL1 b c L=1M5\nR3 c 0 4Meg7\n"
                "C2 c 0 3n3\nC3 c 0 47fF\n.end\n")
    assert v == pytest.approx({"V1": 2.0, "R1": 4000.0, "R2": 2.0, "C1": 1e-6, "L1": 1e-3, "R3": 4e6,
                               "C2": 3e-9, "C3": 4.7e-14}, rel=4 * np.finfo(float).eps)
    with pytest.raises(SpiceError, match=r"<string>:3: R3 value: 'R47' is not a number"):
        parse_spice("t\nV1 a 0 1\nR3 a 0 R47\n.end\n")  # ngspice 39 reads it as a model name and fails


def test_ac_specs_are_recorded_not_used():
    nl = parse_spice("t\nV1 a 0 dc=2 ac=1\nV2 b 0 DC 1 AC 0.5 45\nV3 c 0 0 ac\nI1 0 a dc=1m acmag=2 acphase=30\n"
                     "R1 a b 1k ac=2k\nR2 b c 1k\nR3 c 0 1k\n.end\n")
    assert nl.meta["ac"] == {"sources": {"V1": [1.0, 0.0], "V2": [0.5, 45.0], "V3": [1.0, 0.0], "I1": [2.0, 30.0]},
                             "resistors": {"R1": 2000.0}}
    assert [e.value for e in nl.elements("V")] == [2.0, 1.0, 0.0] and nl.find("R1") == ("R", 0)
    assert next(nl.elements("R")).value == 1000.0  # the transient uses the value, not ac=
    again = parse_spice(write_spice(nl, None))  # kept through an export ('*spu: meta')
    assert again.meta["ac"] == nl.meta["ac"]


def test_distortion_inputs_are_kept_not_used():
    # ngspice's DISTOF1/DISTOF2 [mag [phase]] (vsrcpar.c: defaults 1 and 0) only feed .disto
    text = ("t\nV1 1 0 DC 0 AC 1 SIN 0 1 1K 0 0 DISTOF1 0 DISTOF2 0\nV2 2 0 1 distof1 2 30 distof2\n"
            "I1 0 2 dc 1m distof2 0.5\nR1 1 2 1k\nR2 2 0 1k\n.end\n")
    nl = parse_spice(text)
    assert nl.meta["distof"] == {"V1": {"distof1": [0.0, 0.0], "distof2": [0.0, 0.0]},
                                 "V2": {"distof1": [2.0, 30.0], "distof2": [1.0, 0.0]}, "I1": {"distof2": [0.5, 0.0]}}
    assert list(nl.waveforms["V1"].spice_args()) == [0.0, 1.0, 1000.0, 0.0, 0.0]  # the SIN ends at DISTOF1
    assert {e.name: e.value for e in nl.elements("V")} == {"V1": 0.0, "V2": 1.0}
    exported = write_spice(nl, None)
    assert "V2 2 0 dc 1.0 DISTOF1 2.0 30.0 DISTOF2 1.0 0.0" in exported.split("\n")  # on the card, for ngspice
    again = parse_spice(exported)
    assert again.meta["distof"] == nl.meta["distof"] and write_spice(again, None) == exported
    for bad, what in (("V3 3 0 1 distof1 abc", "unexpected field 'abc'"), ("V3 3 0 1 distof1 1 distof1", "twice"),
                      ("V3 3 0 1 distof2 1e999", "floating-point range")):
        with pytest.raises(SpiceError, match=r"<string>:7: V3.*" + what):
            parse_spice(text.replace(".end", bad + "\nR3 3 0 1k\n.end"))


def test_exported_distortion_inputs_drive_ngspice_disto(tmp_path):
    import shutil

    from tests.io.test_corpus import run_ngspice_deck

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    nl = parse_spice("t\nV1 1 0 DC 0 AC 1 SIN 0 1 1K 0 0 DISTOF1 0.5 DISTOF2 0.25 30\nR1 1 2 10k\nR2 2 0 10k\n"
                     "C1 2 0 1n\n.end\n")
    deck = write_spice(nl, None).replace("\n.end", "\n.op\n.disto dec 2 1k 10k\n.end")
    plots = run_ngspice_deck(deck, str(tmp_path))
    assert {"distortion - 2nd harmonic", "distortion - 3rd harmonic"} <= set(plots), sorted(plots)


def test_temperature_coefficients():
    # value (1 + tc1 dT + tc2 dT^2), dT = (temp= else .temp, default 27) - 27 + dtemp; ngspice's
    # op of these (checked with ngspice 39.3 'print all'): 2.442, 1046, 1026, and 'show c' 1.23u, 1.13u
    v = _values("t\nV1 a 0 1\nR2 a 0 2.2 tc1=0.01 tc2=1e-4 temp=37\nR3 a 0 1k tc1=0.002 dtemp=10\n"
                "R5 a 0 1k tc1=0.002\nC1 a 0 1u tc1=0.01 temp=50\nC2 a 0 1u tc1=0.01\nL1 a b 1m tc1=0.01\n"
                "R6 b 0 1\n.temp 40\n.end\n")
    assert v["R2"] == pytest.approx(2.2 * (1 + 0.01 * 10 + 1e-4 * 100), rel=1e-15)
    assert v["R3"] == pytest.approx(1000 * (1 + 0.002 * 23), rel=1e-15)
    assert v["R5"] == pytest.approx(1000 * (1 + 0.002 * 13), rel=1e-15)
    assert v["C1"] == pytest.approx(1e-6 * 1.23, rel=1e-15) and v["C2"] == pytest.approx(1.13e-6, rel=1e-15)
    assert v["L1"] == pytest.approx(1.13e-3, rel=1e-15)
    # at the nominal temperature the coefficients change nothing
    assert _values("t\nV1 a 0 1\nR1 a 0 1k tc1=0.5 tc2=0.1\n.end\n")["R1"] == 1000.0


def test_ic_inside_a_subcircuit_gets_the_instance_node():
    nl = parse_spice("t\n.subckt cell in out\nR1 in out 1k\nC1 out 0 1u\nR2 out mid 1k\nC2 mid 0 1u\n"
                     ".ic v(mid)=0.3 v(out)=0.2\n.ends\nV1 a 0 1\nX1 a b cell\nX2 b c cell\nR9 c 0 1k\n"
                     ".tran 1u 1m uic\n.end\n")
    assert nl.meta["spice_file"]["ic"] == {"x1.mid": 0.3, "b": 0.2, "x2.mid": 0.3, "c": 0.2}
    assert {e.name: e.ic for e in nl.elements("C")} == {"C.X1.C1": 0.2, "C.X1.C2": 0.3, "C.X2.C1": 0.2,
                                                        "C.X2.C2": 0.3}


@pytest.mark.parametrize("text, line, what", [
    ("t\nR1 a 0 1k R=2k\n", 2, "value given twice"),
    ("t\nR1 a 0 meg7\n", 2, "'meg7' is not a number"),
    ("t\nC1 a 0 1u tc1=abc\n", 2, "C1 tc1"),
    ("t\nR1 a 0 1k tc1=1e300 temp=1e300\n", 2, "not finite"),
    ("t\nR1 a 0 1k tc1=-1 temp=28\n", 2, "zero resistance"),
    ("t\nC1 a 0 1u tc1=-1 temp=29\n", 2, "unrealizable value"),
    ("t\nR1 a 0 1k ac=0\n", 2, "ac resistance must be finite and non-zero"),
    ("t\nC1 a 0 1u ac=1\n", 2, "parameter 'ac' is not supported"),
    ("t\nV1 a 0 dc=abc\n", 2, "V1 dc value"),
    ("t\nV1 a 0 dc=1 ac=1e999\n", 2, "V1 ac: value '1e999' is out of the floating-point range"),
    ("t\nV1 a 0 dc=1 ac={1e308*10}\n", 2, "V1 ac: expression '1e308*10' is not finite"),
    ("t\nV1 a 0 dc=1 foo=2\n", 2, "parameter 'foo' is not supported"),
    ("t\n.subckt s a\nR1 a 0 1\n.ic v(b)\n.ends\nX1 n s\nR2 n 0 1\n", 4, ".ic entries are v(node)=value"),
    ("t\n.subckt s a\nR1 a 0 1\n.ic v(0)=1\n.ends\nX1 n s\nR2 n 0 1\n", 4, "ground"),
    ("t\n.subckt s a\nR1 a 0 1\n.ic v(q)=1\n.ends\nX1 n s\nR2 n 0 1\n", 4, "instance X1 has no node 'x1.q'"),
])
def test_bad_spellings_name_the_line(text, line, what):
    with pytest.raises(SpiceError) as ei:
        parse_spice(text, "bad.cir")
    assert ei.value.lineno == line and what.lower() in str(ei.value).lower(), str(ei.value)


def test_rkm_looking_values_warn_naming_the_line():
    """'4K7' is read as ngspice 39 reads it by default (4k), with a warning naming file and line, on the
    line-by-line and the bulk paths alike; plain values do not warn."""
    import warnings

    from spucircuit.errors import SpiceValueWarning

    rows = "".join(f"R{k} a 0 4K7\n" for k in range(6))
    for text, bulk in (("t\nV1 a 0 1\nR1 a 0 4K7\nC1 a 0 1u2\n.end\n", False), (f"t\n{rows}V1 a 0 1\n.end\n", True)):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            nl = parse_spice(text, "w.cir", bulk=bulk)
        msgs = [str(w.message) for w in got if issubclass(w.category, SpiceValueWarning)]
        assert nl.tables["R"].values[0] == 4000.0
        assert any(m.startswith("w.cir:") and "'4K7' is read as ngspice 39 reads it by default, 4K" in m
                   and "write 4.7K" in m for m in msgs), msgs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_spice("t\nV1 a 0 1\nR1 a 0 4.7k\nC1 a 0 10uF\nR2 a 0 1meg\n.end\n", "ok.cir")
