"""Cross-validation of the twin against ngspice 39 (an independent circuit simulator).

* deterministic transients of exported integrator arrays: twin (exact scheme) vs ngspice, 1e-4;
* the same noise, path by path: current samples generated here drive the twin's exact
  recursion (first-order hold, built from the compiled StateSpace) and ngspice (PWL sources);
* TRRANDOM noise: ngspice's stationary mean and variance vs the Lyapunov theory of the compiled
  circuit, within 4 standard errors (SEs from the OU theory of the sampled process);
* the shipped netlists/*.cir and `spu export` output run in ngspice as they are.

Skipped, loudly, only when the ngspice executable is missing (scripts/sysdeps.sh installs it).
"""
import os
import re
import shutil
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

import spucircuit as sc
from spucircuit.circuit.noise import johnson_psd_per_row
from spucircuit.integrate.discretize import eigenvalues
from spucircuit.io.spice import format_value, read_spice, write_spice
from spucircuit.numerics.ou import stationary_cov

if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
    _MSG = ("ngspice is NOT installed: the ngspice cross-validation tests (tests/test_ngspice.py) are "
            "SKIPPED. Install it (apt-get install ngspice, or run scripts/sysdeps.sh as root).")
    print("\n" + "!" * 100 + "\n" + _MSG + "\n" + "!" * 100, file=sys.stderr)
    warnings.warn(_MSG)
    pytest.skip(_MSG, allow_module_level=True)

from spucircuit.io.ngspice import NgspiceError, run_ngspice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETLISTS = os.path.join(ROOT, "netlists")


def _problem(n, seed, cond=20.0):
    A = sc.random_spd(n, cond=cond, seed=seed)
    rng = np.random.default_rng(seed)
    return A, rng.standard_normal(n), rng.standard_normal(n)


def _rates(netlist):
    ss = sc.compile_netlist(netlist, noise=False)
    ev = eigenvalues(ss)
    return ss, float(np.max(np.abs(ev))), float(np.min(-ev.real))


# ------------------------------------------------------------- deterministic transient
@pytest.mark.parametrize("n", [4, 16])
def test_deterministic_transient_matches_ngspice(n):
    A, b, x0 = _problem(n, seed=n)
    mc = sc.integrator_array(A, b, x0=x0)
    _, rho, lam_min = _rates(mc.netlist)
    tstep = 1.0 / rho / 20.0  # output grid: 1/20 of the fastest time constant
    nsteps = int(round(3.0 / lam_min / tstep))  # 3 slowest time constants
    tstop = nsteps * tstep
    spu = sc.SPU(mc, noise=False, scheme="exact", dt=tstep)
    res = spu.run(tstop, save_every=1)
    Y, Z = spu.ss.node_voltage_map(mc.output_nodes)
    v_twin = np.vstack([mc.volts_from_x(x0), res.states[:, 0, :] @ Y.T + Z @ spu.ss.inputs])
    ng = run_ngspice(mc, tran=(tstep, tstop, tstep / 4), save=mc.output_nodes)  # tmax = tstep / 4
    assert np.allclose(ng.t, tstep * np.arange(nsteps + 1), rtol=0, atol=1e-6 * tstep)
    v_ng = ng.voltages(mc.output_nodes)
    assert v_ng.shape == v_twin.shape
    rel = np.max(np.abs(v_ng - v_twin)) / np.max(np.abs(v_twin))
    print(f"\ndeterministic n={n}: {nsteps} steps, max relative deviation twin vs ngspice {rel:.2e}")
    assert rel < 1e-4
    # and the transient really moved: from x0 towards A^-1 b (the comparison is not trivial)
    assert np.max(np.abs(v_twin[-1] - v_twin[0])) > 0.3 * np.max(np.abs(v_twin))


# ------------------------------------------------------------- same noise, path by path
def _foh(F, Bj, c, h):
    """Exact discretisation for a piecewise-linear input j (first-order hold) and constant c:
    x_{k+1} = Phi x_k + G0 j_k + G1 j_{k+1} + g."""
    n, m = Bj.shape
    M = np.zeros((n + 2 * m + 1, n + 2 * m + 1))
    M[:n, :n] = F
    M[:n, n:n + m] = Bj
    M[n:n + m, n + m:n + 2 * m] = np.eye(m)
    M[:n, -1] = c
    E = sla.expm(M * h)
    Phi, Ga, Gb, g = E[:n, :n], E[:n, n:n + m], E[:n, n + m:n + 2 * m], E[:n, -1]
    return Phi, Ga - Gb / h, Gb / h, g


