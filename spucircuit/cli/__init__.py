"""The ``spu`` command line. Every subcommand has --help; errors print one line and exit 2."""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from spucircuit.errors import SPUError


def load_npy(path: str, what: str) -> np.ndarray:
    """Load a .npy file for a subcommand; missing or malformed files raise SPUError."""
    if not os.path.exists(path):
        raise SPUError(f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for malformed files
        raise SPUError(f"cannot read {what} file {path}: {exc}") from None


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o).__name__)


def _strict(o):
    """Replace NaN/inf (e.g. a standard error with too few batches) by null: strict JSON."""
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray)):
        return [_strict(v) for v in (o.tolist() if isinstance(o, np.ndarray) else o)]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    return o


def _mapping_kwargs(args) -> dict:
    kw = {}
    for k in ("r_min", "r_max", "c", "v_swing"):
        v = getattr(args, k, None)
        if v is not None:
            kw[k] = v
    return kw


def _add_mapping_args(p):
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


def _add_sim_args(p, chains_default):
    g = p.add_argument_group("simulation")
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    g.add_argument("--time", default=None,
                   help="total analog time: seconds, or e.g. '50tau', '20us' (default: automatic from lambda_min)")
    g.add_argument("--burn-in", dest="burn_in", default=None, help="discarded initial time (same units)")
    g.add_argument("--seed", type=int, default=None, help="random seed (same seed, same bits)")
    g.add_argument("--chains", type=int, default=chains_default, help="independent chains simulated at once")
    g.add_argument("--scheme", choices=["exact", "euler"], default="exact", help="integration scheme")
    g.add_argument("--dt", type=float, default=None, help="time step, s (default: automatic)")
    g.add_argument("--temperature", type=float, default=300.0, help="Johnson-noise temperature, K")


def cmd_solve(args) -> int:
    from spucircuit._util.files import atomic_save_npy
    from spucircuit.linalg.solve import solve

    A = load_npy(args.matrix, "matrix")
    b = load_npy(args.rhs, "right-hand side")
    x, info = solve(A, b, time=args.time, burn_in=args.burn_in, chains=args.chains, seed=args.seed,
                    scheme=args.scheme, dt=args.dt, temperature_k=args.temperature,
                    noise=not args.no_noise, prune=args.prune, return_info=True,
                    progress=want_progress(args), **_mapping_kwargs(args))
    x_ref = np.linalg.solve(np.asarray(A, float), np.asarray(b, float).reshape(-1))
    rel = float(np.linalg.norm(x - x_ref) / max(np.linalg.norm(x_ref), np.finfo(float).tiny))
    if args.out:
        atomic_save_npy(args.out, x)
    out = {
        "x": x, "relative_error": rel, "standard_error": info["standard_error"],
        "analog_time_s": info["analog_time_s"], "burn_in_s": info["burn_in_s"], "tau_s": info["tau_s"],
        "dt_s": info["dt_s"], "steps": info["steps"], "scheme": info["scheme"],
        "components": info["components"], "pruning": info["pruning"],
        "transient_bias_bound": info["transient_bias_bound"], "out": args.out,
    }
    if not info["se_reliable"]:
        print("spu solve: warning: the run is too short for a standard error (fewer than 2 batches of "
              "5 slowest relaxation times); give a longer --time or more --chains", file=sys.stderr)
    if args.json:
        print(json.dumps(_strict(out), default=_json_default, allow_nan=False))
    else:
        c = info["components"]
        print(f"solved n = {len(x)} on the twin: relative error {rel:.3e} (vs numpy.linalg.solve), "
              f"max std err {np.max(info['standard_error']):.3e}")
        print(f"analog time {info['analog_time_s']:.4g} s ({info['analog_time_s'] / info['tau_s']:.1f} tau), "
              f"{c['total']} components ({c['resistors']} R, {c['capacitors']} C, {c['op-amps']} op-amps)")
        if args.out:
            print(f"x written to {args.out}")
    return 0


