"""Per-iteration cost of a training step, split into its parts, against N: the measured counterpart
of the TNGD paper's Table 1.

MLP 784-h-10 (one hidden layer, h = 1, 4, 13, 40, 126 -> N = 805 ... 100,180) on random 28x28-like
inputs (uniform in [0, 1), random labels), b = 64, dz = 10 (m = 640), lambda = 0.01, a fresh
mini-batch per iteration and theta updated as in training. Cases: Adam, NGD (dense Cholesky, only
up to N = 12,000: above, the N x N GGN and its Cholesky copy take > 2.3 GB and > 30 s per step),
NGD-CG (10 iterations), NGD-Woodbury, TNGD (t = 50 tau, SGD inner step) on the ideal exact-OU
device and on the factored circuit twin (``tngd.devices.FactoredTwinSolver``, exponential scheme)
with 300 K Johnson noise and with the noise off.

Split (``tngd.bench``): grad (forward + gradient) | curvature (GGN factor / dense F / J and H) |
upload (TNGD ``solver.prepare``: twin = mapping Ut, lambda, g onto components and building the
chain) | analog (``solver.propagate``: simulating the device; for the twin its O(m^2 N)
exponential-scheme set-up is also reported alone) | update (the rest: NGD's Cholesky, CG's
iterations, Woodbury's solve, Adam's moments, SGD step). Each part is the median over the repeats
(after warm-up: 1 iteration, 2 for the twin: scale design, numba), the total is their sum.
TNGD rows also give the estimated hardware time (``spucircuit.studies.cost.tngd_runtime_s``, as
``tngd.train`` counts it): grad + curvature + update + upload, t x 1 us and read-out (16 bit, 50 Gb/s).

Log-log slopes in N per case over N >= 3000 (the N >> m regime of the paper's complexities:
Adam O(bN), NGD O(N^3 + b dz N^2), CG O(c b N), Woodbury O(b^2 dz^2 N + b^3 dz^3), TNGD O(b dz N + t)).
Target (issue 5): a TNGD iteration on the twin at N ~ 1e4, b = 64, t = 50 tau under 1 s.

    python benchmarks/train_cost.py [--quick] [--out benchmarks/results/train_cost.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from factored import write_json  # noqa: E402  (one JSON writer for every benchmark)
B, DZ, INPUTS = 64, 10, 784
HIDDEN = (1, 4, 13, 40, 126)  # N = 795 h + 10: 805, 3190, 10345, 31810, 100180
QUICK_HIDDEN = (1, 4, 13)
T_TAU = 50.0
SLOPE_MIN_N = 3000
TARGET_N = 10_000
TARGET_ITER_S = 1.0
PAPER = {"adam": ("O(bN)", "1"), "sgd": ("O(bN)", "1"), "ngd": ("O(N^3 + b dz N^2)", "2..3"),
         "ngd-cg": ("O(c b N)", "1"), "ngd-woodbury": ("O(b^2 dz^2 N + b^3 dz^3)", "1"),
         "tngd": ("O(b dz N + t)", "1"), "tngd-adam": ("O(b dz N + t)", "1")}


def _machine() -> dict:
    import numpy
    import scipy

    info = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                   "NUMBA_NUM_THREADS")}}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [{k: d.get(k) for k in ("internal_api", "num_threads", "version", "filepath")}
                               for d in threadpool_info()]
    except Exception:  # threadpoolctl is optional
        info["threadpools"] = None
    try:
        import numba

        info["numba_threads"] = int(numba.get_num_threads())
    except Exception:
        info["numba_threads"] = None
    return info


def _slopes(rows, min_n):
    """Per case: log-log slope of the total, of every part and of the hardware estimate, over N >= min_n
    (over every size when fewer than 2 qualify)."""
    from tngd.bench import PHASES, applies, slope

    out = {}
    for case in dict.fromkeys(r["case"] for r in rows):
        rs = [r for r in rows if r["case"] == case]
        fit = [r for r in rs if r["N"] >= min_n]
        fit = fit if len({r["N"] for r in fit}) >= 2 else rs
        ns = [r["N"] for r in fit]
        s = {"sizes": ns, "total": slope(ns, [r["seconds"] for r in fit])}
        for p in PHASES:
            if applies(fit[0], p):
                s[p] = slope(ns, [r[f"{p}_s"] for r in fit])
        if "hw_iteration_s" in fit[0]:
            s["hw_estimate"] = slope(ns, [r["hw_iteration_s"] for r in fit])
        out[case] = s
    return out


def run_benchmark(quick: bool = False, log=print, *, hidden=None, inputs: int = INPUTS, batch: int = B,
                  classes: int = DZ, cases=None, repeats=None, budget_s=None, max_dense_n=None,
                  t: float = T_TAU) -> dict:
    from tngd.bench import DEFAULT_CASES, MAX_DENSE_N, run_sizes

    hidden = tuple(hidden or (QUICK_HIDDEN if quick else HIDDEN))
    cases = tuple(cases or DEFAULT_CASES)
    repeats = repeats or (3 if quick else 7)
    budget_s = budget_s if budget_s is not None else (2.0 if quick else 8.0)
    max_dense_n = max_dense_n or (4_000 if quick else MAX_DENSE_N)
    t_start = time.time()
    machine = _machine()
    rows = run_sizes(hidden, cases, inputs=inputs, batch=batch, classes=classes, repeats=repeats,
                     min_repeats=min(3, repeats), budget_s=budget_s, max_dense_n=max_dense_n, t=t, log=log)
    machine["load_avg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    ns = sorted({r["N"] for r in rows})
    n_target = min(ns, key=lambda n: abs(np.log(n / TARGET_N)))
    target = [{"case": r["case"], "N": r["N"], "seconds": r["seconds"], "ok": r["seconds"] < TARGET_ITER_S}
              for r in rows if r["N"] == n_target and r.get("solver") == "factored"]
    return {
        "benchmark": "train_cost", "quick": quick, "b": batch, "dz": classes, "m": batch * classes,
        "inputs": inputs, "hidden": list(hidden), "t_tau": t, "damping": 0.01, "cases": list(cases),
        "max_dense_n": max_dense_n, "repeats": repeats, "budget_s": budget_s,
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_start)),
        "wall_s": time.time() - t_start, "rows": rows, "slope_min_n": SLOPE_MIN_N,
        "slopes": _slopes(rows, SLOPE_MIN_N), "paper_complexity": {k: f"{v[0]}: slope {v[1]}" for k, v in PAPER.items()},
        "target": {"N": n_target, "iteration_s": TARGET_ITER_S, "rows": target}, "machine": machine,
    }


def _threads(mach) -> str:
    tp = mach.get("threadpools") or []
    blas = ", ".join(f"{d['internal_api']} {d['num_threads']}" for d in tp) or "unknown"
    env = ", ".join(f"{k}={v}" for k, v in mach["env"].items() if v is not None) or "no thread env vars"
    return f"threads: {blas}; numba {mach.get('numba_threads')}; {env}; {mach['cpus']} CPUs"


def format_table(res: dict) -> str:
    from tngd.bench import HEADER, PHASES, format_row

    mach = res["machine"]
    L = [f"training-step cost split: MLP {res['inputs']}-h-{res['dz']}, b = {res['b']}, dz = {res['dz']} "
         f"(m = {res['m']}), t = {res['t_tau']:g} tau; started {res['started_utc']} UTC, {res['wall_s']:.0f} s",
         f"  {_threads(mach)}; load avg {mach['load_avg'][0]:.2f} -> {mach['load_avg_end'][0]:.2f}"
         if mach.get("load_avg") else f"  {_threads(mach)}",
         "  ms per iteration (median of each part over the repeats; total = their sum); hw analog = TNGD's analog "
         "part estimated for hardware, upload + t x 1 us + read-out (16 bit, 50 Gb/s); hw iter. = grad + curv. + update "
         "+ hw analog", HEADER]
    prev = None
    for r in res["rows"]:
        if prev is not None and r["N"] != prev:
            L.append("")
        prev = r["N"]
        L.append(format_row(r))
    skipped = sorted({r["N"] for r in res["rows"]} - {r["N"] for r in res["rows"] if r["optimizer"] == "ngd"})
    if "ngd" in res["cases"] and skipped:
        L.append(f"  ngd (dense) skipped at N = {', '.join(map(str, skipped))} (> max_dense_n = {res['max_dense_n']})")
    tg = res["target"]
    for r in res["rows"]:
        if r["N"] == tg["N"] and r.get("solver") == "factored":
            ok = "ok" if r["seconds"] < tg["iteration_s"] else "MISS"
            L.append(f"issue-5 target, {r['case']} (N = {r['N']}, b = {res['b']}, t = {res['t_tau']:g} tau): "
                     f"{r['seconds']:.3f} s/iteration [{ok}, target < {tg['iteration_s']:g} s]: digital "
                     f"{r['grad_s'] + r['curvature_s'] + r['update_s']:.3f} s, upload {r['upload_s']:.3f} s, "
                     f"analog sim {r['analog_s']:.3f} s (exp. set-up {r['analog_setup_s']:.3f} s); "
                     f"hw estimate {r['hw_iteration_s'] * 1e3:.2f} ms")
    L.append(f"log-log slope in N (fit over N >= {res['slope_min_n']}):")
    L.append(f"  {'case':<16} {'total':>6} " + " ".join(f"{p:>9}" for p in PHASES) + f" {'hw iter.':>8}  paper")
    f = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}"  # noqa: E731
    for case, s in res["slopes"].items():
        opt = next(r["optimizer"] for r in res["rows"] if r["case"] == case)
        paper = res["paper_complexity"].get(opt, "")
        L.append(f"  {case:<16} {s['total'] if s['total'] is not None else float('nan'):6.2f} "
                 + " ".join(f(s.get(p)) for p in PHASES)
                 + (f" {s['hw_estimate']:8.2f}" if s.get("hw_estimate") is not None else f" {'':>8}")
                 + f"  {paper}" + ("" if len(s["sizes"]) > 2 else f" ({len(s['sizes'])} sizes)"))
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N up to 1e4, dense NGD up to 4000, fewer repeats")
    ap.add_argument("--hidden", type=lambda s: [int(v) for v in s.split(",")], default=None,
                    help="hidden widths, e.g. 1,4,13 (N = 795 h + 10)")
    ap.add_argument("--out", default=None, help="JSON path (default results/train_cost[_quick].json)")
    a = ap.parse_args(argv)
    res = run_benchmark(quick=a.quick, hidden=a.hidden, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_table(res))
    out = a.out or (HERE / "results" / f"train_cost{'_quick' if a.quick else ''}.json")
    print(f"wrote {write_json(res, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