def _pwl_line(name, p, q, t, y, per_line=6):
    pts = [f"{format_value(a)} {format_value(v)}" for a, v in zip(t, y)]
    lines = [f"{name} {p} {q} pwl("]
    for i in range(0, len(pts), per_line):
        lines.append("+ " + " ".join(pts[i:i + per_line]))
    lines[-1] += ")"
    return "\n".join(lines)


@pytest.mark.parametrize("n", [4, 16])
def test_same_noise_path_by_path(n):
    A, b, x0 = _problem(n, seed=100 + n)
    mc = sc.integrator_array(A, b, x0=x0)
    nl = mc.netlist.copy()
    for i in range(n):  # noise current injected into every summing node
        nl.add_isource(f"IPN{i}", "0", f"s{i}", 0.0)
    ss = sc.compile_netlist(nl, noise=False)
    F = ss.drift.to_dense()
    nV = len(nl.tables["V"])
    Bj = ss.input_matrix[:, nV:nV + n]  # state response per ampere injected at s_i
    c = ss.input_matrix @ ss.inputs
    rho = float(np.max(np.abs(np.linalg.eigvals(F))))
    h = 0.2 / rho  # noise sample spacing NT
    K = 400
    rng = np.random.default_rng(7 + n)
    J = rng.standard_normal((K + 1, n))  # the twin's own per-step white current samples (A)
    Phi, G0, G1, g = _foh(F, Bj, c, h)
    # scale the noise so that its response is O(1 V): a comparison where noise matters
    Phi0, G00, G10, _ = _foh(F, Bj, 0 * c, h)
    x, peak = np.zeros(ss.n), 0.0
    for k in range(K):
        x = Phi0 @ x + G00 @ J[k] + G10 @ J[k + 1]
        peak = max(peak, float(np.max(np.abs(x))))
    J *= 1.0 / peak
    X = np.zeros((K + 1, ss.n))
    X[0] = ss.x0
    for k in range(K):
        X[k + 1] = Phi @ X[k] + G0 @ J[k] + G1 @ J[k + 1] + g
    # sanity: with zero noise the recursion is the twin's exact scheme, step for step
    spu = sc.SPU(mc, noise=False, scheme="exact", dt=h)
    Xq = np.zeros((K + 1, ss.n))
    Xq[0] = ss.x0
    for k in range(K):
        Xq[k + 1] = Phi @ Xq[k] + g
    assert np.allclose(spu.run(K * h, save_every=1).states[:, 0, :], Xq[1:], rtol=0, atol=1e-12)
    Y, Z = ss.node_voltage_map(mc.output_nodes)
    v_twin = X @ Y.T + Z @ ss.inputs  # the x nodes have no direct feed-through of j
    sub = 10  # ngspice: tmax = NT / 10 (ngspice.md: 6e-6 .. 9e-6)
    text = write_spice(nl, None, tran=(h / sub, K * h, h / sub), save=mc.output_nodes, rawfile="out.raw")
    tk = h * np.arange(K + 1)
    for i in range(n):
        pat = re.compile(rf"^IPN{i} 0 s{i} dc 0\.0$", re.M)
        assert pat.search(text)
        text = pat.sub(lambda _m, i=i: _pwl_line(f"IPN{i}", "0", f"s{i}", tk, J[:, i]), text)
    ng = run_ngspice(text)
    v_ng = ng.voltages(mc.output_nodes)[::sub]
    assert np.allclose(ng.t[::sub], tk, rtol=0, atol=1e-6 * h)
    rel = np.max(np.abs(v_ng - v_twin)) / np.max(np.abs(v_twin))
    # the noise part is comparable to the whole signal (else this would test the drift only)
    noise_part = np.max(np.abs(v_twin - (Xq @ Y.T + Z @ ss.inputs)))
    print(f"\nsame-noise n={n}: {K} noise samples, max relative deviation {rel:.2e} "
          f"(noise part {noise_part:.2f} V of {np.max(np.abs(v_twin)):.2f} V)")
    assert noise_part > 0.2 * np.max(np.abs(v_twin))
    assert rel < 1e-4


# ------------------------------------------------------------- TRRANDOM statistics
def _ou_standard_errors(F, S, Y, dt, m):
    """SEs of the sample mean and sample variance of Y x over m samples spaced dt of the
    stationary OU process dx = F x dt + dW with covariance S (exact for Gaussian processes, large m)."""
    Phi = sla.expm(F * dt)
    n = F.shape[0]
    SY = Y @ S @ Y.T
    var_mean = np.diag(Y @ ((2 * np.linalg.inv(np.eye(n) - Phi) - np.eye(n)) @ S) @ Y.T) / m
    d, V = np.linalg.eig(Phi)
    W = np.linalg.inv(V) @ S @ Y.T  # lag-k covariance: Y V d^k W
    YV = Y @ V
    se_var = []
    for i in range(Y.shape[0]):
        a = YV[i, :] * W[:, i]  # C_ii(k) = sum_j a_j d_j^k
        dd = np.outer(d, d)
        tail = np.sum(np.outer(a, a) * dd / (1 - dd)).real  # sum_{k>=1} C_ii(k)^2
        se_var.append(np.sqrt((2 * SY[i, i] ** 2 + 4 * tail) / m))
    return np.sqrt(var_mean.real), np.array(se_var)


