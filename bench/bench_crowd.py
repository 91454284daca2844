"""Benchmark the shared market: N books as one crowd against the same N books independent.

Workload: the peer benchmark's panel (``bench_engine.build_market``, N stocks x T sessions,
seed 42) and its strategy (equal weights in the top 10 % by trailing return, every session),
with B books whose lookbacks differ (``10 + b % 11`` sessions), so their holdings overlap
heavily. Each B is run twice in the same process, one after the other:

- ``independent``: the defaults (each book alone in the market);
- ``shared``: ``SharedProRata(0.1)`` + ``CrowdSquareRoot(0.5, participation_cap=0.1)`` +
  ``Propagator(coefficient=0.5)`` (the crowd shares the cap, pays the crowd's impact and moves
  later prices).

Prints seconds per mode and their ratio (never asserts on time; the issue's target is 100
books x 484 x 5,000 in <= 30 s on this 2-core machine), the load average, and the mean final
equity of each mode (not a direction test: a momentum crowd buying the same names also marks
its own holdings up while it buys).

Usage: ``python bench/bench_crowd.py [N T] [--books 20,100] [--repeat R]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_engine import TopReturn, TopReturnParams, build_market

from backtest.engine import Engine, EngineConfig, MarketData
from backtest.execution import (
    CrowdSquareRoot,
    Propagator,
    SharedProRata,
)

INDEPENDENT = EngineConfig(
    initial_cash=1e8, participation_cap=0.10, impact_coefficient=0.5, execution_price="open"
)
SHARED = EngineConfig(
    initial_cash=1e8,
    execution_price="open",
    liquidity=SharedProRata(0.10),
    impact=CrowdSquareRoot(0.5, participation_cap=0.10),
    propagator=Propagator(coefficient=0.5),
)


def run(market: MarketData, config: EngineConfig, books: int, top: int) -> tuple[float, float]:
    strategies = {
        f"book{b}": TopReturn(TopReturnParams(top=top, lookback=10 + b % 11)) for b in range(books)
    }
    start = time.perf_counter()
    results = Engine(config).run(market, strategies)
    seconds = time.perf_counter() - start
    equity = float(np.mean([r.daily["equity"][-1] for r in results.values()]))
    return seconds, equity


def main() -> None:
    args = [a for a in sys.argv[1:3] if not a.startswith("--")]
    n, t = (int(args[0]), int(args[1])) if len(args) >= 2 else (5000, 484)
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    counts = (
        [int(b) for b in sys.argv[sys.argv.index("--books") + 1].split(",")]
        if "--books" in sys.argv
        else [20, 100]
    )
    market = build_market(n, t)
    top = n // 10
    run(build_market(200, 40), SHARED, 2, 20)  # compile / load the kernels
    run(build_market(200, 40), INDEPENDENT, 2, 20)
    figures: dict[str, float | str] = {"stocks": n, "sessions": t}
    for books in counts:
        for name, config in (("independent", INDEPENDENT), ("shared", SHARED)):
            best = min((run(market, config, books, top) for _ in range(repeat)), key=lambda r: r[0])
            figures[f"{name}_{books}_books_s"] = round(best[0], 2)
            figures[f"{name}_{books}_books_mean_final_equity"] = round(best[1], 0)
            print(f"{name:12s} {books:4d} books  {best[0]:8.2f} s  mean equity {best[1]:,.0f}")
        ratio = figures[f"shared_{books}_books_s"] / figures[f"independent_{books}_books_s"]
        figures[f"ratio_shared_to_independent_{books}_books"] = round(float(ratio), 2)
    figures["loadavg"] = open("/proc/loadavg").read().split()[0]
    if 100 in counts:
        met = float(figures["shared_100_books_s"]) <= 30.0
        print(f"target 100 books <= 30 s: {'met' if met else 'MISSED'}")
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
