"""Progress meters, injected into long runs (the core never draws a bar itself).

A meter is any object with ``start(total, unit, desc)``, ``update(n)`` and ``close()``
(:class:`ProgressMeter`), like diffrax's progress meters. Core functions take ``progress`` as a
meter, or as ``True`` / ``False``: ``True`` asks for the package's default meter, which the package
entry point registers (a tqdm bar from :mod:`spucircuit.report.progress`); ``False`` or ``None``
gives :class:`NoProgressMeter`. Progress never changes results: runs are split independently of it.
"""
from __future__ import annotations

from typing import Callable, Protocol

from spucircuit.errors import SPUError


class ProgressMeter(Protocol):
    def start(self, total: int, unit: str, desc: str) -> None: ...

    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class NoProgressMeter:
    """Shows nothing."""

    def start(self, total: int, unit: str, desc: str) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


_default_factory: Callable[[], ProgressMeter] = NoProgressMeter


def set_default_meter(factory: Callable[[], ProgressMeter]) -> None:
    """Register the meter ``progress=True`` means (called once by ``spucircuit/__init__``)."""
    global _default_factory
    _default_factory = factory


def make_meter(progress) -> ProgressMeter:
    """A meter from ``progress``: a meter object is used as given, True gives the registered default,
    False / None a silent one."""
    if progress is None or progress is False:
        return NoProgressMeter()
    if progress is True:
        return _default_factory()
    if all(hasattr(progress, m) for m in ("start", "update", "close")):
        return progress
    raise SPUError(f"progress must be True, False or a progress meter (start/update/close), got {progress!r}")
