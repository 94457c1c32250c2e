"""Per-step cost of the twin's time stepping, against the bare BLAS / CSR operation it wraps.

One step of the twin is  x <- M x + c + N xi  for k chains at once (``spucircuit.integrate``).
Its unavoidable core is the product with M: a gemv (1 chain) or a gemm (k chains) for dense M, a
CSR mat-vec for sparse M. This benchmark times one step of ``integrators.run`` on the compiled
state space of ``integrator_array(random_spd(n, cond=10, seed=0), b)`` and divides it by numpy's
own ``M @ x`` (gemv, 1 chain) or ``X @ M`` (gemm, X: 64 x n), both measured in the same run,
interleaved in rounds so that background load hits both alike; every figure is a median.

Cases (dense n = 64, 256, 1024, 4096; 1 and 64 chains):

* ``euler/full``  - Euler-Maruyama with the full compiled diffusion (noise_mode 2: the inverting
  buffers' resistor noise is correlated across rows, so Q is dense and N is an n x r factor);
* ``euler/diag``  - the same with the noise restricted to diag(Q) (noise_mode 1);
* ``euler/off``   - no noise (noise_mode 0): the bare recursion x <- M x + c;
* ``exact/full``  - the exact discretisation (M = expm(F h), full Q_h), 1 and 64 chains; for
  these symmetric drifts it runs in the eigenbasis of F (see below);
* ``sparse``      - a tridiagonal SPD matrix (n = 4096) whose compiled drift is CSR, against
  scipy's CSR mat-vec (1 chain) and CSR @ (n x 64) (64 chains).

How the dense systems are built: up to n = 1024 (``COMPILE_MAX_N``) the circuit is mapped and
compiled (``integrator_array`` + ``compile_netlist``; since the closed-form virtual-ground compile
this takes ~0.3 s at n = 1024, where the MNA solve took ~30 s). n = 4096 means 16.8M resistors
(several GB of element tables), so that system is built *directly* from A
(``direct_state_space``): the ideal integrator array's drift
F = -A / tau, offset v_unit b / tau and Johnson-noise diffusion
Q = (2 k_B T / C^2) [diag(g_unit sum_j |A_ij| + 1 / r_in) + 2 R_buf g_unit^2 A_neg A_neg^T]
(A_neg = |A| on the negative entries: the inverting buffers' noise reaches every row using that
column), with the mapping's default scales. At every compiled size the benchmark checks that this
equals the compiled state space (F, offset and Q agree to ~1e-15 relative; recorded in the JSON),
so from there on the same ``discretize`` / ``run`` code is timed on the same matrices. ``auto_dt``
gets the two extreme eigenvalues of the symmetric F by Lanczos there (and for the sparse case)
instead of a full eigendecomposition; the step it picks is the same. The exact scheme is not run
on direct systems. On compiled ones its drift is symmetric, so it runs in the eigenbasis
(``kind='eigen'``: a diagonal M plus the noise factor applied in blocks of steps, BLAS-3), which
is why its step can cost less than one gemv.
At n >= 2048 the timed runs are >= 64 steps (``WHITEN_MIN_STEPS``, shortest whitened run) instead of
128, and at most 3 rounds are taken (one gemm step of 64 chains is ~2 GFlop there).

A non-zero right-hand side b (fixed seed) keeps the noise-off state at x* = A^-1 b; with b = 0
it would decay through subnormal numbers, which are slow on x86 and would distort the timing.

Target: at n = 1024 a step costs at most 2x numpy's gemv (1 chain) and gemm (64 chains).

    python benchmarks/integrator.py [--quick] [--sizes 64 256 1024 4096] [--out PATH]

``--quick`` runs n = 64 (compiled) and n = 256 (built directly, to exercise that path) and a
sparse n = 512: a smoke run of a few seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from factored import write_json  # noqa: E402  (one JSON writer for every benchmark)

TARGET_RATIO = 2.0
TARGET_N = 1024
SIZES = (64, 256, 1024, 4096)
QUICK_SIZES = (64, 256)
COMPILE_MAX_N = 1024  # larger dense systems are built directly (see the module docstring)
QUICK_COMPILE_MAX_N = 128
LARGE_N = 2048  # from this n on: shorter timed runs (WHITEN_MIN_STEPS) and at most LARGE_ROUNDS
LARGE_ROUNDS = 3
CHAINS = (1, 64)
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "integrator.json"
# numpy and the numba kernels call two different OpenBLAS builds (numpy's and scipy's), each with
# its own thread pool whose idle workers spin for ~0.1 s after a call. Pausing before every
# measurement lets the other pool go to sleep, so neither side is timed against spinning threads.
SETTLE_S = 0.15
# Shortest timed run: per-call set-up (allocation, the change of basis of whitened noise) is then
# a few percent at most, as in real use (a run is many steps).
MIN_STEPS = 128


# ------------------------------------------------------------------ timing helpers
def _per_call(fn, target_s: float) -> float:
    """Seconds per call of fn(), looping long enough (>= target_s) to swamp timer overhead."""
    time.sleep(SETTLE_S)
    fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        el = time.perf_counter() - t0
        if el >= target_s or reps >= 1 << 22:
            return el / reps
        reps = max(reps * 2, int(reps * 1.2 * target_s / max(el, 1e-9)))


class TwinCase:
    """One (discretisation, chains) case: ``run`` with n_steps calibrated to ~target_s.

    Runs are whole noise blocks only on the explicit full-noise path (the only one that draws
    noise in blocks); the whitened, diagonal and noise-free paths take any step count."""

    def __init__(self, disc, X0, target_s: float, min_steps: int = MIN_STEPS):
        from spucircuit.integrate.kernels import noise_block, run

        self.run, self.disc, self.X0 = run, disc, X0
        k, n = X0.shape
        self.path = noise_path(disc)  # also builds (and caches) the whitened basis, untimed
        blk = noise_block(k, n) if self.path == "explicit" else 1
        steps = max(2 * blk, min_steps)
        el = self._time(steps)  # warm-up: numba compile / cache load
        # At large n the shortest run is far longer than target_s (>= 64 steps of >= 10 ms), so
        # the warm-up settles it; elsewhere it may include the compile time: calibrate afresh.
        if not (n >= LARGE_N and el >= target_s):
            while True:
                el = self._time(steps)
                if el >= 0.2 * target_s or steps >= 1 << 24:
                    break
                steps *= 4
        steps = int(steps * target_s / max(el, 1e-9))
        self.n_steps = max(min_steps, -(-steps // blk) * blk)

    def _time(self, steps):
        t0 = time.perf_counter()
        self.run(self.disc, self.X0, steps, save_every=steps, seed=0)
        return time.perf_counter() - t0

    def per_step(self) -> float:
        time.sleep(SETTLE_S)
        return self._time(self.n_steps) / self.n_steps


def _median(xs):
    return float(statistics.median(xs))


def noise_path(disc) -> str:
    """How ``run`` applies the noise of ``disc``: off / diag / whitened / explicit / sparse-factor."""
    from spucircuit.integrate import discretize as integrators

    mode = int(disc.noise_mode)
    if disc.kind == "eigen":
        return "eigenbasis-" + {0: "off", 1: "diag", 2: "blocked"}.get(mode, str(mode))
    if mode != 2:
        return {0: "off", 1: "diag", 3: "sparse-factor"}.get(mode, str(mode))
    white = getattr(integrators, "whitened", None)
    if white is not None and disc.kind == "dense" and white(disc) is not None:
        return "whitened"
    return "explicit"


# ------------------------------------------------------------------ problem set-up
def direct_state_space(A: np.ndarray, b: np.ndarray, temperature_k: float | None = None):
    """The compiled state space of ``integrator_array(A, b)`` (default scales, ideal op-amps),
    written down from A instead of by MNA: (StateSpace, v_unit). See the module docstring;
    :func:`check_direct` compares it with ``compile_netlist`` at the compiled sizes."""
    from spucircuit.statespace.model import StateSpace
    from spucircuit.constants import (C_DEFAULT, K_B, R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM,
                                      V_SWING_DEFAULT)
    from spucircuit.statespace.operators import DenseDrift

    T = T_ROOM if temperature_k is None else float(temperature_k)
    n = A.shape[0]
    absA = np.abs(A)
    amax = float(absA.max())
    g = 1.0 / (R_MIN_DEFAULT * amax)  # g_unit, S per unit of A
    tau = C_DEFAULT / g
    xmax = float(np.max(np.abs(np.linalg.solve(A, b))))
    v_unit = V_SWING_DEFAULT / xmax if xmax > 0 else V_SWING_DEFAULT
    bmax = float(np.max(np.abs(b)))
    r_in = R_MAX_DEFAULT if bmax == 0 else float(np.clip(V_SWING_DEFAULT / (g * v_unit * bmax),
                                                         R_MIN_DEFAULT, R_MAX_DEFAULT))
    r_buf = R_MIN_DEFAULT
    Aneg = np.where(A < 0, absA, 0.0)
    # node-current increments (2 k_B T / R) dt into each summing node, / C^2 -> V^2 / s; a buffer's
    # two resistors give its inverted output a noise voltage with increments 4 k_B T R_buf dt
    Q = (2.0 * K_B * T * 2.0 * r_buf * g * g / C_DEFAULT**2) * (Aneg @ Aneg.T)
    Q[np.diag_indices(n)] += 2.0 * K_B * T / C_DEFAULT**2 * (g * absA.sum(axis=1) + 1.0 / r_in)
    ss = StateSpace(drift=DenseDrift(-A / tau), input_matrix=(v_unit / tau * b)[:, None],
                    inputs=np.ones(1), input_names=["v_unit b / tau"], diffusion=Q,
                    state_names=[f"v(C{i})" for i in range(n)], x0=np.zeros(n), temperature_k=T)
    set_extreme_eigenvalues(ss)  # F is symmetric: Lanczos instead of a general eigvals at O(10 n^3)
    return ss, v_unit


def set_extreme_eigenvalues(ss, sym_rtol: float = 1e-12) -> bool:
    """Give ``auto_dt`` the spectrum it needs without an O(10 n^3) general ``eigvals`` (150 s at
    n = 4096): for a symmetric F (the integrator array's F = -A / tau, up to MNA round-off) the
    Euler limit 2 / |lambda|_max and the spectral radius depend only on the two extreme
    eigenvalues, found by Lanczos (``eigsh``; LAPACK's banded solver for a banded sparse F) and
    stored in the cache ``integrators.eigenvalues`` reads. Returns False (and leaves the cache
    alone) if F is not symmetric."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    F = ss.drift.csr if ss.drift.kind == "sparse" else ss.drift.to_dense()
    asym = abs(F - F.T).max()
    scale = abs(F).max()
    if asym > sym_rtol * scale:
        return False
    S = (F + F.T) * 0.5
    n = S.shape[0]
    if sp.issparse(S):
        C = S.tocoo()
        bw = int(np.max(np.abs(C.row - C.col))) if C.nnz else 0
        if bw <= 128:  # banded (the tridiagonal case): LAPACK's banded solver, O(n bw^2)
            from scipy.linalg import eigvals_banded

            low = C.row >= C.col
            ab = np.zeros((bw + 1, n))
            ab[C.row[low] - C.col[low], C.col[low]] = C.data[low]
            ends = [eigvals_banded(ab, lower=True, select="i", select_range=(i, i))[0] for i in (0, n - 1)]
            ss._eig_cache = np.array(ends, dtype=float)
            return True
        S = S.tocsr()
    ends = [eigsh(S, k=1, which=w, return_eigenvectors=False, tol=1e-10)[0] for w in ("SA", "LA")]
    ss._eig_cache = np.array(ends, dtype=float)
    return True


def check_direct(ss_compiled, A, b) -> dict:
    """Largest relative deviation of :func:`direct_state_space` from the compiled state space."""
    d, _ = direct_state_space(A, b, ss_compiled.temperature_k)
    F1, F2 = ss_compiled.drift.to_dense(), d.drift.to_dense()
    rel = lambda x, y: float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-300))  # noqa: E731
    return {"F": rel(F1, F2), "offset": rel(ss_compiled.offset, d.offset),
            "Q": rel(ss_compiled.diffusion, d.diffusion)}


