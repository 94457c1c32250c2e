"""Optimizers: hand-checked first-order updates, the NGD family against a dense solve, and TNGD's
device dynamics against OU theory (t -> 0: SGD; t -> inf: NGD; noise: its exact law)."""
import numpy as np
import pytest
import scipy.linalg as sla

from tngd import (
    Batch,
    ConfigError,
    EulerOUSolver,
    ExactOUSolver,
    SoftmaxCrossEntropy,
    TwinSolver,
    adam,
    apply_updates,
    mlp,
    ngd,
    ngd_cg,
    ngd_woodbury,
    sgd,
    tngd,
    tngd_adam,
    woodbury_solve,
)
from tngd.optim import NGDCGState, TNGDState

LOSS = SoftmaxCrossEntropy()


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def setup(seed=0, b=6, hidden=(5,), d=6, k=4):
    rng = np.random.default_rng(seed)
    model = mlp((d,), k, hidden=hidden, activation="tanh")
    theta = model.init(seed)
    batches = [(rng.normal(size=(b, d)), rng.integers(0, k, b)) for _ in range(6)]
    return model, theta, batches


def dense_A(batch, lam):
    return batch.ggn() + lam * np.eye(batch.n_params)


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# ------------------------------------------------------------------------------ first order
def test_sgd_momentum_and_adam_by_hand():
    g1, g2 = np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0])
    p = np.zeros(3)
    opt = sgd(0.1, momentum=0.9)
    s = opt.init(p)
    u1, s = opt.update(g1, s, p)
    u2, s2 = opt.update(g2, s, p)
    assert np.allclose(u1, -0.1 * g1) and np.allclose(u2, -0.1 * (0.9 * g1 + g2))
    assert np.allclose(s.momentum, g1)  # the old state is not modified in place
    a = adam(0.01, 0.9, 0.999, 1e-8)
    s = a.init(p)
    u1, s = a.update(g1, s, p)
    assert np.allclose(u1, -0.01 * g1 / (np.abs(g1) + 1e-8))  # bias-corrected first step
    u2, s = a.update(g2, s, p)
    m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.9**2)
    v = (0.999 * 0.001 * g1**2 + 0.001 * g2**2) / (1 - 0.999**2)
    assert np.allclose(u2, -0.01 * m / (np.sqrt(v) + 1e-8))
    assert int(s.count) == 2
    assert np.allclose(apply_updates(p, u2), u2)


# ------------------------------------------------------------------------- NGD family
@pytest.mark.parametrize("b", [6, 20])  # m = 24 < N = 59 (low-rank path) and m = 80 > N
def test_ngd_cg_woodbury_and_stationary_tngd_agree_with_a_dense_solve(b):
    model, theta, batches = setup(b=b)
    x, y = batches[0]
    B = Batch(model, LOSS, theta, x, y)
    lam = 0.05
    ref = np.linalg.solve(dense_A(B, lam), B.grad)
    m = B.m
    for opt in (ngd(0.1, lam), ngd_woodbury(0.1, lam), ngd_cg(0.1, lam, iters=m + 1), tngd(0.1, lam, t=np.inf)):
        u, _ = opt.update(B.grad, opt.init(theta), theta, curvature=B)
        assert rel(u, -0.1 * ref) < 1e-9, type(opt).__name__


def test_woodbury_identity_uses_lambda_inverse_v_not_identity():
    rng = np.random.default_rng(1)
    N, m, lam = 9, 4, 0.3
    U = rng.normal(size=(N, m))
    V = rng.normal(size=(m, N))  # any V (not only H J / b) with lam I + U V invertible
    assert np.linalg.cond(lam * np.eye(N) + U @ V) < 1e6
    v = rng.normal(size=N)
    x = woodbury_solve(U, V, lam, v)
    assert rel(x, np.linalg.solve(lam * np.eye(N) + U @ V, v)) < 1e-10


def test_ngd_cg_runs_exactly_the_given_iterations():
    model, theta, batches = setup(seed=2)
    B = Batch(model, LOSS, theta, *batches[0])
    lam = 0.1
    A = dense_A(B, lam)
    g = B.grad
    u1, _ = ngd_cg(1.0, lam, iters=1).update(g, ngd_cg(1.0, lam).init(theta), theta, curvature=B)
    assert np.allclose(-u1, (g @ g) / (g @ A @ g) * g, rtol=1e-12)  # one CG step = steepest descent
    # a few iterations: between the first step and the solution, and warm start continues the iteration
    opt = ngd_cg(1.0, lam, iters=3, warm_start=True)
    s = opt.init(theta)
    ref = np.linalg.solve(A, g)
    u3, s = opt.update(g, s, theta, curvature=B)
    e3 = rel(-u3, ref)
    assert 1e-8 < e3 < rel(-u1, ref)
    u6, s = opt.update(g, s, theta, curvature=B)
    assert isinstance(s, NGDCGState) and rel(-u6, ref) < e3


