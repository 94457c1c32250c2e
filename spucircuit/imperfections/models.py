"""Imperfect devices: non-idealities applied to the *component values* of a netlist.

A device instance is the nominal circuit (an :func:`~spucircuit.mapping.integrator_array`) plus
one seeded draw of imperfections. Imperfections never touch the ideal matrix: each one rewrites
component values (or inserts elements) in a copy of the netlist, and the compiler turns the
perturbed netlist into the drift the twin simulates.

Each imperfection is a small frozen dataclass with one pure method, in the spirit of optax::

    apply(build: Build, key: DeviceKey) -> Build        # never mutates its input

and they compose with :func:`chain`. ``Build`` holds the (perturbed) mapped circuit plus the parts
of a device that are not netlist elements (temperature, DAC, ADC) and a log of what was applied.
``DeviceKey`` is a counter-based random key (like a JAX PRNG key): every random number is a hash
of (seed, position in the chain, tag, element name), so a resistor's fabrication error depends
only on the device seed and the resistor's name -- not on the order of elements, on which other
elements exist, or on how often the device was reprogrammed. That is what makes a device
*instance*: program it with another matrix (or with calibrated, pre-distorted values) and the
same physical resistor keeps the same error.

Models (SI units; ``pct`` is percent):

=====================  ===================================================================
``ResistorBank``        b-bit programmable resistors over [r_min, r_max]: levels uniform in
                        conductance (default), in resistance, or log-spaced; ``nearest`` or
                        ``stochastic`` rounding. Stochastic rounding picks the upper/lower
                        level with the probability that makes E[G] = G_target (``unbiased=
                        'conductance'``, default) or E[R] = R_target. The matrix entry is
                        A_ij = +-G_ij / g_unit, *linear in conductance*, so only conductance-
                        unbiased rounding gives E[A_k] = A; resistance-unbiased rounding leaves
                        a Jensen bias E[1/R] - 1/E[R] ~ var(R)/R^3 in every entry.
``CapacitorBank``       b-bit capacitors over [c_min, c_max] (linear or log levels).
``Tolerance``           fabrication tolerance, value *= (1 + d) per component, fixed per device;
                        d ~ N(0, (pct/100)^2) (``gaussian``: pct is one sigma) or U(-pct, pct)%.
``DAC`` / ``ADC``       b-bit converters with full scale +-fs (2^b - 1 symmetric levels). The DAC
                        quantises the input voltage sources (component values); the ADC quantises
                        every read-out sample and *counts* clipping (result fields and a
                        :class:`ClippingWarning`, never silent).
``Thermal``             temperature (Johnson noise) and resistor temperature coefficients.
``InjectedNoise``       extra white noise current at every summing node.
``OpAmpGain``           finite open-loop gain (optionally spread per op-amp).
``OpAmpOffset``         input offset: a DC voltage source in series with the non-inverting input.
``OpAmpBandwidth``      single-pole op-amp macromodel (gm stage, pole RC, ideal follower, R_out).
``Parasitics``          capacitance from summing / output nodes to ground. Needs the macromodel:
                        with memoryless op-amps the summing node voltage is an algebraic function
                        of the states and the compiler (rightly) rejects the circuit as singular.
=====================  ===================================================================
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import re
import warnings
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy.special import ndtri

from spucircuit.statespace.mna import StateSpace, compile_netlist
from spucircuit.constants import C_DEFAULT, R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.device.spu import SPU, RunResult
from spucircuit.errors import NetlistError, SPUError
from spucircuit.circuit.integrator_array import MappedCircuit, integrator_array
from spucircuit.circuit.netlist import Netlist
from spucircuit.numerics.stats import cov_and_se, mean_and_se
from spucircuit.numerics.matrices import as_vector

__all__ = [
    "DeviceKey", "Build", "Imperfection", "Chain", "chain", "ResistorBank", "CapacitorBank",
    "Tolerance", "Converter", "DAC", "ADC", "Thermal", "InjectedNoise", "OpAmpGain", "OpAmpOffset",
    "OpAmpBandwidth", "Parasitics", "Device", "ImperfectSPU", "DeviceRunResult", "EffectiveSystem",
    "ClippingWarning", "device_solve", "device_inv", "effective_system", "coupling_matrix",
]

COUPLING = r"R\d+_\d+"  # the programmable coupling array of an integrator array
_COUPLING_RE = re.compile(r"^R(\d+)_(\d+)$", re.IGNORECASE)


class ClippingWarning(UserWarning):
    """A converter clipped: some values were outside its full-scale range (counts in the result)."""


# =====================================================================================  keys
def _entropy(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.SeedSequence):
        ent = seed.entropy if isinstance(seed.entropy, int) else int(np.asarray(seed.entropy).sum())
        return int(ent) * 1_000_003 + hash(tuple(seed.spawn_key)) % 1_000_003
    return int(seed)


def _hash64(prefix: str, names: Sequence[str]) -> np.ndarray:
    """(m, 2) uint64: blake2b of prefix + lower-case name (a counter-based random stream)."""
    pre = prefix.encode()
    buf = b"".join(hashlib.blake2b(pre + str(nm).lower().encode(), digest_size=16).digest() for nm in names)
    return np.frombuffer(buf, dtype="<u8").reshape(len(names), 2) if names else np.zeros((0, 2), np.uint64)


def _u01(h: np.ndarray) -> np.ndarray:
    """uint64 -> uniform in (0, 1), 53 bits."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


