"""Large sparse circuits (issue 15): solve A x = b on the twin from component values (Johnson noise at
300 K, automatic scheme, spectral probe), against scipy's spsolve and cg on the same systems.

Cases: 2-D Poisson m x m (``p2d:m``), 3-D Poisson m^3 (``p3d:m``), a random sparse graph Laplacian
plus a shift (``graph:n``, about 6 neighbours a node, shift 1e-2) and a dense random SPD matrix of
condition 100 (``dense:n``). Each case runs in its own process so that its peak resident memory is
its own (``peak_rss_MB``, read before the references run; ``base_rss_MB`` is the process after
imports and kernel compilation). Reported per case: wall time, peak memory, relative error against
spsolve / numpy, the reported error bound (and whether it covers the error), analog time, steps,
per-step kernel time (timed around the numba kernels), the factor's non-zeros, the figure
analog seconds x nodes per wall second, and spsolve's and cg's (rtol 1e-10) wall times. The
per-step cost's log-log slope in nnz(A) is fitted over the sparse cases (target <= 1.2), and the
cases not run are estimated from the fit: steps x per-step (per-step proportional to the factor's
non-zeros, extrapolated as n log n in 2-D and n^(4/3) in 3-D) plus the setup.

    python benchmarks/large.py [--quick] [--sizes p2d:64,p2d:128,p3d:16,dense:1024] [--out PATH]

Targets (issue 15): p2d:64 <= 10 s and 500 MB; p2d:256 and p3d:40 <= 5 min and 4 GB with relative
error <= 1e-3 inside the bound; dense:4096 <= 60 s and 3 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from factored import write_json  # noqa: E402
from integrator import environment  # noqa: E402

DEFAULT_OUT = HERE / "results" / "large.json"
ALL = ["p2d:64", "p2d:128", "p2d:256", "p3d:16", "p3d:32", "p3d:40", "graph:16384", "dense:2048", "dense:4096"]
QUICK = ["p2d:32", "p2d:64", "p2d:128", "p3d:8", "p3d:12", "p3d:16", "graph:4096", "dense:1024"]
TARGETS = {"p2d:64": (10.0, 500.0), "p2d:256": (300.0, 4000.0), "p3d:40": (300.0, 4000.0),
           "dense:4096": (60.0, 3000.0)}  # (wall s, peak MB)
CASE_TIMEOUT_S = 3600


def matrix(case: str):
    import scipy.sparse as sp

    kind, size = case.split(":")
    m = int(size)
    T = lambda k: sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], (k, k))  # noqa: E731
    if kind == "p2d":
        eye = sp.identity(m)
        return (sp.kron(T(m), eye) + sp.kron(eye, T(m))).tocsr()
    if kind == "p3d":
        eye = sp.identity(m)
        return (sp.kron(sp.kron(T(m), eye), eye) + sp.kron(sp.kron(eye, T(m)), eye)
                + sp.kron(sp.kron(eye, eye), T(m))).tocsr()
    if kind == "graph":
        rng = np.random.default_rng(7)  # a ring (connected: no node left with only the shift) plus random edges
        i = np.concatenate([np.arange(m), rng.integers(0, m, 2 * m)])
        j = np.concatenate([(np.arange(m) + 1) % m, rng.integers(0, m, 2 * m)])
        keep = i != j
        W = sp.coo_matrix((rng.uniform(0.5, 1.0, keep.sum()), (i[keep], j[keep])), shape=(m, m)).tocsr()
        W = W + W.T
        return (sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W + 1e-2 * sp.identity(m)).tocsr()
    if kind == "dense":
        import spucircuit

        return spucircuit.random_spd(m, 100.0, seed=7)
    raise ValueError(f"unknown case {case!r}: use p2d:m, p3d:m, graph:n or dense:n")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def run_one(case: str) -> dict:
    """One case in this process (called in a child by :func:`run_benchmark`)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    import spucircuit
    import spucircuit.device.spu as spu_mod
    from spucircuit.device import base

    spucircuit.solve(matrix("p2d:4"), np.ones(16), seed=0)  # compile / load the kernels first
    spucircuit.solve(np.eye(4) * 2.0, np.ones(4), seed=0)
    base_rss = _rss_mb()
    kernel = {"s": 0.0, "steps": 0, "work": 0.0}

    def timed(fn):
        def wrapper(disc, X, n_steps, *a, **k):
            t = time.perf_counter()
            out = fn(disc, X, n_steps, *a, **k)
            kernel["s"] += time.perf_counter() - t
            kernel["steps"] += int(n_steps)
            kernel["work"] = max(kernel["work"], float(getattr(disc, "factor_nnz", 0)))
            return out
        return wrapper

    spu_mod.run_trapezoidal = timed(spu_mod.run_trapezoidal)
    spu_mod.run = timed(spu_mod.run)
    A = matrix(case)
    n = A.shape[0]
    b = np.random.default_rng(1).standard_normal(n)
    base.reset_ledger()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    x, info = spucircuit.solve(A, b, seed=1, return_info=True)
    wall = time.perf_counter() - t0
    peak = _rss_mb()
    load = [load0, os.getloadavg()[0]]  # the machine's 1-minute load average before and after the solve
    t0 = time.perf_counter()
    xs = spla.spsolve(A.tocsc(), b) if sp.issparse(A) else np.linalg.solve(A, b)
    t_direct = time.perf_counter() - t0
    it = [0]
    t0 = time.perf_counter()
    xc, _ = spla.cg(A, b, rtol=1e-10, maxiter=100 * n, callback=lambda _: it.__setitem__(0, it[0] + 1))
    t_cg = time.perf_counter() - t0
    err = float(np.linalg.norm(x - xs) / np.linalg.norm(xs))
    eb = info.error_budget
    probe = (info.scale or {}).get("probe") or {}
    steps = kernel["steps"] or 1
    return {
        "case": case, "n": n, "nnz": int(A.nnz) if sp.issparse(A) else n * n, "scheme": info.scheme,
        "wall_s": wall, "peak_rss_MB": peak, "base_rss_MB": base_rss, "relative_error": err,
        "error_bound": info.error_bound, "bound_covers": bool(info.error_bound is not None and err <= info.error_bound),
        "noise_term": eb["noise"], "transient_term": eb["transient"], "lam_lower": eb["lam_lower"],
        "lam_source": eb["lam_source"], "analog_time_s": info.analog_time_s, "tau_s": info.tau_s,
        "steps": info.steps, "kernel_steps": kernel["steps"], "kernel_s": kernel["s"],
        "per_step_s": kernel["s"] / steps, "inner_solve": info.inner_solve,
        "factor_nnz": (kernel["work"] or None) if (info.inner_solve or {}).get("method") != "amg-pcg" else None,
        "analog_node_s_per_wall_s": info.analog_time_s * n / wall, "estimated_compute_s": base.LEDGER["compute_s"],
        "probe": probe, "spsolve_s": t_direct, "cg_s": t_cg, "cg_iterations": it[0],
        "cg_relative_error": float(np.linalg.norm(xc - xs) / np.linalg.norm(xs)), "load_average_1m": load,
    }


