"""Imperfect devices: every non-ideality is applied to component values, compiled by MNA, and
its effect on the compiled system is checked against an analytic prediction made from the
component values alone (first order, or exact where the effect is linear)."""
import re
import warnings

import numpy as np
import pytest

import spucircuit as sc
from spucircuit._util.keys import DeviceKey
from spucircuit.errors import ClippingWarning
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import (
    ADC,
    DAC,
    InjectedNoise,
    OpAmpBandwidth,
    OpAmpGain,
    OpAmpOffset,
    Parasitics,
    ResistorBank,
    Thermal,
    Tolerance,
)
from spucircuit.linalg.solve import device_solve
from spucircuit.numerics.quantize import quantize_values
from tests.helpers import zscores

_RIJ = re.compile(r"^R(\d+)_(\d+)$")


def _problem(n=5, cond=10.0, seed=1):
    A = sc.random_spd(n, cond, seed=seed)
    b = np.random.default_rng(seed).standard_normal(n)
    return A, b


def _values(nl, kind):
    t = nl.tables[kind]
    return {nm: v for nm, v in zip(t.names, t.values)}


def _predicted_matrix(mc, nl):
    """Conductance matrix (problem units) the component values of ``nl`` encode with ideal
    op-amps: coupling conductances, times the buffer gain RF_j / RG_j for entries fed from xn_j."""
    R = _values(nl, "R")
    G = np.zeros((mc.n, mc.n))
    for k, nm in enumerate(nl.tables["R"].names):
        m = _RIJ.match(nm)
        if not m:
            continue
        i, j = int(m.group(1)), int(m.group(2))
        neg = nl.node_names[nl.tables["R"].nodes[k, 0]].startswith("xn")
        gain = R[f"RF{j}"] / R[f"RG{j}"] if neg else 1.0
        G[i, j] = (-gain if neg else 1.0) / R[nm] / mc.g_unit_siemens
    return G


# --------------------------------------------------------------------------- tolerance
@pytest.mark.parametrize("pct", [1e-2, 1e-3])
def test_tolerance_first_order_inverse(pct):
    """delta(A^-1) = -A^-1 delta(A) A^-1 with delta(A) predicted from the perturbed component
    values; the first-order prediction is right up to O(eps^2) (checked at two eps)."""
    A, b = _problem(6, 20.0, seed=2)
    dev = Device(chain(Tolerance(pct, kinds="RC")), seed=11).program(A, b)
    nl, mc = dev.build.netlist, dev.nominal
    eps = pct / 100
    A_pred = _predicted_matrix(mc, nl)
    dA = A_pred - A
    assert np.max(np.abs(dA)) > 0.3 * eps * np.max(np.abs(A))  # the perturbation is real
    # the input map: b_i is scaled by r_in / RIN_i
    R = _values(nl, "R")
    D = np.array([mc.r_in_ohm / R[f"RIN{i}"] for i in range(mc.n)])
    eff = dev.effective()
    Ainv = np.linalg.inv(A)
    # M = A_dev^-1 D exactly (ideal op-amps): check the component-value prediction
    M_pred = np.linalg.inv(A_pred) * D[None, :]
    assert np.max(np.abs(eff.M - M_pred)) <= 1e-9 * np.max(np.abs(M_pred))
    # first order: M - A^-1 = -A^-1 dA A^-1 + A^-1 (D - I)
    first = -Ainv @ dA @ Ainv + Ainv * (D - 1.0)[None, :]
    resid = eff.M - Ainv - first
    rel = np.linalg.norm(resid) / np.linalg.norm(first)
    kappa = np.linalg.cond(A)
    assert rel < 20 * kappa * eps  # second order
    assert rel > 1e-3 * kappa * eps  # and not zero: the prediction is first order, not exact
    # capacitor tolerances change the drift (C_i) but not the stationary map: A_drift = diag(c/C) A_pred
    C = _values(nl, "C")
    Cs = np.array([C[f"C{i}"] for i in range(mc.n)])
    assert np.allclose(eff.A_drift, (mc.c_f / Cs)[:, None] * A_pred, rtol=0, atol=1e-10 * np.abs(A).max())