def build_dense(n: int, direct: bool = False):
    import spucircuit
    from spucircuit.integrate.discretize import auto_dt, discretize

    t0 = time.perf_counter()
    A = spucircuit.random_spd(n, cond=10, seed=0)
    b = np.random.default_rng(1).standard_normal(n)
    t_matrix = time.perf_counter() - t0
    t0 = time.perf_counter()
    check = None
    if direct:
        ss, v_unit = direct_state_space(A, b)
    else:
        mc = spucircuit.integrator_array(A, b)
        ss = spucircuit.compile_netlist(mc.netlist)
        v_unit = mc.v_unit_v
    t_build = time.perf_counter() - t0
    if not direct:
        check = check_direct(ss, A, b)
    assert ss.drift.kind == "dense", ss.drift.kind
    t0 = time.perf_counter()
    dt = auto_dt(ss, "euler")
    full = discretize(ss, dt, "euler")
    off = discretize(ss, dt, "euler", noise=False)
    diag = dataclasses.replace(full, noise_mode=1, noise_diag=np.sqrt(dt * np.diag(ss.diffusion)),
                               NT=np.zeros((1, n)))
    t_euler = time.perf_counter() - t0
    cases = {"euler/full": full, "euler/diag": diag, "euler/off": off}
    dt_ex = t_exact = None
    if not direct:
        t0 = time.perf_counter()
        dt_ex = auto_dt(ss, "exact")
        cases["exact/full"] = discretize(ss, dt_ex, "exact")
        t_exact = time.perf_counter() - t0
    info = {"n": n, "system": "direct" if direct else "compiled", "drift_kind": ss.drift.kind,
            "auto_dt_eigenvalues": "Lanczos extremes" if direct else "numpy eigvals",
            "dt_euler_s": dt, "dt_exact_s": dt_ex,
            "noise_mode_full": full.noise_mode, "noise_rank": int(full.NT.shape[0]),
            "noise_mode_exact": cases["exact/full"].noise_mode if "exact/full" in cases else None,
            "direct_vs_compiled_max_rel": check,
            "setup_s": {"matrix": t_matrix, ("direct_build" if direct else "compile"): t_build,
                        "discretize_euler": t_euler, "discretize_exact": t_exact}}
    x0 = np.linalg.solve(A, b) * v_unit  # start at the fixed point (volts)
    return cases, x0, info


