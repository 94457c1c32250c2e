"""The bulk SPICE reader (``parse_spice(..., bulk=True)``, what read_spice / parse_spice use) gives
exactly what the line-by-line reader (``bulk=False``) gives: the same Netlist (names, node names
and order, values and initial conditions bit for bit, meta) or the same error, naming the same line.
"""
import random
import re

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.device.spu import SPU
from spucircuit.errors import SpiceError
from spucircuit.io.spice import bulk_reader, parse_spice, read_spice, write_spice
from spucircuit.io.spice.reader import parse_once


def canon(nl):
    """Everything a parsed Netlist holds, comparable with == (floats as bytes)."""
    out = [nl.title, list(nl.node_names), repr(nl.meta)]
    for kind, t in nl.tables.items():
        out.append((kind, list(t.names), t.nodes.tolist(), t.values.tobytes(), t.ic.tobytes()))
    return out


def outcome(text, fast, filename="f.cir"):
    try:
        nl = parse_spice(text, filename, bulk=fast)
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed
        return ("error", type(exc).__name__, str(exc))
    return ("ok", canon(nl))


def bulk_only(text, filename="f.cir"):
    """The bulk path alone (no fallback to the line-by-line reader)."""
    return canon(parse_once(text, filename, bulk=True))


def exported(n, noise=True, control=False, **kw):
    mc = sc.integrator_array(sc.random_spd(n, cond=20, seed=0), np.ones(n), **kw)
    return write_spice(mc, None, tran=(1e-8, 1e-6, 1e-8), control=control, save=mc.output_nodes,
                       noise={"seed": 1, "nt": 1e-8, "temperature_k": 300.0} if noise else None)


def assert_same(text):
    slow = outcome(text, False)
    assert outcome(text, True) == slow
    return slow


@pytest.fixture
def count_line_reads(monkeypatch):
    """Number of lines the bulk reader hands to the line-by-line element reader."""
    calls = []
    orig = bulk_reader.element

    def counted(ln, *a, **k):
        calls.append(ln.lineno)
        return orig(ln, *a, **k)

    monkeypatch.setattr(bulk_reader, "element", counted)
    return calls


# ------------------------------------------------------------------ exported netlists
@pytest.mark.parametrize("n", [3, 16])
@pytest.mark.parametrize("noise", [False, True])
@pytest.mark.parametrize("kw", [{}, {"noise_psd": 1e-22}, {"opamp_gain": 1e5}, {"prune": True}])
def test_exported_integrators_read_in_bulk_exactly(n, noise, kw, count_line_reads):
    text = exported(n, noise=noise, **kw)
    fast = bulk_only(text)
    top_level = len(count_line_reads)
    assert fast == outcome(text, False)[1]
    assert canon(parse_spice(text, "f.cir")) == fast
    if "opamp_gain" not in kw:  # finite-gain X lines (gain=) are read line by line
        assert top_level == 0  # every element line was read in bulk


def test_read_spice_file_and_control_block(tmp_path):
    text = exported(8, control=True)
    p = tmp_path / "a.cir"
    p.write_text(text)
    assert canon(read_spice(p)) == outcome(text, False, str(p))[1] == bulk_only(text, str(p))


def test_benchmark_sized_netlist_is_read_in_bulk(count_line_reads):
    text = exported(32)
    fast = bulk_only(text)
    assert not count_line_reads
    assert fast == outcome(text, False)[1]


# ------------------------------------------------------------------ hand-written forms
_VALUE = re.compile(r"^([RCLVIG]\S*(?: \S+)+? )(-?[0-9.]+(?:e-?[0-9]+)?)\b", re.M)


def _suffixed(m):
    v = float(m.group(2))
    if v == 0:
        return m.group(0)
    for suf, scale in (("meg", 1e6), ("k", 1e3), ("", 1.0), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12),
                       ("f", 1e-15)):
        if abs(v) >= scale:
            return f"{m.group(1)}{v / scale!r}{suf}"
    return m.group(0)