@dataclass(frozen=True)
class DeviceKey:
    """Counter-based random key of one device (member ``member`` of an ensemble of ``members``).

    Two kinds of randomness exist, and they behave differently in ensembles:

    * *fabrication* (tolerance, offsets, op-amp spread): fixed per physical device, identified by
      ``fab_member`` (default: ``member``, i.e. K separate devices; give 0 to every member to model
      one device reprogrammed K times). Never coordinated across devices: nature chooses it.
    * *rounding* (stochastic bank and DAC rounding): chosen by the controller when programming.
      Independent per member, or -- with ``stratify`` -- stratified across the K members: for each
      component the K uniforms are (pi(k) + U) / K with a random permutation pi and U ~ U(0,1), so
      each member is marginally an unbiased stochastic rounding while the K roundings of every
      component average to within one level step / K of the target.
    """

    seed: int
    path: tuple = ()
    member: int = 0
    members: int = 1
    stratify: bool = False
    fab_member: int | None = None

    @staticmethod
    def make(seed=None, **kw) -> "DeviceKey":
        return DeviceKey(_entropy(seed), **kw)

    def fold(self, i) -> "DeviceKey":
        return replace(self, path=self.path + (int(i),))

    def _prefix(self, tag: str, who: str) -> str:
        return f"{self.seed}|{'.'.join(map(str, self.path))}|{tag}|{who}|"

    def fabrication_uniform(self, names, tag: str) -> np.ndarray:
        fab = self.member if self.fab_member is None else self.fab_member
        return _u01(_hash64(self._prefix(tag, f"fab{fab}"), names)[:, 0])

    def fabrication_normal(self, names, tag: str) -> np.ndarray:
        return ndtri(self.fabrication_uniform(names, tag))

    def rounding_uniform(self, names, tag: str) -> np.ndarray:
        K = int(self.members)
        if not (self.stratify and K > 1):
            return _u01(_hash64(self._prefix(tag, f"rnd{self.member}"), names)[:, 0])
        h = _hash64(self._prefix(tag, "joint"), names)
        U = _u01(h[:, 0])
        units = np.array([a for a in range(1, K) if math.gcd(a, K) == 1] or [1], dtype=np.uint64)
        a = units[(h[:, 1] % np.uint64(len(units))).astype(np.int64)]
        c = (h[:, 1] >> np.uint64(32)) % np.uint64(K)
        rank = (a * np.uint64(self.member % K) + c) % np.uint64(K)  # a permutation of 0..K-1
        return (rank.astype(np.float64) + U) / K


# ====================================================================================  build
@dataclass(frozen=True)
class Build:
    """One state of a device under construction: circuit + non-netlist parts + a log.

    ``mapped`` keeps the *nominal* scales (g_unit, v_unit, r_in, tau): the controller reads and
    writes through them; only the netlist's component values differ from the nominal ones.
    """

    mapped: MappedCircuit
    temperature_k: float = T_ROOM
    dac: "Converter | None" = None
    adc: "Converter | None" = None
    notes: tuple = ()

    @property
    def netlist(self) -> Netlist:
        return self.mapped.netlist

    def with_netlist(self, nl: Netlist) -> "Build":
        return replace(self, mapped=replace(self.mapped, netlist=nl))

    def note(self, name: str, **info) -> "Build":
        return replace(self, notes=self.notes + ((name, info),))

    def log(self) -> dict:
        """Notes merged by imperfection name (counts summed)."""
        out: dict = {}
        for name, info in self.notes:
            d = out.setdefault(name, {})
            for k, v in info.items():
                d[k] = d.get(k, 0) + v if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v
        return out


def _rows(nl: Netlist, kind: str, select: str | None) -> np.ndarray:
    names = nl.tables[kind].names
    if select is None:
        return np.arange(len(names))
    rx = re.compile(select, re.IGNORECASE)
    return np.array([i for i, nm in enumerate(names) if rx.fullmatch(nm)], dtype=np.int64)


def _canonical(names, symmetric: bool):
    """R{i}_{j} and R{j}_{i} share one random stream when ``symmetric``."""
    if not symmetric:
        return list(names)
    out = []
    for nm in names:
        m = _COUPLING_RE.match(nm)
        if m:
            i, j = sorted((int(m.group(1)), int(m.group(2))))
            out.append(f"R{i}_{j}")
        else:
            out.append(nm)
    return out


def _with_values(nl: Netlist, kind: str, rows: np.ndarray, values: np.ndarray) -> Netlist:
    values = np.asarray(values, dtype=float)
    if kind in "RCL" and not np.all(np.isfinite(values) & (values > 0)):
        i = int(np.flatnonzero(~(np.isfinite(values) & (values > 0)))[0])
        raise NetlistError(f"{nl.tables[kind].names[rows[i]]!r}: perturbed value {values[i]!r} is not realizable")
    new = nl.copy()
    if len(rows):
        new.tables[kind].set_values(rows, values)
    return new


def _rebuild(nl: Netlist, rewire: dict | None = None, add: Sequence = ()) -> Netlist:
    """Copy of ``nl`` with some terminals moved and elements added.

    rewire: {kind: [(rows, terminal column, [new node names])]}; add: [(kind, names, node-name
    rows, values)]. Element names, values and order are preserved.
    """
    new = Netlist(nl.title)
    new.meta = copy.deepcopy(nl.meta)
    for nm in nl.node_names[1:]:
        new.node(nm)
    for kind, tab in nl.tables.items():
        if not len(tab):
            continue
        nodes = tab.nodes.copy()
        for rows, col, targets in (rewire or {}).get(kind, []):
            nodes[np.asarray(rows), col] = [new.node(t) for t in targets]
        new.add_elements(kind, list(tab.names), nodes, tab.values.copy(), tab.ic.copy())
    for kind, names, nodes, values in add:
        if len(names):
            new.add_elements(kind, list(names), [list(r) for r in nodes], np.asarray(values, float))
    return new


# =============================================================================  imperfections
class Imperfection:
    """Base class: ``apply(build, key) -> Build`` (pure). ``known``: the controller knows the
    result (it chose the bank/DAC codes), so calibration can separate it from fabrication."""

    known: bool = False

    def apply(self, build: Build, key: DeviceKey, known_only: bool = False) -> Build:
        if known_only and not self.known:
            return build
        return self._apply(build, key)

    def _apply(self, build: Build, key: DeviceKey) -> Build:  # pragma: no cover - interface
        raise NotImplementedError

    def _tag(self, what: str) -> str:
        """Name of this imperfection's random stream for ``what``."""
        return f"{type(self).__name__}:{what}:{getattr(self, 'select', '')}"

    def describe(self) -> dict:
        d = {"model": type(self).__name__}
        if dataclasses.is_dataclass(self):
            d.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        return d


