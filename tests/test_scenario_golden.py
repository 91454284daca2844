"""Golden figures of the default scenario: any change to the generator shows up here.

Regenerate with ``BACKTEST_REGEN_GOLDEN=1 pytest tests/test_scenario_golden.py`` and review the
diff of ``tests/golden/scenario_*.csv`` before committing it.
"""

import os
from pathlib import Path

import polars as pl
import pytest

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("BACKTEST_REGEN_GOLDEN") == "1"


def _month_end_closes(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    bars = frames["index_bars"]
    last = bars.group_by(pl.col("date").dt.strftime("%Y-%m").alias("month")).agg(
        pl.col("date").max()
    )
    return (
        bars.join(last.select("date"), on="date")
        .select(pl.col("date").cast(pl.String), "index_code", pl.col("close").round(4))
        .sort("date", "index_code")
    )


def _daily_market(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return (
        frames["bars"]
        .group_by("date")
        .agg(
            stocks=pl.len(),
            limit_down=(pl.col("close") == pl.col("limit_down")).sum(),
            limit_up=(pl.col("close") == pl.col("limit_up")).sum(),
            suspended=pl.col("suspended").sum(),
            amount_bn=(pl.col("amount").sum() / 1e9).round(3),
            median_return_bp=((pl.col("close") / pl.col("pre_close") - 1).median() * 1e4).round(2),
        )
        .with_columns(pl.col("date").cast(pl.String))
        .sort("date")
    )


@pytest.mark.parametrize(
    ("name", "build"),
    [("scenario_month_end_closes", _month_end_closes), ("scenario_daily_market", _daily_market)],
)
def test_default_scenario_matches_its_golden_figures(scenario_frames, name, build) -> None:
    path = GOLDEN / f"{name}.csv"
    frame = build(scenario_frames)
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        frame.write_csv(path)
    expected = pl.read_csv(path, schema=frame.schema)
    assert frame.equals(expected), f"{path} differs; rerun with BACKTEST_REGEN_GOLDEN=1 if intended"
