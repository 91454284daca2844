"""Attribution of an engine :class:`~backtest.engine.result.Result` against a benchmark index.

This module turns what a book did (its daily equity, positions and fills) and the market it ran
on (:class:`~backtest.market.panel.MarketData`) into daily attribution frames
(:func:`backtest.analytics.linking.attribution_frame`) whose components add up to the excess
return ``e_t = r_p,t - r_b,t`` every day, and links them over any window.

Timing and definitions (day ``t``, previous session ``t-1``)
-------------------------------------------------------------
- Book return ``r_p,t = E_t / E_{t-1} - 1`` from ``Result.daily.equity``; ``E_{-1}`` is the cash
  the book started with (its config's ``initial_cash``).
- Start-of-day weights ``w_i,t = shares_i,t-1 * mark_i,t-1 / E_{t-1}``: the positions after the
  close of ``t-1`` valued at that close (0 on the first session).
- Stock returns ``r_i,t = mark_i,t * a_i,t / mark_i,t-1 - 1`` with ``a = adj_factor_t /
  adj_factor_t-1`` (1 where either is missing), exactly how the engine carries a position over
  a session (the ledger scales shares by ``a``), so ``sum_i w_i,t r_i,t`` is the day's P&L of
  the start-of-day holdings over ``E_{t-1}``.
- Benchmark return ``r_b,t = I_t / I_{t-1} - 1`` from the index closes (0 on the market's first
  session, when the previous close is unknown: benchmark and book both start in cash). The
  holdings-based benchmark uses the index weights published at the close of ``t-1``.

Components
----------
Every line below is one of the engine's ledger entries (:mod:`backtest.core.lines`) over
``E_{t-1}``; nothing is rebuilt from fills. With
``r_p = sum w r + trading + costs + hedge + financing + other`` (the ledger identity
``dE = sum s (m_t - m_t-1) + sum q (m_t - p_fill) - fees + futures/financing P&L``) and
``r_b = sum w_b r - replication``:

- **Brinson-Fachler** by cap bucket (:mod:`backtest.analytics.brinson`): CSI 300, CSI 500,
  CSI 1000, CSI 2000, microcap (first index that holds the stock at ``t-1``), the rest, and cash;
  out-of-benchmark buckets are measured against their float-cap-weighted market return. Or
  **factors** (:mod:`backtest.analytics.factors`): market, size, beta, liquidity, reversal,
  specific, from daily regressions on the whole market.
- ``benchmark_replication = sum w_b r - r_b``: the published index against its start-of-day
  constituents (dividends, intraday reweighting; about zero for the scenario's indices).
- ``trading = sum_fills q (m_t - ref) / E_{t-1}`` (the ``TRADING`` entry): the traded shares
  earn the move from the execution reference (open or VWAP) to the close instead of
  close-to-close.
- Costs ``impact, commission, stamp_duty, transfer_fee``: ``-cost_t / E_{t-1}`` (negative).
- Hedge (when ``Result.daily`` has the columns, CNY, signed P&L): ``hedge_index =
  futures_pnl - basis_carry - roll`` (what a perfect hedge of the notional earned),
  ``basis_carry``, ``roll``; costs ``futures_fees`` and financing ``financing`` (positive CNY
  in ``Result.daily``, negative lines here). Absent columns are zero and left out.
- ``corporate_action`` (only when a held stock's ``adj_factor`` changed): the ledger keeps
  whole shares and pays the fraction in cash at the ex-price, a few CNY away from the adjusted
  return.
- ``other``: what is left of ``r_p``, the P&L the ledger does not itemise; it must stay within
  ``AttributionConfig.unexplained_tolerance``, else :class:`AttributionIdentityError` (about
  1e-16 for engine results).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from backtest.analytics.attribution_market import (
    DEFAULT_WINDOWS,
    AttributionConfig,
    MarketAttributionInputs,
    book_benchmark,
    prepare_market,
    session_rows,
)
from backtest.analytics.brinson import BUCKET_NAMES, brinson_fachler
from backtest.analytics.factors import Exposures, FactorReturns, factor_attribution
from backtest.analytics.linking import (
    AttributionIdentityError,
    DateLike,
    LinkingMethod,
    attribution_frame,
    link_attribution,
)

if TYPE_CHECKING:
    from backtest.engine.benchmark import Benchmark
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

#: Trading costs of ``Result.daily`` (positive CNY), booked as negative returns.
COST_LINES: tuple[str, ...] = ("impact", "commission", "stamp_duty", "transfer_fee")
#: ``Result.daily`` columns (signed CNY P&L) that become lines when present.
HEDGE_COLUMNS: tuple[str, ...] = ("basis_carry", "roll")
FUTURES_PNL_COLUMN = "futures_pnl"
#: ``Result.daily`` columns of hedged and financed books that are costs (positive CNY, as the
#: engine books them), turned into negative returns like the trading costs.
HEDGE_COST_COLUMNS: tuple[str, ...] = ("futures_fees", "financing")
#: The daily frames of a :class:`BookAttribution` that can be linked.
AttributionKind = Literal["brinson", "brinson_by_bucket", "factors"]


@dataclass(frozen=True, kw_only=True, slots=True)
class BookAttribution:
    """The attribution of one book (frames from :func:`attribution_frame`, one row per day).

    ``brinson``: allocation, selection, interaction + lines; ``brinson_by_bucket``: one
    column per effect and bucket + lines; ``factors``: market, size, beta, liquidity,
    reversal, specific + lines; ``lines``: date and the ledger lines alone;
    ``bucket_weights``: the long Brinson frame (weights and returns per bucket);
    ``active_exposure``: date and the active exposure to each style factor.
    """

    book: str
    benchmark: str
    line_names: tuple[str, ...]
    brinson: pl.DataFrame
    brinson_by_bucket: pl.DataFrame
    factors: pl.DataFrame
    lines: pl.DataFrame
    bucket_weights: pl.DataFrame
    active_exposure: pl.DataFrame

    def frame(self, kind: AttributionKind) -> pl.DataFrame:
        """Return the daily frame of one kind (``brinson``, ``brinson_by_bucket``, ``factors``)."""
        frames = {
            "brinson": self.brinson,
            "brinson_by_bucket": self.brinson_by_bucket,
            "factors": self.factors,
        }
        if kind not in frames:
            raise ValueError(f"kind must be one of {sorted(frames)}; got {kind!r}")
        return frames[kind]

    def linked(
        self,
        windows: Mapping[str, tuple[DateLike, DateLike]] | None = None,
        *,
        kind: AttributionKind = "brinson",
        method: LinkingMethod = "carino",
    ) -> pl.DataFrame:
        """Link one of the daily frames over each window that holds data.

        Returns ``window, start, end, portfolio_return, benchmark_return, excess_return,
        <components>``, one row per window (windows without sessions are left out).
        """
        frame = self.frame(kind)
        rows = []
        for label, (start, end) in (windows or DEFAULT_WINDOWS).items():
            if _window_rows(frame, start, end) == 0:
                continue
            row = link_attribution(frame, start=start, end=end, method=method)
            rows.append(row.with_columns(pl.lit(label).alias("window")))
        if not rows:
            return pl.DataFrame()
        out = pl.concat(rows)
        return out.select("window", *[c for c in out.columns if c != "window"])


def _window_rows(frame: pl.DataFrame, start: DateLike, end: DateLike) -> int:
    first = np.asarray(start).astype("datetime64[D]").item()
    last = np.asarray(end).astype("datetime64[D]").item()
    return frame.filter((pl.col("date") >= first) & (pl.col("date") <= last)).height


def _dense(
    frame: pl.DataFrame, column: str, rows: NDArray[np.int64], inputs: MarketAttributionInputs
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return (session row within the result, stock column, value) of a long frame."""
    lookup = pl.DataFrame(
        {
            "symbol": pl.Series(inputs.symbols.tolist(), dtype=pl.String),
            "_column": np.arange(inputs.symbols.size, dtype=np.int64),
        }
    )
    joined = frame.select("date", "symbol", column).join(lookup, on="symbol", how="left")
    unknown = joined.filter(pl.col("_column").is_null())["symbol"].unique().sort().to_list()
    if unknown:
        raise ValueError(f"symbols {unknown[:5]} of the result are not in the market it ran on")
    session_dates = inputs.dates[rows]
    dates = joined["date"].to_numpy().astype("datetime64[D]")
    row = np.searchsorted(session_dates, dates)
    if not np.array_equal(session_dates[np.minimum(row, session_dates.size - 1)], dates):
        raise ValueError(f"the result's {column} rows have dates outside its sessions")
    return (
        row.astype(np.int64),
        joined["_column"].to_numpy().astype(np.int64),
        joined[column].to_numpy().astype(np.float64),
    )


