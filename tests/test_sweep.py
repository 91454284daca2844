"""Sweeps: same spec same table, a cell equals its RunSpec run alone, resumption, failures, Ray.

All on the smoke sweep's small store (120 stocks to 2023-04-28, built once per module) and a
probe strategy that holds nothing (tests/sweep_fixtures.py), so the file runs in well under a
minute; the Ray test starts one local Ray of 2 CPUs for the module (a few seconds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from backtest.apps.replay import replay_table
from backtest.apps.sweep import TIMING_COLUMNS, sweep
from backtest.apps.sweep_spec import SweepSpec, load_sweep
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import ensure_scenario_file
from backtest.runs import RunStore
from backtest.runs.spec import run

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "data" / "sweeps" / "smoke.toml"


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke sweep's market, built as the sweep would build it on an empty store."""
    store = tmp_path_factory.mktemp("sweep") / "market.duckdb"
    ensure_scenario_file(store, ScenarioConfig(**dict(load_sweep(SMOKE).market.build)))
    return store


@pytest.fixture(scope="module")
def smoke_table(small_store: Path) -> pl.DataFrame:
    """The smoke sweep, in this process, saving nothing."""
    return sweep(load_sweep(SMOKE), store=small_store)


def _figures(table: pl.DataFrame) -> pl.DataFrame:
    return table.drop(*TIMING_COLUMNS)


def _probe_sweep(tags: int = 4, **cues: Any) -> SweepSpec:
    values = {"tag": 0, **{k: str(v) if isinstance(v, Path) else v for k, v in cues.items()}}
    return SweepSpec.from_dict(
        {
            "name": "probe",
            "market": {"source": "store"},
            "books": [
                {
                    "name": "probe",
                    "strategy": "sweep_fixtures:Probe",
                    "params": "sweep_fixtures:ProbeParams",
                    "values": values,
                    "benchmark": "cash",
                }
            ],
            "grid": {"books.probe.tag": list(range(tags))},
        }
    )


def test_the_same_spec_gives_the_same_results_table(small_store, smoke_table):
    again = sweep(load_sweep(SMOKE), store=small_store)
    assert smoke_table["cell"].n_unique() == 4 and smoke_table.height == 4 * 6
    assert set(smoke_table["status"]) == {"ran"}
    assert _figures(again).equals(_figures(smoke_table))
    # the swept settings matter: more impact, more impact cost, for every book
    by_cell = smoke_table.group_by("config.impact_coefficient").agg(pl.col("impact_cny").sum())
    low, high = sorted(by_cell.rows())
    assert high[1] > low[1] > 0


def test_a_cells_figures_equal_running_its_run_spec_alone(small_store, smoke_table):
    cell = load_sweep(SMOKE).cells(small_store)[3]
    alone = replay_table(run(cell.spec), cell.spec.market.load())
    mine = smoke_table.filter(pl.col("cell") == 3).select(alone.columns)
    assert mine.equals(alone)  # bit for bit: polars compares floats exactly
    assert smoke_table.filter(pl.col("cell") == 3)["run_id"][0] == cell.spec.hash()


def test_a_rerun_reads_saved_cells_back_with_identical_figures(small_store, smoke_table, tmp_path):
    runs = tmp_path / "runs.duckdb"
    first = sweep(load_sweep(SMOKE), store=small_store, runs_store=runs)
    second = sweep(load_sweep(SMOKE), store=small_store, runs_store=runs)
    assert set(first["status"]) == {"ran"} and set(second["status"]) == {"saved"}
    assert _figures(second).equals(_figures(smoke_table))
    with RunStore(runs, read_only=True) as store:
        assert sorted(store.runs()["run_id"]) == sorted(set(first["run_id"]))