def test_tolerance_is_fixed_per_device_and_keyed_by_component():
    A, b = _problem(5, 10.0, seed=3)
    imp = chain(Tolerance(1.0))
    d1 = Device(imp, seed=7).program(A, b)
    d2 = Device(imp, seed=7).program(A, b)
    d3 = Device(imp, seed=8).program(A, b)
    v1, v2, v3 = (d.build.netlist.tables["R"].values for d in (d1, d2, d3))
    assert np.array_equal(v1, v2) and not np.allclose(v1, v3)
    # reprogram the same device with another matrix: each resistor keeps its relative error
    A2 = sc.random_spd(5, 30.0, seed=4)
    nominal1 = _values(d1.nominal.netlist, "R")
    ratio1 = {k: v / nominal1[k] for k, v in _values(d1.build.netlist, "R").items()}
    d1.program(A2, b)
    nominal2 = _values(d1.nominal.netlist, "R")
    ratio2 = {k: v / nominal2[k] for k, v in _values(d1.build.netlist, "R").items()}
    common = set(ratio1) & set(ratio2)
    assert len(common) > 10
    assert all(abs(ratio1[k] - ratio2[k]) < 1e-12 for k in common)
    # uniform distribution stays inside +-pct
    du = Device(chain(Tolerance(2.0, dist="uniform")), seed=1).program(A, b)
    r = du.build.netlist.tables["R"].values / du.nominal.netlist.tables["R"].values - 1
    assert np.all(np.abs(r) <= 0.02) and np.std(r) > 0.005


# --------------------------------------------------------------------------------- banks
@pytest.mark.parametrize("grid,rounding,bits", [
    ("conductance", "nearest", 6), ("conductance", "nearest", 10), ("conductance", "stochastic", 8),
    ("resistance", "nearest", 12), ("log", "nearest", 8), ("log", "stochastic", 10),
])
def test_bank_matrix_error_within_quantization_bound(grid, rounding, bits):
    """The compiled matrix differs from A by at most the bank's stated bound, entrywise, and the
    bound is not loose (the worst entry uses a good part of it)."""
    A, b = _problem(12, 50.0, seed=5)
    bank = ResistorBank(bits, (1e3, 1e6), grid=grid, rounding=rounding)
    dev = Device(chain(bank), seed=2).program(A, b)
    mc = dev.nominal
    err = np.abs(dev.effective().A_drift - A)
    R_target = 1.0 / (mc.g_unit_siemens * np.abs(A))
    bound = bank.bound(R_target) / mc.g_unit_siemens
    assert np.all(err <= bound * (1 + 1e-9) + 1e-13)
    pos = bound > 0
    assert np.max(err[pos] / bound[pos]) > 0.3
    if grid == "conductance":  # closed form: half a conductance step (a full step stochastic)
        step = (1e-3 - 1e-6) / (2**bits - 1) / mc.g_unit_siemens
        assert np.max(err) <= (0.5 if rounding == "nearest" else 1.0) * step * (1 + 1e-9)


