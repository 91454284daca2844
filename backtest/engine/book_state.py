"""What the engine keeps for one book during a run, and the small steps it takes per book.

A :class:`BookState` holds a book's ledger, backlog, futures account (for hedged or financed
books), recorder and strategy context; the helpers move a strategy's requests into the backlog
and the futures targets, and value a session's trades at the close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backtest.engine.book import Book
from backtest.engine.futures.account import ContractPlan, FuturesAccount
from backtest.engine.futures.config import HEDGE_COLUMNS, AccountView
from backtest.engine.futures.financing import Financing
from backtest.engine.ledger_nb import BacklogArrays, LedgerArrays
from backtest.engine.orders import Backlog
from backtest.engine.portfolio import Ledger
from backtest.engine.recorder import Recorder
from backtest.engine.strategy import Context, Strategy
from backtest.market.features import MarketFeatures
from backtest.market.panel import MarketData

__all__ = ["LINES", "BookState", "as_books", "take_futures_requests", "take_requests"]

#: the session's stock lines a book's daily frame reports (CNY)
LINES = ("impact", "commission", "stamp_duty", "transfer_fee", "buy_notional", "sell_notional")


class BookState:
    """Everything the engine keeps for one book during a run."""

    def __init__(
        self,
        book: Book,
        market: MarketData,
        features: MarketFeatures,
        cash: float,
        lot_size: np.ndarray,
        min_lot: np.ndarray,
        plan: ContractPlan,
        moved_prices: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        days, n = market.shape
        self.book = book
        self.ledger = Ledger(n=n, cash=cash)
        self.backlog = Backlog(n)
        # the kernels' views of the ledger and the backlog (their arrays change in place)
        self.ledger_arrays = LedgerArrays(
            self.ledger.positions, self.ledger.sellable, self.ledger.traded
        )
        self.backlog_arrays = BacklogArrays(
            self.backlog.target_shares, self.backlog.active, self.backlog.age
        )
        futures = book.strategy.futures_config()
        financing = book.strategy.financing_config()
        self.futures = (
            None if futures is None else FuturesAccount(market=market, plan=plan, config=futures)
        )
        self.financing = None if financing is None else Financing(market=market, config=financing)
        #: a book with futures or financing records their daily columns
        self.hedged = self.futures is not None or self.financing is not None
        self.recorder = Recorder(days=days, n=n, extra_daily=HEDGE_COLUMNS if self.hedged else ())
        self.context = Context(
            book=book.name,
            market=market,
            features=features,
            ledger=self.ledger,
            backlog=self.backlog,
            lot_size=lot_size,
            min_lot=min_lot,
            account=self.account_view if self.hedged else None,
            trades_futures=self.futures is not None,
            moved_prices=moved_prices,
        )
        self.session_lines: dict[str, float] = dict.fromkeys(LINES, 0.0)
        self.previous_equity = cash
        self.previous_holdings = 0.0
        #: the fill kernel's session lines (impact, commission, stamp duty, transfer fee, buys,
        #: sells, the trades at their reference price), rewritten each open
        self.lines_buffer = np.zeros(len(LINES) + 1)
        #: ``sum(filled * reference_price)`` of this session's fills (0 without fills)
        self.traded_at_reference = 0.0
        self.wants_fills = type(book.strategy).on_fill is not Strategy.on_fill

    def account_view(self) -> AccountView:
        """What the strategy sees of its futures and financing accounts."""
        futures, financing = self.futures, self.financing
        return AccountView(
            futures_positions={} if futures is None else dict(futures.positions),
            futures_targets={} if futures is None else dict(futures.targets),
            margin_required=0.0 if futures is None else futures.margin_required,
            futures_notional=0.0 if futures is None else futures.futures_notional,
            margin_call=financing is not None and financing.in_call,
        )

    def in_call(self) -> bool:
        """True while the book's broker has it in a margin call."""
        return self.financing is not None and self.financing.in_call

    def frozen(self) -> bool:
        """True while a blocked-liquidation account is in a call (no orders at all)."""
        return self.financing is not None and self.financing.frozen()

    def hedge_lines(self) -> dict[str, float]:
        """The session's daily futures and financing columns (:data:`HEDGE_COLUMNS`)."""
        futures, financing = self.futures, self.financing
        lines = dict.fromkeys(HEDGE_COLUMNS, 0.0)
        if futures is not None:
            lines.update(futures.lines)
            lines["margin_required"] = futures.margin_required
            lines["futures_notional"] = futures.futures_notional
        if financing is not None:
            lines["financing"] = financing.paid
            lines["margin_call"] = 1.0 if financing.in_call else 0.0
        return lines


def as_books(books: Mapping[str, Strategy[Any]] | Sequence[Book]) -> list[Book]:
    if isinstance(books, Mapping):
        out = [Book(name=name, strategy=strategy) for name, strategy in books.items()]
    else:
        out = list(books)
    names = [b.name for b in out]
    if not out:
        raise ValueError("give at least one book (a name -> Strategy mapping or Book list)")
    if len(set(names)) != len(names):
        raise ValueError(f"book names must be unique, got {names}")
    if len({id(b.strategy) for b in out}) != len(out):
        raise ValueError(
            "each book needs its own Strategy instance (strategies may keep state); "
            "create one instance per book"
        )
    return out


def take_requests(state: BookState) -> None:
    """Apply a book's cancels, then its new targets, to its backlog."""
    cancel, order = state.context._take_requests()
    if cancel is not None:
        state.backlog.cancel(cancel)
    if order is not None:
        state.backlog.replace(order, state.ledger.positions)


def take_futures_requests(state: BookState) -> None:
    """Apply a book's futures targets (product -> contracts) to its account."""
    requests = state.context._take_futures_requests()
    if state.futures is not None:
        for product, contracts in requests.items():
            state.futures.set_target(product, contracts)


def t_of(state: BookState) -> int:
    """The session index a book's context is at."""
    return state.context.session_index
