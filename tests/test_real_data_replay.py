"""A book that needs no caps, replayed over 2023-2024 on the real main-board panel.

The shared panel has prices and volume but no amount, caps or ST flags; a short-term reversal
book needs none of them, so it runs on the imported store as it is. Skipped when
``../shared/data/real`` is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest

from backtest.engine import Context, Engine, EngineConfig, MarketData, Strategy
from backtest.execution.fills import FillStatus
from strategies.construction import top_equal_weight
from strategies.signals import reversal

pytestmark = pytest.mark.real_data


@dataclass(frozen=True, kw_only=True)
class ReversalParams:
    names: int = 200
    lookback: int = 20
    gross: float = 0.95
    rebalance_every: int = 5


class Reversal(Strategy[ReversalParams]):
    """Equal weight in the worst performers of the last ``lookback`` sessions."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index % self.params.rebalance_every:
            return
        close = ctx.history("adj_close", self.params.lookback + 1)
        tradable = np.isfinite(close[-1]) & ~ctx.history("suspended", 1)[-1]
        score = -reversal(close, self.params.lookback)
        weights = top_equal_weight(score, tradable, self.params.names)
        ctx.order_target_weights(weights * self.params.gross)


@pytest.fixture(scope="module")
def real_replay(real_store):
    store, _, _ = real_store
    market = MarketData.from_store(store, start="2023-01-03", end="2024-12-31")
    result = Engine(EngineConfig(initial_cash=1e8)).run(
        market, {"reversal": Reversal(ReversalParams())}
    )
    return market, result["reversal"]


def test_reversal_book_runs_over_2023_2024_on_real_bars(real_replay):
    market, result = real_replay
    daily = result.daily
    assert result.complete
    assert daily.height == 484 == market.shape[0]
    assert str(daily["date"][0]) == "2023-01-03" and str(daily["date"][-1]) == "2024-12-31"
    holdings = daily["equity"] - daily["cash"]
    assert np.allclose(holdings.to_numpy(), daily["holdings_value"].to_numpy(), rtol=1e-12)
    assert (daily["cash"] >= 0).all()
    assert result.fills.height > 10_000


def test_crash_window_blocks_sells_at_locked_limit_down(real_replay):
    _, result = real_replay
    counts = result.status_counts.with_columns(
        crash=pl.col("date").is_between(pl.date(2024, 2, 1), pl.date(2024, 2, 8))
    )
    locked = FillStatus.LOCKED_LIMIT_DOWN.name.lower()
    in_crash = counts.filter(pl.col("crash"))[locked].sum()
    per_session_elsewhere = counts.filter(~pl.col("crash"))[locked].mean()
    assert in_crash > 0
    assert in_crash / 6 > 5 * per_session_elsewhere
