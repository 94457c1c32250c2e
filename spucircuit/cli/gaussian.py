"""``spu sample | lyap | conditional``: Gaussian samples, Lyapunov equations and conditional
Gaussians on the integrator-array twin, from .npy files. Each prints one JSON object with --json
(``relative_error`` against its exact reference, computed only for the report)."""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from spucircuit._util import argtypes
from spucircuit._util.files import atomic_save_npy, check_output_path
from spucircuit.cli._common import (
    add_run_limit_arg,
    apply_run_limit,
    load_npy,
    mapping_kwargs,
    print_json,
    want_progress,
)
from spucircuit.cli.linalg import budget_line
from spucircuit.device import base as device_base
from spucircuit.errors import SPUError
from spucircuit.linalg.conditional import conditional
from spucircuit.linalg.lyapunov import lyap
from spucircuit.linalg.sample import ARCHITECTURES, GIVEN, sample
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT
from spucircuit.numerics.scaling import relative_error

_REPORT = ("standard_error", "error_bound", "error_budget", "analog_time_s", "burn_in_s", "tau_s", "dt_s", "chains",
           "noise_psd_A2_per_Hz", "components", "scale")


def check_outputs(args, *names) -> None:
    for name in names:
        path = getattr(args, name.lstrip("-").replace("-", "_"), None)
        if path:
            check_output_path(path, name)


def _report(info, extra: dict, args) -> dict:
    out = {k: getattr(info, k) for k in _REPORT}
    out.update(extra)
    out["estimated_compute_s"] = device_base.LEDGER["compute_s"]
    return out


def time_line(info) -> str:
    return f"analog time {info.analog_time_s:.4g} s ({info.analog_time_s / info.tau_s:.1f} tau)"


def cmd_sample(args) -> int:
    apply_run_limit(args)
    check_outputs(args, "--out")
    M = load_npy(args.matrix, "matrix")
    mu = load_npy(args.mean, "mean") if args.mean else None
    mapping = mapping_kwargs(args)
    if args.architecture == "capacitive" and mapping:
        flags = ", ".join("--" + k.replace("_", "-") for k in mapping)
        raise SPUError(f"{flags}: the integrator array's mapping options; the capacitive board (--architecture "
                       "capacitive) sets its own capacitors, inductors and resistors")
    X, info = sample(M, args.samples, mean=mu, given=args.given, spacing=args.spacing, burn_in=args.burn_in,
                     chains=args.chains, seed=args.seed, temperature_k=args.temperature, noise_psd=args.noise_psd,
                     kappa_max=args.kappa_max, return_info=True, progress=want_progress(args),
                     architecture=args.architecture, **mapping)
    M = np.asarray(M, float)
    sigma = np.linalg.inv(M) if args.given == "precision" else M  # the exact reference, for the report only
    rel = relative_error(info.covariance, sigma)
    if args.out:
        atomic_save_npy(args.out, X)
    out = _report(info, {"relative_error": rel, "samples": int(X.shape[0]), "given": args.given,
                         "architecture": args.architecture,
                         "effective_sample_size": info.effective_sample_size, "spacing_s": info.spacing_s,
                         "covariance": info.covariance, "mean": info.mean,
                         "mean_standard_error": info.mean_standard_error, "out": args.out}, args)
    if args.json:
        print_json(out)
    else:
        print(f"sampled {X.shape[0]} x n = {X.shape[1]} on the twin (effective sample size >= "
              f"{info.effective_sample_size:.0f}): sample covariance relative error {rel:.3e} (Frobenius, vs Sigma)")
        print(budget_line(info.error_budget).replace("|x - x*|", "|C - Sigma|_F"))
        print(time_line(info) + (f"; samples written to {args.out}" if args.out else ""))
    return 0


