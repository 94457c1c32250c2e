"""Named op-amp and converter profiles: datasheet-typical numbers of a part class, as imperfections.

A profile composes the op-amp models of :mod:`spucircuit.imperfections.models` (finite gain,
offset and its temperature drift, bias and offset currents, input voltage and current noise, and
with ``bandwidth=True`` the gain-bandwidth macromodel) with the values a datasheet gives as
*typical* at 25 C. Typical values are treated as one standard deviation across parts where a
spread is meant (offset voltage, offset current) and as the value itself otherwise (bias current,
gain, noise densities). The numbers are orientation, not a part's guarantee: they follow the
public datasheets of representative parts named in ``part``.

The 1/f noise below ``flicker_corner_hz`` is simulated as a Lorentzian per decade
(:class:`~spucircuit.imperfections.models.OpAmpNoise`). The part's output swing (``rail_v``) is
recorded; rails are simulated when asked for (:class:`~spucircuit.imperfections.models.Rails`,
``--rails``), at the value given there.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from spucircuit.constants import T_ROOM
from spucircuit.errors import SPUError
from spucircuit.imperfections.base import Chain, chain
from spucircuit.imperfections.models import (
    ADC,
    DAC,
    OpAmpBandwidth,
    OpAmpBias,
    OpAmpGain,
    OpAmpNoise,
    OpAmpOffset,
)

T_DATASHEET_K = 298.15  # datasheet typical values are given at 25 C


@dataclass(frozen=True)
class OpAmpProfile:
    """Typical op-amp parameters (SI units) of a part class; :meth:`imperfection` makes the chain."""

    name: str
    part: str  # representative parts whose datasheets the numbers follow
    gain: float  # open-loop DC gain (V/V)
    gbw_hz: float  # gain-bandwidth product
    offset_v: float  # input offset voltage, one sigma across parts
    offset_drift_v_per_k: float  # its temperature coefficient (typical magnitude)
    bias_a: float  # input bias current
    offset_current_a: float  # input offset current, one sigma
    en_v_per_rthz: float  # white input voltage noise density
    in_a_per_rthz: float  # input current noise density
    flicker_corner_hz: float = 0.0  # 1/f corner of the voltage noise
    rail_v: float = np.inf  # typical output swing limit (recorded; rails are simulated with Rails / --rails)

    def offset_sigma_v(self, temperature_k: float = T_ROOM) -> float:
        """Offset one sigma at ``temperature_k``: the 25 C spread and the drift added in quadrature."""
        return float(np.hypot(self.offset_v, self.offset_drift_v_per_k * (temperature_k - T_DATASHEET_K)))

    def imperfection(self, temperature_k: float = T_ROOM, *, bandwidth: bool = False, flicker: bool = True) -> Chain:
        """The chain this profile stands for (``bandwidth``: add the single-pole macromodel, one
        state per op-amp; ``flicker``: simulate the 1/f noise below the corner, six states per
        op-amp, which an exact infinite-time read-out does not need)."""
        if self.name == "ideal":
            return chain()
        items = [OpAmpGain(self.gain) if np.isfinite(self.gain) else None,
                 OpAmpOffset(self.offset_sigma_v(temperature_k)) if self.offset_v or self.offset_drift_v_per_k else None,
                 OpAmpBias(self.bias_a, self.offset_current_a) if self.bias_a or self.offset_current_a else None,
                 OpAmpNoise(self.en_v_per_rthz, self.in_a_per_rthz,
                            corner_hz=self.flicker_corner_hz if flicker else 0.0)
                 if self.en_v_per_rthz or self.in_a_per_rthz else None]
        if bandwidth:
            items.append(OpAmpBandwidth(self.gbw_hz, a0=self.gain if np.isfinite(self.gain) else None))
        return chain(*items)

    def with_values(self, **changes) -> "OpAmpProfile":
        """This profile with some values replaced (its name says so)."""
        if not changes:
            return self
        return replace(self, name=self.name + "+" + ",".join(sorted(changes)), **changes)

    def describe(self) -> dict:
        d = asdict(self)
        d["simulated"] = {"flicker_corner_hz": True, "rail_v": "with Rails / --rails"}
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}


OPAMP_PROFILES = {
    p.name: p for p in (
        OpAmpProfile("ideal", "-", gain=np.inf, gbw_hz=np.inf, offset_v=0.0, offset_drift_v_per_k=0.0, bias_a=0.0,
                     offset_current_a=0.0, en_v_per_rthz=0.0, in_a_per_rthz=0.0),
        # OP07-class precision bipolar: low offset and drift, nA bias currents, ~10 nV/rtHz
        OpAmpProfile("precision-bipolar", "OP07, OP177", gain=5e5, gbw_hz=0.6e6, offset_v=30e-6,
                     offset_drift_v_per_k=0.3e-6, bias_a=1.2e-9, offset_current_a=0.5e-9, en_v_per_rthz=9.8e-9,
                     in_a_per_rthz=0.12e-12, flicker_corner_hz=3.0, rail_v=13.0),
        # zero-drift (chopper) CMOS: sub-microvolt offset, pA bias, no 1/f corner
        OpAmpProfile("precision-cmos", "OPA388, ADA4528", gain=1e7, gbw_hz=10e6, offset_v=0.25e-6,
                     offset_drift_v_per_k=0.005e-6, bias_a=30e-12, offset_current_a=60e-12, en_v_per_rthz=7e-9,
                     in_a_per_rthz=0.1e-12, flicker_corner_hz=0.0, rail_v=2.45),
        # general-purpose JFET input: mV offset, high drift, 18 nV/rtHz
        OpAmpProfile("general-purpose", "TL072, LF353", gain=2e5, gbw_hz=3e6, offset_v=3e-3,
                     offset_drift_v_per_k=18e-6, bias_a=65e-12, offset_current_a=5e-12, en_v_per_rthz=18e-9,
                     in_a_per_rthz=0.01e-12, flicker_corner_hz=100.0, rail_v=13.5),
    )
}
PROFILE_NAMES = tuple(OPAMP_PROFILES)


def opamp_profile(name: str) -> OpAmpProfile:
    """The named profile; SPUError lists the names for an unknown one."""
    try:
        return OPAMP_PROFILES[str(name)]
    except KeyError:
        raise SPUError(f"unknown op-amp profile {name!r}: use one of {', '.join(PROFILE_NAMES)}") from None


# ================================================================================  converters
@dataclass(frozen=True)
class ConverterProfile:
    """Typical static errors and transition noise of a converter class, in its own LSB (so one
    profile serves every resolution it is built in): the DAC takes the static errors, the ADC
    also the transition noise. ``dac(bits, fs)`` / ``adc(bits, fs)`` make the models."""

    name: str
    part: str
    gain_error: float  # relative, typical
    offset_lsb: float
    inl_lsb: float
    dnl_lsb: float
    noise_lsb: float  # ADC transition noise, rms

    def dac(self, bits: int, full_scale_v: float, rounding: str = "nearest") -> DAC:
        return DAC(int(bits), float(full_scale_v), rounding, gain_error=self.gain_error, offset_lsb=self.offset_lsb,
                   inl_lsb=self.inl_lsb, dnl_lsb=self.dnl_lsb if rounding == "nearest" else 0.0)

    def adc(self, bits: int, full_scale_v: float) -> ADC:
        return ADC(int(bits), float(full_scale_v), gain_error=self.gain_error, offset_lsb=self.offset_lsb,
                   inl_lsb=self.inl_lsb, dnl_lsb=self.dnl_lsb, noise_lsb=self.noise_lsb)

    def describe(self) -> dict:
        return asdict(self)


CONVERTER_PROFILES = {
    p.name: p for p in (
        ConverterProfile("ideal", "-", 0.0, 0.0, 0.0, 0.0, 0.0),
        # precision SAR ADC / precision DAC class (16-18 bit parts such as AD7988, AD5781)
        ConverterProfile("precision", "AD7988, AD5781", gain_error=5e-5, offset_lsb=0.5, inl_lsb=0.5, dnl_lsb=0.25,
                         noise_lsb=0.5),
        # a microcontroller's converters (12-bit SAR class)
        ConverterProfile("general-purpose", "MCU 12-bit SAR", gain_error=1e-3, offset_lsb=2.0, inl_lsb=1.5,
                         dnl_lsb=1.0, noise_lsb=0.8),
    )
}
CONVERTER_PROFILE_NAMES = tuple(CONVERTER_PROFILES)


def converter_profile(name: str) -> ConverterProfile:
    """The named converter profile; SPUError lists the names for an unknown one."""
    try:
        return CONVERTER_PROFILES[str(name)]
    except KeyError:
        raise SPUError(f"unknown converter profile {name!r}: use one of {', '.join(CONVERTER_PROFILE_NAMES)}") from None
