"""Every bad input is rejected with the package's own exception and a message naming the problem."""
from __future__ import annotations

import re

import numpy as np
import pytest

import spucircuit as sc
from spucircuit import MatrixError, NetlistError, ParseError, RealizabilityError, SPUError, StepError
from spucircuit._util.quantities import parse_time

# ---------------------------------------------------------------- helpers

A4 = sc.random_spd(4, 10.0, seed=0)
B4 = np.array([1.0, -2.0, 0.5, 3.0])


def _via_solve(A, b=None):
    return sc.solve(A, B4 if b is None else b, time="5tau")


def _via_inv(A, b=None):
    return sc.inv(A, time="5tau")


def _via_map(A, b=None):
    return sc.integrator_array(A, b)


MATRIX_ENTRY_POINTS = [_via_solve, _via_inv, _via_map]
RHS_ENTRY_POINTS = [_via_solve, _via_map]


def test_all_error_classes_derive_from_spu_error_and_value_error():
    for cls in (MatrixError, NetlistError, ParseError, RealizabilityError, StepError):
        assert issubclass(cls, SPUError)
        assert issubclass(cls, ValueError)
    assert not issubclass(SPUError, ValueError)


# ----------------------------------------------------------------- matrices


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
def test_non_symmetric_names_the_entry(entry):
    A = A4.copy()
    A[1, 3] += 0.25
    with pytest.raises(MatrixError, match=r"not symmetric: A\[1,3\] = [-0-9.e]+ but A\[3,1\]") as ei:
        entry(A)
    # the two quoted values are the actual entries, printed as plain floats
    assert repr(float(A[1, 3])) in str(ei.value)
    assert repr(float(A[3, 1])) in str(ei.value)
    assert "np.float64" not in str(ei.value)


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
def test_not_positive_definite_names_smallest_eigenvalue(entry):
    A = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])  # eigenvalues -1, 3, 3
    with pytest.raises(MatrixError, match=r"not positive definite: smallest eigenvalue -1 <= 0"):
        entry(A)


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
def test_singular_psd_matrix_is_not_positive_definite(entry):
    A = np.array([[1.0, 1.0], [1.0, 1.0]])  # eigenvalues 0, 2
    with pytest.raises(MatrixError, match=r"not positive definite: smallest eigenvalue") as ei:
        entry(A)
    lam = float(re.search(r"smallest eigenvalue (\S+)", str(ei.value)).group(1))
    assert abs(lam) < 1e-12


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
@pytest.mark.parametrize("bad, pos", [(np.nan, (2, 1)), (np.inf, (0, 3)), (-np.inf, (3, 3))])
def test_nan_inf_names_position(entry, bad, pos):
    A = A4.copy()
    A[pos] = bad
    with pytest.raises(MatrixError, match=rf"contains NaN or inf \(first at A\[{pos[0]},{pos[1]}\] = {bad}\)"):
        entry(A)


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
@pytest.mark.parametrize("A, shape", [
    (np.ones(4), "(4,)"),
    (np.ones((3, 4)), "(3, 4)"),
    (np.zeros((0, 0)), "(0, 0)"),
    (np.ones((2, 2, 2)), "(2, 2, 2)"),
    (5.0, "()"),
])
def test_wrong_shape(entry, A, shape):
    with pytest.raises(MatrixError, match=r"A has wrong shape " + re.escape(shape) + r": expected a non-empty square"):
        entry(A)


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
@pytest.mark.parametrize("A", [[["a", "b"], ["c", "d"]], [[1.0, None], [None, 1.0]], {"a": 1}])
def test_non_numeric_matrix(entry, A):
    with pytest.raises(MatrixError, match=r"A is not a numeric array|A contains NaN"):
        entry(A)


@pytest.mark.parametrize("entry", MATRIX_ENTRY_POINTS)
def test_ragged_matrix_is_a_matrix_error(entry):
    with pytest.raises(MatrixError, match=r"A is not a numeric array"):
        entry([[1.0, 0.0], [0.0]])


@pytest.mark.parametrize("entry", RHS_ENTRY_POINTS)
@pytest.mark.parametrize("b, shape", [(np.ones(3), "(3,)"), (np.ones(5), "(5,)"), (np.ones((2, 2)), "(2, 2)"),
                                      (np.ones((4, 2)), "(4, 2)")])
