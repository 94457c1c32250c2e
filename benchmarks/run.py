"""Run every benchmark, print its table and write its JSON to benchmarks/results/.

    python benchmarks/run.py [--quick] [--only integrator] [--results-dir DIR]

A benchmark is a module in this folder listed in BENCHMARKS that provides
``run_benchmark(quick=..., log=...) -> dict`` (JSON-ready), ``format_table(result) -> str`` and
``write_json(result, path)``; its JSON goes to ``<results-dir>/<name>.json`` (``--quick`` runs
write ``<name>_quick.json`` so they never overwrite a full run). To add one, write the module and
append its name here.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["integrator", "factored", "ngspice_ratio", "thermox_ratio", "train_cost", "estimates", "large", "algorithms"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the spucircuit benchmarks.")
    ap.add_argument("--quick", action="store_true", help="small sizes, fewer repeats (a smoke run)")
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, default=None, help="run just these")
    ap.add_argument("--results-dir", default=str(HERE / "results"), help="JSON output folder")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    out_dir = Path(a.results_dir)
    failed = []
    for name in a.only or BENCHMARKS:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(name)
            res = mod.run_benchmark(quick=a.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
            print(mod.format_table(res))
            path = mod.write_json(res, out_dir / f"{name}{'_quick' if a.quick else ''}.json")
            print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)\n", flush=True)
        except Exception:  # keep going: report every benchmark, fail at the end
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
