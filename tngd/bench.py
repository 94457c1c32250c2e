"""Per-iteration cost of one training step, split into its parts, for every optimizer at a few sizes N.

    python -m tngd.bench [--inputs 784] [--hidden 1,4,13] [--batch 64] [--classes 10] [--repeats 5]
                         [--optimizers adam,ngd,tngd,tngd-twin] [--max-dense-n 12000] [--json PATH]
                         [--cost-json PATH]

One iteration = forward + gradient, the curvature the optimizer needs, the optimizer's update and
theta += update, on a fresh random mini-batch (one MLP hidden layer of each width, inputs uniform
in [0, 1), random labels). The split (seconds, medians over the repeats; the total is their sum):

* ``grad``      forward pass, loss and gradient (``MiniBatchCurvature`` + its ``grad``);
* ``curvature`` the digital curvature build: GGN factor Ut and dense F = Ut^T Ut (NGD), J and the
                loss-Hessian blocks (NGD-Woodbury), Ut = R^T J / sqrt(b) (TNGD); none for Adam and
                NGD-CG (its GGN-vector products happen inside its solve);
* ``upload``    TNGD only: ``solver.prepare`` - the system put on the device. Ideal exact-OU device:
                the m x m Gram eigendecomposition; factored circuit twin: mapping Ut, lambda, g onto
                component values (scales, conductances, realizability) and building the chain;
* ``analog``    TNGD only: ``solver.propagate`` - the *simulation* of the device for t tau (for the
                twin incl. the exponential scheme's O(m^2 N) per-programming set-up, also reported
                on its own as ``analog_setup_s``);
* ``update``    the rest of ``optimizer.update`` + theta += update: Adam's moments, NGD's Cholesky
                solve, NGD-CG's 10 iterations, Woodbury's m x m solve, TNGD's SGD step.

TNGD rows also get the estimated *hardware* time of the device part, as ``tngd.train`` counts it
(:func:`spucircuit.studies.cost.tngd_runtime_s`, default hardware: upload of Ut and g, t x 1 us,
read-out; 16-bit words over 50 Gb/s), as ``hw_analog_s``, and ``hw_iteration_s`` = grad +
curvature + update + that. Dense NGD is skipped above
``--max-dense-n`` (N x N float64 plus its Cholesky copy: 1.6 GB and ~N^3/3 flops at N = 1e4).

``--json`` writes the rows above. ``--cost-json`` writes them normalised (:func:`measured_rows`)
to the schema ``spu cost --measured`` reads, :data:`spucircuit.studies.cost.MEASURED_KEYS`: one
``{method, N, b, dz, seconds}`` per optimizer and size, seconds = the measured *digital* time per
iteration (for TNGD grad + curvature + update: the device simulation is not hardware time;
TNGD-Adam counted as TNGD; the circuit-twin cases left out).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from spucircuit.studies.cost import METHODS, tngd_runtime_s
from tngd.errors import ConfigError
from tngd.nn.curvature import MiniBatchCurvature
from tngd.nn.losses import SoftmaxCrossEntropy
from tngd.nn.sequential import mlp
from tngd.optim import NGD, TNGD, NGDWoodbury, device_time
from tngd.train import build_optimizer

PHASES = ("grad", "curvature", "upload", "analog", "update")
MAX_DENSE_N = 12_000  # dense NGD above this: the N x N GGN (+ Cholesky copy) > 2.3 GB, > 30 s per step


class Case(NamedTuple):
    """One benchmarked configuration: optimizer name, TNGD device and its options, label."""

    optimizer: str  # name for tngd.train.build_optimizer
    solver: str = "exact"  # TNGD device model
    solver_options: dict | None = None
    label: str = ""


CASES = {
    "sgd": Case("sgd", label="SGD"),
    "adam": Case("adam", label="Adam"),
    "ngd": Case("ngd", label="NGD, dense Cholesky"),
    "ngd-cg": Case("ngd-cg", label="NGD-CG, 10 iterations"),
    "ngd-woodbury": Case("ngd-woodbury", label="NGD-Woodbury"),
    "tngd": Case("tngd", label="TNGD, ideal exact-OU device"),
    "tngd-adam": Case("tngd-adam", label="TNGD-Adam, ideal exact-OU device"),
    "tngd-twin": Case("tngd", "factored", {"noise": True, "temperature_k": 300.0},
                      "TNGD, factored circuit twin, 300 K Johnson noise"),
    "tngd-twin-quiet": Case("tngd", "factored", {"noise": False}, "TNGD, factored circuit twin, noise off"),
}
DEFAULT_CASES = ("adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd", "tngd-twin", "tngd-twin-quiet")


class _TimedSolver:
    """Wraps a TNGD solver: accumulates the wall time of prepare (upload) and propagate (analog)."""

    def __init__(self, inner):
        self.inner = inner
        self.prepare_s = self.propagate_s = 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def prepare(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return self.inner.prepare(*a, **k)
        finally:
            self.prepare_s += time.perf_counter() - t0

    def propagate(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return self.inner.propagate(*a, **k)
        finally:
            self.propagate_s += time.perf_counter() - t0


@contextmanager
def _setup_clock(active: bool):
    """Times spucircuit.integrate.chain_exponential.exponential_discretization (the twin's per-programming O(m^2 N)
    set-up, called inside FactoredSPU.run) while active; yields a one-element list of seconds."""
    acc = [0.0]
    if not active:
        yield acc
        return
    from spucircuit.device import factored_spu as fm  # where FactoredSPU looks the function up

    orig = fm.exponential_discretization

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            acc[0] += time.perf_counter() - t0

    fm.exponential_discretization = timed
    try:
        yield acc
    finally:
        fm.exponential_discretization = orig


def _build_curvature(opt, batch):
    """What the optimizer needs from the batch beyond the gradient, built (and memoised) here so
    that its cost is counted as 'curvature' and not inside the update."""
    if isinstance(opt, NGD):
        batch.ggn()
    elif isinstance(opt, NGDWoodbury):
        batch.jacobian()
        batch.hessian_blocks()
    else:
        device_time(opt, batch)  # a device step builds its upload (TNGD: the factor Ut)


def measured_digital_s(row: dict) -> float:
    """The measured *digital* seconds per iteration of a bench row.

    Args:
        row: a :func:`time_iteration` row (or an older one with ``digital_s``).

    Returns:
        For TNGD rows the host part only, grad_s + curvature_s + update_s (the device simulation
        is not hardware time); otherwise ``seconds``.
    """
    if "digital_s" in row:
        return float(row["digital_s"])
    if str(row.get("optimizer", "")).startswith("tngd") and "grad_s" in row:
        return float(row["grad_s"] + row.get("curvature_s", 0.0) + row.get("update_s", 0.0))
    return float(row["seconds"])


def measured_rows(rows, b: int, dz: int | None = None) -> list:
    """Bench rows normalised to the schema ``spu cost --measured`` reads.

    Args:
        rows: :func:`time_iteration` rows.
        b: the batch size they were measured at.
        dz: outputs, for rows without ``m`` (otherwise dz = m // b).

    Returns:
        ``[{'method', 'N', 'b', 'dz', 'seconds'}]`` (:data:`spucircuit.studies.cost.MEASURED_KEYS`):
        digital seconds (:func:`measured_digital_s`); TNGD-Adam counted as TNGD, the twin cases
        and unknown optimizers skipped.

    Raises:
        ConfigError: a row without ``m`` and no ``dz``.
    """
    out = []
    for r in rows:
        opt = str(r.get("optimizer", ""))
        case = str(r.get("case", opt))
        if "twin" in case:
            continue
        method = "tngd" if opt.startswith("tngd") else opt
        if method not in METHODS + ("tngd",):
            continue
        d = int(r["m"]) // int(b) if "m" in r else dz
        if d is None:
            raise ConfigError("bench rows without 'm' need dz")
        out.append({"method": method, "N": int(r["N"]), "b": int(b), "dz": int(d), "seconds": measured_digital_s(r)})
    return out


def random_batches(inputs: int, batch: int, classes: int, count: int = 4, seed: int = 0):
    """``count`` mini-batches [(x, y)]: inputs uniform in [0, 1) (batch, inputs), random labels."""
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, inputs)), rng.integers(0, classes, batch)) for _ in range(count)]


def time_iteration(model, case, batches, *, repeats: int = 5, min_repeats: int = 3, warmup: int | None = None,
                   budget_s: float | None = None, t: float = 50.0, seed: int = 0) -> dict:
    """Time ``warmup`` + up to ``repeats`` training iterations of one case (name in CASES or a Case)
    on the model, cycling through ``batches`` [(x, y)]; the warm-up iterations (numba compilation,
    the twin's first scale design, caches) are dropped. After ``min_repeats`` the loop stops once
    ``budget_s`` seconds have been spent. Returns the row: per-phase medians, their sum, every repeat."""
    name = case if isinstance(case, str) else case.label
    spec = CASES[case] if isinstance(case, str) else case
    loss = SoftmaxCrossEntropy()
    theta = model.init(seed)
    opt = build_optimizer(spec.optimizer, t=t, solver=spec.solver, solver_options=spec.solver_options)
    is_tngd = isinstance(opt, TNGD)
    timer = None
    if is_tngd:
        timer = opt.solver = _TimedSolver(opt.solver)
    twin = is_tngd and spec.solver == "factored"
    if warmup is None:
        warmup = 2 if twin else 1
    state = opt.init(theta)
    reps = {p: [] for p in PHASES}
    totals, setups = [], []
    start = None
    with _setup_clock(twin) as setup:
        for k in range(warmup + repeats):
            if k == warmup:
                start = time.perf_counter()
            elif k > warmup and k - warmup >= min_repeats and budget_s is not None \
                    and time.perf_counter() - start > budget_s:
                break
            x, y = batches[k % len(batches)]
            if timer is not None:
                timer.prepare_s = timer.propagate_s = 0.0
            setup[0] = 0.0
            t0 = time.perf_counter()
            b = MiniBatchCurvature(model, loss, theta, x, y)
            g = b.grad
            t1 = time.perf_counter()
            _build_curvature(opt, b)
            t2 = time.perf_counter()
            u, state = opt.update(g, state, theta, curvature=b if opt.needs_curvature else None)
            theta = theta + u
            t3 = time.perf_counter()
            up, an = (timer.prepare_s, timer.propagate_s) if timer is not None else (0.0, 0.0)
            if k < warmup:
                continue
            for p, v in zip(PHASES, (t1 - t0, t2 - t1, up, an, (t3 - t2) - up - an)):
                reps[p].append(v)
            totals.append(t3 - t0)
            setups.append(setup[0])
    split = {f"{p}_s": float(statistics.median(v)) for p, v in reps.items()}
    n = model.n_params
    size_b, dz = batches[0][0].shape[0], model.output_dim
    m = size_b * dz
    row = {"case": name, "label": spec.label or name, "optimizer": spec.optimizer, "N": int(n), "b": int(size_b),
           "dz": int(dz), "m": int(m),
           "seconds": float(sum(split.values())), **split,
           "total_median_s": float(statistics.median(totals)), "repeats": len(totals),
           "rounds_s": {p: [float(v) for v in reps[p]] for p in PHASES}, "finite": bool(np.all(np.isfinite(theta)))}
    if is_tngd:
        hw = tngd_runtime_s(n, size_b, dz, t_tau=t)
        row.update(solver=spec.solver, t_tau=float(t), hw_analog_s=hw,
                   hw_iteration_s=split["grad_s"] + split["curvature_s"] + split["update_s"] + hw)
        if twin:
            dev = timer.inner
            row.update(analog_setup_s=float(statistics.median(setups)), redesigns=dev.redesigns, writes=dev.writes,
                       twin_tau_s=float(dev.last_circuit.tau_s),
                       twin_analog_time_s=float(t * dev.last_circuit.tau_s),
                       pruned_entries=int(dev.last_circuit.prune["pruned_J_entries"]))
    return row


def run_sizes(hidden, cases=DEFAULT_CASES, *, inputs: int = 784, batch: int = 64, classes: int = 10,
              repeats: int = 5, min_repeats: int = 3, budget_s: float | None = None, max_dense_n: int = MAX_DENSE_N,
              t: float = 50.0, log=None) -> list:
    """Rows of :func:`time_iteration` for an MLP inputs-h-classes per hidden width h and every case
    (dense NGD skipped above max_dense_n)."""
    batches = random_batches(inputs, batch, classes)
    rows = []
    for h in hidden:
        model = mlp((inputs,), classes, hidden=(int(h),))
        for c in cases:
            if CASES[c].optimizer == "ngd" and model.n_params > max_dense_n:
                if log:
                    log(f"N={model.n_params}: {c} skipped (N > max_dense_n = {max_dense_n})")
                continue
            r = time_iteration(model, c, batches, repeats=repeats, min_repeats=min_repeats, budget_s=budget_s, t=t)
            r["hidden"] = int(h)
            rows.append(r)
            if log:
                log(format_row(r))
    return rows


def slope(ns, ys) -> float | None:
    """Log-log least-squares slope of ys against ns (None with fewer than 2 distinct sizes)."""
    ns, ys = np.asarray(ns, float), np.asarray(ys, float)
    ok = (ns > 0) & (ys > 0)
    if len(set(ns[ok])) < 2:
        return None
    return float(np.polyfit(np.log(ns[ok]), np.log(ys[ok]), 1)[0])


HEADER = (f"{'N':>7} {'case':<16} {'total ms':>9} {'grad':>8} {'curv.':>8} {'upload':>8} {'analog':>8} "
          f"{'update':>8} {'hw analog':>9} {'hw iter.':>8}")


def applies(r, phase) -> bool:
    """Whether a phase is part of this row's optimizer (the others are ~0: shown as '-')."""
    if phase in ("upload", "analog"):
        return "solver" in r
    if phase == "curvature":
        return "solver" in r or r["optimizer"] in ("ngd", "ngd-woodbury")
    return True


def format_row(r) -> str:
    """One row of the printed table (ms; '-' for parts the optimizer does not have)."""
    ms = lambda p: f"{1e3 * r[p + '_s']:8.2f}" if applies(r, p) else f"{'-':>8}"  # noqa: E731
    hw = f"{1e3 * r['hw_analog_s']:9.3f} {1e3 * r['hw_iteration_s']:8.2f}" if "hw_iteration_s" in r else ""
    return f"{r['N']:>7} {r['case']:<16} {1e3 * r['seconds']:9.2f} " + " ".join(ms(p) for p in PHASES) + (" " + hw if hw else "")


def format_rows(rows) -> str:
    """The printed table: :data:`HEADER` and one line per row."""
    return "\n".join([HEADER] + [format_row(r) for r in rows])


def main(argv=None):
    """``python -m tngd.bench``: time every case at every size, print the table, write the rows."""
    p = argparse.ArgumentParser(prog="python -m tngd.bench", description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=784)
    p.add_argument("--hidden", default="1,4,13", help="one hidden layer per width (N = (inputs + 1 + classes) h + classes)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--t", type=float, default=50.0, help="TNGD analog time (tau units)")
    p.add_argument("--max-dense-n", type=int, default=MAX_DENSE_N)
    p.add_argument("--optimizers", default=",".join(DEFAULT_CASES), help=f"from {', '.join(CASES)}")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--cost-json", default=None,
                   help="also write the normalised rows {method, N, b, dz, seconds} that 'spu cost --measured' reads")
    a = p.parse_args(argv)
    cases = [c.strip() for c in a.optimizers.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad:
        p.error(f"unknown optimizer case(s) {', '.join(bad)}: use {', '.join(CASES)}")
    print(f"b = {a.batch}, dz = {a.classes}, m = {a.batch * a.classes}, t = {a.t:g} tau; median wall time per "
          f"iteration and its split (ms); hw = TNGD's device part (upload, t x 1 us, read-out), and the "
          f"iteration with it")
    print(HEADER, flush=True)
    rows = run_sizes([int(v) for v in a.hidden.split(",")], cases, inputs=a.inputs, batch=a.batch, classes=a.classes,
                     repeats=a.repeats, min_repeats=min(3, a.repeats), max_dense_n=a.max_dense_n, t=a.t,
                     log=lambda s: print(s, flush=True))
    for path, out in ((a.json, rows), (a.cost_json, measured_rows(rows, a.batch, a.classes))):
        if path:
            with open(path, "w") as f:
                json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
