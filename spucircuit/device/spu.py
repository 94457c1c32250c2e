"""The device twin ``SPU`` of any netlist-described circuit (integrator arrays, the capacitive
board, a netlist read from SPICE): program it, set its inputs, run it for an analog time, read it.

It compiles the circuit to its linear SDE (:func:`~spucircuit.statespace.mna.compile_netlist`) and
runs the numba kernels of :mod:`spucircuit.integrate`; the life cycle (warm start, seeds, converters,
progress) is :class:`~spucircuit.device.base.AnalogDevice`'s. The device never writes into the
objects it is given: ``set_rhs`` changes the device's own compiled inputs.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from spucircuit.circuit.integrator_array import MappedCircuit
from spucircuit.circuit.netlist import Netlist
from spucircuit.constants import T_ROOM
from spucircuit.device.base import STEP_COST_S, AnalogDevice, RunResult, add_work, setup_cost_s  # noqa: F401  (RunResult: public here too)
from spucircuit.errors import NetlistError, StepError
from spucircuit.integrate.discretize import auto_dt, check_euler_step, discretize
from spucircuit.integrate.kernels import run
from spucircuit.integrate.transient import TransientResult, transient
from spucircuit.integrate.trapezoidal import (
    DAMP_STEPS,
    dense_form,
    discretize_trapezoidal,
    run_trapezoidal,
    use_sparse,
)
from spucircuit.numerics.matrices import as_vector
from spucircuit.statespace.inputs import input_schedule
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.model import StateSpace

MAX_SAMPLES_DEFAULT = 20_000
MAX_STEPS = 1e18  # a run of more steps is refused before counting them (its time estimate alone overflows)
CHUNK_WORK = 2e8  # multiply-adds per numba call of a long run (about 0.1-1 s)
SPARSE_STEP_COST_S = 2.0e-9  # s per non-zero of (I + hF/2), the LU factors and the noise factor, per chain-step


def chunk_steps(n: int, chains: int, save_every: int) -> int:
    """Steps per numba call: a multiple of ``save_every`` doing about CHUNK_WORK flops."""
    steps = max(1000, int(CHUNK_WORK // max(1, n * n * chains)))
    return max(save_every, steps // save_every * save_every)


class SPU(AnalogDevice):
    """Digital twin of a stochastic processing unit built from a netlist.

    Args:
        circuit: a Netlist, a MappedCircuit or any circuit with a ``.netlist`` (CapacitiveCircuit).
        temperature_k: Johnson-noise temperature, K.
        noise: include noise (Johnson + explicit sources); False gives the deterministic circuit.
        scheme: 'exponential' (default; exact in distribution for any step, alias 'exact'),
            'euler' (see :mod:`spucircuit.integrate.discretize`) or 'trapezoidal' (exact stationary
            mean and covariance at any step; sparse circuits stay sparse, see
            :mod:`spucircuit.integrate.trapezoidal`).
        dt: time step, s (default: automatic from the spectrum; for 'trapezoidal' 0.5 / the
            Gershgorin bound of the drift, a cheap bound: :mod:`spucircuit.linalg` chooses its
            trapezoidal steps from the slowest dynamics instead).
        chains: number of independent copies simulated at once.
        seed: int or None; every random draw of this device derives from it.
        dac, adc: optional input / read-out converters (mapped circuits).
    """

    def __init__(self, circuit, *, temperature_k: float = T_ROOM, noise: bool = True,
                 scheme: str = "exponential", dt: float | None = None, chains: int = 1, seed=None,
                 dac=None, adc=None):
        super().__init__(temperature_k=temperature_k, noise=noise, scheme=scheme, dt=dt, chains=chains,
                         seed=seed, dac=dac, adc=adc)
        self._user_dt = dt
        self._disc_cache: dict = {}
        self._settle = False  # trapezoidal: damp the stiff modes at the start of the next run
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
        self.ss: StateSpace = compile_netlist(netlist, self.temperature_k, noise=self.noise,
                                              sparse=self.scheme == "trapezoidal" and self._sparse_source())
        if self.ss.n == 0:
            raise NetlistError("netlist has no capacitor or inductor: the device has no state to run; a purely "
                               "resistive circuit's node voltages are algebraic (compile_netlist(...)."
                               "node_voltage_map, spu op, spu simulate)")
        self.b = None if self.mapped is None else np.array(self.mapped.b, dtype=float)
        self._disc_cache.clear()
        self.readout_map = None
        if self.mapped is not None:
            Y, Z = self.ss.node_voltage_map(self.mapped.output_nodes)
            self.readout_map = (Y, Z)
            # ideal integrator arrays read their states directly (V(x_i) = v(C_i)): skip the product
            if sp.issparse(Y):  # the sparse compile's read-out map (never densified)
                Zs = sp.csr_matrix(Z)
                self._readout_is_state = (Y.shape[0] == Y.shape[1] and Zs.nnz == 0
                                          and (Y - sp.identity(Y.shape[0])).count_nonzero() == 0)
            else:
                self._readout_is_state = (Y.shape[0] == Y.shape[1] and not np.any(Z)
                                          and np.array_equal(Y, np.eye(Y.shape[0])))
        if self._user_dt is not None:
            self.set_dt(self._user_dt)
        elif self.scheme == "trapezoidal":  # no spectrum: half the inverse Gershgorin bound of F
            self.set_dt(0.5 / self.ss.drift.gershgorin_radius())
        else:
            self.set_dt(auto_dt(self.ss, self._disc_scheme))
        self.time_s = 0.0
        add_work(0.0 if self._sparse else setup_cost_s(self.ss.n))
        self.reset()

    def _sparse_source(self) -> bool:
        """Compile sparsely (trapezoidal scheme) unless the mapped matrix is dense: sparse products
        on a dense-density drift cost O(n^3) in scipy.sparse, more than the dense compile."""
        return self.mapped is None or sp.issparse(self.mapped.A)

    @property
    def _disc_scheme(self) -> str:
        return {"exponential": "exact"}.get(self.scheme, self.scheme)

    @property
    def _sparse(self) -> bool:
        """True when the trapezoidal scheme runs on sparse factors (nothing n x n)."""
        return self.scheme == "trapezoidal" and use_sparse(self.ss)

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
        self.check_memory(self.ss.n)
        if x0 is None:
            X = np.tile(self.ss.x0, (self.chains, 1))
        else:
            try:
                x0 = np.asarray(x0, dtype=float)
                X = np.broadcast_to(x0, (self.chains, self.ss.n)).astype(float) if x0.ndim <= 2 else None
            except (TypeError, ValueError):
                X = None
            if X is None or not np.all(np.isfinite(X)):
                raise NetlistError(f"x0 must be finite with shape ({self.ss.n},) or ({self.chains}, {self.ss.n}), got shape {np.shape(x0)}")
            if self.mapped is not None:
                X = self._states_from_x(X)
        self.state = np.ascontiguousarray(X)
        self._settle = True

    @property
    def n(self) -> int:
        return self.mapped.n if self.mapped is not None else self.ss.n

    @property
    def tau_s(self) -> float | None:
        return self.mapped.tau_s if self.mapped is not None else None

    @property
    def volts_per_unit(self) -> float:
        if self.mapped is None:
            raise NetlistError("a read-out in problem units needs a MappedCircuit")
        return self.mapped.v_unit_v

    def set_input(self, name: str, value: float) -> None:
        """Set one DC source level (V or A) by element name (the device's own copy)."""
        self.ss.set_input(name, value)
        self._disc_cache.clear()
        self._settle = True

    def _input_volts(self, b) -> np.ndarray:
        if self.mapped is None:
            raise NetlistError("set_rhs needs a MappedCircuit; use set_input for a raw netlist")
        self.b = as_vector(b, self.mapped.n)
        return self.mapped.input_volts(self.b)

    def _write_inputs(self, volts) -> None:
        for nm, val in zip(self.mapped.input_sources, volts):
            self.ss.set_input(nm, float(val))
        self._disc_cache.clear()
        self._settle = True

    # --------------------------------------------------------------- running
    @property
    def inner_solve(self) -> dict | None:
        """A sparse trapezoidal run's inner solve ('direct' factor or 'amg-pcg', with its figures), else None."""
        return self._disc().inner_solve if self._sparse else None

    @property
    def discretization(self):
        """The recursion the kernels run at the current step and inputs (cached)."""
        return self._disc()

    def _disc(self):
        form = dense_form(self.chains)
        key = (self.scheme, self.dt, tuple(self.ss.inputs), form)
        d = self._disc_cache.get(key)
        if d is None and self.scheme == "trapezoidal":
            d = discretize_trapezoidal(self.ss, self.dt, noise=self.noise, form=form, chains=self.chains)
            self._disc_cache = {key: d}
        if d is None:
            d = discretize(self.ss, self.dt, self._disc_scheme, noise=self.noise)
            self._disc_cache = {key: d}
        return d

    def _step_plan(self, T, dt):
        if dt is not None and float(dt) != self.dt:
            self.set_dt(dt)
        if not T / self.dt < MAX_STEPS:
            raise StepError(f"a run of {T:.4g} s in steps of {self.dt:.4g} s needs {T / self.dt:.3g} steps, more than "
                            f"{MAX_STEPS:.0e}: shorten the time or take a larger step")
        return max(1, int(round(T / self.dt))), self.dt

    def _default_max_samples(self) -> int:
        return MAX_SAMPLES_DEFAULT

    def _run_cost_s(self, n_steps: int) -> float:
        """Dense work per chain-step, or for sparse trapezoidal factors their non-zeros."""
        if not self._sparse:
            return super()._run_cost_s(n_steps)
        a, b, _ = STEP_COST_S
        work = self._disc().work_per_chain_step
        return float(n_steps) * self.chains * (a + b * self.ss.n + SPARSE_STEP_COST_S * work)

    def _advance(self, X, n_steps, dt, save_every, seeds, meter):
        """Long runs execute as a few numba calls of ``chunk_steps`` steps each (the split depends
        only on the problem size, never on the meter, so the bits do not either). The trapezoidal
        scheme's first run after a new state or input starts with DAMP_STEPS damped steps."""
        disc = self._disc()
        trap = self.scheme == "trapezoidal"
        damp = DAMP_STEPS if trap and self._settle else 0
        self._settle = False
        chunk = chunk_steps(int(np.sqrt(disc.work_per_chain_step)) if trap else self.ss.n, self.chains, save_every)
        bounds = list(range(0, n_steps, chunk)) + [n_steps]
        ss = seeds if isinstance(seeds, np.random.SeedSequence) else np.random.SeedSequence(seeds)
        chunk_seeds = [int(c.generate_state(1)[0]) for c in ss.spawn(len(bounds) - 1)]
        parts, xsum = [], np.zeros_like(X)
        meter.start(n_steps, "step", "analog run")
        for k in range(len(bounds) - 1):
            steps = bounds[k + 1] - bounds[k]
            if trap:
                X, smp, xs = run_trapezoidal(disc, X, steps, save_every, chunk_seeds[k], damp if k == 0 else 0)
            else:
                X, smp, xs = run(disc, X, steps, save_every, chunk_seeds[k])
            parts.append(smp)
            xsum += xs
            meter.update(steps)
        meter.close()
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return X, samples, xsum

    def run_transient(self, times, waveforms: dict, *, tstep: float | None = None, tmax: float | None = None,
                      seed=None) -> TransientResult:
        """Run with time-dependent inputs from the current state (at t = 0) to ``max(times)``.

        ``waveforms`` maps source names to :mod:`spucircuit.circuit.waveforms` (``Pulse``, ``Pwl``,
        ...; SPICE defaults resolved with ``tstep``, default the first spacing of ``times``, and the
        last time); the other sources keep their levels. Exact for piecewise-linear inputs with the
        'exponential' scheme, steps onto every breakpoint (:mod:`spucircuit.integrate.transient`).
        Returns the states at ``times`` (``states``: (len(times), chains, n)) and leaves the device
        in the state at the last time, its inputs at the waveforms' final values."""
        if self.scheme not in ("exponential", "trapezoidal"):
            raise StepError(f"run_transient takes the 'exponential' or 'trapezoidal' scheme, not {self.scheme!r}")
        t = np.asarray(times, dtype=float).ravel()
        if not (t.size and np.all(np.isfinite(t)) and np.all(t >= 0) and t.max() > 0):
            raise StepError("times must be finite, >= 0 and not all 0")
        t_end = float(t.max())
        if tstep is None:
            d = np.diff(np.unique(t))
            tstep = float(d[0]) if d.size else t_end
        sched = input_schedule(self.ss, waveforms, tstep, t_end)
        seeds = seed if seed is not None else self._seedseq.spawn(1)[0]
        ssq = seeds if isinstance(seeds, np.random.SeedSequence) else np.random.SeedSequence(seeds)
        scheme = "exact" if self.scheme == "exponential" else "trapezoidal"
        runs = [transient(self.ss, sched, self.state[c], t, t_end=t_end, scheme=scheme, tmax=tmax, noise=self.noise,
                          seed=child) for c, child in enumerate(ssq.spawn(self.chains))]
        states = np.stack([r.states for r in runs], axis=1)
        self.state = np.ascontiguousarray(states[int(np.argmax(t))])
        for i, nm in zip(sched.index, sched.names):
            self.ss.set_input(nm, float(sched.full([t_end])[0, i]))
        self._disc_cache.clear()
        self._settle = True
        self.time_s += t_end
        r0 = runs[0]
        return TransientResult(t=t, states=states, inputs=r0.inputs, n_steps=r0.n_steps, n_lengths=r0.n_lengths,
                               h_max=r0.h_max)

    # --------------------------------------------------------------- readout
    def _readout_fn(self):
        return None if self.mapped is None else self.x_from_states

    def x_from_states(self, states):
        """Problem-unit readout x = V(output nodes) / v_unit, V = Y states + Z u (mapped only)."""
        if self.mapped is None:
            raise NetlistError("x readout needs a MappedCircuit")
        Y, Z = self.readout_map
        if self._readout_is_state:
            return self.mapped.x_from_volts(np.asarray(states))
        v = np.asarray(states) @ Y.T + Z @ self.ss.inputs
        return self.mapped.x_from_volts(v)

    def _states_from_x(self, X):
        Y, Z = self.readout_map
        v = self.mapped.volts_from_x(X) - Z @ self.ss.inputs
        if self._readout_is_state:
            return v
        if sp.issparse(Y):
            return np.asarray(spla.spsolve(sp.csc_matrix(Y), v.T)).reshape(v.T.shape).T
        return np.linalg.solve(Y, v.T).T
