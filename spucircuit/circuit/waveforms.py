"""Time-dependent source values: SPICE's PULSE, SIN, EXP, PWL, SFFM and AM as frozen dataclasses.

A waveform keeps its SPICE arguments as given (``None`` where the card left one out); the defaults
that depend on the analysis, TSTEP and TSTOP of ``.tran``, are filled by :meth:`resolve` (ngspice
39's rules, ``vsrcload.c``: a PULSE rise or fall time given as 0 also takes TSTEP, a width or period
given as 0 takes TSTOP). A resolved waveform has

* ``value(t)``: the source level at times ``t`` (vectorised, V or A);
* ``breakpoints(t0, t1)``: the times in [t0, t1] where it has a kink or a jump (an integrator
  steps exactly onto them);
* ``max_step(rtol)``: the longest step over which the straight line between the end values stays
  within ``rtol`` of the amplitude (|u - chord| <= h^2/8 max|u''|); ``inf`` for piecewise-linear
  waveforms (PULSE, PWL), which are straight between their breakpoints.

``initial_value()`` is the level at t = 0, what SPICE uses for the operating point when the card
gives no DC value; it needs no resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from spucircuit.errors import NetlistError

__all__ = ["Pulse", "Sin", "Exp", "Pwl", "Sffm", "Am", "Waveform", "WAVEFORMS", "MAX_BREAKPOINTS"]

MAX_BREAKPOINTS = 10_000_000  # a waveform with more kinks in the run is refused (memory)


def _finite(name: str, **vals) -> None:
    for k, v in vals.items():
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise NetlistError(f"{name}: {k} must be a finite number, got {v!r}")


class Waveform:
    """Common interface (see the module docstring). Subclasses are frozen dataclasses."""

    kind = ""
    piecewise_linear = False

    def spice_args(self) -> list:
        """The card's positional arguments (trailing defaults left out), for the writer."""
        vals = [getattr(self, f.name) for f in fields(self)]
        while vals and vals[-1] is None:
            vals.pop()
        if any(v is None for v in vals):  # an inner default: SPICE spells it 0 (ngspice's "take the default")
            vals = [0.0 if v is None else v for v in vals]
        return vals

    def resolved(self) -> bool:
        return all(getattr(self, f.name) is not None for f in fields(self))

    def _need_resolved(self):
        if not self.resolved():
            raise NetlistError(f"{self.kind} waveform has SPICE defaults that depend on the analysis: "
                               "call resolve(tstep, tstop) first")

    def max_step(self, rtol: float) -> float:
        return math.inf

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        return np.empty(0)


def _check_times(name: str, tstep: float, tstop: float):
    if not (math.isfinite(tstep) and tstep > 0 and math.isfinite(tstop) and tstop > 0):
        raise NetlistError(f"{name}: resolve needs finite tstep > 0 and tstop > 0, got {tstep!r}, {tstop!r}")


@dataclass(frozen=True)
class Pulse(Waveform):
    """PULSE(V1 V2 TD TR TF PW PER NP): V1 until TD, a ramp of TR to V2, V2 for PW, a ramp of TF back
    to V1, repeated every PER (NP times if given). Defaults TD 0, TR = TF = TSTEP, PW = PER = TSTOP."""

    v1: float
    v2: float
    td: float | None = None
    tr: float | None = None
    tf: float | None = None
    pw: float | None = None
    per: float | None = None
    np: float | None = None
    kind = "PULSE"
    piecewise_linear = True

    def __post_init__(self):
        _finite("PULSE", v1=self.v1, v2=self.v2, td=self.td, tr=self.tr, tf=self.tf, pw=self.pw, per=self.per,
                np=self.np)
        for k in ("td", "tr", "tf", "pw", "per", "np"):
            v = getattr(self, k)
            if v is not None and v < 0:
                raise NetlistError(f"PULSE: {k} must be >= 0, got {v!r}")

    def resolve(self, tstep: float, tstop: float) -> "Pulse":
        _check_times("PULSE", tstep, tstop)

        def nz(v, d):
            return d if v is None or v == 0 else v

        return replace(self, td=self.td or 0.0, tr=nz(self.tr, tstep), tf=nz(self.tf, tstep), pw=nz(self.pw, tstop),
                       per=nz(self.per, tstop), np=self.np if self.np is not None else 0.0)

    def initial_value(self) -> float:
        return float(self.v1)

    def value(self, t, side: str = "left") -> np.ndarray:  # continuous: both sides agree
        self._need_resolved()
        t = np.asarray(t, dtype=float) - self.td
        k = np.where(t > self.per, np.floor(t / self.per), 0.0)  # ngspice: repeat once past the first period
        tt = t - k * self.per
        tr, pw, tf = self.tr, self.pw, self.tf
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where((tt <= 0) | (tt >= tr + pw + tf), self.v1,
                         np.where((tt >= tr) & (tt <= tr + pw), self.v2,
                                  np.where(tt < tr, self.v1 + (self.v2 - self.v1) * tt / tr,
                                           self.v2 + (self.v1 - self.v2) * (tt - tr - pw) / tf)))
        if self.np > 0:  # only NP pulses
            v = np.where(k >= self.np, self.v1, v)
        return v

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        self._need_resolved()
        offs = np.array([0.0, self.tr, self.tr + self.pw, self.tr + self.pw + self.tf])
        k0 = max(0, int(math.floor((t0 - self.td) / self.per)) - 1)
        k1 = int(math.floor((t1 - self.td) / self.per)) + 1
        if self.np > 0:
            k1 = min(k1, int(math.ceil(self.np)) - 1)
        if k1 < k0:
            return np.empty(0)
        if (k1 - k0 + 1) * 4 > MAX_BREAKPOINTS:
            raise NetlistError(f"PULSE with period {self.per:g} s has {(k1 - k0 + 1) * 4:.3g} corners in "
                               f"[{t0:g}, {t1:g}] s, more than {MAX_BREAKPOINTS:.0e}: shorten the run")
        b = (self.td + self.per * np.arange(k0, k1 + 1)[:, None] + offs[None, :]).ravel()
        return np.unique(b[(b >= t0) & (b <= t1)])


