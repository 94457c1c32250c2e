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
from functools import lru_cache

import numpy as np
from scipy.special import ndtr as _ndtr

from spucircuit.constants import V_SWING_DEFAULT
from spucircuit.errors import ClippingWarning, SPUError

RANGINGS = ("fixed", "peak", "binary")


DNL_MAX_BITS = 20  # a per-code DNL table beyond this would not fit a laptop (2^20 codes: 8 MB)


@lru_cache(maxsize=16)
def _dnl_table(bits: int, dnl_lsb: float, seed: int) -> np.ndarray:
    """Per-code shift e_j (LSB) of the threshold between codes j and j + 1 (j from -kmax), drawn once
    per converter: U(-dnl/2, dnl/2), so every code width is 1 +- dnl LSB."""
    kmax = 2 ** (bits - 1) - 1
    return np.random.default_rng(seed).uniform(-0.5 * dnl_lsb, 0.5 * dnl_lsb, 2 * kmax + 1)


@dataclass(frozen=True)
class Converter:
    """b-bit bipolar converter: levels k * lsb, |k| <= 2^(b-1) - 1, lsb = fs / (2^(b-1) - 1).

    ``quantize`` clips values beyond +-fs and returns how many were clipped (low, high).
    ``dither``: per-channel uniforms for stochastic rounding (None = nearest).
    ``ranging``: 'fixed' (full_scale_v), 'peak' or 'binary' (set per conversion by :meth:`ranged`).

    Static errors of a real part (datasheet terms, all 0 for an ideal converter): ``gain_error``
    (relative), ``offset_lsb``, ``inl_lsb`` (a bow: zero at both ends of the range, inl_lsb at mid
    scale, after the usual end-point correction), ``dnl_lsb`` (every code width 1 +- dnl_lsb,
    drawn once per converter from ``dnl_seed``; nearest rounding, up to 20 bits); and
    ``noise_lsb``, the rms transition noise of an ADC (Gaussian before rounding, drawn from the
    generator given to :meth:`quantize`). The input is v' = v (1 + gain_error) + (offset_lsb +
    inl_lsb (1 - (v/fs)^2)) lsb [+ noise], then rounded.
    """

    bits: int
    full_scale_v: float
    dither: tuple | None = None
    ranging: str = "fixed"
    max_v: float = math.inf
    gain_error: float = 0.0
    offset_lsb: float = 0.0
    inl_lsb: float = 0.0
    dnl_lsb: float = 0.0
    noise_lsb: float = 0.0
    dnl_seed: int = 0

    def __post_init__(self):
        if int(self.bits) < 2:
            raise SPUError(f"converter needs at least 2 bits, got {self.bits}")
        if not (np.isfinite(self.full_scale_v) and self.full_scale_v > 0):
            raise SPUError(f"converter full scale must be finite and > 0 V, got {self.full_scale_v!r}")
        if self.ranging not in RANGINGS:
            raise SPUError(f"converter ranging must be one of {RANGINGS}, got {self.ranging!r}")
        for nm in ("gain_error", "offset_lsb", "inl_lsb", "dnl_lsb", "noise_lsb"):
            v = getattr(self, nm)
            if not np.isfinite(v) or (nm in ("dnl_lsb", "noise_lsb") and v < 0):
                raise SPUError(f"converter {nm} must be finite{' and >= 0' if nm in ('dnl_lsb', 'noise_lsb') else ''}, "
                               f"got {v!r}")
        if self.dnl_lsb and (int(self.bits) > DNL_MAX_BITS or self.dither is not None):
            raise SPUError(f"converter DNL is modelled per code with nearest rounding up to {DNL_MAX_BITS} bits "
                           f"(got {self.bits} bits{', dithered' if self.dither is not None else ''})")

    @property
    def lsb(self) -> float:
        return self.full_scale_v / (2 ** (int(self.bits) - 1) - 1)

    @property
    def ideal(self) -> bool:
        """True when the converter has no static errors and no transition noise."""
        return not (self.gain_error or self.offset_lsb or self.inl_lsb or self.dnl_lsb or self.noise_lsb)

    def nominal(self) -> "Converter":
        """The same converter without its errors: what the controller's codes stand for."""
        return replace(self, gain_error=0.0, offset_lsb=0.0, inl_lsb=0.0, dnl_lsb=0.0, noise_lsb=0.0)

    def static_error_v(self, v) -> np.ndarray:
        """The largest |v' - v| the static errors make at input v (V), rounding aside."""
        v = np.abs(np.asarray(v, dtype=float))
        return abs(self.gain_error) * v + (abs(self.offset_lsb) + abs(self.inl_lsb) + self.dnl_lsb) * self.lsb

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

    def _analog(self, v, rng):
        """v' in LSB before rounding: the static errors and the transition noise."""
        fs, lsb = self.full_scale_v, self.lsb
        p = v * (1.0 + self.gain_error) / lsb + self.offset_lsb
        if self.inl_lsb:
            p = p + self.inl_lsb * (1.0 - (np.clip(v, -fs, fs) / fs) ** 2)
        if self.noise_lsb:
            if rng is None:
                raise SPUError("an ADC with transition noise needs a random generator (the run's)")
            p = p + self.noise_lsb * rng.standard_normal(np.shape(p))
        return p

    def quantize(self, v, rng=None):
        """(codes x lsb, low, high): v (V) converted, with the counts clipped below and above. A NaN
        input (an unstable circuit's overflowed output) is counted as clipped high and stays NaN."""
        v = np.asarray(v, dtype=float)
        if np.isnan(v).any():
            return _nan_as_clipped(lambda w: self.quantize(w, rng), v)
        fs = self.full_scale_v
        tol = fs * (1 + 1e-9)  # a value at full scale (up to round-off) is not clipped
        low = int(np.count_nonzero(v < -tol))
        high = int(np.count_nonzero(v > tol))
        kmax = 2 ** (int(self.bits) - 1) - 1
        p = np.clip(v, -fs, fs) / self.lsb if self.ideal else np.clip(self._analog(v, rng), -kmax, kmax)
        if self.dither is not None:
            u = np.broadcast_to(np.asarray(self.dither, float), p.shape)
            k0 = np.floor(p)
            k = k0 + (u < (p - k0))
        elif self.dnl_lsb:
            j = np.clip(np.floor(p), -kmax, kmax - 1)
            e = _dnl_table(int(self.bits), float(self.dnl_lsb), int(self.dnl_seed))
            k = j + ((p - j) > 0.5 + e[(j + kmax).astype(np.int64)])
        else:
            k = np.floor(p + 0.5)
        return np.clip(k, -kmax, kmax) * self.lsb, low, high

    def mean_quantize(self, v):
        """E[quantize(v)] over the transition noise (the exact time average of many conversions of
        a steady input), and the clipped counts; without noise, quantize(v)."""
        if not self.noise_lsb:
            return self.quantize(v)
        v = np.asarray(v, dtype=float)
        if np.isnan(v).any():
            return _nan_as_clipped(self.mean_quantize, v)
        q, low, high = replace(self, noise_lsb=0.0, dnl_lsb=0.0, inl_lsb=0.0, gain_error=0.0,
                               offset_lsb=0.0).quantize(v)
        kmax = 2 ** (int(self.bits) - 1) - 1
        p = np.clip(replace(self, noise_lsb=0.0)._analog(v, None), -kmax, kmax).ravel()
        s = self.noise_lsb
        span = int(math.ceil(8 * s)) + 1
        j = np.floor(p)[:, None] + np.arange(-span, span + 1)[None, :]  # thresholds j + 1/2 (+ e_j) near p
        ok = (j >= -kmax) & (j <= kmax - 1)
        jc = np.clip(j, -kmax, kmax - 1)
        t = jc + 0.5
        if self.dnl_lsb:
            t = t + _dnl_table(int(self.bits), float(self.dnl_lsb), int(self.dnl_seed))[(jc + kmax).astype(np.int64)]
        # code = lowest code in the window + number of thresholds below the noisy input
        base = np.clip(np.floor(p) - span, -kmax, kmax)
        above = np.where(ok & (j >= base[:, None]), _ndtr((p[:, None] - t) / s), 0.0).sum(axis=1)
        k = np.clip(base + above, -kmax, kmax)
        return (k * self.lsb).reshape(np.shape(q)), low, high


