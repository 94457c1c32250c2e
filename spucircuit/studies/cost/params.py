"""Parameters of the hardware cost model: the SPU side (:class:`Hardware`), the digital host
(:class:`Host`), where every default comes from (:data:`SOURCES`) and how to override them.

Frozen dataclasses, validated on construction (:class:`~spucircuit.errors.CostError` names the
field); SI units in every name (s, J, W, bit/s, samples/s, FLOP/s). The model itself is in
:mod:`spucircuit.studies.cost.model`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from spucircuit._util.quantities import parse_time
from spucircuit.errors import CostError, SPUError


@dataclass(frozen=True)
class Hardware:
    """The SPU side: time constant, converters, link, resistor programming, analog power.

    Every field is a number in the unit its name ends with; :data:`SOURCES` gives each field's
    unit and where its default comes from (the TNGD paper or a labelled assumption).

    Raises:
        CostError: a field is not a finite number, a bit count is not an integer in 1..32, a
            count is not an integer >= 1, or a rate / time is not > 0.
    """

    tau_s: float = 1e-6
    dac_bits: int = 16
    dac_rate_sps: float = 100e6
    n_dacs: int = 64
    dac_energy_j: float = 1e-9
    adc_bits: int = 16
    adc_rate_sps: float = 100e6
    n_adcs: int = 64
    adc_energy_j: float = 1e-9
    resistor_bits: int = 16
    link_bps: float = 50e9
    link_energy_j_per_bit: float = 5e-12
    write_time_s: float = 10e-9
    write_lanes: int = 1024
    write_energy_j: float = 1e-12
    opamp_power_w: float = 1e-3
    resistor_power_w: float = 1e-7

    def __post_init__(self):
        _validate(self)


@dataclass(frozen=True)
class Host:
    """The digital host (GPU-class by default) running the network and the digital optimizers.

    Fields as :class:`Hardware` (units and sources in :data:`SOURCES`).

    Raises:
        CostError: a field is not a finite number of the right kind (see :class:`Hardware`).
    """

    flop_rate_fps: float = 4.9e12
    memory_bw_bps: float = 1.5e12
    call_latency_s: float = 50e-6
    energy_per_flop_j: float = 8e-11
    memory_bytes: float = 80e9
    bytes_per_value: int = 4

    def __post_init__(self):
        _validate(self)


_BITS = {"dac_bits", "adc_bits", "resistor_bits"}
_COUNTS = {"n_dacs", "n_adcs", "write_lanes", "bytes_per_value"}
_NONNEG = {"dac_energy_j", "adc_energy_j", "link_energy_j_per_bit", "write_energy_j", "opamp_power_w",
           "resistor_power_w", "call_latency_s", "energy_per_flop_j"}

#: (unit, source) of every parameter. "paper" = the TNGD paper's timing model; the rest are
#: assumptions, stated with the reasoning behind the number.
SOURCES = {
    "tau_s": ("s", "paper: tau = R0 C0 = 1 kOhm x 1 nF = 1 us"),
    "dac_bits": ("bit", "paper: 16-bit DACs"),
    "dac_rate_sps": ("sample/s per DAC", "assumption: 16-bit DAC at 100 MS/s"),
    "n_dacs": ("", "assumption: 64 DAC channels multiplexed over the N inputs"),
    "dac_energy_j": ("J/conversion", "assumption: ~100 mW per 16-bit 100 MS/s channel -> 1 nJ"),
    "adc_bits": ("bit", "paper: 16-bit ADCs"),
    "adc_rate_sps": ("sample/s per ADC", "assumption: 16-bit ADC at 100 MS/s"),
    "n_adcs": ("", "assumption: 64 ADC channels behind per-node sample-and-hold"),
    "adc_energy_j": ("J/conversion", "assumption: ~100 mW per 16-bit 100 MS/s channel -> 1 nJ"),
    "resistor_bits": ("bit", "paper: 16-bit programmable resistors (one link word each)"),
    "link_bps": ("bit/s", "paper: 50 Gb/s host <-> device link"),
    "link_energy_j_per_bit": ("J/bit", "assumption: serial link ~5 pJ/bit"),
    "write_time_s": ("s per resistor per lane", "assumption: a resistor word latched like an SRAM write"),
    "write_lanes": ("", "assumption: 1024 resistor words written in parallel"),
    "write_energy_j": ("J/write", "assumption: latching one 16-bit word ~1 pJ"),
    "opamp_power_w": ("W", "assumption: integrated op-amp with GBW ~100/tau, 1 mW"),
    "resistor_power_w": ("W", "assumption: mean V^2/R ~ (0.1 V)^2 / 100 kOhm"),
    "flop_rate_fps": ("FLOP/s", "assumption: 25 % of an A100's 19.5 TFLOP/s FP32 peak (paper's GPU)"),
    "memory_bw_bps": ("byte/s", "assumption: 75 % of an A100 80 GB's ~2 TB/s HBM bandwidth"),
    "call_latency_s": ("s per sequential model call", "assumption: kernel launch + framework overhead"),
    "energy_per_flop_j": ("J/FLOP", "assumption: 400 W A100 board power / 4.9 TFLOP/s sustained"),
    "memory_bytes": ("byte", "A100 80 GB"),
    "bytes_per_value": ("byte", "FP32 on the host"),
}


def _validate(obj) -> None:
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise CostError(f"{f.name} must be a number, got {v!r}")
        if not math.isfinite(v):
            raise CostError(f"{f.name} must be finite, got {v!r}")
        if f.name in _BITS:
            if v != int(v) or not 1 <= v <= 32:
                raise CostError(f"{f.name} must be an integer number of bits in 1..32, got {v!r}")
        elif f.name in _COUNTS:
            if v != int(v) or v < 1:
                raise CostError(f"{f.name} must be an integer >= 1, got {v!r}")
        elif f.name in _NONNEG:
            if v < 0:
                raise CostError(f"{f.name} must be >= 0, got {v!r}")
        elif v <= 0:
            raise CostError(f"{f.name} must be > 0, got {v!r}")


def positive_int(name: str, v) -> int:
    """A size given as a number, checked to be a positive integer.

    Args:
        name: what the value is, for the error message.
        v: an int or an integral float (1e4 is accepted).

    Returns:
        ``int(v)``.

    Raises:
        CostError: v is a bool, not a number, not integral, or < 1.
    """
    try:
        iv = int(v)
    except (TypeError, ValueError):
        raise CostError(f"{name} must be a positive integer, got {v!r}") from None
    if isinstance(v, bool) or iv != v or iv < 1:
        raise CostError(f"{name} must be a positive integer, got {v!r}")
    return iv


def params_table(hw: Hardware | None = None, host: Host | None = None) -> list:
    """Every parameter with its value, unit and source.

    Args:
        hw, host: the parameters to list (defaults when None).

    Returns:
        ``[(name, value, unit, source)]``, hardware fields first; a value that differs from
        its default has the source ``"set (default ...: ...)"``.
    """
    hw, host = hw or Hardware(), host or Host()
    rows = []
    for obj in (hw, host):
        for f in fields(obj):
            unit, src = SOURCES[f.name]
            default = f.default
            v = getattr(obj, f.name)
            rows.append((f.name, v, unit, src if v == default else f"set (default {default:g}: {src})"))
    return rows


def with_overrides(hw: Hardware | None = None, host: Host | None = None, **values):
    """(Hardware, Host) with the named fields replaced.

    Args:
        hw, host: the starting parameters (defaults when None).
        **values: field name -> value; strings are parsed ('100e9'; times also '1us').

    Returns:
        ``(Hardware, Host)``, validated.

    Raises:
        CostError: an unknown name (the message lists the valid ones), an unparsable string or an
            invalid value.
    """
    hw, host = hw or Hardware(), host or Host()
    hk, ok = {}, {}
    hnames = {f.name: f for f in fields(Hardware)}
    onames = {f.name: f for f in fields(Host)}
    for k, v in values.items():
        if k in hnames:
            hk[k] = _coerce(k, v, hnames[k])
        elif k in onames:
            ok[k] = _coerce(k, v, onames[k])
        else:
            raise CostError(f"unknown cost parameter {k!r}; known: {', '.join(list(hnames) + list(onames))}")
    return replace(hw, **hk), replace(host, **ok)


def _coerce(name, v, f):
    if isinstance(v, str):
        s = v.strip()
        if name.endswith("_s"):
            try:
                v = parse_time(s)
            except SPUError:
                raise CostError(f"{name}: cannot parse {v!r} as a time") from None
        else:
            try:
                v = float(s)
            except ValueError:
                raise CostError(f"{name}: cannot parse {v!r} as a number") from None
    if f.type in ("int", int) and isinstance(v, float) and v == int(v):
        v = int(v)
    return v
