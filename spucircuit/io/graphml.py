"""Netlist topology export as GraphML (through networkx); the PNG picture is in
:mod:`spucircuit.report.graph_plot`.

GraphML: circuit nodes are graph nodes (attribute ``ground``), every element an edge of an
undirected multigraph whose edge id (the networkx key) is the element name; a VCCS adds a second
edge ``<name>:control`` (cp, cq) and an op-amp ``<name>:input`` (inp, inn), as
:meth:`Netlist.to_networkx`. Edge attributes are GraphML scalars: ``name``, ``kind``, ``role``,
``unit``, ``terminals`` (the element's node names, space separated), ``value`` (float; left out
for ideal op-amps, which carry ``ideal=True``), ``ic`` (capacitors and inductors). Graph
attributes: ``title`` and ``meta_json`` (the netlist's annotations as JSON). Read it back with
``networkx.read_graphml(path, force_multigraph=True)``.
"""
from __future__ import annotations

import json
import math

import networkx as nx

from spucircuit._util.files import atomic_write_text
from spucircuit._util.jsonable import to_jsonable
from spucircuit.circuit.netlist import GROUND, KINDS, Netlist
from spucircuit.errors import NetlistError


def as_netlist(obj) -> Netlist:
    """A Netlist, or the ``.netlist`` of a mapped / capacitive circuit."""
    nl = obj if isinstance(obj, Netlist) else getattr(obj, "netlist", None)
    if not isinstance(nl, Netlist):
        raise NetlistError(f"expected a Netlist (or a circuit with .netlist), got {type(obj).__name__}")
    if len(nl) == 0:
        raise NetlistError("netlist is empty: nothing to export")
    return nl


def graphml_graph(netlist) -> nx.MultiGraph:
    """The netlist as a networkx MultiGraph whose attributes are all GraphML scalars."""
    nl = as_netlist(netlist)
    g = nx.MultiGraph()
    g.graph["title"] = str(nl.title)
    g.graph["meta_json"] = json.dumps(to_jsonable(nl.meta), allow_nan=False, default=str)
    for nm in nl.node_names:
        g.add_node(str(nm), ground=bool(nm == GROUND))
    for u, v, key, role, el in nl.edges():
        attrs = {"name": el.name, "kind": el.kind, "unit": KINDS[el.kind][2],
                 "terminals": " ".join(el.nodes)}
        if math.isfinite(el.value):
            attrs["value"] = float(el.value)
        else:  # an ideal op-amp (infinite gain): GraphML tools disagree on how to spell inf
            attrs["ideal"] = True
        if el.kind in "CL":
            attrs["ic"] = float(el.ic)
        g.add_edge(u, v, key=key, role=role, **attrs)
    return g


def to_graphml(netlist, path) -> None:
    """Write the netlist's topology as GraphML to ``path`` (atomically: never a partial file).

    Accepts a :class:`Netlist` or a circuit object with ``.netlist`` (MappedCircuit,
    CapacitiveCircuit). Read back with ``networkx.read_graphml(path, force_multigraph=True)``:
    node names, element names (edge keys), kinds, values and initial conditions survive.
    """
    g = graphml_graph(netlist)
    text = "\n".join(nx.generate_graphml(g, encoding="utf-8", prettyprint=True)) + "\n"
    atomic_write_text(path, text)
