"""argparse value types for counts and seeds: a bad value is argparse's one-line usage error
(exit 2), named with the option, before any work starts."""
from __future__ import annotations

import argparse
import math


def _int(text: str) -> int:
    try:
        v = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if isinstance(v, float):
        if not (math.isfinite(v) and v == int(v)):
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
        v = int(v)
    return v


def seed(text: str) -> int:
    """A random seed: an integer >= 0 (numpy's SeedSequence takes no negative entropy)."""
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0, got {v}")
    return v


def positive_int(text: str) -> int:
    """A count: an integer >= 1."""
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {v}")
    return v


def byte_size(text: str) -> float:
    """A memory size in bytes: a number, optionally with a decimal suffix k, M, G or T (4G = 4e9)."""
    t = text.strip()
    mult = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}.get(t[-1:].lower(), 1.0)
    if mult != 1.0:
        t = t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (e.g. 4e9 or 4G)") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"a size in bytes must be finite and > 0, got {text!r}")
    return v
