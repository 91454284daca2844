"""The engine's settings: one frozen, validated, hashable configuration.

Everything that changes a backtest's numbers and is not the market or the strategy lives here,
so that :func:`config_hash` of (engine config, strategy parameters, data range, market identity)
identifies a run (nautilus_trader's habit: configs are frozen, keyword-only, validated and
hashed into every result).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from backtest.execution.models import (
    ImpactModel,
    LiquidityModel,
    ParticipationCap,
    SquareRootImpact,
)
from backtest.execution.propagator_nb import Propagator
from backtest.rules.ashare import MarketRules
from backtest.rules.presets import CHINA_A_2023_2024

#: Where queued orders execute: the session's open, or its VWAP (``amount / volume``).
ExecutionPrice = Literal["open", "vwap"]
EXECUTION_PRICES: tuple[ExecutionPrice, ...] = ("open", "vwap")


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineConfig:
    """Settings of one engine run (shared by every book of the run).

    Parameters
    ----------
    execution_price
        ``"open"``: orders queued at a close fill at the next session's open price.
        ``"vwap"``: they fill at the next session's VWAP, ``amount / volume``.
    participation_cap
        Largest fill as a fraction of the session's volume, in (0, 1]; the rest stays in the
        backlog (default 0.10).
    impact_coefficient
        ``Y`` of the square-root law ``price * (1 ± Y * sigma * sqrt(Q / V))``, in [0, 10]
        (default 0.8; Almgren et al. 2005, Tóth et al. 2011 report Y of about 0.5-1).
    fallback_volatility
        Daily return volatility used when a stock has too little history, in (0, 1].
    initial_cash
        Cash of each book at the start, CNY, > 0.
    volatility_window
        Sessions in the rolling daily volatility fed to the impact model, >= 2.
    adv_window
        Sessions in the rolling average daily volume (ADV), >= 1.
    rules
        A-share market rules as dated data (stamp duty, fees, lots); by default the equities
        of the preset :data:`backtest.rules.presets.CHINA_A_2023_2024`.
    liquidity, impact
        The Exchange's models (:mod:`backtest.execution.models`). ``None`` (default): each
        book alone may take ``participation_cap`` of the volume
        (:class:`~backtest.execution.models.ParticipationCap`) and pays square-root impact on
        its own participation with ``impact_coefficient``
        (:class:`~backtest.execution.models.SquareRootImpact`): books do not share liquidity.
        A model given here replaces the parameter it carries. The shared-market pair is
        :class:`~backtest.execution.crowd.SharedProRata` and
        :class:`~backtest.execution.crowd.CrowdSquareRoot`.
    propagator
        Lasting impact (:class:`~backtest.execution.propagator_nb.Propagator`): the books' net
        flow moves later prices for every book (marks, closes the strategies see, the next
        sessions' reference prices and locks). ``None`` (default): prices are the market's.
    """

    execution_price: ExecutionPrice = "open"
    participation_cap: float = 0.10
    impact_coefficient: float = 0.8
    fallback_volatility: float = 0.02
    initial_cash: float = 1e8
    volatility_window: int = 20
    adv_window: int = 20
    rules: MarketRules = field(default=CHINA_A_2023_2024.equities)
    liquidity: LiquidityModel | None = None
    impact: ImpactModel | None = None
    propagator: Propagator | None = None

    def liquidity_model(self) -> LiquidityModel:
        """The liquidity model the Exchange uses (see ``liquidity``)."""
        if self.liquidity is not None:
            return self.liquidity
        return ParticipationCap(self.participation_cap)

    def impact_model(self) -> ImpactModel:
        """The impact model the Exchange uses (see ``impact``)."""
        if self.impact is not None:
            return self.impact
        return SquareRootImpact(self.impact_coefficient)

    def __post_init__(self) -> None:
        if self.liquidity is not None and not isinstance(self.liquidity, LiquidityModel):
            raise ValueError(
                f"liquidity must be a LiquidityModel (e.g. ParticipationCap(0.1)), "
                f"got {self.liquidity!r}"
            )
        if self.impact is not None and not isinstance(self.impact, ImpactModel):
            raise ValueError(
                f"impact must be an ImpactModel (e.g. SquareRootImpact(0.8)), got {self.impact!r}"
            )
        if self.propagator is not None and not isinstance(self.propagator, Propagator):
            raise ValueError(
                f"propagator must be a Propagator (e.g. Propagator()), got {self.propagator!r}"
            )
        if self.execution_price not in EXECUTION_PRICES:
            raise ValueError(
                f"execution_price must be one of {EXECUTION_PRICES}, got {self.execution_price!r}"
            )
        _check_range("participation_cap", self.participation_cap, 0.0, 1.0, low_open=True)
        _check_range("impact_coefficient", self.impact_coefficient, 0.0, 10.0)
        _check_range("fallback_volatility", self.fallback_volatility, 0.0, 1.0, low_open=True)
        if not (math.isfinite(self.initial_cash) and self.initial_cash > 0):
            raise ValueError(
                f"initial_cash must be a finite amount > 0 CNY, got {self.initial_cash}"
            )
        if not (isinstance(self.volatility_window, int) and self.volatility_window >= 2):
            raise ValueError(
                f"volatility_window must be an int >= 2 sessions, got {self.volatility_window!r}"
            )
        if not (isinstance(self.adv_window, int) and self.adv_window >= 1):
            raise ValueError(f"adv_window must be an int >= 1 session, got {self.adv_window!r}")


def _check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


def to_plain(value: Any) -> Any:
    """Turn configs and parameters into plain JSON values (dataclasses, dates, enums, arrays).

    >>> to_plain({"day": dt.date(2024, 2, 5), "rates": (0.1, 0.2)})
    {'day': '2024-02-05', 'rates': [0.1, 0.2]}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **plain}
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, np.ndarray):
        return [to_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, no spaces)."""
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_hash(
    config: EngineConfig, strategy_params: Any, data_range: Any, market_identity: str
) -> str:
    """Return the sha256 (hex) of the canonical JSON of a run's inputs.

    ``{"engine": config, "strategy": params, "data": data_range, "market": identity}``; two
    runs with equal hashes ran the same engine settings and strategy parameters over the same
    market data (:meth:`~backtest.market.panel.MarketData.identity`: the store's
    identity, or the arrays' hash) and range.
    """
    text = canonical_json(
        {
            "engine": config,
            "strategy": strategy_params,
            "data": data_range,
            "market": market_identity,
        }
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()