def test_engineering_suffixes_and_units():
    text = exported(6).replace(" 1e-09 ", " 1nF ").replace("IC=0.0", "IC=0m")
    text = _VALUE.sub(_suffixed, text)
    assert re.search(r"^R\S+ \S+ \S+ [0-9.]+k$", text, re.M) and " 1nF " in text
    assert bulk_only(text) == outcome(text, False)[1]


def test_continuation_lines_comments_and_blanks():
    lines = exported(6).split("\n")
    out = []
    for i, ln in enumerate(lines):
        plain = i > 0 and ln[:1] in tuple("RCVX")
        if plain and i % 7 == 0:
            head, _, tail = ln.rpartition(" ")
            out += [head, "+ " + tail + " ; value on a continuation line"]
        elif plain and i % 7 == 1:
            out += [ln + " $ end-of-line comment", "", "* a comment line"]
        elif plain and i % 7 == 2:
            out.append("  \t" + ln.replace(" ", "\t", 1) + "  ")
        elif plain and i % 7 == 3:
            out.append(ln + ";c")
        else:
            out.append(ln)
    text = "\n".join(out)
    assert bulk_only(text) == outcome(text, False)[1]
    crlf = text.replace("\n", "\r\n")
    assert bulk_only(crlf) == outcome(crlf, False)[1] == outcome(text, False)[1]


def test_non_ascii_comments_keep_the_bulk_path(count_line_reads):
    text = exported(6).replace("* resistors (Ohm)", "* r\u00e9sistances (\u03a9)\n* \u0130 \u00b5F")
    fast = bulk_only(text)
    assert not count_line_reads
    assert fast == outcome(text, False)[1]
    for bad in ("\u0130R1 a 0 1", "RG0 x0 b0 \u0661", "R\u00e91 a 0 1", "RG0\u3000x0 b0 1"):
        lineno = _line_of(text, "RG2 ")
        assert_same(_with_line(text, lineno, bad))


def test_hand_written_netlist_with_every_plain_form():
    text = "\n".join([
        "hand written", "R1 a 0 1k", "r2 a b 2.2K", "R3 b 0 10", "R4 b c 1e3", "R5 c 0 -2k",
        "C1 a 0 1n IC=0.5", "c2 b 0 10p", "C3 c 0 1e-9 ic=0", "C4 c a 2u", "C5 a 0 1n IC=-0",
        "L1 a d 1m", "L2 d 0 2m IC=1", "L3 d e 1", "L4 e 0 1e-3", "V1 in 0 dc 1", "V2 in2 0 2",
        "V3 in3 0 DC -1.5", "V4 in4 0 0", "R6 in a 1k", "R7 in2 b 1k", "R8 in3 c 1k", "R9 in4 d 1k",
        "R10 e 0 1k", "I1 0 a 1u", "I2 0 B dc 2u", "I3 0 c 0", "I4 0 d -1e-6", "G1 a 0 b 0 1m",
        "G2 b 0 c 0 -1m", "G3 c 0 a 0 2e-3", "G4 d 0 a 0 1", "XU1 f 0 a spu_opamp_ideal",
        "XU2 g 0 b SPU_OPAMP_IDEAL", "XU3 h GND c spu_opamp_ideal", "XU4 k 0 d spu_opamp_ideal",
        "R11 f 0 1", "R12 g 0 1", "R13 h 0 1", "R14 k 0 1", "*spu: N N1 a 0 1e-20", "*spu: N N2 b 0 0",
        ".ic v(a)=0.1 v(b)=0.2 v(c)=0.3", ".end", "R99 after end 1"])
    assert bulk_only(text) == outcome(text, False)[1]


@pytest.mark.parametrize("tok", ["1e-100001", "-1e-100001", "0e100001", "-0e100001", "-0", "-0.0", "+.5", "5.",
                                 "1E+03", "1e-320", "0." + "0" * 250 + "1"])
