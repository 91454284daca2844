"""The shared market: the crowd's cap split among the books, impact on the crowd's flow."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from engine_fixtures import Momentum, MomentumParams, synthetic_market
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import invariant_settings

from backtest.engine import Context, Engine, EngineConfig, Strategy
from backtest.execution import (
    CrowdSquareRoot,
    Exchange,
    ExchangeMarket,
    OrderBatch,
    ParticipationCap,
    SharedProRata,
    SquareRootImpact,
)

SHARED = {"liquidity": SharedProRata(0.1), "impact": CrowdSquareRoot(0.8)}

orders_2d = st.integers(1, 6).flatmap(
    lambda books: st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            arrays(np.int64, (books, n), elements=st.integers(-50_000, 50_000)),
            arrays(
                np.float64,
                n,
                elements=st.one_of(st.floats(0.0, 1e6), st.just(np.nan), st.just(5.0)),
            ),
        )
    )
)


@invariant_settings(200)
@given(orders_2d, st.sampled_from(["pro_rata", "arrival"]), st.sampled_from(["gross", "per_side"]))
def test_shared_caps_never_exceed_the_crowd_cap_nor_the_orders(case, allocation, scope):
    orders, volume = case
    caps = SharedProRata(0.1, allocation=allocation, scope=scope).caps(orders, volume)
    crowd_cap = np.floor(0.1 * np.nan_to_num(volume)).astype(np.int64)
    wanted = np.abs(orders)
    assert caps.dtype == np.int64
    assert (caps >= 0).all() and (caps <= wanted).all()
    if scope == "gross":
        assert (caps.sum(axis=0) <= crowd_cap).all()
        fits = wanted.sum(axis=0) <= crowd_cap
        # the cap is spent whole when it binds; untouched where everything fits
        assert (caps.sum(axis=0)[~fits] == crowd_cap[~fits]).all()
        assert (caps[:, fits] == wanted[:, fits]).all()
    else:
        for side in (orders > 0, orders < 0):
            assert (np.where(side, caps, 0).sum(axis=0) <= crowd_cap).all()


def test_pro_rata_ties_go_to_the_lower_book_and_arrival_serves_in_order():
    orders = np.array([[-100], [-100], [-100]])
    assert SharedProRata(0.1).caps(orders, np.array([2_000.0]))[:, 0].tolist() == [67, 67, 66]
    arrival = SharedProRata(0.1, allocation="arrival").caps(orders, np.array([2_500.0]))
    assert arrival[:, 0].tolist() == [100, 100, 50]


def test_crowd_impact_base_is_the_other_books_same_side_flow():
    orders = np.array([[-300, 200], [-100, -50], [400, 0]])
    base, _volume = CrowdSquareRoot().terms(orders, np.array([1e4, 1e4]))
    assert base.tolist() == [[100.0, 0.0], [300.0, 0.0], [0.0, 0.0]]
    scaled, _ = CrowdSquareRoot(participation_cap=0.02, scope="per_side").terms(
        orders, np.array([1e4, 1e4])
    )
    # sells of 400 against a cap of 200: the others' flow counts at half
    assert scaled[:, 0].tolist() == [50.0, 150.0, 0.0]


def _market(days: int, n: int, seed: int) -> ExchangeMarket:
    rng = np.random.default_rng(seed)
    return ExchangeMarket.unlimited(
        reference_price=rng.uniform(2.0, 50.0, (days, n)),
        volume=np.where(rng.random((days, n)) < 0.1, np.nan, rng.uniform(1e3, 1e6, (days, n))),
        lot_size=np.full(n, 100),
        min_lot=np.full(n, 100),
    )


def _fill(exchange: Exchange, orders: np.ndarray, sellable: np.ndarray):
    batch = OrderBatch(
        session_index=1, order_shares=orders, held_shares=sellable, sellable_shares=sellable
    )
    return exchange.open(batch, buying_power=np.full(orders.shape[0], 5e6))


def _same(left, right) -> None:
    for name in ("filled_shares", "fill_price", "impact_cost", "commission", "status"):
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)
    np.testing.assert_array_equal(left.cash_after, right.cash_after)


@invariant_settings(100)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_one_book_fills_the_same_shared_or_independent(seed, n):
    rng = np.random.default_rng(seed)
    market = _market(3, n, seed)
    orders = rng.integers(-300_000, 300_000, (1, n))
    sellable = np.where(rng.random((1, n)) < 0.7, rng.integers(0, 200_000, (1, n)), 0)
    independent = Exchange(market, liquidity=ParticipationCap(0.1), impact=SquareRootImpact(0.8))
    shared = Exchange(market, liquidity=SharedProRata(0.1), impact=CrowdSquareRoot(0.8))
    _same(_fill(shared, orders, sellable), _fill(independent, orders, sellable))


@invariant_settings(100)
@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 10))
def test_crowd_fills_per_stock_never_exceed_the_crowd_cap(seed, books, n):
    rng = np.random.default_rng(seed)
    market = _market(3, n, seed)
    orders = rng.integers(-300_000, 300_000, (books, n))
    sellable = rng.integers(0, 300_000, (books, n))
    fills = _fill(Exchange(market, liquidity=SharedProRata(0.1)), orders, sellable)
    crowd_cap = np.floor(0.1 * np.nan_to_num(market.volume[1])).astype(np.int64)
    assert (np.abs(fills.filled_shares).sum(axis=0) <= crowd_cap).all()


def test_two_books_selling_together_fill_less_and_worse_than_alone():
    market = ExchangeMarket.unlimited(
        reference_price=np.full((2, 1), 10.0),
        volume=np.full((2, 1), 1e6),
        lot_size=np.array([100]),
        min_lot=np.array([100]),
    )
    orders = np.array([[-80_000], [-80_000]])
    alone = _fill(Exchange(market), orders, -orders)
    crowd = _fill(Exchange(market, **SHARED), orders, -orders)
    assert alone.filled_shares[:, 0].tolist() == [-80_000, -80_000]
    assert crowd.filled_shares[:, 0].tolist() == [-50_000, -50_000]
    assert (crowd.fill_price < alone.fill_price).all()


class Idle(Strategy[None]):
    def on_bar(self, ctx: Context) -> None:
        return


def _frames(results) -> dict[str, pl.DataFrame]:
    return {
        f"{name}.{frame}": getattr(result, frame)
        for name, result in results.items()
        for frame in ("daily", "fills", "positions")
    }


def test_zero_size_books_leave_the_shared_run_identical_to_the_independent_one():
    market = synthetic_market(7, days=40, n=30)
    books = {"momentum": Momentum(MomentumParams()), "idle_a": Idle(None), "idle_b": Idle(None)}
    independent = Engine(EngineConfig(initial_cash=1e7)).run(market, books)
    shared = Engine(EngineConfig(initial_cash=1e7, **SHARED)).run(market, books)
    left, right = _frames(independent), _frames(shared)
    for key in left:
        assert left[key].equals(right[key]), key


@pytest.mark.parametrize("allocation", ["pro_rata", "arrival"])
def test_one_book_runs_the_same_shared_or_independent(allocation):
    market = synthetic_market(11, days=40, n=30)
    books = {"momentum": Momentum(MomentumParams())}
    shared_config = EngineConfig(
        initial_cash=1e9,  # large enough for the caps to bind
        liquidity=SharedProRata(0.1, allocation=allocation),
        impact=CrowdSquareRoot(0.8),
    )
    independent = Engine(EngineConfig(initial_cash=1e9)).run(market, books)
    shared = Engine(shared_config).run(market, books)
    left, right = _frames(independent), _frames(shared)
    assert (independent["momentum"].fills["status_name"] == "PARTIAL_CAP").any()
    for key in left:
        assert left[key].equals(right[key]), key
