"""``spu study``: the command line of :mod:`spucircuit.studies.sweep`.

Hook it into the ``spu`` parser with ``register(subparsers)`` (spucircuit/cli.py::build_parser).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.signals import one_shot_sigint
from spucircuit.cli._common import want_progress
from spucircuit.errors import StudyError
from spucircuit.report.journal import Journal
from spucircuit.report.study import study_table, write_study
from spucircuit.studies.knobs import KNOBS, convert, parse_sweep
from spucircuit.studies.sweep import (
    MAX_TASKS,
    StudyInterrupted,
    run_study,
    study_digest,
)

EPILOG = """\
sweeps (repeat --sweep for a grid; the first swept knob is the x axis of the plots):
  --sweep bits=4:16:2            start:stop:step, inclusive
  --sweep tolerance=0.1,0.3,1    a list
  --sweep time=log:10:1000:5     log:start:stop:count (times in seconds; or a list like 50tau,500tau)
  --sweep calibrate=off,on       booleans: on/off, 1/0, true/false
sweepable knobs: {sweepable}

examples:
  spu study --n 16 --tolerance 0.5 --sweep bits=4:16:2 --sweep calibrate=off,on --out study_out
  spu study --bits 8 --sweep K=1,2,4,8,16 --draws 16
  spu study --matrix A1.npy --matrix A2.npy --eval twin --sweep time=100tau,1000tau,10000tau
  spu study --scheduler tcp://10.0.0.5:8786 --n 64 --sweep bits=4:16:2      (Dask cluster)

outputs in --out: NAME.json (config, sweep, per-point summary, every row), NAME.csv (rows),
NAME_summary.csv, NAME_solve_error.png / NAME_inv_error.png (median and 10-90 %% band over
draws and matrices). Errors are relative 2-norm (solve) or Frobenius (inv) errors against
numpy. Converter clipping is counted per row ('clipped') and reported on stderr.
"""


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``study`` subcommand to an argparse subparsers object."""
    sweepable = ", ".join(k.name for k in KNOBS if k.sweep)
    p = subparsers.add_parser(
        "study", help="sweep device imperfections, calibration and mitigation over many device draws",
        description="Sweep any device knob over random SPD problems (or your .npy matrices), many "
                    "device draws per point, in parallel; write JSON, CSV and plots.",
        epilog=EPILOG.format(sweepable=sweepable), formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {}
    titles = [("problem", ("n", "cond", "matrices", "rhs", "task")),
              ("resistor bank", ("bits", "grid", "rounding", "r_min", "r_max", "headroom")),
              ("fabrication", ("tolerance", "tol_dist")),
              ("converters", ("dac_bits", "dac_fs", "adc_bits", "adc_fs")),
              ("noise and temperature", ("temperature", "noise_psd")),
              ("op-amps and parasitics", ("opamp_gain", "opamp_offset", "gbw", "r_out", "c_parasitic")),
              ("evaluation", ("eval", "time", "burn_in", "samples", "chains")),
              ("mitigation", ("K", "ensemble", "devices")),
              ("calibration", ("calibrate", "cal_method", "cal_eval", "cal_time", "offset_correction")),
              ("statistics", ("draws", "seed"))]
    for title, names in titles:
        g = p.add_argument_group(title)
        for nm in names:
            groups[nm] = g
    for k in KNOBS:
        g = groups.get(k.name, p)
        default = k.default
        if isinstance(default, float) and math.isinf(default):
            dtxt = "inf"
        elif isinstance(default, bool):
            dtxt = "on" if default else "off"
        else:
            dtxt = str(default)
        extra = f" {{{','.join(k.choices)}}}" if k.choices else ""
        flag = "--" + k.name.replace("_", "-")
        dpart = "" if k.default is None else f" (default {dtxt})"
        g.add_argument(flag, dest=k.name, default=None, metavar=k.type.upper() if not k.choices else "CHOICE",
                       help=f"{k.help}{extra}{dpart}{'' if k.sweep else '; not sweepable'}")
    r = p.add_argument_group("sweep, inputs and execution")
    r.add_argument("--sweep", action="append", default=[], metavar="NAME=VALUES",
                   help="sweep a knob (repeatable: grid of all combinations); see below")
    r.add_argument("--matrix", action="append", default=[], metavar="A.npy",
                   help="use this SPD matrix (repeatable) instead of random ones (n, cond ignored)")
    r.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: all cores; 1 = in this process)")
    r.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on a Dask cluster at this scheduler address (needs dask[distributed])")
    r.add_argument("--out", default="study_out", help="output folder (default study_out)")
    r.add_argument("--resume", action="store_true",
                   help="complete an interrupted study: the tasks recorded in OUT/NAME.partial.jsonl are not run "
                        "again (the same options are required; the result is identical to an uninterrupted run)")
    r.add_argument("--name", default="study", help="output file prefix (default study)")
    r.add_argument("--max-tasks", dest="max_tasks", type=argtypes.positive_int, default=MAX_TASKS, metavar="N",
                   help=f"refuse a study of more than N tasks (points x matrices x draws; default {MAX_TASKS:,})")
    r.add_argument("--no-plot", action="store_true", help="do not write PNG plots")
    r.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    r.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    p.set_defaults(func=cmd_study)
    return p


