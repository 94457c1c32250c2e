"""SPICE import: :func:`read_spice` (a file) and :func:`parse_spice` (text) give a :class:`Netlist`.

Reads everything the writer emits plus common hand-written SPICE: numbers as ngspice 39 reads
element values (suffixes f p n u m k meg g t, also a mil; case-insensitive; the rest of the token
ignored: 1kOhm, 10uF, 2meg5 = 2meg; no RKM), ``+`` continuation lines, ``*`` comment lines, ``$ ``
and ``;`` end-of-line comments, ``.param`` with numeric expressions (``{...}`` or ``'...'``, with
ngspice numparam's operators and functions: :mod:`~spucircuit.io.spice.expressions`) and ``.func``
user functions (at the top level and inside a subcircuit, as ngspice scopes them), ``.subckt``/``.ends``
with ``X`` instances (flattened with ngspice's hierarchical names: ``R.X1.R2``, node ``X1.n3``;
subcircuit parameters), ``.global``, ``.end``, ``.tran`` and ``.ic`` (recorded in
``netlist.meta['spice_file']``; ``.ic`` sets the initial voltage of a capacitor without ``IC=``
whose terminals both have one), ``.options``/``.control``...``.endc``/``.save``/``.print``/
``.plot``/``.probe``/``.meas``/``.nodeset``/``.temp`` and the analysis cards ``.op``
``.four`` ``.disto`` (deliberately skipped: they do not change the circuit); ``.ac``,
``.noise``, ``.sp``, ``.sens``, ``.dc``, ``.tf``, ``.pz`` and the sources' ``AC mag [phase]`` are recorded
(:mod:`~spucircuit.io.spice.analyses`), ``DISTOF1``/``DISTOF2`` kept in ``netlist.meta['distof']``;
``.model mname R ...`` resistor models are read (other model types are kept by name) by
:mod:`~spucircuit.io.spice.resistor_cards`. Conversions: a negative resistor becomes a VCCS ``G p q p q 1/R``
(noise-free, as it is active); ``E out 0 inp inn A0`` becomes an op-amp (inputs swapped for A0 < 0);
``I p q dc 0 trrandom(2 NT 0 sigma 0)`` becomes a white noise source of PSD 2 NT sigma^2. ``.include``
files and ``.lib`` sections are read in place first (:mod:`~spucircuit.io.spice.includes`). Anything else (nonlinear devices,
values that depend on ``v(...)`` or ``i(...)``...) raises :class:`~spucircuit.errors.SpiceError` naming the file, the
line and the problem. The reader never raises any other exception type.

Speed: runs of plain element lines (the forms the writer emits) are read in bulk, a few list
operations per run rather than a tokenizer per line (~1-2 us per element); anything else is read
line by line, and on any error or doubt the whole text is read again line by line, so results
and error messages are those of the line-by-line reader (:func:`parse_once` is one such reading,
without the fallback).

This module holds the logical lines (``+`` continuations, comments, the skipped noise block), the
block structure (``.subckt``/``.ends``, ``.control``/``.endc``, ``.end``, ``*spu:`` annotations)
and the dot cards; element cards are read by :mod:`~spucircuit.io.spice.elements`, runs of plain
element lines by :mod:`~spucircuit.io.spice.bulk_reader`.
"""
from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np

from spucircuit._util.quantities import parse_number
from spucircuit.circuit.netlist import KINDS, Netlist
from spucircuit.circuit.source_lines import SourceLines
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice._cards import (
    ANN,
    MAX_ELEMENTS,
    NAMES_RE,
    OPAMP_CANON,
    SKIP_CARDS,
    Line,
    Scope,
    State,
    Subckt,
    add_node,
    card_value,
    check_node_token,
    func_cards,
    ic_entry,
    param_card,
    strip_comment,
    tokenize,
)
from spucircuit.io.spice.analyses import (
    ac_card,
    ac_specs,
    dc_card,
    noise_card,
    pz_card,
    sens_card,
    sp_card,
    tf_card,
)
from spucircuit.io.spice.bulk_reader import logical_lines_bulk, read_elements_bulk
from spucircuit.io.spice.controlled import check_refs
from spucircuit.io.spice.elements import element
from spucircuit.io.spice.elements import register as register_element
from spucircuit.io.spice.includes import expand_includes
from spucircuit.io.spice.ports import finish_ports, port_meta
from spucircuit.io.spice.resistor_cards import model_card

