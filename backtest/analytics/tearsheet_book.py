"""The tear sheet's figures of a book's holdings, exposures and trading, from its Result.

- :func:`exposures`: gross and net exposure and the hedge ratio, session by session (hedged
  books carry a daily signed ``futures_notional``);
- :func:`holdings_concentration`: the number of names held, the top-10 share and the
  effective number of names;
- :func:`top_holdings`: the largest positions on one session;
- :func:`trade_shortfall`: what the book wanted to trade and could not, in CNY: unfilled sell
  notional and the notional-weighted share of its targets reached (the crash diagnostics);
- :func:`pm_attribution`: the linked attribution summed into the handful of lines a PM reads
  (stock selection, trading, costs, hedge, financing, other);
- :func:`returns_pandas`: the book's and its benchmark's daily returns as pandas Series, to
  hand to quantstats, empyrical or pyfolio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from backtest.analytics.attribution import book_returns
from backtest.analytics.compare import benchmark_returns
from backtest.core.ids import index_name

if TYPE_CHECKING:
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

__all__ = [
    "PM_GROUPS",
    "BookSeries",
    "book_series",
    "exposures",
    "holdings_concentration",
    "pm_attribution",
    "returns_pandas",
    "top_holdings",
    "trade_shortfall",
]

#: The attribution lines a PM reads by default: ``line -> groups`` of
#: :data:`backtest.analytics.plots.COMPONENT_GROUPS` summed into it. "Stock selection" is the
#: whole active return of the stock book (Brinson allocation, selection and interaction by cap
#: bucket, or every factor and the specific return); the hedge is the futures' index P&L,
#: basis carry, roll and fees.
PM_GROUPS: dict[str, tuple[str, ...]] = {
    "stock selection": (
        "allocation",
        "selection",
        "interaction",
        "market",
        "size",
        "beta",
        "liquidity",
        "reversal",
        "specific",
    ),
    "trading": ("trading",),
    "costs": ("costs",),
    "hedge": ("hedge (index)", "basis carry", "roll", "futures fees"),
    "financing": ("financing",),
    "other": ("benchmark replication", "corporate action", "other"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class BookSeries:
    """One book's daily returns and its benchmark's, aligned by session (built once per report).

    ``benchmark_name`` is the name a reader knows the benchmark by (``"CSI 500"``, ``"cash"``).
    """

    book: str
    benchmark_name: str
    dates: NDArray[np.datetime64]
    returns: NDArray[np.float64]
    benchmark_returns: NDArray[np.float64]


def book_series(result: Result, market: MarketData) -> BookSeries:
    """Return a :class:`BookSeries` of ``result`` against its own benchmark on ``market``."""
    label = result.benchmark.label if result.benchmark is not None else "benchmark"
    return BookSeries(
        book=result.book,
        benchmark_name=index_name(label),
        dates=result.daily["date"].to_numpy().astype("datetime64[D]"),
        returns=book_returns(result),
        benchmark_returns=benchmark_returns(result, market),
    )


def exposures(result: Result) -> pl.DataFrame:
    """Return ``date, gross_exposure, net_exposure, hedge_ratio`` per session (fractions).

    With ``L`` the stocks held (``holdings_value``), ``F`` the signed futures notional
    (negative when short; 0 for books without futures) and ``E`` the equity:
    ``gross = (L + |F|) / E``, ``net = (L + F) / E`` and ``hedge_ratio = -F / L`` (null when
    nothing is held). A fully hedged book has net 0 and hedge ratio 1; 4x DMA has gross 8.
    """
    daily = result.daily
    futures = (
        pl.col("futures_notional").fill_null(0.0)
        if "futures_notional" in daily.columns
        else pl.lit(0.0)
    )
    held = pl.col("holdings_value")
    return daily.select(
        "date",
        ((held + futures.abs()) / pl.col("equity")).alias("gross_exposure"),
        ((held + futures) / pl.col("equity")).alias("net_exposure"),
        pl.when(held > 0).then((0.0 - futures) / held).otherwise(None).alias("hedge_ratio"),
    )


def holdings_concentration(result: Result, *, top: int = 10) -> pl.DataFrame:
    """Return ``date, holdings, top_share, effective_names`` per session.

    With ``s_i = |v_i| / sum_j |v_j|`` each position's share of the stock book:
    ``top_share`` is the sum of the ``top`` largest ``s_i`` (10 by default) and
    ``effective_names = 1 / sum_i s_i^2`` (the inverse Herfindahl index: ``n`` for ``n``
    equal positions). Sessions without positions show 0 holdings and nulls.
    """
    positions = result.positions
    per_day = (
        positions.select("date", pl.col("value").abs())
        .group_by("date")
        .agg(
            pl.len().alias("holdings"),
            pl.col("value").sum().alias("_total"),
            (pl.col("value") ** 2).sum().alias("_squares"),
            pl.col("value").top_k(top).sum().alias("_top"),
        )
    )
    return (
        result.daily.select("date")
        .join(per_day, on="date", how="left")
        .select(
            "date",
            pl.col("holdings").fill_null(0).cast(pl.Int64),
            pl.when(pl.col("_total") > 0)
            .then(pl.col("_top") / pl.col("_total"))
            .alias("top_share"),
            pl.when(pl.col("_squares") > 0)
            .then(pl.col("_total") ** 2 / pl.col("_squares"))
            .alias("effective_names"),
        )
        .sort("date")
    )


def top_holdings(result: Result, *, count: int = 10, date: Any = None) -> pl.DataFrame:
    """Return the ``count`` largest positions on ``date`` (default the last session).

    Columns ``symbol, shares, value_cny, weight`` (``weight``: value over the book's equity),
    largest first.
    """
    positions = result.positions
    if positions.height == 0:
        return pl.DataFrame(
            schema={"symbol": pl.String, "shares": pl.Float64, "value_cny": pl.Float64}
            | {"weight": pl.Float64}
        )
    day = positions["date"].max() if date is None else np.datetime64(date, "D").item()
    return (
        positions.filter(pl.col("date") == day)
        .sort("value", descending=True)
        .head(count)
        .select("symbol", "shares", pl.col("value").alias("value_cny"), "weight")
    )


def trade_shortfall(result: Result) -> pl.DataFrame:
    """Return what the book wanted to trade each session and what it could not, in CNY.

    From the fills (every order sent that session): each order's notional at its reference
    price ``p`` (the open or VWAP it was priced at; orders without a price count 0):

    - ``ordered_cny = sum |q_order| p``, ``filled_cny = sum |q_filled| p``;
    - ``unfilled_sell_cny = sum over sells (|q_order| - |q_filled|) p``: what it could not
      sell (limit-locked, suspended, capped by participation);
    - ``target_reached = filled_cny / ordered_cny``: the notional-weighted share of its
      targets reached (null without orders). Unlike a share count, a large sell that did
      not fill weighs by its money.

    Returns ``date, ordered_cny, filled_cny, unfilled_sell_cny, unfilled_buy_cny,
    target_reached``, one row per session of ``result.daily``.
    """
    price = pl.col("reference_price").fill_nan(0.0).fill_null(0.0)
    ordered = pl.col("order_shares").abs() * price
    filled = pl.col("filled_shares").abs() * price
    sell = pl.col("order_shares") < 0
    per_day = result.fills.group_by("date").agg(
        ordered.sum().alias("ordered_cny"),
        filled.sum().alias("filled_cny"),
        (ordered - filled).filter(sell).sum().alias("unfilled_sell_cny"),
        (ordered - filled).filter(~sell).sum().alias("unfilled_buy_cny"),
    )
    amounts = ("ordered_cny", "filled_cny", "unfilled_sell_cny", "unfilled_buy_cny")
    return (
        result.daily.select("date")
        .join(per_day, on="date", how="left")
        .with_columns(pl.col(c).fill_null(0.0).cast(pl.Float64) for c in amounts)
        .with_columns(
            pl.when(pl.col("ordered_cny") > 0)
            .then(pl.col("filled_cny") / pl.col("ordered_cny"))
            .alias("target_reached")
        )
        .sort("date")
    )


def pm_attribution(linked: pl.DataFrame) -> pl.DataFrame:
    """Sum a linked attribution table's component groups into the lines of :data:`PM_GROUPS`.

    ``linked`` has one row per book (or window) with the columns of
    :func:`backtest.analytics.plots.grouped_components`, linked over a window. Linking is
    linear in the components, so summing after linking equals linking the sums; the lines
    still add up to ``excess_return``. Columns no group names are kept under ``other``;
    lines none of whose groups are present are left out.
    """
    reserved = {"book", "benchmark", "start", "end"}
    reserved |= {"portfolio_return", "benchmark_return", "excess_return"}
    components = [c for c in linked.columns if c not in reserved]
    known = {group for groups in PM_GROUPS.values() for group in groups}
    loose = [c for c in components if c not in known]
    lines = []
    for line, groups in PM_GROUPS.items():
        present = [c for c in groups if c in components] + (loose if line == "other" else [])
        if present:
            lines.append(pl.sum_horizontal(present).alias(line))
    kept = [c for c in linked.columns if c in reserved]
    return linked.select(*kept, *lines)


def returns_pandas(result: Result, market: MarketData) -> tuple[Any, Any]:
    """Return ``(returns, benchmark_returns)`` as pandas Series with a DatetimeIndex.

    The book's daily returns ``E_t / E_{t-1} - 1`` and its own benchmark's over the same
    sessions (:func:`backtest.analytics.compare.benchmark_returns`: 0 for cash), named after
    the book and the benchmark: what quantstats (``qs.reports.html(returns,
    benchmark_returns)``), empyrical and pyfolio take. pandas ships with akshare; it is
    imported here only.
    """
    import pandas as pd  # optional at this layer: only this bridge needs it

    series = book_series(result, market)
    index = pd.DatetimeIndex(series.dates.astype("datetime64[ns]"), name="date")
    book = pd.Series(series.returns, index=index, name=series.book)
    benchmark = pd.Series(series.benchmark_returns, index=index, name=series.benchmark_name)
    return book, benchmark