def tridiagonal_spd(n: int) -> np.ndarray:
    """1 on the diagonal, -0.3 on both first off-diagonals: SPD (eigenvalues in (0.4, 1.6)).

    Every column has two negative entries, so each inverting buffer's noise reaches two rows:
    the compiled Q is sparse but not diagonal (the full-noise case is really full-noise)."""
    A = np.eye(n)
    i = np.arange(n - 1)
    A[i, i + 1] = A[i + 1, i] = -0.3
    return A


def build_sparse(n: int):
    import spucircuit
    from spucircuit.integrate.discretize import auto_dt, discretize

    t0 = time.perf_counter()
    A = tridiagonal_spd(n)
    b = np.random.default_rng(1).standard_normal(n)
    mc = spucircuit.integrator_array(A, b)
    ss = spucircuit.compile_netlist(mc.netlist)
    t_compile = time.perf_counter() - t0
    if ss.drift.kind != "sparse":
        raise RuntimeError(f"expected a CSR drift for the tridiagonal case, got {ss.drift.kind!r}")
    t0 = time.perf_counter()
    lanczos = set_extreme_eigenvalues(ss)
    dt = auto_dt(ss, "euler")
    t_dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = discretize(ss, dt, "euler")
    off = discretize(ss, dt, "euler", noise=False)
    diag = dataclasses.replace(full, noise_mode=1, noise_diag=np.sqrt(dt * np.diag(ss.diffusion)),
                               NT=np.zeros((1, n)))
    t_disc = time.perf_counter() - t0
    info = {"n": n, "system": "compiled", "drift_kind": ss.drift.kind, "nnz_M": int(full.data.size),
            "dt_euler_s": dt, "auto_dt_eigenvalues": "Lanczos extremes" if lanczos else "numpy eigvals",
            "noise_mode_full": full.noise_mode,
            "nnz_noise_factor": None if getattr(full, "noise_data", None) is None else int(full.noise_data.size),
            "setup_s": {"compile": t_compile, "auto_dt": t_dt, "discretize_euler": t_disc}}
    x0 = np.linalg.solve(A, b) * mc.v_unit_v
    return {"euler/full": full, "euler/diag": diag, "euler/off": off}, x0, info


