"""The ledger of one book: cash, positions, sellable shares and itemised costs.

The ledger changes only by applying fills (:func:`~backtest.engine.ledger_nb.apply_session_nb`
then :meth:`Ledger.book_session`), the T+1 unlock
(:meth:`Ledger.unlock`) and settlements such as corporate actions
(:meth:`Ledger.apply_share_ratio`). Strategies see it through a read-only
:class:`PortfolioView`.

Accounting identities (tested after every session)::

    equity = cash + holdings_value,       holdings_value = sum(positions * mark)
    cash_after_fills = cash - sum(filled * fill_price) - commission - stamp_duty - transfer_fee

so ``equity_t - equity_{t-1} = price P&L - impact - commission - stamp_duty - transfer_fee``,
where the impact is already inside ``fill_price`` (``|fill_price - reference| * |filled|``) and the
price P&L is measured from the reference (open or VWAP) for traded shares.

Futures and broker financing live in a book's
:class:`~backtest.engine.futures.account.FuturesAccount` and
:class:`~backtest.engine.futures.financing.Financing`: the futures' daily variation margin, their
fees and the financing interest are paid into and out of this ledger's ``cash`` (so ``equity = cash
+ holdings_value`` still holds; the margin requirement is tracked there, not moved out of cash).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.core.lines import COST_LINES, LINES, Line
from backtest.engine.ledger_nb import holdings_value_nb

COST_KINDS: tuple[str, ...] = ("impact", "commission", "stamp_duty", "transfer_fee")


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class Ledger:
    """Cash, positions and costs of one book (engine-owned, mutable only through its methods).

    Cash moves only by :meth:`post`, :meth:`book_session` (the stock fills) and
    :meth:`apply_share_ratio` (a corporate action's fractional shares), and every move is
    booked on its :class:`~backtest.core.lines.Line` in ``entries``, the session's P&L by
    line; :meth:`close_session` adds the holdings' valuation lines at the close, so that the
    session's entries sum to its equity change.

    >>> ledger = Ledger(n=2, cash=1_000.0)
    >>> ledger.equity(np.array([10.0, 20.0]))
    1000.0
    """

    def __init__(self, *, n: int, cash: float) -> None:
        self.cash = float(cash)
        self.positions = np.zeros(n, dtype=np.int64)
        self.sellable = np.zeros(n, dtype=np.int64)
        #: cumulative costs by kind, CNY
        self.costs = dict.fromkeys(COST_KINDS, 0.0)
        #: this session's P&L by line (CNY), indexed by ``Line``
        self.entries = np.zeros(len(LINES))
        #: signed shares filled this session (summed by the fill bookkeeping kernel)
        self.traded = np.zeros(n, dtype=np.int64)
        #: shares paid out in cash by today's corporate actions (``None``: there were none)
        self.fractions: np.ndarray | None = None

    def begin_session(self) -> None:
        """Start a session's entries (before its corporate actions)."""
        self.entries[:] = 0.0
        self.traded[:] = 0
        self.fractions = None

    def post(self, line: Line, amount: float) -> None:
        """Move ``amount`` CNY of cash (signed: + in) and book it on ``line``."""
        self.cash += amount
        self.entries[line] += amount

    def post_split(self, amount: float, parts: dict[Line, float]) -> None:
        """Move ``amount`` CNY of cash, booked on several lines (``parts`` sum to it)."""
        self.cash += amount
        for line, part in parts.items():
            self.entries[line] += part

    def unlock(self) -> None:
        """T+1: every share held at the start of a session may be sold in it."""
        np.copyto(self.sellable, self.positions)

    def book_session(self, cash_delta: float, lines: np.ndarray) -> dict[str, float]:
        """Book an open's cash change and cost lines.

        Positions and sellable shares were already moved, in place, by
        :func:`backtest.engine.ledger_nb.apply_session_nb` (which computed ``cash_delta`` and
        ``lines = [impact, commission, stamp_duty, transfer_fee, buy_notional,
        sell_notional]`` from the same fills). Returns the lines by name.
        """
        self.cash += cash_delta
        named = dict(
            zip((*COST_KINDS, "buy_notional", "sell_notional"), lines[:6].tolist(), strict=True)
        )
        for kind, line in zip(COST_KINDS, COST_LINES, strict=True):
            self.costs[kind] += named[kind]
            self.entries[line] -= named[kind]
        return named

    def apply_share_ratio(self, ratio: np.ndarray, price_before: np.ndarray) -> float:
        """Scale positions by a corporate action's share ratio; credit the fractional shares.

        With backward adjustment ``adjusted = raw * adj_factor``, a holding keeps its adjusted
        value when ``shares_new = shares_old * adj_factor_t / adj_factor_{t-1}``. This treats a
        cash dividend as reinvested in shares on the ex-date, an approximation (cash dividends
        are paid later and taxed). Shares are rounded down; the fraction is paid in cash at
        ``price_before / ratio`` (the ex-price). Returns that cash.
        """
        changed = (ratio != 1.0) & (self.positions != 0)
        if not bool(np.any(changed)):
            return 0.0
        exact = self.positions[changed] * ratio[changed]
        whole = np.floor(exact)
        cash = float(np.sum((exact - whole) * price_before[changed] / ratio[changed]))
        self.positions[changed] = whole.astype(np.int64)
        self.sellable[changed] = np.minimum(
            np.floor(self.sellable[changed] * ratio[changed]).astype(np.int64),
            self.positions[changed],
        )
        self.cash += cash
        self.entries[Line.CORPORATE_ACTION] += cash
        fractions = np.zeros(self.positions.size)
        fractions[changed] = exact - whole
        self.fractions = fractions
        return cash

    def close_session(
        self,
        mark: np.ndarray,
        *,
        holdings_value: float,
        previous_holdings_value: float,
        traded_at_mark: float,
        traded_at_reference: float,
    ) -> np.ndarray:
        """Book the close's valuation lines; return the session's entries (a copy).

        ``holdings_value`` and ``previous_holdings_value`` are ``sum(positions * mark)`` now and
        at the previous close; ``traded_at_mark`` and ``traded_at_reference`` are the session's
        ``sum(q * mark)`` and ``sum(q * ref)`` over its fills ``q``. The positions held
        overnight are the positions less today's fills, so they are worth ``holdings_value -
        traded_at_mark``. Adds ``STOCK_PRICE`` and ``TRADING``, and takes the fractions' close
        value off ``CORPORATE_ACTION`` (formulas in :mod:`backtest.core.lines`).
        """
        overnight = holdings_value - traded_at_mark
        if self.fractions is not None:
            paid_out = float(np.sum(np.where(self.fractions != 0.0, self.fractions * mark, 0.0)))
            overnight += paid_out
            self.entries[Line.CORPORATE_ACTION] -= paid_out
        self.entries[Line.STOCK_PRICE] += overnight - previous_holdings_value
        self.entries[Line.TRADING] += traded_at_mark - traded_at_reference
        return self.entries.copy()

    def holdings_value(self, mark: np.ndarray) -> float:
        """``sum(positions * mark)`` in CNY, summed in symbol order (:func:`holdings_value_nb`)."""
        return float(holdings_value_nb(self.positions, mark))

    def equity(self, mark: np.ndarray) -> float:
        """``cash + holdings_value(mark)`` in CNY."""
        return self.cash + self.holdings_value(mark)


@dataclass(frozen=True, slots=True)
class PortfolioView:
    """A read-only snapshot of a book for strategies (arrays are not writeable).

    ``weights = positions * mark / equity`` at the last mark; ``backlog_shares`` are the signed
    shares still wanted by active targets.
    """

    positions: np.ndarray
    sellable: np.ndarray
    backlog_shares: np.ndarray
    cash: float
    equity: float
    holdings_value: float
    weights: np.ndarray

    @classmethod
    def of(cls, ledger: Ledger, mark: np.ndarray, backlog_shares: np.ndarray) -> PortfolioView:
        """Snapshot a ledger at a mark (copies nothing that a strategy could change)."""
        holdings = ledger.positions * mark
        holdings_value = ledger.holdings_value(mark)
        equity = ledger.cash + holdings_value
        weights = holdings / equity if equity > 0 else np.zeros_like(holdings)
        return cls(
            positions=_frozen(ledger.positions.copy()),
            sellable=_frozen(ledger.sellable.copy()),
            backlog_shares=_frozen(backlog_shares),
            cash=ledger.cash,
            equity=equity,
            holdings_value=holdings_value,
            weights=_frozen(weights),
        )
