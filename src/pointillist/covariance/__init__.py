"""Covariance statistics of a stack and the COL0RME covariance fit."""

from .fit import CovarianceFit, VarianceFit
from .stats import CovarianceStats, covariance_statistics

__all__ = ["CovarianceStats", "covariance_statistics", "CovarianceFit", "VarianceFit"]
