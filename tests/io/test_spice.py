"""SPICE export / import, the rawfile reader and the SPICE subcommands (no ngspice needed).

Cross-validation against ngspice itself is in test_ngspice.py.
"""
import argparse
import os
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spucircuit as sc
from spucircuit.errors import NetlistError, SpiceError, SPUError
from spucircuit.io.rawfile import RawFileError, read_raw, read_rawfile
from spucircuit.io.spice import format_value, parse_spice, parse_value, read_spice, write_spice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETLISTS = os.path.join(ROOT, "netlists")


def same_netlist(a: sc.Netlist, b: sc.Netlist):
    """Element-by-element equality (names, kinds, node names, values and ics bit for bit)."""
    assert a.node_names == b.node_names
    ea, eb = list(a.elements()), list(b.elements())
    assert len(ea) == len(eb)
    for x, y in zip(ea, eb):
        assert (x.kind, x.name, x.nodes) == (y.kind, y.name, y.nodes)
        assert np.float64(x.value).tobytes() == np.float64(y.value).tobytes(), (x, y)
        assert np.float64(x.ic).tobytes() == np.float64(y.ic).tobytes(), (x, y)


def all_kinds_netlist():
    nl = sc.Netlist("every kind")
    nl.add_resistor("R1", "a", "0", 1e3)
    nl.add_resistor("Rb", "a", "b", 0.1 + 0.2)  # not exactly 0.3: repr must keep every bit
    nl.add_capacitor("C1", "a", "0", 1e-9, ic_v=0.25)
    nl.add_capacitor("Cb", "b", "0", 5e-324, ic_v=-1.7976931348623157e308)
    nl.add_inductor("L1", "b", "0", 1e-3, ic_a=1e-6)
    nl.add_vccs("G1", "a", "0", "b", "0", -2.5e-4)
    nl.add_opamp("U1", "c", "0", "a")  # ideal
    nl.add_opamp("U2", "d", "b", "c", gain=1e5)  # finite gain
    nl.add_resistor("Rc", "c", "a", 2e3)
    nl.add_resistor("Rd", "d", "0", 1e4)
    nl.add_vsource("V1", "e", "0", -1.5)
    nl.add_resistor("Re", "e", "a", 1e4)
    nl.add_isource("I1", "0", "b", 1e-6)
    nl.add_noise_source("N1", "0", "a", 1e-20)
    nl.meta["note"] = {"x": [1.0, 2.5e-300], "s": "text with spaces ; and $ signs"}
    return nl


# ------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("n", [3, 16])
@pytest.mark.parametrize("opts", [
    {},
    {"tran": (1e-8, 1e-6)},
    {"tran": (1e-8, 1e-6, 2.5e-9, 1e-7), "noise": {"seed": 3, "nt": 1e-8}},
    {"tran": (1e-8, 1e-6), "noise": {"seed": 0, "nt": 2e-8, "method": "factor", "temperature_k": 77.0},
     "control": False},
])
def test_write_read_write_is_byte_exact(n, opts):
    A = sc.random_spd(n, cond=10, seed=n)
    b = np.linspace(-1, 1, n)
    mc = sc.integrator_array(A, b, noise_psd=1e-21, x0=np.linspace(0.3, -0.2, n))
    t1 = write_spice(mc, None, **opts)
    nl2 = parse_spice(t1, "t1.cir")
    t2 = write_spice(nl2, None, **opts)
    assert t1 == t2
    same_netlist(mc.netlist, nl2)
    # meta restored: the mapping scales (tau etc.) and the readout come back
    assert nl2.meta["mapping"] == mc.scales()
    assert nl2.meta["mapped"]["readout"]["output_nodes"] == mc.output_nodes
    # the compiled circuits are identical, bit for bit
    s1, s2 = sc.compile_netlist(mc.netlist), sc.compile_netlist(nl2)
    assert np.array_equal(s1.drift.to_dense(), s2.drift.to_dense())
    assert np.array_equal(s1.diffusion, s2.diffusion)
    assert np.array_equal(s1.offset, s2.offset) and np.array_equal(s1.x0, s2.x0)


def test_every_kind_round_trips(tmp_path):
    nl = all_kinds_netlist()
    p = tmp_path / "all.cir"
    t1 = write_spice(nl, p, tran=(1e-9, 1e-7), noise={"seed": 5, "nt": 1e-9})
    assert p.read_text() == t1
    assert "XU1 c 0 a spu_opamp_ideal" in t1 and "XU2 d b c spu_opamp gain=100000.0" in t1
    assert "*spu: N N1 0 a 1e-20" in t1 and "IC=-1.7976931348623157e+308" in t1
    assert "write all.raw" in t1  # control block writes <stem>.raw
    nl2 = read_spice(p)
    same_netlist(nl, nl2)
    assert nl2.meta["note"] == nl.meta["note"]
    assert nl2.meta["spice_file"]["tran"] == {"tstep": 1e-9, "tstop": 1e-7, "tstart": 0.0, "tmax": 1e-9, "uic": True,
                                               "tmax_given": True}
    assert nl2.meta["spice_file"]["noise"] == {"method": "elements", "seed": 5, "nt": 1e-9, "temperature_k": 300.0}
    assert write_spice(nl2, p, tran=(1e-9, 1e-7), noise={"seed": 5, "nt": 1e-9}) == t1


def test_names_without_spice_letter_get_it_prepended():
    nl = sc.Netlist("names")
    nl.add_resistor("load", "a", "0", 1e3)
    nl.add_capacitor("store", "a", "0", 1e-9)
    nl.add_opamp("amp", "b", "0", "a")
    nl.add_resistor("Rf", "b", "a", 1e3)
    t = write_spice(nl, None)
    assert "\nRload a 0 1000.0\n" in t and "\nCstore a 0 1e-09 IC=0.0\n" in t and "\nXamp b 0 a spu_opamp_ideal\n" in t
    nl2 = parse_spice(t)
    assert [e.name for e in nl2.elements()] == ["Rload", "Rf", "Cstore", "amp"]
    assert write_spice(nl2, None) == t
    nl.add_resistor("Rload", "b", "0", 5.0)  # would collide with 'load' once prefixed
    with pytest.raises(SpiceError, match="Rload"):
        write_spice(nl, None)


def test_values_are_repr_exact():
    for x in [0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -123456.789e-17, 1e22]:
        assert parse_value(format_value(x)) == x
        assert format_value(parse_value(format_value(x))) == format_value(x)