def cmd_study(args) -> int:
    config = {}
    for k in KNOBS:
        v = getattr(args, k.name, None)
        if v is not None:
            config[k.name] = convert(k.name, v)
    sweep = parse_sweep(args.sweep)
    matrices = load_matrices(args.matrix) if args.matrix else None
    if args.workers is not None and args.workers < 1:
        raise StudyError(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler is not None and not re.fullmatch(r"(\w+://)?(\[[0-9a-fA-F:]+\]|[\w.-]+):\d+", args.scheduler):
        raise StudyError(f"--scheduler must be an address like tcp://HOST:PORT, got {args.scheduler!r}")
    digest = study_digest(config, sweep, matrices=matrices, max_tasks=args.max_tasks)  # bad knobs: before any folder
    journal = Journal(prepare_out(args.out, args.name), digest, args.resume)
    with one_shot_sigint():
        try:
            res = run_study(config, sweep, matrices=matrices, workers=args.workers, scheduler=args.scheduler,
                            progress=want_progress(args), done=journal.done, on_done=journal.append,
                            max_tasks=args.max_tasks)
        except StudyInterrupted as exc:
            raise StudyInterrupted(exc.done, exc.total, f"kept in {journal.path}: rerun the same command with "
                                                        "--resume") from None
    paths = write_study(res, args.out, args.name, plot=not args.no_plot)
    journal.remove()  # every row is in NAME.json now
    print(f"spu study: {len(res.rows)} tasks at {len(res.points)} points in {res.wall_s:.1f} s "
          f"({'dask ' + args.scheduler if args.scheduler else f'{res.workers} worker(s)'})")
    profiles = list(dict.fromkeys(pt["profile"] for pt in res.points))
    convs = list(dict.fromkeys(pt["converters"] for pt in res.points))
    print(f"op-amp profile: {', '.join(profiles)} (datasheet-typical; 1/f noise with --eval twin; rails only with --rails); "
          f"converter profile: {', '.join(convs)}")
    for met in res.metrics:
        print(f"\n{met} (median over draws and matrices):")
        print(study_table(res, met))
        task = met.removesuffix("_error")
        if any(f"{met}_bound" in r for r in res.rows):
            print(f"\n{met}_bound (median; the reported bound on the relative error):")
            print(study_table(res, f"{met}_bound"))
            print(f"\nfraction of runs whose {task} error the bound covers (of those with a bound; a clipped "
                  f"converter leaves none):")
            print(study_table(res, f"{task}_bound", "coverage"))
    clipped = sum(r["clipped"] for r in res.rows)
    if clipped:
        print(f"spu study: warning: converters clipped {clipped} values in "
              f"{sum(1 for r in res.rows if r['clipped'])} tasks (column 'clipped'); widen --adc-fs/--dac-fs",
              file=sys.stderr)
    print("\nwrote " + ", ".join(paths))
    return 0


def prepare_out(out: str, name: str) -> str:
    """Check (and create) the output folder before any work starts; returns the journal's path,
    OUT/NAME.partial.jsonl, where finished tasks are recorded as they end."""
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise StudyError(f"--name must be a plain file prefix, got {name!r}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise StudyError(f"--out {out} exists and is not a folder")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"cannot create the output folder {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise StudyError(f"cannot write into the output folder {out}")
    for suffix in (".json", ".csv", "_summary.csv"):
        if os.path.isdir(os.path.join(out, name + suffix)):
            raise StudyError(f"{os.path.join(out, name + suffix)} is a folder: the study writes a file there")
    return os.path.join(out, f"{name}.partial.jsonl")


def load_matrices(paths) -> list:
    """The --matrix files (.npy), each read without pickles; StudyError names a bad file."""
    out = []
    for p in paths:
        if not os.path.exists(p):
            raise StudyError(f"matrix file not found: {p}")
        try:
            out.append(np.load(p, allow_pickle=False))
        except Exception as exc:
            raise StudyError(f"cannot read matrix file {p}: {exc}") from None
    return out
