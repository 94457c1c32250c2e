"""The default progress meter: a tqdm bar on stderr (registered as ``progress=True``'s meter)."""
from __future__ import annotations

from tqdm.auto import tqdm


class TqdmProgressMeter:
    """A tqdm bar; ``leave``: keep it on screen when done."""

    def __init__(self, leave: bool = False):
        self.leave = leave
        self._bar = None

    def start(self, total: int, unit: str, desc: str) -> None:
        self._bar = tqdm(total=total, unit=unit, desc=desc, leave=self.leave)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
