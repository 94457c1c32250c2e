"""SPICE element cards and subcircuit instances, read line by line into the parser state.

:func:`element` reads one element line (or a ``*spu: N`` annotation) at the top level or inside a
subcircuit instance: linear ``R C L G E V I`` and ``X`` instances, whose subcircuit bodies are
flattened with ngspice's hierarchical names (``R.X1.R2``, node ``X1.n3``); E with a floating output,
F, H and K are read by :mod:`~spucircuit.io.spice.controlled`, tc1/tc2 by
:mod:`~spucircuit.io.spice.spellings`, a resistor's model, geometry and factors (``l w m scale ac
tc1 tc2 tce temp dtemp noisy``) by :mod:`~spucircuit.io.spice.resistor_cards`. Conversions: a negative
resistor becomes a VCCS ``G p q p q 1/R`` (noise-free, as it is active); ``E out 0 inp inn A0``
becomes an op-amp (inputs swapped for A0 < 0); ``X<name> ... spu_opamp_ideal|spu_opamp`` becomes
the op-amp ``<name>``; ``I p q dc 0 trrandom(2 NT 0 sigma 0)`` becomes a white noise source of PSD
2 NT sigma^2. Anything else raises :class:`~spucircuit.errors.SpiceError` naming the line.

This is the reference reader of element lines: :mod:`~spucircuit.io.spice.bulk_reader` reads the
plain forms faster and hands every other line to :func:`element`.
"""
from __future__ import annotations

import math
import re

import numpy as np

from spucircuit.circuit.netlist import check_values
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice._cards import (
    ANN,
    NAME_RE,
    OPAMP_CANON,
    OPAMP_FINITE,
    OPAMP_RAIL,
    RAIL_GAIN,
    SKIP_CARDS,
    Line,
    Scope,
    State,
    add_node,
    card_value,
    check_node_token,
    func_cards,
    ic_entry,
    param_card,
    tokenize,
)
from spucircuit.io.spice.analyses import record_ac, source_ac
from spucircuit.io.spice.controlled import controlled, is_poly
from spucircuit.io.spice.ports import (
    PORT_KEYS,
    add_port_field,
    is_port_key,
    port_nodes,
    read_port_field,
)
from spucircuit.io.spice.resistor_cards import (
    RES_INSTANCE_PARAMS,
    find_model,
    model_card,
    resistance,
)
from spucircuit.io.spice.spellings import TNOM_C, temperature_factor, warn_rkm_like
from spucircuit.io.spice.waveform_cards import (
    is_time_function,
    pwl_options,
    read_waveform,
)

__all__ = ["element", "map_node", "register"]


def _split_kw(toks):
    """Positional fields, and (lower-case key, value) pairs of the ``key=value`` fields."""
    pos, kw = [], []
    for t in toks:
        if "=" in t and not t.startswith(("{", "'", "(")) and "(" not in t.partition("=")[0]:  # not pwl(.. td=x)
            k, _, v = t.partition("=")
            kw.append((k.lower(), v))
        else:
            pos.append(t)
    return pos, kw


_UNSUPPORTED_ELEMENTS = {
    "d": "diode", "q": "bipolar transistor", "m": "MOSFET", "j": "JFET", "z": "MESFET",
    "b": "behavioural source", "s": "voltage-controlled switch", "w": "current-controlled switch",
    "t": "transmission line", "o": "lossy transmission line", "u": "uniform RC line", "y": "element",
    "a": "XSPICE code model", "p": "coupled transmission line", "n": "element",
}


def _hier(name: str, path: list) -> str:
    return name if not path else f"{name[0]}.{'.'.join(path)}.{name}"


def map_node(tok: str, st: State, path: list, ports: dict, lineno: int) -> int:
    """Index of node ``tok`` seen from the subcircuit instance ``path``: a port is the caller's node,
    ground and ``.global`` nodes are shared, any other node gets the hierarchical name ``X1.n3``."""
    check_node_token(tok, st, lineno)
    low = tok.lower()
    if low in ("0", "gnd"):
        return 0
    if path:
        if low in ports:
            return ports[low]
        if low in st.globals_:
            return add_node(st, tok, lineno)
        return add_node(st, ".".join(path) + "." + tok, lineno)
    return add_node(st, tok, lineno)