@dataclass(frozen=True)
class Chain(Imperfection):
    """Apply imperfections in order. Every item draws from its own named random stream (model
    name + selection), not from its position, so inserting another imperfection does not change
    a device's fabrication draw (common random numbers across a parameter sweep). Two items of
    the same model and selection would share draws: give them different ``select`` patterns."""

    items: tuple = ()

    def apply(self, build: Build, key: DeviceKey, known_only: bool = False) -> Build:
        for imp in self.items:
            build = imp.apply(build, key, known_only)
        return build

    def describe(self) -> dict:
        return {"model": "Chain", "items": [imp.describe() for imp in self.items]}

    def find(self, cls):
        """First item of type ``cls`` (searching nested chains), or None."""
        for imp in self.items:
            if isinstance(imp, cls):
                return imp
            if isinstance(imp, Chain):
                hit = imp.find(cls)
                if hit is not None:
                    return hit
        return None


def chain(*imperfections) -> Chain:
    """Compose imperfections (None entries are skipped), applied left to right."""
    return Chain(tuple(i for i in imperfections if i is not None))


# -------------------------------------------------------------------------- quantisation
_GRIDS = {"conductance", "resistance", "linear", "log"}


def _transform(grid: str):
    if grid == "conductance":
        return (lambda v: 1.0 / v), (lambda z: 1.0 / z)
    if grid == "log":
        return np.log, np.exp
    return (lambda v: v), (lambda z: z)


def quantize_values(values, bits: int | None, lo: float, hi: float, grid: str, rounding: str,
                    unbiased: str = "conductance", u=None, levels: int | None = None):
    """Round component values onto a b-bit grid spanning [lo, hi].

    grid: 'conductance' (levels uniform in 1/v), 'resistance'/'linear' (uniform in v), 'log'.
    rounding: 'nearest' (nearest level in the grid's own variable) or 'stochastic' (one of the two
    bracketing levels, upper with probability p chosen so that E[h(v)] = h(target), h = 1/v for
    unbiased='conductance', h = v for 'resistance'/'value'; ``u`` are the uniforms).
    Returns (rounded values, number of targets clipped into the range).
    """
    v = np.asarray(values, dtype=float)
    if levels is None:
        if bits is None or bits <= 0:
            return v.copy(), 0
        levels = 2 ** int(bits)
    if int(levels) < 2:
        raise SPUError(f"a bank needs at least 2 levels, got {levels}")
    if grid not in _GRIDS:
        raise SPUError(f"unknown bank grid {grid!r}: use one of {sorted(_GRIDS)}")
    if rounding not in ("nearest", "stochastic"):
        raise SPUError(f"unknown rounding {rounding!r}: use 'nearest' or 'stochastic'")
    if not (0 < lo < hi):
        raise SPUError(f"bank range must satisfy 0 < lo < hi, got ({lo}, {hi})")
    L = int(levels)
    f, finv = _transform(grid)
    z_a, z_b = f(lo), f(hi)
    z_min, z_max = min(z_a, z_b), max(z_a, z_b)
    dz = (z_max - z_min) / (L - 1)
    clipped = int(np.count_nonzero((v < lo * (1 - 1e-12)) | (v > hi * (1 + 1e-12))))
    p = np.clip((f(np.clip(v, lo, hi)) - z_min) / dz, 0.0, L - 1.0)
    if rounding == "nearest":
        k = np.floor(p + 0.5)
        return finv(z_min + k * dz), clipped
    k0 = np.minimum(np.floor(p), L - 2)
    v0, v1 = finv(z_min + k0 * dz), finv(z_min + (k0 + 1) * dz)
    h = (lambda x: 1.0 / x) if unbiased == "conductance" else (lambda x: x)
    t = np.clip(v, lo, hi)
    prob1 = np.clip((h(t) - h(v0)) / (h(v1) - h(v0)), 0.0, 1.0)
    if u is None:
        raise SPUError("stochastic rounding needs uniforms")
    return np.where(np.asarray(u) < prob1, v1, v0), clipped


def conductance_error_bound(R_target, bits: int | None, r_range, grid: str = "conductance",
                            rounding: str = "nearest", levels: int | None = None) -> np.ndarray:
    """Largest |G_rounded - G_target| (S) a b-bit resistor bank can produce for each target.

    Closed forms: conductance grid, step dG = (1/r_min - 1/r_max) / (2^b - 1): dG / 2 (nearest),
    dG (stochastic). Resistance grid, step dR: 1/(R - dR/2) - 1/R (nearest; full step for
    stochastic). Log grid, ratio rho = (r_max/r_min)^(1/(2^b - 1)): (sqrt(rho) - 1) / R
    (nearest; (rho - 1) / R stochastic).
    """
    R = np.asarray(R_target, dtype=float)
    lo, hi = r_range
    L = int(levels) if levels else 2 ** int(bits)
    frac = 0.5 if rounding == "nearest" else 1.0
    if grid == "conductance":
        return np.full(R.shape, frac * (1.0 / lo - 1.0 / hi) / (L - 1))
    if grid in ("resistance", "linear"):
        dR = frac * (hi - lo) / (L - 1)
        return 1.0 / np.maximum(R - dR, lo) - 1.0 / R
    rho = (hi / lo) ** (1.0 / (L - 1))
    return (rho**frac - 1.0) / R


@dataclass(frozen=True)
class ResistorBank(Imperfection):
    """b-bit programmable resistors (default: the coupling array ``R{i}_{j}``). See module doc."""

    bits: int | None
    r_range: tuple = (R_MIN_DEFAULT, R_MAX_DEFAULT)
    grid: str = "conductance"
    rounding: str = "nearest"
    unbiased: str = "conductance"
    select: str = COUPLING
    symmetric: bool = True
    levels: int | None = None  # number of levels (overrides 2^bits)
    known = True

    @staticmethod
    def relative_step(eps: float, r_range=(R_MIN_DEFAULT, R_MAX_DEFAULT), **kw) -> "ResistorBank":
        """Log-spaced bank with level ratio 1 + eps from r_min (the top level reaches r_max):
        every entry's relative imprecision is below eps (stochastic) or about eps / 2 (nearest)."""
        lo, hi = r_range
        L = 1 + int(np.ceil(np.log(hi / lo) / np.log1p(eps) - 1e-9))
        return ResistorBank(None, (lo, lo * (1 + eps) ** (L - 1)), grid="log", levels=L, **kw)

    @property
    def n_levels(self) -> int:
        return int(self.levels) if self.levels else 2 ** int(self.bits)

    def _apply(self, build, key):
        nl = build.netlist
        rows = _rows(nl, "R", self.select)
        if not len(rows) or not (self.bits or self.levels):
            return build
        names = [nl.tables["R"].names[i] for i in rows]
        vals = nl.tables["R"].values[rows]
        u = key.rounding_uniform(_canonical(names, self.symmetric), self._tag("round")) if self.rounding == "stochastic" else None
        q, clipped = quantize_values(vals, self.bits, *self.r_range, self.grid, self.rounding, self.unbiased, u,
                                     levels=self.n_levels)
        return build.with_netlist(_with_values(nl, "R", rows, q)).note("ResistorBank", clipped=clipped, elements=len(rows))

    def bound(self, R_target) -> np.ndarray:
        """Largest |delta G| (S) per target resistance, see :func:`conductance_error_bound`."""
        return conductance_error_bound(R_target, None, self.r_range, self.grid, self.rounding, levels=self.n_levels)