def test_second_order_optimizers_need_curvature():
    for opt in (ngd(), ngd_cg(), ngd_woodbury(), tngd()):
        with pytest.raises(ConfigError, match="curvature"):
            opt.update(np.ones(3), opt.init(np.zeros(3)), np.zeros(3))
    with pytest.raises(ConfigError, match="td"):
        tngd(t=1.0, td=2.0)
    with pytest.raises(ConfigError):
        tngd(t=-1.0)
    with pytest.raises(ConfigError):
        ngd(damping=0.0)


# ------------------------------------------------------------------------------------ TNGD
def run_tngd(opt, model, theta, batches, steps):
    s = opt.init(theta)
    thetas, gts = [theta], []
    for k in range(steps):
        B = Batch(model, LOSS, theta, *batches[k])
        u, s = opt.update(B.grad, s, theta, curvature=B)
        theta = apply_updates(theta, u)
        thetas.append(theta)
        gts.append(s.g_tilde)
    return thetas, gts, s


def run_sgd(lr, model, theta, batches, steps):
    opt = sgd(lr)
    s = opt.init(theta)
    out = [theta]
    for k in range(steps):
        B = Batch(model, LOSS, theta, *batches[k])
        u, s = opt.update(B.grad, s, theta)
        theta = apply_updates(theta, u)
        out.append(theta)
    return out


def test_t_zero_first_step_is_sgd_and_small_t_deviates_linearly():
    """Algorithm 1 starts the device at g~_0 = grad (this batch). At t = 0 the first update is SGD's,
    bit for bit (noise on or off: its variance is 2 kappa0 t = 0). For small t, noise off, the
    deviation is lr * t * ||(I - A) grad|| + O(t^2), i.e. TNGD -> SGD linearly in t."""
    model, theta, batches = setup(seed=3)
    B = Batch(model, LOSS, theta, *batches[0])
    g = B.grad
    u_sgd, _ = sgd(0.1).update(g, sgd(0.1).init(theta), theta)
    for kappa0 in (0.0, 0.1):
        opt = tngd(0.1, 0.01, t=0.0, kappa0=kappa0)
        u, s = opt.update(g, opt.init(theta), theta, curvature=B)
        assert np.array_equal(u, u_sgd)
    slope = 0.1 * np.linalg.norm(g - dense_A(B, 0.01) @ g)
    for t in (1e-3, 1e-4):
        opt = tngd(0.1, 0.01, t=t)
        u, _ = opt.update(g, opt.init(theta), theta, curvature=B)
        assert abs(np.linalg.norm(u - u_sgd) / (slope * t) - 1.0) < 50 * t


def test_t_zero_is_sgd_at_every_step_only_without_warm_start():
    """Beyond the first step, t = 0 with the warm start of Algorithm 1 freezes the device at g~_0
    (theta_k = theta_0 - k lr g~_0): *not* SGD. With x0='gradient' (reset to the current
    gradient) t = 0 reproduces SGD's whole trajectory exactly."""
    model, theta, batches = setup(seed=4)
    ref = run_sgd(0.1, model, theta, batches, 4)
    th_reset, _, _ = run_tngd(tngd(0.1, 0.01, t=0.0, x0="gradient"), model, theta, batches, 4)
    for a, b in zip(th_reset, ref):
        assert np.array_equal(a, b)
    th_warm, gts, _ = run_tngd(tngd(0.1, 0.01, t=0.0), model, theta, batches, 4)
    g0 = Batch(model, LOSS, theta, *batches[0]).grad
    for k, th in enumerate(th_warm):
        assert np.allclose(th, theta - 0.1 * k * g0, atol=1e-15)
    assert not np.allclose(th_warm[3], ref[3])


