"""Imperfect devices: non-idealities applied to the *component values* of a netlist.

A device instance is the nominal circuit (an :func:`~spucircuit.circuit.integrator_array.integrator_array`) plus
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
``SwitchResistance``    on-resistance added in series to each programmable resistor (additive).
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
``OpAmpBias``           input bias (and offset) current drawn from every summing node.
``OpAmpNoise``          input voltage noise (white, and 1/f below a corner) and current noise.
``Rails``               op-amp output rails (saturation, wind-up and recovery; counted per op-amp).
``OpAmpBandwidth``      single-pole op-amp macromodel (gm stage, pole RC, ideal follower, R_out).
``Parasitics``          capacitance from summing / output nodes to ground. Needs the macromodel:
                        with memoryless op-amps the summing node voltage is an algebraic function
                        of the states and the compiler (rightly) rejects the circuit as singular.
=====================  ===================================================================
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from spucircuit.circuit.integrator_array import COUPLING
from spucircuit.constants import C_DEFAULT, R_MAX_DEFAULT, R_MIN_DEFAULT, T_ROOM
from spucircuit.device.converters import Converter, convert
from spucircuit.errors import NetlistError, SPUError
from spucircuit.imperfections.base import (
    Imperfection,
    canonical_names,
    matching_rows,
    rebuild_netlist,
    with_values,
)
from spucircuit.imperfections.dc_error import (DCError, converter_step, opamp_gain_error, opamp_offset_error,
                                               relative_resistor_error, resistor_classes)
from spucircuit.imperfections.factored import FabricationMismatch, imperfect_components
from spucircuit.numerics.quantize import conductance_error_bound, quantize_values


def _check(model: str, **values) -> None:
    """Each ``name=(value, rule)`` of a model's parameters: rule 'int>=0' (None allowed), '>=0' or
    '>0' (finite), '>0|inf'; a bad one raises SPUError naming the model and the parameter."""
    for name, (v, rule) in values.items():
        if rule == "int>=0":
            ok = v is None or (not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 0)
        else:
            try:
                f = float(v)
            except (TypeError, ValueError):
                ok = False
            else:
                ok = (f > 0 if rule.startswith(">0") else f >= 0) and (np.isfinite(f) or rule == ">0|inf")
        if not ok:
            raise SPUError(f"{model}: {name} must be {_RULES[rule]}, got {v!r}")


_RULES = {"int>=0": "an integer >= 0", ">=0": "finite and >= 0", ">0": "finite and > 0", ">0|inf": "> 0 (inf: ideal)"}


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

    def __post_init__(self):
        _check("ResistorBank", bits=(self.bits, "int>=0"), levels=(self.levels, "int>=0"))

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
        rows = matching_rows(nl, "R", self.select)
        if not len(rows) or not (self.bits or self.levels):
            return build
        names = [nl.tables["R"].names[i] for i in rows]
        vals = nl.tables["R"].values[rows]
        u = key.rounding_uniform(canonical_names(names, self.symmetric), self._tag("round")) if self.rounding == "stochastic" else None
        q, clipped = quantize_values(vals, self.bits, *self.r_range, self.grid, self.rounding, self.unbiased, u,
                                     levels=self.n_levels)
        return build.with_netlist(with_values(nl, "R", rows, q)).note("ResistorBank", clipped=clipped, elements=len(rows))

    def _apply_factored(self, build, key):
        """The J, H and J^T arrays on the b-bit conductance grid (``select`` names netlist
        elements and does not apply); H blocks of Laplacian form stay positive semidefinite."""
        if not (self.bits or self.levels):
            return build
        if self.grid != "conductance" or self.levels or self.unbiased != "conductance":
            raise NetlistError("a factored circuit's arrays are programmed on the b-bit conductance grid "
                               "(grid='conductance', unbiased='conductance', bits given)")
        rng = np.random.default_rng(key.stream_seed(self._tag("round"), "rnd"))
        comp, info = imperfect_components(build.circuit.components, bits=int(self.bits), rounding=self.rounding,
                                          r_range=tuple(self.r_range), rng=rng)
        return build.with_components(comp).note("ResistorBank", clipped=int(info["clipped"]),
                                                elements=int(np.count_nonzero(comp.G1) + np.count_nonzero(comp.G2)))

    def bound(self, R_target) -> np.ndarray:
        """Largest |delta G| (S) per target resistance, see :func:`conductance_error_bound`."""
        return conductance_error_bound(R_target, None, self.r_range, self.grid, self.rounding, levels=self.n_levels)

    def dc_error(self, ctx):
        """|dG_ij| <= :meth:`bound` on every banked coupling resistor: row i gains sum_j |dG_ij| x_j / g_unit."""
        if not (self.bits or self.levels):
            return DCError.zero(ctx.n)
        nl = ctx.circuit.netlist
        rows = matching_rows(nl, "R", self.select)
        names = [nl.tables["R"].names[k] for k in rows]
        cls = resistor_classes(ctx, names)
        if cls["other"] or cls["buffer"] or cls["input"]:
            other = (cls["other"] + [f"RG{j}/RF{j}" for j in cls["buffer"]] + [f"RIN{i}" for i in cls["input"]])[0]
            return DCError.missing("ResistorBank", ctx.n, f"no DC model for a banked {other!r}")
        worst = np.zeros(ctx.n)
        if len(rows):
            ij = np.array(cls["coupling"])
            eps = self.bound(nl.tables["R"].values[rows]) / ctx.g_unit
            np.add.at(worst, ij[:, 0], eps * ctx.x_abs[ij[:, 1]])
        return DCError.of("ResistorBank", ctx.n, worst=worst)


@dataclass(frozen=True)
class SwitchResistance(Imperfection):
    """On-resistance of the switches that select a programmable resistor's value: R -> R + r_on,
    r_on = r_on_ohm (1 + spread_pct/100 z), z ~ N(0, 1) fixed per switch (default: the coupling
    array). An *additive* error: the relative error of a conductance, r_on G / (1 + r_on G), grows
    with G, so it is not a per-position gain (what block calibration assumes)."""

    r_on_ohm: float
    spread_pct: float = 0.0
    select: str = COUPLING

    def __post_init__(self):
        _check("SwitchResistance", r_on_ohm=(self.r_on_ohm, ">=0"), spread_pct=(self.spread_pct, ">=0"))

    def _apply(self, build, key):
        if not self.r_on_ohm:
            return build
        nl = build.netlist
        rows = matching_rows(nl, "R", self.select)
        if not len(rows):
            return build
        names = [nl.tables["R"].names[i] for i in rows]
        r_on = np.full(len(rows), float(self.r_on_ohm))
        if self.spread_pct:
            r_on = r_on * np.maximum(1.0 + self.spread_pct / 100.0 * key.fabrication_normal(names, self._tag("ron")), 0.0)
        return build.with_netlist(with_values(nl, "R", rows, nl.tables["R"].values[rows] + r_on))

    def dc_error(self, ctx):
        """|dA_ij| = |A_ij| r_on G / (1 + r_on G) <= |A_ij| r_on G (r_on at 3 sigma of its spread)."""
        if not self.r_on_ohm:
            return DCError.zero(ctx.n)
        nl = ctx.circuit.netlist
        rows = matching_rows(nl, "R", self.select)
        names = [nl.tables["R"].names[k] for k in rows]
        cls = resistor_classes(ctx, names)
        if cls["other"] or cls["buffer"] or cls["input"]:
            return DCError.missing("SwitchResistance", ctx.n, "no DC model for a switched resistor outside the "
                                   "coupling array")
        worst = np.zeros(ctx.n)
        if len(rows):
            ij = np.array(cls["coupling"])
            r_on = self.r_on_ohm * (1.0 + 3.0 * self.spread_pct / 100.0)
            rel = r_on / nl.tables["R"].values[rows]
            np.add.at(worst, ij[:, 0], np.abs(ctx.A_coupling[ij[:, 0], ij[:, 1]]) * rel * ctx.x_abs[ij[:, 1]])
        return DCError.of("SwitchResistance", ctx.n, worst=worst)


@dataclass(frozen=True)
class CapacitorBank(Imperfection):
    """b-bit programmable capacitors over ``c_range`` (F), grid 'linear' or 'log'."""

    bits: int
    c_range: tuple = (0.5 * C_DEFAULT, 2.0 * C_DEFAULT)
    grid: str = "linear"
    rounding: str = "nearest"
    select: str = r"C\d+"
    known = True

    def __post_init__(self):
        _check("CapacitorBank", bits=(self.bits, "int>=0"))

    def _apply(self, build, key):
        nl = build.netlist
        rows = matching_rows(nl, "C", self.select)
        if not len(rows) or not self.bits:
            return build
        names = [nl.tables["C"].names[i] for i in rows]
        vals = nl.tables["C"].values[rows]
        u = key.rounding_uniform(names, self._tag("round")) if self.rounding == "stochastic" else None
        q, clipped = quantize_values(vals, self.bits, *self.c_range, self.grid, self.rounding, "value", u)  # noqa
        return build.with_netlist(with_values(nl, "C", rows, q)).note("CapacitorBank", clipped=clipped, elements=len(rows))

    def dc_error(self, ctx):
        return DCError.zero(ctx.n)  # capacitors set the dynamics, not the DC answer


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

    def __post_init__(self):
        _check("Tolerance", pct=(self.pct, ">=0"))

    def _apply(self, build, key):
        if not self.pct:
            return build
        if self.dist not in ("gaussian", "uniform"):
            raise SPUError(f"unknown tolerance distribution {self.dist!r}: use 'gaussian' or 'uniform'")
        nl = build.netlist
        total = 0
        for kind in self.kinds.upper():
            rows = matching_rows(nl, kind, self.select)
            if not len(rows):
                continue
            names = [nl.tables[kind].names[i] for i in rows]
            if self.dist == "gaussian":
                d = self.pct / 100.0 * key.fabrication_normal(names, self._tag(kind))
            else:
                d = self.pct / 100.0 * (2.0 * key.fabrication_uniform(names, self._tag(kind)) - 1.0)
            d = np.maximum(d, -0.9)
            nl = with_values(nl, kind, rows, nl.tables[kind].values[rows] * (1.0 + d))
            total += len(rows)
        return build.with_netlist(nl).note("Tolerance", elements=total)

    def _apply_factored(self, build, key):
        """Every resistor of the arrays and stages: a fixed per-position mismatch
        (:class:`~spucircuit.imperfections.factored.FabricationMismatch`, Gaussian); capacitors C<i>
        drawn by name as in the netlist. ``select`` does not apply."""
        if not self.pct:
            return build
        if self.dist != "gaussian":
            raise NetlistError("a factored circuit's resistor mismatch is Gaussian (dist='gaussian')")
        comp = build.circuit.components
        if "R" in self.kinds.upper():
            mm = FabricationMismatch(self.pct / 100.0, seed=key.stream_seed(self._tag("R"), "fab"))
            comp, _ = imperfect_components(comp, mismatch=mm)
        if "C" in self.kinds.upper():
            d = self.pct / 100.0 * key.fabrication_normal([f"C{i}" for i in range(comp.n)], self._tag("C"))
            comp = replace(comp, c=comp.c * (1.0 + np.maximum(d, -0.9)))
        return build.with_components(comp).note("Tolerance", elements=comp.resistor_count() + comp.n)

    def dc_error(self, ctx):
        """Every selected resistor's relative error (:func:`relative_resistor_error`); capacitors
        and inductors do not move the DC answer."""
        if not self.pct or "R" not in self.kinds.upper():
            return DCError.zero(ctx.n)
        nl = ctx.circuit.netlist
        names = [nl.tables["R"].names[k] for k in matching_rows(nl, "R", self.select)]
        d = self.pct / 100.0
        if self.dist == "uniform":
            return relative_resistor_error("Tolerance", ctx, names, worst=d)
        return relative_resistor_error("Tolerance", ctx, names, sigma=d)




def _check_part(imp) -> None:
    """A DAC or ADC model's bits, full scale and static errors, checked when it is made (as the
    Converter checks them; its per-code DNL table is not drawn here)."""
    Converter(imp.bits, imp.full_scale_v, None, gain_error=imp.gain_error, offset_lsb=imp.offset_lsb,
              inl_lsb=imp.inl_lsb, dnl_lsb=0.0)


def _part(imp, key, dither=None, noise_lsb: float = 0.0) -> Converter:
    """The Converter a DAC or ADC model stands for: its bits, full scale and static errors, the
    per-code DNL seeded from the device key (its fabrication stream) when there is one."""
    seed = key.stream_seed(imp._tag("dnl"), "fab") if (imp.dnl_lsb and key is not None) else 0
    return Converter(imp.bits, imp.full_scale_v, dither, gain_error=imp.gain_error, offset_lsb=imp.offset_lsb,
                     inl_lsb=imp.inl_lsb, dnl_lsb=imp.dnl_lsb, noise_lsb=noise_lsb, dnl_seed=seed)


@dataclass(frozen=True)
class DAC(Imperfection):
    """Input DACs: b bits over +-full_scale_v; quantises the input voltage sources' values.

    rounding 'nearest' or 'stochastic' (a fixed dither per channel and device, stratified across
    an ensemble like the bank rounding). gain_error, offset_lsb, inl_lsb, dnl_lsb: the part's static
    errors (:class:`~spucircuit.device.converters.Converter`), fixed per device.
    """

    bits: int
    full_scale_v: float = 1.0
    rounding: str = "nearest"
    gain_error: float = 0.0
    offset_lsb: float = 0.0
    inl_lsb: float = 0.0
    dnl_lsb: float = 0.0
    known = True

    def __post_init__(self):
        _check_part(self)

    def converter(self, key=None, dither=None) -> Converter:
        """The part (its per-code DNL drawn from the device key), or its static errors alone without a key."""
        return _part(self, key, dither)

    def _converter(self, names, key) -> Converter:
        dither = None
        if self.rounding == "stochastic":
            dither = tuple(key.rounding_uniform(names, self._tag("dither")))
        return self.converter(key, dither)

    def _apply(self, build, key):
        mc = build.mapped
        conv = self._converter(mc.input_sources, key)
        nl = build.netlist
        rows = np.array([nl.find(s)[1] for s in mc.input_sources])
        q, (lo, hi) = convert(conv, nl.tables["V"].values[rows], None, "dac", "input voltages", stacklevel=5,
                              counts=True)
        new = nl.copy()
        new.tables["V"].set_values(rows, q)
        return replace(build.with_netlist(new), dac=conv).note("DAC", clipped=lo + hi)

    def _apply_factored(self, build, key):
        comp = build.circuit.components
        conv = self._converter([f"VIN{i}" for i in range(comp.n)], key)  # the names of the netlist export
        q, (lo, hi) = convert(conv, comp.v_in, None, "dac", "input voltages", stacklevel=5, counts=True)
        return replace(build.with_components(replace(comp, v_in=q)), dac=conv).note("DAC", clipped=lo + hi)

    def dc_error(self, ctx):
        """Each written level is off by what nearest rounding (and clipping) did to it, which the
        controller knows, or by up to one lsb plus any clipped excess with a dither it does not,
        plus the part's static errors (gain, offset, INL, DNL: :meth:`Converter.static_error_v`):
        row i's right-hand side moves by that over r_in g_unit v_unit."""
        static = self.converter().static_error_v(ctx.v_in)
        if self.rounding == "nearest":  # the controller knows the codes it writes: their rounding exactly
            q = Converter(self.bits, self.full_scale_v).quantize(ctx.v_in)[0]
            return DCError.of("DAC", ctx.n, worst=(np.abs(q - ctx.v_in) + static) / ctx.input_units_v)
        step, excess = converter_step(Converter(self.bits, self.full_scale_v, (0.5,) * ctx.n), ctx.v_in)
        return DCError.of("DAC", ctx.n, worst=(step + excess + static) / ctx.input_units_v)