@dataclass(frozen=True)
class CapacitorBank(Imperfection):
    """b-bit programmable capacitors over ``c_range`` (F), grid 'linear' or 'log'."""

    bits: int
    c_range: tuple = (0.5 * C_DEFAULT, 2.0 * C_DEFAULT)
    grid: str = "linear"
    rounding: str = "nearest"
    select: str = r"C\d+"
    known = True

    def _apply(self, build, key):
        nl = build.netlist
        rows = _rows(nl, "C", self.select)
        if not len(rows) or not self.bits:
            return build
        names = [nl.tables["C"].names[i] for i in rows]
        vals = nl.tables["C"].values[rows]
        u = key.rounding_uniform(names, self._tag("round")) if self.rounding == "stochastic" else None
        q, clipped = quantize_values(vals, self.bits, *self.c_range, self.grid, self.rounding, "value", u)  # noqa
        return build.with_netlist(_with_values(nl, "C", rows, q)).note("CapacitorBank", clipped=clipped, elements=len(rows))


@dataclass(frozen=True)
class Tolerance(Imperfection):
    """Fabrication tolerance: value *= 1 + d per component, fixed per device instance.

    dist 'gaussian': d ~ N(0, (pct/100)^2) (pct is one standard deviation), 'uniform':
    d ~ U(-pct/100, pct/100). ``kinds`` among 'RCL'; ``select`` a regex on names (None = all).
    """

    pct: float
    dist: str = "gaussian"
    kinds: str = "RC"
    select: str | None = None

    def _apply(self, build, key):
        if not self.pct:
            return build
        if self.dist not in ("gaussian", "uniform"):
            raise SPUError(f"unknown tolerance distribution {self.dist!r}: use 'gaussian' or 'uniform'")
        nl = build.netlist
        total = 0
        for kind in self.kinds.upper():
            rows = _rows(nl, kind, self.select)
            if not len(rows):
                continue
            names = [nl.tables[kind].names[i] for i in rows]
            if self.dist == "gaussian":
                d = self.pct / 100.0 * key.fabrication_normal(names, self._tag(kind))
            else:
                d = self.pct / 100.0 * (2.0 * key.fabrication_uniform(names, self._tag(kind)) - 1.0)
            d = np.maximum(d, -0.9)
            nl = _with_values(nl, kind, rows, nl.tables[kind].values[rows] * (1.0 + d))
            total += len(rows)
        return build.with_netlist(nl).note("Tolerance", elements=total)


# ------------------------------------------------------------------------------ converters
@dataclass(frozen=True)
class Converter:
    """b-bit bipolar converter: levels k * lsb, |k| <= 2^(b-1) - 1, lsb = fs / (2^(b-1) - 1).

    ``quantize`` clips values beyond +-fs and returns how many were clipped (low, high).
    ``dither``: per-channel uniforms for stochastic rounding (None = nearest).
    """

    bits: int
    full_scale_v: float
    dither: tuple | None = None

    def __post_init__(self):
        if int(self.bits) < 2:
            raise SPUError(f"converter needs at least 2 bits, got {self.bits}")
        if not (np.isfinite(self.full_scale_v) and self.full_scale_v > 0):
            raise SPUError(f"converter full scale must be finite and > 0 V, got {self.full_scale_v!r}")

    @property
    def lsb(self) -> float:
        return self.full_scale_v / (2 ** (int(self.bits) - 1) - 1)

    def quantize(self, v):
        v = np.asarray(v, dtype=float)
        fs = self.full_scale_v
        tol = fs * (1 + 1e-9)  # a value at full scale (up to round-off) is not clipped
        low = int(np.count_nonzero(v < -tol))
        high = int(np.count_nonzero(v > tol))
        p = np.clip(v, -fs, fs) / self.lsb
        if self.dither is None:
            k = np.floor(p + 0.5)
        else:
            u = np.broadcast_to(np.asarray(self.dither, float), p.shape)
            k0 = np.floor(p)
            k = k0 + (u < (p - k0))
        kmax = 2 ** (int(self.bits) - 1) - 1
        return np.clip(k, -kmax, kmax) * self.lsb, low, high


@dataclass(frozen=True)
class DAC(Imperfection):
    """Input DACs: b bits over +-full_scale_v; quantises the input voltage sources' values.

    rounding 'nearest' or 'stochastic' (a fixed dither per channel and device, stratified across
    an ensemble like the bank rounding).
    """

    bits: int
    full_scale_v: float = 1.0
    rounding: str = "nearest"
    known = True

    def _apply(self, build, key):
        mc = build.mapped
        dither = None
        if self.rounding == "stochastic":
            dither = tuple(key.rounding_uniform(mc.input_sources, self._tag("dither")))
        conv = Converter(self.bits, self.full_scale_v, dither)
        nl = build.netlist
        rows = np.array([nl.find(s)[1] for s in mc.input_sources])
        q, lo, hi = conv.quantize(nl.tables["V"].values[rows])
        new = nl.copy()
        new.tables["V"].set_values(rows, q)
        if lo + hi:
            warnings.warn(f"DAC clipped {lo + hi} of {len(rows)} input voltages at +-{self.full_scale_v} V",
                          ClippingWarning, stacklevel=3)
        return replace(build.with_netlist(new), dac=conv).note("DAC", clipped=lo + hi)


