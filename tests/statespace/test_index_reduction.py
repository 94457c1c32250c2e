"""Index reduction (issue 13b, item 5): capacitors fixed by voltage sources are no state, inductors in
series merge into one (the middle node by the inductive divider); the shapes the twin does not reduce
are refused naming the elements."""
import numpy as np
import pytest

from spucircuit.errors import NetlistError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.index_reduction import reduce_degenerate
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import initial_state

EPS = np.finfo(float).eps


def test_nothing_to_reduce_is_the_same_netlist():
    nl = parse_spice("t\nV1 a 0 1\nR1 a b 1k\nL1 b c 1m\nR2 c 0 1k\nC1 c 0 1n\n.end\n")
    assert reduce_degenerate(nl) is nl


def test_series_inductors_are_one_inductor_and_the_middle_node_divides():
    L1, L2, R = 1e-3, 3e-3, 10.0
    nl = parse_spice(f"t\nV1 a 0 2\nL1 a m {L1} IC=0.5\nL2 m b {L2} IC=0.5\nR1 b 0 {R}\n.tran 1u 1m uic\n.end\n")
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["i(L1)"]
    F = ss.drift.to_dense()
    assert abs(F[0, 0] + R / (L1 + L2)) <= 8 * EPS * R / (L1 + L2)  # one RL: rate R / (L1 + L2)
    assert abs(ss.input_matrix[0, 0] - 1 / (L1 + L2)) <= 8 * EPS / (L1 + L2)
    Y, Z = ss.node_voltage_map(["m", "b"])
    x, u = np.array([0.5]), ss.inputs
    vb = R * 0.5
    vm = vb + L2 / (L1 + L2) * (2.0 - vb)
    assert np.allclose(Y @ x + Z @ u, [vm, vb], rtol=8 * EPS, atol=0)
    assert np.array_equal(initial_state(ss, nl), [0.5])
    nl_op = parse_spice(f"t\nV1 a 0 2\nL1 a m {L1} IC=0.5\nL2 m b {L2}\nR1 b 0 {R}\n.tran 1u 1m\n.end\n")
    assert np.allclose(initial_state(compile_netlist(nl_op), nl_op), [2.0 / R], rtol=4 * EPS)


def test_capacitor_across_a_source_is_no_state():
    nl = parse_spice("t\nV1 a 0 3\nC0 a 0 1u IC=7\nV2 b a 1\nC2 b 0 1n\nR1 b c 1k\nC1 c 0 1u\n.end\n")
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)"]  # C0 across V1; C2 across V1 + V2
    Y, Z = ss.node_voltage_map(["a", "b"])
    assert np.allclose(Y @ np.array([0.3]) + Z @ ss.inputs, [3.0, 4.0], rtol=0, atol=0)


@pytest.mark.parametrize("text, what", [
    ("t\nV1 a 0 1\nR1 a b 1k\nL1 b m 1m\nL2 m 0 1m\nL3 m c 1m\nR2 c 0 1\n.end\n", r"node 'm' joins only inductors "
     r"and current sources \(L1, L2, L3\)"),
    ("t\nV1 a 0 1\nR1 a 0 1k\nG1 a m a 0 1m\nL1 m 0 1m\n.end\n", r"node 'm' joins only inductors and current "
     r"sources \(L1, G1\)"),
    ("t\nV1 a 0 1\nL1 a m 1m IC=1\nL2 m b 1m IC=2\nR1 b 0 1\n.end\n", r"in series \(node 'm'\) but their initial "
     r"currents differ"),
    ("t\nV1 a 0 1\nL1 a m 1m\nL2 m b 1m\nR1 b 0 1\nL3 b 0 1m\nK1 L1 L3 0.5\n.end\n", r"'L1' is in series with "
     r"another inductor \(node 'm'\) and coupled by K"),
])
def test_shapes_not_reduced_name_the_elements(text, what):
    with pytest.raises(NetlistError, match=what):
        compile_netlist(parse_spice(text))


def test_two_capacitors_in_series_across_a_source():
    # C1 a-b, C2 b-0 across V: one state; (C1 + C2) dV_b/dt = -V_b / R, i.e. v_C1 = V - V_b relaxes to V
    C1, C2, R, V = 1e-6, 3e-6, 1e3, 2.0
    nl = parse_spice(f"t\nV1 a 0 {V}\nC1 a b {C1} IC=0.5\nC2 b 0 {C2}\nR1 b 0 {R}\n.tran 1u 1m uic\n.end\n")
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)"]
    rate = 1.0 / (R * (C1 + C2))
    assert abs(ss.drift.to_dense()[0, 0] + rate) <= 16 * EPS * rate
    assert abs(ss.input_matrix @ ss.inputs - rate * V)[0] <= 16 * EPS * rate * V
    # under uic C2 starts at its IC= (0): not the 1.5 V the loop holds - refused rather than run differently
    with pytest.raises(NetlistError, match=r"'C2' closes a loop with voltage sources: with uic it starts at 0 V"):
        initial_state(ss, nl)
    assert np.array_equal(initial_state(ss, nl, uic=False), [V])  # the operating point: V_b = 0
    ok = parse_spice(f"t\nV1 a 0 {V}\nC1 a b {C1} IC=0.5\nC2 b 0 {C2} IC=1.5\nR1 b 0 {R}\n.tran 1u 1m uic\n.end\n")
    assert np.array_equal(initial_state(compile_netlist(ok), ok), [0.5])


