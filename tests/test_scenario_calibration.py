"""The default scenario reproduces the calibration targets (issue 2)."""

import numpy as np
import polars as pl
import pytest
from scenario_checks import all_contract_basis, close_errors, main_contract_basis

from backtest.core.ids import CSI2000, INDEX_CODES, MICROCAP
from backtest.market.scenario.targets import load_targets

TOLERANCE = 0.005


def test_every_month_end_close_is_hit_within_half_a_percent(scenario_frames) -> None:
    errors = close_errors(scenario_frames)
    month_ends = load_targets().month_end_closes.filter(pl.col("date") > pl.date(2022, 12, 30))
    hit = errors.join(month_ends.select("date", "index_code"), on=["date", "index_code"])
    assert hit.height == month_ends.height == 24 * 5
    assert set(hit["index_code"]) == set(INDEX_CODES)
    worst = hit.sort("error").tail(1)
    assert hit["error"].max() < TOLERANCE, worst


def test_every_crash_window_close_is_hit_within_half_a_percent(scenario_frames) -> None:
    errors = close_errors(scenario_frames)
    window = load_targets().crash_window_closes
    hit = errors.join(window.select("date", "index_code"), on=["date", "index_code"])
    assert hit.height == window.height == 38 * 5
    assert hit["error"].max() < TOLERANCE, hit.sort("error").tail(3)


@pytest.mark.parametrize(("code", "ytd_pct"), [(MICROCAP, -45.81), (CSI2000, -33.33)])
def test_year_to_date_on_2024_02_07_matches_the_headline(scenario_frames, code, ytd_pct) -> None:
    bars = scenario_frames["index_bars"].filter(pl.col("index_code") == code)
    close = dict(zip(bars["date"].cast(pl.String), bars["close"], strict=True))
    ytd = (close["2024-02-07"] / close["2023-12-29"] - 1.0) * 100.0
    assert ytd == pytest.approx(ytd_pct, abs=0.5)


def test_main_contract_basis_tracks_monthly_means_and_lows(scenario_frames) -> None:
    # the published figures follow the real largest-open-interest contract (for IF and IH
    # often the current month): the scenario's price of that same contract on each day
    real_main = load_targets().basis_daily.filter(pl.col("role") == "main")
    basis = all_contract_basis(scenario_frames).join(
        real_main.select("date", "product", "contract"), on=["date", "product", "contract"]
    )
    monthly = basis.group_by(pl.col("date").dt.strftime("%Y-%m").alias("month"), "product").agg(
        mean=pl.col("basis_pct").mean(), low=pl.col("basis_pct").min()
    )
    joined = load_targets().basis_monthly.join(monthly, on=["month", "product"])
    assert joined.height == 24 * 4
    assert (joined["mean"] - joined["mean_pct"]).abs().max() < 1.0
    assert (joined["low"] - joined["low_pct"]).abs().max() < 2.0


def test_ic_and_im_basis_track_every_crash_window_day(scenario_frames) -> None:
    basis = main_contract_basis(scenario_frames).rename({"contract": "generated_contract"})
    window = load_targets().basis_crash_window
    joined = window.join(basis, on=["date", "product"])
    assert joined.height == window.height
    assert (joined["basis_pct_right"] - joined["basis_pct"]).abs().max() < 1.0
    assert (joined["generated_contract"] == joined["contract"]).all()


def test_index_closes_chain_from_stored_weights_and_bar_returns(scenario_frames) -> None:
    dates = scenario_frames["calendar"]["date"]
    next_date = pl.DataFrame({"date": dates[:-1], "next_date": dates[1:]})
    returns = scenario_frames["bars"].select(
        pl.col("date").alias("next_date"), "symbol", ret=pl.col("close") / pl.col("pre_close") - 1
    )
    implied = (
        scenario_frames["index_weights"]
        .join(next_date, on="date")
        .join(returns, on=["next_date", "symbol"], how="left")
        .group_by("index_code", "next_date")
        .agg(
            growth=1 + (pl.col("weight") * pl.col("ret")).sum(),
            missing=pl.col("ret").is_null().sum(),
        )
    )
    levels = scenario_frames["index_bars"].select("date", "index_code", "close")
    check = (
        implied.join(levels.rename({"date": "next_date"}), on=["index_code", "next_date"])
        .join(
            levels.join(next_date, on="date").drop("date").rename({"close": "previous"}),
            on=["index_code", "next_date"],
        )
        .with_columns(gap=(pl.col("previous") * pl.col("growth") / pl.col("close") - 1).abs())
    )
    assert check.height == (len(dates) - 1) * 6
    assert check["missing"].sum() == 0
    assert check["gap"].max() < 1e-9


def test_index_bars_have_ordered_ohlc_and_positive_amount(scenario_frames) -> None:
    bars = scenario_frames["index_bars"]
    assert (bars["high"] >= bars[["open", "close"]].max_horizontal() - 1e-9).all()
    assert (bars["low"] <= bars[["open", "close"]].min_horizontal() + 1e-9).all()
    assert (bars["amount"] > 0).all()
    assert np.isfinite(bars["close"].to_numpy()).all()