def cmd_lyap(args) -> int:
    apply_run_limit(args)
    check_outputs(args, "--out")
    F = load_npy(args.matrix, "matrix")
    Q = load_npy(args.q, "Q")
    P, info = lyap(F, Q, time=args.time, burn_in=args.burn_in, chains=args.chains, seed=args.seed, dt=args.dt,
                   temperature_k=args.temperature, noise_psd=args.noise_psd, kappa_max=args.kappa_max,
                   return_info=True, progress=want_progress(args), **mapping_kwargs(args))
    ref = solve_continuous_lyapunov(np.asarray(F, float), -np.asarray(Q, float))  # the exact reference, report only
    rel = relative_error(P, ref)
    if args.out:
        atomic_save_npy(args.out, P)
    out = _report(info, {"solution": P, "relative_error": rel, "out": args.out}, args)
    if args.json:
        print_json(out)
    else:
        print(f"Lyapunov equation n = {len(P)} on the twin: relative error {rel:.3e} (Frobenius, vs "
              "scipy.linalg.solve_continuous_lyapunov)")
        print(budget_line(info.error_budget).replace("|x - x*|", "|P - P*|_F"))
        print(time_line(info) + (f"; P written to {args.out}" if args.out else ""))
    return 0


def _indices(text: str) -> list:
    try:
        return [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise SPUError(f"--observed must be comma-separated integer indices, e.g. 0,3, got {text!r}") from None


def cmd_conditional(args) -> int:
    apply_run_limit(args)
    check_outputs(args, "--out", "--out-cov")
    P = load_npy(args.matrix, "matrix")
    mu = load_npy(args.mean, "mean") if args.mean else None
    v = load_npy(args.values, "values")
    obs = _indices(args.observed)
    m, C, info = conditional(P, obs, v, mean=mu, seed=args.seed, time=args.time, chains=args.chains,
                             kappa_max=args.kappa_max, temperature_k=args.temperature, return_info=True,
                             **mapping_kwargs(args))
    a, b = info.components["free"], info.components["observed"]
    S = np.linalg.inv(np.asarray(P, float))  # the exact reference, report only
    mu_v = np.zeros(len(S)) if mu is None else np.asarray(mu, float).reshape(-1)
    K = S[np.ix_(a, b)] @ np.linalg.inv(S[np.ix_(b, b)])
    m_ref = mu_v[a] + K @ (np.asarray(v, float).reshape(-1) - mu_v[b])
    C_ref = S[np.ix_(a, a)] - K @ S[np.ix_(b, a)]
    rel_m, rel_c = relative_error(m, m_ref), relative_error(C, C_ref)
    if args.out:
        atomic_save_npy(args.out, m)
    if args.out_cov:
        atomic_save_npy(args.out_cov, C)
    out = {"mean": m, "covariance": C, "relative_error": max(rel_m, rel_c), "mean_relative_error": rel_m,
           "covariance_relative_error": rel_c, "standard_error": info.standard_error,
           "mean_standard_error": info.mean_standard_error, "error_bound": info.error_bound,
           "error_budget": info.error_budget, "analog_time_s": info.analog_time_s, "free": a, "observed": b,
           "out": args.out, "out_cov": args.out_cov, "estimated_compute_s": device_base.LEDGER["compute_s"]}
    if args.json:
        print_json(out)
    else:
        print(f"conditional of {len(a)} coordinates given {len(b)} on the twin: relative error mean {rel_m:.3e}, "
              f"covariance {rel_c:.3e} (vs the Schur complement of P^-1)")
        print(f"error bound {info.error_bound:.3e} relative (the larger of the solve's and the inverse's)"
              if info.error_bound is not None else "error bound unavailable")
        print(f"analog time {info.analog_time_s:.4g} s (a solve and an inv)")
    return 0


def run_args(p, chains: int, *, time: bool, dt: bool, noise: bool = True) -> None:
    g = p.add_argument_group("simulation")
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar on stderr (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    if time:
        g.add_argument("--time", default=None, help="analog time of the run: seconds, or e.g. '2000tau' (default: "
                                                    "from the problem class, --kappa-max)")
    g.add_argument("--seed", type=argtypes.seed, default=None, help="random seed (same seed, same bits)")
    g.add_argument("--chains", type=argtypes.positive_int, default=chains, help="independent chains simulated at once")
    if dt:
        g.add_argument("--dt", type=float, default=None, help="time step, s (default: automatic)")
    g.add_argument("--temperature", type=float, default=300.0, help="Johnson-noise temperature, K")
    if noise:
        g.add_argument("--noise-psd", dest="noise_psd", type=float, default=None,
                       help="injected noise current PSD, A^2/Hz (default 1e4 x the largest Johnson PSD on a row)")
    g.add_argument("--kappa-max", dest="kappa_max", type=float, default=KAPPA_MAX_DEFAULT,
                   help="the problem class: how much slower than max_i |A_ii| the slowest mode may relax (sets the "
                        f"rate bound, run times and spacing; default {KAPPA_MAX_DEFAULT:g})")
    add_run_limit_arg(g)
    m = p.add_argument_group("mapping (SI units)")
    m.add_argument("--r-min", dest="r_min", type=float, help="smallest resistance, Ohm (default 1e3)")
    m.add_argument("--r-max", dest="r_max", type=float, help="largest resistance, Ohm (default 1e6)")
    m.add_argument("--c", dest="c", type=float, help="integrator capacitance, F (default 1e-9)")


def register(sub) -> None:
    """Add ``sample``, ``lyap`` and ``conditional`` to the ``spu`` subparsers."""
    s = sub.add_parser("sample", help="draw samples of N(mu, Sigma) on the twin (integrator array)",
                       description="Program the precision P (or the covariance Sigma), relax the noisy circuit and "
                                   "read a sample every --spacing (default 3 slowest relaxation times, from the "
                                   "device's rate bound); reports the effective sample size.")
    s.add_argument("--matrix", required=True, help="SPD precision P = Sigma^-1 (or Sigma with --given covariance), .npy")
    s.add_argument("--mean", help="mean mu, .npy (default 0)")
    s.add_argument("--given", choices=GIVEN, default="precision", help="what --matrix holds (default precision)")
    s.add_argument("--samples", type=argtypes.positive_int, required=True, help="number of samples (>= 64)")
    s.add_argument("--out", help="write the samples here (.npy, shape (samples, n))")
    s.add_argument("--json", action="store_true", help="print one JSON object (no samples; covariance, errors, ...)")
    s.add_argument("--spacing", default=None, help="analog time between samples of a chain: seconds or e.g. '3tau'")
    s.add_argument("--burn-in", dest="burn_in", default=None, help="discarded initial time (same units)")
    s.add_argument("--architecture", choices=ARCHITECTURES, default="integrator",
                   help="integrator: the op-amp integrator array (any SPD matrix; default); capacitive: the RLC "
                        "board of capacitively coupled cells (matrices its passive capacitors realise; --kappa-max, "
                        "--temperature and the mapping options do not apply)")
    run_args(s, 8, time=False, dt=False)
    s.set_defaults(func=cmd_sample)

    ly = sub.add_parser("lyap", help="solve F P + P F^T + Q = 0 on the twin (stationary covariance)",
                        description="Realise the stable drift F (any symmetry) on an integrator array, inject noise "
                                    "of covariance proportional to Q through a noise array and read P from the "
                                    "stationary covariance.")
    ly.add_argument("--matrix", required=True, help="stable drift F (every eigenvalue with Re < 0), .npy")
    ly.add_argument("--q", required=True, help="symmetric positive semi-definite noise covariance Q, .npy")
    ly.add_argument("--out", help="write P here (.npy)")
    ly.add_argument("--json", action="store_true", help="print one JSON object")
    ly.add_argument("--burn-in", dest="burn_in", default=None, help="discarded initial time: seconds or e.g. '10tau'")
    run_args(ly, 8, time=True, dt=True)
    ly.set_defaults(func=cmd_lyap)

    c = sub.add_parser("conditional", help="mean and covariance of x_a given x_b on the twin (precision given)",
                       description="x ~ N(mu, P^-1): x_a | x_b = v ~ N(mu_a - P_aa^-1 P_ab (v - mu_b), P_aa^-1), "
                                   "a solve and an inv of P_aa on the twin.")
    c.add_argument("--matrix", required=True, help="SPD precision matrix P, .npy")
    c.add_argument("--mean", help="mean mu, .npy (default 0)")
    c.add_argument("--observed", required=True, help="observed coordinates b, comma-separated indices, e.g. 0,3")
    c.add_argument("--values", required=True, help="their values v, .npy")
    c.add_argument("--out", help="write the conditional mean here (.npy)")
    c.add_argument("--out-cov", dest="out_cov", help="write the conditional covariance here (.npy)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    run_args(c, 8, time=True, dt=False, noise=False)
    c.set_defaults(func=cmd_conditional)
