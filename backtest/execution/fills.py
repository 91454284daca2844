"""Orders in, fills out: the status codes, the batches, and a validating one-book wrapper.

An :class:`OrderBatch` is intent (every book's desired deltas at one open), a
:class:`FillBatch` the one fact the :class:`~backtest.execution.exchange.Exchange` returns
(every book's fills at that open, rows are books). The per-stock work is one numba call per
session for all books, :func:`backtest.execution.fill_nb.fill_session_nb` (model and formulas
in that module's docstring). :func:`fill_orders` is the thin shell for one book (vectorbt's
split): it checks shapes, dtypes and values and says which array, which stock and what to do
when they are wrong, calls the kernel, and returns a one-row :class:`FillBatch`.

>>> import numpy as np
>>> batch = fill_orders(
...     order_shares=np.array([1_000, -500]), held_shares=np.array([0, 500]),
...     sellable_shares=np.array([0, 500]), reference_price=np.array([10.0, 20.0]),
...     day_volume=np.array([1e6, 1e6]), lot_size=np.array([100, 100]),
...     min_lot=np.array([100, 100]), cash_available=100_000.0,
...     impact_coefficient=0.0, commission_rate=0.00025, min_commission=5.0,
...     stamp_duty_rate=0.0005, transfer_fee_rate=0.00001)
>>> batch.filled_shares[0].tolist(), [s.name for s in batch.statuses(0)]
([1000, -500], ['FILLED', 'FILLED'])
>>> round(float(batch.cash_after[0]), 4)  # 100000 + 10000 - 5 - 5 - 0.1 - 10000 - 5 - 0.1
99984.8
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from backtest.execution import fill_nb
from backtest.execution.fill_nb import (
    BookOrders,
    Charges,
    FillOut,
    StockSession,
    empty_fill_out,
    fill_session_nb,
)

__all__ = ["FillBatch", "FillStatus", "OrderBatch", "fill_orders"]


class FillStatus(enum.IntEnum):
    """Outcome of one stock's order in one session (the kernel's ``int8`` codes).

    When several constraints cut an order, the status names the one that set the filled
    quantity (precedence in :mod:`backtest.execution.fill_nb`).
    """

    NO_ORDER = fill_nb.NO_ORDER
    FILLED = fill_nb.FILLED
    #: the participation cap (a fraction of the session's volume) cut the order
    PARTIAL_CAP = fill_nb.PARTIAL_CAP
    #: a buy on a session locked at limit-up: nothing filled
    LOCKED_LIMIT_UP = fill_nb.LOCKED_LIMIT_UP
    #: a sell on a session locked at limit-down: nothing filled
    LOCKED_LIMIT_DOWN = fill_nb.LOCKED_LIMIT_DOWN
    SUSPENDED = fill_nb.SUSPENDED
    #: fewer sellable shares than the sell (T+1 or no position)
    NOT_SELLABLE = fill_nb.NOT_SELLABLE
    #: lot rounding cut the order (to fewer lots, or to zero below the minimum lot)
    BELOW_LOT = fill_nb.BELOW_LOT
    #: the buy was cut, partly or wholly, to fit the cash left
    CASH_LIMITED = fill_nb.CASH_LIMITED
    #: no reference price or no volume this session
    NO_PRICE = fill_nb.NO_PRICE


_INT_ARRAYS = ("order_shares", "held_shares", "sellable_shares", "lot_size", "min_lot")
_FLOAT_ARRAYS = ("reference_price", "limit_up", "limit_down", "day_volume", "volatility")
_BOOL_ARRAYS = ("locked_up", "locked_down", "suspended")


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBatch:
    """Intent: every book's desired signed deltas at one open (rows are books, ``int64``).

    ``order_shares[b, i]`` is what book ``b`` wants to trade in stock ``i`` (+ buy, - sell,
    0 none); ``held_shares``/``sellable_shares`` are the book's position and its shares
    sellable today under T+1 (``0 <= sellable <= held``).
    """

    session_index: int
    order_shares: np.ndarray
    held_shares: np.ndarray
    sellable_shares: np.ndarray

    @property
    def books(self) -> int:
        """Number of books (rows)."""
        return int(self.order_shares.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class FillBatch:
    """Fact: one session's fills of every book (arrays ``(books, n)``, amounts in CNY).

    ``filled_shares`` is signed (+ bought, - sold); ``fill_price`` is NaN where nothing filled;
    ``status`` holds :class:`FillStatus` codes; ``cash_after[b]`` is book ``b``'s buying power
    plus sale proceeds minus buy cost and every fee. Arrays are read-only.
    """

    session_index: int
    order_shares: np.ndarray
    filled_shares: np.ndarray
    reference_price: np.ndarray
    fill_price: np.ndarray
    impact_cost: np.ndarray
    commission: np.ndarray
    stamp_duty: np.ndarray
    transfer_fee: np.ndarray
    status: np.ndarray
    cash_after: np.ndarray

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and value.flags.writeable:
                value.flags.writeable = False

    @classmethod
    def from_kernel(
        cls,
        session_index: int,
        order_shares: np.ndarray,
        reference_price: np.ndarray,
        out: FillOut,
    ) -> FillBatch:
        """The batch of the fill kernel's output record ``out`` (its arrays, not copies)."""
        return cls(
            session_index=session_index,
            order_shares=order_shares,
            filled_shares=out.out_filled_shares,
            reference_price=reference_price,
            fill_price=out.out_fill_price,
            impact_cost=out.out_impact,
            commission=out.out_commission,
            stamp_duty=out.out_stamp_duty,
            transfer_fee=out.out_transfer_fee,
            status=out.out_status,
            cash_after=out.out_cash_after,
        )

    def statuses(self, book: int) -> list[FillStatus]:
        """Return the status of every stock of row ``book`` as :class:`FillStatus` members."""
        return [FillStatus(int(code)) for code in self.status[book]]

    def notional(self) -> np.ndarray:
        """Return the traded value, ``fill_price * |filled_shares|`` (0 if none)."""
        return np.where(self.filled_shares != 0, self.fill_price, 0.0) * np.abs(self.filled_shares)

    def fees(self) -> np.ndarray:
        """Return commission + stamp duty + transfer fee."""
        return self.commission + self.stamp_duty + self.transfer_fee

    def to_frame(
        self,
        symbols: np.ndarray | list[str],
        date: dt.date | None = None,
        *,
        book: int = 0,
        orders_only: bool = True,
    ) -> pl.DataFrame:
        """Return row ``book`` as a polars frame, one row per stock (with an order by default).

        Columns: ``date`` (when given), ``symbol``, ``order_shares``, ``filled_shares``,
        ``reference_price``, ``fill_price``, ``impact_cost``, ``commission``, ``stamp_duty``,
        ``transfer_fee``, ``status`` (code) and ``status_name``.
        """
        symbol_list = [str(s) for s in symbols]
        status = self.status[book]
        if len(symbol_list) != len(status):
            raise ValueError(
                f"to_frame: {len(symbol_list)} symbols for {len(status)} stocks; pass the "
                "symbols of the cross-section the batch was filled on, in the same order"
            )
        frame = pl.DataFrame(
            {
                "symbol": symbol_list,
                "order_shares": self.order_shares[book],
                "filled_shares": self.filled_shares[book],
                "reference_price": self.reference_price,
                "fill_price": self.fill_price[book],
                "impact_cost": self.impact_cost[book],
                "commission": self.commission[book],
                "stamp_duty": self.stamp_duty[book],
                "transfer_fee": self.transfer_fee[book],
                "status": status,
                "status_name": [FillStatus(int(c)).name for c in status],
            }
        )
        if date is not None:
            frame = frame.select(pl.lit(date, dtype=pl.Date).alias("date"), pl.all())
        if orders_only:
            frame = frame.filter(pl.col("order_shares") != 0)
        return frame