@dataclass(frozen=True)
class ADC(Imperfection):
    """Read-out ADCs: b bits over +-full_scale_v (V at the output nodes); clipping is counted. The
    static errors and the transition noise of a real part are :class:`Converter`'s."""

    bits: int
    full_scale_v: float = 2.0
    gain_error: float = 0.0
    offset_lsb: float = 0.0
    inl_lsb: float = 0.0
    dnl_lsb: float = 0.0
    noise_lsb: float = 0.0
    known = True

    def __post_init__(self):
        _check_part(self)

    def converter(self, key=None) -> Converter:
        """The part (its per-code DNL drawn from the device key), or its static errors alone without a key."""
        return _part(self, key, noise_lsb=self.noise_lsb)

    def _apply(self, build, key):
        return replace(build, adc=self.converter(key))

    def _apply_factored(self, build, key):
        return self._apply(build, key)  # the read-out converter does not touch the circuit

    def dc_error(self, ctx):
        """Half an lsb per read-out component (a time average of rounded samples stays within it;
        zero-mean transition noise only dithers it) plus the static errors (gain, offset, INL, DNL);
        a clipped read-out is not bounded here (the run counts its clipping)."""
        volts = ctx.x_abs * ctx.circuit.v_unit_v
        step, _ = converter_step(Converter(self.bits, self.full_scale_v), volts)
        static = self.converter().static_error_v(volts)
        return DCError.of("ADC", ctx.n, readout=(step + static) / ctx.circuit.v_unit_v)


