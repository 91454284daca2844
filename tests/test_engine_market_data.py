"""MarketData: built from arrays or a Store; derived arrays computed once, vectorised."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from engine_fixtures import synthetic_market
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.core.ids import board_of
from backtest.engine import MarketData
from backtest.market.features import derive, derive_py, rolling_moment, rolling_moment_py
from backtest.market.store import Store


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    days=st.integers(1, 30),
    window=st.integers(2, 8),
    nan_share=st.sampled_from([0.0, 0.2, 0.6]),
)
def test_rolling_std_kernel_equals_twin_and_a_naive_window_loop(seed, days, window, nan_share):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((days, 3))
    values[rng.random((days, 3)) < nan_share] = np.nan
    mean, std = rolling_moment(values, window, 1), rolling_moment(values, window, 2)
    np.testing.assert_array_equal(mean, rolling_moment_py(values, window, 1))  # kernel == twin
    np.testing.assert_array_equal(std, rolling_moment_py(values, window, 2))
    for t in range(days):
        block = values[max(0, t - window + 1) : t + 1]
        for j in range(3):
            column = block[:, j][~np.isnan(block[:, j])]
            if column.size >= (window + 1) // 2:
                assert mean[t, j] == pytest.approx(column.mean(), abs=1e-9)
                assert std[t, j] == pytest.approx(column.std(), abs=1e-7)
            else:
                assert np.isnan(mean[t, j]) and np.isnan(std[t, j])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), days=st.integers(1, 12), n=st.integers(1, 5))
def test_derive_kernel_equals_twin_exactly(seed, days, n):
    market = synthetic_market(seed, days=days, n=n, lock_probability=0.3)
    rng = np.random.default_rng(seed)
    fields = {k: np.array(market[k]) for k in ("open", "high", "low", "close", "adj_factor")}
    fields["close"][rng.random((days, n)) < 0.2] = np.nan
    fields["adj_factor"] *= rng.choice([1.0, 1.5], (days, n))
    amount = np.array(market["amount"])
    amount[rng.random((days, n)) < 0.3] = np.nan
    args = (
        fields["open"], fields["high"], fields["low"], fields["close"], fields["adj_factor"],
        np.array(market["volume"]), amount, np.array(market["limit_up"]),
        np.array(market["limit_down"]),
    )  # fmt: skip
    for kernel, twin in zip(derive(*args), derive_py(*args), strict=True):
        np.testing.assert_array_equal(kernel, twin)


def test_mark_carries_the_last_close_and_is_zero_before_listing():
    close = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    market = MarketData.from_arrays(
        dates=["2024-02-01", "2024-02-02", "2024-02-05", "2024-02-06"],
        symbols=["600000", "000001"],
        close=close,
    )
    np.testing.assert_array_equal(
        market.features().mark, [[0.0, 1.0], [2.0, 1.0], [2.0, 1.0], [3.0, 4.0]]
    )


def test_close_locked_at_limit_flags_locked_sessions():
    market = MarketData.from_arrays(
        dates=["2024-02-05", "2024-02-06"],
        symbols=["600000", "000001"],
        close=np.array([[9.0, 11.0], [9.5, 10.99]]),
        limit_down=np.array([[9.0, 9.0], [8.1, 9.9]]),
        limit_up=np.array([[11.0, 11.0], [9.9, 12.1]]),
        volume=np.ones((2, 2)),
    )
    features = market.features()
    assert features.locked_down.tolist() == [[True, False], [False, False]]
    assert features.locked_up.tolist() == [[False, True], [False, False]]


def test_arrays_are_read_only():
    market = synthetic_market(1, days=5, n=3)
    with pytest.raises(ValueError, match="read-only"):
        market["close"][0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        market.features().volatility[0, 0] = 1.0


def test_from_arrays_names_the_field_with_a_wrong_shape():
    with pytest.raises(ValueError, match="'volume' has shape"):
        MarketData.from_arrays(
            dates=["2024-02-05"], symbols=["600000"], close=np.ones((1, 1)), volume=np.ones(3)
        )


def test_from_arrays_refuses_unknown_fields_and_duplicate_symbols():
    with pytest.raises(ValueError, match="unknown fields"):
        MarketData.from_arrays(
            dates=["2024-02-05"], symbols=["600000"], close=np.ones((1, 1)), closing=np.ones((1, 1))
        )
    with pytest.raises(ValueError, match="unique"):
        MarketData.from_arrays(dates=["2024-02-05"], symbols=["600000"] * 2, close=np.ones((1, 2)))


def test_from_store_loads_dense_bars_boards_index_weights_and_closes(tmp_path):
    sessions = [dt.date(2024, 2, 1), dt.date(2024, 2, 2), dt.date(2024, 2, 5)]
    symbols = ["000001", "300750", "688981"]
    bars = pl.DataFrame(
        [
            {
                "date": d,
                "symbol": s,
                "open": 10.0 + i,
                "high": 11.0 + i,
                "low": 9.0 + i,
                "close": 10.5 + i,
                "pre_close": 10.0 + i,
                "volume": 1000 * (i + 1),
                "amount": 10_500.0 * (i + 1),
                "adj_factor": 1.0,
                "limit_up": 11.0 + i,
                "limit_down": 9.0 + i,
                "suspended": False,
                "float_cap": 1e9,
                "total_cap": 2e9,
                "is_st": s == "300750",
            }
            for i, d in enumerate(sessions)
            for s in symbols
            if not (s == "688981" and i == 0)
        ]
    )
    with Store(tmp_path / "m.duckdb") as store:
        store.write("calendar", pl.DataFrame({"date": sessions}), source="test")
        store.write(
            "instruments",
            pl.DataFrame(
                {
                    "symbol": symbols,
                    "exchange": [board_of(s)[0] for s in symbols],
                    "board": [board_of(s)[1] for s in symbols],
                }
            ),
            source="test",
        )
        store.write("bars", bars, source="test")
        store.write(
            "index_weights",
            pl.DataFrame(
                {
                    "date": sessions,
                    "index_code": ["000852"] * 3,
                    "symbol": ["000001"] * 3,
                    "weight": [1.0] * 3,
                }
            ),
            source="test",
        )
        store.write(
            "index_bars",
            pl.DataFrame(
                {
                    "date": sessions,
                    "index_code": ["000852"] * 3,
                    "open": [5000.0] * 3,
                    "high": [5100.0] * 3,
                    "low": [4900.0] * 3,
                    "close": [5000.0, 5050.0, 4990.0],
                }
            ),
            source="test",
        )
        market = MarketData.from_store(store, start="2024-02-01", end="2024-02-05")
    assert market.shape == (3, 3)
    assert market.board_codes.tolist() == [0, 1, 2]
    assert np.isnan(market["close"][0, 2]) and market["close"][1, 2] == 11.5
    assert market["is_st"][:, 1].all() and not market["is_st"][:, 0].any()
    assert market.index_weights["000852"][:, 0].tolist() == [1.0, 1.0, 1.0]
    assert list(market.index_weights) == ["000852"]
    assert market.index_closes["000852"].tolist() == [5000.0, 5050.0, 4990.0]
    assert market.features().vwap[2, 0] == pytest.approx(10.5)