def test_stochastic_rounding_unbiased_in_conductance_not_resistance():
    """Conductance-unbiased stochastic rounding gives E[G] = G_target (so E[A_k] = A); rounding
    unbiased in resistance leaves the Jensen bias E[1/R] - 1/R_target > 0, of the size predicted."""
    rng = np.random.default_rng(0)
    targets = np.array([1.3e3, 7.7e3, 4.21e4, 2.9e5])
    u = rng.random((200_000, 1))
    for grid in ("resistance", "conductance", "log"):
        qg, _ = quantize_values(np.broadcast_to(targets, u.shape[:1] + targets.shape), 4, 1e3, 1e6, grid,
                                "stochastic", "conductance", u)
        G = 1.0 / qg
        se = G.std(axis=0) / np.sqrt(len(u))
        assert np.all(np.abs(zscores(G.mean(axis=0), 1.0 / targets, se)) < 4.5)
    qr, _ = quantize_values(np.broadcast_to(targets, u.shape[:1] + targets.shape), 4, 1e3, 1e6, "resistance",
                            "stochastic", "resistance", u)
    assert np.all(np.abs(zscores(qr.mean(axis=0), targets, qr.std(axis=0) / np.sqrt(len(u)))) < 4.5)
    # exact bias of resistance-unbiased rounding on the resistance grid: p/R1 + (1-p)/R0 - 1/R
    dR = (1e6 - 1e3) / 15
    R0 = 1e3 + np.floor((targets - 1e3) / dR) * dR
    R1 = R0 + dR
    p = (targets - R0) / dR
    bias = p / R1 + (1 - p) / R0 - 1.0 / targets
    Gr = 1.0 / qr
    z = zscores(Gr.mean(axis=0), 1.0 / targets + bias, Gr.std(axis=0) / np.sqrt(len(u)))
    assert np.all(np.abs(z) < 4.5)
    assert np.all(bias > 0) and np.max(bias * targets) > 0.05  # a real, first-visible bias


def test_device_key_stratified_roundings():
    names = [f"R{i}_{j}" for i in range(6) for j in range(6)]
    K = 8
    U = np.array([DeviceKey(5, member=k, members=K, stratify=True).rounding_uniform(names, "t") for k in range(K)])
    strata = np.floor(U * K).astype(int)
    assert np.all(np.sort(strata, axis=0) == np.arange(K)[:, None])  # one member per stratum
    Ui = np.array([DeviceKey(5, member=k, members=K).rounding_uniform(names, "t") for k in range(K)])
    assert not np.all(np.sort(np.floor(Ui * K), axis=0) == np.arange(K)[:, None])
    assert np.all((U > 0) & (U < 1))


# ------------------------------------------------------------------------------- op-amps
@pytest.mark.parametrize("a0", [1e3, 1e4])
def test_finite_gain_first_order(a0):
    """Finite open-loop gain a0: C(1 + 1/a0) dV/dt = -(G_k + diag(g_tot)/a0) V - ..., with
    inverting-buffer gain 1/(1 + 2/a0). To first order in 1/a0:
    dA = diag(g_tot)/(a0 g_unit) - (2/a0) A_neg - A/a0."""
    A, b = _problem(6, 10.0, seed=6)
    dev = Device(chain(OpAmpGain(a0)), seed=0).program(A, b)
    mc = dev.nominal
    R = _values(mc.netlist, "R")
    g_tot = np.array([sum(1 / v for k, v in R.items() if re.match(rf"^R{i}_\d+$", k)) + 1 / R[f"RIN{i}"]
                      for i in range(mc.n)])
    A_neg = np.where(A < 0, A, 0.0)
    dA_pred = np.diag(g_tot) / (a0 * mc.g_unit_siemens) - 2.0 / a0 * A_neg - A / a0
    dA = dev.effective().A_drift - A
    assert np.linalg.norm(dA) > 0.5 * np.linalg.norm(dA_pred)
    assert np.linalg.norm(dA - dA_pred) <= 20.0 / a0**2 * np.linalg.norm(A) * mc.n