# --------------------------------------------------------------------------------- rails
@dataclass(frozen=True)
class Rails(Imperfection):
    """Op-amp output rails: every op-amp output clips at +-rail_v (V). An integrator whose output
    reaches a rail stops integrating: its summing node leaves virtual ground and its capacitor
    charges through the input resistors until the input current reverses (wind-up and recovery,
    simulated mode by mode: :mod:`spucircuit.device.saturation`; on a factored circuit by the
    Euler scheme of :mod:`spucircuit.integrate.chain_rails`). Saturation is counted per op-amp in
    every run's result, never silent. Memoryless op-amps only (not with OpAmpBandwidth)."""

    rail_v: float

    def _apply(self, build, key):
        if not (np.isfinite(self.rail_v) and self.rail_v > 0):
            raise SPUError(f"rail_v must be finite and > 0 V, got {self.rail_v!r}")
        if any(name == "OpAmpBandwidth" for name, _ in build.notes):
            raise SPUError("rails with the op-amp bandwidth macromodel are not modelled (the stage that would "
                           "saturate is its pole, not its output follower): use one or the other")
        return replace(build, rail_v=float(self.rail_v)).note("Rails", rail_v=float(self.rail_v))

    def _apply_factored(self, build, key):
        if not (np.isfinite(self.rail_v) and self.rail_v > 0):
            raise SPUError(f"rail_v must be finite and > 0 V, got {self.rail_v!r}")
        return replace(build, rail_v=float(self.rail_v)).note("Rails", rail_v=float(self.rail_v))

    def dc_error(self, ctx):
        return DCError.zero(ctx.n)  # unsaturated, rails change nothing; a saturated run voids the bound


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
        rows = matching_rows(nl, "R", self.select)
        names = [nl.tables["R"].names[i] for i in rows]
        tcr = 1e-6 * (self.tcr_ppm_per_k + self.tcr_spread_ppm_per_k * key.fabrication_normal(names, self._tag("tcr")))
        return build.with_netlist(with_values(nl, "R", rows, nl.tables["R"].values[rows] * (1.0 + tcr * dT)))

    def _apply_factored(self, build, key):
        if self.tcr_ppm_per_k or self.tcr_spread_ppm_per_k:
            raise NetlistError("resistor temperature coefficients are modelled on netlist elements only")
        return self._apply(build, key)

    def dc_error(self, ctx):
        """A common coefficient scales every conductance (inputs included) alike and cancels from
        the DC answer when it covers all resistors; otherwise it is a relative error |tcr dT|. The
        per-resistor spread is a Gaussian relative error of sigma spread |dT|."""
        dT = abs(self.temperature_k - self.t_ref_k)
        nl = ctx.circuit.netlist
        names = [nl.tables["R"].names[k] for k in matching_rows(nl, "R", self.select)]
        out = DCError.zero(ctx.n)
        if dT and self.tcr_ppm_per_k and self.select is not None:
            out = out + relative_resistor_error("Thermal", ctx, names, worst=1e-6 * abs(self.tcr_ppm_per_k) * dT)
        if dT and self.tcr_spread_ppm_per_k:
            out = out + relative_resistor_error("Thermal", ctx, names, sigma=1e-6 * self.tcr_spread_ppm_per_k * dT)
        return out


