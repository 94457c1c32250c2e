"""The variable-step transient with time-dependent inputs (SPICE's .tran): exact for piecewise-linear
inputs against the analytic RC response, second order for the trapezoidal rule, every breakpoint
hit, smooth inputs to the requested tolerance, the exact noise, SPICE's output grid, and `.tran 1n 1`
on a slow circuit in well under a second."""
import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spucircuit.circuit.waveforms import Pulse, Pwl, Sin
from spucircuit.constants import K_B
from spucircuit.device.tran import run_tran, tran_output_times
from spucircuit.errors import NetlistError, SPUError, StepError
from spucircuit.integrate.transient import time_grid, transient
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.inputs import input_schedule
from spucircuit.statespace.mna import compile_netlist

R, C = 1e3, 1e-6
TAU = R * C


def _rc(card, tran=".tran 0.1m 5m"):
    return parse_spice(f"rc\nV1 in 0 {card}\nR1 in a {R}\nC1 a 0 {C}\n{tran}\n.end\n", "rc.cir")


def rc_pwl_response(times, values, t, tau=TAU):
    """v(t) of dv/dt = (u - v)/tau, v(0) = 0, u the PWL through (times, values) (a jump: two equal
    times): on each segment u = u_k + s (t - t_k) gives, with e = t - t_k and E = 1 - e^{-e/tau},
    v = v_k (1 - E) + u_k E + s (e - tau E)."""
    knots = list(zip(times, values))
    if knots[0][0] > 0:
        knots.insert(0, (0.0, values[0]))
    out = []
    for tt in np.atleast_1d(t):
        v = 0.0
        for (ta, ua), (tb, ub) in zip(knots, knots[1:] + [(math.inf, knots[-1][1])]):
            if tb == ta:
                continue
            s = 0.0 if math.isinf(tb) else (ub - ua) / (tb - ta)
            e = min(tt, tb) - ta
            em = -math.expm1(-e / tau)  # written without u - s tau, which cancels for a steep ramp
            v = v * (1 - em) + ua * em + s * (e - tau * em)
            if tt <= tb:
                break
        out.append(v)
    return np.array(out)


PWL_T = (0.0, 1e-3, 1.5e-3, 1.5e-3, 3e-3, 3.7e-3)
PWL_V = (0.0, 1.0, 1.0, -0.5, 0.25, 0.25)


def test_exact_scheme_with_pwl_input_matches_the_analytic_rc_response_to_1e_9():
    card = "PWL(" + " ".join(f"{t} {v}" for t, v in zip(PWL_T, PWL_V)) + ")"
    run = run_tran(_rc(card), 0.1e-3, 5e-3)
    ref = rc_pwl_response(PWL_T, PWL_V, run.t)
    a = run.nodes.index("a")
    assert np.max(np.abs(run.v[:, a] - ref)) < 1e-9
    assert np.array_equal(run.v[:, run.nodes.index("in")], Pwl(PWL_T, PWL_V).value(run.t))
    # off-grid breakpoints (1.23 ms, 2.345 ms) are stepped onto: still exact, with few step lengths
    t2, v2 = (0.0, 1.23e-3, 2.345e-3), (0.0, 1.0, -0.3)
    run2 = run_tran(_rc("PWL(0 0 1.23m 1 2.345m -0.3)"), 0.1e-3, 5e-3)
    assert np.max(np.abs(run2.v[:, a] - rc_pwl_response(t2, v2, run2.t))) < 1e-9
    assert run2.result.n_lengths <= 5


