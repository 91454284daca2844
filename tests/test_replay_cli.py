"""``backtest replay`` end to end on a copy of the default scenario store, with ``--save``."""

from __future__ import annotations

import re
import shutil

from backtest.apps.cli import main
from backtest.core.ids import CSI500, MICROCAP
from backtest.engine import Benchmark
from backtest.runs import RunStore

BOOKS = [
    "tracker_csi500",
    "microcap",
    "enhanced_csi500",
    "enhanced_csi1000",
    "neutral_ic",
    "dma_ic",
]


def test_replay_prints_the_table_and_saves_every_book(scenario_store_path, tmp_path, capsys):
    store = tmp_path / "market.duckdb"
    shutil.copy(scenario_store_path, store)
    market_bytes = store.read_bytes()
    assert main(["replay", "--store", str(store), "--save", "crash", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["book", "bench", "size", "total"]
    books = [line.split()[0] for line in lines[3:9]]
    assert books == BOOKS
    assert f"saved run crash (6 books) in {tmp_path / 'runs.duckdb'}" in out
    # the market file is only read: results live in the runs store beside it
    assert store.read_bytes() == market_bytes
    with RunStore(tmp_path / "runs.duckdb", read_only=True) as runs:
        run = runs.load("crash")
    assert list(run.results) == BOOKS
    assert run.benchmarks["microcap"] == Benchmark.index(MICROCAP)
    assert run.benchmarks["dma_ic"] == Benchmark.cash()
    assert run.complete
    assert run.results["dma_ic"].daily["margin_call"].sum() >= 1
    assert "futures_pnl" not in run.results["tracker_csi500"].daily.columns
    # and the report of that run renders every book, hedged and financed ones included
    page = tmp_path / "report.html"
    assert main(["report", "--store", str(store), "--out", str(page)]) == 0
    html = page.read_text()
    for book in books:
        assert book in html
    # the saved microcap book is reported against the microcap index (once CSI 500)
    second_cells = set(re.findall(r"<tr><td>microcap</td><td>([^<]*)</td>", html))
    assert MICROCAP in second_cells and CSI500 not in second_cells
    assert "basis_carry" in html or "basis carry" in html

    # the same id again is refused before any work; --overwrite replaces it
    assert main(["replay", "--store", str(store), "--save", "crash", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "a run named 'crash' is already saved" in err and "--overwrite" in err
    window = ["--start", "2024-01-02", "--end", "2024-02-29", "--quiet"]
    assert main(["replay", "--store", str(store), "--save", "feb", *window]) == 0
    capsys.readouterr()
    # a second saved run: the report takes the newest by default, or any named set of runs
    assert main(["report", "--store", str(store), "--out", str(page)]) == 0
    assert "6 books of feb" in capsys.readouterr().out
    both = ["--runs", "crash", "feb"]
    assert main(["report", "--store", str(store), *both, "--out", str(page)]) == 0
    assert "12 books of crash, feb" in capsys.readouterr().out
    html = page.read_text()
    assert "crash/dma_ic" in html and "feb/dma_ic" in html
