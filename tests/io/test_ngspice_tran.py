"""Time-dependent sources against ngspice 39: a PULSE-driven RLC ladder (with a damped SIN current
source on a middle node) agrees with ngspice run with tight tolerances (TMAX = 0.5 ns, RELTOL 1e-7)
to 1e-4 of each node's range, at ngspice's own time points and through `spu simulate` on the .tran
grid. Skipped when the ngspice executable is missing (scripts/sysdeps.sh installs it)."""
import shutil

import numpy as np
import pytest

from spucircuit.cli import main as spu
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.inputs import input_schedule
from spucircuit.statespace.mna import compile_netlist

if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
    pytest.skip("ngspice is not installed", allow_module_level=True)

from spucircuit.integrate.transient import transient  # noqa: E402
from spucircuit.io.ngspice import run_ngspice  # noqa: E402

# sources start at 0 V / 0 A, so ngspice's operating point at t = 0 is the twin's zero start state
LADDER = """pulse-driven RLC ladder
V1 in 0 PULSE(0 1 0.2u 50n 80n 1u 2.5u)
R0 in n1 50
L1 n1 n2 10u
C1 n2 0 1n
R1 n2 0 2k
L2 n2 n3 10u
C2 n3 0 1n
L3 n3 n4 10u
C3 n4 0 1n
R4 n4 0 100
I1 0 n3 SIN(0 1m 1.3meg 0.1u 2e5)
.options reltol=1e-7 abstol=1e-15 vntol=1e-12 chgtol=1e-18
.tran 10n 6u 0 0.5n
{control}.end
"""
NODES = ["n1", "n2", "n3", "n4"]
CONTROL = ".control\nrun\nlinearize v(n1) v(n2) v(n3) v(n4)\nwrite lin.raw v(n1) v(n2) v(n3) v(n4)\nquit 0\n.endc\n"


@pytest.mark.parametrize("scheme", ["exact", "trapezoidal"])
def test_pulse_driven_rlc_ladder_matches_ngspice_at_its_time_points(scheme):
    nl = parse_spice(LADDER.format(control=""), "ladder.cir")
    ss = compile_netlist(nl, noise=False)
    ng = run_ngspice(LADDER.format(control=""))
    res = transient(ss, input_schedule(ss, nl.waveforms, 10e-9, 6e-6), ss.x0, ng.t, t_end=6e-6, scheme=scheme)
    Y, Z = ss.node_voltage_map(NODES)
    v = res.states @ np.asarray(Y).T + res.inputs @ np.asarray(Z).T
    ref = ng.voltages(NODES)
    rel = np.max(np.abs(v - ref), axis=0) / np.ptp(ref, axis=0)
    print(f"{scheme}: relative error per node", rel)
    assert np.all(rel < 1e-4), rel
    assert np.all(np.ptp(ref, axis=0) > 0.05)  # every node moves: the comparison is not of zeros


def test_spu_simulate_ladder_on_the_tran_grid_matches_ngspice(tmp_path):
    net = tmp_path / "ladder.cir"
    net.write_text(LADDER.format(control=""))
    out = tmp_path / "ladder.npz"
    assert spu(["simulate", str(net), "--noise", "off", "--out", str(out)]) == 0
    d = np.load(out)
    assert np.allclose(d["t"], np.linspace(0, 6e-6, 601), rtol=0, atol=1e-18)  # TSTEP grid, TSTART 0
    ng = run_ngspice(LADDER.format(control=CONTROL))
    assert np.allclose(ng.t, d["t"], rtol=0, atol=1e-15)
    nodes = list(d["nodes"])
    v = d["v"][:, [nodes.index(n) for n in NODES]]
    ref = ng.voltages(NODES)
    rel = np.max(np.abs(v - ref), axis=0) / np.ptp(ref, axis=0)
    print("spu simulate: relative error per node", rel)
    assert np.all(rel < 1e-4), rel


LOOP = """sources closing a loop of capacitors
Vp a b dc 0 PULSE(0 1 1u 0.3u 0.2u 2u 5u)
R0 a 0 2k
R1 a b 1k
C1 b 0 2n
R2 b c 3k
C3 c 0 1n
Vb c d dc 5 SIN(5 1 300k)
R4 d 0 500
C5 a c 1n
.options reltol=1e-7 abstol=1e-15 vntol=1e-12
.tran 10n 12u 0 1n
.end
"""


@pytest.mark.parametrize("scheme", ["exponential", "trapezoidal"])
def test_waveforms_on_a_capacitor_loop_match_ngspice(scheme):
    """Vp and Vb close the loop C5-C3-C1: their C du/dt enters as B_1 du/dt (refused before, as the compile
    dropped it); every node within 1e-5 of its range (measured 2.8e-7)."""
    from spucircuit.device.tran import run_tran

    nl = parse_spice(LOOP, "loop.cir")
    ng = run_ngspice(LOOP)
    r = run_tran(nl, 10e-9, 12e-6, 0.0, 1e-9, scheme=scheme)
    assert r.ss.input_rate_matrix is not None and np.any(r.ss.input_rate_matrix)
    for k, node in enumerate(r.nodes):  # ngspice (TMAX 1 ns) interpolated onto the twin's 10 ns grid
        col = ng.voltages([node])[:, 0]
        rel = float(np.max(np.abs(r.v[:, k] - np.interp(r.t, ng.t, col))) / np.ptp(col))
        assert rel < 1e-5, (node, rel)
