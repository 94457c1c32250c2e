"""The factored TNGD circuit (spucircuit.factored): structured chain against the general MNA
compiler (drift, input, Johnson-noise diffusion, also after a tolerance perturbation and with
finite-gain op-amps), the exponential scheme against dense expm / Lyapunov, Euler-Maruyama, the
structured form at large N, realizability, warm start, and the FactoredTwinSolver in TNGD."""
import numpy as np
import pytest
import scipy.linalg as sla

import spucircuit as sc
from spucircuit.circuit.factored_array import FactoredCircuit, factored_circuit
from spucircuit.circuit.factored_components import components_from_netlist, perturb_netlist_resistors
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.errors import MatrixError, NetlistError, RealizabilityError, StepError
from spucircuit.integrate.chain_exponential import exponential_discretization, exponential_step, exponential_step_dense
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.chain import ChainDrift

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def problem(N=12, b=2, dz=3, seed=0, lam=0.3):
    """J (m, N) with both signs, PSD Hessian blocks with negative entries (softmax-like plus a
    random PSD part), damping and gradient."""
    rng = np.random.default_rng(seed)
    m = b * dz
    J = rng.standard_normal((m, N))
    p = rng.dirichlet(np.ones(dz), size=b)
    R = rng.standard_normal((b, dz, dz)) * 0.3
    H = np.einsum("bi,ij->bij", p, np.eye(dz)) - np.einsum("bi,bj->bij", p, p) + R @ R.transpose(0, 2, 1)
    g = rng.standard_normal(N)
    return J, H, lam, g


def dense_A(J, H, lam, b_norm=None):
    b, dz = H.shape[:2]
    b_norm = b if b_norm is None else b_norm
    HJ = np.einsum("bij,bjn->bin", H, J.reshape(b, dz, -1)).reshape(J.shape)
    return J.T @ HJ / b_norm + lam * np.eye(J.shape[1])


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b)


def qh_reference(F, Q, h):
    """Exact per-step covariance int_0^h e^{Fs} Q e^{F^T s} ds (Lyapunov identity; F stable)."""
    S = sla.solve_continuous_lyapunov(F, -Q)
    E = sla.expm(F * h)
    return S - E @ S @ E.T


# --------------------------------------------------------------------------- compile checks
@pytest.mark.parametrize("gain", [np.inf, 1e4])
def test_chain_equals_the_mna_compiler_and_the_ideal_matrix(gain):
    J, H, lam, g = problem()
    fc = factored_circuit(J, H, lam, g, r_max=1e12, opamp_gain=gain, noise_psd=3e-22)
    nl = fc.netlist  # small: built, and the chain is read back from its tables
    assert nl.count("R") == fc.components.resistor_count()
    ss = sc.compile_netlist(nl, temperature_k=300.0)
    ch = ChainDrift(fc.components, 300.0)
    F = ss.drift.to_dense()
    assert rel(ch.to_dense(), F) < 1e-10
    assert rel(ch.offset, ss.offset) < 1e-10
    assert rel(ch.diffusion_dense(), ss.diffusion) < 1e-10
    x = np.random.default_rng(1).standard_normal(J.shape[1])
    assert rel(ch.matvec(x), F @ x) < 1e-10
    if np.isinf(gain):  # ideal op-amps: the chain realises -(J^T H J / b + lambda I) / tau exactly
        A = dense_A(J, H, lam)
        assert rel(-fc.tau_s * ch.matvec(x), A @ x) < 1e-10
        # and the input: stationary x* = A^-1 g
        xs = -np.linalg.solve(F, ch.offset) / fc.v_unit_v
        assert rel(xs, np.linalg.solve(A, g)) < 1e-10
    else:
        A = dense_A(J, H, lam)
        assert 1e-6 < rel(-fc.tau_s * ch.matvec(x), A @ x) < 1e-2  # finite gain: a small gain error


