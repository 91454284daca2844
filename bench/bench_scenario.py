"""Benchmark the calibrated scenario: generation, full build into a store, panel loads.

Run: ``python bench/bench_scenario.py`` (targets: generation <= 5 s warm, ``backtest data build``
<= 10 s as a process with a peak resident memory <= 1 GB, panel load <= 0.3 s).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

from backtest.market.scenario import ScenarioConfig, build_scenario, generate
from backtest.market.scenario.returns import solve_shift_nb
from backtest.market.store import Store


def build_process(folder: Path) -> tuple[float, float]:
    """Run ``backtest data build`` in a fresh process; return (wall seconds, peak RSS in MB)."""
    code = (
        "import sys; from backtest.apps.cli import main; "
        f"sys.exit(main(['data', 'build', '--store', {str(folder / 'cli.duckdb')!r}, '--quiet']))"
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> None:
    # first, while this process is small: a forked child's peak RSS counts its parent's pages
    with tempfile.TemporaryDirectory() as folder:
        seconds, peak_mb = build_process(Path(folder))
    print(f"backtest data build, as a process:         {seconds:6.2f} s  (target <= 10 s)")
    print(f"  its peak resident memory:            {peak_mb:8.0f} MB  (target <= 1,024 MB)")
    config = ScenarioConfig()
    sample = [np.zeros(8), np.full(8, 0.125), np.full(8, -0.1), np.full(8, 0.1)]

    started = time.perf_counter()
    fresh = njit(cache=False)(solve_shift_nb.py_func)
    fresh(*sample, 0.01)
    print(f"JIT compile of solve_shift_nb (no cache):  {time.perf_counter() - started:6.2f} s")

    started = time.perf_counter()
    generate(config)
    print(f"generate, first run in process:            {time.perf_counter() - started:6.2f} s")
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        frames = generate(config)
        timings.append(time.perf_counter() - started)
    print(f"generate, warm (best of 2):                {min(timings):6.2f} s  (target <= 5 s)")
    print("  rows: " + ", ".join(f"{k}={v.height:,}" for k, v in frames.items()))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.duckdb"
        started = time.perf_counter()
        with Store(path) as store:
            build_scenario(store, config)
        print(f"build_scenario (generate + store write):   {time.perf_counter() - started:6.2f} s")
        with Store(path, read_only=True) as store:
            loads = []
            for _ in range(3):
                started = time.perf_counter()
                panel = store.panel(["close", "volume"])
                loads.append(time.perf_counter() - started)
            shape = panel.values["close"].shape
            print(f"Store.panel(close, volume) {shape}:  {min(loads):6.3f} s  (target <= 0.3 s)")


if __name__ == "__main__":
    main()