@pytest.mark.parametrize("tok,val", [
    ("4.7k", 4700.0), ("4.7K", 4700.0), ("10uF", 1e-5), ("1kOhm", 1000.0), ("1meg", 1e6), ("2.2MEG", 2.2e6),
    ("1M", 1e-3), ("3m", 3e-3), ("2.2n", 2.2e-9), ("100p", 1e-10), ("1f", 1e-15), ("1F", 1e-15),
    ("1t", 1e12), ("5G", 5e9), ("1a", 1e-18), ("2mil", 2 * 25.4e-6), ("1e-3k", 1.0), ("-.5u", -5e-7),
    ("+3", 3.0), ("1.5e+3Ohm", 1500.0), ("7V", 7.0), ("1e-9", 1e-9), ("{2*3k}", 6000.0),
    ("'1/(2*pi*1k)'", 1 / (2 * np.pi * 1000.0)), ("{2^10}", 1024.0), ("{-2**2}", -4.0),
    ("{sqrt(16)+max(1,2)-min(3,4)*abs(-1)}", 3.0), ("{ln(exp(2))}", 2.0), ("{log10(1k)}", 3.0),
    # ngspice 39's numparam takes 1.0 for a missing first argument (xpressn.c): max(x) = max(1, x)
    ("{max(0.25)}", 1.0), ("{max(3)}", 3.0), ("{min(7)}", 1.0), ("{pow(5)}", 1.0),
])
def test_engineering_suffixes_and_expressions(tok, val):
    assert parse_value(tok) == pytest.approx(val, rel=1e-15, abs=0)


@pytest.mark.parametrize("tok", ["abc", "{1/0}", "{sqrt(-1)}", "{foo}", "{2*}", "{(1}", "{1e999}", "k1",
                                 "{nosuch(1)}", "{min(1, 2, 3)}", "{sqrt(1, 2)}",
                                 "1e99999999", "{v(1)}", "{i(v1)}"])
def test_bad_values_raise_value_error(tok):
    with pytest.raises(ValueError):
        parse_value(tok)


HAND = """hand-written RC network with every supported form
* a comment line
.param rval = 2k  cval={1n*2}
.param half = {rval/2}
R1 in mid {rval} ; end-of-line comment
R2 mid 0 1kOhm $ another comment
C1 mid 0 10uF IC=0.25
C2 out 0 {cval}
+ IC = 0.1
.subckt stage a b params: r=1k c=1n
Rs a b {r}
Cs b inner {c}
Rg inner 0 {r*10}
.ends stage
X1 mid out stage r=4.7k
X2 out o2 stage
V1 in 0 DC 1.5 ac 1
I1 0 mid 1mA
Gm o2 0 mid 0 -1m
E1 o3 0 mid o2 1e5
Rneg o3 0 -10k
R3 o3 0 {half}
L1 o2 0 1mH
Inz 0 mid dc 0 trrandom(2 1n 0 1u 0)
.ic v(x2.inner)=0.3 v(o2)=0.5
.tran 1n 1u uic
.options reltol=1e-6
.save v(mid)
.control
run
.endc
.end
R99 this line is after .end and ignored
"""


def test_hand_written_forms():
    nl = parse_spice(HAND, "hand.cir")
    got = {e.name: e for e in nl.elements()}
    assert got["R1"].value == 2000.0 and got["R2"].value == 1000.0
    assert got["C1"].value == 1e-5 and got["C1"].ic == 0.25
    assert got["C2"].value == 2e-9 and got["C2"].ic == 0.1
    # subcircuits flattened with ngspice's hierarchical names, parameters applied
    assert got["R.X1.Rs"].nodes == ("mid", "out") and got["R.X1.Rs"].value == 4700.0
    assert got["R.X1.Rg"].nodes == ("X1.inner", "0") and got["R.X1.Rg"].value == 47000.0
    assert got["R.X2.Rs"].value == 1000.0 and got["C.X2.Cs"].nodes == ("o2", "X2.inner")
    assert got["C.X2.Cs"].ic == 0.5 - 0.3  # from .ic v(o2)=0.5 v(x2.inner)=0.3
    assert got["C.X1.Cs"].ic == 0.0  # node out has no .ic: left at 0
    assert got["V1"].value == 1.5 and got["I1"].value == 1e-3
    assert got["Gm"].kind == "G" and got["Gm"].value == -1e-3
    assert got["E1"].kind == "U" and got["E1"].nodes == ("o3", "mid", "o2") and got["E1"].value == 1e5
    assert got["Rneg"].kind == "G" and got["Rneg"].nodes == ("o3", "0", "o3", "0") and got["Rneg"].value == -1e-4
    assert got["R3"].value == 1000.0
    assert got["L1"].value == 1e-3
    assert got["Inz"].kind == "N" and got["Inz"].value == pytest.approx(2 * 1e-9 * 1e-12, rel=1e-15)
    assert "R99" not in got
    info = nl.meta["spice_file"]
    assert info["tran"]["tstop"] == 1e-6 and info["tran"]["uic"]
    assert info["ic"] == {"x2.inner": 0.3, "o2": 0.5}
    assert nl.title == "hand-written RC network with every supported form"


def test_ic_card_sets_capacitors_without_ic():
    nl = parse_spice("t\nR1 a 0 1k\nC1 a 0 1n\nC2 a b 1n\nR2 b 0 1k\nC3 b 0 1n IC=0.7\n"
                     ".ic v(a)=0.5 v(b)=0.2\n.end\n")
    ic = {e.name: e.ic for e in nl.elements("C")}
    assert ic == {"C1": 0.5, "C2": 0.5 - 0.2, "C3": 0.7}


def test_subckt_nesting_and_globals():
    text = """nested
.global vdd
.subckt inner p q
R1 p q 1k
R2 q vdd 2k
.ends
.subckt outer a b
X1 a m inner
X2 m b inner
.ends outer
Xtop in out outer
Vdd vdd 0 1
Rin in 0 1k
Rout out 0 1k
"""
    nl = parse_spice(text)
    names = [e.name for e in nl.elements("R")]
    assert "R.Xtop.X1.R1" in names and "R.Xtop.X2.R2" in names
    el = {e.name: e for e in nl.elements()}
    assert el["R.Xtop.X1.R1"].nodes == ("in", "Xtop.m")
    assert el["R.Xtop.X2.R2"].nodes == ("out", "vdd")  # global node stays global


