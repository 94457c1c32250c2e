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

import csv
import io
import itertools
import json
import math
import os
import time as _time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from spucircuit.constants import K_B, T_ROOM
from spucircuit.errors import SPUError


class StudyError(SPUError):
    """A study knob, sweep or matrix file is unusable."""


# ===================================================================================  knobs
@dataclass(frozen=True)
class Knob:
    name: str
    type: str  # 'int', 'float', 'str', 'bool', 'time'
    default: Any
    help: str
    log: bool = False  # plot on a log axis when swept
    choices: tuple | None = None
    sweep: bool = True


KNOBS = [
    # problem
    Knob("n", "int", 16, "matrix size of the random SPD problems", log=True),
    Knob("cond", "float", 100.0, "condition number of the random SPD problems", log=True),
    Knob("matrices", "int", 2, "number of random problems per point (ignored with --matrix files)", sweep=False),
    Knob("rhs", "str", "random", "right-hand side: 'random' (standard normal) or 'ones'", choices=("random", "ones")),
    Knob("task", "str", "solve", "what to compute: solve, inv or both", choices=("solve", "inv", "both"), sweep=False),
    # resistor bank
    Knob("bits", "int", 0, "resolution of the programmable coupling resistors, bits (0 = continuous, ideal)"),
    Knob("grid", "str", "conductance", "resistor bank levels: uniform in conductance, in resistance, or log-spaced",
         choices=("conductance", "resistance", "log")),
    Knob("rounding", "str", "nearest", "bank rounding of a single device (ensembles, K > 1, always round "
         "stochastically, unbiased in conductance)", choices=("nearest", "stochastic")),
    Knob("r_min", "float", 1e3, "smallest bank resistance, Ohm"),
    Knob("r_max", "float", 1e6, "largest bank resistance, Ohm"),
    Knob("headroom", "float", 0.05, "the mapping puts the largest entry at r_min (1 + headroom), leaving "
         "room for calibration to raise conductances"),
    # fabrication
    Knob("tolerance", "float", 0.0, "fabrication tolerance of every resistor and capacitor, percent "
         "(one sigma for gaussian)", log=True),
    Knob("tol_dist", "str", "gaussian", "tolerance distribution", choices=("gaussian", "uniform")),
    # converters
    Knob("dac_bits", "int", 16, "input DAC resolution, bits (0 = ideal)"),
    Knob("dac_fs", "float", 2.0, "input DAC full scale, +- V"),
    Knob("adc_bits", "int", 16, "read-out ADC resolution, bits (0 = ideal)"),
    Knob("adc_fs", "float", 2.0, "read-out ADC full scale, +- V (clipping is counted and reported)"),
    # thermal / noise
    Knob("temperature", "float", T_ROOM, "temperature (Johnson noise of every resistor), K", log=True),
    Knob("noise_psd", "float", 0.0, "extra white noise current injected at every summing node, A^2/Hz", log=True),
    # op-amps
    Knob("opamp_gain", "float", math.inf, "op-amp open-loop gain (inf = ideal)", log=True),
    Knob("opamp_offset", "float", 0.0, "op-amp input offset voltage, V (one sigma)", log=True),
    Knob("gbw", "float", 0.0, "op-amp gain-bandwidth product, Hz (0 = no bandwidth model; adds a state "
         "per op-amp)", log=True),
    Knob("r_out", "float", 50.0, "op-amp output resistance with the bandwidth model, Ohm"),
    Knob("c_parasitic", "float", 0.0, "parasitic capacitance summing node -> ground, F (needs --gbw)", log=True),
    # evaluation
    Knob("eval", "str", "steady", "'steady': exact noise-free infinite-time read-out (through DAC and ADC; "
         "Lyapunov covariance for inv); 'twin': simulate the noisy circuit for --time", choices=("steady", "twin")),
    Knob("time", "time", None, "analog time per solve/inv run: seconds or e.g. '500tau' (default: 220 "
         "(solve) or 2000 (inv) / lambda_min tau)", log=True),
    Knob("burn_in", "time", None, "discarded initial time per run (default: as spu solve)", sweep=False),
    Knob("samples", "int", 0, "ADC samples per run and chain (0 = up to 20000)", log=True),
    Knob("chains", "int", 1, "independent chains per run (twin)"),
    # mitigation
    Knob("K", "int", 1, "averaging mitigation: ensemble of K devices with stratified unbiased roundings "
         "(1 = off)", log=True),
    Knob("ensemble", "str", "stratified", "ensemble roundings: stratified (mean within a step/K) or independent",
         choices=("stratified", "independent")),
    Knob("devices", "str", "separate", "ensemble members: K separate boards (independent fabrication errors) "
         "or one board reprogrammed K times", choices=("separate", "reprogram")),
    # calibration
    Knob("calibrate", "bool", False, "calibrate every device from its own probe measurements and "
         "pre-distort the programmed values"),
    Knob("cal_method", "str", "blocks", "'blocks' (once per device, 6(n-1) fast probes) or 'matrix' "
         "(probe the target, n+1 probes)", choices=("blocks", "matrix")),
    Knob("cal_eval", "str", "steady", "probe read-outs: exact ('steady') or simulated with noise ('twin')",
         choices=("steady", "twin")),
    Knob("cal_time", "time", None, "averaging window per probe (default 50 / lambda_min tau)", sweep=False),
    Knob("offset_correction", "bool", True, "with --calibrate: subtract the b = 0 read-out (one more probe)"),
    # statistics
    Knob("draws", "int", 8, "device instances per matrix and point", sweep=False),
    Knob("seed", "int", 0, "base seed (matrices, devices and noise derive from it)", sweep=False),
]
KNOB = {k.name: k for k in KNOBS}


