"""Other spellings of R, C and L values that netlists from elsewhere use.

* RKM values (IEC 60062), as ngspice reads them since its RKM support (its example
  ``examples/various/RKM-R-1.cir``): the scale letter stands for the decimal point, ``4K7`` = 4.7 k,
  ``2R2`` = 2.2 (R: units), ``R47`` = 0.47, ``4L7`` = 4.7 m (L: milli), ``1M5`` = 1.5 m - SPICE's
  ``m`` is milli, not RKM's mega. ``4Meg7`` is not RKM (ngspice leaves it undefined): refused, like
  any other token that is not a number. ngspice 39 does not read RKM (it takes ``4k7`` as 4k).
* temperature coefficients ``tc1``, ``tc2`` (1/K, 1/K^2): value (1 + tc1 dT + tc2 dT^2) with
  dT = (device ``temp=`` else the circuit's ``.temp``, default 27 C) - TNOM (27 C) + ``dtemp=``, as
  ngspice's resistor and capacitor models; a no-op when the temperatures are nominal.
"""
from __future__ import annotations

import re

__all__ = ["rkm_value", "temperature_factor", "TNOM_C"]

TNOM_C = 27.0  # SPICE's nominal temperature, C (.options tnom is not read)
_RKM = re.compile(r"([0-9]*)([rRlLfFpPnNuUmMkKgGtT])([0-9]+)\Z")
_RKM_SCALE = {"r": 1.0, "l": 1e-3, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3,
              "g": 1e9, "t": 1e12}


def rkm_value(tok: str):
    """Value of an RKM token (``4K7``, ``2R2``, ``R47``, ``1M5``), or None when ``tok`` is not one.
    A plain SPICE number (``4k``, ``10u``) is not RKM: the letter must sit between digits (or lead,
    for R and L)."""
    m = _RKM.match(tok)
    if not m:
        return None
    whole, letter, frac = m.groups()
    if not whole and letter.lower() not in "rl":
        return None
    return float(f"{whole or '0'}.{frac}") * _RKM_SCALE[letter.lower()]


def temperature_factor(tc1: float, tc2: float, dt_k: float) -> float:
    """1 + tc1 dT + tc2 dT^2 (SPICE's resistor and capacitor temperature dependence)."""
    return 1.0 + tc1 * dt_k + tc2 * dt_k * dt_k
