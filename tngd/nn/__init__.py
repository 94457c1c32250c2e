"""The network side of tngd: layers, the sequential model, losses and mini-batch curvature.

:mod:`~tngd.nn.layers` (Dense, Conv2D, Activation, Flatten), :mod:`~tngd.nn.sequential`
(Sequential, mlp, cnn), :mod:`~tngd.nn.losses`, :mod:`~tngd.nn.curvature` (MiniBatchCurvature).
"""
from tngd.nn.curvature import Batch, MiniBatchCurvature
from tngd.nn.layers import Activation, Conv2D, Dense, Flatten
from tngd.nn.losses import LOSSES, MeanSquaredError, SoftmaxCrossEntropy, accuracy, make_loss
from tngd.nn.sequential import Sequential, cnn, mlp

__all__ = ["Batch", "MiniBatchCurvature", "Activation", "Conv2D", "Dense", "Flatten", "LOSSES", "MeanSquaredError",
           "SoftmaxCrossEntropy", "accuracy", "make_loss", "Sequential", "cnn", "mlp"]
