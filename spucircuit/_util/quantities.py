"""Quantities written as text: SPICE numbers with SI suffixes, and analog times.

* :func:`parse_number` reads a SPICE number: engineering suffixes ``f p n u m k meg g t`` (also
  ``a`` and ``mil``), case-insensitive, trailing units ignored (``1kOhm``, ``10uF``, ``2meg``).
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


_NUM_RE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?([A-Za-z]*)\Z")
_SCALE = {"t": 12, "g": 9, "k": 3, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}


def parse_number(tok: str):
    """Float of a SPICE number with optional engineering suffix / units, or None if not one."""
    m = _NUM_RE.match(tok)
    if not m:
        return None
    mant, exp, suf = m.group(1), m.group(2), m.group(3).lower()
    try:
        e = int(exp) if exp else 0
    except ValueError:
        return None
    mult = 1.0
    if suf.startswith("meg"):
        e += 6
    elif suf.startswith("mil"):
        mult = 25.4e-6
    elif suf and suf[0] in _SCALE:
        e += _SCALE[suf[0]]
    if abs(e) > 100000:
        v = 0.0 if (e < 0 and float(mant) != 0) else (math.inf if float(mant) != 0 else 0.0)
    else:
        v = float(f"{mant}e{e}") * mult
    return v


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
