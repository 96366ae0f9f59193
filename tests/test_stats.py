"""Tests for metarl.stats: Student-t confidence intervals against hand values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from metarl.stats import mean_ci, summarize, summarize_curve


def test_n2_uses_t_quantile_not_normal():
    # values 0 and 2: mean 1, s = sqrt(2), sem = 1, t_{0.975, 1} = 12.7062...
    mean, half = mean_ci([0.0, 2.0])
    assert mean == 1.0
    assert half == pytest.approx(12.7062047361747, rel=1e-12)
    assert half == pytest.approx(sps.t.ppf(0.975, 1))


def test_known_answer_n5():
    # by hand: 1..5 has mean 3, s^2 = (4 + 1 + 0 + 1 + 4) / 4 = 2.5, sem = sqrt(2.5 / 5) = 0.70710678...;
    # t_{0.975, 4} = 2.7764451 (t table) -> half-width 2.7764451 * 0.70710678 = 1.9632432
    mean, half = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == 3.0
    assert half == pytest.approx(1.9632432, abs=1e-7)
    # 90%: t_{0.95, 4} = 2.1318468 -> 2.1318468 * 0.70710678 = 1.5074433
    assert mean_ci([5.0, 4.0, 3.0, 2.0, 1.0], confidence=0.9)[1] == pytest.approx(1.5074433, abs=1e-7)
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s == {"mean": 3.0, "ci95": pytest.approx(1.9632432, abs=1e-7), "std": pytest.approx(1.5811388, abs=1e-7),
                 "n": 5}


def test_n100_matches_scipy_interval():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=100)
    mean, half = mean_ci(values)
    lo, hi = sps.t.interval(0.95, df=99, loc=values.mean(), scale=sps.sem(values))
    assert mean == pytest.approx(values.mean())
    assert mean - half == pytest.approx(lo, rel=1e-12)
    assert mean + half == pytest.approx(hi, rel=1e-12)
    # t_{0.975, 99} = 1.9842, a little wider than the normal 1.96
    assert half == pytest.approx(1.98421695158642 * values.std(ddof=1) / 10, rel=1e-12)


def test_other_confidence_levels():
    values = [1.0, 2.0, 4.0, 8.0]
    for conf in (0.5, 0.9, 0.99):
        mean, half = mean_ci(values, confidence=conf)
        assert half == pytest.approx(sps.t.ppf(0.5 + conf / 2, 3) * np.std(values, ddof=1) / 2)
    assert mean_ci(values, 0.99)[1] > mean_ci(values, 0.9)[1]


def test_edge_cases():
    assert mean_ci([4.0, 4.0, 4.0]) == (4.0, 0.0)
    mean, half = mean_ci([7.0])
    assert mean == 7.0 and math.isnan(half)
    s = summarize([7.0])
    assert s["n"] == 1 and s["mean"] == 7.0 and math.isnan(s["std"]) and math.isnan(s["ci95"])


@pytest.mark.parametrize(("values", "conf", "match"), [
    ([], 0.95, "empty"),
    ([1.0, float("nan"), 2.0], 0.95, "index 1 is nan"),
    ([1.0, float("inf")], 0.95, "index 1 is inf"),
    ([[1.0, 2.0]], 0.95, "one-dimensional"),
    ([1.0, 2.0], 1.0, "confidence must be in \\(0, 1\\), got 1.0"),
    ([1.0, 2.0], 0.0, "confidence"),
])
def test_bad_input_raises(values, conf, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(values, confidence=conf)


def test_summarize_fields():
    values = [1.0, 2.0, 3.0, 4.0]
    s = summarize(values)
    assert set(s) == {"mean", "ci95", "std", "n"}
    assert s["n"] == 4 and s["mean"] == 2.5
    assert s["std"] == pytest.approx(np.std(values, ddof=1))
    assert s["ci95"] == pytest.approx(sps.t.ppf(0.975, 3) * s["std"] / 2)
    assert all(type(s[k]) is float for k in ("mean", "ci95", "std")), "values must be plain floats (JSON)"


def test_summarize_curve_is_columnwise():
    rng = np.random.default_rng(1)
    curve = rng.normal(size=(40, 4)) + np.arange(4)
    out = summarize_curve(curve)
    assert out["n"] == 40 and len(out["mean"]) == 4
    for j in range(4):
        col = summarize(curve[:, j])
        assert out["mean"][j] == col["mean"] and out["ci95"][j] == col["ci95"] and out["std"][j] == col["std"]
    with pytest.raises(ValueError, match="n_samples, n_points"):
        summarize_curve([1.0, 2.0])
    curve[3, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 must be finite; index 3"):
        summarize_curve(curve)