def test_offset_voltage_exact_steady_state():
    """Offsets as DC sources in series with the non-inverting inputs (netlist transformation):
    summing node i sits at Vos_i, buffer j outputs -V_j + 2 Vos_bj (equal resistors), so at b = 0
    G V = Vos_i g_tot,i + sum_j |G_ij| * (-2 Vos_bj)[A_ij < 0]. Linear: exact."""
    A, b = _problem(6, 10.0, seed=7)
    assert np.any(A < 0)
    dev = Device(chain(OpAmpOffset(2e-3)), seed=4).program(A, b)
    mc, nl = dev.nominal, dev.build.netlist
    V = _values(nl, "V")
    assert all(f"VOS_U{i}" in V for i in range(mc.n))
    R = _values(mc.netlist, "R")
    vos = np.array([V[f"VOS_U{i}"] for i in range(mc.n)])
    vb = {j: V[f"VOS_UN{j}"] for j in range(mc.n) if f"VOS_UN{j}" in V}
    rhs = np.zeros(mc.n)
    for i in range(mc.n):
        g_tot = sum(1 / v for k, v in R.items() if re.match(rf"^R{i}_\d+$", k)) + 1 / R[f"RIN{i}"]
        rhs[i] = vos[i] * g_tot
        for j in range(mc.n):
            if A[i, j] < 0:
                rhs[i] -= 2 * vb[j] / R[f"R{i}_{j}"]
    V_star = np.linalg.solve(mc.g_unit_siemens * A, rhs)
    m0 = dev.effective().m0
    assert np.max(np.abs(m0 * mc.v_unit_v - V_star)) <= 1e-9 * np.max(np.abs(V_star))
    assert np.max(np.abs(V_star)) > 1e-3  # offsets do move the read-out
    # the matrix itself is untouched
    assert np.max(np.abs(dev.effective().A_drift - A)) < 1e-12


def _reduced_eigs(A, mc, a0, gbw, c_s):
    """Slow eigenvalues (in 1/tau) of the first-order reduced model of Parasitics' docstring."""
    R = _values(mc.netlist, "R")
    wt = 2 * np.pi * gbw
    g_tot = np.array([sum(1 / v for k, v in R.items() if re.match(rf"^R{i}_\d+$", k)) + 1 / R[f"RIN{i}"]
                      for i in range(mc.n)])
    G, C = mc.g_unit_siemens * A, mc.c_f
    Gp = G - 2.0 / a0 * np.where(A < 0, G, 0.0) + np.diag(g_tot) / a0
    Ceff = (np.diag(C * (1 + 1 / a0) + c_s / a0 + g_tot / wt) - (1 + c_s / C) * G / wt
            + 2.0 * np.where(A < 0, -G, 0.0) / wt)
    return np.sort(np.linalg.eigvals(np.linalg.solve(Ceff, Gp) * mc.tau_s).real)


