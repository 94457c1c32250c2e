"""Per-step cost of the twin's time stepping, against the bare BLAS / CSR operation it wraps.

One step of the twin is  x <- M x + c + N xi  for k chains at once (``spucircuit.integrators``).
Its unavoidable core is the product with M: a gemv (1 chain) or a gemm (k chains) for dense M, a
CSR mat-vec for sparse M. This benchmark times one step of ``integrators.run`` on the compiled
state space of ``integrator_array(random_spd(n, cond=10, seed=0), b)`` and divides it by numpy's
own ``M @ x`` (gemv, 1 chain) or ``X @ M`` (gemm, X: 64 x n), both measured in the same run,
interleaved in rounds so that background load hits both alike; every figure is a median.

Cases (dense n = 64, 256, 1024; 1 and 64 chains):

* ``euler/full``  - Euler-Maruyama with the full compiled diffusion (noise_mode 2: the inverting
  buffers' resistor noise is correlated across rows, so Q is dense and N is an n x r factor);
* ``euler/diag``  - the same with the noise restricted to diag(Q) (noise_mode 1);
* ``euler/off``   - no noise (noise_mode 0): the bare recursion x <- M x + c;
* ``exact/full``  - the exact discretisation (M = expm(F h), full Q_h), 1 and 64 chains;
* ``sparse``      - a tridiagonal SPD matrix (n = 4096) whose compiled drift is CSR, against
  scipy's CSR mat-vec (1 chain) and CSR @ (n x 64) (64 chains).

A non-zero right-hand side b (fixed seed) keeps the noise-off state at x* = A^-1 b; with b = 0
it would decay through subnormal numbers, which are slow on x86 and would distort the timing.

Target: at n = 1024 a step costs at most 2x numpy's gemv (1 chain) and gemm (64 chains).

    python benchmarks/integrator.py [--quick] [--out benchmarks/results/integrator.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

TARGET_RATIO = 2.0
TARGET_N = 1024
CHAINS = (1, 64)
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "integrator.json"
# numpy and the numba kernels call two different OpenBLAS builds (numpy's and scipy's), each with
# its own thread pool whose idle workers spin for ~0.1 s after a call. Pausing before every
# measurement lets the other pool go to sleep, so neither side is timed against spinning threads.
SETTLE_S = 0.15
# Shortest timed run: per-call set-up (allocation, the change of basis of whitened noise) is then
# a few percent at most, as in real use (a run is many steps).
MIN_STEPS = 128


# ------------------------------------------------------------------ timing helpers
def _per_call(fn, target_s: float) -> float:
    """Seconds per call of fn(), looping long enough (>= target_s) to swamp timer overhead."""
    time.sleep(SETTLE_S)
    fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        el = time.perf_counter() - t0
        if el >= target_s or reps >= 1 << 22:
            return el / reps
        reps = max(reps * 2, int(reps * 1.2 * target_s / max(el, 1e-9)))


class TwinCase:
    """One (discretisation, chains) case: ``run`` with n_steps calibrated to ~target_s."""

    def __init__(self, disc, X0, target_s: float):
        from spucircuit.integrators import noise_block, run

        self.run, self.disc, self.X0 = run, disc, X0
        k, n = X0.shape
        blk = noise_block(k, n)
        steps = max(2 * blk, MIN_STEPS)
        run(disc, X0, steps, save_every=steps, seed=0)  # warm-up: numba compile / cache load
        while True:
            el = self._time(steps)
            if el >= 0.2 * target_s or steps >= 1 << 24:
                break
            steps *= 4
        steps = int(steps * target_s / max(el, 1e-9))
        self.n_steps = max(MIN_STEPS, -(-steps // blk) * blk)  # whole noise blocks

    def _time(self, steps):
        t0 = time.perf_counter()
        self.run(self.disc, self.X0, steps, save_every=steps, seed=0)
        return time.perf_counter() - t0

    def per_step(self) -> float:
        time.sleep(SETTLE_S)
        return self._time(self.n_steps) / self.n_steps


def _median(xs):
    return float(statistics.median(xs))


def noise_path(disc) -> str:
    """How ``run`` applies the noise of ``disc``: off / diag / whitened / explicit / sparse-factor."""
    from spucircuit import integrators

    mode = int(disc.noise_mode)
    if mode != 2:
        return {0: "off", 1: "diag", 3: "sparse-factor"}.get(mode, str(mode))
    white = getattr(integrators, "whitened", None)
    if white is not None and disc.kind == "dense" and white(disc) is not None:
        return "whitened"
    return "explicit"


# ------------------------------------------------------------------ problem set-up
def build_dense(n: int):
    import spucircuit
    from spucircuit.integrators import auto_dt, discretize

    t0 = time.perf_counter()
    A = spucircuit.random_spd(n, cond=10, seed=0)
    b = np.random.default_rng(1).standard_normal(n)
    mc = spucircuit.integrator_array(A, b)
    ss = spucircuit.compile_netlist(mc.netlist)
    t_compile = time.perf_counter() - t0
    assert ss.drift.kind == "dense", ss.drift.kind
    t0 = time.perf_counter()
    dt = auto_dt(ss, "euler")
    full = discretize(ss, dt, "euler")
    off = discretize(ss, dt, "euler", noise=False)
    diag = dataclasses.replace(full, noise_mode=1, noise_diag=np.sqrt(dt * np.diag(ss.diffusion)),
                               NT=np.zeros((1, n)))
    t_euler = time.perf_counter() - t0
    t0 = time.perf_counter()
    dt_ex = auto_dt(ss, "exact")
    exact = discretize(ss, dt_ex, "exact")
    t_exact = time.perf_counter() - t0
    info = {"n": n, "drift_kind": ss.drift.kind, "dt_euler_s": dt, "dt_exact_s": dt_ex,
            "noise_mode_full": full.noise_mode, "noise_rank": int(full.NT.shape[0]),
            "noise_mode_exact": exact.noise_mode,
            "setup_s": {"compile": t_compile, "discretize_euler": t_euler, "discretize_exact": t_exact}}
    x0 = np.linalg.solve(A, b) * mc.v_unit_v  # start at the fixed point (volts)
    return {"euler/full": full, "euler/diag": diag, "euler/off": off, "exact/full": exact}, x0, info


def tridiagonal_spd(n: int) -> np.ndarray:
    """1 on the diagonal, -0.3 on both first off-diagonals: SPD (eigenvalues in (0.4, 1.6)).

    Every column has two negative entries, so each inverting buffer's noise reaches two rows:
    the compiled Q is sparse but not diagonal (the full-noise case is really full-noise)."""
    A = np.eye(n)
    i = np.arange(n - 1)
    A[i, i + 1] = A[i + 1, i] = -0.3
    return A


def build_sparse(n: int):
    import spucircuit
    from spucircuit.integrators import auto_dt, discretize

    t0 = time.perf_counter()
    A = tridiagonal_spd(n)
    b = np.random.default_rng(1).standard_normal(n)
    mc = spucircuit.integrator_array(A, b)
    ss = spucircuit.compile_netlist(mc.netlist)
    t_compile = time.perf_counter() - t0
    if ss.drift.kind != "sparse":
        raise RuntimeError(f"expected a CSR drift for the tridiagonal case, got {ss.drift.kind!r}")
    t0 = time.perf_counter()
    dt = auto_dt(ss, "euler")
    t_dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = discretize(ss, dt, "euler")
    off = discretize(ss, dt, "euler", noise=False)
    diag = dataclasses.replace(full, noise_mode=1, noise_diag=np.sqrt(dt * np.diag(ss.diffusion)),
                               NT=np.zeros((1, n)))
    t_disc = time.perf_counter() - t0
    info = {"n": n, "drift_kind": ss.drift.kind, "nnz_M": int(full.data.size), "dt_euler_s": dt,
            "noise_mode_full": full.noise_mode,
            "nnz_noise_factor": None if getattr(full, "noise_data", None) is None else int(full.noise_data.size),
            "setup_s": {"compile": t_compile, "auto_dt": t_dt, "discretize_euler": t_disc}}
    x0 = np.linalg.solve(A, b) * mc.v_unit_v
    return {"euler/full": full, "euler/diag": diag, "euler/off": off}, x0, info


# ------------------------------------------------------------------ benchmark groups
def _time_group(group, n, cases, x0, base, rounds, target_s, log):
    """Interleave rounds of the baseline and every twin case for 1 and 64 chains; one row each."""
    rows = []
    for k in CHAINS:
        X0 = np.ascontiguousarray(np.tile(x0, (k, 1)))
        twins = {name: TwinCase(d, X0, target_s) for name, d in cases.items()}
        t_base, t_twin = [], {name: [] for name in twins}
        for _ in range(rounds):
            t_base.append(_per_call(base[k][1], target_s))
            for name, tc in twins.items():
                t_twin[name].append(tc.per_step())
        tb = _median(t_base)
        for name, tc in twins.items():
            ts = _median(t_twin[name])
            rows.append({"group": group, "n": n, "chains": k, "case": name,
                         "twin_step_min_s": min(t_twin[name]), "baseline_min_s": min(t_base),
                         "ratio_of_minima": min(t_twin[name]) / min(t_base),
                         "noise_mode": int(tc.disc.noise_mode), "noise_path": noise_path(tc.disc),
                         "baseline": base[k][0],
                         "twin_step_s": ts, "baseline_s": tb, "ratio": ts / tb,
                         "n_steps": tc.n_steps, "rounds": rounds,
                         "twin_all_s": t_twin[name], "baseline_all_s": t_base})
        log(f"  {group} n={n} chains={k}: done")
    return rows


def bench_dense(n, rounds, target_s, log):
    cases, x0, info = build_dense(n)
    log(f"  n={n}: compiled ({info['setup_s']['compile']:.1f} s), noise mode {info['noise_mode_full']}")
    M = np.ascontiguousarray(cases["euler/off"].MT.T)  # the Euler M = I + h F, C order
    rng = np.random.default_rng(2)
    x = rng.standard_normal(n)
    X = rng.standard_normal((64, n))
    base = {1: ("numpy gemv  M @ x", lambda: M @ x), 64: ("numpy gemm  X @ M", lambda: X @ M)}
    return _time_group("dense", n, cases, x0, base, rounds, target_s, log), info


def bench_sparse(n, rounds, target_s, log):
    cases, x0, info = build_sparse(n)
    log(f"  sparse n={n}: compiled ({info['setup_s']['compile']:.1f} s), auto_dt "
        f"{info['setup_s']['auto_dt']:.1f} s, discretize {info['setup_s']['discretize_euler']:.1f} s")
    import scipy.sparse as sp

    d = cases["euler/off"]
    Mcsr = sp.csr_matrix((d.data, d.indices, d.indptr), shape=(n, n))
    rng = np.random.default_rng(2)
    x = rng.standard_normal(n)
    XT = np.ascontiguousarray(rng.standard_normal((n, 64)))
    base = {1: ("scipy CSR @ x", lambda: Mcsr @ x), 64: ("scipy CSR @ (n x 64)", lambda: Mcsr @ XT)}
    return _time_group("sparse", n, cases, x0, base, rounds, target_s, log), info


# ------------------------------------------------------------------ environment / report
def environment() -> dict:
    import numba
    import scipy

    try:
        import subprocess

        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or None
    except Exception:  # pragma: no cover - no git
        rev = None
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "machine": platform.machine(), "processor": platform.processor(),
        "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
        "os_cpu_count": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_num_threads": int(numba.config.NUMBA_NUM_THREADS),
        "env": {v: os.environ.get(v) for v in ENV_VARS},
        "blas_threads_note": "threadpoolctl not installed: BLAS thread count not queried; OpenBLAS "
                             "uses os.cpu_count() threads unless the env vars above say otherwise",
        "git_rev": rev,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def target_check(rows) -> dict:
    out = {}
    for r in rows:
        if r["group"] == "dense" and r["n"] == TARGET_N and r["case"].startswith("euler"):
            key = f"n={TARGET_N} chains={r['chains']} {r['case']}"
            out[key] = {"ratio": r["ratio"], "met": bool(r["ratio"] <= TARGET_RATIO)}
    return out


def format_table(result: dict) -> str:
    lines = [f"integrator step vs bare BLAS/CSR op (median of {result['config']['rounds']} rounds; "
             f"numpy {result['environment']['numpy']}, numba {result['environment']['numba']}, "
             f"{result['environment']['os_cpu_count']} cpus)"]
    hdr = (f"{'group':<7}{'n':>6}{'chains':>7}  {'case':<11}{'mode':>5}  {'noise path':<14}{'twin/step':>11}  "
           f"{'baseline':<22}{'base':>11}{'ratio':>8}{'(min)':>7}")
    lines += [hdr, "-" * len(hdr)]
    for r in result["rows"]:
        flag = ""
        if r["group"] == "dense" and r["n"] == TARGET_N and r["case"].startswith("euler"):
            flag = "  ok" if r["ratio"] <= TARGET_RATIO else "  MISS"
        lines.append(f"{r['group']:<7}{r['n']:>6}{r['chains']:>7}  {r['case']:<11}{r['noise_mode']:>5}  "
                     f"{r['noise_path']:<14}{_fmt_t(r['twin_step_s']):>11}  {r['baseline']:<22}"
                     f"{_fmt_t(r['baseline_s']):>11}{r['ratio']:>8.2f}{r['ratio_of_minima']:>7.2f}{flag}")
    lines.append("ratio = median twin step / median baseline; (min) = the same with the fastest round of each")
    lines.append(f"target: {result['target']['statement']}")
    for key, v in result["target_check"].items():
        lines.append(f"  {key}: ratio {v['ratio']:.2f} -> {'met' if v['met'] else 'MISSED'}")
    return "\n".join(lines)


def _fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    return f"{s * 1e3:.3f} ms"


def run_benchmark(quick: bool = False, rounds: int | None = None, sizes=None, sparse_n: int | None = None,
                  log=print) -> dict:
    sizes = tuple(sizes or ((64, 256) if quick else (64, 256, 1024)))
    sparse_n = sparse_n if sparse_n is not None else (512 if quick else 4096)
    rounds = rounds or (3 if quick else 7)
    target_s = 0.03 if quick else 0.15
    rows, problems = [], []
    t0 = time.perf_counter()
    for n in sizes:
        r, info = bench_dense(n, rounds, target_s, log)
        rows += r
        problems.append(info)
    if sparse_n:
        r, info = bench_sparse(sparse_n, rounds, target_s, log)
        rows += r
        problems.append(info)
    return {
        "benchmark": "integrator",
        "config": {"quick": quick, "sizes": list(sizes), "sparse_n": sparse_n, "chains": list(CHAINS),
                   "rounds": rounds, "target_time_per_measurement_s": target_s,
                   "matrix": "random_spd(n, cond=10, seed=0); b = default_rng(1).standard_normal(n)",
                   "sparse_matrix": "tridiagonal: 1 on the diagonal, -0.3 on both first off-diagonals",
                   "timed_call": "run(disc, X0, n_steps, save_every=n_steps, seed=0) after a warm-up call",
                   "ratio": "median twin step time / median numpy (or scipy) op time, same run",
                   "settle_s_before_each_measurement": SETTLE_S, "min_steps_per_timed_run": MIN_STEPS},
        "target": {"n": TARGET_N, "ratio": TARGET_RATIO,
                   "statement": f"at n={TARGET_N} an Euler step costs at most {TARGET_RATIO:g}x numpy gemv "
                                "(1 chain) and gemm (64 chains)"},
        "environment": environment(),
        "problems": problems,
        "rows": rows,
        "target_check": target_check(rows),
        "wall_s": time.perf_counter() - t0,
    }


def write_json(result: dict, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (n = 64, 256; sparse n = 512), fewer rounds")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved measurement rounds (median taken)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="dense sizes n")
    ap.add_argument("--sparse-n", type=int, default=None, help="sparse size (0 = skip)")
    a = ap.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    res = run_benchmark(quick=a.quick, rounds=a.rounds, sizes=a.sizes, sparse_n=a.sparse_n, log=log)
    print(format_table(res))
    print(f"wrote {write_json(res, a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
