"""Every thermodynamic algorithm of issue 16 on the twin, with its default run: error, standard error,
error bound, analog time and wall time per size, and thermox's figure where thermox has the algorithm.

Per size n (8, 64; ``--quick``: 8): A = ``random_spd(n, cond=10, seed=0)`` (eigenvalues log-spaced
in [0.1, 1]), b = ``default_rng(1).standard_normal(n)``, a stable non-normal drift F = -A + U (U
strictly upper triangular, entries U(0, 0.6) / sqrt(n); shifted so that max Re eig(F) <= -0.1; entries
below 2e-3 max |F| raised to it, in the resistor range),
Q = I. Calls (kappa_max = 10, the matrices' problem class; seed 0; prune=True for expnegm, as in
thermox_ratio.py: at n = 64 some entries of A are below the resistor range; every other option
default):

* solve ``solve(A, b)``; inv ``inv(A)``; sample ``sample(A, 4000)`` (A the precision; the error is
  the sample covariance's against A^-1); expnegm ``expnegm(A)`` and expm ``expm(F)`` (adaptive to
  their default 5 % relative bound); logdet ``logdet(A)`` (error per dimension, |d log det| / n);
  lyap ``lyap(F, I)``; conditional ``conditional(A, [0, 1], [0.5, -0.5])`` (the larger of the mean's
  and the covariance's relative errors, as its bound); sysid ``identify(device)`` of a device
  programmed with A under a 1 % component tolerance (n = 8 only: two runs of 20,000 tau), error
  |F_hat - F_dev|_F / |F_dev|_F against the compiled device's exact drift (no bound: its standard
  errors, and a chi-square of the whole drift, are what it reports).

Relative errors are Frobenius / 2-norm against the exact numpy / scipy reference; "se" is the
reported standard error in the same unit (|se|_F / |ref|_F; for logdet se / n); "bound" the
reported error bound. Wall time: the whole call, numba warm (a small call of each first).

thermox (``thermox.linalg.solve | inv | expnegm | expm``, ``jax.jit``, JAX defaults: float32) at its
default budget ``num_samples=10000, dt=1``, i.e. 10,000 time units of analog time (the same unit as
our tau for the same A): its median error and median warm wall time over 3 keys, and the wall time it
would need for our error by the inverse-square law (num_samples x (err_thermox / err_ours)^2; noise-
limited errors; labelled extrapolated; meaningless for solve, whose error on the twin is the
start-up transient, not noise: Johnson noise is ~uV). For measured equal-error wall times see
``thermox_ratio.py`` (solve, expnegm). Without thermox / jax those columns say why.

    python benchmarks/algorithms.py [--quick] [--sizes 8 64] [--out PATH]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg as sla

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from factored import write_json  # noqa: E402
from integrator import environment  # noqa: E402

DEFAULT_OUT = HERE / "results" / "algorithms.json"
SIZES, QUICK_SIZES = (8, 64), (8,)
COND = 10.0
KAPPA = 10.0
SAMPLES = 4000
THERMOX_SAMPLES, THERMOX_DT, THERMOX_KEYS = 10000, 1.0, 3
SYSID_N, SYSID_TIME = 8, "20000tau"


def _rel(x, ref) -> float:
    return float(np.linalg.norm(np.asarray(x, float) - ref) / np.linalg.norm(ref))


def problem(n: int):
    import spucircuit as sc

    A = sc.random_spd(n, cond=COND, seed=0)
    b = np.random.default_rng(1).standard_normal(n)
    U = np.triu(np.random.default_rng(2).uniform(0.0, 0.6, (n, n)), 1) / np.sqrt(n)
    F = -A + U
    F = F - max(0.0, np.linalg.eigvals(F).real.max() + 0.1) * np.eye(n)
    floor = 2e-3 * np.abs(F).max()  # no entry below the resistor range (pruning a non-symmetric F is refused)
    F = np.where(np.abs(F) < floor, np.where(F < 0, -floor, floor), F)
    return A, b, F


def _timed(f):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = f()
    return out, time.perf_counter() - t0


def ours(n: int, log) -> list:
    """One row per algorithm at size n (module doc)."""
    import spucircuit as sc

    A, b, F = problem(n)
    kw = dict(seed=0, kappa_max=KAPPA, return_info=True)
    kwp = dict(kw, prune=True)  # A's entries below the resistor range left open (the bound includes them)
    rows = []

    def row(name, err, se, bound, info, wall, **extra):
        r = {"algorithm": name, "n": n, "rel_error": float(err), "rel_se": None if se is None else float(se),
             "bound": None if bound is None else float(bound), "covered": None if bound is None else bool(err <= bound),
             "analog_tau": float(info.analog_time_s / info.tau_s) if info is not None else extra.pop("analog_tau"),
             "analog_s": float(info.analog_time_s) if info is not None else extra.pop("analog_s"), "wall_s": wall,
             **extra}
        log(f"  {name:11s} n={n:3d}: error {err:.3g} se {r['rel_se'] if se is None else se:.3g} bound "
            f"{bound if bound is None else f'{bound:.3g}'} analog {r['analog_tau']:.0f} tau wall {wall:.2f} s")
        rows.append(r)

    (x, info), w = _timed(lambda: sc.solve(A, b, **kw))
    xs = np.linalg.solve(A, b)
    row("solve", _rel(x, xs), np.linalg.norm(info.standard_error) / np.linalg.norm(xs), info.error_bound, info, w)
    (X, info), w = _timed(lambda: sc.inv(A, **kw))
    Ai = np.linalg.inv(A)
    row("inv", _rel(X, Ai), np.linalg.norm(info.standard_error) / np.linalg.norm(Ai), info.error_bound, info, w)
    (S, info), w = _timed(lambda: sc.sample(A, SAMPLES, **kw))
    row("sample", _rel(info.covariance, Ai), np.linalg.norm(info.standard_error) / np.linalg.norm(Ai),
        info.error_bound, info, w, effective_sample_size=float(info.effective_sample_size))
    ref = sla.expm(-A)
    (E, info), w = _timed(lambda: sc.expnegm(A, **kwp))
    row("expnegm", _rel(E, ref), np.linalg.norm(info.standard_error) / np.linalg.norm(ref), info.error_bound, info, w)
    ref = sla.expm(F)
    (E, info), w = _timed(lambda: sc.expm(F, **kw))
    row("expm", _rel(E, ref), np.linalg.norm(info.standard_error) / np.linalg.norm(ref), info.error_bound, info, w)
    ld = np.linalg.slogdet(A)[1]
    (v, info), w = _timed(lambda: sc.logdet(A, **kw))
    row("logdet", abs(v - ld) / n, float(info.standard_error) / n, info.error_bound, info, w,
        z=float((v - ld) / info.standard_error))
    ref = sla.solve_continuous_lyapunov(F, -np.eye(n))
    (P, info), w = _timed(lambda: sc.lyap(F, np.eye(n), **kw))
    row("lyap", _rel(P, ref), np.linalg.norm(info.standard_error) / np.linalg.norm(ref), info.error_bound, info, w)
    obs, vals = [0, 1], np.array([0.5, -0.5])
    a = np.arange(2, n)
    Caa = np.linalg.inv(A[np.ix_(a, a)])
    m_ref = -Caa @ A[np.ix_(a, obs)] @ vals
    (m, C, info), w = _timed(lambda: sc.conditional(A, obs, vals, **kw))
    err = max(_rel(m, m_ref), _rel(C, Caa))
    row("conditional", err, np.linalg.norm(info.standard_error) / np.linalg.norm(Caa), info.error_bound, info, w,
        mean_error=_rel(m, m_ref), cov_error=_rel(C, Caa))
    if n == SYSID_N:
        rows.append(sysid(n, log))
    return rows


def sysid(n: int, log) -> dict:
    import spucircuit as sc
    from spucircuit.imperfections.base import chain
    from spucircuit.imperfections.instance import Device
    from spucircuit.imperfections.models import InjectedNoise, Tolerance
    from spucircuit.linalg.calibration import identify

    A = sc.random_spd(n, 5.0, seed=1)
    b = np.random.default_rng(101).standard_normal(n)
    mc0 = sc.integrator_array(A, b, r_min=1.05e3)
    psd = 4 * (2e-2 * mc0.v_unit_v) ** 2 * mc0.c_f**2 / mc0.tau_s
    dev = Device(chain(Tolerance(1.0), InjectedNoise(psd)), seed=1, r_min=1.05e3).program(A, b)
    F_dev = -dev.effective().A_drift
    ident, w = _timed(lambda: identify(dev, time=SYSID_TIME, chains=8, seed=0, kappa_max=KAPPA))
    err = _rel(ident.F, F_dev)
    se = float(np.linalg.norm(ident.se_F) / np.linalg.norm(F_dev))
    d = (ident.F - F_dev).ravel()
    chi2 = float(d @ np.linalg.solve(ident.cov_F, d))
    r = {"algorithm": "sysid", "n": n, "rel_error": err, "rel_se": se, "bound": None, "covered": None,
         "analog_tau": float(ident.analog_time_s / dev.nominal.tau_s), "analog_s": float(ident.analog_time_s),
         "wall_s": w, "chi2_drift": chi2, "chi2_dof": n * n,
         "nominal_rel_error": _rel(-A, F_dev)}
    log(f"  sysid       n={n:3d}: error {err:.3g} se {se:.3g} (nominal drift off by {r['nominal_rel_error']:.3g}) "
        f"chi2 {chi2:.1f} / {n * n} dof, analog {r['analog_tau']:.0f} tau wall {w:.2f} s")
    return r


def thermox_rows(n: int, log) -> list:
    try:
        import jax
        import jax.numpy as jnp
        import thermox
    except ImportError as e:
        return [{"n": n, "skipped": f"thermox / jax not installed ({e})"}]
    A, b, F = problem(n)
    cases = {
        "solve": (thermox.linalg.solve, (A, b), np.linalg.solve(A, b)),
        "inv": (thermox.linalg.inv, (A,), np.linalg.inv(A)),
        "expnegm": (thermox.linalg.expnegm, (A,), sla.expm(-A)),
        "expm": (thermox.linalg.expm, (F,), sla.expm(F)),
    }
    out = []
    for name, (f, args, ref) in cases.items():
        g = jax.jit(f, static_argnames=("num_samples", "burnin", "associative_scan"))
        jargs = tuple(jnp.asarray(a) for a in args)

        def call(key):
            t0 = time.perf_counter()
            r = np.asarray(g(*jargs, num_samples=THERMOX_SAMPLES, dt=THERMOX_DT, key=jax.random.PRNGKey(key))
                           .block_until_ready())
            return r, time.perf_counter() - t0

        call(99)  # trace + compile, untimed
        errs, walls = [], []
        for k in range(THERMOX_KEYS):
            r, el = call(k)
            errs.append(_rel(r, ref))
            walls.append(el)
        e, wl = statistics.median(errs), statistics.median(walls)
        out.append({"algorithm": name, "n": n, "thermox_rel_error": e, "thermox_wall_s": wl,
                    "thermox_analog": THERMOX_SAMPLES * THERMOX_DT, "thermox_num_samples": THERMOX_SAMPLES})
        log(f"  thermox {name:8s} n={n:3d}: error {e:.3g} at its default 10,000 time units, wall {wl:.3f} s")
    return out


def run_benchmark(quick: bool = False, sizes=None, log=print) -> dict:
    import spucircuit as sc

    sizes = tuple(QUICK_SIZES if quick else SIZES) if sizes is None else tuple(sizes)
    log("warm-up (numba caches)")
    for n in (3,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            A, b, F = problem(n)
            sc.solve(A, b, time="50tau", seed=0)
            sc.inv(A, time="50tau", seed=0)
            sc.expnegm(A, time="50tau", seed=0)
            sc.logdet(A, time="50tau", seed=0)
    rows, tx = [], []
    for n in sizes:
        log(f"n = {n}")
        rows += ours(n, log)
        tx += thermox_rows(n, log)
    by = {(r["algorithm"], r["n"]): r for r in tx if "algorithm" in r}
    for r in rows:
        t = by.get((r["algorithm"], r["n"]))
        if t is not None:
            r.update({k: v for k, v in t.items() if k not in ("algorithm", "n")})
            if r["rel_error"] > 0:
                r["thermox_wall_at_our_error_s"] = t["thermox_wall_s"] * (t["thermox_rel_error"] / r["rel_error"]) ** 2
    skipped = [r["skipped"] for r in tx if "skipped" in r]
    return {"benchmark": "algorithms", "quick": quick, "sizes": list(sizes), "cond": COND, "kappa_max": KAPPA,
            "thermox_budget": {"num_samples": THERMOX_SAMPLES, "dt": THERMOX_DT},
            "thermox_skipped": skipped[0] if skipped else None, "rows": rows, "environment": environment()}


def _f(v, fmt="{:.3g}") -> str:
    return "-" if v is None else fmt.format(v)


def format_table(res: dict) -> str:
    head = ("| algorithm | n | rel. error | rel. se | bound | covered | analog (tau) | wall (s) | thermox error at "
            "10^4 units | thermox wall (s) | thermox wall at our error (s, extrap.) |")
    lines = [head, "|" + "---|" * 11]
    for r in res["rows"]:
        lines.append(f"| {r['algorithm']} | {r['n']} | {_f(r['rel_error'])} | {_f(r['rel_se'])} | {_f(r['bound'])} | "
                     f"{'-' if r['covered'] is None else ('yes' if r['covered'] else 'NO')} | "
                     f"{r['analog_tau']:.0f} | {r['wall_s']:.2f} | {_f(r.get('thermox_rel_error'))} | "
                     f"{_f(r.get('thermox_wall_s'), '{:.3f}')} | {_f(r.get('thermox_wall_at_our_error_s'))} |")
    if res.get("thermox_skipped"):
        lines.append(f"\nthermox: skipped ({res['thermox_skipped']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 8 only")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="sizes (default 8 64)")
    ap.add_argument("--out", default=None, help="JSON path (default results/algorithms[_quick].json)")
    a = ap.parse_args(argv)
    res = run_benchmark(quick=a.quick, sizes=a.sizes, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(format_table(res))
    out = Path(a.out) if a.out else DEFAULT_OUT.with_name("algorithms_quick.json" if a.quick else "algorithms.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    print("wrote", write_json(res, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
