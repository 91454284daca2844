"""``backtest report``: the HTML page of saved runs, measured on the market they ran on.

Loads the runs named by ``--runs`` (default: the newest) from the runs store (default:
``runs.duckdb`` beside the market store, :func:`backtest.runs.default_runs_path`), refuses a
partial run or one computed on another market than the store's, and writes the page with
:func:`backtest.analytics.report.write_report`. The arguments are declared in
:mod:`backtest.apps.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from backtest import analytics
from backtest.apps.capacity import capacity_for_report
from backtest.apps.replay import default_book_specs
from backtest.engine.benchmark import Benchmark
from backtest.engine.result import Result
from backtest.market.panel import MarketData
from backtest.market.store import Store
from backtest.runs import RunStore, default_runs_path

__all__ = ["parse_benchmarks", "report_main"]


def parse_benchmarks(values: Sequence[str]) -> str | dict[str, str] | None:
    """Turn ``--benchmark`` values into one code or a ``book -> code`` mapping.

    >>> parse_benchmarks(["000852"]), parse_benchmarks(["a=000905", "b=cash"])
    ('000852', {'a': '000905', 'b': 'cash'})
    """
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    pairs = {}
    for value in values:
        book, separator, code = value.partition("=")
        if not separator or not book or not code:
            raise ValueError(
                f"--benchmark {value!r}: give one CODE for every book or BOOK=CODE per book"
            )
        pairs[book] = code
    return pairs


def report_main(args: argparse.Namespace) -> int:
    """Run ``backtest report``: load saved runs and their market, write the HTML page.

    Refuses a run that is partial (a book stopped by a strategy error) or that was computed on
    another market than the one in ``--store`` (rebuilt or imported into since it was saved).
    """
    if not args.store.exists():
        raise ValueError(f"no store at {args.store}; build one with `backtest data build`")
    results_path = args.results or default_runs_path(args.store)
    if args.results is None and not results_path.exists():
        if not _holds_legacy_results(args.store):
            raise ValueError(
                f"no saved runs: {results_path} does not exist; save one with "
                "`backtest replay --save NAME`"
            )
        results_path = args.store  # results saved inside the market by earlier versions
    with RunStore(results_path, read_only=True) as saved:
        listed = saved.runs()
        if listed.height == 0:
            raise ValueError(
                f"{results_path} holds no saved runs; save one with `backtest replay --save NAME`"
            )
        run_ids = args.runs or _default_runs(listed)
        runs = [saved.load(run_id) for run_id in run_ids]
    with Store(args.store, read_only=True) as store:
        identity = store.identity()
        for run in runs:
            _check_reportable(run, identity, args.store)
        books = _with_benchmarks(_books_of(runs), parse_benchmarks(args.benchmark))
        first = min(r.daily["date"][0] for r in books)
        last = max(r.daily["date"][-1] for r in books)
        market = MarketData.from_store(store, start=first, end=last)
    # through the package: it loads matplotlib (about 1 s) on first use, so that the other
    # commands of the one parser do not pay for it
    capacity, note = (
        None,
        "run backtest report --capacity to re-run the replay's books at each size",
    )
    if getattr(args, "capacity", False):  # a namespace built by hand may lack it
        capacity, note = capacity_for_report(books, market, default_book_specs())
    path = analytics.write_report(books, market, args.out, capacity=capacity, capacity_note=note)
    print(f"wrote {path} ({len(books)} books of {', '.join(run_ids)}, {first} .. {last})")
    return 0


def _check_reportable(run: Any, identity: str, store: Path) -> None:
    if not run.complete:
        partial = [name for name, result in run.results.items() if not result.complete]
        raise ValueError(
            f"run {run.run_id!r} is partial: {', '.join(partial)} stopped by a strategy error; "
            "fix the strategy and replay it, or report the other runs"
        )
    if run.market_identity is not None and run.market_identity != identity:
        raise ValueError(
            f"run {run.run_id!r} was computed on another market than the one now in {store} "
            "(it was rebuilt or imported into since); replay it again, or give the --store it "
            "was computed on"
        )


def _holds_legacy_results(store: Path) -> bool:
    with Store(store, read_only=True) as market:
        tables = market.sql("SELECT table_name FROM information_schema.tables")["table_name"]
    return "result_runs" in tables.to_list()


def _default_runs(listed: pl.DataFrame) -> list[str]:
    """The newest saved run; every result when they were saved one by one (no run rows)."""
    if listed["market_identity"].null_count() == listed.height:
        return [str(run_id) for run_id in listed["run_id"].to_list()]
    return [str(listed["run_id"][-1])]


def _books_of(runs: Sequence[Any]) -> list[Result]:
    """The runs' books, named ``RUN/BOOK`` when two runs share a book name."""
    books: list[Result] = []
    names = [name for run in runs for name in run.results]
    prefixed = len(set(names)) < len(names)
    for run in runs:
        for name, result in run.results.items():
            label = f"{run.run_id}/{name}" if prefixed else result.book
            books.append(result if label == result.book else result.replace(book=label))
    return books


def _with_benchmarks(books: list[Result], chosen: str | dict[str, str] | None) -> list[Result]:
    """The books, measured against the ``--benchmark`` codes given (else their own)."""
    if chosen is None:
        return books
    unknown = set() if isinstance(chosen, str) else set(chosen) - {r.book for r in books}
    if unknown:
        raise ValueError(
            f"--benchmark names books {sorted(unknown)} not in the report; its books are "
            f"{[r.book for r in books]}"
        )
    out = []
    for result in books:
        code = chosen if isinstance(chosen, str) else chosen.get(result.book)
        out.append(result if code is None else result.replace(benchmark=Benchmark.parse(code)))
    return out
