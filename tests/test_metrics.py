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
