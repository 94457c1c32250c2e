"""Cost of the factored TNGD circuit twin (``spucircuit.circuit.factored_array``) against N.

Per size N (m = b dz = 640: b = 64 samples, dz = 10 outputs), J is a random (m, N) Jacobian and H
softmax-cross-entropy Hessian blocks, both made *before* memory tracing starts (they are the
digital side's inputs). Measured, each a median over rounds:

* ``build_s``     - factored_circuit(J, H, lambda, g) without netlist: scales (incl. a 10-step CG
                    estimate of x*), component arrays, realizability (one pass over J);
* ``euler_step_s`` - one Euler-Maruyama step with all Johnson noise (one fused numba pass through
                    the chain: J array, H array, J^T array), 1 chain, from runs of >= 8 steps (per-call
                    set-up excluded); ``gemv_s`` is numpy's J @ x on the same J for scale (a step
                    reads the J / J^T buffer twice);
* ``exp_setup_s`` - the exponential scheme's per-programming set-up: K = V^T U and the noise
                    matrices (O(m^2 N) BLAS), the eigen-decomposition and the step functions (O(m^3));
  ``exp_step_s``  - one exact step afterwards (O(N m + m^2)), from runs of >= 8 steps;
Raw step-time slopes mix memory regimes (J in the last-level cache at small N, streamed from DRAM
at large N); numpy's gemv on the same J is reported as the baseline, with the slope of the
gemv-normalised step time and the slope over the sizes whose J exceeds L3.

* ``peak_ratio``  - tracemalloc peak of build + chain + spectral estimate + Euler steps, divided by
                    J.nbytes (target <= 2); ``exp_peak_ratio`` the same for the exponential set-up,
                    which also holds O(m^2) matrices (~15 m x m: dominant for small N).

Log-log slopes of the step times against N (target <= 1.1), and the seconds per TNGD iteration on
the digits data set (MLP 64-150-10, N = 11,260; batch 64, dz = 10, m = 640; t = 50 tau), split into
the digital part (forward, gradient, GGN factor Ut) and the twin (program + run), for the factored
twin with thermal noise at 300 K, without noise, and with kappa0 = 1e-3 (target < 1 s).

    python benchmarks/factored.py [--quick] [--out benchmarks/results/factored.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "factored.json"
B, DZ = 64, 10
SIZES = (1_000, 3_000, 10_000, 30_000, 100_000)
QUICK_SIZES = (1_000, 3_000, 10_000)
TARGET_SLOPE = 1.1
TARGET_PEAK = 2.0
TARGET_ITER_S = 1.0
LAMBDA = 0.01
SETTLE_S = 0.1
L3_BYTES = 0  # set from the machine (lscpu) in run_benchmark; sizes above it stream from DRAM


def _l3_bytes() -> int:
    try:
        import subprocess

        out = subprocess.run(["lscpu", "-B"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("l3 cache"):
                return int(line.split(":")[1].split()[0])
    except Exception:
        pass
    return 0


def _problem(N, seed=0):
    rng = np.random.default_rng(seed)
    m = B * DZ
    J = rng.standard_normal((m, N)) / np.sqrt(N)
    p = rng.dirichlet(np.ones(DZ), size=B)
    H = np.einsum("bi,ij->bij", p, np.eye(DZ)) - np.einsum("bi,bj->bij", p, p)
    g = J.T @ rng.standard_normal(m) / B
    return J, H, g


def _median_time(fn, rounds, min_s=0.2):
    """Median seconds per call over ``rounds`` rounds, each looping >= min_s."""
    out = []
    fn()
    for _ in range(rounds):
        time.sleep(SETTLE_S)
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_s:
                break
        out.append(dt / n)
    return statistics.median(out), out


def _size_case(N, rounds, log):
    from spucircuit.circuit.factored_array import factored_circuit
    from spucircuit.device.factored_spu import FactoredSPU

    J, H, g = _problem(N)
    x = np.random.default_rng(1).standard_normal(N)
    gemv, _ = _median_time(lambda: J @ x, rounds)
    # ---- build (timed without tracing), then the traced Euler path
    times = []
    for _ in range(rounds):
        time.sleep(SETTLE_S)
        t0 = time.perf_counter()
        fc = factored_circuit(J, H, LAMBDA, g, r_max=1e12, netlist=False, prune=True)
        times.append(time.perf_counter() - t0)
        del fc
    build = statistics.median(times)
    tracemalloc.start()
    fc = factored_circuit(J, H, LAMBDA, g, r_max=1e12, netlist=False, prune=True)
    spu = FactoredSPU(fc, scheme="euler", chains=1, seed=0, temperature_k=300.0)
    t0 = time.perf_counter()
    h = spu.auto_dt()
    t_rho = time.perf_counter() - t0
    spu.run(3 * h, dt=h, max_samples=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    K = _steps_per_call(N)
    step, step_rounds = _median_time(lambda: spu.run(K * h, dt=h, max_samples=1), rounds)
    step, step_rounds = step / K, [v / K for v in step_rounds]
    # ---- exponential scheme: set-up and steps, traced separately
    tracemalloc.start()
    t0 = time.perf_counter()
    ex = FactoredSPU(fc, scheme="exponential", chains=1, seed=0, temperature_k=300.0)
    ex.run("50tau", max_samples=1)
    setup = time.perf_counter() - t0
    exp_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hx = 50 * fc.tau_s / K  # K exact steps of 50 tau / K per call (set-up cached after the first)
    exp_step, _ = _median_time(lambda: ex.run(K * hx, dt=hx, max_samples=1), rounds)
    exp_step /= K
    row = {
        "N": N, "m": B * DZ, "J_bytes": int(J.nbytes), "gemv_s": gemv, "build_s": build,
        "spectral_estimate_s": t_rho, "euler_dt_tau": h / fc.tau_s, "euler_step_s": step,
        "euler_step_rounds_s": step_rounds, "euler_step_over_gemv": step / gemv,
        "exp_setup_s": setup, "exp_step_s": exp_step, "peak_bytes": int(peak), "peak_ratio": peak / J.nbytes,
        "exp_peak_bytes": int(exp_peak), "exp_peak_ratio": exp_peak / J.nbytes,
        "shared_J_JT_buffer": fc.components.G3 is None, "tau_s": fc.tau_s,
        "pruned_entries": fc.prune["pruned_J_entries"] + fc.prune["pruned_H_entries"],
    }
    log(f"N={N}: build {build:.3f} s, Euler step {step * 1e3:.2f} ms ({step / gemv:.2f} x gemv), "
        f"exp set-up {setup:.2f} s, exp step {exp_step * 1e3:.2f} ms, peak {peak / J.nbytes:.2f} x J")
    return row


def _steps_per_call(N):
    """Steps per timed run: ~2e7 array reads (so one call is >= ~10 ms and per-call set-up is
    negligible, as in real use: a run is many steps)."""
    return max(8, int(2e7 // (N * B * DZ)) + 1)


def _slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _tngd_iteration(iters, log):
    """Seconds per TNGD iteration (optimizer.update) on digits, MLP 64-150-10, batch 64."""
    from tngd import Batch, SoftmaxCrossEntropy, load_dataset, mlp, tngd
    from tngd.devices import ExactOUSolver, FactoredTwinSolver

    ds = load_dataset("digits")
    model = mlp((64,), 10, hidden=(150,), activation="relu")
    loss = SoftmaxCrossEntropy()
    theta0 = model.init(0)
    rng = np.random.default_rng(0)
    idx = [rng.choice(len(ds.y_train), B, replace=False) for _ in range(iters + 1)]
    configs = [("factored, 300 K Johnson noise", lambda: FactoredTwinSolver(), 0.0),
               ("factored, noise off", lambda: FactoredTwinSolver(noise=False), 0.0),
               ("factored, kappa0 = 1e-3 (no Johnson)", lambda: FactoredTwinSolver(noise=False), 1e-3),
               ("ideal ExactOUSolver (reference)", lambda: ExactOUSolver(), 0.0)]
    rows = []
    for name, make, kappa0 in configs:
        solver = make()
        opt = tngd(0.01, LAMBDA, t=50.0, kappa0=kappa0, solver=solver)
        theta, st = theta0.copy(), opt.init(theta0)
        tot, dig = [], []
        for k in range(iters + 1):
            x, y = ds.x_train[idx[k]], ds.y_train[idx[k]]
            t0 = time.perf_counter()
            Bt = Batch(model, loss, theta, x, y)
            grad = Bt.grad
            Bt.factor()
            t1 = time.perf_counter()
            upd, st = opt.update(grad, st, theta, curvature=Bt)
            t2 = time.perf_counter()
            theta = theta + upd
            if k > 0:  # the first iteration designs the scales (CG estimate) and warms numba up
                tot.append(t2 - t0)
                dig.append(t1 - t0)
        row = {"solver": name, "N": model.n_params, "m": B * DZ, "t_tau": 50.0, "iteration_s": statistics.median(tot),
               "digital_s": statistics.median(dig), "device_s": statistics.median(np.subtract(tot, dig)),
               "rounds_s": tot}
        if isinstance(solver, FactoredTwinSolver):
            row.update(redesigns=solver.redesigns, writes=solver.writes, tau_s=solver.last_circuit.tau_s,
                       pruned=solver.last_circuit.prune["pruned_J_entries"])
        rows.append(row)
        log(f"TNGD {name}: {row['iteration_s']:.3f} s/iteration (digital {row['digital_s']:.3f} s)")
    return rows


def run_benchmark(quick: bool = False, log=print) -> dict:
    global L3_BYTES
    L3_BYTES = _l3_bytes()
    sizes = QUICK_SIZES if quick else SIZES
    rounds = 3 if quick else 5
    rows = [_size_case(N, rounds, log) for N in sizes]
    Ns = [r["N"] for r in rows]
    big = [r for r in rows if r["N"] >= 3000] or rows  # slopes over the O(N m) regime
    res = {
        "benchmark": "factored", "quick": quick, "b": B, "dz": DZ, "m": B * DZ, "lambda": LAMBDA,
        "sizes": rows,
        "slope_euler_step": _slope([r["N"] for r in big], [r["euler_step_s"] for r in big]),
        "slope_exp_step": _slope([r["N"] for r in big], [r["exp_step_s"] for r in big]),
        "slope_gemv": _slope([r["N"] for r in big], [r["gemv_s"] for r in big]),
        "slope_euler_over_gemv": _slope([r["N"] for r in big], [r["euler_step_over_gemv"] for r in big]) + 1.0,
        "slope_euler_dram": _slope([r["N"] for r in rows if r["J_bytes"] > L3_BYTES],
                                   [r["euler_step_s"] for r in rows if r["J_bytes"] > L3_BYTES])
        if sum(r["J_bytes"] > L3_BYTES for r in rows) >= 2 else None,
        "slope_build": _slope([r["N"] for r in big], [r["build_s"] for r in big]),
        "slope_exp_setup": _slope([r["N"] for r in big], [r["exp_setup_s"] for r in big]),
        "slope_fit_sizes": [r["N"] for r in big], "all_sizes": Ns,
        "max_peak_ratio": max(r["peak_ratio"] for r in rows),
        "tngd": _tngd_iteration(3 if quick else 6, log),
        "targets": {"slope": TARGET_SLOPE, "peak_ratio": TARGET_PEAK, "tngd_iteration_s": TARGET_ITER_S},
        "machine": {"l3_bytes": L3_BYTES, "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
                    "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}},
    }
    return res


def format_table(res: dict) -> str:
    ok = lambda c: "ok" if c else "MISS"  # noqa: E731
    L = [f"factored circuit twin, m = b dz = {res['m']} (b = {res['b']}, dz = {res['dz']}), lambda = {res['lambda']}",
         f"{'N':>7} {'J MB':>7} {'build s':>8} {'Euler ms':>9} {'x gemv':>7} {'exp set-up s':>12} "
         f"{'exp ms':>7} {'peak/J':>7} {'exp peak/J':>10}"]
    for r in res["sizes"]:
        L.append(f"{r['N']:>7} {r['J_bytes'] / 1e6:>7.1f} {r['build_s']:>8.3f} {r['euler_step_s'] * 1e3:>9.2f} "
                 f"{r['euler_step_over_gemv']:>7.2f} {r['exp_setup_s']:>12.3f} {r['exp_step_s'] * 1e3:>7.2f} "
                 f"{r['peak_ratio']:>7.2f} {r['exp_peak_ratio']:>10.2f}")
    t = res["targets"]
    L.append(f"log-log slope vs N (N >= {res['slope_fit_sizes'][0]}): Euler step {res['slope_euler_step']:.2f} "
             f"[{ok(res['slope_euler_step'] <= t['slope'])}, target <= {t['slope']}], exponential step "
             f"{res['slope_exp_step']:.2f} [{ok(res['slope_exp_step'] <= t['slope'])}], build "
             f"{res['slope_build']:.2f}, exp set-up {res['slope_exp_setup']:.2f}")
    dram = res["slope_euler_dram"]
    L.append(f"  memory hierarchy: numpy gemv on the same J has slope {res['slope_gemv']:.2f}; Euler step / gemv "
             f"-> slope {res['slope_euler_over_gemv']:.2f}; Euler step with J beyond L3 "
             f"({res['machine']['l3_bytes'] / 2**20:.0f} MiB): " + ("n/a" if dram is None else f"{dram:.2f}"))
    L.append(f"peak memory (build + Euler) / bytes of J: max {res['max_peak_ratio']:.2f} "
             f"[{ok(res['max_peak_ratio'] <= t['peak_ratio'])}, target <= {t['peak_ratio']}]")
    L.append("TNGD iteration (digits MLP 64-150-10, batch 64, t = 50 tau):")
    for r in res["tngd"]:
        mark = f" [{ok(r['iteration_s'] < t['tngd_iteration_s'])}]" if r["solver"].startswith("factored") else ""
        L.append(f"  {r['solver']:<38} N = {r['N']}: {r['iteration_s']:.3f} s (digital {r['digital_s']:.3f} s, "
                 f"device {r['device_s']:.3f} s){mark}")
    return "\n".join(L)


def write_json(res: dict, path) -> str:
    """JSON via the package's atomic writer (never half a file); shared by every benchmark."""
    from spucircuit._util.files import atomic_write_text

    atomic_write_text(path, json.dumps(res, indent=1, default=_json_value) + "\n")
    return str(path)


def _json_value(o):
    """numpy scalars as numbers; anything else as its text (threadpoolctl reports some libraries'
    versions as functions, e.g. scipy.io's fast_matrix_market once .mtx reading has loaded it)."""
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N up to 1e4, fewer rounds")
    ap.add_argument("--out", default=None, help="JSON path (default results/factored[_quick].json)")
    a = ap.parse_args(argv)
    res = run_benchmark(quick=a.quick, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_table(res))
    out = a.out or (HERE / "results" / f"factored{'_quick' if a.quick else ''}.json")
    print(f"wrote {write_json(res, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