# ------------------------------------------------------------------ benchmark groups
def _time_group(group, n, cases, x0, base, rounds, target_s, log, system="compiled"):
    """Interleave rounds of the baseline and every twin case for 1 and 64 chains; one row each."""
    from spucircuit.integrate.kernels import WHITEN_MIN_STEPS

    rows = []
    min_steps = MIN_STEPS if n < LARGE_N else WHITEN_MIN_STEPS
    for k in CHAINS:
        X0 = np.ascontiguousarray(np.tile(x0, (k, 1)))
        twins = {name: TwinCase(d, X0, target_s, min_steps) for name, d in cases.items()}
        t_base, t_twin = [], {name: [] for name in twins}
        for _ in range(rounds):
            t_base.append(_per_call(base[k][1], target_s))
            for name, tc in twins.items():
                t_twin[name].append(tc.per_step())
        tb = _median(t_base)
        for name, tc in twins.items():
            ts = _median(t_twin[name])
            rows.append({"group": group, "n": n, "chains": k, "case": name, "system": system,
                         "twin_step_min_s": min(t_twin[name]), "baseline_min_s": min(t_base),
                         "ratio_of_minima": min(t_twin[name]) / min(t_base),
                         "noise_mode": int(tc.disc.noise_mode), "noise_path": tc.path,
                         "baseline": base[k][0],
                         "twin_step_s": ts, "baseline_s": tb, "ratio": ts / tb,
                         "n_steps": tc.n_steps, "rounds": rounds,
                         "twin_all_s": t_twin[name], "baseline_all_s": t_base})
        log(f"  {group} n={n} chains={k}: done")
    return rows