def test_inductor_in_series_with_a_current_source_is_no_state():
    text = "t\nI1 0 m 2m\nL1 m b 1m{ic}\nR1 b 0 1k\nC1 b 0 1u IC=0.5\n.tran 1u 1m uic\n.end\n"
    nl = parse_spice(text.format(ic=" IC=2m"))
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)"]  # i(L1) = I1
    rate = 1 / (1e3 * 1e-6)
    assert abs(ss.drift.to_dense()[0, 0] + rate) <= 16 * EPS * rate
    assert abs((ss.input_matrix @ ss.inputs)[0] - 2e-3 / 1e-6) <= 16 * EPS * 2e-3 / 1e-6
    Y, Z = ss.node_voltage_map(["m"])
    assert np.allclose(Y @ [0.7] + Z @ ss.inputs, [0.7], rtol=4 * EPS, atol=0)  # V_m = V_b (L di/dt = 0)
    assert np.array_equal(initial_state(ss, nl), [0.5])
    nl = parse_spice(text.format(ic=""))  # under uic L1 would start at 0 A against the source's 2 mA
    with pytest.raises(NetlistError, match=r"inductor 'L1' is in series with current sources \(node 'm'\): with "
                                           r"uic it starts at 0 A"):
        initial_state(compile_netlist(nl), nl)
    assert np.allclose(initial_state(compile_netlist(nl), nl, uic=False), [2.0], rtol=4 * EPS)


OPEN_XFMR = "t\nV1 in 0 1\nR1 in a 10\nC1 a 0 1n\nL1 a 0 1m\nL2 s 0 {l2}\nR2 s t 1k\nK1 L1 L2 {k}\n{tran}\n.end\n"


@pytest.mark.parametrize("l2, k", [(4e-3, 0.9), (1e-3, -0.5), (4e-3, 0.0)])
def test_open_secondary_is_no_state_and_follows_the_mutual_voltage(l2, k):
    """v(s) = M21 di1/dt = (k sqrt(L1 L2) / L1) v(a): the open end as an output of (F x + B u), no state."""
    nl = parse_spice(OPEN_XFMR.format(l2=l2, k=k, tran=""))
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)", "i(L1)"]
    g = k * np.sqrt(1e-3 * l2) / 1e-3
    Y, Z = ss.node_voltage_map(["a", "s", "t"])
    np.testing.assert_allclose(Y[1], g * Y[0], rtol=0, atol=4 * EPS * np.abs(Y).max())
    np.testing.assert_allclose(Z[1], g * Z[0], rtol=0, atol=4 * EPS)
    np.testing.assert_allclose(Y[2], Y[1], rtol=0, atol=4 * EPS * np.abs(Y).max())  # R2 carries no current
    np.testing.assert_allclose(Z[2], Z[1], rtol=0, atol=4 * EPS)


def test_open_inductor_keeps_the_whole_inductance_matrix_checked():
    """ngspice (ind/muttemp.c) refuses a coupling matrix that is not positive definite even when the
    inductors involved carry no current; so does the twin."""
    nl = parse_spice("t\nV1 a 0 1\nR1 a b 1\nL1 b 0 1m\nL2 s 0 1m\nL3 w 0 1m\nK12 L1 L2 0.9\nK13 L1 L3 0.9\n"
                     "K23 L2 L3 -0.9\n.end\n")
    nl.validate()
    assert len(nl.open_inductors()) == 2
    with pytest.raises(NetlistError, match=r"not positive definite.*K12, K13, K23"):
        compile_netlist(nl)


def test_open_inductor_with_an_initial_current_conflicts_with_uic():
    nl = parse_spice(OPEN_XFMR.format(l2="4m IC=1m", k=0.5, tran=".tran 1u 1m uic"))
    ss = compile_netlist(nl, noise=False)
    with pytest.raises(NetlistError, match=r"inductor 'L2' reaches nothing that carries current \(node 's'\): with "
                                           r"uic it starts at 0.001 A"):
        initial_state(ss, nl)
    x0 = initial_state(ss, nl, uic=False)  # from the operating point: nothing to conflict with
    assert x0.shape == (2,)
