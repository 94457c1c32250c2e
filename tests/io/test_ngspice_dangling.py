"""Nodes touched by one element terminal (issue 13 follow-up): ngspice runs them when that terminal fixes
the voltage - a resistor that carries no current, a V, E or H output - and so does the twin; the ones
that leave the voltage undefined (a capacitor, current source, sensing input, ideal op-amp output alone)
are refused naming the element."""
import numpy as np
import pytest

from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import NetlistError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import operating_point
from tests.io.test_ngspice_linear import TIGHT, _twin_vs_ngspice

DANGLING = """one-terminal nodes
V1 in 0 DC 1
R1 in a 1k
C1 a 0 1u IC=0
R2 a tip 1k
V2 a vtip 0.5
E1 eo 0 a 0 2
H1 ho 0 V1 100
R3 a 0 2k
""" + TIGHT + """.tran 1e-6 3m 0 1e-5 uic
.end
"""


def test_one_terminal_nodes_match_ngspice():
    err, v_twin, _, nodes, t = _twin_vs_ngspice(DANGLING)
    print(f"\none-terminal nodes: max deviation / node range {err:.2e}")
    assert err < 2e-5
    a = v_twin[:, nodes.index("a")]
    assert np.ptp(a) > 0.1  # the capacitor charges: the dangling nodes follow a moving voltage
    # tip sits at a (R2 carries no current), vtip = a - 0.5, eo = 2 a, ho = 100 I(V1) = -100 (v(in) - v(a)) / 1k
    np.testing.assert_allclose(v_twin[:, nodes.index("tip")], a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v_twin[:, nodes.index("vtip")], a - 0.5, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v_twin[:, nodes.index("eo")], 2 * a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v_twin[:, nodes.index("ho")], -0.1 * (1 - a), rtol=0, atol=1e-12)


def test_one_terminal_resistor_adds_no_noise():
    """R2 into a node with nothing else: its Johnson noise current circulates through R2 itself and
    reaches no capacitor, so the diffusion is R1's alone (2 kT / (R1 C^2) on the capacitor voltage)."""
    base = Netlist("t").add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    lone = base.copy().add_resistor("R2", "a", "tip", 1e3)
    d0 = compile_netlist(base).diffusion
    d1 = compile_netlist(lone).diffusion
    np.testing.assert_allclose(d1 @ d1.T, d0 @ d0.T, rtol=1e-12, atol=0)


def test_finite_gain_opamp_output_alone_is_defined():
    nl = (Netlist("t").add_vsource("V1", "in", "0", 1e-3).add_resistor("R1", "in", "0", 1e3)
          .add_opamp("U1", "o", "in", "0", 1e4))
    nl.validate()
    op = operating_point(nl)
    assert op.voltage("o") == pytest.approx(10.0, rel=1e-12)


@pytest.mark.parametrize("card, elem, what", [
    ("C2 a tip 1n", "C2", "capacitor terminal"),
    ("I2 tip a 1m", "I2", "DC current source terminal"),
    ("G2 tip 0 a 0 1m", "G2", "voltage-controlled current source terminal"),
    ("E2 x 0 tip 0 2\nR9 x 0 1k", "E2", "sensing input"),
    ("E2 x y tip 0 2\nR9 x 0 1k\nR8 y 0 1k", "E2", "sensing input"),
    ("G2 a 0 tip 0 1m", "G2", "sensing input"),
])
def test_undefined_one_terminal_node_is_refused_naming_the_element(tmp_path, card, elem, what):
    text = f"t\nV1 in 0 1\nR1 in a 1k\nC1 a 0 1n\n{card}\n.end\n"
    with pytest.raises(NetlistError, match=rf"dangling node 'tip': only element '{elem}' connects to it, "
                                           rf"and its {what} leaves the node voltage undefined"):
        parse_spice(text).validate()


def test_ideal_opamp_output_alone_is_refused():
    nl = (Netlist("t").add_vsource("V1", "in", "0", 1.0).add_resistor("R1", "in", "0", 1e3)
          .add_opamp("U1", "o", "in", "0"))
    with pytest.raises(NetlistError, match=r"dangling node 'o': only element 'U1' connects to it"):
        nl.validate()


def test_title_read_as_a_card_still_blames_the_lone_resistor():
    """A file without a title line loses its first card; a resistor left alone on that card's node
    would otherwise pass silently, so the title hint still refuses it."""
    with pytest.raises(NetlistError, match=r"dangling node 'b': only element 'R2' connects to it \(the title line"):
        parse_spice("R1 a b 1k\nR2 b c 1k\nC1 c 0 1n\nR3 c 0 1k\nV1 a 0 1\n.end\n").validate()


def test_resistor_chains_into_nowhere_are_followed():
    """R3 leads nowhere, so R2 carries no current either: tip2 and mid sit at a (accepted); an inductor
    left alone once such resistors are set aside carries no current and is set aside too (its open end
    sits at its other end, tests/io/test_ngspice_open_inductor.py), so a capacitor reached only through
    it is refused by name; an island of idle resistors is a node with no DC path."""
    base = "t\nV1 in 0 1\nR1 in a 1k\nC1 a 0 1n\n"
    nl = parse_spice(base + "R2 a mid 1k\nR3 mid tip2 1k\n.end\n")
    nl.validate()
    assert operating_point(nl).voltage("tip2") == pytest.approx(1.0, rel=1e-12)
    for chain in ("L2 a mid 1m\nR3 mid tip2 1k\n", "L2 a tip 1m\n", "L2 a mid 1m\nL3 mid tip 2m\n"):
        nl = parse_spice(base + chain + ".end\n")
        nl.validate()
        assert sorted(nl.tables["L"].names[r] for r in nl.open_inductors()) == [x.split()[0] for x in chain.split("\n")
                                                                               if x.startswith("L")]
        assert compile_netlist(nl).state_names == ["v(C1)"]
    with pytest.raises(NetlistError, match=r"dangling node 'mid': only element 'C2' connects to it once the "
                                           r"elements carrying no current \(L2\) are set aside, and its capacitor "
                                           r"terminal leaves the node voltage undefined"):
        parse_spice(base + "C2 a mid 1n\nL2 mid tip 1m\n.end\n").validate()
    with pytest.raises(NetlistError, match=r"no DC path to ground"):
        parse_spice(base + "R2 x mid 1k\nR3 mid y 1k\n.end\n").validate()