def test_reserved_opamp_subckt_must_not_be_redefined():
    text = "t\n.subckt spu_opamp_ideal out inp inn\nE1 out 0 inp inn 10\n.ends\nXU1 a 0 b spu_opamp_ideal\n"
    with pytest.raises(SpiceError, match="reserved") as ei:
        parse_spice(text, "r.cir")
    assert ei.value.lineno == 2


@pytest.mark.parametrize("text,line,what", [
    ("t\nR1 a 0 abc\n", 2, "not a number"),
    ("t\nR1 a 0 1k\nR1 b 0 2k\n", 3, "duplicate element name"),
    ("t\n* c\nD1 a 0 dmod\n", 3, "diode"),
    ("t\nQ1 c b e qmod\n", 2, "bipolar"),
    ("t\nM1 d g s b nmos\n", 2, "MOSFET"),
    ("t\nK1 L1 L2 0.9\n", 2, "inductor 'L1' is not in the netlist"),
    ("t\nF1 a 0 V1 2\n", 2, "voltage source 'V1' is not in the netlist"),
    ("t\nR1 a 0 1\nF1 a 0 VR 2\nVR a 0 1\nK1 L1 R1 0.5\n", 5, "'R1' is not an inductor name"),
    ("t\nL1 a 0 1\nL2 a 0 1\nK1 L1 L2 1.5\n", 4, "0 <= |k| <= 1"),
    ("t\nL1 a 0 1\nLx a 0 1\nK1 L1 Lx 0.5\nLx2 a 0 1\nK2 L1 Lx2 -1.01\n", 6, "0 <= |k| <= 1"),
    ("t\nR1 a 0 1\nH1 a 0 R1 2\n", 3, "must be a voltage source"),
    ("t\nV1 a 0 1\nH1 a 0 V1\n", 3, "too few fields"),
    ("t\nV1 a 0 1\nF1 a 0 V1 2 3\n", 3, "only the linear forms"),
    ("t\nV1 a 0 1\nF1 a 0 V1 2 m=2\n", 3, "parameter 'm' is not supported"),
    ("t\nV1 a 0 1\nR1 a 0 1\nL1 a b 1\nV2 b 0 1\n.subckt s p\nF1 p 0 V2 1\n.ends\nX1 a s\n", 7,
     "voltage source 'V.X1.V2' is not in the netlist"),
    ("t\n.include x.lib\n", 2, "cannot read it"),
    ("t\n.lib x.lib tt\n", 2, "cannot read it"),
    ("t\n.if a\n", 2, "not supported"),
    ("t\n.func f(x) {x}\nR1 a 0 {f(1, 2)}\n", 3, "takes 1 argument(s), got 2"),
    ("t\n.frobnicate\n", 2, "unknown"),
    ("t\nX1 a b foo\n", 2, "unknown subcircuit"),
    ("t\n.subckt s a b\nR1 a b 1\n.ends\nX1 a s\n", 5, "ports"),
    ("t\n.subckt s a b r=1\nR1 a b {r}\n.ends\nX1 a b s q=2\n", 5, "no parameter"),
    ("t\nV1 a 0 pat(1 0 0 1n 1n 1n b101 1)\n", 2, "time-dependent source 'pat' is not supported"),
    ("t\nV1 a 0 am(1 0 1k)\n", 2, "AM takes 4 to 5 values, got 3"),
    ("t\nI1 a 0 trnoise(1 1n 0 0)\n", 2, "time-dependent source 'trnoise' is not supported"),
    ("t\nV1 a 0 pulse(0)\n", 2, "PULSE takes 2 to 8 values, got 1"),
    ("t\nV1 a 0 pulse 0 1 0 0 0 0 0 0 0\n", 2, "PULSE takes 2 to 8 values, got 9"),
    ("t\nV1 a 0 pulse(0 1 -1n)\n", 2, "td must be >= 0"),
    ("t\nV1 a 0 sin(0 1 -1k)\n", 2, "freq must be >= 0"),
    ("t\nV1 a 0 sin(0 1 1k td=1)\n", 2, "positional values only"),
    ("t\nV1 a 0 exp(0)\n", 2, "EXP takes 2 to 6"),
    ("t\nV1 a 0 exp(0 1 0 -1)\n", 2, "tau1 must be >= 0"),
    ("t\nV1 a 0 sffm(0 1 1k 2 1k 0)\n", 2, "SFFM takes 2 to 5"),
    ("t\nV1 a 0 pwl(0 1 1)\n", 2, "time-value pairs"),
    ("t\nV1 a 0 pwl(1 1 0 2)\n", 2, "must not decrease"),
    ("t\nV1 a 0 pwl(0 1 1 2 r=5)\n", 2, "r=5.0 must be one of its times before the last (1.0)"),
    ("t\nV1 a 0 pwl(0 1 1 2) r=0.5\n", 2, "must be one of its times"),
    ("t\nV1 a 0 pulse(0 1) td=1\n", 2, "r= and td= belong to PWL"),
    ("t\nV1 a 0 pwl(0 1 1 2 q=0)\n", 2, "unknown PWL parameter"),
    ("t\nV1 a 0 pwl\n", 2, "time-value pairs"),
    ("t\nV1 a 0 pulse(0 1) sin(0 1)\n", 2, "second time-dependent"),
    ("t\nV1 a 0 pulse(0 1)x\n", 2, "bad PULSE field"),
    ("t\nV1 a 0 pulse(0 {1/0})\n", 2, "division by zero"),
    ("t\nI1 a 0 dc 0 trrandom(1 1n 0 1 0)\n", 2, "Gaussian"),
    ("t\nR1 a 0 {1/0}\n", 2, "division by zero"),
    ("t\nR1 a 0 0\n", 2, "zero resistance"),
    ("t\nC1 a 0 -1n\n", 2, "unrealizable"),
    ("t\nG1 a 0 b 0 0\n", 2, "non-zero"),
    ("t\nR1 a 0 1k wl=1u\n", 2, "parameter 'wl' is not supported"),
    ("t\nR1 a 0\n", 2, "missing value"),
    ("t\nR1 a\n", 2, "too few"),
    ("t\n+ R1 a 0 1\n", 2, "continuation"),
    ("t\nE1 a b c d 1 2\n", 2, "only the linear forms"),
    ("t\nE1 a b c d poly(1) 0 1\n", 2, "only the linear forms"),
    ("t\n.subckt s a\nR1 a 0 1\n", 2, "without .ends"),
    ("t\n.ends\n", 2, "without .subckt"),
    ("t\n.control\nrun\n", 2, "without .endc"),
    ("t\nR1 a 0 {1+}\n", 2, "cannot evaluate"),
    ("t\nR1 a(b) 0 1\n", 2, "invalid node name"),
    ("t\nR1 a 0 {(1}\n", 2, "unbalanced"),
    ("t\nR1 a 0 1k\n.param x=\n", 3, "name=value"),
    ("t\n*spu: bogus\n", 2, "annotation"),
    ("t\n*spu: meta {\"a\":\n", 2, "JSON"),
    ("t\n*spu: noise-begin seed=1\nI1 a 0 1\n", 2, "noise-end"),
    ("t\n.ic v(a)\n", 2, ".ic"),
    ("t\nR1 a 0 1\n.tran 1n\n", 3, ".tran"),
    ("t\nR1 a 0 1\n.tran 1n 0\n", 3, ".tran"),
    ("", 1, "empty"),
    # RF ports and .sp (io.spice.ports, io.spice.analyses)
    ("t\nV1 a 0 portnum 1\nV2 b 0 portnum 1\nR1 a b 1\n", 3, "duplicate port number 1"),
    ("t\nV1 a 0 portnum 1\nV2 b 0 portnum 3\nR1 a b 1\n", 3, "port numbers must run 1..2"),
    ("t\nV1 a 0 portnum 1.5\n", 2, "portnum must be an integer >= 1"),
    ("t\nV1 a 0 portnum 0\n", 2, "portnum must be an integer >= 1"),
    ("t\nV1 a 0 portnum=1 z0=-50\n", 2, "z0 must be > 0"),
    ("t\nV1 a 0 portnum 1 z0 0\n", 2, "z0 must be > 0"),
    ("t\nV1 a 0 portnum 1 pwr -1\n", 2, "pwr must be >= 0"),
    ("t\nV1 a 0 portnum 1 freq -1\n", 2, "freq must be >= 0"),
    ("t\nV1 a 0 portnum 1 z0 {1/0}\n", 2, "division by zero"),
    ("t\nV1 a 0 portnum 1 z0 1e999\n", 2, "z0"),
    ("t\nV1 a 0 portnum 1 portnum 2\n", 2, "given twice"),
    ("t\nV1 a 0 portnum\n", 2, "'portnum' without a value"),
    ("t\nV1 a 0 z0 50\n", 2, "give portnum"),
    ("t\nV1 a 0 dc 1 pwr 1m\n", 2, "give portnum"),
    ("t\nI1 a 0 portnum 1\n", 2, "voltage source"),
    ("t\nR9 V1#res 0 1\nV1 a 0 portnum 1\nV2 b 0 portnum 2\nR1 a b 1\n", 3, "internal node"),
    ("t\nV1 a 0 portnum 1\n.sp lin 3 1 2\n.sp lin 3 1 2\n", 4, "a second .sp card"),
    ("t\nV1 a 0 portnum 1\n.sp lin 3 1\n", 3, ".sp needs"),
    ("t\nV1 a 0 portnum 1\n.sp foo 3 1 2\n", 3, "unknown sweep"),
    ("t\nV1 a 0 portnum 1\n.sp dec 3 0 2\n", 3, "0 < fstart <= fstop"),
    ("t\nV1 a 0 portnum 1\n.sp lin 0 1 2\n", 3, "number of points"),
    ("t\nV1 a 0 portnum 1\n.sp lin 3 1 2 2\n", 3, "donoise must be 0 or 1"),
    ("t\nV1 a 0 portnum 1\n.sp lin 3 1 2 1 1\n", 3, ".sp needs"),
])
def test_errors_name_file_line_and_problem(text, line, what):
    with pytest.raises(SpiceError) as ei:
        parse_spice(text, "bad.cir")
    e = ei.value
    assert e.filename == "bad.cir" and e.lineno == line, str(e)
    assert what.lower() in str(e).lower(), str(e)
    assert str(e).startswith(f"bad.cir:{line}: ")
    assert isinstance(e, NetlistError) and isinstance(e, SPUError)


