"""Device imperfections of the factored TNGD circuit twin (FactoredTwinSolver bits, rounding,
tolerance, dac_bits, adc_bits, mitigation, calibration): the nominal path is untouched, quantised
components lie on the grid with the rounding's error law, read-out errors follow the theory in
the bits and in K, calibration removes what it claims to remove, converters report clipping, and
training runs reproducibly."""
import json

import numpy as np
import pytest

from spucircuit._util.keys import counter_uniforms, stream_key
from spucircuit.circuit.factored_array import factored_circuit
from spucircuit.circuit.factored_components import components_from_netlist
from spucircuit.device.factored_spu import FactoredSPU
from spucircuit.errors import ClippingWarning
from spucircuit.numerics.quantize import conductance_grid, quantize_array, quantize_h_blocks, quantize_values
from spucircuit.statespace.chain import ChainDrift
from tngd.devices import FactoredTwinSolver, make_solver
from tngd.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_blas_thread")

R_MIN, R_MAX = 1e3, 1e9


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b)


def ut_problem(N=40, m=6, lam=0.3, seed=1):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(m, N))
    g = rng.normal(size=N)
    x = np.linalg.solve(U.T @ U + lam * np.eye(N), g)
    return U, lam, g, x


def stationary(solver, U, lam, g, t=3000.0):
    """Noise-free read-out after t tau (lambda t >> 1: the stationary value), and the system."""
    sys_ = solver.prepare(U, lam, g)
    return solver.propagate(sys_, np.zeros(len(g)), t, 0.0, np.random.default_rng(0)), sys_


def softmax_hessians(b, dz, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(dz), size=b)
    return np.einsum("bi,ij->bij", p, np.eye(dz)) - np.einsum("bi,bj->bij", p, p)


# --------------------------------------------------------------------------- nominal path
def test_options_off_are_the_nominal_twin_bit_for_bit():
    """Every new option at its 'off' value takes the nominal path; its read-outs are those of the
    hand-built circuit + FactoredSPU with the same run seed (300 K Johnson noise on)."""
    U, lam, g, _ = ut_problem(N=12, m=4)
    off = dict(bits=None, rounding="stochastic", tolerance=0.0, dac_bits=None, adc_bits=None, mitigation=1,
               calibration=False, seed=7)
    a, b = FactoredTwinSolver(), FactoredTwinSolver(**off)
    assert not a.imperfect and not b.imperfect
    x0 = np.linspace(-1, 1, 12)
    xa = a.propagate(a.prepare(U, lam, g), x0, 4.0, 0.0, np.random.default_rng(3))
    xb = b.propagate(b.prepare(U, lam, g), x0, 4.0, 0.0, np.random.default_rng(3))
    fc = factored_circuit(U, None, lam, g, r_max=1e9, headroom=4.0, netlist=False)
    spu = FactoredSPU(fc, temperature_k=300.0)
    spu.reset(x0)
    spu.run(4.0 * fc.tau_s, max_samples=1, seed=int(np.random.default_rng(3).integers(2**63)))
    assert np.array_equal(xa, xb) and np.array_equal(xa, spu.read()[0])
    assert make_solver("factored", bits=8, mitigation=4).imperfect


# --------------------------------------------------------------------------- quantisation
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_quantize_array_is_nonideal_quantize_values(rounding):
    """The compiled J-array pass is nonideal.quantize_values (conductance grid and conductance-
    unbiased rule) on 1/|G| with the counter-based uniforms, up to round-off; zeros stay open."""
    rng = np.random.default_rng(0)
    G = rng.standard_normal((30, 200)) * 2e-4
    G[0, :7] = 0.0
    G[1, 0] = 2e-3  # above 1/r_min: clipped to the top level
    q, clipped = quantize_array(G, 7, R_MIN, R_MAX, rounding, 11)
    u = counter_uniforms(stream_key(11), G.size).reshape(G.shape)
    nz = G != 0
    R, c2 = quantize_values(1 / np.abs(G[nz]), 7, R_MIN, R_MAX, "conductance", rounding, "conductance", u[nz])
    ref = np.zeros_like(G)
    ref[nz] = np.copysign(1 / R, G[nz])
    assert clipped == c2 == 1
    assert np.array_equal(q == 0, G == 0) and np.max(np.abs(q - ref)) <= 1e-15 * 1e-3


