"""Data converters (DAC / ADC): b-bit bipolar quantisation with clipping counted, never silent."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spucircuit.errors import SPUError


class ClippingWarning(UserWarning):
    """A converter clipped: some values were outside its full-scale range (counts in the result)."""



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