@dataclass(frozen=True)
class Sin(Waveform):
    """SIN(VO VA FREQ TD THETA PHASE): VO + VA sin(phase) until TD, then
    VO + VA exp(-(t - TD) THETA) sin(2 pi FREQ (t - TD) + PHASE). FREQ defaults to 1/TSTOP, PHASE in degrees."""

    vo: float
    va: float
    freq: float | None = None
    td: float | None = None
    theta: float | None = None
    phase: float | None = None
    kind = "SIN"

    def __post_init__(self):
        _finite("SIN", vo=self.vo, va=self.va, freq=self.freq, td=self.td, theta=self.theta, phase=self.phase)
        if self.freq is not None and self.freq < 0:
            raise NetlistError(f"SIN: freq must be >= 0, got {self.freq!r}")
        if self.td is not None and self.td < 0:
            raise NetlistError(f"SIN: td must be >= 0, got {self.td!r}")

    def resolve(self, tstep: float, tstop: float) -> "Sin":
        _check_times("SIN", tstep, tstop)
        return replace(self, freq=self.freq or 1.0 / tstop, td=self.td or 0.0, theta=self.theta or 0.0,
                       phase=self.phase or 0.0)

    def initial_value(self) -> float:
        return float(self.vo + self.va * math.sin(math.radians(self.phase or 0.0)))

    def value(self, t, side: str = "left") -> np.ndarray:  # continuous: both sides agree
        self._need_resolved()
        t = np.asarray(t, dtype=float) - self.td
        ph = math.radians(self.phase)
        tp = np.maximum(t, 0.0)
        with np.errstate(over="ignore"):
            v = self.vo + self.va * np.sin(2 * math.pi * self.freq * tp + ph) * np.exp(-tp * self.theta)
        return np.where(t <= 0, self.vo + self.va * math.sin(ph), v)

    def max_step(self, rtol: float) -> float:
        self._need_resolved()
        rate = 2 * math.pi * self.freq + abs(self.theta)  # |u''| <= VA (w + |theta|)^2 (times the decay)
        return math.sqrt(8.0 * rtol) / rate if rate > 0 and self.va != 0 else math.inf

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        self._need_resolved()
        return np.array([self.td]) if t0 <= self.td <= t1 and self.td > 0 else np.empty(0)