def _child(case: str, log) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    try:
        p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", case], capture_output=True,
                           text=True, env=env, timeout=CASE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"case": case, "skipped": f"timed out after {CASE_TIMEOUT_S} s"}
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"case": case, "skipped": f"failed: {tail}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _slope(rows, kind=None, key="nnz") -> float | None:
    """Log-log slope of the per-step time in ``key`` over the sparse cases (of one ``kind``)."""
    pts = [(r[key], r["per_step_s"]) for r in rows if "skipped" not in r and r["scheme"] == "trapezoidal"
           and not r["case"].startswith("dense") and (kind is None or r["case"].startswith(kind)) and r.get(key)]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


# fill of the symmetric-ordering LDL^T of I + hA/2 (SuperLU MMD on A + A^T), measured once on this
# machine: 2-D Poisson 128^2 -> 256^2: 6.6e5 -> 3.4e6 non-zeros (n^1.18); 3-D 16^3 -> 40^3:
# 6.1e5 -> 4.4e7 (n^1.56); the random graph 4096 -> 16384: 2.5e6 -> 3.8e7 (n^1.97: no separators)
FILL_EXPONENT = {"p2d": 1.18, "graph": 1.97, "p3d": 1.56}


def _factor_growth(case: str, n: int) -> float:
    return float(n) ** FILL_EXPONENT[case.split(":")[0]]


def estimates(rows, wanted) -> list:
    """Wall time of the cases not run, from the run ones of the same kind: per-step time per factor
    non-zero (the fit), factor non-zeros scaled as n log n (2-D) or n^(4/3) (3-D), the same steps
    (the run policy's step count does not depend on n), and the rest of the wall time scaled the same."""
    out = []
    done = {r["case"] for r in rows if "skipped" not in r}
    for case in wanted:
        if case in done:
            continue
        kind = case.split(":")[0]
        same = [r for r in rows if "skipped" not in r and r["case"].split(":")[0] == kind]
        if not same or kind == "dense":
            if kind == "dense" and same:
                ref = max(same, key=lambda r: r["n"])
                n = matrix_size(case)
                out.append({"case": case, "estimated_wall_s": ref["wall_s"] * (n / ref["n"]) ** 3,
                            "basis": f"{ref['case']} x (n ratio)^3 (an upper bound: the LU and Cholesky set-up "
                                     "grow as n^3, the compile and the steps as n^2)"})
            continue
        ref = max(same, key=lambda r: r["n"])
        n = matrix_size(case)
        amg = (ref.get("inner_solve") or {}).get("method") == "amg-pcg"
        g = n / ref["n"] if amg else _factor_growth(case, n) / _factor_growth(ref["case"], ref["n"])
        est = ref["wall_s"] * g
        why = ("the AMG-PCG inner solve's work ~ nnz ~ n (iterations do not grow with n)" if amg else
               f"the factor's non-zeros ~ n^{FILL_EXPONENT[kind]}")
        out.append({"case": case, "n": n, "estimated_wall_s": est,
                    "estimated_peak_MB": ref["base_rss_MB"] + (ref["peak_rss_MB"] - ref["base_rss_MB"]) * g,
                    "basis": f"{ref['case']} scaled by {why} (x{g:.3g}; steps do not grow with n)"})
    return out


