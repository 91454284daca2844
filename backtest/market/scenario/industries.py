"""Industries of the synthetic stocks and the daily industry factor of their returns.

Model
-----
- **Assignment.** Every stock gets one of the 110 real industries of
  ``data/calibration/industries.csv`` (Tushare's classes of the listed stocks, counted by board).
  Within each board the counts are the real proportions times the board's stock count, rounded
  by largest remainders, and dealt to the board's stocks in an order drawn from the seed: each
  industry's count on a board is within one stock of its real share. Industry is drawn
  independently of size (banks are not made large).
- **Factor.** Each session draws one Student-t(5) factor ``f_kt`` (unit variance) per industry.
  It takes a share ``h`` of the stock's idiosyncratic variance, which keeps each stock's total
  variance as it was: ``sigma_i (sqrt(h) f_{k(i)t} + sqrt(1 - h) eps_it)``. Two stocks of one
  industry then covary by ``h sigma_i sigma_j`` more than two of different industries; the
  default ``h`` (:attr:`ScenarioConfig.industry_variance_share`) is set so that the scenario's
  within-minus-across average pairwise correlation of main-board daily returns in 2023 matches
  the real one (``industry_correlation.csv``: 0.322 - 0.172 = 0.150).
- The factor enters the raw returns *before* each index's shift is solved
  (:mod:`backtest.market.scenario.simulate`), so every index still hits its real close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from backtest.market.scenario.targets import CALIBRATION_DIR
from backtest.rules.ashare import BOARD_NAMES

__all__ = [
    "INDUSTRY_FILE",
    "IndustryTargets",
    "assign_industries",
    "industry_factor",
    "load_industry_targets",
]

INDUSTRY_FILE = CALIBRATION_DIR / "industries.csv"
CORRELATION_FILE = CALIBRATION_DIR / "industry_correlation.csv"


@dataclass(frozen=True, kw_only=True, slots=True)
class IndustryTargets:
    """The real industries and their counts by board, and the real correlation figures.

    ``names`` are sorted (codes index them); ``counts[k, b]`` is the number of real stocks of
    industry ``names[k]`` on board ``BOARD_NAMES[b]``; ``within``, ``across`` and ``margin``
    are 2023's average pairwise correlations of main-board daily returns.
    """

    names: tuple[str, ...]
    english: tuple[str, ...]
    counts: np.ndarray
    within: float
    across: float
    margin: float

    def shares(self) -> np.ndarray:
        """``(industries x boards)`` proportions, each column summing to 1."""
        return self.counts / self.counts.sum(axis=0, keepdims=True)


def load_industry_targets() -> IndustryTargets:
    """Read ``industries.csv`` and 2023's row of ``industry_correlation.csv``."""
    frame = pl.read_csv(INDUSTRY_FILE).sort("industry")
    correlation = pl.read_csv(CORRELATION_FILE).filter(pl.col("year") == 2023).row(0, named=True)
    return IndustryTargets(
        names=tuple(frame["industry"].to_list()),
        english=tuple(frame["industry_en"].to_list()),
        counts=frame.select(list(BOARD_NAMES)).to_numpy().astype(np.int64),
        within=float(correlation["within_mean"]),
        across=float(correlation["across_mean"]),
        margin=float(correlation["margin"]),
    )


def _quotas(count: int, shares: np.ndarray) -> np.ndarray:
    """Split ``count`` by ``shares`` with largest remainders (ties to the lower index)."""
    exact = count * shares
    out = np.floor(exact).astype(np.int64)
    left = count - int(out.sum())
    if left:
        order = np.argsort(-(exact - out), kind="stable")
        out[order[:left]] += 1
    return out


def assign_industries(
    board: np.ndarray, targets: IndustryTargets, generator: np.random.Generator
) -> np.ndarray:
    """Return each stock's industry code (int16 into ``targets.names``), board by board.

    >>> targets = load_industry_targets()
    >>> codes = assign_industries(np.zeros(1000, np.int8), targets, np.random.default_rng(1))
    >>> int(np.bincount(codes)[targets.names.index("银行")])  # 42 of 3,179 real: 13.2
    13
    """
    out = np.full(len(board), -1, dtype=np.int16)
    shares = targets.shares()
    for b in range(len(BOARD_NAMES)):
        members = np.flatnonzero(board == b)
        quotas = _quotas(len(members), shares[:, b])
        codes = np.repeat(np.arange(len(quotas), dtype=np.int16), quotas)
        out[members] = codes[generator.permutation(len(members))]
    return out


def industry_factor(days: int, industries: int, generator: np.random.Generator) -> np.ndarray:
    """``(days x industries)`` Student-t(5) draws scaled to unit variance."""
    return generator.standard_t(5, size=(days, industries)) * np.sqrt(3.0 / 5.0)
