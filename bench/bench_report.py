"""Benchmark the attribution, compare() and the HTML report on a full-size market.

Workload: N stocks x T sessions (default 5000 x 484, the 2023-2024 A-share market) of seeded
random walks with a heavy-tailed cap distribution; CSI 300/500/1000/2000 and microcap 400
membership by cap rank each day (cap weights; microcap equal weights); index closes from the
start-of-day weights. Four books run in one engine pass: the 400 smallest equal-weighted
(rebalanced every 5 sessions) and three 20-day momentum books. Then times:

- ``prepare_market`` (mark returns, buckets, style exposures, daily factor regressions): once
  per market;
- ``attribute_book`` per book (Brinson by bucket, factors, lines, identity checks);
- ``compare`` of the four books; ``write_report`` (the tear sheet: tables and figures, PNG);
- ``capacity_curves`` of the microcap book at 0.1, 1, 5 and 10 bn CNY (four engine runs in one
  pass), the price of showing a capacity curve in the report.

Prints figures (never asserts on time). Usage: ``python bench/bench_report.py [N T]``.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backtest.analytics.attribution import attribute_book
from backtest.analytics.attribution_market import prepare_market
from backtest.analytics.compare import compare
from backtest.analytics.report import write_report
from backtest.apps.capacity import capacity_curves
from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP
from backtest.engine import Benchmark, Book, Context, Engine, EngineConfig, MarketData, Strategy
from backtest.runs.spec import BookSpec


def build_market(n: int, t: int, seed: int = 7) -> MarketData:
    """Random walks with caps, volumes and five indices by cap rank (see the module docs)."""
    rng = np.random.default_rng(seed)
    dates = np.busday_offset(np.datetime64("2023-01-03"), np.arange(t), roll="forward")
    symbols = [f"{i:06d}" if i < n // 2 else f"{600000 + i:06d}" for i in range(n)]
    volatility = rng.uniform(0.01, 0.035, n)
    market_move = rng.normal(0.0, 0.01, (t, 1))
    returns = market_move + rng.standard_normal((t, n)) * volatility
    close = np.round(
        np.exp(rng.uniform(np.log(3), np.log(80), n)) * np.exp(np.cumsum(returns, 0)), 2
    )
    close = np.maximum(close, 0.5)
    shares = np.exp(rng.normal(np.log(3e8), 1.2, n))
    float_cap = close * shares
    volume = np.round(shares * rng.uniform(0.002, 0.03, n) * rng.lognormal(0, 0.3, (t, n)))
    rank = np.argsort(np.argsort(-float_cap, axis=1), axis=1)
    weights = {}
    for code, (low, high) in {
        CSI300: (0, 300),
        CSI500: (300, 800),
        CSI1000: (800, 1800),
        CSI2000: (1800, 3800),
    }.items():
        member = (rank >= low) & (rank < min(high, n))
        capped = np.where(member, float_cap, 0.0)
        weights[code] = capped / np.maximum(capped.sum(axis=1, keepdims=True), 1.0)
    micro = rank >= n - 400
    weights[MICROCAP] = micro / micro.sum(axis=1, keepdims=True)
    stock_returns = np.vstack([np.zeros((1, n)), close[1:] / close[:-1] - 1.0])
    closes = {}
    for code, w in weights.items():
        daily = np.concatenate(([0.0], (w[:-1] * stock_returns[1:]).sum(axis=1)))
        closes[code] = 1000.0 * np.cumprod(1.0 + daily)
    return MarketData.from_arrays(
        dates=dates,
        symbols=symbols,
        close=close,
        volume=volume,
        amount=volume * close,
        float_cap=float_cap,
        total_cap=float_cap * 1.4,
        index_weights=weights,
        index_closes=closes,
    )


@dataclass(frozen=True, kw_only=True)
class SmallestParams:
    names: int = 400
    every: int = 5


class Smallest(Strategy[SmallestParams]):
    """Equal weights in the ``names`` smallest stocks by float cap, every ``every`` sessions."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index % self.params.every:
            return
        cap = ctx.history("float_cap", 1)[-1]
        smallest = np.argsort(np.where(np.isfinite(cap), cap, np.inf))[: self.params.names]
        weights = np.zeros(cap.size)
        weights[smallest] = 0.98 / self.params.names
        ctx.order_target_weights(weights)


@dataclass(frozen=True, kw_only=True)
class MomentumParams:
    lookback: int = 20
    top: int = 500


class Momentum(Strategy[MomentumParams]):
    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index < self.params.lookback:
            return
        closes = ctx.history("adj_close", self.params.lookback + 1)
        signal = np.nan_to_num(closes[-1] / closes[0] - 1.0, nan=-np.inf)
        top = np.argpartition(-signal, self.params.top - 1)[: self.params.top]
        weights = np.zeros(signal.size)
        weights[top] = 0.95 / self.params.top
        ctx.order_target_weights(weights)


def main(n: int, t: int) -> None:
    start = time.perf_counter()
    market = build_market(n, t)
    built = time.perf_counter() - start
    strategies = {"microcap": Smallest(SmallestParams())} | {
        f"momentum{k}": Momentum(MomentumParams(lookback=20 - 5 * k)) for k in range(3)
    }
    csi1000 = Benchmark.index(CSI1000)
    books = [Book(name=n, strategy=s, benchmark=csi1000) for n, s in strategies.items()]
    start = time.perf_counter()
    results = Engine(EngineConfig(initial_cash=1e8)).run(market, books)
    engine = time.perf_counter() - start
    start = time.perf_counter()
    inputs = prepare_market(market)
    prepared = time.perf_counter() - start
    per_book = []
    for result in results.values():
        start = time.perf_counter()
        attribute_book(result, inputs)
        per_book.append(time.perf_counter() - start)
    start = time.perf_counter()
    compare(results, market)
    compared = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = write_report(results, market, Path(folder) / "report.html")
        reported = time.perf_counter() - start
        size = path.stat().st_size
    start = time.perf_counter()
    microcap = BookSpec(
        name="microcap", strategy=Smallest, params=SmallestParams(), benchmark=csi1000
    )
    capacity_curves((market, [microcap]))
    capacity = time.perf_counter() - start
    figures = {
        "stocks x sessions": f"{n} x {t}",
        "build_market_s": built,
        "engine_4_books_s": engine,
        "prepare_market_s": prepared,
        "attribute_book_s (mean of 4)": float(np.mean(per_book)),
        "compare_4_books_s": compared,
        "write_report_4_books_s (incl. prepare)": reported,
        "report_size_kb": size / 1024,
        "capacity_curve_1_book_4_sizes_s": capacity,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    for key, value in figures.items():
        print(f"{key:40s} {value:.3f}" if isinstance(value, float) else f"{key:40s} {value}")


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*(arguments or [5000, 484]))
