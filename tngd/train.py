"""Training loop shared by the CLI and scripts: model/optimizer factories, mini-batch loop, evaluation.

Per step it records the mini-batch training loss (before the update), the batch accuracy, the
measured wall time, and a runtime estimate:

* digital optimizers: the measured wall time;
* optimizers with a device step (TNGD, TNGD-Adam: the device-time hook of :mod:`tngd.optim.base`):
  the measured digital time (forward, gradient, GGN factor R^T J, parameter update; the
  simulation of the device excluded) plus the device's time from a hardware runtime model, by
  default :func:`spucircuit.studies.cost.tngd_runtime_s` (upload of the factor and gradient,
  t tau, read-out, with the cost model's default hardware: tau = 1 us, 16-bit words, 50 Gb/s).
"""
from __future__ import annotations

import time

import numpy as np

from spucircuit.studies.cost import tngd_runtime_s
from tngd.devices import make_solver
from tngd.errors import ConfigError
from tngd.nn.curvature import MiniBatchCurvature
from tngd.nn.losses import accuracy, make_loss
from tngd.nn.sequential import cnn, mlp
from tngd.optim import DEFAULT_LR, OPTIMIZERS, device_time


def build_model(kind: str, dataset, *, hidden=None, channels: int = 4, kernel: int = 3, stride=None,
                activation: str = "relu", init: str = "he"):
    """A model for a data set by name.

    Args:
        kind: ``'mlp'`` or ``'cnn'``.
        dataset: a :class:`~tngd.data.Dataset` (its example shape and number of classes).
        hidden: mlp: hidden widths (default (32,)); cnn: the dense width (default 32).
        channels, kernel, stride: cnn convolution (stride default 1 for images <= 16 px, else 2).
        activation: ``'relu'`` or ``'tanh'``.
        init: ``'he'`` (default) or ``'pytorch'`` (PyTorch's default uniform init: the paper's
            curvature scale, see :meth:`~tngd.nn.sequential.Sequential.init`).

    Returns:
        The :class:`~tngd.nn.sequential.Sequential`.

    Raises:
        ConfigError: an unknown kind, or a cnn on non-image data.
    """
    shape = tuple(dataset.x_train.shape[1:])
    k = dataset.n_classes
    if hidden is not None:
        widths = list(np.ravel(hidden))
        try:
            bad = not widths or any(isinstance(w, (bool, np.bool_)) or not float(w).is_integer() or w < 1
                                    for w in widths)
        except (TypeError, ValueError):
            bad = True
        if bad:
            raise ConfigError(f"hidden widths must be integers >= 1, got {hidden!r}")
        if kind == "cnn" and len(widths) != 1:
            raise ConfigError(f"--model cnn takes one hidden width (its dense layer), got {hidden!r}")
    if kind == "mlp":
        hidden = (32,) if hidden is None else tuple(int(w) for w in np.ravel(hidden))
        return mlp((int(np.prod(shape)),), k, hidden=hidden, activation=activation, init=init)
    if kind == "cnn":
        if len(shape) not in (2, 3):
            raise ConfigError(f"--model cnn needs image inputs (n, C, H, W) or (n, H, W); "
                              f"this data set has examples of shape {shape}")
        if stride is None:
            stride = 1 if max(shape[-2:]) <= 16 else 2
        h = 32 if hidden is None else int(hidden[0] if np.ndim(hidden) else hidden)
        return cnn(shape, k, channels=channels, kernel=kernel, stride=stride, hidden=h, activation=activation,
                   init=init)
    raise ConfigError(f"unknown model {kind!r}: use 'mlp' or 'cnn'")


def build_optimizer(name: str, *, lr=None, damping: float = 0.01, t: float = 50.0, td: float = 0.0,
                    kappa0: float = 0.0, cg_iters: int = 10, momentum: float = 0.0, solver: str = "exact",
                    euler_dt: float = 0.1, x0: str = "warm", seed: int = 0, solver_options=None):
    """One optimizer by name.

    Args:
        name: a key of :data:`~tngd.optim.OPTIMIZERS`.
        lr: learning rate (default :data:`~tngd.optim.DEFAULT_LR`).
        damping, cg_iters, momentum: NGD family / NGD-CG / SGD settings.
        t, td, kappa0, x0, seed: TNGD's device step.
        solver, euler_dt, solver_options: TNGD's device (:func:`~tngd.devices.make_solver`;
            ``solver_options`` go to its constructor).

    Returns:
        The optimizer.

    Raises:
        ConfigError: an unknown name or a bad setting.
    """
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return OPTIMIZERS[name](lr, momentum)
    if name == "adam":
        return OPTIMIZERS[name](lr)
    if name == "ngd-cg":
        return OPTIMIZERS[name](lr, damping, cg_iters)
    if name in ("ngd", "ngd-woodbury"):
        return OPTIMIZERS[name](lr, damping)
    kw = {"dt": euler_dt} if solver == "euler" else {}
    kw.update(solver_options or {})
    return OPTIMIZERS[name](lr, damping, t, td, kappa0, make_solver(solver, **kw), x0, seed)


