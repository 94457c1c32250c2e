"""``spu solve | inv | map``: linear algebra on the twin from .npy files."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit._util.files import atomic_save_npy, check_output_path
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.cli._common import (
    add_mapping_args,
    add_sim_args,
    apply_run_limit,
    load_matrix,
    load_npy,
    mapping_kwargs,
    print_json,
    want_progress,
)
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT
from spucircuit.device import base as device_base
from spucircuit.errors import SPUError
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.models import Rails, Thermal
from spucircuit.imperfections.profiles import (
    CONVERTER_PROFILE_NAMES,
    PROFILE_NAMES,
    converter_profile,
    opamp_profile,
)
from spucircuit.linalg.solve import auto_scheme, device_inv, device_solve, inv, solve
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT
from spucircuit.numerics.matrices import check_spd
from spucircuit.numerics.scaling import relative_error
from spucircuit.report.files import write_circuit_json


def budget_line(eb: dict) -> str:
    """One line of an error budget (``SolveInfo.error_budget``) for the terminal."""
    if eb["relative"] is None:
        return f"error bound unavailable: {'; '.join(eb['unbounded'])}"
    return (f"error bound {eb['relative']:.3e} relative: |x - x*| <= {eb['absolute']:.3e} = {eb['z']:g} x noise "
            f"{eb['noise'] / eb['z']:.2e} + read-out {eb['readout']:.2e} + transient {eb['transient']:.2e} + "
            f"systematic {eb['systematic']:.2e} (1/lambda from the {eb['lam_source']})")


def _device(args, A, b, **mapping) -> Device:
    """The device of a non-ideal --profile, --rails or --converters: the profile's op-amps at
    --temperature with their rails and converters, fabricated from --seed."""
    conv = None
    if args.converters is not None:
        cp = converter_profile(args.converters)
        conv = chain(cp.dac(args.converter_bits, CONVERTER_FS_V), cp.adc(args.converter_bits, CONVERTER_FS_V))
    imp = chain(opamp_profile(args.profile).imperfection(args.temperature), Thermal(args.temperature),
                Rails(args.rails) if args.rails is not None else None, conv)
    scale = "oracle" if args.scale == "oracle" else "bound"  # autorange then ranges the device itself
    return Device(imp, np.random.SeedSequence(args.seed).spawn(2)[1], prune=args.prune, scale=scale,
                  kappa_max=args.kappa_max, **mapping_kwargs(args), **mapping).program(A, b)


CONVERTER_FS_V = 2.0  # full scale of --converters' DACs and ADCs, +-V (the study's default)


def _ideal(args) -> bool:
    return args.profile == "ideal" and args.rails is None and args.converters is None


def _converters(args):
    if args.converters is None:
        return None
    return {**converter_profile(args.converters).describe(), "bits": args.converter_bits, "full_scale_v": CONVERTER_FS_V}


def _profile_line(name: str) -> str:
    p = opamp_profile(name)
    if name == "ideal":
        return "op-amp profile: ideal"
    return f"op-amp profile: {name} (typical values of parts like {p.part}; 1/f noise included; rails only with --rails)"


def _scheme(A, args) -> str:
    """--scheme, with 'auto' resolved (linalg.solve.auto_scheme) once the matrix is loaded (a dense one
    checked here; a sparse one is checked by solve / inv, whose spectral probe proves it positive
    definite without a second factorisation)."""
    return auto_scheme(A if sp.issparse(A) else check_spd(A), args.scheme)


def cmd_solve(args) -> int:
    apply_run_limit(args)
    if args.out:
        check_output_path(args.out, "--out")
    A = load_matrix(args.matrix, "matrix")
    b = load_npy(args.rhs, "right-hand side")
    run = dict(time=args.time, burn_in=args.burn_in, chains=args.chains, scheme=_scheme(A, args), dt=args.dt,
               noise=not args.no_noise, scale=args.scale, kappa_max=args.kappa_max)
    if _ideal(args):
        x, info = solve(A, b, seed=args.seed, temperature_k=args.temperature, prune=args.prune, return_info=True,
                        progress=want_progress(args), **run, **mapping_kwargs(args))
    else:
        dev = _device(args, A, b)
        x, info = device_solve(dev, b, seed=np.random.SeedSequence(args.seed).spawn(2)[0], **run)
    x_ref = (spla.spsolve(sp.csc_matrix(A, dtype=float), np.asarray(b, float).reshape(-1)) if sp.issparse(A)
             else np.linalg.solve(np.asarray(A, float), np.asarray(b, float).reshape(-1)))
    rel = relative_error(x, x_ref)
    if args.out:
        atomic_save_npy(args.out, x)
    out = {"x": x, "relative_error": rel, "profile": opamp_profile(args.profile).describe(),
           "converters": _converters(args)}
    out.update({k: getattr(info, k) for k in (
        "standard_error", "error_bound", "error_budget", "analog_time_s", "burn_in_s", "window_s", "scale", "tau_s",
        "dt_s", "steps", "scheme", "components", "pruning", "transient_bias_bound", "adc_clipped", "dac_clipped",
        "saturated", "saturated_opamps")})
    out["rails_V"] = args.rails
    out["out"] = args.out
    out["estimated_compute_s"] = device_base.LEDGER["compute_s"]  # the work model's figure for this command
    if args.json:
        print_json(out)
    else:
        print(f"solved n = {len(x)} on the twin: relative error {rel:.3e} (vs numpy.linalg.solve), "
              f"max std err {np.max(info.standard_error):.3e}")
        print(budget_line(info.error_budget))
        print(_profile_line(args.profile))
        if info.saturated:
            print(f"saturated: {info.saturated} op-amps sat on the +-{args.rails:g} V rails "
                  f"({', '.join(info.saturated_opamps[:8])}{', ...' if info.saturated > 8 else ''}): the answer is "
                  "not the solution of A x = b; range with a larger margin or raise the rails")
        print(f"analog time {info.analog_time_s:.4g} s ({info.analog_time_s / info.tau_s:.1f} tau)"
              + (f", {info.components['total']} components ({info.components['resistors']} R, "
                 f"{info.components['capacitors']} C, {info.components['op-amps']} op-amps)" if info.components else ""))
        if args.out:
            print(f"x written to {args.out}")
    return 0


def cmd_inv(args) -> int:
    apply_run_limit(args)
    if args.out:
        check_output_path(args.out, "--out")
    A = load_matrix(args.matrix, "matrix")
    run = dict(time=args.time, burn_in=args.burn_in, chains=args.chains, scheme=_scheme(A, args), dt=args.dt,
               scale=args.scale, kappa_max=args.kappa_max)
    if args.diagonal:
        return _inv_diagonal(args, A, run)
    if _ideal(args):
        Ainv, info = inv(A, seed=args.seed, temperature_k=args.temperature, noise_psd=args.noise_psd, prune=args.prune,
                         return_info=True, progress=want_progress(args), **run, **mapping_kwargs(args))
    else:
        kw = mapping_kwargs(args)
        psd = args.noise_psd if args.noise_psd is not None else default_injected_psd(
            A, kw.get("r_min", R_MIN_DEFAULT), kw.get("r_max", R_MAX_DEFAULT), args.temperature)
        dev = _device(args, A, None, noise_psd=psd)
        Ainv, info = device_inv(dev, seed=np.random.SeedSequence(args.seed).spawn(2)[0], **run)
    ref = np.linalg.inv(A.toarray() if sp.issparse(A) else np.asarray(A, float))  # inv's answer is n x n anyway
    rel = relative_error(Ainv, ref)
    if args.out:
        atomic_save_npy(args.out, Ainv)
    out = {k: v for k, v in info.items() if k != "mapped"}
    out.update(inverse=Ainv, relative_error=rel, error_bound=info.error_bound,
               profile=opamp_profile(args.profile).describe(), converters=_converters(args), out=args.out,
               estimated_compute_s=device_base.LEDGER["compute_s"])
    if args.json:
        print_json(out)
    else:
        print(f"inverted n = {len(Ainv)} on the twin: relative error {rel:.3e} (Frobenius, vs numpy.linalg.inv), "
              f"analog time {info['analog_time_s']:.4g} s x {info['chains']} chains")
        print(budget_line(info.error_budget).replace("|x - x*|", "|X - A^-1|_F"))
        print(_profile_line(args.profile))
    return 0


DIAGONAL_REFERENCE_MAX_N = 4096  # --diagonal reports its error against a dense inverse up to this n


def _inv_diagonal(args, A, run) -> int:
    """``spu inv --diagonal``: the diagonal of A^-1 (inv(diagonal=True): no n x n array), written as a
    vector; its error against numpy's inverse is reported up to DIAGONAL_REFERENCE_MAX_N only."""
    if not _ideal(args):
        raise SPUError("--diagonal runs on the ideal array only: leave out --profile, --rails and --converters")
    d, info = inv(A, seed=args.seed, temperature_k=args.temperature, noise_psd=args.noise_psd, prune=args.prune,
                  return_info=True, progress=want_progress(args), diagonal=True, **run, **mapping_kwargs(args))
    rel = None
    if len(d) <= DIAGONAL_REFERENCE_MAX_N:
        ref = np.diag(np.linalg.inv(A.toarray() if sp.issparse(A) else np.asarray(A, float)))
        rel = float(np.linalg.norm(d - ref) / np.linalg.norm(ref))
    if args.out:
        atomic_save_npy(args.out, d)
    out = {k: v for k, v in info.items() if k != "mapped"}
    out.update(diagonal=d, relative_error=rel, error_bound=info.error_bound, out=args.out,
               estimated_compute_s=device_base.LEDGER["compute_s"])
    if args.json:
        print_json(out)
    else:
        what = "not computed (n above 4096)" if rel is None else f"{rel:.3e} (2-norm, vs numpy.linalg.inv)"
        print(f"diagonal of A^-1, n = {len(d)}, on the twin: relative error {what}, analog time "
              f"{info['analog_time_s']:.4g} s x {info['chains']} chains")
        print(budget_line(info.error_budget).replace("|x - x*|", "|d - diag(A^-1)|"))
        if args.out:
            print(f"diagonal written to {args.out}")
    return 0


