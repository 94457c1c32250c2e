"""SPICE import: :func:`read_spice` (a file) and :func:`parse_spice` (text) give a :class:`Netlist`.

Reads everything the writer emits plus common hand-written SPICE: engineering suffixes
(f p n u m k meg g t, also a mil; case-insensitive; trailing units ignored: 1kOhm, 10uF),
``+`` continuation lines, ``*`` comment lines, ``$ `` and ``;`` end-of-line comments,
``.param`` with numeric expressions (``{...}`` or ``'...'``; + - * / ^ **, sqrt exp ln log
log10 abs min max pow sin cos tan atan sinh cosh tanh floor ceil, pi), ``.subckt``/``.ends``
with ``X`` instances (flattened with ngspice's hierarchical names: ``R.X1.R2``, node ``X1.n3``;
subcircuit parameters), ``.global``, ``.end``, ``.tran`` and ``.ic`` (recorded in
``netlist.meta['spice_file']``; ``.ic`` sets the initial voltage of a capacitor without ``IC=``
whose terminals both have one), ``.options``/``.control``...``.endc``/``.save``/``.print``/
``.plot``/``.probe``/``.meas``/``.model``/``.nodeset``/``.temp`` and the analysis cards ``.op``
``.ac`` ``.dc`` ``.noise`` ``.tf`` ``.pz`` ``.sens`` ``.four`` ``.disto`` (deliberately skipped:
they do not change the circuit). Conversions: a negative resistor becomes a VCCS ``G p q p q
1/R`` (noise-free, as it is active); ``E out 0 inp inn A0`` becomes an op-amp (inputs swapped
for A0 < 0); ``I p q dc 0 trrandom(2 NT 0 sigma 0)`` becomes a white noise source of PSD
2 NT sigma^2. Anything else (nonlinear devices, time-dependent sources, floating VCVS, F/H/K,
``.include``, ``.func``...) raises :class:`~spucircuit.errors.SpiceError` naming the file, the
line and the problem. The reader never raises any other exception type.

Speed: runs of plain element lines (the forms the writer emits) are read in bulk, a few list
operations per run rather than a tokenizer per line (~1-2 us per element); anything else is read
line by line, and on any error or doubt the whole text is read again line by line, so results
and error messages are those of the line-by-line reader.
"""
from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from spucircuit._util.quantities import parse_number
from spucircuit.circuit.netlist import KINDS, Netlist
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice._cards import (
    ANN,
    MAX_ELEMENTS,
    NAME_RE,
    NAMES_RE,
    OPAMP_CANON,
    OPAMP_FINITE,
    SKIP_CARDS,
    Line,
    Scope,
    State,
    Subckt,
    add_node,
    card_value,
    check_node_token,
    param_card,
    strip_comment,
    tokenize,
)

__all__ = ["read_spice", "parse_spice"]


# --------------------------------------------------------------------------- writer


# --------------------------------------------------------------------------- reader