def test_components_on_the_grid_nearest_within_half_step():
    """bits = 6, nearest: every J-array conductance is a grid level, within dG / 2 of its target,
    same sign, open entries open; the J^T array shares the codes (one buffer); the unit H blocks
    are grid levels too."""
    U, lam, g, _ = ut_problem()
    U[0, :3] = 0.0
    s = FactoredTwinSolver(noise=False, bits=6, rounding="nearest")
    sys_ = s.prepare(U, lam, g)
    nom, dev = sys_.nominal.components, sys_.members[0].components
    gmin, dG, L = conductance_grid(6, R_MIN, R_MAX)
    G, Gq = nom.G1, dev.G1
    k = (np.abs(Gq[G != 0]) - gmin) / dG
    assert np.array_equal(Gq == 0, G == 0) and np.all(np.sign(Gq) == np.sign(G))
    assert np.max(np.abs(k - np.round(k))) < 1e-9 and k.min() >= -1e-9 and k.max() <= L - 1 + 1e-9
    assert np.max(np.abs(Gq - G)) <= 0.5 * dG * (1 + 1e-9)
    assert dev.G3 is None and dev.g3_ratio == 1.0
    kh = (dev.G2.ravel() - gmin) / dG
    assert np.max(np.abs(kh - np.round(kh))) < 1e-9 and np.max(np.abs(dev.G2 - nom.G2)) <= 0.5 * dG * (1 + 1e-9)


def test_stochastic_rounding_is_unbiased_with_the_binomial_variance():
    """bits = 4, stochastic, 400 independent programmings of one array: per entry the error is
    either -f dG or (1 - f) dG with P(up) = f (f = fractional grid position), so its mean is 0 and
    its variance f (1 - f) dG^2. Pooled z of the mean error < 5; mean of the squared per-entry
    z-scores = 1 within 5 SE; |error| < dG always."""
    rng = np.random.default_rng(2)
    G = rng.standard_normal((8, 50)) * 1.5e-4
    gmin, dG, _ = conductance_grid(4, R_MIN, R_MAX)
    f = ((np.abs(G) - gmin) / dG) % 1.0
    var = f * (1 - f) * dG**2
    R = 400
    E = np.stack([np.abs(quantize_array(G, 4, R_MIN, R_MAX, "stochastic", 100 + r)[0]) - np.abs(G)
                  for r in range(R)])
    assert np.max(np.abs(E)) < dG
    z_pool = E.mean(0).sum() / np.sqrt(var.sum() / R)
    z = E.mean(0) / np.sqrt(var / R)
    assert abs(z_pool) < 5
    assert abs(np.mean(z**2) - 1) < 5 * np.sqrt(2 / z.size)
    # the member devices of an ensemble get independent roundings
    U, lam, g, _ = ut_problem()
    s = FactoredTwinSolver(noise=False, bits=6, mitigation=3)
    mem = s.prepare(U, lam, g).members
    assert not np.array_equal(mem[0].components.G1, mem[1].components.G1)


def test_h_blocks_stay_psd_and_unbiased():
    """Softmax cross-entropy blocks diag(p) - p p^T (Laplacian form): every quantised block is
    symmetric PSD with zero row sums (edges rounded once, diagonal = parallel edge resistors);
    off-diagonals are grid levels; the mean over 300 programmings is the target within 5 SE."""
    b, dz, bits = 6, 4, 5
    g2 = 1e-3 / 4 / 0.25
    G2 = softmax_hessians(b, dz, 3) * g2
    gmin, dG, _ = conductance_grid(bits, R_MIN, R_MAX)
    qs = []
    for r in range(300):
        q, info = quantize_h_blocks(G2, bits, R_MIN, R_MAX, "stochastic", r)
        assert info["laplacian_blocks"] == b
        qs.append(q)
    Q = np.array(qs)
    assert np.max(np.abs(Q - np.swapaxes(Q, 2, 3))) == 0.0
    assert np.min(np.linalg.eigvalsh(Q)) >= -1e-12 * g2
    assert np.max(np.abs(Q.sum(axis=3))) <= 1e-12 * g2
    off = ~np.eye(dz, dtype=bool)
    k = (-Q[:, :, off] - gmin) / dG
    assert np.max(np.abs(k - np.round(k))) < 1e-9
    # exact variances: an edge w is one of its two bracketing levels (binomial), a diagonal the sum
    # of its row's independent edges
    W = np.where(off, -G2, 0.0)
    f = np.where(W > 0, ((W - gmin) / dG) % 1.0, 0.0)
    var = f * (1 - f) * dG**2
    var = np.where(off, var, 0.0) + np.einsum("bkl,kj->bkj", var, np.eye(dz))
    err = Q.mean(0) - G2
    sure = var < 1e-12 * dG**2  # on a level: no rounding
    assert np.max(np.abs(err[sure]), initial=0.0) < 1e-9 * dG
    assert np.max(np.abs(err[~sure]) / np.sqrt(var[~sure] / len(Q))) < 5


