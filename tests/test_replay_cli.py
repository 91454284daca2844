"""``backtest replay`` end to end on a copy of the default scenario store, with ``--save``."""

from __future__ import annotations

import shutil

from backtest.cli import main
from backtest.engine import Result


def test_replay_prints_the_table_and_saves_every_book(scenario_store_path, tmp_path, capsys):
    store = tmp_path / "market.duckdb"
    shutil.copy(scenario_store_path, store)
    assert main(["replay", "--store", str(store), "--save", "crash", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["book", "bench", "total", "%"]
    books = [line.split()[0] for line in lines[3:9]]
    assert books == [
        "tracker_csi500",
        "microcap",
        "enhanced_csi500",
        "enhanced_csi1000",
        "neutral_ic",
        "dma_ic",
    ]
    assert "saved 6 results as crash/<book>" in out
    dma = Result.load(store, "crash/dma_ic")
    assert dma.daily["margin_call"].sum() >= 1
    tracker = Result.load(store, "crash/tracker_csi500")
    assert "futures_pnl" not in tracker.daily.columns
    # and the report of that run renders every book, hedged and financed ones included
    page = tmp_path / "report.html"
    assert main(["report", "--store", str(store), "--out", str(page)]) == 0
    html = page.read_text()
    for book in books:
        assert book in html
    assert "basis_carry" in html or "basis carry" in html
