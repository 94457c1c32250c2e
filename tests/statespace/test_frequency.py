"""Small-signal analyses on the compiled state space (spucircuit.statespace.frequency) against theory.

* an RC low-pass: H = 1 / (1 + j w R C) in magnitude and phase, and the output noise PSD
  4 k_B T R |H|^2 whose integral over [0, inf) is k_B T / C;
* an RLC ladder: the integrated output noise PSD equals the Lyapunov variance c P c^T (an
  independent route through the same F and Q), and the AC response equals a complex nodal solve
  (G + j w C_nodal) V = I built here from the element values (independent of the MNA compile);
* the frequency grid of DEC / OCT / LIN sweeps; inoise = onoise / |gain|^2; refusals.
"""
import numpy as np
import pytest

from spucircuit.constants import K_B
from spucircuit.errors import NetlistError
from spucircuit.io.spice import parse_spice
from spucircuit.numerics.ou import stationary_cov
from spucircuit.statespace import frequency as fr
from spucircuit.statespace.mna import compile_netlist
from tests.helpers import RLC_LADDER

EPS = np.finfo(float).eps

RC = "rc\nV1 in 0 dc 0 ac 1\nR1 in out {r}\nC1 out 0 {c}\n.end\n"
LADDER = "rlc ladder\nV1 in 0 dc 0 ac 1\n" + RLC_LADDER + ".end\n"


def _gauss_integral(fun, scale_hz, order):
    """int_0^inf fun(f) df with f = scale tan(theta), Gauss-Legendre on theta in (0, pi/2)."""
    x, w = np.polynomial.legendre.leggauss(order)
    th = (x + 1) * np.pi / 4
    f = scale_hz * np.tan(th)
    jac = scale_hz / np.cos(th) ** 2 * np.pi / 4
    return float(np.sum(w * jac * fun(f)))


@pytest.mark.parametrize("r,c", [(1e3, 1e-9), (47.0, 2.2e-6)])
def test_rc_lowpass_transfer_and_kt_over_c(r, c):
    T = 300.0
    ss = compile_netlist(parse_spice(RC.format(r=r, c=c)), T)
    f = fr.frequency_grid("dec", 20, 1e-3 / (r * c), 1e3 / (r * c))
    H = fr.ac_response(ss, ["out"], fr.ac_amplitudes(ss, {"V1": (1.0, 0.0)}), f)[:, 0]
    Ha = 1.0 / (1.0 + 2j * np.pi * f * r * c)
    tol = 100 * EPS  # a 1x1 solve: a few roundings
    assert np.max(np.abs(np.abs(H) / np.abs(Ha) - 1)) < tol
    assert np.max(np.abs(np.angle(H / Ha))) < tol
    S = fr.output_noise_psd(ss, "out", None, f)
    Sa = 4 * K_B * T * r * np.abs(Ha) ** 2  # the resistor's 4kTR through the divider
    assert np.max(np.abs(S / Sa - 1)) < tol
    fc = 1 / (2 * np.pi * r * c)
    var = _gauss_integral(lambda ff: fr.output_noise_psd(ss, "out", None, ff), fc, 200)
    assert abs(var / (K_B * T / c) - 1) < 1e-10  # the quadrature is exact to rounding for a Lorentzian


def _ladder():
    nl = parse_spice(LADDER)
    return nl, compile_netlist(nl, 300.0)


def test_ladder_integrated_noise_is_the_lyapunov_variance():
    nl, ss = _ladder()
    F, Q = ss.drift.to_dense(), np.asarray(ss.diffusion)
    for out in ("n2", "n3"):
        Y, _ = ss.node_voltage_map([out])
        var = float(Y[0] @ stationary_cov(F, Q) @ Y[0])
        ev = np.linalg.eigvals(F)
        scale = float(np.median(np.abs(ev))) / (2 * np.pi)
        got = [_gauss_integral(lambda ff: fr.output_noise_psd(ss, out, None, ff), scale, m) for m in (400, 800)]
        quad_err = abs(got[1] - got[0])  # the coarser rule's error bounds the finer one's
        assert abs(got[1] - var) <= quad_err + 1e-9 * var, (out, got, var)
        assert quad_err < 1e-3 * var  # the check is not vacuous