def test_rhs_wrong_shape(entry, b, shape):
    with pytest.raises(MatrixError, match=r"b has wrong shape " + re.escape(shape) + r": expected \(4,\)"):
        entry(A4, b)


def test_rhs_column_vector_is_accepted():
    # an (n, 1) column is a vector, not an error
    out = sc.integrator_array(A4, B4.reshape(4, 1))
    np.testing.assert_array_equal(out.b, B4)


@pytest.mark.parametrize("entry", RHS_ENTRY_POINTS)
@pytest.mark.parametrize("bad, i", [(np.nan, 2), (np.inf, 0)])
def test_rhs_nan_inf_names_position(entry, bad, i):
    b = B4.copy()
    b[i] = bad
    with pytest.raises(MatrixError, match=rf"b contains NaN or inf \(first at b\[{i}\] = {bad}\)"):
        entry(A4, b)


@pytest.mark.parametrize("entry", RHS_ENTRY_POINTS)
def test_rhs_non_numeric(entry):
    with pytest.raises(MatrixError, match=r"b is not a numeric array"):
        entry(A4, ["x", "y", "z", "w"])


def test_random_spd_rejects_bad_arguments():
    with pytest.raises(MatrixError, match=r"n must be >= 1, got 0"):
        sc.random_spd(0)
    with pytest.raises(MatrixError, match=r"condition number must be finite and >= 1, got 0.5"):
        sc.random_spd(3, cond=0.5)


# ------------------------------------------------- unrealizable component values


@pytest.mark.parametrize("adder, desc, unit", [
    ("add_resistor", "resistor", "Ohm"),
    ("add_capacitor", "capacitor", "F"),
    ("add_inductor", "inductor", "H"),
])
@pytest.mark.parametrize("value", [0.0, -1.0, np.nan, np.inf, -np.inf])
def test_rcl_values_must_be_finite_positive(adder, desc, unit, value):
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=rf"{desc} 'X7' has unrealizable value {re.escape(repr(float(value)))} "
                                           rf"{unit}: value must be finite and > 0"):
        getattr(nl, adder)("X7", "a", "0", value)
    assert len(nl) == 0


@pytest.mark.parametrize("value", [-1e-20, np.nan, np.inf])
def test_noise_psd_must_be_finite_nonnegative(value):
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"white noise current source 'NS3' .* noise PSD must be finite and >= 0"):
        nl.add_noise_source("NS3", "a", "0", value)
    nl.add_noise_source("NS4", "a", "0", 0.0)  # zero PSD is allowed
    assert nl.count("N") == 1


@pytest.mark.parametrize("value", [0.0, np.nan, np.inf])
def test_vccs_transconductance_must_be_finite_nonzero(value):
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"voltage-controlled current source 'Gm1' .* transconductance must be finite and non-zero"):
        nl.add_vccs("Gm1", "a", "0", "b", "0", value)
    nl.add_vccs("Gm2", "a", "0", "b", "0", -1e-3)  # negative gm is fine
    assert nl.count("G") == 1


@pytest.mark.parametrize("value", [0.0, -10.0, np.nan, -np.inf])
def test_opamp_gain_must_be_positive(value):
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"op-amp 'UA' has unrealizable value .* open-loop gain must be > 0"):
        nl.add_opamp("UA", "o", "0", "m", value)
    nl.add_opamp("UB", "o", "0", "m", np.inf)  # ideal
    nl.add_opamp("UC", "o2", "0", "m2", 1e5)
    assert nl.count("U") == 2


@pytest.mark.parametrize("adder, nodes", [("add_vsource", ("a", "0")), ("add_isource", ("a", "0"))])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_sources_must_be_finite(adder, nodes, value):
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"'S1' has unrealizable value .*value must be finite"):
        getattr(nl, adder)("S1", *nodes, value)


def test_bulk_add_names_first_offender_and_counts_the_rest():
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"resistor 'R2' has unrealizable value -5.0 Ohm.*\(and 1 more\)"):
        nl.add_elements("R", ["R1", "R2", "R3"], [["a", "0"], ["b", "0"], ["c", "0"]], [1e3, -5.0, 0.0])
    assert len(nl) == 0


def test_non_numeric_component_value_is_a_netlist_error():
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"resistor values must be numbers"):
        nl.add_resistor("R1", "a", "0", "1k")


