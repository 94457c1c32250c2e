"""What every ``spu`` subcommand shares: reading .npy inputs, the progress switch, the mapping and
simulation argument groups, and JSON printing."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.jsonable import to_jsonable
from spucircuit.device import base as device_base
from spucircuit.errors import SPUError
from spucircuit.io.spice import MAX_ELEMENTS


def load_npy(path: str, what: str) -> np.ndarray:
    """Load a .npy file for a subcommand; missing or malformed files raise SPUError."""
    if not os.path.exists(path):
        raise SPUError(f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for malformed files
        raise SPUError(f"cannot read {what} file {path}: {exc}") from None


def load_matrix(path: str, what: str = "matrix"):
    """A matrix file by its extension: .npy (dense), .npz (scipy.sparse.save_npz) or .mtx (Matrix
    Market, scipy.io.mmread; sparse stays sparse). Missing, unreadable or mismatched files raise a
    one-line SPUError."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".mtx"):  # .npy, and any other name is read as one
        return load_npy(path, what)
    if not os.path.exists(path):
        raise SPUError(f"{what} file not found: {path}")
    import scipy.io
    import scipy.sparse as sp

    try:
        if ext == ".npz":
            return sp.load_npz(path).tocsr()
        m = scipy.io.mmread(path)
    except Exception as exc:  # scipy raises several types for malformed files
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        kind = "a scipy.sparse .npz (save_npz)" if ext == ".npz" else "a Matrix Market .mtx"
        raise SPUError(f"cannot read {what} file {path} as {kind}: {detail}") from None
    return m.tocsr() if sp.issparse(m) else np.asarray(m)


def print_json(obj) -> None:
    """One strict JSON object on stdout (NaN/inf, e.g. a standard error with too few batches, as null)."""
    print(json.dumps(to_jsonable(obj), allow_nan=False))


def mapping_kwargs(args) -> dict:
    kw = {}
    for k in ("r_min", "r_max", "c", "v_swing"):
        v = getattr(args, k, None)
        if v is not None:
            kw[k] = v
    return kw


def add_mapping_args(p):
    g = p.add_argument_group("mapping (SI units)")
    g.add_argument("--r-min", dest="r_min", type=float, help="smallest resistance, Ohm (default 1e3)")
    g.add_argument("--r-max", dest="r_max", type=float, help="largest resistance, Ohm (default 1e6)")
    g.add_argument("--c", dest="c", type=float, help="integrator capacitance, F (default 1e-9)")
    g.add_argument("--v-swing", dest="v_swing", type=float, help="largest |V| of the solution, V (default 1)")
    g.add_argument("--prune", action="store_true",
                   help="leave entries too small for r_max open (error bound reported) instead of failing")


def want_progress(args) -> bool:
    """--progress / --no-progress, defaulting to a bar when stderr is a terminal."""
    if args.progress is not None:
        return args.progress
    return sys.stderr.isatty()


def add_run_limit_arg(g) -> None:
    g.add_argument("--max-run-time", dest="max_run_time", type=float, default=None, metavar="SECONDS",
                   help="refuse a run whose estimated computing time (steps x chains x per-step cost) exceeds this "
                        "(default 600 s); the error shows the estimate")
    g.add_argument("--max-memory", dest="max_memory", type=argtypes.byte_size, default=None, metavar="BYTES",
                   help="refuse a run whose chains' states and samples are estimated to need more memory than this "
                        f"(default {device_base.MAX_MEMORY_BYTES:.0e}; suffixes k, M, G allowed: 8G)")


def apply_run_limit(args) -> None:
    """--max-run-time and --max-memory: the limits every device made by this command checks before it
    allocates or runs."""
    v = getattr(args, "max_run_time", None)
    if v is not None:
        if not (v > 0):
            raise SPUError(f"--max-run-time must be > 0 s, got {v!r}")
        device_base.MAX_RUN_S = float(v)
    m = getattr(args, "max_memory", None)
    if m is not None:
        device_base.MAX_MEMORY_BYTES = float(m)


def add_max_elements_arg(p) -> None:
    """--max-elements for a command that reads a netlist (the count is checked before flattening)."""
    p.add_argument("--max-elements", dest="max_elements", type=argtypes.positive_int, default=MAX_ELEMENTS,
                   metavar="N", help="refuse a netlist that expands to more than N elements after flattening "
                                     f"subcircuits, counted before flattening (default {MAX_ELEMENTS:,})")


def add_sim_args(p, chains_default):
    g = p.add_argument_group("simulation")
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    g.add_argument("--time", default=None,
                   help="analog time of the run (burn-in + averaging): seconds, or e.g. '50tau', '20us' "
                        "(default: from the problem class, 220 / lambda_min tau with lambda_min >= max A_ii / "
                        "--kappa-max); ranging passes come on top and are counted in analog_time_s")
    g.add_argument("--burn-in", dest="burn_in", default=None, help="discarded initial time (same units)")
    g.add_argument("--seed", type=argtypes.seed, default=None, help="random seed (same seed, same bits)")
    g.add_argument("--chains", type=argtypes.positive_int, default=chains_default, help="independent chains simulated at once")
    g.add_argument("--scheme", choices=["auto", "exponential", "exact", "euler", "trapezoidal"], default="auto",
                   help="integration scheme: auto (default: exponential for a dense matrix up to n = 4096, trapezoidal "
                        "for a sparse or larger one), exponential (exact in distribution at any step; alias exact), "
                        "trapezoidal (exact stationary mean and covariance at any step, sparse LU per step) or euler")
    g.add_argument("--dt", type=float, default=None, help="time step, s (default: automatic)")
    add_run_limit_arg(g)
    g.add_argument("--temperature", type=float, default=300.0, help="Johnson-noise temperature, K")
    g.add_argument("--scale", choices=["autorange", "bound", "oracle"], default="autorange",
                   help="how the device ranges volts per unit of x: autorange (default: a pass at the bound it can "
                        "compute, then the measured range), bound, or oracle (from the exact x* and spectrum: a "
                        "labelled upper bound no device can reach)")
    g.add_argument("--kappa-max", dest="kappa_max", type=float, default=1e3,
                   help="the problem class: largest condition number of A (sets the bounds and run times; "
                        "default 1e3)")