def bench_dense(n, rounds, target_s, log, direct=False):
    cases, x0, info = build_dense(n, direct)
    if direct:
        log(f"  n={n}: built directly ({info['setup_s']['direct_build']:.1f} s; discretize "
            f"{info['setup_s']['discretize_euler']:.1f} s), noise mode {info['noise_mode_full']}")
    else:
        log(f"  n={n}: compiled ({info['setup_s']['compile']:.1f} s), noise mode {info['noise_mode_full']}, "
            f"direct build agrees to {max(info['direct_vs_compiled_max_rel'].values()):.1e}")
    M = np.ascontiguousarray(cases["euler/off"].MT.T)  # the Euler M = I + h F, C order
    rng = np.random.default_rng(2)
    x = rng.standard_normal(n)
    X = rng.standard_normal((64, n))
    base = {1: ("numpy gemv  M @ x", lambda: M @ x), 64: ("numpy gemm  X @ M", lambda: X @ M)}
    if n >= LARGE_N:
        rounds = min(rounds, LARGE_ROUNDS)
    return _time_group("dense", n, cases, x0, base, rounds, target_s, log,
                       "direct" if direct else "compiled"), info


def bench_sparse(n, rounds, target_s, log):
    cases, x0, info = build_sparse(n)
    log(f"  sparse n={n}: compiled ({info['setup_s']['compile']:.1f} s), auto_dt "
        f"{info['setup_s']['auto_dt']:.1f} s, discretize {info['setup_s']['discretize_euler']:.1f} s")
    import scipy.sparse as sp

    d = cases["euler/off"]
    Mcsr = sp.csr_matrix((d.data, d.indices, d.indptr), shape=(n, n))
    rng = np.random.default_rng(2)
    x = rng.standard_normal(n)
    XT = np.ascontiguousarray(rng.standard_normal((n, 64)))
    base = {1: ("scipy CSR @ x", lambda: Mcsr @ x), 64: ("scipy CSR @ (n x 64)", lambda: Mcsr @ XT)}
    return _time_group("sparse", n, cases, x0, base, rounds, target_s, log), info


