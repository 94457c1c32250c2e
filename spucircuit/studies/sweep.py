"""``spu study``: sweep device imperfections, mitigation and calibration over many device draws.

A study is a grid of *points* (the cartesian product of the swept knobs, every other knob fixed)
times ``matrices`` problems times ``draws`` device instances. One *task* = one (point, matrix,
draw): build the problem, make the device(s) (an ensemble of K when K > 1), optionally calibrate,
solve (and/or invert), and record the relative error, the analog time spent and any converter
clipping. Seeds are derived from (seed, matrix index, draw index) only -- never from the worker
or the order of execution -- so results do not depend on the number of workers, and the same
device draws are reused at every point (common random numbers: a bits sweep shows the same
devices at each resolution).

Tasks run on local processes (:class:`concurrent.futures.ProcessPoolExecutor`, default) or on a
Dask cluster (``scheduler='tcp://host:port'``, needs ``dask[distributed]``). Results are written
as JSON (config, sweep, per-point summary, every row), CSV (rows) and PNG plots of each error
against the first swept knob, median with the 10-90 % band over draws and matrices.
"""
from __future__ import annotations

import concurrent.futures as cf
import itertools
import math
import multiprocessing as mp
import os
import signal
import threading
import time as _time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from spucircuit._util.jsonable import json_digest
from spucircuit._util.progress import make_meter
from spucircuit._util.quantities import parse_time
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.errors import ClippingWarning, Interrupted, StudyError
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.models import (
    InjectedNoise,
    OpAmpBandwidth,
    Parasitics,
    Rails,
    ResistorBank,
    Thermal,
    Tolerance,
)
from spucircuit.imperfections.profiles import (
    OpAmpProfile,
    converter_profile,
    opamp_profile,
)
from spucircuit.linalg.calibration import calibrate, measure_offset
from spucircuit.linalg.error_bound import (
    device_budget,
    device_inv_budget,
    pooled_budget,
    relative_bound,
)
from spucircuit.linalg.mitigation import Ensemble
from spucircuit.linalg.solve import range_device
from spucircuit.numerics.bounds import SpectrumBounds
from spucircuit.numerics.matrices import check_spd, random_spd
from spucircuit.studies.knobs import KNOB, convert, default_config


# ==================================================================================  tasks
def _seed(*parts) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _problem(p: dict, m: int, matrices):

    if matrices is not None:
        A = check_spd(matrices[m], f"matrix {m}")
    else:
        A = random_spd(int(p["n"]), float(p["cond"]), seed=_seed(p["seed"], 1, p["n"], int(p["cond"] * 1000), m))
    n = A.shape[0]
    if p["rhs"] == "ones":
        b = np.ones(n)
    else:
        b = np.random.default_rng(_seed(p["seed"], 2, n, m)).standard_normal(n)
    return A, b


def make_imperfection(p: dict, rounding: str | None = None):
    """The imperfection chain of a point's knobs (order: bank, tolerance, op-amp profile, converters,
    thermal, noise, bandwidth, parasitics)."""

    rounding = rounding or p["rounding"]
    items = []
    if p["bits"]:
        items.append(ResistorBank(int(p["bits"]), (p["r_min"], p["r_max"]), grid=p["grid"], rounding=rounding))
    if p["tolerance"]:
        items.append(Tolerance(float(p["tolerance"]), dist=p["tol_dist"]))
    # the 1/f noise only where time runs (eval twin): an exact steady read-out averages it away
    items.append(study_profile(p).imperfection(float(p["temperature"]), flicker=p["eval"] == "twin"))
    if math.isfinite(p["rails"]):
        items.append(Rails(float(p["rails"])))
    conv = converter_profile(p["converters"])
    if p["dac_bits"]:
        items.append(conv.dac(int(p["dac_bits"]), float(p["dac_fs"]),
                              rounding="stochastic" if rounding == "stochastic" else "nearest"))
    if p["adc_bits"]:
        items.append(conv.adc(int(p["adc_bits"]), float(p["adc_fs"])))
    items.append(Thermal(float(p["temperature"])))
    if p["noise_psd"]:
        items.append(InjectedNoise(float(p["noise_psd"])))
    if p["gbw"]:
        items.append(OpAmpBandwidth(float(p["gbw"]), r_out_ohm=float(p["r_out"])))
    if p["c_parasitic"]:
        if not p["gbw"]:
            raise StudyError("--c-parasitic needs the op-amp bandwidth model (--gbw > 0)")
        items.append(Parasitics(c_summing_f=float(p["c_parasitic"])))
    return chain(*items)