@dataclass(frozen=True)
class ADC(Imperfection):
    """Read-out ADCs: b bits over +-full_scale_v (V at the output nodes); clipping is counted."""

    bits: int
    full_scale_v: float = 2.0
    known = True

    def _apply(self, build, key):
        return replace(build, adc=Converter(self.bits, self.full_scale_v))


# ------------------------------------------------------------------------- thermal / noise
@dataclass(frozen=True)
class Thermal(Imperfection):
    """Operating temperature (Johnson noise of every resistor) and resistor temperature
    coefficients: R *= 1 + tcr_i (T - t_ref), tcr_i ~ N(tcr, spread^2) ppm/K per resistor."""

    temperature_k: float = T_ROOM
    tcr_ppm_per_k: float = 0.0
    tcr_spread_ppm_per_k: float = 0.0
    t_ref_k: float = T_ROOM
    select: str | None = None

    def _apply(self, build, key):
        if not (np.isfinite(self.temperature_k) and self.temperature_k >= 0):
            raise SPUError(f"temperature must be finite and >= 0 K, got {self.temperature_k!r}")
        build = replace(build, temperature_k=float(self.temperature_k))
        dT = self.temperature_k - self.t_ref_k
        if dT == 0 or (self.tcr_ppm_per_k == 0 and self.tcr_spread_ppm_per_k == 0):
            return build
        nl = build.netlist
        rows = _rows(nl, "R", self.select)
        names = [nl.tables["R"].names[i] for i in rows]
        tcr = 1e-6 * (self.tcr_ppm_per_k + self.tcr_spread_ppm_per_k * key.fabrication_normal(names, self._tag("tcr")))
        return build.with_netlist(_with_values(nl, "R", rows, nl.tables["R"].values[rows] * (1.0 + tcr * dT)))


@dataclass(frozen=True)
class InjectedNoise(Imperfection):
    """Extra white noise current (one-sided PSD, A^2/Hz) from ground into every summing node."""

    psd_a2_per_hz: float

    def _apply(self, build, key):
        if not self.psd_a2_per_hz:
            return build
        mc = build.mapped
        names = [f"NX{i}" for i in range(mc.n)]
        nl = _rebuild(build.netlist, add=[("N", names, [("0", s) for s in mc.summing_nodes],
                                           np.full(mc.n, float(self.psd_a2_per_hz)))])
        return build.with_netlist(nl)


# -------------------------------------------------------------------------------- op-amps
@dataclass(frozen=True)
class OpAmpGain(Imperfection):
    """Finite open-loop gain a0 of every op-amp (``spread_pct``: per-op-amp Gaussian spread)."""

    a0: float
    spread_pct: float = 0.0
    select: str | None = None

    def _apply(self, build, key):
        nl = build.netlist
        rows = _rows(nl, "U", self.select)
        names = [nl.tables["U"].names[i] for i in rows]
        g = np.full(len(rows), float(self.a0))
        if self.spread_pct:
            g = g * np.maximum(1.0 + self.spread_pct / 100.0 * key.fabrication_normal(names, self._tag("a0")), 0.1)
        new = nl.copy()
        new.tables["U"].set_values(rows, g)
        return build.with_netlist(new)


@dataclass(frozen=True)
class OpAmpOffset(Imperfection):
    """Input offset voltage, modelled as a DC source ``VOS_<op-amp>`` in series with the
    non-inverting input (a netlist transformation: node ``os_<op-amp>`` is inserted).
    Offsets ~ N(0, sigma_v^2) (or U(-sigma_v, sigma_v)), fixed per device."""

    sigma_v: float
    dist: str = "gaussian"
    select: str | None = None

    def _apply(self, build, key):
        if not self.sigma_v:
            return build
        nl = build.netlist
        t = nl.tables["U"]
        rows = _rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        if self.dist == "uniform":
            vos = self.sigma_v * (2.0 * key.fabrication_uniform(names, self._tag("vos")) - 1.0)
        else:
            vos = self.sigma_v * key.fabrication_normal(names, self._tag("vos"))
        new_nodes = [f"os_{nm}" for nm in names]
        inp_names = [nl.node_names[j] for j in t.nodes[rows, 1]]
        new = _rebuild(nl, rewire={"U": [(rows, 1, new_nodes)]},
                       add=[("V", [f"VOS_{nm}" for nm in names], list(zip(new_nodes, inp_names)), vos)])
        return build.with_netlist(new).note("OpAmpOffset", sources=len(rows))


@dataclass(frozen=True)
class OpAmpBandwidth(Imperfection):
    """Single-pole op-amp macromodel (replaces every selected op-amp ``U``):

        G  ``GM_U``  : current gm (V_inp - V_inn) into node ``pole_U``
        R  ``RP_U``  : pole_U -> 0, a0 / gm          (DC gain a0 = gm RP)
        C  ``CP_U``  : pole_U -> 0, gm / (2 pi gbw)  (unity-gain bandwidth gbw, Hz)
        U  ``U``     : ideal follower  ob_U = V(pole_U)
        R  ``RO_U``  : ob_U -> out, r_out            (output resistance)

    a0 defaults to the op-amp's own finite gain (1e5 if it is ideal). Adds one state per op-amp.
    The internal RP's Johnson noise is an input-referred voltage noise sqrt(4 kT a0/gm) / a0
    (about 1e-11 V/rtHz at the defaults), negligible.
    """

    gbw_hz: float = 10e6
    r_out_ohm: float = 50.0
    gm_s: float = 1e-3
    a0: float | None = None
    select: str | None = None

    def _apply(self, build, key):
        nl = build.netlist
        t = nl.tables["U"]
        rows = _rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        a0 = np.array([self.a0 if self.a0 is not None else (g if np.isfinite(g) else 1e5) for g in t.values[rows]])
        out = [nl.node_names[j] for j in t.nodes[rows, 0]]
        inp = [nl.node_names[j] for j in t.nodes[rows, 1]]
        inn = [nl.node_names[j] for j in t.nodes[rows, 2]]
        pole = [f"pole_{nm}" for nm in names]
        ob = [f"ob_{nm}" for nm in names]
        gm = float(self.gm_s)
        add = [
            ("G", [f"GM_{nm}" for nm in names], [("0", p, a, b) for p, a, b in zip(pole, inp, inn)], np.full(len(rows), gm)),
            ("R", [f"RP_{nm}" for nm in names], [(p, "0") for p in pole], a0 / gm),
            ("C", [f"CP_{nm}" for nm in names], [(p, "0") for p in pole], np.full(len(rows), gm / (2 * np.pi * self.gbw_hz))),
        ]
        if self.r_out_ohm > 0:
            add.append(("R", [f"RO_{nm}" for nm in names], list(zip(ob, out)), np.full(len(rows), float(self.r_out_ohm))))
            new_out = ob
        else:
            new_out = out
        # the op-amp becomes an ideal follower: out = new_out, inp = pole, inn = new_out
        new = _rebuild(nl, rewire={"U": [(rows, 0, new_out), (rows, 1, pole), (rows, 2, new_out)]}, add=add)
        new.tables["U"].set_values(rows, np.full(len(rows), np.inf))
        return build.with_netlist(new).note("OpAmpBandwidth", opamps=len(rows))