def test_trapezoidal_is_second_order_and_accurate_by_default():
    card = "PWL(" + " ".join(f"{t} {v}" for t, v in zip(PWL_T, PWL_V)) + ")"
    nl = _rc(card)
    ref = None
    errs = []
    for tmax in (4e-6, 2e-6):  # below the default step TRAP_Z / |lambda| = 1e-5 s
        run = run_tran(nl, 0.1e-3, 5e-3, tmax=tmax, scheme="trapezoidal")
        ref = rc_pwl_response(PWL_T, PWL_V, run.t) if ref is None else ref
        errs.append(np.max(np.abs(run.v[:, 1] - ref)))
    assert 3.5 < errs[0] / errs[1] < 4.5  # h^2
    # default step: TRAP_Z / spectral radius keeps it near the exact answer
    run = run_tran(nl, 0.1e-3, 5e-3, scheme="trapezoidal")
    assert np.max(np.abs(run.v[:, 1] - ref)) < 2e-5


def test_every_breakpoint_is_an_internal_step_time():
    H, m, pos = time_grid(np.linspace(0, 1, 11), 1.0, np.array([0.05, 0.1 + 1e-14, 0.333, 2.0]), 0.04)
    assert {0.05, 0.333, 0.1 + 1e-14} <= set(H.tolist())
    assert np.sum(np.abs(H - 0.1) < 1e-12) == 1  # a breakpoint 1e-14 from an output time is one point with it
    assert np.max(np.abs(H[pos] - np.linspace(0, 1, 11))) <= 1e-12 and np.all(np.diff(H) / m <= 0.04)
    # a pulse whose 1 ps rise would be missed by any fixed step: the exact answer still holds
    p = Pulse(0, 1, 0.3e-3, 1e-12, 1e-12, 0.7e-3, 3e-3).resolve(1e-4, 5e-3)
    run = run_tran(_rc("PULSE(0 1 0.3m 1p 1p 0.7m 3m)"), 1e-4, 5e-3)
    b = p.breakpoints(0, 5e-3)
    corners = (0.0, 1.0, 1.0, 0.0) * 2  # the ideal corner values (value(b) rounds (t - td) / tr at 1 ps)
    assert np.max(np.abs(run.v[:, 1] - rc_pwl_response(tuple(b), corners, run.t))) < 1e-9


def test_smooth_input_within_its_tolerance():
    """A sine into the RC node: v = A |H| sin(w t - phi) + A |H| sin(phi) e^{-t/tau}, H = 1/(1 + i w tau)."""
    f, amp = 700.0, 1.0
    run = run_tran(_rc(f"SIN(0 {amp} {f})"), 1e-5, 5e-3)
    w = 2 * math.pi * f
    mag, phi = 1 / math.hypot(1, w * TAU), math.atan(w * TAU)
    ref = amp * mag * (np.sin(w * run.t - phi) + math.sin(phi) * np.exp(-run.t / TAU))
    err = np.max(np.abs(run.v[:, 1] - ref))
    assert err < 1e-8 * amp  # INPUT_RTOL = 1e-8 of the amplitude bounds the chord error of the input
    assert err > 1e-15  # the input is a chord, not the sine: an honest, nonzero error


def test_noise_gives_the_equilibrium_variance_and_follows_the_seed():
    nl = parse_spice(f"rc\nR1 a 0 {R}\nC1 a 0 {C}\n.end\n", "n.cir")
    ss = compile_netlist(nl, 300.0, noise=True)
    sch = input_schedule(ss, {}, 1e-3, 1.0)
    t = np.arange(4001) * 5 * TAU  # independent samples
    x = transient(ss, sch, np.zeros(1), t, noise=True, seed=7).states[1:, 0]
    var, kt_c = np.var(x), K_B * 300.0 / C
    se = kt_c * math.sqrt(2 / x.size)
    assert abs(var - kt_c) < 4 * se and abs(np.mean(x)) < 4 * math.sqrt(kt_c / x.size)
    again = transient(ss, sch, np.zeros(1), t, noise=True, seed=7).states[1:, 0]
    assert np.array_equal(x, again)