def evaluate(model, loss, theta, x, y, chunk: int = 2048):
    """(mean loss, accuracy) over a whole set, in chunks of ``chunk`` examples (forward passes only).

    Args:
        model, loss: the network and its loss.
        theta: parameters (N,).
        x, y: examples and labels.
        chunk: examples per forward pass.

    Returns:
        ``(mean loss, accuracy)``.
    """
    tot, zs = 0.0, []
    for i in range(0, len(y), chunk):
        z = model.forward(theta, x[i:i + chunk])
        tot += float(loss.value(z, y[i:i + chunk]).sum())
        zs.append(z)
    z = np.concatenate(zs)
    return tot / len(y), accuracy(z, y)


def _finite(v):
    return float(v) if v is not None and np.isfinite(v) else None


def curvature_log(curv: dict, optimizer) -> dict:
    """The per-step GGN top eigenvalue and trace (per tau) with what they mean for the device: the
    forward-Euler device at step dt (tau units) is stable only while dt (top + lambda) < 2, i.e. top
    < 2 / dt - lambda (20 - lambda at the paper's dt = 0.1 tau)."""
    out = dict(curv)
    lam = getattr(optimizer, "damping", None)
    solver = getattr(getattr(optimizer, "device", optimizer), "solver", None)
    dt = getattr(solver, "dt", None) if solver is not None else None
    dt = 0.1 if dt is None else float(dt)  # the paper's Euler step, for comparison when the device is exact
    if lam is not None:
        limit = 2.0 / dt - float(lam)
        out.update(damping=float(lam), euler_dt_tau=dt, euler_top_limit=limit,
                   euler_unstable_steps=int(sum(t is not None and t > limit for t in curv["ggn_top"])))
    return out


ESTIMATE_AFTER = 4  # train(on_estimate=): the whole run is projected from this many steps