@pytest.mark.parametrize("gain", [np.inf, 1e5])
def test_chain_follows_perturbed_component_values(gain):
    """Every resistor of the netlist x (1 + 0.01 N(0, 1)): chain (re-read from the tables) and MNA
    still agree to 1e-10 in drift, input and diffusion, while both moved ~1e-2 from nominal."""
    J, H, lam, g = problem(seed=3)
    fc = factored_circuit(J, H, lam, g, r_max=1e12, opamp_gain=gain)
    nl = fc.netlist.copy()
    F0 = sc.compile_netlist(nl, noise=False).drift.to_dense()
    perturb_netlist_resistors(nl, 0.01, np.random.default_rng(7))
    comp = components_from_netlist(nl)
    ch = ChainDrift(comp, 300.0)
    ss = sc.compile_netlist(nl, temperature_k=300.0)
    F = ss.drift.to_dense()
    assert rel(ch.to_dense(), F) < 1e-10
    assert rel(ch.offset, ss.offset) < 1e-10
    assert rel(ch.diffusion_dense(), ss.diffusion) < 1e-10
    assert rel(F, F0) > 1e-3
    assert not np.allclose(ch.to_dense(), ch.to_dense().T)  # the perturbed drift is non-symmetric


def test_components_survive_a_spice_round_trip():
    J, H, lam, g = problem(N=8, b=2, dz=2, seed=5)
    fc = factored_circuit(J, H, lam, g, r_max=1e12)
    text = sc.write_spice(fc.netlist)
    nl2 = parse_spice(text)
    nl2.meta.pop("factored", None)  # block size inferred from the H resistors alone
    comp = components_from_netlist(nl2)
    assert comp.dz == 2 and comp.b == 2
    F1 = ChainDrift(comp).to_dense()
    assert rel(F1, ChainDrift(fc.components).to_dense()) < 1e-12
    assert rel(F1, sc.compile_netlist(nl2).drift.to_dense()) < 1e-10


def test_netlist_reader_rejects_foreign_circuits():
    J, H, lam, g = problem(N=5, b=1, dz=2)
    nl = factored_circuit(J, H, lam, g, r_max=1e12).netlist.copy()
    nl.add_resistor("RX", "x0", "s1", 1e3)  # x0 -> s1: not part of the architecture
    with pytest.raises(NetlistError, match="RX"):
        components_from_netlist(nl)
    nl2 = sc.Netlist()
    nl2.add_resistor("R1", "foo", "0", 1e3)
    with pytest.raises(NetlistError, match="foo"):
        components_from_netlist(nl2)


# --------------------------------------------------------------------------- exponential scheme
def _exp_cases():
    J, H, lam, g = problem(seed=2)
    nominal = factored_circuit(J, H, lam, g, r_max=1e12, netlist=False)
    ut = factored_circuit(J, None, lam, g, r_max=1e12, netlist=False, noise_psd=1e-21)
    comp = nominal.components.perturbed(0.01, 11)  # arrays perturbed, lambda resistors nominal:
    comp.g_lambda[:] = nominal.components.g_lambda  # uniform diagonal, non-symmetric K
    return [(nominal, nominal.components, "symmetric-definite"), (ut, ut.components, "symmetric"),
            (nominal, comp, "general")]


@pytest.mark.parametrize("case", [0, 1, 2])
def test_exponential_step_is_exact_in_distribution(case):
    fc, comp, kind = _exp_cases()[case]
    ch = ChainDrift(comp, 300.0)
    F, Q = ch.to_dense(), ch.diffusion_dense()
    for h_tau in (0.03, 2.0, 40.0):
        h = h_tau * fc.tau_s
        disc = exponential_discretization(ch, h)
        assert disc.uniform and disc.decomposition == kind
        Phi, force, cov = exponential_step_dense(ch, disc)
        E = sla.expm(F * h)
        assert rel(Phi, E) < 1e-10
        assert rel(force, np.linalg.solve(F, (E - np.eye(ch.n)) @ ch.offset)) < 1e-10
        assert rel(cov, qh_reference(F, Q, h)) < 1e-9
        x = np.random.default_rng(0).standard_normal((2, ch.n))
        noiseless = exponential_discretization(ChainDrift(comp, 0.0, noise=False), h)
        assert rel(exponential_step(ch, noiseless, x.copy()), x @ E.T + force) < 1e-10