def test_read_spice_file_errors(tmp_path):
    with pytest.raises(SpiceError, match="cannot read"):
        read_spice(tmp_path / "missing.cir")
    p = tmp_path / "bin.cir"
    p.write_bytes(b"title\nR1 a 0 1\n\xff\xfe\x00\n")
    with pytest.raises(SpiceError) as ei:
        read_spice(p)
    assert ei.value.lineno == 3


def test_writer_rejects_what_spice_cannot_hold():
    nl = sc.Netlist("bad names")
    nl.add_resistor("R1", "a(1)", "0", 1.0)
    nl.add_capacitor("C1", "a(1)", "0", 1e-9)
    with pytest.raises(SpiceError, match="node 'a\\(1\\)'"):
        write_spice(nl, None)
    ok = sc.Netlist("ok")
    ok.add_resistor("R1", "a", "0", 1.0)
    ok.add_capacitor("C1", "a", "0", 1e-9)
    for kw, msg in [({"noise": {"seed": 1}}, "needs a .tran"),
                    ({"tran": (0.0, 1e-6)}, "tstep > 0"),
                    ({"tran": (1e-9,)}, "tstep, tstop"),
                    ({"tran": (1e-9, 1e-6), "noise": {"seed": -1}}, "seed"),
                    ({"tran": (1e-9, 1e-6), "noise": {"seed": 1, "nt": 0}}, "nt"),
                    ({"tran": (1e-9, 1e-6), "noise": {"seed": 1, "method": "magic"}}, "method"),
                    ({"tran": (1e-9, 1e-6), "noise": {"seed": 1, "colour": "pink"}}, "unknown noise option"),
                    ({"tran": (1e-9, 1e-6), "rawfile": "a b.raw"}, "rawfile"),
                    ({"tran": (1e-9, 1e-6), "save": ["nosuch"]}, "cannot save")]:
        with pytest.raises(SpiceError, match=msg):
            write_spice(ok, None, **kw)
    with pytest.raises(SpiceError):
        write_spice("not a netlist", None)


