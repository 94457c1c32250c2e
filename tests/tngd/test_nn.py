"""Hand-written derivatives of tngd's models against central finite differences (float64).

Every check is a relative error in the Frobenius / 2-norm below 1e-5 (central differences with
h = 1e-5 are accurate to ~1e-9 here, so a wrong term anywhere fails by orders of magnitude).
"""
import numpy as np
import pytest
import scipy.linalg as sla

from tngd import Batch, MeanSquaredError, SoftmaxCrossEntropy, cnn, mlp
from tngd.errors import ConfigError

RTOL = 1e-5
H = 1e-5

MODELS = {
    "mlp-tanh": lambda: mlp((7,), 4, hidden=(6, 5), activation="tanh"),
    "mlp-relu": lambda: mlp((7,), 4, hidden=(6,), activation="relu"),
    "cnn-tanh-stride2": lambda: cnn((1, 7, 6), 3, channels=2, kernel=3, stride=2, hidden=5, activation="tanh"),
    "cnn-relu-2ch": lambda: cnn((2, 6, 6), 3, channels=3, kernel=2, stride=1, hidden=4, activation="relu"),
}
LOSSES = {"ce": SoftmaxCrossEntropy, "mse": MeanSquaredError}


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


def problem(kind, seed=0, b=5):
    rng = np.random.default_rng(seed)
    model = MODELS[kind]()
    theta = model.init(seed) + 0.1 * rng.normal(size=model.n_params)
    theta += 0.05  # non-zero biases
    x = rng.normal(size=(b,) + model.input_shape)
    y = rng.integers(0, model.output_dim, b)
    return model, theta, x, y, rng


def fd_jacobian(model, theta, x):
    cols = []
    for j in range(model.n_params):
        e = np.zeros(model.n_params)
        e[j] = H
        cols.append((model.forward(theta + e, x) - model.forward(theta - e, x)).ravel() / (2 * H))
    return np.stack(cols, axis=1)  # rows (example, output)


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("lname", list(LOSSES))
def test_gradient_jacobian_ggn_against_finite_differences(kind, lname):
    model, theta, x, y, rng = problem(kind)
    loss = LOSSES[lname]()
    batch = Batch(model, loss, theta, x, y)
    N, b, dz = model.n_params, len(y), model.output_dim

    def f(t):
        return np.mean(loss.value(model.forward(t, x), y))

    eye = np.eye(N) * H
    g_fd = np.array([(f(theta + e) - f(theta - e)) / (2 * H) for e in eye])
    assert rel(batch.grad, g_fd) < RTOL

    J_fd = fd_jacobian(model, theta, x)
    J = batch.jacobian()
    assert J.shape == (b * dz, N)
    assert rel(J, J_fd) < RTOL

    v = rng.normal(size=N)
    assert rel(model.jvp(theta, batch.caches, v).ravel(), J_fd @ v) < RTOL  # forward mode

    Hfull = sla.block_diag(*batch.hessian_blocks())
    F_fd = J_fd.T @ Hfull @ J_fd / b
    assert rel(batch.ggn_matvec(v), F_fd @ v) < RTOL  # JVP + H + VJP, J never formed
    assert rel(batch.ggn(), F_fd) < RTOL  # dense, from the factor
    U = batch.factor()
    assert U.shape == (b * dz, N)
    assert rel(U.T @ U, F_fd) < RTOL


@pytest.mark.parametrize("lname", list(LOSSES))
def test_loss_hessian_blocks_roots_and_products(lname):
    rng = np.random.default_rng(3)
    loss = LOSSES[lname]()
    b, dz = 4, 5
    z = rng.normal(size=(b, dz)) * 2
    y = rng.integers(0, dz, b)
    Hb = loss.hessian(z, y)
    # Hessian blocks vs finite differences of the per-example gradient in z
    for i in range(b):
        fd = np.empty((dz, dz))
        for j in range(dz):
            e = np.zeros(dz)
            e[j] = H
            zp, zm = z.copy(), z.copy()
            zp[i] += e
            zm[i] -= e
            fd[:, j] = (loss.grad(zp, y)[i] - loss.grad(zm, y)[i]) / (2 * H)
        assert rel(Hb[i], fd) < RTOL
        g_fd = np.array([(loss.value(z + np.eye(dz)[j] * H * (np.arange(b) == i)[:, None], y)[i]
                          - loss.value(z - np.eye(dz)[j] * H * (np.arange(b) == i)[:, None], y)[i]) / (2 * H)
                         for j in range(dz)])
        assert rel(loss.grad(z, y)[i], g_fd) < RTOL
    R = loss.hessian_sqrt(z, y)
    assert np.allclose(R @ R.transpose(0, 2, 1), Hb, atol=1e-14, rtol=0)
    u = rng.normal(size=(b, dz))
    assert np.allclose(loss.hvp(z, y, u), np.einsum("bij,bj->bi", Hb, u), atol=1e-14, rtol=0)


def test_softmax_hessian_root_is_the_papers_formula():
    z = np.array([[0.3, -1.0, 2.0]])
    p = np.exp(z) / np.exp(z).sum()
    s = np.sqrt(p)
    R = SoftmaxCrossEntropy().hessian_sqrt(z)[0]
    assert np.allclose(R, np.diag(s[0]) - np.outer(p[0], s[0]), atol=1e-15)
    assert np.allclose(SoftmaxCrossEntropy().hessian(z)[0], np.diag(p[0]) - np.outer(p[0], p[0]), atol=1e-15)


def test_per_example_jacobian_is_one_batched_pass_and_matches_rowwise_vjps():
    """J from the one-hot stack equals b * dz separate VJPs (the slow way)."""
    model, theta, x, y, rng = problem("cnn-relu-2ch", seed=5, b=3)
    z, caches = model.forward(theta, x, return_cache=True)
    J = model.jacobian(theta, caches, len(x))
    for i in range(len(x)):
        for o in range(model.output_dim):
            ct = np.zeros_like(z)
            ct[i, o] = 1.0
            assert np.allclose(J[i * model.output_dim + o], model.vjp(theta, caches, ct), atol=1e-14)


def test_flat_inputs_feed_the_cnn_and_bad_shapes_are_rejected():
    model = cnn((1, 6, 6), 3, channels=2, hidden=4)
    th = model.init(0)
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    assert np.allclose(model.forward(th, x), model.forward(th, x.reshape(2, 36)))
    with pytest.raises(ConfigError, match="expects examples"):
        model.forward(th, np.zeros((2, 35)))
    with pytest.raises(ConfigError, match="parameters"):
        model.forward(th[:-1], x)
    with pytest.raises(ConfigError, match="image"):
        cnn((36,), 3)


def test_minibatch_curvature_is_the_renamed_batch():
    """tngd.Batch is kept as an alias of MiniBatchCurvature (same class, both exported)."""
    import tngd
    from tngd.nn import Dense, Sequential
    from tngd.nn.curvature import Batch as Alias
    from tngd.nn.curvature import MiniBatchCurvature

    assert tngd.Batch is tngd.MiniBatchCurvature is MiniBatchCurvature is Alias is Batch
    assert {"Batch", "MiniBatchCurvature"} <= set(tngd.__all__)
    model = Sequential([Dense(3, 2)], (3,), name="tiny")
    theta = model.init(0)
    c = MiniBatchCurvature(model, SoftmaxCrossEntropy(), theta, np.ones((4, 3)), np.array([0, 1, 0, 1]))
    assert c.m == 8 and c.n_params == model.n_params == 8 and c.factor().shape == (8, 8)