def test_the_simulation_runs_from_the_quantised_values():
    """(J, H) upload with softmax Hessian blocks, 5 bits: the chain built from the member's
    components is exactly A' = J'^T H' J' / b + lambda I with J' = G1' / g1, H' = G2' / g2 (the
    realised values, H' PSD), the noise-free stationary read-out is A'^-1 g, and the quantised
    circuit survives a netlist export / re-read unchanged."""
    rng = np.random.default_rng(6)
    b, dz, N, lam = 3, 3, 10, 0.2
    J = rng.normal(size=(b * dz, N))
    H = softmax_hessians(b, dz, 7)
    g = rng.normal(size=N)
    s = FactoredTwinSolver(noise=False, bits=5)
    sys_ = s.prepare((J, H), lam, g)
    dev, sc_ = sys_.members[0].components, sys_.circuit.scales
    Jq, Hq = dev.G1 / sc_.g1_siemens, dev.G2 / sc_.g2_siemens
    Aq = Jq.T @ np.einsum("bij,bjn->bin", Hq, Jq.reshape(b, dz, N)).reshape(b * dz, N) / b + lam * np.eye(N)
    F = ChainDrift(dev, 0.0, noise=False).to_dense()
    assert rel(-sys_.circuit.tau_s * F, Aq) < 1e-12 and rel(Aq, dense_a(J, H, lam)) > 1e-3
    assert np.min(np.linalg.eigvalsh(Hq)) > -1e-12
    x = s.propagate(sys_, np.zeros(N), 1000.0, 0.0, np.random.default_rng(0))
    assert rel(x, np.linalg.solve(Aq, g)) < 1e-9
    back = components_from_netlist(dev.to_netlist())
    assert rel(ChainDrift(back, 0.0, noise=False).to_dense(), F) < 1e-12


def dense_a(J, H, lam):
    b, dz = H.shape[:2]
    HJ = np.einsum("bij,bjn->bin", H, J.reshape(b, dz, -1)).reshape(J.shape)
    return J.T @ HJ / b + lam * np.eye(J.shape[1])


# --------------------------------------------------------------------------- read-out error
def _errors(bits, K, seeds, **kw):
    U, lam, g, x = ut_problem()
    out = []
    for s in seeds:
        xq, _ = stationary(FactoredTwinSolver(noise=False, bits=bits, mitigation=K, seed=s, **kw), U, lam, g)
        out.append(xq - x)
    return np.array(out), x


def test_stationary_error_scales_with_the_resistor_step():
    """One stochastically rounded device, noise-free stationary read-out: the error is first order
    in the grid step dG, so the RMS error at 6 bits over that at 10 bits is dG_6 / dG_10 = 1023 / 63
    = 16.2, within 5 standard errors of log(MSE_6 / MSE_10) (delta method over 24 devices each)
    plus the second-order share (the relative error at 6 bits)."""
    seeds = range(24)
    e6, x = _errors(6, 1, seeds)
    e10, _ = _errors(10, 1, seeds)
    s6, s10 = (e6**2).sum(1), (e10**2).sum(1)
    ratio = np.sqrt(s6.mean() / s10.mean())
    se_log = 0.5 * np.sqrt(s6.var(ddof=1) / (len(s6) * s6.mean()**2) + s10.var(ddof=1) / (len(s10) * s10.mean()**2))
    second = np.sqrt(s6.mean()) / np.linalg.norm(x)
    assert abs(np.log(ratio / (1023 / 63))) < 5 * se_log + second, (ratio, se_log, second)


