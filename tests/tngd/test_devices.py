"""tngd.devices: the catalogue of TNGD devices and the deprecated tngd.solvers path."""
import importlib
import sys

import pytest

import tngd
from tngd.devices import SOLVERS, EulerOUSolver, ExactOUSolver, FactoredTwinSolver, TwinSolver, make_solver
from tngd.errors import ConfigError


def test_every_device_by_name():
    assert SOLVERS == {"exact": ExactOUSolver, "euler": EulerOUSolver, "twin": TwinSolver,
                       "factored": FactoredTwinSolver}
    for name, cls in SOLVERS.items():
        dev = make_solver(name)
        assert isinstance(dev, cls) and dev.name == name
    assert make_solver("euler", dt=0.05).dt == 0.05
    with pytest.raises(ConfigError, match="unknown TNGD solver"):
        make_solver("analog")
    assert tngd.make_solver is make_solver and tngd.TwinSolver is TwinSolver


def test_solvers_module_is_a_deprecated_alias():
    sys.modules.pop("tngd.solvers", None)
    with pytest.warns(DeprecationWarning, match="tngd.devices"):
        old = importlib.import_module("tngd.solvers")
    for name in ("OUSystem", "empty_system", "ExactOUSolver", "EulerOUSolver", "TwinSolver", "FactoredSystem",
                 "FactoredTwinSolver", "SOLVERS", "make_solver"):
        assert getattr(old, name) is getattr(importlib.import_module("tngd.devices"), name)