def test_warm_start_follows_algorithm_1():
    """g~_k = OU_k(x0 = g~_{k-1}, t): recomputed step by step from the same batches."""
    model, theta, batches = setup(seed=5)
    lam, t, lr = 0.02, 3.0, 0.1
    thetas, gts, _ = run_tngd(tngd(lr, lam, t=t), model, theta, batches, 3)
    ex = ExactOUSolver()
    x = None
    for k in range(3):
        B = Batch(model, LOSS, thetas[k], *batches[k])
        A = dense_A(B, lam)
        x0 = B.grad if k == 0 else x
        E = sla.expm(-A * t)
        x = E @ x0 + np.linalg.solve(A, (np.eye(len(x0)) - E) @ B.grad)  # dense reference
        assert rel(gts[k], x) < 1e-10
        assert np.allclose(thetas[k + 1], thetas[k] - lr * gts[k], atol=1e-14)
    assert ex.name == "exact"


@pytest.mark.parametrize("td", [1.0, 4.0])
def test_delay_td_runs_the_previous_system_first(td):
    """Per step: td under the previous system (F_{k-1}, grad_{k-1}), then t - td under the new one;
    at k = 0 the device holds g~_0 = grad_0 during the delay. td = t is the pipelined case."""
    model, theta, batches = setup(seed=6)
    lam, t = 0.05, 4.0
    thetas, gts, state = run_tngd(tngd(0.1, lam, t=t, td=td), model, theta, batches, 3)
    ex = ExactOUSolver()
    Bs = [Batch(model, LOSS, thetas[k], *batches[k]) for k in range(3)]
    systems = [ex.prepare(B.factor(), lam, B.grad) for B in Bs]
    x = ex.propagate(systems[0], Bs[0].grad, t - td, 0.0, None)
    assert rel(gts[0], x) < 1e-12
    for k in (1, 2):
        x = ex.propagate(systems[k], ex.propagate(systems[k - 1], x, td, 0.0, None), t - td, 0.0, None)
        assert rel(gts[k], x) < 1e-10
    assert isinstance(state, TNGDState) and state.previous.factor.shape == Bs[2].factor().shape
    # without delay the read-out differs (the delay matters)
    _, gts0, _ = run_tngd(tngd(0.1, lam, t=t), model, theta, batches, 3)
    assert rel(gts0[2], gts[2]) > 1e-3


def test_large_t_is_ngd_exactly_without_noise():
    """lambda t = 50: every mode of A has relaxed to within e^-50; TNGD's updates are NGD's at the
    same parameters (step by step along TNGD's own trajectory, warm start included)."""
    model, theta, batches = setup(seed=7)
    lam = 0.01
    thetas, gts, _ = run_tngd(tngd(0.1, lam, t=50.0 / lam), model, theta, batches, 4)
    for k in range(4):
        B = Batch(model, LOSS, thetas[k], *batches[k])
        u_ngd, _ = ngd(0.1, lam).update(B.grad, ngd(0.1, lam).init(thetas[k]), thetas[k], curvature=B)
        assert rel(thetas[k + 1] - thetas[k], u_ngd) < 1e-9


def test_large_t_with_noise_matches_ngd_within_the_stationary_error():
    """At lambda t >> 1 the read-out is g~ ~ N(g_NGD, kappa0 A^-1) exactly, so the update's error is
    lr * N(0, kappa0 A^-1): E||u - u_NGD||^2 = lr^2 kappa0 tr(A^-1). Whitened residuals
    A^1/2 (g~ - g_NGD) / sqrt(kappa0) must be iid N(0, 1): mean and mean square tested at 5 SE."""
    model, theta, batches = setup(seed=8, b=8)
    lam, kappa0 = 0.5, 1e-4
    rng = np.random.default_rng(0)
    opt = tngd(0.1, lam, t=200.0, kappa0=kappa0, seed=11)
    s = opt.init(theta)
    r_all, sq_err, sq_pred = [], [], []
    for k in range(40):
        x, y = rng.normal(size=(8, 6)), rng.integers(0, 4, 8)
        B = Batch(model, LOSS, theta, x, y)
        A = dense_A(B, lam)
        g_ngd = np.linalg.solve(A, B.grad)
        u, s = opt.update(B.grad, s, theta, curvature=B)
        w, V = np.linalg.eigh(A)
        r_all.append((V * np.sqrt(w)) @ V.T @ (s.g_tilde - g_ngd) / np.sqrt(kappa0))
        sq_err.append(np.sum((u + 0.1 * g_ngd) ** 2))
        sq_pred.append(0.01 * kappa0 * np.sum(1 / w))
        theta = apply_updates(theta, u)
    r = np.concatenate(r_all)
    n = r.size
    assert abs(r.mean()) < 5 / np.sqrt(n)
    assert abs(np.mean(r**2) - 1) < 5 * np.sqrt(2 / n)
    assert 0.5 < np.sum(sq_err) / np.sum(sq_pred) < 2.0
    # and the noise really is there (it is not a noiseless run)
    assert np.mean(r**2) > 0.5