def test_rejected_add_leaves_no_phantom_node():
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match="resistor 'R0'"):
        nl.add_resistor("R0", "phantom", "0", -1.0)
    assert nl.node_names == ["0"]
    assert not nl.has_node("phantom")
    nl.add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    ss = sc.compile_netlist(nl)  # a phantom node would make the MNA matrix singular
    assert ss.n == 1
    np.testing.assert_allclose(ss.drift.to_dense(), [[-1.0 / (1e3 * 1e-9)]], rtol=1e-12)


def test_set_value_is_validated():
    nl = sc.Netlist().add_resistor("R1", "a", "0", 1e3)
    with pytest.raises(NetlistError, match=r"resistor 'R1' has unrealizable value -3.0 Ohm"):
        nl.set_value("R1", -3.0)
    assert next(nl.elements("R")).value == 1e3
    with pytest.raises(NetlistError, match=r"no element named 'R9'"):
        nl.set_value("R9", 1.0)


# ------------------------------------------------------------------ mapping

# entries 1e-4 and 3e-5 are below max|A| * r_min / r_max = 1e-3; 0.2 is fine
M_SMALL = np.array([[1.0, 1e-4, 0.2], [1e-4, 1.0, 3e-5], [0.2, 3e-5, 1.0]])


def test_unrealizable_entries_are_named():
    with pytest.raises(RealizabilityError) as ei:
        sc.integrator_array(M_SMALL)
    msg = str(ei.value)
    assert msg.startswith("4 entries of A need a resistance above r_max = 1e+06 Ohm")
    for e in ("A[0,1]=0.0001", "A[1,0]=0.0001", "A[1,2]=3e-05", "A[2,1]=3e-05"):
        assert e in msg
    assert "A[0,2]" not in msg and "A[0,0]" not in msg
    assert "prune=True" in msg


def test_unrealizable_entries_through_solve():
    with pytest.raises(RealizabilityError, match=r"A\[0,1\]=0.0001"):
        sc.solve(M_SMALL, np.ones(3), time="5tau")


def test_many_unrealizable_entries_are_truncated():
    n = 6
    A = np.eye(n) + 1e-5 * (np.ones((n, n)) - np.eye(n))
    with pytest.raises(RealizabilityError, match=r"30 entries .* and 22 more\."):
        sc.integrator_array(A)


def test_prune_records_entries_and_bound():
    mc = sc.integrator_array(M_SMALL, np.array([1.0, 2.0, 3.0]), prune=True)
    p = mc.prune
    assert p["pruned_entries"] == 4
    small = np.abs(M_SMALL) < 1e-3
    # realised matrix differs from A exactly at the pruned entries, which are left open (0)
    np.testing.assert_array_equal(mc.A != M_SMALL, small)
    np.testing.assert_array_equal(mc.A[small], 0.0)
    np.testing.assert_array_equal(mc.A[~small], M_SMALL[~small])
    dA = np.where(small, M_SMALL, 0.0)
    eps = np.linalg.norm(dA, "fro") / np.linalg.norm(M_SMALL, 2)
    kappa = np.linalg.cond(M_SMALL)
    assert p["dA_fro"] == pytest.approx(np.linalg.norm(dA, "fro"), rel=1e-12)
    assert p["relative_solution_error_bound"] == pytest.approx(kappa * eps / (1 - kappa * eps), rel=1e-9)
    assert np.isfinite(p["relative_solution_error_bound"]) and 0 < p["relative_solution_error_bound"] < 1e-3
    # the bound holds for the realised system
    x, xp = np.linalg.solve(M_SMALL, mc.b), np.linalg.solve(mc.A, mc.b)
    assert np.linalg.norm(xp - x) / np.linalg.norm(x) <= p["relative_solution_error_bound"]
    # no resistor for an open entry; the others are there
    names = {e.name for e in mc.netlist.elements("R")}
    assert {"R0_1", "R1_0", "R1_2", "R2_1"}.isdisjoint(names)
    assert {"R0_0", "R0_2", "R2_0", "R1_1", "R2_2"} <= names
    # unpruned mapping records zero pruned entries
    assert sc.integrator_array(M_SMALL, r_max=1e8).prune == {"pruned_entries": 0}