def test_exponential_nonuniform_diagonal_etd1():
    """Perturbed lambda resistors: exponential Euler for the diagonal spread Delta. The stationary
    mean is a fixed point exactly; the transient error is first order in h ||Delta||."""
    J, H, lam, g = problem(seed=4)
    fc = factored_circuit(J, H, lam, g, r_max=1e12, netlist=False)
    ch = ChainDrift(fc.components.perturbed(0.01, 3), 0.0)
    F = ch.to_dense()
    xs = -np.linalg.solve(F, ch.offset)
    T = 10 * fc.tau_s
    ref = sla.expm(F * T) @ (0 - xs) + xs
    errs = []
    for n in (10, 20):
        disc = exponential_discretization(ch, T / n)
        assert not disc.uniform
        assert rel(exponential_step(ch, disc, xs[None].copy())[0], xs) < 1e-12
        X = np.zeros((1, ch.n))
        for _ in range(n):
            X = exponential_step(ch, disc, X)
        errs.append(rel(X[0], ref))
    assert errs[0] < 1e-3 and 1.6 < errs[0] / errs[1] < 2.4


def test_exponential_stationary_statistics_match_the_lyapunov_covariance():
    """Thermal noise (every resistor, 300 K) plus injected noise: 4000 chains started at the
    stationary mean, one exact step of 60 tau; mean and covariance within 5 SE of theory."""
    J, H, lam, g = problem(N=8, b=2, dz=2, seed=6, lam=0.5)
    fc = factored_circuit(J, H, lam, g, r_max=1e12, noise_psd=2e-21)
    spu = FactoredSPU(fc, temperature_k=300.0, chains=4000, seed=1)
    ch = spu.chain
    F, Q = ch.to_dense(), ch.diffusion_dense()
    xs = -np.linalg.solve(F, ch.offset)
    S = sla.solve_continuous_lyapunov(F, -Q)
    spu.state[:] = xs
    spu.run("60tau")
    V = spu.state
    n = V.shape[0]
    z_mean = (V.mean(0) - xs) / np.sqrt(np.diag(S) / n)
    C = np.cov(V.T)
    d = np.diag(S)
    z_cov = (C - S) / np.sqrt((np.outer(d, d) + S**2) / n)
    assert np.max(np.abs(z_mean)) < 5 and np.max(np.abs(z_cov)) < 5


# --------------------------------------------------------------------------- Euler-Maruyama
def test_euler_step_spectrum_and_step_errors():
    J, H, lam, g = problem(seed=8)
    fc = factored_circuit(J, H, lam, g, r_max=1e12)
    nl = fc.netlist.copy()
    perturb_netlist_resistors(nl, 0.01, 9)
    fc2 = FactoredCircuit(components_from_netlist(nl), fc.scales, lam, g, fc.r_in_ohm,
                             fc.r_lambda_ohm, fc.prune)
    spu = FactoredSPU(fc2, scheme="euler", noise=False, chains=3)
    ch = spu.chain
    ev = np.linalg.eigvals(-ch.to_dense())
    rho = np.max(np.abs(ev))
    assert abs(ch.spectral_radius("arnoldi") - rho) < 1e-8 * rho
    assert abs(ChainDrift(fc2.components).spectral_radius("power") - rho) < 1e-4 * rho
    assert ch.gershgorin_radius() >= rho
    hmax = spu.max_stable_dt()
    assert abs(hmax - np.min(2 * ev.real / np.abs(ev) ** 2)) < 1e-6 * hmax
    x0 = np.random.default_rng(2).standard_normal((3, ch.n))
    spu.reset(x0)
    v0 = spu.state.copy()
    h = 0.3 * hmax
    spu.run(h, dt=h)
    assert rel(spu.state, v0 + h * (ch.matvec(v0) + ch.offset)) < 1e-12
    assert spu.auto_dt() < hmax
    with pytest.raises(StepError, match="largest stable step"):
        spu.run(10 * hmax, dt=1.01 * hmax)


