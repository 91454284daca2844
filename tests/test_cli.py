"""``backtest data build`` and ``backtest data info`` on a small scenario store."""

from __future__ import annotations

from backtest.apps.cli import main


def test_data_build_then_info_describes_the_store(tmp_path, capsys):
    store = tmp_path / "market.duckdb"
    assert main(["data", "build", "--store", str(store), "--n-stocks", "300", "--quiet"]) == 0
    built = capsys.readouterr().out
    assert "seed 20240205, 300 stocks" in built and "bars" in built

    # a second build refuses to overwrite the bars unless asked to
    assert main(["data", "build", "--store", str(store), "--n-stocks", "300", "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err

    assert main(["data", "info", "--store", str(store)]) == 0
    info = capsys.readouterr().out
    for table in ("calendar", "instruments", "bars", "index_weights", "futures_bars"):
        assert table in info
    assert "2023-01-03" in info and "2024-12-31" in info
    assert "parameters of scenario:ashare-2023-2024: {" in info and '"n_stocks": 300' in info


def test_data_info_on_a_missing_store_says_how_to_build_one(tmp_path, capsys):
    assert main(["data", "info", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert "backtest data build" in capsys.readouterr().err
