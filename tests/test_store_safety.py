"""Nothing lost: atomic builds, one writer at a time, read-only readers, clear refusals.

Kill tests run the real command in a subprocess and SIGKILL it at several moments; every one is
followed by a check that the store holds either the old content or the complete new one, never
a mixture, never nothing. A full disk is simulated with ``RLIMIT_FSIZE`` (writes past the limit
fail with EFBIG, as they would with ENOSPC).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from backtest.apps.cli import main
from backtest.market.atomic import replace_store
from backtest.market.lock import StoreBusyError, holder, writer_lock
from backtest.market.scenario import ScenarioConfig
from backtest.market.scenario.store_file import build_scenario_file
from backtest.market.store import NotAStoreError, Store

SMALL = 300  # stocks: a build takes ~2.5 s, long enough to be killed in the middle
ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "backtest.apps.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _default_sigint() -> None:
    """Give the child the default SIGINT disposition, so Python turns it into Ctrl-C.

    A job started in the background by a non-interactive shell (as CI may be) inherits SIGINT
    as *ignored*, and Python then installs no KeyboardInterrupt handler.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _snapshot(path: Path) -> dict[str, object]:
    """Every table's row count and the store's identity (opened read-only)."""
    with Store(path, read_only=True) as store:
        counts = dict(store.info().select("table", "rows").iter_rows())
        return {"rows": counts, "identity": store.identity(), "seed": _seed(store)}


def _seed(store: Store) -> object:
    params = store.sql(
        "SELECT params FROM provenance WHERE table_name = 'bars' ORDER BY fetched_at DESC LIMIT 1"
    )
    if params.height == 0:
        return None
    import json

    return json.loads(params["params"][0]).get("seed")


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "market.duckdb"
    build_scenario_file(path, ScenarioConfig(n_stocks=SMALL, seed=1))
    return path