# ------------------------------------------------------------------ environment / report
def environment() -> dict:
    import numba
    import scipy

    try:
        import subprocess

        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or None
    except Exception:  # pragma: no cover - no git
        rev = None
    return {
        "python": platform.python_version(), "platform": platform.platform(),
        "machine": platform.machine(), "processor": platform.processor(),
        "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
        "os_cpu_count": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_num_threads": int(numba.config.NUMBA_NUM_THREADS),
        "env": {v: os.environ.get(v) for v in ENV_VARS},
        "blas_threads_note": "threadpoolctl not installed: BLAS thread count not queried; OpenBLAS "
                             "uses os.cpu_count() threads unless the env vars above say otherwise",
        "git_rev": rev,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def target_check(rows) -> dict:
    out = {}
    for r in rows:
        if r["group"] == "dense" and r["n"] == TARGET_N and r["case"].startswith("euler"):
            key = f"n={TARGET_N} chains={r['chains']} {r['case']}"
            out[key] = {"ratio": r["ratio"], "met": bool(r["ratio"] <= TARGET_RATIO)}
    return out


def format_table(result: dict) -> str:
    cfg = result["config"]
    lines = [f"integrator step vs bare BLAS/CSR op (median of {cfg['rounds']} rounds, "
             f"{min(cfg['rounds'], LARGE_ROUNDS)} at n >= {LARGE_N}; "
             f"numpy {result['environment']['numpy']}, numba {result['environment']['numba']}, "
             f"{result['environment']['os_cpu_count']} cpus)"]
    hdr = (f"{'group':<7}{'n':>6}{'chains':>7}  {'system':<9}{'case':<11}{'mode':>5}  {'noise path':<14}"
           f"{'twin/step':>11}  {'baseline':<22}{'base':>11}{'ratio':>8}{'(min)':>7}")
    lines += [hdr, "-" * len(hdr)]
    for r in result["rows"]:
        flag = ""
        if r["group"] == "dense" and r["n"] == TARGET_N and r["case"].startswith("euler"):
            flag = "  ok" if r["ratio"] <= TARGET_RATIO else "  MISS"
        lines.append(f"{r['group']:<7}{r['n']:>6}{r['chains']:>7}  {r.get('system', 'compiled'):<9}"
                     f"{r['case']:<11}{r['noise_mode']:>5}  "
                     f"{r['noise_path']:<14}{fmt_seconds(r['twin_step_s']):>11}  {r['baseline']:<22}"
                     f"{fmt_seconds(r['baseline_s']):>11}{r['ratio']:>8.2f}{r['ratio_of_minima']:>7.2f}{flag}")
    lines.append("ratio = median twin step / median baseline; (min) = the same with the fastest round of each")
    direct = [p for p in result["problems"] if p.get("system") == "direct"]
    checks = [p["direct_vs_compiled_max_rel"] for p in result["problems"] if p.get("direct_vs_compiled_max_rel")]
    if direct:
        worst = max((max(c.values()) for c in checks), default=float("nan"))
        comp = [str(p["n"]) for p in result["problems"] if p.get("system") == "compiled" and p.get("drift_kind") == "dense"]
        lines.append(f"system 'direct' (n = {', '.join(str(p['n']) for p in direct)} > compile_max_n = "
                     f"{cfg['compile_max_n']}): the state space is written from A (F = -A/tau, offset, Johnson Q) "
                     f"instead of integrator_array + compile_netlist (16.8M resistor elements at n = 4096); equal to the compiled one to {worst:.0e} at n = {', '.join(comp) or '-'}; "
                     "no exact scheme on direct systems")
    lines.append(f"target: {result['target']['statement']}")
    for key, v in result["target_check"].items():
        lines.append(f"  {key}: ratio {v['ratio']:.2f} -> {'met' if v['met'] else 'MISSED'}")
    return "\n".join(lines)


def fmt_seconds(s: float, us: int = 2, ms: int = 3, sec: int | None = None, sep: str = " ") -> str:
    """A duration for the benchmark tables: in us below 1 ms, in ms below 1 s (or always, with
    sec=None), else in s; ``us`` / ``ms`` / ``sec`` decimals, ``sep`` between number and unit."""
    if s < 1e-3:
        return f"{s * 1e6:.{us}f}{sep}us"
    if sec is None or s < 1.0:
        return f"{s * 1e3:.{ms}f}{sep}ms"
    return f"{s:.{sec}f}{sep}s"


def run_benchmark(quick: bool = False, rounds: int | None = None, sizes=None, sparse_n: int | None = None,
                  compile_max_n: int | None = None, log=print) -> dict:
    sizes = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    if compile_max_n is None:
        compile_max_n = QUICK_COMPILE_MAX_N if quick else COMPILE_MAX_N
    sparse_n = sparse_n if sparse_n is not None else (512 if quick else 4096)
    rounds = rounds or (3 if quick else 7)
    target_s = 0.03 if quick else 0.15
    rows, problems = [], []
    t0 = time.perf_counter()
    for n in sizes:
        r, info = bench_dense(n, rounds, target_s, log, direct=n > compile_max_n)
        rows += r
        problems.append(info)
    if sparse_n:
        r, info = bench_sparse(sparse_n, rounds, target_s, log)
        rows += r
        problems.append(info)
    return {
        "benchmark": "integrator",
        "config": {"quick": quick, "sizes": list(sizes), "sparse_n": sparse_n, "chains": list(CHAINS),
                   "rounds": rounds, "rounds_at_large_n": min(rounds, LARGE_ROUNDS), "large_n": LARGE_N,
                   "compile_max_n": compile_max_n,
                   "dense_system": f"n <= {compile_max_n}: integrator_array + compile_netlist; larger: "
                                   "direct_state_space(A, b) (same F, offset, Q; checked at compiled sizes)",
                   "target_time_per_measurement_s": target_s,
                   "matrix": "random_spd(n, cond=10, seed=0); b = default_rng(1).standard_normal(n)",
                   "sparse_matrix": "tridiagonal: 1 on the diagonal, -0.3 on both first off-diagonals",
                   "timed_call": "run(disc, X0, n_steps, save_every=n_steps, seed=0) after a warm-up call",
                   "ratio": "median twin step time / median numpy (or scipy) op time, same run",
                   "settle_s_before_each_measurement": SETTLE_S,
                   "min_steps_per_timed_run": {"n < large_n": MIN_STEPS, "n >= large_n": 64}},
        "target": {"n": TARGET_N, "ratio": TARGET_RATIO,
                   "statement": f"at n={TARGET_N} an Euler step costs at most {TARGET_RATIO:g}x numpy gemv "
                                "(1 chain) and gemm (64 chains)"},
        "environment": environment(),
        "problems": problems,
        "rows": rows,
        "target_check": target_check(rows),
        "wall_s": time.perf_counter() - t0,
    }




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (n = 64 compiled, 256 direct; sparse n = 512), fewer rounds")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved measurement rounds (median taken)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="dense sizes n")
    ap.add_argument("--sparse-n", type=int, default=None, help="sparse size (0 = skip)")
    ap.add_argument("--compile-max-n", type=int, default=None,
                    help=f"largest dense n mapped + compiled; larger ones are built directly "
                         f"(default {COMPILE_MAX_N}, quick {QUICK_COMPILE_MAX_N})")
    a = ap.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    res = run_benchmark(quick=a.quick, rounds=a.rounds, sizes=a.sizes, sparse_n=a.sparse_n,
                        compile_max_n=a.compile_max_n, log=log)
    print(format_table(res))
    print(f"wrote {write_json(res, a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