@pytest.mark.parametrize("m, N", [(3, 7), (9, 5)])
def test_exact_solver_noise_has_the_ou_transient_covariance(m, N):
    """x(t) | x0 ~ N(mean, kappa0 A^-1 (I - e^{-2At})): low-rank path (m < N) and m > N; 4000 samples."""
    rng = np.random.default_rng(9)
    lam, t, kappa0 = 0.2, 1.5, 0.3
    U = rng.normal(size=(m, N))
    g, x0 = rng.normal(size=N), rng.normal(size=N)
    ex = ExactOUSolver()
    sys_ = ex.prepare(U, lam, g)
    A = U.T @ U + lam * np.eye(N)
    E = sla.expm(-A * t)
    mean = E @ x0 + np.linalg.solve(A, (np.eye(N) - E) @ g)
    assert rel(ex.mean(sys_, x0, t), mean) < 1e-12
    C = kappa0 * np.linalg.solve(A, np.eye(N) - E @ E)
    X = np.stack([ex.propagate(sys_, x0, t, kappa0, rng) for _ in range(4000)])
    L = np.linalg.cholesky(C)
    Z = np.linalg.solve(L, (X - mean).T).T  # should be iid N(0, I)
    n = len(Z)
    assert np.all(np.abs(Z.mean(0)) < 5 / np.sqrt(n))
    S = Z.T @ Z / n
    assert np.all(np.abs(np.diag(S) - 1) < 5 * np.sqrt(2 / n))
    assert np.all(np.abs(S - np.diag(np.diag(S))) < 5 / np.sqrt(n))


def test_euler_solver_is_first_order_and_rejects_unstable_steps():
    rng = np.random.default_rng(10)
    N, m, lam, t = 6, 2, 0.3, 2.0
    U = rng.normal(size=(m, N))
    g, x0 = rng.normal(size=N), rng.normal(size=N)
    exact = ExactOUSolver().mean(ExactOUSolver().prepare(U, lam, g), x0, t)
    errs = []
    for dt in (0.02, 0.01):
        e = EulerOUSolver(dt)
        errs.append(np.linalg.norm(e.propagate(e.prepare(U, lam, g), x0, t, 0.0, rng) - exact))
    assert 1.8 < errs[0] / errs[1] < 2.2
    smax = np.linalg.norm(U, 2) ** 2
    e = EulerOUSolver(2.5 / (lam + smax))
    with pytest.raises(ConfigError, match="unstable"):
        e.propagate(e.prepare(U, lam, g), x0, 10.0, 0.0, rng)


def test_tngd_adam_is_adam_with_zero_betas_on_the_natural_gradient():
    model, theta, batches = setup(seed=12)
    B = Batch(model, LOSS, theta, *batches[0])
    opt = tngd_adam(1e-3, 0.05, t=5.0)
    u, s = opt.update(B.grad, opt.init(theta), theta, curvature=B)
    gt = s.g_tilde
    assert np.allclose(u, -1e-3 * gt / (np.abs(gt) + 1e-8), rtol=1e-12)
    ref = tngd(0.1, 0.05, t=5.0)
    _, s2 = ref.update(B.grad, ref.init(theta), theta, curvature=B)
    assert np.array_equal(s2.g_tilde, gt)


def test_twin_solver_matches_the_exact_solver_without_noise():
    """spucircuit's circuit twin (dense mapped A, exact scheme, noise off, nothing pruned) follows
    the ideal OU mean: three warm-started TNGD steps agree to 1e-8."""
    pytest.importorskip("spucircuit")
    model, theta, batches = setup(seed=13, hidden=(3,), d=4, k=3)  # N = 27
    lam, t = 0.1, 7.0
    twin = TwinSolver(noise=False, r_max=1e12)
    th_twin, g_twin, _ = run_tngd(tngd(0.1, lam, t=t, td=2.0, solver=twin), model, theta, batches, 3)
    th_ex, g_ex, _ = run_tngd(tngd(0.1, lam, t=t, td=2.0), model, theta, batches, 3)
    for a, b in zip(g_twin, g_ex):
        assert rel(a, b) < 1e-8
    assert twin.last_mapping.prune["pruned_entries"] == 0
    assert twin.analog_time_s > 0