def test_mitigation_averages_the_first_order_error():
    """K = 16 independent devices (6-bit stochastic rounding): the error of the natural gradient
    against (F + lambda I)^-1 g is a K-mean of independent zero-mean first-order errors plus an
    O(eps^2) bias beta, so MSE_16 = |beta|^2 + (MSE_1 - |beta|^2) / 16. Checked against both
    bounds within 5 SE (|beta|^2 bounded by the squared mean error of the ensembles), and the
    margin: K = 16 is at least 2.5x more accurate than one device."""
    seeds = range(20)
    e1, x = _errors(6, 1, seeds)
    e16, _ = _errors(6, 16, [1000 + s for s in seeds])
    s1, s16 = (e1**2).sum(1), (e16**2).sum(1)
    m1, m16 = s1.mean(), s16.mean()
    se1, se16 = s1.std(ddof=1) / np.sqrt(len(s1)), s16.std(ddof=1) / np.sqrt(len(s16))
    beta2 = np.sum(e16.mean(0)**2)  # >= |beta|^2 in expectation (includes the mean's variance)
    assert m16 >= m1 / 16 - 5 * np.hypot(se16, se1 / 16)
    assert m16 <= beta2 + m1 / 16 + 5 * np.hypot(se16, se1 / 16)
    assert np.sqrt(m1 / m16) > 2.5, np.sqrt(m1 / m16)


# --------------------------------------------------------------------------- tolerance, calibration
def test_tolerance_is_fixed_per_device_and_calibration_removes_the_input_gain_error():
    """2 % mismatch: the same resistor keeps its error when reprogrammed (other J, other g).
    Calibration measures rho = (G_in / G_lambda) / nominal exactly (noise-free); the calibrated
    stationary error then lies in span(Lambda'^-1 U', G3) (U' the device's J^T stage, 2m
    dimensions): zero outside it, while the
    uncalibrated device has an error ~ sqrt(2) sigma |x| there; the total error drops."""
    N, m, lam, sigma = 300, 4, 0.3, 0.02
    U, _, g, x = ut_problem(N=N, m=m, lam=lam, seed=4)
    raw = FactoredTwinSolver(noise=False, tolerance=sigma, seed=3)
    cal = FactoredTwinSolver(noise=False, tolerance=sigma, seed=3, calibration=True)
    xr, sr = stationary(raw, U, lam, g, t=200.0)
    xc, sc_ = stationary(cal, U, lam, g, t=200.0)
    dev = sc_.members[0].components
    # fixed per device: a second upload keeps every resistor's factor
    with np.errstate(divide="ignore", invalid="ignore"):  # (the nominal values live until the next prepare)
        f1 = dev.G1 / sc_.nominal.components.G1
        nz1 = sc_.nominal.components.G1 != 0
    U2, _, g2, _ = ut_problem(N=N, m=m, lam=lam, seed=5)
    s2 = cal.prepare(U2, lam, g2)
    both = (s2.nominal.components.G1 != 0) & nz1
    with np.errstate(divide="ignore", invalid="ignore"):
        f2 = s2.members[0].components.G1 / s2.nominal.components.G1
    assert both.mean() > 0.99 and np.allclose(f2[both], f1[both], rtol=1e-12, atol=0)
    assert np.std(f1[nz1]) > 0.5 * sigma
    nomc = sr.nominal.components
    rho = (dev.g_in / nomc.g_in) / (dev.g_lambda / nomc.g_lambda)
    settle_left = np.max(np.abs(rho - 1)) * np.exp(-30.0) / 50.0  # the probe's settling transient
    assert np.max(np.abs(cal.calibration_gains[0] - rho)) < settle_left + 1e-12 and cal.calibration_time_s > 0
    ch = ChainDrift(dev, 0.0, noise=False)  # U' = diag(1/C) G3eff (buffer gains included)
    S = np.column_stack([ch.apply_U(np.eye(m)).T / ch.diag[:, None], nomc.G3_array()])
    Q, _ = np.linalg.qr(S)
    perp = lambda v: v - Q @ (Q.T @ v)  # noqa: E731
    assert np.linalg.norm(perp(xc - x)) < 1e-8 * np.linalg.norm(x)
    assert np.linalg.norm(perp(xr - x)) > 0.7 * sigma * np.linalg.norm(perp(x))
    assert rel(xc, x) < 0.5 * rel(xr, x), (rel(xc, x), rel(xr, x))


