"""The akshare fetch end to end on recorded frames: a real DuckDB store, failures, resumption."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from backtest.market.akshare_fetch import FetchConfig, FetchReport, fetch_akshare
from backtest.market.akshare_retry import RetryPolicy, SourceUnreachable
from backtest.market.akshare_source import LIVE_HOSTS, LiveAkshareClient, RecordedAkshareClient
from backtest.market.fetch_log import read_fetch_log
from backtest.market.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "akshare"
START, END = dt.date(2024, 1, 29), dt.date(2024, 2, 8)
SYMBOLS = ("000001", "002123", "300750", "600000", "688981")


class HardCrash(BaseException):
    """Stands in for a process dying mid-fetch (not an Exception: nothing may swallow it)."""


class ScriptedClient:
    """A recorded client whose chosen calls fail or are altered, in order (injected, no patching).

    ``script[(method, first_argument)]`` is a list consumed one call at a time: an exception
    instance is raised, a callable receives the recorded frame and returns what to answer.
    """

    def __init__(self, script: dict[tuple[str, str], list[Any]]):
        self.inner = RecordedAkshareClient(FIXTURES)
        self.script = script
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., pd.DataFrame]:
        method = getattr(self.inner, name)

        def call(*args: Any) -> pd.DataFrame:
            self.calls.append((name, args))
            key = (name, str(args[0]) if args else "")
            if name == "stock_zh_a_hist":
                key = (f"{name}:{args[4]}", str(args[0]))
            steps = self.script.get(key)
            if steps:
                step = steps.pop(0)
                if isinstance(step, BaseException):
                    raise step
                return step(method(*args))
            return method(*args)

        return call


def _config(**overrides: Any) -> FetchConfig:
    values: dict[str, Any] = {
        "start": START,
        "end": END,
        "symbols": SYMBOLS,
        "rate_limit_seconds": 0.0,
        "retry": RetryPolicy(max_attempts=3, backoff_seconds=0.5, jitter_seed=None),
    }
    values.update(overrides)
    return FetchConfig(**values)


def _fetch(
    store: Store, client: Any, sleeps: list[float] | None = None, **overrides: Any
) -> FetchReport:
    waits = sleeps if sleeps is not None else []
    return fetch_akshare(store, client, _config(**overrides), progress=False, sleep=waits.append)


def _stock_calls(client: ScriptedClient) -> list[str]:
    return [args[0] for name, args in client.calls if name == "stock_zh_a_hist" and args[4] == ""]


@pytest.fixture
def clean(tmp_path: Path) -> Store:
    store = Store(tmp_path / "clean.duckdb")
    report = _fetch(store, ScriptedClient({}))
    assert report.failures().height == 0
    return store


def test_recorded_fetch_fills_every_table(clean: Store) -> None:
    info = {r["table"]: r["rows"] for r in clean.info().to_dicts()}
    assert info["calendar"] == 9
    assert info["instruments"] == 6
    assert info["bars"] == 45  # 5 stocks x 9 sessions, the suspended session included
    assert info["index_bars"] == 36
    assert info["futures_bars"] == 36  # 4 IF/IH/IC/IM contracts x 9 days; T2403 dropped


def test_suspended_session_becomes_a_flat_zero_volume_row(clean: Store) -> None:
    row = clean.read("bars", start="2024-02-01", end="2024-02-01", where={"symbol": ["000001"]})
    record = row.to_dicts()[0]
    assert record["suspended"] and record["volume"] == 0
    assert record["open"] == record["close"] == 9.10  # the previous close


def test_crash_day_close_sits_at_the_derived_limit_down(clean: Store) -> None:
    row = clean.read("bars", start="2024-02-05", end="2024-02-05", where={"symbol": ["002123"]})
    record = row.to_dicts()[0]
    assert record["pre_close"] == 6.90
    assert record["limit_down"] == 6.21 == record["close"]
    assert record["limit_up"] == 7.59


def test_provenance_names_akshare_and_the_known_gaps(clean: Store) -> None:
    bars = clean.provenance().filter(pl.col("table_name") == "bars")
    assert set(bars["source"].to_list()) == {"akshare"}
    assert "is_st" in bars["params"][0] and "survivorship" in bars["params"][0]


def test_rerun_fetches_nothing_already_stored(clean: Store) -> None:
    client = ScriptedClient({})
    report = _fetch(clean, client)
    assert client.calls == []
    assert len(report.skipped) == 1 + 5 + 4 + 2  # instruments, stocks, indices, two months
    assert clean.info().filter(pl.col("table") == "bars")["rows"].item() == 45


def test_network_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    client = ScriptedClient(
        {("stock_zh_a_hist:", "600000"): [ConnectionError("reset"), TimeoutError("slow")]}
    )
    sleeps: list[float] = []
    store = Store(tmp_path / "m.duckdb")
    report = _fetch(store, client, sleeps)
    outcome = report.frame().filter(pl.col("symbol") == "600000").to_dicts()[0]
    assert outcome["status"] == "ok"
    assert outcome["attempts"] == 5  # 3 for the raw bars, 1 hfq, 1 caps
    assert sleeps == [0.5, 1.0]
    assert store.read("bars", where={"symbol": ["600000"]}).height == 9


def test_exhausted_timeouts_are_reported_and_store_stays_consistent(tmp_path: Path) -> None:
    client = ScriptedClient({("stock_zh_a_hist:hfq", "000001"): [TimeoutError("t")] * 3})
    store = Store(tmp_path / "m.duckdb")
    report = _fetch(store, client)
    failure = report.failures().to_dicts()
    assert [(f["symbol"], f["status"], f["attempts"]) for f in failure] == [
        ("000001", "network", 3)
    ]
    assert "TimeoutError" in str(report)
    assert store.read("bars", where={"symbol": ["000001"]}).height == 0
    assert store.read("bars").height == 36
    log = read_fetch_log(store).filter(pl.col("symbol") == "000001")
    assert log["status"].to_list() == ["network"]
    _fetch(store, ScriptedClient({}))  # the rerun retries the failed symbol only
    assert store.read("bars").height == 45


def test_malformed_response_is_reported_not_retried(tmp_path: Path) -> None:
    drop = lambda frame: frame.drop(columns=["涨跌额"])  # noqa: E731
    client = ScriptedClient({("stock_zh_a_hist:", "300750"): [drop]})
    store = Store(tmp_path / "m.duckdb")
    report = _fetch(store, client)
    failure = report.failures().to_dicts()[0]
    assert (failure["symbol"], failure["status"], failure["attempts"]) == ("300750", "malformed", 1)
    assert "涨跌额" in failure["error"]
    assert _stock_calls(client).count("300750") == 1


def test_empty_answer_is_reported_as_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    report = _fetch(store, ScriptedClient({}), symbols=None, universe="all")
    failures = report.failures().select("symbol", "status").to_dicts()
    assert failures == [{"symbol": "430047", "status": "empty"}]


class Offline:
    """A client whose every call fails as with no network (DNS or connect errors)."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., pd.DataFrame]:
        def call(*args: Any) -> pd.DataFrame:
            self.calls += 1
            raise ConnectionError(f"{name}: Name or service not known")

        return call


