"""CFFEX stock-index futures: products, contracts, a dense panel, roll rules and fills.

Products (CFFEX contract specifications): IF (CSI 300) and IH (SSE 50) at CNY 300 per index
point, IC (CSI 500) and IM (CSI 1000) at CNY 200; tick 0.2 points; monthly contracts named
``<product><yymm>`` (``IC2403``) whose last trading day is the third Friday of the month, the
next session when that is a holiday; listed at any time: the current and next month and the
next two quarter months; final settlement to the underlying index (the average of its last two
hours; in the store, ``futures_bars.settle`` on the expiry date).

Expiry dates and listings come from :mod:`backtest.market.calendar` (one source for the rule);
this module adds what a hedged book needs on top:

- :func:`parse_contract`, :func:`contract_name`, :func:`contract_expiry`,
  :func:`listed_contracts`: names and dates;
- :func:`futures_panel`: ``futures_bars`` as dense ``(days x contracts)`` arrays for the engine;
- :class:`RollRule` and :func:`roll_schedule`: which contract to hold each session, and when to
  roll;
- :func:`fill_futures_orders`: fills with slippage and fees (kernel ``futures_nb.fill_nb``).

Daily settlement and margin are in :mod:`backtest.engine.margin`; the basis (as quoted,
annualised, of the main contract) and the hedge accounting lines (futures P&L = index P&L +
basis carry + roll) in :mod:`backtest.engine.futures_hedge`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

import numpy as np
import polars as pl

from backtest.engine.futures_nb import fill_nb
from backtest.engine.margin import DatedFeeRates
from backtest.market import calendar
from backtest.market.calendar import QUARTER_MONTHS, futures_expiry
from backtest.market.schema import FUTURES_PRODUCTS, FUTURES_UNDERLYING

RollTarget = Literal["next_quarterly", "next_listed", "main"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesSpec:
    """Contract terms of one CFFEX index-futures product."""

    product: str
    multiplier_cny_per_point: float
    tick_points: float
    underlying_index: str
    underlying_name: str

    def __post_init__(self) -> None:
        if self.product not in FUTURES_PRODUCTS:
            raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {self.product!r}")
        if self.multiplier_cny_per_point <= 0 or self.tick_points <= 0:
            raise ValueError("multiplier_cny_per_point and tick_points must be > 0")


SPECS: Mapping[str, FuturesSpec] = MappingProxyType(
    {
        "IF": FuturesSpec(
            product="IF",
            multiplier_cny_per_point=300.0,
            tick_points=0.2,
            underlying_index=FUTURES_UNDERLYING["IF"],
            underlying_name="CSI 300",
        ),
        "IH": FuturesSpec(
            product="IH",
            multiplier_cny_per_point=300.0,
            tick_points=0.2,
            underlying_index=FUTURES_UNDERLYING["IH"],
            underlying_name="SSE 50",
        ),
        "IC": FuturesSpec(
            product="IC",
            multiplier_cny_per_point=200.0,
            tick_points=0.2,
            underlying_index=FUTURES_UNDERLYING["IC"],
            underlying_name="CSI 500",
        ),
        "IM": FuturesSpec(
            product="IM",
            multiplier_cny_per_point=200.0,
            tick_points=0.2,
            underlying_index=FUTURES_UNDERLYING["IM"],
            underlying_name="CSI 1000",
        ),
    }
)


# ------------------------------------------------------------------------- contracts
class ContractCode(NamedTuple):
    """A contract's parts: ``IC2403`` is ``ContractCode("IC", 2024, 3)``."""

    product: str
    year: int
    month: int

    @property
    def name(self) -> str:
        return contract_name(self.product, self.year, self.month)

    @property
    def spec(self) -> FuturesSpec:
        return SPECS[self.product]


def contract_name(product: str, year: int, month: int) -> str:
    """Name a contract: ``contract_name("IC", 2024, 3) == "IC2403"``.

    >>> contract_name("IM", 2024, 12)
    'IM2412'
    """
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {product!r}")
    if not (2000 <= year <= 2099 and 1 <= month <= 12):
        raise ValueError(f"year must be in 2000..2099 and month in 1..12, got {year}-{month}")
    return f"{product}{year % 100:02d}{month:02d}"


