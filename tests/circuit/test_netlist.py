"""Netlist model: building, counting, element views, node names, copies, networkx topology."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.netlist import Element, Netlist
from spucircuit.errors import NetlistError


def _mixed():
    """One element of every kind (not meant to be simulated)."""
    nl = sc.Netlist("mixed")
    nl.add_resistor("R1", "a", "0", 1e3)
    nl.add_capacitor("C1", "a", "b", 2e-9, ic_v=0.25)
    nl.add_inductor("L1", "b", "gnd", 1e-3, ic_a=-1e-3)
    nl.add_vccs("G1", "c", "0", "a", "b", 5e-3)
    nl.add_opamp("U1", "d", "0", "c", 1e5)
    nl.add_vsource("V1", "e", "0", 1.5)
    nl.add_isource("I1", "0", "e", 2e-3)
    nl.add_noise_source("N1", "d", "0", 1e-22)
    return nl


# -------------------------------------------------------------- building


def test_single_adds_are_chainable_and_counted():
    nl = sc.Netlist()
    ret = nl.add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    assert ret is nl
    assert len(nl) == 2
    assert nl.count("r") == 1 and nl.count("C") == 1 and nl.count("L") == 0
    assert nl.n_nodes == 1
    assert nl.node_names == ["0", "a"]


def test_component_counts_every_kind():
    c = _mixed().component_counts()
    assert c == {
        "resistors": 1, "capacitors": 1, "inductors": 1, "voltage-controlled_current_sources": 1,
        "op-amps": 1, "DC_voltage_sources": 1, "DC_current_sources": 1,
        "white_noise_current_sources": 1, "total": 8,
    }


def test_bulk_add_by_names_and_by_indices_agree():
    n = 5
    vals = 1e3 * (1 + np.arange(n))
    nl1 = sc.Netlist()
    nl1.add_elements("R", [f"R{i}" for i in range(n)], [[f"n{i}", f"n{i + 1}"] for i in range(n)], vals)
    nl2 = sc.Netlist()
    idx = np.array([nl2.node(f"n{i}") for i in range(n + 1)])
    nl2.add_elements("R", [f"R{i}" for i in range(n)], np.stack([idx[:-1], idx[1:]], 1), vals)
    e1, e2 = list(nl1.elements()), list(nl2.elements())
    assert e1 == e2
    assert [e.nodes for e in e1] == [(f"n{i}", f"n{i + 1}") for i in range(n)]
    assert nl1.count("R") == n and nl1.n_nodes == n + 1


def test_bulk_adds_in_chunks_concatenate_in_order():
    nl = sc.Netlist()
    nl.add_elements("C", ["C0", "C1"], [["a", "0"], ["b", "0"]], [1e-9, 2e-9], ic=[0.1, 0.2])
    nl.add_capacitor("C2", "c", "0", 3e-9)
    nl.add_elements("C", ["C3"], [["d", "0"]], [4e-9], ic=0.4)  # scalar ic broadcasts
    els = list(nl.elements("c"))
    assert [e.name for e in els] == ["C0", "C1", "C2", "C3"]
    np.testing.assert_allclose([e.value for e in els], [1e-9, 2e-9, 3e-9, 4e-9], rtol=0)
    np.testing.assert_allclose([e.ic for e in els], [0.1, 0.2, 0.0, 0.4], rtol=0)
    np.testing.assert_array_equal(nl.tables["C"].nodes[:, 0], [1, 2, 3, 4])


def test_elements_round_trip_values_and_ic():
    nl = _mixed()
    els = {e.name: e for e in nl.elements()}
    assert els["R1"] == Element("R", "R1", ("a", "0"), 1e3, 0.0)
    assert els["C1"] == Element("C", "C1", ("a", "b"), 2e-9, 0.25)
    assert els["L1"] == Element("L", "L1", ("b", "0"), 1e-3, -1e-3)
    assert els["G1"] == Element("G", "G1", ("c", "0", "a", "b"), 5e-3, 0.0)
    assert els["U1"] == Element("U", "U1", ("d", "0", "c"), 1e5, 0.0)
    assert els["V1"].value == 1.5 and els["I1"].nodes == ("0", "e") and els["N1"].value == 1e-22
    assert [e.kind for e in nl.elements()] == list("RCLGUVIN")
    # rebuilding from the element views gives the same netlist
    nl2 = sc.Netlist()
    for e in nl.elements():
        nl2.add_elements(e.kind, [e.name], [list(e.nodes)], [e.value], [e.ic])
    assert list(nl2.elements()) == list(nl.elements())
    assert nl2.node_names == nl.node_names


def test_ideal_opamp_gain_is_inf():
    nl = sc.Netlist().add_opamp("U1", "o", "0", "m")
    assert next(nl.elements("U")).value == np.inf


def test_find_is_case_insensitive():
    nl = _mixed()
    assert nl.find("c1") == ("C", 0)
    assert nl.find("g1") == ("G", 0)
    with pytest.raises(sc.NetlistError, match="no element named 'Z'"):
        nl.find("Z")


# ----------------------------------------------------------------- nodes


def test_node_names_case_insensitive_first_spelling_kept():
    nl = sc.Netlist()
    nl.add_resistor("R1", "Out", "0", 1e3)
    nl.add_capacitor("C1", "OUT", "0", 1e-9)
    nl.add_resistor("R2", "out", "in", 1e3)
    assert nl.n_nodes == 2
    assert nl.node_names == ["0", "Out", "in"]
    assert nl.node_index("oUt") == 1 and nl.node("OUT") == 1
    assert {e.name: e.nodes for e in nl.elements()} == {"R1": ("Out", "0"), "C1": ("Out", "0"), "R2": ("Out", "in")}


@pytest.mark.parametrize("alias", ["0", "gnd", "GND", "Gnd", " gnd ", 0])
def test_ground_aliases(alias):
    nl = sc.Netlist()
    assert nl.node(alias) == 0
    assert nl.node_index(alias) == 0
    assert nl.has_node(alias)
    nl.add_resistor("R1", "a", alias, 1e3)
    assert next(nl.elements()).nodes == ("a", "0")
    assert nl.node_names == ["0", "a"]


def test_node_index_unknown_and_has_node():
    nl = sc.Netlist().add_resistor("R1", "a", "0", 1e3)
    assert nl.has_node("A") and not nl.has_node("b")
    with pytest.raises(sc.NetlistError, match=r"unknown node 'b'"):
        nl.node_index("b")
    assert nl.node_names == ["0", "a"]  # lookups never create nodes


# --------------------------------------------------------- set_value / copy


def test_set_value_changes_one_element():
    nl = _mixed()
    nl.set_value("v1", -2.5)
    nl.set_value("R1", 4.7e3)
    els = {e.name: e for e in nl.elements()}
    assert els["V1"].value == -2.5 and els["R1"].value == 4.7e3
    assert els["C1"].value == 2e-9 and els["C1"].ic == 0.25  # others untouched


def test_set_value_changes_compiled_circuit():
    nl = sc.Netlist().add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    assert sc.compile_netlist(nl).drift.to_dense()[0, 0] == pytest.approx(-1e6, rel=1e-12)
    nl.set_value("R1", 2e3)
    assert sc.compile_netlist(nl).drift.to_dense()[0, 0] == pytest.approx(-5e5, rel=1e-12)


def test_copy_is_independent():
    nl = _mixed()
    nl.meta["note"] = "orig"
    cp = nl.copy()
    assert list(cp.elements()) == list(nl.elements())
    assert cp.node_names == nl.node_names and cp.title == nl.title and cp.meta == nl.meta
    cp.set_value("R1", 99.0)
    cp.add_resistor("R9", "a", "newnode", 1e3)
    cp.meta["note"] = "copy"
    assert next(nl.elements("R")).value == 1e3
    assert nl.count("R") == 1 and not nl.has_node("newnode") and nl.meta["note"] == "orig"
    # and the other way round
    nl.set_value("C1", 7e-9)
    nl.add_capacitor("C9", "a", "0", 1e-9)
    assert next(cp.elements("C")).value == 2e-9 and cp.count("C") == 1
    # the duplicate-name register is independent too
    cp.add_capacitor("C9", "b", "0", 1e-9)
    with pytest.raises(sc.NetlistError, match="duplicate element name 'r9'"):
        cp.add_resistor("r9", "a", "0", 1.0)
    nl.add_resistor("r9", "a", "0", 1.0)


def test_summary_and_repr():
    nl = sc.Netlist("t").add_resistor("R1", "a", "0", 1e3).add_resistor("R2", "a", "b", 1e3)
    nl.add_capacitor("C1", "b", "0", 1e-9)
    assert nl.summary() == "t: 2 nodes, 2 resistors, 1 capacitor"
    assert repr(nl) == "<Netlist t: 2 nodes, 2 resistors, 1 capacitor>"


# --------------------------------------------------------------- networkx


def test_to_networkx_nodes_edges_and_attributes():
    nl = _mixed()
    g = nl.to_networkx()
    assert isinstance(g, nx.MultiGraph)
    assert set(g.nodes) == {"0", "a", "b", "c", "d", "e"}
    # one edge per two-terminal element, two per VCCS and per op-amp
    assert g.number_of_edges() == 6 + 2 + 2
    edges = {k: (u, v, d) for u, v, k, d in g.edges(keys=True, data=True)}
    for name, kind, value, ends in [("R1", "R", 1e3, {"a", "0"}), ("C1", "C", 2e-9, {"a", "b"}),
                                    ("L1", "L", 1e-3, {"b", "0"}), ("V1", "V", 1.5, {"e", "0"}),
                                    ("I1", "I", 2e-3, {"e", "0"}), ("N1", "N", 1e-22, {"d", "0"})]:
        u, v, d = edges[name]
        assert {u, v} == ends
        assert d == {"name": name, "kind": kind, "value": value, "role": "branch"}
    u, v, d = edges["G1"]
    assert {u, v} == {"c", "0"} and d["role"] == "output" and d["kind"] == "G" and d["value"] == 5e-3
    u, v, d = edges["G1:control"]
    assert {u, v} == {"a", "b"} and d["role"] == "control" and d["name"] == "G1"
    u, v, d = edges["U1"]
    assert {u, v} == {"d", "0"} and d["role"] == "output" and d["value"] == 1e5
    u, v, d = edges["U1:input"]
    assert {u, v} == {"0", "c"} and d["role"] == "input" and d["kind"] == "U"
    assert g.graph["title"] == "mixed"


def test_to_networkx_parallel_elements_are_separate_edges():
    nl = sc.Netlist().add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    g = nl.to_networkx()
    assert g.number_of_edges("a", "0") == 2
    assert set(g["a"]["0"]) == {"R1", "C1"}


def test_integrator_array_graph_is_connected_and_matches_A():
    n = 5
    A = sc.random_spd(n, 8.0, seed=3)
    mc = sc.integrator_array(A, np.ones(n))
    g = mc.netlist.to_networkx()
    assert nx.is_connected(g)
    counts = mc.component_counts()
    two_terminal = counts["total"] - counts["op-amps"]
    assert g.number_of_edges() == two_terminal + 2 * counts["op-amps"]
    assert set(g.nodes) == set(mc.netlist.node_names)
    # coupling resistors: x_j (A_ij > 0) or xn_j (A_ij < 0) -> s_i, value 1 / (g_unit |A_ij|)
    for i in range(n):
        for j in range(n):
            src = f"x{j}" if A[i, j] > 0 else f"xn{j}"
            d = g.get_edge_data(src, f"s{i}")[f"R{i}_{j}"]
            assert d["kind"] == "R"
            assert d["value"] == pytest.approx(1.0 / (mc.g_unit_siemens * abs(A[i, j])), rel=1e-12)
    # every summing node: n coupling resistors + input resistor + capacitor + op-amp input edge
    for i in range(n):
        kinds = sorted(d["kind"] for _, _, d in g.edges(f"s{i}", data=True))
        assert kinds == sorted(["R"] * (n + 1) + ["C", "U"])
    # ground: every DAC source, every op-amp output (to ground) and grounded non-inverting input
    n_ops = counts["op-amps"]
    assert g.degree("0") == n + 2 * n_ops
    # the resistors alone (no op-amp edges, no sources) still join every non-ground node
    h = nx.MultiGraph()
    h.add_edges_from((u, v) for u, v, d in g.edges(data=True) if d["kind"] in "RC")
    assert set(h.nodes) == set(g.nodes) - {"0"}
    assert nx.is_connected(h)


# ------------------------------------------------- integrator-array counts


def _signed_spd(n, neg_set, seed):
    """Diagonally dominant SPD matrix; negative off-diagonal entries only inside ``neg_set``,
    and a sprinkling of structural zeros."""
    rng = np.random.default_rng(seed)
    M = rng.uniform(0.01, 0.05, (n, n))
    M = np.triu(M, 1)
    M[np.triu(rng.random((n, n)) < 0.3, 1)] = 0.0  # zeros
    neg = np.zeros((n, n), bool)
    k = np.array(sorted(neg_set), dtype=int)
    neg[np.ix_(k, k)] = rng.random((len(k), len(k))) < 0.5
    M = np.where(np.triu(neg, 1) & (M != 0), -M, M)
    M = M + M.T
    np.fill_diagonal(M, np.abs(M).sum(axis=1) + 1.0)
    return M


def test_64x64_integrator_array_counts():
    n = 64
    A = _signed_spd(n, set(range(10, 30)), seed=7)
    sc.check_spd(A)
    neg_cols = np.flatnonzero((A < 0).any(axis=0))
    assert 0 < len(neg_cols) < n  # some columns need a buffer, others do not
    nnz = int(np.count_nonzero(A))
    assert nnz < n * n
    mc = sc.integrator_array(A, np.linspace(-1, 1, n))
    c = mc.component_counts()
    nb = len(neg_cols)
    assert c["integrators"] == n
    assert c["inverting_buffers"] == nb
    assert c["capacitors"] == n
    assert c["op-amps"] == n + nb
    assert c["resistors"] == nnz + 2 * nb + n
    assert c["DC_voltage_sources"] == n
    assert c["white_noise_current_sources"] == 0
    assert c["total"] == c["resistors"] + c["capacitors"] + c["op-amps"] + c["DC_voltage_sources"]
    assert sorted(int(nm[2:]) for nm in mc.netlist.tables["U"].names if nm.startswith("UN")) == list(neg_cols)
    # buffers: two equal resistors r_buffer each
    rg = [e for e in mc.netlist.elements("R") if e.name.startswith(("RG", "RF"))]
    assert len(rg) == 2 * nb and all(e.value == mc.r_buffer_ohm for e in rg)
    # with injected noise: one noise source per summing node
    c2 = sc.integrator_array(A, noise_psd=1e-22).component_counts()
    assert c2["white_noise_current_sources"] == n and c2["total"] == c["total"] + n


def test_positive_matrix_needs_no_buffers():
    n = 8
    A = _signed_spd(n, set(), seed=1)
    assert (A >= 0).all()
    c = sc.integrator_array(A).component_counts()
    assert c["inverting_buffers"] == 0 and c["op-amps"] == n
    assert c["resistors"] == np.count_nonzero(A) + n


def test_integrator_array_netlist_validates_and_compiles():
    A = sc.random_spd(6, 5.0, seed=2)
    mc = sc.integrator_array(A, np.ones(6))
    mc.netlist.validate()
    ss = sc.compile_netlist(mc.netlist, noise=False)
    # ideal integrator array: dv/dt = -(A v - b v_unit) / tau
    np.testing.assert_allclose(ss.drift.to_dense() * mc.tau_s, -A, rtol=1e-9, atol=1e-12)
    assert ss.state_names == [f"v(C{i})" for i in range(6)]
    assert mc.netlist.meta["mapping"]["tau_s"] == mc.tau_s


# ------------------------------------------------------------ pattern (lazy) names
def test_pattern_names_behave_like_plain_names():
    from spucircuit.circuit.netlist import PatternNames

    nl = Netlist()
    ii, jj = np.array([0, 0, 1, 12]), np.array([1, 23, 0, 3])
    nl.add_elements("R", PatternNames("R{}_{}", ii, jj), [["a", "b"]] * 4, [1.0, 2.0, 3.0, 4.0])
    nl.add_elements("R", ["RG1", "r12_4"], [["a", "b"]] * 2, [5.0, 6.0])
    names = nl.tables["R"].names
    assert list(names) == ["R0_1", "R0_23", "R1_0", "R12_3", "RG1", "r12_4"]
    assert names[3] == "R12_3" and names[-1] == "r12_4" and len(names) == 6
    assert nl.find("r1_0") == ("R", 2) and nl.find("R12_4") == ("R", 5)
    nl.set_value("R0_23", 7.0)
    assert nl.tables["R"].values[1] == 7.0
    for bad in ("R01_23", "R0_230", "R1_23"):
        with pytest.raises(NetlistError, match="no element"):
            nl.find(bad)
    with pytest.raises(NetlistError, match="duplicate element name 'r0_1'"):
        nl.add_elements("R", ["r0_1"], [["a", "b"]], [1.0])
    with pytest.raises(NetlistError, match="duplicate element name 'R12_4'"):
        nl.add_elements("C", PatternNames("R{}_{}", [5, 12], [5, 4]), [["a", "b"]] * 2, [1.0, 1.0])
    with pytest.raises(NetlistError, match="duplicate element name 'X2_2'"):
        nl.add_elements("C", PatternNames("X{}_{}", [1, 2, 2], [1, 2, 2]), [["a", "b"]] * 3, [1.0] * 3)
    assert len(nl) == 6  # rejected calls changed nothing
    cp = nl.copy()
    assert list(cp.tables["R"].names) == list(names) and cp.find("R12_3") == ("R", 3)


@pytest.mark.parametrize("fmt", ["R{}{}", "R1{}_{}", "R{}_1{}", "{}_{}", "R {}_{}", "R{}_{}_{}"])
def test_pattern_names_reject_ambiguous_formats(fmt):
    from spucircuit.circuit.netlist import PatternNames

    with pytest.raises(NetlistError, match="name pattern"):
        PatternNames(fmt, [1], [2])


def test_plain_name_checks_name_the_offender():
    nl = Netlist()
    with pytest.raises(NetlistError, match="invalid element name 'R 1'"):
        nl.add_elements("R", ["R0", "R 1"], [["a", "b"]] * 2, [1.0, 1.0])
    with pytest.raises(NetlistError, match="invalid element name ''"):
        nl.add_elements("R", ["R0", ""], [["a", "b"]] * 2, [1.0, 1.0])
    with pytest.raises(NetlistError, match="duplicate element name 'r0'"):
        nl.add_elements("R", ["R0", "r0"], [["a", "b"]] * 2, [1.0, 1.0])
    assert len(nl) == 0
