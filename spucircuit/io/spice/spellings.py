"""Other spellings of R, C and L values that netlists from elsewhere use.

* values as ngspice 39 reads them by default (no ``ngbehavior=lt``): not RKM. Its INPevaluate
  (:func:`spucircuit._util.quantities.parse_number`) takes the first letter after the number as the
  scale and ignores the rest, so ``4K7`` = 4k, ``2R2`` = 2, ``4Meg7`` = 4meg, and ``R47`` is no
  number (ngspice reads it as a model name and fails: refused here, naming the line). RKM
  (``4K7`` = 4.7k) is ngspice's LTspice compatibility mode only (``inp2r.c``: ``newcompat.lt``).
* temperature coefficients ``tc1``, ``tc2`` (1/K, 1/K^2): value (1 + tc1 dT + tc2 dT^2) with
  dT = (device ``temp=`` else the circuit's ``.temp``, default 27 C) - TNOM (27 C) + ``dtemp=``, as
  ngspice's resistor and capacitor models; a no-op when the temperatures are nominal.
"""
from __future__ import annotations

__all__ = ["temperature_factor", "TNOM_C"]

TNOM_C = 27.0  # SPICE's nominal temperature, C (.options tnom is not read)


def temperature_factor(tc1: float, tc2: float, dt_k: float) -> float:
    """1 + tc1 dT + tc2 dT^2 (SPICE's resistor and capacitor temperature dependence)."""
    return 1.0 + tc1 * dt_k + tc2 * dt_k * dt_k
