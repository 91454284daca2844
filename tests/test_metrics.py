"""Performance metrics: known series, hand-computed values, NaN on too-short input."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.analytics import metrics
from backtest.analytics.metrics import (
    ROUND_OFF_TOLERANCE,
    SESSIONS_PER_YEAR,
    annualised_return,
    annualised_turnover,
    annualised_volatility,
    cumulative_excess_return,
    cumulative_excess_returns,
    cumulative_return,
    cumulative_returns,
    daily_turnover,
    drawdowns,
    excess_returns,
    hit_rate,
    information_ratio,
    max_drawdown,
    max_drawdown_details,
    performance_summary,
    sharpe_ratio,
    tracking_error,
)

REAL_INDICES = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real"
    / "index_daily_2022_12_to_2024_12.csv"
)

daily_returns = st.lists(
    st.floats(min_value=-0.3, max_value=0.3, allow_nan=False), min_size=1, max_size=300
)


def test_docstring_examples_of_metrics_run() -> None:
    result = doctest.testmod(metrics, raise_on_error=False)
    assert result.attempted > 15
    assert result.failed == 0


def test_sessions_per_year_is_the_a_share_convention() -> None:
    assert SESSIONS_PER_YEAR == 242


def test_constant_return_compounds_and_annualises_exactly() -> None:
    daily = 0.001
    series = [daily] * 121
    assert cumulative_return(series) == pytest.approx((1 + daily) ** 121 - 1, rel=1e-13)
    assert annualised_return(series) == pytest.approx((1 + daily) ** 242 - 1, rel=1e-12)
    assert annualised_volatility(series) == 0.0
    assert math.isnan(sharpe_ratio(series))


def test_sharpe_ratio_matches_hand_computation_with_risk_free_rate() -> None:
    series = np.array([0.01, -0.005, 0.02, 0.0, 0.004])
    risk_free_annual = 0.02
    daily_risk_free = (1 + risk_free_annual) ** (1 / 242) - 1
    excess = series - daily_risk_free
    expected = excess.mean() / excess.std(ddof=1) * math.sqrt(242)
    assert sharpe_ratio(series, risk_free_rate=risk_free_annual) == pytest.approx(expected)


def test_known_drawdown_path_gives_depth_peak_trough_and_recovery() -> None:
    # wealth 1.1, 0.88, 0.792, 0.8316, 1.2474: peak 1.1 on day 0, trough 0.792 on day 2
    series = [0.10, -0.20, -0.10, 0.05, 0.50]
    dates = np.array(["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"])
    details = max_drawdown_details(series, dates=dates)
    assert details.depth == pytest.approx(0.792 / 1.1 - 1.0, abs=1e-14)
    assert (details.peak_index, details.trough_index, details.recovery_index) == (0, 2, 4)
    assert details.peak_date == np.datetime64("2024-01-29")
    assert details.trough_date == np.datetime64("2024-01-31")
    assert details.recovery_date == np.datetime64("2024-02-02")
    assert max_drawdown(series) == pytest.approx(-0.28, abs=1e-14)
    assert drawdowns(series).round(12).tolist() == [0.0, -0.2, -0.28, -0.244, 0.0]


def test_loss_on_first_day_is_a_drawdown_from_initial_capital() -> None:
    details = max_drawdown_details([-0.10, -0.10, 0.05])
    assert details.depth == pytest.approx(0.81 - 1.0)
    assert details.peak_index == -1
    assert details.peak_date is None
    assert details.trough_index == 1
    assert details.recovery_index is None


def test_series_that_never_falls_has_no_drawdown() -> None:
    details = max_drawdown_details([0.01, 0.0, 0.02])
    assert details.depth == 0.0
    assert details.peak_index is None and details.trough_index is None
    assert max_drawdown([0.01, 0.0, 0.02]) == 0.0


@settings(max_examples=60, deadline=None)
@given(daily_returns)
def test_max_drawdown_equals_brute_force_worst_fall(series: list[float]) -> None:
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + np.array(series))))
    worst = min(
        (wealth[j] / wealth[i] - 1.0 for i in range(wealth.size) for j in range(i, wealth.size)),
    )
    assert max_drawdown(series) == pytest.approx(worst, abs=1e-12)
    details = max_drawdown_details(series)
    if worst < 0:
        peak_wealth = wealth[details.peak_index + 1]
        trough_wealth = wealth[details.trough_index + 1]
        assert trough_wealth / peak_wealth - 1.0 == pytest.approx(worst, abs=1e-12)


def test_excess_returns_daily_arithmetic_and_geometric() -> None:
    portfolio = [0.02, -0.03]
    benchmark = [0.01, -0.05]
    assert excess_returns(portfolio, benchmark).tolist() == pytest.approx([0.01, 0.02])
    assert excess_returns(portfolio, benchmark, method="geometric").tolist() == pytest.approx(
        [1.02 / 1.01 - 1, 0.97 / 0.95 - 1]
    )


def test_cumulative_excess_compounds_each_side_first() -> None:
    portfolio = [0.02, -0.03]
    benchmark = [0.01, -0.05]
    arithmetic = 1.02 * 0.97 - 1.01 * 0.95
    geometric = (1.02 * 0.97) / (1.01 * 0.95) - 1
    assert cumulative_excess_return(portfolio, benchmark) == pytest.approx(arithmetic)
    assert cumulative_excess_return(portfolio, benchmark, method="geometric") == pytest.approx(
        geometric
    )
    path = cumulative_excess_returns(portfolio, benchmark)
    assert path.tolist() == pytest.approx([0.01, arithmetic])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_cumulative_paths_end_at_the_window_figures(data: st.DataObject) -> None:
    portfolio = data.draw(daily_returns)
    benchmark = data.draw(
        st.lists(
            st.floats(min_value=-0.3, max_value=0.3, allow_nan=False),
            min_size=len(portfolio),
            max_size=len(portfolio),
        )
    )
    assert cumulative_returns(portfolio)[-1] == pytest.approx(cumulative_return(portfolio))
    for method in ("arithmetic", "geometric"):
        path = cumulative_excess_returns(portfolio, benchmark, method=method)
        total = cumulative_excess_return(portfolio, benchmark, method=method)
        assert path[-1] == pytest.approx(total, abs=1e-12)


def test_tracking_error_and_information_ratio_by_hand() -> None:
    portfolio = np.array([0.012, -0.004, 0.007, 0.001])
    benchmark = np.array([0.010, -0.006, 0.004, 0.002])
    active = portfolio - benchmark  # 0.002, 0.002, 0.003, -0.001
    deviation = math.sqrt(((active - active.mean()) ** 2).sum() / 3)
    assert tracking_error(portfolio, benchmark) == pytest.approx(deviation * math.sqrt(242))
    assert information_ratio(portfolio, benchmark) == pytest.approx(
        active.mean() / deviation * math.sqrt(242)
    )


def test_turnover_one_sided_halves_the_traded_notional() -> None:
    notional = [4e6, 1e6, 0.0]
    equity = [1e7, 1e7, 0.0]
    assert daily_turnover(notional, equity, sides="two_sided")[:2].tolist() == [0.4, 0.1]
    one_sided = daily_turnover(notional, equity)
    assert one_sided[:2].tolist() == [0.2, 0.05]
    assert math.isnan(one_sided[2])
    assert annualised_turnover(notional[:2], equity[:2]) == pytest.approx(0.125 * 242)


def test_hit_rate_counts_strict_wins() -> None:
    assert hit_rate([0.01, -0.01, 0.0, 0.02]) == 0.5
    assert hit_rate([0.01, 0.02, 0.03], [0.0, 0.02, 0.01]) == pytest.approx(2 / 3)


def test_hit_rate_leaves_nan_days_out_of_hits_and_sessions() -> None:
    nan = float("nan")
    # 2 hits among the 3 known days; the NaN day is not a miss (which would give 2/4)
    assert hit_rate([0.01, nan, -0.01, 0.02]) == 2 / 3
    assert hit_rate([nan, 0.03, nan, -0.02]) == 0.5


def test_hit_rate_against_a_benchmark_leaves_out_a_nan_on_either_side() -> None:
    nan = float("nan")
    portfolio = [0.02, nan, 0.01, 0.00, 0.03]
    benchmark = [0.01, 0.00, nan, 0.01, 0.01]
    # known days 0, 3, 4: hits on 0 and 4
    assert hit_rate(portfolio, benchmark) == 2 / 3


@pytest.mark.parametrize(
    "returns", [[float("nan")], [float("nan"), float("nan"), float("nan")], []]
)
def test_hit_rate_is_nan_when_no_day_is_known(returns: list[float]) -> None:
    assert math.isnan(hit_rate(returns))


def test_excess_hit_rate_of_the_summary_leaves_nan_days_out() -> None:
    summary = performance_summary([0.02, float("nan"), 0.0], [0.01, 0.0, 0.01])
    assert summary["hit_rate"] == 0.5
    assert summary["excess_hit_rate"] == 0.5


def test_round_off_tolerance_is_documented_at_1e_12() -> None:
    assert ROUND_OFF_TOLERANCE == 1e-12
    assert "ROUND_OFF_TOLERANCE" in (information_ratio.__doc__ or "")
    assert "ROUND_OFF_TOLERANCE" in (sharpe_ratio.__doc__ or "")


def test_book_equal_to_its_benchmark_plus_a_constant_has_nan_information_ratio() -> None:
    benchmark = np.random.default_rng(7).normal(0.0005, 0.015, 242)
    portfolio = benchmark + 0.001
    excess = portfolio - benchmark
    # the excess is constant only up to round-off: the unguarded ratio is about 2.5e16
    assert np.ptp(excess) > 0.0
    assert abs(excess.mean() / excess.std(ddof=1) * math.sqrt(242)) > 1e15
    assert math.isnan(information_ratio(portfolio, benchmark))
    assert math.isnan(performance_summary(portfolio, benchmark)["information_ratio"])


def test_constant_excess_with_1e_19_noise_has_nan_information_ratio_and_sharpe() -> None:
    noisy = np.full(50, 0.001)
    noisy[::2] = np.nextafter(0.001, 1.0)  # 2.2e-19 apart: constant up to round-off
    assert np.ptp(noisy) > 0.0
    assert math.isnan(information_ratio(noisy, np.zeros(50)))
    assert math.isnan(sharpe_ratio(noisy))
    assert math.isnan(sharpe_ratio(noisy, risk_free_rate=0.02))


def test_deviation_just_above_the_tolerance_still_gives_a_ratio() -> None:
    # excess 0.001 +- 1e-11: std 1.0e-11 (ddof=1 over 2 days gives sqrt(2) * 1e-11)
    portfolio = [0.001 + 1e-11, 0.001 - 1e-11]
    ratio = information_ratio(portfolio, [0.0, 0.0], sessions_per_year=1)
    assert ratio == pytest.approx(0.001 / (math.sqrt(2) * 1e-11), rel=1e-4)


def test_tolerance_scales_with_the_level_of_a_series_above_one() -> None:
    # a series in percent: level 100, deviation 5e-11 is round-off at that scale
    level = np.array([100.0 + 5e-11, 100.0 - 5e-11, 100.0 + 5e-11, 100.0 - 5e-11])
    assert math.isnan(sharpe_ratio(level, sessions_per_year=1))
    # the same deviation around a daily return of 1 % is above 1e-12 and counts as risk
    daily = level - 99.99
    assert sharpe_ratio(daily, sessions_per_year=1) == pytest.approx(
        0.01 / np.std(daily, ddof=1), rel=1e-3
    )


def test_nan_inside_the_series_gives_nan_ratios() -> None:
    nan = float("nan")
    assert math.isnan(sharpe_ratio([0.01, nan, 0.02]))
    assert math.isnan(information_ratio([0.01, nan, 0.02], [0.0, 0.0, 0.0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_guard_leaves_ordinary_ratios_bit_for_bit_unchanged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    portfolio = rng.normal(0.0004, 0.02, 242)
    benchmark = rng.normal(0.0002, 0.015, 242)
    excess = portfolio - benchmark
    daily_risk_free = 1.02 ** (1 / 242) - 1
    minus_risk_free = portfolio - daily_risk_free
    # the same operations as the unguarded formula, so equality is exact
    expected_ir = float(float(np.mean(excess)) / float(np.std(excess, ddof=1)) * np.sqrt(242))
    expected_sharpe = float(
        float(np.mean(minus_risk_free)) / float(np.std(minus_risk_free, ddof=1)) * np.sqrt(242)
    )
    assert information_ratio(portfolio, benchmark) == expected_ir
    assert sharpe_ratio(portfolio, risk_free_rate=0.02) == expected_sharpe


def test_hand_computed_ratios_of_the_docstrings_are_unchanged() -> None:
    assert round(sharpe_ratio([0.01, -0.01, 0.02, 0.0]), 6) == 6.024948
    ir = information_ratio([0.02, 0.00], [0.01, 0.00], sessions_per_year=1)
    assert round(ir, 6) == 0.707107


@pytest.mark.parametrize(
    ("function", "too_short"),
    [
        (cumulative_return, []),
        (annualised_return, []),
        (annualised_volatility, [0.01]),
        (sharpe_ratio, [0.01]),
        (max_drawdown, []),
        (hit_rate, []),
    ],
)
def test_single_series_metrics_are_nan_on_too_short_input(function, too_short) -> None:
    assert math.isnan(function(too_short))


@pytest.mark.parametrize(
    ("function", "too_short"),
    [
        (tracking_error, [0.01]),
        (information_ratio, [0.01]),
        (cumulative_excess_return, []),
    ],
)
def test_paired_metrics_are_nan_on_too_short_input(function, too_short) -> None:
    assert math.isnan(function(too_short, too_short))


def test_empty_series_has_nan_drawdown_details() -> None:
    details = max_drawdown_details([])
    assert math.isnan(details.depth)
    assert details.trough_index is None


def test_misaligned_portfolio_and_benchmark_are_refused() -> None:
    with pytest.raises(ValueError, match="aligned day by day"):
        tracking_error([0.01, 0.02], [0.01])


def test_unknown_excess_method_is_refused() -> None:
    with pytest.raises(ValueError, match="method must be"):
        excess_returns([0.01], [0.0], method="log")  # type: ignore[arg-type]


def test_non_positive_sessions_per_year_is_refused() -> None:
    with pytest.raises(ValueError, match="sessions_per_year must be > 0"):
        annualised_volatility([0.01, 0.02], sessions_per_year=0)


def test_performance_summary_collects_the_headline_metrics() -> None:
    portfolio = [0.01, -0.02, 0.03, 0.004]
    benchmark = [0.0, -0.01, 0.01, 0.002]
    alone = performance_summary(portfolio)
    assert "tracking_error" not in alone
    assert alone["max_drawdown"] == max_drawdown(portfolio)
    paired = performance_summary(portfolio, benchmark, risk_free_rate=0.02)
    assert paired["sharpe_ratio"] == sharpe_ratio(portfolio, risk_free_rate=0.02)
    assert paired["information_ratio"] == information_ratio(portfolio, benchmark)
    assert paired["excess_return"] == cumulative_excess_return(portfolio, benchmark)
    assert paired["excess_hit_rate"] == 0.75
    frame = pl.DataFrame([alone | {"book": "a"}, alone | {"book": "b"}], strict=False)
    assert frame.height == 2


def test_nan_inside_a_series_propagates() -> None:
    assert math.isnan(cumulative_return([0.01, float("nan")]))
    assert math.isnan(max_drawdown_details([0.01, float("nan")]).depth)


def _real_index_closes() -> pl.DataFrame:
    if not REAL_INDICES.exists():
        pytest.skip(f"real data not present at {REAL_INDICES}")
    frame = pl.read_csv(REAL_INDICES, schema_overrides={"index_code": pl.String})
    return (
        frame.with_columns(pl.col("date").str.to_date())
        .pivot(on="index_code", index="date", values="close")
        .sort("date")
    )


@pytest.mark.real_data
def test_real_2024_crash_year_to_date_matches_the_market_note() -> None:
    # market note of 2024-02-16: YTD on 2024-02-07, Wind microcap -45.81 %, CSI 2000 -33.33 %
    closes = _real_index_closes().filter(pl.col("date") >= pl.date(2023, 12, 29))
    closes = closes.filter(pl.col("date") <= pl.date(2024, 2, 7))
    returns = closes.select(pl.exclude("date").pct_change()).slice(1)
    assert round(cumulative_return(returns["8841431"].to_numpy()), 4) == -0.4581
    assert round(cumulative_return(returns["932000"].to_numpy()), 4) == -0.3333
    microcap_over_csi300 = cumulative_excess_return(
        returns["8841431"].to_numpy(), returns["000300"].to_numpy()
    )
    first, last = closes.row(0, named=True), closes.row(-1, named=True)
    expected = last["8841431"] / first["8841431"] - last["000300"] / first["000300"]
    assert microcap_over_csi300 == pytest.approx(expected, abs=1e-12)


@pytest.mark.real_data
def test_real_microcap_drawdown_bottoms_on_2024_02_07() -> None:
    closes = _real_index_closes()
    microcap = closes["8841431"].to_numpy()
    dates = closes["date"].to_numpy()
    details = max_drawdown_details(microcap[1:] / microcap[:-1] - 1.0, dates=dates[1:])
    assert details.trough_date == np.datetime64("2024-02-07")
    peak_close = microcap[: details.trough_index + 2].max()
    assert details.peak_date == dates[int(np.argmax(microcap[: details.trough_index + 2]))]
    trough_close = microcap[details.trough_index + 1]
    assert details.depth == pytest.approx(trough_close / peak_close - 1.0, rel=1e-12)
