"""The factored circuit's device twin: program, run for an analog time, read; the state persists.

:class:`FactoredSPU` keeps the capacitor voltages across runs and across reprogramming
(:meth:`FactoredSPU.program`), as a device would (TNGD's warm start). Keep ``v_unit`` fixed across
TNGD steps (pass ``scales=`` or ``v_unit=`` to the mapping); if it does change, the state is rescaled
explicitly (a DAC rewrite, counted in ``FactoredSPU.rescaled``) so that x is preserved.

Schemes: ``euler`` (Euler-Maruyama, one fused numba pass over the arrays per step; automatic step
0.1 x the stability limit 2 Re(mu) / |mu|^2 of the eigenvalue mu of largest modulus, from Arnoldi /
power iteration on the chain; a user step beyond the limit raises :class:`StepError`) and
``exponential`` (:mod:`spucircuit.integrate.chain_exponential`, exact in distribution for nominal
components). Cost O(N m) per step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.constants import T_ROOM
from spucircuit.errors import NetlistError, StepError
from spucircuit.integrate.chain_exponential import exponential_discretization, exponential_step
from spucircuit.integrate.chain_kernels import euler_kernel, euler_partition
from spucircuit.integrate.discretize import EULER_SAFETY
from spucircuit.statespace.chain import ChainDrift


# =====================================================================================
# device
# =====================================================================================
@dataclass
class FactoredRunResult:
    """Output of :meth:`FactoredSPU.run`. t (s, since the run's start), states (n_save, chains, N)
    capacitor voltages, ``x`` the same in problem units (computed on access), mean_x the time
    average over every step."""

    t: np.ndarray
    states: np.ndarray
    mean_x: np.ndarray
    analog_time_s: float
    n_steps: int
    dt: float
    readout: np.ndarray  # x = states * readout (= (1 - beta) / v_unit)

    @property
    def x(self) -> np.ndarray:
        return self.states * self.readout


SAMPLE_BYTES_MAX = 1 << 27  # default cap on the saved samples of one run (128 MB)


class FactoredSPU:
    """Device twin of a factored circuit: program, run, read; the state persists (warm start).

    state: (chains, N) capacitor voltages (V). ``program`` replaces the component values and keeps
    the voltages (a device keeps its capacitor charge while the resistor arrays are reprogrammed).
    """

    def __init__(self, circuit: FactoredCircuit, *, temperature_k: float = T_ROOM, noise: bool = True,
                 scheme: str = "exponential", dt: float | None = None, chains: int = 1, seed=None,
                 spectral_method: str = "arnoldi"):
        if scheme not in ("exponential", "euler"):
            raise StepError(f"unknown scheme {scheme!r}: use 'exponential' or 'euler'")
        if int(chains) < 1:
            raise StepError(f"chains must be >= 1, got {chains}")
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.chains = int(chains)
        self.user_dt = dt
        self.spectral_method = spectral_method
        self._seedseq = np.random.SeedSequence(seed)
        self.state = None
        self.rescaled = 0
        self.time_s = 0.0
        self.program(circuit)

    def program(self, circuit: FactoredCircuit, keep_state: bool = True, *, temperature_k: float | None = None,
                noise: bool | None = None) -> None:
        """Load new component values (and optionally a new temperature / noise switch).

        The capacitor voltages persist (``keep_state``); if v_unit changed they are rescaled (an
        explicit DAC rewrite, counted in ``rescaled``) so that x is unchanged. The chain and its
        discretisations are cached for the last two circuits (re-running the previous system, as
        TNGD's delay td does, costs no new O(m^2 N) set-up)."""
        if not isinstance(circuit, FactoredCircuit):
            raise NetlistError(f"cannot program a {type(circuit).__name__}: give a FactoredCircuit")
        if temperature_k is not None:
            self.temperature_k = float(temperature_k)
        if noise is not None:
            self.noise = bool(noise)
        old = getattr(self, "circuit", None)
        self.circuit = circuit
        key = (id(circuit.components), self.temperature_k, self.noise)
        cache = getattr(self, "_cache", {})
        hit = cache.get(key)
        if hit is not None and hit[0] is circuit.components:
            self.chain, self._disc = hit[1], hit[2]
        else:
            self.chain = ChainDrift(circuit.components, self.temperature_k, self.noise)
            self._disc = {}
            cache = {k: v for k, v in list(cache.items())[-1:]}
            cache[key] = (circuit.components, self.chain, self._disc)
        self._cache = cache
        if self.state is None or not keep_state or self.state.shape[1] != circuit.n:
            self.state = np.tile(circuit.components.ic, (self.chains, 1)).astype(float)
        elif old is not None and old.v_unit_v != circuit.v_unit_v:
            self.state *= circuit.v_unit_v / old.v_unit_v
            self.rescaled += 1
        if self.user_dt is not None:
            self.check_dt(float(self.user_dt))

    @property
    def tau_s(self) -> float:
        return self.circuit.tau_s

    def reset(self, x0=None) -> None:
        """Write every chain's state: the capacitors' initial voltages, or x0 (problem units)."""
        if x0 is None:
            self.state = np.tile(self.circuit.components.ic, (self.chains, 1)).astype(float)
            return
        X = np.broadcast_to(np.asarray(x0, dtype=float), (self.chains, self.circuit.n))
        if not np.all(np.isfinite(X)):
            raise NetlistError("x0 must be finite with shape (N,) or (chains, N)")
        self.state = np.ascontiguousarray(X * self.circuit.v_unit_v / self.chain.om)

    def read(self) -> np.ndarray:
        """x = V(x_i) / v_unit for every chain, (chains, N); V(x) = (1 - beta) v_C."""
        return self.state * self.chain.om / self.circuit.v_unit_v

    # ---------------------------------------------------------------- steps
    def max_stable_dt(self) -> float:
        return self.chain.max_stable_euler_step(self.spectral_method)

    def check_dt(self, dt: float) -> None:
        if not (np.isfinite(dt) and dt > 0):
            raise StepError(f"time step must be finite and > 0 s, got {dt!r}")
        if self.scheme == "euler":
            hmax = self.max_stable_dt()
            if dt >= hmax:
                raise StepError(f"time step {dt:.4g} s is unstable for Euler-Maruyama: the largest stable step "
                                f"is {hmax:.4g} s ({hmax / self.tau_s:.4g} tau; suggested "
                                f"{EULER_SAFETY * hmax:.4g} s), or use scheme='exponential'")

    def auto_dt(self) -> float:
        return EULER_SAFETY * self.max_stable_dt()

    def run(self, duration, *, dt: float | None = None, save_every: int | None = None,
            max_samples: int | None = None, seed: int | None = None) -> FactoredRunResult:
        """Run for ``duration`` seconds (or '50tau'); the state persists. Steps: round(duration / dt).
        Euler: dt automatic (0.1 x the stability limit) unless given. Exponential: dt defaults to the
        whole duration (one step, exact in distribution for nominal components); pass dt for a
        trajectory or a time average. A sample is saved every ``save_every`` steps (default: at most
        ``max_samples``, itself at most 1000 and 128 MB of samples).
        Normals: numpy PCG64 seeded from the next child of the device seed, or from ``seed``."""
        from spucircuit._util.quantities import parse_time

        T = parse_time(duration, self.tau_s)
        if not (np.isfinite(T) and T > 0):
            raise StepError(f"run duration must be finite and > 0 s, got {duration!r}")
        dt = self.user_dt if dt is None else dt
        if self.scheme == "euler":
            dt = self.auto_dt() if dt is None else float(dt)
            self.check_dt(dt)
            n_steps = max(1, int(round(T / dt)))
        else:
            if dt is None:
                n_steps, dt = 1, T
            else:
                self.check_dt(float(dt))
                n_steps = max(1, int(round(T / float(dt))))
        dt = float(dt)
        k, N = self.state.shape
        if max_samples is None:
            max_samples = max(1, min(1000, SAMPLE_BYTES_MAX // (8 * k * N)))
        if save_every is None:
            save_every = max(1, -(-n_steps // int(max_samples)))
        save_every = max(1, int(save_every))
        if seed is None:
            seed = int(self._seedseq.spawn(1)[0].generate_state(1)[0])
        rng = np.random.Generator(np.random.PCG64(seed))
        n_save = n_steps // save_every
        samples = np.zeros((n_save, k, N))
        xsum = np.zeros((k, N))
        X = np.ascontiguousarray(self.state, dtype=np.float64).copy()
        if self.scheme == "euler":
            self._run_euler(X, dt, n_steps, save_every, rng, samples, xsum)
        else:
            disc = self._disc.get(dt)
            if disc is None:
                disc = exponential_discretization(self.chain, dt, self.noise)
                if len(self._disc) >= 4:
                    self._disc.pop(next(iter(self._disc)))
                self._disc[dt] = disc
            isave = 0
            for step in range(n_steps):
                X = exponential_step(self.chain, disc, X, rng)
                xsum += X
                if (step + 1) % save_every == 0 and isave < n_save:
                    samples[isave] = X
                    isave += 1
        self.state = X
        self.time_s += n_steps * dt
        ro = self.chain.om / self.circuit.v_unit_v
        return FactoredRunResult(t=dt * save_every * (np.arange(n_save) + 1), states=samples,
                                 mean_x=xsum / n_steps * ro, analog_time_s=n_steps * dt, n_steps=n_steps, dt=dt,
                                 readout=ro)

    def _run_euler(self, X, h, n_steps, save_every, rng, samples, xsum):
        ch = self.chain
        k, N = X.shape
        m = ch.m
        noise = ch.has_noise
        sq = lambda q: np.sqrt(q * h)  # noqa: E731
        args = (ch.G1, ch.G2, ch._G3, ch.shared, ch.ratio3, ch.om * h, ch.gx, sq(ch.q_bx) / ch.Dx,
                1.0 / ch.D1, sq(ch.q_a), ch.gy, sq(ch.q_by) / ch.Dy, 1.0 / ch.D2, sq(ch.q_c), ch.gw,
                sq(ch.q_bw) / ch.Dw, h * ch.d, h * ch.comp.g_in * ch.comp.v_in, sq(ch.q_s), ch.invc)
        args = tuple(np.ascontiguousarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args)
        gstart, cstart = euler_partition(ch.G2.shape[0], ch.G2.shape[1], k)
        nch = len(cstart) - 1
        scratch = (np.empty((k, N)), np.empty((k, N)), np.empty((k, m)), np.empty((k, m)), np.empty((k, m)),
                   np.empty((k, m)), np.empty((k, 0 if ch.shared else N)), np.zeros((k, m)), np.zeros((k, m)),
                   np.zeros((k, m)), np.zeros((k, m)), np.empty((nch, k, N if ch.shared else 0)), gstart, cstart)
        euler_kernel(*args, X, int(n_steps), int(save_every), rng, bool(noise), samples, xsum, *scratch)
