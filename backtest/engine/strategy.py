"""The Strategy API: what a book's author writes, and the read-only Context it sees.

A strategy subclasses :class:`Strategy`, keeps its parameters in a frozen dataclass
(``Strategy[P]`` with ``self.params: P``) and implements ``on_bar``; the base class and the
engine own the loop (zipline's habit, without its global algorithm object).

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, kw_only=True)
... class EqualWeightParams:
...     gross: float = 0.95
>>> class EqualWeight(Strategy[EqualWeightParams]):
...     def on_bar(self, ctx: Context) -> None:
...         listed = ~np.isnan(ctx.history("close", 1)[-1])
...         ctx.order_target_weights(np.where(listed, self.params.gross / listed.sum(), 0.0))
>>> EqualWeight(EqualWeightParams()).params.gross
0.95

The :class:`Context` hands out only the past: ``history`` returns read-only views whose last
row is the latest session the strategy may know (today's close in ``on_bar``; yesterday's close
in ``on_fill``, which runs at the open). Orders are targets (whole vectors or dicts) that the
engine queues for the next open; a strategy never touches engine state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.engine.benchmark import Benchmark
from backtest.engine.errors import TargetError
from backtest.engine.futures.config import (
    AccountView,
    FinancingConfig,
    FuturesConfig,
    check_product,
)
from backtest.engine.orders import SessionFills, TargetOrder
from backtest.engine.portfolio import PortfolioView
from backtest.engine.targets_nb import (
    MAX_TARGET_SHARES,
    TARGET_OK,
    TARGET_STATUS_NAMES,
    TARGET_TOO_LARGE,
    targets_from_weights,
)
from backtest.market.features import MarketFeatures
from backtest.market.panel import MarketData
from backtest.rules.cffex import hedge_contracts

if TYPE_CHECKING:
    from backtest.engine.orders import Backlog
    from backtest.engine.portfolio import Ledger

P = TypeVar("P")

#: Names ``Context.history`` accepts besides the bar fields.
DERIVED_FIELDS: tuple[str, ...] = (
    "adj_close",
    "volatility",
    "adv",
    "vwap",
    "mark",
    "locked_up",
    "locked_down",
)


class Strategy(Generic[P]):
    """Base class of a book's logic. Override ``on_bar``; the other hooks are optional.

    Parameters
    ----------
    params
        A frozen dataclass of the strategy's parameters (hashed into every result).
    """

    def __init__(self, params: P) -> None:
        self.params = params

    def on_start(self, ctx: Context) -> None:
        """Run once before the first session (history is empty then)."""

    def on_bar(self, ctx: Context) -> None:
        """Run at every session's close; set targets with ``ctx.order_target_*``."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_bar(ctx)")

    def on_fill(self, ctx: Context, fills: SessionFills) -> None:
        """Run at an open after the book's orders went through the fill kernel."""

    def on_end(self, ctx: Context) -> None:
        """Run once after the last session."""

    def futures_config(self) -> FuturesConfig | None:
        """Return a :class:`~backtest.engine.futures.config.FuturesConfig` to trade futures."""
        return None

    def financing_config(self) -> FinancingConfig | None:
        """Return a :class:`~backtest.engine.futures.config.FinancingConfig` (broker loans)."""
        return None

    def benchmark(self) -> Benchmark | None:
        """Return what this strategy's books are measured against by default (None: undeclared).

        A :class:`~backtest.engine.book.Book` without its own ``benchmark`` takes this one.
        """
        return None


