"""Benchmark the fill kernel: one call on 5,000 stocks, and 484 calls (2023-2024's sessions).

Workload: a seeded cross-section of N stocks (default 5,000) with a realistic mix: about a third
with an order (buys and sells), 2 % suspended, 3 % locked at a limit, STAR lots on 10 %, a
participation cap of 10 %, square-root impact and 2023-24 costs; enough cash that some buys are
cash-limited. Times (best of R repeats, warm, after the JIT compile or cache load):

- one ``fill_orders_nb`` call;
- ``T`` calls (default 484, one per session of 2023-2024), each on a freshly drawn session;
- the plain-Python twin ``fill_orders_py`` on the same inputs (one call, and extrapolated to T),
  and the ratio twin / kernel.

Prints figures, never asserts on time. Usage: ``python bench/bench_fills.py [N T] [--repeat R]``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from backtest.engine.fills_nb import fill_orders_nb, fill_orders_py
from backtest.rules.presets import CHINA_A_2023_2024


def make_session(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    """Return the kernel's arguments for one random but realistic session."""
    boards = rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05])
    lot, minimum = CHINA_A_2023_2024.equities.lot_arrays(boards)
    reference = np.exp(rng.normal(2.5, 0.8, n))
    held = (rng.integers(0, 50, n) * 100) * (rng.random(n) < 0.5)
    sellable = np.where(rng.random(n) < 0.9, held, 0)
    side = rng.choice([-1, 0, 0, 0, 1], n)
    order = np.where(side < 0, -held, side * rng.integers(1, 80, n) * 100).astype(np.int64)
    pct = np.where(boards == 0, 0.10, 0.20)
    up = np.round(reference * (1 + pct), 2)
    down = np.round(reference * (1 - pct), 2)
    locked = rng.random(n) < 0.03
    volume = np.exp(rng.normal(15.0, 1.2, n))
    volatility = np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0.01, 0.06, n))
    return (
        order,
        held.astype(np.int64),
        sellable.astype(np.int64),
        reference,
        up,
        down,
        locked & (side > 0),
        locked & (side < 0),
        rng.random(n) < 0.02,
        volume,
        volatility,
        lot,
        minimum,
        2e7,  # cash
        0.10,  # participation cap
        0.8,  # impact coefficient
        0.02,  # fallback volatility
        CHINA_A_2023_2024.equities.commission_rate,
        CHINA_A_2023_2024.equities.min_commission_cny,
        0.0005,
        0.00001,
    )


def best_of(repeat: int, run: Any) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 5
    if "--repeat" in argv:
        args.remove(str(repeat))
    n, sessions = (int(args[0]), int(args[1])) if len(args) >= 2 else (5_000, 484)
    rng = np.random.default_rng(42)
    inputs = [make_session(n, rng) for _ in range(sessions)]
    start = time.perf_counter()
    fill_orders_nb(*inputs[0])
    first = time.perf_counter() - start
    one = best_of(repeat, lambda: fill_orders_nb(*inputs[0]))
    every = best_of(max(1, repeat // 2), lambda: [fill_orders_nb(*x) for x in inputs])
    twin = best_of(max(1, repeat // 2), lambda: fill_orders_py(*inputs[0]))
    statuses = np.bincount(fill_orders_nb(*inputs[0])[6], minlength=10)
    print(f"fill kernel, {n:,} stocks, {sessions} sessions (best of {repeat})")
    print(f"  first call (compile or cache load): {first * 1e3:9.1f} ms")
    print(f"  one kernel call:                    {one * 1e3:9.3f} ms")
    print(f"  {sessions} kernel calls:                  {every * 1e3:9.1f} ms")
    print(f"  one Python-twin call:               {twin * 1e3:9.1f} ms")
    print(f"  {sessions} twin calls (extrapolated):     {twin * sessions:9.1f} s")
    print(f"  twin / kernel ratio:                {twin / one:9.0f} x")
    print(f"  statuses of session 0 (codes 0-9):  {statuses.tolist()}")


if __name__ == "__main__":
    main(sys.argv[1:])
