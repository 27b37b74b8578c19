"""Covariance statistics of a stack and the COL0RME covariance fit."""

from .fit import CovarianceFit, VarianceFit
from .stats import CovarianceStats, Moments, covariance_statistics, window_moments

__all__ = ["CovarianceStats", "Moments", "covariance_statistics", "window_moments", "CovarianceFit", "VarianceFit"]
