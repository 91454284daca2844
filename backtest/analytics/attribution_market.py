"""Per-market inputs of the attribution of engine results, computed once and shared by books.

:func:`prepare_market` turns a :class:`~backtest.market.panel.MarketData` into the arrays
:mod:`backtest.analytics.attribution` needs: mark-based stock returns (the engine's own carry
of a position over a session), the cap bucket of each stock at the start of each day (the first
of CSI 300, CSI 500, CSI 1000, CSI 2000, microcap whose weights at ``t-1`` hold it; else "the
rest"), start-of-day index weights, index returns from the closes, and the style factor model
(exposures and daily cross-sectional factor returns, :mod:`backtest.analytics.factors`)
estimated on the whole market. All of it is vectorised over ``(days, n)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from backtest.analytics.brinson import cap_bucket_codes
from backtest.analytics.factors import (
    ExposureConfig,
    Exposures,
    FactorReturns,
    RegressionWeighting,
    factor_returns,
    style_exposures,
)
from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP

if TYPE_CHECKING:
    from backtest.engine.benchmark import Benchmark
    from backtest.engine.result import Result
    from backtest.market.panel import MarketData

#: Index codes defining the cap buckets of :data:`~backtest.analytics.brinson.BUCKET_NAMES`.
BUCKET_INDEX_CODES: tuple[str, ...] = (CSI300, CSI500, CSI1000, CSI2000, MICROCAP)
#: Default windows: the 2023 crowding year and the 2024 crash (to the 7 February low).
DEFAULT_WINDOWS: dict[str, tuple[str, str]] = {
    "2023": ("2023-01-01", "2023-12-31"),
    "crash_2024": ("2024-01-01", "2024-02-07"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributionConfig:
    """Settings of the attribution of engine results.

    Attributes
    ----------
    exposure
        Windows of the style exposures (:class:`~backtest.analytics.factors.ExposureConfig`).
    regression_weighting
        Weights of the daily cross-sectional regressions: ``"sqrt_cap"`` (default), ``"cap"``
        or ``"equal"``.
    min_regression_stocks
        Fewer stocks with a return give no factor returns that day (all ``specific``); >= 2.
    unexplained_tolerance
        Largest ``|other|`` (return on previous equity) on any day before the attribution is
        refused as incomplete, in [0, 0.01]; default 1e-8.
    """

    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    regression_weighting: RegressionWeighting = "sqrt_cap"
    min_regression_stocks: int = 20
    unexplained_tolerance: float = 1e-8

    def __post_init__(self) -> None:
        if self.regression_weighting not in ("sqrt_cap", "cap", "equal"):
            raise ValueError(
                "regression_weighting must be 'sqrt_cap', 'cap' or 'equal'; got "
                f"{self.regression_weighting!r}"
            )
        if not (isinstance(self.min_regression_stocks, int) and self.min_regression_stocks >= 2):
            raise ValueError(
                f"min_regression_stocks must be an int >= 2; got {self.min_regression_stocks!r}"
            )
        if not 0.0 <= self.unexplained_tolerance <= 0.01:
            raise ValueError(
                f"unexplained_tolerance must be in [0, 0.01]; got {self.unexplained_tolerance!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketAttributionInputs:
    """Per-market arrays shared by every book's attribution (compute once per market).

    ``stock_returns (days, n)`` are mark-based (see the module docs); ``share_ratio`` is
    ``adj_factor_t / adj_factor_t-1`` (1 where either is missing), the engine's share
    scaling; ``bucket_codes`` the cap bucket of each stock at the start of each day;
    ``market_weights`` float caps at ``t-1``; ``benchmark_weights[code]`` the index weights
    at ``t-1`` (0 on day 0);
    ``index_returns[code]`` from the index closes; ``exposures`` and ``factor_returns`` the
    factor model estimated on the market.
    """

    dates: NDArray[np.datetime64]
    symbols: NDArray[Any]
    mark: NDArray[np.float64]
    share_ratio: NDArray[np.float64]
    stock_returns: NDArray[np.float64]
    bucket_codes: NDArray[np.int8]
    market_weights: NDArray[np.float64]
    benchmark_weights: Mapping[str, NDArray[np.float64]]
    index_returns: Mapping[str, NDArray[np.float64]]
    exposures: Exposures
    factor_returns: FactorReturns


def _lag(panel: NDArray[np.float64], fill: float = 0.0) -> NDArray[np.float64]:
    out = np.full(panel.shape, fill, dtype=np.float64)
    out[1:] = panel[:-1]
    return out


def prepare_market(
    market: MarketData, config: AttributionConfig | None = None
) -> MarketAttributionInputs:
    """Compute the per-market inputs of the attribution (stock returns, buckets, factor model).

    Vectorised over the whole ``(days, n)`` market; call once and share across books.
    """
    settings = config or AttributionConfig()
    days, n = market.shape
    mark = np.asarray(market.features().mark, dtype=np.float64)
    adj = market["adj_factor"]
    with np.errstate(invalid="ignore", divide="ignore"):
        step = adj[1:] / adj[:-1]
        ratio = np.where(np.isfinite(step), step, 1.0)
        previous = mark[:-1]
        carried = np.where(previous > 0.0, mark[1:] * ratio / previous - 1.0, np.nan)
    stock_returns = np.vstack([np.full((min(days, 1), n), np.nan), carried])
    close = market["close"]
    traded = np.isfinite(close) & ~market["suspended"] & np.isfinite(_lag(close, np.nan))
    regression_returns = np.where(traded, stock_returns, np.nan)
    float_cap = np.asarray(market["float_cap"], dtype=np.float64)
    amount = np.asarray(market["amount"], dtype=np.float64)
    exposures = style_exposures(regression_returns, float_cap, amount, config=settings.exposure)
    estimated = factor_returns(
        regression_returns,
        exposures,
        float_cap,
        weighting=settings.regression_weighting,
        min_stocks=settings.min_regression_stocks,
    )
    start_weights = {
        code: _normalised(_lag(np.asarray(weights, dtype=np.float64)))
        for code, weights in market.index_weights.items()
    }
    memberships = [
        start_weights[code] > 0.0 if code in start_weights else np.zeros((days, n), dtype=bool)
        for code in BUCKET_INDEX_CODES
    ]
    returns_by_index = {
        code: index_returns(np.asarray(closes, dtype=np.float64))
        for code, closes in market.index_closes.items()
    }
    return MarketAttributionInputs(
        dates=np.asarray(market.dates, dtype="datetime64[D]"),
        symbols=np.asarray(market.symbols),
        mark=mark,
        share_ratio=np.vstack([np.ones((min(days, 1), n)), ratio]),
        stock_returns=stock_returns,
        bucket_codes=cap_bucket_codes(memberships),
        market_weights=np.nan_to_num(_lag(float_cap), nan=0.0),
        benchmark_weights=start_weights,
        index_returns=returns_by_index,
        exposures=exposures,
        factor_returns=estimated,
    )


def _normalised(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    clean = np.nan_to_num(weights, nan=0.0)
    total = clean.sum(axis=1, keepdims=True)
    return np.divide(clean, total, out=np.zeros_like(clean), where=total > 0.0)


def index_returns(closes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Daily returns of a close series, carrying the last close over gaps (0 on day 0).

    >>> index_returns(np.array([100.0, 102.0, np.nan, 91.8])).round(6).tolist()
    [0.0, 0.02, 0.0, -0.1]
    """
    filled = closes.copy()
    for t in range(1, filled.size):  # once per session, not per stock
        if not np.isfinite(filled[t]):
            filled[t] = filled[t - 1]
    out = np.zeros(filled.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = filled[1:] / filled[:-1] - 1.0
    return np.where(np.isfinite(out), out, 0.0)


def book_benchmark(result: Result) -> Benchmark:
    """Return the benchmark a result carries (from its book); refuse a result without one.

    Raises
    ------
    ValueError
        The result has no benchmark: its book declared none (a strategy without
        :meth:`~backtest.engine.strategy.Strategy.benchmark` run without
        ``Book(benchmark=...)``), or it was saved before benchmarks were saved.
    """
    if result.benchmark is None:
        raise ValueError(
            f"book {result.book!r} has no benchmark to be measured against: run it as "
            "Book(name=..., strategy=..., benchmark=Benchmark.index(code) | Benchmark.cash() | "
            "Benchmark.from_returns(...)), or measure this result with "
            "result.replace(benchmark=...)"
        )
    return result.benchmark


def session_rows(result: Result, market_dates: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Return the market row of each of a result's sessions (they must be consecutive)."""
    dates = result.daily["date"].to_numpy().astype("datetime64[D]")
    axis = np.asarray(market_dates, dtype="datetime64[D]")
    index = np.searchsorted(axis, dates)
    inside = index < axis.size
    if not (np.all(inside) and np.array_equal(axis[index], dates)):
        raise ValueError(
            f"book {result.book!r}: its sessions {dates[:1]}..{dates[-1:]} are not sessions of "
            f"the market ({axis[:1]}..{axis[-1:]}); attribute a result with the market it ran on"
        )
    if dates.size > 1 and not np.all(np.diff(index) == 1):
        raise ValueError(f"book {result.book!r}: its sessions skip market sessions")
    return np.asarray(index, dtype=np.int64)
