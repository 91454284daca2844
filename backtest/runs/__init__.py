"""Saved runs: every book of a replay saved whole or not at all, in a store of their own.

>>> from backtest.runs import RunStore, default_runs_path
>>> str(default_runs_path("data/market.duckdb"))
'data/runs.duckdb'
"""

from backtest.runs.store import RunStore, SavedRun, default_runs_path

__all__ = ["RunStore", "SavedRun", "default_runs_path"]
