"""Absurd, non-finite and short targets stop the run naming book, session and symbol; the held
position is untouched (the overflow that once turned a weight of 1e300 into a sale)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtest.engine import (
    Context,
    EngineConfig,
    MarketData,
    Strategy,
    StrategyError,
    TargetError,
    run_backtest,
)

DATES = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]
CONFIG = EngineConfig(initial_cash=1e6, impact_coefficient=0.0)


def _two_stocks() -> MarketData:
    days = len(DATES)
    return MarketData.from_arrays(
        dates=DATES,
        symbols=["600000", "600036"],
        close=np.tile([10.0, 20.0], (days, 1)),
        volume=np.full((days, 2), 1e7),
    )


class BuyThen(Strategy[None]):
    """Buys both stocks on session 0, then sends ``order`` on session ``at``."""

    def __init__(self, at: int, kind: str, order: dict[str, float]) -> None:
        super().__init__(None)
        self.at, self.kind, self.order = at, kind, order

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index == 0:
            ctx.order_target_weights({"600000": 0.4, "600036": 0.4})
        elif ctx.session_index == self.at:
            if self.kind == "weights":
                ctx.order_target_weights(self.order)
            else:
                ctx.order_target_shares(self.order)


def _held(error: StrategyError, symbol: str) -> list[int]:
    positions = error.partial_result.positions
    return positions.filter(pl.col("symbol") == symbol)["shares"].cast(pl.Int64).to_list()


@pytest.mark.parametrize(
    ("kind", "order", "problem"),
    [
        ("weights", {"600000": 1e300, "600036": 0.4}, "absurd"),
        ("weights", {"600000": 1e17, "600036": 0.4}, "absurd"),
        ("weights", {"600000": float("inf"), "600036": 0.4}, "finite"),
        ("weights", {"600000": -0.2, "600036": 0.4}, "long-only"),
        ("shares", {"600000": 1e300, "600036": 40_000}, "absurd"),
        ("shares", {"600000": 2e18, "600036": 40_000}, "absurd"),
        ("shares", {"600000": -100, "600036": 40_000}, "long-only"),
    ],
)
def test_absurd_target_stops_the_run_naming_book_session_and_symbol_and_keeps_the_position(
    kind: str, order: dict[str, float], problem: str
) -> None:
    with pytest.raises(StrategyError) as caught:
        run_backtest(_two_stocks(), BuyThen(3, kind, order), config=CONFIG, book="overflow")
    error = caught.value
    message = str(error)
    assert "'overflow'" in message and "2024-02-01" in message and "600000" in message
    assert problem in message
    assert error.symbol == "600000" and error.hook == "on_bar"
    assert isinstance(error.__cause__, TargetError)
    assert error.__cause__.symbol == "600000" and error.__cause__.book == "overflow"
    fills = error.partial_result.fills
    assert (fills["filled_shares"] < 0).sum() == 0, "nothing was sold"
    held = _held(error, "600000")
    assert held and held[-1] == 40_000 and set(held) == {40_000}
    assert _held(error, "600036")[-1] == 20_000


def test_a_sane_order_on_the_same_session_runs_to_the_end() -> None:
    order = {"600000": 0.4, "600036": 0.4}
    result = run_backtest(_two_stocks(), BuyThen(3, "weights", order), config=CONFIG)
    assert result.complete
    # costs shrank equity a little, so the rebalance trims one lot
    assert result.positions.filter(pl.col("symbol") == "600000")["shares"][-1] in (39_900, 40_000)
