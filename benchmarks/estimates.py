"""Do commands keep to their work estimates? Wall time against the work model's estimate.

Issue 17: every run is estimated before it starts (steps x chains x per-step cost, the device's
eigendecomposition, the covariance read-out, a per-command setup: ``spucircuit.device.base``);
runs estimated above the limit (600 s, ``--max-run-time``) are refused with the estimate, runs
estimated at >= 2 s print it before they start, and ``--json`` records the command's total as
``estimated_compute_s``. The target: no command runs past its estimate by more than 10x on this
machine. This benchmark runs ``spu solve`` / ``spu inv`` (exponential and Euler schemes, n from 4
to 256), ``spu simulate`` of the shipped netlists, ``spu demo`` and a small ``spu study`` in this
process and reports, per command, wall / estimate (the target: <= 10) and estimate / wall (how
far the model over-estimates: a large figure makes the run limit refuse runs that would be quick).

    python benchmarks/estimates.py [--quick] [--out PATH]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from factored import write_json  # noqa: E402
from integrator import environment  # noqa: E402

DEFAULT_OUT = HERE / "results" / "estimates.json"
ROOT = HERE.parent
TARGET = 10.0  # wall / estimate must stay below this
SIZES, QUICK_SIZES = (4, 16, 64, 128, 256), (4, 16)


def _cases(tmp: Path, sizes) -> list:
    import spucircuit as sc

    cases = []
    for n in sizes:
        A = sc.random_spd(n, 100.0, seed=1)
        np.save(tmp / f"A{n}.npy", A)
        np.save(tmp / f"b{n}.npy", np.ones(n))
        m, b = str(tmp / f"A{n}.npy"), str(tmp / f"b{n}.npy")
        common = ["--seed", "1", "--kappa-max", "100", "--json", "--no-progress"]
        cases += [(f"solve n={n}", ["solve", "--matrix", m, "--rhs", b] + common),
                  (f"solve n={n} euler", ["solve", "--matrix", m, "--rhs", b, "--scheme", "euler"] + common),
                  (f"solve n={n} 8 chains", ["solve", "--matrix", m, "--rhs", b, "--chains", "8"] + common),
                  (f"inv n={n}", ["inv", "--matrix", m] + common)]
    for net in ("capacitive8.cir", "integrator16_cond20.cir"):
        cases.append((f"simulate {net}", ["simulate", str(ROOT / "netlists" / net), "--out", str(tmp / "sim.npz")]))
    cases.append(("demo", ["demo", "--out", str(tmp / "demo")]))
    cases.append(("study 16 tasks", ["study", "--n", "4", "--draws", "8", "--matrices", "2", "--workers", "1",
                                     "--no-plot", "--out", str(tmp / "study"), "--no-progress"]))
    return cases


def run_benchmark(quick: bool = False, log=print) -> dict:
    from spucircuit.cli import main
    from spucircuit.device import base

    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for label, argv in _cases(tmp, QUICK_SIZES if quick else SIZES):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                rc = main(argv)
            wall = time.perf_counter() - t0
            est = base.LEDGER["compute_s"]  # main() resets it at its start: this command's estimate
            if rc != 0:
                raise RuntimeError(f"spu {' '.join(argv)} failed ({rc}): {err.getvalue().strip()}")
            rows.append({"command": label, "wall_s": wall, "estimate_s": est, "runs": base.LEDGER["runs"],
                         "wall_over_estimate": wall / est, "estimate_over_wall": est / wall})
            log(f"{label}: wall {wall:.3f} s, estimate {est:.3f} s")
    worst = max(r["wall_over_estimate"] for r in rows)
    return {"environment": environment(), "target_wall_over_estimate": TARGET, "rows": rows,
            "worst_wall_over_estimate": worst, "met": worst <= TARGET,
            "config": {"quick": quick, "sizes": list(QUICK_SIZES if quick else SIZES),
                       "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}}


def format_table(result: dict) -> str:
    lines = [f"wall time against the work estimate of each command (target: wall / estimate <= {TARGET:g})"]
    hdr = f"{'command':<26}{'wall':>10}{'estimate':>10}{'runs':>6}{'wall/est':>10}{'est/wall':>10}"
    lines += [hdr, "-" * len(hdr)]
    for r in result["rows"]:
        lines.append(f"{r['command']:<26}{r['wall_s']:>9.3f}s{r['estimate_s']:>9.3f}s{r['runs']:>6}"
                     f"{r['wall_over_estimate']:>10.2f}{r['estimate_over_wall']:>10.2f}")
    lines.append(f"worst wall / estimate {result['worst_wall_over_estimate']:.2f}: target "
                 f"{'met' if result['met'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 4 and 16 only")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path")
    a = ap.parse_args(argv)
    res = run_benchmark(quick=a.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(res))
    print(f"wrote {write_json(res, a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
