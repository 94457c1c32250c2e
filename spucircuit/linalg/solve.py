"""Thermodynamic linear algebra on the twin: ``solve`` (time average) and ``inv`` (covariance).

Both map A onto an integrator array (:func:`~spucircuit.circuit.integrator_array.integrator_array`),
simulate the circuit from its component values with :class:`~spucircuit.device.spu.SPU`, and map the
node voltages back to problem units. ``device_solve`` / ``device_inv`` do the same on one imperfect
device instance (:class:`~spucircuit.imperfections.instance.Device`), through its converters. Analog
times are in seconds, or strings like '50tau'; tau = C / g_unit is the mapping's time unit
(dx/dt = -(A x - b) with t in tau). How long to run, what to discard and which step to take is one
:class:`RunPolicy` for all four.

Stationary law (physics.md 1): x ~ N(A^-1 b, (kappa / ...) A^-1), so the time average of x estimates
A^-1 b with a standard error from batch means several relaxation times long, and with b = 0 the
covariance gives A^-1 = 2 cov(x) / q, q the diffusion of x per tau. Cost: the set-up of the exact
scheme (one eigh, O(n^3)) plus O(n^2) per step and chain.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace

import numpy as np
import scipy.sparse as sp

from spucircuit._util.quantities import parse_time
from spucircuit._util.seeds import seed_sequence
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM, V_SWING_DEFAULT
from spucircuit.device.base import add_work, canonical_scheme, covariance_cost_s, probe_cost_s
from spucircuit.device.spu import MAX_SAMPLES_DEFAULT, SPU
from spucircuit.errors import ClippingWarning, ParseError, ShortRunWarning, SPUError, StepError
from spucircuit.imperfections.instance import Device, x_diffusion
from spucircuit.integrate.discretize import symmetric_eigen
from spucircuit.integrate.trapezoidal import DAMP_STEPS
from spucircuit.linalg.error_bound import (
    device_budget,
    device_inv_budget,
    diffusion_anisotropy,
    ideal_budget,
    inv_budget,
    transient_bound,
    trapezoidal_covariance_transient,
    trapezoidal_transient_bound,
)
from spucircuit.linalg.selected import (
    LADDER_STEPS,
    diffusion_diagonal_stats,
    parse_entries,
    selected_covariance,
    settle_covariance,
)
from spucircuit.numerics.bounds import KAPPA_MAX_DEFAULT, SpectrumBounds
from spucircuit.numerics.matrices import as_vector, check_spd, check_spd_sparse
from spucircuit.numerics.scaling import norm2
from spucircuit.numerics.spectral import probe_lambda_min
from spucircuit.numerics.stats import cov_and_se, mean_and_se

MAX_STEPS_DEFAULT = 200_000
AUTO_DENSE_MAX_N = 512  # auto scheme: the exponential eigenbasis for dense A up to this size (its solve step 0.5 / lambda_max: up to 2e5 steps of n^2)
SAMPLE_VALUES = 2_000_000  # a time average keeps up to this many sampled values (16 MB) for its standard error


@dataclass(frozen=True)
class Rates:
    """The slowest and fastest relaxation rates (1/tau) a run is planned with: bounds the device
    computes from A and the problem class (:meth:`from_bounds`, the default), or A's exact extreme
    eigenvalues (:meth:`oracle`, a labelled upper bound: no device knows its spectrum)."""

    slow: float
    fast: float
    source: str

    @classmethod
    def from_bounds(cls, bounds: SpectrumBounds) -> "Rates":
        return cls(slow=bounds.lam_min_lower, fast=bounds.lam_max_upper, source=bounds.source)

    @classmethod
    def oracle(cls, lam) -> "Rates":
        return cls(slow=float(lam[0]), fast=float(lam[-1]), source="oracle")


@dataclass(frozen=True)
class RunPolicy:
    """How long a linear-algebra run lasts, in units of the slowest relaxation time 1/lambda_min
    (tau units of the mapping), and its step; lambda_min and lambda_max come from :class:`Rates`.

    total_slow : default analog time (220 for solve, 2000 for inv)
    burn_fraction, burn_slow : default burn-in min(burn_fraction x total, burn_slow / lambda_min)
    batch_slow : batch length of the batch-means standard error (5 relaxation times)
    task : 'solve' (step 0.5 / lambda_max) or 'inv' (step min(0.2 / lambda_min, run / 1000)),
           never more than ``max_steps`` steps (exponential scheme: exact at any step). The
           trapezoidal scheme takes min(trap_slow / lambda_min, window / trap_samples) for both
           tasks, never lambda_max: its stationary mean and covariance are exact at any step, and
           so is the precision of a time average (a mode with z = h lambda has step correlation
           rho = (1 - z/2) / (1 + z/2) and (1 + rho) / (1 - rho) = 2 / z: the variance of the mean
           of K samples is 2 var / (lambda K h), the continuous 2 var / (lambda T), at any z).
           The step therefore only sets how fast the start decays (a slow mode by 1/3 per step at
           z = 1, faster than e^-1; the stiff ones after the damped start), which the transient
           bound takes exactly (:func:`~spucircuit.linalg.error_bound.trapezoidal_transient_bound`),
           and the number of samples the batch-means standard error gets
    range_slow : a ranging pass's averaging window after its burn-in
    trap_slow, trap_samples : the trapezoidal step (above)
    """

    total_slow: float
    burn_fraction: float
    burn_slow: float
    task: str
    batch_slow: float = 5.0
    max_steps: int = MAX_STEPS_DEFAULT
    range_slow: float = 5.0
    trap_slow: float = 1.0
    trap_samples: int = 200

    def times(self, rates: Rates, tau: float, time=None, burn_in=None):
        """(total, burn-in) in seconds for ``rates`` (1/tau) and time unit tau."""
        total = parse_time(time, tau) if time is not None else self.total_slow / rates.slow * tau
        if burn_in is None:
            return total, min(self.burn_fraction * total, self.burn_slow / rates.slow * tau)
        tb = 0.0 if (isinstance(burn_in, (int, float)) and burn_in == 0) else parse_time(burn_in, tau)
        if tb >= total:
            raise ParseError(f"burn-in ({tb:.4g} s) must be shorter than the analog time ({total:.4g} s)")
        return total, tb

    def step(self, rates: Rates, tau: float, total: float, tb: float, scheme: str = "exponential") -> float:
        """The automatic step of the exponential or trapezoidal scheme (s)."""
        if scheme == "trapezoidal":
            return max(min(self.trap_slow / rates.slow * tau, (total - tb) / self.trap_samples),
                       total / self.max_steps)
        if self.task == "solve":
            return max(0.5 / rates.fast * tau, total / self.max_steps)
        return max(min(0.2 / rates.slow * tau, (total - tb) / 1000), total / self.max_steps)

    def batch_steps(self, rates: Rates, tau: float, spacing: float) -> int:
        """Samples per batch of the batch-means standard error."""
        return int(np.ceil(self.batch_slow / rates.slow * tau / spacing))


SOLVE_POLICY = RunPolicy(total_slow=220.0, burn_fraction=0.5, burn_slow=20.0, task="solve")
SCALES = ("autorange", "bound", "oracle")
RANGE_MARGIN = 0.8  # auto-ranging maps the measured max |x| to this fraction of the read-out range
RANGE_MAX_PASSES = 6
RANGE_MIN_STEPS = 32  # a read-out must span this many ADC steps before its range is trusted (3 % on the max)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ParseError(f"scale must be one of {SCALES}, got {scale!r}")
    return scale


def autorange(run_pass, v_unit: float, v_swing: float, *, lsb_v: float | None = None,
              margin: float = RANGE_MARGIN, max_passes: int = RANGE_MAX_PASSES):
    """Range a device as it can: run at ``v_unit`` (V per unit of x), read, rescale, repeat.

    ``run_pass(v_unit) -> (x_hat, clipped, analog_time_s)``: the device programmed at that scale,
    run to its read-out (a burn-in and a short averaging window), x_hat the mean read-out (problem
    units) and ``clipped`` the converter clips / saturations seen. A clip means the scale is too
    large (the bound was broken): divide it by 4 and run again. A read-out below RANGE_MIN_STEPS ADC steps
    (``lsb_v``) cannot place the range: scale up towards the margin and run again. Otherwise the
    measured max |x_hat| is mapped to ``margin`` x v_swing (the read-out's range). Every pass's analog time is counted.
    Returns (v_unit, info dict: passes, ranging_time_s, x_hat_max).
    """
    passes, t = [], 0.0
    for _ in range(max_passes):
        x_hat, clipped, dt = run_pass(v_unit)
        t += dt
        peak_v = float(np.max(np.abs(x_hat))) * v_unit
        passes.append({"v_unit_V": v_unit, "peak_V": peak_v, "clipped": int(clipped)})
        if clipped:
            v_unit /= 4.0
            continue
        if peak_v == 0.0 or (lsb_v is not None and peak_v < RANGE_MIN_STEPS * lsb_v):
            floor = max(peak_v, lsb_v or 0.0)
            if floor == 0.0:
                break  # x = 0 to the read-out's resolution: nothing to range on
            v_unit *= min(1e3, margin * v_swing / floor)
            continue
        v_unit = margin * v_swing / (peak_v / v_unit)
        return v_unit, {"passes": len(passes), "ranging_time_s": t, "trace": passes}
    return v_unit, {"passes": len(passes), "ranging_time_s": t, "trace": passes,
                    "note": "ranging did not settle within the passes; the last scale is used"}
INV_POLICY = RunPolicy(total_slow=2000.0, burn_fraction=0.1, burn_slow=10.0, task="inv")


@dataclass
class SolveInfo:
    """What a solve or an inverse on the twin reports besides its answer (SI units).

    Fields that do not apply to a run are None. ``info["key"]``, ``keys()`` and ``items()`` work
    as on the dict this replaces (``return_info=True``); ``items()`` lists the fields that apply.
    """

    task: str  # 'solve' or 'inv'
    standard_error: np.ndarray
    analog_time_s: float  # all the analog time the answer cost: ranging, burn-in and averaging
    burn_in_s: float | None = None
    window_s: float | None = None  # the averaging window after the burn-in
    tau_s: float | None = None
    dt_s: float | None = None
    steps: int | None = None
    scheme: str | None = None
    inner_solve: dict | None = None  # sparse trapezoidal: the step's inner solve ('direct' or 'amg-pcg', its figures)
    chains: int | None = None
    components: dict | None = None
    # solve
    se_reliable: bool | None = None
    se_batches: int | None = None
    transient_bias_bound: float | None = None
    pruning: dict | None = None
    # inv
    noise_psd_A2_per_Hz: float | None = None
    diffusion_x_per_tau: float | None = None
    noise_anisotropy: float | None = None
    # rails: how many op-amps (and which) sat on a rail during the run (None: no rails)
    saturated: int | None = None
    saturated_opamps: list | None = None
    # device converters
    adc_samples: int | None = None
    adc_clipped: int | None = None
    dac_clipped: int | None = None
    x_before_adc: np.ndarray | None = None
    scale: dict | None = None  # how the device ranged v_unit (method, passes, ranging time)
    # sample: the sample covariance and mean, their spacing and effective sample size
    covariance: np.ndarray | None = None
    mean: np.ndarray | None = None
    mean_standard_error: np.ndarray | None = None
    spacing_s: float | None = None
    effective_sample_size: float | None = None
    # error bars (linalg.error_bound): relative bound on the error, and its terms
    error_bound: float | None = None
    error_budget: dict | None = None
    mapped: object = field(default=None, repr=False)

    def __getitem__(self, key):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def keys(self) -> list:
        return [f.name for f in fields(self) if f.name != "task" and getattr(self, f.name) is not None]

    def items(self) -> list:
        return [(k, getattr(self, k)) for k in self.keys()]

    def to_dict(self) -> dict:
        """The fields that apply, without the circuit object (``mapped``)."""
        return {k: v for k, v in self.items() if k != "mapped"}


def _program(mc, policy: RunPolicy, rates_of, *, scheme: str, dt, time, burn_in, **spu_kw):
    """SPU for ``mc``, the run's :class:`Rates` (``rates_of(lam)``, lam the realised A's ascending
    eigenvalues, used only by the oracle) and its (total, burn-in) by ``policy``; the exponential
    scheme gets the policy's step unless ``dt``.

    The eigenvalues come from the drift's eigendecomposition when it is symmetric (ideal arrays; the
    same eigh serves the exponential scheme's set-up, so they cost nothing extra), else from
    eigvalsh(mc.A). The SPU is made with a provisional step while the step is still to be chosen.
    """
    provisional = dt if dt is not None else (None if scheme == "euler" else 1.0)
    spu = SPU(mc, scheme=scheme, dt=provisional, **spu_kw)
    sym = None if spu.scheme == "trapezoidal" else symmetric_eigen(spu.ss)  # trapezoidal: no spectrum
    rates = rates_of(lambda: np.sort(-sym[0] * mc.tau_s) if sym is not None else extreme_eigenvalues(mc.A))
    total, tb = policy.times(rates, mc.tau_s, time, burn_in)
    _check_user_step(dt, total - tb)
    if dt is None and spu.scheme in ("exponential", "trapezoidal"):
        spu.set_dt(policy.step(rates, mc.tau_s, total, tb, spu.scheme))
    return spu, rates, total, tb


@dataclass
class StationaryRun:
    """A noisy circuit run to its stationary law: the device, its run after the burn-in, the
    x-unit diffusion per tau Qx of the compiled circuit (what the design says of its noise) and
    q = mean diag(Qx)."""

    spu: SPU
    rates: Rates
    total_s: float
    burn_in_s: float
    res: object
    Qx: np.ndarray
    q: float


def stationary_run(mc, policy: RunPolicy, rates_of, *, what: str, scheme: str = "exponential", dt=None, time=None,
                   burn_in=None, temperature_k: float = T_ROOM, chains: int = 8, seed=None,
                   max_samples: int = MAX_STEPS_DEFAULT, progress=False, consume=None) -> StationaryRun:
    """Program the noisy circuit ``mc`` (times and step by ``policy``, :func:`_program`), check it
    has noise to read a covariance from (``what``: the start of the error's sentence), burn in and
    run; the one stationary run of ``inv``, sampling, Lyapunov equations, conditionals, matrix
    exponentials and log-determinants.

    ``consume(res)``: the run is made in segments of at most ``max_samples`` steps, every step kept,
    each segment's result handed to ``consume`` and not retained (a long run in bounded memory; the
    state carries over); ``res`` is then the last segment with the whole window's analog time."""
    spu, rates, total, tb = _program(mc, policy, rates_of, scheme=scheme, dt=dt, time=time, burn_in=burn_in,
                                     temperature_k=temperature_k, noise=True, chains=chains, seed=seed)
    Qx = x_diffusion(spu.ss, spu.readout_map[0], mc)
    q = float(np.mean(np.diag(Qx)))
    if not q > 0:  # checked before the run: without noise there are no fluctuations to read from
        raise SPUError(f"{what} from the stationary fluctuations, and this circuit has no noise "
                       f"(temperature {temperature_k:g} K, noise_psd {mc.noise_psd_a2_hz:g} A^2/Hz): give noise_psd > 0")
    tb = _burn(spu, tb)
    if consume is None:
        res = spu.run(max(total - tb, spu.dt), max_samples=max_samples, progress=progress)
        add_work(covariance_cost_s(res.x.shape[0], chains, mc.n))
    else:
        steps = max(1, int(round((total - tb) / spu.dt)))
        done, window = 0, 0.0
        while done < steps:
            k = min(int(max_samples), steps - done)
            res = spu.run(k * spu.dt, max_samples=k, progress=progress)
            consume(res)
            add_work(covariance_cost_s(k, chains, mc.n))
            done, window = done + k, window + res.analog_time_s
        res = replace(res, analog_time_s=window, n_steps=steps)
    return StationaryRun(spu=spu, rates=rates, total_s=total, burn_in_s=tb, res=res, Qx=Qx, q=q)


