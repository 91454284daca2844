"""Calibration targets and the daily target paths the generator tracks.

The targets are the CSV files in ``data/calibration`` (see its README): published month-end
closes of CSI 300/500/1000/2000 and of Wind's microcap index (the target of ``MICRO400``), every
close of the 2024-01-02..2024-03-01 crash window, and the monthly and crash-window annualised
basis of the main IF/IH/IC/IM contracts.

Between anchors the daily target levels are Brownian bridges in log space: with anchors
``x_a`` at session ``a`` and ``x_b`` at ``b = a + L``, and ``W`` a random walk with the index's
daily volatility (correlated across indices),

``x_{a+k} = x_a + (k / L)(x_b - x_a) + W_k - (k / L) W_L``,

which passes exactly through both anchors, has realistic day-to-day noise and is not a line.
The daily basis target of each product is the crash-window figure where one is published,
otherwise an AR(1) path per month rescaled so that its mean and minimum equal the month's
published mean and low.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP

__all__ = [
    "CALIBRATION_DIR",
    "INDEX_ORDER",
    "Targets",
    "basis_target_paths",
    "index_target_paths",
    "load_targets",
]

CALIBRATION_DIR = Path(__file__).resolve().parents[3] / "data" / "calibration"
#: Index order of every (days x indices) array in the scenario, smallest tier last.
INDEX_ORDER: tuple[str, ...] = (CSI300, CSI500, CSI1000, CSI2000, MICROCAP)
#: Daily volatility of the bridge noise per index (CSI 300 .. microcap).
BRIDGE_DAILY_VOL = np.array([0.011, 0.0125, 0.0145, 0.016, 0.017])
#: Correlation of the bridge noise between tiers i and j: 0.88 ** |i - j|.
BRIDGE_CORRELATION_DECAY = 0.88
PRODUCTS: tuple[str, ...] = ("IF", "IH", "IC", "IM")


@dataclass(frozen=True, kw_only=True, slots=True)
class Targets:
    """The calibration figures as frames (columns as in the CSV files)."""

    month_end_closes: pl.DataFrame
    crash_window_closes: pl.DataFrame
    headline_ytd: pl.DataFrame
    basis_monthly: pl.DataFrame
    basis_crash_window: pl.DataFrame

    def anchors(self) -> pl.DataFrame:
        """Every dated index close target (month ends and crash window), deduplicated."""
        both = pl.concat([self.month_end_closes, self.crash_window_closes])
        return both.unique(["date", "index_code"], keep="first").sort("date", "index_code")


def load_targets(directory: Path = CALIBRATION_DIR) -> Targets:
    """Read the calibration CSV files from ``directory``."""
    files = {
        "month_end_closes": "index_month_end_closes.csv",
        "crash_window_closes": "index_crash_window_closes.csv",
        "headline_ytd": "headline_ytd.csv",
        "basis_monthly": "basis_monthly.csv",
        "basis_crash_window": "basis_crash_window.csv",
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
            schema_overrides={"index_code": pl.String, "month": pl.String, "date": pl.Date},
        )
    return Targets(**frames)


def index_target_paths(
    targets: Targets, days: np.ndarray, generator: np.random.Generator
) -> np.ndarray:
    """Daily target levels ``(len(days) x 5)`` in :data:`INDEX_ORDER`, through every anchor.

    ``days[0]`` must be an anchor (the base date 2022-12-30). Anchors after ``days[-1]`` are
    ignored; sessions after the last anchor inside ``days`` follow a random walk from it.
    """
    anchors = targets.anchors()
    count = len(days)
    levels = np.full((count, len(INDEX_ORDER)), np.nan)
    anchor_rows: list[int] = []
    for row, day in enumerate(days):
        sub = anchors.filter(pl.col("date") == day.astype("datetime64[D]").item())
        if sub.height == 0:
            continue
        closes = dict(zip(sub["index_code"], sub["close"], strict=True))
        missing = [c for c in INDEX_ORDER if c not in closes]
        if missing:
            raise ValueError(f"calibration anchors on {day} lack index codes {missing}")
        levels[row] = [closes[c] for c in INDEX_ORDER]
        anchor_rows.append(row)
    if not anchor_rows or anchor_rows[0] != 0:
        raise ValueError(f"the first day {days[0]} must be a calibration anchor (the base date)")
    lags = np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    chol = np.linalg.cholesky(BRIDGE_CORRELATION_DECAY**lags)
    shocks = generator.standard_normal((count, 5)) @ chol.T * BRIDGE_DAILY_VOL
    log_levels = np.log(levels)
    for a, b in itertools.pairwise(anchor_rows):
        length = b - a
        walk = np.cumsum(shocks[a + 1 : b + 1], axis=0)
        fraction = (np.arange(1, length + 1) / length)[:, None]
        log_levels[a + 1 : b + 1] = (
            log_levels[a] + fraction * (log_levels[b] - log_levels[a]) + walk - fraction * walk[-1]
        )
    last = anchor_rows[-1]
    if last + 1 < count:
        log_levels[last + 1 :] = log_levels[last] + np.cumsum(shocks[last + 1 :], axis=0)
    return np.exp(log_levels)


def basis_target_paths(
    targets: Targets, days: np.ndarray, generator: np.random.Generator
) -> np.ndarray:
    """Daily annualised basis targets of the main contract, ``(len(days) x 4)``, fractions.

    Columns in :data:`PRODUCTS` order (IF, IH, IC, IM); values are fractions a year (-0.37
    for -37 %).
    """
    months = np.array([str(d)[:7] for d in days.astype("datetime64[D]")])
    out = np.zeros((len(days), len(PRODUCTS)))
    monthly = targets.basis_monthly
    for column, product in enumerate(PRODUCTS):
        rows = monthly.filter(pl.col("product") == product)
        stats = dict(
            zip(rows["month"], zip(rows["mean_pct"], rows["low_pct"], strict=True), strict=True)
        )
        noise = generator.standard_normal(len(days))
        for month in np.unique(months):
            idx = np.flatnonzero(months == month)
            if month not in stats:
                out[idx, column] = 0.0
                continue
            mean, low = stats[month]
            path = np.empty(len(idx))
            path[0] = noise[idx[0]]
            for k in range(1, len(idx)):
                path[k] = 0.7 * path[k - 1] + noise[idx[k]]
            centred = path - path.mean()
            depth = -centred.min()
            scale = (mean - low) / depth if depth > 0 else 0.0
            out[idx, column] = (mean + scale * centred) / 100.0
        crash = targets.basis_crash_window.filter(pl.col("product") == product)
        day_index = {d: i for i, d in enumerate(days.astype("datetime64[D]").astype(object))}
        for date, value in zip(crash["date"], crash["basis_pct"], strict=True):
            if date in day_index:
                out[day_index[date], column] = value / 100.0
    return out