def test_edge_numbers_agree_bit_for_bit(tok):
    rows = [f"V{i} n{i} 0 dc 1" for i in range(6)] + [f"R{i} n{i} 0 1" for i in range(6)]
    rows[2] = f"V2 n2 0 dc {tok}"
    text = "t\n" + "\n".join(rows) + "\n"
    assert assert_same(text)[0] == "ok"


# ------------------------------------------------------------------ errors
def _with_line(text, lineno, new):
    lines = text.split("\n")
    lines[lineno - 1] = new
    return "\n".join(lines)


def _line_of(text, prefix):
    return next(i for i, ln in enumerate(text.split("\n"), 1) if ln.startswith(prefix))


@pytest.mark.parametrize("make,what", [
    (lambda ln: ln.replace(" 1000.0", " abc"), "not a number"),
    (lambda ln: ln.rsplit(" ", 1)[0] + " 0", "zero resistance"),
    (lambda ln: ln.rsplit(" ", 1)[0] + " 1e999", "floating-point range"),
    (lambda ln: ln.rsplit(" ", 1)[0] + " nan", "not a number"),
    (lambda ln: ln.rsplit(" ", 1)[0] + " _1000", "not a number"),  # (ngspice reads 1_000 as 1)
    (lambda ln: ln.rsplit(" ", 1)[0], "missing value"),
    (lambda ln: ln.split(" ")[0] + " a(b) 0 1", "invalid node name"),
    (lambda ln: ln + " 5", "unexpected field"),
    (lambda ln: "D" + ln[1:], "diode"),
    (lambda ln: "RG0 " + ln.split(" ", 1)[1], "duplicate element name"),
    (lambda ln: "R{x} " + ln.split(" ", 1)[1], "invalid element name"),
])
def test_errors_in_a_large_plain_netlist_name_the_line(make, what):
    text = exported(8)
    lineno = _line_of(text, "RG5 ")
    bad = _with_line(text, lineno, make(text.split("\n")[lineno - 1]))
    with pytest.raises(SpiceError) as ei:
        parse_spice(bad, "big.cir")
    assert ei.value.lineno == lineno and what in str(ei.value), str(ei.value)
    assert outcome(bad, True) == outcome(bad, False)


@pytest.mark.parametrize("prefix,new,what", [
    ("C3 ", "C3 x3 s3 -1e-09 IC=0.0", "unrealizable"),
    ("C3 ", "C3 x3 s3 1e-09 IC=1e999", "floating-point range"),
    ("XU2 ", "XU2 x2 0 spu_opamp_ideal", "3 ports"),
    ("XU2 ", "XRG1 x2 0 s2 spu_opamp_ideal", "duplicate element name"),
    ("VIN4 ", "VIN4 in4 0 dc", "'dc' without a value"),
    ("VIN4 ", "VIN4 in4 0 trnoise(1 1n 0 0)", "time-dependent"),
])
def test_errors_in_other_kinds_name_the_line(prefix, new, what):
    text = exported(8)
    lineno = _line_of(text, prefix)
    bad = _with_line(text, lineno, new)
    with pytest.raises(SpiceError) as ei:
        parse_spice(bad, "big.cir")
    assert ei.value.lineno == lineno and what in str(ei.value), str(ei.value)
    assert outcome(bad, True) == outcome(bad, False)


def test_duplicate_later_in_the_file_names_both_lines():
    text = exported(8)
    first = _line_of(text, "RG3 ")
    lines = text.split("\n")
    at = _line_of(text, "C0 ")
    lines.insert(at - 1, lines[first - 1])  # a copy of RG3 just before the capacitors
    bad = "\n".join(lines)
    with pytest.raises(SpiceError) as ei:
        parse_spice(bad, "big.cir")
    assert ei.value.lineno == at and f"first on line {first}" in str(ei.value)


