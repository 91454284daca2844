"""A book: a named strategy with its own ledger, its benchmark and its starting cash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backtest.engine.benchmark import Benchmark
from backtest.engine.strategy import Strategy


@dataclass(frozen=True, kw_only=True, slots=True)
class Book:
    """A named strategy with its own ledger.

    Parameters
    ----------
    name
        The book's name (unique in a run).
    strategy
        Its strategy instance (one per book: strategies may keep state).
    benchmark
        What the book is measured against (:class:`~backtest.engine.benchmark.Benchmark`):
        an index, cash or a series. Default: the strategy's own declaration
        (:meth:`Strategy.benchmark`); ``None`` when neither names one, and then compare,
        attribution and the report refuse the book until it is given.
    initial_cash
        Overrides the config's ``initial_cash`` for this book (CNY, > 0).
    """

    name: str
    strategy: Strategy[Any]
    benchmark: Benchmark | None = None
    initial_cash: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("book name must be a non-empty string")
        if self.initial_cash is not None and not self.initial_cash > 0:
            raise ValueError(
                f"book {self.name!r}: initial_cash must be > 0, got {self.initial_cash}"
            )
        if self.benchmark is not None and not isinstance(self.benchmark, Benchmark):
            raise TypeError(
                f"book {self.name!r}: benchmark must be a Benchmark (Benchmark.index(code), "
                f"Benchmark.cash(), Benchmark.from_returns(...)), got {self.benchmark!r}"
            )
        if self.benchmark is None:
            # the strategy's declaration is the default (frozen: set once, here)
            object.__setattr__(self, "benchmark", self.strategy.benchmark())
