"""Saved runs: all books or none, never overwritten silently, never shown on another market."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from engine_fixtures import Momentum, MomentumParams, RandomParams, RandomTargets, synthetic_market

from backtest.apps.replay import save_run
from backtest.apps.report import report_main
from backtest.engine import Benchmark, Book, Engine, EngineConfig, Result
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import build_scenario_file
from backtest.market.store import NotAStoreError, Store
from backtest.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "backtest.apps.cli")


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    market = synthetic_market(7, days=15, n=10)
    return Engine(EngineConfig(initial_cash=5e6)).run(
        market,
        [
            Book(
                name="momentum",
                strategy=Momentum(MomentumParams(top=3)),
                benchmark=Benchmark.index("000905"),
            ),
            Book(name="random", strategy=RandomTargets(RandomParams()), benchmark=Benchmark.cash()),
        ],
    )


class _BrokenResult:
    """Stands in for a book whose rows fail to write half-way through a save (disk error)."""

    complete = True

    def __init__(self, daily):
        self.daily = daily

    def write_rows(self, con, run_id):
        raise duckdb.IOException("IO Error: No space left on device")


def test_a_run_round_trips_exactly_with_its_market_identity(tmp_path, results):
    with RunStore(tmp_path / "runs.duckdb") as runs:
        runs.save("r1", results, market_identity="abc")
        listed = runs.runs()
        run = runs.load("r1")
    assert listed["run_id"].to_list() == ["r1"]
    assert listed["books"].to_list() == [["momentum", "random"]]
    assert run.market_identity == "abc" and run.complete
    assert run.benchmarks == {"momentum": Benchmark.index("000905"), "random": Benchmark.cash()}
    for name, result in results.items():
        assert run.results[name].equals(result)


def test_a_run_saved_before_results_carried_benchmarks_loads_them_from_its_run_row(
    tmp_path, results
):
    path = tmp_path / "runs.duckdb"
    with RunStore(path) as runs:
        runs.save("old", results, market_identity="abc")
    with duckdb.connect(str(path)) as con:  # the layout of earlier versions
        con.execute("ALTER TABLE result_runs DROP COLUMN benchmark_json")
        con.execute(
            "UPDATE runs SET benchmarks_json = '{\"momentum\": \"000852\"}' WHERE run_id = 'old'"
        )
    with RunStore(path, read_only=True) as runs:
        run = runs.load("old")
    assert run.benchmarks == {"momentum": Benchmark.index("000852"), "random": None}
    assert run.results["random"].equals(results["random"].replace(benchmark=None))


def test_a_series_benchmark_round_trips_with_its_result(tmp_path, results):
    dates = results["random"].daily["date"].to_list()
    series = Benchmark.from_levels("peer", dates, [100.0 + k for k in range(len(dates))])
    measured = {"random": results["random"].replace(benchmark=series)}
    with RunStore(tmp_path / "runs.duckdb") as runs:
        runs.save("s", measured)
        loaded = runs.load("s").results["random"]
    assert loaded.benchmark == series and loaded.equals(measured["random"])


def test_a_save_that_fails_half_way_leaves_nothing_of_the_run(tmp_path, results):
    path = tmp_path / "runs.duckdb"
    with RunStore(path) as runs:
        runs.save("kept", results)
        books = {**results, "broken": _BrokenResult(results["random"].daily)}
        with pytest.raises(duckdb.IOException):
            runs.save("half", books)  # type: ignore[arg-type]
        assert runs.runs()["run_id"].to_list() == ["kept"]
        with pytest.raises(KeyError, match="no saved run 'half'"):
            runs.load("half")
    con = duckdb.connect(str(path), read_only=True)
    leftovers = con.execute(
        "SELECT count(*) FROM result_runs WHERE starts_with(run_id, 'half/')"
    ).fetchall()
    con.close()
    assert leftovers == [(0,)]


def test_saving_a_run_id_twice_is_refused_unless_overwrite(tmp_path, results):
    with RunStore(tmp_path / "runs.duckdb") as runs:
        runs.save("r1", results)
        with pytest.raises(ValueError, match=r"already saved.*--overwrite"):
            runs.save("r1", {"momentum": results["momentum"]})
        assert runs.runs()["books"].to_list() == [["momentum", "random"]]
        runs.save("r1", {"momentum": results["momentum"]}, overwrite=True)
        assert runs.runs()["books"].to_list() == [["momentum"]]
        assert list(runs.load("r1").results) == ["momentum"]
        left = runs._con.execute(
            "SELECT count(*) FROM result_runs WHERE run_id = 'r1/random'"
        ).fetchall()
    assert left == [(0,)]


@pytest.mark.parametrize("bad", ["", "a/b", " padded"])
def test_run_ids_must_be_plain_names(tmp_path, results, bad):
    with RunStore(tmp_path / "runs.duckdb") as runs, pytest.raises(ValueError, match="run id"):
        runs.save(bad, results)


def test_a_market_store_is_not_a_runs_store(tmp_path):
    market = tmp_path / "market.duckdb"
    Store(market).close()
    with pytest.raises(NotAStoreError, match="is a market store, not a runs store"):
        RunStore(market)


def test_results_saved_one_by_one_are_listed_as_runs(tmp_path, results):
    path = tmp_path / "legacy.duckdb"
    results["momentum"].save(path, "old-momentum")
    with RunStore(path, read_only=True) as runs:
        assert runs.runs()["run_id"].to_list() == ["old-momentum"]
        loaded = runs.load("old-momentum")
    assert loaded.market_identity is None
    assert loaded.results["momentum"].equals(results["momentum"])


# ---------------------------------------------------------------------------- with a market
@pytest.fixture(scope="module")
def small_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "market.duckdb"
    build_scenario_file(path, ScenarioConfig(n_stocks=150, seed=3))
    return path


def _report_args(store: Path, out: Path, runs: list[str] | None = None) -> argparse.Namespace:
    return argparse.Namespace(store=store, results=None, runs=runs, benchmark=[], out=out)


def test_a_run_is_not_saved_when_the_market_changed_meanwhile(tmp_path, small_market, results):
    market = tmp_path / "market.duckdb"
    shutil.copy(small_market, market)
    with Store(market, read_only=True) as store:
        identity = store.identity()
    build_scenario_file(market, ScenarioConfig(n_stocks=100, seed=4), force=True)
    with pytest.raises(ValueError, match="changed while the replay ran"):
        save_run(
            tmp_path / "runs.duckdb",
            "r1",
            results,
            market_path=market,
            market_identity=identity,
        )
    assert not (tmp_path / "runs.duckdb").exists()


def test_report_refuses_a_run_of_another_market_and_a_partial_run(tmp_path, small_market):
    market = tmp_path / "market.duckdb"
    shutil.copy(small_market, market)
    args = ["replay", "--store", str(market), "--quiet", "--end", "2023-02-28", "--save", "jan"]
    from backtest.apps.cli import main

    assert main(args) == 0
    runs_path = tmp_path / "runs.duckdb"
    # a partial result (a strategy error stopped it) saved by hand is refused by the report
    with RunStore(runs_path) as runs:
        saved = runs.load("jan")
        partial = {k: v.replace(complete=False) for k, v in saved.results.items()}
        runs.save("partial", partial, market_identity=saved.market_identity)
    with pytest.raises(ValueError, match="run 'partial' is partial"):
        report_main(_report_args(market, tmp_path / "r.html", ["partial"]))
    report_main(_report_args(market, tmp_path / "r.html", ["jan"]))
    assert (tmp_path / "r.html").stat().st_size > 0
    # the market is rebuilt: the run no longer matches it
    build_scenario_file(market, ScenarioConfig(n_stocks=100, seed=5), force=True)
    with pytest.raises(ValueError, match="computed on another market"):
        report_main(_report_args(market, tmp_path / "r.html", ["jan"]))


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [2.0, 3.5, 4.5, 5.0, 6.0])
def test_replay_save_killed_at_any_moment_saves_all_books_or_none(
    tmp_path, small_market, kill_after
):
    market = tmp_path / "market.duckdb"
    shutil.copy(small_market, market)
    before = market.read_bytes()
    process = subprocess.Popen(
        [*CLI, "replay", "--store", str(market), "--save", "k", "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert market.read_bytes() == before  # the market is only read
    runs_path = tmp_path / "runs.duckdb"
    if not runs_path.exists():
        return
    with RunStore(runs_path, read_only=True) as runs:
        listed = runs.runs()
        if listed.height:
            assert listed["books"].to_list()[0] == [
                "tracker_csi500",
                "microcap",
                "enhanced_csi500",
                "enhanced_csi1000",
                "neutral_ic",
                "dma_ic",
            ]
            assert all(r.daily.height == 484 for r in runs.load("k").results.values())
        else:
            orphans = (
                runs._con.execute("SELECT count(*) FROM result_runs").fetchall()
                if "result_runs" in runs._tables
                else [(0,)]
            )
            assert orphans == [(0,)]


def test_replay_save_on_a_full_disk_saves_nothing_and_says_so(tmp_path, small_market):
    import resource

    market = tmp_path / "market.duckdb"
    shutil.copy(small_market, market)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    result = subprocess.run(
        [*CLI, "replay", "--store", str(market), "--save", "full", "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: ")
    runs_path = tmp_path / "runs.duckdb"
    if runs_path.exists():
        with RunStore(runs_path, read_only=True) as runs:
            assert runs.runs().height == 0


def test_a_save_waits_for_a_reader_of_the_runs_store(tmp_path, small_market, results):
    market = tmp_path / "market.duckdb"
    shutil.copy(small_market, market)
    runs_path = tmp_path / "runs.duckdb"
    with RunStore(runs_path) as runs:
        runs.save("first", results)
    with Store(market, read_only=True) as store:
        identity = store.identity()
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, time\n"
            f"con = duckdb.connect({str(runs_path)!r}, read_only=True)\n"
            "print('open', flush=True); time.sleep(1.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
    began = time.monotonic()
    save_run(runs_path, "second", results, market_path=market, market_identity=identity)
    assert time.monotonic() - began > 0.3  # it waited for the reader, then saved
    reader.wait()
    reader.stdout.close()
    with RunStore(runs_path, read_only=True) as runs:
        assert runs.runs()["run_id"].to_list() == ["first", "second"]
