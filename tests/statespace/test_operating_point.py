"""DC operating point, and the state a transient starts from, with SPICE's semantics (issue 13, item 2):
without ``uic`` a DC-driven circuit starts at its operating point (checked against the analytic one), with
``uic`` from the device IC= values (zero where absent) and .ic; .ic is forced during the operating point;
purely resistive circuits compile to zero states."""
import numpy as np
import pytest

from spucircuit.cli import main as spu
from spucircuit.errors import NetlistError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import initial_state, operating_point, spice_uic

EPS = np.finfo(float).eps

RC = """rc divider charging a capacitor
V1 in 0 DC {vs}
R1 in a {r1}
R2 a 0 {r2}
C1 a 0 {c} {ic}
.tran {tstep} {tstop} {uic}
.end
"""
RLC = """series RLC, DC driven
V1 in 0 DC 2
R1 in a 1k
L1 a b 1m IC=0.3
C1 b 0 1u IC=0.5
R2 b 0 3k
{ic}
.tran 1u 1m {uic}
.end
"""


def _rc(ic="", uic="", vs=2.0, r1=1e3, r2=3e3, c=1e-6, tstep=1e-5, tstop=1e-3):
    return parse_spice(RC.format(vs=vs, r1=r1, r2=r2, c=c, ic=ic, tstep=tstep, tstop=tstop, uic=uic))


def test_rc_operating_point_is_the_divider_and_the_stationary_mean():
    nl = _rc()
    op = operating_point(nl)
    va = 2.0 * 3e3 / 4e3
    assert abs(op.voltage("a") - va) <= 8 * EPS * va
    assert abs(op.voltage("in") - 2.0) <= 4 * EPS
    assert abs(op.current("V1") + 2.0 / 4e3) <= 8 * EPS * 2.0 / 4e3  # SPICE's sign: into the + terminal
    ss = compile_netlist(nl)
    F = ss.drift.to_dense()
    x_mean = -np.linalg.solve(F, ss.input_matrix @ ss.inputs)  # the SDE's stationary mean
    assert np.allclose(op.states(ss.state_names), x_mean, rtol=1e-13, atol=0)


def test_rlc_operating_point_inductor_shorted_capacitor_open():
    nl = parse_spice(RLC.format(ic="", uic=""))
    op = operating_point(nl)
    i = 2.0 / 4e3  # L shorted, C open: V1 across R1 + R2
    assert abs(op.current("L1") - i) <= 8 * EPS * i
    assert abs(op.voltage("b") - 3e3 * i) <= 8 * EPS * 1.5 and abs(op.voltage("a") - op.voltage("b")) <= 4 * EPS
    ss = compile_netlist(nl)
    x = initial_state(ss, nl)
    assert ss.state_names == ["v(C1)", "i(L1)"]
    assert np.allclose(x, [3e3 * i, i], rtol=1e-14, atol=0)  # device IC= ignored without uic


def test_uic_starts_from_device_ic_and_zero():
    nl = parse_spice(RLC.format(ic="", uic="uic"))
    assert spice_uic(nl)
    ss = compile_netlist(nl)
    assert np.array_equal(initial_state(ss, nl), [0.5, 0.3])
    nl = _rc(uic="uic")  # no IC=: zero
    assert np.array_equal(initial_state(compile_netlist(nl), nl), [0.0])


def test_ic_is_forced_during_the_operating_point_without_uic():
    # node b carries the inductor's branch current: ngspice's 1e10 S Norton source,
    # 1e10 v_b - i_L = 1e10 * 1.2 and i_L = (2 - v_b) / 1k
    nl = parse_spice(RLC.format(ic=".ic v(b)=1.2", uic=""))
    ss = compile_netlist(nl)
    x = initial_state(ss, nl)
    g = 1e10
    vb = (1.2 * g + 2.0 / 1e3) / (g + 1.0 / 1e3)
    assert np.allclose(x, [vb, (2.0 - vb) / 1e3], rtol=1e-13, atol=0)
    # node a of the RC holds only resistors and the capacitor: its row becomes v_a = 0.7 exactly
    nl = parse_spice(RC.format(vs=2.0, r1=1e3, r2=3e3, c=1e-6, ic="", tstep=1e-5, tstop=1e-3, uic="")
                     .replace(".end", ".ic v(a)=0.7\n.end"))
    assert np.array_equal(initial_state(compile_netlist(nl), nl), [0.7])
    # with uic the .ic value is the capacitor's initial voltage (no operating point)
    nl = parse_spice(RC.format(vs=2.0, r1=1e3, r2=3e3, c=1e-6, ic="", tstep=1e-5, tstop=1e-3, uic="uic")
                     .replace(".end", ".ic v(a)=0.7\n.end"))
    assert np.array_equal(initial_state(compile_netlist(nl), nl), [0.7])


def test_nodeset_changes_nothing_and_op_ignores_ic():
    base = RLC.format(ic="", uic="")
    a = operating_point(parse_spice(base))
    b = operating_point(parse_spice(base.replace(".end", ".nodeset v(b)=7\n.ic v(b)=3\n.end")))
    assert np.array_equal(a.node_voltages_v, b.node_voltages_v)
    assert np.array_equal(a.branch_currents_a, b.branch_currents_a)