def test_euler_noise_is_the_chain_diffusion_and_reproducible():
    """One Euler step's increment covariance is h Q (the MNA-verified diffusion), within 5 SE per
    entry over 6000 chains; the same seed gives the same bits, another seed other bits."""
    J, H, lam, g = problem(N=8, b=2, dz=2, seed=9)
    fc = factored_circuit(J, H, lam, g, r_max=1e12, opamp_gain=3e4)
    spu = FactoredSPU(fc, scheme="euler", chains=6000, seed=5)
    h = spu.auto_dt()
    spu.run(h, dt=h)
    inc = spu.state - fc.components.ic - h * spu.chain.offset
    Qh = h * spu.chain.diffusion_dense()
    n = inc.shape[0]
    d = np.diag(Qh)
    z = (np.cov(inc.T) - Qh) / np.sqrt((np.outer(d, d) + Qh**2) / n)
    assert np.max(np.abs(z)) < 5
    runs = []
    for seed in (3, 3, 4):
        s = FactoredSPU(fc, scheme="euler", chains=2, seed=seed)
        s.run(20 * h, dt=h)
        runs.append(s.state.copy())
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])


# --------------------------------------------------------------------------- large N, structure
def test_large_n_structured_form_without_a_netlist():
    rng = np.random.default_rng(10)
    N, b, dz = 20000, 8, 6
    m = b * dz
    J = rng.standard_normal((m, N))
    p = rng.dirichlet(np.ones(dz), size=b)
    H = np.einsum("bi,ij->bij", p, np.eye(dz)) - np.einsum("bi,bj->bij", p, p)
    g = rng.standard_normal(N)
    fc = factored_circuit(J, H, 0.05, g, r_max=1e12)
    assert not fc.netlist_built and fc.components.G3 is None  # no netlist; J and J^T share one buffer
    assert fc.components.G1.nbytes == J.nbytes
    with pytest.raises(NetlistError, match="force=True"):
        fc.netlist
    ch = ChainDrift(fc.components, 300.0)
    with pytest.raises(NetlistError, match="N x N"):
        ch.to_dense()
    x = rng.standard_normal(N)
    HJx = np.einsum("bij,bj->bi", H, (J @ x).reshape(b, dz)).reshape(-1)
    ref = (J.T @ HJx / b + 0.05 * x) / fc.tau_s
    assert rel(-ch.matvec(x), ref) < 1e-10
    spu = FactoredSPU(fc, scheme="euler", chains=2, seed=0)
    spu.reset(x)
    r = spu.run(5 * spu.auto_dt(), max_samples=5)
    assert r.n_steps == 5 and np.all(np.isfinite(r.x))


# --------------------------------------------------------------------------- realizability
def test_realizability_pruning_and_errors():
    J, H, lam, g = problem(seed=12)
    J[0, 0] = 1e-9  # needs a resistance far above r_max
    with pytest.raises(RealizabilityError, match=r"J\[0,0\]"):
        factored_circuit(J, H, lam, g, r_max=1e6)
    fc = factored_circuit(J, H, lam, g, r_max=1e6, prune=True)
    pr = fc.prune
    assert pr["pruned_J_entries"] >= 1 and pr["h_blocks_psd"]
    Jp = np.where(np.abs(J) * fc.scales.g1_siemens < 1 / 1e6, 0.0, J)
    Hp = np.where(np.abs(H) * fc.scales.g2_siemens < 1 / 1e6, 0.0, H)
    A, Ap = dense_A(J, H, lam), dense_A(Jp, Hp, lam)
    assert rel(-fc.tau_s * ChainDrift(fc.components).to_dense(), Ap) < 1e-10  # the realised matrix, exactly
    x, xp = np.linalg.solve(A, g), np.linalg.solve(Ap, g)
    assert rel(xp, x) <= pr["relative_solution_error_bound"]
    # reusing the scales: entries twice as large do not fit
    with pytest.raises(RealizabilityError, match="below r_min"):
        factored_circuit(3 * J, H, lam, g, r_max=1e6, prune=True, scales=fc.scales)
    ok = factored_circuit(0.5 * J, H, lam, g, r_max=1e6, prune=True, scales=fc.scales)
    assert ok.tau_s == fc.tau_s and ok.v_unit_v == fc.v_unit_v
    with pytest.raises(RealizabilityError, match="lambda resistor"):
        factored_circuit(J, H, lam * 1e-6, g, r_max=1e6, prune=True, scales=fc.scales)
    with pytest.raises(MatrixError, match="H_blocks"):
        factored_circuit(J, H[:, :2, :2], lam, g)
    with pytest.raises(MatrixError, match="NaN"):
        factored_circuit(np.full_like(J, np.nan), H, lam, g)
    with pytest.raises(MatrixError, match="damping"):
        factored_circuit(J, H, 0.0, g)
    with pytest.raises(RealizabilityError, match="r_max"):
        factored_circuit(J, H, lam, g, r_min=1e6, r_max=1e3)


