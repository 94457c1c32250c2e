"""The small-signal analysis cards ``.ac``, ``.noise`` and ``.sp`` and a source's ``AC mag [phase]`` field.

Semantics (ngspice manual, sec. 15.3.1 and 15.3.4; SPICE3):

* ``.ac DEC|OCT|LIN N FSTART FSTOP``: N points per decade / per octave, or N points in all;
* ``.noise V(OUT[,REF]) SRC DEC|OCT|LIN N FSTART FSTOP [PTS_PER_SUMMARY]``: output noise of
  v(OUT) - v(REF), equivalent input noise referred to the independent source SRC (which must
  have an AC value); PTS_PER_SUMMARY (per-device noise tables) is accepted and ignored;
* ``.sp DEC|OCT|LIN N FSTART FSTOP [DONOISE]``: S, Y and Z of the RF ports (sources with ``portnum``,
  :mod:`spucircuit.io.spice.ports`) over the sweep, as ngspice's RFSPICE;
* ``V|I... AC [MAG [PHASE]]``: MAG defaults to 1, PHASE (degrees) to 0.

Each card is recorded in ``netlist.meta['spice_file']`` (``'ac'``, ``'noise'``, ``'sp'``: the sweep as a
dict with its line number); the sources' AC specs are collected on the parser state and recorded as
``'ac_sources'``: {source name: [magnitude, phase_deg]}.
"""
from __future__ import annotations

import re

from spucircuit._util.quantities import parse_number
from spucircuit.io.spice._cards import (
    Line,
    State,
    card_value,
    check_node_token,
    tokenize,
)

_SWEEPS = ("dec", "oct", "lin")
MAX_POINTS = 10_000_000


def _sweep(toks: list, st: State, scope: dict, lineno: int, card: str) -> dict:
    """``DEC|OCT|LIN N FSTART FSTOP`` -> {'sweep', 'points', 'fstart_hz', 'fstop_hz'}."""
    form = f"{card} needs DEC|OCT|LIN points fstart fstop"
    if len(toks) != 4:
        raise st.err(form, lineno)
    sweep = toks[0].lower()
    if sweep not in _SWEEPS:
        raise st.err(f"{form}: unknown sweep {toks[0]!r}", lineno)
    n = card_value(toks[1], scope, st, lineno, f"{card} number of points")
    if not (n == int(n) and 1 <= n <= MAX_POINTS):
        raise st.err(f"{card}: number of points must be an integer in [1, {MAX_POINTS}], got {toks[1]!r}", lineno)
    f1 = card_value(toks[2], scope, st, lineno, f"{card} fstart")
    f2 = card_value(toks[3], scope, st, lineno, f"{card} fstop")
    if not (f1 >= 0 and f2 >= f1) or (sweep != "lin" and f1 <= 0):
        raise st.err(f"{card} needs 0 {'<=' if sweep == 'lin' else '<'} fstart <= fstop, got {f1:g}, {f2:g}", lineno)
    return {"sweep": sweep, "points": int(n), "fstart_hz": f1, "fstop_hz": f2, "line": lineno}


def _only_one(info: dict, key: str, card: str, st: State, lineno: int) -> None:
    """Refuse a second card of a kind (the twin runs one of each), naming the first one's line."""
    if key in info:
        raise st.err(f"a second {card} card (the first is on line {info[key]['line']}) is not supported", lineno)


def ac_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record an ``.ac`` card in ``info['ac']`` (a second one is refused: the twin runs one sweep)."""
    _only_one(info, "ac", ".ac", st, ln.lineno)
    info["ac"] = _sweep(tokenize(ln.text, st, ln.lineno)[1:], st, scope, ln.lineno, ".ac")


def sp_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record an ``.sp DEC|OCT|LIN N FSTART FSTOP [DONOISE]`` card (S-parameters, ngspice's RFSPICE:
    src/spicelib/parser/inp2dot.c dot_sp; DONOISE 1 asks for the ports' noise too) in ``info['sp']``."""
    _only_one(info, "sp", ".sp", st, ln.lineno)
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) not in (4, 5):
        raise st.err(".sp needs DEC|OCT|LIN points fstart fstop [donoise]", ln.lineno)
    d = _sweep(toks[:4], st, scope, ln.lineno, ".sp")
    donoise = 0
    if len(toks) == 5:
        v = card_value(toks[4], scope, st, ln.lineno, ".sp donoise")
        if v not in (0.0, 1.0):
            raise st.err(f".sp: donoise must be 0 or 1, got {toks[4]!r}", ln.lineno)
        donoise = int(v)
    d["donoise"] = donoise
    info["sp"] = d