@pytest.mark.parametrize("case", ["johnson-elements", "injected-factor"])
def test_trrandom_noise_stationary_mean_and_variance(case):
    n = 4
    A = sc.random_spd(n, cond=3, seed=7)
    if case == "johnson-elements":
        # thermal noise only, 300 K: every resistor's Johnson noise, one TRRANDOM source each
        mc = sc.integrator_array(A, None)
        method, seed = "elements", 5
    else:
        # dominant injected noise + Johnson noise through the covariance factor, b != 0, started
        # at the stationary mean
        b = np.array([1.0, -0.5, 0.3, 0.8])
        psd = 1e8 * float(np.max(johnson_psd_per_row(sc.integrator_array(A, b))))
        mc = sc.integrator_array(A, b, noise_psd=psd, x0=np.linalg.solve(A, b))
        method, seed = "factor", 6
    ss = sc.compile_netlist(mc.netlist, temperature_k=300.0)
    F, Q = ss.drift.to_dense(), ss.diffusion
    S = stationary_cov(F, Q)  # twin theory: Lyapunov of the compiled circuit
    mu = -np.linalg.solve(F, ss.offset)
    ev = np.linalg.eigvals(F)
    lam_max, lam_min = float(np.max(-ev.real)), float(np.min(-ev.real))
    nt = 0.1 / lam_max  # hold-time bias (lambda NT)^2 / 12 < 1e-3
    burn = 10.0 / lam_min
    m = int(600.0 / lam_min / nt)  # 600 slowest time constants: relative SE of a variance ~5 %
    ng = run_ngspice(mc, tran=(nt, burn + m * nt, nt / 2, burn),
                     noise={"seed": seed, "nt": nt, "method": method, "temperature_k": 300.0},
                     save=mc.output_nodes)
    v = ng.voltages(mc.output_nodes)[ng.t >= burn - 1e-3 * nt]
    Y, Z = ss.node_voltage_map(mc.output_nodes)
    mean_th = Y @ mu + Z @ ss.inputs
    var_th = np.diag(Y @ S @ Y.T)
    se_mean, se_var = _ou_standard_errors(F, S, Y, nt, len(v))
    z_mean = (v.mean(axis=0) - mean_th) / se_mean
    z_var = (v.var(axis=0) - var_th) / se_var
    print(f"\nTRRANDOM {case}: {len(v)} samples; rms {np.sqrt(var_th)} V; z(mean) {np.round(z_mean, 2)}, "
          f"z(var) {np.round(z_var, 2)}, relative variance error {np.round(v.var(axis=0) / var_th - 1, 3)}")
    assert np.all(np.abs(z_mean) < 4), z_mean
    assert np.all(np.abs(z_var) < 4), z_var
    assert np.all(se_var / var_th < 0.08)  # the test has power: a 2x noise-power error is ~20 SE


# ------------------------------------------------------------- shipped netlists and CLI output
@pytest.mark.parametrize("name", ["tngd_fig6_3node.cir", "integrator16_cond20.cir", "factored_tngd_n8.cir"])
def test_shipped_integrator_netlists_run_as_shipped(name):
    """`ngspice -b -r out.raw netlists/<name>` works as shipped and agrees with the twin reading
    the same file (exact transient evaluated at ngspice's own time points)."""
    path = os.path.join(NETLISTS, name)
    ng = run_ngspice(path)  # no .control block: ngspice -b -r out.raw
    assert ng.returncode == 0
    nl = read_spice(path)
    tr = nl.meta["spice_file"]["tran"]
    assert ng.t[-1] == pytest.approx(tr["tstop"], rel=1e-9)
    if "mapped" in nl.meta:
        outs = nl.meta["mapped"]["readout"]["output_nodes"]
    else:  # factored TNGD circuit: the N parameter integrators drive nodes x0 .. x{N-1}
        outs = [f"x{i}" for i in range(nl.meta["factored"]["N"])]
    ss = sc.compile_netlist(nl, noise=False)
    F = ss.drift.to_dense()
    xs = -np.linalg.solve(F, ss.offset)
    w, V = np.linalg.eig(F)
    c0 = np.linalg.solve(V, ss.x0 - xs)
    X = xs + (np.exp(np.outer(ng.t, w)) * c0) @ V.T
    Y, Z = ss.node_voltage_map(outs)
    v_twin = X.real @ Y.T + Z @ ss.inputs
    v_ng = ng.voltages(outs)
    rel = np.max(np.abs(v_ng - v_twin)) / np.max(np.abs(v_twin))
    print(f"\n{name}: {len(ng.t)} ngspice points, max relative deviation from the twin {rel:.2e}")
    assert rel < 1e-4
    # after 50 tau the outputs are close to x* = A^-1 b (in volts: v_unit x*)
    assert np.max(np.abs(v_ng[-1] - (Y @ xs + Z @ ss.inputs))) < 0.1 * np.max(np.abs(v_twin))


