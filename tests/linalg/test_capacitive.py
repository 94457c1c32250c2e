"""The capacitive SPU (physics.md 2c) and capacitor loops in the compiler.

Checks, each able to fail: compiled drift / diffusion = the hand-derived RLC equations; Lyapunov
covariance = k_B T C^-1 (Johnson only) to 1e-10; unequal damping resistors with an equal injected
noise break the Gibbs law by tens of percent (and the simulation resolves it); simulated
covariance, A^-1 and sample covariance within 4 standard errors of theory; rejection of
non-realisable matrices naming rows / entries; diagonal rescaling exactly where it exists."""
import itertools
import json

import numpy as np
import pytest

import spucircuit as sc
from spucircuit.circuit.capacitive_array import (
    C_DIAG_MAX_DEFAULT,
    R_DEFAULT,
    V_UNIT_DEFAULT,
    capacitive_realisability,
    capacitive_spu,
    diagonal_rescaling,
)
from spucircuit.constants import K_B
from spucircuit.errors import MatrixError, NetlistError, RealizabilityError
from spucircuit.linalg.capacitive import capacitive_inv, capacitive_sample, dynamics
from spucircuit.numerics.ou import stationary_cov
from spucircuit.numerics.stats import cov_and_se
from spucircuit.report.files import write_circuit_json
from spucircuit.statespace.mna import compile_netlist
from tests.helpers import zscores

T = 300.0


def board_matrix(n, seed, lo=0.05, hi=0.3, margin=(0.2, 0.6)):
    """Random realisable matrix: non-positive off-diagonals, strictly diagonally dominant."""
    rng = np.random.default_rng(seed)
    W = np.triu(rng.uniform(lo, hi, (n, n)), 1)
    W = W + W.T
    return np.diag(W.sum(axis=1) + rng.uniform(*margin, n)) - W


def lyap_v(circ):
    ss = compile_netlist(circ.netlist, temperature_k=circ.temperature_k)
    return ss, stationary_cov(ss.drift.to_dense(), ss.diffusion)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ------------------------------------------------------------ compiled physics
def test_compiled_drift_and_diffusion_equal_hand_derived_rlc_equations():
    n = 8
    A = board_matrix(n, 0)
    rng = np.random.default_rng(1)
    Rv = R_DEFAULT * rng.uniform(0.7, 1.3, n)  # per-cell values, to catch index mix-ups
    Lv = 470e-6 * rng.uniform(0.7, 1.3, n)
    Sv = 1e-15 * rng.uniform(0.5, 2.0, n)
    circ = capacitive_spu(A, L=Lv, R=Rv, noise_psd=Sv, temperature_k=T)
    ss = compile_netlist(circ.netlist, temperature_k=T)
    assert ss.state_names == [f"v(CG{i})" for i in range(n)] + [f"i(L{i})" for i in range(n)]
    C = circ.capacitance_matrix
    Ci = np.linalg.inv(C)
    # C dv/dt = -R^-1 v - i + j ;  L di/dt = v ;  <j j^T> = diag(S/2 + 2 kT/R) per unit time
    F_hand = np.block([[-Ci / Rv[None, :], -Ci], [np.diag(1 / Lv), np.zeros((n, n))]])
    Q_hand = np.zeros((2 * n, 2 * n))
    Q_hand[:n, :n] = Ci @ np.diag(Sv / 2 + 2 * K_B * T / Rv) @ Ci
    F = ss.drift.to_dense()
    assert np.max(np.abs(F - F_hand)) <= 1e-10 * np.max(np.abs(F_hand))
    assert np.max(np.abs(ss.diffusion - Q_hand)) <= 1e-10 * np.max(np.abs(Q_hand))
    # Maxwell matrix from the netlist's own capacitors
    assert np.allclose(np.diag(C), circ.c_ground_f + circ.c_coupling_f.sum(axis=1), rtol=1e-14)
    assert np.max(np.diag(C)) == pytest.approx(C_DIAG_MAX_DEFAULT, rel=1e-14)
    assert np.allclose(C, circ.c_unit_f * A, rtol=0, atol=1e-14 * C.max())