@dataclass(frozen=True)
class Exp(Waveform):
    """EXP(V1 V2 TD1 TAU1 TD2 TAU2): V1 until TD1, then a rise towards V2 with TAU1, from TD2 a decay
    back with TAU2. Defaults (ngspice 39, not its manual's TD1 = 0): TD1 = TAU1 = TAU2 = TSTEP, TD2 = TD1 + TSTEP."""

    v1: float
    v2: float
    td1: float | None = None
    tau1: float | None = None
    td2: float | None = None
    tau2: float | None = None
    kind = "EXP"

    def __post_init__(self):
        _finite("EXP", v1=self.v1, v2=self.v2, td1=self.td1, tau1=self.tau1, td2=self.td2, tau2=self.tau2)
        for k in ("td1", "tau1", "td2", "tau2"):
            v = getattr(self, k)
            if v is not None and v < 0:
                raise NetlistError(f"EXP: {k} must be >= 0, got {v!r}")

    def resolve(self, tstep: float, tstop: float) -> "Exp":
        _check_times("EXP", tstep, tstop)
        td1 = self.td1 or tstep  # ngspice: TD1 given as 0 or left out is TSTEP
        return replace(self, td1=td1, tau1=self.tau1 or tstep, td2=self.td2 or td1 + tstep, tau2=self.tau2 or tstep)

    def initial_value(self) -> float:
        return float(self.v1)

    def value(self, t, side: str = "left") -> np.ndarray:  # continuous: both sides agree
        self._need_resolved()
        t = np.asarray(t, dtype=float)
        d = self.v2 - self.v1
        with np.errstate(over="ignore"):
            rise = d * -np.expm1(-np.maximum(t - self.td1, 0.0) / self.tau1)
            fall = -d * -np.expm1(-np.maximum(t - self.td2, 0.0) / self.tau2)
        return self.v1 + np.where(t <= self.td1, 0.0, rise) + np.where(t <= self.td2, 0.0, fall)

    def max_step(self, rtol: float) -> float:
        self._need_resolved()
        return math.sqrt(8.0 * rtol) * min(self.tau1, self.tau2) if self.v1 != self.v2 else math.inf

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        self._need_resolved()
        b = np.array([self.td1, self.td2])
        return np.unique(b[(b >= t0) & (b <= t1)])