def test_prune_that_destroys_definiteness_is_refused():
    # diagonal entries are tiny relative to the off-diagonal: pruning them breaks SPD
    A = np.array([[2e-4, 0.0, 0.0], [0.0, 1.0, 0.5], [0.0, 0.5, 1.0]])
    with pytest.raises(RealizabilityError, match=r"pruning 1 small entries destroys positive definiteness"):
        sc.integrator_array(A, prune=True)


def test_r_max_below_r_min():
    with pytest.raises(RealizabilityError, match=r"r_max \(10.0 Ohm\) is below r_min \(1000.0 Ohm\)"):
        sc.integrator_array(A4, r_max=10.0)


@pytest.mark.parametrize("name, value", [("r_min", 0.0), ("r_min", -1.0), ("r_max", np.inf), ("v_swing", 0.0)])
def test_bad_scale_parameters(name, value):
    with pytest.raises(RealizabilityError, match=rf"{name} must be finite and > 0, got {value!r}"):
        sc.integrator_array(A4, **{name: value})


@pytest.mark.parametrize("value", [0.0, -1e-9, np.nan, np.inf])
def test_bad_capacitance(value):
    with pytest.raises(RealizabilityError, match=rf"c must be finite and > 0, got {value!r}"):
        sc.integrator_array(A4, c=value)


def test_bad_noise_psd_and_buffer_resistance():
    with pytest.raises(RealizabilityError, match=r"noise_psd must be finite and >= 0 A\^2/Hz, got -1.0"):
        sc.integrator_array(A4, noise_psd=-1.0)
    with pytest.raises(RealizabilityError, match=r"r_buffer = 10.0 Ohm is outside \[1000.0, 1000000.0\] Ohm"):
        sc.integrator_array(A4, r_buffer=10.0)


# --------------------------------------------------------- netlist structure


def _rc(nl=None):
    nl = nl or sc.Netlist()
    return nl.add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)


def test_duplicate_names_case_insensitive():
    nl = _rc()
    with pytest.raises(NetlistError, match=r"duplicate element name 'r1'"):
        nl.add_resistor("r1", "a", "0", 2e3)
    with pytest.raises(NetlistError, match=r"duplicate element name 'r1'"):  # across kinds too
        nl.add_capacitor("r1", "a", "0", 1e-9)
    with pytest.raises(NetlistError, match=r"duplicate element name 'rX'"):  # within one bulk add
        nl.add_elements("R", ["Rx", "rX"], [["a", "0"], ["a", "0"]], [1.0, 1.0])
    assert nl.count("R") == 1 and nl.count("C") == 1


@pytest.mark.parametrize("name", ["", "R 1", "R\t2"])
def test_invalid_element_name(name):
    with pytest.raises(NetlistError, match=r"invalid element name"):
        sc.Netlist().add_resistor(name, "a", "0", 1e3)


@pytest.mark.parametrize("node", ["", "a b", "  "])
def test_invalid_node_name(node):
    with pytest.raises(NetlistError, match=r"invalid node name"):
        sc.Netlist().add_resistor("R1", node, "0", 1e3)


def test_dangling_node_is_named():
    _rc().add_resistor("R2", "a", "tip", 1e3).validate()  # no current in R2: tip sits at a (ngspice agrees)
    nl = _rc().add_capacitor("C2", "a", "tip", 1e-9)
    with pytest.raises(NetlistError, match=r"dangling node 'tip': only element 'C2' connects to it"):
        nl.validate()
    with pytest.raises(NetlistError, match=r"dangling node 'tip'"):
        sc.compile_netlist(nl)
    with pytest.raises(NetlistError, match=r"dangling node 'tip'"):
        sc.SPU(nl)


def test_unconnected_node_is_named():
    nl = _rc()
    nl.node("lonely")
    with pytest.raises(NetlistError, match=r"node 'lonely' is not connected to any element"):
        sc.compile_netlist(nl)


def test_node_without_dc_path_through_capacitor_is_named():
    nl = _rc().add_capacitor("C2", "a", "mid", 1e-9).add_capacitor("C3", "mid", "0", 1e-9)
    with pytest.raises(NetlistError, match=r"node 'mid' has no DC path to ground: connect it through a resistor"):
        sc.compile_netlist(nl)


def test_node_without_dc_path_through_current_source_is_named():
    nl = _rc().add_isource("I1", "0", "fl", 1e-3).add_capacitor("C2", "fl", "0", 1e-9)
    with pytest.raises(NetlistError, match=r"node 'fl' has no DC path to ground"):
        nl.validate()