def test_shipped_capacitive_netlist_runs_and_samples():
    path = os.path.join(NETLISTS, "capacitive8.cir")
    ng = run_ngspice(path)
    nl = read_spice(path)
    nodes = nl.meta["mapped"]["readout"]["nodes"]
    v = ng.voltages(nodes)
    assert np.all(np.isfinite(v))
    ss = sc.compile_netlist(nl, temperature_k=nl.meta["spice_file"]["noise"]["temperature_k"])
    S = stationary_cov(ss.drift.to_dense(), ss.diffusion)
    Y, _ = ss.node_voltage_map(nodes)
    var_th = np.diag(Y @ S @ Y.T)
    t = ng.t
    keep = t > 0.2 * t[-1]
    # time-weighted variance over ngspice's (non-uniform) internal points
    w = np.gradient(t)[keep]
    vk = v[keep]
    var = (w[:, None] * vk**2).sum(0) / w.sum() - ((w[:, None] * vk).sum(0) / w.sum()) ** 2
    ratio = var / var_th
    print(f"\ncapacitive8: {len(t)} points, variance / theory per cell {np.round(ratio, 2)}")
    # a short run (40 slowest time constants): each ratio within sampling error of 1
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    assert abs(np.mean(ratio) - 1) < 0.25


def test_cli_export_runs_in_ngspice(tmp_path):
    import argparse

    from spucircuit.cli.spice import cmd_export, register

    A, b, _ = _problem(5, seed=3, cond=10)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", b)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    register(sub)
    for extra, name in [([], "plain.cir"), (["--noise", "--seed", "3"], "noisy.cir"),
                        (["--control"], "ctl.cir")]:
        out = str(tmp_path / name)
        args = p.parse_args(["export", "--matrix", str(tmp_path / "A.npy"), "--rhs", str(tmp_path / "b.npy"),
                             "--time", "10tau", "-o", out] + extra)
        assert cmd_export(args) == 0
        ng = run_ngspice(out)
        mc = sc.integrator_array(A, b)
        assert ng.t[-1] == pytest.approx(10 * mc.tau_s, rel=1e-6)
        assert set(f"v({x})" for x in mc.output_nodes) <= set(ng.names)
        if name == "ctl.cir":  # the .control block linearized onto the tstep grid
            assert np.allclose(np.diff(ng.t), ng.t[1] - ng.t[0], rtol=1e-6)


def test_run_ngspice_reports_failures():
    with pytest.raises(NgspiceError, match="valid modelname|model"):
        run_ngspice("t\nR1 a 0 1k\nC1 a 0 1n\nQ1 a b c nomodel\n.tran 1n 1u\n.end\n")
    with pytest.raises(NgspiceError, match="unknown subckt|nosub"):
        run_ngspice("t\nR1 a 0 1k\nC1 a 0 1n\nX1 a b nosub\n.tran 1n 1u\n.end\n")
    with pytest.raises(NgspiceError, match="no rawfile"):
        run_ngspice("t\nR1 a 0 1k\nC1 a 0 1n\n.end\n")
    with pytest.raises(NgspiceError, match="did not finish"):
        run_ngspice("t\nR1 a 0 1k\nC1 a 0 1n IC=1\n.tran 1e-12 1e-3 0 1e-12 uic\n.end\n", timeout=1.0)
    nl = sc.Netlist("rc")
    nl.add_resistor("R1", "a", "0", 1e3)
    nl.add_capacitor("C1", "a", "0", 1e-9, ic_v=1.0)
    with pytest.raises(NgspiceError, match="tran"):
        run_ngspice(nl)
    # a passing run: the RC decay exp(-t / RC)
    r = run_ngspice(nl, tran=(1e-8, 3e-6, 1e-9))
    assert np.allclose(r.voltage("a"), np.exp(-r.t / 1e-6), atol=1e-5)
    assert np.array_equal(r.voltage("0"), np.zeros(len(r.t)))
