"""Market presets: every rule of one market and period, in one object (qlib's habit).

A preset bundles the A-share rules (:class:`~backtest.rules.ashare.MarketRules`: costs, price
limits by board, ST and listing age, lots) and the CFFEX rules
(:class:`~backtest.rules.cffex.FuturesRules`: product specs, dated margin and fees). The engine,
the importers and the scenario read their rules from a preset, so a rule has one home.

>>> import datetime as dt
>>> CHINA_A_2023_2024.equities.stamp_duty_rate(dt.date(2023, 8, 28))
0.0005
>>> CHINA_A_2023_2024.futures.specs["IC"].multiplier_cny_per_point
200.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backtest.rules.ashare import MarketRules
from backtest.rules.cffex import FuturesRules

__all__ = ["CHINA_A_2023_2024", "MarketPreset"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketPreset:
    """The rules of one market over one period.

    Parameters
    ----------
    equities
        A-share costs, limits and lots as dated tables.
    futures
        CFFEX index-futures specs, dated margin rates and fees.
    """

    equities: MarketRules = field(default_factory=MarketRules)
    futures: FuturesRules = field(default_factory=FuturesRules)


#: The rules in force over 2023-2024 (sources in :mod:`backtest.rules.ashare` and
#: :mod:`backtest.rules.cffex`).
CHINA_A_2023_2024 = MarketPreset()