def default_config() -> dict:
    return {k.name: k.default for k in KNOBS}


_TRUE = {"1", "true", "on", "yes", "y"}
_FALSE = {"0", "false", "off", "no", "n"}


def convert(name: str, value):
    """One knob value from text (or a Python value), validated."""
    knob = KNOB.get(name)
    if knob is None:
        raise StudyError(f"unknown study knob {name!r}; knobs are: {', '.join(KNOB)}")
    if value is None:
        return None
    if knob.type == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise StudyError(f"{name}: expected on/off, got {value!r}")
    if knob.type == "int":
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StudyError(f"{name}: expected an integer, got {value!r}") from None
        if not (np.isfinite(v) and v == int(v)):
            raise StudyError(f"{name}: expected an integer, got {value!r}")
        v = int(v)
        if v < 0 or (name in ("n", "matrices", "draws", "K", "chains") and v < 1):
            raise StudyError(f"{name}: must be >= {1 if name in ('n', 'matrices', 'draws', 'K', 'chains') else 0}, got {v}")
        return v
    if knob.type == "float":
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise StudyError(f"{name}: expected a number, got {value!r}") from None
        if math.isnan(v) or (v < 0) or (math.isinf(v) and name != "opamp_gain"):
            raise StudyError(f"{name}: expected a finite number >= 0, got {value!r}")
        return v
    if knob.type == "time":
        from spucircuit._util.quantities import parse_time

        if isinstance(value, str) and value.strip().lower().endswith("tau"):
            parse_time(value, 1.0)  # validate
            return value.strip().lower().replace(" ", "")
        return parse_time(value)
    s = str(value).strip()
    if knob.choices and s not in knob.choices:
        raise StudyError(f"{name}: expected one of {', '.join(knob.choices)}, got {value!r}")
    return s


def parse_values(name: str, text: str) -> list:
    """Values of a swept knob: 'a,b,c', 'start:stop:step' (inclusive, numeric) or
    'log:start:stop:count' (geometric)."""
    knob = KNOB.get(name)
    if knob is None:
        raise StudyError(f"unknown study knob {name!r}; knobs are: {', '.join(KNOB)}")
    if not knob.sweep:
        raise StudyError(f"knob {name!r} cannot be swept (set it with --{name.replace('_', '-')})")
    text = str(text).strip()
    try:
        if text.startswith("log:"):
            a, b, c = text[4:].split(":")
            vals = list(np.geomspace(float(a), float(b), int(c)))
        elif ":" in text and knob.type in ("int", "float"):
            parts = [float(x) for x in text.split(":")]
            if len(parts) != 3 or parts[2] == 0:
                raise ValueError
            a, b, st = parts
            cnt = int(math.floor((b - a) / st + 1e-9)) + 1
            if cnt < 1 or cnt > 10_000:
                raise ValueError
            vals = [a + i * st for i in range(cnt)]
        else:
            vals = [v for v in text.split(",") if v.strip()]
    except ValueError:
        raise StudyError(f"cannot parse values {text!r} for {name}: use 'a,b,c', 'start:stop:step' or "
                         "'log:start:stop:count'") from None
    if not vals:
        raise StudyError(f"no values given for {name}")
    return [convert(name, v) for v in vals]