@dataclass(frozen=True)
class Parasitics(Imperfection):
    """Parasitic capacitance to ground at the integrators' summing nodes and output nodes.

    With memoryless op-amps (ideal or finite gain) the summing-node voltage is an algebraic
    function of the outputs (V_s = -V_x / a0), so a capacitor there makes the capacitor voltages
    linearly dependent and the MNA system singular (the compiler reports it); the same holds with
    the macromodel if r_out = 0 (the output is tied to the pole capacitor). So this requires
    :class:`OpAmpBandwidth` with r_out_ohm > 0 earlier in the chain (``force=True`` skips the
    check and lets the compiler decide).

    First-order slow dynamics (derived from KCL at s_i with 1/A(s) = 1/a0 + s/w_t exactly,
    w_t = 2 pi gbw, and s C V = -G V at zeroth order):
    (C_eff + Gamma) dV/dt = -G' V - ..., with
        C_eff = diag(C (1 + 1/a0) + c_s / a0 + g_tot,i / w_t) - (1 + c_s / C) G / w_t
        Gamma_ij = 2 |G_ij| / w_t for entries fed from an inverting buffer,
        G' = G_k + diag(g_tot) / a0 (the finite-gain matrix), g_tot,i = conductance into s_i.
    The DC map (what solve computes) is unchanged.
    """

    c_summing_f: float = 0.0
    c_output_f: float = 0.0
    force: bool = False

    def _apply(self, build, key):
        mc = build.mapped
        if not self.force:
            R = {nm.lower() for nm in build.netlist.tables["R"].names}
            missing = [f"U{i}" for i in range(mc.n) if f"ro_u{i}" not in R]
            if missing:
                raise NetlistError(
                    f"parasitic capacitance at the summing/output nodes needs the finite-bandwidth op-amp "
                    f"model with an output resistance (OpAmpBandwidth(r_out_ohm > 0) before Parasitics); "
                    f"op-amp {missing[0]} is memoryless, which makes the capacitor voltages dependent "
                    f"(singular circuit). Pass force=True to let the compiler check it")
        add = []
        if self.c_summing_f:
            add.append(("C", [f"CPS{i}" for i in range(mc.n)], [(s, "0") for s in mc.summing_nodes],
                        np.full(mc.n, float(self.c_summing_f))))
        if self.c_output_f:
            add.append(("C", [f"CPX{i}" for i in range(mc.n)], [(x, "0") for x in mc.output_nodes],
                        np.full(mc.n, float(self.c_output_f))))
        if not add:
            return build
        return build.with_netlist(_rebuild(build.netlist, add=add))


# ==========================================================================  effective system
@dataclass
class EffectiveSystem:
    """What the perturbed circuit computes, from its compiled state space (noise-free part).

    x* = H u        stationary read-out (problem units) for the source levels u (V, A)
    M = dx*/db      linear map from the right-hand side through the nominal DAC scaling
    m0              x* with every input DAC at 0 V (offsets); x*(b) = M b + m0 without DAC rounding
    A_dc = M^-1     the matrix the device effectively solves with (input map folded in)
    A_drift         -tau Y F Y^-1: the drift in problem units and tau (None when there are more
                    states than outputs, e.g. with the op-amp macromodel)
    slow_eigs       the n slowest eigenvalues of -tau F (ascending real part)
    """

    H: np.ndarray
    u: np.ndarray
    vin_index: np.ndarray
    M: np.ndarray
    m0: np.ndarray
    A_dc: np.ndarray
    A_drift: np.ndarray | None
    slow_eigs: np.ndarray
    ss: StateSpace
    Y: np.ndarray

    def x_star(self, vin_volts) -> np.ndarray:
        u = self.u.copy()
        u[self.vin_index] = vin_volts
        return self.H @ u


def effective_system(build: Build, noise: bool = False) -> EffectiveSystem:
    mc = build.mapped
    ss = compile_netlist(build.netlist, build.temperature_k, noise=noise)
    F = ss.drift.to_dense()
    Y, Z = ss.node_voltage_map(mc.output_nodes)
    vu, tau = mc.v_unit_v, mc.tau_s
    H = (Y @ (-np.linalg.solve(F, ss.input_matrix)) + Z) / vu
    names = [nm.lower() for nm in ss.input_names]
    vin = np.array([names.index(s.lower()) for s in mc.input_sources])
    dv_db = -mc.r_in_ohm * mc.g_unit_s * mc.v_unit_v
    M = H[:, vin] * dv_db
    u0 = ss.inputs.copy()
    u0[vin] = 0.0
    m0 = H @ u0
    A_drift = None
    if Y.shape[0] == Y.shape[1]:
        A_drift = -tau * Y @ F @ np.linalg.inv(Y)
    ev = np.linalg.eigvals(-tau * F)
    ev = ev[np.argsort(ev.real)][: mc.n]
    return EffectiveSystem(H=H, u=ss.inputs.copy(), vin_index=vin, M=M, m0=m0, A_dc=np.linalg.inv(M),
                           A_drift=A_drift, slow_eigs=ev, ss=ss, Y=Y)