def test_unreachable_source_stops_the_fetch_in_seconds_and_a_rerun_resumes(
    tmp_path: Path, clean: Store
) -> None:
    path = tmp_path / "offline.duckdb"
    store = Store(path)
    offline = Offline()
    began = time.perf_counter()
    with pytest.raises(SourceUnreachable) as caught:
        _fetch(store, offline)
    assert time.perf_counter() - began < 2.0
    message = str(caught.value)
    assert message.startswith("akshare is unreachable (3 requests in a row failed")
    assert "rerun the same command to resume" in message
    # the stock list and two index requests, three attempts each; nothing after them
    assert offline.calls == 3 * 3
    assert caught.value.report is not None
    assert store.is_empty("bars") and store.is_empty("instruments")
    assert set(read_fetch_log(store)["status"].to_list()) == {"network"}
    store.close()

    reopened = Store(path)
    report = _fetch(reopened, ScriptedClient({}))
    assert report.failures().height == 0
    for table in ("bars", "instruments", "index_bars", "futures_bars"):
        assert reopened.read(table).equals(clean.read(table)), table


def test_network_failures_apart_do_not_trip_the_breaker(tmp_path: Path) -> None:
    down = [ConnectionError("reset")] * 3  # one request's three attempts
    client = ScriptedClient(
        {("stock_zh_a_hist:", s): list(down) for s in (SYMBOLS[0], SYMBOLS[1], SYMBOLS[3])}
    )
    report = _fetch(Store(tmp_path / "m.duckdb"), client)
    assert sorted(report.failures()["symbol"].to_list()) == sorted(
        [SYMBOLS[0], SYMBOLS[1], SYMBOLS[3]]
    )


def test_breaker_trips_after_the_configured_run_of_failures(tmp_path: Path) -> None:
    down = [ConnectionError("reset")] * 3
    client = ScriptedClient({("stock_zh_a_hist:", s): list(down) for s in SYMBOLS[:2]})
    with pytest.raises(SourceUnreachable, match="2 requests in a row"):
        _fetch(Store(tmp_path / "m.duckdb"), client, give_up_after=2)
    assert _stock_calls(client) == [SYMBOLS[0]] * 3 + [SYMBOLS[1]] * 3


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_probe_of_closed_hosts_refuses_within_seconds_naming_the_source() -> None:
    port = _closed_port()
    hosts = {method: (f"http://127.0.0.1:{port}",) for method in LIVE_HOSTS}
    client = LiveAkshareClient(hosts=hosts, proxies={})
    began = time.perf_counter()
    with pytest.raises(SourceUnreachable, match=r"akshare is unreachable \(none of its 1 hosts"):
        client.check_reachable(LIVE_HOSTS, timeout_seconds=1.0)
    assert time.perf_counter() - began < 2.0


