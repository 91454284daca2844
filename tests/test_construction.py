"""Signals and portfolio construction of the books: pure functions on one cross-section."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.construction import (
    benchmark_share,
    enhanced_weights,
    limit_turnover,
    smallest_equal_weight,
)
from strategies.signals import combine_scores, reversal, turnover, zscore


def _cross_section(seed: int, n: int, members: int):
    rng = np.random.default_rng(seed)
    bench = np.zeros(n)
    idx = rng.choice(n, members, replace=False)
    bench[idx] = rng.lognormal(0, 1, members)
    bench /= bench.sum()
    score = rng.normal(size=n)
    score[rng.random(n) < 0.05] = np.nan
    eligible = rng.random(n) > 0.1
    return score, bench, eligible


def test_smallest_equal_weight_picks_the_smallest_eligible():
    cap = np.array([9.0, 1.0, 2.0, 3.0, 0.5])
    eligible = np.array([True, True, True, True, False])
    w = smallest_equal_weight(cap, eligible, 2)
    assert w.tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]


def test_zscore_has_zero_mean_unit_std_on_the_mask():
    x = np.arange(10.0)
    mask = np.arange(10) < 8
    z = zscore(x, mask, clip=10)
    assert np.isnan(z[8:]).all()
    assert z[:8].mean() == pytest.approx(0.0, abs=1e-12)
    assert z[:8].std() == pytest.approx(1.0)


def test_signals_use_only_the_rows_given():
    close = np.array([[10.0, 10.0], [12.0, 9.0], [11.0, 9.9]])
    assert reversal(close, 2).tolist() == pytest.approx([0.1, -0.01])
    assert np.isnan(reversal(close, 3)).all()
    amount = np.array([[0.0, 2e7], [1e7, 4e7]])
    cap = np.array([[1e9, 1e9], [1e9, 1e9]])
    assert turnover(amount, cap, 2).tolist() == pytest.approx([0.01, 0.03])


def test_combine_scores_marks_missing_components_nan():
    mask = np.ones(3, bool)
    score = combine_scores(
        {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([1.0, np.nan, 0.0])},
        {"a": 1.0, "b": 1.0},
        mask,
    )
    assert np.isnan(score[1]) and np.isfinite(score[[0, 2]]).all()
    with pytest.raises(KeyError, match="no signal component 'c'"):
        combine_scores({"a": np.ones(3)}, {"c": 1.0}, mask)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    share=st.floats(0.8, 1.0),
    max_active=st.floats(0.001, 0.05),
)
def test_enhanced_weights_hold_the_benchmark_floor_and_active_budget(seed, share, max_active):
    score, bench, eligible = _cross_section(seed, 300, 100)
    w = enhanced_weights(
        score, bench, eligible, in_benchmark_share=share, max_active_weight=max_active
    )
    assert (w >= 0).all()
    assert w.sum() == pytest.approx(1.0)
    assert benchmark_share(w, bench) >= share - 1e-9
    assert not w[~eligible].any()
    member = (bench > 0) & eligible
    base = bench * member / (bench * member).sum() * share
    assert np.all(np.abs(w[member] - base[member]) <= max_active + 1e-9)


def test_enhanced_weights_tilt_towards_high_scores():
    bench = np.array([0.25, 0.25, 0.25, 0.25, 0.0, 0.0])
    score = np.array([2.0, 1.0, -1.0, -2.0, 3.0, -3.0])
    w = enhanced_weights(
        score,
        bench,
        np.ones(6, bool),
        tilt=0.3,
        max_active_weight=0.5,
        out_of_benchmark_names=1,
    )
    assert w[0] > w[1] > w[2] > w[3]
    assert w[4] == pytest.approx(0.2) and w[5] == 0.0


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), limit=st.floats(0.01, 1.0))
def test_limit_turnover_never_exceeds_the_limit(seed, limit):
    rng = np.random.default_rng(seed)
    a, b = rng.random(50), rng.random(50)
    a, b = a / a.sum(), b / b.sum()
    w = limit_turnover(a, b, limit)
    assert 0.5 * np.abs(w - b).sum() <= limit + 1e-12
    assert w.sum() == pytest.approx(1.0)
