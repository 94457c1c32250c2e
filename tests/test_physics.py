"""The twin against theory: kT/C, compiled drift = A, stationary mean = A^-1 b, covariance =
Lyapunov, transients = expm. Every statistical check uses a standard error computed from the
run itself (batch means / independent chains) and fixed seeds."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.constants import K_B
from spucircuit.integrate.discretize import discretize, max_stable_euler_step
from spucircuit.integrate.kernels import run
from spucircuit.numerics.ou import euler_stationary_cov, mean_transient, stationary_cov
from spucircuit.numerics.stats import cov_and_se
from spucircuit.statespace.mna import compile_netlist
from tests.helpers import rc_netlist, zscores


# ----------------------------------------------------------------- kT / C
def test_rc_node_compiled_variance_is_kT_over_C():
    for R, C in [(1e3, 1e-9), (47e3, 2.2e-12), (10.0, 1e-6)]:
        ss = compile_netlist(rc_netlist(R, C), temperature_k=300.0)
        F = ss.drift.to_dense()
        assert F[0, 0] == pytest.approx(-1.0 / (R * C), rel=1e-14)
        assert ss.diffusion[0, 0] == pytest.approx(2 * K_B * 300.0 / (R * C**2), rel=1e-12)
        var = stationary_cov(F, ss.diffusion)[0, 0]
        assert var == pytest.approx(K_B * 300.0 / C, rel=1e-12)
    # the number quoted in physics.md, from the compiled 1 kOhm / 1 nF node: 2.0 uV rms at 300 K
    ss = compile_netlist(rc_netlist(1e3, 1e-9), temperature_k=300.0)
    rms = np.sqrt(stationary_cov(ss.drift.to_dense(), ss.diffusion)[0, 0])
    assert rms == pytest.approx(2.035e-6, rel=1e-3)


@pytest.mark.parametrize("scheme", ["exact", "euler"])
def test_rc_node_simulated_variance(scheme):
    R, C, T = 1e3, 1e-9, 300.0
    spu = sc.SPU(rc_netlist(R, C), temperature_k=T, scheme=scheme, chains=64, seed=7)
    tau = R * C
    spu.run(10 * tau)  # equilibrate from 0 V
    res = spu.run(400 * tau, max_samples=4000)
    cov, se = cov_and_se(res.states, mean=np.zeros(1))
    if scheme == "exact":
        expected = K_B * T / C
    else:  # Euler's own stationary variance (discrete Lyapunov) differs by O(h)
        expected = euler_stationary_cov(spu.ss.drift.to_dense(), spu.ss.diffusion, spu.dt)[0, 0]
        assert expected / (K_B * T / C) == pytest.approx(1.0 / (1.0 - 0.5 * spu.dt / tau), rel=1e-9)
    z = zscores(cov[0, 0], expected, se[0, 0])
    assert abs(z) < 4
    if scheme == "exact":
        assert np.sqrt(cov[0, 0]) == pytest.approx(2.035e-6, rel=0.03)


# ------------------------------------------------------- mapping / compiler
@pytest.mark.parametrize("n,cond,seed", [(2, 1.0, 0), (3, 5.0, 1), (8, 30.0, 2), (16, 100.0, 3), (64, 1e3, 4)])
def test_compiled_drift_equals_A(n, cond, seed):
    A = sc.random_spd(n, cond, seed=seed)
    b = np.random.default_rng(seed).standard_normal(n)
    mc = sc.integrator_array(A, b)
    ss = compile_netlist(mc.netlist)
    F = ss.drift.to_dense()
    A_circ = -F * mc.c_f / mc.g_unit_siemens  # C dV/dt = -g_unit A V - ...
    assert np.max(np.abs(A_circ - A)) <= 1e-12 * np.max(np.abs(A))
    # the input map puts the steady state at v_unit * A^-1 b
    v_star = -np.linalg.solve(F, ss.offset)
    x_star = np.linalg.solve(A, b)
    assert np.max(np.abs(mc.x_from_volts(v_star) - x_star)) <= 1e-10 * np.max(np.abs(x_star))


def test_compiled_drift_follows_component_values():
    """The twin runs from the netlist's component values: change one resistor, and the drift
    changes by exactly -(1/C) delta(1/R) at that entry (sign from the buffer it hangs on)."""
    A = sc.random_spd(5, 10.0, seed=9)
    mc = sc.integrator_array(A)
    F0 = compile_netlist(mc.netlist).drift.to_dense()
    nl = mc.netlist.copy()
    kind, row = nl.find("R1_3")
    R_old = nl.tables["R"].values[row]
    nl.set_value("R1_3", 1.1 * R_old)
    F1 = compile_netlist(nl).drift.to_dense()
    d = F1 - F0
    sign = np.sign(A[1, 3])
    expected = -(1.0 / mc.c_f) * sign * (1.0 / (1.1 * R_old) - 1.0 / R_old)
    assert d[1, 3] == pytest.approx(expected, rel=1e-10)
    d[1, 3] = 0.0
    assert np.max(np.abs(d)) <= 1e-12 * np.max(np.abs(F0))


def test_finite_gain_opamps_converge_to_ideal_at_first_order():
    A = sc.random_spd(4, 10.0, seed=3)
    F_ideal = compile_netlist(sc.integrator_array(A).netlist).drift.to_dense()
    errs = []
    for gain in (1e4, 1e5, 1e6):
        F = compile_netlist(sc.integrator_array(A, opamp_gain=gain).netlist).drift.to_dense()
        errs.append(np.max(np.abs(F - F_ideal)) / np.max(np.abs(F_ideal)))
    assert errs[0] > 1e-6  # finite gain is visible
    assert errs[0] / errs[1] == pytest.approx(10.0, rel=0.02)  # O(1/A0)
    assert errs[1] / errs[2] == pytest.approx(10.0, rel=0.02)


def test_rlc_and_vccs_stamps():
    """Parallel RLC with a VCCS: compiled drift equals the hand-derived one."""
    R, L, C, gm = 2e3, 1e-3, 1e-9, 2e-4
    nl = sc.Netlist("rlc")
    nl.add_resistor("R1", "a", "0", R)
    nl.add_inductor("L1", "a", "0", L)
    nl.add_capacitor("C1", "a", "0", C)
    # VCCS draws gm * v(a) out of node a (current leaves p = a): an extra conductance gm
    nl.add_vccs("G1", "a", "0", "a", "0", gm)
    ss = compile_netlist(nl, temperature_k=300.0)
    F = ss.drift.to_dense()
    # states [v_C, i_L]: C dv/dt = -(1/R + gm) v - i_L ;  L di/dt = v
    expected = np.array([[-(1 / R + gm) / C, -1 / C], [1 / L, 0.0]])
    assert np.allclose(F, expected, rtol=1e-12, atol=0)
    # Gibbs law for the RLC part (no VCCS): cov(v) = kT/C, cov(i) = kT/L
    nl2 = sc.Netlist("rlc2")
    nl2.add_resistor("R1", "a", "0", R)
    nl2.add_inductor("L1", "a", "0", L)
    nl2.add_capacitor("C1", "a", "0", C)
    ss2 = compile_netlist(nl2, temperature_k=300.0)
    S = stationary_cov(ss2.drift.to_dense(), ss2.diffusion)
    assert S[0, 0] == pytest.approx(K_B * 300 / C, rel=1e-10)
    assert S[1, 1] == pytest.approx(K_B * 300 / L, rel=1e-10)
    assert abs(S[0, 1]) < 1e-10 * np.sqrt(S[0, 0] * S[1, 1])


# ------------------------------------------------------------- transients
def test_noise_off_transient_matches_expm_exact_scheme():
    n = 8
    A = sc.random_spd(n, 50.0, seed=11)
    rng = np.random.default_rng(11)
    b = rng.standard_normal(n)
    x0 = rng.standard_normal(n)
    mc = sc.integrator_array(A, b, x0=x0)
    spu = sc.SPU(mc, noise=False, scheme="exact", dt=0.37 * mc.tau_s)
    res = spu.run(60 * mc.tau_s, save_every=1)
    ss = spu.ss
    ref = mean_transient(ss.drift.to_dense(), ss.offset, ss.x0, res.t)  # volts
    err = np.max(np.abs(res.states[:, 0, :] - ref)) / np.max(np.abs(ref))
    assert err < 1e-6
    # and in problem units against dx/dt = -(A x - b) directly
    x_ref = mean_transient(-A, b, x0, res.t / mc.tau_s)
    assert np.max(np.abs(res.x[:, 0, :] - x_ref)) / np.max(np.abs(x_ref)) < 1e-6


def test_euler_converges_at_first_order():
    n = 4
    A = sc.random_spd(n, 5.0, seed=5)
    mc = sc.integrator_array(A, np.ones(n), x0=np.zeros(n))
    ss = compile_netlist(mc.netlist)
    T = 3.0 * mc.tau_s
    ref = mean_transient(ss.drift.to_dense(), ss.offset, ss.x0, T)
    hmax = max_stable_euler_step(ss)
    errs = []
    for k in range(3):
        h = T / (40 * 2**k)
        assert h < hmax
        d = discretize(ss, h, "euler", noise=False)
        X, _, _ = run(d, ss.x0[None, :], int(round(T / h)), 10**9, seed=0)
        errs.append(np.max(np.abs(X[0] - ref)))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.1)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.1)


def test_warm_start_state_persists():
    A = sc.random_spd(6, 10.0, seed=2)
    mc = sc.integrator_array(A, np.arange(6.0))
    a = sc.SPU(mc, noise=False, dt=0.5 * mc.tau_s)
    a.run(7 * mc.tau_s)
    r1 = a.run(5 * mc.tau_s)
    b = sc.SPU(mc, noise=False, dt=0.5 * mc.tau_s)
    r2 = b.run(12 * mc.tau_s)
    assert np.allclose(a.read(), b.read(), rtol=1e-12, atol=0)
    assert not np.allclose(r1.x[0], r2.x[0])
    a.reset()
    assert np.array_equal(a.read(), np.zeros((1, 6)))
    a.reset(np.ones(6))
    assert np.allclose(a.read(), 1.0, rtol=1e-14)


# ----------------------------------------------------------- stationary law
CASES = [(2, 1.0, 0), (4, 10.0, 1), (8, 100.0, 2), (16, 100.0, 3), (32, 1e3, 4), (64, 1e3, 5)]


@pytest.mark.parametrize("n,cond,seed", CASES)
def test_solve_mean_within_4_standard_errors(n, cond, seed):
    A = sc.random_spd(n, cond, seed=seed)
    b = np.random.default_rng(100 + seed).standard_normal(n)
    x, info = sc.solve(A, b, seed=seed, return_info=True)
    x_star = np.linalg.solve(A, b)
    z = zscores(x, x_star, info["standard_error"])
    assert np.max(np.abs(z)) < 4, f"max |z| = {np.max(np.abs(z)):.2f}"
    # the batch-means SE agrees with the OU theory of a time average over T:
    # cov(x_bar) ~ Y F^-1 Q F^-T Y^T / (v_unit^2 T)   (T = averaging window)
    mc = info["mapped"]
    ss = sc.compile_netlist(mc.netlist)
    F = ss.drift.to_dense()
    Finv = np.linalg.inv(F)
    T = info.window_s  # the averaging window (the analog time also counts ranging and burn-in)
    se_theory = np.sqrt(np.diag(Finv @ ss.diffusion @ Finv.T) / T) / mc.v_unit_v
    ratio = info["standard_error"] / se_theory
    assert info["se_batches"] >= 16
    # a batch-means SE from B batches scatters by about 1 / sqrt(2 (B - 1)) relative: every component
    # within 4.5 of those of the theory, and their median (calibration) within 20 %
    spread = 1.0 / np.sqrt(2.0 * (info["se_batches"] - 1))
    assert np.all(np.abs(ratio - 1.0) < 4.5 * spread), f"SE / theory in [{ratio.min():.2f}, {ratio.max():.2f}]"
    assert abs(np.median(ratio) - 1.0) < 0.2, f"median SE / theory {np.median(ratio):.2f}"
    # thermal noise at 300 K is tiny next to volt-level signals
    assert np.linalg.norm(x - x_star) / np.linalg.norm(x_star) < 1e-4


@pytest.mark.parametrize("n,cond,seed", [(3, 5.0, 0), (6, 20.0, 1)])
def test_covariance_matches_lyapunov_of_compiled_system(n, cond, seed):
    A = sc.random_spd(n, cond, seed=seed)
    mc = sc.integrator_array(A, noise_psd=1e-20)  # injected noise + Johnson of every resistor
    spu = sc.SPU(mc, chains=16, seed=seed, dt=0.25 * mc.tau_s)
    lam_min = np.linalg.eigvalsh(A)[0]
    spu.run(15 / lam_min * mc.tau_s, max_samples=1)
    res = spu.run(600 / lam_min * mc.tau_s, max_samples=20000)
    ss = spu.ss
    S = stationary_cov(ss.drift.to_dense(), ss.diffusion)
    cov, se = cov_and_se(res.states, n_batches=64, mean=-np.linalg.solve(ss.drift.to_dense(), ss.offset))
    iu = np.triu_indices(n)
    z = zscores(cov[iu], S[iu], se[iu])
    # (no RMS-of-z check here: covariance entries share the slow modes, so their z-scores are
    # strongly correlated and an RMS over 6-21 of them is not a chi-square with that many dof)
    assert np.max(np.abs(z)) < 4.5, f"max |z| = {np.max(np.abs(z)):.2f}"
    # the compiled diffusion is not isotropic (Johnson noise differs by row; buffers correlate
    # rows), so this is not simply proportional to A^-1: the Lyapunov solution is still exact.
    Qd = ss.diffusion
    assert np.ptp(np.diag(Qd)) > 1e-6 * np.max(Qd)
    if np.any(A < 0):
        assert np.abs(Qd - np.diag(np.diag(Qd))).max() > 0


def test_euler_covariance_matches_discrete_lyapunov_not_continuous():
    A = sc.random_spd(3, 4.0, seed=8)
    mc = sc.integrator_array(A, noise_psd=1e-20)
    probe = sc.SPU(mc, scheme="euler")
    h = 0.6 * max_stable_euler_step(probe.ss)  # a coarse step: visible O(h) bias
    spu = sc.SPU(mc, scheme="euler", dt=h, chains=32, seed=3)
    lam_min = np.linalg.eigvalsh(A)[0]
    spu.run(15 / lam_min * mc.tau_s, max_samples=1)
    res = spu.run(400 / lam_min * mc.tau_s, max_samples=20000)
    F, Q = spu.ss.drift.to_dense(), spu.ss.diffusion
    S_euler = euler_stationary_cov(F, Q, h)
    S_cont = stationary_cov(F, Q)
    cov, se = cov_and_se(res.states, mean=np.zeros(3))
    iu = np.triu_indices(3)
    assert np.max(np.abs(zscores(cov[iu], S_euler[iu], se[iu]))) < 4.5
    assert np.max(np.abs(zscores(cov[iu], S_cont[iu], se[iu]))) > 6  # the bias is detectable


@pytest.mark.parametrize("n,cond,seed", [(4, 10.0, 0), (12, 30.0, 1)])
def test_inv_within_statistical_error(n, cond, seed):
    """Every entry within 4.5 SE; the SE calibrated (rms z in (0.5, 1.5), pooled over 3 runs so
    that n = 4's 10 correlated entries do not decide it alone: P(rms < 0.5) ~ 1 % for 10)."""
    A = sc.random_spd(n, cond, seed=seed)
    ref = np.linalg.inv(A)
    iu = np.triu_indices(n)
    zs = []
    for rep in range(3):
        Ainv, info = sc.inv(A, seed=seed + 100 * rep, return_info=True)
        z = zscores(Ainv[iu], ref[iu], info["standard_error"][iu])
        assert np.max(np.abs(z)) < 4.5, f"max |z| = {np.max(np.abs(z)):.2f}"
        assert np.linalg.norm(Ainv - ref) / np.linalg.norm(ref) < 0.05
        assert info["noise_anisotropy"] < 1e-3
        zs.append(z)
    assert 0.5 < np.sqrt(np.mean(np.concatenate(zs) ** 2)) < 1.5


# --------------------------------------------------------- reproducibility
@pytest.mark.parametrize("scheme,noise_psd", [("exact", 0.0), ("euler", 0.0), ("exact", 1e-20)])
def test_same_seed_same_bits(scheme, noise_psd):
    A = sc.random_spd(5, 10.0, seed=1)
    mc = sc.integrator_array(A, np.ones(5), noise_psd=noise_psd)

    def sample(seed):
        spu = sc.SPU(mc, scheme=scheme, chains=3, seed=seed)
        spu.run(20 * mc.tau_s, max_samples=50)
        return spu.run(20 * mc.tau_s, max_samples=50).states

    a, b, c = sample(42), sample(42), sample(43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.max(np.abs(a - c)) > 0


# ------------------------------------------------------------- sparse path
def _tridiagonal(n):
    return 2.0 * np.eye(n) - 0.9 * (np.eye(n, k=1) + np.eye(n, k=-1))


def test_sparse_drift_euler_equals_dense_recursion():
    from spucircuit.integrate.discretize import Discretization
    from spucircuit.statespace.operators import DenseDrift

    n = 64
    A = _tridiagonal(n)
    mc = sc.integrator_array(A, np.linspace(-1, 1, n), x0=np.zeros(n))
    ss = compile_netlist(mc.netlist)
    assert ss.drift.kind == "sparse" and ss.drift.nnz == 3 * n - 2
    h = 0.05 * mc.tau_s
    d_sp = discretize(ss, h, "euler", noise=False)
    X_sp, _, _ = run(d_sp, ss.x0[None, :], 400, 10**9, seed=0)
    ss.drift = DenseDrift(ss.drift.to_dense())
    d_de = discretize(ss, h, "euler", noise=False)
    assert isinstance(d_de, Discretization) and d_de.kind == "dense"
    X_de, _, _ = run(d_de, ss.x0[None, :], 400, 10**9, seed=0)
    assert np.max(np.abs(X_sp - X_de)) <= 1e-12 * np.max(np.abs(X_de))


def test_sparse_solve_euler_mean_within_4_standard_errors():
    n = 64
    A = _tridiagonal(n)
    b = np.random.default_rng(4).standard_normal(n)
    x, info = sc.solve(A, b, scheme="euler", chains=4, seed=4, return_info=True)
    z = zscores(x, np.linalg.solve(A, b), info["standard_error"])
    assert np.max(np.abs(z)) < 4, f"max |z| = {np.max(np.abs(z)):.2f}"


def test_dense_lu_path_compiles_the_same_system_as_superlu():
    """Dense MNA matrices (integrator arrays) are factored by LAPACK, sparse ones by SuperLU: both
    must give the same drift, input map, diffusion and readout (to rounding, 1e-10 relative)."""
    from spucircuit.statespace import mna as compiler

    A = sc.random_spd(32, cond=50, seed=3)
    mc = sc.integrator_array(A, np.linspace(-1, 1, 32))
    dense = compiler.compile_netlist(mc.netlist, fast=False, factorization="dense")
    assert isinstance(dense.mna_factor, compiler.DenseLU) and dense.compile_method == "mna"
    sparse = compiler.compile_netlist(mc.netlist, fast=False, factorization="sparse")
    assert not isinstance(sparse.mna_factor, compiler.DenseLU)
    pairs = [(dense.drift.to_dense(), sparse.drift.to_dense()), (dense.input_matrix, sparse.input_matrix),
             (dense.diffusion, sparse.diffusion),
             *zip(dense.node_voltage_map(mc.output_nodes), sparse.node_voltage_map(mc.output_nodes))]
    for a, b in pairs:
        assert np.max(np.abs(a - b)) <= 1e-10 * np.max(np.abs(b))


def test_eigen_exact_scheme_matches_expm_and_lyapunov():
    """Symmetric drift: the eigenbasis recursion U^T (expm, F^-1 (M - I) B u, Q_h) U must equal the
    general exact discretisation (expm + Lyapunov) to rounding."""
    import scipy.linalg as sla

    from spucircuit.integrate.discretize import discretize, exact_noise_covariance, symmetric_eigen

    A = sc.random_spd(20, cond=40, seed=5)
    mc = sc.integrator_array(A, np.linspace(-1, 1, 20), noise_psd=1e-21)
    ss = sc.compile_netlist(mc.netlist)
    assert symmetric_eigen(ss) is not None
    F = ss.drift.to_dense()
    for h in (0.05 * mc.tau_s, 3.0 * mc.tau_s):
        d = discretize(ss, h, "exact")
        assert d.kind == "eigen"
        U = d.basis
        M_ref = sla.expm(F * h)
        np.testing.assert_allclose(U @ np.diag(d.diag) @ U.T, M_ref, rtol=0, atol=1e-12 * np.abs(M_ref).max())
        c_ref = np.linalg.solve(F, (M_ref - np.eye(20)) @ ss.offset)
        np.testing.assert_allclose(U @ d.c, c_ref, rtol=0, atol=1e-10 * np.abs(c_ref).max())
        Qh_ref = exact_noise_covariance(F, ss.diffusion, h, M_ref)
        N = d.NT.T
        np.testing.assert_allclose(U @ N @ N.T @ U.T, Qh_ref, rtol=0, atol=1e-9 * np.abs(Qh_ref).max())


def test_eigen_exact_run_stationary_moments():
    """The eigenbasis run: stationary mean A^-1 b and covariance = Lyapunov solution, within 5 SE."""
    import scipy.linalg as sla

    from spucircuit.numerics.stats import cov_and_se, mean_and_se

    A = sc.random_spd(6, cond=5, seed=8)
    b = np.array([0.5, -1.0, 0.2, 0.8, -0.3, 0.1])
    mc = sc.integrator_array(A, b, noise_psd=1e-19)
    spu = sc.SPU(mc, chains=64, seed=11, dt=0.5 * mc.tau_s)
    assert spu.discretization.kind == "eigen"
    spu.run("40tau", max_samples=1)
    res = spu.run("4000tau")
    V = res.states  # (m, chains, n) capacitor volts = output volts (ideal op-amps)
    mean_v = np.linalg.solve(A, b) * mc.v_unit_v
    S = sla.solve_continuous_lyapunov(spu.ss.drift.to_dense(), -spu.ss.diffusion)
    m, se = mean_and_se(V, min_batch=10)
    assert np.max(np.abs(m - mean_v) / se) < 5
    cov, cse = cov_and_se(V)
    assert np.max(np.abs(cov - S) / cse) < 5