_OUTPUT_RE = re.compile(r"(?i)v\(\s*([^\s,()]+)\s*(?:,\s*([^\s,()]+)\s*)?\)\Z")


def noise_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record a ``.noise`` card in ``info['noise_analysis']``."""
    _only_one(info, "noise_analysis", ".noise", st, ln.lineno)
    form = ".noise needs V(out[,ref]) source DEC|OCT|LIN points fstart fstop [pts_per_summary]"
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) not in (6, 7):
        raise st.err(form, ln.lineno)
    out = _output_var(toks[0], st, ln.lineno, form, currents=False)
    src = _input_source(toks[1], st, ln.lineno, ".noise")
    if len(toks) == 7:
        card_value(toks[6], scope, st, ln.lineno, ".noise pts_per_summary")
    d = _sweep(toks[2:6], st, scope, ln.lineno, ".noise")
    d.update({"output": out["output"], "ref": out["ref"], "source": src})
    info["noise_analysis"] = d


def source_ac(rest: list, j: int, scope: dict, st: State, lineno: int, name: str) -> tuple:
    """Read ``AC [mag [phase]]`` starting at ``rest[j]`` (the 'ac' keyword): (mag, phase_deg, next j)."""
    vals = []
    j += 1
    while len(vals) < 2 and j < len(rest) and _is_value(rest[j]):
        vals.append(card_value(rest[j], scope, st, lineno, f"{name} ac {'magnitude' if not vals else 'phase'}"))
        j += 1
    mag = vals[0] if vals else 1.0
    phase = vals[1] if len(vals) > 1 else 0.0
    return mag, phase, j


def _is_value(tok: str) -> bool:
    return parse_number(tok) is not None or tok.startswith(("{", "'"))


def record_ac(st: State, name: str, mag: float, phase_deg: float, lineno: int) -> None:
    """Keep a source's AC spec on the parser state (``st.ac_specs``, read back by :func:`ac_specs` into
    ``meta['spice_file']['ac_sources']``) and in ``netlist.meta['ac']['sources']`` (kept through an export)."""
    st.ac_specs[name] = [float(mag), float(phase_deg)]
    st.nl.meta.setdefault("ac", {}).setdefault("sources", {})[name] = [float(mag), float(phase_deg)]


def ac_specs(st: State) -> dict:
    """The AC specs recorded so far: {source name: [magnitude, phase_deg]}."""
    return dict(st.ac_specs)


_CURRENT_RE = re.compile(r"(?i)i\(\s*([^\s,()]+)\s*\)\Z")


def _output_var(tok: str, st: State, lineno: int, form: str, currents: bool = True) -> dict:
    """{'output', 'ref', 'current'} of an output variable V(node[,ref]) (ref None for ground) or, with
    ``currents``, I(vsrc)."""
    mv, mi = _OUTPUT_RE.fullmatch(tok), (_CURRENT_RE.fullmatch(tok) if currents else None)
    if mv:
        for node in (mv.group(1), mv.group(2)):
            if node is not None:
                check_node_token(node, st, lineno)
        ref = mv.group(2)
        return {"output": mv.group(1).lower(), "ref": None if ref is None or ref.lower() in ("0", "gnd")
                else ref.lower(), "current": None}
    if mi:
        check_node_token(mi.group(1), st, lineno)
        return {"output": None, "ref": None, "current": mi.group(1).lower()}
    what = "V(node), V(node,ref) or I(vsrc)" if currents else "V(node) or V(node,ref)"
    raise st.err(f"{form}: the output must be {what}, got {tok!r}", lineno)


def _input_source(tok: str, st: State, lineno: int, card: str) -> str:
    """The lower-case name of an analysis' input source (V... or I...)."""
    if tok[0].lower() not in "vi":
        raise st.err(f"{card}: the input source must be an independent V or I source, got {tok!r}", lineno)
    check_node_token(tok, st, lineno)
    return tok.lower()


