"""Op-amp input bias currents and input noise (imperfections.models.OpAmpBias / OpAmpNoise): the
DC shift against its closed form, the compiled noise against the equivalent summing-node current,
and the issue's acceptance figures (10 nA: median error 4.9e-4 +- 30 %; 10 nV/rtHz: every row's
noise at least 4x its Johnson noise and the solve's standard error at least 2x)."""
import numpy as np
import pytest

from spucircuit.circuit.integrator_array import INTEGRATORS
from spucircuit.errors import SPUError
from spucircuit.imperfections.instance import Device, x_diffusion
from spucircuit.imperfections.models import OpAmpBias, OpAmpNoise
from spucircuit.linalg.solve import device_solve
from spucircuit.statespace.mna import compile_netlist
from spucircuit.studies.knobs import default_config
from spucircuit.studies.sweep import run_task  # noqa: F401 - the study whose problems these are


def problems(count=6):
    """The converter-limited study's n = 16, cond 100 problems (spu study defaults)."""
    from spucircuit.studies import sweep

    p = default_config()
    p.update(n=16, cond=100.0)
    return [sweep._problem(p, m, None) for m in range(count)]


def test_bias_current_shifts_b_by_its_closed_form():
    A, b = problems(1)[0]
    dev = Device(OpAmpBias(10e-9, select=INTEGRATORS), seed=0, scale="oracle").program(A, b)
    x = dev.effective().x_star(dev.programmed.input_volts(b))
    mc = dev.nominal
    # current drawn out of a summing node is what the input resistor would have to supply: the
    # inverting integrator settles at A x = b + i / (g_unit v_unit) (V_in = -r_in g_unit v_unit b)
    ref = np.linalg.solve(A, b + 10e-9 / (mc.g_unit_siemens * mc.v_unit_v))
    assert np.allclose(x, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_ten_nanoamps_into_the_summing_nodes_gives_the_issue_figure():
    errs = []
    for A, b in problems():
        dev = Device(OpAmpBias(10e-9, select=INTEGRATORS), seed=0, scale="oracle", r_min=1e3 * 1.05).program(A, b)
        x, _ = dev.steady_x(b)
        xs = np.linalg.solve(A, b)
        errs.append(np.linalg.norm(x - xs) / np.linalg.norm(xs))
    assert np.median(errs) == pytest.approx(4.9e-4, rel=0.3)


def test_offset_current_spreads_per_op_amp_and_is_reproducible():
    A, b = problems(1)[0]
    imp = OpAmpBias(1e-9, 2e-9)
    cur = [Device(imp, seed=s).program(A, b).build.netlist.tables["I"].values.copy() for s in (3, 3, 4)]
    assert np.array_equal(cur[0], cur[1]) and not np.array_equal(cur[0], cur[2])
    assert np.std(cur[0]) > 0.3e-9  # offset_a / 2 = 1 nA one sigma


def _row_diffusion(dev):
    ss = compile_netlist(dev.build.netlist, dev.build.temperature_k)
    Y, _ = ss.node_voltage_map(dev.nominal.output_nodes)
    return x_diffusion(ss, Y, dev.nominal)


def test_input_voltage_noise_drives_the_rows_as_theory_says():
    """e at the integrators' non-inverting inputs holds each summing node at e_i and each output at
    v_C,i + e_i, so the capacitors see the current (D - G) e, D = diag(g_tot), G_ij = g_unit A_ij:
    the compiled state diffusion grows by k e_n^2 (D - G)(D - G)^T / C^2, with k the compiler's
    PSD-to-diffusion factor, measured on an explicit summing-node current source."""
    from spucircuit.imperfections.models import InjectedNoise

    A, b = problems(1)[0]
    en, S = 10e-9, 1e-22
    quiet = Device(None, seed=0).program(A, b)
    mc = quiet.nominal

    def state_q(dev):
        return compile_netlist(dev.build.netlist, dev.build.temperature_k).diffusion

    q0 = state_q(quiet)
    k = np.mean(np.diag(state_q(Device(InjectedNoise(S), seed=0).program(A, b)) - q0)) * mc.c_f**2 / S
    M = np.diag(mc.g_unit_siemens * np.abs(mc.A).sum(axis=1) + 1.0 / mc.r_in_ohm) - mc.g_unit_siemens * mc.A
    want = k * en**2 * (M @ M.T) / mc.c_f**2
    got = state_q(Device(OpAmpNoise(en, select=INTEGRATORS), seed=0).program(A, b)) - q0
    # r_sense (1 Ohm) adds its own Johnson noise, 4 k T 1 Ohm = 1.7e-4 (10 nV)^2
    assert np.allclose(got, want, rtol=3e-4, atol=3e-4 * np.abs(want).max())


def test_ten_nanovolts_dominates_johnson_and_raises_the_standard_error():
    A, b = problems(1)[0]
    quiet = Device(None, seed=0, scale="oracle").program(A, b)
    noisy = Device(OpAmpNoise(10e-9), seed=0, scale="oracle").program(A, b)
    d0, d1 = np.diag(_row_diffusion(quiet)), np.diag(_row_diffusion(noisy))
    assert np.all(d1 - d0 >= 4.0 * d0)
    _, i0 = device_solve(quiet, b, seed=1, scale="oracle")
    _, i1 = device_solve(noisy, b, seed=1, scale="oracle")
    assert np.linalg.norm(i1.standard_error) >= 2.0 * np.linalg.norm(i0.standard_error)


def test_bad_sense_resistor_is_named():
    A, b = problems(1)[0]
    with pytest.raises(SPUError, match="r_sense_ohm"):
        Device(OpAmpNoise(1e-9, r_sense_ohm=0.0), seed=0).program(A, b)


def test_flicker_noise_has_the_1_over_f_spectrum_it_claims():
    """The compiled circuit's PSD at the non-inverting input (states only: the white part is
    algebraic) against e_n^2 f_c / f: within 6 % from 10 f_lo to the corner."""
    A, b = problems(1)[0]
    en, fc = 10e-9, 10.0
    dev = Device(OpAmpNoise(en, corner_hz=fc, select=r"U0"), seed=0).program(A, b)
    ss = compile_netlist(dev.build.netlist, 300.0)
    F = ss.drift.to_dense()
    Q = ss.diffusion.toarray() if hasattr(ss.diffusion, "toarray") else np.asarray(ss.diffusion)
    Y, _ = ss.node_voltage_map(["en_U0"])
    for f in (1e-2, 0.1, 1.0, 10.0):
        H = Y @ np.linalg.inv(2j * np.pi * f * np.eye(ss.n) - F)
        one_sided = 2.0 * (H @ Q @ H.conj().T).real[0, 0]
        assert one_sided == pytest.approx(en**2 * fc / f, rel=0.06)


def test_flicker_poles_start_stationary_and_differ_per_device():
    A, b = problems(1)[0]
    imp = OpAmpNoise(10e-9, corner_hz=10.0)
    ic = [Device(imp, seed=s).program(A, b).build.netlist.tables["C"] for s in (0, 0, 1)]
    fl = [np.array([v for nm, v in zip(t.names, t.ic) if nm.startswith("CFL0_")]) for t in ic]
    assert np.array_equal(fl[0], fl[1]) and not np.array_equal(fl[0], fl[2])
    fk, ak = imp.flicker_poles()
    sd = np.sqrt(ak[0] * fk[0] * np.pi / 2)  # the slowest pole's stationary spread
    assert 0.5 * sd < np.std(fl[0]) < 2.0 * sd
