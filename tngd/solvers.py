"""Deprecated: the TNGD devices moved to :mod:`tngd.devices` (``ou``, ``twin``, ``factored_twin``).

This module re-exports the old public names for one release and warns on import.
"""
import warnings

from tngd.devices import (
    SOLVERS,
    EulerOUSolver,
    ExactOUSolver,
    FactoredSystem,
    FactoredTwinSolver,
    OUSystem,
    TwinSolver,
    empty_system,
    make_solver,
)

warnings.warn("tngd.solvers is deprecated: import from tngd.devices (or tngd) instead", DeprecationWarning,
              stacklevel=2)

__all__ = ["OUSystem", "empty_system", "ExactOUSolver", "EulerOUSolver", "TwinSolver", "FactoredSystem",
           "FactoredTwinSolver", "SOLVERS", "make_solver"]
