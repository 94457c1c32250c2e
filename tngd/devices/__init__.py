"""TNGD's devices: where the natural gradient is computed (formerly ``tngd.solvers``).

:mod:`~tngd.devices.ou` (OUSystem, ExactOUSolver, EulerOUSolver, make_solver, SOLVERS),
:mod:`~tngd.devices.twin` (TwinSolver: the dense integrator-array twin) and
:mod:`~tngd.devices.factored_twin` (FactoredTwinSolver: the App. C factored circuit twin).
"""
from tngd.devices.factored_twin import FactoredSystem, FactoredTwinSolver
from tngd.devices.ou import (
    SOLVERS,
    EulerOUSolver,
    ExactOUSolver,
    OUSystem,
    empty_system,
    make_solver,
    make_system,
    validate_run,
)
from tngd.devices.twin import TwinSolver

SOLVERS.update(twin=TwinSolver, factored=FactoredTwinSolver)  # the circuit twins join the OU devices

__all__ = ["OUSystem", "empty_system", "make_system", "validate_run", "ExactOUSolver", "EulerOUSolver",
           "TwinSolver", "FactoredSystem", "FactoredTwinSolver", "SOLVERS", "make_solver"]
