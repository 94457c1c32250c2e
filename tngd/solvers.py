"""Thermodynamic linear solvers (TLS) for TNGD: the device's OU dynamics, pluggable.

Every solver propagates, for an analog time t in units of tau (the device's time constant),

    dx = -(A x - g) dt + sqrt(2 kappa0) dW,      A = F + lambda I,  F = Ut^T Ut  (GGN factor, m x N)

from a given x0 and returns one sample x(t) (the paper reads a single sample). Its mean relaxes as
expm(-A t)(x0 - A^-1 g) + A^-1 g and its stationary law is N(A^-1 g, kappa0 A^-1).

Interface (duck-typed): ``prepare(factor, damping, rhs) -> OUSystem`` once per uploaded system,
``propagate(system, x0, t, kappa0, rng) -> x``. Implementations:

* :class:`ExactOUSolver` - the ideal reference: exact propagation (mean and noise) using the
  low-rank structure: eigendecomposition of the m x m Gram matrix Ut Ut^T = R^T J J^T R / b, so
  phi(A) v = phi(lambda) v + Ut^T W diag((phi(lambda + s) - phi(lambda)) / s) W^T Ut v; no N x N
  matrix (O(m^2 N + m^3) per system, O(m N) per application). Only when m > N it decomposes the
  smaller N x N matrix F instead.
* :class:`EulerOUSolver` - Euler-Maruyama with step dt (the paper simulated with dt = 0.1 tau).
* :class:`TwinSolver` - the circuit twin: maps the dense A onto spucircuit's op-amp integrator
  array and runs :class:`spucircuit.SPU` (small N only: O(N^2) components).
"""
from __future__ import annotations

import importlib
import math
from typing import NamedTuple

import numpy as np

from .errors import ConfigError


class OUSystem(NamedTuple):
    """One uploaded linear system: A = factor^T factor + damping I, right-hand side rhs."""

    factor: np.ndarray  # Ut, (m, N)
    damping: np.ndarray  # lambda, 0-d
    rhs: np.ndarray  # g, (N,)
    eigvals: np.ndarray  # s of Ut Ut^T (m <= N) or of F = Ut^T Ut (m > N); (0,) if not needed
    eigvecs: np.ndarray  # their eigenvectors W, (m, m) or (N, N); (0, 0) if not needed


def empty_system(n: int) -> OUSystem:
    return OUSystem(np.zeros((0, n)), np.asarray(0.0), np.zeros(n), np.zeros(0), np.zeros((0, 0)))


def _check(t, kappa0):
    t = float(t)
    if not (t >= 0) or math.isnan(t):
        raise ConfigError(f"analog time t must be >= 0 (tau units), got {t!r}")
    kappa0 = float(kappa0)
    if not (np.isfinite(kappa0) and kappa0 >= 0):
        raise ConfigError(f"noise level kappa0 must be finite and >= 0, got {kappa0!r}")
    return t, kappa0


def _make_system(factor, damping, rhs, eig: bool) -> OUSystem:
    U = np.asarray(factor, dtype=float)
    lam = float(damping)
    if not (np.isfinite(lam) and lam > 0):
        raise ConfigError(f"damping lambda must be finite and > 0, got {damping!r}")
    g = np.asarray(rhs, dtype=float)
    if U.ndim != 2 or g.shape != (U.shape[1],):
        raise ConfigError(f"factor (m, N) and rhs (N,) do not match: {U.shape}, {g.shape}")
    if eig and U.shape[0] > U.shape[1]:  # m > N: the N x N GGN is the smaller eigenproblem
        s, W = np.linalg.eigh(U.T @ U)
    elif eig:
        s, W = np.linalg.eigh(U @ U.T)
    else:
        s, W = np.zeros(0), np.zeros((0, 0))
    return OUSystem(U, np.asarray(lam), g, s, W)