def register(st: State, kind: str, name: str, nodes, value: float, ic: float, lineno: int):
    low = name.lower()
    if low in st.names:
        raise st.err(f"duplicate element name {name!r} (first on line {st.names[low]})", lineno)
    try:
        check_values(kind, [name], np.array([value], dtype=float))
    except NetlistError as exc:
        raise st.err(str(exc), lineno) from None
    if not math.isfinite(ic):
        raise st.err(f"{name}: initial condition must be finite", lineno)
    if kind in "RCLVIN" and nodes[0] == nodes[1]:
        pass  # allowed here; Netlist.validate reports it
    st.names[low] = lineno
    if len(st.names) > st.max_elements:
        raise st.err(f"more than {st.max_elements} elements after flattening subcircuits", lineno)
    st.lines[kind].append(lineno)
    nm, nd, vals, ics = st.kinds[kind]
    nm.append(name)
    nd.extend(nodes)  # flat: KINDS[kind][0] indices per element
    vals.append(float(value))
    ics.append(float(ic))
    return len(nm) - 1


def element(ln: Line, st: State, scope: dict, path: list, ports: dict, depth: int):
    """Read one element line (or ``*spu: N`` annotation) into ``st``. ``path``, ``ports`` and
    ``depth`` place it inside nested subcircuit instances (``[], {}, 0`` at the top level)."""
    if ln.kind == "ann":  # '*spu: N name p q psd'
        parts = ln.text[len(ANN):].split()
        if len(parts) != 5:
            raise st.err("'*spu: N' needs: N name p q psd", ln.lineno)
        _, name, p, q, psd = parts
        check_node_token(name, st, ln.lineno)
        nodes = [map_node(p, st, path, ports, ln.lineno), map_node(q, st, path, ports, ln.lineno)]
        v = card_value(psd, scope, st, ln.lineno, f"noise source {name}")
        register(st, "N", _hier(name, path), nodes, v, 0.0, ln.lineno)
        return
    toks = tokenize(ln.text, st, ln.lineno)
    if not toks:
        raise st.err("empty element line", ln.lineno)
    name = toks[0]
    letter = name[0].lower()
    if not NAME_RE.match(name):
        raise st.err(f"invalid element name {name!r}", ln.lineno)
    pos, kw = _split_kw(toks[1:])
    L = ln.lineno

    def need(npos, form):
        if len(pos) < npos:
            raise st.err(f"{name}: too few fields; expected {form}", L)

    def no_kw(allowed=()):
        for k, _ in kw:
            if k not in allowed:
                raise st.err(f"{name}: parameter {k!r} is not supported", L)

    def nodes_of(k):
        return [map_node(t, st, path, ports, L) for t in pos[:k]]

    if letter == "r":
        _resistor(name, pos, kw, st, scope, path, L, nodes_of)
        return
    if letter in "cl":
        kind = letter.upper()
        form = f"{kind}name n+ n- value [IC=v]"
        need(2, form)
        no_kw({"m", letter, "tc1", "tc2", "temp", "dtemp", "ic"})
        kwd = dict(kw)
        extra = pos[3:]
        if extra:
            raise st.err(f"{name}: unexpected field {extra[0]!r}; expected {form}", L)
        if len(pos) == 3 and letter not in kwd:
            val_tok = pos[2]
        elif len(pos) == 2 and letter in kwd:  # 'C=1u', 'L=1m'
            val_tok = kwd[letter]
        elif len(pos) == 3:
            raise st.err(f"{name}: value given twice ({pos[2]!r} and {letter}={kwd[letter]})", L)
        else:
            raise st.err(f"{name}: missing value; expected {form}", L)
        nodes = nodes_of(2)
        if re.fullmatch(r"[rRlL][0-9]+", val_tok):  # RKM 'R47': ngspice 39 takes it for a model name and fails
            raise st.err(f"{name} value: {val_tok!r} is not a number (an RKM value: ngspice reads those only in "
                         "its LTspice mode, ngbehavior=lt; by default it takes the token for a model name and fails, "
                         "and the twin reads values as that default)", L)
        warn_rkm_like(val_tok, name, st.filename, L)
        v = card_value(val_tok, scope, st, L, f"{name} value")  # ngspice 39: '4K7' = 4k (no RKM)
        if {"tc1", "tc2", "temp", "dtemp"} & kwd.keys():  # value (1 + tc1 dT + tc2 dT^2)
            tc = {k: card_value(kwd[k], scope, st, L, f"{name} {k}") if k in kwd else 0.0
                  for k in ("tc1", "tc2", "dtemp")}
            temp = card_value(kwd["temp"], scope, st, L, f"{name} temp") if "temp" in kwd else st.temp_c
            v = v * temperature_factor(tc["tc1"], tc["tc2"], temp - TNOM_C + tc["dtemp"])
            if not math.isfinite(v):
                raise st.err(f"{name}: the temperature-corrected value is not finite", L)
        mult = card_value(kwd["m"], scope, st, L, f"{name} m") if "m" in kwd else 1.0
        if not mult > 0:
            raise st.err(f"{name}: multiplicity m must be > 0", L)
        ic = card_value(kwd["ic"], scope, st, L, f"{name} IC") if "ic" in kwd else 0.0
        v = v * mult if kind == "C" else v / mult
        k = register(st, kind, _hier(name, path), nodes, v, ic, L)
        if kind == "C" and "ic" in kwd:
            st.ic_given.add(k)
        return
    if letter == "g" and is_poly(pos):  # G POLY(1)
        controlled(letter, name, pos, kw, st, scope, path, L, lambda toks: [map_node(t, st, path, ports, L) for t in toks],
                   register, _hier, card_value, add_node)
        return
    if letter == "g":
        need(5, "Gname n+ n- nc+ nc- gm")
        no_kw()
        if len(pos) > 5:
            raise st.err(f"{name}: unexpected field {pos[5]!r}; only linear VCCS 'Gname n+ n- nc+ nc- gm' "
                         "is supported", L)
        nodes = nodes_of(4)
        gm = card_value(pos[4], scope, st, L, f"{name} transconductance")
        register(st, "G", _hier(name, path), nodes, gm, 0.0, L)
        return
    if letter in "fhk" or (letter == "e" and (len(pos) != 5 or kw or pos[1].lower() not in ("0", "gnd"))):
        # E (floating), F, H, K, POLY(1)
        controlled(letter, name, pos, kw, st, scope, path, L, lambda toks: [map_node(t, st, path, ports, L) for t in toks],
                   register, _hier, card_value, add_node)
        return
    if letter == "e":
        need(5, "Ename out 0 inp inn gain")
        no_kw()
        nodes = nodes_of(4)
        a0 = card_value(pos[4], scope, st, L, f"{name} gain")
        if a0 == 0:
            raise st.err(f"{name}: zero gain", L)
        inp, inn = (nodes[2], nodes[3]) if a0 > 0 else (nodes[3], nodes[2])
        register(st, "U", _hier(name, path), [nodes[0], inp, inn], abs(a0), 0.0, L)
        return
    if letter in "vi":
        kind = letter.upper()
        need(2, f"{kind}name n+ n- [dc] value")
        nodes = nodes_of(2)
        rest = pos[2:]
        no_kw(("dc", "ac", "acmag", "acphase", "td", "r") + PORT_KEYS)  # td= / r=: PWL's options (pwl_options below)
        kwd = dict(kw)
        dc, noise, wf = 0.0, None, None
        port: dict = {}  # RF port parameters (io.spice.ports)
        for k, v in kw:
            if k in PORT_KEYS:
                add_port_field(k, v, port, scope, st, L, name)
        j = 0
        seen_dc = "dc" in kwd
        if seen_dc:  # 'dc=1' (the key=value spelling of 'dc 1')
            dc = card_value(kwd["dc"], scope, st, L, f"{name} dc value")
        ac = None
        if kwd.keys() & {"ac", "acmag", "acphase"}:  # 'ac=1 [acphase=90]': small-signal, for .ac
            ac = [card_value(kwd[k], scope, st, L, f"{name} {k}") if k in kwd else 0.0
                  for k in (("ac" if "ac" in kwd else "acmag"), "acphase")]
        distof: dict = {}
        while j < len(rest):
            t = rest[j]
            tl = t.lower()
            if tl == "dc":
                if j + 1 >= len(rest):
                    raise st.err(f"{name}: 'dc' without a value", L)
                dc = card_value(rest[j + 1], scope, st, L, f"{name} dc value")
                seen_dc = True
                j += 2
            elif tl == "ac":  # small-signal spec: recorded for .ac / .noise, irrelevant to the transient
                ac = source_ac(rest, j, scope, st, L, name)
                j = ac[2]
            elif tl in ("distof1", "distof2"):  # .disto's inputs (vsrcpar.c: [mag [phase]], default 1 0): kept
                if tl in distof:
                    raise st.err(f"{name}: {t} given twice", L)
                mag, phase, j = source_ac(rest, j, scope, st, L, f"{name} {tl}")
                distof[tl] = [mag, phase]
            elif is_port_key(tl):  # 'portnum 1 z0 50 [pwr P] [freq F] [phase DEG]'
                j = read_port_field(rest, j, port, scope, st, L, name)
            elif tl.startswith("trrandom") and kind == "I":
                noise = _trrandom(t, scope, st, L, name)
                j += 1
            elif is_time_function(t):
                if wf is not None:
                    raise st.err(f"{name}: a second time-dependent value {t.split('(')[0]!r}", L)
                wf, j = read_waveform(rest, j, scope, st, L, name)
            elif not seen_dc and j == 0:
                dc = card_value(t, scope, st, L, f"{name} value")
                seen_dc = True
                j += 1
            else:
                raise st.err(f"{name}: unexpected field {t!r}", L)
        wf = pwl_options(wf, [(k, v) for k, v in kw if k in ("td", "r")], scope, st, L, name)
        hname = _hier(name, path)
        nodes = port_nodes(port, kind, hname, nodes, st, L, name, seen_dc)  # a port: the source from '<name>#res'
        if ac is not None:  # magnitude (V or A) and phase (degrees), as ngspice's .ac reads them
            record_ac(st, hname, ac[0], ac[1], L)
        if distof:  # only .disto (refused) reads them; kept in the netlist (and its export) as given
            st.nl.meta.setdefault("distof", {})[hname] = distof
        if wf is not None and not seen_dc:  # SPICE's operating point: the transient value at t = 0
            dc = wf.initial_value()
        if noise is not None:
            if dc != 0 or wf is not None:
                register(st, "I", hname, nodes, dc, 0.0, L)
                if wf is not None:
                    st.nl.waveforms[hname] = wf
                hname = hname + ".trrandom"
            register(st, "N", hname, nodes, noise, 0.0, L)
        else:
            register(st, kind, hname, nodes, dc, 0.0, L)
            if wf is not None:
                st.nl.waveforms[hname] = wf
        return
    if letter == "x":
        _instance(name, pos, kw, ln, st, scope, path, ports, depth)
        return
    what = _UNSUPPORTED_ELEMENTS.get(letter, "element")
    raise st.err(f"{name}: {what} is not supported (linear R C L G E F H K V I, X instances only)", L)


