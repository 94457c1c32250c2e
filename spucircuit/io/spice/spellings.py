"""Other spellings of R, C and L values that netlists from elsewhere use.

* values as ngspice 39 reads them by default (no ``ngbehavior=lt``): not RKM. Its INPevaluate
  (:func:`spucircuit._util.quantities.parse_number`) takes the first letter after the number as the
  scale and ignores the rest, so ``4K7`` = 4k, ``2R2`` = 2, ``4Meg7`` = 4meg, and ``R47`` is no
  number (ngspice reads it as a model name and fails: refused here, naming the line). RKM
  (``4K7`` = 4.7k) is ngspice's LTspice compatibility mode only (``inp2r.c``: ``newcompat.lt``).
  Since a value like ``4K7`` almost surely meant RKM, reading it as ngspice does (4k) warns
  (:class:`~spucircuit.errors.SpiceValueWarning`, naming the file and line).
* temperature coefficients ``tc1``, ``tc2`` (1/K, 1/K^2): value (1 + tc1 dT + tc2 dT^2) with
  dT = (device ``temp=`` else the circuit's ``.temp``, default 27 C) - TNOM (27 C) + ``dtemp=``, as
  ngspice's resistor and capacitor models; a no-op when the temperatures are nominal.
"""
from __future__ import annotations

import re
import warnings

from spucircuit.errors import SpiceValueWarning

__all__ = ["temperature_factor", "TNOM_C", "warn_rkm_like", "is_rkm_like"]

_RKM_LIKE = re.compile(r"(?i)([0-9]+)(meg|[tgkmunpfa])([0-9]+)\Z")

TNOM_C = 27.0  # SPICE's nominal temperature, C (.options tnom is not read)


def temperature_factor(tc1: float, tc2: float, dt_k: float) -> float:
    """1 + tc1 dT + tc2 dT^2 (SPICE's resistor and capacitor temperature dependence)."""
    return 1.0 + tc1 * dt_k + tc2 * dt_k * dt_k


def is_rkm_like(tok: str) -> bool:
    """Whether a value token has digits after its scale letter (``4K7``, ``2meg5``)."""
    return _RKM_LIKE.fullmatch(tok) is not None


def warn_rkm_like(tok: str, name: str, filename, lineno) -> None:
    """Warn when an element value looks like RKM (digits after the scale letter, ``4K7``, ``2meg5``):
    it is read as ngspice 39 reads it by default (4k, 2meg), which is probably not what was meant."""
    m = _RKM_LIKE.fullmatch(str(tok))
    if m:
        where = f"{filename}:{lineno}: " if filename else (f"line {lineno}: " if lineno else "")
        whole, scale, frac = m.groups()
        warnings.warn(f"{where}{name} value {tok!r} is read as ngspice 39 reads it by default, {whole}{scale} (the "
                      f"digits {frac!r} after the scale letter ignored); if RKM was meant, write {whole}.{frac}{scale}",
                      SpiceValueWarning, stacklevel=3)
