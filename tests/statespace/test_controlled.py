"""E (floating VCVS), F (CCCS), H (CCVS) and K (coupled inductors) in the MNA compile and the operating
point, against closed forms (issue 13, item 3)."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.constants import K_B
from spucircuit.errors import NetlistError
from spucircuit.io.spice import parse_spice, write_spice
from spucircuit.numerics.ou import stationary_cov
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import operating_point
from tests.helpers import EFH_SOURCES, ngspice_or_skip

EPS = np.finfo(float).eps
EFH = "controlled sources\n" + EFH_SOURCES + "C1 f 0 1u\n.end\n"


def test_controlled_sources_operating_point_closed_form():
    op = operating_point(parse_spice(EFH))
    i = 1.0 / 3e3  # I(Vs): V1 across R1 + R2
    assert abs(op.current("Vs") - i) <= 8 * EPS * i
    # E1: V_c - V_d = 3 V_b across R3 + R4 (equal): c = +1.5 V_b, d = -1.5 V_b
    vb = 2e3 * i
    assert abs(op.voltage("c") - 1.5 * vb) <= 8 * EPS and abs(op.voltage("d") + 1.5 * vb) <= 8 * EPS
    assert abs(op.voltage("f") - 2 * i * 500) <= 8 * EPS  # F1: 2 I(Vs) from 0 into f
    assert abs(op.voltage("h") - 1e3 * i) <= 8 * EPS  # H1: 1k I(Vs)
    assert abs(op.current("E1") - (-(1.5 * vb) / 1e3)) <= 8 * EPS * 1e-3  # into E1's + terminal


def test_cccs_relaxation_rate_and_target():
    # C1 at f sees R5 only (F1 is a current source): rate 1/(R5 C1), target 2 I(Vs) R5
    ss = compile_netlist(parse_spice(EFH), noise=False)
    F = ss.drift.to_dense()
    assert ss.state_names == ["v(C1)"]
    assert abs(F[0, 0] + 1.0 / (500 * 1e-6)) <= 8 * EPS / (500 * 1e-6)
    assert abs(-(ss.input_matrix @ ss.inputs)[0] / F[0, 0] - 2 * 500 / 3e3) <= 8 * EPS


def test_coupled_inductors_drift_is_minus_inverse_inductance_times_resistance():
    # L1 (R1 to ground) and L2 (R2 to ground), coupled: M di/dt = -diag(R) i
    L1, L2, R1, R2, k = 1e-3, 4e-3, 10.0, 30.0, 0.6
    nl = parse_spice(f"t\nL1 a 0 {L1}\nR1 a 0 {R1}\nL2 b 0 {L2}\nR2 b 0 {R2}\nK1 L1 L2 {k}\n.end\n")
    ss = compile_netlist(nl, noise=False)
    M = np.array([[L1, k * np.sqrt(L1 * L2)], [k * np.sqrt(L1 * L2), L2]])
    want = -np.linalg.solve(M, np.diag([R1, R2]))
    assert ss.state_names == ["i(L1)", "i(L2)"]
    assert np.allclose(ss.drift.to_dense(), want, rtol=1e-13, atol=1e-13 * np.abs(want).max())
    # thermal equilibrium: the Lyapunov covariance of the currents is k_B T M^-1 (equipartition)
    ss = compile_netlist(nl, temperature_k=300.0)
    P = stationary_cov(ss.drift.to_dense(), ss.diffusion)
    assert np.allclose(P, K_B * 300.0 * np.linalg.inv(M), rtol=1e-10, atol=0)


def test_nonpassive_coupling_is_refused_naming_the_couplings():
    base = "t\nL1 a 0 1m\nR1 a 0 1\nL2 b 0 1m\nR2 b 0 1\nL3 c 0 1m\nR3 c 0 1\n"
    with pytest.raises(NetlistError, match=r"not positive definite.*couplings K1 \("):
        compile_netlist(parse_spice(base + "K1 L1 L2 1\n.end\n"))
    # pairwise 0.9, 0.9, -0.9: each |k| <= 1, the matrix is indefinite
    with pytest.raises(NetlistError, match=r"not positive definite.*couplings K1, K2, K3"):
        compile_netlist(parse_spice(base + "K1 L1 L2 0.9\nK2 L2 L3 0.9\nK3 L1 L3 -0.9\n.end\n"))
    with pytest.raises(NetlistError, match=r"couple the same inductors"):
        compile_netlist(parse_spice(base + "K1 L1 L2 0.5\nK2 L2 L1 0.5\n.end\n"))
    with pytest.raises(NetlistError, match=r"with itself"):
        compile_netlist(parse_spice(base + "K1 L1 L1 0.5\n.end\n"))


def test_api_builders_and_export_round_trip():
    nl = (sc.Netlist().add_vsource("Vs", "a", "0", 1.0).add_resistor("R1", "a", "b", 1e3)
          .add_inductor("L1", "b", "0", 1e-3, 1e-3).add_inductor("L2", "c", "0", 2e-3).add_resistor("R2", "c", "0", 5.0)
          .add_coupling("K1", "L1", "L2", 0.3).add_cccs("F1", "0", "d", "Vs", 2.0).add_resistor("R3", "d", "0", 1e3)
          .add_ccvs("H1", "e", "0", "Vs", 10.0).add_resistor("R4", "e", "f", 1e3)
          .add_vcvs("E1", "f", "g", "d", "0", -2.0).add_resistor("R5", "g", "0", 1e3)
          .add_capacitor("C1", "d", "0", 1e-9, 0.2)
          .add_vcvs("E2", "k", "0", "d", "0", 3.0).add_resistor("R6", "k", "0", 1e3))
    counts = nl.component_counts()
    assert (counts["inductor_couplings"], counts["current-controlled_current_sources"],
            counts["current-controlled_voltage_sources"], counts["voltage-controlled_voltage_sources"]) == (1, 1, 1, 2)
    assert "inductor_couplings" not in sc.Netlist().add_resistor("R1", "a", "0", 1.0).component_counts()
    a = compile_netlist(nl)
    again = parse_spice(write_spice(nl, None))
    assert [(e.kind, e.name) for e in again.elements()] == [(e.kind, e.name) for e in nl.elements()]  # E2 stays E
    b = compile_netlist(again)
    assert a.state_names == b.state_names
    assert np.array_equal(a.drift.to_dense(), b.drift.to_dense()) and np.array_equal(a.x0, b.x0)
    assert np.array_equal(a.input_matrix, b.input_matrix) and np.array_equal(a.diffusion, b.diffusion)
    c = nl.copy()
    assert c.refs == nl.refs and np.array_equal(compile_netlist(c).drift.to_dense(), a.drift.to_dense())
    with pytest.raises(NetlistError, match=r"refers to 'R1', a resistor: it must be a DC voltage source"):
        sc.Netlist().add_resistor("R1", "a", "0", 1.0).add_cccs("F1", "a", "0", "R1", 1.0).validate()
    with pytest.raises(NetlistError, match=r"refs .* are required"):
        sc.Netlist().add_elements("F", ["F1"], [["a", "0"]], [1.0])


POLY = """POLY(1): linear sources with an offset
V1 a 0 1
R1 a b 1k
Vs b c 0
R2 c 0 1k
E1 e1 0 POLY(1) c 0 0.5 2
R3 e1 0 1k
E2 e2 x poly (1) a 0 3
R4 e2 0 1k
R5 x 0 2k
G1 0 g1 POLY(1) c 0 1m 2m
R6 g1 0 1k
F1 0 f1 POLY(1) Vs 1m 3
R7 f1 0 1k
H1 h1 0 POLY(1) Vs 0.25 1k
R8 h1 0 1k
.end
"""


def test_poly1_sources_are_affine():
    # ngspice 39.3's op of this netlist prints the same values (e1 1.5, e2 1, x -2, g1 2, f1 2.5, h1 0.75)
    op = operating_point(parse_spice(POLY))
    vc, i = 0.5, 0.5e-3  # V(c) and I(Vs)
    want = {"e1": 0.5 + 2 * vc, "g1": (1e-3 + 2e-3 * vc) * 1e3, "f1": (1e-3 + 3 * i) * 1e3, "h1": 0.25 + 1e3 * i}
    for node, v in want.items():
        assert abs(op.voltage(node) - v) <= 16 * EPS * abs(v), node
    # a single coefficient is the gain (SPICE2): V(e2) - V(x) = 3 V(a), split by R4 = 1k, R5 = 2k
    assert abs(op.voltage("e2") - 1.0) <= 16 * EPS and abs(op.voltage("x") + 2.0) <= 16 * EPS
    nl = parse_spice(POLY)
    t1 = write_spice(nl, None)
    assert write_spice(parse_spice(t1), None) == t1


POLY_N = """POLY(n), n > 1: linear sums (a summing amplifier and its F/G/H kin)
V1 a 0 dc 1 ac 1
V2 b 0 dc -0.5 ac 0.5 90
R1 a c 1k
Vs c d 0
R2 d 0 1k
Vt b f 0
R3 f 0 2k
E1 e1 0 POLY(2) a 0 b 0 0.25 2 -3
R4 e1 0 1k
E2 e2 x POLY(3) a 0 b 0 e1 0 0 1 1 0.5
R5 e2 0 1k
R6 x 0 2k
G1 0 g1 POLY(2) a 0 b 0 1m 2m 0 0 0 0
R7 g1 0 1k
C1 g1 0 1n
F1 0 f1 POLY(2) Vs Vt 0 3 -2
R8 f1 0 1k
H1 h1 0 POLY(2) Vs Vt 0.1 1k 500
R9 h1 0 1k
L1 h1 y 1m
R10 y 0 10
.op
.ac dec 5 1k 10meg
.end
"""


def test_polyn_sources_are_linear_sums():
    """Closed form of the operating point (V(a) = 1, V(b) = -0.5, I(Vs) = 0.5 mA, I(Vt) = -0.25 mA)
    and the .ac response against ngspice (magnitude and phase within 1e-3; skipped without ngspice)."""
    nl = parse_spice(POLY_N, "polyn.cir")
    op = operating_point(nl)
    va, vb, i_s, i_t = 1.0, -0.5, 0.5e-3, -0.25e-3
    e1 = 0.25 + 2 * va - 3 * vb
    want = {"e1": e1, "g1": (1e-3 + 2e-3 * va) * 1e3, "f1": (3 * i_s - 2 * i_t) * 1e3,
            "h1": 0.1 + 1e3 * i_s + 500 * i_t}  # h1: an ideal voltage source, whatever its load
    dv = va + vb + 0.5 * e1  # V(e2) - V(x), split 1k : 2k
    want.update({"e2": dv / 3, "x": -2 * dv / 3})
    for node, v in want.items():
        assert abs(op.voltage(node) - v) <= 64 * EPS * max(1.0, abs(v)), (node, op.voltage(node), v)
    t1 = write_spice(nl, None)
    assert write_spice(parse_spice(t1), None) == t1

    ngspice_or_skip("the POLY(n) .ac cross-check")
    from spucircuit.io.ngspice import run_ngspice
    from spucircuit.statespace.frequency import small_signal_analyses

    ac = {p.plotname.lower(): p for p in run_ngspice(POLY_N).plots}["ac analysis"]
    tw = small_signal_analyses(nl)
    for k, node in enumerate(tw["ac_nodes"]):
        if "." in node:
            continue  # the twin's internal nodes of the series sum
        ng, v = ac[f"v({node})"], tw["ac_v"][:, k]
        assert np.max(np.abs(np.abs(v) / np.abs(ng) - 1)) < 1e-3, node
        assert np.max(np.abs(np.angle(v / ng))) < 1e-3, node


@pytest.mark.parametrize("card, what", [
    ("E1 e 0 POLY(2) a 0 b 0 0 1 1 0 0.1", r"POLY\(2\) with non-zero coefficients of order 2"),
    ("E1 e 0 POLY(2) a 0 b 0", r"POLY\(2\) needs nc1\+ nc1- nc2\+ nc2- and coefficients"),
    ("F1 e 0 POLY(2) V1 R1 0 1 1", "'R1' must be a voltage source"),
    ("G1 e 0 POLY(0) a 0 1", r"dimension must be an integer in \[1, 64\]"),
    ("E1 e 0 POLY(1) a 0 0 1 0.5", "nonlinear: not supported"),
    ("G1 e 0 POLY(1) a 0", "needs nc\\+ nc- and coefficients"),
    ("F1 e 0 POLY(1) R1 0 1", "must be a voltage source"),
    ("H1 e 0 POLY 1 V1 0 1", r"POLY needs its dimension"),
    ("E1 e 0 POLY(1) a 0 0 1 m=2", "not supported with POLY"),
])
def test_bad_poly_cards(card, what):
    from spucircuit.errors import SpiceError

    with pytest.raises(SpiceError, match=what):
        parse_spice(f"t\nV1 a 0 1\nR1 a 0 1k\nR2 e 0 1k\n{card}\n.end\n")
