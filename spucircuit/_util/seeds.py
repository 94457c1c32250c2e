"""Seeds as numpy SeedSequences, a bad seed refused with the package's own error."""
from __future__ import annotations

import numpy as np

from spucircuit.errors import SPUError


def seed_sequence(seed, what: str = "seed") -> np.random.SeedSequence:
    """``seed`` (None, an integer >= 0, a sequence of them, or a SeedSequence) as a SeedSequence;
    anything else (a negative or fractional number, text) raises SPUError naming it."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        return np.random.SeedSequence(seed)
    except (TypeError, ValueError):
        raise SPUError(f"{what} must be None or an integer >= 0, got {seed!r}") from None
