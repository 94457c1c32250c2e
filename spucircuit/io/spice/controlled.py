"""SPICE cards of the linear controlled sources and couplings: E (floating VCVS), F, H and K.

    Ename n+ n- nc+ nc- gain       V(n+) - V(n-) = gain (V(nc+) - V(nc-))   (n- not ground; a grounded
                                   output stays the op-amp of :mod:`~spucircuit.io.spice.elements`)
    Fname n+ n- vname gain         I(n+ -> n-) = gain I(vname)   (CCCS)
    Hname n+ n- vname transres     V(n+) - V(n-) = transres I(vname)   (CCVS)
    Kname Lname1 Lname2 k          M = k sqrt(L1 L2), 0 < |k| <= 1

I(vname) is the current through the voltage source vname, into its + terminal (SPICE's sign). Inside
a subcircuit the referred names get the instance's hierarchical names (``V.X1.vs``), as ngspice's.
The referred elements may come later in the file: :func:`check_refs` resolves them once all are read.
"""
from __future__ import annotations

from spucircuit.circuit.netlist import KINDS, REF_KINDS
from spucircuit.errors import NetlistError

__all__ = ["controlled", "check_refs"]

_FORMS = {
    "e": "Ename n+ n- nc+ nc- gain",
    "f": "Fname n+ n- vname gain",
    "h": "Hname n+ n- vname transresistance",
    "k": "Kname Lname1 Lname2 k",
}


def controlled(letter, name, pos, kw, st, scope, path, L, nodes_of, register, hier, card_value):
    """Read one E (floating output), F, H or K card (helpers passed in by the element reader)."""
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
