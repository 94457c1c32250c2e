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