def parse_contract(contract: str) -> ContractCode:
    """Split a contract name into product, year and month.

    >>> parse_contract("IC2403")
    ContractCode(product='IC', year=2024, month=3)
    """
    text = contract.strip().upper()
    digits = text[2:]
    if (
        len(text) != 6
        or text[:2] not in FUTURES_PRODUCTS
        or not digits.isdigit()
        or not 1 <= int(digits[2:]) <= 12
    ):
        raise ValueError(
            f"contract {contract!r} is not a CFFEX index future name like 'IC2403' "
            f"(product in {FUTURES_PRODUCTS}, then yymm)"
        )
    return ContractCode(text[:2], 2000 + int(digits[:2]), int(digits[2:]))


def contract_expiry(contract: str, sessions: np.ndarray) -> np.datetime64:
    """Last trading day of a contract: the third Friday, or the next session if a holiday.

    ``sessions`` is the exchange calendar (``datetime64[D]``) covering the expiry month.

    >>> from backtest.market.calendar import sessions
    >>> contract_expiry("IC2402", sessions("2024-01-02", "2024-03-29"))
    np.datetime64('2024-02-19')
    """
    code = parse_contract(contract)
    return np.datetime64(futures_expiry(code.year, code.month, sessions), "D")


def listed_contracts(product: str, date: Any, sessions: np.ndarray) -> list[str]:
    """Contracts of ``product`` listed on ``date``, nearest expiry first.

    CFFEX lists the current month, the next month and the next two quarter months
    (:func:`backtest.market.calendar.listed_contracts`).

    >>> from backtest.market.calendar import sessions
    >>> listed_contracts("IM", "2024-02-05", sessions("2024-01-02", "2024-12-31"))
    ['IM2402', 'IM2403', 'IM2406', 'IM2409']
    """
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {product!r}")
    listed = calendar.listed_contracts(date, sessions)
    return [contract_name(product, year, month) for year, month, _ in listed]


# ---------------------------------------------------------------------------- panel
@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesPanel:
    """Dense ``(days x contracts)`` arrays of futures bars, for the engine's session loop.

    Prices are NaN where a contract has no bar (not yet listed, or expired). Per session ``t``
    the engine reads ``settle[t, columns]``, ``settle[t - 1, columns]`` and
    ``expiry[columns] == dates[t]`` for the contracts a book holds and passes them to
    :func:`backtest.engine.margin.settle_session`; the settle on the expiry date is the final
    settlement price.
    """

    dates: np.ndarray  # datetime64[D] (days,)
    contracts: np.ndarray  # str (k,), sorted
    expiry: np.ndarray  # datetime64[D] (k,)
    multiplier: np.ndarray  # CNY per point (k,)
    values: Mapping[str, np.ndarray]  # field -> float64 (days x k)

    def __getitem__(self, field_name: str) -> np.ndarray:
        return self.values[field_name]

    def columns(self, contracts: tuple[str, ...] | list[str]) -> np.ndarray:
        """Column positions of ``contracts``; raises naming a contract the panel lacks."""
        where = np.searchsorted(self.contracts, contracts)
        for contract, position in zip(contracts, where, strict=True):
            if position >= len(self.contracts) or self.contracts[position] != contract:
                raise ValueError(f"contract {contract} is not in the futures panel")
        return where


PANEL_FIELDS: tuple[str, ...] = ("open", "close", "settle", "open_interest")


def futures_panel(futures: pl.DataFrame, *, fields: tuple[str, ...] = PANEL_FIELDS) -> FuturesPanel:
    """Pivot ``futures_bars`` rows (``date, contract, expiry`` and ``fields``) into a panel."""
    require_columns(futures, ("date", "contract", "expiry", *fields), "futures")
    if futures.select("date", "contract").is_duplicated().any():
        raise ValueError("futures has more than one row for a (date, contract); dedupe first")
    days = futures["date"].to_numpy().astype("datetime64[D]")
    names = futures["contract"].to_numpy().astype(str)
    dates, row = np.unique(days, return_inverse=True)
    contracts, column = np.unique(names, return_inverse=True)
    expiry = np.empty(len(contracts), dtype="datetime64[D]")
    expiry[column] = futures["expiry"].to_numpy().astype("datetime64[D]")
    values: dict[str, np.ndarray] = {}
    for name in fields:
        dense = np.full((len(dates), len(contracts)), np.nan)
        dense[row, column] = futures[name].cast(pl.Float64).to_numpy()
        values[name] = dense
    multiplier = np.array([parse_contract(c).spec.multiplier_cny_per_point for c in contracts])
    return FuturesPanel(
        dates=dates,
        contracts=contracts,
        expiry=expiry,
        multiplier=multiplier,
        values=MappingProxyType(values),
    )


