"""``spu cost``: the hardware runtime and energy model (:mod:`spucircuit.studies.cost`) from the command line.

Hooked into the ``spu`` parser by ``register(subparsers)`` (spucircuit/cli.py::build_parser).

    spu cost solve --n 1024 [--samples 100] [--task inv]      one solve / inversion on an integrator array
    spu cost tngd --params 10000 --batch 64 --outputs 10 [--t 50] [--plot fig2.png]
    spu cost --netlist FILE.cir                               from a netlist (factored -> tngd, else solve)
    spu cost params                                           every parameter, its unit and source
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace

import numpy as np

from spucircuit._util import argtypes
from spucircuit._util.files import atomic_write_text, check_output_path
from spucircuit.errors import SPUError
from spucircuit.io.spice import MAX_ELEMENTS, read_spice
from spucircuit.report.cost_plots import plot_fig2
from spucircuit.report.cost_tables import format_comparison, format_cost, to_json
from spucircuit.studies.cost import (
    MEASURED_KEYS,
    check_measured_rows,
    compare_iteration,
    device_load,
    fig2_sweep,
    params_table,
    solve_cost,
    tngd_iteration_cost,
    with_overrides,
)

EPILOG = """\
hardware and host parameters: --tau, --bits, --link-bps, or any field with --set NAME=VALUE
(repeatable; 'spu cost params' lists them with units and sources), e.g.
  spu cost tngd --params 1e6 --batch 64 --outputs 20 --set link_bps=400e9 --set resistor_bits=8
  spu cost solve --n 1024 --json solve.json
  spu cost tngd --params 1e4 --batch 64 --outputs 20 --plot fig2.png --json fig2.json
  spu cost tngd --params 5460 --batch 64 --outputs 20 --measured rows.json  (python -m tngd.bench --cost-json)
  spu cost --netlist netlists/factored_tngd_n8.cir
