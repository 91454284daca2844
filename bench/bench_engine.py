"""Benchmark the engine against a plain numba loop doing the same work (the floor).

Workload (the peer benchmark's, /work/shared/peer-bench): N stocks x T sessions of random-walk
OHLCV (``common.make_panel``, seed 42); every session, target equal weights (0.95 / K) in the
K = N / 10 names with the best 20-day return, decided at the close, filled at the next open
with costs, a 10 % participation cap and square-root impact. The floor is
``bench_numba.run_ref`` (one @njit kernel for everything) with REBAL=1, timed in this process.

Prints figures and ratios (never asserts on time):

- warm engine time, one book, vs the floor (targets: <= 1.3x floor and <= 0.5 s);
- four such books in one Exchange pass (target <= 3x one book);
- a first run in a fresh process including JIT / cache load (subprocess; targets: <= 5 s with
  the cache, <= 3 s with an empty one), with
  numba's on-disk cache and with an empty one (every kernel compiles);
- peak memory (ru_maxrss of fresh processes running one and four books, including the market;
  target <= 1 GB).

Usage: ``python bench/bench_engine.py [N T] [--repeat R]`` (default 5000 484), or
``python bench/bench_engine.py --store data/market.duckdb`` to time the same strategy on a built
store's market (engine figures only; the floor needs the NaN-free synthetic panel).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ["REBAL"] = "1"
PEER = Path(os.environ.get("PEER_BENCH", "/work/shared/peer-bench"))
sys.path.insert(0, str(PEER))

from backtest.engine import Context, Engine, EngineConfig, MarketData, Strategy  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class TopReturnParams:
    lookback: int = 20
    top: int = 500
    gross: float = 0.95


class TopReturn(Strategy[TopReturnParams]):
    """Equal weights in the ``top`` names by ``lookback``-session return, every session."""

    def on_bar(self, ctx: Context) -> None:
        closes = ctx.history("close", self.params.lookback + 1)
        if ctx.session_index < self.params.lookback:
            return
        signal = closes[-1] / closes[0] - 1.0
        signal = np.where(np.isnan(signal), -np.inf, signal)
        top = np.argpartition(-signal, self.params.top - 1)[: self.params.top]
        weights = np.zeros(signal.size)
        weights[top] = self.params.gross / self.params.top
        ctx.order_target_weights(weights)


def build_market(n: int, t: int) -> MarketData:
    import common  # the peer benchmark's data

    panel = common.make_panel(n, t)
    dates = np.busday_offset(np.datetime64("2023-01-03"), np.arange(t), roll="forward")
    # sorted codes, as a store returns them: half Shenzhen main board, half Shanghai main board
    symbols = [f"{i:06d}" if i < n // 2 else f"{600000 + i:06d}" for i in range(n)]
    return MarketData.from_arrays(
        dates=dates,
        symbols=symbols,
        open=panel["open"],
        high=panel["high"],
        low=panel["low"],
        close=panel["close"],
        volume=panel["volume"],
    )


CONFIG = EngineConfig(
    initial_cash=1e8, participation_cap=0.10, impact_coefficient=0.5, execution_price="open"
)


def run_books(market: MarketData, books: int, top: int) -> tuple[float, dict[str, float]]:
    strategies = {
        f"book{b}": TopReturn(TopReturnParams(top=top, lookback=20 - b)) for b in range(books)
    }
    start = time.perf_counter()
    results = Engine(CONFIG).run(market, strategies)
    seconds = time.perf_counter() - start
    return seconds, {k: float(r.daily["equity"][-1]) for k, r in results.items()}


def first_run(n: int, t: int, books: int) -> None:
    """Child process: time the first engine run (JIT or cache load included), peak memory."""
    market = build_market(n, t)
    seconds, equity = run_books(market, books, n // 10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("CHILD " + json.dumps({"first_run_s": seconds, "peak_rss_mb": peak, "equity": equity}))


def child(n: int, t: int, books: int, *, cold_cache: bool = False) -> dict[str, float]:
    """Run :func:`first_run` in a fresh interpreter and return its figures.

    ``cold_cache`` points numba at an empty cache folder, so every kernel compiles (the very
    first run after installing); otherwise the on-disk cache of earlier runs is used.
    """
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if cold_cache:
            env["NUMBA_CACHE_DIR"] = cache
        done = subprocess.run(
            [sys.executable, __file__, str(n), str(t), "--first-run", str(books)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
    return json.loads(done.stdout.split("CHILD ", 1)[1])


def store_bench(path: str, repeat: int) -> None:
    """Time one and four books on a store's whole market (no floor)."""
    from backtest.market.store import Store

    start = time.perf_counter()
    with Store(path, read_only=True) as store:
        market = MarketData.from_store(store)
    load = time.perf_counter() - start
    days, n = market.shape
    top = max(n // 10, 1)
    run_books(market, 1, top)  # warm
    one = min(run_books(market, 1, top)[0] for _ in range(repeat))
    four = min(run_books(market, 4, top)[0] for _ in range(max(1, repeat - 1)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    figures = {
        "store": path,
        "sessions": days,
        "symbols": n,
        "load_market_s": round(load, 3),
        "engine_one_book_warm_s": round(one, 3),
        "engine_four_books_one_pass_s": round(four, 3),
        "peak_rss_mb_this_process": round(peak, 1),
    }
    for key, value in figures.items():
        print(f"{key:32s} {value}")
    print("RESULT " + json.dumps(figures))


def main() -> None:
    if "--store" in sys.argv:
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
        store_bench(sys.argv[sys.argv.index("--store") + 1], repeat)
        return
    args = [a for a in sys.argv[1:3] if not a.startswith("--")]
    n, t = (int(args[0]), int(args[1])) if len(args) >= 2 else (5000, 484)
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    if "--first-run" in sys.argv:
        first_run(n, t, int(sys.argv[sys.argv.index("--first-run") + 1]))
        return
    import bench_numba
    import common

    k = n // 10
    print(f"workload: {n} stocks x {t} sessions, top {k} by 20-day return, daily rebalance")
    fresh = child(n, t, 1)
    cold = child(n, t, 1, cold_cache=True)
    fresh_four = child(n, t, 4)
    panel = common.make_panel(n, t)
    floor_times = []
    for _ in range(repeat + 1):
        (equity_floor, _stats), seconds, _cpu = common.timed(bench_numba.run_ref, panel, k)
        floor_times.append(seconds)
    floor = min(floor_times[1:])
    del panel
    market = build_market(n, t)
    run_books(market, 1, k)  # warm
    one = min(run_books(market, 1, k)[0] for _ in range(repeat))
    four_times = []
    for _ in range(max(1, repeat - 1)):
        seconds, equity = run_books(market, 4, k)
        four_times.append(seconds)
    four = min(four_times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    figures = {
        "floor_warm_s": round(floor, 3),
        "engine_one_book_warm_s": round(one, 3),
        "ratio_engine_to_floor": round(one / floor, 2),
        "engine_four_books_one_pass_s": round(four, 3),
        "ratio_four_books_to_one": round(four / one, 2),
        "first_run_fresh_process_s": round(fresh["first_run_s"], 3),
        "first_run_cold_numba_cache_s": round(cold["first_run_s"], 3),
        "peak_rss_mb_fresh_one_book": round(fresh["peak_rss_mb"], 1),
        "peak_rss_mb_fresh_four_books": round(fresh_four["peak_rss_mb"], 1),
        "peak_rss_mb_this_process": round(peak, 1),
        "floor_final_equity": round(float(equity_floor[-1]), 2),
        "engine_final_equity_book0": round(equity["book0"], 2),
        "loadavg": open("/proc/loadavg").read().split()[0],
    }
    targets = {
        "engine <= 1.3x floor": one <= 1.3 * floor,
        "engine <= 0.5 s": one <= 0.5,
        "four books in one pass <= 3x one book": four <= 3.0 * one,
        "first run <= 5 s": fresh["first_run_s"] <= 5.0,
        "first run, cold numba cache <= 3 s": cold["first_run_s"] <= 3.0,
        "peak memory <= 1 GB (fresh, one book)": fresh["peak_rss_mb"] <= 1024,
        "peak memory <= 1 GB (fresh, four books)": fresh_four["peak_rss_mb"] <= 1024,
    }
    for key, value in figures.items():
        print(f"{key:32s} {value}")
    for key, ok in targets.items():
        print(f"target {key:40s} {'met' if ok else 'MISSED'}")
    print("RESULT " + json.dumps(figures | {"targets": targets}))


if __name__ == "__main__":
    main()
