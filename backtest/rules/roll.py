"""Roll rules of a hedged book: which CFFEX contract to hold each session, and when to roll.

A hedge is a target per product (short so many IC); the contract that carries it follows a
:class:`RollRule`, and :func:`roll_schedule` turns the rule into one contract per session
(contract names and expiries from :mod:`backtest.rules.cffex`). The engine trades the plan:
on a roll session it buys back the old contract and sells the new one at the same open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from backtest.core.ids import FUTURES_PRODUCTS
from backtest.rules.cffex import QUARTER_MONTHS, contract_expiry, listed_contracts, parse_contract

__all__ = ["RollRule", "RollTarget", "roll_schedule"]

RollTarget = Literal["next_quarterly", "next_listed", "main"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RollRule:
    """When a hedged book leaves its contract and which one it takes next.

    The book holds a contract while more than ``sessions_before_expiry`` sessions remain until
    its expiry (the expiry day counted, today not); on the session where that is no longer true
    it rolls, at that session's price, into:

    - ``"next_quarterly"``: the nearest listed quarter-month contract (Mar/Jun/Sep/Dec) with
      more than ``sessions_before_expiry`` sessions left: the deep, liquid contract most
      hedgers held in 2024 (IC2403/IM2403 were the main contracts in the crash);
    - ``"next_listed"``: the nearest listed contract with enough sessions left;
    - ``"main"``: the contract with the largest open interest at the previous session's close
      (no look-ahead), switched to whenever it expires later than the one held; when the held
      contract runs out of time, the candidate with the largest open interest (the nearest
      listed one on the first session, before any open interest is known).

    ``sessions_before_expiry=0`` holds to the expiry day and rolls at the final settlement.
    """

    sessions_before_expiry: int = 5
    target: RollTarget = "next_quarterly"

    def __post_init__(self) -> None:
        if not 0 <= self.sessions_before_expiry <= 15:
            raise ValueError(
                f"sessions_before_expiry must be in 0..15 sessions, got "
                f"{self.sessions_before_expiry}"
            )
        if self.target not in ("next_quarterly", "next_listed", "main"):
            raise ValueError(
                f"target must be 'next_quarterly', 'next_listed' or 'main', got {self.target!r}"
            )


@dataclass(frozen=True, slots=True)
class _Expiries:
    sessions: np.ndarray
    cache: dict[str, np.datetime64] = field(default_factory=dict)

    def expiry(self, contract: str) -> np.datetime64:
        if contract not in self.cache:
            self.cache[contract] = contract_expiry(contract, self.sessions)
        return self.cache[contract]

    def sessions_left(self, contract: str, day: np.datetime64) -> int:
        """Sessions after ``day`` up to and including the expiry day."""
        expiry = self.expiry(contract)
        return int(
            np.searchsorted(self.sessions, expiry, side="right")
            - np.searchsorted(self.sessions, day, side="right")
        )


def roll_schedule(
    rule: RollRule,
    product: str,
    sessions: np.ndarray,
    *,
    start: Any = None,
    end: Any = None,
    futures: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The contract to hold at each session's close from ``start`` to ``end``, and the rolls.

    ``sessions`` is the full exchange calendar (it must reach past the last expiry used).
    ``futures`` (columns ``date, contract, open_interest``) is needed for ``target="main"``.

    Returns a frame ``date, product, contract, expiry, sessions_to_expiry, is_roll,
    previous_contract`` with one row per session; ``is_roll`` is True on the sessions where the
    held contract changes (the first session opens, it is not a roll).

    >>> days = np.arange("2023-12-01", "2024-12-31", dtype="datetime64[D]")
    >>> days = days[np.is_busday(days)]  # weekdays: a calendar without the holidays
    >>> plan = roll_schedule(RollRule(), "IC", days, start="2023-12-01", end="2024-06-28")
    >>> rolls = plan.filter(pl.col("is_roll")).select("date", "previous_contract", "contract")
    >>> for row in rolls.rows():
    ...     print(*row)
    2023-12-08 IC2312 IC2403
    2024-03-08 IC2403 IC2406
    2024-06-14 IC2406 IC2409
    """
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {product!r}")
    calendar_days = np.asarray(sessions, dtype="datetime64[D]")
    lo = calendar_days[0] if start is None else np.datetime64(start, "D")
    hi = calendar_days[-1] if end is None else np.datetime64(end, "D")
    window = calendar_days[(calendar_days >= lo) & (calendar_days <= hi)]
    if len(window) == 0:
        raise ValueError(f"no sessions between {lo} and {hi} in the calendar given")
    interest = (
        _previous_open_interest(futures, product, calendar_days, window)
        if rule.target == "main"
        else {}
    )
    expiries = _Expiries(calendar_days)
    held: str | None = None
    rows: list[tuple[Any, ...]] = []
    for day in window:
        candidates = [
            c
            for c in listed_contracts(product, day, calendar_days)
            if expiries.sessions_left(c, day) > rule.sessions_before_expiry
            and (rule.target != "next_quarterly" or parse_contract(c).month in QUARTER_MONTHS)
        ]
        if not candidates:
            raise ValueError(
                f"{product} on {day}: no listed contract has more than "
                f"{rule.sessions_before_expiry} sessions left; lower sessions_before_expiry"
            )
        choice = candidates[0]
        if rule.target == "main" and interest.get(day):
            open_interest = interest[day]
            main = max(
                open_interest,
                key=lambda c: (open_interest[c], -int(expiries.expiry(c).astype(np.int64))),
            )
            if held in candidates:
                choice = held
                if main in candidates and expiries.expiry(main) > expiries.expiry(held):
                    choice = main
            else:  # forced out: take the most held contract among those with time left
                choice = max(
                    candidates, key=lambda c: (open_interest.get(c, -1), -candidates.index(c))
                )
        is_roll = held is not None and choice != held
        rows.append(
            (
                day.astype(dt.date),
                product,
                choice,
                expiries.expiry(choice).astype(dt.date),
                expiries.sessions_left(choice, day),
                is_roll,
                held if is_roll else None,
            )
        )
        held = choice
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "product": pl.String,
            "contract": pl.String,
            "expiry": pl.Date,
            "sessions_to_expiry": pl.Int64,
            "is_roll": pl.Boolean,
            "previous_contract": pl.String,
        },
        orient="row",
    )


def _previous_open_interest(
    futures: pl.DataFrame | None, product: str, calendar_days: np.ndarray, window: np.ndarray
) -> dict[np.datetime64, dict[str, int]]:
    """Open interest per contract at the session before each session of ``window``."""
    if futures is None:
        raise ValueError("roll target 'main' needs futures with date, contract, open_interest")
    missing = [c for c in ("date", "contract", "open_interest") if c not in futures.columns]
    if missing:
        raise ValueError(f"futures lacks columns {missing}; it has {futures.columns}")
    rows = futures.filter(pl.col("contract").str.starts_with(product)).select(
        "date", "contract", "open_interest"
    )
    by_day: dict[np.datetime64, dict[str, int]] = {}
    for day, contract, open_interest in rows.iter_rows():
        by_day.setdefault(np.datetime64(day, "D"), {})[contract] = int(open_interest)
    out: dict[np.datetime64, dict[str, int]] = {}
    for day in window:
        position = int(np.searchsorted(calendar_days, day)) - 1
        if position >= 0 and calendar_days[position] in by_day:
            out[day] = by_day[calendar_days[position]]
    return out