def test_bandwidth_and_parasitic_capacitance_slow_dynamics():
    """Single-pole op-amps (gbw) with parasitic capacitance at the summing and output nodes.
    A summing-node capacitor with memoryless op-amps is singular (the compiler says so); with the
    macromodel it adds states. The slow eigenvalues follow the first-order reduced model
    (C_eff + Gamma) dV/dt = -G' V (see Parasitics), both the total shift and the part due to
    the parasitic capacitors alone; the DC map is unchanged by the capacitors."""
    A, b = _problem(5, 5.0, seed=8)
    a0, gbw, c_s, c_x, r_out = 300.0, 5e7, 2e-10, 1e-11, 1.0
    with pytest.raises(sc.NetlistError, match="OpAmpBandwidth"):
        Device(chain(OpAmpGain(a0), Parasitics(c_summing_f=c_s)), seed=0).program(A, b)
    bad = Device(chain(OpAmpGain(a0), Parasitics(c_summing_f=c_s, force=True)), seed=0)
    with pytest.raises(sc.NetlistError, match="singular"):
        bad.program(A, b).effective()
    base = Device(chain(OpAmpBandwidth(gbw, r_out_ohm=r_out, a0=a0)), seed=0).program(A, b)
    # summing-node parasitics (c_x separately below: C, c_s and c_x together form a capacitor
    # loop, which needs the compiler's capacitor-loop support)
    dev = Device(chain(OpAmpBandwidth(gbw, r_out_ohm=r_out, a0=a0), Parasitics(c_s)), seed=0).program(A, b)
    mc = dev.nominal
    eff = dev.effective()
    assert eff.ss.n == mc.n + len(mc.netlist.tables["U"]) + mc.n  # integrators + poles + parasitics
    assert np.all(np.linalg.eigvals(eff.ss.drift.to_dense()).real < 0)
    assert np.max(np.abs(eff.M - base.effective().M)) <= 1e-9 * np.max(np.abs(eff.M))
    dx = Device(chain(OpAmpBandwidth(gbw, r_out_ohm=r_out, a0=a0), Parasitics(c_output_f=c_x)), seed=0).program(A, b)
    ex = dx.effective()
    assert np.all(np.linalg.eigvals(ex.ss.drift.to_dense()).real < 0)
    assert np.max(np.abs(ex.M - base.effective().M)) <= 1e-9 * np.max(np.abs(ex.M))
    # an output capacitor behind r_out only adds a fast pole (r_out c_x): slow modes move < 1e-3
    assert np.max(np.abs(np.sort(ex.slow_eigs.real) - np.sort(base.effective().slow_eigs.real))) < 1e-3
    lam_ideal = np.linalg.eigvalsh(A)
    lam0, lam1 = np.sort(base.effective().slow_eigs.real), np.sort(eff.slow_eigs.real)
    p0, p1 = _reduced_eigs(A, mc, a0, gbw, 0.0), _reduced_eigs(A, mc, a0, gbw, c_s)
    shift = np.abs(lam1 - lam_ideal)
    assert np.max(shift / lam_ideal) > 0.01  # a visible change of the dynamics
    assert np.all(np.abs(lam1 - p1) <= 0.1 * shift)
    d_par, d_pred = lam1 - lam0, p1 - p0  # the parasitic capacitors' own effect
    assert np.min(np.abs(d_par)) > 1e-5
    assert np.all(np.abs(d_par - d_pred) <= 0.05 * np.abs(d_par))


