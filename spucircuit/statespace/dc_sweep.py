"""DC sweep (SPICE's ``.dc``): the operating point as one or two source values (or resistances) step.

    .dc SRC START STOP INCR [SRC2 START2 STOP2 INCR2]

SRC is an independent V or I source (its DC value, V or A) or a resistor (Ohm), as in ngspice 39.
The values are ngspice's (src/spicelib/analysis/dctrcurv.c): START, then INCR added again and again,
while sign(INCR) (value - STOP) <= 1e3 eps (so STOP is included up to round-off of the sum); with a
second source the first is the inner loop. Each point is one operating point
(:func:`~spucircuit.statespace.operating_point.operating_point`: capacitors open, inductors shorted):
one sparse LU per point, O(points x nnz(LU)).
"""
from __future__ import annotations

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.statespace.operating_point import operating_point

MAX_POINTS = 1_000_000
_EPS_STOP = np.finfo(float).eps * 1e3  # ngspice's end test: DBL_EPSILON * 1e+03 (absolute)


def sweep_values(start: float, stop: float, incr: float) -> np.ndarray:
    """START, START + INCR, ... while sign(INCR) (value - STOP) <= 1e3 eps (ngspice's accumulated sum)."""
    if incr == 0 or not np.isfinite(incr):
        raise NetlistError(f".dc: the increment must be finite and non-zero, got {incr!r}")
    if np.sign(incr) * (start - stop) > _EPS_STOP:
        raise NetlistError(f".dc: from {start:g} the increment {incr:g} never reaches {stop:g}")
    if (stop - start) / incr + 1 > MAX_POINTS:
        raise NetlistError(f".dc: more than {MAX_POINTS} points from {start:g} to {stop:g} by {incr:g}")
    out, v = [], float(start)
    while np.sign(incr) * (v - stop) <= _EPS_STOP:
        out.append(v)
        v += incr
    return np.array(out)


def _swept(netlist: Netlist, name: str) -> str:
    try:
        kind, _ = netlist.find(name)
    except NetlistError:
        raise NetlistError(f".dc: no source or resistor named {name!r}") from None
    if kind not in ("V", "I", "R"):
        raise NetlistError(f".dc: {name!r} is not an independent V or I source or a resistor (the elements "
                           "ngspice sweeps in a linear circuit)")
    return kind


def dc_sweep(netlist: Netlist, card: dict) -> dict:
    """The arrays ``spu simulate`` writes for a ``.dc`` card (as read by io.spice.analyses): ``dc_sweep``
    (the first swept value at each point), ``dc_sweep2`` (the second, with a nested sweep), ``dc_v``
    (points x nodes, V), ``dc_nodes``."""
    sweeps = card["sweeps"]
    grids = [sweep_values(s["start"], s["stop"], s["incr"]) for s in sweeps]
    kinds = [_swept(netlist, s["source"]) for s in sweeps]
    if len(sweeps) == 2 and sweeps[0]["source"] == sweeps[1]["source"]:
        raise NetlistError(f".dc: {sweeps[0]['source']!r} is swept twice")
    if np.prod([len(g) for g in grids]) > MAX_POINTS:
        raise NetlistError(f".dc: more than {MAX_POINTS} points in the nested sweep")
    nodes = list(netlist.node_names[1:])
    outer = grids[1] if len(grids) == 2 else [None]
    first, second, rows = [], [], []
    nl = netlist.copy() if "R" in kinds else netlist  # one copy whose swept resistances change in place
    for v2 in outer:
        for v1 in grids[0]:
            inputs = {}
            for s, kind, v in zip(sweeps, kinds, (v1, v2)):
                if kind == "R":
                    nl.set_value(s["source"], float(v))
                else:
                    inputs[s["source"]] = float(v)
            op = operating_point(nl, inputs=inputs)
            rows.append([op.voltage(n) for n in nodes])
            first.append(v1)
            second.append(v2)
    out = dict(dc_sweep=np.array(first, dtype=float), dc_v=np.array(rows, dtype=float).reshape(len(first), len(nodes)),
               dc_nodes=np.array(nodes, dtype=str))
    if len(sweeps) == 2:
        out["dc_sweep2"] = np.array(second, dtype=float)
    return out