def test_johnson_only_lyapunov_is_kT_over_C_to_1e_10():
    A = board_matrix(8, 2)
    circ = capacitive_spu(A, noise_psd=0.0, temperature_k=T)
    assert circ.gibbs and circ.theta == pytest.approx(K_B * T, rel=1e-15)
    ss, S = lyap_v(circ)
    n = 8
    Cv = K_B * T * np.linalg.inv(circ.capacitance_matrix)
    assert np.max(np.abs(S[:n, :n] - Cv)) <= 1e-10 * np.max(np.abs(Cv))
    Ci = K_B * T / circ.inductance_h
    assert np.max(np.abs(S[n:, n:] - np.diag(Ci))) <= 1e-10 * Ci.max()
    assert np.max(np.abs(S[:n, n:])) <= 1e-10 * np.sqrt(Cv.max() * Ci.max())  # cov(v, i) = 0
    # readout: cov(x) = A^-1 exactly
    est = circ.x_from_volts(circ.x_from_volts(S[:n, :n]).T).T
    assert rel(est, np.linalg.inv(A)) < 1e-10


def test_johnson_only_is_gibbs_even_with_unequal_resistors():
    """Thermal equilibrium: R_i S_i = 4 k_B T in every cell whatever R_i is."""
    A = board_matrix(6, 3)
    Rv = R_DEFAULT * np.array([0.5, 1.5, 0.7, 1.3, 1.0, 0.6])
    circ = capacitive_spu(A, R=Rv, noise_psd=0.0)
    assert circ.gibbs
    _, S = lyap_v(circ)
    assert rel(S[:6, :6], K_B * T * np.linalg.inv(circ.capacitance_matrix)) < 1e-10


@pytest.mark.parametrize("n,seed", [(4, 0), (4, 2), (8, 0)])
def test_unequal_damping_with_equal_injected_noise_breaks_gibbs_by_tens_of_percent(n, seed):
    A = board_matrix(n, seed)
    spread = np.linspace(-0.5, 0.5, n)[np.random.default_rng(100 + seed).permutation(n)]  # +-50 %
    equal = capacitive_spu(A)  # injected noise (default: 1e10 x Johnson level)
    mism = capacitive_spu(A, R=R_DEFAULT * (1 + spread), noise_psd=equal.noise_psd_a2_hz)
    assert equal.gibbs and not mism.gibbs
    Ainv = np.linalg.inv(A)
    _, S0 = lyap_v(equal)
    err_equal = rel(equal.x_from_volts(equal.x_from_volts(S0[:n, :n]).T).T, Ainv)
    _, S1 = lyap_v(mism)
    est = mism.x_from_volts(mism.x_from_volts(S1[:n, :n]).T).T
    err = rel(est, Ainv)
    best_scale = rel(est * np.sum(est * Ainv) / np.sum(est * est), Ainv)  # not a mere scale error
    assert err_equal < 1e-9
    assert 0.15 < err < 0.6, err  # measured: 0.35 / 0.38 (n=4), 0.21 (n=8)
    assert best_scale > 0.15


def test_simulated_covariance_of_8_cell_board_within_4_se():
    """Full (v, i) covariance of the twin against the Lyapunov solution (= Gibbs here), and a
    mismatched board against its own Lyapunov solution while clearly not Gibbs."""
    A = board_matrix(8, 4)
    for Rv, gibbs in ((R_DEFAULT, True), (R_DEFAULT * (1 + np.linspace(-0.5, 0.5, 8)), False)):
        circ = capacitive_spu(A, R=Rv, noise_psd=1e-15)
        ss, S = lyap_v(circ)
        tau = dynamics(circ)["tau_slow_s"]
        spu = sc.SPU(circ.netlist, scheme="exact", dt=0.5 * tau, chains=8, seed=11)
        spu.run(20 * tau, max_samples=1)
        res = spu.run(2000 * tau, max_samples=4000)
        cov, se = cov_and_se(res.states, mean=np.zeros(16))
        z = zscores(cov, S, se)
        assert np.max(np.abs(z)) < 4, np.max(np.abs(z))
        assert 0.4 < np.mean(z**2) < 2.5  # the standard errors are honest
        zg = zscores(cov[:8, :8], circ.gibbs_cov()[:8, :8], se[:8, :8])
        if gibbs:
            assert np.max(np.abs(zg)) < 4
        else:
            assert np.max(np.abs(zg)) > 10  # the twin resolves the resistor-mismatch error


# --------------------------------------------------------------- inverse / sample
def test_capacitive_inv_8x8_within_statistical_error():
    A = board_matrix(8, 5)
    Ainv, info = capacitive_inv(A, seed=3, chains=8, return_info=True)
    z = zscores(Ainv, np.linalg.inv(A), info["standard_error"])
    assert np.max(np.abs(z)) < 4, np.max(np.abs(z))
    assert 0.4 < np.mean(z**2) < 2.5
    assert rel(Ainv, np.linalg.inv(A)) < 0.05
    assert info["gibbs"] and info["components"]["coupling_capacitors"] == 28
    assert info["circuit"].v_unit_v == pytest.approx(V_UNIT_DEFAULT, rel=1e-12)