@pytest.fixture
def store_copy(small_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "market.duckdb"
    shutil.copy(small_store, target)
    return target


# ---------------------------------------------------------------------------- build --force
@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0.4, 1.2, 2.0, 2.8, 3.6])
def test_build_force_killed_at_any_moment_leaves_old_or_complete_new(store_copy, kill_after):
    before = _snapshot(store_copy)
    process = subprocess.Popen(
        _cli("data", "build", "--store", str(store_copy), "--force", "--quiet"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=store_copy.parent,
    )
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = _snapshot(store_copy)
    if after["identity"] == before["identity"]:
        assert after == before  # untouched
    else:  # the complete new market (default seed), every table full
        assert after["seed"] == 20240205
        rows = after["rows"]
        assert isinstance(rows, dict)
        assert rows["bars"] > 1_000_000 and rows["futures_bars"] > 0 and rows["calendar"] == 484
    # a killed build leaves at most a temporary file, which the next build sweeps away
    build_scenario_file(store_copy, ScenarioConfig(n_stocks=100), force=True)
    assert not list(store_copy.parent.glob(".market.duckdb.building-*"))


def test_build_force_replaces_only_when_complete(store_copy):
    before = _snapshot(store_copy)
    assert before["seed"] == 1
    build_scenario_file(store_copy, ScenarioConfig(n_stocks=100, seed=2), force=True)
    after = _snapshot(store_copy)
    assert after["seed"] == 2 and after["rows"]["instruments"] == 100  # type: ignore[index]


def test_build_without_force_refuses_a_store_with_bars(store_copy, capsys):
    before = store_copy.read_bytes()
    assert main(["data", "build", "--store", str(store_copy), "--quiet"]) == 2
    assert "already holds bars; pass --force" in capsys.readouterr().err
    assert store_copy.read_bytes() == before


def test_build_force_respects_a_write_protected_store(store_copy, capsys):
    before = store_copy.read_bytes()
    store_copy.chmod(0o444)
    try:
        code = main(["data", "build", "--store", str(store_copy), "--force", "--quiet"])
        assert code == 2
        err = capsys.readouterr().err
        assert "write-protected" in err and str(store_copy) in err
        assert store_copy.read_bytes() == before
    finally:
        store_copy.chmod(0o644)


def test_build_keeps_the_old_files_permissions(store_copy):
    store_copy.chmod(0o640)
    build_scenario_file(store_copy, ScenarioConfig(n_stocks=100), force=True)
    assert store_copy.stat().st_mode & 0o777 == 0o640


def test_failing_build_removes_its_temporary_file_and_keeps_the_store(store_copy):
    before = _snapshot(store_copy)

    def fill(store: Store) -> None:
        store.write("calendar", _calendar_frame(), source="test")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        replace_store(store_copy, fill, command="test")
    assert _snapshot(store_copy) == before
    assert sorted(p.name for p in store_copy.parent.iterdir()) == [
        "market.duckdb",
        "market.duckdb.lock",
    ]


def _calendar_frame():
    import datetime as dt

    import polars as pl

    return pl.DataFrame({"date": [dt.date(2024, 2, 5)]})


def _limit_file_size(limit_bytes: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, like ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def test_build_on_a_full_disk_says_so_and_keeps_the_old_store(store_copy):
    before = _snapshot(store_copy)
    result = subprocess.run(
        _cli("data", "build", "--store", str(store_copy), "--force", "--quiet"),
        env=_env(),
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size(2_000_000),
        cwd=store_copy.parent,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert _snapshot(store_copy) == before
    assert not list(store_copy.parent.glob(".market.duckdb.building-*"))


def test_ctrl_c_during_a_build_is_one_line_and_keeps_the_old_store(store_copy):
    before = _snapshot(store_copy)
    process = subprocess.Popen(
        _cli("data", "build", "--store", str(store_copy), "--force", "--quiet"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=store_copy.parent,
        preexec_fn=_default_sigint,
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.startswith("interrupted: nothing was written") and "Traceback" not in err
    assert _snapshot(store_copy) == before


# ---------------------------------------------------------------------------- one writer
def test_second_writer_is_refused_with_the_first_ones_pid(store_copy):
    first = subprocess.Popen(
        _cli("data", "build", "--store", str(store_copy), "--force", "--quiet"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=store_copy.parent,
    )
    try:
        deadline = time.monotonic() + 30
        while holder(store_copy) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder(store_copy) == (first.pid, "backtest data build")
        second = subprocess.run(
            _cli("data", "build", "--store", str(store_copy), "--force", "--quiet"),
            env=_env(),
            capture_output=True,
            text=True,
            cwd=store_copy.parent,
            timeout=60,
        )
        assert second.returncode == 2
        assert f"is in use by PID {first.pid} (backtest data build)" in second.stderr
        # a reader is not blocked by a rebuild: it reads the old market meanwhile
        info = subprocess.run(
            _cli("data", "info", "--store", str(store_copy)),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert info.returncode == 0, info.stderr
        assert "bars" in info.stdout
    finally:
        assert first.wait(timeout=120) == 0
    assert _snapshot(store_copy)["seed"] == 20240205


def test_writer_lock_is_exclusive_and_released_by_the_kernel(tmp_path):
    store = tmp_path / "market.duckdb"
    with writer_lock(store, "first"):
        assert holder(store) == (os.getpid(), "first")
        # another process trying the same lock is refused and told who holds it
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from backtest.market.lock import writer_lock\n"
                "try:\n"
                f"    with writer_lock({str(store)!r}, 'second'): pass\n"
                "except OSError as e: print(e); sys.exit(3)",
            ],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode == 3
        assert f"in use by PID {os.getpid()} (first)" in probe.stdout
    assert holder(store) is None
    # a holder killed with SIGKILL leaves no stale lock
    victim = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from backtest.market.lock import writer_lock\n"
            f"with writer_lock({str(store)!r}, 'victim'):\n    print('held', flush=True)\n"
            "    time.sleep(60)",
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert victim.stdout is not None and victim.stdout.readline().strip() == "held"
    assert holder(store) == (victim.pid, "victim")
    victim.kill()
    victim.wait()
    victim.stdout.close()
    assert holder(store) is None
    with writer_lock(store, "after"):
        pass


def test_a_store_held_open_for_writing_is_reported_with_its_pid(store_copy, capsys):
    with Store(store_copy):  # this process holds DuckDB's write lock
        result = subprocess.run(
            _cli("data", "info", "--store", str(store_copy)),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"is in use by PID {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- readers
def test_two_replays_read_the_same_store_at_once(store_copy):
    command = _cli("replay", "--store", str(store_copy), "--quiet", "--end", "2023-03-31")
    processes = [
        subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    assert outputs[0][0].splitlines()[:9] == outputs[1][0].splitlines()[:9]


def test_replay_without_save_opens_the_market_read_only(store_copy):
    before = store_copy.read_bytes()
    with Store(store_copy, read_only=True):  # a reader elsewhere does not block it
        code = main(["replay", "--store", str(store_copy), "--quiet", "--end", "2023-02-28"])
    assert code == 0
    assert store_copy.read_bytes() == before
    assert not (store_copy.parent / "runs.duckdb").exists()


# ---------------------------------------------------------------------------- wrong files
def test_another_applications_duckdb_file_is_refused_untouched(tmp_path, capsys):
    foreign = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1, 'a')")
    con.close()
    before = foreign.read_bytes()
    for command in (
        ["data", "info"],
        ["replay", "--quiet"],
        ["data", "build", "--force", "--quiet"],
    ):
        assert main([*command, "--store", str(foreign)]) == 2, command
        err = capsys.readouterr().err
        assert "another application's database, not a market store" in err, err
        assert "customers" in err
    assert foreign.read_bytes() == before
    with pytest.raises(NotAStoreError):
        Store(foreign)


def test_a_file_that_is_not_duckdb_is_refused_untouched(tmp_path, capsys):
    text = tmp_path / "bars.csv"
    text.write_text("date,symbol\n2024-02-05,600000\n")
    assert main(["data", "info", "--store", str(text)]) == 2
    err = capsys.readouterr().err
    assert "is not a DuckDB market store" in err
    assert text.read_text() == "date,symbol\n2024-02-05,600000\n"


def test_busy_lock_is_an_os_error_the_cli_turns_into_a_sentence(tmp_path, capsys):
    store = tmp_path / "market.duckdb"
    with writer_lock(store, "backtest data import"):
        with pytest.raises(StoreBusyError):
            with writer_lock(store, "again"):
                pass


# ---------------------------------------------------------------------------- import
@pytest.fixture(scope="module")
def bars_files(small_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small market's bars as two vendor-style CSVs: January 2023, and all of 2023-2024."""
    import polars as pl

    folder = tmp_path_factory.mktemp("files")
    with Store(small_store, read_only=True) as store:
        bars = store.read(
            "bars",
            columns=["date", "symbol", "open", "high", "low", "close", "volume", "amount"],
        )
    january = folder / "january.csv"
    bars.filter(pl.col("date") < pl.date(2023, 2, 1)).write_csv(january)
    everything = folder / "all.csv"
    bars.write_csv(everything)
    return january, everything


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1.0, 2.0, 3.0, 4.0])
def test_import_killed_at_any_moment_leaves_old_or_complete_new(tmp_path, bars_files, kill_after):
    january, everything = bars_files
    store = tmp_path / "market.duckdb"
    assert main(["data", "import", str(january), "--store", str(store)]) == 0
    before = _snapshot(store)
    process = subprocess.Popen(
        _cli("data", "import", str(everything), "--store", str(store), "--mode", "upsert"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = _snapshot(store)
    if after["identity"] == before["identity"]:
        assert after == before
    else:
        rows = after["rows"]
        assert isinstance(rows, dict)
        assert rows["bars"] >= 140_000 and rows["calendar"] == 484
    # and the store still takes the import whole afterwards
    assert main(["data", "import", str(everything), "--store", str(store), "--mode", "upsert"]) == 0
    assert _snapshot(store)["rows"]["bars"] >= 140_000  # type: ignore[index]


def test_an_import_while_another_writer_holds_the_store_is_refused(tmp_path, bars_files):
    january, _ = bars_files
    store = tmp_path / "market.duckdb"
    with writer_lock(store, "backtest data build"):
        result = subprocess.run(
            _cli("data", "import", str(january), "--store", str(store)),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"in use by PID {os.getpid()} (backtest data build)" in result.stderr
    assert not store.exists()


def test_ctrl_c_during_an_import_keeps_the_store(tmp_path, bars_files):
    january, everything = bars_files
    store = tmp_path / "market.duckdb"
    assert main(["data", "import", str(january), "--store", str(store)]) == 0
    before = _snapshot(store)
    process = subprocess.Popen(
        _cli("data", "import", str(everything), "--store", str(store), "--mode", "upsert"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:  # finished before the signal: the complete new content
        assert _snapshot(store)["rows"]["bars"] >= 140_000  # type: ignore[index]
        return
    assert process.returncode == 130, err
    assert "Traceback" not in err
    after = _snapshot(store)
    if after["identity"] != before["identity"]:
        # the signal came after the import's commit: the whole new content, and it says so
        assert err.startswith("interrupted: the writes that had finished are saved"), err
        assert after["rows"]["bars"] >= 140_000  # type: ignore[index]
        return
    assert err.startswith("interrupted: nothing was written"), err
    assert after == before
