"""The device twin ``SPU``: program a circuit, set its inputs, run it for an analog time, read it.

The state (every chain's capacitor voltages and inductor currents) persists between runs, so a
run starts where the previous one stopped (warm start, as TNGD's Algorithm 1 needs). Each run
draws its noise from the next child of the user's seed: the same seed gives the same bits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spucircuit.statespace.mna import StateSpace, compile_netlist
from spucircuit.constants import T_ROOM
from spucircuit.errors import NetlistError, StepError
from spucircuit.integrate.discretize import auto_dt, check_euler_step, discretize, run
from spucircuit._util.quantities import parse_time
from spucircuit.circuit.integrator_array import MappedCircuit
from spucircuit.circuit.netlist import Netlist
from spucircuit.numerics.matrices import as_vector

MAX_SAMPLES_DEFAULT = 20_000
CHUNK_WORK = 2e8  # multiply-adds per numba call of a long run (about 0.1-1 s)


def chunk_steps(n: int, chains: int, save_every: int) -> int:
    """Steps per numba call: a multiple of ``save_every`` doing about CHUNK_WORK flops."""
    steps = max(1000, int(CHUNK_WORK // max(1, n * n * chains)))
    return max(save_every, steps // save_every * save_every)


@dataclass
class RunResult:
    """Output of :meth:`SPU.run` (SI units; ``x`` only for mapped circuits).

    t : (m,) sample times since the start of this run, s
    states : (m, chains, n) saved states (V for capacitors, A for inductors)
    x : (m, chains, n) readout in problem units, or None
    mean_states : (chains, n) time average over every step of the run
    analog_time_s : simulated analog time of this run, s
    """

    t: np.ndarray
    states: np.ndarray
    x: np.ndarray | None
    mean_states: np.ndarray
    mean_x: np.ndarray | None
    analog_time_s: float
    n_steps: int
    dt: float


class SPU:
    """Digital twin of a stochastic processing unit built from a netlist.

    Parameters
    ----------
    circuit : Netlist or MappedCircuit
    temperature_k : Johnson-noise temperature, K
    noise : include noise (Johnson + explicit sources); False gives the deterministic circuit
    scheme : 'exact' (default) or 'euler', see :mod:`spucircuit.integrators`
    dt : time step, s (default: automatic from the spectrum)
    chains : number of independent copies simulated at once
    seed : int or None; every random draw of this device derives from it
    """

    def __init__(self, circuit, *, temperature_k: float = T_ROOM, noise: bool = True,
                 scheme: str = "exact", dt: float | None = None, chains: int = 1, seed=None):
        if int(chains) < 1:
            raise StepError(f"chains must be >= 1, got {chains}")
        self.temperature_k = float(temperature_k)
        self.noise = bool(noise)
        self.scheme = scheme
        self.chains = int(chains)
        self._seedseq = np.random.SeedSequence(seed)
        self._user_dt = dt
        self._disc_cache: dict = {}
        self.program(circuit)

    # ------------------------------------------------------------ programming
    def program(self, circuit) -> None:
        """Compile ``circuit`` and reset the state to its initial conditions."""
        if isinstance(circuit, MappedCircuit):
            self.mapped, netlist = circuit, circuit.netlist
        elif isinstance(circuit, Netlist):
            self.mapped, netlist = None, circuit
        elif isinstance(getattr(circuit, "netlist", None), Netlist):  # e.g. a CapacitiveCircuit
            self.mapped, netlist = None, circuit.netlist
        else:
            raise NetlistError(f"cannot program a {type(circuit).__name__}: give a Netlist or MappedCircuit")
        self.netlist = netlist
        self.ss: StateSpace = compile_netlist(netlist, self.temperature_k, noise=self.noise)
        self._disc_cache.clear()
        self._readout = None
        if self.mapped is not None:
            Y, Z = self.ss.node_voltage_map(self.mapped.output_nodes)
            self._readout = (Y, Z)
            # ideal integrator arrays read their states directly (V(x_i) = v(C_i)): skip the product
            self._readout_is_state = (Y.shape[0] == Y.shape[1] and not np.any(Z)
                                      and np.array_equal(Y, np.eye(Y.shape[0])))
        if self.scheme not in ("exact", "euler"):
            raise StepError(f"unknown scheme {self.scheme!r}: use 'exact' or 'euler'")
        self.set_dt(self._user_dt if self._user_dt is not None else auto_dt(self.ss, self.scheme))
        self.time_s = 0.0
        self.reset()

    def set_dt(self, dt) -> None:
        """Change the time step (s); the state is kept. Checked here, not at the first run (dt = 0
        or NaN used to fail there with a ZeroDivisionError / ValueError instead of a StepError)."""
        try:
            dt = float(dt)
        except (TypeError, ValueError):
            raise StepError(f"time step must be a number of seconds, got {dt!r}") from None
        if not (np.isfinite(dt) and dt > 0):
            raise StepError(f"time step must be finite and > 0 s, got {dt!r}")
        if self.scheme == "euler":
            check_euler_step(self.ss, dt)
        self.dt = dt
        self._disc_cache.clear()

    def reset(self, x0=None) -> None:
        """Set every chain's state: the netlist's initial conditions, or x0 (problem units for
        mapped circuits, state units otherwise; shape (n,) or (chains, n))."""
        if x0 is None:
            X = np.tile(self.ss.x0, (self.chains, 1))
        else:
            x0 = np.asarray(x0, dtype=float)
            X = np.broadcast_to(x0, (self.chains, self.ss.n)).astype(float) if x0.ndim <= 2 else None
            if X is None or not np.all(np.isfinite(X)):
                raise NetlistError("x0 must be finite with shape (n,) or (chains, n)")
            if self.mapped is not None:
                X = self._states_from_x(X)
        self.state = np.ascontiguousarray(X)

    @property
    def tau_s(self) -> float | None:
        return self.mapped.tau_s if self.mapped is not None else None

    def set_input(self, name: str, value: float) -> None:
        """Set one DC source level (V or A) by element name."""
        self.ss.set_input(name, value)
        self.netlist.set_value(name, value)
        self._disc_cache.clear()

    def set_rhs(self, b) -> None:
        """Mapped circuits: program right-hand side b through the input DACs."""
        if self.mapped is None:
            raise NetlistError("set_rhs needs a MappedCircuit; use set_input for a raw netlist")
        v = self.mapped.input_volts(b)
        for nm, val in zip(self.mapped.input_sources, v):
            self.ss.set_input(nm, float(val))
            self.netlist.set_value(nm, float(val))
        self.mapped.b = as_vector(b, self.mapped.n)
        self._disc_cache.clear()

    # --------------------------------------------------------------- running
    def _disc(self):
        key = (self.scheme, self.dt, tuple(self.ss.inputs))
        d = self._disc_cache.get(key)
        if d is None:
            d = discretize(self.ss, self.dt, self.scheme, noise=self.noise)
            self._disc_cache = {key: d}
        return d

    def run(self, time, *, save_every: int | None = None, max_samples: int = MAX_SAMPLES_DEFAULT,
            progress: bool = False) -> RunResult:
        """Run for analog ``time`` (s, or a string like '50tau' / '10us'); state persists.

        The number of steps is round(time / dt) (at least 1); ``analog_time_s`` reports the time
        actually simulated. ``save_every`` steps a sample is kept (default: at most
        ``max_samples`` samples per run). Long runs execute as a few numba calls of
        ``chunk_steps`` steps each (the split depends only on the problem size, never on
        ``progress``, so the bits do not either); ``progress=True`` shows a tqdm bar over them.
        """
        t = parse_time(time, self.tau_s)
        n_steps = max(1, int(round(t / self.dt)))
        if save_every is None:
            save_every = max(1, -(-n_steps // max_samples))
        disc = self._disc()
        chunk = chunk_steps(self.ss.n, self.chains, save_every)
        bounds = list(range(0, n_steps, chunk)) + [n_steps]
        seeds = [int(c.generate_state(1)[0]) for c in self._seedseq.spawn(1)[0].spawn(len(bounds) - 1)]
        parts, xsum = [], np.zeros_like(self.state)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_steps, unit="step", desc="analog run", leave=False)
        X = self.state
        for k in range(len(bounds) - 1):
            steps = bounds[k + 1] - bounds[k]
            X, smp, xs = run(disc, X, steps, save_every, seeds[k])
            parts.append(smp)
            xsum += xs
            if bar is not None:
                bar.update(steps)
        if bar is not None:
            bar.close()
        self.state = X
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        t_samples = self.dt * save_every * (np.arange(samples.shape[0]) + 1)
        mean_states = xsum / n_steps
        self.time_s += n_steps * self.dt
        x = mean_x = None
        if self.mapped is not None:
            x = self.x_from_states(samples)
            mean_x = self.x_from_states(mean_states)
        return RunResult(t=t_samples, states=samples, x=x, mean_states=mean_states, mean_x=mean_x,
                         analog_time_s=n_steps * self.dt, n_steps=n_steps, dt=self.dt)

    # --------------------------------------------------------------- readout
    def x_from_states(self, states):
        """Problem-unit readout x = V(output nodes) / v_unit, V = Y states + Z u (mapped only)."""
        if self.mapped is None:
            raise NetlistError("x readout needs a MappedCircuit")
        Y, Z = self._readout
        if self._readout_is_state:
            return self.mapped.x_from_volts(np.asarray(states))
        v = np.asarray(states) @ Y.T + Z @ self.ss.inputs
        return self.mapped.x_from_volts(v)

    def _states_from_x(self, X):
        Y, Z = self._readout
        v = self.mapped.volts_from_x(X) - Z @ self.ss.inputs
        return np.linalg.solve(Y, v.T).T

    def read(self) -> np.ndarray:
        """Current state of every chain: x (mapped circuits) or raw states, shape (chains, n)."""
        return self.x_from_states(self.state) if self.mapped is not None else self.state.copy()
