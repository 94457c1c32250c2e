"""Issue 14, item 2: the curvature operating point. Per step, the GGN's top eigenvalue and trace
(checked against a dense eigendecomposition) and the forward-Euler stability limit; a PyTorch-
default initialisation beside He's."""
import numpy as np
import pytest

from tngd import Batch, SoftmaxCrossEntropy, mlp
from tngd.data import load_dataset
from tngd.train import build_model, build_optimizer, train

LOSS = SoftmaxCrossEntropy()


@pytest.mark.parametrize("b, hidden", [(2, (5,)), (40, (30,))])  # m > N (F itself) and m < N (the Gram matrix)
def test_top_eigenvalue_and_trace_against_a_dense_eigendecomposition(b, hidden):
    rng = np.random.default_rng(0)
    model = mlp((8,), 4, hidden=hidden)
    theta = model.init(1)
    B = Batch(model, LOSS, theta, rng.normal(size=(b, 8)), rng.integers(0, 4, b))
    top, trace = B.ggn_top_and_trace()
    ev = np.linalg.eigvalsh(B.ggn())
    assert top == pytest.approx(ev[-1], rel=1e-3) and trace == pytest.approx(ev.sum(), rel=1e-12)


def test_training_logs_the_operating_point_and_the_euler_limit():
    ds = load_dataset("digits", n_train=200, n_test=50)
    model = build_model("mlp", ds, hidden=(8,))
    h = train(ds, model, "ce", build_optimizer("tngd", lr=0.1, damping=0.5, t=5.0, solver="euler"), steps=4,
              batch_size=16)
    c = h["curvature"]
    assert len(c["ggn_top"]) == len(c["ggn_trace"]) == 4 and all(0 < t <= tr for t, tr in zip(c["ggn_top"],
                                                                                               c["ggn_trace"]))
    assert c["euler_dt_tau"] == 0.1 and c["euler_top_limit"] == pytest.approx(2 / 0.1 - 0.5)
    assert c["euler_unstable_steps"] == sum(t > c["euler_top_limit"] for t in c["ggn_top"])
    assert "curvature" not in train(ds, model, "ce", build_optimizer("sgd", lr=0.1), steps=2, batch_size=16)


def test_pytorch_init_is_uniform_within_one_over_sqrt_fan_in_and_starts_flatter():
    ds = load_dataset("digits", n_train=256)
    he, pt = (build_model("mlp", ds, hidden=(32,), init=i) for i in ("he", "pytorch"))
    th = pt.init(3)
    w1 = pt.unflatten(th)[0][0]  # the first dense layer (64 inputs)
    assert np.all(np.abs(th[: w1.size]) <= 1 / np.sqrt(64)) and np.std(w1) == pytest.approx(1 / np.sqrt(3 * 64), rel=0.05)
    tops = [Batch(m, LOSS, m.init(3), ds.x_train[:64], ds.y_train[:64]).ggn_top_and_trace()[0] for m in (he, pt)]
    assert tops[1] < tops[0] / 2


def test_the_exact_device_gives_the_operating_point_for_free(monkeypatch):
    """With the exact OU device the Gram spectrum it decomposes anyway is the log (no Lanczos), and
    it equals the dense figures."""
    import scipy.sparse.linalg

    ds = load_dataset("digits", n_train=300, n_test=50)
    model = build_model("mlp", ds, hidden=(40,))  # N = 3,010, m = 640: the Lanczos path otherwise
    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", lambda *a, **k: pytest.fail("Lanczos was called"))
    seen = []
    h = train(ds, model, "ce", build_optimizer("tngd", lr=0.1, damping=0.01, t=5.0), steps=2, batch_size=64,
              callback=lambda k, th, batch: seen.append(np.linalg.eigvalsh(batch.ggn())))
    for top, trace, ev in zip(h["curvature"]["ggn_top"], h["curvature"]["ggn_trace"], seen):
        assert top == pytest.approx(ev[-1], rel=1e-9) and trace == pytest.approx(ev.sum(), rel=1e-9)


@pytest.mark.parametrize("kind, b", [("mlp", 3), ("mlp", 40), ("cnn", 12)])
def test_the_structured_factor_is_the_per_example_reverse_mode(kind, b):
    """The factor kept in the layers' structure (dense layers as cotangent x input outer products)
    against the per-example reverse mode of Sequential.backward: its dense form, its products
    U v and U^T w, and its Gram matrix U U^T, to rounding for every entry."""
    ds = load_dataset("digits", n_train=64)
    model = build_model(kind, ds, hidden=(7,))
    B = Batch(model, LOSS, model.init(5), ds.x_train[:b], ds.y_train[:b])
    R = B.hessian_sqrt_blocks()
    ref = model.backward(B.theta, B.caches, R.transpose(2, 0, 1) / np.sqrt(b), per_example=True).reshape(B.m, -1)
    op = B.factor_operator()
    rng = np.random.default_rng(1)
    v, w = rng.normal(size=(B.n_params, 2)), rng.normal(size=(B.m, 2))
    tol = 1e-12 * np.abs(ref).max()
    assert op.shape == ref.shape and np.array_equal(B.factor(), op.toarray())
    assert np.allclose(op.toarray(), ref, rtol=0, atol=tol)
    assert np.allclose(op @ v[:, 0], ref @ v[:, 0], rtol=0, atol=tol * 1e3)
    assert np.allclose(op @ v, ref @ v, rtol=0, atol=tol * 1e3)
    assert np.allclose(op.T @ w, ref.T @ w, rtol=0, atol=tol * 1e3)
    G = B.gram()
    assert np.allclose(G, ref @ ref.T, rtol=0, atol=1e-12 * np.abs(ref @ ref.T).max())
    assert not np.allclose(G, np.diag(np.diag(G)))  # off-diagonal (cross-example) terms are present


def test_the_exact_device_gives_the_same_step_with_the_structured_gram():
    """ExactOUSolver.prepare on the structured factor with its Gram and on the dense factor give the
    same natural gradient (mean and noise)."""
    from tngd.devices import ExactOUSolver

    ds = load_dataset("digits", n_train=64)
    model = build_model("cnn", ds)
    B = Batch(model, LOSS, model.init(2), ds.x_train[:16], ds.y_train[:16])
    ex = ExactOUSolver()
    for kappa0 in (0.0, 1e-3):
        a = ex.propagate(ex.prepare(B.factor_operator(), 0.01, B.grad, gram=B.gram()), B.grad, 5.0, kappa0,
                         np.random.default_rng(0))
        r = ex.propagate(ex.prepare(B.factor(), 0.01, B.grad), B.grad, 5.0, kappa0, np.random.default_rng(0))
        assert np.linalg.norm(a - r) <= 1e-10 * np.linalg.norm(r)
    with pytest.raises(Exception, match="Gram matrix"):
        ex.prepare(B.factor(), 0.01, B.grad, gram=np.eye(3))
