"""The notebooks run end to end, and their ``assert`` cells hold on the scenario store.

Each notebook executes in a fresh ``python3`` kernel (nbclient) with ``notebooks/`` as its
working folder and ``BACKTEST_STORE`` pointing at the session's scenario store, so the scenario
is built once per test session; a cell that raises (an assertion on the story's numbers
included) fails the test and names the cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_NAMES = (
    "01_crash_replay.ipynb",
    "02_write_a_strategy.ipynb",
    "03_attribution_in_depth.ipynb",
)
CELL_TIMEOUT_SECONDS = 300


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_is_saved_without_outputs(name: str) -> None:
    notebook = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells, f"{name} has no code cell"
    dirty = [i for i, c in enumerate(code_cells) if c["outputs"] or c["execution_count"]]
    assert not dirty, f"{name}: code cells {dirty} were saved with outputs; clear them"
    assert any("assert " in "".join(c["source"]) for c in code_cells), f"{name} asserts nothing"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_end_to_end(
    name: str, scenario_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKTEST_STORE", str(scenario_store_path))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{name} failed in a cell:\n{error}")
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    warned = [
        output["text"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
        and output.name == "stderr"
        and "Warning" in output["text"]
    ]
    assert not warned, f"{name} printed warnings: {warned}"


def test_store_path_follows_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backtest.apps.notebook import repository_root, store_path

    monkeypatch.setenv("BACKTEST_STORE", str(tmp_path / "elsewhere.duckdb"))
    assert store_path() == tmp_path / "elsewhere.duckdb"
    monkeypatch.delenv("BACKTEST_STORE")
    assert store_path() == repository_root() / "data" / "market.duckdb"


def test_existing_store_is_opened_read_only_and_not_rebuilt(scenario_store_path: Path) -> None:
    from backtest.apps.notebook import ensure_store, open_store

    modified = scenario_store_path.stat().st_mtime_ns
    assert ensure_store(scenario_store_path) == scenario_store_path
    with open_store(scenario_store_path) as store:
        assert not store.is_empty("bars")
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            store.sql("CREATE TABLE scratch (x INTEGER)")
    assert scenario_store_path.stat().st_mtime_ns == modified


def test_missing_store_is_built_from_the_scenario_then_read(tmp_path: Path) -> None:
    from backtest.apps.notebook import ensure_store, load_market
    from backtest.market.scenario import ScenarioConfig

    path = tmp_path / "fresh" / "market.duckdb"
    small = ScenarioConfig(n_stocks=300, end="2023-03-31")
    assert ensure_store(path, config=small) == path
    market = load_market(path)
    assert market.shape[1] == 300
    assert str(market.dates[-1]) == "2023-03-31"
