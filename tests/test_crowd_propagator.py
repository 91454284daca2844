"""Lasting impact: the propagator's kernel and twin, its decay, and what it does to a run."""

from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import Momentum, MomentumParams, synthetic_market
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import invariant_settings

from backtest.engine import Context, Engine, EngineConfig, MarketData, Strategy
from backtest.execution import (
    CrowdSquareRoot,
    Exchange,
    ExchangeMarket,
    OrderBatch,
    Propagator,
    SharedProRata,
)
from backtest.execution.fills import FillStatus
from backtest.execution.propagator_nb import ImpactState, propagate_nb, propagate_py

finite = st.floats(-1e7, 1e7, allow_nan=False)
volumes = st.one_of(st.floats(0.0, 1e8), st.just(np.nan), st.just(np.inf), st.just(-1.0))
sigmas = st.one_of(st.floats(0.0, 0.2), st.just(np.nan), st.just(-0.1))


@invariant_settings(300)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=finite),
            arrays(np.float64, n, elements=volumes),
            arrays(np.float64, n, elements=sigmas),
            arrays(np.float64, n, elements=st.floats(-0.5, 0.5)),
            arrays(np.float64, n, elements=st.floats(-0.5, 0.5)),
        )
    ),
    st.floats(0.0, 5.0),
    st.floats(0.01, 1.0),
    st.floats(0.0, 1.0),
)
def test_propagator_kernel_equals_its_twin(case, scale, decay, permanent):
    flow, volume, sigma, transient, permanent_part = case
    states = [ImpactState(transient.copy(), permanent_part.copy()) for _ in range(2)]
    propagate_nb(flow, volume, sigma, 0.02, scale, decay, permanent, states[0])
    propagate_py(flow, volume, sigma, 0.02, scale, decay, permanent, states[1])
    np.testing.assert_array_equal(states[0].out_transient, states[1].out_transient)
    np.testing.assert_array_equal(states[0].out_permanent, states[1].out_permanent)


def _exchange(propagator: Propagator, days: int = 40) -> Exchange:
    market = ExchangeMarket.unlimited(
        reference_price=np.full((days, 2), 10.0),
        volume=np.full((days, 2), 1e6),
        lot_size=np.array([100, 100]),
        min_lot=np.array([100, 100]),
        close=np.full((days, 2), 10.0),
    )
    return Exchange(market, liquidity=SharedProRata(0.1), propagator=propagator)


def test_impact_decays_as_stated_after_the_flow_stops():
    propagator = Propagator(half_life_sessions=5.0, permanent_share=0.3)
    exchange = _exchange(propagator)
    orders = np.array([[-90_000, 0]])
    batch = OrderBatch(
        session_index=0, order_shares=orders, held_shares=-orders, sellable_shares=-orders
    )
    exchange.open(batch, np.array([0.0]))
    exchange.close(0)
    # the next session's reference price is moved by the impact left at the close
    moved_open = exchange.session(1).reference_price[0]
    for t in range(1, 40):
        exchange.close(t)
    jump = -(2.0 / 3.0) * 0.8 * 0.02 * np.sqrt(90_000 / 1e6)
    path = exchange.impact_path[:, 0]
    np.testing.assert_allclose(path, jump * propagator.kernel(np.arange(40)), rtol=1e-12)
    assert path[5] == pytest.approx(jump * (0.3 + 0.7 * 0.5))  # one half-life later
    assert exchange.impact_path[:, 1].tolist() == [0.0] * 40  # no flow, no move
    # the mark is the fundamental moved by the impact, from the fill's session onwards
    np.testing.assert_allclose(exchange.marks[:, 0], 10.0 * (1.0 + path), rtol=1e-15)
    assert moved_open == 10.0 * (1.0 + path[0])


def test_sessions_must_close_in_order():
    exchange = _exchange(Propagator())
    exchange.close(0)
    with pytest.raises(ValueError, match="closed out of order"):
        exchange.close(2)


# ---------------------------------------------------------------------------- engine runs
DAYS = 24
N = 4


def _illiquid_market() -> MarketData:
    """Closes zigzag 2 % around 10 CNY in a fixed band 9-11; deep the first three sessions
    (the books buy without moving much), thin afterwards (selling moves these names)."""
    dates = np.busday_offset(np.datetime64("2024-01-02"), np.arange(DAYS), roll="forward")
    zigzag = 1.0 + 0.02 * (-1.0) ** np.arange(DAYS)
    close = np.repeat(10.0 * zigzag[:, None], N, axis=1)
    volume = np.full((DAYS, N), 2e5)
    volume[:3] = 2e7
    return MarketData.from_arrays(
        dates=dates,
        symbols=["600001", "600002", "600003", "600004"],
        close=close,
        volume=volume,
        limit_up=np.full((DAYS, N), 11.0),
        limit_down=np.full((DAYS, N), 9.0),
    )


class BuyThenSell(Strategy[None]):
    """Buys equal weights at the first close, sells everything at the close of ``sell_at``."""

    def __init__(self, sell_at: int, gross: float = 0.9) -> None:
        super().__init__(None)
        self.sell_at = sell_at
        self.gross = gross

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index == 0:
            ctx.order_target_weights(np.full(N, self.gross / N))
        elif ctx.session_index == self.sell_at:
            ctx.order_target_weights(np.zeros(N))


