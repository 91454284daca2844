"""The error a run stops with when a strategy raises, with every book's partial results."""

from __future__ import annotations

from typing import Any

from backtest.engine.result import Result
from backtest.engine.strategy import TargetError

__all__ = ["StrategyError"]


class StrategyError(RuntimeError):
    """A strategy raised; the run stopped. The original exception is ``__cause__``.

    Attributes
    ----------
    book, session_date, hook
        Where it happened.
    symbol
        The symbol whose target was refused when the cause is a
        :class:`~backtest.engine.strategy.TargetError`, else ``None``.
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