def _resistor(name, pos, kw, st: State, scope, path, L, nodes_of):
    """``Rname n+ n- [value] [mname] [param=value ...]`` (ngspice's INP2R; formulas in
    :mod:`~spucircuit.io.spice.resistor_cards`)."""
    form = "Rname n+ n- [value] [mname] [l= w= m= scale= ac= tc1= tc2= tce= noisy= temp= dtemp=]"
    if len(pos) < 2:
        raise st.err(f"{name}: too few fields; expected {form}", L)
    kwd = {}
    for k, v in kw:
        key = RES_INSTANCE_PARAMS.get(k)
        if key is None:
            raise st.err(f"{name}: parameter {k!r} is not supported", L)
        if key in kwd:
            raise st.err(f"{name}: parameter {k!r} given twice", L)
        kwd[key] = v
    extra = pos[2:]
    value_tok = model = None
    if extra and find_model(extra[-1], st) is not None:  # '[value] mname': a known model name comes last
        mname = extra.pop()
        params, mline, mtype = find_model(mname, st)
        if mtype != "r":
            raise st.err(f"{name}: model {mname!r} (line {mline}) is a {mtype!r} model, not a resistor model (R)", L)
        model = params
    if len(extra) > 1:
        raise st.err(f"{name}: unexpected field {extra[1]!r}; expected {form}", L)
    if extra:
        value_tok = extra[0]
    if value_tok is not None and "r" in kwd:
        raise st.err(f"{name}: value given twice ({value_tok!r} and r={kwd['r']})", L)
    if value_tok is None and "r" in kwd:
        value_tok = kwd["r"]

    def ev(key):
        return card_value(kwd[key], scope, st, L, f"{name} {key}")

    value = None
    if value_tok is not None:
        if re.fullmatch(r"[rRlL][0-9]+", value_tok):  # RKM 'R47': ngspice 39 takes it for a model name and fails
            raise st.err(f"{name} value: {value_tok!r} is not a number (an RKM value: ngspice reads those only in "
                         "its LTspice mode, ngbehavior=lt; by default it takes the token for a model name and fails, "
                         "and the twin reads values as that default)", L)
        warn_rkm_like(value_tok, name, st.filename, L)
        try:
            value = card_value(value_tok, scope, st, L, f"{name} value")  # ngspice 39: '4K7' = 4k (no RKM)
        except SpiceError:
            if model is None and _looks_like_name(value_tok):
                raise st.err(f"{name} value: {value_tok!r} is not a number, nor a model defined by a .model "
                             "card", L) from None
            raise
        if value == 0:
            raise st.err(f"{name}: zero resistance (a short) is not supported; use a 0 V source", L)
    r_dc, r_ac, flicker = resistance(name, value, model, kwd, st, st.temp_c, L, ev)
    hname = _hier(name, path)
    nodes = nodes_of(2)
    meta = st.nl.meta
    if "noisy" in kwd:  # ngspice's noisy=0: a resistor without Johnson noise (the default noisy=1 has it)
        noisy = ev("noisy")
        if noisy not in (0.0, 1.0):
            raise st.err(f"{name}: noisy must be 0 or 1, got {kwd['noisy']!r}", L)
        if noisy == 0.0:
            meta.setdefault("noiseless", {}).setdefault("resistors", []).append(hname)
            flicker = None  # resnoise.c skips a quiet resistor entirely
    if math.isinf(r_dc):  # conductance 0 (ngspice divides by a zero width): open for DC and transient
        if hname.lower() in st.names:
            raise st.err(f"duplicate element name {hname!r} (first on line {st.names[hname.lower()]})", L)
        st.names[hname.lower()] = L
        names = [st.nl.node_names[i] if i else "0" for i in nodes]
        meta.setdefault("open_resistors", {})[hname] = names
        if r_ac is not None:
            meta.setdefault("ac", {}).setdefault("resistors", {})[hname] = r_ac
        return
    if "dtemp" in kwd and "temp" not in kwd and ev("dtemp") != 0:  # nevalsrc.c: thermal noise at T + dtemp
        meta.setdefault("noise_dtemp", {})[hname] = ev("dtemp")
    if r_ac is not None:  # the resistance in an .ac analysis (recorded for it; the transient uses the value)
        meta.setdefault("ac", {}).setdefault("resistors", {})[hname] = r_ac
    if flicker is not None:
        meta.setdefault("flicker", {}).setdefault("resistors", {})[hname] = flicker
    if r_dc < 0:  # a negative resistor: an active conductance, a VCCS G p q p q 1/R
        register(st, "G", hname, nodes + nodes, 1.0 / r_dc, 0.0, L)
        return
    register(st, "R", hname, nodes, r_dc, 0.0, L)


