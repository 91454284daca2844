"""Benchmark a sweep: 16 cells of the six-book replay on 1 vs 2 Ray workers.

Run: ``python bench/bench_sweep.py [--n-stocks 300] [--end 2024-03-29]`` (targets, issue 13:
speed-up >= 1.8x on 2 workers; per-cell overhead against a plain ``run_on`` of the same spec
<= 10 %; the market held once per node: the object store's use about one market, whatever the
number of cells). The market is a scenario of ``--n-stocks`` in memory (the same for every
cell); the grid is impact (4) x participation (4). Nothing is saved (``runs_store=None``).

Figures printed: the plain run's seconds per cell (in this process, warm), each executor's wall
time and mean cell seconds in the workers, the speed-up, the per-cell overhead
(``wall * workers / cells / plain - 1``), the market's size, the object store's use (Ray's
memory summary) and each worker's peak resident memory.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time

from backtest.apps.replay import replay_spec
from backtest.apps.sweep import sweep
from backtest.apps.sweep_executors import CellOutcome, LocalExecutor, RayExecutor, require_ray
from backtest.apps.sweep_spec import Cell, SweepSpec
from backtest.runs.spec import ScenarioRef, run_on


def _spec(n_stocks: int, end: str) -> SweepSpec:
    return SweepSpec.from_dict(
        {
            "name": "bench",
            "market": {"source": "scenario", "n_stocks": n_stocks, "end": end, "seed": 7},
            "config": {"initial_cash": 1e8},
            "grid": {
                "config.impact_coefficient": [0.4, 0.8, 1.2, 1.6],
                "config.participation_cap": [0.02, 0.05, 0.10, 0.20],
            },
        }
    )


def _plasma_used_mb(ray: object) -> float:
    """The object store's use in MB (Ray's memory summary), NaN when it cannot be read."""
    try:
        from ray._private.internal_api import memory_summary

        text = memory_summary(stats_only=True)
    except Exception:
        return float("nan")
    for line in text.splitlines():
        if "Plasma memory usage" in line:
            return float(line.split("usage")[1].split("MiB")[0].strip())
    return float("nan")


def main() -> None:
    """Run the bench (module docs) and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-stocks", type=int, default=300)
    parser.add_argument("--end", default="2024-03-29")
    args = parser.parse_args()
    spec = _spec(args.n_stocks, args.end)
    cells = spec.cells()
    market = cells[0].spec.market.load()
    print(
        f"market {market.shape[0]} sessions x {market.shape[1]} stocks, "
        f"{len(pickle.dumps(market, protocol=5)) / 2**20:.1f} MB pickled; {len(cells)} cells"
    )

    plain_spec = replay_spec(ScenarioRef(seed=7, n_stocks=args.n_stocks, end=args.end))
    run_on(plain_spec, market)  # warm: numba's cache, the market's derived arrays
    plain = []
    for _ in range(3):
        began = time.perf_counter()
        run_on(plain_spec, market)
        plain.append(time.perf_counter() - began)
    plain_s = statistics.median(plain)
    print(f"plain run_on: {plain_s:.2f} s per run (median of 3, warm)")

    ray = require_ray()
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        outcomes: list[CellOutcome] = []
        store_mb: list[float] = []

        def seen(
            cell: Cell,
            outcome: CellOutcome,
            outcomes: list[CellOutcome] = outcomes,
            store_mb: list[float] = store_mb,
        ) -> None:
            outcomes.append(outcome)
            if len(outcomes) == len(cells) // 2:
                store_mb.append(_plasma_used_mb(ray))

        began = time.perf_counter()
        table = sweep(spec, executor=RayExecutor(), on_outcome=seen)
        wall = time.perf_counter() - began
        ray.shutdown()
        assert set(table["status"]) == {"ran"}, table.filter(table["status"] != "ran")
        peaks: dict[str, float] = {}
        for outcome in outcomes:
            peaks[outcome.worker] = max(peaks.get(outcome.worker, 0), outcome.peak_rss_bytes)
        cell_s = statistics.mean(o.seconds for o in outcomes)
        overhead = wall * workers / len(cells) / plain_s - 1
        print(
            f"ray, {workers} worker(s): wall {wall:.1f} s, cell {cell_s:.2f} s mean in the "
            f"worker, overhead vs plain {100 * overhead:+.0f} %, object store "
            f"{store_mb[0] if store_mb else float('nan'):.1f} MB mid-sweep, worker peak RSS "
            + ", ".join(f"{v / 2**20:.0f} MB" for v in sorted(peaks.values()))
        )
        if workers == 1:
            one = wall
    print(f"speed-up 2 vs 1 worker: {one / wall:.2f}x")

    began = time.perf_counter()
    sweep(spec, executor=LocalExecutor())
    local = time.perf_counter() - began
    print(f"local executor (in process): wall {local:.1f} s, {local / len(cells):.2f} s per cell")


if __name__ == "__main__":
    main()