def read_spice(path) -> Netlist:
    """Read a SPICE netlist file into a :class:`Netlist` (see the module docstring for the subset)."""
    fname = os.fspath(path) if not isinstance(path, bytes) else path.decode("utf-8", "replace")
    try:
        with open(fname, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SpiceError(f"cannot read netlist: {exc.strerror or exc}", fname) from None
    except (TypeError, ValueError) as exc:
        raise SpiceError(f"bad path: {exc}", str(fname)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw[: exc.start].count(b"\n") + 1
        raise SpiceError("not a UTF-8 text file (undecodable byte)", fname, lineno) from None
    return parse_spice(text, fname)


def parse_spice(text: str, filename: str = "<string>") -> Netlist:
    """Parse SPICE netlist text (see :func:`read_spice`)."""
    try:
        return _parse(str(text), str(filename))
    except SpiceError:
        raise
    except RecursionError:
        raise SpiceError("netlist nests too deeply", filename) from None
    except NetlistError as exc:
        raise SpiceError(str(exc), filename) from None


def _logical_lines(text: str, filename: str):
    phys = text.split("\n")
    if not phys or not phys[0].strip() and len(phys) == 1:
        raise SpiceError("empty file: a SPICE netlist starts with a title line", filename, 1)
    title = phys[0].rstrip("\r").lstrip("\ufeff").strip()
    out: list[Line] = []
    append = out.append
    last_card = None
    in_noise = None
    check_nul = "\x00" in text
    for k, raw in enumerate(phys[1:], start=2):
        if check_nul and "\x00" in raw:
            raise SpiceError("NUL character in netlist (binary file?)", filename, k)
        if in_noise is not None:  # generated noise block: skipped as a whole
            if "*" not in raw:  # cannot be the '*spu: noise-end' line
                continue
            s = raw.strip()
            if s.lower().startswith(ANN) and s[len(ANN):].strip().lower() == "noise-end":
                append(Line(s, k, "ann"))
                in_noise = None
            continue
        s = raw.strip()  # (also drops a '\r' line end)
        if not s:
            continue
        if s[0] == "*":
            if s.lower().startswith(ANN):
                append(Line(s, k, "ann"))
                body = s[len(ANN):].strip().lower()
                if body.startswith("noise-begin"):
                    in_noise = k
            continue
        if s[0] == "+":
            if last_card is None:
                raise SpiceError("continuation line '+' without a line to continue", filename, k)
            last_card.text += " " + strip_comment(s[1:])
            continue
        if ";" in s or "$" in s:
            s = strip_comment(s).strip()
            if not s:
                continue
        last_card = Line(s, k, "card")
        append(last_card)
    if in_noise is not None:
        raise SpiceError("'*spu: noise-begin' without '*spu: noise-end'", filename, in_noise)
    return title, out


def _split_kw(toks):
    pos, kw = [], []
    for t in toks:
        if "=" in t and not t.startswith(("{", "'", "(")):
            k, _, v = t.partition("=")
            kw.append((k.lower(), v))
        else:
            pos.append(t)
    return pos, kw


def _parse(text: str, filename: str, fast: bool = True) -> Netlist:
    """Parse ``text``. ``fast`` reads plain top-level element lines in bulk (:func:`_elements_fast`);
    on anything it does not vouch for (an error, an unusual construct) the whole text is parsed
    again line by line (``fast=False``, the reference reader), so results and error messages are
    those of the line-by-line reader."""
    if fast:
        try:
            return _parse_text(text, filename, True)
        except Exception:  # noqa: BLE001 - re-parsed below; that run raises the exact error
            pass
    return _parse_text(text, filename, False)


def _parse_text(text: str, filename: str, fast: bool) -> Netlist:
    if fast:
        from spucircuit.io.spice.bulk_reader import _elements_fast, _logical_lines_fast
    title, lines = (_logical_lines_fast(text, filename) if fast else None) or _logical_lines(text, filename)
    nl = Netlist(title or "untitled")
    st = State(filename, nl)
    info: dict = {"filename": filename}
    meta_js: list[str] | None = None
    meta_line = None
    top: list[Line] = []
    # 1) block structure: .subckt definitions, .control blocks, .end
    i = 0
    cur_sub: Subckt | None = None
    in_control = None
    while i < len(lines):
        ln = lines[i]
        i += 1
        if in_control is not None:
            if ln.kind == "card" and ln.text.split()[0].lower() == ".endc":
                in_control = None
            continue
        if ln.kind == "ann":
            body = ln.text[len(ANN):].lstrip()
            word, _, rest = body.partition(" ")
            word = word.lower()
            if word == "meta":
                if meta_js is not None:
                    raise st.err("second '*spu: meta' annotation", ln.lineno)
                meta_js = [rest]
                meta_line = ln.lineno
                continue
            if word == "meta+":
                if meta_js is None:
                    raise st.err("'*spu: meta+' without '*spu: meta'", ln.lineno)
                meta_js.append(rest)
                continue
            if word == "nodes":
                if cur_sub is not None:
                    raise st.err("'*spu: nodes' inside a subcircuit", ln.lineno)
                names = body.split()[1:]
                if names and NAMES_RE.fullmatch("\n".join(names) + "\n"):  # all valid: in bulk
                    nl.nodes(names)
                else:
                    for nm in names:
                        add_node(st, nm, ln.lineno)
                continue
            if word == "noise-begin":
                info["noise"] = _noise_info(body, st, ln.lineno)
                continue
            if word == "noise-end":
                continue
            if word == "n":
                (cur_sub.body if cur_sub is not None else top).append(ln)
                continue
            raise st.err(f"unknown '*spu:' annotation {body.split(None, 1)[0] if body else ''!r}", ln.lineno)
        if ln.kind == "run":  # element lines
            if cur_sub is not None:
                cur_sub.body.extend(ln.lines())
            else:
                top.append(ln)
            continue
        if ln.text[0] != ".":  # an element line (the text is stripped and non-empty)
            (cur_sub.body if cur_sub is not None else top).append(ln)
            continue
        low = ln.text.lower()
        first = low.split()[0]
        if first == ".control":
            if cur_sub is not None:
                raise st.err(".control inside a subcircuit", ln.lineno)
            in_control = ln.lineno
            continue
        if first == ".endc":
            raise st.err(".endc without .control", ln.lineno)
        if first == ".end":
            if cur_sub is not None:
                raise st.err(f".end inside subcircuit {cur_sub.name!r} (missing .ends)", ln.lineno)
            break
        if first == ".subckt":
            if cur_sub is not None:
                raise st.err("nested .subckt definitions are not supported", ln.lineno)
            cur_sub = _subckt_header(ln, st)
            continue
        if first == ".ends":
            if cur_sub is None:
                raise st.err(".ends without .subckt", ln.lineno)
            parts = ln.text.split()
            if len(parts) > 1 and parts[1].lower() != cur_sub.name:
                raise st.err(f".ends {parts[1]} closes subcircuit {cur_sub.name!r}", ln.lineno)
            if cur_sub.name in st.subckts:
                raise st.err(f"subcircuit {cur_sub.name!r} defined twice", ln.lineno)
            st.subckts[cur_sub.name] = cur_sub
            cur_sub = None
            continue
        (cur_sub.body if cur_sub is not None else top).append(ln)
    if in_control is not None:
        raise st.err(".control without .endc", in_control)
    if cur_sub is not None:
        raise st.err(f".subckt {cur_sub.name} without .ends", cur_sub.lineno)
    for name, sub in st.subckts.items():
        if name in OPAMP_CANON:
            _check_reserved(sub, st)
    # 2) global parameters and cards
    scope = Scope()
    elements = []
    for ln in top:
        if ln.kind != "card" or ln.text[0] != ".":  # annotations, element lines and runs
            elements.append(ln)
        else:
            _dot_card(ln.text.split()[0].lower(), ln, st, scope, info)
    # 3) elements (subcircuits flattened)
    if fast:
        _elements_fast(elements, st, scope)
    else:
        for ln in elements:
            _element(ln, st, scope, [], {}, 0)
    # 4) .ic for capacitors without IC=
    ic = info.get("ic")
    if ic:
        cn, cnodes, cvals, cics = st.kinds["C"]
        for k in range(len(cn)):
            if k in st.ic_given:
                continue
            p, q = cnodes[2 * k], cnodes[2 * k + 1]
            vp = 0.0 if p == 0 else ic.get(nl.node_names[p].lower())
            vq = 0.0 if q == 0 else ic.get(nl.node_names[q].lower())
            if vp is not None and vq is not None:
                cics[k] = vp - vq
    for kind, (nm, nodes, vals, ics) in st.kinds.items():
        if nm:
            try:
                nl.add_elements(kind, nm, np.asarray(nodes, dtype=np.int64).reshape(len(nm), KINDS[kind][0]),
                                vals, ics)
            except NetlistError as exc:  # pragma: no cover - values are checked per line before
                raise SpiceError(str(exc), filename) from None
    if meta_js is not None:
        try:
            meta = json.loads("".join(meta_js))
        except ValueError as exc:
            raise st.err(f"'*spu: meta' is not valid JSON ({exc})", meta_line) from None
        if not isinstance(meta, dict):
            raise st.err("'*spu: meta' must hold a JSON object", meta_line)
        nl.meta.update(meta)
    if "ic" in info:
        info["ic"] = dict(info["ic"])
    nl.meta["spice_file"] = info
    return nl


def _noise_info(body: str, st: State, lineno: int) -> dict:
    out = {}
    for tok in body.split()[1:]:
        k, sep, v = tok.partition("=")
        if not sep:
            raise st.err(f"bad noise-begin field {tok!r}", lineno)
        if k in ("seed",):
            try:
                out[k] = int(v)
            except ValueError:
                raise st.err(f"bad noise seed {v!r}", lineno) from None
        elif k in ("nt", "temperature_k"):
            x = parse_number(v)
            if x is None:
                raise st.err(f"bad noise {k} {v!r}", lineno)
            out[k] = x
        else:
            out[k] = v
    return out


def _subckt_header(ln: Line, st: State) -> Subckt:
    toks = tokenize(ln.text, st, ln.lineno)
    if len(toks) < 2:
        raise st.err(".subckt needs a name", ln.lineno)
    name = toks[1].lower()
    ports, defaults = [], []
    seen_params = False
    for t in toks[2:]:
        if t.lower() == "params:":
            seen_params = True
            continue
        if "=" in t:
            k, _, v = t.partition("=")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                raise st.err(f"bad subcircuit parameter name {k!r}", ln.lineno)
            defaults.append((k.lower(), v))
        else:
            if seen_params or defaults:
                raise st.err(f"port {t!r} after the parameters of .subckt {name}", ln.lineno)
            check_node_token(t, st, ln.lineno)
            ports.append(t)
    if len({p.lower() for p in ports}) != len(ports):
        raise st.err(f".subckt {name}: duplicate port names", ln.lineno)
    return Subckt(name, ports, defaults, [], ln.lineno)


def _check_reserved(sub: Subckt, st: State):
    (ports, params), body = OPAMP_CANON[sub.name]
    got_ports = tuple(p.lower() for p in sub.ports)
    got_params = tuple(k for k, _ in sub.defaults)
    got_body = tuple(tuple(t.lower() for t in tokenize(b.text, st, b.lineno)) for b in sub.body if b.kind == "card")
    if got_ports != ports or got_params != params or got_body != body or any(b.kind != "card" for b in sub.body):
        raise st.err(f"subcircuit name {sub.name!r} is reserved for spucircuit's op-amp model and this "
                     "definition differs from it; rename the subcircuit", sub.lineno)


_UNSUPPORTED_CARDS = {".include": "include files", ".inc": "include files", ".lib": "libraries",
                      ".func": "user functions", ".csparam": ".csparam", ".if": "conditional netlists",
                      ".else": "conditional netlists", ".elseif": "conditional netlists",
                      ".endif": "conditional netlists", ".subckt": "", ".ends": ""}


def _dot_card(first: str, ln: Line, st: State, scope: dict, info: dict):
    if first in SKIP_CARDS:
        info.setdefault("skipped", []).append(first)
        return
    if first == ".param":
        param_card(ln, st, scope, scope)
        return
    if first == ".title":
        st.nl.title = ln.text.split(None, 1)[1].strip() if len(ln.text.split(None, 1)) > 1 else ""
        return
    if first == ".global":
        for nm in ln.text.split()[1:]:
            check_node_token(nm, st, ln.lineno)
            st.globals_.add(nm.lower())
        return
    if first == ".temp":
        toks = ln.text.split()
        if len(toks) >= 2:
            info["temp_c"] = card_value(toks[1], scope, st, ln.lineno, ".temp")
        return
    if first == ".tran":
        toks = tokenize(ln.text, st, ln.lineno)[1:]
        uic = any(t.lower() == "uic" for t in toks)
        nums = [t for t in toks if t.lower() != "uic"]
        if not 2 <= len(nums) <= 4:
            raise st.err(".tran needs tstep tstop [tstart [tmax]] [uic]", ln.lineno)
        v = [card_value(t, scope, st, ln.lineno, ".tran") for t in nums]
        tstep, tstop = v[0], v[1]
        tstart = v[2] if len(v) > 2 else 0.0
        tmax = v[3] if len(v) > 3 else tstep
        if not (tstep > 0 and tmax > 0 and 0 <= tstart < tstop):
            raise st.err(".tran needs tstep > 0, tmax > 0 and 0 <= tstart < tstop", ln.lineno)
        info["tran"] = {"tstep": tstep, "tstop": tstop, "tstart": tstart, "tmax": tmax, "uic": uic}
        return
    if first == ".ic":
        ic = info.setdefault("ic", {})
        for t in tokenize(ln.text, st, ln.lineno)[1:]:
            m = re.fullmatch(r"[vV]\(([^(),=\s]+)\)=(.+)", t)
            if not m:
                raise st.err(f".ic entries are v(node)=value, got {t!r}", ln.lineno)
            node = m.group(1)
            check_node_token(node, st, ln.lineno)
            if node.lower() in ("0", "gnd"):
                raise st.err(".ic cannot set the ground node", ln.lineno)
            ic[node.lower()] = card_value(m.group(2), scope, st, ln.lineno, f".ic v({node})")
        return
    if first in _UNSUPPORTED_CARDS:
        raise st.err(f"{first} ({_UNSUPPORTED_CARDS[first] or 'here'}) is not supported", ln.lineno)
    raise st.err(f"unknown or unsupported control card {first!r}", ln.lineno)


_UNSUPPORTED_ELEMENTS = {
    "d": "diode", "q": "bipolar transistor", "m": "MOSFET", "j": "JFET", "z": "MESFET",
    "b": "behavioural source", "s": "voltage-controlled switch", "w": "current-controlled switch",
    "t": "transmission line", "o": "lossy transmission line", "u": "uniform RC line", "y": "element",
    "a": "XSPICE code model", "p": "coupled transmission line", "k": "coupled inductors (K)",
    "f": "current-controlled current source (F)", "h": "current-controlled voltage source (H)",
    "n": "element",
}
_TIME_FUNCS = ("pulse", "sin", "exp", "pwl", "sffm", "am", "trnoise", "trrandom", "pat")


def _hier(name: str, path: list) -> str:
    return name if not path else f"{name[0]}.{'.'.join(path)}.{name}"


def _map_node(tok: str, st: State, path: list, ports: dict, lineno: int) -> int:
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


def _register(st: State, kind: str, name: str, nodes, value: float, ic: float, lineno: int):
    low = name.lower()
    if low in st.names:
        raise st.err(f"duplicate element name {name!r} (first on line {st.names[low]})", lineno)
    from spucircuit.circuit.netlist import _check_values

    try:
        _check_values(kind, [name], np.array([value], dtype=float))
    except NetlistError as exc:
        raise st.err(str(exc), lineno) from None
    if not math.isfinite(ic):
        raise st.err(f"{name}: initial condition must be finite", lineno)
    if kind in "RCLVIN" and nodes[0] == nodes[1]:
        pass  # allowed here; Netlist.validate reports it
    st.names[low] = lineno
    if len(st.names) > MAX_ELEMENTS:
        raise st.err(f"more than {MAX_ELEMENTS} elements after flattening subcircuits", lineno)
    nm, nd, vals, ics = st.kinds[kind]
    nm.append(name)
    nd.extend(nodes)  # flat: KINDS[kind][0] indices per element
    vals.append(float(value))
    ics.append(float(ic))
    return len(nm) - 1


def _element(ln: Line, st: State, scope: dict, path: list, ports: dict, depth: int):
    if ln.kind == "ann":  # '*spu: N name p q psd'
        parts = ln.text[len(ANN):].split()
        if len(parts) != 5:
            raise st.err("'*spu: N' needs: N name p q psd", ln.lineno)
        _, name, p, q, psd = parts
        check_node_token(name, st, ln.lineno)
        nodes = [_map_node(p, st, path, ports, ln.lineno), _map_node(q, st, path, ports, ln.lineno)]
        v = card_value(psd, scope, st, ln.lineno, f"noise source {name}")
        _register(st, "N", _hier(name, path), nodes, v, 0.0, ln.lineno)
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
        return [_map_node(t, st, path, ports, L) for t in pos[:k]]

    if letter in "rcl":
        kind = letter.upper()
        form = f"{kind}name n+ n- value" + (" [IC=v]" if kind != "R" else "")
        need(2, form)
        allowed = {"m"} | ({"ic"} if kind in "CL" else set()) | ({"r"} if kind == "R" else set())
        no_kw(allowed)
        kwd = dict(kw)
        extra = pos[3:]
        if extra:
            raise st.err(f"{name}: unexpected field {extra[0]!r}; expected {form}", L)
        if len(pos) == 3:
            val_tok = pos[2]
        elif kind == "R" and "r" in kwd:
            val_tok = kwd["r"]
        else:
            raise st.err(f"{name}: missing value; expected {form}", L)
        nodes = nodes_of(2)
        v = card_value(val_tok, scope, st, L, f"{name} value")
        mult = card_value(kwd["m"], scope, st, L, f"{name} m") if "m" in kwd else 1.0
        if not mult > 0:
            raise st.err(f"{name}: multiplicity m must be > 0", L)
        ic = card_value(kwd["ic"], scope, st, L, f"{name} IC") if "ic" in kwd else 0.0
        if kind == "R":
            if v == 0:
                raise st.err(f"{name}: zero resistance (a short) is not supported; use a 0 V source", L)
            v = v / mult
            if v < 0:  # a negative resistor: an active conductance, a VCCS G p q p q 1/R
                _register(st, "G", _hier(name, path), nodes + nodes, 1.0 / v, 0.0, L)
                return
        elif kind == "C":
            v = v * mult
        else:
            v = v / mult
        k = _register(st, kind, _hier(name, path), nodes, v, ic, L)
        if kind == "C" and "ic" in kwd:
            st.ic_given.add(k)
        return
    if letter == "g":
        need(5, "Gname n+ n- nc+ nc- gm")
        no_kw()
        if len(pos) > 5:
            raise st.err(f"{name}: unexpected field {pos[5]!r}; only linear VCCS 'Gname n+ n- nc+ nc- gm' "
                         "is supported", L)
        nodes = nodes_of(4)
        gm = card_value(pos[4], scope, st, L, f"{name} transconductance")
        _register(st, "G", _hier(name, path), nodes, gm, 0.0, L)
        return
    if letter == "e":
        need(5, "Ename out 0 inp inn gain")
        no_kw()
        if len(pos) > 5:
            raise st.err(f"{name}: only the linear VCVS 'Ename out 0 inp inn gain' is supported", L)
        nodes = nodes_of(4)
        if nodes[1] != 0:
            raise st.err(f"{name}: a VCVS with a floating output (n- not ground) is not supported; "
                         "only 'E out 0 inp inn gain' (an op-amp) is", L)
        a0 = card_value(pos[4], scope, st, L, f"{name} gain")
        if a0 == 0:
            raise st.err(f"{name}: zero gain", L)
        inp, inn = (nodes[2], nodes[3]) if a0 > 0 else (nodes[3], nodes[2])
        _register(st, "U", _hier(name, path), [nodes[0], inp, inn], abs(a0), 0.0, L)
        return
    if letter in "vi":
        kind = letter.upper()
        need(2, f"{kind}name n+ n- [dc] value")
        nodes = nodes_of(2)
        rest = pos[2:]
        no_kw()
        dc, noise = 0.0, None
        j = 0
        seen_dc = False
        while j < len(rest):
            t = rest[j]
            tl = t.lower()
            if tl == "dc":
                if j + 1 >= len(rest):
                    raise st.err(f"{name}: 'dc' without a value", L)
                dc = card_value(rest[j + 1], scope, st, L, f"{name} dc value")
                seen_dc = True
                j += 2
            elif tl == "ac":  # small-signal spec: irrelevant to the transient circuit
                j += 1
                for _ in range(2):
                    if j < len(rest) and parse_number(rest[j]) is not None:
                        j += 1
            elif tl.startswith("trrandom") and kind == "I":
                noise = _trrandom(t, scope, st, L, name)
                j += 1
            elif tl.split("(")[0] in _TIME_FUNCS:
                raise st.err(f"{name}: time-dependent source {t.split('(')[0]!r} is not supported (the twin "
                             "takes DC sources; white noise is an N element or I ... trrandom(2 ...))", L)
            elif not seen_dc and j == 0:
                dc = card_value(t, scope, st, L, f"{name} value")
                seen_dc = True
                j += 1
            else:
                raise st.err(f"{name}: unexpected field {t!r}", L)
        hname = _hier(name, path)
        if noise is not None:
            if dc != 0:
                _register(st, "I", hname, nodes, dc, 0.0, L)
                hname = hname + ".trrandom"
            _register(st, "N", hname, nodes, noise, 0.0, L)
        else:
            _register(st, kind, hname, nodes, dc, 0.0, L)
        return
    if letter == "x":
        _instance(name, pos, kw, ln, st, scope, path, ports, depth)
        return
    what = _UNSUPPORTED_ELEMENTS.get(letter, "element")
    raise st.err(f"{name}: {what} is not supported (linear R C L G E V I, X instances only)", L)


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
        allowed = {"gain"} if sub_name == OPAMP_FINITE else set()
        for k in kwd:
            if k not in allowed:
                raise st.err(f"{name}: unknown parameter {k!r} of {sub_name}", L)
        if sub_name == OPAMP_FINITE:
            if "gain" in kwd:
                gain = card_value(kwd["gain"], scope, st, L, f"{name} gain")
            else:
                sub = st.subckts.get(sub_name)
                gain = card_value(dict(sub.defaults)["gain"], {}, st, L, f"{name} gain") if sub else 1e5
            if not gain > 0:
                raise st.err(f"{name}: op-amp gain must be > 0, got {gain!r}", L)
        else:
            gain = math.inf
        nodes = [_map_node(t, st, path, ports, L) for t in node_toks]
        uname = ".".join(path + [name[1:]]) if path else name[1:]
        if not uname:
            raise st.err(f"{name}: op-amp instance needs a name after 'X'", L)
        _register(st, "U", uname, nodes, gain, 0.0, L)
        return
    sub = st.subckts.get(sub_name)
    if sub is None:
        raise st.err(f"{name}: unknown subcircuit {pos[-1]!r}", L)
    if len(node_toks) != len(sub.ports):
        raise st.err(f"{name}: subcircuit {sub.name} has {len(sub.ports)} ports, got {len(node_toks)} nodes", L)
    actual = [_map_node(t, st, path, ports, L) for t in node_toks]
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
    body_elems = []
    for b in sub.body:
        if b.kind == "card" and b.text.split()[0].lower().startswith("."):
            first = b.text.split()[0].lower()
            if first == ".param":
                param_card(b, st, new_scope, new_scope)
            elif first in SKIP_CARDS:
                continue
            else:
                raise st.err(f"{first} is not supported inside a subcircuit", b.lineno)
        else:
            body_elems.append(b)
    for b in body_elems:
        _element(b, st, new_scope, new_path, new_ports, depth + 1)
