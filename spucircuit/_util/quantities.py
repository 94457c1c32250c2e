"""Quantities written as text: SPICE numbers with SI suffixes, and analog times.

* :func:`parse_number` reads a SPICE number as ngspice 39 reads element values: engineering suffixes
  ``f p n u m k meg g t`` (also ``a`` and ``mil``), case-insensitive, the rest of the token ignored
  (``1kOhm``, ``10uF``, ``2meg5`` = 2meg, ``4F7`` = 4f).
* :func:`format_value` writes a float so that it reads back to the same float (``repr``).
* :func:`parse_time` reads an analog time for the command line and the solvers: ``'50tau'``,
  ``'10us'``, ``'2.5e-5'`` (seconds) or a number.
"""
from __future__ import annotations

import math
import re

import numpy as np

from spucircuit.errors import ParseError

__all__ = ["format_value", "parse_number", "parse_time"]


# --------------------------------------------------------------------------- SPICE numbers
def format_value(x) -> str:
    """repr-exact float text (reads back to the same float)."""
    return repr(float(x))


# ngspice 39's INPevaluate (src/spicelib/parser/inpeval.c): [sign] digits [. digits] [e|E|d|D [sign]
# digits], then one scale letter; whatever follows is ignored ('2meg5' = 2meg, '56Ohms' = 56,
# '4F7' = 4f, '1e-3wwww' = 1e-3). A token not starting (after its sign) with a digit or '.' is no number.
_NUM_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eEdD]([+-]?)([0-9]*))?(.*)\Z", re.S)
_SCALE = {"t": 12, "g": 9, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}


def parse_number(tok: str):
    """Float of a SPICE number as ngspice reads an element value, or None if ``tok`` is not one.

    ngspice 39's INPevaluate: mantissa, optional exponent (``e`` or ``d``), then the first letter is
    the scale (``t g k m u n p f``, ``meg``, ``mil`` = 25.4u) and the rest of the token is ignored:
    ``2meg5`` = 2e6, ``4F7`` = 4e-15, ``56Ohms`` = 56, ``1.5.3`` = 1.5, ``.`` = 0. One deviation:
    ``a`` is atto (1e-18), as in ngspice since 40 (39 ignores it).
    """
    m = _NUM_RE.match(tok)
    sign, whole, frac, esign, edig, rest = m.groups()
    if not whole and frac is None:  # after the sign, a digit or '.' must start it
        return None
    digits = (whole + (frac or "")).lstrip("0") or "0"
    edig = edig.lstrip("0") if edig else ""
    e = -len(frac or "") + (int(esign + edig[:9]) if edig else 0)  # 9 digits: beyond any float already
    suf = rest[:3].lower()
    mult = 1.0
    if suf == "meg":
        e += 6
    elif suf == "mil":
        mult = 25.4e-6
    elif suf[:1] in _SCALE:
        e += _SCALE[suf[:1]]
    magnitude = len(digits) + e  # the value is below 10**magnitude
    if digits == "0" or magnitude < -400:
        v = 0.0
    elif magnitude > 400:
        v = math.inf
    else:
        v = float(f"{digits}e{e}") * mult
    return -v if sign == "-" else v


# --------------------------------------------------------------------------- analog times
_SI = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}


def parse_time(text, tau_s: float | None = None) -> float:
    """Analog time in seconds from '50tau', '50 tau', '2.5e-5', '10us', '3ms' or a number.

    A bare number is seconds. 'tau' needs ``tau_s`` (the circuit's time unit, s).
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        val = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(tau|s|ms|us|µs|ns|ps)?", s)
        if not m:
            raise ParseError(f"cannot parse time {text!r}: use e.g. '50tau', '10us', '2e-5' (seconds)")
        val = float(m.group(1))
        unit = m.group(2) or ""
        if unit == "tau":
            if tau_s is None:
                raise ParseError(f"time {text!r} is in units of tau but no tau is known here")
            val *= tau_s
        else:
            val *= _SI[unit]
    if not (np.isfinite(val) and val > 0):
        raise ParseError(f"time must be finite and > 0, got {text!r}")
    return val
