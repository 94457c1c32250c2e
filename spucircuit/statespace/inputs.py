"""The compiled inputs u(t) of a circuit whose sources follow waveforms (SPICE's PULSE, SIN, ...).

:func:`input_schedule` maps a netlist's waveforms (``Netlist.waveforms``, source name -> waveform)
onto the input vector of its :class:`~spucircuit.statespace.model.StateSpace`: the entries of the
time-varying sources (``index``) follow their waveforms, resolved with the analysis' TSTEP and
TSTOP; every other entry stays at its DC level ``ss.inputs``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spucircuit.circuit.source_lines import locating
from spucircuit.errors import NetlistError
from spucircuit.statespace.model import StateSpace

__all__ = ["InputSchedule", "input_schedule"]


@dataclass(frozen=True)
class InputSchedule:
    """u(t) = ``base`` with the entries ``index`` replaced by ``waveforms[i].value(t)``."""

    base: np.ndarray
    index: np.ndarray
    waveforms: tuple
    names: tuple

    @property
    def piecewise_linear(self) -> bool:
        return all(w.piecewise_linear for w in self.waveforms)

    def values(self, t, side: str = "left") -> np.ndarray:
        """The varying inputs at times ``t``, shape (len(t), len(index)); ``side`` picks the value
        before ('left') or after ('right') a jump at exactly t."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((t.size, len(self.waveforms)))
        for k, w in enumerate(self.waveforms):
            out[:, k] = w.value(t, side=side)
        return out

    def full(self, t, side: str = "left") -> np.ndarray:
        """The whole input vector at times ``t``, shape (len(t), n_inputs)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        U = np.tile(self.base, (t.size, 1))
        if len(self.index):
            U[:, self.index] = self.values(t, side)
        return U

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        parts = [w.breakpoints(t0, t1) for w in self.waveforms]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0)

    def max_step(self, rtol: float) -> float:
        """Longest step whose straight-line input stays within ``rtol`` of every smooth waveform."""
        return min((w.max_step(rtol) for w in self.waveforms), default=math.inf)


@locating
def input_schedule(ss: StateSpace, waveforms: dict, tstep: float, tstop: float) -> InputSchedule:
    """The inputs of ``ss`` with ``waveforms`` (source name -> waveform, e.g. ``netlist.waveforms``)
    resolved for ``.tran tstep tstop``."""
    pos = {nm.lower(): i for i, nm in enumerate(ss.input_names)}
    idx, wfs, names = [], [], []
    for name, wf in (waveforms or {}).items():
        i = pos.get(str(name).lower())
        if i is None:
            raise NetlistError(f"waveform for {name!r}, but the circuit has no independent source of that name; "
                               f"its sources are {list(ss.input_names)}")
        why = (getattr(ss, "dc_only_inputs", None) or {}).get(ss.input_names[i])
        if why is not None:
            raise NetlistError(f"time-dependent source {name!r}: {why}, and the compile keeps only its DC level "
                               "there (its time derivative is dropped): not supported (a resistor that breaks the "
                               "capacitor loop or gives the inductor's node another path lifts it)")
        idx.append(i)
        wfs.append(wf.resolve(tstep, tstop))
        names.append(ss.input_names[i])
    return InputSchedule(np.array(ss.inputs, dtype=float), np.array(idx, dtype=np.int64), tuple(wfs), tuple(names))