def test_noise_block_realises_the_compiled_covariance():
    """Both noise methods inject exactly the compiler's node-current covariance L_S:
    rebuild it from the written sources (sigma^2 NT per source) and compare."""
    nl = all_kinds_netlist()
    T, nt = 300.0, 1e-9
    for method in ("elements", "factor"):
        text = write_spice(nl, None, tran=(1e-10, 1e-8), noise={"seed": 1, "nt": nt, "method": method,
                                                                 "temperature_k": T})
        N = nl.n_nodes
        idx = {nm.lower(): i for i, nm in enumerate(nl.node_names)}
        LS = np.zeros((N + 1, N + 1))
        block = text.split("*spu: noise-begin")[1].split("*spu: noise-end")[0].splitlines()
        if method == "elements":
            for ln in block:
                if ln.startswith("INZ_"):
                    f = ln.split()
                    sigma = float(f[-2])
                    a = np.zeros(N + 1)
                    a[idx[f[1].lower()]] += 1
                    a[idx[f[2].lower()]] -= 1
                    LS += sigma**2 * nt * np.outer(a, a)
        else:
            W = {}
            for ln in block:
                if ln.startswith("GNZ_"):
                    f = ln.split()
                    k = int(f[3].split("_")[1])
                    W.setdefault(k, np.zeros(N + 1))[idx[f[2].lower()]] += float(f[5])
            for col in W.values():
                LS += nt * np.outer(col, col)
        # reference: (S/2) a a^T summed over resistors (S = 4kT/R) and N sources
        ref = np.zeros((N + 1, N + 1))
        for e in nl.elements():
            if e.kind in "RN":
                S = 4 * 1.380649e-23 * T / e.value if e.kind == "R" else e.value
                a = np.zeros(N + 1)
                a[idx[e.nodes[0].lower()]] += 1
                a[idx[e.nodes[1].lower()]] -= 1
                ref += 0.5 * S * np.outer(a, a)
        assert np.allclose(LS[1:, 1:], ref[1:, 1:], rtol=1e-12, atol=1e-12 * np.max(ref)), method


# ------------------------------------------------------------------------ hypothesis
_NAME_CH = string.ascii_letters + string.digits + "_.:#[]<>!/|+-"
node_names = st.text(alphabet=_NAME_CH, min_size=1, max_size=6).filter(
    lambda s: s[0] in string.ascii_letters + string.digits + "_" and s.lower() not in ("0", "gnd"))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
positive = st.floats(min_value=5e-324, max_value=1.7976931348623157e308, allow_nan=False)


@st.composite
def random_netlists(draw):
    nodes = ["0"] + draw(st.lists(node_names, min_size=1, max_size=6, unique_by=str.lower))
    nl = sc.Netlist(draw(st.text(max_size=30)))
    used = set()
    for k in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from("RCLGUVIN"))
        suffix = draw(st.text(alphabet=_NAME_CH, min_size=0, max_size=4))
        if kind in "RCLGVI":
            name = kind + suffix
        else:
            name = draw(st.sampled_from(["", "u", "U", "N", "n", "X", "amp"])) + str(k) + suffix
        if name.lower() in used:
            continue
        used.add(name.lower())
        nterm = {"G": 4, "U": 3}.get(kind, 2)
        nd = [draw(st.sampled_from(nodes)) for _ in range(nterm)]
        if kind in "RCL":
            v = draw(positive)
        elif kind == "G":
            v = draw(finite.filter(lambda x: x != 0))
        elif kind == "U":
            v = draw(st.one_of(st.just(float("inf")), positive))
        elif kind == "N":
            v = draw(st.floats(min_value=0, max_value=1e300))
        else:
            v = draw(finite)
        ic = draw(finite) if kind in "CL" else 0.0
        nl.add_elements(kind, [name], [nd], [v], [ic])
    if draw(st.booleans()):
        nl.meta["mapping"] = {"tau_s": draw(positive), "note": draw(st.text(max_size=20))}
    return nl


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_netlists(), st.booleans())
def test_round_trip_random_netlists(nl, with_tran):
    kw = {"tran": (1e-9, 1e-6)} if with_tran else {}
    t1 = write_spice(nl, None, **kw)
    nl2 = parse_spice(t1, "rt.cir")
    # every node of the original is kept (also unused ones), in order
    same_netlist(nl, nl2)
    assert write_spice(nl2, None, **kw) == t1


WAVES = """time-dependent sources
V1 in 0 PULSE(0 1 1u 0.1u 0.2u 2u 5u 3)
V2 b 0 dc 0.5 sin 0 1 200k 1u 1e4 0
I1 0 c pwl(0 0 1u 1m 1u 2m 3u -1m) r=1u td=0.5u
I2 0 c EXP(0 1m 1u 0.3u) trrandom(2 1n 0 1e-3 0)
V3 d 0 SFFM(0, 1, 1meg, 2, 100k)
V4 e 0 AM(1 0.5 10k 1meg 1u)
R1 in b 1k
R2 b c 1k
R3 d c 2k
R5 e c 2k
C1 c 0 1n
.tran 10n 20u
.end
"""


def test_waveforms_read_and_round_trip():
    from spucircuit.circuit.waveforms import Am, Exp, Pulse, Pwl, Sffm, Sin
    from spucircuit.io.spice.reader import parse_once

    nl = parse_once(WAVES, "w.cir", bulk=False)
    assert nl.waveforms == {"V1": Pulse(0, 1, 1e-6, 1e-7, 2e-7, 2e-6, 5e-6, 3), "V2": Sin(0, 1, 2e5, 1e-6, 1e4, 0),
                            "I1": Pwl((0, 1e-6, 1e-6, 3e-6), (0, 1e-3, 2e-3, -1e-3), 0.5e-6, 1e-6), "I2": Exp(0, 1e-3, 1e-6, 3e-7),
                            "V3": Sffm(0, 1, 1e6, 2, 1e5), "V4": Am(1, 0.5, 1e4, 1e6, 1e-6)}
    # DC levels: a given dc value, else the waveform at t = 0 (SPICE's operating point)
    assert list(nl.tables["V"].values) == [0.0, 0.5, 0.0, 0.0] and list(nl.tables["I"].values) == [0.0, 0.0]
    bulk = parse_once(WAVES, "w.cir", bulk=True)  # the bulk reader hands these lines to the line reader
    assert bulk.waveforms == nl.waveforms
    t1 = write_spice(nl, None)
    nl2 = parse_spice(t1, "again.cir")
    assert nl2.waveforms == nl.waveforms and write_spice(nl2, None) == t1


