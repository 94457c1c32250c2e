"""SPICE cards of the linear controlled sources and couplings: E (floating VCVS), F, H and K.

    Ename n+ n- nc+ nc- gain       V(n+) - V(n-) = gain (V(nc+) - V(nc-))   (n- not ground; a grounded
                                   output stays the op-amp of :mod:`~spucircuit.io.spice.elements`)
    Fname n+ n- vname gain         I(n+ -> n-) = gain I(vname)   (CCCS)
    Hname n+ n- vname transres     V(n+) - V(n-) = transres I(vname)   (CCVS)
    Kname Lname1 Lname2 k          M = k sqrt(L1 L2), 0 <= |k| <= 1 (k = 0: no coupling)

I(vname) is the current through the voltage source vname, into its + terminal (SPICE's sign). Inside
a subcircuit the referred names get the instance's hierarchical names (``V.X1.vs``), as ngspice's.
The referred elements may come later in the file: :func:`check_refs` resolves them once all are read.

The one-dimensional POLY form is linear up to an offset and is read too (SPICE2's rule: a single
coefficient is the gain p1, with p0 = 0; coefficients of order 2 and up must be 0):

    Ename n+ n- POLY(1) nc+ nc- p0 p1     V = p0 + p1 V(nc+, nc-): an E of gain p1 in series with a
                                          V source p0 (named ``V<Ename>.offset``, internal node
                                          ``<Ename>.offset``)
    Gname n+ n- POLY(1) nc+ nc- p0 p1     I = p0 + p1 V(nc+, nc-): a G of gain p1 and an I source p0
    Fname n+ n- POLY(1) vname p0 p1       I = p0 + p1 I(vname): an F and an I source p0
    Hname n+ n- POLY(1) vname p0 p1       V = p0 + p1 I(vname): an H in series with a V source p0
"""
from __future__ import annotations

import re

from spucircuit.circuit.netlist import KINDS, REF_KINDS
from spucircuit.errors import NetlistError

__all__ = ["controlled", "check_refs", "is_poly"]

_POLY = re.compile(r"(?i)poly\(\s*([0-9]+)\s*\)\Z")


def is_poly(pos) -> bool:
    """Whether the fields after the name (``pos``) are a POLY form (``POLY(1)`` or ``POLY (1)``)."""
    return len(pos) > 2 and (_POLY.match(pos[2]) is not None or pos[2].lower() == "poly")


def _poly(letter, name, pos, st, scope, L, card_value):
    """(control fields, p0, p1) of a POLY(1) card; errors for other dimensions and nonlinear terms."""
    rest = pos[2:]
    if rest[0].lower() == "poly":  # 'POLY (1)': two fields
        if len(rest) < 2 or not re.fullmatch(r"\(\s*[0-9]+\s*\)", rest[1]):
            raise st.err(f"{name}: POLY needs its dimension, POLY(1)", L)
        rest = ["poly" + rest[1]] + rest[2:]
    dim = int(_POLY.match(rest[0]).group(1))
    if dim != 1:
        raise st.err(f"{name}: POLY({dim}) is not supported (a linear circuit takes POLY(1) with p0 and p1 only)", L)
    nctl = 2 if letter in "eg" else 1
    ctl, coef = rest[1:1 + nctl], rest[1 + nctl:]
    if len(ctl) < nctl or not coef:
        raise st.err(f"{name}: POLY(1) needs {'nc+ nc-' if nctl == 2 else 'vname'} and coefficients p0 p1", L)
    c = [card_value(x, scope, st, L, f"{name} POLY coefficient") for x in coef]
    if len(c) == 1:  # SPICE2: a single coefficient is the linear term
        c = [0.0, c[0]]
    if any(x != 0 for x in c[2:]):
        raise st.err(f"{name}: POLY(1) with non-zero coefficients of order 2 and up is nonlinear: not supported", L)
    return ctl, c[0], c[1]

_FORMS = {
    "e": "Ename n+ n- nc+ nc- gain",
    "f": "Fname n+ n- vname gain",
    "h": "Hname n+ n- vname transresistance",
    "k": "Kname Lname1 Lname2 k",
}


