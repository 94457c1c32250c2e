"""The ``tngd`` command: train one model with one optimizer, or compare several optimizers.

    tngd train   --dataset digits|mnist|fashion-mnist|PATH.npz|IDX_DIR --model mlp|cnn --optimizer NAME --out run.json
    tngd compare --optimizers sgd,adam,tngd --seeds 0,1,2 --out-dir compare_out [--resume]

Errors print one line ``tngd: error: ...`` and exit with status 2. ``tngd compare`` journals each
finished run in OUT_DIR/compare.partial.jsonl (:class:`spucircuit.report.journal.Journal`): Ctrl-C
keeps the finished runs and exits 130 with one line; ``--resume`` runs only the missing ones.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.files import atomic_write_bytes, atomic_write_text
from spucircuit._util.jsonable import json_digest
from spucircuit._util.signals import one_shot_sigint
from spucircuit.errors import (
    Interrupted,
    one_line,
    one_line_warnings,
    pop_debug,
    unexpected_line,
)
from spucircuit.report.journal import Journal
from tngd.data import load_dataset
from tngd.errors import ConfigError, TNGDError
from tngd.nn.losses import make_loss
from tngd.optim import DEFAULT_LR, OPTIMIZERS
from tngd.optim.thermodynamic import canonical_x0
from tngd.train import ESTIMATE_AFTER, build_model, build_optimizer, train

COMPARE_JSON = "compare.json"
JOURNAL = "compare.partial.jsonl"  # the finished runs of an unfinished comparison, in --out-dir
PLOTS = ("loss_vs_iteration.png", "accuracy_vs_iteration.png", "loss_vs_time.png", "accuracy_vs_time.png")


def _out_path(path) -> Path:
    """An output path whose directory exists (the shared writers would create it: tngd does not)."""
    path = Path(path)
    if not path.parent.exists():
        raise ConfigError(f"{path.parent}: output directory does not exist")
    if not path.parent.is_dir():
        raise ConfigError(f"{path.parent}: not a directory")
    if path.is_dir():
        raise ConfigError(f"{path} is a directory: give a file path")
    return path


def _write_json(path, obj):
    atomic_write_text(_out_path(path), json.dumps(obj, indent=1, allow_nan=False) + "\n")


def _common(p):
    p.add_argument("--dataset", default="digits", help="digits (default), mnist (5,000 real digits: pip install "
                   "'spucircuit[mnist]'), fashion-mnist, PATH.npz or an IDX directory")
    p.add_argument("--n-train", type=int, default=None, help="use the first N training examples")
    p.add_argument("--n-test", type=int, default=None, help="use the first N test examples")
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    p.add_argument("--hidden", default=None, help="hidden widths, comma separated (mlp default 32; cnn: one width, default 32)")
    p.add_argument("--channels", type=int, default=4, help="cnn: convolution channels (default 4)")
    p.add_argument("--kernel", type=int, default=3, help="cnn: kernel size (default 3)")
    p.add_argument("--stride", type=int, default=None, help="cnn: stride (default 1 for images <= 16 px, else 2)")
    p.add_argument("--activation", default="relu", choices=["relu", "tanh"])
    p.add_argument("--init", default="he", choices=["he", "pytorch"],
                   help="initial weights: he (normal, default) or pytorch (PyTorch's default uniform +-1/sqrt(fan_in): "
                        "about 10x smaller curvature at the start, the scale the paper's eta, lambda and t assume)")
    p.add_argument("--loss", default="ce", choices=["ce", "mse"], help="softmax cross-entropy (default) or MSE on one-hot targets")
    p.add_argument("--t", type=float, default=50.0, help="TNGD analog time per step, tau units (default 50)")
    p.add_argument("--td", type=float, default=0.0, help="TNGD delay, tau units, 0 <= td <= t (default 0)")
    p.add_argument("--kappa0", type=float, default=0.0, help="TNGD device noise level (default 0: noiseless)")
    p.add_argument("--solver", default="exact", choices=["exact", "euler", "twin", "factored"],
                   help="TNGD device model: exact OU (default), Euler 0.1 tau, the dense spucircuit twin "
                        "(small N), or the factored App. C circuit twin (large N)")
    p.add_argument("--euler-dt", type=float, default=0.1, help="Euler solver step, tau units (default 0.1, as the paper)")
    f = p.add_argument_group("factored-twin device imperfections (--solver factored only; default: ideal components)")
    f.add_argument("--bits", type=int, default=None,
                   help="resistor precision of the J, H, J^T arrays: each conductance rounded on a 2^bits-level "
                        "grid over [1/r_max, 1/r_min] at every upload")
    f.add_argument("--rounding", default=None, choices=["stochastic", "nearest"],
                   help="rounding of the resistor and DAC codes (default stochastic: unbiased)")
    f.add_argument("--tolerance", type=float, default=None,
                   help="relative sigma of a fixed per-device resistor mismatch (e.g. 0.01)")
    f.add_argument("--dac-bits", type=int, default=None, help="input DAC resolution (range set per upload)")
    f.add_argument("--adc-bits", type=int, default=None, help="read-out ADC resolution (binary range per read-out)")
    f.add_argument("--mitigation", type=int, default=None, metavar="K",
                   help="average the read-outs of K independent devices (K x the cost)")
    f.add_argument("--rails", type=float, default=None, metavar="V",
                   help="op-amp output rails, +-V: outputs clip, saturated integrators wind up and recover "
                        "(the devices then run Euler); runs with a saturated op-amp are counted in the run JSON")
    f.add_argument("--calibrate", action="store_true",
                   help="measure each device's per-integrator input gain once and correct the DAC values")
    p.add_argument("--x0", default="warm", choices=["warm", "reset", "paper", "previous", "gradient"],
                   help="TNGD start of each analog run: warm = the previous read-out (Algorithm 1, default; alias "
                        "previous), reset = the batch gradient every step (alias gradient: then t -> 0 is SGD), "
                        "paper = reset when --td is 0, warm when --td > 0 (the paper's Appendix B); recorded in "
                        "the run JSON")
    p.add_argument("--damping", type=float, default=0.01, help="lambda for the NGD family (default 0.01)")
    p.add_argument("--cg-iters", type=int, default=10, help="NGD-CG iterations (default 10)")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--batch-size", type=argtypes.positive_int, default=64)
    p.add_argument("--steps", type=argtypes.positive_int, default=200)
    p.add_argument("--eval-every", type=argtypes.positive_int, default=None, help="evaluate every N steps (default steps / 20)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _lr(optimizer: str, lr) -> float:
    """The learning rate a run uses: ``lr``, or the optimizer's default when it is None."""
    return DEFAULT_LR[optimizer] if lr is None else float(lr)


