"""Issue 14, item 1: the start of each analog run is an explicit setting, x0 = 'warm' (Algorithm 1),
'reset' (the current gradient every step) or 'paper' (reset when td = 0, warm when td > 0), and
each mode does what the paper's statements about it need."""
import json

import numpy as np
import pytest

from tngd import Batch, SoftmaxCrossEntropy, apply_updates, mlp, ngd, sgd, tngd
from tngd.cli import main as tngd_cli
from tngd.optim.thermodynamic import DeviceNaturalGradient

LOSS = SoftmaxCrossEntropy()
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _setup(seed=0, b=6, d=6, k=4, hidden=(5,)):
    rng = np.random.default_rng(seed)
    model = mlp((d,), k, hidden=hidden, activation="tanh")
    return model, model.init(seed), [(rng.normal(size=(b, d)), rng.integers(0, k, b)) for _ in range(5)]


def _trajectory(opt, model, theta, batches):
    s, out = opt.init(theta), []
    for x, y in batches:
        B = Batch(model, LOSS, theta, x, y)
        u, s = opt.update(B.grad, s, theta, curvature=B if opt.needs_curvature else None)
        theta = apply_updates(theta, u)
        out.append(theta)
    return out


def test_reset_with_t_to_zero_is_sgd_at_every_step():
    model, theta, batches = _setup(1)
    ref = _trajectory(sgd(0.1), model, theta, batches)
    for a, b in zip(_trajectory(tngd(0.1, 0.01, t=0.0, x0="reset"), model, theta, batches), ref):
        assert np.array_equal(a, b)
    for t in (1e-4, 1e-6):  # and continuously: the difference shrinks with t
        got = _trajectory(tngd(0.1, 0.01, t=t, x0="reset"), model, theta, batches)[-1]
        assert 0 < np.linalg.norm(got - ref[-1]) < 1e3 * t * np.linalg.norm(ref[-1] - theta)


def test_reset_with_t_to_infinity_is_ngd_at_every_step():
    model, theta, batches = _setup(2)
    ref = _trajectory(ngd(0.1, 0.05), model, theta, batches)
    for t in (np.inf, 1e6):
        got = _trajectory(tngd(0.1, 0.05, t=t, x0="reset"), model, theta, batches)
        for a, b in zip(got, ref):
            assert np.linalg.norm(a - b) <= 1e-9 * np.linalg.norm(b)


def test_warm_start_noise_tends_to_kappa0_over_lambda_where_lambda_dominates():
    """With zero gradients the warm-started device is an OU process whose variance grows to
    kappa0 / lambda in the directions the GGN does not reach (rank m = 2 x 4 of N = 59 here):
    measured over 57 null directions x 200 seeds, within 4 standard errors of a variance."""
    model, theta, batches = _setup(3, b=2)
    B = Batch(model, LOSS, theta, *batches[0])
    U = B.factor()
    _, _, Vt = np.linalg.svd(U)
    null = Vt[np.linalg.matrix_rank(U):]  # orthonormal basis of the GGN's null space
    lam, kappa0, t, steps = 0.5, 0.02, 2.0, 6  # 1 - exp(-2 lam t steps) = 1 - 6e-6
    vals = []
    for seed in range(200):
        dev = DeviceNaturalGradient(lam, t, 0.0, kappa0, x0="warm", seed=seed)
        s = dev.init(theta)
        for _ in range(steps):
            _, s = dev.update(np.zeros_like(theta), s, curvature=B)
        vals.append(null @ s.g_tilde)
    v = np.concatenate(vals)
    target = kappa0 / lam * (1 - np.exp(-2 * lam * t * steps))
    assert abs(np.mean(v * v) - target) < 4 * target * np.sqrt(2.0 / v.size)


def test_paper_mode_resets_exactly_when_td_is_zero():
    model, theta, batches = _setup(4)
    for td, same_as in ((0.0, "reset"), (0.5, "warm")):
        kw = dict(lr=0.1, damping=0.02, t=2.0, td=td, kappa0=1e-3, seed=7)
        paper = _trajectory(tngd(x0="paper", **kw), model, theta, batches)
        other = _trajectory(tngd(x0=same_as, **kw), model, theta, batches)
        differ = _trajectory(tngd(x0="warm" if same_as == "reset" else "reset", **kw), model, theta, batches)
        assert all(np.array_equal(a, b) for a, b in zip(paper, other))
        assert not np.array_equal(paper[-1], differ[-1])


def test_the_former_names_are_aliases_and_every_run_records_its_mode(tmp_path):
    assert tngd(x0="previous").device.x0 == "warm" and tngd(x0="gradient").device.x0 == "reset"
    for given, recorded in (("paper", "paper"), ("gradient", "reset")):
        out = tmp_path / f"{given}.json"
        assert tngd_cli(["train", "--dataset", "digits", "--hidden", "3", "--steps", "2", "--x0", given,
                         "--init", "pytorch", "--no-progress", "--out", str(out)]) == 0
        d = json.loads(out.read_text())
        assert d["settings"]["x0"] == recorded and d["settings"]["init"] == "pytorch"
        assert d["model"]["init"] == "pytorch"