def test_a_failing_cell_is_recorded_with_its_error_and_the_others_run(small_store, tmp_path):
    runs = tmp_path / "runs.duckdb"
    table = sweep(_probe_sweep(fail_tag=1), store=small_store, runs_store=runs)
    status = dict(table.select("books.probe.tag", "status").iter_rows())
    assert status == {0: "ran", 1: "failed", 2: "ran", 3: "ran"}
    failed = table.filter(pl.col("status") == "failed")
    assert failed.height == 1 and "ValueError: probe cell 1 was told to fail" in failed["error"][0]
    assert failed["total"].is_null().all()
    with RunStore(runs, read_only=True) as store:
        assert store.runs().height == 3
        failures = store.failures()
    assert failures["run_id"].to_list() == failed["run_id"].to_list()
    assert "told to fail" in failures["error"][0]


def test_ctrl_c_leaves_finished_cells_saved_and_the_rerun_finishes_the_rest(small_store, tmp_path):
    runs, cue, log = tmp_path / "runs.duckdb", tmp_path / "interrupt", tmp_path / "ran.log"
    spec = _probe_sweep(stall_tag=2, interrupt_file=cue, log_file=log)
    cue.touch()
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, store=small_store, runs_store=runs)
    with RunStore(runs, read_only=True) as store:
        assert store.runs().height == 2  # cells 0 and 1, each whole
    cue.unlink()
    table = sweep(spec, store=small_store, runs_store=runs)
    assert dict(table.select("books.probe.tag", "status").iter_rows()) == {
        0: "saved",
        1: "saved",
        2: "ran",
        3: "ran",
    }
    assert sorted(log.read_text().split()) == ["0", "1", "2", "3"]  # none ran twice


def test_a_killed_sweep_resumes_with_no_cell_lost_and_none_run_twice(small_store, tmp_path):
    runs, stall, log = tmp_path / "runs.duckdb", tmp_path / "stall", tmp_path / "ran.log"
    spec_file = tmp_path / "probe.toml"
    spec_file.write_text(
        f"""name = "probe"
[market]
source = "store"
[[books]]
name = "probe"
strategy = "sweep_fixtures:Probe"
params = "sweep_fixtures:ProbeParams"
benchmark = "cash"
values = {{ stall_tag = 2, stall_file = "{stall}", log_file = "{log}" }}
[grid]
"books.probe.tag" = [0, 1, 2, 3]
"""
    )
    stall.touch()
    command = [
        sys.executable,
        "-m",
        "backtest.apps.cli",
        "sweep",
        str(spec_file),
        "--store",
        str(small_store),
        "--runs-store",
        str(runs),
        "--workers",
        "1",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not Path(f"{stall}.stalled").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the sweep never stalled"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # mid-cell, no chance to clean up
    process.wait()
    with RunStore(runs, read_only=True) as store:
        assert store.runs().height == 2
    stall.unlink()
    table = sweep(load_sweep(spec_file), store=small_store, runs_store=runs)
    assert table.select("books.probe.tag", "status").rows() == [
        (0, "saved"),
        (1, "saved"),
        (2, "ran"),
        (3, "ran"),
    ]
    assert sorted(log.read_text().split()) == ["0", "1", "2", "3"]
    with RunStore(runs, read_only=True) as store:
        assert store.runs().height == 4


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module (skipped when Ray is not installed)."""
    ray = pytest.importorskip("ray")
    os.environ["PYTHONPATH"] = f"{ROOT}:{ROOT / 'tests'}"  # the workers import the project
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow  # Ray's start takes 10-15 s on this shared machine
def test_the_ray_executor_gives_the_local_table(local_ray, small_store, smoke_table, tmp_path):
    from backtest.apps.sweep_executors import RayExecutor

    runs = tmp_path / "runs.duckdb"
    table = sweep(load_sweep(SMOKE), store=small_store, runs_store=runs, executor=RayExecutor())
    assert _figures(table).equals(_figures(smoke_table))
    assert table["worker"].n_unique() >= 1 and set(table["status"]) == {"ran"}
    with RunStore(runs, read_only=True) as store:
        assert store.runs().height == 4