class Context:
    """A book's window on the market and its own portfolio (see the module docs).

    Created by the engine; a strategy only reads it and calls its order methods.
    """

    def __init__(
        self,
        *,
        book: str,
        market: MarketData,
        features: MarketFeatures,
        ledger: Ledger,
        backlog: Backlog,
        lot_size: np.ndarray,
        min_lot: np.ndarray,
        account: Callable[[], AccountView] | None = None,
        trades_futures: bool = False,
        moved_prices: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.book = book
        # the crowd's moved "close" and "mark" (lasting impact on), read instead of the market's
        self._moved: Mapping[str, np.ndarray] = {} if moved_prices is None else moved_prices
        self._account = account
        self._trades_futures = trades_futures
        self._pending_futures: dict[str, int] = {}
        self._market = market
        self._features = features
        self._ledger = ledger
        self._backlog = backlog
        self._lot_size = lot_size
        self._min_lot = min_lot
        self._symbol_index = {s: i for i, s in enumerate(market.symbols.tolist())}
        n = market.shape[1]
        self._session_index = -1
        self._visible_end = 0
        self._pending_target = np.zeros(n, dtype=np.int64)
        self._pending_set = np.zeros(n, dtype=bool)
        self._pending_cancel = np.zeros(n, dtype=bool)

    # ------------------------------------------------------------------ engine side
    def _move(self, session_index: int, visible_end: int) -> None:
        self._session_index = session_index
        self._visible_end = visible_end

    def _take_requests(self) -> tuple[np.ndarray | None, TargetOrder | None]:
        """Hand the session's cancels and targets to the engine and clear them."""
        cancel = self._pending_cancel.copy() if self._pending_cancel.any() else None
        order = None
        if self._pending_set.any():
            order = TargetOrder(
                session_index=self._session_index,
                target_shares=np.where(self._pending_set, self._pending_target, 0),
                is_set=self._pending_set.copy(),
            )
        self._pending_cancel[:] = False
        self._pending_set[:] = False
        return cancel, order

    def _take_futures_requests(self) -> dict[str, int]:
        """Hand the session's futures targets (product -> signed contracts) to the engine."""
        out, self._pending_futures = self._pending_futures, {}
        return out

    # ------------------------------------------------------------------ time and universe
    @property
    def session_index(self) -> int:
        """Index of the current session in the run's calendar."""
        return self._session_index

    @property
    def today(self) -> np.datetime64:
        """The current session's date."""
        return self._market.dates[max(self._session_index, 0)]

    @property
    def symbols(self) -> np.ndarray:
        """The column axis of every array (read-only)."""
        return self._market.symbols

    @property
    def board_codes(self) -> np.ndarray:
        """Board code per symbol (``BOARD_CODES``: main 0, chinext 1, star 2, bse 3)."""
        return self._market.board_codes

    def history(self, field: str, window: int) -> np.ndarray:
        """Return the last ``window`` rows of a field, ending at the latest known session.

        A read-only ``(window, n)`` view; when fewer sessions are known, a NaN-padded copy
        (False-padded for flags) whose first rows precede the data. ``field`` is a bar field
        (``close``, ``volume``, ``total_cap``, ...) or one of ``DERIVED_FIELDS``.

        The latest known session is today in ``on_bar`` and yesterday in ``on_fill`` (which
        runs at the open). The view is not a copy (that is what makes it free): its ``.base``
        is the whole market array, and a strategy that walks there leaves the contract.
        """
        if window < 1:
            raise ValueError(f"window must be >= 1 session, got {window}")
        source = self._field(field)
        end = self._visible_end
        start = end - window
        if start >= 0:
            view = source[start:end]
        else:
            pad_value: Any = False if source.dtype == bool else np.nan
            view = np.full((window, source.shape[1]), pad_value, dtype=source.dtype)
            if end > 0:
                view[-end:] = source[:end]
        view = view.view()
        view.flags.writeable = False
        return view

    def _field(self, field: str) -> np.ndarray:
        if field in self._moved:
            return self._moved[field]
        if field in DERIVED_FIELDS:
            return getattr(self._features, field)
        if field in self._market.fields:
            return self._market.fields[field]
        raise KeyError(
            f"unknown field {field!r}; use a bar field {sorted(self._market.fields)} or a "
            f"derived one {list(DERIVED_FIELDS)}"
        )

    def index_weights(self, index_code: str) -> np.ndarray:
        """Weights of an index's members as of the latest known close (0 for non-members)."""
        weights = self._market.index_weights.get(index_code)
        if weights is None:
            raise KeyError(
                f"the market has no weights for index {index_code!r}; it holds "
                f"{sorted(self._market.index_weights)}"
            )
        if self._visible_end == 0:
            return np.zeros(weights.shape[1])
        return weights[self._visible_end - 1]

    def index_members(self, index_code: str) -> np.ndarray:
        """Boolean membership of an index as of the latest known close."""
        return self.index_weights(index_code) > 0

    def index_history(self, index_code: str, window: int) -> np.ndarray:
        """The index's last ``window`` closes ending at the latest known session."""
        closes = self._market.index_closes.get(index_code)
        if closes is None:
            raise KeyError(
                f"the market has no closes for index {index_code!r}; it holds "
                f"{sorted(self._market.index_closes)}"
            )
        out = np.full(window, np.nan)
        end = self._visible_end
        take = min(window, end)
        if take:
            out[-take:] = closes[end - take : end]
        out.flags.writeable = False
        return out

    @property
    def portfolio(self) -> PortfolioView:
        """A read-only snapshot of the book at the latest mark."""
        mark = self._mark_row()
        return PortfolioView.of(self._ledger, mark, self._backlog.remaining(self._ledger.positions))

    def _mark_row(self) -> np.ndarray:
        if self._visible_end == 0:
            return np.zeros(self._market.shape[1])
        mark = self._moved.get("mark", self._features.mark)
        return mark[self._visible_end - 1]

    # ------------------------------------------------------------------ futures and financing
    @property
    def account(self) -> AccountView:
        """The book's futures and financing account (positions, targets, margin, call flag)."""
        if self._account is None:
            raise ValueError(
                f"book {self.book!r} has no futures or financing account; return a config from "
                "the strategy's futures_config() or financing_config()"
            )
        return self._account()

    def order_futures_target(self, product: str, contracts: int) -> None:
        """Hold ``contracts`` (signed: short < 0) of ``product`` from the next open.

        The engine holds them in the contract the book's roll rule names for each session and
        rolls them at the open ``sessions_before_expiry`` sessions before expiry.
        """

        check_product(product)
        if not self._trades_futures:
            raise ValueError(
                f"book {self.book!r} has no futures account: return a FuturesConfig from the "
                "strategy's futures_config() to trade futures"
            )
        if int(contracts) != contracts:
            raise ValueError(f"contracts must be a whole number, got {contracts}")
        self._pending_futures[product] = int(contracts)

    def hedge_notional(self, product: str, notional_cny: float) -> int:
        """Target the contracts whose index notional is ``notional_cny`` (short < 0).

        ``contracts = round(notional / (S * multiplier))`` with ``S`` the underlying index's
        latest close (:func:`backtest.analytics.basis.hedge_contracts`). Returns them.
        """

        check_product(product)
        level = float(self.index_history(FUTURES_UNDERLYING[product], 1)[-1])
        if not np.isfinite(level) or level <= 0:
            raise ValueError(
                f"book {self.book!r}: no close of {FUTURES_UNDERLYING[product]} on {self.today} "
                f"to size a {product} hedge"
            )
        contracts = hedge_contracts(notional_cny, level, product)
        self.order_futures_target(product, contracts)
        return contracts

    # ------------------------------------------------------------------ orders
    def order_target_weights(self, weights: np.ndarray | Mapping[str, float]) -> None:
        """Target these portfolio weights at the next open.

        ``shares = weight * equity / mark`` at the latest close, rounded down to the board's
        lot; the desired delta is then rounded toward zero to whole lots (odd lots only when
        selling out) and a buy below the board's minimum (STAR 200) is dropped.

        ``weights``: an array over ``ctx.symbols`` (NaN = leave that symbol as it is) or a dict
        ``{symbol: weight}``, which is a whole portfolio (symbols not named get weight 0).
        """
        values = self._as_vector(weights, "weights")
        mark = self._mark_row()
        equity = self._ledger.equity(mark)
        target, is_set, status = targets_from_weights(
            values, mark, equity, self._ledger.positions, self._lot_size, self._min_lot
        )
        bad = np.flatnonzero(status != TARGET_OK)
        if bad.size:
            first = int(bad[0])
            problem = TARGET_STATUS_NAMES[status[first]]
            if status[first] == TARGET_TOO_LARGE:
                problem += f" (more than {MAX_TARGET_SHARES:.0e} shares)"
            raise self._target_error(
                first,
                f"weight {float(values[first])!r} at mark {float(mark[first])!r} CNY and equity "
                f"{float(equity)!r} CNY: {problem}; weights are fractions of equity (0.05 = 5 %); "
                f"{bad.size} symbol(s) refused, no target queued",
            )
        self._set_targets(target, is_set)

    def order_target_shares(self, shares: np.ndarray | Mapping[str, float]) -> None:
        """Target these share counts at the next open (same vector/dict rules as weights).

        Shares are used as given: a delta that is not a whole number of lots waits in the
        backlog with status ``BELOW_LOT`` until replaced or cancelled.
        """
        values = self._as_vector(shares, "shares")
        is_set = ~np.isnan(values)
        too_large = is_set & (values > MAX_TARGET_SHARES)
        if bool(np.any(too_large)):
            first = int(np.flatnonzero(too_large)[0])
            raise self._target_error(
                first,
                f"target of {float(values[first])!r} shares is absurd (at most "
                f"{MAX_TARGET_SHARES:.0e}); no target queued",
            )
        if bool(np.any(values[is_set] != np.floor(values[is_set]))):
            bad = int(np.flatnonzero(is_set & (values != np.floor(values)))[0])
            raise ValueError(
                f"shares must be whole numbers; symbol {self.symbols[bad]} has {values[bad]}"
            )
        self._set_targets(np.where(is_set, values, 0).astype(np.int64), is_set)

    def cancel(self, symbols: list[str] | np.ndarray | None = None) -> None:
        """Cancel backlog entries and this session's targets (all symbols when None)."""
        if symbols is None:
            mask = np.ones(self._market.shape[1], dtype=bool)
        else:
            mask = np.zeros(self._market.shape[1], dtype=bool)
            mask[[self._index_of(s) for s in list(symbols)]] = True
        self._pending_cancel |= mask
        self._pending_set &= ~mask

    def _set_targets(self, target: np.ndarray, is_set: np.ndarray) -> None:
        self._pending_target[is_set] = target[is_set]
        self._pending_set |= is_set

    def _index_of(self, symbol: str) -> int:
        try:
            return self._symbol_index[symbol]
        except KeyError:
            raise KeyError(
                f"book {self.book!r}: unknown symbol {symbol!r}; it is not in the market's "
                f"{len(self._symbol_index)} symbols"
            ) from None

    def _as_vector(self, values: np.ndarray | Mapping[str, float], name: str) -> np.ndarray:
        n = self._market.shape[1]
        if isinstance(values, Mapping):
            out = np.zeros(n)
            for symbol, value in values.items():
                out[self._index_of(symbol)] = value
        else:
            out = np.asarray(values, dtype=np.float64)
            if out.shape != (n,):
                raise ValueError(
                    f"book {self.book!r}: {name} must have shape ({n},) (one per symbol), "
                    f"got {out.shape}"
                )
        bad = np.isinf(out) | (out < 0)
        if bool(np.any(bad)):
            first = int(np.flatnonzero(bad)[0])
            raise self._target_error(
                first,
                f"{name} must be finite and >= 0 (long-only; NaN leaves the symbol as it is), "
                f"got {out[first]}",
            )
        return out

    def _target_error(self, index: int, problem: str) -> TargetError:
        symbol = str(self.symbols[index])
        return TargetError(
            f"book {self.book!r}, session {self.today}, symbol {symbol}: {problem}",
            book=self.book,
            symbol=symbol,
            session_date=self.today,
        )
