"""Futures in the engine: variation margin through cash, rolls, final settlement, the lines."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hedge_fixtures import ShortFutures, ShortParams, futures_market

from backtest.engine import Engine, EngineConfig, FuturesConfig
from backtest.market.calendar import sessions
from backtest.rules.roll import RollRule, roll_schedule


def _run(market, params: ShortParams):
    strategy = ShortFutures(params)
    result = Engine(EngineConfig(initial_cash=1e8)).run(market, {"book": strategy})["book"]
    return strategy, result


@pytest.fixture(scope="module")
def market():
    return futures_market()


@pytest.fixture(scope="module")
def short_run(market):
    return _run(market, ShortParams(contracts=-10))


def _held(strategy: ShortFutures) -> list[tuple[str, str]]:
    """(date, contract held after that close) from the strategy's views of the next session."""
    out = []
    for day, positions, _ in strategy.seen:
        assert len(positions) <= 1
        out.append((str(day), next(iter(positions), "")))
    return out


def test_short_futures_variation_margin_goes_through_cash(market, short_run):
    _, result = short_run
    daily = result.daily
    cash = daily["cash"].to_numpy()
    equity = daily["equity"].to_numpy()
    change = np.diff(np.concatenate([[1e8], cash]))
    flows = daily["futures_pnl"] - daily["futures_fees"] - daily["financing"]
    np.testing.assert_allclose(change, flows.to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(equity, cash, rtol=0, atol=1e-6)  # no stocks: equity = cash
    # an overnight short of 10 IC earns -10 * 200 * (settle_t - settle_t-1) on a non-trading day
    panel = market.futures
    column = int(panel.columns(["IC2403"])[0])
    day = int(np.searchsorted(market.dates, np.datetime64("2024-01-16")))
    settle = panel["settle"][:, column]
    expected = -10 * 200.0 * (settle[day] - settle[day - 1])
    assert daily["futures_pnl"][day] == pytest.approx(expected, abs=1e-6)


def test_engine_rolls_on_the_roll_schedule_dates_of_the_real_calendar(market, short_run):
    strategy, result = short_run
    plan = roll_schedule(
        RollRule(), "IC", sessions("2023-11-01", "2024-12-31"), start="2023-11-01", end="2024-04-30"
    )
    held = _held(strategy)
    # the first order fills at the second session's open; from then on, the plan's contract
    expected = list(zip(plan["date"].cast(pl.String), plan["contract"], strict=True))[1:]
    assert held[1:] == expected
    rolls = plan.filter(pl.col("is_roll"))["date"].cast(pl.String).to_list()
    assert rolls == ["2023-12-08", "2024-03-08"]
    roll_days = result.daily.filter(pl.col("roll") != 0)["date"].cast(pl.String).to_list()
    assert roll_days == rolls
    assert (result.daily["futures_notional"].to_numpy()[1:] < 0).all()


def test_short_roll_into_a_deeper_discount_is_a_cost(short_run):
    _, result = short_run
    rolls = result.daily.filter(pl.col("roll") != 0)["roll"].to_numpy()
    assert (rolls < 0).all()


def test_futures_pnl_splits_into_index_pnl_basis_carry_and_roll(market, short_run):
    _, result = short_run
    daily = result.daily
    index = market.index_closes["000905"]
    index_open = market.index_opens["000905"]
    # position held at each close (signed contracts): -10 from the second session on
    held = np.where(np.arange(daily.height) >= 1, -10, 0)
    overnight = np.concatenate([[0], held[:-1]])
    traded_first = np.zeros(daily.height)
    traded_first[1] = -10
    index_pnl = overnight * 200.0 * np.diff(np.concatenate([[index[0]], index]))
    index_pnl += traded_first * 200.0 * (index - index_open)
    total = index_pnl + daily["basis_carry"].to_numpy() + daily["roll"].to_numpy()
    np.testing.assert_allclose(total, daily["futures_pnl"].to_numpy(), rtol=0, atol=1e-5)


def test_margin_required_is_the_rate_times_the_settled_notional(short_run):
    _, result = short_run
    daily = result.daily.filter(pl.col("date") >= pl.date(2023, 6, 1))
    margin = daily["margin_required"].to_numpy()
    notional = np.abs(daily["futures_notional"].to_numpy())
    np.testing.assert_allclose(margin[1:], 0.12 * notional[1:], rtol=1e-12)


def test_position_held_into_expiry_is_closed_at_the_final_settlement():
    # IC2312 cannot trade at the open of its expiry day (2023-12-15): no roll, final settlement
    market = futures_market(untradable_open={"IC2312": "2023-12-15"})
    rule = RollRule(sessions_before_expiry=0, target="next_listed")
    strategy, result = _run(market, ShortParams(futures=FuturesConfig(roll_rule=rule)))
    seen = dict((str(d), p) for d, p, _ in strategy.seen)
    assert seen["2023-12-14"] == {"IC2312": -10}
    # the old leg could not trade: the final settlement closed it; the new leg was sold
    assert seen["2023-12-15"] == {"IC2401": -10}
    panel = market.futures
    day = int(np.searchsorted(market.dates, np.datetime64("2023-12-15")))
    old, new = panel.columns(["IC2312", "IC2401"])
    settle = panel["settle"]
    fill_new = panel["open"][day, new] - 0.2  # one tick of slippage on the sale
    expected = -10 * 200.0 * (settle[day, old] - settle[day - 1, old])
    expected += -10 * 200.0 * (settle[day, new] - fill_new)
    assert result.daily["futures_pnl"][day] == pytest.approx(expected, abs=1e-6)
    assert result.daily["futures_notional"][day] == pytest.approx(-2000.0 * settle[day, new])


def test_stock_only_books_have_no_futures_columns(market):
    from hedge_fixtures import Strategy

    class Cash(Strategy[None]):
        def on_bar(self, ctx):
            pass

    result = Engine(EngineConfig()).run(market, {"cash": Cash(None)})["cash"]
    assert "futures_pnl" not in result.daily.columns


def test_order_futures_without_a_futures_config_is_refused(market):
    from backtest.engine import StrategyError
    from backtest.engine.strategy import Strategy

    class Naive(Strategy[None]):
        def on_bar(self, ctx):
            ctx.order_futures_target("IC", -1)

    with pytest.raises(StrategyError, match="no futures account"):
        Engine(EngineConfig()).run(market, {"naive": Naive(None)})


def test_unknown_futures_product_is_refused(market):
    from backtest.engine import StrategyError

    class Bad(ShortFutures):
        def on_bar(self, ctx):
            ctx.order_futures_target("XX", -1)

    with pytest.raises(StrategyError, match="futures product must be one of"):
        Engine(EngineConfig()).run(market, {"bad": Bad(ShortParams())})


def test_hedged_and_stock_only_results_share_one_store_and_load_exactly(
    market, short_run, tmp_path
):
    from backtest.engine import Result
    from backtest.engine.strategy import Strategy

    class Cash(Strategy[None]):
        def on_bar(self, ctx):
            pass

    plain = Engine(EngineConfig()).run(market, {"cash": Cash(None)})["cash"]
    _, hedged = short_run
    path = tmp_path / "results.duckdb"
    plain.save(path, "plain")
    hedged.save(path, "hedged")
    plain.save(path, "plain-again")
    assert Result.load(path, "hedged").equals(hedged)
    assert Result.load(path, "plain").equals(plain)
    assert Result.load(path, "plain-again").equals(plain)


def test_engine_rolls_to_the_main_contract_by_the_previous_sessions_open_interest() -> None:
    # IC2403 leads open interest from 2023-12-01; all other contracts hold 1000 each
    market = futures_market(open_interest={"IC2403": ("2023-12-01", 5000)})
    rule = RollRule(target="main")
    strategy, result = _run(
        market, ShortParams(contracts=-10, futures=FuturesConfig(roll_rule=rule))
    )
    held = _held(strategy)[1:]  # the first order fills at the second session's open
    plan = roll_schedule(
        rule,
        "IC",
        sessions("2023-11-01", "2024-12-31"),
        start="2023-11-01",
        end="2024-04-30",
        futures=market.futures.open_interest("IC"),
    )
    assert held == list(zip(plan["date"].cast(pl.String), plan["contract"], strict=True))[1:]
    contracts = list(dict.fromkeys(contract for _, contract in held))
    assert contracts == ["IC2311", "IC2312", "IC2403", "IC2404", "IC2405"]
    # the switch to the most held contract comes the session after it leads, not on the day
    assert ("2023-12-01", "IC2312") in held and ("2023-12-04", "IC2403") in held
    roll_days = result.daily.filter(pl.col("roll") != 0)["date"].cast(pl.String).to_list()
    assert roll_days == plan.filter(pl.col("is_roll"))["date"].cast(pl.String).to_list()


def test_main_contract_roll_needs_the_futures_open_interest(market) -> None:
    panel = market.futures
    values = {k: v for k, v in panel.values.items() if k != "open_interest"}
    with pytest.raises(ValueError, match="open_interest"):
        type(panel)(
            dates=panel.dates,
            contracts=panel.contracts,
            expiry=panel.expiry,
            multiplier=panel.multiplier,
            values=values,
        ).open_interest("IC")
