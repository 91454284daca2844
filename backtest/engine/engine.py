"""The event loop: several books, one pass over one market, four phases per session.

Per session, for every book (Python runs once per session per book; all per-stock work is numpy
or the numba fill kernel):

1. ``PRE_OPEN``: corporate actions (``adj_factor`` ratio scales positions and targets), T+1
   unlock (``sellable = held``), overnight financing interest of financed books.
2. ``OPEN``: futures orders of hedged books (targets in the contract the roll rule names for
   the session, so rolls happen here) fill at the contracts' open; then every book's backlog
   deltas ``target - held`` go to the :class:`~backtest.execution.exchange.Exchange` as one
   :class:`~backtest.execution.fills.OrderBatch` (one fill-kernel call for all books, at the
   open price or VWAP); each ledger books its row of the :class:`FillBatch`; ``on_fill`` runs.
   The batch is built by the engine (int64 shares, ``sellable <= held``), so the validating
   wrapper ``fill_orders`` is not needed.
3. ``CLOSE``: futures marked to the settle (variation margin through cash, final settlement of
   expiring contracts), the margin check of financed books; ``on_bar(ctx)``; its cancels and
   targets update the backlog, which executes from the next open; a book in a margin call
   has them replaced by forced de-leveraging orders (or cancelled, when liquidation is
   blocked). See :mod:`backtest.engine.futures`.
4. ``SETTLE``: the session's rows go into the book's preallocated :class:`Recorder`.

A strategy that raises stops the run with a :class:`StrategyError` naming the book, the session
and the original exception (chained); ``err.partial_result`` holds what was recorded so far.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backtest.core.lines import Line
from backtest.engine.book import Book
from backtest.engine.book_state import (
    LINES,
    BookState,
    as_books,
    t_of,
    take_futures_requests,
    take_requests,
)
from backtest.engine.clock import Clock, Phase
from backtest.engine.config import EngineConfig, config_hash, to_plain
from backtest.engine.errors import StrategyError
from backtest.engine.futures.account import ContractPlan
from backtest.engine.ledger_nb import (
    FillRecords,
    SessionFillRow,
    SettleRows,
    apply_session_nb,
    settle_nb,
)
from backtest.engine.orders import TargetOrder
from backtest.engine.result import Result
from backtest.engine.strategy import Strategy
from backtest.execution.exchange import Exchange, ExchangeMarket
from backtest.execution.fills import OrderBatch
from backtest.market.panel import MarketData

__all__ = ["Engine", "StrategyError", "run_backtest"]


class Engine:
    """Run books over a market with one :class:`EngineConfig`.

    >>> import numpy as np
    >>> from backtest.market.panel import MarketData
    >>> class Hold(Strategy[None]):
    ...     def on_bar(self, ctx):
    ...         ctx.order_target_weights({"600000": 0.5})
    >>> market = MarketData.from_arrays(
    ...     dates=["2024-02-05", "2024-02-06", "2024-02-07"], symbols=["600000"],
    ...     close=np.array([[10.0], [10.2], [10.4]]), volume=np.full((3, 1), 1e7))
    >>> result = Engine(EngineConfig(initial_cash=1e6)).run(market, {"hold": Hold(None)})["hold"]
    >>> result.positions["shares"].to_list()
    [50000, 48900]
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config if config is not None else EngineConfig()

    def run(
        self, market: MarketData, books: Mapping[str, Strategy[Any]] | Sequence[Book]
    ) -> dict[str, Result]:
        """Run every book over every session of ``market``; return results by book name."""
        run = _Run(self.config, market, as_books(books))
        run.start()
        phases = {
            Phase.PRE_OPEN: run.pre_open,
            Phase.OPEN: run.open,
            Phase.CLOSE: run.close,
            Phase.SETTLE: run.settle,
        }
        for session_index, phase in Clock(market.dates):
            phases[phase](session_index)
        return run.end()