def _eval_every(a) -> int:
    """The evaluation interval in steps: --eval-every, or steps / 20 (at least 1)."""
    return a.eval_every if a.eval_every is not None else max(1, a.steps // 20)


_DEVICE_OPTS = {"bits": "bits", "rounding": "rounding", "tolerance": "tolerance", "dac_bits": "dac_bits",
                "adc_bits": "adc_bits", "mitigation": "mitigation", "calibrate": "calibration", "rails": "rail_v"}


def _solver_options(a) -> dict | None:
    """The factored twin's device-imperfection options given on the command line (None: none given)."""
    given = {k: getattr(a, k) for k in _DEVICE_OPTS if getattr(a, k) is not None and getattr(a, k) is not False}
    if not given:
        return None
    if a.solver != "factored":
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{flags} model the factored circuit twin's devices: use them with --solver factored "
                          f"(got --solver {a.solver})")
    return {_DEVICE_OPTS[k]: v for k, v in given.items()}


def _settings(a, optimizer, lr, seed):
    keys = ["dataset", "n_train", "n_test", "model", "hidden", "channels", "kernel", "stride", "activation", "loss",
            "init", "t", "td", "kappa0", "solver", "euler_dt", "x0", "damping", "cg_iters", "momentum", "batch_size", "steps"]
    s = {k: getattr(a, k) for k in keys}
    s["x0"] = canonical_x0(a.x0)  # the mode, not its former alias
    opts = _solver_options(a)
    if opts:
        s["solver_options"] = opts
    s.update(optimizer=optimizer, lr=lr, seed=seed)
    return s


