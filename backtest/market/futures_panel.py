"""CFFEX futures bars as a dense panel: ``(days x contracts)`` arrays, aligned on the sessions.

:func:`futures_panel` turns the store's ``futures_bars`` into a :class:`FuturesPanel`;
:func:`align_futures` reindexes it onto a market's sessions. Rules (multipliers, expiries) are
in :mod:`backtest.rules.cffex`; fills and settlement in :mod:`backtest.engine.futures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import polars as pl

from backtest.rules.cffex import parse_contract

__all__ = ["PANEL_FIELDS", "FuturesPanel", "align_futures", "futures_panel", "require_columns"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesPanel:
    """Dense ``(days x contracts)`` arrays of futures bars, for the engine's session loop.

    Prices are NaN where a contract has no bar (not yet listed, or expired). Per session ``t``
    the engine reads ``settle[t, columns]``, ``settle[t - 1, columns]`` and
    ``expiry[columns] == dates[t]`` for the contracts a book holds and passes them to
    :func:`backtest.engine.futures.settlement.settle_session`; the settle on the expiry date is
    the final settlement price.
    """

    dates: np.ndarray  # datetime64[D] (days,)
    contracts: np.ndarray  # str (k,), sorted
    expiry: np.ndarray  # datetime64[D] (k,)
    multiplier: np.ndarray  # CNY per point (k,)
    values: Mapping[str, np.ndarray]  # field -> float64 (days x k)

    def __getitem__(self, field_name: str) -> np.ndarray:
        return self.values[field_name]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # a mappingproxy does not pickle: the values travel as a dict (Ray's object store, a
        # process pool) and are wrapped again, read-only, on arrival
        arrays = (self.dates, self.contracts, self.expiry, self.multiplier)
        return (_restore_panel, (*arrays, dict(self.values)))

    def columns(self, contracts: tuple[str, ...] | list[str]) -> np.ndarray:
        """Column positions of ``contracts``; raises naming a contract the panel lacks."""
        where = np.searchsorted(self.contracts, contracts)
        for contract, position in zip(contracts, where, strict=True):
            if position >= len(self.contracts) or self.contracts[position] != contract:
                raise ValueError(f"contract {contract} is not in the futures panel")
        return where

    def open_interest(self, product: str) -> pl.DataFrame:
        """``date, contract, open_interest`` rows of ``product``'s contracts (finite values).

        The input :func:`backtest.rules.roll.roll_schedule` needs for ``target="main"``; it reads
        each session's choice from the previous session's open interest (no look-ahead).
        """
        if "open_interest" not in self.values:
            raise ValueError(
                "the futures panel has no open_interest: load futures_bars with it "
                "(MarketData.from_store does) to roll to the main contract"
            )
        mine = np.char.startswith(self.contracts.astype(str), product)
        interest = self.values["open_interest"][:, mine]
        rows, columns = np.nonzero(np.isfinite(interest))
        return pl.DataFrame(
            {
                "date": self.dates[rows],
                "contract": self.contracts[mine][columns].astype(str),
                "open_interest": interest[rows, columns].astype(np.int64),
            }
        )


def _restore_panel(
    dates: np.ndarray,
    contracts: np.ndarray,
    expiry: np.ndarray,
    multiplier: np.ndarray,
    values: dict[str, np.ndarray],
) -> FuturesPanel:
    """Rebuild a pickled :class:`FuturesPanel` (see ``FuturesPanel.__reduce__``)."""
    for array in values.values():
        array.flags.writeable = False
    return FuturesPanel(
        dates=dates,
        contracts=contracts,
        expiry=expiry,
        multiplier=multiplier,
        values=MappingProxyType(values),
    )


PANEL_FIELDS: tuple[str, ...] = ("open", "close", "settle", "open_interest")


def futures_panel(futures: pl.DataFrame, *, fields: tuple[str, ...] = PANEL_FIELDS) -> FuturesPanel:
    """Pivot ``futures_bars`` rows (``date, contract, expiry`` and ``fields``) into a panel."""
    require_columns(futures, ("date", "contract", "expiry", *fields), "futures")
    if futures.select("date", "contract").is_duplicated().any():
        raise ValueError("futures has more than one row for a (date, contract); dedupe first")
    days = futures["date"].to_numpy().astype("datetime64[D]")
    names = futures["contract"].to_numpy().astype(str)
    dates, row = np.unique(days, return_inverse=True)
    contracts, column = np.unique(names, return_inverse=True)
    expiry = np.empty(len(contracts), dtype="datetime64[D]")
    expiry[column] = futures["expiry"].to_numpy().astype("datetime64[D]")
    values: dict[str, np.ndarray] = {}
    for name in fields:
        dense = np.full((len(dates), len(contracts)), np.nan)
        dense[row, column] = futures[name].cast(pl.Float64).to_numpy()
        values[name] = dense
    multiplier = np.array([parse_contract(c).spec.multiplier_cny_per_point for c in contracts])
    return FuturesPanel(
        dates=dates,
        contracts=contracts,
        expiry=expiry,
        multiplier=multiplier,
        values=MappingProxyType(values),
    )


# ---------------------------------------------------------------------------- fills
def align_futures(panel: FuturesPanel, dates: np.ndarray) -> FuturesPanel:
    """Reindex a futures panel's rows onto ``dates`` (NaN on sessions the panel lacks)."""
    if panel.dates.size == dates.size and bool(np.all(panel.dates == dates)):
        return panel
    where = np.searchsorted(panel.dates, dates)
    where = np.minimum(where, max(panel.dates.size - 1, 0))
    found = panel.dates[where] == dates if panel.dates.size else np.zeros(dates.size, bool)
    values = {}
    for name, array in panel.values.items():
        out = np.full((dates.size, panel.contracts.size), np.nan)
        out[found] = array[where[found]]
        out.flags.writeable = False
        values[name] = out
    return FuturesPanel(
        dates=dates,
        contracts=panel.contracts,
        expiry=panel.expiry,
        multiplier=panel.multiplier,
        values=MappingProxyType(values),
    )


def require_columns(frame: pl.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Raise a ValueError naming the frame and the columns it lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {frame.columns}")
