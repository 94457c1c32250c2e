"""The device life cycle every architecture shares: program, set inputs, run, read, warm start.

An :class:`AnalogDevice` holds the state of ``chains`` independent copies of one programmed circuit
(capacitor voltages, inductor currents) and keeps it between runs and across reprogramming, as a
device keeps its charge (TNGD's warm start). The life cycle, identical for every architecture:

* ``program(circuit)``   load component values (the state persists where the shape allows);
* ``set_rhs(b)``         write a right-hand side through the input DACs (``dac``, if any);
* ``reset(x0)``          write the state (problem units), or the circuit's initial conditions;
* ``run(time)``          simulate ``time`` seconds (or '50tau') -> :class:`RunResult`;
* ``read()``             the current read-out x (problem units) through the ADC (``adc``, if any).

Subclasses supply the architecture: how a circuit compiles, how the state advances (``_advance``,
a numba kernel, no Python per step) and how states map to x. Every random draw of a run comes from
the next child of the device seed, or from an explicit ``seed``: same seed, same bits. Progress is a
meter injected into ``run`` (:mod:`spucircuit._util.progress`); it never changes the bits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from spucircuit._util.progress import make_meter
from spucircuit._util.quantities import parse_time
from spucircuit._util.seeds import seed_sequence
from spucircuit.circuit.noise import as_kelvin
from spucircuit.device.converters import Converter, convert
from spucircuit.errors import StepError

SCHEMES = ("exponential", "euler", "trapezoidal")
SCHEME_ALIASES = {"exact": "exponential"}  # the former name of the exponential scheme


def canonical_scheme(scheme: str) -> str:
    """'exponential' (exact in distribution for a linear circuit: 'exact' is accepted), 'euler' or
    'trapezoidal' (exact stationary mean and covariance at any step, one sparse LU solve per step:
    :mod:`spucircuit.integrate.trapezoidal`)."""
    s = SCHEME_ALIASES.get(scheme, scheme) if isinstance(scheme, str) else scheme
    if s not in SCHEMES:
        raise StepError(f"unknown scheme {scheme!r}: use 'exponential' (alias 'exact'), 'euler' or 'trapezoidal'")
    return s


MAX_RUN_S = 600.0  # default limit on one run's estimated computing time, s (device.max_run_s, --max-run-time)
# The work model: what a command is estimated to compute, from what it is about to do. Fitted on
# this project's 2-core machine, one BLAS thread (benchmarks/estimates.py measures wall / estimate
# for every command that prints one; calibrated 2026-12-02).
STEP_COST_S = (1.0e-7, 3.0e-8, 2.5e-10)  # a + b n + c n^2 seconds per chain-step (dense n x n step: n^2)
COV_COST_S = 1.0e-9  # x n^2 per saved sample and chain: the covariance read-out of inv
SETUP_COST_S = (0.3, 2.0e-9)  # per command (loading the compiled kernels), + x n^3 per device (eigh)

MAX_MEMORY_BYTES = 4e9  # default limit on one device's state and sample arrays, bytes (device.max_memory_bytes, --max-memory)
WORK_ARRAYS = 8  # state, running sum, noise and scratch arrays a run keeps besides its samples, in chains x n units

LEDGER = {"compute_s": 0.0, "runs": 0}  # estimated computing since the last reset_ledger()
ON_ESTIMATE = None  # callable(text): the commands print the estimate of a long run before it starts
ANNOUNCE_S = 2.0  # runs estimated at least this long are announced through ON_ESTIMATE


def reset_ledger() -> None:
    """Start counting estimated computing afresh, with the per-command setup (a command does this
    when it starts)."""
    LEDGER.update(compute_s=SETUP_COST_S[0], runs=0)


def add_work(seconds: float) -> None:
    """Count ``seconds`` of estimated computing in the ledger."""
    LEDGER["compute_s"] += float(seconds)


def memory_bytes(chains: int, n_state: int, n_saved: int) -> float:
    """Estimated memory of a run (bytes): float64 (chains x n_state) arrays, n_saved samples plus
    the WORK_ARRAYS the kernels keep."""
    return 8.0 * float(chains) * float(n_state) * (int(n_saved) + WORK_ARRAYS)


def _count(v, name: str) -> int:
    """An integer >= 1 (an integral float is fine), else StepError naming it."""
    try:
        ok = not isinstance(v, bool) and float(v) == int(v) and int(v) >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise StepError(f"{name} must be an integer >= 1, got {v!r}")
    return int(v)


def run_cost_s(n_steps: int, chains: int, n: int) -> float:
    """Estimated computing time of a run (s): steps x chains x (a + b n + c n^2)."""
    a, b, c = STEP_COST_S
    return float(n_steps) * float(chains) * (a + b * n + c * float(n) ** 2)


def setup_cost_s(n: int) -> float:
    """Estimated computing of programming one device of n states (its eigendecomposition)."""
    return SETUP_COST_S[1] * float(n) ** 3


MATVEC_COST_S = 2.0e-9  # s per non-zero of a sparse product (a Lanczos probe's step)
FACTOR_COST_S = 1.0e-9  # s per flop (sum over columns of L of count^2) of a sparse factorisation


def probe_cost_s(matvecs: int, nnz: int, factor_flops: float) -> float:
    """Estimated computing of a spectral probe (:mod:`spucircuit.numerics.spectral`): its Lanczos
    products with A and its certificate's factorisations."""
    return MATVEC_COST_S * float(matvecs) * float(nnz) + FACTOR_COST_S * float(factor_flops)