@dataclass(frozen=True)
class Pwl(Waveform):
    """PWL(T1 V1 T2 V2 ...) [r=R] [td=TD]: straight lines between the points, V1 before T1 and the last
    value after the last time; ``td`` delays the whole waveform; ``r`` (one of the times, before the
    last) repeats the part from R to the last time for ever (ngspice: past the last time the value
    jumps back to the value at R). Times must not decrease."""

    times: tuple
    values: tuple
    td: float = 0.0
    r: float | None = None
    kind = "PWL"
    piecewise_linear = True

    def __post_init__(self):
        t = np.asarray(self.times, dtype=float)
        v = np.asarray(self.values, dtype=float)
        if t.ndim != 1 or t.shape != v.shape or t.size == 0:
            raise NetlistError("PWL needs pairs of time and value (at least one pair)")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v)) and math.isfinite(self.td)):
            raise NetlistError("PWL times and values must be finite")
        if t[0] < 0 or np.any(np.diff(t) < 0):
            raise NetlistError("PWL times must be >= 0 and must not decrease")
        if self.r is not None and not (math.isfinite(self.r) and self.r < t[-1] and np.any(t == self.r)):
            raise NetlistError(f"PWL r={self.r!r} must be one of its times before the last ({float(t[-1])!r})")

    def resolve(self, tstep: float, tstop: float) -> "Pwl":
        return self

    def spice_args(self) -> list:
        return [x for pair in zip(self.times, self.values) for x in pair]

    def initial_value(self) -> float:
        return float(self.value(0.0))

    def _local(self, t, side):
        """Time within the first pass of the points (repeats folded back onto [r, last])."""
        t = np.asarray(t, dtype=float) - self.td
        if self.r is None:
            return t
        last = float(self.times[-1])
        P = last - self.r
        u = t - last
        k = np.round(u / P)
        # on a repeat boundary (to rounding): the last value before it ('left'), the value at r after it ('right')
        edge = (k >= 0) & (np.abs(u - k * P) <= 1e-12 * np.maximum(np.abs(t), P))
        folded = np.where(edge, last if side == "left" else self.r, self.r + np.mod(u, P))
        return np.where((u > 0) | edge, folded, t)

    def value(self, t, side: str = "left") -> np.ndarray:
        """Values at ``t``; at a jump (two points at one time) the value before it (``side='left'``, as
        ngspice prints it) or after it (``side='right'``, what a step starting there integrates)."""
        t = self._local(t, side)
        tt, vv = np.asarray(self.times, float), np.asarray(self.values, float)
        j = np.searchsorted(tt, t, side=side)
        lo = np.clip(j - 1, 0, tt.size - 1)
        hi = np.clip(j, 0, tt.size - 1)
        h = tt[hi] - tt[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.clip(np.where(h > 0, (t - tt[lo]) / np.where(h > 0, h, 1.0), 0.0), 0.0, 1.0)
        return np.where(j == 0, vv[0], vv[lo] + w * (vv[hi] - vv[lo]))

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        tt = np.asarray(self.times, float)
        b = tt + self.td
        if self.r is not None:
            last = float(tt[-1])
            P = last - self.r
            k1 = math.floor((t1 - self.td - last) / P) + 1
            seg = tt[tt >= self.r] - self.r  # offsets within one repeat, 0 .. P
            if k1 >= 1:
                k0 = max(1, math.floor((t0 - self.td - last) / P))
                if (k1 - k0 + 1) * seg.size > MAX_BREAKPOINTS:
                    raise NetlistError(f"PWL repeating every {P:g} s has {(k1 - k0 + 1) * seg.size:.3g} corners in "
                                       f"[{t0:g}, {t1:g}] s, more than {MAX_BREAKPOINTS:.0e}: shorten the run")
                k = np.arange(k0, k1 + 1, dtype=float)
                b = np.concatenate([b, (self.td + last + (k[:, None] - 1) * P + seg[None, :]).ravel()])
        return np.unique(b[(b >= t0) & (b <= t1)])


@dataclass(frozen=True)
class Sffm(Waveform):
    """SFFM(VO VA FC MDI FS): VO + VA sin(2 pi FC t + MDI sin(2 pi FS t)); FC and FS default to 1/TSTOP."""

    vo: float
    va: float
    fc: float | None = None
    mdi: float | None = None
    fs: float | None = None
    kind = "SFFM"

    def __post_init__(self):
        _finite("SFFM", vo=self.vo, va=self.va, fc=self.fc, mdi=self.mdi, fs=self.fs)
        for k in ("fc", "fs"):
            v = getattr(self, k)
            if v is not None and v < 0:
                raise NetlistError(f"SFFM: {k} must be >= 0, got {v!r}")

    def resolve(self, tstep: float, tstop: float) -> "Sffm":
        _check_times("SFFM", tstep, tstop)
        return replace(self, fc=self.fc or 1.0 / tstop, mdi=self.mdi or 0.0, fs=self.fs or 1.0 / tstop)

    def initial_value(self) -> float:
        return float(self.vo)

    def value(self, t, side: str = "left") -> np.ndarray:  # continuous: both sides agree
        self._need_resolved()
        t = np.asarray(t, dtype=float)
        return self.vo + self.va * np.sin(2 * math.pi * self.fc * t + self.mdi * np.sin(2 * math.pi * self.fs * t))

    def max_step(self, rtol: float) -> float:
        self._need_resolved()
        rate = 2 * math.pi * (self.fc + abs(self.mdi) * self.fs)  # the instantaneous angular frequency bound
        return math.sqrt(8.0 * rtol) / rate if rate > 0 and self.va != 0 else math.inf


@dataclass(frozen=True)
class Am(Waveform):
    """AM(VA VO MF FC [TD]): 0 until TD, then VA (VO + sin(2 pi MF (t - TD))) sin(2 pi FC (t - TD)) (ngspice
    39; its optional phase arguments are not read)."""

    va: float
    vo: float
    mf: float
    fc: float
    td: float | None = None
    kind = "AM"

    def __post_init__(self):
        _finite("AM", va=self.va, vo=self.vo, mf=self.mf, fc=self.fc, td=self.td)
        for k in ("mf", "fc", "td"):
            v = getattr(self, k)
            if v is not None and v < 0:
                raise NetlistError(f"AM: {k} must be >= 0, got {v!r}")

    def resolve(self, tstep: float, tstop: float) -> "Am":
        _check_times("AM", tstep, tstop)
        return replace(self, td=self.td or 0.0)

    def initial_value(self) -> float:
        return 0.0

    def value(self, t, side: str = "left") -> np.ndarray:  # continuous: both sides agree
        self._need_resolved()
        tt = np.asarray(t, dtype=float) - self.td
        v = self.va * (self.vo + np.sin(2 * math.pi * self.mf * tt)) * np.sin(2 * math.pi * self.fc * tt)
        return np.where(tt <= 0, 0.0, v)

    def max_step(self, rtol: float) -> float:
        self._need_resolved()
        rate = 2 * math.pi * (self.fc + self.mf)  # |u''| <= VA (|VO| + 1) (wc + wm)^2
        return math.sqrt(8.0 * rtol) / rate if rate > 0 and self.va != 0 else math.inf

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        self._need_resolved()
        return np.array([self.td]) if t0 <= self.td <= t1 and self.td > 0 else np.empty(0)


WAVEFORMS = {"pulse": Pulse, "sin": Sin, "exp": Exp, "pwl": Pwl, "sffm": Sffm, "am": Am}
