"""The device's data converters (DAC / ADC): b-bit bipolar quantisation, clipping counted and warned.

One converter type for every architecture and one conversion step, :func:`convert`: quantise, add
the clipped count to the owner's tally (``dac_clipped`` / ``adc_clipped``) and warn with a
:class:`~spucircuit.errors.ClippingWarning`, never silently. A converter's full scale is either
fixed (``ranging='fixed'``) or chosen per conversion from the data the controller writes or reads
(``'peak'``: the largest |v|; ``'binary'``: the smallest v_swing 2^e covering it, as a coarse
auto-ranging conversion would), at most ``max_v``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from spucircuit.constants import V_SWING_DEFAULT
from spucircuit.errors import ClippingWarning, SPUError

RANGINGS = ("fixed", "peak", "binary")


@dataclass(frozen=True)
class Converter:
    """b-bit bipolar converter: levels k * lsb, |k| <= 2^(b-1) - 1, lsb = fs / (2^(b-1) - 1).

    ``quantize`` clips values beyond +-fs and returns how many were clipped (low, high).
    ``dither``: per-channel uniforms for stochastic rounding (None = nearest).
    ``ranging``: 'fixed' (full_scale_v), 'peak' or 'binary' (set per conversion by :meth:`ranged`).
    """

    bits: int
    full_scale_v: float
    dither: tuple | None = None
    ranging: str = "fixed"
    max_v: float = math.inf

    def __post_init__(self):
        if int(self.bits) < 2:
            raise SPUError(f"converter needs at least 2 bits, got {self.bits}")
        if not (np.isfinite(self.full_scale_v) and self.full_scale_v > 0):
            raise SPUError(f"converter full scale must be finite and > 0 V, got {self.full_scale_v!r}")
        if self.ranging not in RANGINGS:
            raise SPUError(f"converter ranging must be one of {RANGINGS}, got {self.ranging!r}")

    @property
    def lsb(self) -> float:
        return self.full_scale_v / (2 ** (int(self.bits) - 1) - 1)

    def ranged(self, v) -> "Converter":
        """This converter with its full scale set for values ``v`` (V) by its ranging rule."""
        if self.ranging == "fixed":
            return self
        peak = float(np.max(np.abs(v), initial=0.0))
        if self.ranging == "peak":
            fs = peak if peak > 0 else self.full_scale_v
        else:  # binary: v_swing 2^e with the smallest integer e covering the peak
            fs = V_SWING_DEFAULT
            if peak > 0:
                fs = V_SWING_DEFAULT * 2.0 ** math.ceil(math.log2(peak / V_SWING_DEFAULT))
                fs = fs * 2.0 if fs < peak else fs  # log2 round-off
        return replace(self, full_scale_v=min(fs, self.max_v))

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


def convert(conv: Converter, v, tally, kind: str, what: str, *, dither=None, stacklevel: int = 3,
            counts: bool = False, warn: bool = True):
    """The one conversion step: ``v`` (V) through ``conv`` (ranged for ``v``; ``dither`` replaces
    its per-channel uniforms), the clipped count added to ``tally.<kind>_clipped`` (if a tally is
    given) and warned (unless ``warn`` is False: the caller then reports the counts itself).

    Returns the converted values, or (values, (low, high)) with ``counts``."""
    conv = conv.ranged(v)
    if dither is not None:
        conv = replace(conv, dither=dither)
    q, lo, hi = conv.quantize(v)
    if lo + hi:
        name = f"{kind}_clipped"
        if tally is not None:
            setattr(tally, name, getattr(tally, name) + lo + hi)
        if warn:
            warnings.warn(f"{kind.upper()} clipped {lo + hi} of {np.size(v)} {what} at +-{conv.full_scale_v:g} V",
                          ClippingWarning, stacklevel=stacklevel)
    return (q, (lo, hi)) if counts else q