@dataclass(frozen=True)
class InjectedNoise(Imperfection):
    """Extra white noise current (one-sided PSD, A^2/Hz) from ground into every summing node."""

    psd_a2_per_hz: float

    def _apply(self, build, key):
        if not self.psd_a2_per_hz:
            return build
        mc = build.mapped
        names = [f"NX{i}" for i in range(mc.n)]
        nl = rebuild_netlist(build.netlist, add=[("N", names, [("0", s) for s in mc.summing_nodes],
                                           np.full(mc.n, float(self.psd_a2_per_hz)))])
        return build.with_netlist(nl)

    def _apply_factored(self, build, key):
        if not self.psd_a2_per_hz:
            return build
        comp = build.circuit.components
        return build.with_components(replace(comp, noise_psd=comp.noise_psd + float(self.psd_a2_per_hz)))

    def dc_error(self, ctx):
        return DCError.zero(ctx.n)  # zero-mean noise: in the standard error, not in the DC answer


# -------------------------------------------------------------------------------- op-amps
@dataclass(frozen=True)
class OpAmpGain(Imperfection):
    """Finite open-loop gain a0 of every op-amp (``spread_pct``: per-op-amp Gaussian spread)."""

    a0: float
    spread_pct: float = 0.0
    select: str | None = None

    def __post_init__(self):
        _check("OpAmpGain", a0=(self.a0, ">0|inf"), spread_pct=(self.spread_pct, ">=0"))

    def _apply(self, build, key):
        nl = build.netlist
        rows = matching_rows(nl, "U", self.select)
        names = [nl.tables["U"].names[i] for i in rows]
        g = np.full(len(rows), float(self.a0))
        if self.spread_pct:
            g = g * np.maximum(1.0 + self.spread_pct / 100.0 * key.fabrication_normal(names, self._tag("a0")), 0.1)
        new = nl.copy()
        new.tables["U"].set_values(rows, g)
        return build.with_netlist(new)

    def dc_error(self, ctx):
        """Gain at least a0 (1 - 3 spread) (0.1 a0 at most spread): :func:`opamp_gain_error`."""
        return opamp_gain_error("OpAmpGain", ctx, self.a0 * max(1.0 - 3.0 * self.spread_pct / 100.0, 0.1))