def _nodal_ac(f, amp=1.0):
    """Phasors of n1, n2, n3 from a complex nodal solve written out here (V1 ideal, so v(in) = amp)."""
    R1, L1, C1, R2, L2, C2, R3 = 50.0, 10e-6, 1e-9, 1e3, 10e-6, 1e-9, 200.0
    out = []
    for fk in f:
        s = 2j * np.pi * fk
        y1, y2 = 1 / (s * L1), 1 / (s * L2)
        Yn = np.array([[1 / R1 + y1, -y1, 0],
                       [-y1, y1 + s * C1 + 1 / R2 + y2, -y2],
                       [0, -y2, y2 + s * C2 + 1 / R3]])
        out.append(np.linalg.solve(Yn, np.array([amp / R1, 0, 0])))
    return np.array(out)


def test_ladder_ac_matches_a_nodal_solve():
    nl, ss = _ladder()
    f = fr.frequency_grid("dec", 10, 1e3, 1e8)
    amp = 2.0 * np.exp(1j * np.deg2rad(30.0))
    V = fr.ac_response(ss, ["n1", "n2", "n3"], fr.ac_amplitudes(ss, {"v1": (2.0, 30.0)}), f)
    ref = _nodal_ac(f, amp)
    cond = max(np.linalg.cond(2j * np.pi * fk * np.eye(ss.n) - ss.drift.to_dense()) for fk in f)
    assert np.max(np.abs(V - ref) / np.abs(ref)) < 1e3 * cond * EPS


def test_frequency_grids_step_as_ngspice():
    f = fr.frequency_grid("dec", 10, 1e3, 1e8)
    assert len(f) == 51 and f[0] == 1e3 and abs(f[-1] / 1e8 - 1) < 1e-12
    f = fr.frequency_grid("oct", 3, 1.0, 8.0)
    assert len(f) == 10 and abs(f[-1] - 8) < 1e-12
    assert np.allclose(fr.frequency_grid("lin", 5, 0.0, 4.0), [0, 1, 2, 3, 4])
    assert fr.frequency_grid("lin", 1, 3.0, 3.0).tolist() == [3.0]
    assert len(fr.frequency_grid("dec", 4, 1.0, 5.0)) == 3  # 1, 1.78, 3.16 (5.62 > 5)


@pytest.mark.parametrize("args", [("log", 10, 1, 10), ("dec", 0, 1, 10), ("dec", 2.5, 1, 10), ("dec", 10, 0, 10),
                                  ("dec", 10, 10, 1), ("lin", 3, -1, 1), ("dec", 10, 1, np.inf), ("dec", True, 1, 2)])
def test_frequency_grid_refuses_bad_sweeps(args):
    with pytest.raises(NetlistError):
        fr.frequency_grid(*args)


def test_input_noise_is_output_noise_over_gain():
    nl, ss = _ladder()
    f = fr.frequency_grid("dec", 5, 1e3, 1e8)
    on = fr.output_noise_psd(ss, "n3", None, f)
    g = fr.ac_response(ss, ["n3"], fr.ac_amplitudes(ss, {"V1": (1.0, 0.0)}), f)[:, 0]
    assert np.array_equal(fr.input_noise_psd(on, g), on / np.abs(g) ** 2)
    assert fr.input_noise_psd([1.0], [0.0])[0] == 1.0 / fr.MIN_GAIN_SQ


def test_differential_output_noise():
    nl, ss = _ladder()
    f = fr.frequency_grid("dec", 5, 1e3, 1e8)
    Y, _ = ss.node_voltage_map(["n2", "n3"])
    c = Y[0] - Y[1]
    F, Q = ss.drift.to_dense(), np.asarray(ss.diffusion)
    want = []
    for fk in f:
        R = np.linalg.inv(2j * np.pi * fk * np.eye(ss.n) - F)  # dense inverse: the reference only
        want.append(2 * np.real(c @ R @ Q @ R.conj().T @ c))
    got = fr.output_noise_psd(ss, "n2", "n3", f)
    assert np.max(np.abs(got / np.array(want) - 1)) < 1e-10