def coupling_matrix(mc: MappedCircuit) -> np.ndarray:
    """The matrix the coupling-array component values encode, A_ij = sign G_ij / g_unit, with the
    sign given by the resistor's source node (x_j: +, xn_j: -). Ideal buffers assumed."""
    nl = mc.netlist
    t = nl.tables["R"]
    A = np.zeros((mc.n, mc.n))
    for k, nm in enumerate(t.names):
        m = _COUPLING_RE.match(nm)
        if not m:
            continue
        i, j = int(m.group(1)), int(m.group(2))
        src = nl.node_names[t.nodes[k, 0]].lower()
        sign = -1.0 if src.startswith("xn") else 1.0
        A[i, j] = sign / (t.values[k] * mc.g_unit_s)
    return A


# ===============================================================================  run-time
@dataclass
class DeviceRunResult(RunResult):
    """:class:`~spucircuit.device.RunResult` of an imperfect device: ``x`` and ``mean_x`` are the
    ADC read-out (mean over the ADC samples); clipping counts are reported, never hidden."""

    x_raw_mean: np.ndarray | None = None
    adc_samples: int = 0
    adc_clipped_low: int = 0
    adc_clipped_high: int = 0

    @property
    def adc_clipped(self) -> int:
        return self.adc_clipped_low + self.adc_clipped_high


class ImperfectSPU(SPU):
    """An :class:`~spucircuit.device.SPU` of one device build: inputs go through the device's DAC
    (``set_rhs``), read-outs through its ADC (``run``, ``read``). Clipping is counted in
    ``dac_clipped`` / ``adc_clipped`` and announced with a :class:`ClippingWarning`."""

    def __init__(self, build: Build, **kw):
        self.build = build
        self.dac, self.adc = build.dac, build.adc
        self.dac_clipped = 0
        self.adc_clipped = 0
        mc = replace(build.mapped, netlist=build.netlist.copy(), b=np.array(build.mapped.b, float))
        kw.setdefault("temperature_k", build.temperature_k)
        super().__init__(mc, **kw)

    def set_rhs(self, b) -> None:
        b = as_vector(b, self.mapped.n)
        v = self.mapped.input_volts(b)
        if self.dac is not None:
            v, lo, hi = self.dac.quantize(v)
            if lo + hi:
                self.dac_clipped += lo + hi
                warnings.warn(f"DAC clipped {lo + hi} of {len(v)} input voltages at +-{self.dac.full_scale_v} V",
                              ClippingWarning, stacklevel=2)
        for nm, val in zip(self.mapped.input_sources, v):
            self.ss.set_input(nm, float(val))
            self.netlist.set_value(nm, float(val))
        self.mapped.b = b
        self._disc_cache.clear()

    def _adc(self, x):
        if self.adc is None:
            return x, 0, 0
        q, lo, hi = self.adc.quantize(np.asarray(x) * self.mapped.v_unit_v)
        if lo + hi:
            self.adc_clipped += lo + hi
            warnings.warn(f"ADC clipped {lo + hi} of {np.size(x)} read-out values at +-{self.adc.full_scale_v} V "
                          "(outputs outside the ADC range)", ClippingWarning, stacklevel=3)
        return q / self.mapped.v_unit_v, lo, hi

    def run(self, time, *, adc: bool = True, **kw) -> DeviceRunResult:
        res = super().run(time, **kw)
        fields = {f.name: getattr(res, f.name) for f in dataclasses.fields(RunResult)}
        out = DeviceRunResult(**fields, x_raw_mean=res.mean_x)
        if adc and self.adc is not None:
            xq, lo, hi = self._adc(res.x)
            out.x = xq
            out.mean_x = xq.mean(axis=0)
            out.adc_samples, out.adc_clipped_low, out.adc_clipped_high = int(xq.size), lo, hi
        return out

    def read(self) -> np.ndarray:
        return self._adc(super().read())[0]


# ================================================================================  device
class Device:
    """One device instance: an imperfection chain + a device key, programmable many times.

    ``program(A, b)`` maps A onto the nominal integrator array (``mapping`` keyword arguments,
    e.g. r_min, r_max, noise_psd, opamp_gain), optionally pre-distorts it with a calibration,
    and applies the imperfections. ``build`` is the physical device; ``known`` the device as the
    controller knows it (only the ``known`` imperfections: chosen bank and DAC codes).
    """

    def __init__(self, imperfection: Imperfection | None = None, seed=None, *, member: int = 0,
                 members: int = 1, stratify: bool = False, fab_member: int | None = None, **mapping):
        self.imperfection = imperfection if imperfection is not None else Chain(())
        self.key = DeviceKey.make(seed, member=member, members=members, stratify=stratify, fab_member=fab_member)
        self.mapping = dict(mapping)
        self.nominal: MappedCircuit | None = None
        self.programmed: MappedCircuit | None = None
        self.build: Build | None = None
        self._known: Build | None = None
        self._eff = None

    def program(self, A, b=None, *, calibration=None) -> "Device":
        return self.program_mapped(integrator_array(A, b, **self.mapping), calibration=calibration)

    def program_mapped(self, mc: MappedCircuit, *, calibration=None) -> "Device":
        self.nominal = mc
        self.programmed = calibration.predistort(mc) if calibration is not None else mc
        self.build = self.imperfection.apply(Build(self.programmed), self.key)
        self._known = None
        self._eff = None
        return self

    @property
    def known(self) -> Build | None:
        """The device as the controller knows it: only the ``known`` imperfections applied."""
        if self._known is None and self.programmed is not None:
            with warnings.catch_warnings():  # already reported when the device was programmed
                warnings.simplefilter("ignore", ClippingWarning)
                self._known = self.imperfection.apply(Build(self.programmed), self.key, known_only=True)
        return self._known

    def _need(self):
        if self.build is None:
            raise SPUError("program the device first (Device.program(A, b))")

    @property
    def n(self) -> int:
        self._need()
        return self.nominal.n

    def effective(self) -> EffectiveSystem:
        """The compiled device (with its noise, so the diffusion is available too)."""
        self._need()
        if self._eff is None:
            self._eff = effective_system(self.build, noise=True)
        return self._eff

    def spu(self, **kw) -> ImperfectSPU:
        """A runnable twin of this device (keyword arguments as :class:`~spucircuit.device.SPU`)."""
        self._need()
        return ImperfectSPU(self.build, **kw)

    def steady_x(self, b=None, *, warn: bool = True):
        """The exact noise-free, infinite-time read-out for right-hand side b (through the DAC
        and the ADC). Returns (x, report) with the clipping counts."""
        eff = self.effective()
        mc = self.nominal
        b = mc.b if b is None else as_vector(b, mc.n)
        v = mc.input_volts(b)
        rep = {"dac_clipped": 0, "adc_clipped": 0}
        if self.build.dac is not None:
            v, lo, hi = self.build.dac.quantize(v)
            rep["dac_clipped"] = lo + hi
        x = eff.x_star(v)
        if self.build.adc is not None:
            q, lo, hi = self.build.adc.quantize(x * mc.v_unit_v)
            x = q / mc.v_unit_v
            rep["adc_clipped"] = lo + hi
        if warn and (rep["dac_clipped"] or rep["adc_clipped"]):
            warnings.warn(f"converter clipping: {rep}", ClippingWarning, stacklevel=2)
        return x, rep

    def stationary_inverse(self, q_nominal: float | None = None) -> np.ndarray:
        """A^-1 as the exact stationary covariance 2 cov(x) / q (continuous Lyapunov equation of
        the compiled device with its noise), q the *nominal* diffusion (what the controller
        believes), as :func:`~spucircuit.solvers.inv` uses."""
        import scipy.linalg as sla

        mc = self.nominal
        eff = self.effective()
        F, Q = eff.ss.drift.to_dense(), eff.ss.diffusion
        S = sla.solve_continuous_lyapunov(F, -Q)
        cov = eff.Y @ (0.5 * (S + S.T)) @ eff.Y.T / mc.v_unit_v**2
        if q_nominal is None:
            q_nominal = nominal_diffusion(mc, self.build.temperature_k)
        out = 2.0 * cov / q_nominal
        return 0.5 * (out + out.T)


