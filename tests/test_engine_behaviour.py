"""The engine's session loop on hand-built markets: backlog, T+1, locks, corporate actions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from engine_fixtures import Momentum, MomentumParams, Raises, synthetic_market

from backtest.engine import (
    Book,
    Clock,
    Context,
    Engine,
    EngineConfig,
    MarketData,
    Phase,
    SessionFills,
    Strategy,
    StrategyError,
    run_backtest,
)
from backtest.execution.fills import FillStatus

DATES = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]
CONFIG = EngineConfig(initial_cash=1e6, impact_coefficient=0.0)


def _one_stock(close: list[float], **fields: list[float]) -> MarketData:
    days = len(close)
    arrays = {k: np.array(v, dtype=float)[:, None] for k, v in fields.items()}
    arrays.setdefault("volume", np.full((days, 1), 1e7))
    return MarketData.from_arrays(
        dates=DATES[:days], symbols=["600000"], close=np.array(close)[:, None], **arrays
    )


class Script(Strategy[None]):
    """Targets given weights on given sessions; records what it saw."""

    def __init__(self, weights_by_session: dict[int, float | dict[str, float]]) -> None:
        super().__init__(None)
        self.weights_by_session = weights_by_session
        self.seen_sellable: list[np.ndarray] = []
        self.fills: list[SessionFills] = []

    def on_bar(self, ctx: Context) -> None:
        weight = self.weights_by_session.get(ctx.session_index)
        if isinstance(weight, dict):
            ctx.order_target_weights(weight)
        elif weight is not None:
            ctx.order_target_weights(np.full(ctx.symbols.size, weight))

    def on_fill(self, ctx: Context, fills: SessionFills) -> None:
        self.fills.append(fills)
        self.seen_sellable.append(np.array(ctx.portfolio.sellable))


def test_clock_yields_four_phases_per_session_in_order():
    events = list(Clock(np.array(DATES[:2], dtype="datetime64[D]")))
    assert [(e.session_index, e.phase) for e in events[:4]] == [(0, p) for p in Phase]
    assert len(events) == 8


def test_limit_down_locked_sell_stays_in_backlog_and_ages():
    # bought at the open of session 1; from session 2 the stock closes locked at limit-down
    close = [10.0, 10.0, 9.0, 8.1, 7.29, 7.5]
    limit_down = [9.0, 9.0, 9.0, 8.1, 7.29, 6.56]
    market = _one_stock(close, limit_down=limit_down, limit_up=[99.0] * 6)
    strategy = Script({0: 0.5, 1: 0.0})
    result = run_backtest(market, strategy, config=CONFIG)
    fills = result.fills
    statuses = fills["status"].to_list()
    assert statuses == [
        FillStatus.FILLED,
        FillStatus.LOCKED_LIMIT_DOWN,
        FillStatus.LOCKED_LIMIT_DOWN,
        FillStatus.LOCKED_LIMIT_DOWN,
        FillStatus.FILLED,
    ]
    backlog = result.backlog
    assert backlog["age_sessions"].to_list() == [0, 0, 1, 2, 3]
    assert backlog["remaining_shares"].to_list()[1:] == [-50000] * 4
    assert result.positions["shares"].to_list() == [50000] * 4


def test_shares_bought_today_become_sellable_only_next_session():
    market = _one_stock([10.0, 10.0, 10.0, 10.0])
    strategy = Script({0: 0.5, 1: 0.2})
    run_backtest(market, strategy, config=CONFIG)
    assert strategy.seen_sellable[0].tolist() == [0]  # open of session 1: just bought
    sold = -int(strategy.fills[1].filled_shares[0])
    assert 29_000 < sold < 31_000
    assert strategy.seen_sellable[1].tolist() == [50000 - sold]


def test_adj_factor_change_scales_position_and_keeps_equity():
    # a 10-for-10 bonus issue on session 2: raw price halves, adj_factor doubles
    market = _one_stock(
        [10.0, 10.0, 5.0, 5.0],
        adj_factor=[1.0, 1.0, 2.0, 2.0],
    )
    result = run_backtest(market, Script({0: 0.5}), config=CONFIG)
    assert result.positions["shares"].to_list() == [50000, 100000, 100000]
    equity = result.daily["equity"].to_list()
    assert equity[2] == pytest.approx(equity[1], abs=1e-6)


def test_vwap_execution_fills_at_amount_over_volume():
    market = _one_stock([10.0, 10.0, 10.0], volume=[1e6, 1e6, 1e6], amount=[1e7, 1.05e7, 1e7])
    config = EngineConfig(initial_cash=1e6, impact_coefficient=0.0, execution_price="vwap")
    result = run_backtest(market, Script({0: 0.5}), config=config)
    assert result.fills["reference_price"].to_list() == [10.5]
    assert result.fills["fill_price"].to_list() == [10.5]


def test_dict_target_is_the_whole_portfolio():
    market = MarketData.from_arrays(
        dates=DATES[:4],
        symbols=["600000", "000001"],
        close=np.full((4, 2), 10.0),
        volume=np.full((4, 2), 1e7),
    )
    strategy = Script({0: {"600000": 0.4, "000001": 0.4}, 1: {"600000": 0.4}})
    result = run_backtest(market, strategy, config=CONFIG)
    last = result.positions.filter(result.positions["date"] == result.positions["date"].max())
    assert last["symbol"].to_list() == ["600000"]


def test_star_weights_round_to_single_shares_and_skip_buys_below_200():
    market = MarketData.from_arrays(
        dates=DATES[:3],
        symbols=["688001", "688002"],
        close=np.array([[100.0, 100.0]] * 3),
        volume=np.full((3, 2), 1e7),
    )
    # 0.12345 * 1e6 / 100 = 1234.5 -> 1234 shares (lot 1); 0.015 * 1e6 / 100 = 150 < 200
    result = run_backtest(market, Script({0: {"688001": 0.12345, "688002": 0.015}}), config=CONFIG)
    assert result.positions["shares"].to_list() == [1234, 1234]
    assert result.positions["symbol"].unique().to_list() == ["688001"]


def test_cancel_drops_the_backlog():
    class CancelAfterOne(Script):
        def on_bar(self, ctx: Context) -> None:
            super().on_bar(ctx)
            if ctx.session_index == 2:
                ctx.cancel()

    close = [10.0, 10.0, 9.0, 8.1, 7.5]
    market = _one_stock(close, limit_down=[9.0, 9.0, 9.0, 8.1, 6.0])
    result = run_backtest(market, CancelAfterOne({0: 0.5, 1: 0.0}), config=CONFIG)
    assert result.backlog["date"].dt.to_string("%Y-%m-%d").to_list() == [
        "2024-01-29",  # the buy queued at the first close
        "2024-01-30",  # the sell queued, blocked at the next open, cancelled at session 2
    ]
    assert result.positions.height == 4


def test_history_ends_today_and_is_read_only():
    market = synthetic_market(3, days=8, n=4)
    seen = []

    class Looks(Strategy[None]):
        def on_bar(self, ctx: Context) -> None:
            window = ctx.history("close", 3)
            seen.append(window.shape)
            np.testing.assert_array_equal(window[-1], market["close"][ctx.session_index])
            with pytest.raises(ValueError, match="read-only"):
                window[0, 0] = 1.0
            with pytest.raises(ValueError, match="read-only"):
                ctx.portfolio.positions[0] = 1

    run_backtest(market, Looks(None))
    assert seen == [(3, 4)] * 8


def test_history_before_the_first_session_is_padded_with_nan():
    market = synthetic_market(3, days=3, n=2)
    windows = []

    class Looks(Strategy[None]):
        def on_bar(self, ctx: Context) -> None:
            windows.append(ctx.history("close", 2))

    run_backtest(market, Looks(None))
    assert np.isnan(windows[0][0]).all()
    np.testing.assert_array_equal(windows[0][1], market["close"][0])


def test_negative_weight_is_refused_naming_the_symbol():
    class Short(Strategy[None]):
        def on_bar(self, ctx: Context) -> None:
            ctx.order_target_weights({"600000": -0.1})

    with pytest.raises(StrategyError, match="600000") as caught:
        run_backtest(_one_stock([10.0, 10.0]), Short(None), book="shorty")
    assert isinstance(caught.value.__cause__, ValueError)


def test_strategy_error_names_book_session_and_keeps_partial_result():
    market = synthetic_market(5, days=10, n=6)
    with pytest.raises(StrategyError) as caught:
        Engine(EngineConfig()).run(
            market, {"steady": Momentum(MomentumParams(top=2)), "fragile": Raises(fail_at=4)}
        )
    error = caught.value
    message = str(error)
    assert "'fragile'" in message and "2023-08-25" in message and "model blew up" in message
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert error.partial_result.book == "fragile"
    assert not error.partial_result.complete
    assert error.partial_result.daily.height == 4
    assert error.partial_results["steady"].daily.height == 4
    assert error.partial_result.fills.height > 0


def test_books_in_one_pass_match_books_run_alone():
    market = synthetic_market(11, days=15, n=10)
    together = Engine(CONFIG).run(
        market,
        {"a": Momentum(MomentumParams(top=3)), "b": Momentum(MomentumParams(top=5, lookback=3))},
    )
    alone_b = Engine(CONFIG).run(market, {"b": Momentum(MomentumParams(top=5, lookback=3))})["b"]
    assert together["b"].equals(alone_b)
    assert not together["a"].daily.equals(together["b"].daily)


def test_same_strategy_instance_for_two_books_is_refused():
    strategy = Momentum(MomentumParams())
    with pytest.raises(ValueError, match="own Strategy instance"):
        Engine().run(synthetic_market(1, days=3, n=3), {"a": strategy, "b": strategy})


@dataclass(frozen=True)
class _Bad:
    field: str
    value: object


@pytest.mark.parametrize(
    "bad",
    [
        _Bad("participation_cap", 0.0),
        _Bad("participation_cap", 1.5),
        _Bad("impact_coefficient", -0.1),
        _Bad("initial_cash", 0.0),
        _Bad("execution_price", "close"),
        _Bad("volatility_window", 1),
    ],
)
def test_engine_config_rejects_values_out_of_range_naming_the_parameter(bad):
    with pytest.raises(ValueError, match=bad.field):
        EngineConfig(**{bad.field: bad.value})


def test_a_books_own_initial_cash_is_in_its_config_and_hash():
    market = synthetic_market(2, days=6, n=4)
    results = Engine(CONFIG).run(
        market,
        [
            Book(name="small", strategy=Momentum(MomentumParams(top=2)), initial_cash=1e5),
            Book(name="default", strategy=Momentum(MomentumParams(top=2))),
        ],
    )
    assert results["small"].config["initial_cash"] == 1e5
    assert results["small"].daily["equity"][0] == 1e5
    assert results["default"].config["initial_cash"] == CONFIG.initial_cash
    assert results["small"].config_hash != results["default"].config_hash


def test_share_targets_below_a_lot_wait_in_the_backlog_as_below_lot():
    class Shares(Strategy[None]):
        def on_bar(self, ctx: Context) -> None:
            if ctx.session_index == 0:
                ctx.order_target_shares({"600000": 1_050})

    result = run_backtest(_one_stock([10.0, 10.0, 10.0]), Shares(None), config=CONFIG)
    # lot rounding cuts 1050 to 1000, then the remaining 50 rounds to zero lots
    first, second = result.fills["status"].to_list()
    assert first in (FillStatus.FILLED, FillStatus.BELOW_LOT)
    assert second == FillStatus.BELOW_LOT
    assert result.fills["filled_shares"].to_list() == [1_000, 0]
    assert result.backlog["remaining_shares"].to_list() == [1_050, 50, 50]
    assert result.backlog["age_sessions"].to_list() == [0, 1, 2]


def test_on_fill_sees_history_up_to_yesterday_only():
    market = synthetic_market(4, days=5, n=3)
    last_rows = []

    class Watch(Script):
        def on_fill(self, ctx: Context, fills: SessionFills) -> None:
            last_rows.append((ctx.session_index, ctx.history("close", 1)[-1].copy()))
            with pytest.raises(ValueError, match="read-only"):
                fills.filled_shares[0] = 1

    run_backtest(market, Watch({0: 0.3, 1: 0.1, 2: 0.3}), config=CONFIG)
    assert [t for t, _ in last_rows][:3] == [1, 2, 3]
    for t, row in last_rows:
        np.testing.assert_array_equal(row, market["close"][t - 1])
