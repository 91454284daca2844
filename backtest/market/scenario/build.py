"""Assemble the scenario's tables and write them to the store in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from backtest.market.calendar import sessions
from backtest.market.scenario.bars import Bars, make_bars
from backtest.market.scenario.config import BASE_DATE, SOURCE, ScenarioConfig
from backtest.market.scenario.futures import make_futures
from backtest.market.scenario.industries import load_industry_targets
from backtest.market.scenario.simulate import INDEX_SLOTS, MarketPaths, simulate
from backtest.market.scenario.targets import (
    basis_by_contract,
    index_target_paths,
    load_targets,
    market_amount_path,
)
from backtest.market.scenario.universe import Universe, make_universe

if TYPE_CHECKING:
    from backtest.market.store import Store

__all__ = ["TABLE_ORDER", "build_scenario", "generate", "index_ohlc"]

#: Tables in the order they are written (instruments before the tables that name symbols).
TABLE_ORDER: tuple[str, ...] = (
    "calendar",
    "instruments",
    "bars",
    "index_bars",
    "index_weights",
    "futures_bars",
    "industries",
)


def index_ohlc(paths: MarketPaths, bars: Bars) -> dict[str, np.ndarray]:
    """Index open/high/low/close/amount ``(days x 6)`` from constituents.

    ``level^o_t = level_{t-1} (1 + sum_i w_{i,t-1} (open_{i,t} / pre_close_{i,t} - 1))``, and
    likewise for high and low (a bound on the intraday extremes, clamped to contain open and
    close); the amount is the members' total amount.
    """
    day_count = paths.close.shape[0]
    levels = paths.levels
    out = {k: np.full_like(levels, np.nan) for k in ("open", "high", "low", "amount")}
    out["close"] = levels.copy()
    for slot, code in enumerate(INDEX_SLOTS):
        rows, members, weight = paths.weights[code]
        keep = rows + 1 < day_count
        rows, members, weight = rows[keep] + 1, members[keep], weight[keep]
        pre = paths.pre_close[rows, members]
        previous = levels[:-1, slot]
        for field, prices in (("open", bars.open), ("high", bars.high), ("low", bars.low)):
            move = np.bincount(
                rows, weights=weight * (prices[rows, members] / pre - 1.0), minlength=day_count
            )
            out[field][1:, slot] = previous * (1.0 + move[1:])
        amount = np.bincount(rows, weights=bars.amount[rows, members], minlength=day_count)
        out["amount"][1:, slot] = amount[1:]
    out["high"] = np.fmax(out["high"], np.fmax(out["open"], out["close"]))
    out["low"] = np.fmin(out["low"], np.fmin(out["open"], out["close"]))
    return out


def _bars_frame(
    days: np.ndarray, universe: Universe, paths: MarketPaths, bars: Bars
) -> pl.DataFrame:
    """The ``bars`` rows, in (date, symbol) order by construction.

    ``np.nonzero`` walks the ``(days x n)`` grid row by row and the universe's symbols are
    sorted, so no sort (and no copy of the frame) is needed; dates and symbols are gathered from
    short series instead of converting millions of numpy strings.
    """
    if not np.all(universe.symbols[:-1] < universe.symbols[1:]):
        raise ValueError("the universe's symbols must be sorted and unique")
    trading = paths.trading.copy()
    trading[0] = False
    rows, cols = np.nonzero(trading)
    del trading

    def pick(array: np.ndarray) -> np.ndarray:
        return array[rows, cols]

    def nullable(array: np.ndarray) -> pl.Series:
        return pl.Series(pick(array)).fill_nan(None)

    return pl.DataFrame(
        {
            "date": _date_series(days).gather(rows),
            "symbol": pl.Series(universe.symbols, dtype=pl.String).gather(cols),
            "open": pick(bars.open),
            "high": pick(bars.high),
            "low": pick(bars.low),
            "close": pick(paths.close),
            "pre_close": pick(paths.pre_close),
            "volume": pick(bars.volume),
            "amount": pick(bars.amount),
            "adj_factor": np.ones(len(rows)),
            "limit_up": nullable(paths.limit_up),
            "limit_down": nullable(paths.limit_down),
            "suspended": pick(paths.suspended),
            "float_cap": pick(paths.float_cap),
            "total_cap": pick(paths.total_cap),
            "is_st": universe.is_st[cols],
        }
    )


def _date_series(days: np.ndarray) -> pl.Series:
    return pl.Series("date", days.astype("datetime64[D]")).cast(pl.Date)


def _index_frames(
    days: np.ndarray, universe: Universe, paths: MarketPaths, ohlc: dict[str, np.ndarray]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    codes = np.array(INDEX_SLOTS)
    day_count = len(days)
    grid_rows = np.repeat(np.arange(1, day_count), len(codes))
    grid_slots = np.tile(np.arange(len(codes)), day_count - 1)
    index_bars = pl.DataFrame(
        {
            "date": pl.Series(days[grid_rows]).cast(pl.Date),
            "index_code": codes[grid_slots],
            **{
                k: ohlc[k][grid_rows, grid_slots]
                for k in ("open", "high", "low", "close", "amount")
            },
        }
    ).sort("date", "index_code")
    # index_weights sorted by (date, index_code, symbol) with integer keys: symbols are sorted,
    # so a member's position orders it; codes by their rank among the sorted codes
    code_rank = np.argsort(np.argsort(codes))
    parts = [paths.weights[code] for code in INDEX_SLOTS]
    rows = np.concatenate([r for r, _, _ in parts])
    members = np.concatenate([m for _, m, _ in parts])
    weight = np.concatenate([w for _, _, w in parts])
    slot = np.concatenate([np.full(len(r), k) for k, (r, _, _) in enumerate(parts)])
    order = np.lexsort((members, code_rank[slot], rows))
    order = order[rows[order] > 0]
    index_weights = pl.DataFrame(
        {
            "date": _date_series(days).gather(rows[order]),
            "index_code": pl.Series(codes, dtype=pl.String).gather(slot[order]),
            "symbol": pl.Series(universe.symbols, dtype=pl.String).gather(members[order]),
            "weight": weight[order],
        }
    )
    return index_bars, index_weights


def generate(config: ScenarioConfig | None = None) -> dict[str, pl.DataFrame]:
    """Generate the scenario: one polars frame per store table (see :data:`TABLE_ORDER`).

    Deterministic: the same config gives identical frames, to the bit.
    """
    config = config or ScenarioConfig()
    streams = [
        np.random.Generator(np.random.PCG64(s))
        for s in np.random.SeedSequence(config.seed).spawn(6)
    ]
    days = sessions(BASE_DATE, config.end)
    targets = load_targets()
    target_levels = index_target_paths(targets, days)
    basis = basis_by_contract(targets, days)
    universe = make_universe(config, days, streams[2], load_industry_targets())
    paths = simulate(config, universe, days, target_levels, streams[3])
    bars = make_bars(config, universe, days, paths, market_amount_path(targets, days), streams[4])
    ohlc = index_ohlc(paths, bars)
    index_bars, index_weights = _index_frames(days, universe, paths, ohlc)
    return {
        "calendar": pl.DataFrame({"date": pl.Series(days[1:]).cast(pl.Date)}),
        "instruments": universe.instruments_frame(days),
        "bars": _bars_frame(days, universe, paths, bars),
        "index_bars": index_bars,
        "index_weights": index_weights,
        "futures_bars": make_futures(days, ohlc, basis, streams[5]),
        "industries": universe.industries_frame(),
    }


def build_scenario(
    store: Store, config: ScenarioConfig | None = None, *, progress: bool = False
) -> dict[str, int]:
    """Generate the scenario and write every table in ONE store transaction.

    Each table is replaced (``mode="replace"``); provenance rows record ``source =
    "scenario:ashare-2023-2024"`` and the config as params. Returns rows written per table.
    """
    from tqdm import tqdm

    config = config or ScenarioConfig()
    params = config.to_params()
    written: dict[str, int] = {}
    with tqdm(total=1 + len(TABLE_ORDER), desc="scenario", disable=not progress) as bar:
        bar.set_postfix_str("generating")
        frames = generate(config)
        bar.update()
        with store.transaction():
            for table in TABLE_ORDER:
                bar.set_postfix_str(f"writing {table}")
                # pop: a written frame is freed before the next table is written (peak memory)
                written[table] = store.write(
                    table, frames.pop(table), source=SOURCE, params=params, mode="replace"
                )
                bar.update()
    return written
