"""Options every ``backtest`` command shares (a leaf module: it imports no command).

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_store_argument(parser)
>>> parser.parse_args([]).store
PosixPath('data/market.duckdb')
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["DEFAULT_STORE", "add_store_argument"]

DEFAULT_STORE = Path("data/market.duckdb")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--store PATH`` option every store-reading command shares."""
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help=f"DuckDB market store (default: {DEFAULT_STORE})",
    )
