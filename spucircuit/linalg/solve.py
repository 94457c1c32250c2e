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

from dataclasses import dataclass, field, fields

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.circuit.noise import default_injected_psd
from spucircuit.constants import R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.device.base import canonical_scheme
from spucircuit.device.spu import SPU
from spucircuit.errors import ParseError, SPUError
from spucircuit.imperfections.instance import Device, nominal_diffusion, x_diffusion
from spucircuit.integrate.discretize import symmetric_eigen
from spucircuit.numerics.matrices import as_vector, check_spd
from spucircuit.numerics.stats import cov_and_se, mean_and_se

MAX_STEPS_DEFAULT = 200_000


@dataclass(frozen=True)
class RunPolicy:
    """How long a linear-algebra run lasts, in units of the slowest relaxation time 1/lambda_min
    (tau units of the mapping), and its step.

    total_slow : default analog time (220 for solve, 2000 for inv)
    burn_fraction, burn_slow : default burn-in min(burn_fraction x total, burn_slow / lambda_min)
    batch_slow : batch length of the batch-means standard error (5 relaxation times)
    task : 'solve' (step 0.5 / lambda_max) or 'inv' (step min(0.2 / lambda_min, run / 1000)),
           never more than ``max_steps`` steps (exponential scheme: exact at any step)
    """

    total_slow: float
    burn_fraction: float
    burn_slow: float
    task: str
    batch_slow: float = 5.0
    max_steps: int = MAX_STEPS_DEFAULT

    def times(self, lam, tau: float, time=None, burn_in=None):
        """(total, burn-in) in seconds for ascending eigenvalues ``lam`` (1/tau) and time unit tau."""
        total = parse_time(time, tau) if time is not None else self.total_slow / lam[0] * tau
        if burn_in is None:
            return total, min(self.burn_fraction * total, self.burn_slow / lam[0] * tau)
        tb = 0.0 if (isinstance(burn_in, (int, float)) and burn_in == 0) else parse_time(burn_in, tau)
        if tb >= total:
            raise ParseError(f"burn-in ({tb:.4g} s) must be shorter than the analog time ({total:.4g} s)")
        return total, tb

    def step(self, lam, tau: float, total: float, tb: float) -> float:
        """The automatic step of the exponential scheme (s)."""
        if self.task == "solve":
            return max(0.5 / lam[-1] * tau, total / self.max_steps)
        return max(min(0.2 / lam[0] * tau, (total - tb) / 1000), total / self.max_steps)

    def batch_steps(self, lam, tau: float, spacing: float) -> int:
        """Samples per batch of the batch-means standard error."""
        return int(np.ceil(self.batch_slow / lam[0] * tau / spacing))


SOLVE_POLICY = RunPolicy(total_slow=220.0, burn_fraction=0.5, burn_slow=20.0, task="solve")
INV_POLICY = RunPolicy(total_slow=2000.0, burn_fraction=0.1, burn_slow=10.0, task="inv")


@dataclass
class SolveInfo:
    """What a solve or an inverse on the twin reports besides its answer (SI units).

    Fields that do not apply to a run are None. ``info["key"]``, ``keys()`` and ``items()`` work
    as on the dict this replaces (``return_info=True``); ``items()`` lists the fields that apply.
    """

    task: str  # 'solve' or 'inv'
    standard_error: np.ndarray
    analog_time_s: float
    burn_in_s: float | None = None
    tau_s: float | None = None
    dt_s: float | None = None
    steps: int | None = None
    scheme: str | None = None
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
    # device converters
    adc_samples: int | None = None
    adc_clipped: int | None = None
    dac_clipped: int | None = None
    x_before_adc: np.ndarray | None = None
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


def _program(mc, policy: RunPolicy, *, scheme: str, dt, time, burn_in, **spu_kw):
    """SPU for ``mc``, the ascending eigenvalues of the realised A (dimensionless) and the run's
    (total, burn-in) by ``policy``; the exponential scheme gets the policy's step unless ``dt``.

    The eigenvalues come from the drift's eigendecomposition when it is symmetric (ideal arrays;
    the same eigh then serves the exact scheme's set-up, so the spectrum costs nothing extra), else
    from eigvalsh(mc.A). The SPU is made with a provisional step while the step is still to be chosen.
    """
    provisional = dt if dt is not None else (None if scheme == "euler" else 1.0)
    spu = SPU(mc, scheme=scheme, dt=provisional, **spu_kw)
    sym = symmetric_eigen(spu.ss)
    lam = np.sort(-sym[0] * mc.tau_s) if sym is not None else np.linalg.eigvalsh(mc.A)
    total, tb = policy.times(lam, mc.tau_s, time, burn_in)
    if dt is None and spu.scheme == "exponential":
        spu.set_dt(policy.step(lam, mc.tau_s, total, tb))
    return spu, lam, total, tb