def sens_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record a ``.sens OUTVAR [AC DEC|OCT|LIN N FSTART FSTOP]`` card in ``info['sens']`` (OUTVAR:
    V(out[,ref]), or I(vsrc) for the DC form; spucircuit.statespace.sensitivity runs it)."""
    _only_one(info, "sens", ".sens", st, ln.lineno)
    form = ".sens needs V(out[,ref]) or I(vsrc) [AC DEC|OCT|LIN points fstart fstop]"
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) not in (1, 6):
        raise st.err(form, ln.lineno)
    d = {"sweep": None, "line": ln.lineno}
    d.update(_output_var(toks[0], st, ln.lineno, form))
    if len(toks) == 6:
        if toks[1].lower() != "ac":
            raise st.err(f"{form}: expected 'AC' after the output, got {toks[1]!r}", ln.lineno)
        if d["current"] is not None:
            raise st.err(".sens I(vsrc) AC ... (the AC sensitivity of a source current) is not supported; "
                         "give V(node[,ref])", ln.lineno)
        d.update({k: v for k, v in _sweep(toks[2:6], st, scope, ln.lineno, ".sens").items() if k != "line"})
    info["sens"] = d


def dc_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record a ``.dc SRC START STOP INCR [SRC2 START2 STOP2 INCR2]`` card in ``info['dc']``
    (spucircuit.statespace.dc_sweep runs it)."""
    _only_one(info, "dc", ".dc", st, ln.lineno)
    form = ".dc needs SRC START STOP INCR [SRC2 START2 STOP2 INCR2]"
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) not in (4, 8):
        raise st.err(form, ln.lineno)
    sweeps = []
    for k in range(0, len(toks), 4):
        src = toks[k]
        if src.lower() == "temp":
            raise st.err(".dc TEMP (a temperature sweep) is not supported; sweep a source or a resistor", ln.lineno)
        if src[0].lower() not in "vir":
            raise st.err(f"{form}: {src!r} is not a V or I source or a resistor", ln.lineno)
        check_node_token(src, st, ln.lineno)
        vals = [card_value(t, scope, st, ln.lineno, f".dc {src} {what}")
                for t, what in zip(toks[k + 1:k + 4], ("start", "stop", "increment"))]
        if vals[2] == 0:
            raise st.err(f".dc {src}: the increment must be non-zero", ln.lineno)
        sweeps.append({"source": src.lower(), "start": vals[0], "stop": vals[1], "incr": vals[2]})
    info["dc"] = {"sweeps": sweeps, "line": ln.lineno}


def tf_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record a ``.tf V(out[,ref])|I(vsrc) INSRC`` card in ``info['tf']`` (spucircuit.statespace.transfer)."""
    _only_one(info, "tf", ".tf", st, ln.lineno)
    form = ".tf needs V(out[,ref]) or I(vsrc), then the input source"
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) != 2:
        raise st.err(form, ln.lineno)
    d = {"line": ln.lineno}
    d.update(_output_var(toks[0], st, ln.lineno, form))
    d["source"] = _input_source(toks[1], st, ln.lineno, ".tf")
    info["tf"] = d


_PZ_INPUTS = ("vol", "cur")
_PZ_WHICH = ("pol", "zer", "pz")


def pz_card(ln: Line, st: State, scope: dict, info: dict) -> None:
    """Record a ``.pz IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ`` card (ngspice 39: src/spicelib/parser/inp2dot.c
    dot_pz) in ``info['pz']`` (spucircuit.statespace.polezero runs it)."""
    _only_one(info, "pz", ".pz", st, ln.lineno)
    form = ".pz needs IN+ IN- OUT+ OUT- VOL|CUR POL|ZER|PZ"
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if len(toks) != 6:
        raise st.err(form, ln.lineno)
    for node in toks[:4]:
        check_node_token(node, st, ln.lineno)
    kind, which = toks[4].lower(), toks[5].lower()
    if kind not in _PZ_INPUTS:
        raise st.err(f"{form}: the input type must be VOL or CUR, got {toks[4]!r}", ln.lineno)
    if which not in _PZ_WHICH:
        raise st.err(f"{form}: the analysis must be POL, ZER or PZ, got {toks[5]!r}", ln.lineno)
    nodes = [t.lower() for t in toks[:4]]
    info["pz"] = {"in_pos": nodes[0], "in_neg": nodes[1], "out_pos": nodes[2], "out_neg": nodes[3],
                  "input": kind, "which": which, "line": ln.lineno}