def matrix_size(case: str) -> int:
    kind, size = case.split(":")
    m = int(size)
    return {"p2d": m * m, "p3d": m ** 3}.get(kind, m)


def run_benchmark(quick: bool = False, log=print, sizes=None) -> dict:
    try:
        import scipy.sparse.linalg  # noqa: F401
    except ImportError as exc:  # pragma: no cover - scipy is a dependency
        return {"skipped": f"scipy.sparse.linalg missing: {exc}"}
    cases = list(sizes) if sizes else (QUICK if quick else ALL)
    rows = []
    for case in cases:
        log(f"{case} ...")
        r = _child(case, log)
        rows.append(r)
        log(f"{case}: " + (r["skipped"] if "skipped" in r else
                           f"{r['wall_s']:.1f} s, {r['peak_rss_MB']:.0f} MB, error {r['relative_error']:.2g} "
                           f"(bound {r['error_bound']:.2g})"))
    for r in rows:
        if r.get("case") in TARGETS and "skipped" not in r:
            w, m = TARGETS[r["case"]]
            r["target"] = {"wall_s": w, "peak_MB": m, "met": bool(r["wall_s"] <= w and r["peak_rss_MB"] <= m
                                                                  and r["bound_covers"])}
    slopes = {"all sparse": _slope(rows), "p2d": _slope(rows, "p2d"), "p3d": _slope(rows, "p3d"),
              "all sparse, in the factor's non-zeros": _slope(rows, key="factor_nnz")}
    return {"environment": environment(), "rows": rows, "per_step_slope_in_nnz": _slope(rows),
            "per_step_slopes": slopes,
            "slope_target": 1.2, "estimates": estimates(rows, ALL),
            "config": {"quick": quick, "cases": cases, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}}


def format_table(result: dict) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    lines = ["solve A x = b on the twin (Johnson noise at 300 K) against spsolve and cg (rtol 1e-10)"]
    hdr = (f"{'case':<12}{'n':>7}{'scheme':>7}{'wall':>8}{'peak':>8}{'rel err':>9}{'bound':>9}{'analog':>9}"
           f"{'steps':>6}{'per step':>10}{'inner':>8}{'node s/s':>9}{'spsolve':>9}{'cg':>8}")
    lines += [hdr, "-" * len(hdr)]
    for r in result["rows"]:
        if "skipped" in r:
            lines.append(f"{r['case']:<12} skipped: {r['skipped']}")
            continue
        lines.append(
            f"{r['case']:<12}{r['n']:>7}{r['scheme'][:5]:>7}{r['wall_s']:>7.2f}s{r['peak_rss_MB']:>6.0f}MB"
            f"{r['relative_error']:>9.1e}{r['error_bound']:>9.1e}{r['analog_time_s']:>8.2g}s{r['steps']:>6}"
            f"{r['per_step_s'] * 1e3:>8.2f}ms{(r.get('inner_solve') or {}).get('method', '-')[:7]:>8}"
            f"{r['analog_node_s_per_wall_s']:>9.2g}{r['spsolve_s']:>8.3f}s"
            f"{r['cg_s']:>7.3f}s")
    s = result["per_step_slope_in_nnz"]
    lines.append(f"per-step cost vs nnz(A), log-log slope over the sparse cases: "
                 f"{'n/a' if s is None else f'{s:.2f}'} (target <= {result['slope_target']})")
    lines.append("  by family: " + ", ".join(f"{k} {'n/a' if v is None else f'{v:.2f}'}"
                                             for k, v in result.get("per_step_slopes", {}).items()))
    for r in result["rows"]:
        if "target" in r:
            t = r["target"]
            lines.append(f"target {r['case']}: <= {t['wall_s']:g} s, {t['peak_MB']:g} MB, bound covers: "
                         f"{'met' if t['met'] else 'NOT met'}")
    for e in result["estimates"]:
        mem = f", ~{e['estimated_peak_MB']:.0f} MB" if "estimated_peak_MB" in e else ""
        lines.append(f"estimate {e['case']}: ~{e['estimated_wall_s']:.0f} s{mem} ({e['basis']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only: " + ",".join(QUICK))
    ap.add_argument("--sizes", default=None, help="comma-separated cases, e.g. p2d:256,p3d:40,dense:4096 (all: "
                                                  + ",".join(ALL) + ")")
    ap.add_argument("--out", default=None, help="JSON path (default results/large[_quick].json)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child process: one case, JSON on stdout
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(run_one(a.one), default=float))
        return 0
    sizes = a.sizes.split(",") if a.sizes else None
    res = run_benchmark(quick=a.quick, log=lambda m: print(m, file=sys.stderr, flush=True), sizes=sizes)
    print(format_table(res))
    out = a.out or (HERE / "results" / f"large{'_quick' if a.quick else ''}.json")
    print(f"wrote {write_json(res, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
