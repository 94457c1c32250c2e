"""Op-amp rails (imperfections.models.Rails, device.saturation): the twin's clipped, winding-up,
recovering integrators against the piecewise-linear ODE they obey and against ngspice on the same
netlist; the issue's 3 V against +-2.5 V figure; saturation reported, never silent."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from spucircuit.errors import SPUError
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import ADC, Rails
from spucircuit.io.ngspice import ngspice_available, run_ngspice
from spucircuit.io.spice import read_spice, write_spice
from spucircuit.linalg.solve import device_solve, range_device
from spucircuit.numerics.matrices import random_spd
from spucircuit.studies import sweep
from spucircuit.studies.knobs import default_config

RAIL = 2.5


def small():
    A = random_spd(4, 10, seed=2)
    b = np.random.default_rng(1).standard_normal(4)
    return A, b, Device(Rails(RAIL), seed=0, scale="oracle", v_swing=3.0).program(A, b)  # max |x*| at 3 V


def ode(mc, b, t, v0):
    """C dv/dt = -G clip(v) - V_in / R_in + g_tot (clip(v) - v): an ideal integrator array whose
    outputs clip(v) sit on the rails while the capacitors v wind up (module doc of device.saturation)."""
    G = mc.g_unit_siemens * mc.A
    g_tot = np.abs(G).sum(axis=1) + 1.0 / mc.r_in_ohm
    vin = mc.input_volts(b)

    def f(_, v):
        cv = np.clip(v, -RAIL, RAIL)
        return (-(G @ cv) - vin / mc.r_in_ohm + g_tot * (cv - v)) / mc.c_f

    sol = solve_ivp(f, (0.0, t[-1]), v0, t_eval=t, rtol=1e-11, atol=1e-13, method="LSODA")
    return sol.y.T


def test_twin_follows_the_piecewise_linear_ode_through_saturation_and_recovery():
    A, b, dev = small()
    mc = dev.nominal
    spu = dev.spu(noise=False, dt=0.01 * mc.tau_s)
    spu.set_rhs(b)
    T = 20.0 / np.linalg.eigvalsh(A)[0] * mc.tau_s
    r1 = spu.run(T, save_every=10)
    assert r1.saturated == ["U3"]  # x*_3 is at -3 V: its integrator sits on -2.5 V
    v_ode = ode(mc, b, np.concatenate([[0.0], r1.t]), np.zeros(4))[1:]
    assert np.max(np.abs(mc.volts_from_x(r1.x[:, 0]) - np.clip(v_ode, -RAIL, RAIL))) < 1e-6
    assert v_ode[-1, 3] < -RAIL - 1e-3  # the capacitor has wound up beyond the rail
    # reverse the input: the integrator comes off the rail and the array settles inside the rails
    spu.set_rhs(-0.5 * b)
    r2 = spu.run(T, save_every=10)
    v2 = ode(mc, -0.5 * b, np.concatenate([[0.0], r2.t]), v_ode[-1])[1:]
    # the switch off the rail is located to within one step (0.01 tau): ~1e-6 of the swing
    assert np.max(np.abs(mc.volts_from_x(r2.x[:, 0]) - np.clip(v2, -RAIL, RAIL))) < 1e-5
    assert 0 < r2.saturated_steps["U3"] < r2.n_steps  # wound up for a while, then recovered
    assert np.allclose(r2.x[-1, 0], np.linalg.solve(A, -0.5 * b), rtol=1e-6, atol=1e-9)


def test_steady_state_is_the_long_run_of_the_twin():
    A, b, dev = small()
    x_steady, rep = dev.steady_x(b)
    assert rep["saturated"] == ["U3"]
    spu = dev.spu(noise=False, dt=0.05 * dev.nominal.tau_s)
    spu.set_rhs(b)
    res = spu.run(60.0 / np.linalg.eigvalsh(A)[0] * dev.nominal.tau_s, max_samples=10)
    assert np.allclose(res.x[-1, 0], x_steady, rtol=1e-8, atol=1e-10)
    assert dev.nominal.volts_from_x(x_steady)[3] == pytest.approx(-RAIL)


@pytest.mark.skipif(not ngspice_available(), reason="ngspice not installed")
def test_clipped_transient_agrees_with_ngspice_on_the_same_netlist():
    A, b, dev = small()
    mc = dev.nominal
    lam = np.linalg.eigvalsh(A)
    tstep = mc.tau_s / lam[-1] / 20
    nsteps = int(round(8.0 / lam[0] * mc.tau_s / tstep))
    spu = dev.spu(noise=False, dt=tstep)
    spu.set_rhs(b)
    res = spu.run(nsteps * tstep, save_every=1)
    assert res.saturated == ["U3"]
    v_twin = np.vstack([np.zeros(4), mc.volts_from_x(res.x[:, 0, :])])
    text = write_spice(dev.build.netlist, None, tran=(tstep, nsteps * tstep, tstep / 4), rail_v=RAIL,
                       save=mc.output_nodes, rawfile="out.raw")
    v_ng = run_ngspice(text).voltages(mc.output_nodes)
    rel = np.max(np.abs(v_ng - v_twin)) / np.max(np.abs(v_twin))
    print(f"\nrails n=4: twin vs ngspice max relative deviation {rel:.2e} over {nsteps} steps")
    assert rel < 1e-3


def test_three_volts_against_two_and_a_half_volt_rails():
    """The issue's case on the study's n = 16, cond 100 problems: the largest output mapped to 3 V.
    Every flagged integrator is one whose x* is beyond the rail, the largest always is, and the
    unsaturated components are off by at least 5 % (a toy model gives 7-10 %)."""
    p = default_config()
    p.update(n=16, cond=100.0)
    errs = []
    for m in range(6):
        A, b = sweep._problem(p, m, None)
        dev = Device(Rails(RAIL), seed=0, scale="oracle", v_swing=3.0).program(A, b)
        x, rep = dev.steady_x(b)
        xs = np.linalg.solve(A, b)
        sat = [int(nm[1:]) for nm in rep["saturated"] if not nm.upper().startswith("UN")]
        beyond = np.flatnonzero(np.abs(xs) * dev.nominal.v_unit_v > RAIL)
        assert sat and set(sat) <= set(beyond) and int(np.argmax(np.abs(xs))) in sat
        free = np.setdiff1d(np.arange(16), sat)
        errs.append(np.linalg.norm((x - xs)[free]) / np.linalg.norm(xs[free]))
    assert min(errs) >= 0.05
    print(f"\nerror on the unsaturated components: median {np.median(errs):.3f}, range {min(errs):.3f}-{max(errs):.3f}")


def test_saturation_is_reported_and_voids_the_bound():
    A, b, dev = small()
    x, info = device_solve(dev, b, seed=1, scale="oracle")
    assert info.saturated == 1 and info.saturated_opamps == ["U3"]
    assert info.error_bound is None and "saturated" in info.error_budget["unbounded"][0]
    _, quiet = device_solve(Device(Rails(10.0), seed=0, scale="oracle", v_swing=3.0).program(A, b), b, seed=1,
                            scale="oracle")
    assert quiet.saturated == 0 and quiet.error_bound is not None


def test_noisy_runs_with_rails_are_reproducible():
    A, b, dev = small()

    def run(seed):
        spu = dev.spu(noise=True, chains=2, seed=seed)
        spu.set_rhs(b)
        return spu.run(200 * dev.nominal.tau_s, max_samples=50)

    r1, r2, r3 = run(5), run(5), run(6)
    assert np.array_equal(r1.states, r2.states) and r1.saturated_steps == r2.saturated_steps
    assert not np.array_equal(r1.states, r3.states)


def test_autorange_counts_a_saturated_op_amp_as_out_of_range():
    A, b, _ = small()
    dev = Device(chain(Rails(0.5), ADC(16, 2.0)), seed=0, scale="oracle", v_swing=3.0).program(A, b)
    assert dev.steady_x(b)[1]["saturated"]  # mapped as programmed, it saturates
    rec = range_device(dev, b, evaluate="steady")
    assert rec["passes"] >= 2 and rec["trace"][0]["clipped"] > 0
    x, rep = dev.steady_x(b)
    assert rep["saturated"] == [] and np.max(np.abs(dev.nominal.volts_from_x(x))) <= 0.5


def test_spice_round_trip_keeps_the_rails(tmp_path):
    _, _, dev = small()
    path = tmp_path / "rails.cir"
    write_spice(dev.build.netlist, path, rail_v=RAIL)
    text = path.read_text()
    assert "spu_opamp_rail" in text and "max(-{rail}, min({rail}" in text
    nl = read_spice(path)
    assert nl.meta["rail_v"] == RAIL and np.all(np.isinf(nl.tables["U"].values))


def test_bad_rails_are_named():
    A, b, _ = small()
    with pytest.raises(SPUError, match="rail_v"):
        Device(Rails(0.0), seed=0).program(A, b)
    dev = Device(Rails(RAIL), seed=0).program(A, b)
    with pytest.raises(SPUError, match="exponential"):
        dev.spu(scheme="euler")
    from spucircuit.imperfections.models import OpAmpBandwidth

    for imp in (chain(Rails(RAIL), OpAmpBandwidth(1e6)), chain(OpAmpBandwidth(1e6), Rails(RAIL))):
        with pytest.raises(SPUError, match="bandwidth macromodel"):
            Device(imp, seed=0).program(A, b)
    from spucircuit.circuit.factored_array import factored_circuit

    rng = np.random.default_rng(0)
    fc = factored_circuit(rng.standard_normal((6, 3)), None, 0.5, rng.standard_normal(3), r_max=1e9)
    assert Device(Rails(RAIL), seed=0).program_circuit(fc).spu().rail_v == RAIL  # test_factored_rails.py
    with pytest.raises(SPUError, match="rail_v"):
        Device(Rails(-1.0), seed=0).program_circuit(fc)