@dataclass(frozen=True)
class OpAmpOffset(Imperfection):
    """Input offset voltage, modelled as a DC source ``VOS_<op-amp>`` in series with the
    non-inverting input (a netlist transformation: node ``os_<op-amp>`` is inserted).
    Offsets ~ N(0, sigma_v^2) (or U(-sigma_v, sigma_v)), fixed per device."""

    sigma_v: float
    dist: str = "gaussian"
    select: str | None = None

    def __post_init__(self):
        _check("OpAmpOffset", sigma_v=(self.sigma_v, ">=0"))

    def _apply(self, build, key):
        if not self.sigma_v:
            return build
        nl = build.netlist
        t = nl.tables["U"]
        rows = matching_rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        if self.dist == "uniform":
            vos = self.sigma_v * (2.0 * key.fabrication_uniform(names, self._tag("vos")) - 1.0)
        else:
            vos = self.sigma_v * key.fabrication_normal(names, self._tag("vos"))
        new_nodes = [f"os_{nm}" for nm in names]
        inp_names = [nl.node_names[j] for j in t.nodes[rows, 1]]
        new = rebuild_netlist(nl, rewire={"U": [(rows, 1, new_nodes)]},
                       add=[("V", [f"VOS_{nm}" for nm in names], list(zip(new_nodes, inp_names)), vos)])
        return build.with_netlist(new).note("OpAmpOffset", sources=len(rows))

    def dc_error(self, ctx):
        if not self.sigma_v:
            return DCError.zero(ctx.n)
        if self.dist == "uniform":
            return opamp_offset_error("OpAmpOffset", ctx, worst=self.sigma_v)
        return opamp_offset_error("OpAmpOffset", ctx, sigma=self.sigma_v)