"""


def _common(p, top: bool):
    """Options shared by 'spu cost' and its subcommands. On the subcommands their default is
    SUPPRESS, so a value given before the subcommand ('spu cost --tau 2us solve ...') survives."""
    d = None if top else argparse.SUPPRESS
    g = p.add_argument_group("hardware and host (SI units)")
    g.add_argument("--tau", default=d, help="analog time unit tau: seconds or e.g. '1us' (default 1 us, the paper's)")
    g.add_argument("--bits", type=int, default=d, help="DAC, ADC and resistor-word bits (default 16, the paper's)")
    g.add_argument("--link-bps", dest="link_bps", type=float, default=d, help="host link, bit/s (default 50e9)")
    g.add_argument("--set", dest="set", action="append", default=d, metavar="NAME=VALUE",
                   help="set any model parameter (repeatable); see 'spu cost params'")
    o = p.add_argument_group("output")
    o.add_argument("--json", default=d, metavar="OUT.json", help="write the result as JSON here")
    p.add_argument("--max-elements", dest="max_elements", type=argtypes.positive_int,
                   default=MAX_ELEMENTS if top else argparse.SUPPRESS, metavar="N",
                   help=f"refuse a --netlist that expands to more than N elements (default {MAX_ELEMENTS:,})")
    if top:
        p.add_argument("--netlist", default=None, metavar="FILE.cir",
                       help="cost of the circuit in this netlist (factored TNGD circuit -> one iteration, "
                            "integrator array or other -> one solve)")


def _tngd_args(p, required: bool):
    g = p.add_argument_group("TNGD problem")
    g.add_argument("--params", type=float, required=required, help="number of parameters N")
    g.add_argument("--batch", type=int, default=None if not required else 64, help="batch size b (default 64)")
    g.add_argument("--outputs", type=int, default=None if not required else 10,
                   help="network outputs dz (default 10)")
    g.add_argument("--t", type=float, default=50.0, help="analog time per iteration, tau units (default 50)")
    g.add_argument("--cg-iters", dest="cg_iters", type=int, default=10, help="NGD-CG iterations (default 10)")
    g.add_argument("--upload", choices=["factor", "jacobian"], default="factor",
                   help="send Ut = R^T J (H array fixed, default) or J and the Hessian blocks")
    g.add_argument("--measured", default=None, metavar="BENCH.json",
                   help="measured rows {method, N, b, dz, seconds} (as 'python -m tngd.bench --cost-json' writes): "
                        "digital times at --params (nearest N) shown next to the estimates")
    g.add_argument("--plot", default=None, metavar="OUT.png",
                   help="Fig. 2-style sweep around these sizes: time vs N (this dz), vs dz (this N), energy vs N")


def _solve_args(p, required: bool):
    g = p.add_argument_group("solve problem")
    g.add_argument("--n", type=int, required=required, help="matrix size n (dense array)")
    g.add_argument("--task", choices=["solve", "inv"], default="solve", help="time average or covariance")
    g.add_argument("--samples", type=int, default=None, help="snapshots (default 100 solve, 1000 inv)")
    g.add_argument("--burn-in", dest="burn_in", type=float, default=20.0,
                   help="burn-in, units of tau / lambda_min (default 20)")
    g.add_argument("--interval", type=float, default=2.0, help="snapshot spacing, units of tau / lambda_min (default 2)")
    g.add_argument("--ranging-passes", dest="ranging_passes", type=int, default=None,
                   help="auto-ranging passes before a solve (default 2: a pass at the bound, one at the measured "
                        "range; 0 when the scale is known)")
    g.add_argument("--lambda-min", dest="lambda_min", type=float, default=1.0,
                   help="smallest eigenvalue of A in tau units (default 1)")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``cost`` subcommand (with solve, tngd, params) to an argparse subparsers object."""
    p = subparsers.add_parser(
        "cost", help="hardware runtime and energy model: one solve, one TNGD iteration, digital references",
        description="Estimate wall time and energy of one SPU solve or one TNGD iteration (upload, DAC, "
                    "analog time, ADC, transfer, host work) and of the digital NGD variants.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)  # else '--t' after 'tngd' is taken as an ambiguous abbreviation of --tau / --task
    _common(p, True)
    _solve_args(p, False)  # used with --netlist (solve) ...
    sub = p.add_subparsers(dest="what", metavar="{solve,tngd,params}")
    s = sub.add_parser("solve", help="one solve / inversion on an integrator array",
                       description="Cost of one solve (time average of samples) or inversion (covariance) on "
                                   "a dense n x n integrator array, or on the circuit in --netlist.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _solve_args(s, False)
    s.add_argument("--netlist", default=None, metavar="FILE.cir", help="count this integrator array instead of --n")
    _common(s, False)
    t = sub.add_parser("tngd", help="one TNGD iteration vs NGD, NGD-CG, NGD-Woodbury, Adam",
                       description="Cost of one TNGD iteration on the factored circuit (App. C) and of the digital "
                                   "references at the same sizes; --plot draws the Fig. 2-style sweep.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _tngd_args(t, False)
    t.add_argument("--netlist", default=None, metavar="FILE.cir", help="count this factored circuit instead of --params")
    _common(t, False)
    q = sub.add_parser("params", help="list every model parameter with its value, unit and source",
                       description="Every hardware and host parameter: value, unit, and where it comes from "
                                   "(the paper, or a labelled assumption).")
    _common(q, False)
    p.set_defaults(func=cmd_cost)
    return p


# ----------------------------------------------------------------------------- helpers
def _params(args):
    vals = {}
    for item in (getattr(args, "set", None) or []):
        if "=" not in item:
            raise SPUError(f"--set needs NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        vals[k.strip()] = v.strip()
    if getattr(args, "tau", None) is not None:
        vals["tau_s"] = args.tau
    if getattr(args, "bits", None) is not None:
        for k in ("dac_bits", "adc_bits", "resistor_bits"):
            vals[k] = args.bits
    if getattr(args, "link_bps", None) is not None:
        vals["link_bps"] = args.link_bps
    return with_overrides(**vals)


def _write_json(path, obj):
    atomic_write_text(path, to_json(obj))


def _measured(path, N):
    """(N', {method: seconds}) from a file of measured rows (studies.cost.MEASURED_KEYS) at the
    N' nearest to the requested N."""
    if not os.path.exists(path):
        raise SPUError(f"measured file not found: {path}")
    try:
        with open(path) as f:
            rows = json.load(f)
    except ValueError as exc:
        raise SPUError(f"cannot read measured rows from {path}: {exc}") from None
    try:
        rows = check_measured_rows(rows)
    except SPUError as exc:
        raise SPUError(f"{path}: {exc}") from None
    if not rows:
        raise SPUError(f"{path} holds no measured rows ({{{', '.join(MEASURED_KEYS)}}})")
    best = min({r["N"] for r in rows}, key=lambda n: abs(n - N))
    return best, {r["method"]: r["seconds"] for r in rows if r["N"] == best}


MAX_SIZE = 10**15  # sizes beyond this overflow the cost model's products (N^2 b dz flops)


def _int_size(name, v):
    try:
        ok = v is not None and v == int(v) and 1 <= int(v) <= MAX_SIZE
    except (TypeError, ValueError, OverflowError):  # NaN, inf
        ok = False
    if not ok:
        raise SPUError(f"{name} must be a positive integer <= {MAX_SIZE:.0e}, got {v!r}")
    return int(v)


# ----------------------------------------------------------------------------- commands
def cmd_cost(args) -> int:
    """``spu cost``: dispatch to params, solve or tngd (a --netlist alone picks by its architecture)."""
    what = args.what
    for opt in ("json", "plot"):
        if getattr(args, opt, None):
            check_output_path(getattr(args, opt), "--" + opt)
    if what is None:
        if not args.netlist:
            raise SPUError("give a subcommand (solve, tngd, params) or --netlist FILE.cir; see 'spu cost --help'")
        load = _netlist_load(args.netlist, max_elements=args.max_elements)
        what = "tngd" if load.architecture == "factored" else "solve"
        args.load = load
        if what == "tngd":
            for k, v in (("params", None), ("batch", None), ("outputs", None), ("t", 50.0), ("cg_iters", 10),
                         ("upload", "factor"), ("measured", None), ("plot", None)):
                setattr(args, k, v)
    if what == "params":
        return _cmd_params(args)
    if what == "solve":
        return _cmd_solve(args)
    return _cmd_tngd(args)


def _netlist_load(path, b=None, dz=None, max_elements=MAX_ELEMENTS):
    """The device load of the circuit in a netlist file (read here, at the edge)."""
    if not os.path.exists(path):
        raise SPUError(f"netlist file not found: {path}")
    return replace(device_load(read_spice(path, max_elements=max_elements), b=b, dz=dz), source=f"netlist {path}")


def _circuit(args):
    """The load of --netlist (counted once, by cmd_cost, or here), or None."""
    load = getattr(args, "load", None)
    if load is None and getattr(args, "netlist", None):
        load = _netlist_load(args.netlist, getattr(args, "batch", None), getattr(args, "outputs", None),
                             args.max_elements)
    return load


def _cmd_params(args) -> int:
    hw, host = _params(args)
    rows = params_table(hw, host)
    w = max(len(r[0]) for r in rows)
    print(f"{'parameter':<{w}}  {'value':>12}  {'unit':<28} source")
    for nm, v, unit, src in rows:
        print(f"{nm:<{w}}  {v:>12.4g}  {unit:<28} {src}")
    if getattr(args, "json", None):
        _write_json(args.json, [{"name": nm, "value": v, "unit": u, "source": s} for nm, v, u, s in rows])
        print(f"wrote {args.json}")
    return 0


def _cmd_solve(args) -> int:
    hw, host = _params(args)
    circuit = _circuit(args)
    if circuit is None and args.n is None:
        raise SPUError("spu cost solve: give --n or --netlist")
    c = solve_cost(None if circuit is not None else args.n, circuit=circuit, hw=hw, host=host, task=args.task,
                   samples=args.samples, burn_in_tau=args.burn_in, sample_interval_tau=args.interval,
                   lambda_min=args.lambda_min, ranging_passes=args.ranging_passes)
    print(format_cost(c))
    if getattr(args, "json", None):
        _write_json(args.json, {"cost": c, "hardware": hw, "host": host})
        print(f"wrote {args.json}")
    return 0


def _cmd_tngd(args) -> int:
    hw, host = _params(args)
    circuit = _circuit(args)
    if circuit is not None:
        c = tngd_iteration_cost(circuit=circuit, b=args.batch, dz=args.outputs, t_tau=args.t, hw=hw, host=host)
        N, b, dz = c.detail["N"], c.detail["b"], c.detail["dz"]
    else:
        if args.params is None:
            raise SPUError("spu cost tngd: give --params (and --batch, --outputs) or --netlist")
        N = _int_size("--params", args.params)
        b = _int_size("--batch", args.batch if args.batch is not None else 64)
        dz = _int_size("--outputs", args.outputs if args.outputs is not None else 10)
        c = None
    measured, measured_n = {}, None
    if args.measured:
        measured_n, measured = _measured(args.measured, N)
        if measured_n != N:
            print(f"spu cost: measured rows are at N = {measured_n} (nearest to {N}); estimates use N = {N}")
    costs = compare_iteration(N, b, dz, t_tau=args.t, cg_iters=args.cg_iters, hw=hw, host=host, upload=args.upload,
                              measured=measured)
    if c is not None:
        costs["tngd"] = c if "tngd" not in measured else tngd_iteration_cost(
            circuit=circuit, b=b, dz=dz, t_tau=args.t, hw=hw, host=host, host_time_s=measured["tngd"])
    print(f"N = {N}, b = {b}, dz = {dz} (m = {b * dz}), t = {args.t:g} tau")
    print(format_cost(costs["tngd"]))
    print("\nper iteration:")
    print(format_comparison(costs))
    out = {"N": N, "b": b, "dz": dz, "t_tau": args.t, "costs": costs, "hardware": hw, "host": host,
           "measured": {"file": args.measured, "N": measured_n, "seconds": measured} if args.measured else None}
    if args.plot:
        Ns = np.unique(np.round(np.logspace(np.log10(max(100, N / 100)), np.log10(N * 100), 13)).astype(int))
        dzs = np.unique(np.round(np.logspace(0, np.log10(max(1000, 10 * dz)), 13)).astype(int))
        sw = fig2_sweep(Ns, dzs, b=b, dz=dz, N=N, t_tau=args.t, cg_iters=args.cg_iters, hw=hw, host=host,
                        upload=args.upload)
        plot_fig2(sw, args.plot, title=f"hardware runtime model (spu cost): b = {b}, t = {args.t:g} tau, "
                                       f"tau = {hw.tau_s:g} s, {hw.resistor_bits}-bit words over {hw.link_bps:g} bit/s")
        out["sweep"] = sw
        print(f"wrote {args.plot}")
    if getattr(args, "json", None):
        _write_json(args.json, out)
        print(f"wrote {args.json}")
    return 0