def test_output_grid_is_spice_tstep_grid_from_tstart():
    t, k = tran_output_times(1e-3, 10e-3, 2.5e-3)
    assert k == 1 and t[0] == 2.5e-3 and t[-1] == 10e-3 and np.allclose(np.diff(t)[:-1], 1e-3)
    t, k = tran_output_times(1e-9, 1.0, 0.0, max_points=1000)
    assert len(t) <= 1001 and k == math.ceil(1e9 / 999) and t[-1] == 1.0
    with pytest.raises(StepError):
        tran_output_times(1e-3, 1e-3, 2e-3)
    with pytest.raises(StepError, match="give max_points"):
        tran_output_times(1e-15, 1.0)


def test_tran_1n_1_on_a_slow_rc_is_fast_and_accurate():
    tau = 0.1
    nl = parse_spice("slow rc\nV1 in 0 PULSE(0 1 0.1 1m 1m 0.4 1)\nR1 in a 1k\nC1 a 0 100u\n.tran 1n 1\n.end\n")
    run_tran(nl, 1e-3, 0.01)  # compiles / loads the kernel
    t0 = time.perf_counter()
    run = run_tran(nl, 1e-9, 1.0, max_points=20000)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, elapsed
    assert run.result.n_steps < 30000 and run.stride > 1 and len(run.t) <= 20001
    p = Pulse(0, 1, 0.1, 1e-3, 1e-3, 0.4, 1).resolve(1e-9, 1.0)
    b = p.breakpoints(0, 1.0)
    ref = rc_pwl_response(tuple(b), tuple(p.value(b)), run.t, tau)
    assert np.max(np.abs(run.v[:, run.nodes.index("a")] - ref)) < 1e-9


def test_sin_waveform_on_a_dc_source_changes_only_that_input():
    nl = parse_spice("two\nV1 in 0 dc 1\nV2 b 0 SIN(0 1 1k)\nR1 in a 1k\nR2 b a 1k\nC1 a 0 1u\n.tran 10u 2m\n.end\n")
    ss = compile_netlist(nl, noise=False)
    sch = input_schedule(ss, nl.waveforms, 1e-5, 2e-3)
    assert sch.names == ("V2",) and np.allclose(sch.full([0.25e-3])[0], [1.0, Sin(0, 1, 1e3).resolve(1, 1).value(0.25e-3)])


def test_spu_runs_with_changing_inputs():
    from spucircuit.device.spu import SPU

    nl = parse_spice(f"rc\nV1 in 0 0\nR1 in a {R}\nC1 a 0 {C}\n.end\n", "dev.cir")
    dev = SPU(nl, noise=False, chains=2)
    t = np.linspace(0, 5e-3, 26)
    res = dev.run_transient(t, {"V1": Pwl(PWL_T, PWL_V)})
    assert res.states.shape == (26, 2, 1)
    assert np.max(np.abs(res.states[:, :, 0] - rc_pwl_response(PWL_T, PWL_V, t)[:, None])) < 1e-9
    assert dev.time_s == 5e-3 and dev.ss.inputs[0] == PWL_V[-1] and np.array_equal(dev.state, res.states[-1])
    noisy = SPU(nl, noise=True, chains=2, seed=3)
    a = noisy.run_transient(t, {"V1": Pwl(PWL_T, PWL_V)}).states
    b = SPU(nl, noise=True, chains=2, seed=3).run_transient(t, {"V1": Pwl(PWL_T, PWL_V)}).states
    assert np.array_equal(a, b) and not np.array_equal(a[:, 0], a[:, 1])  # seeded; chains independent
    with pytest.raises(NetlistError, match="no independent source"):
        dev.run_transient(t, {"V9": Pwl(PWL_T, PWL_V)})


_NUM = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
                 st.sampled_from([0.0, 1e-12, 1e-3, 1.0, 5e-4, -1.0]))


@st.composite
def _source_card(draw):
    kind = draw(st.sampled_from(["PULSE", "SIN", "EXP", "PWL", "SFFM", "AM"]))
    return kind + "(" + " ".join(repr(draw(_NUM)) for _ in range(draw(st.integers(0, 9)))) + ")"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_source_card(), st.sampled_from(["exponential", "trapezoidal"]),
       st.sampled_from([(1e-4, 5e-3), (1e-9, 1.0), (1e-3, 7e-3)]))
