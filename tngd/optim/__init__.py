"""Optimizers with one optax-style protocol (``init`` / ``update`` / ``needs_curvature``), composed
by :func:`chain`.

:mod:`~tngd.optim.base` (protocol, chain, apply_updates, the device-time hook),
:mod:`~tngd.optim.first_order` (sgd, adam), :mod:`~tngd.optim.natural` (ngd, ngd_cg,
ngd_woodbury), :mod:`~tngd.optim.thermodynamic` (tngd, tngd_adam). :data:`OPTIMIZERS` and
:data:`DEFAULT_LR` name them for the command line and the training loop.
"""
from tngd.optim.base import (
    Chain,
    DeviceTime,
    Optimizer,
    apply_updates,
    chain,
    check_positive,
    device_time,
    require_curvature,
)
from tngd.optim.first_order import SGD, Adam, AdamState, SGDState, adam, sgd
from tngd.optim.natural import (
    NGD,
    NGDCG,
    CountState,
    NGDCGState,
    NGDWoodbury,
    ngd,
    ngd_cg,
    ngd_woodbury,
    woodbury_solve,
)
from tngd.optim.thermodynamic import (
    TNGD,
    DeviceNaturalGradient,
    DeviceState,
    TNGDState,
    device_natural_gradient,
    tngd,
    tngd_adam,
)

#: Optimizer constructors by command-line name.
OPTIMIZERS = {"sgd": sgd, "adam": adam, "ngd": ngd, "ngd-cg": ngd_cg, "ngd-woodbury": ngd_woodbury,
              "tngd": tngd, "tngd-adam": tngd_adam}
#: The default learning rate of each.
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "ngd": 0.01, "ngd-cg": 0.01, "ngd-woodbury": 0.01,
              "tngd": 0.01, "tngd-adam": 1e-3}

__all__ = ["Chain", "DeviceTime", "Optimizer", "apply_updates", "chain", "check_positive", "device_time",
           "require_curvature", "SGD", "Adam", "AdamState", "SGDState", "adam", "sgd", "NGD", "NGDCG", "CountState",
           "NGDCGState", "NGDWoodbury", "ngd", "ngd_cg", "ngd_woodbury", "woodbury_solve", "TNGD",
           "DeviceNaturalGradient", "DeviceState", "TNGDState", "device_natural_gradient", "tngd", "tngd_adam",
           "OPTIMIZERS", "DEFAULT_LR"]