def _seed_texts():
    texts = [HAND, WAVES, write_spice(all_kinds_netlist(), None, tran=(1e-9, 1e-7), noise={"seed": 1, "nt": 1e-9}),
             NEW_CARDS, PORT_CARDS, write_spice(parse_spice(PORT_CARDS, "ports.cir"), None)]
    for f in sorted(os.listdir(NETLISTS)):
        if f.endswith(".cir"):
            with open(os.path.join(NETLISTS, f)) as fh:
                texts.append(fh.read()[:6000])
    return texts


# issue 13b's cards: E F H K, key=value spellings, tc1/tc2, .ic inside a subcircuit, .op/.nodeset; numbers as
# ngspice 39 reads them (2meg5, 4F7, 56Ohms), DISTOF1/DISTOF2, .func
NEW_CARDS = """new cards
.subckt cell in out
R1 in out R=4K7 tc1=0.01 tc2=1e-4
C1 out 0 C=1u temp=40
Vs out mid dc=0
R2 mid 0 2R2 ac=3k
F1 0 mid Vs 2
H1 mid 0 Vs 1k
.ic v(out)=0.5
.ends
V1 a 0 dc=1 ac=1
V2 b 0 DC 2 AC 1 90
I1 0 b dc=1m acmag=2 acphase=30
X1 a c cell
E1 c d a 0 3
R3 d 0 1k
L1 b e L=1m IC=1m
L2 e 0 1M5 dtemp=5
K1 L1 L2 0.5
R4 e 0 47Ohms
.func twice(x) {2*x}
.func nest(a, b) '1 + twice(a)*max(b)'
R6 f 0 {nest(twice(2), 3)*1k}
V3 f 0 DC 0 AC 1 SIN 0 1 1K 0 0 DISTOF1 0 DISTOF2 1 90
R5 f 0 2meg5
C5 f 0 4F7
I5 0 f 1e-3wwww distof1
E9 e9 0 POLY(1) a 0 0.5 2
G9 0 e9 poly (1) c 0 1m
F9 0 e9 POLY(1) V1 1m 3
E8 e8 0 POLY(2) a 0 c 0 0.1 1 -2
H8 h8 0 POLY(2) V1 V2 0 1k 2k 0 0 0
R8 h8 e8 1k
R9 e9 0 1k
R10 e 0 1k rmod l=2u w=1u m=2 scale=1.5 ac=2k tc=0.01 noisy=1 dtemp=3
R11 a e rgeo l=20u w=2u
R12 a 0 rmod tce=1m
R13 a c resistance=3k noise=0 bv_max=10
.model rmod R(tnom=25 tc1=1m tc2=1u kf=1e-25 af=1.2 ef=1.1 lf=1 wf=1 dlr=0.1u dw=0.1u r=2k)
.model rgeo r rsh=100 narrow=0.5u short=1u defw=5u l=8u tc1r=1m tc2r=0 res=5
.temp 40
.nodeset v(c)=1
.op
.ic v(d)=0.1
.tran 1u 1m uic
.dc V1 0 1 0.25 R3 1k 2k 500
.sens v(c) ac dec 2 1k 1meg
.tf v(c) V1
.pz a 0 c 0 vol pz
.end
"""
# RF ports and .sp (ngspice's RFSPICE): the port parameters in both spellings, a port in a subcircuit
PORT_CARDS = """rf ports
.subckt att p q
R1 p q 10
Vp q 0 dc 0 portnum 3 z0=75
.ends
V1 in 0 dc 0 ac 1 portnum 1 z0 100 pwr 0.001 freq 2.3e9
R1 in x 100
C1 x 0 1e-9
R2 x out 10 noisy=0
V2 out 0 dc 0 portnum=2 phase=30
X1 x y att
R3 y 0 1k
.sp lin 5 1e8 1e9 1
.ac dec 2 1e6 1e9
.end
"""
SEEDS = _seed_texts()
_MUT_ALPHABET = string.ascii_letters + string.digits + " \t\n{}()=+-*/^$;.,'\"_:kKmMuU"


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "dup_line", "swap_lines", "replace_token"]))
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        if op == "delete":
            j = draw(st.integers(i, min(len(text), i + 20)))
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(alphabet=_MUT_ALPHABET, min_size=1, max_size=8)) + text[i:]
        else:
            lines = text.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            if op == "dup_line":
                lines.insert(b, lines[a])
            elif op == "swap_lines":
                lines[a], lines[b] = lines[b], lines[a]
            else:
                toks = lines[a].split(" ")
                k = draw(st.integers(0, len(toks) - 1))
                toks[k] = draw(st.sampled_from(["", "{", "}", "0", "-1", "1e999", "x", "params:", "IC=", "=",
                                                "{a*}", "dc", "spu_opamp", "trrandom(2 1n 0 1 0)", "+", ".end",
                                                "4K7", "1M5", "R47", "4meg7", "2meg5", "4F7", "1d3", "distof1",
                                                "DISTOF2 1 90", "{twice(1)}", "{nest(1)}", "{v(a)}", ".func",
                                                "twice(x)", "{1 ? 2 : 3}", "{2^3^2}", "Vs", "V1", "L1", "L2", "K1 L1",
                                                "tc1=1", "dc=1", "ac=1", "C=1u", "R=1k", "temp=1e9", ".ic",
                                                "v(out)=1", "F1", "H1", "E1", "1.5", "-0.99", "poly(1)", "POLY(2)", "poly(3)",
                                                "pulse(0 1)", "PULSE", "sin(0 1 1e400)", "pwl(0 1 0 2)", "pwl(",
                                                "exp(0 1 -1)", "td=1", "r=0", "sffm", "(0 1)", "am(1 2)",
                                                "AM(1 0 1k 1meg)", ".dc", ".sens", "TEMP", "i(V1)",
                                                "portnum", "portnum 2", "portnum=4", "z0",
                                                "z0 0", "z0=50", "pwr 1", "freq", "phase=9", ".sp",
                                                ".sp lin 3 1 2", ".sp dec 1 1 1 1", "V1#res", "V2#z0", ".include", ".inc nofile.inc",
                                                "rmod", "rgeo", "l=1u", "w=0", "w=1u",
                                                "rsh=1", "narrow=1u", "scale=0", "kf=1", ".model", "m=0",
                                                "R(", "tce=1e9", "r=1m", ".pz", "vol", "cur", "pol", "zer",
                                                "pz", ".pz a 0 c 0 cur zer", ".pz 0 0 a a vol pz"]))
                lines[a] = " ".join(toks)
            text = "\n".join(lines)
    return text