def test_fuzz_random_source_cards_run_or_raise_only_package_errors(card, scheme, tran):
    try:
        nl = parse_spice(f"t\nV1 in 0 {card}\nR1 in a 1k\nC1 a 0 1u\n.end\n", "fuzz.cir")
    except SPUError:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # huge values overflow to inf: reported by the CLI
            run_tran(nl, tran[0], tran[1], max_points=2000, scheme=scheme)
    except SPUError:
        pass


def test_repeating_pwl_is_exact_through_its_jumps():
    """PWL(...) r=R: the part from R repeats, with a jump back at every repeat: still exact to 1e-9."""
    w = Pwl((0.0, 0.5e-3, 1.2e-3, 1.6e-3), (0.0, 1.0, -0.4, 0.6), r=0.5e-3)
    run = run_tran(_rc("PWL(0 0 0.5m 1 1.2m -0.4 1.6m 0.6) r=0.5m"), 0.1e-3, 6e-3)
    knots = []
    for b in w.breakpoints(0, 6e-3):
        lo, hi = float(w.value(b)), float(w.value(b, side="right"))
        knots += [(b, lo)] + ([(b, hi)] if hi != lo else [])
    ref = rc_pwl_response(tuple(k[0] for k in knots), tuple(k[1] for k in knots), run.t)
    assert len(knots) > len(w.breakpoints(0, 6e-3)) + 2  # the jumps are in the reference
    assert np.max(np.abs(run.v[:, 1] - ref)) < 1e-9


@pytest.mark.parametrize("text,source", [
    ("I1 0 m PWL(0 0 1u 1m)\nL1 m a 1m\nR1 a 0 1k\nC1 a 0 1n\n", "I1"),  # I1 forces L1's current
])
def test_a_waveform_whose_derivative_the_reduction_drops_is_refused(text, source):
    """Index reduction keeps only a source's DC level where its du/dt would enter (an inductor in series with
    a current source, whose voltage L di/dt it drops): a waveform there is refused by name, never integrated
    without the derivative term (a silent wrong answer). A voltage source closing a capacitor loop keeps its
    term, B_1 du/dt (test below)."""

    nl = parse_spice("t\n" + text + ".tran 0.1u 20u\n.end\n")
    with pytest.raises(NetlistError, match=f"time-dependent source '{source}'.*DC level"):
        run_tran(nl, 1e-7, 2e-5)


@pytest.mark.parametrize("scheme,tol", [("exponential", 1e-12), ("trapezoidal", 1e-6)])
def test_source_jump_into_a_capacitor_loop_divides_the_charge(scheme, tol):
    """A PWL step of 1 V at 1 us on C1 (1 nF) in series with C2 (3 nF) || R (1 kOhm): at the jump the
    series pair takes the charge at once, v_b = C1 / (C1 + C2) = 0.25 V, then v_b = 0.25 e^{-(t - 1us) / (R
    (C1 + C2))} (B_1 du/dt inside steps, B_1 du at the jump). Exact scheme to round-off; trapezoidal
    within its step error."""
    from spucircuit.device.tran import run_tran
    from spucircuit.io.spice import parse_spice

    nl = parse_spice("jump\nVp a 0 PWL(0 0 1u 0 1u 1 5u 1)\nC1 a b 1n\nC2 b 0 3n\nR2 b 0 1k\n.tran 10n 5u\n.end\n")
    r = run_tran(nl, 10e-9, 5e-6, 0.0, None, scheme=scheme)
    vb, t = r.v[:, r.nodes.index("b")], r.t
    after = t > 1e-6 * (1 + 1e-9)
    assert np.max(np.abs(vb[~after])) == 0.0
    assert np.max(np.abs(vb[after] - 0.25 * np.exp(-(t[after] - 1e-6) / 4e-6))) < tol
