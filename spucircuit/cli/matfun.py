"""``spu expm | logdet``: matrix exponentials and log-determinants on the integrator-array twin, from
.npy files. Each prints one JSON object with --json (``relative_error`` against its exact scipy /
numpy reference, computed only for the report)."""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from spucircuit._util.files import atomic_save_npy
from spucircuit.cli._common import apply_run_limit, load_npy, mapping_kwargs, print_json, want_progress
from spucircuit.cli.gaussian import check_outputs, run_args, time_line
from spucircuit.cli.linalg import budget_line
from spucircuit.device import base as device_base
from spucircuit.linalg.expm import expm, expnegm
from spucircuit.linalg.logdet import logdet
from spucircuit.numerics.scaling import relative_error


def cmd_expm(args) -> int:
    apply_run_limit(args)
    check_outputs(args, "--out")
    A = load_npy(args.matrix, "matrix")
    f = expnegm if args.negative else expm
    E, info = f(A, time=args.time, target=args.target, max_time=args.max_time, chains=args.chains, seed=args.seed, temperature_k=args.temperature,
                noise_psd=args.noise_psd, kappa_max=args.kappa_max, return_info=True, progress=want_progress(args),
                **mapping_kwargs(args))
    A = np.asarray(A, float)
    ref = sla.expm(-A if args.negative else A)  # the exact reference, for the report only
    rel = relative_error(E, ref)
    if args.out:
        atomic_save_npy(args.out, E)
    what = "expm(-A)" if args.negative else "expm(A)"
    out = {"result": E, "function": what, "relative_error": rel, "standard_error": info.standard_error,
           "error_bound": info.error_bound, "error_budget": info.error_budget, "analog_time_s": info.analog_time_s,
           "tau_s": info.tau_s, "dt_s": info.dt_s, "steps_per_lag": info.scale["steps_per_lag"],
           "chains": info.chains, "noise_psd_A2_per_Hz": info.noise_psd_A2_per_Hz, "components": info.components,
           "scale": info.scale, "out": args.out, "estimated_compute_s": device_base.LEDGER["compute_s"]}
    if args.json:
        print_json(out)
    else:
        print(f"{what}, n = {len(E)}, on the twin: relative error {rel:.3e} (Frobenius, vs scipy.linalg.expm)")
        print(budget_line(info.error_budget).replace("|x - x*|", "|E - E*|_F"))
        print(time_line(info) + (f"; result written to {args.out}" if args.out else ""))
    return 0


def cmd_logdet(args) -> int:
    apply_run_limit(args)
    A = load_npy(args.matrix, "matrix")
    v, info = logdet(A, time=args.time, chains=args.chains, seed=args.seed, temperature_k=args.temperature,
                     noise_psd=args.noise_psd, kappa_max=args.kappa_max, return_info=True,
                     progress=want_progress(args), **mapping_kwargs(args))
    A = np.asarray(A, float)
    n = len(A)
    ref = float(np.linalg.slogdet(A)[1])  # the exact reference, for the report only
    err = abs(v - ref)
    eb = info.error_budget
    out = {"logdet": v, "reference": ref, "method": eb["method"], "relative_error": err / n,
           "relative_error_normalisation": "|log det - log det*| / n: the relative error of det(A)^(1/n); log det "
                                           "itself can be 0", "absolute_error": err,
           "standard_error": info.standard_error, "error_bound": info.error_bound,
           "error_bound_absolute": eb["absolute"], "error_budget": eb, "analog_time_s": info.analog_time_s,
           "tau_s": info.tau_s, "chains": info.chains, "noise_psd_A2_per_Hz": info.noise_psd_A2_per_Hz,
           "components": info.components, "estimated_compute_s": device_base.LEDGER["compute_s"]}
    if args.json:
        print_json(out)
    else:
        print(f"log det A = {v:.6g} on the twin (n = {n}, {eb['method']}): error {err:.3e} "
              f"({err / n:.3e} per dimension, vs numpy.linalg.slogdet), standard error {info.standard_error:.3e}")
        print(f"error bound {eb['absolute']:.3e} absolute ({info.error_bound:.3e} per dimension) = {eb['z']:g} x se + "
              f"bias correction {eb['bias_term']:.2e} + systematic {eb['systematic']:.2e}"
              if eb["absolute"] is not None else f"error bound unavailable: {'; '.join(eb['unbounded'])}")
        print(time_line(info))
    return 0


def register(sub) -> None:
    """Add ``expm`` and ``logdet`` to the ``spu`` subparsers."""
    e = sub.add_parser("expm", help="matrix exponential expm(A), or expm(-A) with --negative, on the twin",
                       description="Realise the drift dx/dt = A x (or -A x with --negative) with noise on an "
                                   "integrator array and read expm from its own path: the least-squares lag-h "
                                   "regression Phi_h = C(h) S^-1, h = tau / m, and expm = Phi_h^m. A (or -A) must "
                                   "be stable: every eigenvalue with a negative real part.")
    e.add_argument("--matrix", required=True, help="square matrix A, .npy (any symmetry)")
    e.add_argument("--negative", action="store_true", help="compute expm(-A) (thermox's expnegm)")
    e.add_argument("--out", help="write the result here (.npy)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--target", type=float, default=None,
                   help="relative error bound to reach (default 0.05 when --time is not given: a 100 tau pilot, "
                        "then one extension to the time its noise predicts; with --time, that time is the pilot)")
    e.add_argument("--max-time", default=None, help="longest analog time of the adaptive run (s or Ntau; default 1e5tau)")
    run_args(e, 8, time=True, dt=False)
    e.set_defaults(func=cmd_expm)

    d = sub.add_parser("logdet", help="log det A of an SPD matrix from the twin's equilibrium covariance",
                       description="Program A on an integrator array, read A^-1 from the stationary covariance "
                                   "(as spu inv) and return -log det of it, corrected for the second-order bias "
                                   "of a sample covariance's log det (estimated from the run's own batches).")
    d.add_argument("--matrix", required=True, help="symmetric positive definite A, .npy")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    run_args(d, 8, time=True, dt=False)
    d.set_defaults(func=cmd_logdet)
