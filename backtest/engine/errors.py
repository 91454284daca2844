"""The errors of a run: a refused target, and a strategy that raised (with partial results)."""

from __future__ import annotations

from typing import Any

from backtest.engine.result import Result

__all__ = ["StrategyError", "TargetError"]


class TargetError(ValueError):
    """A target the engine refuses to trade (absurd, non-finite or short); nothing was queued.

    Raised by the ``Context.order_target_*`` methods; inside a hook the engine wraps it in a
    :class:`~backtest.engine.engine.StrategyError`, which copies ``symbol`` from it.

    Attributes
    ----------
    book, symbol, session_date
        Where it happened.
    """

    def __init__(self, message: str, *, book: str, symbol: str, session_date: Any) -> None:
        super().__init__(message)
        self.book = book
        self.symbol = symbol
        self.session_date = session_date


class StrategyError(RuntimeError):
    """A strategy raised; the run stopped. The original exception is ``__cause__``.

    Attributes
    ----------
    book, session_date, hook
        Where it happened.
    symbol
        The symbol whose target was refused when the cause is a
        :class:`TargetError`, else ``None``.
    partial_result
        The failing book's :class:`Result` up to the last completed session.
    partial_results
        Every book's partial result, by book name.
    """

    def __init__(
        self,
        *,
        book: str,
        session_date: Any,
        hook: str,
        original: BaseException,
        partial_results: dict[str, Result],
    ) -> None:
        super().__init__(
            f"strategy of book {book!r} raised in {hook} on session {session_date}: "
            f"{type(original).__name__}: {original}"
        )
        self.book = book
        self.session_date = session_date
        self.hook = hook
        self.symbol = original.symbol if isinstance(original, TargetError) else None
        self.partial_results = partial_results
        self.partial_result = partial_results[book]