__all__ = ["read_spice", "parse_spice", "parse_once"]


def read_spice(path, *, max_elements: int = MAX_ELEMENTS) -> Netlist:
    """Read a SPICE netlist file into a :class:`Netlist` (see the module docstring for the subset).

    ``max_elements`` bounds the elements after flattening subcircuits: the count is computed from
    the definitions before anything is flattened, so a small file of nested ``.subckt`` cards that
    would expand to billions of elements is refused at once, with its count."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise SpiceError(f"read_spice needs a file path, got {type(path).__name__}", "<none>")
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
    return parse_spice(text, fname, max_elements=max_elements)


def parse_spice(text: str, filename: str = "<string>", *, bulk: bool = True,
                max_elements: int = MAX_ELEMENTS) -> Netlist:
    """Parse SPICE netlist text (see :func:`read_spice`).

    ``bulk`` (default) reads runs of plain element lines in bulk and, on any doubt, the whole text
    again line by line; ``bulk=False`` reads line by line only (the reference reader). Both give
    the same Netlist or the same error. ``max_elements``: see :func:`read_spice`.
    """
    if isinstance(max_elements, bool) or not isinstance(max_elements, (int, np.integer)) or max_elements < 1:
        raise SpiceError(f"max_elements must be an integer >= 1, got {max_elements!r}", str(filename))
    text, filename = str(text), str(filename)
    origin = None
    try:
        text, origin = expand_includes(text, filename)  # .include: the other files' lines in place
        if origin is None:
            nl = _parse(text, filename, bulk, int(max_elements))
        else:  # the reader's warnings name lines of the expanded text: re-issued at the file and line they are
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                nl = _parse(text, filename, bulk, int(max_elements))
            _reissue(caught, filename, origin)
    except SpiceError as exc:
        if origin is None or exc.lineno is None:
            raise
        where, line = origin.where(exc.lineno)  # a line of the expanded text: the file and line it came from
        raise SpiceError(exc.reason, where or exc.filename, line) from None
    except RecursionError:
        raise SpiceError("netlist nests too deeply", filename) from None
    except NetlistError as exc:
        raise SpiceError(str(exc), filename) from None
    if origin is not None:
        info = nl.meta.get("spice_file")
        info["origin"] = origin
        if isinstance(info.get("lines"), SourceLines):
            info["lines"].origin = origin
    return nl


def _reissue(caught, filename: str, origin) -> None:
    """Warnings caught while reading an expanded text, with 'file:line: ' mapped through ``origin``."""
    head = re.escape(filename) + r":(\d+): "
    seen = set()
    for w in caught:
        msg = str(w.message)
        m = re.match(head, msg)
        if m:
            where, line = origin.where(int(m.group(1)))
            msg = f"{where or filename}:{line}: {msg[m.end():]}"
        if (msg, w.category) not in seen:  # the bulk reader's fallback reads a text twice
            seen.add((msg, w.category))
            warnings.warn(msg, w.category, stacklevel=3)


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


def _parse(text: str, filename: str, bulk: bool = True, max_elements: int = MAX_ELEMENTS) -> Netlist:
    """Parse ``text``. ``bulk`` reads plain top-level element lines in bulk (:func:`read_elements_bulk`);
    on anything it does not vouch for (an error, an unusual construct) the whole text is parsed
    again line by line (``bulk=False``, the reference reader), so results and error messages are
    those of the line-by-line reader."""
    if bulk:
        try:
            return parse_once(text, filename, bulk=True, max_elements=max_elements)
        except Exception:  # noqa: BLE001 - re-parsed below; that run raises the exact error
            pass
    return parse_once(text, filename, bulk=False, max_elements=max_elements)


def parse_once(text: str, filename: str, *, bulk: bool, max_elements: int = MAX_ELEMENTS) -> Netlist:
    """One reading of ``text``, without the fallback of :func:`parse_spice`: ``bulk=True`` reads
    runs of plain element lines with the bulk reader and may raise any exception on what it does
    not vouch for; ``bulk=False`` is the line-by-line reference reader."""
    title, lines = (logical_lines_bulk(text, filename) if bulk else None) or _logical_lines(text, filename)
    nl = Netlist(title or "untitled")
    st = State(filename, nl, max_elements=max_elements)
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
    _check_expanded_size(top, st)
    # 2) global parameters and cards
    scope = Scope()
    func_cards(top, st, scope)  # user functions first: ngspice expands them before anything is evaluated
    elements = []
    for ln in top:
        if ln.kind != "card" or ln.text[0] != ".":  # annotations, element lines and runs
            elements.append(ln)
        elif ln.text.split()[0].lower() != ".func":
            _dot_card(ln.text.split()[0].lower(), ln, st, scope, info)
    # 3) elements (subcircuits flattened)
    if bulk:
        read_elements_bulk(elements, st, scope)
    else:
        for ln in elements:
            element(ln, st, scope, [], {}, 0)
    finish_ports(st, register_element)  # RF ports: numbering, their series z0 (io.spice.ports)
    # 4) .ic for capacitors without IC= (top-level cards, then those of subcircuit instances)
    if st.sub_ic:
        info.setdefault("ic", {}).update(st.sub_ic)
    ic = info.get("ic")
    if ic:
        known = {nm.lower() for nm in nl.node_names}
        for node, lineno in st.ic_lines.items():
            if node not in known:
                raise st.err(f".ic sets v({node}) but the netlist has no node {node!r}", lineno)
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
                                vals, ics, refs=st.refs[kind] if kind in st.refs else None)
            except NetlistError as exc:  # pragma: no cover - values are checked per line before
                raise SpiceError(str(exc), filename) from None
    check_refs(st)
    if meta_js is not None:
        try:
            meta = json.loads("".join(meta_js))
        except ValueError as exc:
            raise st.err(f"'*spu: meta' is not valid JSON ({exc})", meta_line) from None
        if not isinstance(meta, dict):
            raise st.err("'*spu: meta' must hold a JSON object", meta_line)
        for key, val in meta.items():
            cur = nl.meta.get(key)
            if key in ("ac", "noiseless") and isinstance(cur, dict) and isinstance(val, dict):
                for sub, entries in val.items():  # the cards' entries (AC, ac=, noisy=0) and the annotation's
                    have = cur.get(sub)
                    if isinstance(have, dict) and isinstance(entries, dict):
                        cur[sub] = {**entries, **have}
                    elif isinstance(have, list) and isinstance(entries, list):
                        cur[sub] = entries + [e for e in have if e not in entries]
                    else:
                        cur[sub] = entries if have is None else have
            else:
                nl.meta[key] = val
        port_meta(st)  # RF ports as the cards say (io.spice.ports)
    if "ic" in info:
        info["ic"] = dict(info["ic"])
    if st.ac_specs:
        info["ac_sources"] = ac_specs(st)
    if st.rf_drive:
        info["rf_drive"] = dict(st.rf_drive)
    # element -> line, for the errors raised after the parse (spucircuit.circuit.source_lines)
    info["lines"] = SourceLines(filename, nl, st.lines, st.instances)
    nl.meta["spice_file"] = info
    return nl


def _check_expanded_size(top: list, st: State) -> None:
    """Refuse, before flattening, a netlist whose subcircuits expand past ``st.max_elements``.

    The count multiplies out the definitions (an X line counts as its subcircuit's own count; every
    other element line as one), memoised per subcircuit: O(lines) however large the expansion. A
    subcircuit that instantiates itself, directly or not, is refused here too (SPICE refuses it)."""
    counts: dict = {}
    open_: list = []

    def count(lines) -> int:
        total = 0
        for ln in lines:
            for text, lineno in (zip(ln.texts, ln.linenos) if ln.kind == "run" else ((ln.text, ln.lineno),)):
                total += inst(text, lineno) if text[:1] in "xX" else 1
        return total

    def inst(text: str, lineno: int) -> int:
        sub = next((st.subckts[t] for t in reversed(text.lower().split()) if t in st.subckts), None)
        if sub is None:  # an op-amp, or an unknown name (reported when the line is read)
            return 1
        if sub.name in open_:
            chain = " -> ".join(open_[open_.index(sub.name):] + [sub.name])
            raise st.err(f"subcircuit {sub.name!r} instantiates itself ({chain}): recursive definitions are "
                         "not allowed", lineno)
        if sub.name not in counts:
            open_.append(sub.name)
            counts[sub.name] = count(sub.body)
            open_.pop()
        return counts[sub.name]

    total = count(top)
    if total > st.max_elements:
        big = max(counts, key=counts.get) if counts else None
        where = f" (one instance of subcircuit {big!r} alone has {counts[big]:,})" if big else ""
        raise st.err(f"the netlist expands to {total:,} elements after flattening subcircuits{where}, above the "
                     f"limit of {st.max_elements:,}: raise it with --max-elements (read_spice(max_elements=)) "
                     "if this is intended", None)


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


_UNSUPPORTED_CARDS = {
                      ".csparam": ".csparam", ".if": "conditional netlists",
                      ".else": "conditional netlists", ".elseif": "conditional netlists",
                      ".endif": "conditional netlists", ".subckt": "", ".ends": ""}


def _dot_card(first: str, ln: Line, st: State, scope: dict, info: dict):
    if first in (".ac", ".noise", ".sp"):  # small-signal analyses: recorded (spucircuit.io.spice.analyses)
        {".ac": ac_card, ".noise": noise_card, ".sp": sp_card}[first](ln, st, scope, info)
        return
    if first in (".sens", ".dc", ".tf", ".pz"):  # recorded; statespace.sensitivity/dc_sweep/transfer/polezero run them
        {".sens": sens_card, ".dc": dc_card, ".tf": tf_card, ".pz": pz_card}[first](ln, st, scope, info)
        return
    if first == ".model":  # resistor models are read (io.spice.resistor_cards); others kept by name
        model_card(ln, st, scope, st.models)
        return
    if first in (".options", ".option", ".opt") and "scale" in ln.text.lower():  # only scale= changes a
        for t in tokenize(ln.text, st, ln.lineno)[1:]:  # linear circuit (resistor l= and w=)
            k, sep, v = t.partition("=")
            if sep and k.lower() == "scale":
                st.options_scale = card_value(v, scope, st, ln.lineno, ".options scale")
                if not (np.isfinite(st.options_scale) and st.options_scale > 0):
                    raise st.err(".options scale must be finite and > 0", ln.lineno)
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
            st.temp_c = info["temp_c"]
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
        info["tran"] = {"tstep": tstep, "tstop": tstop, "tstart": tstart, "tmax": tmax, "uic": uic,
                        "tmax_given": len(v) > 3}
        return
    if first == ".ic":
        ic = info.setdefault("ic", {})
        for t in tokenize(ln.text, st, ln.lineno)[1:]:
            node, value = ic_entry(t, st, ln.lineno)
            ic[node.lower()] = card_value(value, scope, st, ln.lineno, f".ic v({node})")
            st.ic_lines.setdefault(node.lower(), ln.lineno)
        return
    if first in _UNSUPPORTED_CARDS:
        raise st.err(f"{first} ({_UNSUPPORTED_CARDS[first] or 'here'}) is not supported", ln.lineno)
    raise st.err(f"unknown or unsupported control card {first!r}", ln.lineno)


