"""tngd: thermodynamic natural gradient descent (Donatella et al.) with hand-written models.

Short API
---------
Models     : :func:`mlp`, :func:`cnn` (:class:`Sequential`: flat parameters, forward, JVP, VJP,
             per-example Jacobians), losses :class:`SoftmaxCrossEntropy`, :class:`MeanSquaredError`
             (:mod:`tngd.nn`)
Curvature  : :class:`MiniBatchCurvature` (alias ``Batch``; loss, gradient, GGN factor, GGN-vector
             products, dense GGN)
Optimizers : :func:`sgd`, :func:`adam`, :func:`ngd`, :func:`ngd_cg`, :func:`ngd_woodbury`,
             :func:`tngd`, :func:`tngd_adam` (``init`` / ``update`` / :func:`apply_updates`,
             composed by :func:`chain`; :mod:`tngd.optim`)
Devices    : :class:`ExactOUSolver` (ideal), :class:`EulerOUSolver`, :class:`TwinSolver` (spucircuit),
             ``FactoredTwinSolver`` (:mod:`tngd.devices`)
Data       : :func:`load_dataset`, :func:`read_idx`, :func:`load_npz`, :func:`load_digits`,
             :func:`load_mnist`, :func:`load_fashion_mnist`
Training   : :func:`train`, :func:`build_model`, :func:`build_optimizer`
"""
from spucircuit.numerics.cg import conjugate_gradient
from tngd.data import (
    Dataset,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_idx_dir,
    load_mnist,
    load_npz,
    read_idx,
    write_idx,
)
from tngd.devices import EulerOUSolver, ExactOUSolver, OUSystem, TwinSolver, make_solver
from tngd.errors import ConfigError, DataError, TNGDError
from tngd.nn.curvature import Batch, MiniBatchCurvature
from tngd.nn.losses import MeanSquaredError, SoftmaxCrossEntropy, make_loss
from tngd.nn.sequential import Sequential, cnn, mlp
from tngd.optim import (
    NGD,
    NGDCG,
    OPTIMIZERS,
    SGD,
    TNGD,
    Adam,
    NGDWoodbury,
    adam,
    apply_updates,
    chain,
    ngd,
    ngd_cg,
    ngd_woodbury,
    sgd,
    tngd,
    tngd_adam,
    woodbury_solve,
)
from tngd.train import build_model, build_optimizer, evaluate, train

__all__ = [
    "Batch", "MiniBatchCurvature", "Dataset", "load_dataset", "load_digits", "load_fashion_mnist", "load_idx_dir",
    "load_mnist", "load_npz", "read_idx", "write_idx", "ConfigError", "DataError", "TNGDError", "MeanSquaredError",
    "SoftmaxCrossEntropy", "make_loss", "Sequential", "cnn", "mlp", "OPTIMIZERS", "TNGD", "Adam", "NGD",
    "NGDCG", "NGDWoodbury", "SGD", "adam", "apply_updates", "chain", "conjugate_gradient", "ngd", "ngd_cg",
    "ngd_woodbury", "sgd", "tngd", "tngd_adam", "woodbury_solve", "EulerOUSolver", "ExactOUSolver",
    "OUSystem", "TwinSolver", "make_solver", "build_model", "build_optimizer", "evaluate", "train",
]
__version__ = "0.1.0"