def covariance_cost_s(n_saved: int, chains: int, n: int) -> float:
    """Estimated computing of the covariance of n_saved x chains samples of n values."""
    return COV_COST_S * float(n_saved) * float(chains) * float(n) ** 2


@dataclass
class RunResult:
    """What one run of any device returns (SI units).

    t            (m,) sample times since the start of this run, s
    states       (m, chains, n) saved states (V for capacitors, A for inductors)
    mean_states  (chains, n) time average over every step of the run
    analog_time_s, n_steps, dt : simulated analog time (s), steps, step (s)
    x, mean_x    read-out in problem units (None for a raw netlist): the ADC read-out of every saved
                 sample and their mean when the device has an ADC, else readout(states)
    x_before_adc_mean : readout(mean_states), the exact time average before any ADC
    adc_samples, adc_clipped_low, adc_clipped_high : converter counts, never hidden
    saturated_steps : {op-amp: steps it sat on a rail} with rails (``saturated``: those that did)
    """

    t: np.ndarray
    states: np.ndarray
    mean_states: np.ndarray
    analog_time_s: float
    n_steps: int
    dt: float
    readout: Callable | None = field(default=None, repr=False)
    converted_x: np.ndarray | None = field(default=None, repr=False)
    adc_samples: int = 0
    adc_clipped_low: int = 0
    adc_clipped_high: int = 0
    saturated_steps: dict | None = None  # {op-amp: steps spent on a rail, summed over chains} (rails only)
    mean_readout: np.ndarray | None = field(default=None, repr=False)  # exact mean read-out when not readout(mean)
    _x: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def saturated(self) -> list:
        """Names of the op-amps that sat on a rail during the run (empty without rails)."""
        return [nm for nm, k in (self.saturated_steps or {}).items() if k]

    @property
    def x(self) -> np.ndarray | None:
        if self.converted_x is not None:
            return self.converted_x
        if self.readout is None:
            return None
        if self._x is None:
            self._x = self.readout(self.states)
        return self._x

    @property
    def mean_x(self) -> np.ndarray | None:
        if self.converted_x is not None:
            return self.converted_x.mean(axis=0)
        return self.x_before_adc_mean

    @property
    def x_before_adc_mean(self) -> np.ndarray | None:
        if self.mean_readout is not None:
            return self.mean_readout
        return None if self.readout is None else self.readout(self.mean_states)

    @property
    def adc_clipped(self) -> int:
        return self.adc_clipped_low + self.adc_clipped_high