class Holder(Strategy[None]):
    """Buys a little at the first close and holds: its equity is the mark."""

    def __init__(self) -> None:
        super().__init__(None)
        self.seen_closes: list[np.ndarray] = []

    def on_bar(self, ctx: Context) -> None:
        self.seen_closes.append(np.array(ctx.history("close", 1)[-1]))
        if ctx.session_index == 0:
            ctx.order_target_weights(np.full(N, 0.2))


CROWD = EngineConfig(
    initial_cash=2e6,
    liquidity=SharedProRata(0.1),
    impact=CrowdSquareRoot(0.8, participation_cap=0.1),
    propagator=Propagator(),
)
ALONE = EngineConfig(initial_cash=2e6)


def _books(sell_at: int = 12) -> dict[str, Strategy]:
    return {"a": BuyThenSell(sell_at), "b": BuyThenSell(sell_at), "holder": Holder()}


def _sell_price(result) -> float:
    fills = result.fills.filter(result.fills["filled_shares"] < 0)
    shares = -fills["filled_shares"].cast(float)
    return float((fills["fill_price"] * shares).sum() / shares.sum())


def test_two_books_selling_the_same_illiquid_names_fill_worse_and_mark_lower_together():
    alone = Engine(ALONE).run(_illiquid_market(), _books())
    crowd = Engine(CROWD).run(_illiquid_market(), _books())
    assert _sell_price(crowd["a"]) < _sell_price(alone["a"])
    holder_alone = alone["holder"].daily["holdings_value"].to_numpy()
    holder_crowd = crowd["holder"].daily["holdings_value"].to_numpy()
    # the holder never sells; the crowd's exit marks its shares down
    assert holder_crowd[-1] < holder_alone[-1]
    assert crowd["a"].daily["equity"][-1] < alone["a"].daily["equity"][-1]


def test_the_strategy_sees_the_crowd_closes_up_to_today_only():
    books = _books()
    crowd = Engine(CROWD).run(_illiquid_market(), books)
    holder = books["holder"]
    assert isinstance(holder, Holder)
    seen = np.array(holder.seen_closes)
    # what on_bar saw at t is the moved close of t, never rewritten later
    positions = crowd["holder"].positions
    last = positions.filter(positions["date"] == positions["date"].max())
    marks = (last["value"] / last["shares"]).to_numpy()
    assert seen.shape == (DAYS, N)
    assert (seen[1:] != 10.0).any()  # the crowd moved them
    np.testing.assert_allclose(seen[-1], marks, rtol=1e-12)


def test_fills_move_prices_only_from_their_session_on():
    early = Engine(CROWD).run(_illiquid_market(), _books(sell_at=8))
    late = Engine(CROWD).run(_illiquid_market(), _books(sell_at=14))
    equity_early = early["holder"].daily["equity"].to_numpy()
    equity_late = late["holder"].daily["equity"].to_numpy()
    # the early sellers' orders fill from the open of session 9: nothing differs before
    np.testing.assert_array_equal(equity_early[:9], equity_late[:9])
    assert equity_early[9] < equity_late[9]


def test_the_crowd_locks_a_name_at_limit_down_and_its_sells_wait():
    config = EngineConfig(
        initial_cash=2e6,
        liquidity=SharedProRata(0.1),
        impact=CrowdSquareRoot(0.8, participation_cap=0.1),
        propagator=Propagator(coefficient=8.0, permanent_share=1.0),
    )
    crowd = Engine(config).run(_illiquid_market(), _books())
    alone = Engine(ALONE).run(_illiquid_market(), _books())
    locked = crowd["a"].fills["status"] == FillStatus.LOCKED_LIMIT_DOWN
    assert locked.any()
    assert not (alone["a"].fills["status"] == FillStatus.LOCKED_LIMIT_DOWN).any()
    # the lock lasts: the crowd's sells wait in the backlog over several sessions
    backlog = crowd["a"].backlog
    assert backlog["age_sessions"].max() >= 2


def test_a_silent_propagator_changes_nothing():
    market = synthetic_market(5, days=40, n=30)
    books = {"m": Momentum(MomentumParams()), "n": Momentum(MomentumParams(lookback=10))}
    shared = {"liquidity": SharedProRata(0.1), "impact": CrowdSquareRoot(0.8)}
    plain = Engine(EngineConfig(initial_cash=1e7, **shared)).run(market, books)
    silent = Engine(
        EngineConfig(initial_cash=1e7, propagator=Propagator(coefficient=0.0), **shared)
    ).run(market, books)
    for name in books:
        for frame in ("daily", "fills", "positions"):
            assert getattr(plain[name], frame).equals(getattr(silent[name], frame)), frame


def test_crowd_runs_are_deterministic():
    first = Engine(CROWD).run(_illiquid_market(), _books())
    second = Engine(CROWD).run(_illiquid_market(), _books())
    for name in first:
        for frame in ("daily", "fills", "positions"):
            assert getattr(first[name], frame).equals(getattr(second[name], frame))