# ------------------------------------------------------------------ differential fuzz
_TOKS = ["", "{", "}", "0", "-1", "1e999", "x", "params:", "IC=", "=", "{1*2}", "dc", "DC", "spu_opamp",
         "spu_opamp_ideal", "trrandom(2 1n 0 1 0)", "+", ".end", "1k", "10p", "1meg", "2.2uF", "1_0", "nan", "inf",
         "-0", "1e-100001", "-1e-100001", "+.5", "5.", "GND", "a", "R1", "r1", "ic=1", "IC=1k", "m=2", "\x01", "a,b",
         "a\x0bb", "\u00e9", "1e99999", "X", "XU1", "ac", "1" + "0" * 300]
_PIECES = [" ", "\t", "\r", ";c", "$ c", " $c", "\n", "\n+ ", "\n* c\n", "\n\n", "*", "+", ".", "\x00", "\xa0",
           "\x0c", "\u00e9"]


def _mutate(text, rnd):
    for _ in range(rnd.randint(1, 4)):
        lines = text.split("\n")
        op, a = rnd.randrange(8), rnd.randrange(len(lines))
        if op == 0:
            toks = lines[a].split(" ")
            toks[rnd.randrange(len(toks))] = rnd.choice(_TOKS)
            lines[a] = " ".join(toks)
        elif op == 1:
            lines.insert(rnd.randrange(len(lines)), lines[a])
        elif op == 2:
            b = rnd.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
        elif op == 3:
            i = rnd.randrange(len(lines[a]) + 1)
            lines[a] = lines[a][:i] + rnd.choice(_PIECES) + lines[a][i:]
        elif op == 4:
            lines[a] = rnd.choice(["", rnd.choice(_PIECES)]) + lines[a] + rnd.choice(_PIECES)
        elif op == 5:
            del lines[a]
        elif op == 6:
            toks = lines[a].split(" ")
            if len(toks) > 1:
                i = rnd.randrange(1, len(toks))
                lines[a] = " ".join(toks[:i]) + "\n+ " + " ".join(toks[i:])
        else:
            lines[a] = lines[a].upper() if rnd.random() < 0.5 else lines[a].lower()
        text = "\n".join(lines)
    return text.replace("\n", "\r\n") if rnd.random() < 0.1 else text


def test_fuzz_mutated_netlists_read_the_same_both_ways():
    bases = [exported(4), exported(4, noise=False, control=True, noise_psd=1e-22),
             exported(4, opamp_gain=1e5)]
    rnd = random.Random(20240607)
    seen = set()
    for _ in range(400):
        text = _mutate(rnd.choice(bases), rnd)
        slow = outcome(text, False)
        assert outcome(text, True) == slow, text
        try:
            fast = bulk_only(text)
        except Exception:  # noqa: BLE001 - the bulk path may give up; parse_spice then reads line by line
            seen.add("fallback")
            continue
        assert slow[0] == "ok" and fast == slow[1], text
        seen.add("bulk")
    assert seen == {"bulk", "fallback"}


# ------------------------------------------------------------------ the parsed circuit runs
def test_spu_programs_the_parsed_netlist_unchanged(tmp_path):
    mc = sc.integrator_array(sc.random_spd(6, cond=20, seed=0), np.ones(6))
    p = tmp_path / "a.cir"
    write_spice(mc, p, tran=(1e-8, 1e-6), noise={"seed": 1, "nt": 1e-8})
    nl = read_spice(p)
    ref = parse_spice(p.read_text(), str(p), bulk=False)
    runs = []
    for net in (nl, ref, mc.netlist):
        spu = SPU(net, temperature_k=300.0, noise=True, dt=1e-8, seed=3)
        Y, Z = spu.ss.node_voltage_map(mc.output_nodes)
        res = spu.run(50 * 1e-8, max_samples=50)
        runs.append((spu.ss.x0, spu.ss.inputs, spu.ss.diffusion, res.states[:, 0, :] @ Y.T + Z @ spu.ss.inputs))
    for a, b in zip(runs[0], runs[1]):
        assert np.array_equal(a, b)
    for a, b in zip(runs[0], runs[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
