"""Summary statistics for evaluation: means with Student-t confidence intervals.

The MAML paper reports returns/errors as mean ± 95% confidence interval over held-out tasks (40 RL tasks,
600 supervised tasks); seed aggregates use the same interval over seeds. With n samples the half-width is
``t_{(1+c)/2, n-1} · s / sqrt(n)``, where ``s / sqrt(n)`` is the standard error of the mean
(:func:`scipy.stats.sem`, ddof = 1) and ``t`` the Student-t quantile (:data:`scipy.stats.t`) — exact for
normal data and correct for small n, where the normal quantile 1.96 would be too narrow (n = 2 needs 12.71).
This module adds input checks (finite, one-dimensional, n >= 1) and plain-float, JSON-ready outputs.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _sps

__all__ = ["CurveSummary", "Summary", "mean_ci", "summarize", "summarize_curve"]


class Summary(TypedDict):
    """Output of :func:`summarize`."""

    mean: float
    """sample mean"""
    ci95: float
    """half-width of the 95% Student-t confidence interval (``nan`` when n = 1)"""
    std: float
    """sample standard deviation, ddof = 1 (``nan`` when n = 1)"""
    n: int
    """number of values"""


class CurveSummary(TypedDict):
    """Output of :func:`summarize_curve`: one entry per column (e.g. per adaptation step)."""

    mean: list[float]
    ci95: list[float]
    std: list[float]
    n: int


def _as_finite_1d(values: ArrayLike, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; need at least one value")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} must be finite; index {int(bad[0])} is {arr[bad[0]]} ({bad.size} non-finite in total)")
    return arr


def _check_confidence(confidence: float) -> float:
    if not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(confidence)


def mean_ci(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and Student-t confidence-interval half-width of ``values``.

    :param values: a 1-D array-like of finite numbers (n >= 1).
    :param confidence: coverage of the interval, in (0, 1).
    :return: ``(mean, half_width)``; the interval is ``mean ± half_width``. With n = 1 the half-width is
        ``nan`` (the spread is unknown); with identical values it is 0.
    :raises ValueError: on empty, non-finite or multi-dimensional input or a bad ``confidence``.
    """
    confidence = _check_confidence(confidence)
    arr = _as_finite_1d(values)
    n = arr.size
    mean = float(arr.mean())
    if n == 1:
        return mean, math.nan
    half = _sps.t.ppf(0.5 + confidence / 2.0, df=n - 1) * _sps.sem(arr, ddof=1)
    return mean, float(half)


def summarize(values: ArrayLike) -> Summary:
    """``{"mean", "ci95", "std", "n"}`` of a 1-D array-like of finite numbers (see :func:`mean_ci`)."""
    arr = _as_finite_1d(values)
    mean, half = mean_ci(arr, 0.95)
    std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return Summary(mean=mean, ci95=half, std=std, n=int(arr.size))


def summarize_curve(values: ArrayLike) -> CurveSummary:
    """Column-wise :func:`summarize` of a ``[n_samples, n_points]`` array.

    For an adaptation curve: rows are held-out tasks, columns are the number of gradient steps (0..N).

    :raises ValueError: if ``values`` is not 2-D, is empty or holds non-finite numbers.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"values must be a non-empty [n_samples, n_points] array, got shape {arr.shape}")
    cols = [summarize(_as_finite_1d(arr[:, j], name=f"column {j}")) for j in range(arr.shape[1])]
    return CurveSummary(
        mean=[c["mean"] for c in cols],
        ci95=[c["ci95"] for c in cols],
        std=[c["std"] for c in cols],
        n=int(arr.shape[0]),
    )
