"""``backtest replay``: the 2023-2024 crash through the six books of the industry, one table.

Runs IndexTracker (CSI 500), Microcap, IndexEnhanced (CSI 500 and CSI 1000), MarketNeutral
(IC) and DMA (IC, 4x) in one engine pass over the store's market (building the default scenario
first when the store is empty) and prints, per book (a legend under the table says the same):

- ``bench``: the book's benchmark by name, declared with it: CSI 500 / CSI 1000 for the tracker
  and the enhanced books, the microcap index (Microcap 400) for the microcap book, cash for
  the hedged books (absolute-return products: their excess is their return); ``size``: its
  initial cash in CNY million;
- ``total %``: equity at the end over the initial cash, minus 1; ``vol %``, ``Sharpe``,
  ``IR``: annualised volatility, Sharpe ratio (risk-free 0) and information ratio against
  the benchmark (:mod:`backtest.analytics.metrics`, 242 sessions a year);
- ``2023 %`` / ``xs 2023``: return over 2023 (from the close before its first session, or the
  initial cash when that is the run's first, to the close of 2023-12-29) and the excess over
  the benchmark, ``R_p - R_b`` each compounded over the same sessions
  (:func:`backtest.analytics.compare.window_returns`, as ``compare`` and the report);
- ``crash %`` / ``xs crash``: the same over 2024-01-01..2024-02-07;
- a window the run does not cover (no session in it, or the run starts after the window's
  first exchange session) is blank, and a line under the table says why
  (:func:`backtest.analytics.compare.window_gap`);
- ``max dd %``: the largest fall of equity from a running peak, the initial cash included
  (:func:`backtest.core.returns.max_drawdown`);
- costs in CNY million (positive = paid): impact, commission, stamp duty + transfer fee,
  futures fees, financing; ``basis+roll``: the hedge's basis carry and roll (CNY million, signed:
  negative = the hedge cost money);
- ``blocked``: sessions in which some order could not be filled (limit-locked, suspended or
  capped by the participation limit), ``calls``: margin-call sessions, ``first call``: the
  date of the first.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import time
from pathlib import Path

import polars as pl

from backtest.analytics.attribution import book_returns
from backtest.analytics.attribution_market import DEFAULT_WINDOWS, book_benchmark
from backtest.analytics.compare import benchmark_returns, window_gap, window_returns
from backtest.analytics.metrics import annualised_volatility, information_ratio, sharpe_ratio
from backtest.core.ids import CSI500, CSI1000, MICROCAP, index_name
from backtest.core.returns import cumulative_return, max_drawdown
from backtest.engine import Benchmark, Book, Engine, EngineConfig, MarketData, Result
from backtest.market.lock import StoreBusyError, writer_lock
from backtest.market.scenario.store_file import ensure_scenario_file
from backtest.market.store import Store
from backtest.runs import RunStore, default_runs_path
from backtest.runs.spec import BookSpec, MarketRef, RunSpec, StoreRef, run_on
from strategies.hedged import DMA, DMAParams, MarketNeutral, MarketNeutralParams
from strategies.long_only import (
    IndexEnhanced,
    IndexEnhancedParams,
    IndexTracker,
    IndexTrackerParams,
    Microcap,
    MicrocapParams,
)

YEAR_END_2023 = dt.date(2023, 12, 29)
CRASH_END = dt.date(2024, 2, 7)
_BLOCKING = ("partial_cap", "locked_limit_up", "locked_limit_down", "suspended")


def default_book_specs() -> tuple[BookSpec, ...]:
    """The six books of the replay, each with its benchmark declared (module docs)."""
    csi500, csi1000, cash = Benchmark.index(CSI500), Benchmark.index(CSI1000), Benchmark.cash()
    return (
        BookSpec(
            name="tracker_csi500",
            strategy=IndexTracker,
            params=IndexTrackerParams(benchmark=CSI500),
            benchmark=csi500,
        ),
        BookSpec(
            name="microcap",
            strategy=Microcap,
            params=MicrocapParams(),
            benchmark=Benchmark.index(MICROCAP),
        ),
        BookSpec(
            name="enhanced_csi500",
            strategy=IndexEnhanced,
            params=IndexEnhancedParams(benchmark="000905"),
            benchmark=csi500,
        ),
        BookSpec(
            name="enhanced_csi1000",
            strategy=IndexEnhanced,
            params=IndexEnhancedParams(benchmark="000852"),
            benchmark=csi1000,
        ),
        BookSpec(
            name="neutral_ic",
            strategy=MarketNeutral,
            params=MarketNeutralParams(futures_product="IC"),
            benchmark=cash,
        ),
        BookSpec(
            name="dma_ic", strategy=DMA, params=DMAParams(futures_product="IC"), benchmark=cash
        ),
    )


def default_books() -> list[Book]:
    """The six books of the replay as :class:`Book` objects (fresh strategy instances)."""
    return [spec.book() for spec in default_book_specs()]


def replay_spec(market: MarketRef, config: EngineConfig | None = None) -> RunSpec:
    """The replay as a :class:`RunSpec`: the six books over ``market``."""
    return RunSpec(market=market, books=default_book_specs(), config=config or EngineConfig())


def run_replay(market: MarketData, config: EngineConfig | None = None) -> dict[str, Result]:
    """Run the default books over ``market``; return results by book name."""
    return Engine(config).run(market, default_books())


def replay_table(results: dict[str, Result], market: MarketData) -> pl.DataFrame:
    """One row per book with the figures described in the module docs (returns as fractions).

    Each book against its own benchmark (:attr:`Result.benchmark`); returns, excess and
    drawdown by the one definition of :mod:`backtest.core.returns`, as ``compare``. A window
    that cannot be measured (:func:`~backtest.analytics.compare.window_gap`) is NaN, its
    reason in ``gap_2023`` / ``gap_crash`` (null when measured).
    """
    rows = []
    windows = {
        "2023": (DEFAULT_WINDOWS["2023"][0], YEAR_END_2023),
        "crash": (DEFAULT_WINDOWS["crash_2024"][0], CRASH_END),
    }
    for name, result in results.items():
        daily = result.daily
        dates = daily["date"].to_numpy().astype("datetime64[D]")
        portfolio = book_returns(result)
        benchmark = benchmark_returns(result, market)
        measured = {}
        gaps = {}
        for label, (start, end) in windows.items():
            gaps[label] = window_gap(result, start, end)
            figures = (
                None if gaps[label] else window_returns(dates, portfolio, benchmark, start, end)
            )
            measured[label] = figures or (float("nan"),) * 3
        counts = result.status_counts
        blocked = counts.select(pl.sum_horizontal(*_BLOCKING) > 0).to_series().sum()

        def total(column: str, frame: pl.DataFrame = daily) -> float:
            return float(frame[column].sum()) if column in frame.columns else 0.0

        calls = (
            daily.filter(pl.col("margin_call") > 0)["date"].to_list()
            if "margin_call" in daily.columns
            else []
        )
        rows.append(
            {
                "book": name,
                "benchmark": book_benchmark(result).label,
                "size_cny": float(result.config["initial_cash"]),
                "total": cumulative_return(portfolio),
                "volatility": annualised_volatility(portfolio),
                "sharpe": sharpe_ratio(portfolio),
                "information_ratio": information_ratio(portfolio, benchmark),
                "ret_2023": measured["2023"][0],
                "excess_2023": measured["2023"][2],
                "ret_crash": measured["crash"][0],
                "excess_crash": measured["crash"][2],
                "max_drawdown": max_drawdown(portfolio),
                "impact_cny": total("impact"),
                "commission_cny": total("commission"),
                "taxes_cny": total("stamp_duty") + total("transfer_fee"),
                "futures_fees_cny": total("futures_fees"),
                "financing_cny": total("financing"),
                "basis_carry_cny": total("basis_carry"),
                "roll_cny": total("roll"),
                "blocked_sessions": int(blocked),
                "margin_call_sessions": len(calls),
                "first_margin_call": calls[0] if calls else None,
                "gap_2023": gaps["2023"],
                "gap_crash": gaps["crash"],
            }
        )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "first_margin_call": pl.Date,
            "gap_2023": pl.String,
            "gap_crash": pl.String,
        },
    )


#: What each column of :func:`format_table` means (printed under the table).
LEGEND: tuple[str, ...] = (
    "bench: the book's benchmark (hedged books: cash, their excess is their return); "
    "size: initial cash, CNY million",
    "total: return over the run; vol: annualised volatility of daily returns; Sharpe: "
    "annualised, risk-free 0; IR: information ratio, annualised excess over tracking error",
    "2023 / crash: return over 2023 / 2024-01-01..02-07, from the close before; xs: excess "
    "over the benchmark, R_p - R_b, each compounded over the same sessions",
    "max dd: largest fall from a running peak (the initial cash counts); impact, commis(sion), "
    "taxes (stamp duty + transfer fee), fut fee(s), financ(ing): costs paid, CNY million",
    "basis+roll: the hedge's basis carry and roll, CNY million (negative = cost); blocked: "
    "sessions with an order not filled (limit-locked, suspended, participation cap)",
    "calls: margin-call sessions; first call: the first of them",
)


def format_table(table: pl.DataFrame) -> str:
    """The replay table as aligned text (percent and CNY million, signs kept), with a legend.

    Windows that cannot be measured are blank, with the reason under the table.
    """
    header = (
        f"{'book':<17}{'bench':>13}{'size':>7}{'total %':>9}{'vol %':>7}{'Sharpe':>7}{'IR':>7}"
        f"{'2023 %':>8}{'xs 2023':>8}{'crash %':>8}{'xs crash':>9}{'max dd %':>9}{'impact':>8}"
        f"{'commis':>8}{'taxes':>7}{'fut fee':>8}{'financ':>8}{'basis+roll':>11}{'blocked':>8}"
        f"{'calls':>6}{'first call':>12}"
    )
    lines = [
        "returns in %, excess = book - benchmark, each compounded (hedged books: cash); "
        "costs and basis in CNY million",
        header,
        "-" * len(header),
    ]
    notes: list[str] = []
    for r in table.iter_rows(named=True):
        basis = (r["basis_carry_cny"] + r["roll_cny"]) / 1e6
        call = "" if r["first_margin_call"] is None else str(r["first_margin_call"])
        lines.append(
            f"{r['book']:<17}{index_name(r['benchmark']):>13}{r['size_cny'] / 1e6:>7,.0f}"
            f"{_cell(r['total'], 9)}{_cell(r['volatility'], 7, sign='')}"
            f"{_cell(r['sharpe'], 7, scale=1.0, decimals=2)}"
            f"{_cell(r['information_ratio'], 7, scale=1.0, decimals=2)}"
            f"{_cell(r['ret_2023'], 8)}{_cell(r['excess_2023'], 8)}"
            f"{_cell(r['ret_crash'], 8)}{_cell(r['excess_crash'], 9)}"
            f"{_cell(r['max_drawdown'], 9)}{r['impact_cny'] / 1e6:>8.2f}"
            f"{r['commission_cny'] / 1e6:>8.2f}{r['taxes_cny'] / 1e6:>7.2f}"
            f"{r['futures_fees_cny'] / 1e6:>8.2f}{r['financing_cny'] / 1e6:>8.2f}"
            f"{basis:>+11.2f}{r['blocked_sessions']:>8d}{r['margin_call_sessions']:>6d}"
            f"{call:>12}"
        )
        for label, column in (("2023", "gap_2023"), ("crash", "gap_crash")):
            if r.get(column):
                note = f"{label} left blank: {r[column]}"
                if note not in notes:
                    notes.append(note)
    lines += ["", *LEGEND, *notes]
    return "\n".join(lines)


def _cell(
    value: float, width: int, *, scale: float = 100.0, decimals: int = 1, sign: str = "+"
) -> str:
    """A right-aligned number, or blank when it is missing (NaN: never printed as +nan)."""
    if value is None or not math.isfinite(value):
        return " " * width
    return f"{value * scale:>{sign}{width}.{decimals}f}"


def _check_run_id_free(runs_path: Path, run_id: str, overwrite: bool) -> None:
    """Refuse before computing when ``run_id`` is saved already (and not to be overwritten)."""
    if overwrite or not runs_path.exists():
        return
    with RunStore(runs_path, read_only=True) as runs:
        saved = runs.runs()["run_id"].to_list()
    if run_id in saved:
        raise ValueError(
            f"a run named {run_id!r} is already saved in {runs_path}; choose another name, or "
            "pass --overwrite to replace it"
        )


def save_run(
    runs_path: Path,
    run_id: str,
    results: dict[str, Result],
    *,
    market_path: Path,
    market_identity: str,
    overwrite: bool = False,
    wait_seconds: float = 120.0,
) -> None:
    """Save a replay's books as one run, refused if the market changed since it was read.

    A reader holding the runs store open (``backtest report``) is waited for, up to
    ``wait_seconds``, so that a computed run is not lost to a short read.

    Raises
    ------
    ValueError
        The market at ``market_path`` no longer has ``market_identity`` (it was rebuilt or
        imported into while the books ran), or the run exists and ``overwrite`` is False.
        Nothing is saved then.
    """
    with Store(market_path, read_only=True) as store:
        if store.identity() != market_identity:
            raise ValueError(
                f"the market in {market_path} changed while the replay ran (rebuilt or "
                "imported into); the results were not saved. Run the replay again"
            )
    with _open_for_saving(runs_path, wait_seconds) as runs:
        runs.save(
            run_id,
            results,
            market_path=market_path,
            market_identity=market_identity,
            overwrite=overwrite,
        )


def _open_for_saving(runs_path: Path, wait_seconds: float) -> RunStore:
    """Open the runs store to write, waiting for readers (a report) that hold it open."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return RunStore(runs_path)
        except StoreBusyError as busy:
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{busy} (waited {wait_seconds:.0f} s to save; the results were not saved)"
                ) from busy
            time.sleep(0.25)