def _burn(spu, tb: float) -> float:
    """Run the burn-in (no read-out conversion); returns the burn-in actually simulated (s)."""
    return spu.run(tb, max_samples=1, adc=False).analog_time_s if tb > 0 else 0.0


def _time_average(spu, lam, tau, policy, total, tb, *, max_samples=None, progress=False):
    """Burn in, run, and the batch-means mean of the read-out: (x, se, run result, burn-in, batch)."""
    tb = _burn(spu, tb)
    res = spu.run(max(total - tb, spu.dt or 0.0), max_samples=max_samples, progress=progress)
    spacing = res.t[0] if len(res.t) else res.dt
    batch = policy.batch_steps(lam, tau, spacing)
    x, se = mean_and_se(res.x, min_batch=batch)
    return x, se, res, tb, batch


def solve(A, b, *, time=None, burn_in=None, chains: int = 1, seed=None, scheme: str = "exponential",
          dt: float | None = None, temperature_k: float = T_ROOM, noise: bool = True, x0=None,
          prune: bool = False, return_info: bool = False, progress=False, **mapping_kwargs):
    """x ~ A^-1 b as the time average of the twin's node voltages after burn-in.

    Args:
        A, b: SPD matrix (n, n) and right-hand side (n,).
        time: total analog time (s or 'Ntau'); default 220 / lambda_min(A) tau.
        burn_in: discarded initial time; default min(time / 2, 20 / lambda_min tau).
        chains, seed, scheme, dt, temperature_k, noise, progress: as :class:`SPU`.
        x0: initial x; prune: leave unrealisable small entries open (bound in ``info.pruning``).
        mapping_kwargs: r_min, r_max, c, v_swing, ... of the mapping.

    Returns:
        x, or (x, :class:`SolveInfo`) with ``standard_error`` (batch means over time and chains,
        batches at least 5 / lambda_min tau long; several chains or a long window are needed for
        enough batches, ``se_batches``), ``analog_time_s``, ``burn_in_s``, ``tau_s``,
        ``components``, ``transient_bias_bound``.
    """
    A = check_spd(A)
    b = as_vector(b, A.shape[0])
    mc = integrator_array(A, b, prune=prune, x0=x0, check=False, **mapping_kwargs)
    spu, lam, total, tb = _program(mc, SOLVE_POLICY, scheme=scheme, dt=dt, time=time, burn_in=burn_in,
                                   temperature_k=temperature_k, noise=noise, chains=chains, seed=seed)
    x, se, res, tb, batch = _time_average(spu, lam, mc.tau_s, SOLVE_POLICY, total, tb, progress=progress)
    if not return_info:
        return x
    xs = np.linalg.solve(mc.A, b)
    x0v = np.zeros_like(b) if x0 is None else np.asarray(x0, float)
    info = SolveInfo(
        task="solve", standard_error=se, analog_time_s=tb + res.analog_time_s, burn_in_s=tb, tau_s=mc.tau_s,
        dt_s=spu.dt, steps=int(round(tb / spu.dt)) + res.n_steps, se_reliable=bool(np.all(np.isfinite(se))),
        scheme=spu.scheme, components=mc.component_counts(),
        transient_bias_bound=float(np.exp(-lam[0] * tb / mc.tau_s) * np.linalg.norm(x0v - xs)),
        pruning=mc.prune,
        se_batches=int(min(res.x.shape[0] // max(1, batch), max(2, 32 // chains) if chains < 32 else 1) * chains),
        mapped=mc,
    )
    return x, info


def inv(A, *, time=None, burn_in=None, chains: int = 8, seed=None, scheme: str = "exponential",
        dt: float | None = None, temperature_k: float = T_ROOM, noise_psd: float | None = None,
        prune: bool = False, return_info: bool = False, progress=False, **mapping_kwargs):
    """A^-1 from the stationary covariance of the twin with b = 0.

    An equal white noise current of PSD ``noise_psd`` (A^2/Hz) is injected at every summing node;
    by default 1e4 x the largest Johnson PSD landing on a summing node
    (:func:`~spucircuit.circuit.noise.default_injected_psd`), so that the Johnson noise (not equal
    across rows, and correlated through the inverting buffers) biases the result by about 1e-4
    only. The covariance of x is rescaled by the diffusion the twin actually has:
    A^-1 = 2 cov(x) / q, q = mean diagonal of the x-unit diffusion per tau.

    time : total analog time per chain; default 2000 / lambda_min(A) tau (relative SE ~1 % with
    8 chains). Returns A^-1, or (A^-1, :class:`SolveInfo`).
    """
    A = check_spd(A)
    r_min = mapping_kwargs.get("r_min", R_MIN_DEFAULT)
    r_max = mapping_kwargs.get("r_max", R_MAX_DEFAULT)
    if noise_psd is None:
        noise_psd = default_injected_psd(A, r_min, r_max, temperature_k)
    mc = integrator_array(A, None, prune=prune, noise_psd=noise_psd, check=False, **mapping_kwargs)
    spu, lam, total, tb = _program(mc, INV_POLICY, scheme=scheme, dt=dt, time=time, burn_in=burn_in,
                                   temperature_k=temperature_k, noise=True, chains=chains, seed=seed)
    tb = _burn(spu, tb)
    res = spu.run(max(total - tb, spu.dt), max_samples=MAX_STEPS_DEFAULT, progress=progress)
    cov_x, se_x = cov_and_se(res.x)
    Qx = x_diffusion(spu.ss, spu.readout_map[0], mc)
    q = float(np.mean(np.diag(Qx)))
    Ainv = 2.0 * cov_x / q
    Ainv = 0.5 * (Ainv + Ainv.T)
    if not return_info:
        return Ainv
    off = Qx - np.diag(np.diag(Qx))
    info = SolveInfo(
        task="inv", standard_error=2.0 * se_x / q, analog_time_s=tb + res.analog_time_s, burn_in_s=tb,
        tau_s=mc.tau_s, dt_s=spu.dt, chains=chains, noise_psd_A2_per_Hz=noise_psd, diffusion_x_per_tau=q,
        noise_anisotropy=float((np.ptp(np.diag(Qx)) + 2 * np.abs(off).sum(axis=1).max()) / q),
        components=mc.component_counts(), mapped=mc,
    )
    return Ainv, info


def device_solve(device: Device, b=None, *, time=None, burn_in=None, chains: int = 1, seed=None,
                 noise: bool = True, samples: int | None = None, scheme: str = "exponential",
                 dt: float | None = None):
    """Solve on the device twin: time average of the ADC read-out after burn-in.

    Times as :func:`solve` (:data:`SOLVE_POLICY`; lambda of the *target* matrix). ``samples``: ADC
    samples per chain (default up to 20000). Returns (x, :class:`SolveInfo`) with
    ``standard_error`` (batch means), ``analog_time_s``, ``adc_clipped``, ``dac_clipped``.
    """
    device.require_programmed()
    mc = device.nominal
    b = mc.b if b is None else as_vector(b, mc.n)
    lam = device.nominal_eigenvalues()
    total, tb = SOLVE_POLICY.times(lam, mc.tau_s, time, burn_in)
    if dt is None and canonical_scheme(scheme) == "exponential":
        dt = SOLVE_POLICY.step(lam, mc.tau_s, total, tb)
    spu = device.spu(noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(b)
    x, se, res, tb, _ = _time_average(spu, lam, mc.tau_s, SOLVE_POLICY, total, tb,
                                      max_samples=None if samples is None else int(samples))
    return x, SolveInfo(
        task="solve", standard_error=se, analog_time_s=tb + res.analog_time_s, burn_in_s=tb, tau_s=mc.tau_s,
        dt_s=spu.dt, adc_samples=res.adc_samples, adc_clipped=res.adc_clipped, dac_clipped=spu.dac_clipped,
        x_before_adc=res.x_before_adc_mean.mean(axis=0),
    )


def device_inv(device: Device, *, time=None, burn_in=None, chains: int = 8, seed=None,
               scheme: str = "exponential", dt: float | None = None, samples: int | None = None):
    """A^-1 = 2 cov(x) / q from the device twin's stationary fluctuations (b = 0). The device
    must carry an injected noise (program it with mapping noise_psd, as :func:`inv` does); q is the
    nominal diffusion (what the controller believes). Returns (A^-1, :class:`SolveInfo`)."""
    device.require_programmed()
    mc = device.nominal
    if device.factored:
        raise SPUError("device_inv needs an integrator array (its covariance read-out and nominal diffusion)")
    lam = device.nominal_eigenvalues()
    total, tb = INV_POLICY.times(lam, mc.tau_s, time, burn_in)
    if dt is None and canonical_scheme(scheme) == "exponential":
        dt = INV_POLICY.step(lam, mc.tau_s, total, tb)
    spu = device.spu(noise=True, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(np.zeros(mc.n))
    tb = _burn(spu, tb)
    res = spu.run(max(total - tb, spu.dt), max_samples=int(samples or MAX_STEPS_DEFAULT))
    cov, se = cov_and_se(res.x)
    q = nominal_diffusion(mc, device.build.temperature_k)
    Ainv = 2.0 * cov / q
    return 0.5 * (Ainv + Ainv.T), SolveInfo(
        task="inv", standard_error=2.0 * se / q, analog_time_s=tb + res.analog_time_s, chains=chains,
        adc_clipped=res.adc_clipped, diffusion_x_per_tau=q,
    )