def _nan_as_clipped(conversion, v):
    """``conversion(v)`` for an input with NaN entries (an unstable circuit's overflowed output):
    each is counted as clipped high and stays NaN in the result."""
    nan = np.isnan(v)
    q, low, high = conversion(np.where(nan, 0.0, v))
    return np.where(nan, np.nan, q), low, high + int(np.count_nonzero(nan))


def convert(conv: Converter, v, tally, kind: str, what: str, *, dither=None, stacklevel: int = 3,
            counts: bool = False, warn: bool = True, rng=None, mean: bool = False):
    """The one conversion step: ``v`` (V) through ``conv`` (ranged for ``v``; ``dither`` replaces
    its per-channel uniforms; ``rng`` draws an ADC's transition noise; ``mean``: the average over
    that noise, for exact steady read-outs), the clipped count added to ``tally.<kind>_clipped``
    (if a tally is given) and warned (unless ``warn`` is False: the caller then reports them).

    Returns the converted values, or (values, (low, high)) with ``counts``."""
    conv = conv.ranged(v)
    if dither is not None:
        conv = replace(conv, dither=dither)
    q, lo, hi = conv.mean_quantize(v) if mean else conv.quantize(v, rng)
    if lo + hi:
        name = f"{kind}_clipped"
        if tally is not None:
            setattr(tally, name, getattr(tally, name) + lo + hi)
        if warn:
            warnings.warn(f"{kind.upper()} clipped {lo + hi} of {np.size(v)} {what} at +-{conv.full_scale_v:g} V",
                          ClippingWarning, stacklevel=stacklevel)
    return (q, (lo, hi)) if counts else q