def _roles(select: str | None) -> tuple:
    """(1.0 if ``select`` takes the integrators' op-amps U<i>, 1.0 if it takes the buffers UN<j>)."""
    if select is None:
        return 1.0, 1.0
    rx = re.compile(select, re.IGNORECASE)
    return float(bool(rx.fullmatch("U0"))), float(bool(rx.fullmatch("UN0")))


@dataclass(frozen=True)
class OpAmpBias(Imperfection):
    """Input bias current drawn by every selected op-amp's inverting input (a DC current source
    ``IB_<op-amp>`` from that node to ground): i = bias_a + offset_a z / 2, z ~ N(0, 1) fixed per
    op-amp (``offset_a`` is the datasheet's input offset current, the spread between the two
    inputs). The non-inverting inputs sit on ground or a low-impedance source, where their bias
    current does nothing. At an integrator's summing node the current shifts b_i by
    i / (g_unit v_unit); at an inverting buffer's it adds i R_F to the inverted output."""

    bias_a: float
    offset_a: float = 0.0
    select: str | None = None

    def _apply(self, build, key):
        if not (self.bias_a or self.offset_a):
            return build
        nl = build.netlist
        t = nl.tables["U"]
        rows = matching_rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        i = np.full(len(rows), float(self.bias_a))
        if self.offset_a:
            i = i + 0.5 * self.offset_a * key.fabrication_normal(names, self._tag("ios"))
        inn = [nl.node_names[j] for j in t.nodes[rows, 2]]
        new = rebuild_netlist(nl, add=[("I", [f"IB_{nm}" for nm in names], [(s, "0") for s in inn], i)])
        return build.with_netlist(new).note("OpAmpBias", sources=len(rows))

    def dc_error(self, ctx):
        """Row i: |i| / (g_unit v_unit) from its integrator, plus R_F |i| |A_ij| / v_unit from the
        buffer of every inverted entry (|i| <= |bias_a| certain, offset_a / 2 one sigma)."""
        mc = ctx.circuit
        integ, buf = _roles(self.select)
        per_row = integ / (ctx.g_unit * mc.v_unit_v) + buf * mc.r_buffer_ohm * ctx.inverted.sum(axis=1) / mc.v_unit_v
        per_row_sq = (integ / (ctx.g_unit * mc.v_unit_v) ** 2
                      + buf * (mc.r_buffer_ohm / mc.v_unit_v) ** 2 * (ctx.inverted**2).sum(axis=1))
        return DCError.of("OpAmpBias", ctx.n, worst=abs(self.bias_a) * per_row,
                          var=(0.5 * self.offset_a) ** 2 * per_row_sq)