def _looks_like_name(tok: str) -> bool:
    """A bare identifier (a would-be model name), not a number, expression or parameter."""
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", tok))


def _trrandom(t: str, scope, st, L, name) -> float:
    m = re.fullmatch(r"(?i)trrandom\((.*)\)", t.strip())
    if not m:
        raise st.err(f"{name}: bad trrandom(...) {t!r}", L)
    args = [a for a in re.split(r"[\s,]+", m.group(1).strip()) if a]
    vals = [card_value(a, scope, st, L, f"{name} trrandom") for a in args]
    if len(vals) != 5 or vals[0] != 2 or vals[2] != 0 or vals[4] != 0 or not vals[1] > 0:
        raise st.err(f"{name}: only Gaussian white noise trrandom(2 NT 0 sigma 0) with NT > 0 is supported", L)
    return 2.0 * vals[1] * vals[3] ** 2


def _instance(name, pos, kw, ln, st: State, scope, path, ports, depth):
    L = ln.lineno
    if depth > 30:
        raise st.err(f"{name}: subcircuits nest more than 30 deep (recursive definition?)", L)
    pos = [p for p in pos if p.lower() != "params:"]
    if not pos:
        raise st.err(f"{name}: X instance needs nodes and a subcircuit name", L)
    sub_name = pos[-1].lower()
    node_toks = pos[:-1]
    if sub_name in OPAMP_CANON:
        if len(node_toks) != 3:
            raise st.err(f"{name}: {sub_name} has 3 ports (out inp inn), got {len(node_toks)}", L)
        kwd = dict(kw)
        allowed = {OPAMP_FINITE: {"gain"}, OPAMP_RAIL: {"gain", "rail"}}.get(sub_name, set())
        for k in kwd:
            if k not in allowed:
                raise st.err(f"{name}: unknown parameter {k!r} of {sub_name}", L)
        sub = st.subckts.get(sub_name)
        defaults = dict(sub.defaults) if sub else {}

        def param(k, fallback):
            if k in kwd:
                return card_value(kwd[k], scope, st, L, f"{name} {k}")
            return card_value(defaults[k], {}, st, L, f"{name} {k}") if k in defaults else fallback

        if sub_name in (OPAMP_FINITE, OPAMP_RAIL):
            gain = param("gain", 1e5 if sub_name == OPAMP_FINITE else RAIL_GAIN)
            if not gain > 0:
                raise st.err(f"{name}: op-amp gain must be > 0, got {gain!r}", L)
        else:
            gain = math.inf
        if sub_name == OPAMP_RAIL:  # the twin's op-amps are ideal with rails (a device property)
            rail = param("rail", 2.5)
            if not (math.isfinite(rail) and rail > 0):
                raise st.err(f"{name}: rail must be finite and > 0 V, got {rail!r}", L)
            if st.nl.meta.setdefault("rail_v", rail) != rail:
                raise st.err(f"{name}: rail {rail!r} V differs from {st.nl.meta['rail_v']!r} V of an earlier "
                             "op-amp (one rail per netlist)", L)
            gain = math.inf if gain >= RAIL_GAIN else gain
        nodes = [map_node(t, st, path, ports, L) for t in node_toks]
        uname = ".".join(path + [name[1:]]) if path else name[1:]
        if not uname:
            raise st.err(f"{name}: op-amp instance needs a name after 'X'", L)
        register(st, "U", uname, nodes, gain, 0.0, L)
        return
    sub = st.subckts.get(sub_name)
    if sub is None:
        raise st.err(f"{name}: unknown subcircuit {pos[-1]!r}", L)
    if len(node_toks) != len(sub.ports):
        raise st.err(f"{name}: subcircuit {sub.name} has {len(sub.ports)} ports, got {len(node_toks)} nodes", L)
    actual = [map_node(t, st, path, ports, L) for t in node_toks]
    new_ports = {p.lower(): a for p, a in zip(sub.ports, actual)}
    # parameters: global scope + defaults + instance overrides (evaluated in the caller's scope)
    new_scope = Scope(scope)
    for k, v in sub.defaults:
        new_scope[k] = card_value(v if v.startswith(("{", "'")) else "{" + v + "}", new_scope, st, sub.lineno,
                            f".subckt {sub.name} parameter {k}")
    defaults = {k for k, _ in sub.defaults}
    for k, v in kw:
        if k not in defaults:
            raise st.err(f"{name}: subcircuit {sub.name} has no parameter {k!r}", L)
        new_scope[k] = card_value(v if v.startswith(("{", "'")) else "{" + v + "}", scope, st, L, f"{name} {k}")
    new_path = path + [name]
    st.instances[".".join(new_path).lower()] = L
    body_elems, body_ic, body_models = [], [], []
    func_cards(sub.body, st, new_scope)  # the subcircuit's own .func cards (before its .param cards)
    for b in sub.body:
        if b.kind == "card" and b.text.split()[0].lower().startswith("."):
            first = b.text.split()[0].lower()
            if first == ".func":
                continue
            if first == ".param":
                param_card(b, st, new_scope, new_scope)
            elif first == ".ic":
                body_ic.append(b)
            elif first == ".model":
                body_models.append(b)
            elif first in SKIP_CARDS:
                continue
            else:
                raise st.err(f"{first} is not supported inside a subcircuit", b.lineno)
        else:
            body_elems.append(b)
    local: dict = {}  # the subcircuit's own .model cards, seen by its elements only (before the global ones)
    for b in body_models:
        model_card(b, st, new_scope, local)
    st.local_models.append(local)
    try:
        for b in body_elems:
            element(b, st, new_scope, new_path, new_ports, depth + 1)
    finally:
        st.local_models.pop()
    for b in body_ic:  # after the body: its nodes exist
        _subckt_ic(b, st, new_scope, new_path, new_ports)


def _subckt_ic(ln: Line, st: State, scope, path, ports):
    """``.ic v(n)=x`` inside a subcircuit: n is the instance's node (a port is the caller's node,
    any other the hierarchical ``X1.n``), as ngspice expands it."""
    for t in tokenize(ln.text, st, ln.lineno)[1:]:
        node, value = ic_entry(t, st, ln.lineno)
        low = node.lower()
        full = (st.nl.node_names[ports[low]] if low in ports else node if low in st.globals_
                else ".".join(path) + "." + node).lower()
        if not st.nl.has_node(full):
            raise st.err(f".ic sets v({node}) but subcircuit instance {'.'.join(path)} has no node {full!r}", ln.lineno)
        st.sub_ic[full] = card_value(value, scope, st, ln.lineno, f".ic v({node})")
        st.ic_lines.setdefault(full, ln.lineno)