def test_capacitive_sample_covariance_matches_S():
    P = board_matrix(6, 6)
    S = np.linalg.inv(P)
    x, info = capacitive_sample(S, 4000, seed=5, return_info=True)
    assert x.shape == (4000, 6)
    z = zscores(info["covariance"], S, info["standard_error"])
    assert np.max(np.abs(z)) < 4
    assert 0.3 < np.mean(z**2) < 3
    # the samples themselves: mean ~ 0, covariance ~ S, consecutive samples nearly independent
    assert np.all(np.abs(x.mean(axis=0)) < 5 * np.sqrt(np.diag(S) / 4000) * 2)
    xs = x.reshape(-1, 8, 6)  # time-major: (per chain, chains, n)
    r1 = np.mean(xs[1:] * xs[:-1], axis=(0, 1)) / np.mean(xs**2, axis=(0, 1))
    assert np.all(np.abs(r1) < 0.15)
    # the realised S equals S up to round-off of the inverse
    assert rel(info["circuit"].realised_target, S) < 1e-10


# --------------------------------------------------------------- realisability
def test_non_realisable_matrix_is_rejected_naming_rows_and_entries():
    A = np.array([[2.0, 0.5, -0.3, 0.0],
                  [0.5, 1.0, -0.2, 0.0],
                  [-0.3, -0.2, 1.0, -0.9],
                  [0.0, 0.0, -0.9, 1.0]])
    with pytest.raises(RealizabilityError) as exc:
        capacitive_spu(A)
    msg = str(exc.value)
    assert "A[0,1]=0.5" in msg  # the positive entry
    assert "row 2 (A[2,2]=1 < sum_j |A[2,j]|=1.4)" in msg  # the non-dominant row
    assert "row 0" not in msg and "row 3" not in msg
    assert "1 positive off-diagonal entry would" in msg and "1 row is not" in msg
    assert "the cycle 1-0-2-1 has an odd number" in msg and "integrator_array" in msg  # frustrated
    with pytest.raises(RealizabilityError, match=r"no diagonal rescaling D A D .* cycle 1-0-2-1"):
        capacitive_spu(A, rescale=True)
    # sampling names the precision matrix
    with pytest.raises(RealizabilityError, match=r"S\^-1 cannot be realised .*S\^-1\[0,1\]="):
        capacitive_spu(np.linalg.inv(A), mode="sample")
    # the integrator array, offered as the alternative, does realise it
    assert sc.integrator_array(A).n == 4


def test_rescalable_matrix_suggests_and_realises_D_A_D():
    rng = np.random.default_rng(7)
    P0 = board_matrix(6, 7)
    E = rng.choice([-1.0, 1.0], 6) * rng.uniform(0.3, 3.0, 6)
    A = P0 * np.outer(E, E)  # signs scrambled, rows not dominant
    with pytest.raises(RealizabilityError, match=r"pass rescale=True"):
        capacitive_spu(A)
    circ = capacitive_spu(A, rescale=True, noise_psd=0.0)
    P = circ.programmed
    assert np.all(P[~np.eye(6, dtype=bool)] <= 0) and np.all(circ.c_ground_f > 0)
    assert rel(circ.realised_target, A) < 1e-12
    _, S = lyap_v(circ)  # the readout undoes the rescaling: cov(x) = A^-1 exactly
    assert rel(circ.x_from_volts(circ.x_from_volts(S[:6, :6]).T).T, np.linalg.inv(A)) < 1e-10
    Ainv, info = capacitive_inv(A, rescale=True, seed=4, return_info=True, time="1000tau")
    assert np.max(np.abs(zscores(Ainv, np.linalg.inv(A), info["standard_error"]))) < 4


def _brute_force_signature_exists(M, tol=1e-10):
    n = len(M)
    off = ~np.eye(n, dtype=bool)
    big = np.abs(M) > tol * np.abs(np.diag(M)).max()
    for signs in itertools.product([1.0, -1.0], repeat=n - 1):
        s = np.array((1.0,) + signs)
        if np.all((np.outer(s, s) * M)[off & big] < 0):
            return True
    return False