# --------------------------------------------------------------------------- device: warm start
def test_warm_start_and_reprogramming_keep_the_capacitor_voltages():
    J, H, lam, g = problem(seed=14)
    fc = factored_circuit(J, H, lam, g, r_max=1e12, netlist=False)
    a = FactoredSPU(fc, noise=False)
    a.run("3tau")
    a.run("4tau")
    b = FactoredSPU(fc, noise=False)
    b.run("7tau")
    assert rel(a.state, b.state) < 1e-12
    # new J, same scales (tau, v_unit fixed): the voltages are kept, then evolve under the new system
    J2 = J * 0.8
    fc2 = factored_circuit(J2, H, lam, -g, r_max=1e12, netlist=False, scales=fc.scales)
    v = a.state.copy()
    a.program(fc2)
    assert np.array_equal(a.state, v) and a.rescaled == 0
    a.run("200tau")
    assert rel(a.read()[0], np.linalg.solve(dense_A(J2, H, lam), -g)) < 1e-9
    # a different v_unit: the state is rescaled explicitly so that x is unchanged
    x_before = a.read().copy()
    fc3 = factored_circuit(J2, H, lam, -g, r_max=1e12, netlist=False, v_unit=3 * fc.v_unit_v)
    a.program(fc3)
    assert a.rescaled == 1 and rel(a.read(), x_before) < 1e-14


# --------------------------------------------------------------------------- TNGD solver
def _tngd_setup(seed=13):
    from tngd import mlp

    rng = np.random.default_rng(seed)
    model = mlp((4,), 3, hidden=(3,), activation="tanh")
    theta = model.init(seed)
    batches = [(rng.normal(size=(6, 4)), rng.integers(0, 3, 6)) for _ in range(6)]
    return model, theta, batches


def _run_tngd(opt, model, theta, batches, steps):
    from tngd import Batch, SoftmaxCrossEntropy

    st = opt.init(theta)
    out = []
    for k in range(steps):
        x, y = batches[k % len(batches)]
        B = Batch(model, SoftmaxCrossEntropy(), theta, x, y)
        upd, st = opt.update(B.grad, st, theta, curvature=B)
        theta = theta + upd
        out.append(st.g_tilde.copy())
    return out