def test_island_without_ground_is_named_with_count():
    nl = _rc().add_resistor("R5", "p", "q", 1e3).add_capacitor("C5", "p", "q", 1e-9)
    with pytest.raises(NetlistError, match=r"node 'p' has no DC path to ground \(and 1 more\)"):
        nl.validate()


@pytest.mark.parametrize("adder, args, desc", [
    ("add_resistor", (1e3,), "resistor"),
    ("add_capacitor", (1e-9,), "capacitor"),
    ("add_vsource", (1.0,), "DC voltage source"),
])
def test_both_terminals_on_one_node(adder, args, desc):
    nl = _rc()
    getattr(nl, adder)("Z1", "a", "A", *args)  # node names are case-insensitive: same node
    with pytest.raises(NetlistError, match=rf"{desc} 'Z1' has both terminals on node 'a'"):
        nl.validate()


def test_both_terminals_on_ground_alias():
    nl = _rc().add_resistor("R2", "gnd", "0", 1e3)
    with pytest.raises(NetlistError, match=r"resistor 'R2' has both terminals on node '0'"):
        nl.validate()


@pytest.mark.parametrize("kind", ["X", "Q", "RR", ""])
def test_unknown_element_kind(kind):
    with pytest.raises(NetlistError, match=rf"unknown element kind '{kind.upper()}'; expected one of"):
        sc.Netlist().add_elements(kind, ["E1"], [["a", "0"]], [1.0])


def test_wrong_number_of_nodes_or_values():
    nl = sc.Netlist()
    with pytest.raises(NetlistError, match=r"resistor needs 2 nodes per element"):
        nl.add_elements("R", ["R1", "R2"], [["a", "0"]], [1.0, 1.0])
    with pytest.raises(NetlistError, match=r"1 resistor names but 2 values"):
        nl.add_elements("R", ["R1"], [["a", "0"]], [1.0, 1.0])
    with pytest.raises(NetlistError, match=r"resistor node index out of range"):
        nl.add_elements("R", ["R1"], np.array([[5, 0]]), [1.0])
    assert len(nl) == 0 and nl.node_names == ["0"]


def test_no_capacitor_or_inductor():
    nl = sc.Netlist().add_vsource("V1", "a", "0", 1.0).add_resistor("R1", "a", "b", 1e3)
    nl.add_resistor("R2", "b", "0", 1e3)
    with pytest.raises(NetlistError, match=r"no capacitor or inductor: the device has no state to run"):
        sc.SPU(nl)


def test_empty_netlist():
    with pytest.raises(NetlistError, match=r"netlist is empty"):
        sc.compile_netlist(sc.Netlist())


def test_opamp_without_feedback_is_singular():
    nl = sc.Netlist().add_opamp("U1", "out", "0", "inn")
    nl.add_resistor("R1", "inn", "0", 1e3).add_resistor("R2", "inn", "0", 2e3)
    nl.add_resistor("RL", "out", "0", 1e3).add_capacitor("C1", "out", "0", 1e-9)
    nl.validate()  # structurally fine ...
    with pytest.raises(NetlistError, match=r"circuit equations are singular.*op-amp without feedback"):
        sc.compile_netlist(nl)  # ... but the equations are singular


def test_loop_of_capacitors_and_voltage_source_inconsistent_ic_is_refused_naming_them():
    nl = sc.Netlist().add_vsource("V1", "a", "0", 1.0)
    nl.add_capacitor("C1", "a", "b", 1e-9).add_capacitor("C2", "b", "0", 1e-9, 0.2).add_resistor("R1", "b", "0", 1e3)
    with pytest.raises(NetlistError, match=r"capacitor 'C2' closes a loop of capacitors: its initial voltage 0.2 V"):
        sc.compile_netlist(nl)


def test_negative_temperature():
    with pytest.raises(NetlistError, match=r"temperature must be finite and >= 0 K, got -1.0"):
        sc.compile_netlist(_rc(), temperature_k=-1.0)


def test_spu_needs_a_circuit():
    with pytest.raises(NetlistError, match=r"cannot program a ndarray: give a Netlist or MappedCircuit"):
        sc.SPU(A4)


# ------------------------------------------------------------------ time step