def study_profile(p: dict) -> OpAmpProfile:
    """The point's op-amp profile, with the explicit op-amp knobs (a finite opamp_gain, an
    opamp_offset > 0) in place of its values."""
    changes = {}
    if math.isfinite(p["opamp_gain"]):
        changes["gain"] = float(p["opamp_gain"])
    if p["opamp_offset"]:
        changes.update(offset_v=float(p["opamp_offset"]), offset_drift_v_per_k=0.0)
    return opamp_profile(p["profile"]).with_values(**changes)


def _bound(rel) -> float:
    """A relative error bound as a row value: NaN when no bound is available."""
    return float("nan") if rel is None else float(rel)


def _rel(x, ref) -> float:
    return float(np.linalg.norm(np.asarray(x) - ref) / np.linalg.norm(ref))


def run_task(spec: dict) -> dict:
    """One (point, matrix, draw): returns a flat row (errors, analog times, clipping)."""

    t0 = _time.perf_counter()
    p, m, d = spec["params"], spec["matrix"], spec["draw"]
    A, b = _problem(p, m, spec.get("matrices"))
    n = A.shape[0]
    K = int(p["K"])
    rounding = "stochastic" if K > 1 else p["rounding"]
    imp = make_imperfection(p, rounding)
    mapping = {"r_min": p["r_min"] * (1 + p["headroom"]), "r_max": p["r_max"], "kappa_max": p["kappa_max"],
               "scale": "oracle" if p["scale"] == "oracle" else "bound"}
    dev_seed = _seed(p["seed"], 3, n, m, d)
    run_seed = _seed(p["seed"], 4, spec["point"], m, d)
    row = {"point": spec["point"], "matrix": m, "draw": d, "n": n}
    clipped = saturated = 0
    bounds = SpectrumBounds.from_matrix(A, p["kappa_max"])
    slow = float(np.linalg.eigvalsh(A)[0]) if p["scale"] == "oracle" else bounds.lam_min_lower
    lam_source = "oracle" if p["scale"] == "oracle" else "spec"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClippingWarning)
        ens = Ensemble(imp, K, dev_seed, scheme=p["ensemble"], devices=p["devices"], **mapping).program(A, b)
        tau = ens.nominal.tau_s
        cals = [None] * K
        cal_time = cal_probes = 0.0
        if p["calibrate"]:
            for k, dev in enumerate(ens.members):
                sysid = {"kappa_max": p["kappa_max"], "chains": int(p["chains"])} if p["cal_method"] == "sysid" else {}
                cal = calibrate(dev, n, method=p["cal_method"], evaluate=p["cal_eval"], time_per_probe=p["cal_time"],
                                seed=_seed(run_seed, 5, k), A=A, b=b, **sysid)
                cals[k] = cal
                cal_time += cal.analog_time_s
                cal_probes += cal.probes
                dev.program_mapped(ens.nominal, calibration=cal)
        if p["task"] in ("solve", "both"):
            range_time = 0.0
            if p["scale"] == "autorange":  # every member ranges itself (its own converters)
                for k, dev in enumerate(ens.members):
                    r = range_device(dev, b, evaluate=p["eval"], kappa_max=p["kappa_max"], time=p["time"],
                                     burn_in=p["burn_in"], chains=int(p["chains"]), seed=_seed(run_seed, 8, k))
                    range_time += r["ranging_time_s"]
            offsets = [np.zeros(n)] * K
            off_time = 0.0
            if p["calibrate"] and p["offset_correction"]:
                offsets = []
                for k, dev in enumerate(ens.members):
                    m0, t_off = measure_offset(dev, evaluate=p["cal_eval"], time_per_probe=p["cal_time"],
                                               seed=_seed(run_seed, 6, k))
                    offsets.append(m0)
                    off_time += t_off
            # what a subtracted offset estimate can add to the error (it is the device's own read-out)
            off_norm = float(np.mean([np.linalg.norm(m0) for m0 in offsets]))
            if p["eval"] == "steady":
                xs, budgets = [], []
                for dev, m0 in zip(ens.members, offsets):
                    x, rep = dev.steady_x(b, warn=False)
                    clipped += rep["adc_clipped"] + rep["dac_clipped"]
                    saturated += len(rep.get("saturated", ()))
                    budgets.append(device_budget(dev, x, b, lam_lower=slow, lam_source=lam_source,
                                                 clipped=rep["adc_clipped"] + rep["dac_clipped"],
                                                 saturated=rep.get("saturated", ())))
                    xs.append(x - m0)
                x = np.mean(xs, axis=0)
                total = parse_time(p["time"], tau) if p["time"] is not None else 220.0 / slow * tau
                budget = pooled_budget(x, np.zeros(n), budgets, extra=off_norm)
                row.update(solve_error=_rel(x, np.linalg.solve(A, b)), solve_se=float("nan"),
                           solve_error_bound=_bound(budget.relative), solve_time_s=K * total + range_time)
            else:
                x, info = ens.solve(b, time=p["time"], burn_in=p["burn_in"], chains=int(p["chains"]),
                                    seed=run_seed, noise=True, samples=int(p["samples"]) or None,
                                    scale="bound" if p["scale"] == "autorange" else p["scale"],
                                    kappa_max=p["kappa_max"])
                x = x - np.mean(offsets, axis=0)
                clipped += info["clipped"]
                saturated += info["saturated"]
                eb = info["error_budget"]["absolute"]
                rel = relative_bound(x, None if eb is None else eb + off_norm)
                row.update(solve_error=_rel(x, np.linalg.solve(A, b)), solve_error_bound=_bound(rel),
                           solve_se=float(np.linalg.norm(info["standard_error"]) / np.linalg.norm(np.linalg.solve(A, b))),
                           solve_time_s=info["analog_time_s"] + range_time)
            row["offset_time_s"] = off_time
        if p["task"] in ("inv", "both"):
            # equal injected noise (as spu inv), sized for this mapping's r_min
            psd = default_injected_psd(A, mapping["r_min"], p["r_max"], p["temperature"])
            inv_ens = Ensemble(imp, K, dev_seed, scheme=p["ensemble"], devices=p["devices"],
                               noise_psd=psd, **mapping).program(A, None)
            for dev, cal in zip(inv_ens.members, cals):
                if cal is not None:
                    dev.program_mapped(inv_ens.nominal, calibration=cal)
            Ainv_ref = np.linalg.inv(A)
            if p["eval"] == "steady":
                Ai = inv_ens.steady_inverse()
                total = parse_time(p["time"], tau) if p["time"] is not None else 2000.0 / slow * tau
                budget = pooled_budget(Ai, np.zeros_like(Ai), [
                    device_inv_budget(dev, Ai, None, lam_lower=slow, lam_source=lam_source, read_out=False)
                    for dev in inv_ens.members])  # the exact stationary covariance: no noise, no read-out
                row.update(inv_error=_rel(Ai, Ainv_ref), inv_se=float("nan"), inv_error_bound=_bound(budget.relative),
                           inv_time_s=K * total)
            else:
                Ai, info = inv_ens.inv(time=p["time"], burn_in=p["burn_in"], chains=max(2, int(p["chains"])),
                                       seed=_seed(run_seed, 7), samples=int(p["samples"]) or None,
                                       scale="oracle" if p["scale"] == "oracle" else "bound", kappa_max=p["kappa_max"])
                row.update(inv_error=_rel(Ai, Ainv_ref), inv_error_bound=_bound(info["error_bound"]),
                           inv_se=float(np.linalg.norm(info["standard_error"]) / np.linalg.norm(Ainv_ref)),
                           inv_time_s=info["analog_time_s"])
    row.update(calibration_time_s=cal_time, calibration_probes=int(cal_probes), clipped=int(clipped),
               saturated=int(saturated),
               clipping_warnings=sum(1 for w in caught if issubclass(w.category, ClippingWarning)),
               tau_s=tau, cpu_s=_time.perf_counter() - t0)
    return row


