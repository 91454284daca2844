"""The long-only books of 2023-2024: index tracker, microcap, index-enhanced.

Each book is a plain :class:`~backtest.engine.strategy.Strategy` subclass whose parameters are a
frozen, keyword-only dataclass validated when the book is built: a bad parameter is refused with
a message naming it and the allowed range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP
from backtest.engine.benchmark import Benchmark
from backtest.engine.strategy import Context, Strategy
from strategies.construction import enhanced_weights, limit_turnover, smallest_equal_weight
from strategies.signals import combine_scores, log_size, reversal, turnover

__all__ = [
    "BENCHMARKS",
    "AlphaWeights",
    "IndexEnhanced",
    "IndexEnhancedParams",
    "IndexTracker",
    "IndexTrackerParams",
    "Microcap",
    "MicrocapParams",
    "tradable_mask",
]

#: Benchmarks a book may name, and the index each stands for.
BENCHMARKS: dict[str, str] = {
    CSI300: "CSI 300",
    CSI500: "CSI 500",
    CSI1000: "CSI 1000",
    CSI2000: "CSI 2000",
    MICROCAP: "Microcap 400",
}


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


def _check_benchmark(code: str, allowed: tuple[str, ...]) -> None:
    if code not in allowed:
        names = ", ".join(f"{c} ({BENCHMARKS[c]})" for c in allowed)
        raise ValueError(f"benchmark must be one of {names}; got {code!r}")


def tradable_mask(ctx: Context) -> np.ndarray:
    """Stocks a book may buy at the next open: priced today, not suspended, not ST."""
    close = ctx.history("close", 1)[-1]
    suspended = ctx.history("suspended", 1)[-1]
    is_st = ctx.history("is_st", 1)[-1]
    return np.isfinite(close) & ~suspended & ~is_st


def _is_rebalance_day(ctx: Context, every: int) -> bool:
    return ctx.session_index % every == 0


@dataclass(frozen=True, kw_only=True)
class IndexTrackerParams:
    """Hold the benchmark at its weights.

    Attributes
    ----------
    benchmark
        Index code (``"000905"`` CSI 500, ...).
    gross
        Fraction of equity invested (the rest is cash for costs), in (0, 1].
    rebalance_every
        Sessions between rebalances (1 = daily).
    """

    benchmark: str = CSI500
    gross: float = 0.99
    rebalance_every: int = 5

    def __post_init__(self) -> None:
        _check_benchmark(self.benchmark, tuple(BENCHMARKS))
        _check("gross", self.gross, 1e-6, 1.0)
        _check("rebalance_every", self.rebalance_every, 1, 250)


class IndexTracker(Strategy[IndexTrackerParams]):
    """The baseline: an index fund holding the benchmark at its published weights."""

    def benchmark(self) -> Benchmark:
        """The index it tracks."""
        return Benchmark.index(self.params.benchmark)

    def on_bar(self, ctx: Context) -> None:
        if not _is_rebalance_day(ctx, self.params.rebalance_every):
            return
        weights = ctx.index_weights(self.params.benchmark) * tradable_mask(ctx)
        if weights.sum() > 0:
            ctx.order_target_weights(weights / weights.sum() * self.params.gross)


@dataclass(frozen=True, kw_only=True)
class MicrocapParams:
    """The 400 smallest stocks, equal weight.

    Attributes
    ----------
    names
        How many of the smallest stocks to hold.
    gross
        Fraction of equity invested, in (0, 1].
    rebalance_every
        Sessions between rebalances (the crowded 2023 products rebalanced daily to weekly).
    """

    names: int = 400
    gross: float = 0.98
    rebalance_every: int = 5

    def __post_init__(self) -> None:
        _check("names", self.names, 1, 5000)
        _check("gross", self.gross, 1e-6, 1.0)
        _check("rebalance_every", self.rebalance_every, 1, 250)


class Microcap(Strategy[MicrocapParams]):
    """2023's most crowded trade: the smallest listed stocks by total cap, equal-weighted.

    Stands for the microcap quant products and the "small-cap" DMA sleeves that tracked Wind's
    microcap index (8841431) in 2023; it earns the size premium and owns its liquidity risk.
    """

    def benchmark(self) -> Benchmark:
        """The microcap index (``MICRO400``), the index such products were sold against."""
        return Benchmark.index(MICROCAP)

    def on_bar(self, ctx: Context) -> None:
        if not _is_rebalance_day(ctx, self.params.rebalance_every):
            return
        cap = ctx.history("total_cap", 1)[-1]
        weights = smallest_equal_weight(cap, tradable_mask(ctx), self.params.names)
        ctx.order_target_weights(weights * self.params.gross)


@dataclass(frozen=True, kw_only=True)
class AlphaWeights:
    """Weights of the alpha components (z-scored, summed): positive means 'buy more of it'.

    The defaults load on small size and low turnover, the two legs of the 2023 recipe that the
    calibrated scenario prices. Short-term reversal is the third leg on real data (set
    ``reversal=0.5`` there); its default here is 0 because the scenario's returns carry no
    reversal premium, so the signal would only add turnover: on the default scenario a weight
    of 0.1 costs the CSI 500 book about 4.6 points of 2023 excess in trading.
    """

    small_size: float = 1.0
    reversal: float = 0.0
    low_liquidity: float = 0.5

    def as_dict(self) -> dict[str, float]:
        return {
            "small_size": self.small_size,
            "reversal": self.reversal,
            "low_liquidity": self.low_liquidity,
        }


@dataclass(frozen=True, kw_only=True)
class IndexEnhancedParams:
    """An index-enhanced book: at least 80 % in benchmark members, the rest anywhere.

    Attributes
    ----------
    benchmark
        ``"000905"`` (CSI 500) or ``"000852"`` (CSI 1000).
    in_benchmark_share
        Weight held in benchmark members, in [0.8, 1] (the fund contracts' floor is 80 %).
    alpha
        Weights of the alpha components.
    tilt
        Strength of the in-benchmark tilt (``w ∝ b * max(0, 1 + tilt * z)``).
    max_active_weight
        Per-name active weight budget in the benchmark sleeve, in (0, 0.1].
    out_of_benchmark_names
        Names in the free sleeve (equal weight).
    max_turnover
        One-way turnover allowed per rebalance, in (0, 1].
    reversal_window, liquidity_window
        Lookbacks of the reversal and turnover signals, in sessions.
    gross
        Fraction of equity invested.
    rebalance_every
        Sessions between rebalances.
    """

    benchmark: Literal["000905", "000852"] = "000905"  # CSI 500
    in_benchmark_share: float = 0.8
    alpha: AlphaWeights = field(default_factory=AlphaWeights)
    tilt: float = 1.0
    max_active_weight: float = 0.005
    out_of_benchmark_names: int = 150
    max_turnover: float = 0.2
    reversal_window: int = 20
    liquidity_window: int = 20
    gross: float = 0.98
    rebalance_every: int = 10

    def __post_init__(self) -> None:
        _check_benchmark(self.benchmark, (CSI500, CSI1000))
        _check("in_benchmark_share", self.in_benchmark_share, 0.8, 1.0)
        _check("tilt", self.tilt, 0.0, 10.0)
        _check("max_active_weight", self.max_active_weight, 1e-6, 0.1)
        _check("out_of_benchmark_names", self.out_of_benchmark_names, 1, 2000)
        _check("max_turnover", self.max_turnover, 1e-6, 1.0)
        _check("reversal_window", self.reversal_window, 1, 250)
        _check("liquidity_window", self.liquidity_window, 1, 250)
        _check("gross", self.gross, 1e-6, 1.0)
        _check("rebalance_every", self.rebalance_every, 1, 250)


def enhanced_targets(ctx: Context, params: IndexEnhancedParams) -> np.ndarray:
    """Target weights (summing to 1) of the enhanced basket as of today's close.

    ``score = a_size * z(-ln float_cap) + a_rev * z(-r_window) + a_liq * z(-turnover)``, then
    :func:`strategies.construction.enhanced_weights` and the turnover limit against the book's
    current weights.
    """
    window = max(params.reversal_window, params.liquidity_window) + 1
    close = ctx.history("adj_close", window)
    float_cap = ctx.history("float_cap", window)
    amount = ctx.history("amount", params.liquidity_window)
    eligible = tradable_mask(ctx) & np.isfinite(float_cap[-1])
    components = {
        "small_size": -log_size(float_cap),
        "reversal": -reversal(close, params.reversal_window),
        "low_liquidity": -turnover(
            amount, float_cap[-params.liquidity_window :], params.liquidity_window
        ),
    }
    score = combine_scores(components, params.alpha.as_dict(), eligible)
    eligible &= np.isfinite(score)
    target = enhanced_weights(
        score,
        ctx.index_weights(params.benchmark),
        eligible,
        in_benchmark_share=params.in_benchmark_share,
        tilt=params.tilt,
        max_active_weight=params.max_active_weight,
        out_of_benchmark_names=params.out_of_benchmark_names,
    )
    portfolio = ctx.portfolio
    if portfolio.holdings_value <= 0:
        return target
    current = portfolio.weights / max(float(portfolio.weights.sum()), 1e-12)
    return limit_turnover(target, current, params.max_turnover)


class IndexEnhanced(Strategy[IndexEnhancedParams]):
    """A CSI 500 / CSI 1000 index-enhanced quant book of the 2023 kind.

    Stands for the "XX CSI 500 enhanced" private and public funds: at least 80 % of the basket
    in benchmark members, tilted by an alpha that loaded on small size, short-term reversal and
    low liquidity, and up to 20 % anywhere in the market, which in 2023 meant small and micro
    caps. That sleeve earned the 2023 excess and became its main loss in January 2024.
    """

    def benchmark(self) -> Benchmark:
        """The index it enhances: its excess is measured against it."""
        return Benchmark.index(self.params.benchmark)

    def on_bar(self, ctx: Context) -> None:
        if not _is_rebalance_day(ctx, self.params.rebalance_every):
            return
        ctx.order_target_weights(enhanced_targets(ctx, self.params) * self.params.gross)