def _nodal_noise_reference(nl, out, f, temperature_k):
    """Reference by a dense complex nodal solve, independent of the state space: Y(jw) of the R, C, L
    (grounded voltage sources are AC grounds: their nodes dropped), v = Y^-1 i for each resistor's
    Johnson current 4 k_B T / R between its nodes."""
    grounded = {int(p) for p, q in nl.tables["V"].nodes if q == 0} | {0}
    keep = [i for i in range(nl.n_nodes + 1) if i not in grounded]
    pos = {n: k for k, n in enumerate(keep)}
    o = pos[nl.node_index(out)]
    res = []
    for fk in f:
        w = 2 * np.pi * fk
        Y = np.zeros((len(keep), len(keep)), dtype=complex)
        for kind, adm in (("R", lambda v: 1 / v), ("C", lambda v: 1j * w * v), ("L", lambda v: 1 / (1j * w * v))):
            for (p, q), v in zip(nl.tables[kind].nodes, nl.tables[kind].values):
                for a, b, sgn in ((p, p, 1), (q, q, 1), (p, q, -1), (q, p, -1)):
                    if a in pos and b in pos:
                        Y[pos[a], pos[b]] += sgn * adm(v)
        Z = np.linalg.inv(Y)
        total = 0.0
        for (p, q), r in zip(nl.tables["R"].nodes, nl.tables["R"].values):
            h = (Z[o, pos[p]] if p in pos else 0) - (Z[o, pos[q]] if q in pos else 0)
            total += 4 * K_B * temperature_k / r * abs(h) ** 2
        res.append(total)
    return np.array(res)


def test_output_with_a_white_part_includes_it():
    """An RL mid-node carries resistor noise that passes no state: the spectrum includes it (the
    frequency-domain map g = T_j^T (jwI - F)^-T c^T + d), against a nodal solve, its floor 4 k_B T R1."""
    nl = parse_spice("rl\nV1 in 0 dc 0 ac 1\nR1 in mid 1k\nL1 mid out 1m\nC1 out 0 1n\nR2 out 0 1k\n.end\n")
    ss = compile_netlist(nl, 300.0)
    f = fr.frequency_grid("dec", 5, 1e3, 1e9)
    for node in ("mid", "out"):
        got = fr.output_noise_psd(ss, node, None, f)
        want = _nodal_noise_reference(nl, node, f, 300.0)
        assert np.max(np.abs(got / want - 1)) < 1e-9, node
    assert fr.direct_noise_psd(ss, "out") == 0.0
    # the white floor of the RL mid-node: R1 || (nothing else at DC through L with i_L held) -> 4kT R1
    assert abs(fr.direct_noise_psd(ss, "mid") / (4 * K_B * 300.0 * 1e3) - 1) < 1e-12
    top = fr.output_noise_psd(ss, "mid", None, [1e13])[0]  # far above the L/R corner: the floor alone
    assert abs(top / fr.direct_noise_psd(ss, "mid") - 1) < 1e-6


def test_resistive_dividers_have_the_analytic_white_psd():
    """resdiv.cir's dividers (ngspice examples/noise): 4 k_B T (R1 || R2); R2 noiseless: 4 k_B T R1 / 4;
    with C across R2: 4 k_B T (R1 || R2) / (1 + (w (R1 || R2) C)^2) - one state, the rest algebraic."""
    T = 300.15
    base = "V1 1 0 dc 0 ac 1\nR1 1 2 10k\nR2 2 0 10k{}\n{}.end\n"
    f = fr.frequency_grid("dec", 10, 1, 1e5)
    ss = compile_netlist(parse_spice("d\n" + base.format("", ""), "d.cir"), T)
    assert ss.n == 0
    assert np.allclose(fr.output_noise_psd(ss, "2", None, f), 4 * K_B * T * 5e3, rtol=1e-12, atol=0)
    ss = compile_netlist(parse_spice("d\n" + base.format(" noisy=0", ""), "d.cir"), T)
    assert np.allclose(fr.output_noise_psd(ss, "2", None, f), 4 * K_B * T * 1e4 / 4, rtol=1e-12, atol=0)
    ss = compile_netlist(parse_spice("d\n" + base.format("", "C2 2 0 1u\n"), "d.cir"), T)
    want = 4 * K_B * T * 5e3 / (1 + (2 * np.pi * f * 5e3 * 1e-6) ** 2)
    assert np.max(np.abs(fr.output_noise_psd(ss, "2", None, f) / want - 1)) < 1e-12


