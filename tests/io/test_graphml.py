"""GraphML export (round trip through networkx) and the coupling-graph PNG."""
import math

import networkx as nx
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.capacitive_array import capacitive_spu
from spucircuit.errors import NetlistError
from spucircuit.io.graphml import graphml_graph, to_graphml
from spucircuit.report.graph_plot import plot_coupling_graph

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def mixed_netlist():
    """Every element kind, a parallel pair, an initial condition, ideal and finite op-amps."""
    nl = sc.Netlist("mixed <&> title")  # XML special characters in the title
    nl.add_resistor("R1", "a", "0", 1e3).add_resistor("R2", "a", "b", 4.7e3)
    nl.add_capacitor("C1", "a", "b", 2.2e-9, ic_v=0.125).add_capacitor("C2", "b", "0", 1e-9)
    nl.add_inductor("L1", "b", "0", 1e-3, ic_a=1e-4)
    nl.add_vccs("G1", "c", "0", "a", "b", 2e-4)
    nl.add_resistor("R3", "c", "0", 1e3)
    nl.add_opamp("U1", "d", "0", "e").add_opamp("U2", "f", "0", "g", gain=1e5)
    nl.add_resistor("RF", "d", "e", 1e4).add_resistor("RI", "a", "e", 1e3)
    nl.add_resistor("RF2", "f", "g", 1e4).add_resistor("RI2", "b", "g", 1e3)
    nl.add_vsource("V1", "h", "0", 0.5).add_resistor("RH", "h", "a", 1e3)
    nl.add_isource("I1", "0", "b", 1e-6).add_noise_source("N1", "0", "a", 1e-20)
    nl.meta["note"] = {"x": [1, 2.5], "inf": float("inf")}
    return nl


def test_graphml_round_trip_preserves_names_kinds_values(tmp_path):
    nl = mixed_netlist()
    path = tmp_path / "sub" / "mixed.graphml"  # directory created
    to_graphml(nl, path)
    g = nx.read_graphml(path, force_multigraph=True)
    assert sorted(g.nodes) == sorted(nl.node_names)
    assert g.nodes["0"]["ground"] is True and g.nodes["a"]["ground"] is False
    assert g.graph["title"] == "mixed <&> title"
    edges = {k: (a, b, d) for a, b, k, d in g.edges(keys=True, data=True)}
    for el in nl.elements():
        a, b, d = edges[el.name]
        assert d["name"] == el.name and d["kind"] == el.kind
        assert d["terminals"].split() == list(el.nodes)
        if math.isfinite(el.value):
            assert d["value"] == el.value  # exact: floats round-trip through their repr
        else:
            assert d["ideal"] is True and "value" not in d
        if el.kind in "CL":
            assert d["ic"] == el.ic
    assert edges["C1"][2]["ic"] == 0.125 and edges["L1"][2]["ic"] == 1e-4
    assert edges["U2"][2]["value"] == 1e5
    assert {edges["G1:control"][0], edges["G1:control"][1]} == {"a", "b"}
    assert edges["U1:input"][2]["role"] == "input"
    # parallel elements between the same nodes stay distinct edges
    assert {k for _, _, k in g.edges("a", keys=True) if k in ("R2", "C1")} == {"R2", "C1"}
    assert g.number_of_edges() == len(nl) + 1 + 2  # one extra edge per VCCS / op-amp


def test_graphml_attributes_are_scalars():
    g = graphml_graph(capacitive_spu(np.array([[2.0, -0.5], [-0.5, 1.0]])))
    scal = (str, int, float, bool)
    assert all(isinstance(v, scal) for v in g.graph.values())
    assert all(isinstance(v, scal) for _, d in g.nodes(data=True) for v in d.values())
    assert all(isinstance(v, scal) for *_, d in g.edges(keys=True, data=True) for v in d.values())


def test_graphml_not_written_on_error(tmp_path):
    path = tmp_path / "x.graphml"
    with pytest.raises(NetlistError, match=r"netlist is empty"):
        to_graphml(sc.Netlist(), path)
    with pytest.raises(NetlistError, match=r"expected a Netlist .* got ndarray"):
        to_graphml(np.eye(2), path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def _check_png(path, min_bytes=10_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > min_bytes
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert img[..., :3].std() > 0.02  # not a blank canvas
    return img


@pytest.mark.parametrize("kwargs", [{}, {"show_ground": True}, {"layout": "spring"}])
def test_png_of_mapped_circuit(tmp_path, kwargs):
    mc = sc.integrator_array(sc.random_spd(4, 10.0, seed=0), np.ones(4))
    path = tmp_path / "g.png"
    info = plot_coupling_graph(mc, path, **kwargs)
    _check_png(path)
    assert info["kind"] == "graph" and info["bytes"] == path.stat().st_size
    assert info["nodes"] == mc.netlist.n_nodes + (1 if kwargs.get("show_ground") else 0)


def test_png_of_8_cell_capacitive_board_and_mixed_netlist(tmp_path):
    rng = np.random.default_rng(0)
    W = np.triu(rng.uniform(0.05, 0.3, (8, 8)), 1)
    W = W + W.T
    A = np.diag(W.sum(axis=1) + 0.3) - W
    info = plot_coupling_graph(capacitive_spu(A), tmp_path / "cap.png")
    _check_png(tmp_path / "cap.png")
    assert info["edges"] == 28  # the coupling capacitors (ground elements are listed per node)
    plot_coupling_graph(mixed_netlist(), tmp_path / "mixed.png", title="every kind")
    _check_png(tmp_path / "mixed.png")


def test_large_netlist_error_or_summary(tmp_path):
    mc = sc.integrator_array(sc.random_spd(24, 10.0, seed=1))  # > 64 nodes
    path = tmp_path / "big.png"
    with pytest.raises(NetlistError, match=rf"netlist has {mc.netlist.n_nodes} nodes, more than "
                                           r"max_nodes = 64 .* summary=True"):
        plot_coupling_graph(mc, path)
    assert not path.exists()
    info = plot_coupling_graph(mc, path, summary=True)
    assert info["kind"] == "summary" and info["elements"] == len(mc.netlist)
    _check_png(path)


def test_png_not_created_on_error_and_existing_file_kept(tmp_path):
    path = tmp_path / "p.png"
    nl = mixed_netlist()
    with pytest.raises(NetlistError, match=r"unknown layout 'hexagonal'"):
        plot_coupling_graph(nl, path, layout="hexagonal")
    with pytest.raises(NetlistError, match=r"netlist is empty"):
        plot_coupling_graph(sc.Netlist(), path)
    with pytest.raises(NetlistError, match=r"max_nodes must be a positive integer"):
        plot_coupling_graph(nl, path, max_nodes=0)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"old")
    with pytest.raises(NetlistError):
        plot_coupling_graph(nl, path, layout="hexagonal")
    assert path.read_bytes() == b"old"
