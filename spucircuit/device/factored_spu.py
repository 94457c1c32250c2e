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

Rails (``rail_v``): every op-amp output clips at +-rail_v, saturated integrators wind up and recover
(:mod:`spucircuit.integrate.chain_rails`); a clipped circuit has no exponential step, so a device
with rails runs Euler-Maruyama (its ``scheme`` says so) and reports each op-amp's steps on a rail in
:attr:`RunResult.saturated_steps`. The read-out is then the clipped integrator outputs.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from spucircuit.circuit.factored_array import FactoredCircuit
from spucircuit.constants import T_ROOM
from spucircuit.device.base import AnalogDevice
from spucircuit.errors import NetlistError, StepError
from spucircuit.integrate.chain_exponential import (
    exponential_discretization,
    exponential_step,
)
from spucircuit.integrate.chain_kernels import euler_kernel, euler_partition
from spucircuit.integrate.chain_rails import euler_rails_kernel, rails_scratch
from spucircuit.integrate.discretize import EULER_SAFETY
from spucircuit.statespace.chain import ChainDrift

SAMPLE_BYTES_MAX = 1 << 27  # default cap on the saved samples of one run (128 MB)


class FactoredSPU(AnalogDevice):
    """Device twin of a factored circuit: program, run, read; the state persists (warm start).

    state: (chains, N) capacitor voltages (V). ``program`` replaces the component values and keeps
    the voltages (a device keeps its capacitor charge while the resistor arrays are reprogrammed).
    Life cycle, seeds, converters and the :class:`~spucircuit.device.base.RunResult` are
    :class:`~spucircuit.device.base.AnalogDevice`'s. ``run(duration)`` with the exponential scheme
    takes one step of the whole duration unless ``dt`` is given (exact in distribution for nominal
    components); Euler steps 0.1 x the stability limit unless ``dt`` is given.
    """

    def __init__(self, circuit: FactoredCircuit, *, temperature_k: float = T_ROOM, noise: bool = True,
                 scheme: str = "exponential", dt: float | None = None, chains: int = 1, seed=None,
                 spectral_method: str = "arnoldi", dac=None, adc=None, rail_v: float = np.inf):
        rail_v = float(rail_v)
        if not (rail_v > 0):
            raise NetlistError(f"rail_v must be > 0 V (inf: no rails), got {rail_v!r}")
        if np.isfinite(rail_v):
            scheme = "euler"  # a clipped circuit is piecewise linear: no exponential step
        if scheme == "trapezoidal":
            raise StepError("a factored circuit runs scheme 'exponential' or 'euler'; 'trapezoidal' is for netlist "
                            "devices (SPU) and spucircuit.solve / inv")
        super().__init__(temperature_k=temperature_k, noise=noise, scheme=scheme, dt=dt, chains=chains,
                         seed=seed, dac=dac, adc=adc)
        self.rail_v = rail_v
        self._sat = None
        self.user_dt = dt
        self.spectral_method = spectral_method
        self.rescaled = 0
        self.circuit = None
        self._cache: dict = {}
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
        old = self.circuit
        self.circuit = circuit
        key = (id(circuit.components), self.temperature_k, self.noise)
        cache = self._cache
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
            self.check_memory(circuit.n)
            self.state = np.tile(circuit.components.ic, (self.chains, 1)).astype(float)
        elif old is not None and old.v_unit_v != circuit.v_unit_v:
            self.state *= circuit.v_unit_v / old.v_unit_v
            self.rescaled += 1
        if self.user_dt is not None:
            self.check_dt(float(self.user_dt))

    @property
    def n(self) -> int:
        return self.circuit.n

    @property
    def tau_s(self) -> float:
        return self.circuit.tau_s

    @property
    def volts_per_unit(self) -> float:
        return self.circuit.v_unit_v

    @property
    def dt(self) -> float | None:
        """The device's step (s): the user's, else Euler's automatic one; None for the exponential
        scheme without one (a run is then one step of its whole duration)."""
        if self.user_dt is not None:
            return float(self.user_dt)
        return self.auto_dt() if self.scheme == "euler" else None

    def reset(self, x0=None) -> None:
        """Write every chain's state: the capacitors' initial voltages, or x0 (problem units)."""
        self.check_memory(self.circuit.n)
        if x0 is None:
            self.state = np.tile(self.circuit.components.ic, (self.chains, 1)).astype(float)
            return
        X = np.broadcast_to(np.asarray(x0, dtype=float), (self.chains, self.circuit.n))
        if not np.all(np.isfinite(X)):
            raise NetlistError("x0 must be finite with shape (N,) or (chains, N)")
        self.state = np.ascontiguousarray(X * self.circuit.v_unit_v / self.chain.om)

    @property
    def opamp_names(self) -> list:
        """Op-amp names as in the circuit's netlist: U<i> integrators, UA<k> / UC<k> the J / H stages,
        UBX<j> / UBY<k> / UBW<k> the inverting buffers (only those that exist)."""
        ch = self.chain
        names = [f"U{i}" for i in range(ch.n)] + [f"UA{k}" for k in range(ch.m)] + [f"UC{k}" for k in range(ch.m)]
        for nm, g in (("X", ch.gx), ("Y", ch.gy), ("W", ch.gw)):
            names += [f"UB{nm}{j}" for j in np.flatnonzero(g)]
        return names

    def _readout_fn(self):
        ro = self.chain.om / self.circuit.v_unit_v  # x = V(x_i) / v_unit, V(x) = (1 - beta) v_C
        if np.isfinite(self.rail_v):
            rail, om, vu = self.rail_v, self.chain.om, self.circuit.v_unit_v
            return lambda states: np.clip(states * om, -rail, rail) / vu
        return lambda states: states * ro

    def _annotate(self, res) -> None:
        if self._sat is None:
            return
        counts, osum = self._sat
        ch = self.chain
        parts = [counts[0], counts[2], counts[4]] + [c[np.flatnonzero(g)] for c, g in
                                                      ((counts[1], ch.gx), (counts[3], ch.gy), (counts[5], ch.gw))]
        res.saturated_steps = dict(zip(self.opamp_names, (int(v) for v in np.concatenate(parts))))
        res.mean_readout = osum / res.n_steps / self.circuit.v_unit_v
        self._sat = None

    def _input_volts(self, g) -> np.ndarray:
        return self.circuit.input_volts(g)

    def _write_inputs(self, volts) -> None:
        """New DAC voltages: the device's own copy of the components (the arrays are shared)."""
        comp = replace(self.circuit.components, v_in=np.asarray(volts, dtype=float).copy())
        self.program(replace(self.circuit, components=comp, netlist_cache=None))

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

    def _step_plan(self, T, dt):
        if not (np.isfinite(T) and T > 0):
            raise StepError(f"run duration must be finite and > 0 s, got {T!r}")
        dt = self.user_dt if dt is None else dt
        if self.scheme == "euler":
            dt = self.auto_dt() if dt is None else float(dt)
            self.check_dt(dt)
            return max(1, int(round(T / dt))), float(dt)
        if dt is None:
            return 1, float(T)
        self.check_dt(float(dt))
        return max(1, int(round(T / float(dt)))), float(dt)

    def _default_max_samples(self) -> int:
        k, N = self.state.shape
        return max(1, min(1000, SAMPLE_BYTES_MAX // (8 * k * N)))

    def _advance(self, X, n_steps, dt, save_every, seeds, meter):
        """Normals: numpy PCG64 seeded from the run's seed (the next child of the device seed)."""
        seed = int(seeds.generate_state(1)[0]) if isinstance(seeds, np.random.SeedSequence) else int(seeds)
        rng = np.random.Generator(np.random.PCG64(seed))
        k, N = X.shape
        n_save = n_steps // save_every
        samples = np.zeros((n_save, k, N))
        xsum = np.zeros((k, N))
        X = np.ascontiguousarray(X, dtype=np.float64).copy()
        meter.start(n_steps, "step", "analog run")
        if np.isfinite(self.rail_v):
            self._sat = self._run_euler_rails(X, dt, n_steps, save_every, rng, samples, xsum)
        elif self.scheme == "euler":
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
        meter.update(n_steps)
        meter.close()
        return X, samples, xsum

    def _stage_coefficients(self, h) -> tuple:
        """What both Euler kernels take for the static stages at step h: per buffer / stage its gain
        or 1 / D and its noise coefficient sqrt(q h) (buffers' divided by their D), contiguous."""
        ch = self.chain
        sq = lambda q: np.sqrt(q * h)  # noqa: E731
        return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (
            ch.gx, sq(ch.q_bx) / ch.Dx, 1.0 / ch.D1, sq(ch.q_a), ch.gy, sq(ch.q_by) / ch.Dy, 1.0 / ch.D2,
            sq(ch.q_c), ch.gw, sq(ch.q_bw) / ch.Dw))

    def _run_euler(self, X, h, n_steps, save_every, rng, samples, xsum):
        ch = self.chain
        k, N = X.shape
        m = ch.m
        noise = ch.has_noise
        f = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        args = (ch.G1, ch.G2, ch.G3_array, ch.shared, ch.ratio3, f(ch.om * h), *self._stage_coefficients(h),
                f(h * ch.d), f(h * ch.comp.g_in * ch.comp.v_in), f(np.sqrt(ch.q_sum * h)), f(ch.invc))
        gstart, cstart = euler_partition(ch.G2.shape[0], ch.G2.shape[1], k)
        nch = len(cstart) - 1
        scratch = (np.empty((k, N)), np.empty((k, N)), np.empty((k, m)), np.empty((k, m)), np.empty((k, m)),
                   np.empty((k, m)), np.empty((k, 0 if ch.shared else N)), np.zeros((k, m)), np.zeros((k, m)),
                   np.zeros((k, m)), np.zeros((k, m)), np.empty((nch, k, N if ch.shared else 0)), gstart, cstart)
        euler_kernel(*args, X, int(n_steps), int(save_every), rng, bool(noise), samples, xsum, *scratch)

    def _run_euler_rails(self, X, h, n_steps, save_every, rng, samples, xsum):
        """Euler-Maruyama with the op-amps clipping at +-rail_v (:mod:`spucircuit.integrate.chain_rails`).
        Returns ((saturated steps per op-amp group), sum of the integrator outputs)."""
        ch = self.chain
        k, N = X.shape
        m = ch.m
        f = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
        comp = ch.comp
        args = (ch.G1, ch.G2, ch.G3_array, ch.shared, ch.ratio3, f(ch.om), *self._stage_coefficients(h),
                f(h * comp.g_lambda), f(h * (ch.S3 + comp.g_in)), f(h * comp.g_in * comp.v_in),
                f(np.sqrt(ch.q_sum * h)), f(ch.invc), float(h), float(self.rail_v))
        counts = [np.zeros(N, np.int64), np.zeros(N, np.int64)] + [np.zeros(m, np.int64) for _ in range(4)]
        osum = np.zeros((k, N))
        euler_rails_kernel(*args, X, int(n_steps), int(save_every), rng, bool(ch.has_noise), samples, xsum, osum,
                           counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], *rails_scratch(k, N, m))
        return counts, osum
