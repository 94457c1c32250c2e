"""Per-iteration wall time of every optimizer at a few model sizes N (b = 64, dz = 10 by default).

    python -m tngd.bench [--inputs 64] [--hidden 4,16,64] [--batch 64] [--classes 10] [--repeats 5]

One iteration = forward + gradient (+ what the optimizer needs: GGN factor, Jacobian, GGN-vector
products) + the update. For TNGD the table splits the digital part (gradient and the R^T J factor
to upload) from the *simulation* of the device (ideal exact OU), and adds the estimated hardware
time of the paper's timing model (t * 1 us + transfer at 16 bit / 50 Gb/s). Dense NGD is skipped
above --max-dense-n. Medians over --repeats; random data, one MLP hidden layer of each width.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from .curvature import Batch
from .losses import SoftmaxCrossEntropy
from .models import mlp
from .optimizers import TNGD
from .train import BITS, LINK_BPS, TAU_S, build_optimizer

NAMES = ["sgd", "adam", "ngd", "ngd-cg", "ngd-woodbury", "tngd", "tngd-adam"]


def time_iteration(model, name, x, y, repeats=5, t=50.0):
    loss = SoftmaxCrossEntropy()
    theta = model.init(0)
    opt = build_optimizer(name, t=t)
    state = opt.init(theta)
    digital, device = [], []
    for _ in range(repeats + 1):  # the first one warms caches up and is dropped
        t0 = time.perf_counter()
        b = Batch(model, loss, theta, x, y)
        g = b.grad
        if isinstance(opt, TNGD):
            b.factor()
        t1 = time.perf_counter()
        u, state = opt.update(g, state, theta, curvature=b if opt.needs_curvature else None)
        t2 = time.perf_counter()
        if isinstance(opt, TNGD):
            digital.append(t1 - t0)
            device.append(t2 - t1)
        else:
            digital.append(t2 - t0)
            device.append(0.0)
    d, s = float(np.median(digital[1:])), float(np.median(device[1:]))
    out = {"optimizer": name, "N": model.n_params, "seconds": d + s}
    if isinstance(opt, TNGD):
        m = x.shape[0] * model.output_dim
        est = d + t * TAU_S + BITS * (m * model.n_params + 2 * model.n_params) / LINK_BPS
        out.update(digital_s=d, device_simulation_s=s, hardware_estimate_s=est)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tngd.bench", description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=64)
    p.add_argument("--hidden", default="4,16,64")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-dense-n", type=int, default=6000)
    p.add_argument("--optimizers", default=",".join(NAMES))
    p.add_argument("--json", default=None, help="also write the rows to this file")
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((a.batch, a.inputs))
    y = rng.integers(0, a.classes, a.batch)
    rows = []
    print(f"b = {a.batch}, dz = {a.classes}, m = {a.batch * a.classes}; median wall time per iteration (ms)")
    print(f"{'N':>8} {'optimizer':>13} {'total':>10} {'digital':>10} {'device sim':>11} {'hw estimate':>12}")
    for h in [int(v) for v in a.hidden.split(",")]:
        model = mlp((a.inputs,), a.classes, hidden=(h,))
        for name in a.optimizers.split(","):
            if name == "ngd" and model.n_params > a.max_dense_n:
                continue
            r = time_iteration(model, name, x, y, a.repeats)
            rows.append(r)
            extra = (f"{1e3 * r['digital_s']:10.2f} {1e3 * r['device_simulation_s']:11.2f} "
                     f"{1e3 * r['hardware_estimate_s']:12.2f}") if "digital_s" in r else ""
            print(f"{r['N']:8d} {name:>13} {1e3 * r['seconds']:10.2f} {extra}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