# ---------------------------------------------------------------------------- rolls
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

    >>> from backtest.market.calendar import sessions
    >>> plan = roll_schedule(RollRule(), "IC", sessions(), start="2023-12-01", end="2024-06-28")
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
    require_columns(futures, ("date", "contract", "open_interest"), "futures")
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


# ---------------------------------------------------------------------------- fills
@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesFills:
    """Fills of one session's futures orders, one entry per contract (immutable facts).

    Quantities are signed contracts; ``closed_overnight + closed_today + opened == filled``.
    ``status`` uses ``futures_nb.FILL_*`` codes; unfilled orders (not tradable) stay open.
    """

    contracts: tuple[str, ...]
    filled: np.ndarray
    fill_price: np.ndarray
    fee_cny: np.ndarray
    closed_overnight: np.ndarray
    closed_today: np.ndarray
    opened: np.ndarray
    #: cost of the slippage against the reference price, CNY (``|q| * ticks * tick * m``)
    slippage_cny: np.ndarray
    status: np.ndarray


def fill_futures_orders(
    *,
    contracts: tuple[str, ...],
    orders: np.ndarray,
    reference_price: np.ndarray,
    held_overnight: np.ndarray,
    opened_today: np.ndarray | None = None,
    tradable: np.ndarray | None = None,
    fees: DatedFeeRates,
    slippage_ticks: int = 1,
    close_today_first: bool = True,
) -> FuturesFills:
    """Fill signed orders on contracts at ``reference_price`` (the open or the settle).

    Fill price ``p = reference + sign * slippage_ticks * 0.2`` (tick of the product); fees are
    ``fees.open_rate`` / ``close_rate`` / ``close_today_rate`` times the notional
    ``|q| * p * multiplier`` of the lots opened, closed from earlier sessions and closed the
    same session. ``close_today_first=True`` closes lots opened today before older ones, the
    order commonly described for CFFEX (an approximation; it only matters for round trips
    within one session). Futures have no T+1: a contract bought can be sold the same session.

    >>> f = fill_futures_orders(contracts=("IC2403",), orders=np.array([-2]),
    ...     reference_price=np.array([5409.0]), held_overnight=np.array([0]),
    ...     fees=DatedFeeRates(start=dt.date(2023, 3, 20), open_rate=0.23e-4,
    ...                        close_rate=0.23e-4, close_today_rate=2.3e-4))
    >>> float(f.fill_price[0]), round(float(f.fee_cny[0]), 2), float(f.slippage_cny[0])
    (5408.8, 49.76, 80.0)
    """
    n = len(contracts)
    specs = [parse_contract(c).spec for c in contracts]
    multiplier = np.array([s.multiplier_cny_per_point for s in specs], dtype=np.float64)
    tick = np.array([s.tick_points for s in specs], dtype=np.float64)
    order_array = np.asarray(orders, dtype=np.int64)
    price = np.asarray(reference_price, dtype=np.float64)
    held = np.asarray(held_overnight, dtype=np.int64)
    today = np.zeros(n, np.int64) if opened_today is None else np.asarray(opened_today, np.int64)
    can_trade = np.ones(n, np.bool_) if tradable is None else np.asarray(tradable, np.bool_)
    for name, array in (
        ("orders", order_array),
        ("reference_price", price),
        ("held_overnight", held),
        ("opened_today", today),
        ("tradable", can_trade),
    ):
        if array.shape != (n,):
            raise ValueError(f"{name} has shape {array.shape}; expected ({n},), one per contract")
    if np.any((held != 0) & (today != 0) & (np.sign(held) != np.sign(today))):
        raise ValueError("held_overnight and opened_today must not have opposite signs (net book)")
    if slippage_ticks < 0:
        raise ValueError(f"slippage_ticks must be >= 0, got {slippage_ticks}")
    filled, fill_price, fee, closed_overnight, closed_today, opened, status = fill_nb(
        order_array,
        price,
        can_trade,
        held,
        today,
        multiplier,
        tick,
        slippage_ticks,
        fees.open_rate,
        fees.close_rate,
        fees.close_today_rate,
        close_today_first,
    )
    slippage = np.abs(filled) * multiplier * tick * slippage_ticks
    return FuturesFills(
        contracts=tuple(contracts),
        filled=filled,
        fill_price=fill_price,
        fee_cny=fee,
        closed_overnight=closed_overnight,
        closed_today=closed_today,
        opened=opened,
        status=status,
        slippage_cny=slippage,
    )


def require_columns(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Raise a ValueError naming the frame and the columns it lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {frame.columns}")
