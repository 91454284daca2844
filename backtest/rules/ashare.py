"""A-share trading rules as dated data: costs, price limits, lots (STYLE habit 5).

The one home of these rules: the engine (costs, lots), the importers (limit prices of real
bars, :mod:`backtest.market.derive`) and the scenario (limit prices of generated bars) all read
them from here. A rule that changed on a date is a row of a table, never an ``if`` on the date:
the stamp-duty cut of 2023-08-28 is the second row of :attr:`MarketRules.stamp_duty_sell`.
Each table is a tuple of rows sorted by their start date; the row in force on a day is the
last one starting on or before it (:func:`backtest.rules.dated.value_on`).

Rules in force in 2023-2024, with sources
-----------------------------------------
- Stamp duty (sells only): 0.1 % from 2008-09-19; halved to 0.05 % from 2023-08-28
  (Ministry of Finance / State Taxation Administration announcement 2023 No. 39, 2023-08-27).
- Transfer fee (过户费): 0.001 % of the traded value, both sides, from 2022-04-29 (CSDC notice
  of 2022-04-15; SSE and SZSE unified). It was 0.002 % before (from 2015-08-01).
- Commission: a broker's, not the exchange's; 2.5 bp with a 5 CNY minimum per order is the
  usual retail-to-institutional figure and the default here.
- Price limits (fraction of the previous close ``p``; SSE/SZSE/BSE trading rules): main board
  10 %, main-board ST 5 %; ChiNext 20 % (ST too) from 2020-08-24, 10 % (ST 5 %) before (SZSE
  ChiNext registration reform); STAR 20 % from its opening on 2019-07-22 (ST too); BSE 30 % from
  its opening on 2021-11-15.
- No limit on the first sessions after listing: 5 sessions on STAR, on ChiNext for listings
  from 2020-08-24, and on the main board for listings from 2023-04-10 (CSRC full registration
  system; SSE/SZSE main-board rules of 2023-02-17, first listings 2023-04-10). Earlier main-board
  IPOs had a +44 % / -36 % first-day band; it is modelled as one session with no limit, which
  matters only for IPO-day trading (the same model as :mod:`backtest.market.derive`).
- Limit prices round half up to the 0.01 CNY tick::

      limit_up   = floor(pre_close * (1 + p) * 100 + 0.5) / 100
      limit_down = max(floor(pre_close * (1 - p) * 100 + 0.5) / 100, 0.01)

- Lots: buys in round lots of 100 shares (main, ChiNext, BSE); STAR buys at least 200 shares,
  then in steps of 1 (SSE STAR trading rules, art. 3.3.6); BSE at least 100 then steps of 1.
  Odd lots only on sells that empty a position (the fill kernel's rule).

The rules in force over 2023-2024 are ``MarketRules()``, the equities of the preset
:data:`backtest.rules.presets.CHINA_A_2023_2024`.

>>> import datetime as dt
>>> rules = MarketRules()
>>> rules.stamp_duty_rate(dt.date(2023, 8, 25)), rules.stamp_duty_rate(dt.date(2023, 8, 28))
(0.001, 0.0005)
>>> up, down = rules.limit_prices(
...     np.array([10.05]), np.array([0]), np.array([False]), np.array([100]), dt.date(2024, 2, 5))
>>> float(up[0]), float(down[0])
(11.06, 9.05)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from backtest.rules.dated import DatedRows, as_date, check_rows, value_on, values_on

__all__ = [
    "BOARD_CODES",
    "BOARD_NAMES",
    "BoardRules",
    "MarketRules",
    "limit_price_round",
]

#: Boards as small integer codes for kernels (``board_codes`` arrays).
BOARD_CODES: dict[str, int] = {"main": 0, "chinext": 1, "star": 2, "bse": 3}
BOARD_NAMES: tuple[str, ...] = ("main", "chinext", "star", "bse")

#: float slack so that 10.05 * 1.1 * 100 + 0.5 lands on the right side of floor()
_ROUNDING_SLACK = 1e-7
_TICK_CNY = 0.01


def limit_price_round(price: np.ndarray) -> np.ndarray:
    """Round prices half up to the 0.01 CNY tick (exchange rule for limit prices).

    >>> limit_price_round(np.array([11.055, 9.045, 5.849999])).tolist()
    [11.06, 9.05, 5.85]
    """
    ticks = np.floor(np.asarray(price, dtype=np.float64) * 100.0 + 0.5 + _ROUNDING_SLACK)
    return np.round(ticks / 100.0, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardRules:
    """The dated price-limit and listing rules of one board, and its lots.

    Parameters
    ----------
    limit_pct
        Rows ``(start_date, limit_fraction)`` for ordinary stocks (0.10 = ±10 %).
    limit_pct_st
        Rows ``(start_date, limit_fraction)`` for ST stocks.
    no_limit_first_sessions
        Rows ``(start_date, sessions)``: stocks *listed* on or after ``start_date`` trade with no
        limit for their first ``sessions`` sessions (the listing day is session 0).
    lot_size
        Share step of a buy (100, or 1 on STAR).
    min_buy_shares
        Smallest buy (100, or 200 on STAR).
    """

    limit_pct: DatedRows
    limit_pct_st: DatedRows
    no_limit_first_sessions: tuple[tuple[dt.date, int], ...] = ((dt.date(1990, 12, 19), 1),)
    lot_size: int = 100
    min_buy_shares: int = 100

    def __post_init__(self) -> None:
        check_rows("BoardRules", "limit_pct", self.limit_pct, 1.0)
        check_rows("BoardRules", "limit_pct_st", self.limit_pct_st, 1.0)
        sessions = tuple((d, float(v)) for d, v in self.no_limit_first_sessions)
        check_rows("BoardRules", "no_limit_first_sessions", sessions, 250.0)
        if self.lot_size < 1:
            raise ValueError(f"BoardRules.lot_size={self.lot_size} must be >= 1")
        if self.min_buy_shares < self.lot_size:
            raise ValueError(
                f"BoardRules.min_buy_shares={self.min_buy_shares} must be >= "
                f"lot_size={self.lot_size}"
            )


_SSE_OPEN = dt.date(1990, 12, 19)


def _main() -> BoardRules:
    return BoardRules(
        limit_pct=((_SSE_OPEN, 0.10),),
        limit_pct_st=((_SSE_OPEN, 0.05),),
        no_limit_first_sessions=((_SSE_OPEN, 1), (dt.date(2023, 4, 10), 5)),
    )


def _chinext() -> BoardRules:
    return BoardRules(
        limit_pct=((dt.date(2009, 10, 30), 0.10), (dt.date(2020, 8, 24), 0.20)),
        limit_pct_st=((dt.date(2009, 10, 30), 0.05), (dt.date(2020, 8, 24), 0.20)),
        no_limit_first_sessions=((dt.date(2009, 10, 30), 1), (dt.date(2020, 8, 24), 5)),
    )


def _star() -> BoardRules:
    return BoardRules(
        limit_pct=((dt.date(2019, 7, 22), 0.20),),
        limit_pct_st=((dt.date(2019, 7, 22), 0.20),),
        no_limit_first_sessions=((dt.date(2019, 7, 22), 5),),
        lot_size=1,
        min_buy_shares=200,
    )


def _bse() -> BoardRules:
    return BoardRules(
        limit_pct=((dt.date(2021, 11, 15), 0.30),),
        limit_pct_st=((dt.date(2021, 11, 15), 0.30),),
        no_limit_first_sessions=((dt.date(2021, 11, 15), 1),),
        lot_size=1,
        min_buy_shares=100,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    """A-share costs, limits and lots as dated tables (sources in the module docstring).

    Parameters
    ----------
    stamp_duty_sell
        Rows ``(start_date, rate)``: stamp duty on sells as a fraction of the traded value.
    transfer_fee
        Rows ``(start_date, rate)``: transfer fee on both sides, fraction of the traded value.
    commission_rate
        Broker commission, fraction of the traded value (2.5 bp), in [0, 0.01].
    min_commission_cny
        Smallest commission per stock and order, CNY (5).
    main, chinext, star, bse
        :class:`BoardRules` of each board (limits by date and ST, unlimited first sessions,
        lots). Kernels address boards by :data:`BOARD_CODES`.
    """

    stamp_duty_sell: DatedRows = ((dt.date(2008, 9, 19), 0.001), (dt.date(2023, 8, 28), 0.0005))
    transfer_fee: DatedRows = ((dt.date(2015, 8, 1), 0.00002), (dt.date(2022, 4, 29), 0.00001))
    commission_rate: float = 0.00025
    min_commission_cny: float = 5.0
    main: BoardRules = field(default_factory=_main)
    chinext: BoardRules = field(default_factory=_chinext)
    star: BoardRules = field(default_factory=_star)
    bse: BoardRules = field(default_factory=_bse)

    def __post_init__(self) -> None:
        check_rows("MarketRules", "stamp_duty_sell", self.stamp_duty_sell, 0.01)
        check_rows("MarketRules", "transfer_fee", self.transfer_fee, 0.01)
        if not 0.0 <= self.commission_rate <= 0.01:
            raise ValueError(
                f"MarketRules.commission_rate={self.commission_rate} must be in [0, 0.01]"
            )
        if not 0.0 <= self.min_commission_cny <= 1_000.0:
            raise ValueError(
                f"MarketRules.min_commission_cny={self.min_commission_cny} must be in [0, 1000]"
            )

    def board(self, board: str | int) -> BoardRules:
        """Return the :class:`BoardRules` of a board given by name or :data:`BOARD_CODES` code."""
        name = BOARD_NAMES[board] if isinstance(board, int | np.integer) else board
        if name not in BOARD_CODES:
            raise ValueError(f"unknown board {board!r}; boards are {list(BOARD_CODES)}")
        rules: BoardRules = getattr(self, str(name))
        return rules

    def stamp_duty_rate(self, day: dt.date) -> float:
        """Return the stamp duty on sells in force on ``day`` (fraction of traded value)."""
        return value_on(self.stamp_duty_sell, day, name="stamp_duty_sell")

    def transfer_fee_rate(self, day: dt.date) -> float:
        """Return the transfer fee (both sides) in force on ``day`` (fraction of traded value)."""
        return value_on(self.transfer_fee, day, name="transfer_fee")

    def limit_pct(self, board: str | int, is_st: bool, day: dt.date) -> float:
        """Return the price-limit fraction of a board on ``day`` (ST rows when ``is_st``).

        >>> MarketRules().limit_pct("main", True, dt.date(2024, 1, 2))
        0.05
        """
        rules = self.board(board)
        table = rules.limit_pct_st if is_st else rules.limit_pct
        return value_on(table, day, name="limit_pct")

    def no_limit_sessions(self, board: str | int, list_date: dt.date) -> int:
        """Return how many first sessions have no limit for a stock listed on ``list_date``."""
        table = tuple((d, float(v)) for d, v in self.board(board).no_limit_first_sessions)
        return int(value_on(table, list_date, name="no_limit_first_sessions"))

    def limit_prices(
        self,
        pre_close: np.ndarray,
        board_codes: np.ndarray,
        is_st: np.ndarray,
        sessions_since_listing: np.ndarray,
        day: dt.date,
        *,
        list_dates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(limit_up, limit_down)`` of a cross-section on ``day`` (NaN: no limit).

        Parameters
        ----------
        pre_close
            Previous close per stock, CNY (NaN gives NaN limits).
        board_codes
            :data:`BOARD_CODES` per stock.
        is_st
            ST flag per stock.
        sessions_since_listing
            Sessions since listing (0 on the listing day); a stock with fewer than its board's
            unlimited sessions has no limit.
        day
            The session (picks the dated limit rows).
        list_dates
            Listing dates (``datetime64[D]``) to pick the unlimited-sessions row of each stock's
            listing; by default the row in force on ``day`` (differs only for a stock listed
            within a few sessions before a rule change). Looked up only for stocks younger than
            the board's longest unlimited spell, so seasoned stocks may carry any date.
        """
        pre = np.asarray(pre_close, dtype=np.float64)
        codes = np.asarray(board_codes, dtype=np.int64)
        st = np.asarray(is_st, dtype=bool)
        age = np.asarray(sessions_since_listing, dtype=np.int64)
        n = pre.shape[0]
        if not (codes.shape == st.shape == age.shape == (n,)):
            raise ValueError(
                "limit_prices: pre_close, board_codes, is_st and sessions_since_listing must be "
                f"1-D of one length; got {pre.shape}, {codes.shape}, {st.shape}, {age.shape}"
            )
        if n and (codes.min() < 0 or codes.max() >= len(BOARD_NAMES)):
            raise ValueError(f"limit_prices: board codes must be in {BOARD_CODES}")
        day = as_date(day)
        pct = np.empty(n)
        unlimited = np.zeros(n, dtype=np.int64)
        listed = None if list_dates is None else np.asarray(list_dates, dtype="datetime64[D]")
        for code, name in enumerate(BOARD_NAMES):
            here = codes == code
            if not here.any():
                continue
            pct[here] = np.where(
                st[here], self.limit_pct(name, True, day), self.limit_pct(name, False, day)
            )
            table = self.board(name).no_limit_first_sessions
            if listed is None:
                unlimited[here] = self.no_limit_sessions(name, day)
                continue
            # only a stock younger than the longest unlimited spell can still be unlimited
            young = here & (age < max(sessions for _, sessions in table))
            spells = values_on(table, listed[young])
            if np.isnan(spells).any():
                first = listed[young][np.isnan(spells)][0]
                raise ValueError(
                    f"limit_prices: a {name} stock listed on {first}, before the board's first "
                    f"no_limit_first_sessions row ({table[0][0]}); check list_dates"
                )
            unlimited[young] = spells.astype(np.int64)
        has_limit = age >= unlimited
        up = limit_price_round(pre * (1.0 + pct))
        down = np.maximum(limit_price_round(pre * (1.0 - pct)), _TICK_CNY)
        up = np.where(has_limit & np.isfinite(pre), up, np.nan)
        down = np.where(has_limit & np.isfinite(pre), down, np.nan)
        return up, down

    def lot_arrays(self, board_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(lot_size, min_lot)`` as ``int64`` arrays for the boards of a cross-section.

        >>> [a.tolist() for a in MarketRules().lot_arrays(np.array([0, 1, 2, 3]))]
        [[100, 100, 1, 1], [100, 100, 200, 100]]
        """
        codes = np.asarray(board_codes, dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= len(BOARD_NAMES)):
            raise ValueError(f"lot_arrays: board codes must be in {BOARD_CODES}")
        lots = np.array([self.board(b).lot_size for b in BOARD_NAMES], dtype=np.int64)
        minimums = np.array([self.board(b).min_buy_shares for b in BOARD_NAMES], dtype=np.int64)
        return lots[codes], minimums[codes]