def controlled(letter, name, pos, kw, st, scope, path, L, map_nodes, register, hier, card_value, add_node):
    """Read one E (floating output), F, H, K or POLY(1) E/G/F/H card (helpers passed in by the element
    reader; ``map_nodes(tokens)`` gives the node indices of node names)."""

    def nodes_of(k):
        return map_nodes(pos[:k])

    if letter in "efgh" and is_poly(pos):
        if kw:
            raise st.err(f"{name}: parameter {kw[0][0]!r} is not supported with POLY(1)", L)
        ctl, p0, p1 = _poly(letter, name, pos, st, scope, L, card_value)
        _poly_elements(letter, name, ctl, p0, p1, st, path, L, map_nodes(pos[:2]), map_nodes, register, hier,
                       add_node)
        return
    form = _FORMS[letter]
    if kw:
        raise st.err(f"{name}: parameter {kw[0][0]!r} is not supported; expected {form}", L)
    want = 5 if letter == "e" else 4 if letter in "fh" else 3
    if len(pos) < want:
        raise st.err(f"{name}: too few fields; expected {form}", L)
    if len(pos) > want:
        what = ("only the linear forms are supported (no POLY, VALUE or TABLE)" if letter in "efh"
                else "one coupling per K card")
        raise st.err(f"{name}: unexpected field {pos[want]!r}; {what}: {form}", L)
    kind = letter.upper()
    value = card_value(pos[want - 1], scope, st, L, f"{name} {'k' if kind == 'K' else 'gain'}")
    if kind == "E":
        idx = register(st, "E", hier(name, path), nodes_of(4), value, 0.0, L)
        return idx
    if kind == "K":
        refs = (hier(pos[0], path), hier(pos[1], path))
        for r, tok in zip(refs, pos[:2]):
            if tok[:1].lower() != "l":
                raise st.err(f"{name}: {tok!r} is not an inductor name (K couples two inductors L...)", L)
        nodes = []
    else:
        if pos[2][:1].lower() != "v":
            raise st.err(f"{name}: the controlling element {pos[2]!r} must be a voltage source (V...)", L)
        refs = (hier(pos[2], path),)
        nodes = nodes_of(2)
    register(st, kind, hier(name, path), nodes, value, 0.0, L)
    st.refs.setdefault(kind, []).append(refs)


def _poly_elements(letter, name, ctl, p0, p1, st, path, L, pq, map_nodes, register, hier, add_node):
    """The elements of a POLY(1) source: the linear part (gain p1) and the offset p0 (module docstring)."""
    hname = hier(name, path)
    p, q = pq
    if letter in "eg":
        ctl_nodes = map_nodes(ctl)
    else:
        if ctl[0][:1].lower() != "v":
            raise st.err(f"{name}: the controlling element {ctl[0]!r} must be a voltage source (V...)", L)
        ref = (hier(ctl[0], path),)
    kind = letter.upper()
    if letter in "gf":  # currents add: the linear source and a current source p0, side by side
        if p1 != 0:
            register(st, kind, hname, [p, q] + (ctl_nodes if letter == "g" else []), p1, 0.0, L)
            if letter == "f":
                st.refs.setdefault("F", []).append(ref)
        if p0 != 0 or p1 == 0:
            register(st, "I", "I" + hname + ".offset", [p, q], p0, 0.0, L)
        return
    # voltages add: the linear source from p to an internal node, the offset source from there to q
    mid = q
    if p1 != 0 and p0 != 0:
        mid = add_node(st, hname + ".offset", L)
    if p1 != 0:
        register(st, kind, hname, [p, mid] + (ctl_nodes if letter == "e" else []), p1, 0.0, L)
        if letter == "h":
            st.refs.setdefault("H", []).append(ref)
    if p0 != 0 or p1 == 0:
        register(st, "V", "V" + hname + ".offset", [p if p1 == 0 else mid, q], p0, 0.0, L)


def check_refs(st) -> None:
    """Every F/H controlling source and K inductor exists and is of the right kind (error at its line)."""
    nl = st.nl
    for kind in REF_KINDS:
        for nm in nl.tables[kind].names:
            line = st.names.get(nm.lower())
            for want, r in zip(REF_KINDS[kind], nl.refs[nm.lower()]):
                try:
                    k, _ = nl.find(r)
                except NetlistError:
                    raise st.err(f"{nm}: {KINDS[want][1]} {r!r} is not in the netlist", line) from None
                if k != want:
                    raise st.err(f"{nm}: {r!r} is a {KINDS[k][1]}, not a {KINDS[want][1]}", line)