@pytest.fixture(scope="module")
def mapped4():
    return sc.integrator_array(A4, B4)


def test_unstable_euler_step_names_the_largest_stable_step(mapped4):
    # ideal integrator array: F = -A / tau, so the Euler limit is 2 tau / lambda_max(A)
    hmax = 2.0 * mapped4.tau_s / np.linalg.eigvalsh(A4)[-1]
    with pytest.raises(StepError) as ei:
        sc.SPU(mapped4, scheme="euler", dt=1.05 * hmax, seed=0)
    msg = str(ei.value)
    assert "unstable" in msg
    got = float(re.search(r"largest stable step is (\S+) s", msg).group(1))
    assert got == pytest.approx(hmax, rel=1e-3)
    assert "scheme='exact'" in msg
    # just below the limit is accepted, and runs
    spu = sc.SPU(mapped4, scheme="euler", dt=0.95 * hmax, seed=0, noise=False)
    assert spu.run(10 * spu.dt).n_steps == 10
    # the exact scheme has no limit at that step
    assert sc.SPU(mapped4, scheme="exact", dt=100 * hmax).dt == 100 * hmax


def test_unstable_euler_step_through_solve():
    with pytest.raises(StepError, match=r"unstable for Euler-Maruyama.*largest stable step"):
        sc.solve(A4, B4, scheme="euler", dt=1.0, time="5tau")


@pytest.mark.parametrize("dt", [0.0, -1e-9, np.nan, np.inf])
@pytest.mark.parametrize("scheme", ["exact", "euler"])
def test_bad_dt(mapped4, dt, scheme):
    with pytest.raises(StepError, match=r"time step must be finite and > 0 s, got"):
        sc.SPU(mapped4, scheme=scheme, dt=dt)


def test_non_numeric_dt(mapped4):
    with pytest.raises(StepError, match=r"time step must be a number of seconds"):
        sc.SPU(mapped4, dt="1us")


@pytest.mark.parametrize("scheme", ["bogus", "Euler", "rk4"])
def test_unknown_scheme(mapped4, scheme):
    with pytest.raises(StepError, match=rf"unknown scheme '{scheme}': use 'exponential' \(alias 'exact'\), 'euler' or 'trapezoidal'"):
        sc.SPU(mapped4, scheme=scheme)


def test_bad_chains(mapped4):
    with pytest.raises(StepError, match=r"chains must be an integer >= 1, got 0"):
        sc.SPU(mapped4, chains=0)


# --------------------------------------------------------------- time strings


@pytest.mark.parametrize("text", ["abc", "", "5 taus", "1e", "tau", "nan", "inf", "5 kg"])
def test_parse_time_garbage(text):
    with pytest.raises(ParseError, match=rf"cannot parse time {re.escape(repr(text))}"):
        parse_time(text, tau_s=1e-6)


@pytest.mark.parametrize("text", ["5tau", "-5tau", "50 TAU"])
def test_parse_time_tau_without_tau(text):
    with pytest.raises(ParseError, match=rf"time {re.escape(repr(text))} is in units of tau but no tau is known"):
        parse_time(text)


@pytest.mark.parametrize("text", ["-5tau", "0", "-1us", 0.0, -2.0, float("nan")])
def test_parse_time_not_positive(text):
    with pytest.raises(ParseError, match=r"time must be finite and > 0"):
        parse_time(text, tau_s=1e-6)


def test_parse_time_good_values():
    assert parse_time("50tau", tau_s=2e-6) == pytest.approx(1e-4, rel=1e-12)
    assert parse_time("50 tau", tau_s=2e-6) == pytest.approx(1e-4, rel=1e-12)
    assert parse_time("10us") == pytest.approx(1e-5, rel=1e-12)
    assert parse_time("3ms") == pytest.approx(3e-3, rel=1e-12)
    assert parse_time("2.5e-5") == 2.5e-5
    assert parse_time(7) == 7.0


def test_bad_time_through_solve_and_run(mapped4):
    with pytest.raises(ParseError, match=r"cannot parse time 'abc'"):
        sc.solve(A4, B4, time="abc")
    with pytest.raises(ParseError, match=r"burn-in .* must be shorter than the analog time"):
        sc.solve(A4, B4, time="10tau", burn_in="20tau")
    spu = sc.SPU(mapped4)
    with pytest.raises(ParseError, match=r"time must be finite and > 0"):
        spu.run("-5tau")
    spu_raw = sc.SPU(_rc())
    with pytest.raises(ParseError, match=r"no tau is known"):
        spu_raw.run("5tau")