def train(dataset, model, loss, optimizer, *, steps: int = 100, batch_size: int = 64, seed: int = 0,
          eval_every: int = 0, n_eval: int = 2000, progress: bool = False, runtime_model=tngd_runtime_s,
          callback=None, desc: str | None = None, on_estimate=None, log_curvature: bool = True) -> dict:
    """Train for ``steps`` mini-batches (reshuffled every epoch, seeded) and return the history.

    Args:
        dataset: a :class:`~tngd.data.Dataset`.
        model: a :class:`~tngd.nn.sequential.Sequential`.
        loss: a loss object or its name.
        optimizer: any optimizer (:mod:`tngd.optim`); its curvature and device-time hook are used
            when it has them.
        steps, batch_size, seed: the loop.
        eval_every, n_eval: evaluate every ``eval_every`` steps (0: never) on ``n_eval`` examples.
        progress: show a progress bar.
        runtime_model: ``runtime_model(N, b, dz, *, t_tau, digital_s) -> seconds`` of one step with
            a device part (default: the spucircuit cost model,
            :func:`~spucircuit.studies.cost.tngd_runtime_s`; e.g. ``functools.partial`` of it with
            other ``hw``, or :func:`~spucircuit.studies.cost.paper_timing_model`).
        callback: ``callback(k, theta, curvature)`` after every step.
        desc: progress-bar label.
        log_curvature: for optimizers that use the curvature, log the GGN's top eigenvalue and
            trace per step (``curvature`` in the history, with the Euler stability limit).
        on_estimate: ``on_estimate(seconds)`` once, after the first ESTIMATE_AFTER steps: the wall
            time the whole run is projected to take from them (the commands print it).

    Returns:
        The history: per step ``loss``, ``batch_accuracy``, ``wall_time_s``, ``runtime_estimate_s``
        (cumulative), ``eval`` rows, ``diverged``, ``steps_done``, final train / test loss and
        accuracy, and ``theta``.

    Raises:
        ConfigError: steps or batch size < 1.
    """
    if isinstance(loss, str):
        loss = make_loss(loss)
    for nm, v, lo in (("steps", steps, 1), ("batch_size", batch_size, 1), ("eval_every", eval_every, 0),
                      ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ConfigError(f"{nm} must be an integer >= {lo}, got {v!r}")
    steps, batch_size = int(steps), int(batch_size)
    xtr, ytr = dataset.x_train, dataset.y_train
    n = len(ytr)
    batch_size = min(batch_size, n)
    theta = model.init(seed)
    state = optimizer.init(theta)
    rng = np.random.default_rng([seed, 1])
    perm, pos = rng.permutation(n), 0
    hist = {"loss": [], "batch_accuracy": [], "wall_time_s": [], "runtime_estimate_s": [], "eval": []}
    log_curv = bool(log_curvature and optimizer.needs_curvature)
    curv = {"ggn_top": [], "ggn_trace": []}
    n_ev = min(n, n_eval)
    wall = est = 0.0
    diverged = False

    def do_eval(step):
        e = {"step": step}
        e["train_loss"], e["train_accuracy"] = map(_finite, evaluate(model, loss, theta, xtr[:n_ev], ytr[:n_ev]))
        if dataset.x_test is not None:
            xt, yt = dataset.x_test[:n_eval], dataset.y_test[:n_eval]
            e["test_loss"], e["test_accuracy"] = map(_finite, evaluate(model, loss, theta, xt, yt))
        hist["eval"].append(e)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, unit="step", desc=desc or type(optimizer).__name__, leave=False)
    if eval_every:
        do_eval(0)
    for k in range(steps):
        if pos + batch_size > n:
            perm, pos = rng.permutation(n), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        t0 = time.perf_counter()
        batch = MiniBatchCurvature(model, loss, theta, xtr[idx], ytr[idx])
        g = batch.grad
        work = device_time(optimizer, batch)  # a device step builds what it uploads (host work) here
        t1 = time.perf_counter()
        updates, state = optimizer.update(g, state, theta, curvature=batch if optimizer.needs_curvature else None)
        t2 = time.perf_counter()
        theta = theta + updates
        t3 = time.perf_counter()
        step_wall = t3 - t0
        wall += step_wall
        if work is None:
            est += step_wall
        else:  # the device's own time from the hardware model, not the simulation's
            est += runtime_model(work.N, work.b, work.dz, t_tau=work.t_tau, digital_s=(t1 - t0) + (t3 - t2))
        hist["loss"].append(batch.loss_value)
        hist["batch_accuracy"].append(batch.accuracy())
        hist["wall_time_s"].append(wall)
        hist["runtime_estimate_s"].append(est)
        if log_curv:  # after the timed step: logging is not part of the optimizer's cost
            top, trace = batch.ggn_top_and_trace()
            curv["ggn_top"].append(_finite(top))
            curv["ggn_trace"].append(_finite(trace))
        if k == 0:
            first = step_wall
        if on_estimate is not None and k + 1 == min(ESTIMATE_AFTER, steps):  # the first step (compiling,
            on_estimate(first + (wall - first) / max(k, 1) * (steps - 1))  # warming caches) apart

        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{batch.loss_value:.4f}")
        if callback is not None:
            callback(k, theta, batch)
        if not (np.isfinite(batch.loss_value) and np.all(np.isfinite(theta))):
            diverged = True
            break
        if eval_every and (k + 1) % eval_every == 0:
            do_eval(k + 1)
    if bar is not None:
        bar.close()
    out = {"loss": [_finite(v) for v in hist["loss"]], "batch_accuracy": hist["batch_accuracy"],
           "wall_time_s": hist["wall_time_s"], "runtime_estimate_s": hist["runtime_estimate_s"],
           "eval": hist["eval"], "diverged": diverged, "steps_done": len(hist["loss"])}
    if log_curv:
        out["curvature"] = curvature_log(curv, optimizer)
    out["train_loss"], out["train_accuracy"] = map(_finite, evaluate(model, loss, theta, xtr, ytr))
    if dataset.x_test is not None:
        out["test_loss"], out["test_accuracy"] = map(_finite, evaluate(model, loss, theta, dataset.x_test, dataset.y_test))
    else:
        out["test_loss"] = out["test_accuracy"] = None
    out["theta"] = theta
    return out