def test_diagonal_rescaling_exists_exactly_when_claimed():
    """Over random SPD matrices (dense random ones, and scrambled realisable ones): the
    rescaling is found iff a brute-force search over all sign patterns finds one, and every
    rescaling returned is realisable (non-positive off-diagonals, positive ground capacitance)."""
    found = refused = 0
    for seed in range(60):
        n = 3 + seed % 4
        rng = np.random.default_rng(seed)
        if seed % 2:
            M = sc.random_spd(n, 10.0, seed=seed)
        else:
            E = rng.choice([-1.0, 1.0], n) * rng.uniform(0.2, 5.0, n)
            M = board_matrix(n, seed) * np.outer(E, E)
        exists = _brute_force_signature_exists(M)
        assert capacitive_realisability(M)["rescalable"] == exists
        if exists:
            t = diagonal_rescaling(M)
            P = M * np.outer(t, t)
            off = P[~np.eye(n, dtype=bool)]
            assert np.all(off <= 1e-12 * np.abs(P).max())
            assert np.all(P.sum(axis=1) > 0)
            assert np.max(np.abs(t)) == pytest.approx(1.0)
            assert capacitive_realisability(P)["realisable"]
            found += 1
        else:
            with pytest.raises(RealizabilityError, match=r"odd number of positive"):
                diagonal_rescaling(M)
            refused += 1
    assert found >= 30 and refused >= 10  # both branches exercised


def test_round_off_zeros_are_dropped_and_recorded():
    P0 = board_matrix(5, 8)
    P0[0, 4] = P0[4, 0] = 0.0  # an exact zero coupling; inv(inv(P0)) has ~1e-17 round-off there
    circ = capacitive_spu(np.linalg.inv(P0), mode="sample")
    assert "CC0_4" not in [nm.upper() for nm in circ.netlist.tables["C"].names]
    assert circ.component_counts()["coupling_capacitors"] == 9
    assert circ.dropped_rel < 1e-10


def test_zero_row_sum_cell_has_no_ground_capacitor_but_still_works():
    """A row with exactly zero row sum gets no capacitor to ground: the coupling capacitors then
    carry that node's state (the compiler's capacitor tree), the readout still gives A^-1."""
    A = board_matrix(4, 9)
    A[2, 2] = -(A[2].sum() - A[2, 2])  # row 2: exact diagonal dominance, zero ground capacitance
    circ = capacitive_spu(A, noise_psd=0.0)
    assert circ.component_counts()["ground_capacitors"] == 3
    ss, S = lyap_v(circ)
    Y, _ = ss.node_voltage_map(circ.nodes)
    Sv = Y @ S @ Y.T
    assert rel(circ.x_from_volts(circ.x_from_volts(Sv).T).T, np.linalg.inv(A)) < 1e-10


def test_bad_parameters_are_rejected():
    A = board_matrix(3, 10)
    with pytest.raises(RealizabilityError, match=r"mode must be 'inverse' or 'sample', got 'foo'"):
        capacitive_spu(A, mode="foo")
    with pytest.raises(RealizabilityError, match=r"inductance L of cell 1 must be finite and > 0 H"):
        capacitive_spu(A, L=[1e-3, -1e-3, 1e-3])
    with pytest.raises(RealizabilityError, match=r"noise PSD of cell 0 must be finite and >= 0"):
        capacitive_spu(A, noise_psd=-1.0)
    with pytest.raises(RealizabilityError, match=r"c_unit must be finite and > 0 F"):
        capacitive_spu(A, c_unit=0.0)
    with pytest.raises(MatrixError, match=r"not positive definite"):
        capacitive_spu(-A)
    with pytest.raises(MatrixError, match=r"n_samples must be an integer >= 2"):
        capacitive_sample(np.linalg.inv(A), 1)