def _hidden(a):
    if a.hidden is None:
        return None
    try:
        h = [int(v) for v in str(a.hidden).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--hidden must be comma-separated integers, got {a.hidden!r}") from None
    if not h or min(h) < 1:
        raise ConfigError(f"--hidden widths must be >= 1, got {a.hidden!r}")
    return h


def _check_options(a) -> None:
    """Every numeric option, whichever optimizer uses it (an unused NaN reached the run JSON and failed
    there, after the training), the hidden widths and the device options: checked before any work."""
    if not np.isfinite(a.t):
        raise ConfigError(f"--t must be finite, got {a.t} (ngd is the t -> infinity limit)")
    for flag, v, ok, rule in (("--t", a.t, a.t >= 0, ">= 0 (tau units)"),
                              ("--td", a.td, 0 <= a.td <= a.t, "in [0, --t]"),
                              ("--kappa0", a.kappa0, 0 <= a.kappa0 < np.inf, "finite and >= 0"),
                              ("--euler-dt", a.euler_dt, 0 < a.euler_dt < np.inf, "finite and > 0 (tau units)"),
                              ("--damping", a.damping, 0 < a.damping < np.inf, "finite and > 0"),
                              ("--momentum", a.momentum, 0 <= a.momentum < 1, "in [0, 1)"),
                              ("--cg-iters", a.cg_iters, a.cg_iters >= 1, "an integer >= 1"),
                              ("--tolerance", a.tolerance, a.tolerance is None or 0 <= a.tolerance < np.inf,
                               "finite and >= 0")):
        if not ok:
            raise ConfigError(f"{flag} must be {rule}, got {v!r}")
    h = _hidden(a)
    if a.model == "cnn" and h is not None and len(h) != 1:
        raise ConfigError(f"--model cnn takes one --hidden width (its dense layer), got {a.hidden!r}")
    _solver_options(a)


ANNOUNCE_S = 2.0  # runs projected to take at least this long print their estimate


def run_one(a, dataset, optimizer: str, lr, seed: int, progress: bool, on_estimate=None) -> dict:
    """Train one optimizer with one seed from the parsed options; returns the run record.
    ``on_estimate(seconds)``: the run's projected wall time, from its first steps."""
    _check_options(a)
    solver_options = _solver_options(a)
    if solver_options is not None:  # the devices (fabrication, roundings) follow the run's seed
        solver_options["seed"] = int(seed)

    model = build_model(a.model, dataset, hidden=_hidden(a), channels=a.channels, kernel=a.kernel,
                        stride=a.stride, activation=a.activation, init=a.init)
    lr = _lr(optimizer, lr)
    opt = build_optimizer(optimizer, lr=lr, damping=a.damping, t=a.t, td=a.td, kappa0=a.kappa0,
                          cg_iters=a.cg_iters, momentum=a.momentum, solver=a.solver, euler_dt=a.euler_dt,
                          x0=a.x0, seed=seed, solver_options=solver_options)
    eval_every = _eval_every(a)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is flagged ("diverged"), not warned
        h = train(dataset, model, make_loss(a.loss), opt, steps=a.steps, batch_size=a.batch_size, seed=seed,
                  eval_every=eval_every, progress=progress, desc=optimizer, on_estimate=on_estimate)
    h.pop("theta")
    rec = {"settings": _settings(a, optimizer, lr, seed), "model": model.describe(), "data": dataset.describe(), **h}
    solver = getattr(opt, "solver", None)
    if solver is not None and hasattr(solver, "saturated_runs"):  # the factored twin's device counters
        rec["device"] = {"analog_time_s": float(solver.analog_time_s), "writes": int(solver.writes),
                         "dac_clipped": int(solver.dac_clipped), "adc_clipped": int(solver.adc_clipped),
                         "rail_v": solver.rail_v if np.isfinite(solver.rail_v) else None,
                         "saturated_runs": int(solver.saturated_runs),
                         "saturated_opamps": sorted(solver.saturated_opamps)}
        if solver.saturated_runs:
            print(f"warning: op-amps sat on the +-{solver.rail_v:g} V rails in {solver.saturated_runs} analog runs "
                  f"({len(solver.saturated_opamps)} op-amps): those natural gradients are clipped", file=sys.stderr)
    return rec


def cmd_train(a):
    """``tngd train``: one run, written to --out."""
    if a.optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {a.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    _out_path(a.out)  # before any work
    _check_options(a)
    ds = load_dataset(a.dataset, a.n_train, a.n_test)
    def announce(sec):
        if sec >= ANNOUNCE_S:
            print(f"tngd train: estimated {sec:.3g} s for {a.steps} steps (from the first "
                  f"{min(a.steps, ESTIMATE_AFTER)})", file=sys.stderr, flush=True)

    res = run_one(a, ds, a.optimizer, a.lr, a.seed, progress=not a.no_progress, on_estimate=announce)
    _write_json(a.out, res)
    fmt = lambda v: "null" if v is None else f"{v:.4f}"  # noqa: E731
    print(f"{a.optimizer}: train loss {fmt(res['train_loss'])} acc {fmt(res['train_accuracy'])}, "
          f"test loss {fmt(res['test_loss'])} acc {fmt(res['test_accuracy'])} -> {a.out}")
    if res["diverged"]:  # a result, written with "diverged": true, but never a silent success
        print(f"tngd train: error: training diverged at step {res['steps_done']} (loss or parameters not finite); "
              f"the run is in {a.out} with \"diverged\": true: lower --lr or --kappa0", file=sys.stderr)
        return 3
    return 0


def _parse_lrs(text, names):
    if text is None:
        return {n: None for n in names}
    out = {n: None for n in names}
    if "=" not in text:
        try:
            v = float(text)
        except ValueError:
            raise ConfigError(f"--lr must be a number or NAME=VALUE,..., got {text!r}") from None
        if not 0 < v < np.inf:
            raise ConfigError(f"--lr must be finite and > 0, got {text!r}")
        return {n: v for n in names}
    for part in text.split(","):
        k, _, v = part.partition("=")
        if k.strip() not in out:
            raise ConfigError(f"--lr names {k.strip()!r}, which is not among --optimizers")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ConfigError(f"--lr {part!r}: not a number") from None
        if not 0 < out[k.strip()] < np.inf:
            raise ConfigError(f"--lr {part!r}: must be finite and > 0")
    return out


def _plot(runs, names, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    files = []

    def curve(ax, name, xs, ys, color, label, ls="-"):
        n = min(len(v) for v in ys)
        X = np.mean([x[:n] for x in xs], axis=0)
        Y = np.array([y[:n] for y in ys], dtype=float)
        mu, sd = np.nanmean(Y, 0), np.nanstd(Y, 0)
        ax.plot(X, mu, ls, color=color, label=label)
        if len(ys) > 1:
            ax.fill_between(X, mu - sd, mu + sd, color=color, alpha=0.2)

    specs = [(PLOTS[0], "iteration", "training loss (mini-batch)", False, "loss"),
             (PLOTS[1], "iteration", "accuracy", False, "acc"),
             (PLOTS[2], "runtime estimate (s)", "training loss (mini-batch)", True, "loss"),
             (PLOTS[3], "runtime estimate (s)", "accuracy", True, "acc")]
    for fname, xl, yl, vs_time, what in specs:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, name in enumerate(names):
            rs = [r for r in runs if r["settings"]["optimizer"] == name]
            c = colors[i % len(colors)]
            if what == "loss":
                xs = [r["runtime_estimate_s"] if vs_time else np.arange(1, len(r["loss"]) + 1) for r in rs]
                curve(ax, name, xs, [r["loss"] for r in rs], c, name)
            else:
                def at(r):
                    steps = [e["step"] for e in r["eval"]]
                    if not vs_time:
                        return np.array(steps, float)
                    t = np.concatenate([[0.0], r["runtime_estimate_s"]])
                    return t[np.minimum(steps, len(t) - 1)]
                xs = [at(r) for r in rs]
                curve(ax, name, xs, [[e["train_accuracy"] for e in r["eval"]] for r in rs], c, f"{name} train")
                if all("test_accuracy" in e for r in rs for e in r["eval"]):
                    curve(ax, name, xs, [[e["test_accuracy"] for e in r["eval"]] for r in rs], c, f"{name} test", "--")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        if what == "loss":
            ax.set_yscale("log")
        if vs_time:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{runs[0]['data']['name']}, {runs[0]['settings']['model']} "
                     f"({runs[0]['model']['n_params']} parameters), mean +- sd over seeds", fontsize=9)
        fig.tight_layout()
        path = Path(out_dir) / fname
        buf = io.BytesIO()
        fig.savefig(buf, dpi=110, format="png")
        atomic_write_bytes(_out_path(path), buf.getvalue())
        plt.close(fig)
        files.append(str(path))
    return files


def _check_out_dir(out: Path) -> None:
    """Refuse an --out-dir that cannot take the outputs (before any data is read or run trained)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out-dir {out} exists and is not a folder")
    for name in (COMPARE_JSON, *PLOTS, JOURNAL):
        if (out / name).is_dir():
            raise ConfigError(f"{out / name} is a folder: tngd compare writes a file there")


def _make_out_dir(out: Path) -> None:
    """Create --out-dir (and its parents) and check that files can be written in it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out-dir {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write into --out-dir {out}")


def compare_digest(a, dataset, jobs, lrs) -> str:
    """What identifies a comparison's runs: each run's settings in run order (optimizer, learning
    rate, seed and every training option), the evaluation interval, and the data (its description,
    shapes, dtypes and bytes). A journal of finished runs belongs to the comparison with this digest."""
    settings = {"runs": [_settings(a, n, _lr(n, lrs[n]), s) for n, s in jobs], "eval_every": _eval_every(a),
                "data": dataset.describe()}
    arrays = [x for x in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test) if x is not None]
    blobs = [b for x in arrays for b in (f"{x.shape}{x.dtype.str}".encode(), np.ascontiguousarray(x))]
    return json_digest(settings, *blobs)


def _run_jobs(a, dataset, jobs, lrs, journal: Journal) -> list:
    """Train the (optimizer, seed) jobs not yet in the journal, appending each run to it as it
    ends; returns every job's run record in job order. Ctrl-C raises Interrupted saying how many
    runs the journal keeps; another error removes a journal that holds no run."""
    from tqdm.auto import tqdm

    todo = [i for i in range(len(jobs)) if i not in journal.done]
    try:
        with one_shot_sigint(), tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="runs", unit="run",
                                     disable=a.no_progress) as bar:
            for k, i in enumerate(todo):
                n, s = jobs[i]

                def announce(sec, left=len(todo) - k):
                    if sec >= ANNOUNCE_S:
                        print(f"tngd compare: estimated {sec:.3g} s for this run ({n}, seed {s}); {left} runs "
                              f"to go", file=sys.stderr, flush=True)

                journal.append(i, run_one(a, dataset, n, lrs[n], s, progress=False, on_estimate=announce))
                bar.update(1)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {len(journal.done)} of {len(jobs)} runs; the finished ones are kept "
                          f"in {journal.path}: rerun the same command with --resume") from None
    except Exception:
        if not journal.done:  # nothing to keep: a rerun with fixed options must not need --resume
            journal.remove()
        raise
    return [journal.done[i] for i in range(len(jobs))]


