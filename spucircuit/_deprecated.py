"""Lazy forwarding for the deprecated module paths of the former flat layout (one minor release)."""
from __future__ import annotations

import importlib
import warnings


def forward(module: str, homes: dict):
    """A module ``__getattr__`` returning ``name`` from its new home (``homes[name]``: a module path, or
    ``module:new_name``), with a DeprecationWarning on every access."""

    def __getattr__(name: str):
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, new = home.partition(":")  # 'module:new_name' when the name changed too
        new = new or name
        warnings.warn(f"{module}.{name} moved to {home}.{new}; {module} is a deprecated alias",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), new)

    return __getattr__