class _Run:
    """One pass of the engine over a market: the per-phase work of every book."""

    def __init__(self, config: EngineConfig, market: MarketData, books: list[Book]) -> None:
        self.config = config
        self.market = market
        self.features = market.features(
            volatility_window=config.volatility_window, adv_window=config.adv_window
        )
        rules = config.rules
        self.rules = rules
        self.lot_size, self.min_lot = (
            np.ascontiguousarray(a, dtype=np.int64) for a in rules.lot_arrays(market.board_codes)
        )
        self.days, self.n = market.shape
        self.share_ratios = _share_ratios(market["adj_factor"])
        self.reference = market["open"] if config.execution_price == "open" else self.features.vwap
        self.exchange = Exchange(
            ExchangeMarket(
                reference_price=self.reference,
                limit_up=market["limit_up"],
                limit_down=market["limit_down"],
                locked_up=self.features.locked_up,
                locked_down=self.features.locked_down,
                suspended=market["suspended"],
                volume=market["volume"],
                volatility=self.features.volatility,
                lot_size=self.lot_size,
                min_lot=self.min_lot,
                stamp_duty_rate=np.array([rules.stamp_duty_rate(d.item()) for d in market.dates]),
                transfer_fee_rate=np.array(
                    [rules.transfer_fee_rate(d.item()) for d in market.dates]
                ),
                commission_rate=rules.commission_rate,
                min_commission=rules.min_commission_cny,
                mark=self.features.mark,
                close=market["close"],
            ),
            liquidity=config.liquidity_model(),
            impact=config.impact_model(),
            fallback_volatility=config.fallback_volatility,
            propagator=config.propagator,
        )
        # the prices positions are marked at: the market's, or the crowd's moved ones (rows
        # written at each close by the Exchange; never read beyond the current session)
        self.mark = self.exchange.marks
        moved: dict[str, np.ndarray] | None = None
        if config.propagator is not None:
            moved = {"close": self.exchange.closes, "mark": self.exchange.marks}
        self.data_range = market.data_range()
        plan = ContractPlan(market)
        self.states = [
            BookState(
                b,
                market,
                self.features,
                b.initial_cash if b.initial_cash is not None else config.initial_cash,
                self.lot_size,
                self.min_lot,
                plan,
                moved_prices=moved,
            )
            for b in books
        ]

    # ------------------------------------------------------------------ strategy calls
    def call(self, state: BookState, hook: str, t: int, *args: Any) -> None:
        """Call a strategy hook; wrap its exception in a StrategyError with partial results."""
        try:
            getattr(state.book.strategy, hook)(state.context, *args)
        except Exception as exc:
            date = self.market.dates[max(t, 0)] if self.days else None
            raise StrategyError(
                book=state.book.name,
                session_date=date,
                hook=hook,
                original=exc,
                partial_results=self.results(complete=False),
            ) from exc

    def start(self) -> None:
        for state in self.states:
            state.context._move(-1, 0)
            self.call(state, "on_start", 0)
            take_requests(state)
            take_futures_requests(state)

    def end(self) -> dict[str, Result]:
        for state in self.states:
            self.call(state, "on_end", self.days - 1)
        return self.results(complete=True)

    # ------------------------------------------------------------------ phases
    def pre_open(self, t: int) -> None:
        """Corporate actions, financing accrued overnight (financed books), then T+1 unlock.

        Futures rolls are decided here too: the contract each hedge is held in comes from the
        book's roll rule for session ``t`` and the orders fill at this session's open.
        """
        ratio = self.share_ratios.get(t)
        for state in self.states:
            ledger = state.ledger
            ledger.begin_session()
            state.traded_at_reference = 0.0
            if ratio is not None:
                ledger.apply_share_ratio(ratio, self.mark[t - 1])
                state.backlog.scale(ratio)
            ledger.unlock()
            state.session_lines = dict.fromkeys(LINES, 0.0)
            futures, financing = state.futures, state.financing
            if futures is not None:
                futures.begin_session()
            if financing is not None:
                margin = 0.0 if futures is None else futures.margin_required
                ledger.post(Line.FINANCING, -financing.accrue(t, ledger.cash, margin))

    def open(self, t: int) -> None:
        """Every book's backlog through the Exchange in one call; book the fills; ``on_fill``."""
        mark = self.mark
        trading: list[tuple[BookState, np.ndarray, float]] = []
        for state in self.states:
            ledger = state.ledger
            frozen = state.frozen()
            if state.futures is not None:
                # a frozen account still rolls its hedge: its targets are the contracts it holds
                ledger.post(Line.FUTURES_FEES, -state.futures.open(t))
            orders = state.backlog.orders(ledger.positions)
            if frozen or not orders.any():
                continue
            cash_available = max(ledger.cash, 0.0)
            if state.financing is not None:
                previous_mark = mark[t - 1] if t > 0 else mark[0]
                cash_available = state.financing.buying_power(
                    ledger.cash, ledger.equity(previous_mark)
                )
            trading.append((state, orders, cash_available))
        if not trading:
            return
        batch = OrderBatch(
            session_index=t,
            order_shares=_rows([orders for _, orders, _ in trading]),
            held_shares=_rows([state.ledger.positions for state, _, _ in trading]),
            sellable_shares=_rows([state.ledger.sellable for state, _, _ in trading]),
        )
        fills = self.exchange.open(batch, np.array([cash for _, _, cash in trading]))
        reference = fills.reference_price
        for row, (state, orders, _) in enumerate(trading):
            ledger, recorder = state.ledger, state.recorder
            rows_int, rows_float, rows_status, row_start = recorder.fill_buffers(self.n)
            lines = state.lines_buffer
            row_end, cash_delta = apply_session_nb(
                t,
                SessionFillRow(
                    order_shares=orders,
                    reference_price=reference,
                    filled_shares=fills.filled_shares[row],
                    fill_price=fills.fill_price[row],
                    impact=fills.impact_cost[row],
                    commission=fills.commission[row],
                    stamp_duty=fills.stamp_duty[row],
                    transfer_fee=fills.transfer_fee[row],
                    status=fills.status[row],
                ),
                state.ledger_arrays,
                state.backlog_arrays,
                FillRecords(rows_int, rows_float, rows_status),
                row_start,
                lines,
            )
            state.session_lines = ledger.book_session(cash_delta, lines)
            state.traded_at_reference = float(lines[6])
            recorder.commit_fills(t, row_end)
            if state.wants_fills:
                state.context._move(t, t)
                self.call(state, "on_fill", t, recorder.session_fills(row_start, row_end))

    def close(self, t: int) -> None:
        """Futures to the settle and margin checks, then ``on_bar``; queue its targets.

        A financed book below its maintenance ratio is in a margin call: after ``on_bar`` its
        targets are replaced by forced de-leveraging orders (holdings and hedge scaled to the
        target leverage; they go through the same fill kernel, so limit-locked stocks may not
        sell), or, with ``block_liquidation``, every stock order is cancelled (the account is
        frozen) and the hedge is held at its size, still rolled before expiry.
        """
        mark = self.exchange.close(t)
        for state in self.states:
            futures, financing = state.futures, state.financing
            if futures is not None:
                margin = futures.settle(t)
                carry, roll = futures.lines["basis_carry"], futures.lines["roll"]
                state.ledger.post_split(
                    margin,
                    {
                        Line.FUTURES_INDEX: margin - carry - roll,
                        Line.BASIS_CARRY: carry,
                        Line.ROLL: roll,
                    },
                )
            if financing is not None:
                holdings = state.ledger.holdings_value(mark)
                financing.margin_check(state.ledger.cash + holdings, holdings)
            state.context._move(t, t + 1)
            self.call(state, "on_bar", t)
            take_requests(state)
            take_futures_requests(state)
            if state.in_call():
                self.margin_call(state, mark)

    def margin_call(self, state: BookState, mark: np.ndarray) -> None:
        """Replace a called book's orders: frozen (cancel all) or scaled to target leverage."""
        financing, futures, ledger = state.financing, state.futures, state.ledger
        assert financing is not None
        positions = ledger.positions
        if financing.financing.block_liquidation:
            state.backlog.cancel(np.ones(self.n, dtype=bool))
            if futures is not None:
                futures.hold_futures()
            return
        holdings = ledger.holdings_value(mark)
        scale = financing.deleverage_scale(ledger.cash + holdings, holdings)
        lots = self.lot_size
        sell = np.minimum(np.ceil(positions * (1.0 - scale) / lots) * lots, positions)
        target = (positions - sell).astype(np.int64)
        held = positions > 0
        state.backlog.cancel(np.ones(self.n, dtype=bool))
        state.backlog.replace(
            TargetOrder(session_index=t_of(state), target_shares=target, is_set=held),
            positions,
        )
        if futures is not None:
            futures.hold_futures()
            futures.scale_targets(scale)

    def settle(self, t: int) -> None:
        """Record the session's rows of every book (preallocated arrays)."""
        mark = self.mark[t]
        for state in self.states:
            ledger, recorder = state.ledger, state.recorder
            backlog_rows, row_start = recorder.backlog_buffers(self.n)
            holdings, n_positions, row_end, traded_at_mark = settle_nb(
                t,
                ledger.positions,
                mark,
                ledger.traded,
                state.backlog_arrays,
                SettleRows(recorder.positions[t], backlog_rows, row_start),
            )
            recorder.commit_backlog(row_end)
            n_backlog = row_end - row_start
            recorder.entries[t] = ledger.close_session(
                mark,
                holdings_value=holdings,
                previous_holdings_value=state.previous_holdings,
                traded_at_mark=traded_at_mark,
                traded_at_reference=state.traded_at_reference,
            )
            state.previous_holdings = holdings
            equity = ledger.cash + holdings
            lines = state.session_lines
            daily = recorder.daily
            daily["equity"][t] = equity
            daily["cash"][t] = ledger.cash
            daily["holdings_value"][t] = holdings
            daily["gross_exposure"][t] = holdings / equity if equity > 0 else np.nan
            for kind, value in lines.items():
                daily[kind][t] = value
            if state.hedged:
                for kind, value in state.hedge_lines().items():
                    daily[kind][t] = value
            traded = lines["buy_notional"] + lines["sell_notional"]
            previous = state.previous_equity
            daily["turnover"][t] = traded / 2.0 / previous if previous > 0 else np.nan
            state.previous_equity = equity
            recorder.n_positions[t] = n_positions
            recorder.backlog_orders[t] = n_backlog
            recorder.sessions_done = t + 1

    # ------------------------------------------------------------------ results
    def results(self, complete: bool) -> dict[str, Result]:
        """Every book's result over the sessions recorded so far."""
        out = {}
        for state in self.states:
            book = state.book
            # a book's own initial cash is part of its config (and of its hash)
            book_config = (
                self.config
                if book.initial_cash is None
                else dataclasses.replace(self.config, initial_cash=book.initial_cash)
            )
            out[book.name] = state.recorder.result(
                book=book.name,
                strategy=type(book.strategy).__name__,
                params=to_plain(book.strategy.params),
                config=to_plain(book_config),
                data_range=self.data_range,
                run_hash=config_hash(
                    book_config, book.strategy.params, self.data_range, self.market.identity()
                ),
                benchmark=book.benchmark,
                dates=self.market.dates,
                symbols=self.market.symbols,
                mark=self.mark,
                complete=complete,
            )
        return out


def _rows(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-book rows into ``(books, n)`` (a view when there is one book)."""
    return arrays[0][None, :] if len(arrays) == 1 else np.stack(arrays)


def _share_ratios(adj_factor: np.ndarray) -> dict[int, np.ndarray]:
    """The sessions whose corporate actions change holdings: ``{t: adj_t / adj_{t-1}}``.

    Computed once per run (1 where either factor is missing); sessions without a change are
    left out, so the per-session loop only looks the session up.
    """
    out: dict[int, np.ndarray] = {}
    if adj_factor.shape[0] < 2:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        step = adj_factor[1:] / adj_factor[:-1]
    changed = np.isfinite(step) & (step != 1.0)
    for row in np.flatnonzero(changed.any(axis=1)).tolist():
        out[row + 1] = np.where(np.isfinite(step[row]), step[row], 1.0)
    return out


def run_backtest(
    market: MarketData,
    strategy: Strategy[Any],
    *,
    config: EngineConfig | None = None,
    book: str = "book",
) -> Result:
    """Run one strategy as one book and return its result."""
    return Engine(config).run(market, {book: strategy})[book]