def extreme_eigenvalues(A) -> np.ndarray:
    """A's eigenvalues, ascending (dense), or its two extreme ones (scipy.sparse, Lanczos): the
    oracle's spectrum, for reporting and ``scale='oracle'`` only."""
    if sp.issparse(A):
        import scipy.sparse.linalg as spla

        hi = spla.eigsh(A, k=1, which="LA", return_eigenvectors=False)[0]
        lo = spla.eigsh(A, k=1, sigma=0.0, which="LM", return_eigenvectors=False)[0]
        return np.array([lo, hi])
    return np.linalg.eigvalsh(A)


def auto_scheme(A, scheme: str | None) -> str:
    """The scheme a solve / inv runs: the given one, or automatically the exponential eigenbasis
    for a dense A up to AUTO_DENSE_MAX_N (its O(n^3) set-up is then cheapest and it is exact in
    distribution) and the trapezoidal scheme for a scipy.sparse A or a larger dense one (O(nnz)
    per step with sparse factors; exact stationary mean and covariance at any step)."""
    if scheme is not None and scheme != "auto":
        return canonical_scheme(scheme)
    return "trapezoidal" if sp.issparse(A) or A.shape[0] > AUTO_DENSE_MAX_N else "exponential"


def checked_bounds(A, kappa_max: float, scale: str, probe: bool | None, seed=None) -> tuple:
    """(A checked, its :class:`SpectrumBounds`, the probe's record or None).

    ``probe`` None probes a scipy.sparse A (unless ``scale='oracle'``): a few Lanczos products and
    one shifted LDL^T certify lambda_min >= lower (:func:`~spucircuit.numerics.spectral.probe_lambda_min`),
    which then replaces the kappa_max spec for the run time, the step and the error bound (a large
    grid breaks the default spec); the certificate also proves A positive definite, so the unshifted
    check is skipped. The probe's work is counted (:func:`~spucircuit.device.base.probe_cost_s`).
    Dense A keeps the spec's bounds (``probe=True`` probes it as a sparse matrix). ``seed``: a
    callable giving the probe's SeedSequence, called only when it probes."""
    seed = seed if callable(seed) else (lambda s=seed: seed_sequence(s))
    use = (sp.issparse(A) and scale != "oracle") if probe is None else bool(probe)
    if not use:
        A = check_spd(A)
        return A, SpectrumBounds.from_matrix(A, kappa_max), None
    A = check_spd_sparse(sp.csr_matrix(check_spd(A)) if not sp.issparse(A) else A, factor=False)
    p = probe_lambda_min(A, seed=np.random.default_rng(seed()))
    if p.lower is None:  # no certificate: the plain positive-definiteness check, then the spec
        check_spd_sparse(A)
    add_work(probe_cost_s(p.matvecs, p.nnz, p.factor_flops))
    rec = p.to_dict()
    rec["compute_s"] = probe_cost_s(p.matvecs, p.nnz, p.factor_flops)
    return A, SpectrumBounds.from_matrix(A, kappa_max).certified(p.lower), rec


