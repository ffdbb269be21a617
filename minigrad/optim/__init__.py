"""Optimisers and learning-rate schedules with PyTorch's update rules and names."""

from minigrad.optim import lr_scheduler
from minigrad.optim.adam import Adam
from minigrad.optim.ema import ExponentialMovingAverage, WeightAverage
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "ExponentialMovingAverage", "WeightAverage", "lr_scheduler"]
