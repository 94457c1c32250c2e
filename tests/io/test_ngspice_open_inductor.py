"""Inductors with an open end (issue 13): an inductor one of whose terminals reaches nothing that carries
current has zero current and is no state; its open end sits at the other end's voltage plus its mutual
voltage sum_j M_ij di_j/dt (a transformer with an open secondary). Against ngspice 39: .op, .tran (both
schemes, at ngspice's time points, and through `spu simulate`), .ac and .pz, tighter than the corpus's
tolerances."""
import shutil

import numpy as np
import pytest

from spucircuit.cli import main as spu
from spucircuit.device.tran import initial_state
from spucircuit.integrate.discretize import eigenvalues
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.frequency import ac_netlist, small_signal_analyses
from spucircuit.statespace.inputs import input_schedule
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import operating_point

if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
    pytest.skip("ngspice is not installed", allow_module_level=True)

from spucircuit.integrate.transient import transient  # noqa: E402
from spucircuit.io.ngspice import run_ngspice  # noqa: E402
from tests.io.test_corpus import run_ngspice_deck  # noqa: E402

# L1, L4 carry current; L2 (open at s, R2 idle beyond it) and L3 (open at w) do not. All four are coupled,
# so v(s) - v(a) = g21 v_L1 + g24 v_L4 (two VCVS in series) and -v(w) = g31 v_L1 + g34 v_L4 (L3 is open at its
# second node: the dot convention's sign is exercised).
# The coupling matrix is positive definite (its smallest eigenvalue is checked below).
XFMR = """transformer with two open secondaries
V1 in 0 {src}
R1 in a 50
L1 a b 10u
R3 b 0 10
C1 a 0 1n
R4 a c 100
L4 c 0 15u
L2 s a 40u
R2 s t 1k
L3 0 w 20u
K12 L1 L2 0.9
K13 L1 L3 0.5
K23 L2 L3 0.3
K14 L1 L4 0.2
K24 L2 L4 0.1
I1 0 a SIN(0 1m 1.3meg 0.1u 2e5)
.options reltol=1e-7 abstol=1e-15 vntol=1e-12 chgtol=1e-18
{analysis}
.end
"""
NODES = ["in", "a", "b", "c", "s", "t", "w"]
OPEN = ["s", "t", "w"]
TRAN = ".tran 10n 4u 0 0.5n"
PULSE = "PULSE(0.2 1 0.2u 50n 80n 1u 2.5u) AC 1"


def _deck(analysis, src=PULSE):
    return XFMR.format(src=src, analysis=analysis)


def test_open_inductors_are_found_and_are_no_states():
    nl = parse_spice(_deck(TRAN))
    nl.validate()
    names = nl.tables["L"].names
    assert {names[r]: (nl.node_names[a], nl.node_names[b]) for r, (a, b) in nl.open_inductors().items()} == {
        "L2": ("s", "a"), "L3": ("w", "0")}  # (open end, other end)
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)", "i(L1)", "i(L4)"]
    k = np.array([[1, .9, .5, .2], [.9, 1, .3, .1], [.5, .3, 1, 0], [.2, .1, 0, 1]])
    assert np.linalg.eigvalsh(k)[0] > 0.05


