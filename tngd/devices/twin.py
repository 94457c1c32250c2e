"""The dense circuit twin as a TNGD device: A = Ut^T Ut + lambda I mapped onto spucircuit's op-amp
integrator array and run on :class:`spucircuit.SPU` (small N only: O(N^2) components)."""
from __future__ import annotations

import math

import numpy as np

from spucircuit import SPU, integrator_array
from spucircuit.device.base import SCHEME_ALIASES, SCHEMES, canonical_scheme
from tngd.devices.ou import OUSystem, begin_run, make_system
from tngd.errors import ConfigError


class TwinSolver:
    """The circuit twin: A = Ut^T Ut + lambda I mapped by ``spucircuit.integrator_array`` and run on
    ``spucircuit.SPU`` from x0 (problem units) for t tau of the mapping's own tau.

    Each uploaded system is a new circuit (the resistor values change), so each phase programs a
    fresh SPU and sets its state to x0 (``SPU.reset``): the warm start is in problem units.
    ``kappa0`` > 0 is realised as an injected white current at every summing node of one-sided PSD
    4 kappa0 C^2 v_unit^2 / tau (A^2/Hz), which gives dx = ... + sqrt(2 kappa0) dW in tau units; the
    resistors' Johnson noise (temperature_k) comes on top when ``noise`` is True.

    scheme 'exact' uses ceil(t / max_step_tau) equal steps (exact in distribution for any step);
    'euler' uses steps of ``dt_tau`` (default: spucircuit's automatic step).
    Small entries of A that need more than ``r_max`` are pruned when ``prune`` (the default),
    and the mapping's error bound is kept in ``last_mapping``. N above ``max_n`` is refused.
    """

    name = "twin"

    def __init__(self, *, temperature_k: float = 300.0, noise: bool = True, scheme: str = "exponential",
                 max_step_tau: float = 5.0, dt_tau: float | None = None, prune: bool = True,
                 r_max: float = 1e9, max_n: int = 300, **mapping_kwargs):
        if SCHEME_ALIASES.get(scheme, scheme) not in SCHEMES:
            raise ConfigError(f"unknown twin scheme {scheme!r}: use 'exponential' (alias 'exact') or 'euler'")
        scheme = canonical_scheme(scheme)
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.max_step_tau = float(max_step_tau)
        self.dt_tau = dt_tau
        self.prune = bool(prune)
        self.mapping_kwargs = dict(mapping_kwargs, r_max=float(r_max))
        self.max_n = int(max_n)
        self.last_mapping = None
        self.analog_time_s = 0.0  # total simulated analog time, s

    def prepare(self, factor, damping, rhs) -> OUSystem:
        """The system (no decomposition); ConfigError when N exceeds ``max_n``."""
        n = np.shape(factor)[-1]
        if n > self.max_n:
            raise ConfigError(f"the twin maps the dense {n} x {n} matrix onto ~{n * n} resistors; N = {n} "
                              f"exceeds max_n = {self.max_n} (raise max_n if you mean it, or use the exact solver)")
        return make_system(factor, damping, rhs, eig=False)

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        """Map A, program a fresh SPU at x0 and run it for t tau (O(N^2) per step); one read-out."""
        t, kappa0, x0 = begin_run(t, kappa0, x0, "twin")
        if t == 0:
            return x0.copy()
        U, lam, g = sys.factor, float(sys.damping), sys.rhs
        A = U.T @ U
        A[np.diag_indices_from(A)] += lam
        A = 0.5 * (A + A.T)
        # the device's bound: lambda_min >= lambda (F is PSD), so kappa_max = max_i A_ii / lambda
        kappa = max(1.0, float(np.max(np.diag(A))) / lam)
        mc = integrator_array(A, g, prune=self.prune, kappa_max=kappa, **self.mapping_kwargs)
        if kappa0 > 0:
            psd = 4.0 * kappa0 * mc.c_f ** 2 * mc.v_unit_v ** 2 / mc.tau_s
            mc = integrator_array(A, g, prune=self.prune, noise_psd=psd, kappa_max=kappa, **self.mapping_kwargs)
        self.last_mapping = mc
        t_s = t * mc.tau_s
        if self.scheme == "exponential":
            n = max(1, math.ceil(t / self.max_step_tau))
            dt = t_s / n
        else:
            dt = None if self.dt_tau is None else self.dt_tau * mc.tau_s
        spu = SPU(mc, temperature_k=self.temperature_k, noise=self.noise or kappa0 > 0,
                     scheme=self.scheme, dt=dt, chains=1, seed=int(rng.integers(2**63)))
        spu.reset(x0)
        res = spu.run(t_s, max_samples=1)
        self.analog_time_s += res.analog_time_s
        return spu.read()[0]