def nominal_diffusion(mc: MappedCircuit, temperature_k: float = T_ROOM) -> float:
    """q = mean diagonal of the x-unit diffusion per tau of the *nominal* circuit."""
    ss = compile_netlist(mc.netlist, temperature_k, noise=True)
    Y, _ = ss.node_voltage_map(mc.output_nodes)
    Qx = (Y @ ss.diffusion @ Y.T) * mc.tau_s / mc.v_unit_v**2
    return float(np.mean(np.diag(Qx)))


# =========================================================================  solve / inv
def device_solve(device: Device, b=None, *, time=None, burn_in=None, chains: int = 1, seed=None,
                 noise: bool = True, samples: int | None = None, scheme: str = "exact",
                 dt: float | None = None):
    """Solve on the device twin: time average of the ADC read-out after burn-in.

    Times as :func:`~spucircuit.solvers.solve` (default 220 / lambda_min tau, burn-in
    min(T/2, 20 / lambda_min tau); lambda of the *target* matrix). ``samples``: ADC samples per
    chain (default up to 20000). Returns (x, info) with ``standard_error`` (batch means),
    ``analog_time_s``, ``adc_clipped``, ``dac_clipped``.
    """
    from spucircuit.linalg.solve import MAX_STEPS_DEFAULT, _times

    device._need()
    mc = device.nominal
    b = mc.b if b is None else as_vector(b, mc.n)
    lam = np.linalg.eigvalsh(mc.A)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 220.0)
    if dt is None and scheme == "exact":
        dt = max(0.5 / lam[-1] * mc.tau_s, total / MAX_STEPS_DEFAULT)
    spu = device.spu(noise=noise, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(b)
    if tb > 0:
        tb = spu.run(tb, max_samples=1, adc=False).analog_time_s
    kw = {} if samples is None else {"max_samples": int(samples)}
    res = spu.run(max(total - tb, spu.dt), **kw)
    slow = 5.0 / lam[0] * mc.tau_s
    spacing = res.t[0] if len(res.t) else spu.dt
    x, se = mean_and_se(res.x, min_batch=int(np.ceil(slow / spacing)))
    info = {
        "standard_error": se, "analog_time_s": tb + res.analog_time_s, "burn_in_s": tb,
        "tau_s": mc.tau_s, "dt_s": spu.dt, "adc_samples": res.adc_samples,
        "adc_clipped": res.adc_clipped, "dac_clipped": spu.dac_clipped,
        "x_before_adc": res.x_raw_mean.mean(axis=0),
    }
    return x, info


def device_inv(device: Device, *, time=None, burn_in=None, chains: int = 8, seed=None,
               scheme: str = "exact", dt: float | None = None, samples: int | None = None):
    """A^-1 = 2 cov(x) / q from the device twin's stationary fluctuations (b = 0). The device
    must carry an injected noise (program it with mapping noise_psd, as
    :func:`~spucircuit.solvers.inv` does); q is the nominal diffusion."""
    from spucircuit.linalg.solve import MAX_STEPS_DEFAULT, _times

    device._need()
    mc = device.nominal
    lam = np.linalg.eigvalsh(mc.A)
    total, tb = _times(lam, mc.tau_s, time, burn_in, 2000.0)
    if burn_in is None:
        tb = min(0.1 * total, 10.0 / lam[0] * mc.tau_s)
    if dt is None and scheme == "exact":
        dt = max(min(0.2 / lam[0] * mc.tau_s, (total - tb) / 1000), total / MAX_STEPS_DEFAULT)
    spu = device.spu(noise=True, scheme=scheme, dt=dt, chains=chains, seed=seed)
    spu.set_rhs(np.zeros(mc.n))
    if tb > 0:
        tb = spu.run(tb, max_samples=1, adc=False).analog_time_s
    res = spu.run(max(total - tb, spu.dt), max_samples=int(samples or MAX_STEPS_DEFAULT))
    cov, se = cov_and_se(res.x)
    q = nominal_diffusion(mc, device.build.temperature_k)
    Ainv = 2.0 * cov / q
    return 0.5 * (Ainv + Ainv.T), {
        "standard_error": 2.0 * se / q, "analog_time_s": tb + res.analog_time_s, "chains": chains,
        "adc_clipped": res.adc_clipped, "diffusion_x_per_tau": q,
    }
