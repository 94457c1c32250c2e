"""Imperfect devices: solve error against resistor-bank bits, with and without calibration and
averaging mitigation (n = 16 and 64), the eps -> eps^2 mitigation slopes, and a noisy-twin check.

    python examples/study_example.py            # ~70 min on 2 busy cores (2026-12-02); writes examples/results/study/
    python examples/study_example.py --quick    # n = 16 only, fewer draws

Everything is computed from component values: each device is the nominal integrator array plus
one seeded draw of imperfections (spucircuit.imperfections), compiled by MNA.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import spucircuit as sc  # noqa: E402
from spucircuit.linalg.mitigation import eps_scan
from spucircuit.studies.sweep import run_study
from spucircuit.report.study import study_table, write_study

OUT = os.path.join(HERE, "results", "study")

# the device of the bits tables: 0.5 % (1 sigma) tolerance on every R and C, the study's default
# op-amp profile (precision bipolar: offsets, bias currents, gain 5e5, input noise), 16-bit DAC and
# ADC (+-2 V) of the precision converter profile, 300 K; bank over [1 kOhm, 1 MOhm], uniform in
# conductance. Each device ranges itself (autorange, the default); the oracle's scale and run times
# are shown beside it as an upper bound.
DEVICE = {"cond": 100.0, "tolerance": 0.5, "profile": "precision-bipolar", "converters": "precision",
          "dac_bits": 16, "adc_bits": 16,
          "temperature": 300.0, "eval": "steady"}
VARIANTS = {"scale": ["autorange", "oracle"], "calibrate": [False, True], "K": [1, 8]}


def bits_study(n, draws, matrices, workers, bits):
    cfg = dict(DEVICE, n=n, draws=draws, matrices=matrices)
    res = run_study(cfg, {"bits": bits, **VARIANTS}, workers=workers, progress=sys.stderr.isatty())
    write_study(res, OUT, f"bits_n{n}")
    return res


def slopes(K, out):
    fam = [sc.random_spd(8, 10.0, seed=s) for s in range(4)]
    eps = [0.2, 0.1, 0.05, 0.025, 0.0125]
    rows = {}
    for task in ("solve", "inv"):
        for scheme in ("stratified", "independent"):
            r = eps_scan(fam, eps, K=K, task=task, scheme=scheme, seed=0)
            rows[(task, scheme)] = r
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, task in zip(axes, ("solve", "inv")):
        st, ind = rows[(task, "stratified")], rows[(task, "independent")]
        e = st["eps"]
        ax.loglog(e, st["single"], "o-", label=f"one device, nearest (slope {st['slope_single']:.2f})")
        ax.loglog(e, ind["ensemble"], "s-", label=f"K={K} independent roundings (slope {ind['slope_ensemble']:.2f})")
        ax.loglog(e, st["ensemble"], "^-", label=f"K={K} stratified roundings (slope {st['slope_ensemble']:.2f})")
        ax.loglog(e, st["single"][0] * (e / e[0]), "k:", lw=0.8, label="slope 1")
        ax.loglog(e, st["ensemble"][0] * (e / e[0]) ** 2, "k--", lw=0.8, label="slope 2")
        ax.set_xlabel("component imprecision eps (bank level ratio 1 + eps)")
        ax.set_ylabel(f"relative {task} error")
        ax.set_title(f"{task}: n = 8, cond 10, 4 matrices (geometric mean)", fontsize=9)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(e, [f"{v:g}" for v in e])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "mitigation_slopes.png"), dpi=110)
    plt.close(fig)
    data = {f"{t}_{s}": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items() if k != "per_matrix"}
            for (t, s), r in rows.items()}
    with open(os.path.join(out, "mitigation_slopes.json"), "w") as f:
        json.dump(data, f, indent=1)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n = 16 only, 4 draws, K = 32 for the slopes")
    ap.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    bits = [4, 6, 8, 10, 12, 14, 16]
    lines = ["# Imperfect devices: study results (examples/study_example.py)", ""]
    t0 = time.time()
    sizes = [(16, 4 if args.quick else 8, 2)] + ([] if args.quick else [(64, 2, 1)])
    for n, draws, mats in sizes:
        t = time.time()
        res = bits_study(n, draws, mats, args.workers, bits)
        lines += [f"## Solve error vs bank bits, n = {n} (median relative error over {draws} draws x {mats} "
                  f"matrices; {time.time() - t:.0f} s)", "",
                  "Device: " + ", ".join(f"{k}={v}" for k, v in DEVICE.items()) + "; K = 8 devices, stratified "
                  "stochastic roundings; calibration = block probes + pre-distortion + offset probe.", "",
                  study_table(res, "solve_error", rows_knob="bits"), "",
                  "The error_bound each run reports (median relative bound; '-' where it is infinite, i.e. "
                  "the device cannot certify a digit from its spec: tolerances over lambda_min >= max A_ii / "
                  "kappa_max, kappa_max = 1e3; or where a converter clipped), then how often it covers the "
                  "true error among the runs that have one:", "",
                  study_table(res, "solve_error_bound", rows_knob="bits"), "",
                  study_table(res, "solve_bound", "coverage", rows_knob="bits"), ""]
        cal = [r for r in res.rows if res.points[r["point"]]["calibrate"] and res.points[r["point"]]["K"] == 1]
        if cal:
            lines += [f"Calibration cost per device (n = {n}): {cal[0]['calibration_probes']} probes, "
                      f"{np.mean([r['calibration_time_s'] for r in cal]) * 1e3:.2f} ms analog time "
                      f"(+ {np.mean([r['offset_time_s'] for r in cal]) * 1e3:.2f} ms offset probe per target); "
                      f"one solve is {np.mean([r['solve_time_s'] for r in cal]) * 1e3:.2f} ms "
                      f"(220 / lambda_min tau).", ""]
    t = time.time()
    K = 32 if args.quick else 128
    rows = slopes(K, OUT)
    lines += [f"## Mitigation slopes (error ~ eps^p), K = {K} ({time.time() - t:.0f} s)", "",
              "task | one device | K independent | K stratified", "--- | --- | --- | ---"]
    for task in ("solve", "inv"):
        st, ind = rows[(task, "stratified")], rows[(task, "independent")]
        lines.append(f"{task} | {st['slope_single']:.2f} | {ind['slope_ensemble']:.2f} | {st['slope_ensemble']:.2f}")
    lines.append("")
    # noisy twin: the steady numbers are what long noisy runs converge to
    t = time.time()
    twin = run_study(dict(DEVICE, n=16, draws=4, matrices=1, eval="twin"), {"bits": [8, 12, 16], "calibrate": [False, True]},
                     workers=args.workers)
    write_study(twin, OUT, "twin_n16")
    lines += [f"## Noisy twin check, n = 16 (eval twin, 220 / lambda_min tau per solve, 300 K; {time.time() - t:.0f} s)", "",
              study_table(twin, "solve_error", rows_knob="bits"), "",
              f"Median standard error of the twin estimate: "
              f"{np.median([r['solve_se'] for r in twin.rows]):.1e} (relative).", ""]
    lines.append(f"Total {time.time() - t0:.0f} s.")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
