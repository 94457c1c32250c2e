"""SPICE's ``.tran TSTEP TSTOP [TSTART [TMAX]]`` on the twin: a netlist with time-dependent sources
(or any netlist, noise on or off) from its start state to TSTOP.

As SPICE means it: the output is the TSTEP grid from TSTART (TSTART, TSTART + TSTEP, ..., and TSTOP),
the internal step is chosen for accuracy (:mod:`spucircuit.integrate.transient`: exact for
piecewise-linear inputs, onto every breakpoint) and never forced to TSTEP; TMAX, when given, caps it.
Policy for long grids: more than ``max_points`` grid times are thinned to every k-th grid time
(k the smallest that fits) plus TSTOP, and :class:`TranRun` reports k (``stride``); ngspice itself
writes its internal points, or the TSTEP grid with ``linearize``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from spucircuit.circuit.netlist import Netlist
from spucircuit.constants import T_ROOM
from spucircuit.device import base as device_base
from spucircuit.errors import StepError
from spucircuit.integrate.transient import TransientResult, transient
from spucircuit.statespace.inputs import input_schedule
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.model import StateSpace
from spucircuit.statespace.operating_point import initial_state as op_initial_state
from spucircuit.statespace.operating_point import spice_uic

__all__ = ["TranRun", "tran_output_times", "initial_state", "run_tran", "TRAN_SCHEMES"]

TRAN_SCHEMES = {"exponential": "exact", "exact": "exact", "trapezoidal": "trapezoidal"}
MAX_OUTPUT_POINTS = 100_000_000  # output times of one run without thinning
MAX_STEPS = 1e18  # a grid or step count above this is refused before counting (its estimate alone overflows)


@dataclass
class TranRun:
    """A .tran run: output times ``t`` (s), ``states`` (len(t), n), ``inputs`` (len(t), n_inputs: the
    source levels at each output time), node voltages ``v`` (len(t), len(nodes)) of ``nodes``, the
    compiled ``ss``, the grid ``stride`` (1: every TSTEP point) and the integrator's counts."""

    t: np.ndarray
    states: np.ndarray
    inputs: np.ndarray
    v: np.ndarray
    nodes: list
    ss: StateSpace
    stride: int
    result: TransientResult


def tran_output_times(tstep: float, tstop: float, tstart: float = 0.0, max_points: int | None = None):
    """The TSTEP grid from TSTART to TSTOP (TSTOP included), thinned to at most about ``max_points``
    times by keeping every k-th: (times, k)."""
    if not (math.isfinite(tstep) and tstep > 0 and math.isfinite(tstop) and 0 <= tstart < tstop):
        raise StepError(f".tran needs finite tstep > 0 and 0 <= tstart < tstop, got {tstep!r}, {tstop!r}, {tstart!r}")
    if not (tstop - tstart) / tstep < MAX_STEPS:
        raise StepError(f"a run of {tstop:.4g} s in steps of {tstep:.4g} s needs {(tstop - tstart) / tstep:.3g} steps, "
                        f"more than {MAX_STEPS:.0e}: shorten the time or take a larger step")
    n = math.floor((tstop - tstart) / tstep * (1 + 1e-12))  # grid intervals
    k = 1
    if max_points is None and n + 1 > MAX_OUTPUT_POINTS:
        raise StepError(f".tran {tstep:g} {tstop:g} has {n + 1:.3g} output times, more than {MAX_OUTPUT_POINTS:.0e}: "
                        "give max_points to keep every k-th")
    if max_points is not None and n + 1 > max_points:
        k = math.ceil((n + 1) / max(1, max_points - 1))
    j = np.arange(0, n + 1, k, dtype=float)
    t = tstart + tstep * j
    t = t[t <= tstop * (1 + 1e-12)]
    if tstop - t[-1] > 1e-9 * tstep:
        t = np.append(t, tstop)
    t[-1] = min(t[-1], tstop)
    return t, k


def initial_state(ss: StateSpace, netlist: Netlist, tran: dict | None = None, u0=None) -> np.ndarray:
    """The state at t = 0 of a .tran run, with SPICE's semantics
    (:func:`spucircuit.statespace.operating_point.initial_state`): with ``uic`` the elements' initial
    conditions, else the DC operating point at the sources' t = 0 values ``u0`` (default ``ss.inputs``;
    as in SPICE, a time-dependent source enters the transient's operating point at its value at t = 0)."""
    uic = bool(tran.get("uic")) if isinstance(tran, dict) else None
    if u0 is None or uic or (uic is None and spice_uic(netlist)):
        return op_initial_state(ss, netlist, uic)
    ss0 = dataclasses.replace(ss, inputs=np.asarray(u0, dtype=float).reshape(-1))
    return op_initial_state(ss0, netlist, False)