def test_ac_amplitudes_refuse_unknown_sources():
    nl, ss = _ladder()
    with pytest.raises(NetlistError, match="not an input"):
        fr.ac_amplitudes(ss, {"V9": (1.0, 0.0)})
    with pytest.raises(NetlistError, match="one AC amplitude per input"):
        fr.ac_response(ss, ["n1"], np.ones(3), [1.0])


def test_undamped_pole_on_the_axis_is_refused():
    nl = parse_spice("lc\nI1 0 a dc 0 ac 1\nL1 a 0 1\nC1 a 0 1\n.end\n")
    ss = compile_netlist(nl, 300.0, validate=False)
    f0 = 1 / (2 * np.pi)
    with pytest.raises(NetlistError, match="singular"):
        fr.ac_response(ss, ["a"], fr.ac_amplitudes(ss, {"I1": (1.0, 0.0)}), [f0])


def test_sparse_solver_agrees_with_dense(monkeypatch):
    nl, ss = _ladder()
    f = fr.frequency_grid("dec", 5, 1e3, 1e8)
    a = fr.ac_amplitudes(ss, {"V1": (1.0, 0.0)})
    dense_v, dense_s = fr.ac_response(ss, ["n3"], a, f), fr.output_noise_psd(ss, "n3", None, f)
    monkeypatch.setattr(fr, "_DENSE_MAX_N", 0)
    assert np.allclose(fr.ac_response(ss, ["n3"], a, f), dense_v, rtol=1e-12, atol=0)
    assert np.allclose(fr.output_noise_psd(ss, "n3", None, f), dense_s, rtol=1e-12, atol=0)


def test_virtual_ground_and_mna_compiles_give_the_same_spectra():
    import spucircuit as sc

    A = sc.random_spd(4, cond=10.0, seed=3)
    nl = sc.integrator_array(A, np.ones(4)).netlist
    fast, mna = compile_netlist(nl, 300.0, fast=True), compile_netlist(nl, 300.0, fast=False)
    assert fast.compile_method == "virtual_ground" and mna.compile_method == "mna"
    ev = np.abs(np.linalg.eigvals(mna.drift.to_dense()))
    f = np.geomspace(ev.min(), ev.max(), 7) / (2 * np.pi)
    a = np.exp(1j * np.arange(len(mna.input_names)))
    nodes = list(nl.node_names[1:])
    Vf, Vm = fr.ac_response(fast, nodes, a, f), fr.ac_response(mna, nodes, a, f)
    assert np.max(np.abs(Vf - Vm)) <= 1e-9 * np.max(np.abs(Vm))
    out = next(nm for nm in nodes if np.any(np.asarray(mna.node_voltage_map([nm])[0]) != 0))
    Sf, Sm = fr.output_noise_psd(fast, out, None, f), fr.output_noise_psd(mna, out, None, f)
    assert np.max(np.abs(Sf / Sm - 1)) < 1e-9
    # an inverter output carries resistor noise no state filters: included, the same from either compile
    Sf, Sm = fr.output_noise_psd(fast, "xn0", None, f), fr.output_noise_psd(mna, "xn0", None, f)
    assert np.max(np.abs(Sf / Sm - 1)) < 1e-12
    assert fr.direct_noise_psd(mna, "xn0") > 0