PROBE_SPAWN_KEY = 15  # the probe's start vector comes from this child key of the run's seed


def _probe_seed(seed) -> np.random.SeedSequence:
    """The probe's own child of the run's seed, derived without spawning (the run's children keep their bits)."""
    ss = seed_sequence(seed)
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (PROBE_SPAWN_KEY,),
                                  pool_size=ss.pool_size)


def _check_user_step(dt, window: float) -> None:
    """A given step longer than the averaging window (the run after its burn-in) would stretch the
    run to one step of dt, with no statistics: refused."""
    if dt is not None and float(dt) > window:
        raise StepError(f"time step {float(dt):.4g} s is longer than the averaging window ({window:.4g} s, the run "
                        "after its burn-in): give a smaller dt or a longer time")


def _burn(spu, tb: float) -> float:
    """Run the burn-in (no read-out conversion); returns the burn-in actually simulated (s)."""
    return spu.run(tb, max_samples=1, adc=False).analog_time_s if tb > 0 else 0.0


def _time_average(spu, rates, tau, policy, total, tb, *, max_samples=None, progress=False):
    """Burn in, run, and the batch-means mean of the read-out: (x, se, run result, burn-in, batch)."""
    tb = _burn(spu, tb)
    if max_samples is None:  # dense enough sampling that the sampled mean is the time average
        max_samples = max(MAX_SAMPLES_DEFAULT, SAMPLE_VALUES // (spu.chains * spu.n))
    res = spu.run(max(total - tb, spu.dt or 0.0), max_samples=max_samples, progress=progress)
    spacing = res.t[0] if len(res.t) else res.dt
    batch = policy.batch_steps(rates, tau, spacing)
    x, se = mean_and_se(res.x, min_batch=batch)
    return x, se, res, tb, batch


def warn_if_short(info: "SolveInfo", x, policy: RunPolicy, rates: Rates, tau: float, time, total_s: float) -> None:
    """Warn (:class:`ShortRunWarning`, stating the expected error) when a user-given ``time`` is
    shorter than the policy's default for these rates and the run shows it: no standard error, or a
    start transient still above the noise after the burn-in."""
    if time is None:
        return
    default_s = policy.times(rates, tau)[0]
    eb = info.error_budget or {}
    transient, noise = eb.get("transient", 0.0), eb.get("noise", 0.0)
    no_se = not np.all(np.isfinite(info.standard_error))
    if total_s >= default_s or not (no_se or transient > noise):
        return
    xn = norm2(x)
    rel_t = transient / xn if xn > 0 else np.inf
    expected = eb.get("relative")
    what = (f"expected relative error up to {expected:.2g}" if expected is not None and np.isfinite(expected)
            else f"expected relative error {rel_t:.2g} or more from the start alone" if rel_t < 1
            else "the answer may be off by 100 % or more")
    why = "no standard error (fewer than 2 batches of 5 slowest relaxation times)" if no_se else \
        f"the start's transient ({rel_t:.2g} relative) still dominates the noise ({noise / xn:.2g}) after the burn-in"
    warnings.warn(ShortRunWarning(
        f"the run is too short ({total_s / tau:.3g} tau of analog time): {what}; {why}. The default for this "
        f"problem class is {default_s / tau:.4g} tau (give a longer --time / time=, or leave it out)"), stacklevel=3)


def _rates_of(scale: str, bounds: SpectrumBounds):
    """How a run plans its times: the oracle's spectrum, or what the device knows (bounds)."""
    if scale == "oracle":
        return lambda eigenvalues: Rates.oracle(eigenvalues())
    return lambda eigenvalues: Rates.from_bounds(bounds)


def _range_window(policy: RunPolicy, rates: Rates, tau: float, time=None, burn_in=None) -> tuple:
    """(burn-in, averaging window) of one ranging pass, s: the run's own burn-in (the user's time and
    burn-in, or the policy's), then ``range_slow`` relaxation times or a quarter of the averaging
    window the run will have, whichever is shorter."""
    total, tb = policy.times(rates, tau, time, burn_in)
    return tb, min(policy.range_slow / rates.slow * tau, 0.25 * (total - tb))


def range_mapping(A, b, *, kappa_max: float = KAPPA_MAX_DEFAULT, scheme: str = "exponential", dt=None, time=None,
                  burn_in=None, seed=None, temperature_k: float = T_ROOM, noise: bool = True, chains: int = 1,
                  prune: bool = False, bounds: SpectrumBounds | None = None, **mapping_kwargs):
    """The v_unit (V per unit of x) an ideal-converter integrator array finds by ranging itself for
    A x = b (:func:`autorange`): a pass mapped at the computable bound, read after its burn-in and a
    short window, then the measured max |x| at ``RANGE_MARGIN`` of the swing. ``bounds``: the
    spectrum bounds to plan with (default: the kappa_max spec's). Returns (v_unit, ranging record)."""
    bounds = SpectrumBounds.from_matrix(A, kappa_max) if bounds is None else bounds
    rates_of = _rates_of("autorange", bounds)
    seeds = seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(seed)

    def run_pass(v_unit):
        mc1 = integrator_array(A, b, prune=prune, check=False, scale=v_unit, kappa_max=kappa_max, **mapping_kwargs)
        spu1, rates, _, _ = _program(mc1, SOLVE_POLICY, rates_of, scheme=scheme, dt=dt, time=None, burn_in=None,
                                     seed=seeds.spawn(1)[0], temperature_k=temperature_k, noise=noise, chains=chains)
        tb1, window = _range_window(SOLVE_POLICY, rates, mc1.tau_s, time, burn_in)
        res = spu1.run(tb1 + window, max_samples=1000)
        keep = res.t > tb1  # the window after the burn-in
        return res.x[keep].mean(axis=(0, 1)), 0, res.analog_time_s

    v0 = _bound_scale(A, b, bounds, kappa_max, prune, mapping_kwargs)
    return autorange(run_pass, v0, mapping_kwargs.get("v_swing", V_SWING_DEFAULT))


def _bound_scale(A, b, bounds: SpectrumBounds, kappa_max, prune, mapping_kwargs):
    """The mapping's 'bound' scale: v_swing / (|b| / lambda_min_lower) with a certified bound, else
    the mapping's own kappa_max rule."""
    if bounds.source == "probe" and np.any(b):
        return mapping_kwargs.get("v_swing", V_SWING_DEFAULT) / bounds.solution_bound(b)
    return integrator_array(A, b, prune=prune, check=False, scale="bound", kappa_max=kappa_max,
                            **mapping_kwargs).v_unit_v


def solve(A, b, *, time=None, burn_in=None, chains: int = 1, seed=None, scheme: str | None = None,
          dt: float | None = None, temperature_k: float = T_ROOM, noise: bool = True, x0=None,
          prune: bool = False, return_info: bool = False, progress=False, scale: str = "autorange",
          kappa_max: float = KAPPA_MAX_DEFAULT, probe: bool | None = None, **mapping_kwargs):
    """x ~ A^-1 b as the time average of the twin's node voltages after burn-in.

    Args:
        A, b: SPD matrix (n, n), dense or scipy.sparse (checked, mapped and simulated sparsely), and
            right-hand side (n,).
        time: total analog time (s or 'Ntau'); default 220 / lambda_min tau, lambda_min the bound
            max_i A_ii / kappa_max a device can compute (``scale='oracle'``: the true one).
        burn_in: discarded initial time; default min(time / 2, 20 / lambda_min tau).
        chains, seed, scheme, dt, temperature_k, noise, progress: as :class:`SPU`; ``scheme`` None
            (or 'auto') chooses (:func:`auto_scheme`): 'exponential' for a dense A up to
            AUTO_DENSE_MAX_N, 'trapezoidal' for a sparse or larger one; stated in ``info.scheme``.
        x0: initial x; prune: leave unrealisable small entries open (bound in ``info.pruning``).
        scale: how the device ranges v_unit (V per unit of x): 'autorange' (default: a ranging pass
            at the computable bound kappa_max |b| / max_i A_ii, then the measured max |x| at 0.8 of
            the swing; its analog time is counted), 'bound' (stay at the bound) or 'oracle' (from the
            exact x* and spectrum: a labelled upper bound no device can reach).
        kappa_max: the problem class's largest condition number (bounds and run times).
        probe: certify lambda_min by a spectral probe (:func:`checked_bounds`; None: for a
            scipy.sparse A), which then replaces the kappa_max spec; recorded in ``info.scale['probe']``.
        mapping_kwargs: r_min, r_max, c, v_swing, ... of the mapping.

    Returns:
        x, or (x, :class:`SolveInfo`) with ``standard_error`` (batch means over time and chains,
        batches at least 5 / lambda_min tau long; several chains or a long window are needed for
        enough batches, ``se_batches``), ``analog_time_s`` (ranging included), ``burn_in_s``,
        ``tau_s``, ``components``, ``transient_bias_bound``, ``scale`` (how ranging was done).
    """
    scale = check_scale(scale)
    seed = seed_sequence(seed)
    A, bounds, probed = checked_bounds(A, kappa_max, scale, probe, lambda: _probe_seed(seed))
    b = as_vector(b, A.shape[0])
    scheme = auto_scheme(A, scheme)
    rates_of = _rates_of(scale, bounds)
    seeds = seed.spawn(2)
    spu_kw = dict(temperature_k=temperature_k, noise=noise, chains=chains)
    ranging = {"method": scale, "kappa_max": bounds.kappa_max}
    if probed is not None:
        ranging["probe"] = probed
    map_scale = "oracle" if scale == "oracle" else "bound"
    if map_scale == "bound" and bounds.source == "probe":
        map_scale = _bound_scale(A, b, bounds, kappa_max, prune, mapping_kwargs)
    if scale == "autorange" and np.any(b):
        map_scale, info_r = range_mapping(A, b, kappa_max=kappa_max, scheme=scheme, dt=dt, time=time, burn_in=burn_in,
                                          seed=seeds[1], prune=prune, bounds=bounds, **spu_kw, **mapping_kwargs)
        ranging.update(info_r)
    mc = integrator_array(A, b, prune=prune, x0=x0, check=False, scale=map_scale, kappa_max=kappa_max,
                          **mapping_kwargs)
    spu, rates, total, tb = _program(mc, SOLVE_POLICY, rates_of, scheme=scheme, dt=dt, time=time, burn_in=burn_in,
                                     seed=seeds[0], **spu_kw)
    x, se, res, tb, batch = _time_average(spu, rates, mc.tau_s, SOLVE_POLICY, total, tb, progress=progress)
    ranging.update(v_unit_V=mc.v_unit_v, rates=rates.source)
    x0v = np.zeros_like(b) if x0 is None else np.asarray(x0, float)
    t_range = ranging.get("ranging_time_s", 0.0)
    if spu.scheme == "trapezoidal":
        transient = trapezoidal_transient_bound(rates.slow, rates.fast, spu.dt / mc.tau_s, int(round(tb / spu.dt)),
                                                DAMP_STEPS, b, x0v)
    else:
        transient = transient_bound(rates.slow, tb, mc.tau_s, b, x0v)
    budget = ideal_budget(x, se, lam_lower=rates.slow, lam_source=rates.source, transient=transient, pruning=mc.prune)
    info = SolveInfo(
        task="solve", standard_error=se, analog_time_s=t_range + tb + res.analog_time_s, burn_in_s=tb,
        window_s=res.analog_time_s, tau_s=mc.tau_s, dt_s=spu.dt, steps=int(round(tb / spu.dt)) + res.n_steps,
        se_reliable=bool(np.all(np.isfinite(se))), scheme=spu.scheme, inner_solve=spu.inner_solve,
        components=mc.component_counts(),
        transient_bias_bound=transient, pruning=mc.prune,
        error_bound=budget.relative, error_budget=budget.to_dict(),
        se_batches=int(min(res.x.shape[0] // max(1, batch), max(2, 32 // chains) if chains < 32 else 1) * chains),
        scale=ranging, mapped=mc,
    )
    warn_if_short(info, x, SOLVE_POLICY, rates, mc.tau_s, time, total)
    return (x, info) if return_info else x


def inv(A, *, time=None, burn_in=None, chains: int = 8, seed=None, scheme: str | None = None,
        dt: float | None = None, temperature_k: float = T_ROOM, noise_psd: float | None = None,
        prune: bool = False, return_info: bool = False, progress=False, scale: str = "autorange",
        kappa_max: float = KAPPA_MAX_DEFAULT, probe: bool | None = None, entries=None, diagonal: bool = False,
        keep_run: bool = False, **mapping_kwargs):
    """A^-1 from the stationary covariance of the twin with b = 0.

    An equal white noise current of PSD ``noise_psd`` (A^2/Hz) is injected at every summing node;
    by default 1e4 x the largest Johnson PSD landing on a summing node
    (:func:`~spucircuit.circuit.noise.default_injected_psd`), so that the Johnson noise (not equal
    across rows, and correlated through the inverting buffers) biases the result by about 1e-4
    only. The covariance of x is rescaled by the diffusion the twin actually has:
    A^-1 = 2 cov(x) / q, q = mean diagonal of the x-unit diffusion per tau.

    time : total analog time per chain; default 2000 / lambda_min tau (relative SE ~1 % with 8 chains),
    lambda_min the bound max_i A_ii / kappa_max (``scale='oracle'``: the true one). With b = 0 there
    is no solution to range: v_unit = v_swing. Returns A^-1, or (A^-1, :class:`SolveInfo`), or with
    ``keep_run`` (A^-1, info, :class:`StationaryRun`): the run's read-outs for statistics beyond the
    covariance (e.g. :func:`~spucircuit.linalg.logdet.logdet`; not with selected entries).

    ``diagonal=True`` or ``entries=[(i, j), ...]``: only those entries of A^-1, as a vector, from the
    covariance of the coordinates they need (:mod:`spucircuit.linalg.selected`: O(n) memory, no
    n x n array; the sparse way to use inv). Their ``standard_error`` and error bound are per entry
    (the bound is on the 2-norm of the selected entries' error). The trapezoidal scheme starts with
    a ladder of steps that brings its stiff modes' variance to the stationary one
    (:func:`~spucircuit.linalg.selected.settle_covariance`), counted in the analog time.
    """
    scale = check_scale(scale)
    A, bounds, probed = checked_bounds(A, kappa_max, scale, probe, lambda: _probe_seed(seed))
    scheme = auto_scheme(A, scheme)
    r_min = mapping_kwargs.get("r_min", R_MIN_DEFAULT)
    r_max = mapping_kwargs.get("r_max", R_MAX_DEFAULT)
    if noise_psd is None:
        noise_psd = default_injected_psd(A, r_min, r_max, temperature_k)
    mc = integrator_array(A, None, prune=prune, noise_psd=noise_psd, check=False, **mapping_kwargs)
    spu, rates, total, tb = _program(mc, INV_POLICY, _rates_of(scale, bounds), scheme=scheme, dt=dt, time=time,
                                     burn_in=burn_in, temperature_k=temperature_k, noise=True, chains=chains,
                                     seed=seed)
    Qx = x_diffusion(spu.ss, spu.readout_map[0], mc)
    selected = diagonal or entries is not None
    rows, cols = parse_entries(entries, diagonal, mc.n) if selected else (None, None)
    if not selected:
        Qx = Qx.toarray() if sp.issparse(Qx) else Qx  # n x n like the covariance inv returns
    q, aniso = diffusion_diagonal_stats(Qx)
    if not q > 0:  # checked before the run: without noise there are no fluctuations to read A^-1 from
        raise SPUError("inv reads A^-1 from the stationary fluctuations, and this circuit has no noise "
                       f"(temperature {temperature_k:g} K, noise_psd {noise_psd:g} A^2/Hz): give noise_psd > 0")
    t_ladder, rungs, trans2 = 0.0, 0, None
    if spu.scheme == "trapezoidal":
        t_ladder, rungs, per_rung = settle_covariance(spu, spu.dt, rates.fast, mc.tau_s)
    tb = _burn(spu, tb)
    if spu.scheme == "trapezoidal":
        trans2 = trapezoidal_covariance_transient(rates.slow, spu.dt / mc.tau_s, int(round(tb / spu.dt)),
                                                  per_rung if rungs else None, aniso)
    if selected:
        n_steps = max(1, int(round(max(total - tb, spu.dt) / spu.dt)))
        cov_x, se_x, nbat, t_run = selected_covariance(spu, rows, cols, n_steps,
                                                       INV_POLICY.batch_steps(rates, mc.tau_s, spu.dt))
        vals, se = 2.0 * cov_x / q, 2.0 * se_x / q
        budget = inv_budget(vals, se, lam_lower=rates.slow, lam_source=rates.source, anisotropy=aniso,
                            eps=float(mc.prune.get("dA_fro", 0.0)), burn_in_tau=tb / mc.tau_s, transient_norm2=trans2,
                            entries=len(vals))
        info = SolveInfo(
            task="inv", standard_error=se, analog_time_s=t_ladder + tb + t_run, burn_in_s=tb, window_s=t_run,
            tau_s=mc.tau_s, dt_s=spu.dt, steps=n_steps + int(round(tb / spu.dt)) + rungs * LADDER_STEPS, chains=chains,
            scheme=spu.scheme, inner_solve=spu.inner_solve, noise_psd_A2_per_Hz=noise_psd, diffusion_x_per_tau=q,
            noise_anisotropy=aniso,
            components=mc.component_counts(), mapped=mc, se_batches=nbat,
            scale={"method": scale, "kappa_max": bounds.kappa_max, "rates": rates.source, "v_unit_V": mc.v_unit_v,
                   "ladder_rungs": rungs, "ladder_time_s": t_ladder, **({"probe": probed} if probed is not None else {})},
            error_bound=budget.relative, error_budget=budget.to_dict(),
        )
        return (vals, info) if return_info else vals
    res = spu.run(max(total - tb, spu.dt), max_samples=MAX_STEPS_DEFAULT, progress=progress)
    add_work(covariance_cost_s(res.x.shape[0], chains, mc.n))
    cov_x, se_x = cov_and_se(res.x)
    Ainv = 2.0 * cov_x / q
    Ainv = 0.5 * (Ainv + Ainv.T)
    off = Qx - np.diag(np.diag(Qx))
    budget = inv_budget(Ainv, 2.0 * se_x / q, lam_lower=rates.slow, lam_source=rates.source,
                        anisotropy=diffusion_anisotropy(Qx), eps=float(mc.prune.get("dA_fro", 0.0)),
                        burn_in_tau=tb / mc.tau_s, transient_norm2=trans2)
    info = SolveInfo(
        task="inv", standard_error=2.0 * se_x / q, analog_time_s=t_ladder + tb + res.analog_time_s, burn_in_s=tb,
        tau_s=mc.tau_s, dt_s=spu.dt, chains=chains, scheme=spu.scheme, inner_solve=spu.inner_solve,
        noise_psd_A2_per_Hz=noise_psd, diffusion_x_per_tau=q,
        noise_anisotropy=float((np.ptp(np.diag(Qx)) + 2 * np.abs(off).sum(axis=1).max()) / q),
        components=mc.component_counts(), mapped=mc,
        scale={"method": scale, "kappa_max": bounds.kappa_max, "rates": rates.source, "v_unit_V": mc.v_unit_v,
               **({"probe": probed} if probed is not None else {})},
        error_bound=budget.relative, error_budget=budget.to_dict(),
    )
    warn_if_short(info, Ainv, INV_POLICY, rates, mc.tau_s, time, total)
    if keep_run:
        return Ainv, info, StationaryRun(spu=spu, rates=rates, total_s=total, burn_in_s=tb, res=res, Qx=Qx, q=q)
    return (Ainv, info) if return_info else Ainv


def _check_device(device, who: str) -> None:
    if not isinstance(device, Device):
        raise SPUError(f"{who} needs a Device (Device(imperfection, seed).program(A, b)), got {type(device).__name__}")
    device.require_programmed()


def _device_rates(device: Device, scale: str, kappa_max: float) -> Rates:
    if scale == "oracle":
        return Rates.oracle(device.nominal_eigenvalues())
    return Rates.from_bounds(device.spectrum_bounds(kappa_max))


def device_solve(device: Device, b=None, *, time=None, burn_in=None, chains: int = 1, seed=None,
                 noise: bool = True, samples: int | None = None, scheme: str = "exponential",
                 dt: float | None = None, scale: str = "autorange", kappa_max: float = KAPPA_MAX_DEFAULT):
    """Solve on the device twin: time average of the ADC read-out after burn-in.

    Times as :func:`solve` (:data:`SOLVE_POLICY`, rates from what the device can bound, or the
    oracle's spectrum with ``scale='oracle'``). ``scale='autorange'`` (integrator arrays) first
    ranges the device as it can (:func:`autorange`: a pass at the computable bound, rescaled on ADC
    clipping or an under-resolved read-out) and reprograms it at the scale found; 'bound' and
    'oracle' keep the device's programmed scale. ``samples``: ADC samples per chain (default up to
    20000). Returns (x, :class:`SolveInfo`) with ``standard_error`` (batch means),
    ``analog_time_s`` (ranging included), ``adc_clipped``, ``dac_clipped``, ``scale``.
    """
    _check_device(device, "device_solve")
    scale = check_scale(scale)
    mc = device.nominal
    b = mc.b if b is None else as_vector(b, mc.n)
    rates = _device_rates(device, scale, kappa_max)
    total, tb = SOLVE_POLICY.times(rates, mc.tau_s, time, burn_in)
    _check_user_step(dt, total - tb)
    seeds = (seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(seed)).spawn(2)
    ranging = {"method": scale, "rates": rates.source}
    if scale == "autorange" and not device.factored and np.any(b):
        ranging.update(range_device(device, b, evaluate="twin", rates=rates, time=time, burn_in=burn_in,
                                    noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seeds[1]))
        mc = device.nominal
    total, tb = SOLVE_POLICY.times(rates, mc.tau_s, time, burn_in)
    if dt is None and canonical_scheme(scheme) in ("exponential", "trapezoidal"):
        dt = SOLVE_POLICY.step(rates, mc.tau_s, total, tb, canonical_scheme(scheme))
    spu = device.spu(noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seeds[0])
    spu.set_rhs(b)
    x, se, res, tb, _ = _time_average(spu, rates, mc.tau_s, SOLVE_POLICY, total, tb,
                                      max_samples=None if samples is None else int(samples))
    ranging["v_unit_V"] = mc.v_unit_v
    transient = transient_bound(rates.slow, tb, mc.tau_s, b)
    budget = device_budget(device, x, b, se=se, lam_lower=rates.slow, lam_source=rates.source, transient=transient,
                           clipped=res.adc_clipped + spu.dac_clipped, saturated=res.saturated)
    info = SolveInfo(
        task="solve", standard_error=se, analog_time_s=ranging.get("ranging_time_s", 0.0) + tb + res.analog_time_s,
        burn_in_s=tb, window_s=res.analog_time_s, tau_s=mc.tau_s, dt_s=spu.dt, adc_samples=res.adc_samples, adc_clipped=res.adc_clipped,
        dac_clipped=spu.dac_clipped, x_before_adc=res.x_before_adc_mean.mean(axis=0), scale=ranging,
        transient_bias_bound=transient, error_bound=budget.relative, error_budget=budget.to_dict(),
        saturated=None if res.saturated_steps is None else len(res.saturated),
        saturated_opamps=None if res.saturated_steps is None else res.saturated,
    )
    warn_if_short(info, x, SOLVE_POLICY, rates, mc.tau_s, time, total)
    return x, info


def range_device(device: Device, b, *, evaluate: str = "steady", rates: Rates | None = None,
                 kappa_max: float = KAPPA_MAX_DEFAULT, time=None, burn_in=None, noise: bool = True,
                 scheme: str = "exponential", dt=None, chains: int = 1, seed=None) -> dict:
    """Range an integrator-array device for right-hand side b as the device can (:func:`autorange`:
    converter clipping and op-amps on their rails both count as out of range) and leave it
    programmed at the scale found. Each pass reads the device after the run's burn-in
    and a short window: ``evaluate='twin'`` simulates them (noise on), 'steady' takes the exact
    noise-free read-out through the converters (the time a pass would take is still counted).
    Returns the ranging record (passes, ranging_time_s, trace)."""
    device.require_programmed()
    rates = rates if rates is not None else Rates.from_bounds(device.spectrum_bounds(kappa_max))
    adc = device.build.adc
    seeds = seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(seed)

    def run_pass(v_unit):
        device.rescale(v_unit)
        tau = device.nominal.tau_s
        tb1, window = _range_window(SOLVE_POLICY, rates, tau, time, burn_in)
        if evaluate == "steady":  # a saturated op-amp is an out-of-range read-out, as a clip is
            x, rep = device.steady_x(b, warn=False)
            return x, rep["adc_clipped"] + rep["dac_clipped"] + len(rep.get("saturated", ())), tb1 + window
        if evaluate != "twin":
            raise SPUError(f"unknown evaluation {evaluate!r}: use 'steady' or 'twin'")
        spu = device.spu(noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seeds.spawn(1)[0])
        if dt is None and spu.scheme in ("exponential", "trapezoidal"):
            spu.set_dt(SOLVE_POLICY.step(rates, tau, tb1 + window, tb1, spu.scheme))
        spu.set_rhs(b)
        res = spu.run(tb1 + window, max_samples=1000)
        keep = res.t > tb1
        return res.x[keep].mean(axis=(0, 1)), spu.adc_clipped + spu.dac_clipped + len(res.saturated), res.analog_time_s

    with warnings.catch_warnings():  # a clip while ranging is the signal ranging acts on
        warnings.simplefilter("ignore", ClippingWarning)
        swing = min(mapping_swing(device), device.build.rail_v)  # the rails bound the swing too
        swing = swing if adc is None else min(swing, adc.full_scale_v)
        v_unit, info = autorange(run_pass, device.nominal.v_unit_v, swing, lsb_v=None if adc is None else adc.lsb)
        device.rescale(v_unit)
    return info


def mapping_swing(device: Device) -> float:
    """The v_swing the device was mapped with (the read-out range ranging aims at)."""
    return float(device.nominal.params.get("v_swing", V_SWING_DEFAULT))


def device_inv(device: Device, *, time=None, burn_in=None, chains: int = 8, seed=None,
               scheme: str = "exponential", dt: float | None = None, samples: int | None = None,
               scale: str = "autorange", kappa_max: float = KAPPA_MAX_DEFAULT):
    """A^-1 = 2 cov(x) / q from the device twin's stationary fluctuations (b = 0). The device
    must carry an injected noise (program it with mapping noise_psd, as :func:`inv` does); q is the
    design's diffusion (nominal circuit plus the chain's noise models: what the controller believes). Times from what the device can bound (or the
    oracle's spectrum with ``scale='oracle'``). Returns (A^-1, :class:`SolveInfo`)."""
    _check_device(device, "device_inv")
    scale = check_scale(scale)
    mc = device.nominal
    if device.factored:
        raise SPUError("device_inv needs an integrator array (its covariance read-out and nominal diffusion)")
    rates = _device_rates(device, scale, kappa_max)
    total, tb = INV_POLICY.times(rates, mc.tau_s, time, burn_in)
    _check_user_step(dt, total - tb)
    if dt is None and canonical_scheme(scheme) in ("exponential", "trapezoidal"):
        dt = INV_POLICY.step(rates, mc.tau_s, total, tb, canonical_scheme(scheme))
    q = float(np.mean(np.diag(device.design_x_diffusion())))  # the design's noise, op-amp noise included
    if not q > 0:
        raise SPUError("device_inv reads A^-1 from the stationary fluctuations, and this device has no noise: "
                       "program it with a noise_psd > 0 (as inv does) or at a temperature > 0 K")
    spu = device.spu(noise=True, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(np.zeros(mc.n))
    tb = _burn(spu, tb)
    res = spu.run(max(total - tb, spu.dt), max_samples=int(samples or MAX_STEPS_DEFAULT))
    add_work(covariance_cost_s(res.x.shape[0], chains, mc.n))
    cov, se = cov_and_se(res.x)
    adc = device.build.adc
    if adc is not None and adc.noise_lsb:  # the ADC's transition noise, independent per sample: its
        cov = cov - np.eye(mc.n) * (adc.noise_lsb * adc.lsb / mc.v_unit_v) ** 2  # spec variance is subtracted
    Ainv = 2.0 * cov / q
    Ainv = 0.5 * (Ainv + Ainv.T)
    budget = device_inv_budget(device, Ainv, 2.0 * se / q, lam_lower=rates.slow, lam_source=rates.source,
                               burn_in_tau=tb / mc.tau_s, clipped=res.adc_clipped)
    info = SolveInfo(
        task="inv", standard_error=2.0 * se / q, analog_time_s=tb + res.analog_time_s, chains=chains,
        adc_clipped=res.adc_clipped, diffusion_x_per_tau=q,
        scale={"method": scale, "rates": rates.source, "v_unit_V": mc.v_unit_v},
        error_bound=budget.relative, error_budget=budget.to_dict(),
    )
    warn_if_short(info, Ainv, INV_POLICY, rates, mc.tau_s, time, total)
    return Ainv, info