# --------------------------------------------------------------------------- converters, options
def test_converters_quantise_and_clipping_warns():
    U, lam, g, x = ut_problem()
    s = FactoredTwinSolver(noise=False, adc_bits=8, dac_bits=10)
    xa, _ = stationary(s, U, lam, g)
    V = xa * s.scales.v_unit_v
    fs = 2.0 ** np.ceil(np.log2(np.max(np.abs(V))))  # binary range above the peak
    k = V / (fs / 127)
    assert np.max(np.abs(k - np.round(k))) < 1e-6 and s.adc_clipped == s.dac_clipped == 0
    assert 1e-5 < rel(xa, x) < 0.05
    # a converter range below the peak clips, counted and warned: the ADC on the read-out (no DAC, so
    # the outputs keep their size), the DAC on the inputs
    cap = 0.25 * np.max(np.abs(V))
    tight = FactoredTwinSolver(noise=False, adc_bits=8, converter_max_v=cap)
    with pytest.warns(ClippingWarning, match="ADC clipped"):
        xt, _ = stationary(tight, U, lam, g)
    assert tight.adc_clipped > 0 and np.max(np.abs(xt * tight.scales.v_unit_v)) <= cap * (1 + 1e-12)
    tight = FactoredTwinSolver(noise=False, dac_bits=8, converter_max_v=0.25 * np.max(np.abs(s.last_circuit.components.v_in)))
    with pytest.warns(ClippingWarning, match="DAC clipped"):
        stationary(tight, U, lam, g)
    assert tight.dac_clipped > 0


@pytest.mark.parametrize("kw, msg", [
    ({"bits": 0}, "bits"), ({"bits": 2.5}, "bits"), ({"bits": True}, "bits"), ({"bits": 60}, "at most 48"),
    ({"rounding": "up"}, "rounding"), ({"dac_bits": 1}, "dac_bits"), ({"adc_bits": "8"}, "adc_bits"),
    ({"mitigation": 0}, "mitigation"), ({"mitigation": 2.0}, "mitigation"), ({"calibration": "yes"}, "calibration"),
    ({"tolerance": -0.1}, "tolerance"), ({"converter_max_v": 0.0}, "converter_max_v"), ({"seed": -1}, "seed"),
    ({"seed": 1, "tolerance_seed": 2}, "disagree"),
])
def test_bad_options_raise_config_error(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        FactoredTwinSolver(**kw)


# --------------------------------------------------------------------------- training
def _train(solver, steps=3, seed=13):
    from tngd import Batch, SoftmaxCrossEntropy, mlp, tngd

    rng = np.random.default_rng(seed)
    model = mlp((4,), 3, hidden=(5,), activation="tanh")
    theta = model.init(seed)
    opt = tngd(0.1, 0.1, t=10.0, td=2.0, solver=solver)
    st = opt.init(theta)
    out = []
    for _ in range(steps):
        x, y = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
        B = Batch(model, SoftmaxCrossEntropy(), theta, x, y)
        upd, st = opt.update(B.grad, st, theta, curvature=B)
        theta = theta + upd
        out.append(st.g_tilde.copy())
    return np.array(out)


def test_tngd_with_bits_and_mitigation_is_reproducible():
    """TNGD (t = 10 tau, delay td = 2) on 8-bit devices, K = 2, 300 K noise: the same seeds give
    the same bits, another device seed other bits; close to the nominal twin's natural gradient."""
    a = _train(make_solver("factored", bits=8, mitigation=2))
    b = _train(make_solver("factored", bits=8, mitigation=2))
    c = _train(make_solver("factored", bits=8, mitigation=2, seed=1))
    ref = _train(make_solver("factored"))
    assert np.all(np.isfinite(a)) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert rel(a, ref) < 0.1


def test_cli_device_options(tmp_path, capsys):
    from tngd.cli import main

    rng = np.random.default_rng(0)
    p = tmp_path / "tiny.npz"
    np.savez(p, x_train=rng.random((40, 4)), y_train=rng.integers(0, 3, 40))
    out = tmp_path / "r.json"
    base = ["train", "--dataset", str(p), "--hidden", "3", "--steps", "2", "--batch-size", "8", "--t", "5",
            "--damping", "0.1", "--no-progress", "--out", str(out)]
    assert main(base + ["--solver", "factored", "--bits", "8", "--mitigation", "2", "--rounding", "nearest",
                        "--tolerance", "0.01", "--dac-bits", "12", "--adc-bits", "12", "--calibrate"]) == 0
    r = json.loads(out.read_text())
    assert r["settings"]["solver_options"] == {"bits": 8, "rounding": "nearest", "tolerance": 0.01, "dac_bits": 12,
                                               "adc_bits": 12, "mitigation": 2, "calibration": True}
    assert all(np.isfinite(r["loss"]))
    out.unlink()
    capsys.readouterr()
    assert main(base + ["--bits", "8", "--mitigation", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tngd: error: --bits, --mitigation") and "--solver factored" in err and not out.exists()
    assert main(base + ["--solver", "factored", "--mitigation", "0"]) == 2
    assert "mitigation" in capsys.readouterr().err
