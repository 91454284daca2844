"""CFFEX stock-index futures rules: products, contract names, expiry and listing, margin, fees.

Products (CFFEX contract specifications): IF (CSI 300) and IH (SSE 50) at CNY 300 per index
point, IC (CSI 500) and IM (CSI 1000) at CNY 200; tick 0.2 points; monthly contracts named
``<product><yymm>`` (``IC2403``). Each contract's last trading day is the third Friday of its
month, or the next session when that Friday is a holiday. CFFEX lists four contracts at any
time: the current month, the next month and the next two quarter months (March, June,
September, December). Final settlement is to the underlying index (the average of its last two
hours; in the store, ``futures_bars.settle`` on the expiry date).

Margin and fees change by CFFEX notice; each change is a dated row (STYLE habit 5, the scheme
of :mod:`backtest.rules.dated`). The default rows are **approximations** to be checked against
the exchange's notices before relying on them:

- margin (exchange level, fraction of notional; brokers add 2-5 points on top, see
  :attr:`MarginSchedule.broker_add_on`): up to 2023-04 IF 12 %, IH 12 %, IC 14 %, IM 15 % (IM
  was launched on 2022-07-22 at 15 %); from 2023-05 about 12 % on all four (CALIBRATION.md,
  "Rules in force": "about 12 %, exchange level from May 2023");
- fees (exchange fee, fraction of notional per side; brokers add a little, see
  :attr:`FeeSchedule.broker_add_on_rate`): opening and closing an overnight position 0.23 bp;
  closing a position opened the same session ("close today", 平今) 3.45 bp from 2019-04-22,
  2.3 bp from 2023-03-20 (CFFEX notices on stock-index-futures fees, as recalled; approximate).

Dates need the exchange's sessions, passed in as ``datetime64[D]`` arrays (the calendar itself
is market data: :func:`backtest.market.calendar.sessions`). Which contract a hedged book holds
is :mod:`backtest.rules.roll`; what a book does with these rules (fills, daily settlement, the
hedge accounts) is the engine's.

>>> days = np.array(["2024-02-08", "2024-02-19", "2024-03-15"], dtype="datetime64[D]")
>>> futures_expiry(2024, 2, days)  # the third Friday fell in the Spring Festival closure
datetime.date(2024, 2, 19)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from backtest.core.ids import FUTURES_PRODUCTS, FUTURES_UNDERLYING
from backtest.rules.dated import record_on, values_on

__all__ = [
    "DEFAULT_FEE_RATES",
    "DEFAULT_MARGIN_RATES",
    "QUARTER_MONTHS",
    "SPECS",
    "ContractCode",
    "DatedFeeRates",
    "DatedMarginRate",
    "FeeSchedule",
    "FuturesRules",
    "FuturesSpec",
    "MarginSchedule",
    "contract_expiry",
    "contract_name",
    "futures_expiry",
    "listed_contracts",
    "listed_months",
    "parse_contract",
    "third_friday",
]

QUARTER_MONTHS: tuple[int, ...] = (3, 6, 9, 12)


# ------------------------------------------------------------------------- products
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


def _spec(product: str, multiplier: float, name: str) -> FuturesSpec:
    return FuturesSpec(
        product=product,
        multiplier_cny_per_point=multiplier,
        tick_points=0.2,
        underlying_index=FUTURES_UNDERLYING[product],
        underlying_name=name,
    )


SPECS: Mapping[str, FuturesSpec] = MappingProxyType(
    {
        "IF": _spec("IF", 300.0, "CSI 300"),
        "IH": _spec("IH", 300.0, "SSE 50"),
        "IC": _spec("IC", 200.0, "CSI 500"),
        "IM": _spec("IM", 200.0, "CSI 1000"),
    }
)


# ------------------------------------------------------------------ dates of contracts
def third_friday(year: int, month: int) -> dt.date:
    """Return the third Friday of a month.

    >>> third_friday(2024, 2), third_friday(2024, 3)
    (datetime.date(2024, 2, 16), datetime.date(2024, 3, 15))
    """
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + dt.timedelta(days=offset + 14)


def futures_expiry(year: int, month: int, session_days: np.ndarray) -> dt.date:
    """Return the last trading day of the CFFEX index future of ``year``-``month``.

    The third Friday, or the next session when it is not a session; ``session_days`` is the
    exchange calendar (``datetime64[D]``) covering the expiry month.
    """
    days = np.asarray(session_days, "datetime64[D]")
    friday = np.datetime64(third_friday(year, month), "D")
    index = int(np.searchsorted(days, friday, side="left"))
    if index >= len(days):
        raise ValueError(f"futures_expiry: no session on or after {friday} in the calendar given")
    return days[index].astype(dt.date)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def listed_months(date: Any, session_days: np.ndarray) -> list[tuple[int, int, dt.date]]:
    """Return the contract months listed on ``date`` as ``(year, month, expiry)``, nearest first.

    CFFEX rule: the current month, the next month and the next two quarter months. The current
    month's contract is the one not yet expired on ``date`` (after the expiry day the next
    month becomes the current month).

    >>> days = np.arange("2024-01-02", "2025-01-01", dtype="datetime64[D]")  # every day
    >>> [(y, m) for y, m, _ in listed_months("2024-01-22", days)]
    [(2024, 2), (2024, 3), (2024, 6), (2024, 9)]
    """
    day = np.datetime64(date, "D").astype(dt.date)
    year, month = day.year, day.month
    if futures_expiry(year, month, session_days) < day:
        year, month = _next_month(year, month)
    months = [(year, month), _next_month(year, month)]
    y, m = months[-1]
    while len(months) < 4:
        y, m = _next_month(y, m)
        if m in QUARTER_MONTHS:
            months.append((y, m))
    return [(y, m, futures_expiry(y, m, session_days)) for y, m in months]


# ---------------------------------------------------------------- contract names
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

    >>> days = np.array(["2024-02-15", "2024-02-19", "2024-02-20"], dtype="datetime64[D]")
    >>> contract_expiry("IC2402", days)
    np.datetime64('2024-02-19')
    """
    code = parse_contract(contract)
    return np.datetime64(futures_expiry(code.year, code.month, sessions), "D")


