"""The capacity curve: the same books re-run at several initial cash, and which saved books
can be rebuilt for it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets
from report_fixtures import BENCHMARK, SMALL_MARKET_CONFIG, small_market, two_books

from backtest.analytics.compare import compare_row
from backtest.analytics.report import render_report
from backtest.apps.capacity import (
    CAPACITY_COLUMNS,
    capacity_curves,
    capacity_for_report,
    rebuildable_books,
)
from backtest.engine import Benchmark, Engine, EngineConfig, MarketData
from backtest.runs.spec import BookSpec

SIZES = (1e7, 1e9)


@pytest.fixture(scope="module")
def market() -> MarketData:
    return small_market()


def _specs() -> list[BookSpec]:
    benchmark = Benchmark.index(BENCHMARK)
    return [
        BookSpec(name="momentum", strategy=Momentum, params=MomentumParams(), benchmark=benchmark),
        BookSpec(
            name="random",
            strategy=RandomTargets,
            params=RandomParams(seed=1, gross=0.9),
            benchmark=benchmark,
        ),
    ]


@pytest.fixture(scope="module")
def curves(market) -> dict:
    return capacity_curves((market, _specs()), sizes=SIZES)


def test_capacity_curve_has_one_row_per_size_for_every_book(curves):
    assert list(curves) == ["momentum", "random"]
    for curve in curves.values():
        assert curve.columns == ["initial_cash_cny", *CAPACITY_COLUMNS]
        assert curve["initial_cash_cny"].to_list() == list(SIZES)


def test_each_point_is_the_book_run_alone_at_that_size(curves, market):
    spec = dataclasses.replace(_specs()[0], initial_cash=SIZES[1])
    alone = Engine(EngineConfig()).run(market, [spec.book()])["momentum"]
    row = compare_row(alone, market)
    point = curves["momentum"].row(1, named=True)
    assert all(point[c] == row[c] for c in CAPACITY_COLUMNS)


def test_a_larger_book_fills_a_smaller_share_of_its_orders(curves):
    for curve in curves.values():
        fill = curve["fill_rate"].to_numpy()
        assert np.all(np.diff(fill) < 0)


def test_capacity_refuses_an_empty_book_list_or_a_non_positive_size(market):
    with pytest.raises(ValueError, match="at least one book"):
        capacity_curves((market, []))
    with pytest.raises(ValueError, match="positive"):
        capacity_curves((market, _specs()), sizes=(1e8, 0.0))


def test_rebuildable_books_match_name_strategy_parameters_and_config(market):
    results = two_books(market)  # ran with EngineConfig(initial_cash=1e7)
    specs = _specs()
    assert rebuildable_books(results, specs) == []  # another initial cash than the default
    config = EngineConfig(initial_cash=1e7)
    assert [s.name for s in rebuildable_books(results, specs, config=config)] == [
        "momentum",
        "random",
    ]
    other = [dataclasses.replace(specs[0], params=MomentumParams(lookback=7))]
    assert rebuildable_books(results, other, config=config) == []


def test_the_report_shows_the_capacity_curve_when_given(market, curves):
    results = two_books(market)
    with_curve = render_report(results, market, config=SMALL_MARKET_CONFIG, capacity=curves)
    assert (
        'alt="capacity curve"' in with_curve
        and "momentum: the same book at each size" in with_curve
    )
    without = render_report(results, market, config=SMALL_MARKET_CONFIG)
    assert "Capacity curve: not computed" in without and 'alt="capacity curve"' not in without


def test_capacity_for_report_runs_the_rebuilt_books_and_names_the_others(market):
    results = list(two_books(market).values())
    config = EngineConfig(initial_cash=1e7)
    curves, note = capacity_for_report(results, market, _specs()[:1], config=config)
    assert curves is not None and list(curves) == ["momentum"]
    assert note.startswith("1 books re-run at 4 sizes in ") and note.endswith("not rebuilt: random")
    none, why = capacity_for_report(results, market, _specs())  # default config: 1e8 cash
    assert none is None and "rebuilt exactly" in why
    page = render_report(results, market, config=SMALL_MARKET_CONFIG, capacity_note=why)
    assert "rebuilt exactly" in page
