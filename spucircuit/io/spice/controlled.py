"""SPICE cards of the linear controlled sources and couplings: E (floating VCVS), F, H and K.

    Ename n+ n- nc+ nc- gain       V(n+) - V(n-) = gain (V(nc+) - V(nc-))   (n- not ground; a grounded
                                   output stays the op-amp of :mod:`~spucircuit.io.spice.elements`)
    Fname n+ n- vname gain         I(n+ -> n-) = gain I(vname)   (CCCS)
    Hname n+ n- vname transres     V(n+) - V(n-) = transres I(vname)   (CCVS)
    Kname Lname1 Lname2 k          M = k sqrt(L1 L2), 0 <= |k| <= 1 (k = 0: no coupling)

I(vname) is the current through the voltage source vname, into its + terminal (SPICE's sign). Inside
a subcircuit the referred names get the instance's hierarchical names (``V.X1.vs``), as ngspice's.
The referred elements may come later in the file: :func:`check_refs` resolves them once all are read.

The POLY(n) form is linear when its coefficients of order 2 and up are 0, and is read then (SPICE2's
rule: POLY(1) with a single coefficient is the gain p1, with p0 = 0; missing coefficients are 0):

    Ename n+ n- POLY(1) nc+ nc- p0 p1     V = p0 + p1 V(nc+, nc-): an E of gain p1 in series with a
                                          V source p0 (named ``V<Ename>.offset``, internal node
                                          ``<Ename>.offset``)
    Gname n+ n- POLY(1) nc+ nc- p0 p1     I = p0 + p1 V(nc+, nc-): a G of gain p1 and an I source p0
    Fname n+ n- POLY(1) vname p0 p1       I = p0 + p1 I(vname): an F and an I source p0
    Hname n+ n- POLY(1) vname p0 p1       V = p0 + p1 I(vname): an H in series with a V source p0
    Ename n+ n- POLY(n) nc1+ nc1- ... ncn+ ncn- p0 p1 ... pn   V = p0 + sum_i p_i V(nci+, nci-)
    Fname n+ n- POLY(n) v1 ... vn p0 p1 ... pn                 I = p0 + sum_i p_i I(vi)   (G, H alike)

With n > 1, term i is its own element, ``<name>.p<i>`` (currents side by side; voltages in series
through internal nodes ``<name>.p<i>``), the offset as for POLY(1). The order of SPICE's POLY
coefficients after the linear ones (x1^2, x1 x2, ...) does not matter here: all must be 0.
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
    """(control fields, [p0, p1, ..., pn]) of a POLY(n) card; errors for nonlinear terms."""
    rest = pos[2:]
    if rest[0].lower() == "poly":  # 'POLY (1)': two fields
        if len(rest) < 2 or not re.fullmatch(r"\(\s*[0-9]+\s*\)", rest[1]):
            raise st.err(f"{name}: POLY needs its dimension, e.g. POLY(1)", L)
        rest = ["poly" + rest[1]] + rest[2:]
    dim = int(_POLY.match(rest[0]).group(1))
    if not 1 <= dim <= MAX_POLY_DIM:
        raise st.err(f"{name}: POLY({dim}): the dimension must be an integer in [1, {MAX_POLY_DIM}]", L)
    nctl = (2 if letter in "eg" else 1) * dim
    ctl, coef = rest[1:1 + nctl], rest[1 + nctl:]
    if dim == 1:
        what = "nc+ nc-" if letter in "eg" else "vname"
    else:
        what = " ".join(f"nc{i}+ nc{i}-" if letter in "eg" else f"v{i}" for i in range(1, dim + 1))
    if len(ctl) < nctl or not coef:
        raise st.err(f"{name}: POLY({dim}) needs {what} and coefficients p0 p1 ...", L)
    c = [card_value(x, scope, st, L, f"{name} POLY coefficient") for x in coef]
    if dim == 1 and len(c) == 1:  # SPICE2: a single coefficient is the linear term
        c = [0.0, c[0]]
    c += [0.0] * (dim + 1 - len(c))
    if any(x != 0 for x in c[dim + 1:]):
        raise st.err(f"{name}: POLY({dim}) with non-zero coefficients of order 2 and up is nonlinear: "
                     "not supported", L)
    return ctl, c[:dim + 1]


MAX_POLY_DIM = 64

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
        ctl, c = _poly(letter, name, pos, st, scope, L, card_value)
        _poly_elements(letter, name, ctl, c, st, path, L, map_nodes(pos[:2]), map_nodes, register, hier, add_node)
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


def _poly_elements(letter, name, ctl, c, st, path, L, pq, map_nodes, register, hier, add_node):
    """The elements of a POLY(n) source: one linear term per non-zero p_i and the offset p0 (module
    docstring)."""
    hname = hier(name, path)
    p, q = pq
    dim = len(c) - 1
    width = 2 if letter in "eg" else 1
    terms = []  # (element name, control nodes or [], control source ref or None, gain)
    for i in range(1, dim + 1):
        fields = ctl[(i - 1) * width:i * width]
        if letter in "eg":
            ctl_nodes, ref = map_nodes(fields), None
        else:
            if fields[0][:1].lower() != "v":
                raise st.err(f"{name}: the controlling element {fields[0]!r} must be a voltage source (V...)", L)
            ctl_nodes, ref = [], (hier(fields[0], path),)
        if c[i] != 0:
            terms.append((hname if dim == 1 else f"{hname}.p{i}", ctl_nodes, ref, c[i]))
    kind = letter.upper()
    offset = c[0] != 0 or not terms
    if letter in "gf":  # currents add: the linear sources and a current source p0, side by side
        for tname, ctl_nodes, ref, gain in terms:
            register(st, kind, tname, [p, q] + ctl_nodes, gain, 0.0, L)
            if ref is not None:
                st.refs.setdefault(kind, []).append(ref)
        if offset:
            register(st, "I", "I" + hname + ".offset", [p, q], c[0], 0.0, L)
        return
    # voltages add: the linear sources in series from p through internal nodes, the offset source last, to q
    top = p
    for k, (tname, ctl_nodes, ref, gain) in enumerate(terms):
        last = k == len(terms) - 1 and not offset
        bottom = q if last else add_node(st, (hname + ".offset") if dim == 1 else f"{hname}.p{k + 1}", L)
        register(st, kind, tname, [top, bottom] + ctl_nodes, gain, 0.0, L)
        if ref is not None:
            st.refs.setdefault(kind, []).append(ref)
        top = bottom
    if offset:
        register(st, "V", "V" + hname + ".offset", [top, q], c[0], 0.0, L)


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
