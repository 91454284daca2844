"""Small runs of the real engine for the attribution and report tests (helper module).

Two books (momentum and seeded random targets) over a 60-session synthetic market from
2023-12-01 to 2024-02-22, so both default windows (2023, the 2024 crash) hold sessions.
"""

from __future__ import annotations

from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets, synthetic_market

from backtest.analytics.attribution_market import AttributionConfig
from backtest.analytics.factors import ExposureConfig
from backtest.engine import Benchmark, Book, Engine, EngineConfig, MarketData, Result

BENCHMARK = "000852"
#: Short factor windows: the market has 60 sessions and 30 stocks.
SMALL_MARKET_CONFIG = AttributionConfig(
    exposure=ExposureConfig(
        beta_window=20,
        beta_min_sessions=10,
        liquidity_window=10,
        liquidity_min_sessions=5,
        reversal_window=5,
        reversal_min_sessions=3,
    ),
    min_regression_stocks=10,
)


def small_market(seed: int = 3) -> MarketData:
    return synthetic_market(seed, days=60, n=30, start="2023-12-01")


def two_books(market: MarketData) -> dict[str, Result]:
    """Run a momentum book and a random-target book over ``market`` in one engine pass.

    Both are measured against :data:`BENCHMARK` (the test strategies declare none).
    """
    benchmark = Benchmark.index(BENCHMARK)
    return Engine(EngineConfig(initial_cash=1e7)).run(
        market,
        [
            Book(name="momentum", strategy=Momentum(MomentumParams()), benchmark=benchmark),
            Book(
                name="random",
                strategy=RandomTargets(RandomParams(seed=1, gross=0.9)),
                benchmark=benchmark,
            ),
        ],
    )