def test_probe_returns_the_silent_hosts_when_some_answer() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        open_port = server.getsockname()[1]
        closed = _closed_port()
        hosts = {
            "stock_zh_a_hist": (f"http://127.0.0.1:{open_port}",),
            "get_futures_daily": (f"http://127.0.0.1:{closed}",),
        }
        client = LiveAkshareClient(hosts=hosts, proxies={})
        silent = client.check_reachable(hosts, timeout_seconds=1.0)
    assert list(silent) == [f"127.0.0.1:{closed}"]
    assert "refused" in silent[f"127.0.0.1:{closed}"]


def test_probe_goes_through_the_configured_proxy() -> None:
    port = _closed_port()
    client = LiveAkshareClient(proxies={"https": f"http://127.0.0.1:{port}"})
    through = r"push2his\.eastmoney\.com \(via proxy 127\.0\.0\.1"
    with pytest.raises(SourceUnreachable, match=through):
        client.check_reachable(["stock_zh_a_hist"], timeout_seconds=1.0)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), HardCrash()])
def test_interrupted_fetch_resumes_with_nothing_lost_or_duplicated(
    tmp_path: Path, clean: Store, interruption: BaseException
) -> None:
    path = tmp_path / "interrupted.duckdb"
    store = Store(path)
    # the third stock's hfq call dies: its raw bars were fetched but nothing of it is written
    client = ScriptedClient({("stock_zh_a_hist:hfq", SYMBOLS[2]): [interruption]})
    with pytest.raises(type(interruption)):
        _fetch(store, client)
    assert sorted(store.read("bars")["symbol"].unique().to_list()) == list(SYMBOLS[:2])
    assert read_fetch_log(store).filter(pl.col("dataset") == "stock_bars").height == 2
    store.close()

    reopened = Store(path)  # a new process
    resumed = ScriptedClient({})
    _fetch(reopened, resumed)
    assert _stock_calls(resumed) == list(SYMBOLS[2:])
    got = reopened.read("bars")
    assert got.equals(clean.read("bars"))
    assert got.select("date", "symbol").is_duplicated().sum() == 0


def test_csi500_universe_uses_current_constituents(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.duckdb")
    client = ScriptedClient({})
    report = _fetch(store, client, symbols=None, universe="csi500")
    assert sorted(set(_stock_calls(client))) == ["000001", "002123"]
    weights = store.read("index_weights")
    assert weights["date"].unique().to_list() == [dt.date(2024, 2, 8)]
    assert any("not rebuilt" in gap for gap in report.gaps)


def test_whole_market_fetch_rebuilds_membership_and_microcap(tmp_path: Path) -> None:
    pytest.importorskip("backtest.market.indices")
    store = Store(tmp_path / "m.duckdb")
    report = _fetch(store, ScriptedClient({}), symbols=None, universe="all")
    weights = store.read("index_weights")
    microcap = weights.filter(pl.col("index_code") == "MICRO400")
    assert microcap["date"].n_unique() == 9, str(report)
    sums = weights.group_by("date", "index_code").agg(pl.col("weight").sum())
    assert sums["weight"].to_numpy() == pytest.approx(1.0)
    sources = store.provenance().filter(pl.col("table_name") == "index_weights")["source"]
    assert "akshare:rebuilt" in sources.to_list()


def test_config_refuses_a_reversed_range() -> None:
    with pytest.raises(ValueError, match="end"):
        FetchConfig(start=END, end=START)


@pytest.mark.live
def test_live_fetch_of_two_stocks_for_a_week(tmp_path: Path) -> None:
    store = Store(tmp_path / "live.duckdb")
    config = FetchConfig(
        start=dt.date(2024, 2, 5),
        end=dt.date(2024, 2, 9),
        symbols=("600000", "000001"),
        include_futures=False,
    )
    report = fetch_akshare(store, LiveAkshareClient(), config, progress=False)
    assert report.failures().height == 0, str(report)
    assert store.read("bars").height == 2 * 4  # 2024-02-09 was a holiday


def test_cli_refuses_a_breaker_that_never_lets_a_request_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backtest.apps.cli import main

    store = tmp_path / "never.duckdb"
    argv = ["data", "fetch", "--start", "2024-01-29", "--end", "2024-02-08", "--symbols", "600000"]
    code = main([*argv, "--give-up-after", "0", "--replay", str(FIXTURES), "--store", str(store)])
    assert code == 2
    assert "give_up_after must be >= 1" in capsys.readouterr().err
    assert not store.exists()