def parse_sweep(items) -> dict:
    """['bits=4:16:2', 'calibrate=off,on'] -> {'bits': [...], 'calibrate': [...]} (order kept)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise StudyError(f"--sweep needs NAME=VALUES, got {item!r}")
        name, vals = item.split("=", 1)
        name = name.strip().replace("-", "_")
        if name in out:
            raise StudyError(f"knob {name!r} swept twice")
        out[name] = parse_values(name, vals)
    return out


# ==================================================================================  tasks
def _seed(*parts) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _problem(p: dict, m: int, matrices):
    from spucircuit.numerics.matrices import check_spd, random_spd

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
    """The imperfection chain of a point's knobs (order: bank, tolerance, op-amps, converters,
    thermal, noise, bandwidth, parasitics)."""
    from spucircuit.imperfections.models import (
        ADC,
        DAC,
        InjectedNoise,
        OpAmpBandwidth,
        OpAmpGain,
        OpAmpOffset,
        Parasitics,
        ResistorBank,
        Thermal,
        Tolerance,
        chain,
    )

    rounding = rounding or p["rounding"]
    items = []
    if p["bits"]:
        items.append(ResistorBank(int(p["bits"]), (p["r_min"], p["r_max"]), grid=p["grid"], rounding=rounding))
    if p["tolerance"]:
        items.append(Tolerance(float(p["tolerance"]), dist=p["tol_dist"]))
    if math.isfinite(p["opamp_gain"]):
        items.append(OpAmpGain(float(p["opamp_gain"])))
    if p["opamp_offset"]:
        items.append(OpAmpOffset(float(p["opamp_offset"])))
    if p["dac_bits"]:
        items.append(DAC(int(p["dac_bits"]), float(p["dac_fs"]), rounding="stochastic" if rounding == "stochastic" else "nearest"))
    if p["adc_bits"]:
        items.append(ADC(int(p["adc_bits"]), float(p["adc_fs"])))
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


def _rel(x, ref) -> float:
    return float(np.linalg.norm(np.asarray(x) - ref) / np.linalg.norm(ref))


def run_task(spec: dict) -> dict:
    """One (point, matrix, draw): returns a flat row (errors, analog times, clipping)."""
    from spucircuit.linalg.calibration import calibrate, measure_offset
    from spucircuit._util.quantities import parse_time
    from spucircuit.linalg.mitigation import Ensemble
    from spucircuit.imperfections.models import ClippingWarning

    t0 = _time.perf_counter()
    p, m, d = spec["params"], spec["matrix"], spec["draw"]
    A, b = _problem(p, m, spec.get("matrices"))
    n = A.shape[0]
    K = int(p["K"])
    rounding = "stochastic" if K > 1 else p["rounding"]
    imp = make_imperfection(p, rounding)
    mapping = {"r_min": p["r_min"] * (1 + p["headroom"]), "r_max": p["r_max"]}
    dev_seed = _seed(p["seed"], 3, n, m, d)
    run_seed = _seed(p["seed"], 4, spec["point"], m, d)
    row = {"point": spec["point"], "matrix": m, "draw": d, "n": n}
    clipped = 0
    lam = np.linalg.eigvalsh(A)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClippingWarning)
        ens = Ensemble(imp, K, dev_seed, scheme=p["ensemble"], devices=p["devices"], **mapping).program(A, b)
        tau = ens.nominal.tau_s
        cals = [None] * K
        cal_time = cal_probes = 0.0
        if p["calibrate"]:
            for k, dev in enumerate(ens.members):
                cal = calibrate(dev, n, method=p["cal_method"], evaluate=p["cal_eval"], time_per_probe=p["cal_time"],
                                seed=_seed(run_seed, 5, k), A=A, b=b)
                cals[k] = cal
                cal_time += cal.analog_time_s
                cal_probes += cal.probes
                dev.program_mapped(ens.nominal, calibration=cal)
        if p["task"] in ("solve", "both"):
            offsets = [np.zeros(n)] * K
            off_time = 0.0
            if p["calibrate"] and p["offset_correction"]:
                offsets = []
                for k, dev in enumerate(ens.members):
                    m0, t_off = measure_offset(dev, evaluate=p["cal_eval"], time_per_probe=p["cal_time"],
                                               seed=_seed(run_seed, 6, k))
                    offsets.append(m0)
                    off_time += t_off
            if p["eval"] == "steady":
                xs = []
                for dev, m0 in zip(ens.members, offsets):
                    x, rep = dev.steady_x(b, warn=False)
                    clipped += rep["adc_clipped"] + rep["dac_clipped"]
                    xs.append(x - m0)
                x = np.mean(xs, axis=0)
                total = parse_time(p["time"], tau) if p["time"] is not None else 220.0 / lam[0] * tau
                row.update(solve_error=_rel(x, np.linalg.solve(A, b)), solve_se=float("nan"),
                           solve_time_s=K * total)
            else:
                x, info = ens.solve(b, time=p["time"], burn_in=p["burn_in"], chains=int(p["chains"]),
                                    seed=run_seed, noise=True, samples=int(p["samples"]) or None)
                x = x - np.mean(offsets, axis=0)
                clipped += info["clipped"]
                row.update(solve_error=_rel(x, np.linalg.solve(A, b)),
                           solve_se=float(np.linalg.norm(info["standard_error"]) / np.linalg.norm(np.linalg.solve(A, b))),
                           solve_time_s=info["analog_time_s"])
            row["offset_time_s"] = off_time
        if p["task"] in ("inv", "both"):
            # equal injected noise (as spu inv): 1e4 x the largest Johnson PSD on a summing node
            g_unit = 1.0 / (mapping["r_min"] * np.max(np.abs(A)))
            g_row = g_unit * np.abs(A).sum(axis=1).max() + 1.0 / p["r_max"]
            psd = 1e4 * 4.0 * K_B * max(p["temperature"], T_ROOM) * g_row
            inv_ens = Ensemble(imp, K, dev_seed, scheme=p["ensemble"], devices=p["devices"],
                               noise_psd=psd, **mapping).program(A, None)
            for dev, cal in zip(inv_ens.members, cals):
                if cal is not None:
                    dev.program_mapped(inv_ens.nominal, calibration=cal)
            Ainv_ref = np.linalg.inv(A)
            if p["eval"] == "steady":
                Ai = inv_ens.steady_inverse()
                total = parse_time(p["time"], tau) if p["time"] is not None else 2000.0 / lam[0] * tau
                row.update(inv_error=_rel(Ai, Ainv_ref), inv_se=float("nan"), inv_time_s=K * total)
            else:
                Ai, info = inv_ens.inv(time=p["time"], burn_in=p["burn_in"], chains=max(2, int(p["chains"])),
                                       seed=_seed(run_seed, 7), samples=int(p["samples"]) or None)
                row.update(inv_error=_rel(Ai, Ainv_ref),
                           inv_se=float(np.linalg.norm(info["standard_error"]) / np.linalg.norm(Ainv_ref)),
                           inv_time_s=info["analog_time_s"])
    row.update(calibration_time_s=cal_time, calibration_probes=int(cal_probes), clipped=int(clipped),
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


def _execute(tasks, workers, scheduler, progress):
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), unit="task", desc="spu study", disable=not progress)
    results = [None] * len(tasks)
    try:
        if scheduler:
            try:
                from distributed import Client, as_completed
            except ImportError:
                raise StudyError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
            with Client(scheduler) as client:
                futs = client.map(run_task, tasks, pure=False)
                index = {f.key: i for i, f in enumerate(futs)}
                for f in as_completed(futs):
                    results[index[f.key]] = f.result()
                    bar.update(1)
        elif workers == 1 or len(tasks) <= 1:
            for i, t in enumerate(tasks):
                results[i] = run_task(t)
                bar.update(1)
        else:
            import concurrent.futures as cf
            import multiprocessing as mp

            env_keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            saved = {k: os.environ.get(k) for k in env_keys}
            os.environ.update({k: "1" for k in env_keys})  # one BLAS thread per worker process
            try:
                with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                            initializer=_init_worker) as ex:
                    futs = {ex.submit(run_task, t): i for i, t in enumerate(tasks)}
                    for f in cf.as_completed(futs):
                        results[futs[f]] = f.result()
                        bar.update(1)
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
            s["clipped"] = int(sum(r["clipped"] for r in rows))
            out.append(s)
        return out

    def to_dict(self) -> dict:
        cfg = {k: (v if not (isinstance(v, float) and not math.isfinite(v)) else str(v)) for k, v in self.config.items()}
        return {"config": cfg, "sweep": self.sweep, "summary": self.summary(), "rows": self.rows,
                "wall_s": self.wall_s, "workers": self.workers, "scheduler": self.scheduler,
                "tasks": len(self.rows)}

    def write(self, out_dir: str, name: str = "study", plot: bool = True) -> list:
        from spucircuit._util.files import atomic_write_text

        os.makedirs(out_dir, exist_ok=True)
        paths = []
        js = os.path.join(out_dir, f"{name}.json")
        atomic_write_text(js, json.dumps(_strict(self.to_dict()), indent=1, allow_nan=False))
        paths.append(js)
        for kind, rows in (("rows", self.rows), ("summary", self.summary())):
            cp = os.path.join(out_dir, f"{name}_{kind}.csv" if kind == "summary" else f"{name}.csv")
            atomic_write_text(cp, _csv(rows, self.sweep if kind == "rows" else {}, self.points if kind == "rows" else None))
            paths.append(cp)
        if plot:
            paths += self.plot(out_dir, name)
        return paths

    def plot(self, out_dir: str, name: str = "study") -> list:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from spucircuit._util.files import _atomic_bytes

        names = list(self.sweep)
        xname = names[0] if names else None
        others = names[1:]
        summ = self.summary()
        paths = []
        for met in self.metrics:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            groups: dict = {}
            for s in summ:
                key = tuple(s[k] for k in others)
                groups.setdefault(key, []).append(s)
            for key, ss in groups.items():
                xs = [s[xname] if xname else 0 for s in ss]
                xs = [_num(x) for x in xs]
                med = [s.get(met + "_median", np.nan) for s in ss]
                lo = [s.get(met + "_p10", np.nan) for s in ss]
                hi = [s.get(met + "_p90", np.nan) for s in ss]
                label = ", ".join(f"{k}={_fmt(v)}" for k, v in zip(others, key)) or "median"
                line, = ax.plot(xs, med, "o-", label=label)
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
            lows = [s.get(met + "_p10", np.nan) for s in summ]
            if lows and np.all(np.asarray(lows) > 0):
                ax.set_yscale("log")
            if xname and KNOB[xname].log and all(_num(s[xname]) > 0 for s in summ):
                ax.set_xscale("log")
            ax.set_xlabel(_axis_label(xname))
            ax.set_ylabel(f"relative {met.replace('_error', '')} error")
            draws = self.config["draws"]
            ax.set_title(f"{met.replace('_', ' ')}: median and 10-90 % over {draws} draws x matrices", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            plt.close(fig)
            path = os.path.join(out_dir, f"{name}_{met}.png")
            _atomic_bytes(path, buf.getvalue())
            paths.append(path)
        return paths


def _num(x):
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return float(x)
    return x


def _fmt(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _axis_label(name):
    if name is None:
        return ""
    units = {"tolerance": "tolerance, %", "temperature": "temperature, K", "time": "analog time",
             "noise_psd": "injected noise PSD, A^2/Hz", "opamp_gain": "open-loop gain",
             "opamp_offset": "offset, V", "gbw": "gain-bandwidth, Hz", "bits": "resistor bank bits",
             "K": "ensemble size K", "samples": "ADC samples per run"}
    return units.get(name, name)


def _strict(o):
    if isinstance(o, dict):
        return {str(k): _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if isinstance(o, np.ndarray):
        return _strict(o.tolist())
    if isinstance(o, (np.floating, float)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def _csv(rows, sweep, points) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    extra = list(sweep)
    keys = extra + [k for k in rows[0] if k not in extra]
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        rr = dict(r)
        if points is not None:
            rr.update({k: points[r["point"]][k] for k in extra})
        w.writerow({k: _fmt(v) if isinstance(v, bool) else v for k, v in rr.items()})
    return buf.getvalue()


def run_study(config: dict | None = None, sweep: dict | None = None, *, matrices=None, workers: int | None = None,
              scheduler: str | None = None, progress: bool = False) -> StudyResult:
    """Run a study. ``config``: knob values (defaults :func:`default_config`); ``sweep``: {knob:
    [values]}; ``matrices``: optional list of user SPD matrices (replaces the random ones; then
    ``n`` and ``cond`` are ignored); ``workers``: local processes (default: all cores; 1 runs
    in-process); ``scheduler``: Dask scheduler address."""
    cfg = default_config()
    for k, v in (config or {}).items():
        cfg[k] = convert(k, v)
    sweep = {k: [convert(k, v) for v in vals] for k, vals in (sweep or {}).items()}
    for k in sweep:
        if not KNOB[k].sweep:
            raise StudyError(f"knob {k!r} cannot be swept")
    if matrices is not None:
        from spucircuit.numerics.matrices import check_spd

        matrices = [check_spd(np.asarray(M, float), f"matrix {i}") for i, M in enumerate(matrices)]
        if not matrices:
            raise StudyError("empty list of matrices")
        if "n" in sweep or "cond" in sweep:
            raise StudyError("n and cond cannot be swept with user matrices")
    points = expand(cfg, sweep)
    for p in points:  # fail early, in the parent, on inconsistent knobs
        make_imperfection(p, "stochastic" if p["K"] > 1 else p["rounding"])
        if p["bits"] and p["bits"] > 30:
            raise StudyError(f"bits = {p['bits']} is not a realistic bank (max 30)")
    tasks = _tasks(points, cfg, matrices)
    if workers is None:
        workers = os.cpu_count() or 1
    t0 = _time.perf_counter()
    rows = _execute(tasks, int(workers), scheduler, progress)
    return StudyResult(config=cfg, sweep=sweep, points=points, rows=rows, wall_s=_time.perf_counter() - t0,
                       workers=None if scheduler else int(workers), scheduler=scheduler)


def load_matrices(paths) -> list:
    out = []
    for p in paths:
        if not os.path.exists(p):
            raise StudyError(f"matrix file not found: {p}")
        try:
            out.append(np.load(p, allow_pickle=False))
        except Exception as exc:
            raise StudyError(f"cannot read matrix file {p}: {exc}") from None
    return out


def table(result: StudyResult, metric: str = "solve_error", stat: str = "median", rows_knob: str | None = None,
          cols_knobs: list | None = None) -> str:
    """A plain-text table of a summary statistic: one row per value of ``rows_knob`` (default the
    first swept knob), one column per combination of the others."""
    names = list(result.sweep)
    rk = rows_knob or (names[0] if names else None)
    ck = cols_knobs if cols_knobs is not None else [k for k in names if k != rk]
    summ = result.summary()
    rvals = sorted({s[rk] for s in summ}, key=_num) if rk else [None]
    cvals = list(dict.fromkeys(tuple(s[k] for k in ck) for s in summ))
    head = [rk or ""] + [", ".join(f"{k}={_fmt(v)}" for k, v in zip(ck, c)) or stat for c in cvals]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for rv in rvals:
        cells = [_fmt(rv)]
        for c in cvals:
            hit = [s for s in summ if (rk is None or s[rk] == rv) and tuple(s[k] for k in ck) == c]
            v = hit[0].get(f"{metric}_{stat}") if hit else None
            cells.append(f"{v:.2e}" if v is not None and np.isfinite(v) else "-")
        lines.append(" | ".join(cells))
    return "\n".join(lines)
