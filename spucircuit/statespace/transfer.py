"""DC small-signal transfer function (SPICE's ``.tf``): gain, input and output resistance.

    .tf V(out[,ref]) INSRC      .tf I(vsrc) INSRC

With every independent source off (capacitors open, inductors shorted: the operating-point matrix) and
INSRC at unit value, as ngspice 39 computes it (src/spicelib/analysis/tfanal.c):

* ``transfer_function``: the output, y = v(out) - v(ref) or I(vsrc) (into its + terminal), per unit of
  INSRC (V/V, V/A, A/V or A/A);
* ``input_impedance`` (Ohm): for a V source, -1 / I(INSRC) (1e20 when |I| < 1e-20); for an I source
  (1 A delivered into its n- node), v(n-) - v(n+);
* ``output_impedance`` (Ohm): for V(out,ref), v(out) - v(ref) with 1 A injected into out (from ref);
  for I(vsrc), 1 / max(1e-20, I(vsrc)) with vsrc at 1 V -- ngspice's expression, which gives 1e20
  whenever the current into the source's + terminal is negative (every passive load); kept so that
  the numbers mean what ngspice's mean. Equal to the input impedance when vsrc is INSRC.

Cost: two operating points (one sparse LU each).
"""
from __future__ import annotations

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.statespace.operating_point import operating_point

_BIG = 1e20  # ngspice's stand-in for an infinite impedance
_TEST = "I.spu.tf_test"  # the unit current injected for the output impedance


def _sources_off(netlist: Netlist, on: str | None = None) -> dict:
    t = netlist.tables
    levels = {nm: 0.0 for kind in ("V", "I") for nm in t[kind].names}
    if on is not None:
        levels[on] = 1.0
    return levels


def _source(netlist: Netlist, name: str, what: str) -> tuple:
    try:
        kind, i = netlist.find(name)
    except NetlistError:
        raise NetlistError(f".tf: {what} {name!r} is not in the circuit") from None
    if kind not in ("V", "I") or (what == "output source" and kind != "V"):
        want = "an independent voltage source" if what == "output source" else "an independent V or I source"
        raise NetlistError(f".tf: {what} {name!r} is not {want}")
    return kind, i


def transfer_function(netlist: Netlist, card: dict) -> dict:
    """``{'tf_gain', 'tf_input_impedance_ohm', 'tf_output_impedance_ohm'}`` of a ``.tf`` card (as read by
    io.spice.analyses: ``output``/``ref`` nodes or ``current`` source, ``source``)."""
    src = card["source"]
    in_kind, i_in = _source(netlist, src, "input source")
    known = {nm.lower() for nm in netlist.node_names}
    for node in (card.get("output"), card.get("ref")):
        if node is not None and node not in known:
            raise NetlistError(f".tf: the circuit has no node {node!r}")
    cur = card.get("current")
    if cur is not None:
        _source(netlist, cur, "output source")
    names = {nm.lower(): nm for kind in ("V", "I") for nm in netlist.tables[kind].names}
    op = operating_point(netlist, inputs=_sources_off(netlist, names[src]))

    def output(o):
        if cur is not None:
            return o.current(cur)
        return o.voltage(card["output"]) - (o.voltage(card["ref"]) if card.get("ref") else 0.0)

    gain = output(op)
    p, q = (netlist.node_names[j] for j in netlist.tables[in_kind].nodes[i_in])
    if in_kind == "I":
        z_in = op.voltage(q) - op.voltage(p)
    else:
        i = op.current(names[src])
        z_in = _BIG if abs(i) < 1e-20 else -1.0 / i
    if cur is not None and cur == src:
        z_out = z_in
    elif cur is not None:
        o = operating_point(netlist, inputs=_sources_off(netlist, names[cur]))
        z_out = 1.0 / max(1e-20, o.current(cur))
    else:
        nl = netlist.copy()
        nl.add_isource(_TEST, card.get("ref") or "0", card["output"], 1.0)  # 1 A into out, from ref
        o = operating_point(nl, inputs=_sources_off(nl, _TEST))
        z_out = o.voltage(card["output"]) - (o.voltage(card["ref"]) if card.get("ref") else 0.0)
    return dict(tf_gain=float(gain), tf_input_impedance_ohm=float(z_in), tf_output_impedance_ohm=float(z_out))