class ExactOUSolver:
    """Ideal device: exact in distribution for any t (t = inf gives the stationary law)."""

    name = "exact"

    def prepare(self, factor, damping, rhs) -> OUSystem:
        return _make_system(factor, damping, rhs, eig=True)

    @staticmethod
    def _apply(sys: OUSystem, f, v):
        """f(A) v for a scalar function f of the eigenvalues of A (vectorised over v's last axis)."""
        lam, s, W, U = float(sys.damping), sys.eigvals, sys.eigvecs, sys.factor
        out = f(np.asarray(lam)) * v
        if U.shape[0] > U.shape[1]:  # dense mode (m > N): W holds the eigenvectors of F itself
            s = np.maximum(s, 0.0)
            return W @ (f(lam + s) * (W.T @ v))
        if s.size:
            tol = max(s.max(initial=0.0), lam) * s.size * np.finfo(float).eps
            rng_modes = s > tol  # numerically zero Gram eigenvalues leave A = lambda there
            ss = np.where(rng_modes, s, 1.0)
            psi = np.where(rng_modes, (f(lam + ss) - f(np.asarray(lam))) / ss, 0.0)
            out = out + U.T @ (W @ (psi * (W.T @ (U @ v))))
        return out

    def mean(self, sys: OUSystem, x0, t):
        """E x(t) = expm(-A t) x0 + A^-1 (I - expm(-A t)) g."""
        t = float(t)
        x0 = np.asarray(x0, dtype=float)
        if t == 0:
            return x0.copy()
        fe = lambda a: np.exp(-a * t)  # noqa: E731
        fm = lambda a: -np.expm1(-a * t) / a  # noqa: E731
        return self._apply(sys, fe, x0) + self._apply(sys, fm, sys.rhs)

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        t, kappa0 = _check(t, kappa0)
        x = self.mean(sys, x0, t)
        if kappa0 > 0 and t > 0:
            fn = lambda a: np.sqrt(-np.expm1(-2.0 * a * t) / a)  # noqa: E731  cov = kappa0 fn(A)^2
            z = rng.standard_normal(x.shape)
            x = x + np.sqrt(kappa0) * self._apply(sys, fn, z)
        return x


class EulerOUSolver:
    """Euler-Maruyama with step ``dt`` (tau units); round(t / dt) equal steps covering t exactly.

    A x is applied as lambda x + Ut^T (Ut x): O(m N) per step. Unstable steps
    (dt (lambda + s_max) >= 2) raise ConfigError naming the largest stable step.
    """

    name = "euler"

    def __init__(self, dt: float = 0.1):
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"Euler step dt must be finite and > 0 (tau units), got {dt!r}")
        self.dt = float(dt)

    def prepare(self, factor, damping, rhs) -> OUSystem:
        sys = _make_system(factor, damping, rhs, eig=False)
        U = sys.factor
        smax = float(np.linalg.norm(U, 2) ** 2) if U.size else 0.0
        return sys._replace(eigvals=np.array([smax]))

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        t, kappa0 = _check(t, kappa0)
        x = np.array(x0, dtype=float, copy=True)
        if t == 0:
            return x
        if not np.isfinite(t):
            raise ConfigError("the Euler solver needs a finite analog time t")
        n = max(1, int(round(t / self.dt)))
        h = t / n
        lam, U, g = float(sys.damping), sys.factor, sys.rhs
        amax = lam + float(sys.eigvals[0]) if sys.eigvals.size else lam
        if h * amax >= 2.0:
            raise ConfigError(f"Euler step {h:.3g} tau is unstable for lambda_max(A) = {amax:.3g}: "
                              f"use dt < {2.0 / amax:.3g} tau")
        sd = np.sqrt(2.0 * kappa0 * h)
        for _ in range(n):
            drift = lam * x + U.T @ (U @ x) - g
            x = x - h * drift
            if kappa0 > 0:
                x = x + sd * rng.standard_normal(x.shape)
        return x


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

    def __init__(self, *, temperature_k: float = 300.0, noise: bool = True, scheme: str = "exact",
                 max_step_tau: float = 5.0, dt_tau: float | None = None, prune: bool = True,
                 r_max: float = 1e9, max_n: int = 300, **mapping_kwargs):
        importlib.import_module("spucircuit")  # fail early if the twin is missing

        if scheme not in ("exact", "euler"):
            raise ConfigError(f"unknown twin scheme {scheme!r}: use 'exact' or 'euler'")
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
        n = np.shape(factor)[-1]
        if n > self.max_n:
            raise ConfigError(f"the twin maps the dense {n} x {n} matrix onto ~{n * n} resistors; N = {n} "
                              f"exceeds max_n = {self.max_n} (raise max_n if you mean it, or use the exact solver)")
        return _make_system(factor, damping, rhs, eig=False)

    def propagate(self, sys: OUSystem, x0, t, kappa0, rng) -> np.ndarray:
        import spucircuit as sc

        t, kappa0 = _check(t, kappa0)
        x0 = np.asarray(x0, dtype=float)
        if t == 0:
            return x0.copy()
        if not np.isfinite(t):
            raise ConfigError("the twin needs a finite analog time t")
        U, lam, g = sys.factor, float(sys.damping), sys.rhs
        A = U.T @ U
        A[np.diag_indices_from(A)] += lam
        A = 0.5 * (A + A.T)
        mc = sc.integrator_array(A, g, prune=self.prune, **self.mapping_kwargs)
        if kappa0 > 0:
            psd = 4.0 * kappa0 * mc.c_f ** 2 * mc.v_unit_v ** 2 / mc.tau_s
            mc = sc.integrator_array(A, g, prune=self.prune, noise_psd=psd, **self.mapping_kwargs)
        self.last_mapping = mc
        t_s = t * mc.tau_s
        if self.scheme == "exact":
            n = max(1, math.ceil(t / self.max_step_tau))
            dt = t_s / n
        else:
            dt = None if self.dt_tau is None else self.dt_tau * mc.tau_s
        spu = sc.SPU(mc, temperature_k=self.temperature_k, noise=self.noise or kappa0 > 0,
                     scheme=self.scheme, dt=dt, chains=1, seed=int(rng.integers(2**63)))
        spu.reset(x0)
        res = spu.run(t_s, max_samples=1)
        self.analog_time_s += res.analog_time_s
        return spu.read()[0]