def test_fuzz_seeds_are_read():
    parse_spice(NEW_CARDS, "new.cir")  # the mutations start from a netlist the reader takes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_netlists_raise_only_spice_error(text):
    try:
        nl = parse_spice(text, "fuzz.cir")
    except SpiceError:
        return
    # whatever the reader accepts, the writer can write, and it then round-trips exactly
    t1 = write_spice(nl, None)
    assert write_spice(parse_spice(t1, "again.cir"), None) == t1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text_raises_only_spice_error(text):
    try:
        parse_spice(text, "random.cir")
    except SpiceError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_file(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fz") / "x.cir"
    p.write_bytes(data)
    try:
        read_spice(p)
    except SpiceError:
        pass


# ------------------------------------------------------------------------ rawfile
def _raw_bytes(names, data, title="t", plot="Transient Analysis", binary=True, points=None, cplx=False):
    data = np.asarray(data)
    head = [f"Title: {title}", "Date: today", f"Plotname: {plot}", f"Flags: {'complex' if cplx else 'real'}",
            f"No. Variables: {len(names)}", f"No. Points: {data.shape[0] if points is None else points}",
            "Variables:"]
    head += [f"\t{i}\t{nm}\t{'time' if i == 0 else 'voltage'}" for i, nm in enumerate(names)]
    if binary:
        head.append("Binary:")
        return ("\n".join(head) + "\n").encode() + data.astype("<c16" if cplx else "<f8").tobytes()
    head.append("Values:")
    body = []
    for k, row in enumerate(data):
        body.append(f" {k}\t{float(row[0])!r}")
        body += [f"\t{float(v)!r}" for v in row[1:]]
    return ("\n".join(head + body) + "\n").encode()


def test_rawfile_binary_ascii_and_multiple_plots(tmp_path):
    rng = np.random.default_rng(0)
    d1 = np.column_stack([np.arange(5) * 1e-9, rng.standard_normal((5, 2))])
    d2 = np.column_stack([np.arange(3) * 1e-9, rng.standard_normal((3, 2))])
    p = tmp_path / "a.raw"
    p.write_bytes(_raw_bytes(["time", "v(x0)", "v(s0)"], d1) + _raw_bytes(["time", "v(a)", "v(b)"], d2, plot="Lin"))
    plots = read_rawfile(p)
    assert len(plots) == 2 and np.array_equal(plots[0].data, d1) and np.array_equal(plots[1].data, d2)
    last = read_raw(p)
    assert last.plotname == "Lin" and np.array_equal(last["V(A)"], d2[:, 1])
    assert np.array_equal(read_raw(p, "transient").node_voltage("X0"), d1[:, 1])
    assert np.array_equal(read_raw(p, 0).time, d1[:, 0])
    q = tmp_path / "b.raw"
    q.write_bytes(_raw_bytes(["time", "v(x0)", "v(s0)"], d1, binary=False))
    assert np.array_equal(read_raw(q).data, d1)
    c = tmp_path / "c.raw"
    z = d1 + 1j * rng.standard_normal(d1.shape)
    c.write_bytes(_raw_bytes(["frequency", "v(x0)", "v(s0)"], z, cplx=True))
    assert np.array_equal(read_raw(c).data, z)


def test_rawfile_errors(tmp_path):
    d = np.zeros((4, 2))
    p = tmp_path / "trunc.raw"
    p.write_bytes(_raw_bytes(["time", "v(a)"], d)[:-8])
    with pytest.raises(RawFileError, match="truncated"):
        read_raw(p)
    p.write_bytes(b"garbage without a header")
    with pytest.raises(RawFileError):
        read_raw(p)
    p.write_bytes(b"")
    with pytest.raises(RawFileError, match="empty"):
        read_raw(p)
    p.write_bytes(_raw_bytes(["time", "v(a)"], d))
    with pytest.raises(RawFileError, match="no variable"):
        read_raw(p)["v(zz)"]
    with pytest.raises(RawFileError, match="no plot"):
        read_raw(p, 3)
    with pytest.raises(RawFileError, match="cannot read"):
        read_raw(tmp_path / "none.raw")
    assert isinstance(RawFileError("x"), SPUError)


# ------------------------------------------------------------------------ CLI
def _cli(argv):
    """Mini main with the SPICE subcommands registered on a fresh parser (as cli.py does)."""
    from spucircuit.cli.spice import register

    p = argparse.ArgumentParser(prog="spu")
    sub = p.add_subparsers(dest="cmd")
    sub.required = True
    register(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except SPUError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("cmd", ["export", "simulate", "check", "graph"])
def test_cli_help(cmd, capsys):
    with pytest.raises(SystemExit) as ei:
        _cli([cmd, "--help"])
    assert ei.value.code == 0
    assert cmd in capsys.readouterr().out


def test_cli_export_check_simulate(tmp_path, capsys):
    A = sc.random_spd(5, cond=8, seed=3)
    b = np.linspace(1, -1, 5)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", b)
    net = str(tmp_path / "net.cir")
    assert _cli(["export", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"),
                 "--arch", "integrator", "--time", "30tau", "-o", net]) == 0
    text = open(net).read()
    assert ".tran " in text and ".save v(" in text and ".control" not in text
    assert _cli(["check", net]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "stable" in out and "tau" in out
    npz = str(tmp_path / "s.npz")
    assert _cli(["simulate", net, "--noise", "off", "--out", npz]) == 0
    d = np.load(npz)
    nodes = list(d["nodes"])
    assert d["v"].shape == (len(d["t"]), len(nodes)) and d["t"][0] == 0.0
    # noise off, 30 tau: x relaxes towards A^-1 b (deterministic twin), read back through the mapping
    mc = sc.integrator_array(A, b)
    xs = np.linalg.solve(A, b)
    x_end = d["v"][-1, [nodes.index(f"x{i}") for i in range(5)]] / mc.v_unit_v
    lam = np.linalg.eigvalsh(A)[0]
    assert np.linalg.norm(x_end - xs) <= 1.01 * np.exp(-lam * 30) * np.linalg.norm(xs) + 1e-9
    # time in tau works because the netlist carries its mapping; the noisy run differs from the quiet one
    assert _cli(["simulate", net, "--time", "2tau", "--seed", "1", "--out", npz]) == 0
    assert np.load(npz)["t"][-1] == pytest.approx(2 * mc.tau_s, rel=1e-2)


def test_cli_export_capacitive_and_graph(tmp_path):
    M = np.array([[2.0, -0.5, -0.3], [-0.5, 2.0, -0.4], [-0.3, -0.4, 2.0]])
    np.save(tmp_path / "M.npy", M)
    net = str(tmp_path / "cap.cir")
    assert _cli(["export", "--matrix", str(tmp_path / "M.npy"), "--arch", "capacitive", "--time", "5tau",
                 "--noise", "--seed", "4", "-o", net]) == 0
    text = open(net).read()
    assert ".options seed=4" in text and "trrandom(2 " in text and "capacitive_rlc_array" in text
    assert _cli(["check", net]) == 0
    png, gml = str(tmp_path / "g.png"), str(tmp_path / "g.graphml")
    assert _cli(["graph", net, "-o", png]) == 0 and open(png, "rb").read(4) == b"\x89PNG"
    assert _cli(["graph", net, "-o", gml]) == 0 and "graphml" in open(gml).read(400)
    assert _cli(["graph", net, "-o", str(tmp_path / "g.svg")]).startswith("error:")


def test_cli_errors_are_one_line_spu_errors(tmp_path):
    bad = tmp_path / "bad.cir"
    bad.write_text("t\nR1 a 0 1k\nQ1 c b e q\n")
    r = _cli(["check", str(bad)])
    assert r.startswith("error:") and "bad.cir:3:" in r and "\n" not in r
    assert _cli(["simulate", str(tmp_path / "none.cir"), "--out", str(tmp_path / "o.npz")]).startswith("error:")
    ok = tmp_path / "rc.cir"
    ok.write_text("rc\nR1 a 0 1k\nC1 a 0 1n IC=1\n")
    r = _cli(["simulate", str(ok), "--out", str(tmp_path / "o.npz")])
    assert r.startswith("error:") and "--time" in r
    r = _cli(["simulate", str(ok), "--time", "5tau", "--out", str(tmp_path / "o.npz")])
    assert r.startswith("error:") and "tau" in r
    assert _cli(["simulate", str(ok), "--time", "5us", "--out", str(tmp_path / "o.npz")]) == 0
    dangling = tmp_path / "d.cir"
    dangling.write_text("d\nR1 a 0 1k\nC1 a b 1n\n")
    assert "dangling" in _cli(["check", str(dangling)])
    np.save(tmp_path / "A.npy", np.array([[1.0, 2.0], [2.0, 1.0]]))
    r = _cli(["export", "--matrix", str(tmp_path / "A.npy"), "-o", str(tmp_path / "x.cir")])
    assert r.startswith("error:") and "positive definite" in r
    r = _cli(["export", "--matrix", str(tmp_path / "nope.npy"), "-o", str(tmp_path / "x.cir")])
    assert r.startswith("error:") and "not found" in r
    np.save(tmp_path / "I.npy", np.eye(2))
    r = _cli(["export", "--matrix", str(tmp_path / "I.npy"), "--noise", "-o", str(tmp_path / "x.cir")])
    assert r.startswith("error:") and "--time" in r


def test_shipped_netlists_are_current(tmp_path):
    """netlists/*.cir are exactly what examples/make_netlists.py writes (and they read back)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_netlists", os.path.join(ROOT, "examples", "make_netlists.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    written = mod.main(["--out", str(tmp_path)])
    assert len(written) == 4
    for w in written:
        shipped = os.path.join(NETLISTS, os.path.basename(w))
        with open(w) as a, open(shipped) as b:
            assert _same_up_to_roundoff(a.read(), b.read()), f"{shipped} is stale: rerun examples/make_netlists.py"
        nl = read_spice(shipped)
        nl.validate()
        assert write_spice(nl, None, **_tran_of(nl)) .startswith(nl.title)


def _same_up_to_roundoff(new: str, old: str, rtol: float = 1e-9) -> bool:
    """Same text, except that numbers may differ by round-off (values derived from an
    eigendecomposition move in their last digits with the BLAS kernel and library versions). The
    wrapped '*spu: meta+' continuation lines are joined first (a longer number moves the wrap)."""
    import re

    num = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
    a, b = (num.split(t.replace("\n*spu: meta+ ", "")) for t in (new, old))
    x, y = (num.findall(t.replace("\n*spu: meta+ ", "")) for t in (new, old))
    if a != b or len(x) != len(y):
        return False
    return all(abs(float(u) - float(v)) <= rtol * max(abs(float(u)), abs(float(v))) for u, v in zip(x, y))


def test_roundoff_comparison_still_sees_a_changed_netlist():
    old = "R1 a 0 10080.168734937004\n.tran 1e-8 3.3576871453744885e-05 uic\n"
    assert _same_up_to_roundoff("R1 a 0 10080.16873493698\n.tran 1e-8 3.35768714537449e-05 uic\n", old)
    assert not _same_up_to_roundoff("R1 a 0 10080.17\n.tran 1e-8 3.3576871453744885e-05 uic\n", old)
    assert not _same_up_to_roundoff("R1 b 0 10080.168734937004\n.tran 1e-8 3.3576871453744885e-05 uic\n", old)
    assert not _same_up_to_roundoff(old + "C1 a 0 1e-9\n", old)


def _tran_of(nl):
    tr = nl.meta["spice_file"]["tran"]
    return {"tran": (tr["tstep"], tr["tstop"], tr["tmax"], tr["tstart"]), "control": False}


def test_run_ngspice_without_ngspice_is_a_clear_spu_error(monkeypatch):
    from spucircuit.io.ngspice import NgspiceError, ngspice_available, run_ngspice

    nl = sc.Netlist("rc")
    nl.add_resistor("R1", "a", "0", 1e3)
    nl.add_capacitor("C1", "a", "0", 1e-9)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SPU_NGSPICE", raising=False)
    assert not ngspice_available()
    with pytest.raises(NgspiceError, match="ngspice not found.*apt-get install ngspice") as ei:
        run_ngspice(nl, tran=(1e-9, 1e-6))
    assert isinstance(ei.value, SPUError)