def test_to_dict_is_strict_json_with_readout_and_counts(tmp_path):
    A = board_matrix(8, 11)
    circ = capacitive_spu(A)
    assert "dynamics" not in circ.to_dict()  # computed (compiled) only when asked for
    dynamics(circ)
    d = circ.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["architecture"] == "capacitive_rlc_array" and d["mode"] == "inverse"
    counts = d["component_counts"]
    assert (counts["cells"], counts["coupling_capacitors"], counts["ground_capacitors"],
            counts["inductors"], counts["resistors"], counts["white_noise_current_sources"]) == (8, 28, 8, 8, 8, 8)
    assert len(d["capacitances"]["coupling_F"]) == 28
    dyn = d["dynamics"]
    assert 0.2 < dyn["damping_ratio_min"] <= dyn["damping_ratio_max"] <= 1.0 + 1e-9  # reasonably damped
    assert 1e4 < dyn["resonance_hz_max"] < 1e6
    assert d["scales"]["v_unit_V"] == pytest.approx(V_UNIT_DEFAULT)
    write_circuit_json(circ, tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["n"] == 8


# ------------------------------------------------------- compiler: capacitor loops
def test_general_capacitor_loop_compiles_to_the_nodal_capacitance_matrix():
    """A capacitor triangle floating above ground (only node a has a capacitor to ground, and it
    comes last in the netlist): states are tree capacitors, not node voltages, yet the node
    covariance is k_B T C_nodal^-1 and the node dynamics are C dv/dt = -G v - i_L."""
    nl = sc.Netlist("triangle")
    caps = {("a", "b"): 1e-9, ("b", "c"): 2e-9, ("c", "a"): 0.5e-9, ("c", "b"): 0.3e-9}  # + a parallel pair
    for k, ((p, q), c) in enumerate(caps.items()):
        nl.add_capacitor(f"C{k}", p, q, c)
    nl.add_capacitor("CGA", "a", "0", 1.5e-9)
    R = {"a": 1e3, "b": 2e3, "c": 500.0}
    Lh = {"a": 1e-3, "b": 2e-3, "c": 0.5e-3}
    for v in "abc":
        nl.add_resistor(f"R{v}", v, "0", R[v]).add_inductor(f"L{v}", v, "0", Lh[v])
    ss = compile_netlist(nl, temperature_k=T)
    assert ss.state_names == ["v(C0)", "v(C1)", "v(CGA)", "i(La)", "i(Lb)", "i(Lc)"]
    idx = {"a": 0, "b": 1, "c": 2}
    Cn = np.zeros((3, 3))
    for (p, q), c in caps.items():
        i, j = idx[p], idx[q]
        Cn[i, i] += c
        Cn[j, j] += c
        Cn[i, j] -= c
        Cn[j, i] -= c
    Cn[0, 0] += 1.5e-9
    Y, _ = ss.node_voltage_map(["a", "b", "c"])
    Tm = np.block([[Y[:, :3], np.zeros((3, 3))], [np.zeros((3, 3)), np.eye(3)]])  # states -> (v, i)
    Fn = Tm @ ss.drift.to_dense() @ np.linalg.inv(Tm)
    Ci = np.linalg.inv(Cn)
    Gd = np.diag([1 / R[v] for v in "abc"])
    F_hand = np.block([[-Ci @ Gd, -Ci], [np.diag([1 / Lh[v] for v in "abc"]), np.zeros((3, 3))]])
    assert np.max(np.abs(Fn - F_hand)) <= 1e-10 * np.max(np.abs(F_hand))
    S = stationary_cov(ss.drift.to_dense(), ss.diffusion)
    assert rel(Y[:, :3] @ S[:3, :3] @ Y[:, :3].T, K_B * T * Ci) < 1e-10


def test_capacitor_loop_initial_conditions():
    def loop(ic3):
        nl = sc.Netlist("loop ic")
        nl.add_capacitor("C1", "a", "0", 1e-9, ic_v=1.0)
        nl.add_capacitor("C2", "b", "0", 1e-9, ic_v=0.25)
        nl.add_capacitor("C3", "a", "b", 1e-9, ic_v=ic3)  # the link
        for v in "ab":
            nl.add_resistor(f"R{v}", v, "0", 1e3).add_inductor(f"L{v}", v, "0", 1e-3)
        return nl

    for ic3 in (0.75, 0.0):  # agrees with 1.0 - 0.25, or left 0 (= implied)
        ss = compile_netlist(loop(ic3))
        assert ss.state_names[:2] == ["v(C1)", "v(C2)"]
        assert list(ss.x0[:2]) == [1.0, 0.25]
    with pytest.raises(NetlistError, match=r"capacitor 'C3' closes a loop of capacitors: its initial "
                                           r"voltage 0.5 V disagrees with the 0.75 V"):
        compile_netlist(loop(0.5))


def test_loop_of_capacitors_and_voltage_source_is_one_state():
    # V1 fixes V_a - V_b: the supernode {a, b} obeys (C1 + C2) dV_a/dt = -V_a / R1 - (V_a - 1) / R2
    nl = sc.Netlist().add_vsource("V1", "a", "b", 1.0)
    nl.add_capacitor("C1", "a", "0", 1e-9).add_capacitor("C2", "b", "0", 1e-9)
    nl.add_resistor("R1", "a", "0", 1e3).add_resistor("R2", "b", "0", 1e3)
    ss = compile_netlist(nl, noise=False)
    assert ss.state_names == ["v(C1)"]
    rate = (1 / 1e3 + 1 / 1e3) / 2e-9
    assert abs(ss.drift.to_dense()[0, 0] + rate) <= 16 * np.finfo(float).eps * rate
    assert abs((ss.input_matrix @ ss.inputs)[0] - (1 / 1e3) / 2e-9) <= 16 * np.finfo(float).eps * rate
