"""Record (or check) the reference outputs that must stay bit-identical across refactors.

    python tests/golden/record.py            # write tests/golden/outputs.json (before a change)
    python -m pytest tests/test_golden.py    # compare the current code against it

Each case runs a user-facing command with a fixed seed (the ``spu``/``tngd`` entry points, in
process, one BLAS thread) and keeps a SHA-256 digest of each output field, written exactly (floats
as float64 hex strings): results must be the same bits, not merely close. Wall-clock fields (times
measured on this machine) are dropped.

Bits are a property of the code *and* of the numerical environment (numpy/scipy/numba versions,
the BLAS build and the kernel it picks for this CPU). The file therefore also records that
environment and, per field, a summary that survives round-off: the count and norm of its floats,
eight fixed random projections of them, and a digest of everything that is not a float. In the
recorded environment the test demands the same bits; in any other it demands the same non-float
content and floats equal to within ``RTOL`` of the field's norm (round-off, not a changed result).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "outputs.json"
NETLISTS = sorted((ROOT / "netlists").glob("*.cir"))
# keys whose values are wall-clock measurements (runtime_estimate_s adds measured digital time) or paths,
# and the work model's estimate (estimated_compute_s: recalibrated with the machine, not a result)
DROP = {"estimated_compute_s", "wall_s", "wall_time_s", "cpu_s", "runtime_estimate_s", "seconds", "elapsed_s", "out", "path", "time_wall_s", "created", "workers",
        "out_dir", "outputs", "files", "python", "platform", "host", "date", "version"}


RTOL = 1e-7  # cross-environment tolerance, relative to each field's float norm
# cases whose floats amplify round-off, measured by recording on one BLAS kernel and JIT target
# (Haswell, znver3) and rerunning on another (OPENBLAS_CORETYPE=SandyBridge, NUMBA_CPU_NAME=generic):
# the factored TNGD netlist's non-normal drift makes its eigenbasis step sensitive (2e-5 of the
# norm moved); 20 TNGD steps on the stochastic twin feed each read-out into the next step's
# ranging and warm start (loss moved 9e-4, accuracies by one batch sample). Only the structure
# and the non-float content are then checked tightly.
RTOL_CASE = {"simulate_factored_tngd_n8": 1e-3, "train_twin": 0.3}


def environment() -> dict:
    """What decides the bits besides the code: library versions, the BLAS and its CPU kernel."""
    import platform

    import numba
    import scipy
    from threadpoolctl import threadpool_info

    blas = sorted(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                  for i in threadpool_info() if i.get("user_api") == "blas")
    from llvmlite import binding

    return {"numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
            "machine": platform.machine(), "blas": blas,
            "jit_cpu": numba.config.CPU_NAME or binding.get_host_cpu_name()}


def _floats(o, acc):
    """Append every float leaf of ``o`` (walked as _exact walks it) to acc; return the rest."""
    if isinstance(o, dict):
        return {str(k): _floats(v, acc) for k, v in sorted(o.items()) if k not in DROP}
    if isinstance(o, np.ndarray):
        if o.dtype.kind in "fc":
            acc.extend(np.asarray(o, np.float64).ravel().tolist())
            return {"float array": list(o.shape)}
        return o.ravel().tolist()
    if isinstance(o, (list, tuple)):
        return [_floats(v, acc) for v in o]
    if isinstance(o, (float, np.floating)):
        acc.append(float(o))
        return "float"
    if isinstance(o, np.integer):
        return int(o)
    return o


def _digest(v) -> str:
    return hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()[:32]


def summary(value) -> dict:
    """Round-off-tolerant summary of one output field (see the module docstring)."""
    acc: list = []
    rest = _floats(value, acc)
    x = np.asarray(acc, np.float64)
    finite = np.isfinite(x)
    xf = np.where(finite, x, 0.0)
    proj = np.random.default_rng(0).choice([-1.0, 1.0], size=(8, x.size)) @ xf / np.sqrt(max(x.size, 1))
    return {"rest": _digest(rest), "count": int(x.size), "nonfinite": _digest(np.flatnonzero(~finite).tolist()),
            "norm": float(np.linalg.norm(xf)), "proj": proj.tolist()}


def summaries_agree(new: dict, old: dict, rtol: float = RTOL) -> bool:
    if any(new[k] != old[k] for k in ("rest", "count", "nonfinite")):
        return False
    tol = rtol * max(old["norm"], 1e-300)
    return abs(new["norm"] - old["norm"]) <= tol and np.all(np.abs(np.subtract(new["proj"], old["proj"])) <= tol)


def _exact(o):
    """JSON-able exact form: floats as hex strings (NaN/inf included), arrays as nested lists."""
    if isinstance(o, dict):
        return {str(k): _exact(v) for k, v in sorted(o.items()) if k not in DROP}
    if isinstance(o, np.ndarray):
        if o.dtype.kind in "fc":
            return {"dtype": str(o.dtype), "shape": list(o.shape),
                    "hex": [float(v).hex() for v in np.asarray(o, np.float64).ravel()]}
        return {"dtype": str(o.dtype), "shape": list(o.shape), "values": o.ravel().tolist()}
    if isinstance(o, (list, tuple)):
        return [_exact(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o).hex()
    if isinstance(o, (np.integer,)):
        return int(o)
    return o


def _run(main, argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = main(argv)
    assert rc == 0, f"{argv} exited {rc}"
    return buf.getvalue()


def cases(tmp: Path) -> dict:
    from spucircuit import random_spd
    from spucircuit.cli import main as spu
    from tngd.cli import main as tngd_main

    out = {}
    # spu demo (its JSON file)
    _run(spu, ["demo", "--out", str(tmp / "demo")])
    out["demo"] = json.loads((tmp / "demo" / "demo.json").read_text())
    # spu solve --json on three matrices
    for n, cond, seed in ((4, 10.0, 1), (8, 100.0, 2), (16, 20.0, 3)):
        A = random_spd(n, cond=cond, seed=seed)
        b = np.random.default_rng(seed).standard_normal(n)
        np.save(tmp / "A.npy", A)
        np.save(tmp / "b.npy", b)
        res = json.loads(_run(spu, ["solve", "--matrix", str(tmp / "A.npy"), "--rhs", str(tmp / "b.npy"),
                                    "--seed", str(seed), "--chains", "2", "--json"]))
        out[f"solve_n{n}"] = res
    # spu simulate of every shipped netlist
    for path in NETLISTS:
        f = tmp / (path.stem + ".npz")
        _run(spu, ["simulate", str(path), "--seed", "5", "--max-samples", "200", "--out", str(f)])
        with np.load(f, allow_pickle=False) as z:
            out[f"simulate_{path.stem}"] = {k: z[k] for k in z.files}
    # a small spu study
    _run(spu, ["study", "--n", "4", "--cond", "10", "--matrices", "1", "--draws", "2", "--workers", "1",
               "--sweep", "bits=6,10", "--tolerance", "0.5", "--no-plot", "--no-progress",
               "--out", str(tmp / "study")])
    res = json.loads((tmp / "study" / "study.json").read_text())
    out["study"] = {"rows": res.get("rows"), "summary": res.get("summary")}
    # tngd train: 20 iterations on the dense twin and on the factored twin
    for solver, extra in (("twin", []), ("factored", ["--bits", "8", "--tolerance", "0.01", "--dac-bits", "10",
                                                       "--adc-bits", "10", "--mitigation", "2"])):
        f = tmp / f"train_{solver}.json"
        _run(tngd_main, ["train", "--dataset", "digits", "--model", "mlp", "--hidden", "3", "--optimizer", "tngd",
                         "--solver", solver, "--t", "5", "--kappa0", "1e-4", "--steps", "20", "--batch-size", "16",
                         "--eval-every", "10", "--seed", "3", "--no-progress", "--out", str(f), *extra])
        run = json.loads(f.read_text())
        out[f"train_{solver}"] = run
    return out


def compute() -> dict:
    """{"environment": ..., "digests": {case: {field: digest}}, "summaries": {case: {field: summary}}}."""
    from threadpoolctl import threadpool_limits  # BLAS thread count changes the bits of dense products

    with tempfile.TemporaryDirectory() as d, threadpool_limits(1):
        raw = cases(Path(d))
        env = environment()
    # one digest per output field (the file stays small; a failure names the field that moved)
    return {"environment": env,
            "digests": {case: {k: _digest(_exact(v)) for k, v in fields.items() if k not in DROP}
                        for case, fields in raw.items()},
            "summaries": {case: {k: summary(v) for k, v in fields.items() if k not in DROP}
                          for case, fields in raw.items()}}


if __name__ == "__main__":
    res = compute()
    OUT.write_text(json.dumps(res, indent=0, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(res['digests'])} cases)", file=sys.stderr)
