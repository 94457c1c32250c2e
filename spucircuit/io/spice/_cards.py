"""Shared state and card helpers of the SPICE reader (private to :mod:`spucircuit.io.spice`).

Everything here is used by more than one of :mod:`~spucircuit.io.spice.reader` (logical lines,
dot cards), :mod:`~spucircuit.io.spice.elements` (element cards, subcircuit instances) and
:mod:`~spucircuit.io.spice.bulk_reader` (runs of plain element lines), plus the op-amp
subcircuits that :mod:`~spucircuit.io.spice.writer` emits and the reader recognises:

* the op-amp models (:data:`OPAMP_IDEAL`, :data:`OPAMP_FINITE`, :data:`OPAMP_RAIL`; the text written, the canonical
  tokens checked), name patterns, the ``*spu:`` annotation prefix and the element limit;
* the parser state: :class:`Line` (a logical line), :class:`Subckt`, :class:`State` (the
  elements read so far, per kind) and :class:`Scope` (``.param`` values);
* the helpers each card reader needs: end-of-line comments, the tokenizer, node and value
  checks that raise :class:`~spucircuit.errors.SpiceError` with the line, ``.param`` and ``.func`` cards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from spucircuit.circuit.netlist import KINDS, Netlist
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice.expressions import (
    FUNC_PREFIX,
    FUNCTIONS,
    UserFunction,
    parse_value,
)

# --------------------------------------------------------------------------- op-amp models
OPAMP_IDEAL = "spu_opamp_ideal"
OPAMP_FINITE = "spu_opamp"
OPAMP_RAIL = "spu_opamp_rail"
RAIL_GAIN = 1e7  # the gain an ideal op-amp with rails is written with (no exact SPICE form)
OPAMP_DEFS = {
    OPAMP_IDEAL: (
        "* ideal op-amp = nullor (exact): Vnull forces V(inp) = V(inn); Fin returns its current so\n"
        "* the inputs draw none; Fout delivers the same free current at the output.\n"
        f".subckt {OPAMP_IDEAL} out inp inn\n"
        "Vnull inp inn dc 0\n"
        "Fin inn inp Vnull 1\n"
        "Fout 0 out Vnull 1\n"
        f".ends {OPAMP_IDEAL}\n"
    ),
    OPAMP_FINITE: (
        "* finite-gain op-amp: V(out) = gain (V(inp) - V(inn)), a VCVS to ground (exact model)\n"
        f".subckt {OPAMP_FINITE} out inp inn gain=100000.0\n"
        "Eamp out 0 inp inn {gain}\n"
        f".ends {OPAMP_FINITE}\n"
    ),
    OPAMP_RAIL: (
        "* op-amp with output rails: V(out) = clip(gain (V(inp) - V(inn)), -rail, rail), a behavioural\n"
        "* source (ideal op-amps are written with a gain of 1e7: the twin's ideal op-amp to ~1e-7)\n"
        f".subckt {OPAMP_RAIL} out inp inn gain=10000000.0 rail=2.5\n"
        "Bamp out 0 V = max(-{rail}, min({rail}, {gain}*(V(inp)-V(inn))))\n"
        f".ends {OPAMP_RAIL}\n"
    ),
}
# canonical bodies (lower-case tokens) the reader checks a reserved definition against
OPAMP_CANON = {
    OPAMP_IDEAL: ((("out", "inp", "inn"), ()),
                  (("vnull", "inp", "inn", "dc", "0"), ("fin", "inn", "inp", "vnull", "1"),
                   ("fout", "0", "out", "vnull", "1"))),
    OPAMP_FINITE: ((("out", "inp", "inn"), ("gain",)), (("eamp", "out", "0", "inp", "inn", "{gain}"),)),
    OPAMP_RAIL: ((("out", "inp", "inn"), ("gain", "rail")),
                 (("bamp", "out", "0", "v=max(-{rail}, min({rail}, {gain}*(v(inp)-v(inn))))"),)),
}


# --------------------------------------------------------------------------- names and limits
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:#\[\]<>!/|+\-]*\Z")
NAMES_RE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.:#\[\]<>!/|+\-]*\n)*")  # a run of valid names, one per line
ANN = "*spu:"  # comment lines spucircuit writes and reads (ngspice ignores them)
MAX_ELEMENTS = 1_000_000  # default limit after flattening subcircuits (read_spice(max_elements=), --max-elements)
# dot cards read and skipped: they do not change the circuit (recorded in meta['spice_file'])
SKIP_CARDS = {".options", ".option", ".opt", ".save", ".print", ".plot", ".probe", ".meas", ".measure",
              ".nodeset", ".op", ".ac", ".dc", ".noise", ".tf", ".sens", ".four",
              ".disto", ".width"}


# --------------------------------------------------------------------------- parser state
@dataclass(slots=True)
class Line:
    """A logical line: a card with its '+' continuations joined, or a '*spu:' annotation."""

    text: str
    lineno: int
    kind: str = "card"  # 'card' | 'ann' (a '*spu:' annotation)


@dataclass
class Subckt:
    """A .subckt definition, its body kept as lines (flattened at each X instance)."""

    name: str
    ports: list
    defaults: list  # [(name, value text)]
    body: list  # Line
    lineno: int


@dataclass
class State:
    """What one parse has read so far: elements per kind as flat lists (names, nodes, values, ICs)."""

    filename: str
    nl: Netlist
    kinds: dict = field(default_factory=lambda: {k: ([], [], [], []) for k in KINDS})
    names: dict = field(default_factory=dict)  # lower-case name -> line
    lines: dict = field(default_factory=lambda: {k: [] for k in KINDS})  # kind -> each element's line (kinds' order)
    instances: dict = field(default_factory=dict)  # lower-case subcircuit instance path (x1.x2) -> its line
    subckts: dict = field(default_factory=dict)
    globals_: set = field(default_factory=set)
    ic_given: set = field(default_factory=set)  # capacitor indices (in kinds['C']) with IC=
    ic_lines: dict = field(default_factory=dict)  # lower-case .ic node -> line
    sub_ic: dict = field(default_factory=dict)  # lower-case hierarchical node -> V, from .ic in subcircuits
    temp_c: float = 27.0  # the circuit temperature (.temp), C
    refs: dict = field(default_factory=dict)  # kind -> per element, the names F/H (source) and K (inductors) name
    ac_specs: dict = field(default_factory=dict)  # source name -> [AC magnitude, phase deg] (io.spice.analyses)
    ports: dict = field(default_factory=dict)  # RF port source name -> (line, n+, internal node, record) (io.spice.ports)
    rf_drive: dict = field(default_factory=dict)  # RF port with pwr/freq -> {'line', 'dc_given'} (io.spice.ports)
    options_scale: float = 1.0  # .options scale=: ngspice multiplies a resistor's l= and w= by it (resparam.c)
    models: dict = field(default_factory=dict)  # lower-case .model name -> (params or None, line, type)
    local_models: list = field(default_factory=list)  # the .model cards of the subcircuit instances being read
    max_elements: int = MAX_ELEMENTS  # checked on the estimate before flattening, and as elements are added

    def err(self, msg, lineno):
        return SpiceError(msg, self.filename, lineno)


class Scope(dict):
    """Parameter values in scope: lower-case name -> float."""


# --------------------------------------------------------------------------- card helpers
def strip_comment(s: str) -> str:
    """``s`` without its end-of-line comment."""
    # ';' anywhere, '$' at the start or after whitespace, start an end-of-line comment
    cut = len(s)
    i = s.find(";")
    if i >= 0:
        cut = i
    for m in re.finditer(r"(?:^|\s)\$", s):
        cut = min(cut, m.end() - 1)
        break
    return s[:cut]


_OPEN = {"{": "}", "(": ")", "'": "'", '"': '"'}


def tokenize(s: str, st: State, lineno: int) -> list[str]:
    """Fields of a card: split at blanks and commas, but not inside braces, parentheses or quotes."""
    toks, cur, stack = [], [], []
    for ch in s:
        if stack:
            cur.append(ch)
            top = stack[-1]
            if ch == _OPEN[top]:
                stack.pop()
            elif top not in "'\"" and ch in "{(":
                stack.append(ch)
            continue
        if ch.isspace() or ch == ",":
            if cur:
                toks.append("".join(cur))
                cur = []
            continue
        if ch in _OPEN:
            stack.append(ch)
            cur.append(ch)
            continue
        if ch in ")}":
            raise st.err(f"unbalanced {ch!r}", lineno)
        cur.append(ch)
    if stack:
        raise st.err(f"unbalanced {stack[-1]!r}: missing {_OPEN[stack[-1]]!r}", lineno)
    if cur:
        toks.append("".join(cur))
    # join 'a = b', 'a= b', 'a =b' and 'func (args)'
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "=" or t.startswith("="):
            if not out:
                raise st.err("'=' without a parameter name", lineno)
            rest = t[1:]
            if not rest:
                if i + 1 >= len(toks):
                    raise st.err(f"'{out[-1]}=' without a value", lineno)
                rest = toks[i + 1]
                i += 1
            out[-1] = out[-1] + "=" + rest
        elif t.endswith("=") and "=" not in t[:-1] and i + 1 < len(toks):
            out.append(t + toks[i + 1])
            i += 1
        elif t.startswith("(") and out and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", out[-1]):
            out[-1] = out[-1] + t
        else:
            out.append(t)
        i += 1
    return out


def ic_entry(t: str, st: State, lineno: int) -> tuple[str, str]:
    """One ``v(node)=value`` entry of an ``.ic`` card: (node as written, value text); the ground node
    and other spellings are errors at ``lineno``."""
    m = re.fullmatch(r"[vV]\(([^(),=\s]+)\)=(.+)", t)
    if not m:
        raise st.err(f".ic entries are v(node)=value, got {t!r}", lineno)
    node = m.group(1)
    check_node_token(node, st, lineno)
    if node.lower() in ("0", "gnd"):
        raise st.err(".ic cannot set the ground node", lineno)
    return node, m.group(2)


def check_node_token(t: str, st: State, lineno: int):
    if not NAME_RE.match(t):
        raise st.err(f"invalid node name {t!r}", lineno)


def add_node(st: State, name: str, lineno: int) -> int:
    """Index of node ``name`` (made if new)."""
    check_node_token(name, st, lineno)
    try:
        return st.nl.node(name)
    except NetlistError as exc:  # pragma: no cover - the name check above is stricter
        raise st.err(str(exc), lineno) from None


def card_value(tok: str, scope: dict, st: State, lineno: int, what: str) -> float:
    """:func:`parse_value`, its ValueError raised as a SpiceError naming ``what`` and the line."""
    try:
        return parse_value(tok, scope)
    except ValueError as exc:
        raise st.err(f"{what}: {exc}", lineno) from None


def param_card(ln: Line, st: State, scope: dict, target: dict):
    """A ``.param name=value ...`` card: each value, evaluated in ``scope``, is stored in ``target``."""
    toks = tokenize(ln.text, st, ln.lineno)[1:]
    if not toks:
        raise st.err(".param needs name=value", ln.lineno)
    for t in toks:
        k, sep, v = t.partition("=")
        if not sep or not v:
            raise st.err(f".param entries are name=value, got {t!r}", ln.lineno)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            raise st.err(f"bad parameter name {k!r}", ln.lineno)
        if k.lower() in FUNCTIONS or k.lower() in ("params",):
            raise st.err(f"parameter name {k!r} is reserved", ln.lineno)
        vv = v.strip()
        if not (vv.startswith(("{", "'"))):
            vv = "{" + vv + "}"
        target[k.lower()] = card_value(vv, scope, st, ln.lineno, f".param {k}")


_FUNC_RE = re.compile(r"\.func\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)\s*=?\s*(.*)\Z", re.I | re.S)
_FUNC_FORM = ".func name(arg, ...) {expression}"


def func_cards(lines: list, st: State, scope: dict) -> None:
    """The ``.func`` cards among ``lines`` (one subcircuit level), put in ``scope`` before anything at that
    level is evaluated, as ngspice grabs them (``inpcom.c``: ``inp_grab_func``); they shadow functions of an
    enclosing level of the same name. Errors (form, names, a name defined twice at one level) name the line."""
    seen: dict = {}
    for ln in lines:
        if ln.kind != "card" or not ln.text.lower().startswith(".func"):
            continue
        m = _FUNC_RE.match(ln.text.strip())
        if not m or ln.text.split()[0].lower() != ".func":
            raise st.err(f"bad .func card; expected {_FUNC_FORM}", ln.lineno)
        name, params, body = m.group(1).lower(), m.group(2).strip(), m.group(3).strip()
        plist = [q.strip().lower() for q in params.split(",")] if params else []
        for q in plist:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", q):
                raise st.err(f".func {name}: bad argument name {q!r}; expected {_FUNC_FORM}", ln.lineno)
        if len(set(plist)) != len(plist):
            raise st.err(f".func {name}: an argument name is repeated", ln.lineno)
        if name in FUNCTIONS or name in ("v", "i", "pi", "params"):
            raise st.err(f".func {name}: the name is reserved (a built-in function or v/i)", ln.lineno)
        if name in seen:
            raise st.err(f".func {name} is defined twice (first on line {seen[name]})", ln.lineno)
        if len(body) >= 2 and ((body[0], body[-1]) in (("{", "}"), ("'", "'"))):
            body = body[1:-1].strip()
        if not body:
            raise st.err(f".func {name}: empty body; expected {_FUNC_FORM}", ln.lineno)
        seen[name] = ln.lineno
        scope[FUNC_PREFIX + name] = UserFunction(name, tuple(plist), body, ln.lineno)
