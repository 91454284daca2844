"""Futures margin and fees as dated settings, and the daily settlement of a futures book.

CFFEX changes margin rates and fees by notice; here each change is a row with a start date
(STYLE habit 5: market rules as dated data), never an ``if`` on the date. The default rows are
**approximations** to be checked against the exchange's notices before relying on them:

Margin (exchange level, fraction of notional; brokers add 2-5 points on top, see
``broker_add_on``):

- up to 2023-04: IF 12 %, IH 12 %, IC 14 %, IM 15 % (IM was launched on 2022-07-22 at 15 %);
- from 2023-05: about 12 % on all four (CALIBRATION.md, "Rules in force": "about 12 %,
  exchange level from May 2023").

Fees (exchange fee, fraction of notional per side; brokers add a little, see
``broker_add_on_rate``):

- opening and closing an overnight position: 0.23 bp (0.000023);
- closing a position opened the same session ("close today", 平今): 3.45 bp from 2019-04-22,
  2.3 bp from 2023-03-20 (CFFEX notices on stock-index-futures fees, as recalled; approximate).

:func:`settle_session` is what the engine calls once per session per book: arrays over the
contracts the book holds or trades, out come the variation margin, the margin requirement and
the positions after final settlement (kernel :func:`backtest.engine.futures_nb.settle_nb`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backtest.engine.futures_nb import settle_nb
from backtest.market.schema import FUTURES_PRODUCTS


def _as_day(value: Any) -> np.datetime64:
    return np.datetime64(value, "D")


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

    def rates(self, product: str, dates: np.ndarray) -> np.ndarray:
        """Margin rate in force on each date (NaN before the product's first row)."""
        days = np.asarray(dates, dtype="datetime64[D]")
        rows = sorted((r for r in self.rows if r.product == product), key=lambda r: r.start)
        if not rows:
            raise ValueError(
                f"MarginSchedule has no rows for product {product!r}; add a DatedMarginRate"
            )
        starts = np.array([r.start for r in rows], dtype="datetime64[D]")
        values = np.array([r.rate for r in rows])
        where = np.searchsorted(starts, days, side="right") - 1
        out = np.where(where >= 0, values[np.maximum(where, 0)], np.nan)
        return out + self.broker_add_on

    def rate(self, product: str, date: Any) -> float:
        """Margin rate in force on one date; raises when the product had no rate yet."""
        value = float(self.rates(product, np.array([_as_day(date)]))[0])
        if np.isnan(value):
            raise ValueError(f"no margin rate for {product} on {date}: the first row starts later")
        return value


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
        day = _as_day(date)
        live = [r for r in self.rows if _as_day(r.start) <= day]
        if not live:
            raise ValueError(f"no futures fee rates on {date}: the first row starts later")
        row = max(live, key=lambda r: r.start)
        add = self.broker_add_on_rate
        return DatedFeeRates(
            start=row.start,
            open_rate=row.open_rate + add,
            close_rate=row.close_rate + add,
            close_today_rate=row.close_today_rate + add,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Settlement:
    """One session's settlement of a book's futures, one entry per contract.

    ``status`` uses the codes of :mod:`backtest.engine.futures_nb` (``SETTLE_*``).
    """

    contracts: tuple[str, ...]
    variation_cny: np.ndarray
    margin_cny: np.ndarray
    position_after: np.ndarray
    status: np.ndarray = field(repr=False)

    @property
    def variation_total_cny(self) -> float:
        return float(np.nansum(self.variation_cny))

    @property
    def margin_total_cny(self) -> float:
        return float(np.sum(self.margin_cny))


def settle_session(
    *,
    contracts: tuple[str, ...],
    position_overnight: np.ndarray,
    traded_today: np.ndarray,
    trade_price: np.ndarray,
    settle_previous: np.ndarray,
    settle_today: np.ndarray,
    multiplier: np.ndarray,
    margin_rate: np.ndarray,
    expiring: np.ndarray,
) -> Settlement:
    """Settle one session of a book's futures (validated shell of ``settle_nb``).

    On a contract's expiry day pass its final settlement price as ``settle_today`` (in the
    store: ``futures_bars.settle`` on the expiry date) and ``expiring=True``: the position is
    marked to it and closed. See :func:`backtest.engine.futures_nb.settle_nb` for formulas.

    >>> s = settle_session(contracts=("IC2403",), position_overnight=np.array([-2]),
    ...     traded_today=np.array([0]), trade_price=np.array([np.nan]),
    ...     settle_previous=np.array([5409.0]), settle_today=np.array([5300.0]),
    ...     multiplier=np.array([200.0]), margin_rate=np.array([0.12]),
    ...     expiring=np.array([False]))
    >>> s.variation_total_cny, s.margin_total_cny
    (43600.0, 254400.0)
    """
    n = len(contracts)
    arrays = {
        "position_overnight": np.asarray(position_overnight, dtype=np.int64),
        "traded_today": np.asarray(traded_today, dtype=np.int64),
        "trade_price": np.asarray(trade_price, dtype=np.float64),
        "settle_previous": np.asarray(settle_previous, dtype=np.float64),
        "settle_today": np.asarray(settle_today, dtype=np.float64),
        "multiplier": np.asarray(multiplier, dtype=np.float64),
        "margin_rate": np.asarray(margin_rate, dtype=np.float64),
        "expiring": np.asarray(expiring, dtype=np.bool_),
    }
    for name, array in arrays.items():
        if array.shape != (n,):
            raise ValueError(f"{name} has shape {array.shape}; expected ({n},), one per contract")
    for i, contract in enumerate(contracts):
        if arrays["position_overnight"][i] != 0 and np.isnan(arrays["settle_previous"][i]):
            raise ValueError(
                f"contract {contract}: position held overnight but settle_previous is NaN; "
                "pass the previous session's settlement price"
            )
        if arrays["traded_today"][i] != 0 and np.isnan(arrays["trade_price"][i]):
            raise ValueError(f"contract {contract}: traded today but trade_price is NaN")
    multiplier_array: np.ndarray = arrays["multiplier"]
    rate_array: np.ndarray = arrays["margin_rate"]
    if np.any(multiplier_array <= 0) or np.any(~(rate_array >= 0)):
        raise ValueError("multiplier must be > 0 and margin_rate >= 0 for every contract")
    variation, margin, after, status = settle_nb(*arrays.values())
    return Settlement(
        contracts=tuple(contracts),
        variation_cny=variation,
        margin_cny=margin,
        position_after=after,
        status=status,
    )