def cmd_map(args) -> int:
    A = load_npy(args.matrix, "matrix")
    b = load_npy(args.rhs, "right-hand side") if args.rhs else None
    if args.output is None and not args.json:
        raise SPUError("give -o FILE (the circuit as JSON) or --json (print it)")
    if args.output is not None:
        check_output_path(args.output, "-o")
    mc = integrator_array(A, b, prune=args.prune, noise_psd=args.noise_psd or 0.0, scale=args.scale,
                          kappa_max=args.kappa_max, **mapping_kwargs(args))
    if args.output is not None:
        write_circuit_json(mc, args.output)
    if args.json:
        print_json(mc.to_dict())
        return 0
    c = mc.component_counts()
    sc = mc.to_dict()["scales"]
    print(f"mapped n = {mc.n}: {c['total']} components ({c['resistors']} resistors, {c['capacitors']} capacitors, "
          f"{c['op-amps']} op-amps), tau = {mc.tau_s:.4g} s, v_unit = {mc.v_unit_v:.4g} V from the "
          f"{sc.get('scale_method', '?')} scale -> {args.output}")
    return 0


def add_profile_arg(p) -> None:
    p.add_argument("--rails", type=float, default=None, metavar="V",
                   help="op-amp output rails, +-V: outputs clip there and saturated integrators wind up and "
                        "recover as real ones do; saturation is reported per op-amp (default: no rails)")
    p.add_argument("--profile", choices=PROFILE_NAMES, default="ideal",
                   help="op-amp profile: ideal (default) or datasheet-typical gain, offset and drift, bias currents "
                        "and input noise of a part class (" + ", ".join(PROFILE_NAMES[1:]) + "); the device is "
                        "fabricated from --seed")
    p.add_argument("--converters", choices=CONVERTER_PROFILE_NAMES, default=None,
                   help="input DACs and read-out ADCs of a converter class (typical gain and offset error, INL, "
                        f"DNL, transition noise; +-{CONVERTER_FS_V:g} V full scale; default: none, exact I/O)")
    p.add_argument("--converter-bits", type=int, default=16, metavar="B",
                   help="resolution of the --converters, bits (default 16)")