# ================================================================================  runner
def expand(config: dict, sweep: dict) -> list:
    """Points: config updated with every combination of the swept values (first knob slowest)."""
    names = list(sweep)
    pts = []
    for combo in itertools.product(*[sweep[k] for k in names]):
        p = dict(config)
        p.update(zip(names, combo))
        pts.append(p)
    return pts


def _tasks(points, config, matrices):
    nm = len(matrices) if matrices is not None else int(config["matrices"])
    return [{"index": i, "point": pi, "params": p, "matrix": m, "draw": d, "matrices": matrices}
            for i, (pi, p, m, d) in enumerate((pi, p, m, d) for pi, p in enumerate(points)
                                               for m in range(nm) for d in range(int(p["draws"])))]


def _init_worker():  # pragma: no cover - runs in the workers
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us


def _stop_pool(ex) -> None:
    """End a process pool now: no new task starts, running ones are killed (a task is only worth
    keeping once finished and journaled). Further Ctrl-C are ignored meanwhile (no deadlock)."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        procs = list((getattr(ex, "_processes", None) or {}).values())
        for pr in procs:
            pr.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        for pr in procs:
            pr.join(timeout=2.0)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)


def _execute(tasks, workers, scheduler, progress, on_done=None, total=None):
    """Run ``tasks`` (each with its study-wide ``index``); returns {index: row}. ``on_done(index,
    row)`` is called in the parent as each finishes (the journal). KeyboardInterrupt stops the
    workers at once and propagates (the finished rows have been handed to on_done)."""
    bar = make_meter(progress)
    total = len(tasks) if total is None else total
    bar.start(total, "task", "spu study")
    if total > len(tasks):
        bar.update(total - len(tasks))
    results = {}

    def finish(t, row):
        results[t["index"]] = row
        if on_done is not None:
            on_done(t["index"], row)
        bar.update(1)

    try:
        if scheduler:
            try:
                from distributed import Client, as_completed
            except ImportError:
                raise StudyError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
            try:
                client = Client(scheduler)
            except (ValueError, OSError) as exc:  # a malformed or unreachable address
                raise StudyError(f"cannot use the Dask scheduler {scheduler!r}: {exc}") from None
            with client:
                futs = client.map(run_task, tasks, pure=False)
                index = {f.key: i for i, f in enumerate(futs)}
                try:
                    for f in as_completed(futs):
                        finish(tasks[index[f.key]], f.result())
                except KeyboardInterrupt:
                    client.cancel(futs)
                    raise
        elif workers == 1 or len(tasks) <= 1:
            for t in tasks:
                finish(t, run_task(t))
        else:

            env_keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            saved = {k: os.environ.get(k) for k in env_keys}
            os.environ.update({k: "1" for k in env_keys})  # one BLAS thread per worker process
            try:
                ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                            initializer=_init_worker)
                try:
                    # the workers start while SIGINT is ignored: they inherit that, so a Ctrl-C (sent to
                    # the whole process group) reaches only this process, which stops them
                    main = threading.current_thread() is threading.main_thread()
                    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
                    try:
                        futs = {ex.submit(run_task, t): t for t in tasks}
                    finally:
                        if main:
                            signal.signal(signal.SIGINT, old)
                    for f in cf.as_completed(futs):
                        finish(futs[f], f.result())
                except BaseException:
                    _stop_pool(ex)
                    raise
                ex.shutdown(wait=True)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
    finally:
        bar.close()
    return results


def _q(a, q):
    a = np.asarray([v for v in a if v is not None and np.isfinite(v)], float)
    return float(np.quantile(a, q)) if a.size else float("nan")


@dataclass
class StudyResult:
    config: dict
    sweep: dict
    points: list
    rows: list
    wall_s: float
    workers: Any
    scheduler: str | None

    @property
    def metrics(self) -> list:
        return [k for k in ("solve_error", "inv_error") if any(k in r for r in self.rows)]

    def summary(self) -> list:
        out = []
        for pi, p in enumerate(self.points):
            rows = [r for r in self.rows if r["point"] == pi]
            s = {"point": pi, **{k: p[k] for k in self.sweep}, "tasks": len(rows)}
            for met in self.metrics + ["solve_time_s", "inv_time_s", "calibration_time_s"]:
                vals = [r[met] for r in rows if met in r]
                if not vals:
                    continue
                if met.endswith("_error"):
                    pos = [v for v in vals if v > 0]
                    s[met + "_median"] = _q(vals, 0.5)
                    s[met + "_p10"] = _q(vals, 0.1)
                    s[met + "_p90"] = _q(vals, 0.9)
                    s[met + "_geomean"] = float(np.exp(np.mean(np.log(pos)))) if pos else 0.0
                else:
                    s[met + "_mean"] = float(np.mean(vals))
            for task in ("solve", "inv"):  # how often the reported bound covers the true error, how tight it is
                pairs = [(r[f"{task}_error"], r[f"{task}_error_bound"]) for r in rows if f"{task}_error_bound" in r]
                if pairs:  # NaN: no bound (a clip, a model without one); inf: a bound that says nothing
                    have = [(e, bnd) for e, bnd in pairs if not np.isnan(bnd)]
                    s[f"{task}_bound_available"] = len(have) / len(pairs)
                    s[f"{task}_error_bound_median"] = float(np.median([bnd for _, bnd in have])) if have else float("nan")
                    s[f"{task}_bound_coverage"] = float(np.mean([e <= bnd for e, bnd in have])) if have else float("nan")
            s["clipped"] = int(sum(r["clipped"] for r in rows))
            out.append(s)
        return out

    def to_dict(self) -> dict:
        cfg = {k: (v if not (isinstance(v, float) and not math.isfinite(v)) else str(v)) for k, v in self.config.items()}
        return {"config": cfg, "sweep": self.sweep, "summary": self.summary(), "rows": self.rows,
                "wall_s": self.wall_s, "workers": self.workers, "scheduler": self.scheduler,
                "tasks": len(self.rows)}


class StudyInterrupted(Interrupted):
    """Ctrl-C stopped a study after ``done`` of ``total`` tasks; ``kept``: where the finished ones are."""

    def __init__(self, done: int, total: int, kept: str = "handed to on_done"):
        self.done, self.total = done, total
        super().__init__(f"interrupted after {done} of {total} tasks; the finished ones are {kept}")


MAX_TASKS = 100_000  # default limit on a study's task count (run_study(max_tasks=), spu study --max-tasks)


def task_count(config: dict, sweep: dict, n_matrices: int) -> int:
    """points x matrices x draws, multiplied out from the sweep (no task list is built)."""
    draws = [int(v) for v in sweep["draws"]] if "draws" in sweep else [int(config["draws"])]
    points = math.prod(len(v) for k, v in sweep.items() if k != "draws")
    return points * int(n_matrices) * sum(draws)


def _plan(config, sweep, matrices, max_tasks: int = MAX_TASKS):
    """The study's normalised knobs, sweep, matrices, points and tasks (StudyError on bad ones, and
    on a task count above ``max_tasks``, checked before the task list is built)."""
    cfg = default_config()
    for k, v in (config or {}).items():
        cfg[k] = convert(k, v)
    sweep = {k: [convert(k, v) for v in vals] for k, vals in (sweep or {}).items()}
    for k in sweep:
        if not KNOB[k].sweep:
            raise StudyError(f"knob {k!r} cannot be swept")
    if matrices is not None:
        matrices = [check_spd(M, f"matrix {i}") for i, M in enumerate(matrices)]
        if not matrices:
            raise StudyError("empty list of matrices")
        if "n" in sweep or "cond" in sweep:
            raise StudyError("n and cond cannot be swept with user matrices")
    count = task_count(cfg, sweep, len(matrices) if matrices is not None else cfg["matrices"])
    if count > max_tasks:
        raise StudyError(f"this study has {count:,} tasks (points x matrices x draws), above the limit of "
                         f"{max_tasks:,}: sweep fewer values or fewer draws, or raise the limit (--max-tasks, or "
                         "run_study(max_tasks=))")
    points = expand(cfg, sweep)
    for p in points:  # fail early, in the parent, on inconsistent knobs
        make_imperfection(p, "stochastic" if p["K"] > 1 else p["rounding"])
        if p["bits"] and p["bits"] > 30:
            raise StudyError(f"bits = {p['bits']} is not a realistic bank (max 30)")
        if p["gbw"] and math.isfinite(p["rails"]):
            raise StudyError("--rails with the op-amp bandwidth model (--gbw > 0) is not modelled: use one or the other")
        if p["r_min"] * (1 + p["headroom"]) > p["r_max"]:
            raise StudyError(f"r_min (1 + headroom) = {p['r_min'] * (1 + p['headroom']):g} Ohm is above r_max = "
                             f"{p['r_max']:g} Ohm")
    return cfg, sweep, matrices, points, _tasks(points, cfg, matrices)


def study_digest(config: dict | None = None, sweep: dict | None = None, *, matrices=None,
                 max_tasks: int = MAX_TASKS) -> str:
    """What identifies a study's tasks (its knobs after defaults, sweep, matrices' bytes and task
    count): a journal of finished tasks belongs to the study with this digest."""
    cfg, sweep, matrices, _, tasks = _plan(config, sweep, matrices, max_tasks)
    blobs = [b for M in matrices or () for b in (str(M.shape).encode(),
                                                  np.ascontiguousarray(M, dtype=np.float64).tobytes())]
    return json_digest({"config": cfg, "sweep": sweep, "tasks": len(tasks)}, *blobs)


def run_study(config: dict | None = None, sweep: dict | None = None, *, matrices=None, workers: int | None = None,
              scheduler: str | None = None, progress: bool = False, done: dict | None = None,
              on_done=None, max_tasks: int = MAX_TASKS) -> StudyResult:
    """Run a study. ``config``: knob values (defaults :func:`default_config`); ``sweep``: {knob:
    [values]}; ``matrices``: optional list of user SPD matrices (replaces the random ones; then
    ``n`` and ``cond`` are ignored); ``workers``: local processes (default: all cores; 1 runs
    in-process); ``scheduler``: Dask scheduler address.

    ``done``: {task index: row} already finished (from a journal, :mod:`spucircuit.report.journal`):
    those tasks are not run again, and the result is identical to an uninterrupted run's.
    ``on_done(index, row)`` is called as each task finishes (to journal it). Ctrl-C raises
    :class:`StudyInterrupted` after stopping the workers. ``max_tasks`` bounds the task count
    (checked before anything is built or run)."""
    cfg, sweep, matrices, points, tasks = _plan(config, sweep, matrices, max_tasks)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise StudyError(f"workers must be an integer >= 1, got {workers!r}")
    if workers is None:
        workers = os.cpu_count() or 1
    done = dict(done or {})
    todo = [t for t in tasks if t["index"] not in done]
    finished = [len(done)]

    def record(i, row):
        finished[0] += 1
        if on_done is not None:
            on_done(i, row)

    t0 = _time.perf_counter()
    try:
        done.update(_execute(todo, int(workers), scheduler, progress, record, total=len(tasks)))
    except KeyboardInterrupt:
        raise StudyInterrupted(finished[0], len(tasks)) from None
    rows = [done[t["index"]] for t in tasks]
    return StudyResult(config=cfg, sweep=sweep, points=points, rows=rows, wall_s=_time.perf_counter() - t0,
                       workers=None if scheduler else int(workers), scheduler=scheduler)