def test_factored_solver_matches_the_exact_solver_without_noise():
    """Three warm-started TNGD steps (with delay td) on the factored twin agree with the ideal OU
    solver to 1e-8; t -> large gives NGD; the (J, H) upload realises the same system."""
    from tngd import Batch, ExactOUSolver, SoftmaxCrossEntropy, tngd
    from tngd.devices import FactoredTwinSolver

    model, theta, batches = _tngd_setup()
    fs = FactoredTwinSolver(noise=False, r_max=1e12)
    g_tw = _run_tngd(tngd(0.1, 0.1, t=7.0, td=2.0, solver=fs), model, theta, batches, 3)
    g_ex = _run_tngd(tngd(0.1, 0.1, t=7.0, td=2.0), model, theta, batches, 3)
    for a, b in zip(g_tw, g_ex):
        assert rel(a, b) < 1e-8
    assert fs.last_circuit.prune["pruned_J_entries"] == 0 and fs.analog_time_s > 0
    assert fs.writes == 1  # the state was written once; afterwards it persisted in the capacitors
    # the paper's three arrays (J, H) and t large: NGD
    B = Batch(model, SoftmaxCrossEntropy(), theta, *batches[0])
    fs2 = FactoredTwinSolver(noise=False, r_max=1e12)
    sys_ = fs2.prepare(B, 0.1, B.grad)
    x = fs2.propagate(sys_, np.zeros(B.n_params), 2000.0, 0.0, np.random.default_rng(0))
    ngd = np.linalg.solve(B.ggn() + 0.1 * np.eye(B.n_params), B.grad)
    assert rel(x, ngd) < 1e-8
    ex = ExactOUSolver()
    s2 = ex.prepare(B.factor(), 0.1, B.grad)
    x2 = fs2.propagate(fs2.prepare((B.jacobian(), B.hessian_blocks()), 0.1, B.grad), ngd * 0.3, 3.0, 0.0,
                       np.random.default_rng(0))
    assert rel(x2, ex.propagate(s2, ngd * 0.3, 3.0, 0.0, None)) < 1e-8


def test_factored_solver_kappa0_noise_statistics():
    """kappa0 as injected current (Johnson noise off): after lambda t = 40 the read-out is
    N(A^-1 g, kappa0 A^-1): whitened mean square and mean within 5 SE over 300 reads."""
    from tngd.devices import FactoredTwinSolver

    rng = np.random.default_rng(14)
    N, m, lam, kappa0 = 6, 3, 0.5, 0.02
    U = rng.normal(size=(m, N)) * 0.5
    g = rng.normal(size=N)
    fs = FactoredTwinSolver(noise=False, r_max=1e12)
    sys_ = fs.prepare(U, lam, g)
    A = U.T @ U + lam * np.eye(N)
    xs = np.linalg.solve(A, g)
    w, V = np.linalg.eigh(A)
    Ah = (V * np.sqrt(w)) @ V.T
    R = np.stack([Ah @ (fs.propagate(sys_, xs, 80.0, kappa0, rng) - xs) / np.sqrt(kappa0) for _ in range(300)])
    n = R.size
    assert abs(np.mean(R**2) - 1) < 5 * np.sqrt(2 / n)
    assert np.max(np.abs(R.mean(0))) < 5 / np.sqrt(R.shape[0])


def test_factored_solver_with_tolerance_and_euler_scheme():
    """1% resistor tolerance (non-uniform diagonal: ETD1 sub-steps) stays within a few percent of
    the ideal solver; the Euler scheme is first order (its error shrinks with dt)."""
    from tngd import ExactOUSolver
    from tngd.devices import FactoredTwinSolver

    rng = np.random.default_rng(15)
    N, m, lam = 10, 4, 0.3
    U = rng.normal(size=(m, N))
    g = rng.normal(size=N)
    x0 = rng.normal(size=N)
    ex = ExactOUSolver()
    ref = ex.propagate(ex.prepare(U, lam, g), x0, 5.0, 0.0, None)
    tol = FactoredTwinSolver(noise=False, r_max=1e12, tolerance=0.01)
    x = tol.propagate(tol.prepare(U, lam, g), x0, 5.0, 0.0, rng)
    assert 1e-5 < rel(x, ref) < 0.05
    errs = []
    for dt in (0.02, 0.01):
        eu = FactoredTwinSolver(noise=False, r_max=1e12, scheme="euler", dt_tau=dt)
        errs.append(rel(eu.propagate(eu.prepare(U, lam, g), x0, 5.0, 0.0, rng), ref))
    assert errs[1] < errs[0] < 0.05 and 1.6 < errs[0] / errs[1] < 2.4
