"""The main demo: map a 16 x 16 SPD matrix onto an integrator array, solve A x = b on the twin,
print exact vs twin, and plot ||x(t) - x*|| against t beside the theoretical mean relaxation."""
from __future__ import annotations

import json
import os
import time

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.files import atomic_write_text
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.device.spu import SPU
from spucircuit.errors import SPUError
from spucircuit.linalg.solve import range_mapping
from spucircuit.numerics.matrices import random_spd
from spucircuit.numerics.ou import mean_relaxation_norm, stationary_cov
from spucircuit.numerics.stats import mean_and_se
from spucircuit.report.demo import format_demo_table, plot_relaxation


def run_demo(n: int = 16, cond: float = 20.0, seed: int = 0, out_dir: str = "demo_out",
             time_tau: float | None = None, quiet: bool = False) -> dict:
    """Run the demo; returns the summary dict (also written to ``out_dir``/demo.json)."""
    t_wall = time.perf_counter()
    rng = np.random.default_rng(seed)
    A = random_spd(n, cond=cond, seed=rng.integers(2**32))
    b = rng.standard_normal(n)
    x_star = np.linalg.solve(A, b)  # the reference the demo compares with (the device never sees it)
    v_unit, ranging = range_mapping(A, b, seed=seed)  # the device ranges itself first
    mc = integrator_array(A, b, scale=v_unit)
    # the demo's time axis (presentation, not the device's plan) follows the exact spectrum, so that
    # the picture shows the relaxation against its theory
    lam = np.linalg.eigvalsh(mc.A)
    tau = mc.tau_s
    burn = 20.0 / lam[0]  # tau units: e^-20 of the initial error is left
    total = time_tau if time_tau is not None else burn + 200.0 / lam[0]
    dt = 0.1 / lam[-1]  # fine sampling for the transient plot (exact scheme: no step bias)
    spu = SPU(mc, scheme="exponential", dt=dt * tau, chains=1, seed=seed)
    res_burn = spu.run(burn * tau, save_every=1, max_samples=10**7)
    res = spu.run((total - burn) * tau)
    x_twin, se = mean_and_se(res.x, min_batch=int(np.ceil(5.0 / lam[0] / (res.t[0] / tau))))
    err_rel = float(np.linalg.norm(x_twin - x_star) / np.linalg.norm(x_star))
    # transient (single chain, noisy) against the theoretical mean relaxation
    t_tr = res_burn.t / tau
    dist = np.linalg.norm(res_burn.x[:, 0, :] - x_star, axis=1)
    theory = mean_relaxation_norm(A, b, np.zeros(n), t_tr)
    # stationary noise floor: sqrt(trace cov(x)) from the compiled Lyapunov solution

    Y, _ = spu.readout_map
    S = stationary_cov(spu.ss.drift.to_dense(), spu.ss.diffusion)
    floor = float(np.sqrt(np.trace(Y @ S @ Y.T)) / mc.v_unit_v)
    comps = mc.component_counts()
    wall = time.perf_counter() - t_wall
    summary = {
        "n": n, "condition_number": float(lam[-1] / lam[0]), "seed": seed,
        "x_exact": x_star.tolist(), "x_twin": x_twin.tolist(), "standard_error": se.tolist(),
        "relative_error": err_rel, "max_abs_z": float(np.max(np.abs(x_twin - x_star) / se)),
        "analog_time_s": float(total * tau), "burn_in_s": float(burn * tau), "tau_s": tau,
        "noise_floor_x_rms": floor, "components": comps, "scales": mc.scales(),
        "ranging_time_s": ranging["ranging_time_s"],
        "wall_time_s": wall,
    }
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.join(out_dir, "relaxation.png")
    plot_relaxation(t_tr, dist, theory, floor, png, n, summary["condition_number"])
    atomic_write_text(os.path.join(out_dir, "demo.json"), json.dumps(summary, indent=1))
    summary["png"] = png
    if not quiet:
        print(format_demo_table(summary, x_star, x_twin, se))
    return summary


def cmd_demo(args) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise SPUError(f"--out {args.out} exists and is not a folder")
    run_demo(n=args.n, cond=args.cond, seed=args.seed, out_dir=args.out)
    return 0


def register(sub) -> None:
    """Add ``demo`` to the ``spu`` subparsers."""
    d = sub.add_parser("demo", help="16 x 16 demo: map, solve, table and relaxation plot",
                       description="Map a random SPD matrix, solve it on the twin, print a table, plot relaxation.")
    d.add_argument("--n", type=int, default=16, help="matrix size (default 16)")
    d.add_argument("--cond", type=float, default=20.0, help="condition number (default 20)")
    d.add_argument("--seed", type=argtypes.seed, default=0, help="random seed (default 0)")
    d.add_argument("--out", default="demo_out", help="output folder for relaxation.png and demo.json")
    d.set_defaults(func=cmd_demo)