def test_open_secondary_voltage_is_the_mutual_voltage():
    """v(s) - v(a) = (M_oc M_cc^-1) v_c, computed here from the inductances directly, on the compiled map."""
    nl = parse_spice(_deck(TRAN))
    ss = compile_netlist(nl, noise=False)
    L = {"L1": 10e-6, "L2": 40e-6, "L3": 20e-6, "L4": 15e-6}
    k = {("L1", "L2"): .9, ("L1", "L3"): .5, ("L2", "L3"): .3, ("L1", "L4"): .2, ("L2", "L4"): .1}

    def m(i, j):
        return L[i] if i == j else k.get((i, j), k.get((j, i), 0.0)) * np.sqrt(L[i] * L[j])

    c, o = ["L1", "L4"], ["L2", "L3"]
    Mcc = np.array([[m(i, j) for j in c] for i in c])
    Moc = np.array([[m(i, j) for j in c] for i in o])
    G = Moc @ np.linalg.inv(Mcc)
    Y, Z = ss.node_voltage_map(["a", "b", "c", "s", "w"])
    vl = np.vstack([Y[0] - Y[1], Y[2]]), np.vstack([Z[0] - Z[1], Z[2]])  # v_L1 = v(a) - v(b), v_L4 = v(c)
    np.testing.assert_allclose(Y[3] - Y[0], G[0] @ vl[0], rtol=1e-12, atol=1e-9 * np.abs(Y).max())
    np.testing.assert_allclose(Z[3] - Z[0], G[0] @ vl[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(-Y[4], G[1] @ vl[0], rtol=1e-12, atol=1e-9 * np.abs(Y).max())
    assert np.all(np.abs(G) > 0.05)  # every term is exercised


@pytest.mark.parametrize("scheme", ["exact", "trapezoidal"])
def test_open_secondaries_tran_match_ngspice_at_its_time_points(scheme):
    text = _deck(TRAN)
    nl = parse_spice(text, "xfmr.cir")
    ss = compile_netlist(nl, noise=False)
    ng = run_ngspice(text)
    sched = input_schedule(ss, nl.waveforms, 10e-9, 4e-6)
    x0 = initial_state(ss, nl, nl.meta["spice_file"]["tran"], u0=sched.full(0.0)[0])  # no uic: the op, V1 at 0.2 V
    res = transient(ss, sched, x0, ng.t, t_end=4e-6, scheme=scheme)
    Y, Z = ss.node_voltage_map(NODES)
    v = res.states @ np.asarray(Y).T + res.inputs @ np.asarray(Z).T
    ref = ng.voltages(NODES)
    rel = np.max(np.abs(v - ref), axis=0) / np.ptp(ref, axis=0)
    print(f"{scheme}: error / node range", dict(zip(NODES, rel.round(8))))
    assert np.all(rel < 1e-4), rel
    assert np.all(np.ptp(ref[:, [NODES.index(n) for n in OPEN]], axis=0) > 0.05)  # the open ends move


def test_open_secondaries_operating_point_matches_ngspice(tmp_path):
    plots = run_ngspice_deck(_deck(".op"), str(tmp_path))
    op = plots["operating point"]
    got = operating_point(parse_spice(_deck(".op")))
    for nm in NODES:
        assert got.voltage(nm) == pytest.approx(float(op[f"v({nm})"][0].real), rel=1e-9, abs=1e-12), nm
    r = 1 / (1 / 10 + 1 / 100)  # L1, L4 shorts: R3 || R4 below R1
    assert got.voltage("s") == pytest.approx(0.2 * r / (50 + r), rel=1e-12)  # the open end sits at v(a)


def test_spu_simulate_open_secondaries_match_ngspice(tmp_path):
    net = tmp_path / "xfmr.cir"
    net.write_text(_deck(TRAN))
    ng = run_ngspice(_deck(TRAN + "\n.control\nrun\nlinearize\nwrite lin.raw\nquit 0\n.endc"))
    for scheme in ("exponential", "trapezoidal"):
        out = tmp_path / f"x-{scheme}.npz"
        assert spu(["simulate", str(net), "--noise", "off", "--scheme", scheme, "--out", str(out)]) == 0
        d = np.load(out)
        assert np.allclose(ng.t, d["t"], rtol=0, atol=1e-15)
        nodes = list(d["nodes"])
        v = d["v"][:, [nodes.index(n) for n in NODES]]
        ref = ng.voltages(NODES)
        rel = np.max(np.abs(v - ref), axis=0) / np.ptp(ref, axis=0)
        print(f"spu simulate {scheme}: error / node range", dict(zip(NODES, rel.round(8))))
        assert np.all(rel < 1e-4), rel


def test_open_secondaries_ac_and_pz_match_ngspice(tmp_path):
    text = _deck(".ac dec 20 1k 100meg\n.pz in 0 s 0 vol pol")
    nl = parse_spice(text, "xfmr.cir")
    plots = run_ngspice_deck(text.replace(".pz", "*"), str(tmp_path))
    ac = plots["ac analysis"]
    tw = small_signal_analyses(nl)
    assert np.allclose(ac.data[:, 0].real, tw["ac_f"], rtol=1e-12, atol=0)
    for k, node in enumerate(tw["ac_nodes"]):
        ng, v = ac[f"v({node})"], tw["ac_v"][:, k]
        ok = np.abs(ng) > 1e-9 * np.abs(ng).max()
        mag = np.max(np.abs(np.abs(v[ok]) / np.abs(ng[ok]) - 1))
        ph = np.max(np.abs(np.angle(v[ok] / ng[ok])))
        print(f".ac v({node}): magnitude {mag:.2e}, phase {ph:.2e} rad")
        assert mag < 1e-5 and ph < 1e-5, node
    poles = run_ngspice_deck(_deck(".pz in 0 s 0 vol pol"), str(tmp_path))["pole-zero analysis"]
    p = np.array([poles[nm][0] for nm in poles.names if nm.lower().startswith("v(pole")], dtype=complex)
    ev = np.asarray(eigenvalues(compile_netlist(ac_netlist(nl), noise=False)), dtype=complex)
    assert len(p) == len(ev) == 3
    rel = max(float(np.min(np.abs(ev - q))) / abs(q) for q in p)
    print(f".pz: worst pole / eigenvalue mismatch {rel:.2e}")
    assert rel < 1e-6


NOISY = """open secondary, noise
V1 in 0 DC 0 AC 1
R1 in a 50
C1 a 0 1n
L1 a 0 10u
L2 s 0 40u
R2 s t 1k
K12 L1 L2 0.9
.temp 27
.noise v({out}) V1 dec 10 1k 100meg
.end
"""


def test_open_secondary_noise_matches_ngspice(tmp_path):
    """v(s) = 1.8 v(a) (M21 / L1) carries R1's noise shaped by the tank, as ngspice has it; R2, in series
    with the open L2, carries no current, so its Johnson noise 4 k T R2 appears across it alone: v(t)
    has that white part on top of v(s)'s spectrum."""
    text = NOISY.format(out="s")
    ns = run_ngspice_deck(text, str(tmp_path))["noise spectral density curves"]
    tw = small_signal_analyses(parse_spice(text, "noisy.cir"))
    assert np.allclose(ns.data[:, 0].real, tw["noise_f"], rtol=1e-12, atol=0)
    err = np.max(np.abs(tw["noise_onoise_psd"] / ns["onoise_spectrum"].real ** 2 - 1))
    print(f".noise v(s): worst relative PSD error {err:.2e}")
    assert err < 1e-4
    # v(t) = v(s) + R2's own noise, which passes no state: the per-source .noise keeps that white part
    text = NOISY.format(out="t")
    ns = run_ngspice_deck(text, str(tmp_path))["noise spectral density curves"]
    tw_t = small_signal_analyses(parse_spice(text, "noisy.cir"))
    err = np.max(np.abs(tw_t["noise_onoise_psd"] / ns["onoise_spectrum"].real ** 2 - 1))
    print(f".noise v(t): worst relative PSD error {err:.2e}")
    assert err < 1e-4
    white = 4 * 1.380649e-23 * 300.15 * 1e3
    assert np.max(np.abs(tw_t["noise_onoise_psd"] - tw["noise_onoise_psd"] - white)) <= 1e-9 * white


SERIES = """series pair, one coupled to an open secondary
V1 a 0 1
R1 a b 10
L1 b m 1m IC=0
L4 m 0 3m IC=0
{r9}L2 s 0 2m
R2 s t 1k
K12 L1 L2 0.7
C1 b 0 1u
.options reltol=1e-8 abstol=1e-15 vntol=1e-12
.tran 1e-6 2m 0 1e-7 uic
.end
"""


@pytest.mark.parametrize("r9", ["R9 m 0 100\n", ""])
def test_open_secondary_on_an_inductor_in_series_matches_ngspice(r9):
    """Without R9, L1 and L4 are in series and merge into one state (the open L2 is set aside first, so
    L1 is no longer coupled); L2 still follows M21 di1/dt, through L1's share of the divider."""
    from tests.io.test_ngspice_linear import _twin_vs_ngspice

    err, _, v_ng, nodes, _ = _twin_vs_ngspice(SERIES.format(r9=r9))
    print(f"\nseries pair {'with' if r9 else 'without'} R9: max deviation / node range {err:.2e}")
    assert err < 2e-5
    assert np.ptp(v_ng[:, nodes.index("s")]) > 0.1
    ss = compile_netlist(parse_spice(SERIES.format(r9=r9)), noise=False)
    assert ss.state_names == (["v(C1)", "i(L1)", "i(L4)"] if r9 else ["v(C1)", "i(L1)"])