def cmd_inv(args) -> int:
    from spucircuit._util.files import atomic_save_npy
    from spucircuit.linalg.solve import inv

    A = load_npy(args.matrix, "matrix")
    Ainv, info = inv(A, time=args.time, burn_in=args.burn_in, chains=args.chains, seed=args.seed,
                     scheme=args.scheme, dt=args.dt, temperature_k=args.temperature,
                     noise_psd=args.noise_psd, prune=args.prune, return_info=True,
                     progress=want_progress(args), **_mapping_kwargs(args))
    ref = np.linalg.inv(np.asarray(A, float))
    rel = float(np.linalg.norm(Ainv - ref) / np.linalg.norm(ref))
    if args.out:
        atomic_save_npy(args.out, Ainv)
    out = {k: v for k, v in info.items() if k != "mapped"}
    out.update(inverse=Ainv, relative_error=rel, out=args.out)
    if args.json:
        print(json.dumps(_strict(out), default=_json_default, allow_nan=False))
    else:
        print(f"inverted n = {len(Ainv)} on the twin: relative error {rel:.3e} (Frobenius, vs numpy.linalg.inv), "
              f"analog time {info['analog_time_s']:.4g} s x {info['chains']} chains")
    return 0


def cmd_map(args) -> int:
    from spucircuit.circuit.integrator_array import integrator_array

    A = load_npy(args.matrix, "matrix")
    b = load_npy(args.rhs, "right-hand side") if args.rhs else None
    mc = integrator_array(A, b, prune=args.prune, noise_psd=args.noise_psd or 0.0, **_mapping_kwargs(args))
    mc.to_json(args.output)
    c = mc.component_counts()
    print(f"mapped n = {mc.n}: {c['total']} components ({c['resistors']} resistors, {c['capacitors']} capacitors, "
          f"{c['op-amps']} op-amps), tau = {mc.tau_s:.4g} s -> {args.output}")
    return 0


def cmd_demo(args) -> int:
    from spucircuit.cli.demo import run_demo

    run_demo(n=args.n, cond=args.cond, seed=args.seed, out_dir=args.out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spu", description="Circuit-level digital twin of a thermodynamic SPU (SI units throughout).")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("solve", help="solve A x = b on the twin (time average of node voltages)",
                       description="Map A, b onto an integrator array, simulate it and time-average x.")
    s.add_argument("--matrix", required=True, help="SPD matrix A, .npy")
    s.add_argument("--rhs", required=True, help="right-hand side b, .npy")
    s.add_argument("--out", help="write x here (.npy)")
    s.add_argument("--json", action="store_true", help="print one JSON object with x, relative_error, ...")
    s.add_argument("--no-noise", action="store_true", help="deterministic circuit (no Johnson noise)")
    _add_sim_args(s, 1)
    _add_mapping_args(s)
    s.set_defaults(func=cmd_solve)

    v = sub.add_parser("inv", help="invert A on the twin (stationary covariance, b = 0)",
                       description="A^-1 = 2 cov(x) / q from the twin's stationary fluctuations.")
    v.add_argument("--matrix", required=True, help="SPD matrix A, .npy")
    v.add_argument("--out", help="write A^-1 here (.npy)")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                   help="injected noise current PSD per summing node, A^2/Hz (default 1e4 x Johnson)")
    _add_sim_args(v, 8)
    _add_mapping_args(v)
    v.set_defaults(func=cmd_inv)

    m = sub.add_parser("map", help="map A (and b) onto an integrator array; write the component list",
                       description="Write the circuit (components, values, scales, state-to-voltage map) as JSON.")
    m.add_argument("--matrix", required=True, help="SPD matrix A, .npy")
    m.add_argument("--rhs", help="right-hand side b, .npy (default 0)")
    m.add_argument("-o", "--output", required=True, help="output JSON path")
    m.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                   help="add an injected noise current of this PSD at each summing node, A^2/Hz")
    _add_mapping_args(m)
    m.set_defaults(func=cmd_map)

    d = sub.add_parser("demo", help="16 x 16 demo: map, solve, table and relaxation plot",
                       description="Map a random SPD matrix, solve it on the twin, print a table, plot relaxation.")
    d.add_argument("--n", type=int, default=16, help="matrix size (default 16)")
    d.add_argument("--cond", type=float, default=20.0, help="condition number (default 20)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--out", default="demo_out", help="output folder for relaxation.png and demo.json")
    d.set_defaults(func=cmd_demo)

    from spucircuit.cli.spice import register as _register_spice

    _register_spice(sub)
    from spucircuit.cli.study import register as _register_study

    _register_study(sub)
    from spucircuit.cli.cost import register as _register_cost

    _register_cost(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SPUError as exc:
        print(f"spu {args.cmd}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
