"""Record (or check) the reference outputs that must stay bit-identical across refactors.

    python tests/golden/record.py            # write tests/golden/outputs.json (before a change)
    python -m pytest tests/test_golden.py    # compare the current code against it

Each case runs a user-facing command with a fixed seed (the ``spu``/``tngd`` entry points, in
process, one BLAS thread) and keeps a SHA-256 digest of each output field, written exactly (floats
as float64 hex strings): results must be the same bits, not merely close. Wall-clock fields (times
measured on this machine) are dropped.
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
# keys whose values are wall-clock measurements (runtime_estimate_s adds measured digital time) or paths
DROP = {"wall_s", "wall_time_s", "cpu_s", "runtime_estimate_s", "seconds", "elapsed_s", "out", "path", "time_wall_s", "created", "workers",
        "out_dir", "outputs", "files", "python", "platform", "host", "date", "version"}


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
    from threadpoolctl import threadpool_limits  # BLAS thread count changes the bits of dense products

    with tempfile.TemporaryDirectory() as d, threadpool_limits(1):
        res = _exact(cases(Path(d)))
    # one digest per output field (the file stays small; a failure names the field that moved)
    return {case: {k: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()[:32]
                   for k, v in fields.items()} for case, fields in res.items()}


if __name__ == "__main__":
    res = compute()
    OUT.write_text(json.dumps(res, indent=0, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(res)} cases)", file=sys.stderr)