# ---------------------------------------------------------------------- noise / temperature
def test_injected_noise_and_temperature_diffusion():
    A, b = _problem(4, 5.0, seed=9)
    psd = 1e-20
    d0 = Device(chain(Thermal(300.0)), seed=0).program(A, b)
    d1 = Device(chain(Thermal(300.0), InjectedNoise(psd)), seed=0).program(A, b)
    d2 = Device(chain(Thermal(600.0)), seed=0).program(A, b)
    Q0, Q1, Q2 = (d.effective().ss.diffusion for d in (d0, d1, d2))
    C = d0.nominal.c_f
    # an injected white current of one-sided PSD S into node s_i adds S / (2 C^2) to Q_ii only
    assert np.allclose(Q1 - Q0, np.eye(4) * psd / (2 * C**2), rtol=1e-9, atol=1e-12 * psd / C**2)
    assert np.allclose(Q2, 2.0 * Q0, rtol=1e-12, atol=0)  # Johnson noise is linear in T
    # uniform temperature coefficient: every R scales by (1 + a dT): drift / (1 + a dT), x* unchanged
    a, dT = 100e-6, 50.0
    d3 = Device(chain(Thermal(300.0 + dT, tcr_ppm_per_k=100.0)), seed=0).program(A, b)
    assert np.allclose(d3.effective().A_drift, A / (1 + a * dT), rtol=1e-12, atol=1e-14)
    assert np.allclose(d3.steady_x()[0], d0.steady_x()[0], rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- converters
def test_dac_quantization_exact_and_bounded():
    A, b = _problem(5, 10.0, seed=10)
    dac = DAC(6, full_scale_v=1.0)
    dev = Device(chain(dac), seed=0).program(A, b)
    mc = dev.nominal
    k = -mc.r_in_ohm * mc.g_unit_siemens * mc.v_unit_v
    lsb = 1.0 / (2**5 - 1)
    b_q = dev.build.dac.quantize(mc.input_volts(b))[0] / k
    assert np.max(np.abs(b_q - b)) <= 0.5 * lsb / abs(k) * (1 + 1e-12)
    assert np.max(np.abs(b_q - b)) > 0
    x, rep = dev.steady_x(b)
    assert rep == {"dac_clipped": 0, "adc_clipped": 0}
    assert np.allclose(x, np.linalg.solve(A, b_q), rtol=1e-10, atol=1e-12)


def test_adc_clipping_detected_and_reported():
    A, b = _problem(4, 5.0, seed=11)
    x_true = np.linalg.solve(A, b)
    # read-out full scale below the largest output (mapped to 1 V): must clip, loudly
    to_1v = 1.0 / np.max(np.abs(x_true))
    dev = Device(chain(ADC(10, full_scale_v=0.5)), seed=0).program(A, b, scale=to_1v)
    with pytest.warns(ClippingWarning, match="clipped"):
        x, rep = dev.steady_x(b)
    assert rep["adc_clipped"] >= 1
    assert np.max(np.abs(x)) * dev.nominal.v_unit_v <= 0.5 + 1e-12
    spu = dev.spu(chains=2, seed=0, noise=False)
    spu.set_rhs(b)
    with pytest.warns(ClippingWarning, match="ADC clipped"):
        res = spu.run("30tau", max_samples=50)
    assert res.adc_clipped > 0 and res.adc_samples == res.x.size > 0
    assert spu.adc_clipped == res.adc_clipped
    with pytest.warns(ClippingWarning):
        _, info = device_solve(dev, b, time="100tau", noise=False, scale="bound")  # kept at 1 V: clips
    assert info["adc_clipped"] > 0
    # ranging finds a scale that fits the ADC: no clipping in the solve it then runs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClippingWarning)
        _, info = device_solve(dev, b, time="100tau", noise=False)
    assert info["adc_clipped"] == 0 and info["scale"]["passes"] >= 1
    # a wide enough ADC: no clipping and no warning
    ok = Device(chain(ADC(16, full_scale_v=2.0)), seed=0).program(A, b, scale=to_1v)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClippingWarning)
        x, rep = ok.steady_x(b)
    assert rep["adc_clipped"] == 0
    assert np.max(np.abs(x - x_true)) <= 0.5 * 2.0 / (2**15 - 1) / ok.nominal.v_unit_v * (1 + 1e-9)
    # DAC clipping is reported too
    with pytest.warns(ClippingWarning, match="DAC clipped"):
        Device(chain(DAC(8, full_scale_v=0.1)), seed=0).program(A, b)


# ------------------------------------------------------------------------ noisy twin, SE
def test_noisy_twin_converges_to_the_device_not_the_ideal_matrix():
    """With noise on, the twin of a tolerance-perturbed device averages to that device's own
    stationary read-out (within 4 computed standard errors), which is many standard errors away
    from A^-1 b: the imperfection is a bias that averaging does not remove."""
    A, b = _problem(4, 5.0, seed=12)
    mc0 = sc.integrator_array(A, b)
    # injected noise sized for an rms of ~0.02 in x per unit of A^-1
    psd = 2 * (0.02 * mc0.v_unit_v) ** 2 * mc0.c_f**2 / mc0.tau_s * 2
    dev = Device(chain(Tolerance(1.0), InjectedNoise(psd)), seed=3).program(A, b)
    x_dev = dev.steady_x(b)[0]
    x_true = np.linalg.solve(A, b)
    x, info = device_solve(dev, b, chains=4, seed=5, time="3000tau")
    se = info["standard_error"]
    assert np.all(se > 0) and np.max(se) < 0.01
    z_dev = zscores(x, x_dev, se)
    assert np.all(np.abs(z_dev) < 4)
    assert np.max(np.abs(zscores(x, x_true, se))) > 8