@dataclass(frozen=True)
class OpAmpNoise(Imperfection):
    """Input-referred noise of every selected op-amp, white: voltage density ``en_v_per_rthz``
    (V/rtHz) at the non-inverting input and current density ``in_a_per_rthz`` (A/rtHz) at the
    inverting input.

    The voltage noise is a noise current of PSD e_n^2 / r_sense^2 across a resistor ``RE_<op-amp>``
    of ``r_sense_ohm`` inserted in series with the non-inverting input (node ``en_<op-amp>``; the
    input draws no current, so the node sees e_n). At integrator i it holds the summing node and the
    output at e_i above the capacitor voltage, so the capacitors see the current (D - G) e
    (D = diag(g_tot), G = g_unit A): correlated across rows; at an inverting buffer it appears as
    2 e_n at the inverted output and reaches every row of that column. r_sense's own
    Johnson noise, sqrt(4 k T r_sense) = 0.13 nV/rtHz at 1 Ohm and 300 K, adds in quadrature.
    """

    en_v_per_rthz: float = 0.0
    in_a_per_rthz: float = 0.0
    r_sense_ohm: float = 1.0
    select: str | None = None
    corner_hz: float = 0.0  # 1/f corner of the voltage noise: S(f) = e_n^2 (1 + corner / f)
    flicker_decades: int = 4  # decades of 1/f below the corner that are simulated

    def flicker_poles(self):
        """(f_k, a_k): the Lorentzians a_k / (1 + (f / f_k)^2), one per decade from corner / 10^decades
        to 10 x corner, whose sum is e_n^2 corner / f within a few % inside that band (a_k = e_n^2
        corner / f_k x 2 ln 10 / pi: the sum approximates the integral over ln f_k of
        (1/f_k) / (1 + (f/f_k)^2), which is (pi / 2) / f)."""
        fk = self.corner_hz * 10.0 ** np.arange(-int(self.flicker_decades), 2, dtype=float)
        return fk, self.en_v_per_rthz**2 * self.corner_hz / fk * (2.0 * np.log(10.0) / np.pi)

    def _apply(self, build, key):
        if not (self.en_v_per_rthz or self.in_a_per_rthz):
            return build
        if not (np.isfinite(self.r_sense_ohm) and self.r_sense_ohm > 0):
            raise SPUError(f"r_sense_ohm must be finite and > 0, got {self.r_sense_ohm!r}")
        if not (np.isfinite(self.corner_hz) and self.corner_hz >= 0) or int(self.flicker_decades) < 1:
            raise SPUError(f"corner_hz must be finite and >= 0 and flicker_decades >= 1, got {self.corner_hz!r}, "
                           f"{self.flicker_decades!r}")
        nl = build.netlist
        t = nl.tables["U"]
        rows = matching_rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        rewire, add = {}, []
        if self.en_v_per_rthz:
            en = [f"en_{nm}" for nm in names]
            inp = [nl.node_names[j] for j in t.nodes[rows, 1]]
            rewire = {"U": [(rows, 1, en)]}
            add += [("R", [f"RE_{nm}" for nm in names], list(zip(en, inp)), np.full(len(rows), float(self.r_sense_ohm))),
                    ("N", [f"NE_{nm}" for nm in names], list(zip(inp, en)),
                     np.full(len(rows), (self.en_v_per_rthz / self.r_sense_ohm) ** 2))]
        if self.in_a_per_rthz:
            inn = [nl.node_names[j] for j in t.nodes[rows, 2]]
            add.append(("N", [f"NI_{nm}" for nm in names], [("0", s) for s in inn],
                        np.full(len(rows), float(self.in_a_per_rthz) ** 2)))
        new = rebuild_netlist(nl, rewire=rewire, add=add)
        if self.corner_hz and self.en_v_per_rthz:
            new = self._flicker(new, names, key)
        return build.with_netlist(new).note("OpAmpNoise", opamps=len(rows))

    def _flicker(self, nl, names, key):
        """Per op-amp and pole k: node fl<k>_<op-amp> with 1 Ohm and 1 / (2 pi f_k) F to ground and a
        noise current of PSD a_k through them (an OU voltage of PSD a_k / (1 + (f/f_k)^2)); a VCCS of
        1 / r_sense adds it to the voltage at en_<op-amp>. Each pole starts from a stationary draw
        fixed per device (key), so a run shorter than 1 / f_k sees that pole as an offset. The
        1 Ohm's own Johnson noise (1.7e-20 V^2/Hz at 300 K) adds to a_k, negligibly."""
        fk, ak = self.flicker_poles()
        for k, (f, a) in enumerate(zip(fk, ak)):
            node = [f"fl{k}_{nm}" for nm in names]
            ic = np.sqrt(a * f * np.pi / 2.0) * key.fabrication_normal(node, self._tag(f"flicker{k}"))
            m = len(names)
            nl.add_elements("R", [f"RFL{k}_{nm}" for nm in names], [(x, "0") for x in node], np.ones(m))
            nl.add_elements("C", [f"CFL{k}_{nm}" for nm in names], [(x, "0") for x in node],
                            np.full(m, 1.0 / (2.0 * np.pi * f)), ic)
            nl.add_elements("N", [f"NFL{k}_{nm}" for nm in names], [("0", x) for x in node], np.full(m, a))
            nl.add_elements("G", [f"GFL{k}_{nm}" for nm in names],
                            [("0", f"en_{nm}", x, "0") for nm, x in zip(names, node)], np.full(m, 1.0 / self.r_sense_ohm))
        return nl

    def dc_error(self, ctx):
        """White noise is zero-mean (in the standard error); the 1/f part's slow poles act as an
        offset over a run: a Gaussian offset of its whole variance, sum_k a_k f_k pi / 2."""
        if not (self.corner_hz and self.en_v_per_rthz):
            return DCError.zero(ctx.n)
        fk, ak = self.flicker_poles()
        return opamp_offset_error("OpAmpNoise", ctx, sigma=float(np.sqrt(np.sum(ak * fk) * np.pi / 2.0)))


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
    gm_siemens: float = 1e-3
    a0: float | None = None
    select: str | None = None

    def __post_init__(self):
        _check("OpAmpBandwidth", gbw_hz=(self.gbw_hz, ">0"), r_out_ohm=(self.r_out_ohm, ">=0"),
               gm_siemens=(self.gm_siemens, ">0"), **({} if self.a0 is None else {"a0": (self.a0, ">0")}))

    def _apply(self, build, key):
        if np.isfinite(build.rail_v):
            raise SPUError("rails with the op-amp bandwidth macromodel are not modelled (the stage that would "
                           "saturate is its pole, not its output follower): use one or the other")
        nl = build.netlist
        t = nl.tables["U"]
        rows = matching_rows(nl, "U", self.select)
        names = [t.names[i] for i in rows]
        a0 = np.array([self.a0 if self.a0 is not None else (g if np.isfinite(g) else 1e5) for g in t.values[rows]])
        out = [nl.node_names[j] for j in t.nodes[rows, 0]]
        inp = [nl.node_names[j] for j in t.nodes[rows, 1]]
        inn = [nl.node_names[j] for j in t.nodes[rows, 2]]
        pole = [f"pole_{nm}" for nm in names]
        ob = [f"ob_{nm}" for nm in names]
        gm = float(self.gm_siemens)
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
        new = rebuild_netlist(nl, rewire={"U": [(rows, 0, new_out), (rows, 1, pole), (rows, 2, new_out)]}, add=add)
        new.tables["U"].set_values(rows, np.full(len(rows), np.inf))
        return build.with_netlist(new).note("OpAmpBandwidth", opamps=len(rows))

    def dc_error(self, ctx):
        """At DC the macromodel is a gain a0 whose output drives its load through r_out: the loop
        gain drops to a0 / (1 + r_out g_load), g_load the largest conductance an output drives
        (its coupling column, plus a buffer's RG)."""
        mc = ctx.circuit
        load = np.abs(ctx.A_coupling).sum(axis=0) * ctx.g_unit + np.where(ctx.inverted.any(axis=0), 1.0 / mc.r_buffer_ohm, 0.0)
        a0 = self.a0 if self.a0 is not None else 1e5
        return opamp_gain_error("OpAmpBandwidth", ctx, a0 / (1.0 + self.r_out_ohm * float(load.max(initial=0.0))))


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
        return build.with_netlist(rebuild_netlist(build.netlist, add=add))

    def dc_error(self, ctx):
        return DCError.zero(ctx.n)  # "The DC map (what solve computes) is unchanged" (class doc)
