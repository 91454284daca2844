"""Golden acceptance: exact figures of a seeded 30 x 40 synthetic market, two books.

Regenerate after an intended change with
``BACKTEST_REGEN_GOLDEN=1 pytest tests/test_engine_golden.py`` and review the diff of
``tests/golden/engine_*.csv`` before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets, synthetic_market

from backtest.engine import Engine, EngineConfig

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("BACKTEST_REGEN_GOLDEN") == "1"


def _golden_run() -> dict[str, pl.DataFrame]:
    market = synthetic_market(20240205, days=40, n=30)
    results = Engine(EngineConfig(initial_cash=2e7)).run(
        market,
        {
            "momentum": Momentum(MomentumParams(lookback=5, top=8)),
            "random": RandomTargets(RandomParams(seed=5)),
        },
    )
    daily = pl.concat(
        [r.daily.select(pl.lit(name).alias("book"), pl.all()) for name, r in results.items()]
    )
    fills = pl.concat(
        [
            r.fills.group_by("symbol")
            .agg(
                pl.len().alias("orders"),
                pl.col("filled_shares").sum(),
                pl.col("filled_shares").abs().sum().alias("traded_shares"),
                pl.col("impact").sum(),
                pl.col("commission").sum(),
                pl.col("stamp_duty").sum(),
                pl.col("transfer_fee").sum(),
            )
            .select(pl.lit(name).alias("book"), pl.all())
            for name, r in results.items()
        ]
    ).sort("book", "symbol")
    return {"engine_daily": daily.sort("book", "date"), "engine_fills_by_symbol": fills}


@pytest.mark.parametrize("name", ["engine_daily", "engine_fills_by_symbol"])
def test_golden_synthetic_run_matches_stored_figures_exactly(name):
    text = _golden_run()[name].write_csv(float_precision=None)
    path = GOLDEN / f"{name}.csv"
    if REGEN:
        path.write_text(text)
    assert path.exists(), f"{path} is missing; run with BACKTEST_REGEN_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{path.name} differs; if intended, regenerate and review"