def replay_main(args: argparse.Namespace) -> int:
    """Run ``backtest replay`` (see the module docs); return the exit code.

    The market is opened read-only (a missing or blank store is first built, atomically). With
    ``--save``, the runs store's writer lock is taken before any work, so the computed run can
    always be saved; the save is one transaction, refused if the market changed meanwhile.
    """
    began = time.perf_counter()
    runs_path = args.runs_store or default_runs_path(args.store)
    with contextlib.ExitStack() as held:
        if args.save:
            held.enter_context(writer_lock(runs_path, f"backtest replay --save {args.save}"))
            _check_run_id_free(runs_path, args.save, args.overwrite)
        if ensure_scenario_file(args.store, progress=not args.quiet):
            print(f"{args.store} was empty: built the default 2023-2024 scenario first")
        reference = StoreRef.of(args.store, start=args.start, end=args.end)
        spec = replay_spec(reference)
        market = reference.load()  # refused if the store changed since the spec was made
        # the store is closed while the books run: DuckDB's buffers (~250 MB) go back first
        results = run_on(spec, market)  # = run(spec), keeping the market for the table
        identity = reference.content_hash
        if args.save:
            save_run(
                runs_path,
                args.save,
                results,
                market_path=args.store,
                market_identity=identity,
                overwrite=args.overwrite,
            )
    print(format_table(replay_table(results, market)))
    if args.save:
        print(f"saved run {args.save} ({len(results)} books) in {runs_path}")
    print(
        f"replayed {market.shape[0]} sessions x {market.shape[1]} stocks "
        f"in {time.perf_counter() - began:.1f} s"
    )
    return 0