def _entries(result: Result) -> dict[str, NDArray[np.float64]]:
    """The book's ledger entries by line label (CNY per session), or a sentence why not."""
    if not result.has_entries:
        raise ValueError(
            f"book {result.book!r} was saved before the engine recorded ledger entries; run it "
            "again (backtest replay --save NAME) to attribute it"
        )
    return result.entries_by_line()


def starting_equity(result: Result) -> NDArray[np.float64]:
    """Return each session's start-of-day equity ``E_{t-1}`` in CNY.

    ``E_{-1}`` is the cash the book started with (``config["initial_cash"]``, the book's own
    when it had one).

    Raises
    ------
    ValueError
        On a result without sessions, or when equity is not positive (returns undefined).
    """
    daily = result.daily
    if daily.height == 0:
        raise ValueError(f"book {result.book!r} has no sessions; nothing to measure")
    equity = daily["equity"].to_numpy().astype(np.float64)
    initial = float(result.config["initial_cash"])
    previous_equity = np.concatenate(([initial], equity[:-1]))
    bad = np.nonzero(~(previous_equity > 0.0))[0]
    if bad.size:
        raise ValueError(
            f"book {result.book!r}: equity is not positive before {daily['date'][int(bad[0])]}; "
            "returns (and their attribution) are undefined after a wipe-out"
        )
    return previous_equity


