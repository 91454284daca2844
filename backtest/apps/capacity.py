"""How a book's figures change with its size: the same book re-run at several initial cash.

:func:`capacity_curves` runs each book of a run again at 0.1, 1, 5 and 10 billion CNY of
initial cash (:data:`CAPACITY_SIZES_CNY`), all in one engine pass over the same market, the
same strategy and parameters, the same engine config. The trades scale with the cash, so the
impact model (square-root impact against the session's volume) and the participation cap
take a growing share: the curve shows the return, the excess and the cost drag a book keeps
as it grows. Each point is a :func:`~backtest.analytics.compare.compare_row` of that run.

It needs what built the run (the strategy classes, parameters and market), not only its
saved results: give a :class:`~backtest.runs.spec.RunSpec`, or a market and
:class:`~backtest.runs.spec.BookSpec` objects. :func:`rebuildable_books` tells which saved
books a set of candidate specs rebuilds exactly (same name, strategy, parameters and engine
config).

Cost: one engine pass over ``len(books) x len(sizes)`` books (about the engine time of the
run times the number of sizes).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import polars as pl

from backtest.analytics.compare import compare_row
from backtest.engine.config import EngineConfig, canonical_json
from backtest.engine.engine import Engine
from backtest.runs.spec import BookSpec, RunSpec

if TYPE_CHECKING:
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

__all__ = [
    "CAPACITY_COLUMNS",
    "CAPACITY_SIZES_CNY",
    "capacity_curves",
    "capacity_for_report",
    "rebuildable_books",
]

#: Initial cash of the capacity curve's runs, CNY: 0.1, 1, 5 and 10 billion.
CAPACITY_SIZES_CNY: tuple[float, ...] = (1e8, 1e9, 5e9, 1e10)
#: The :func:`compare_row` figures kept for each point of the curve.
CAPACITY_COLUMNS: tuple[str, ...] = (
    "total_return",
    "annualised_return",
    "excess_return",
    "max_drawdown",
    "cost_drag",
    "impact_cny",
    "fill_rate",
    "sessions_constrained",
)


def capacity_curves(
    run: RunSpec | tuple[MarketData, Sequence[BookSpec]],
    *,
    market: MarketData | None = None,
    config: EngineConfig | None = None,
    sizes: Sequence[float] = CAPACITY_SIZES_CNY,
) -> dict[str, pl.DataFrame]:
    """Return each book's capacity curve: one row per initial cash in ``sizes``.

    Parameters
    ----------
    run
        A run spec (its market is loaded unless ``market`` is given, its config used), or
        ``(market, book_specs)``.
    market
        The spec's market, already loaded (checked by identity; saves loading it again).
    config
        Engine config for ``(market, book_specs)`` (default ``EngineConfig()``).
    sizes
        Initial cash of each point, CNY (> 0).

    Returns
    -------
    dict of polars.DataFrame
        ``book -> initial_cash_cny`` and :data:`CAPACITY_COLUMNS` (fractions, CNY, counts).
    """
    books: Sequence[BookSpec]
    if isinstance(run, RunSpec):
        loaded = market if market is not None else run.market.load()
        if loaded.identity() != run.market.identity():
            raise ValueError(
                "the market given is not the one the run spec references; load it with "
                "spec.market.load()"
            )
        books, engine_config = run.books, run.config
    else:
        loaded, books = run
        engine_config = config or EngineConfig()
    if not books:
        raise ValueError("give at least one book to measure its capacity")
    bad = [size for size in sizes if not size > 0]
    if bad or not sizes:
        raise ValueError(f"sizes must be positive CNY amounts; got {list(sizes)}")
    variants = {
        (spec.name, float(size)): dataclasses.replace(
            spec, name=f"{spec.name} @ {size:g}", initial_cash=float(size)
        )
        for spec in books
        for size in sizes
    }
    results = Engine(engine_config).run(loaded, [spec.book() for spec in variants.values()])
    curves: dict[str, list[dict[str, object]]] = {spec.name: [] for spec in books}
    for (name, size), spec in variants.items():
        row = compare_row(results[spec.name], loaded)
        curves[name].append({"initial_cash_cny": size} | {c: row[c] for c in CAPACITY_COLUMNS})
    return {
        name: pl.DataFrame(rows, schema_overrides={"excess_return": pl.Float64})
        for name, rows in curves.items()
    }


def rebuildable_books(
    results: Mapping[str, Result] | Sequence[Result],
    candidates: Sequence[BookSpec],
    *,
    config: EngineConfig | None = None,
) -> list[BookSpec]:
    """Return the candidate specs that rebuild saved books exactly, in the results' order.

    A candidate rebuilds a result when the name, the strategy class name, the parameters and
    the engine config (``config``, default ``EngineConfig()``, with the candidate's own
    initial cash) all equal what the result saved. Books no candidate rebuilds are left out.
    """
    books = list(results.values()) if isinstance(results, Mapping) else list(results)
    engine_config = config or EngineConfig()
    by_name = {spec.name: spec for spec in candidates}
    out = []
    for result in books:
        spec = by_name.get(result.book.rsplit("/", 1)[-1])
        if spec is None:
            continue
        book_config = (
            engine_config
            if spec.initial_cash is None
            else dataclasses.replace(engine_config, initial_cash=spec.initial_cash)
        )
        if (
            spec.strategy.__name__ == result.strategy
            and canonical_json(spec.params) == canonical_json(result.params)
            and canonical_json(book_config) == canonical_json(result.config)
        ):
            out.append(
                spec if spec.name == result.book else dataclasses.replace(spec, name=result.book)
            )
    return out


def capacity_for_report(
    results: Sequence[Result],
    market: MarketData,
    candidates: Sequence[BookSpec],
    *,
    config: EngineConfig | None = None,
) -> tuple[dict[str, pl.DataFrame] | None, str]:
    """Return the capacity curves of the books ``candidates`` rebuild, and a note on the rest.

    The note says which books had no curve (none of the candidates rebuilds them exactly,
    :func:`rebuildable_books`) and how long the curves took; with no book rebuilt, the
    curves are None and the note says why.
    """
    specs = rebuildable_books(results, candidates, config=config)
    if not specs:
        return None, (
            "no book of the report was rebuilt exactly from the given specs (strategy, "
            "parameters and engine config must equal what the run saved)"
        )
    started = time.perf_counter()
    curves = capacity_curves((market, specs), config=config)
    missing = [r.book for r in results if r.book not in curves]
    note = f"{len(curves)} books re-run at {len(CAPACITY_SIZES_CNY)} sizes in "
    note += f"{time.perf_counter() - started:.0f} s"
    if missing:
        note += f"; not rebuilt: {', '.join(missing)}"
    return curves, note