def cmd_compare(a):
    """``tngd compare``: optimizers x seeds, compare.json and four PNG plots in --out-dir. Each
    finished run is journaled in --out-dir/compare.partial.jsonl; --resume skips the runs there."""
    names = [s.strip() for s in a.optimizers.split(",") if s.strip()]
    bad = [n for n in names if n not in OPTIMIZERS]
    if not names or bad:
        raise ConfigError(f"unknown optimizer(s) {bad or a.optimizers!r}: use {', '.join(OPTIMIZERS)}")
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers, got {a.seeds!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty")
    if min(seeds) < 0:
        raise ConfigError(f"--seeds must be >= 0 (numpy seeds take no negative entropy), got {min(seeds)}")
    lrs = _parse_lrs(a.lr, names)
    _check_options(a)
    out = Path(a.out_dir)
    _check_out_dir(out)
    ds = load_dataset(a.dataset, a.n_train, a.n_test)  # the data is checked before anything is created
    _make_out_dir(out)
    jobs = [(n, s) for n in names for s in seeds]
    journal = Journal(str(out / JOURNAL), compare_digest(a, ds, jobs, lrs), a.resume, what="comparison",
                      options="options, optimizers, learning rates, seeds or data")
    runs = _run_jobs(a, ds, jobs, lrs, journal)
    files = _plot(runs, names, out)
    summary = {n: {k: [r[k] for r in runs if r["settings"]["optimizer"] == n]
                   for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")} for n in names}
    _write_json(out / COMPARE_JSON, {"optimizers": names, "seeds": seeds, "summary": summary, "plots": files,
                                     "runs": runs})
    journal.remove()  # every run is in compare.json now
    for n in names:
        tl = [v for v in summary[n]["train_loss"] if v is not None]
        ta = [v for v in summary[n]["test_accuracy"] if v is not None]
        print(f"{n:13s} train loss {np.mean(tl) if tl else float('nan'):.4f}"
              + (f"  test acc {np.mean(ta):.4f}" if ta else ""))
    print(f"wrote {out / COMPARE_JSON} and {len(files)} plots in {out}")
    return 0


def build_parser():
    """The ``tngd`` argument parser (train, compare)."""
    p = argparse.ArgumentParser(prog="tngd", description="Thermodynamic natural gradient descent: train and compare optimizers.")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an unexpected error (anywhere on the command line)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one model with one optimizer, write run.json")
    _common(t)
    t.add_argument("--optimizer", default="tngd", help=f"one of {', '.join(OPTIMIZERS)} (default tngd)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default per optimizer: "
                   + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--seed", type=argtypes.seed, default=0)
    t.add_argument("--out", default="run.json")
    t.set_defaults(func=cmd_train)
    c = sub.add_parser("compare", help="several optimizers x seeds; PNG plots of loss/accuracy vs iteration and runtime",
                       description="Train each optimizer with each seed; write compare.json and PNG plots of "
                                   "loss and accuracy vs iteration and runtime in --out-dir. Each finished run is "
                                   "recorded in OUT_DIR/compare.partial.jsonl as it ends: Ctrl-C keeps them (exit "
                                   "130) and --resume trains only the missing runs.")
    _common(c)
    c.add_argument("--optimizers", default="sgd,adam,tngd", help="comma separated (default sgd,adam,tngd)")
    c.add_argument("--lr", default=None, help="one learning rate for all, or NAME=VALUE,... (default per optimizer)")
    c.add_argument("--seeds", default="0,1,2", help="comma separated (default 0,1,2)")
    c.add_argument("--out-dir", default="compare_out",
                   help="output folder: compare.json and four PNG plots (default compare_out)")
    c.add_argument("--resume", action="store_true",
                   help="complete an interrupted comparison: the runs recorded in OUT_DIR/compare.partial.jsonl "
                        "are not trained again (the same options are required; compare.json is the same as an "
                        "uninterrupted run's, apart from the measured times)")
    c.set_defaults(func=cmd_compare)
    return p


def main(argv=None) -> int:
    """Entry point: run a subcommand; errors print one line ``tngd: error: ...`` and return 2; Ctrl-C
    prints one line (what was kept) and returns 130."""
    argv, debug = pop_debug(list(sys.argv[1:] if argv is None else argv))
    p = build_parser()
    a = p.parse_args(argv)
    try:
        with one_line_warnings("tngd"):
            return a.func(a)
    except TNGDError as exc:
        print(f"tngd: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Interrupted as exc:  # Ctrl-C in tngd compare: the message says what is kept
        print(f"tngd: {one_line(exc)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("tngd: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the twin's own errors (spucircuit.SPUError) are user-facing too
        if type(exc).__module__.startswith("spucircuit"):
            print(f"tngd: error: {one_line(exc)}", file=sys.stderr)
            return 2
        if debug:
            raise
        print(unexpected_line("tngd", exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