SOLVERS = {"exact": ExactOUSolver, "euler": EulerOUSolver, "twin": TwinSolver}


def make_solver(name: str, **kwargs):
    try:
        cls = SOLVERS[name]
    except KeyError:
        raise ConfigError(f"unknown TNGD solver {name!r}: use one of {sorted(SOLVERS)}") from None
    return cls(**kwargs)


# ----------------------------------------------------------------------------------------------
# The factored circuit twin (TNGD App. C): J, H and J^T resistor arrays, O(N m) per step.
# ----------------------------------------------------------------------------------------------
class FactoredSystem(NamedTuple):
    """An uploaded system together with the factored circuit programmed for it."""

    factor: object  # what was uploaded: Ut (m, N), (J, H_blocks[, b_norm]) or a Batch
    damping: np.ndarray
    rhs: np.ndarray
    eigvals: np.ndarray  # unused (0,)
    eigvecs: np.ndarray  # unused (0, 0)
    circuit: object  # spucircuit.factored.FactoredCircuit
    slot: tuple = ()  # (buffer index, owner token): which reprogrammable array holds it


class FactoredTwinSolver:
    """The factored circuit twin (``spucircuit.factored``): F = J^T H J / b is never formed, the
    circuit has m (m + 2N)-scale resistors and each step costs O(N m), so it runs at training size.

    ``prepare(factor, damping, rhs)`` maps the system onto the three resistor arrays; ``factor`` may
    be the GGN factor Ut (m, N) the TNGD optimizer uploads (F = Ut^T Ut: the J array holds Ut, the H
    array unit 1 x 1 blocks, b_norm = 1), a tuple ``(J, H_blocks[, b_norm])`` or a ``tngd.Batch``
    (its Jacobian and loss-Hessian blocks: the paper's three arrays). ``propagate`` runs the
    device for t tau from x0 and reads one sample.

    Scales: the first system fixes v_unit and the conductance scales (largest entry at
    ``headroom * r_min``, so later, larger entries still fit); later systems reuse them (tau fixed).
    When an entry outgrows the range, or lambda's resistor would leave it, the scales are
    re-designed with v_unit kept (the capacitor voltages still mean the same x; only tau changes,
    counted in ``redesigns``). Entries needing more than ``r_max`` are pruned when ``prune`` (the
    bound is in ``last_circuit.prune``).

    Warm start: one device (:class:`spucircuit.factored.FactoredSPU`) persists; reprogramming keeps
    its capacitor voltages. If x0 equals what the device holds (Algorithm 1: the previous read-out)
    nothing is written; otherwise x0 is written through the DACs (counted in ``writes``).

    Noise: Johnson noise of every resistor at ``temperature_k`` (when ``noise``), plus kappa0 > 0
    realised as an injected white current at every integrator summing node of one-sided PSD
    4 kappa0 C^2 v_unit^2 / tau, i.e. dx = ... + sqrt(2 kappa0) dW in tau units.

    scheme 'exponential' (default): exact in distribution for any step with nominal components (one
    step per propagate); with ``tolerance`` > 0 the diagonal is non-uniform and steps of at most
    ``max_step_tau`` are taken (ETD1, stationary mean exact). 'euler': steps of ``dt_tau`` tau or the
    automatic 0.1 x stability limit. ``tolerance`` sigma multiplies every resistor of each
    programming by (1 + sigma z), z ~ N(0, 1) drawn from (tolerance_seed, programming index).

    Memory: the J / J^T array values live in two reprogrammable (m, N) buffers used alternately
    (the current system and the previous one, which TNGD's delay td still runs), so a training
    step allocates no new array memory. A system older than the previous one has been overwritten:
    propagating it raises ConfigError.
    """

    name = "factored"

    def __init__(self, *, temperature_k: float = 300.0, noise: bool = True, scheme: str = "exponential",
                 dt_tau: float | None = None, max_step_tau: float = 5.0, r_min: float = 1e3, r_max: float = 1e9,
                 c: float = 1e-9, headroom: float = 4.0, prune: bool = True, tolerance: float = 0.0,
                 tolerance_seed: int = 0, opamp_gain: float = float("inf"), spectral_method: str = "arnoldi"):
        importlib.import_module("spucircuit.factored")  # fail early if the twin is missing
        if scheme not in ("exponential", "euler"):
            raise ConfigError(f"unknown factored-twin scheme {scheme!r}: use 'exponential' or 'euler'")
        for nm, v in (("max_step_tau", max_step_tau), ("r_min", r_min), ("r_max", r_max), ("c", c),
                      ("headroom", headroom)):
            if not (np.isfinite(v) and v > 0):
                raise ConfigError(f"{nm} must be finite and > 0, got {v!r}")
        if dt_tau is not None and not (np.isfinite(dt_tau) and dt_tau > 0):
            raise ConfigError(f"dt_tau must be finite and > 0, got {dt_tau!r}")
        if not (np.isfinite(tolerance) and tolerance >= 0):
            raise ConfigError(f"tolerance must be finite and >= 0, got {tolerance!r}")
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.dt_tau = dt_tau
        self.max_step_tau = float(max_step_tau)
        self.circuit_kwargs = dict(r_min=float(r_min), r_max=float(r_max), c=float(c), prune=bool(prune),
                                   opamp_gain=float(opamp_gain))
        self.headroom = float(headroom)
        self.tolerance = float(tolerance)
        self.tolerance_seed = int(tolerance_seed)
        self.spectral_method = spectral_method
        self.scales = None
        self.device = None
        self.last_circuit = None
        self.programmings = 0
        self.redesigns = 0
        self.writes = 0
        self.analog_time_s = 0.0  # total simulated analog time, s
        self._noisy: dict = {}
        self._buffers = [None, None]
        self._owners = [None, None]

    @staticmethod
    def _unpack(factor):
        if hasattr(factor, "jacobian") and hasattr(factor, "hessian_blocks"):
            return factor.jacobian(), factor.hessian_blocks(), float(factor.b)
        if isinstance(factor, (tuple, list)):
            if len(factor) not in (2, 3):
                raise ConfigError("factor tuple must be (J, H_blocks) or (J, H_blocks, b_norm)")
            J, H = factor[0], factor[1]
            b_norm = float(factor[2]) if len(factor) == 3 else float(np.shape(H)[0])
            return np.asarray(J, dtype=float), np.asarray(H, dtype=float), b_norm
        U = np.asarray(factor, dtype=float)
        if U.ndim != 2:
            raise ConfigError(f"factor must be Ut (m, N), (J, H_blocks) or a Batch, got shape {U.shape}")
        return U, None, 1.0

    def prepare(self, factor, damping, rhs) -> FactoredSystem:
        from spucircuit.errors import RealizabilityError
        from spucircuit.factored import FactoredCircuit, factored_circuit

        lam = float(damping)
        if not (np.isfinite(lam) and lam > 0):
            raise ConfigError(f"damping lambda must be finite and > 0, got {damping!r}")
        J, H, b_norm = self._unpack(factor)
        g = np.asarray(rhs, dtype=float)
        if g.shape != (J.shape[1],):
            raise ConfigError(f"factor (m, N) and rhs (N,) do not match: {J.shape}, {g.shape}")
        slot = self.programmings % 2
        buf = self._buffers[slot]
        if buf is None or buf.shape != J.shape:
            buf = self._buffers[slot] = np.empty(J.shape)
        token = object()
        self._owners[slot] = token
        kw = dict(self.circuit_kwargs, b_norm=b_norm, netlist=False, out=buf)
        circuit = None
        if self.scales is not None:
            try:
                circuit = factored_circuit(J, H, lam, g, scales=self.scales, **kw)
            except RealizabilityError:
                circuit = None  # outgrown: re-design below, keeping v_unit
        if circuit is None:
            x_ref = self.device.read()[0] if self.device is not None else None
            v_unit = self.scales.v_unit_v if self.scales is not None else None
            circuit = factored_circuit(J, H, lam, g, headroom=self.headroom, x_ref=x_ref, v_unit=v_unit, **kw)
            if self.scales is not None:
                self.redesigns += 1
            self.scales = circuit.scales
        if self.tolerance > 0:
            from dataclasses import replace

            comp = circuit.components.perturbed(self.tolerance, [self.tolerance_seed, self.programmings])
            circuit = replace(circuit, components=comp)
        assert isinstance(circuit, FactoredCircuit)
        self.programmings += 1
        self.last_circuit = circuit
        self._noisy = {}
        return FactoredSystem(factor, np.asarray(lam), g, np.zeros(0), np.zeros((0, 0)), circuit, (slot, token))

    def propagate(self, sys, x0, t, kappa0, rng) -> np.ndarray:
        from spucircuit.factored import FactoredSPU

        t, kappa0 = _check(t, kappa0)
        x0 = np.asarray(x0, dtype=float)
        if t == 0:
            return x0.copy()
        if not np.isfinite(t):
            raise ConfigError("the factored twin needs a finite analog time t")
        circuit = getattr(sys, "circuit", None)
        if circuit is None:
            raise ConfigError("propagate needs a system from FactoredTwinSolver.prepare")
        slot, token = sys.slot
        if self._owners[slot] is not token:
            raise ConfigError("this system's resistor arrays have been reprogrammed since (only the current "
                              "and the previous system stay programmed)")
        if kappa0 > 0:  # one noisy copy per (system, kappa0), so its set-up is cached
            key = (id(circuit), kappa0)
            hit = self._noisy.get(key)
            if hit is None or hit[0] is not circuit:
                hit = (circuit, circuit.with_injected_noise(circuit.kappa0_psd(kappa0)))
                self._noisy[key] = hit
            circuit = hit[1]
        temp = self.temperature_k if self.noise else 0.0
        noisy = self.noise or kappa0 > 0
        if self.device is None:
            self.device = FactoredSPU(circuit, temperature_k=temp, noise=noisy, scheme=self.scheme, chains=1,
                                      spectral_method=self.spectral_method)
            self.device.reset(x0)
            self.writes += 1
        else:
            self.device.program(circuit, temperature_k=temp, noise=noisy)
            if not np.array_equal(self.device.read()[0], x0):
                self.device.reset(x0)
                self.writes += 1
        tau = circuit.tau_s
        dt = None
        if self.scheme == "euler":
            dt = None if self.dt_tau is None else self.dt_tau * tau
        elif not self._uniform(self.device.chain):
            dt = t * tau / max(1, math.ceil(t / self.max_step_tau))
        res = self.device.run(t * tau, dt=dt, max_samples=1, seed=int(rng.integers(2**63)))
        self.analog_time_s += res.analog_time_s
        return self.device.read()[0]

    @staticmethod
    def _uniform(chain) -> bool:
        D = chain.diag
        return bool(np.max(np.abs(D - D.mean())) <= 1e-13 * abs(D.mean()))


SOLVERS["factored"] = FactoredTwinSolver