def _check_scalar(name: str, value: float, *, low: float, high: float = math.inf) -> float:
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(
            f"fill_orders: {name}={value!r} must be a finite number in [{low}, {high}]"
        )
    return number


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def fill_orders(
    *,
    order_shares: np.ndarray,
    held_shares: np.ndarray,
    sellable_shares: np.ndarray,
    reference_price: np.ndarray,
    day_volume: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
    cash_available: float,
    limit_up: np.ndarray | None = None,
    limit_down: np.ndarray | None = None,
    locked_up: np.ndarray | None = None,
    locked_down: np.ndarray | None = None,
    suspended: np.ndarray | None = None,
    volatility: np.ndarray | None = None,
    participation_cap: float = 0.10,
    impact_coefficient: float = 0.8,
    fallback_volatility: float = 0.02,
    commission_rate: float = 0.00025,
    min_commission: float = 5.0,
    stamp_duty_rate: float = 0.0005,
    transfer_fee_rate: float = 0.00001,
) -> FillBatch:
    """Validate the inputs, fill one session's orders with the kernel, return a FillBatch.

    Arguments are the fields of :mod:`backtest.execution.fill_nb`'s records (units there); the
    optional arrays default to "no limit" (NaN), "not locked", "not suspended" and "unknown
    volatility" (the fallback is used). Take the dated cost rates from
    :class:`backtest.rules.ashare.MarketRules` (``stamp_duty_rate(day)`` and so on).

    Raises
    ------
    ValueError
        Naming the array, the first offending stock index and what to pass instead, for arrays
        of the wrong length or dimension, non-integer share arrays, negative positions, sellable
        above held, non-positive lots, or scalars that are not finite or out of range.
    """
    n = int(np.shape(order_shares)[0]) if np.ndim(order_shares) == 1 else -1
    if n < 0:
        raise ValueError("fill_orders: order_shares must be a 1-D array (one entry per stock)")
    given = {
        "order_shares": order_shares,
        "held_shares": held_shares,
        "sellable_shares": sellable_shares,
        "lot_size": lot_size,
        "min_lot": min_lot,
        "reference_price": reference_price,
        "day_volume": day_volume,
        "limit_up": np.full(n, np.nan) if limit_up is None else limit_up,
        "limit_down": np.full(n, np.nan) if limit_down is None else limit_down,
        "volatility": np.full(n, np.nan) if volatility is None else volatility,
        "locked_up": np.zeros(n, dtype=bool) if locked_up is None else locked_up,
        "locked_down": np.zeros(n, dtype=bool) if locked_down is None else locked_down,
        "suspended": np.zeros(n, dtype=bool) if suspended is None else suspended,
    }
    arrays: dict[str, np.ndarray] = {}
    for name, value in given.items():
        array = np.asarray(value)
        if array.ndim != 1 or array.shape[0] != n:
            raise ValueError(
                f"fill_orders: {name} has shape {array.shape}; it must be 1-D of length {n} "
                "(one entry per stock, like order_shares)"
            )
        if name in _INT_ARRAYS:
            if array.dtype.kind not in "iu" and not (
                array.dtype.kind == "f" and bool(np.all(np.isfinite(array) & (array % 1 == 0)))
            ):
                raise ValueError(f"fill_orders: {name} must hold whole numbers of shares")
            array = np.ascontiguousarray(array, dtype=np.int64)
        elif name in _FLOAT_ARRAYS:
            array = np.ascontiguousarray(array, dtype=np.float64)
        else:
            if array.dtype.kind != "b":
                raise ValueError(f"fill_orders: {name} must be a boolean array")
            array = np.ascontiguousarray(array, dtype=np.bool_)
        arrays[name] = array
    checks = (
        ("held_shares", arrays["held_shares"] < 0, "positions are long-only (>= 0)"),
        ("sellable_shares", arrays["sellable_shares"] < 0, "sellable shares must be >= 0"),
        (
            "sellable_shares",
            arrays["sellable_shares"] > arrays["held_shares"],
            "sellable shares cannot exceed held_shares (T+1 unlocks part of the position)",
        ),
        ("lot_size", arrays["lot_size"] < 1, "lots must be >= 1 (see MarketRules.lot_arrays)"),
        ("min_lot", arrays["min_lot"] < 1, "minimum lots must be >= 1"),
        ("day_volume", arrays["day_volume"] < 0, "volume cannot be negative (NaN = no volume)"),
    )
    for name, bad, advice in checks:
        if bool(np.any(bad)):
            i = _first_bad(bad)
            raise ValueError(f"fill_orders: {name}[{i}] is invalid: {advice}")
    cash = float(cash_available)
    if not math.isfinite(cash):
        raise ValueError(f"fill_orders: cash_available={cash_available!r} must be finite")
    scalars = (
        _check_scalar("participation_cap", participation_cap, low=0.0, high=1.0),
        _check_scalar("impact_coefficient", impact_coefficient, low=0.0),
        _check_scalar("fallback_volatility", fallback_volatility, low=0.0),
        _check_scalar("commission_rate", commission_rate, low=0.0, high=0.01),
        _check_scalar("min_commission", min_commission, low=0.0),
        _check_scalar("stamp_duty_rate", stamp_duty_rate, low=0.0, high=0.01),
        _check_scalar("transfer_fee_rate", transfer_fee_rate, low=0.0, high=0.01),
    )
    participation_cap, impact_coefficient, fallback_volatility = scalars[:3]
    market = StockSession(
        reference_price=arrays["reference_price"],
        limit_up=arrays["limit_up"],
        limit_down=arrays["limit_down"],
        locked_up=arrays["locked_up"],
        locked_down=arrays["locked_down"],
        suspended=arrays["suspended"],
        day_volume=arrays["day_volume"],
        volatility=arrays["volatility"],
        lot_size=arrays["lot_size"],
        min_lot=arrays["min_lot"],
    )
    charges = Charges(
        commission_rate=scalars[3],
        min_commission=scalars[4],
        stamp_duty_rate=scalars[5],
        transfer_fee_rate=scalars[6],
        impact_coefficient=impact_coefficient,
        fallback_volatility=fallback_volatility,
    )
    volume = arrays["day_volume"]
    usable = np.isfinite(volume) & (volume > 0.0)
    orders = BookOrders(
        order_shares=arrays["order_shares"][None, :],
        sellable_shares=arrays["sellable_shares"][None, :],
        cash_available=np.array([cash]),
        cap_shares=np.floor(participation_cap * np.where(usable, volume, 0.0)).astype(np.int64)[
            None, :
        ],
        impact_base_shares=np.zeros((1, n)),
        impact_volume=volume[None, :].copy(),
    )
    out = empty_fill_out(1, n)
    fill_session_nb(market, charges, orders, out)
    return FillBatch.from_kernel(-1, orders.order_shares, arrays["reference_price"], out)