def test_inputs_override_the_netlist_levels():
    nl = _rc()
    ss = compile_netlist(nl)
    ss.set_input("V1", 4.0)
    assert np.allclose(initial_state(ss, nl), [4.0 * 3e3 / 4e3], rtol=1e-14, atol=0)


def test_undefined_operating_points_name_the_elements():
    loop = parse_spice("t\nV1 a 0 1\nR1 a b 1k\nL1 b 0 1m\nL2 b 0 2m\n.tran 1u 10u\n.end\n")
    with pytest.raises(NetlistError, match=r"not unique \(involved: branch currents of L1, L2\)"):
        operating_point(loop)
    with pytest.raises(NetlistError, match=r"not unique"):
        initial_state(compile_netlist(loop), loop)
    assert np.array_equal(initial_state(compile_netlist(loop), loop, uic=True), [0.0, 0.0])
    integ = parse_spice("t\nV1 a 0 1\nR1 a n 1k\nC1 n o 1u\nXU1 o 0 n spu_opamp_ideal\n.end\n")
    with pytest.raises(NetlistError, match=r"no DC operating point.*nodes o\)"):
        operating_point(integ)
    # the same integrator without input has a free state (its charge): not unique
    free = parse_spice("t\nR1 0 n 1k\nC1 n o 1u\nXU1 o 0 n spu_opamp_ideal\n.end\n")
    with pytest.raises(NetlistError, match=r"not unique \(involved: .*voltages of nodes o"):
        operating_point(free)


def _simulate(tmp_path, text, *extra):
    src = tmp_path / "net.cir"
    src.write_text(text)
    out = tmp_path / "out.npz"
    assert spu(["simulate", str(src), "--noise", "off", "--out", str(out), *extra]) == 0
    d = np.load(out)
    return d["t"], d["v"], list(d["nodes"]), d["states"]


def test_simulate_without_uic_starts_and_stays_at_the_operating_point(tmp_path):
    t, v, nodes, states = _simulate(tmp_path, RC.format(vs=2.0, r1=1e3, r2=3e3, c=1e-6, ic="IC=5", tstep=1e-5,
                                                         tstop=1e-3, uic=""))
    va = 1.5
    # the exponential scheme's fixed point is the mean to rounding: a few ulps per step at most
    assert np.max(np.abs(v[:, nodes.index("a")] - va)) <= 1e-12 * va
    assert abs(states[0, 0] - va) <= 4 * EPS * va


def test_simulate_with_uic_relaxes_from_the_device_ic(tmp_path):
    r1, r2, c = 1e3, 3e3, 1e-6
    t, v, nodes, _ = _simulate(tmp_path, RC.format(vs=2.0, r1=r1, r2=r2, c=c, ic="IC=5", tstep=1e-5,
                                                    tstop=1e-3, uic="uic"))
    tau = c * r1 * r2 / (r1 + r2)
    exact = 1.5 + (5.0 - 1.5) * np.exp(-t / tau)
    # the exponential scheme is exact for a DC input: rounding only (expm of a 1 x 1 drift)
    assert np.max(np.abs(v[:, nodes.index("a")] - exact)) <= 1e-12 * 5.0
    assert v[0, nodes.index("a")] == 5.0


def test_purely_resistive_circuit_compiles_to_zero_states_and_simulates(tmp_path):
    text = "divider\nV1 in 0 3\nR1 in a 1k\nR2 a 0 2k\nI1 0 a 1m\n.tran 1e-4 1e-3\n.end\n"
    nl = parse_spice(text)
    ss = compile_netlist(nl)
    assert ss.n == 0 and ss.input_matrix.shape == (0, 2)
    Y, Z = ss.node_voltage_map(["in", "a"])
    va = (3.0 / 1e3 + 1e-3) / (1 / 1e3 + 1 / 2e3)  # KCL at a: (3 - va)/1k + 1m = va/2k
    assert Y.shape == (2, 0)
    assert np.allclose(Z @ ss.inputs, [3.0, va], rtol=4 * EPS, atol=0)
    op = operating_point(nl)
    assert abs(op.voltage("a") - va) <= 8 * EPS * va
    t, v, nodes, states = _simulate(tmp_path, text)
    assert np.allclose(t, 1e-4 * np.arange(11), rtol=0, atol=1e-18) and states.shape == (11, 0)
    assert np.allclose(v[:, nodes.index("a")], va, rtol=4 * EPS, atol=0)


def test_op_command_prints_voltages_and_currents(tmp_path, capsys):
    src = tmp_path / "net.cir"
    src.write_text(RLC.format(ic="", uic=""))
    assert spu(["op", str(src)]) == 0
    out = capsys.readouterr().out
    assert "v(b)" in out and "i(L1)" in out and "i(V1)" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("v(b)"))
    assert abs(float(line.split()[1]) - 1.5) <= 1e-9

