"""The scenario's settings: one frozen, validated, keyword-only dataclass."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FIRST_SESSION", "LAST_SESSION", "SOURCE", "ScenarioConfig"]

SOURCE = "scenario:ashare-2023-2024"
BASE_DATE = "2022-12-30"
FIRST_SESSION = "2023-01-03"
LAST_SESSION = "2024-12-31"


@dataclass(frozen=True, kw_only=True, slots=True)
class ScenarioConfig:
    """Settings of the calibrated 2023-2024 A-share scenario.

    Parameters
    ----------
    seed
        Seed of the ``numpy.random.Generator(PCG64)`` every random draw comes from.
    n_stocks
        Stocks in the store over the whole period, listings and delistings included.
    end
        Last session generated (``2023-01-31`` .. ``2024-12-31``); the first is 2023-01-03.
    listing_share_2023, listing_share_2024
        New listings during each year as a share of ``n_stocks`` (300 and 100 at 5,000).
    delisting_share
        Stocks delisted during the period, mostly small ST names (40 at 5,000).
    st_share
        Share of ST stocks (price limit ±5 %, outside every index).
    suspension_rate
        Probability that a stock starts a suspension on a session (runs of 1-5 sessions).
    total_cap_cny, largest_cap_cny, smallest_cap_cny
        Total A-share cap at the base date and the extremes of the cap distribution, CNY.
    idiosyncratic_vol
        Median daily idiosyncratic volatility of a stock (small caps more, large less).
    amount_cap_elasticity
        Cross-sectional elasticity of daily amount (CNY) to float cap (on the stock's first
        session): turnover falls with size when < 1.
    amount_cap_change_elasticity
        Elasticity of a stock's daily amount to the change of its own float cap since its first
        session: share volume is sticky, so it is below ``amount_cap_elasticity``. The level of
        the amounts is not a setting: each session's total is the real market amount.
    locked_volume_fraction
        Volume of a one-price session (locked at the limit all day) as a fraction of normal,
        drawn uniformly in this range; a stock that closes limit-down after trading through
        the day trades ``bars.LIMIT_CLOSE_VOLUME`` (0.65) of an unlocked stock's volume.
    liquidity_premium_daily
        Daily return per unit of the illiquidity characteristic on normal days (2023's premium).
    liquidity_crash_loading
        Loading of the liquidity factor on the microcap-minus-CSI 300 target spread on down days
        beyond -1 %: illiquid stocks fall more in a small-cap crash.
    carry_keep
        Fraction of an unfilled (limit-locked) move carried into the next session.
    industry_variance_share
        Share of a stock's idiosyncratic daily variance that is its industry's factor
        (:mod:`backtest.market.scenario.industries`); set so that the within-minus-across
        industry average pairwise correlation of 2023 main-board returns is the real 0.150.
    """

    seed: int = 20240205
    n_stocks: int = 5000
    end: str = LAST_SESSION
    listing_share_2023: float = 0.06
    listing_share_2024: float = 0.02
    delisting_share: float = 0.008
    st_share: float = 0.03
    suspension_rate: float = 0.0003
    total_cap_cny: float = 85e12
    largest_cap_cny: float = 2.0e12
    smallest_cap_cny: float = 3.0e8
    idiosyncratic_vol: float = 0.02
    amount_cap_elasticity: float = 0.7
    amount_cap_change_elasticity: float = 0.3
    locked_volume_fraction: tuple[float, float] = (0.05, 0.2)
    liquidity_premium_daily: float = 0.0004
    liquidity_crash_loading: float = 0.3
    carry_keep: float = 0.8
    industry_variance_share: float = 0.19

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"ScenarioConfig.seed must be in [0, 2**63), got {self.seed}")
        if not 100 <= self.n_stocks <= 20000:
            raise ValueError(
                f"ScenarioConfig.n_stocks must be in [100, 20000], got {self.n_stocks}"
            )
        try:
            end = dt.date.fromisoformat(self.end)
        except (TypeError, ValueError):
            raise ValueError(f"ScenarioConfig.end must be an ISO date, got {self.end!r}") from None
        if not dt.date(2023, 1, 31) <= end <= dt.date(2024, 12, 31):
            raise ValueError(
                f"ScenarioConfig.end must be in 2023-01-31..2024-12-31, got {self.end}"
            )
        shares = {
            "listing_share_2023": (self.listing_share_2023, 0.0, 0.2),
            "listing_share_2024": (self.listing_share_2024, 0.0, 0.2),
            "delisting_share": (self.delisting_share, 0.0, 0.05),
            "st_share": (self.st_share, 0.0, 0.1),
            "suspension_rate": (self.suspension_rate, 0.0, 0.01),
            "idiosyncratic_vol": (self.idiosyncratic_vol, 0.001, 0.1),
            "amount_cap_elasticity": (self.amount_cap_elasticity, 0.1, 1.0),
            "amount_cap_change_elasticity": (self.amount_cap_change_elasticity, 0.0, 1.0),
            "liquidity_premium_daily": (self.liquidity_premium_daily, -0.01, 0.01),
            "liquidity_crash_loading": (self.liquidity_crash_loading, 0.0, 2.0),
            "carry_keep": (self.carry_keep, 0.0, 1.0),
            "industry_variance_share": (self.industry_variance_share, 0.0, 0.9),
        }
        for name, (value, low, high) in shares.items():
            if not low <= value <= high:
                raise ValueError(f"ScenarioConfig.{name} must be in [{low}, {high}], got {value}")
        if not 0 < self.smallest_cap_cny < self.largest_cap_cny < self.total_cap_cny:
            raise ValueError(
                "ScenarioConfig caps must satisfy 0 < smallest_cap_cny < largest_cap_cny < "
                f"total_cap_cny, got {self.smallest_cap_cny}, {self.largest_cap_cny}, "
                f"{self.total_cap_cny}"
            )
        low, high = self.locked_volume_fraction
        if not 0 < low <= high <= 1:
            raise ValueError(
                "ScenarioConfig.locked_volume_fraction must be (low, high) with "
                f"0 < low <= high <= 1, got {self.locked_volume_fraction}"
            )

    def to_params(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (stored in ``provenance.params``)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def to_json(self) -> str:
        """The settings as sorted JSON."""
        return json.dumps(self.to_params(), sort_keys=True)
