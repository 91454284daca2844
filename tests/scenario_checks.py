"""Checks shared by the scenario tests (plain functions on the generated frames)."""

from __future__ import annotations

import polars as pl

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.market.scenario.targets import load_targets


def close_errors(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Relative error of every generated index close against its calibration anchor."""
    anchors = load_targets().anchors()
    generated = frames["index_bars"].select(
        "date", "index_code", pl.col("close").alias("generated")
    )
    joined = anchors.join(generated, on=["date", "index_code"], how="inner")
    return joined.with_columns(error=(pl.col("generated") / pl.col("close") - 1.0).abs())


def main_contract_basis(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per product and date: the largest-open-interest contract and its annualised basis, %."""
    futures = frames["futures_bars"]
    main = (
        futures.sort("open_interest", "contract", descending=[True, False])
        .group_by("product", "date", maintain_order=True)
        .first()
    )
    return _with_basis(frames, main)


def all_contract_basis(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every contract before its expiry day with its annualised basis, %."""
    futures = frames["futures_bars"].filter(pl.col("expiry") > pl.col("date"))
    return _with_basis(frames, futures)


def _with_basis(frames: dict[str, pl.DataFrame], futures: pl.DataFrame) -> pl.DataFrame:
    spot = frames["index_bars"].select("date", "index_code", pl.col("close").alias("spot"))
    return (
        futures.with_columns(index_code=pl.col("product").replace_strict(FUTURES_UNDERLYING))
        .join(spot, on=["date", "index_code"])
        .with_columns(
            basis_pct=(pl.col("close") / pl.col("spot") - 1.0)
            * 365.0
            / (pl.col("expiry") - pl.col("date")).dt.total_days()
            * 100.0
        )
        .sort("product", "date")
    )


def bar_violations(bars: pl.DataFrame) -> dict[str, int]:
    """Count bars breaking OHLC order, limits, lot sizes or suspension rules."""
    tolerance = 1e-9
    checks = {
        "high_below_open_close": pl.col("high") < pl.max_horizontal("open", "close") - tolerance,
        "low_above_open_close": pl.col("low") > pl.min_horizontal("open", "close") + tolerance,
        "above_limit_up": pl.col("high") > pl.col("limit_up") + tolerance,
        "below_limit_down": pl.col("low") < pl.col("limit_down") - tolerance,
        "volume_not_round_lot": (pl.col("volume") % 100) != 0,
        "vwap_outside_range": (~pl.col("suspended"))
        & (
            (pl.col("amount") < pl.col("volume") * pl.col("low") * (1 - 1e-9))
            | (pl.col("amount") > pl.col("volume") * pl.col("high") * (1 + 1e-9))
        ),
        "suspended_trades": pl.col("suspended")
        & ((pl.col("volume") > 0) | (pl.col("close") != pl.col("pre_close"))),
        "suspended_ohlc": pl.col("suspended")
        & ((pl.col("open") != pl.col("pre_close")) | (pl.col("high") != pl.col("low"))),
        "no_volume_while_trading": (~pl.col("suspended")) & (pl.col("volume") <= 0),
    }
    counts = bars.select(**{name: expr.sum() for name, expr in checks.items()})
    return {name: int(counts[name][0]) for name in checks}