def register(sub) -> None:
    """Add ``solve``, ``inv`` and ``map`` to the ``spu`` subparsers."""
    s = sub.add_parser("solve", help="solve A x = b on the twin (time average of node voltages)",
                       description="Map A, b onto an integrator array, simulate it and time-average x.")
    s.add_argument("--matrix", required=True, help="SPD matrix A: .npy, scipy.sparse .npz (save_npz) or Matrix Market .mtx")
    s.add_argument("--rhs", required=True, help="right-hand side b, .npy")
    s.add_argument("--out", help="write x here (.npy)")
    s.add_argument("--json", action="store_true", help="print one JSON object with x, relative_error, ...")
    s.add_argument("--no-noise", action="store_true", help="deterministic circuit (no Johnson noise)")
    add_sim_args(s, 1)
    add_profile_arg(s)
    add_mapping_args(s)
    s.set_defaults(func=cmd_solve)

    v = sub.add_parser("inv", help="invert A on the twin (stationary covariance, b = 0)",
                       description="A^-1 = 2 cov(x) / q from the twin's stationary fluctuations.")
    v.add_argument("--matrix", required=True, help="SPD matrix A: .npy, scipy.sparse .npz (save_npz) or Matrix Market .mtx")
    v.add_argument("--out", help="write A^-1 (or with --diagonal its diagonal) here (.npy)")
    v.add_argument("--diagonal", action="store_true",
                   help="only the diagonal of A^-1, from the variances of the node voltages (O(n) memory: the way "
                        "to run a large sparse A); writes an n-vector")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                   help="injected noise current PSD per summing node, A^2/Hz (default 1e4 x Johnson)")
    add_sim_args(v, 8)
    add_profile_arg(v)
    add_mapping_args(v)
    v.set_defaults(func=cmd_inv)

    m = sub.add_parser("map", help="map A (and b) onto an integrator array; write the component list",
                       description="Write the circuit (components, values, scales, state-to-voltage map) as JSON.")
    m.add_argument("--matrix", required=True, help="SPD matrix A, .npy")
    m.add_argument("--rhs", help="right-hand side b, .npy (default 0)")
    m.add_argument("-o", "--output", default=None, help="output JSON path")
    m.add_argument("--json", action="store_true", help="print the circuit as one JSON object")
    m.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                   help="add an injected noise current of this PSD at each summing node, A^2/Hz")
    m.add_argument("--scale", choices=["bound", "oracle"], default="bound",
                   help="volts per unit of x: 'bound' (default; |x| <= |b| / lambda_min from the kappa_max spec, "
                        "what a device can know) or 'oracle' (from x* itself: a labelled upper bound); the JSON "
                        "records it (scales.scale_method). A device auto-ranges from the bound when it runs")
    m.add_argument("--kappa-max", dest="kappa_max", type=float, default=KAPPA_MAX_DEFAULT,
                   help=f"problem-class spec for the bound scale: largest condition number (default {KAPPA_MAX_DEFAULT:g})")
    add_mapping_args(m)
    m.set_defaults(func=cmd_map)