def run_tran(netlist: Netlist, tstep: float, tstop: float, tstart: float = 0.0, tmax: float | None = None, *,
             scheme: str = "exponential", noise: bool = False, temperature_k: float = T_ROOM, seed=None,
             max_points: int | None = None, nodes=None, tran: dict | None = None, ss: StateSpace | None = None,
             max_run_s: float | None = None, max_memory_bytes: float | None = None) -> TranRun:
    """Run ``netlist`` as ``.tran tstep tstop tstart tmax``: its waveforms (``netlist.waveforms``) resolved
    with tstep and tstop, node voltages of ``nodes`` (default: all) on the output grid.

    Before stepping, the run's estimated computing (internal steps x the per-step cost of
    :func:`spucircuit.device.base.run_cost_s`) and memory (output and per-step arrays) are checked
    against ``max_run_s`` / ``max_memory_bytes`` (default: the device limits, ``--max-run-time`` /
    ``--max-memory``); above either, StepError before anything is allocated."""
    if scheme not in TRAN_SCHEMES:
        raise StepError(f"a .tran run takes the scheme 'exponential' (alias 'exact') or 'trapezoidal', got {scheme!r}")
    if tmax is not None and math.isfinite(tmax) and tmax > 0 and not tstop / tmax < MAX_STEPS:
        raise StepError(f"a run of {tstop:.4g} s in steps of at most {tmax:.4g} s needs {tstop / tmax:.3g} steps, more "
                        f"than {MAX_STEPS:.0e}: shorten the time or take a larger step")
    t_out, stride = tran_output_times(tstep, tstop, tstart, max_points)
    if ss is None:
        ss = compile_netlist(netlist, temperature_k, noise=noise)
    sched = input_schedule(ss, netlist.waveforms, tstep, tstop)
    x0 = initial_state(ss, netlist, tran, u0=sched.full(0.0)[0])
    nodes = list(netlist.node_names[1:]) if nodes is None else list(nodes)
    lim_s = device_base.MAX_RUN_S if max_run_s is None else float(max_run_s)
    lim_b = device_base.MAX_MEMORY_BYTES if max_memory_bytes is None else float(max_memory_bytes)
    n_in = int(ss.inputs.size)

    def check(n_steps: float, n_varying: int) -> None:
        est = device_base.run_cost_s(n_steps, 1, ss.n)
        if est > lim_s:
            raise StepError(f"this .tran run needs {n_steps:.3g} internal steps (n = {ss.n}), about {est:.3g} s of "
                            f"computing, above the limit of {lim_s:.3g} s: shorten the time, take a larger TMAX "
                            "(--dt), or raise the limit (--max-run-time)")
        # per step: start/end times, indices and the varying inputs at both ends; per output time: the
        # states (twice: kernel and ordered copy), inputs and node voltages
        mem = 8.0 * (n_steps * (6 + 2 * (n_varying + 1)) + t_out.size * (2 * ss.n + n_in + len(nodes)))
        if mem > lim_b:
            raise StepError(f"this .tran run needs about {mem / 1e9:.3g} GB ({n_steps:.3g} internal steps, "
                            f"{t_out.size} output times x {ss.n} states), above the limit of {lim_b / 1e9:.3g} GB: "
                            "use fewer samples (--max-samples), a shorter time, or raise the limit (--max-memory)")
        device_base.add_work(est)

    res = transient(ss, sched, x0, t_out, t_end=tstop, scheme=TRAN_SCHEMES[scheme], tmax=tmax, noise=noise,
                    seed=seed, check=check)
    Y, Z = ss.node_voltage_map(nodes)
    Y = Y.toarray() if hasattr(Y, "toarray") else np.asarray(Y)
    Z = Z.toarray() if hasattr(Z, "toarray") else np.asarray(Z)
    with np.errstate(invalid="ignore", over="ignore"):
        v = res.states @ Y.T + res.inputs @ Z.T
    return TranRun(t=res.t, states=res.states, inputs=res.inputs, v=v, nodes=nodes, ss=ss, stride=stride, result=res)
