"""Op-amp rails on the factored circuit (TNGD App. C; integrate.chain_rails): the O(N m) Euler
kernel against the mode-wise exact piecewise-linear reference of the circuit's own netlist
(device.saturation, itself checked against ngspice here and in test_rails), first-order
convergence, no change off the rails, the noise path's stationary covariance against the Euler
map's discrete Lyapunov equation, and saturation reported by the device and by TNGD's twin."""
import numpy as np
import pytest
import scipy.linalg as sla

from spucircuit._util.progress import make_meter
from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.device.saturation import RailedCircuit
from spucircuit.errors import NetlistError
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import Rails
from spucircuit.io.ngspice import ngspice_available, run_ngspice
from spucircuit.io.spice import write_spice
from spucircuit.statespace.mna import compile_netlist

RAIL = 2.5
N, B, DZ, LAM = 6, 3, 2, 0.5


def problem(seed=0):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((B * DZ, N))
    H = np.stack([np.eye(DZ) + 0.3 * np.ones((DZ, DZ)) for _ in range(B)])
    g = rng.standard_normal(N)
    A = J.T @ sla.block_diag(*H) @ J / B + LAM * np.eye(N)
    return J, H, g, A


def circuit(v_max=3.0, seed=0, **kw):
    """The largest |x*| mapped to v_max volts (beyond the 2.5 V rails by default)."""
    J, H, g, A = problem(seed)
    xs = np.linalg.solve(A, g)
    return factored_circuit(J, H, LAM, g, v_unit=v_max / np.abs(xs).max(), v_swing=2.0, **kw), A


def reference(fc, T, steps, save_every):
    """Noise-free clipped outputs (V) from the mode-wise exact steps of fc's own netlist."""
    ss = compile_netlist(fc.netlist, noise=False)
    rc = RailedCircuit(ss, RAIL, [f"x{i}" for i in range(N)], noise=False)
    X0 = np.zeros((1, N))
    _, samp, _, _, sat = rc.advance(X0, steps, T / steps, save_every, 1, make_meter(False))
    return rc.outputs(samp[:, 0, :]), {nm: int(c) for nm, c in zip(rc.opamps, sat) if c}


def test_euler_with_rails_converges_to_the_exact_piecewise_linear_run():
    fc, A = circuit()
    T = 15.0 / np.linalg.eigvalsh(A)[0] * fc.tau_s
    ref, ref_sat = reference(fc, T, 3000, 30)
    assert ref_sat  # the case saturates
    errs = []
    for fac in (1, 2, 4):
        spu = FactoredSPU(fc, noise=False, rail_v=RAIL, dt=T / 3000 / fac)
        assert spu.scheme == "euler"
        r = spu.run(T, save_every=30 * fac)
        errs.append(np.max(np.abs(r.x[:, 0, :] * fc.v_unit_v - ref)))
        assert set(r.saturated) == set(ref_sat)
        for nm, k in ref_sat.items():  # time on the rail agrees to a few steps of the coarsest run
            assert abs(r.saturated_steps[nm] / fac - k) <= 3
    print(f"\nfactored rails: Euler vs exact max deviation {errs} V (h, h/2, h/4)")
    assert errs[2] < 2e-3 and errs[1] < 0.6 * errs[0] and errs[2] < 0.6 * errs[1]  # first order


@pytest.mark.skipif(not ngspice_available(), reason="ngspice not installed")
def test_reference_agrees_with_ngspice_on_the_factored_netlist():
    fc, A = circuit()
    lam = np.linalg.eigvalsh(A)
    tstep = fc.tau_s / lam[-1] / 20
    steps = int(round(8.0 / lam[0] * fc.tau_s / tstep))
    ref, sat = reference(fc, steps * tstep, steps, 1)
    assert sat
    nodes = [f"x{i}" for i in range(N)]
    text = write_spice(fc.netlist, None, tran=(tstep, steps * tstep, tstep / 4), rail_v=RAIL, save=nodes,
                       rawfile="out.raw")
    v_ng = run_ngspice(text).voltages(nodes)[1:]
    rel = np.max(np.abs(v_ng - ref)) / np.max(np.abs(ref))
    print(f"\nfactored rails: exact reference vs ngspice max relative deviation {rel:.2e}")
    assert rel < 1e-3


