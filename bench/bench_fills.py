"""Benchmark the fill kernel: one call on 5,000 stocks, and 484 calls (2023-2024's sessions).

Workload: a seeded cross-section of N stocks (default 5,000) with a realistic mix: about a third
with an order (buys and sells), 2 % suspended, 3 % locked at a limit, STAR lots on 10 %, a
participation cap of 10 %, square-root impact and 2023-24 costs; enough cash that some buys are
cash-limited. Times (best of R repeats, warm, after the JIT compile or cache load):

- one ``fill_session_nb`` call (one book);
- ``T`` calls (default 484, one per session of 2023-2024), each on a freshly drawn session;
- four books in one call against four one-book calls (the Exchange's batching);
- the plain-Python twin ``fill_session_py`` on the same inputs (one call, and extrapolated to T),
  and the ratio twin / kernel.

Prints figures, never asserts on time. Usage: ``python bench/bench_fills.py [N T] [--repeat R]``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from backtest.execution.fill_nb import (
    BookOrders,
    Charges,
    StockSession,
    empty_fill_out,
    fill_session_nb,
)
from backtest.execution.fill_py import fill_session_py
from backtest.rules.presets import CHINA_A_2023_2024

Session = tuple[StockSession, Charges, BookOrders]


def make_session(n: int, rng: np.random.Generator, books: int = 1) -> Session:
    """Return the kernel's records for one random but realistic session (``books`` books)."""
    boards = rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05])
    lot, minimum = CHINA_A_2023_2024.equities.lot_arrays(boards)
    reference = np.exp(rng.normal(2.5, 0.8, n))
    pct = np.where(boards == 0, 0.10, 0.20)
    locked = rng.random(n) < 0.03
    volume = np.exp(rng.normal(15.0, 1.2, n))
    market = StockSession(
        reference_price=reference,
        limit_up=np.round(reference * (1 + pct), 2),
        limit_down=np.round(reference * (1 - pct), 2),
        locked_up=locked & (rng.random(n) < 0.5),
        locked_down=locked & (rng.random(n) < 0.5),
        suspended=rng.random(n) < 0.02,
        day_volume=volume,
        volatility=np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0.01, 0.06, n)),
        lot_size=np.ascontiguousarray(lot, dtype=np.int64),
        min_lot=np.ascontiguousarray(minimum, dtype=np.int64),
    )
    charges = Charges(
        commission_rate=CHINA_A_2023_2024.equities.commission_rate,
        min_commission=CHINA_A_2023_2024.equities.min_commission_cny,
        stamp_duty_rate=0.0005,
        transfer_fee_rate=0.00001,
        impact_coefficient=0.8,
        fallback_volatility=0.02,
    )
    orders, sellables = [], []
    for _ in range(books):
        held = (rng.integers(0, 50, n) * 100) * (rng.random(n) < 0.5)
        sellables.append(np.where(rng.random(n) < 0.9, held, 0).astype(np.int64))
        side = rng.choice([-1, 0, 0, 0, 1], n)
        orders.append(np.where(side < 0, -held, side * rng.integers(1, 80, n) * 100))
    cap = np.floor(0.10 * volume).astype(np.int64)
    book_orders = BookOrders(
        order_shares=np.array(orders, dtype=np.int64),
        sellable_shares=np.array(sellables),
        cash_available=np.full(books, 2e7),
        cap_shares=np.tile(cap, (books, 1)),
        impact_base_shares=np.zeros((books, n)),
        impact_volume=np.tile(volume, (books, 1)),
    )
    return market, charges, book_orders


def call(kernel: Any, session: Session) -> Any:
    """One kernel call on ``session``; return its output record."""
    out = empty_fill_out(*session[2].order_shares.shape)
    kernel(*session, out)
    return out


def split(session: Session) -> list[Session]:
    """The one-book sessions of a several-book session."""
    market, charges, orders = session
    rows = orders.order_shares.shape[0]
    return [
        (market, charges, BookOrders(*(field[b : b + 1] for field in orders))) for b in range(rows)
    ]


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
    call(fill_session_nb, inputs[0])
    first = time.perf_counter() - start
    one = best_of(repeat, lambda: call(fill_session_nb, inputs[0]))
    every = best_of(max(1, repeat // 2), lambda: [call(fill_session_nb, x) for x in inputs])
    twin = best_of(max(1, repeat // 2), lambda: call(fill_session_py, inputs[0]))
    four = make_session(n, rng, books=4)
    four_one_call = best_of(repeat, lambda: call(fill_session_nb, four))
    four_calls = best_of(repeat, lambda: [call(fill_session_nb, s) for s in split(four)])
    statuses = np.bincount(call(fill_session_nb, inputs[0]).out_status[0], minlength=10)
    print(f"fill kernel, {n:,} stocks, {sessions} sessions (best of {repeat})")
    print(f"  first call (compile or cache load): {first * 1e3:9.1f} ms")
    print(f"  one kernel call:                    {one * 1e3:9.3f} ms")
    print(f"  {sessions} kernel calls:                  {every * 1e3:9.1f} ms")
    print(f"  one Python-twin call:               {twin * 1e3:9.1f} ms")
    print(f"  {sessions} twin calls (extrapolated):     {twin * sessions:9.1f} s")
    print(f"  twin / kernel ratio:                {twin / one:9.0f} x")
    print(f"  four books, one call:               {four_one_call * 1e3:9.3f} ms")
    print(f"  four books, four calls:             {four_calls * 1e3:9.3f} ms")
    print(f"  statuses of session 0 (codes 0-9):  {statuses.tolist()}")


if __name__ == "__main__":
    main(sys.argv[1:])