class AnalogDevice:
    """Base of every device twin; see the module docstring for the life cycle.

    Args:
        temperature_k: Johnson-noise temperature, K.
        noise: include noise (Johnson and explicit sources); False gives the deterministic circuit.
        scheme: 'exponential' (alias 'exact'), 'euler' or 'trapezoidal'.
        dt: time step, s (None: the architecture's automatic step).
        chains: independent copies simulated at once.
        seed: int, SeedSequence or None; every run draws from its next child.
        dac, adc: input / read-out converters (:class:`~spucircuit.device.converters.Converter`)
            or None (ideal). Clipping is counted in ``dac_clipped`` / ``adc_clipped`` and warned.
    """

    def __init__(self, *, temperature_k: float, noise: bool, scheme: str, dt, chains: int, seed,
                 dac: Converter | None = None, adc: Converter | None = None):
        if isinstance(chains, bool) or int(chains) != chains or int(chains) < 1:
            raise StepError(f"chains must be an integer >= 1, got {chains!r}")
        self.temperature_k = as_kelvin(temperature_k)
        self.noise = bool(noise)
        self.scheme = canonical_scheme(scheme)
        self.chains = int(chains)
        self._seedseq = seed_sequence(seed)
        self.dac, self.adc = dac, adc
        self.dac_clipped = 0
        self.adc_clipped = 0
        self.time_s = 0.0
        self.max_run_s = MAX_RUN_S  # refuse a run estimated to compute longer than this (raise it to allow)
        self.max_memory_bytes = MAX_MEMORY_BYTES  # refuse a state or run estimated to need more memory than this
        self.state = None

    def check_memory(self, n_state: int, n_saved: int = 0, what: str = "the chains' states") -> None:
        """Refuse, before allocating, ``chains`` x ``n_state`` states with ``n_saved`` samples whose
        estimate (:func:`memory_bytes`) is above ``max_memory_bytes``; the error shows the estimate."""
        est = memory_bytes(self.chains, n_state, n_saved)
        if est > self.max_memory_bytes:
            raise StepError(f"{what} need about {est / 1e9:.3g} GB ({self.chains} chains x {n_state} states x "
                            f"{int(n_saved) + WORK_ARRAYS} arrays of 8 bytes), above the limit of "
                            f"{self.max_memory_bytes / 1e9:.3g} GB: use fewer chains or samples (--chains, "
                            "--max-samples), or raise the limit (--max-memory, or device.max_memory_bytes)")

    # ---------------------------------------------------------------- architecture
    @property
    def n(self) -> int:
        """Number of read-out variables (problem size)."""
        raise NotImplementedError  # pragma: no cover - interface

    @property
    def tau_s(self) -> float | None:
        """The circuit's time unit (s), for times given as '50tau'; None if it has none."""
        return None

    def _step_plan(self, T: float, dt):
        """(n_steps, dt) for a run of T seconds with step ``dt`` (None: the device's own)."""
        raise NotImplementedError  # pragma: no cover - interface

    def _advance(self, X, n_steps: int, dt: float, save_every: int, seeds, meter):
        """Advance states X (chains, n) by n_steps: (final X, samples (m, chains, n), sum of X)."""
        raise NotImplementedError  # pragma: no cover - interface

    def _readout_fn(self):
        """states (..., n) -> x (..., n) in problem units, or None (raw netlist)."""
        return None

    def _input_volts(self, b) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - interface

    def _write_inputs(self, volts) -> None:
        raise NotImplementedError  # pragma: no cover - interface

    def _states_from_x(self, X) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - interface

    def _default_max_samples(self) -> int:
        return 20_000

    def _run_cost_s(self, n_steps: int) -> float:
        """Estimated computing of a run of ``n_steps`` (s): dense work per chain-step by default."""
        return run_cost_s(n_steps, self.chains, self.n)

    # ------------------------------------------------------------------ life cycle
    def set_rhs(self, b) -> None:
        """Program right-hand side b (problem units) through the input DACs."""
        v = self._input_volts(b)
        if self.dac is not None:
            v = convert(self.dac, v, self, "dac", "input voltages", stacklevel=3)
        self._write_inputs(v)

    def reset(self, x0=None) -> None:
        """Every chain's state: the circuit's initial conditions, or x0 (problem units; (n,) or
        (chains, n))."""
        raise NotImplementedError  # pragma: no cover - interface

    def run(self, time, *, dt=None, save_every: int | None = None, max_samples: int | None = None,
            seed=None, progress=False, adc: bool = True) -> RunResult:
        """Run for analog ``time`` (s, or a string like '50tau' / '10us'); the state persists.

        ``dt`` overrides the device's step for this run; steps = round(time / dt) (at least 1), and
        ``analog_time_s`` reports the time actually simulated. A sample is kept every ``save_every``
        steps (default: at most ``max_samples`` per run). Noise comes from the next child of the
        device seed, or from ``seed``. ``progress``: True or a meter. With an ADC (and ``adc``), the
        read-out of every sample passes it (counted, warned on clipping).
        """
        T = parse_time(time, self.tau_s)
        n_steps, dt = self._step_plan(T, dt)
        est = self._run_cost_s(n_steps)
        if est > self.max_run_s:
            raise StepError(f"this run needs {n_steps:.3g} steps of {dt:.3g} s x {self.chains} chains, about "
                            f"{est:.3g} s of computing, above the limit of {self.max_run_s:.3g} s: shorten the time, "
                            "take a larger step, or raise the limit (--max-run-time, or device.max_run_s)")
        add_work(est)
        LEDGER["runs"] += 1
        if ON_ESTIMATE is not None and est >= ANNOUNCE_S:
            ON_ESTIMATE(f"estimated {est:.3g} s of computing ({n_steps:.3g} steps of {dt:.3g} s x {self.chains} "
                        f"chains, n = {self.n})")
        if max_samples is None:
            max_samples = self._default_max_samples()
        max_samples = _count(max_samples, "max_samples")
        save_every = _count(max(1, -(-n_steps // max_samples)) if save_every is None else save_every, "save_every")
        self.check_memory(self.state.shape[1] if self.state is not None else self.n, n_steps // save_every,
                          f"this run's {n_steps // save_every} samples")
        seeds = seed if seed is not None else self._seedseq.spawn(1)[0]
        meter = make_meter(progress)
        X, samples, xsum = self._advance(self.state, n_steps, dt, save_every, seeds, meter)
        self.state = X
        self.time_s += n_steps * dt
        res = RunResult(t=dt * save_every * (np.arange(samples.shape[0]) + 1), states=samples,
                        mean_states=xsum / n_steps, analog_time_s=n_steps * dt, n_steps=n_steps, dt=dt,
                        readout=self._readout_fn())
        self._annotate(res)
        if adc and self.adc is not None and res.readout is not None:
            rng = None
            if self.adc.noise_lsb:  # the ADC's transition noise: a child of this run's seed, drawn after the run's
                ss = seeds if isinstance(seeds, np.random.SeedSequence) else np.random.SeedSequence(seeds)
                rng = np.random.default_rng(ss.spawn(1)[0])
            xq, lo, hi = self._convert_readout(res.x, "read-out values", rng=rng)
            res.converted_x = xq
            res.adc_samples, res.adc_clipped_low, res.adc_clipped_high = int(xq.size), lo, hi
        return res

    def _annotate(self, res: RunResult) -> None:
        """Add what an architecture knows beyond the states (rails: saturation, the exact mean)."""

    def read(self) -> np.ndarray:
        """Current read-out of every chain, (chains, n): x through the ADC (problem units), or the
        raw states of a circuit without a read-out map."""
        ro = self._readout_fn()
        if ro is None:
            return self.state.copy()
        x = ro(self.state)
        if self.adc is not None:
            x = self._convert_readout(x, "read-out values")[0]
        return x

    def _convert_readout(self, x, what, rng=None):
        """x (problem units) through the ADC, which sees volts x v_unit. Returns (x', low, high)."""
        vu = self.volts_per_unit
        before = self.adc_clipped
        if rng is None and self.adc.noise_lsb:  # a single read: its own draw from the device seed
            rng = np.random.default_rng(self._seedseq.spawn(1)[0])
        q, (lo, hi) = convert(self.adc, np.asarray(x) * vu, self, "adc", what, stacklevel=4, counts=True, rng=rng)
        assert self.adc_clipped - before == lo + hi
        return q / vu, lo, hi

    @property
    def volts_per_unit(self) -> float:
        """V per problem unit at the read-out (v_unit)."""
        raise NotImplementedError  # pragma: no cover - interface