def book_returns(result: Result) -> NDArray[np.float64]:
    """Return the book's daily returns ``E_t / E_{t-1} - 1`` (see :func:`starting_equity`)."""
    equity = result.daily["equity"].to_numpy().astype(np.float64)
    return np.asarray(equity / starting_equity(result) - 1.0, dtype=np.float64)


def _ledger_lines(
    result: Result, inputs: MarketAttributionInputs, rows: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Return (book returns, start-of-day weights, named ledger lines) of a result.

    The lines are the engine's entries (:mod:`backtest.core.lines`) over ``E_{t-1}``; only the
    start-of-day weights are rebuilt, from the positions.
    """
    daily = result.daily
    days, n = rows.size, inputs.symbols.size
    equity = daily["equity"].to_numpy().astype(np.float64)
    entries = _entries(result)
    previous_equity = starting_equity(result)
    portfolio_return = equity / previous_equity - 1.0
    weights = np.zeros((days, n))
    if result.positions.height:
        row, stock, value = _dense(result.positions, "value", rows, inputs)
        after_close = np.zeros((days, n))
        after_close[row, stock] = value
        weights[1:] = after_close[:-1] / previous_equity[1:, None]
    lines = {"trading": entries["trading"] / previous_equity}
    lines |= {name: entries[name] / previous_equity for name in COST_LINES}
    if np.any(entries["corporate_action"] != 0.0):
        lines["corporate_action"] = entries["corporate_action"] / previous_equity
    if FUTURES_PNL_COLUMN in daily.columns:
        lines["hedge_index"] = entries["futures_index"] / previous_equity
        lines |= {c: entries[c] / previous_equity for c in HEDGE_COLUMNS}
    lines |= {c: entries[c] / previous_equity for c in HEDGE_COST_COLUMNS if c in daily.columns}
    return portfolio_return, weights, lines


def attribute_book(
    result: Result,
    market: MarketData | MarketAttributionInputs,
    *,
    config: AttributionConfig | None = None,
) -> BookAttribution:
    """Return the daily Brinson and factor attributions of one book (see the module docs).

    Parameters
    ----------
    result
        The book's engine result (a partial result is attributed over its sessions).
    market
        The market it ran on, or its :func:`prepare_market` inputs (faster for many books).
    config
        Used only when ``market`` is a ``MarketData``, and for the unexplained tolerance.

    The benchmark is the result's own (:attr:`Result.benchmark`, from its book): an index
    (its start-of-day weights and its returns), cash (no weights, no return) or a series (no
    weights: its whole return is ``benchmark_replication``). To measure a book against
    another one, attribute ``result.replace(benchmark=...)``.

    Raises
    ------
    ValueError
        The result carries no benchmark (:func:`book_benchmark`).
    AttributionIdentityError
        When the ledger has P&L the lines do not itemise (``|other|`` over tolerance) on a day.
    """
    settings = config or AttributionConfig()
    inputs = (
        market if isinstance(market, MarketAttributionInputs) else prepare_market(market, settings)
    )
    benchmark = book_benchmark(result)
    code = benchmark.label
    rows = session_rows(result, inputs.dates)
    dates = inputs.dates[rows]
    portfolio_return, weights, lines = _ledger_lines(result, inputs, rows)
    benchmark_weights, index_return = _benchmark(benchmark, inputs, rows)
    returns = inputs.stock_returns[rows]
    held = (weights != 0.0) | (benchmark_weights != 0.0)
    # a stock with a weight and no previous mark cannot be priced: say which
    missing = held & ~np.isfinite(returns)
    if missing.any():
        day, stock = (int(v) for v in np.argwhere(missing)[0])
        raise ValueError(
            f"book {result.book!r}, benchmark {code}: {inputs.symbols[stock]} has a weight on "
            f"{dates[day]} but no price on the session before; give the index members bars"
        )
    brinson = brinson_fachler(
        weights,
        benchmark_weights,
        np.where(held, returns, np.nan),
        inputs.bucket_codes[rows],
        bucket_names=BUCKET_NAMES,
        market_weights=inputs.market_weights[rows],
        dates=dates,
        symbols=inputs.symbols,
    )
    lines["benchmark_replication"] = brinson.benchmark_return - index_return
    explained = brinson.portfolio_return + sum(
        (v for k, v in lines.items() if k != "benchmark_replication"), np.zeros(rows.size)
    )
    other = portfolio_return - explained
    worst = int(np.argmax(np.abs(other))) if other.size else 0
    if other.size and not abs(other[worst]) <= settings.unexplained_tolerance:
        raise AttributionIdentityError(
            f"book {result.book!r}: on {dates[worst]} the ledger return {portfolio_return[worst]!r}"
            f" differs from holdings + trading + costs + hedge + financing by {other[worst]:.3e}"
            f" (> unexplained_tolerance {settings.unexplained_tolerance:.1e}); the result has "
            "P&L this attribution does not itemise (a new Result.daily column?)"
        )
    lines["other"] = other
    ordered = ["benchmark_replication", "trading", *COST_LINES]
    ordered += [k for k in lines if k not in ordered and k != "other"] + ["other"]
    line_values = {k: lines[k] for k in ordered}
    factor = factor_attribution(
        weights,
        benchmark_weights,
        np.where(held, returns, 0.0),
        _sliced_exposures(inputs.exposures, rows),
        _sliced_factor_returns(inputs.factor_returns, rows),
    )

    def frame(components: Mapping[str, NDArray[np.float64]]) -> pl.DataFrame:
        return attribution_frame(
            dates, portfolio_return, index_return, {**components, **line_values}
        )

    exposure = pl.DataFrame(
        {"date": pl.Series(dates, dtype=pl.Date)}
        | {name: factor.active_exposure[:, k] for k, name in enumerate(factor.factor_names)}
    )
    return BookAttribution(
        book=result.book,
        benchmark=code,
        line_names=tuple(ordered),
        brinson=frame(brinson.components("effect")),
        brinson_by_bucket=frame(brinson.components("effect_and_bucket")),
        factors=frame(factor.components()),
        lines=pl.DataFrame({"date": pl.Series(dates, dtype=pl.Date), **line_values}),
        bucket_weights=brinson.to_frame(dates),
        active_exposure=exposure,
    )


def _benchmark(
    benchmark: Benchmark, inputs: MarketAttributionInputs, rows: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return start-of-day benchmark weights and the benchmark's daily returns."""
    days, n = rows.size, inputs.symbols.size
    if benchmark.kind == "cash":
        return np.zeros((days, n)), np.zeros(days)
    if benchmark.kind == "series":
        return np.zeros((days, n)), benchmark.series_returns(inputs.dates[rows])
    code = benchmark.label
    weights = inputs.benchmark_weights.get(code)
    if weights is None:
        raise KeyError(
            f"the market has no index weights for benchmark {code!r}; it has "
            f"{sorted(inputs.benchmark_weights)} (or measure against Benchmark.cash())"
        )
    returns = inputs.index_returns.get(code)
    if returns is None:
        # no published closes: the benchmark is its start-of-day constituents
        held = np.where(weights[rows] != 0.0, np.nan_to_num(inputs.stock_returns[rows]), 0.0)
        return weights[rows], (weights[rows] * held).sum(axis=1)
    return weights[rows], returns[rows]


def _sliced_exposures(exposures: Exposures, rows: NDArray[np.int64]) -> Exposures:
    return Exposures(names=exposures.names, values=exposures.values[:, rows])


def _sliced_factor_returns(estimated: FactorReturns, rows: NDArray[np.int64]) -> FactorReturns:
    return FactorReturns(
        names=estimated.names,
        values=estimated.values[rows],
        r_squared=estimated.r_squared[rows],
        stock_count=estimated.stock_count[rows],
        status=estimated.status[rows],
    )


def attribute_books(
    results: Mapping[str, Result] | Sequence[Result],
    market: MarketData | MarketAttributionInputs,
    *,
    config: AttributionConfig | None = None,
) -> dict[str, BookAttribution]:
    """Attribute several books of one run, each against its own benchmark (inputs once)."""
    settings = config or AttributionConfig()
    inputs = (
        market if isinstance(market, MarketAttributionInputs) else prepare_market(market, settings)
    )
    books = list(results.values()) if isinstance(results, Mapping) else list(results)
    return {result.book: attribute_book(result, inputs, config=settings) for result in books}
