"""Every linear element and the start of a transient against ngspice 39 (issue 13b): E (floating), F, H,
K couplings, the operating point a .tran without uic starts from (.ic forced), and the degenerate shapes.

The twin's side is the exact solution of its compiled SDE's mean, x(t) = x_inf + e^{F t} (x0 - x_inf),
evaluated at ngspice's own time points, so the only error is ngspice's (tightened: reltol 1e-8 and a
maximum step far below the fastest time constant)."""
import shutil

import numpy as np
import pytest
import scipy.linalg as sla

from spucircuit.io.spice import parse_spice
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import initial_state

if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
    pytest.skip("ngspice is NOT installed (scripts/sysdeps.sh installs it)", allow_module_level=True)

from spucircuit.io.ngspice import run_ngspice
from tests.helpers import EFH_SOURCES

TIGHT = ".options reltol=1e-8 abstol=1e-15 vntol=1e-12\n"


def _twin_vs_ngspice(text):
    """Max over nodes of |twin - ngspice| / (the node's range in ngspice, or its size when flat)."""
    nl = parse_spice(text)
    ss = compile_netlist(nl, noise=False)
    x0 = initial_state(ss, nl)
    ng = run_ngspice(text, timeout=60)
    F = ss.drift.to_dense()
    xinf = -np.linalg.solve(F, ss.input_matrix @ ss.inputs)
    nodes = list(nl.node_names[1:])
    Y, Z = ss.node_voltage_map(nodes)
    w, V = np.linalg.eig(F)  # distinct eigenvalues here: e^{F t} = V e^{w t} V^-1 at every ngspice time
    c = np.linalg.solve(V, x0 - xinf)
    X = xinf + np.real((np.exp(np.outer(ng.t, w)) * c) @ V.T)
    assert np.allclose(X[-1], xinf + sla.expm(F * ng.t[-1]) @ (x0 - xinf), rtol=1e-9, atol=1e-12)
    v_twin = X @ Y.T + Z @ ss.inputs
    v_ng = ng.voltages(nodes)
    scale = np.maximum(np.maximum(np.ptp(v_ng, axis=0), np.max(np.abs(v_ng), axis=0)), 1e-6)  # 1 uV: a node at 0
    return float(np.max(np.abs(v_twin - v_ng) / scale)), v_twin, v_ng, nodes, ng.t


EFHK = "E F H K\n" + EFH_SOURCES + """L1 h x 1m IC=1m
R7 x 0 100
L2 y 0 2m IC=-2m
R8 y 0 50
K1 L1 L2 0.5
C1 f 0 1u IC=0.1
C2 c z 1n IC=0.3
R9 z 0 1k
""" + TIGHT + """.tran 1e-7 50u 0 1e-8 uic
.end
"""


def test_controlled_sources_and_coupled_inductors_match_ngspice():
    err, v_twin, _, nodes, _ = _twin_vs_ngspice(EFHK)
    print(f"\nE F H K transient: max deviation / node range {err:.2e}")
    assert err < 2e-5
    y = v_twin[:, nodes.index("y")]  # L2 is driven only through K1: the coupling is exercised
    assert np.ptp(y) > 1e-2


RLC_IC = """RLC from its operating point, .ic forced
V1 in 0 DC 2
R1 in a 1k
L1 a b 1m IC=0.3
C1 b 0 1u IC=0.5
R2 b 0 3k
R3 in m 2k
C2 m 0 2u IC=4
R4 m 0 2k
.ic v(m)=0.25
""" + TIGHT + """.tran 1e-6 200u 0 1e-8
.end
"""


def test_transient_without_uic_starts_at_the_operating_point_like_ngspice():
    err, v_twin, v_ng, nodes, t = _twin_vs_ngspice(RLC_IC)
    print(f"\n.tran without uic (.ic forced, IC= ignored): max deviation / node range {err:.2e}")
    assert err < 2e-5
    k = nodes.index("m")
    assert abs(v_ng[0, k] - 0.25) < 1e-9 and abs(v_twin[0, k] - 0.25) < 1e-12  # .ic held in the OP
    b = nodes.index("b")
    assert abs(v_ng[0, b] - 1.5) < 1e-9 and abs(v_twin[0, b] - 1.5) < 1e-12  # not IC=0.5: OP