def listed_contracts(product: str, date: Any, sessions: np.ndarray) -> list[str]:
    """Contracts of ``product`` listed on ``date``, nearest expiry first (:func:`listed_months`).

    >>> days = np.arange("2024-01-02", "2025-01-01", dtype="datetime64[D]")  # every day
    >>> listed_contracts("IM", "2024-02-05", days)
    ['IM2402', 'IM2403', 'IM2406', 'IM2409']
    """
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {product!r}")
    return [contract_name(product, year, month) for year, month, _ in listed_months(date, sessions)]


# ------------------------------------------------------------------------ margin
@dataclass(frozen=True, kw_only=True, slots=True)
class DatedMarginRate:
    """Exchange margin rate of one product, in force from ``start`` until the next row."""

    start: dt.date
    product: str
    rate: float

    def __post_init__(self) -> None:
        if self.product not in FUTURES_PRODUCTS:
            raise ValueError(f"product must be one of {FUTURES_PRODUCTS}, got {self.product!r}")
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"rate must be in (0, 1) (a fraction of notional), got {self.rate}")


DEFAULT_MARGIN_RATES: tuple[DatedMarginRate, ...] = (
    DatedMarginRate(start=dt.date(2019, 4, 22), product="IF", rate=0.12),
    DatedMarginRate(start=dt.date(2019, 4, 22), product="IH", rate=0.12),
    DatedMarginRate(start=dt.date(2019, 4, 22), product="IC", rate=0.14),
    DatedMarginRate(start=dt.date(2022, 7, 22), product="IM", rate=0.15),
    DatedMarginRate(start=dt.date(2023, 5, 1), product="IF", rate=0.12),
    DatedMarginRate(start=dt.date(2023, 5, 1), product="IH", rate=0.12),
    DatedMarginRate(start=dt.date(2023, 5, 1), product="IC", rate=0.12),
    DatedMarginRate(start=dt.date(2023, 5, 1), product="IM", rate=0.12),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class MarginSchedule:
    """Margin rate per product and date: the exchange's dated rows plus a broker add-on.

    ``rate = exchange_rate(product, date) + broker_add_on``.

    >>> schedule = MarginSchedule(broker_add_on=0.03)
    >>> im_2023 = schedule.rate("IM", dt.date(2023, 1, 3))
    >>> round(im_2023, 4), round(schedule.rate("IC", "2024-02-05"), 4)
    (0.18, 0.15)
    """

    rows: tuple[DatedMarginRate, ...] = DEFAULT_MARGIN_RATES
    broker_add_on: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.broker_add_on < 0.5:
            raise ValueError(
                f"broker_add_on must be in [0, 0.5) (fraction added to the exchange rate), "
                f"got {self.broker_add_on}"
            )
        if not self.rows:
            raise ValueError("rows must hold at least one DatedMarginRate")

    def table(self, product: str) -> tuple[tuple[dt.date, float], ...]:
        """The exchange's ``(start, rate)`` rows of one product, by start date."""
        rows = sorted((r for r in self.rows if r.product == product), key=lambda r: r.start)
        if not rows:
            raise ValueError(
                f"MarginSchedule has no rows for product {product!r}; add a DatedMarginRate"
            )
        return tuple((r.start, r.rate) for r in rows)

    def rates(self, product: str, dates: np.ndarray) -> np.ndarray:
        """Margin rate in force on each date (NaN before the product's first row)."""
        out: np.ndarray = values_on(self.table(product), dates) + self.broker_add_on
        return out

    def rate(self, product: str, date: Any) -> float:
        """Margin rate in force on one date; raises when the product had no rate yet."""
        value = float(self.rates(product, np.array([np.datetime64(date, "D")]))[0])
        if np.isnan(value):
            raise ValueError(f"no margin rate for {product} on {date}: the first row starts later")
        return value


# -------------------------------------------------------------------------- fees
@dataclass(frozen=True, kw_only=True, slots=True)
class DatedFeeRates:
    """Exchange fee rates (fractions of notional per side), in force from ``start``."""

    start: dt.date
    open_rate: float
    close_rate: float
    close_today_rate: float

    def __post_init__(self) -> None:
        for name in ("open_rate", "close_rate", "close_today_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.01:
                raise ValueError(f"{name} must be in [0, 0.01) (fraction of notional), got {value}")


DEFAULT_FEE_RATES: tuple[DatedFeeRates, ...] = (
    DatedFeeRates(
        start=dt.date(2019, 4, 22), open_rate=0.23e-4, close_rate=0.23e-4, close_today_rate=3.45e-4
    ),
    DatedFeeRates(
        start=dt.date(2023, 3, 20), open_rate=0.23e-4, close_rate=0.23e-4, close_today_rate=2.3e-4
    ),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class FeeSchedule:
    """Futures fees on a date: the exchange's dated rows plus a broker add-on on every side.

    >>> fees = FeeSchedule(broker_add_on_rate=0.01e-4).on("2024-02-05")
    >>> round(fees.open_rate * 1e4, 2), round(fees.close_today_rate * 1e4, 2)
    (0.24, 2.31)
    """

    rows: tuple[DatedFeeRates, ...] = DEFAULT_FEE_RATES
    broker_add_on_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.broker_add_on_rate < 0.001:
            raise ValueError(
                f"broker_add_on_rate must be in [0, 0.001) (fraction of notional), "
                f"got {self.broker_add_on_rate}"
            )
        if not self.rows:
            raise ValueError("rows must hold at least one DatedFeeRates")

    def on(self, date: Any) -> DatedFeeRates:
        """Fee rates in force on ``date``, broker add-on included."""
        row = record_on(self.rows, date, name="futures fee rates")
        add = self.broker_add_on_rate
        return DatedFeeRates(
            start=row.start,
            open_rate=row.open_rate + add,
            close_rate=row.close_rate + add,
            close_today_rate=row.close_today_rate + add,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesRules:
    """The CFFEX side of a market preset: product specs, dated margin rates and fees."""

    specs: Mapping[str, FuturesSpec] = field(default_factory=lambda: SPECS)
    margin: MarginSchedule = field(default_factory=MarginSchedule)
    fees: FeeSchedule = field(default_factory=FeeSchedule)


def hedge_contracts(notional_cny: float, index_level: float, product: str) -> int:
    """Contracts that hedge ``notional_cny`` of the index: ``round(N / (S * m))``.

    >>> hedge_contracts(10_000_000, 5429.23, "IC")
    9
    """
    if not (index_level > 0 and np.isfinite(notional_cny)):
        raise ValueError(f"index_level must be > 0 and notional finite, got {index_level}")
    return round(notional_cny / (index_level * SPECS[product].multiplier_cny_per_point))
