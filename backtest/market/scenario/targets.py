"""Calibration targets and the daily target paths the generator tracks.

The targets are the CSV files in ``data/calibration`` (see its README). Every session of
2022-12-30..2024-12-31 has a target close for CSI 300/500/1000/2000, Wind's microcap index (the
target of ``MICRO400``) and SSE 50 (``index_daily_closes.csv``), an annualised basis for every
listed IF/IH/IC/IM contract (``basis_daily.csv``) and an all-board market amount
(``volume_daily.csv``); these daily files were derived from real daily data by
``data/calibration/derive_targets.py``. The published month-end closes, crash-window closes and
basis figures are kept beside them as headline checks (the daily files agree with them).

The daily target level of an index is its real close, so the generator has no path of its own
to invent between anchors: ``index_target_paths`` only arranges the closes into a
``(days x 6)`` array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP, SSE50

__all__ = [
    "CALIBRATION_DIR",
    "INDEX_ORDER",
    "TARGET_ORDER",
    "Targets",
    "basis_by_contract",
    "index_target_paths",
    "load_targets",
    "market_amount_path",
]

CALIBRATION_DIR = Path(__file__).resolve().parents[3] / "data" / "calibration"
#: Index order of every (days x indices) array in the scenario, smallest tier last.
INDEX_ORDER: tuple[str, ...] = (CSI300, CSI500, CSI1000, CSI2000, MICROCAP)
#: Columns of the daily target levels: :data:`INDEX_ORDER` then SSE 50 (IH's underlying).
TARGET_ORDER: tuple[str, ...] = (*INDEX_ORDER, SSE50)
PRODUCTS: tuple[str, ...] = ("IF", "IH", "IC", "IM")


@dataclass(frozen=True, kw_only=True, slots=True)
class Targets:
    """The calibration figures as frames (columns as in the CSV files)."""

    month_end_closes: pl.DataFrame
    crash_window_closes: pl.DataFrame
    headline_ytd: pl.DataFrame
    basis_monthly: pl.DataFrame
    basis_crash_window: pl.DataFrame
    daily_closes: pl.DataFrame
    basis_daily: pl.DataFrame
    volume_daily: pl.DataFrame

    def anchors(self) -> pl.DataFrame:
        """Every dated close target of the five calibrated indices (every session)."""
        return self.daily_closes.filter(pl.col("index_code").is_in(INDEX_ORDER)).sort(
            "date", "index_code"
        )


def load_targets(directory: Path = CALIBRATION_DIR) -> Targets:
    """Read the calibration CSV files from ``directory``."""
    files = {
        "month_end_closes": "index_month_end_closes.csv",
        "crash_window_closes": "index_crash_window_closes.csv",
        "headline_ytd": "headline_ytd.csv",
        "basis_monthly": "basis_monthly.csv",
        "basis_crash_window": "basis_crash_window.csv",
        "daily_closes": "index_daily_closes.csv",
        "basis_daily": "basis_daily.csv",
        "volume_daily": "volume_daily.csv",
    }
    frames: dict[str, pl.DataFrame] = {}
    for name, file in files.items():
        path = directory / file
        if not path.exists():
            raise FileNotFoundError(
                f"calibration file {path} is missing; the scenario needs data/calibration/*.csv "
                "from the project's repository"
            )
        frames[name] = pl.read_csv(
            path,
            schema_overrides={
                "index_code": pl.String,
                "month": pl.String,
                "date": pl.Date,
                "expiry": pl.Date,
            },
        )
    return Targets(**frames)


def _day_rows(days: np.ndarray) -> dict[object, int]:
    return {d: i for i, d in enumerate(days.astype("datetime64[D]").astype(object))}


def index_target_paths(targets: Targets, days: np.ndarray) -> np.ndarray:
    """Daily target levels ``(len(days) x 6)`` in :data:`TARGET_ORDER`: the real closes.

    Raises ``ValueError`` naming the first session without a close for every index.
    """
    rows = _day_rows(days)
    closes = targets.daily_closes.filter(pl.col("date").is_in(list(rows)))
    levels = np.full((len(days), len(TARGET_ORDER)), np.nan)
    column = {code: k for k, code in enumerate(TARGET_ORDER)}
    for date, code, close in closes.select("date", "index_code", "close").iter_rows():
        if code in column:
            levels[rows[date], column[code]] = close
    missing = np.flatnonzero(np.isnan(levels).any(axis=1))
    if len(missing):
        raise ValueError(
            f"data/calibration/index_daily_closes.csv lacks closes on {days[missing[0]]} "
            f"(and {len(missing) - 1} other sessions) for some of {TARGET_ORDER}"
        )
    return levels


def basis_by_contract(targets: Targets, days: np.ndarray) -> dict[tuple[int, str], float]:
    """Annualised basis ``(row of days, contract) -> fraction a year`` of every listed contract.

    Expiry-day rows (no basis) are left out; the final settlement there is the index close.
    """
    rows = _day_rows(days)
    frame = targets.basis_daily.filter(
        pl.col("date").is_in(list(rows)), pl.col("basis_pct").is_not_null()
    )
    return {
        (rows[date], contract): value / 100.0
        for date, contract, value in frame.select("date", "contract", "basis_pct").iter_rows()
    }


def market_amount_path(targets: Targets, days: np.ndarray) -> np.ndarray:
    """Daily all-board market amount targets ``(len(days),)``, CNY (row 0 the base date)."""
    rows = _day_rows(days)
    out = np.full(len(days), np.nan)
    frame = targets.volume_daily.filter(pl.col("date").is_in(list(rows)))
    for date, amount in frame.select("date", "market_amount_cny").iter_rows():
        out[rows[date]] = amount
    if np.isnan(out).any():
        raise ValueError(
            f"data/calibration/volume_daily.csv lacks the market amount on "
            f"{days[np.flatnonzero(np.isnan(out))[0]]}"
        )
    return out