def test_transient_with_uic_starts_from_the_device_ic_like_ngspice():
    err, v_twin, v_ng, nodes, t = _twin_vs_ngspice(RLC_IC.replace(" 1e-8\n.end", " 1e-8 uic\n.end"))
    print(f"\n.tran uic: max deviation / node range {err:.2e}")
    assert err < 2e-5
    nl = parse_spice(RLC_IC.replace(" 1e-8\n.end", " 1e-8 uic\n.end"))
    ss = compile_netlist(nl)
    assert ss.state_names == ["v(C1)", "v(C2)", "i(L1)"]
    assert np.array_equal(initial_state(ss, nl), [0.5, 4.0, 0.3])  # IC= wins over .ic; no operating point


SUBCKT_IC_TC = """.ic inside a subcircuit, tc1/tc2 with temp, dtemp and .temp
.subckt cell in out
R1 in out 1k tc1=0.002 dtemp=10
C1 out 0 1u tc1=0.01 temp=50
R2 out mid 1k
C2 mid 0 1u
.ic v(mid)=0.3
.ends
V1 a 0 1
X1 a b cell
X2 b c cell
R9 c 0 2.2 tc1=0.01 tc2=1e-4 temp=37
R10 a c 3k
L1 c 0 1m tc1=0.01
.temp 40
""" + TIGHT + """.tran 1u 2m 0 1e-7 {uic}
.end
"""


@pytest.mark.parametrize("uic", ["", "uic"])
def test_subcircuit_ic_and_temperature_coefficients_match_ngspice(uic):
    err, v_twin, v_ng, nodes, t = _twin_vs_ngspice(SUBCKT_IC_TC.format(uic=uic))
    print(f"\n.ic in a subcircuit, tc1/tc2 ({uic or 'no uic'}): max deviation / node range {err:.2e}")
    assert err < 2e-5
    nl = parse_spice(SUBCKT_IC_TC.format(uic=uic))
    ss = compile_netlist(nl)
    x0 = initial_state(ss, nl)
    assert x0[ss.state_names.index("v(C.X1.C2)")] == 0.3 and x0[ss.state_names.index("v(C.X2.C2)")] == 0.3


DEGENERATE = """series inductors (three, one reversed), C across V, L in series with I
V1 a 0 1
C0 a 0 1u IC=1
R1 a b 100
L1 b m 1m IC=1m
L2 m c 2m IC=1m
L3 d c 3m IC=-1m
R2 d 0 50
C1 d 0 1u IC=0.2
E1 s 0 m 0 2
R5 s 0 1k
I9 0 i 2m
L9 d i 1m IC=-2m
""" + TIGHT + """.tran 1u 1m 0 1e-8 {uic}
.end
"""


@pytest.mark.parametrize("uic", ["", "uic"])
def test_series_inductors_and_capacitor_across_a_source_match_ngspice(uic):
    err, v_twin, v_ng, nodes, t = _twin_vs_ngspice(DEGENERATE.format(uic=uic))
    print(f"\nseries inductors, C across V ({uic or 'no uic'}): max deviation / node range {err:.2e}")
    assert err < 2e-5
    ss = compile_netlist(parse_spice(DEGENERATE.format(uic=uic)))
    assert ss.state_names == ["v(C1)", "i(L1)"]  # C0, L9 are no states; L1, L2, L3 carry one current
    if uic:  # the middle nodes move: the divider V_m = V_c + L2/(L1+L2) (V_b - V_c) is exercised
        assert np.ptp(v_ng[:, nodes.index("m")]) > 1e-2


CV_LOOPS = """capacitors in series across a source; a loop of two capacitors and two sources
V1 a 0 2
C1 a b 1u IC=0.5
C2 b 0 3u IC=1.5
R1 b 0 1k
V2 c b 1
C3 c d 1u
C4 d 0 2u IC=2.5
R2 d 0 2k
R3 c 0 5k
""" + TIGHT + """.tran 1u 10m 0 1e-7 {uic}
.end
"""


@pytest.mark.parametrize("uic", ["", "uic"])
def test_capacitor_source_loops_match_ngspice(uic):
    err, v_twin, v_ng, nodes, t = _twin_vs_ngspice(CV_LOOPS.format(uic=uic))
    print(f"\ncapacitor / voltage-source loops ({uic or 'no uic'}): max deviation / node range {err:.2e}")
    assert err < 2e-5
    if uic:
        assert np.ptp(v_ng[:, nodes.index("d")]) > 1.0  # it moves: the loop constraint is exercised