def test_far_rails_change_nothing_noise_free():
    fc, A = circuit(v_max=1.0)
    T = 5.0 / np.linalg.eigvalsh(A)[0] * fc.tau_s
    a = FactoredSPU(fc, noise=False, scheme="euler", dt=T / 2000).run(T, save_every=100)
    b = FactoredSPU(fc, noise=False, rail_v=100.0, dt=T / 2000).run(T, save_every=100)
    assert b.saturated == [] and set(b.saturated_steps) >= {"U0", "UA0", "UC0"}
    np.testing.assert_allclose(b.x, a.x, rtol=1e-11, atol=1e-12 * np.abs(a.x).max())
    np.testing.assert_allclose(b.mean_x, a.mean_x, rtol=1e-11, atol=1e-12 * np.abs(a.x).max())


def test_noise_path_gives_the_euler_maps_stationary_covariance():
    """Rails far away, noise on (an injected current well above Johnson noise), 2000 independent
    chains after 40 slowest relaxation times: each state variance within 4 standard errors
    (sigma^2 sqrt(2 / (k - 1))) of the discrete Lyapunov solution of v <- (I + hF) v + noise(hQ)."""
    fc, A = circuit(v_max=1.0, noise_psd=1e-20)
    spu = FactoredSPU(fc, noise=True, rail_v=100.0, chains=2000, seed=3)
    h = spu.dt
    F, Q = spu.chain.to_dense(), spu.chain.diffusion_dense()
    Phi = np.eye(N) + h * F
    P = sla.solve_discrete_lyapunov(Phi, h * Q)
    T = 40.0 / np.min(np.abs(np.linalg.eigvals(F)))
    spu.run(T, max_samples=1)
    X = spu.state - spu.state.mean(axis=0)
    var = (X**2).sum(axis=0) / (X.shape[0] - 1)
    se = np.diag(P) * np.sqrt(2.0 / (X.shape[0] - 1))
    z = (var - np.diag(P)) / se
    print(f"\nfactored rails noise: variance z-scores {np.round(z, 2)}")
    assert np.all(np.abs(z) < 4)


def test_device_and_steady_state_report_the_saturated_op_amps():
    fc, A = circuit()
    dev = Device(Rails(RAIL), seed=0).program_circuit(fc)
    spu = dev.spu(noise=False)
    assert spu.rail_v == RAIL and spu.scheme == "euler"
    x, rep = dev.steady_x()
    assert rep["saturated"]
    assert np.max(np.abs(x)) * fc.v_unit_v <= RAIL * (1 + 1e-9)
    # the long run of the twin settles where the steady state says
    T = 30.0 / np.linalg.eigvalsh(A)[0] * fc.tau_s
    r = spu.run(T, dt=T / 20000, max_samples=1)
    assert set(r.saturated) == set(rep["saturated"])
    np.testing.assert_allclose(r.x[-1, 0], x, atol=2e-3 * np.abs(x).max())


def test_tngd_factored_twin_counts_saturated_runs():
    from tngd.devices.factored_twin import FactoredTwinSolver
    from tngd.errors import ConfigError

    J, H, g, _ = problem()
    for rail, saturates in ((1e-3, True), (10.0, False)):
        s = FactoredTwinSolver(rail_v=rail, noise=False)
        sys_ = s.prepare((J, H), LAM, g)
        x = s.propagate(sys_, np.zeros(N), 5.0, 0.0, np.random.default_rng(0))
        assert np.all(np.isfinite(x))
        assert (s.saturated_runs > 0) == saturates and bool(s.saturated_opamps) == saturates
    with pytest.raises(ConfigError, match="rail_v"):
        FactoredTwinSolver(rail_v=0.0)


def test_bad_rails_are_named():
    fc, _ = circuit()
    with pytest.raises(NetlistError, match="rail_v"):
        FactoredSPU(fc, rail_v=-1.0)