# ----------------------------------------------------------- the one device stack: bad inputs
def _factored_small():
    from spucircuit.circuit.factored_array import factored_circuit

    rng = np.random.default_rng(0)
    return factored_circuit(rng.standard_normal((2, 4)), None, 0.5, rng.standard_normal(4), r_max=1e9)


def _stack_cases():
    from spucircuit.device.converters import Converter
    from spucircuit.device.factored_spu import FactoredSPU
    from spucircuit.imperfections.instance import Device
    from spucircuit.imperfections.models import OpAmpGain, ResistorBank, Thermal, Tolerance
    from spucircuit.linalg.calibration import InputGainCalibration
    from spucircuit.linalg.solve import device_inv

    fc = _factored_small()
    mc = sc.integrator_array(np.eye(3) * 2.0, np.ones(3))
    return [
        ("progress", lambda: sc.SPU(mc, seed=0).run("1tau", progress=5), "progress must be True, False or a progress meter"),
        ("scheme", lambda: FactoredSPU(fc, scheme="rk4"), "unknown scheme 'rk4'"),
        ("chains", lambda: FactoredSPU(fc, chains=2.5), "chains must be an integer >= 1"),
        ("program", lambda: Device().program_circuit("net.cir"), "cannot program a str"),
        ("ranging", lambda: Converter(8, 1.0, ranging="auto"), "converter ranging must be one of"),
        ("bank grid", lambda: Device(ResistorBank(8, grid="log")).program_circuit(fc), "conductance grid"),
        ("tolerance dist", lambda: Device(Tolerance(1.0, dist="uniform")).program_circuit(fc), "Gaussian"),
        ("netlist-only model", lambda: Device(OpAmpGain(1e5)).program_circuit(fc), "OpAmpGain is modelled on netlist elements"),
        ("tcr", lambda: Device(Thermal(310.0, tcr_ppm_per_k=50.0)).program_circuit(fc), "temperature coefficients"),
        ("calibration size", lambda: InputGainCalibration(np.ones(3), 1, 0.0).predistort(fc), "calibration is for N = 3"),
        ("device_inv", lambda: device_inv(Device().program_circuit(fc)), "device_inv needs an integrator array"),
        ("rhs", lambda: FactoredSPU(fc).set_rhs(np.ones(3)), "right-hand side must be a finite vector of length N = 4"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_one_device_stack_rejects_bad_input_by_name(case):
    name, call, msg = _stack_cases()[case]
    with pytest.raises(SPUError, match=re.escape(msg)):
        call()


@pytest.mark.parametrize("call, msg", [
    (lambda A, b: sc.solve(A, b, kappa_max=0.5), "kappa_max must be finite and >= 1"),
    (lambda A, b: sc.solve(A, b, kappa_max=float("nan")), "kappa_max must be finite and >= 1"),
    (lambda A, b: sc.solve(A, b, kappa_max="big"), "kappa_max must be a number >= 1"),
    (lambda A, b: sc.solve(A, b, scale="auto"), "scale must be one of"),
    (lambda A, b: sc.inv(A, scale="x*"), "scale must be one of"),
    (lambda A, b: sc.integrator_array(A, b, scale=-1.0), "v_unit must be finite and > 0 V"),
    (lambda A, b: sc.integrator_array(A, b, scale="exact"), "scale must be one of"),
])
def test_ranging_options_are_checked(call, msg):
    A, b = np.eye(3) * 2.0, np.ones(3)
    with pytest.raises(SPUError, match=re.escape(msg)):
        call(A, b)


def test_cli_ranging_options_one_line(tmp_path, capsys):
    np.save(tmp_path / "A.npy", np.eye(3) * 2.0)
    np.save(tmp_path / "b.npy", np.ones(3))
    from spucircuit.cli import main

    rc = main(["solve", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"), "--kappa-max", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "kappa_max" in err[0]
    with pytest.raises(SystemExit) as e:  # argparse names the allowed scales
        main(["solve", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"), "--scale", "best"])
    assert e.value.code == 2 and "autorange" in capsys.readouterr().err