def test_twin_solver_kappa0_noise_is_the_requested_level():
    """kappa0 is realised as an injected current; the read-out after lambda t = 40 is N(A^-1 g,
    kappa0 A^-1) up to the resistors' (much smaller) Johnson noise: whitened mean square within 5 SE."""
    pytest.importorskip("spucircuit")
    rng = np.random.default_rng(14)
    N, m, lam, kappa0 = 5, 2, 0.5, 0.02
    U = rng.normal(size=(m, N)) * 0.5
    g = rng.normal(size=N)
    twin = TwinSolver(r_max=1e12)
    sys_ = twin.prepare(U, lam, g)
    A = U.T @ U + lam * np.eye(N)
    xs = np.linalg.solve(A, g)
    w, V = np.linalg.eigh(A)
    Ah = (V * np.sqrt(w)) @ V.T
    R = np.stack([Ah @ (twin.propagate(sys_, xs, 80.0, kappa0, rng) - xs) / np.sqrt(kappa0) for _ in range(60)])
    n = R.size
    assert abs(np.mean(R**2) - 1) < 5 * np.sqrt(2 / n)


def test_shared_conjugate_gradient():
    """spucircuit.cg: n iterations solve an SPD n x n system; a zero-curvature direction stops it
    (with stop_on_nonpositive) instead of dividing by zero; tngd re-exports the same function."""
    import tngd
    from spucircuit.numerics.cg import conjugate_gradient

    assert tngd.conjugate_gradient is conjugate_gradient
    rng = np.random.default_rng(0)
    M = rng.standard_normal((6, 6))
    A = M @ M.T + 6 * np.eye(6)
    b = rng.standard_normal(6)
    x = conjugate_gradient(lambda v: A @ v, b, None, 6)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10)
    np.testing.assert_allclose(conjugate_gradient(lambda v: A @ v, b, np.ones(6), 6), x, rtol=1e-10)
    S = np.diag([1.0, 0.0])  # singular: the second CG direction has zero curvature
    y = conjugate_gradient(lambda v: S @ v, np.array([1.0, 1.0]), None, 5, stop_on_nonpositive=True)
    assert np.all(np.isfinite(y))


# ------------------------------------------------------------------------------ composition
def test_chain_feeds_each_part_the_previous_updates():
    from tngd.optim import chain, device_time

    g, p = np.array([1.0, -2.0, 0.5]), np.zeros(3)
    two = chain(sgd(0.5), adam(0.1))  # adam sees SGD's update -0.5 g
    s = two.init(p)
    u, s2 = two.update(g, s, p)
    ref, _ = adam(0.1).update(-0.5 * g, adam(0.1).init(p), p)
    assert np.array_equal(u, ref) and isinstance(s2, tuple) and len(s2) == 2 and int(s2[1].count) == 1
    assert not two.needs_curvature and device_time(two, None) is None
    assert chain(sgd(0.1), ngd()).needs_curvature


def test_tngd_is_the_device_step_chained_with_an_inner_optimizer():
    """tngd / tngd_adam = chain(device_natural_gradient, sgd / adam(0, 0)), bit for bit, and the
    device-time hook reports the step's sizes and analog time."""
    from tngd.optim import TNGD, DeviceTime, chain, device_natural_gradient, device_time

    model, theta, batches = setup(seed=15)
    for opt, inner in ((tngd(0.1, 0.05, t=3.0, td=1.0, kappa0=1e-3, seed=2), sgd(0.1)),
                       (tngd_adam(1e-3, 0.05, t=3.0, td=1.0, kappa0=1e-3, seed=2), adam(1e-3, 0.0, 0.0, 1e-8))):
        ref = chain(device_natural_gradient(0.05, t=3.0, td=1.0, kappa0=1e-3, seed=2), inner)
        s, sr = opt.init(theta), ref.init(theta)
        th, thr = theta, theta
        for k in range(3):
            B, Br = Batch(model, LOSS, th, *batches[k]), Batch(model, LOSS, thr, *batches[k])
            u, s = opt.update(B.grad, s, th, curvature=B)
            ur, sr = ref.update(Br.grad, sr, thr, curvature=Br)
            th, thr = apply_updates(th, u), apply_updates(thr, ur)
            assert np.array_equal(th, thr) and np.array_equal(s.g_tilde, sr[0].g_tilde)
        assert isinstance(opt, TNGD) and opt.needs_curvature and opt.t == 3.0 and opt.td == 1.0
    dt = device_time(opt, B)
    assert dt == DeviceTime(model.n_params, 6, 4, 3.0) and dt == device_time(ref, B)
    assert device_time(sgd(0.1), B) is None and device_time(ngd(), B) is None
