"""Arrays derived from a market's bars, computed vectorised once per market and window pair.

- ``adj_close = close * adj_factor`` (backward-adjusted closes, comparable across splits);
- ``volatility[t]``: population std of the daily returns of ``adj_close`` over the
  ``volatility_window`` sessions ending at ``t`` (NaN with fewer than half the window valid);
- ``adv[t]``: mean volume over the ``adv_window`` sessions ending at ``t`` (same NaN rule);
- ``vwap = amount / volume`` where volume > 0, else the typical price (O+H+L+C)/4 when the
  amount is missing (a documented stand-in), else NaN;
- ``mark = close`` carried forward over missing bars (0 before the first bar): the price a
  position is marked at;
- lock flags, "close locked": ``locked_down = close <= limit_down`` and
  ``locked_up = close >= limit_up`` (within half a hundredth of a tick). A daily bar cannot show
  whether the book would have traded before the lock; a session that *closes* locked is taken as
  blocked for the whole session, which is how the 2024 crash's sell backlogs formed (a stock
  that opened at the limit and never left it has ``high == low == limit`` and is caught too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MarketFeatures",
    "derive",
    "derive_features",
    "derive_py",
    "rolling_moment",
    "rolling_moment_py",
]

#: a close within this much of a limit price counts as at the limit (half a hundredth of a tick)
_LOCK_TOLERANCE_CNY = 5e-5


def read_only(array: np.ndarray) -> np.ndarray:
    """A C-contiguous, non-writeable view (or copy) of ``array``."""
    out = np.ascontiguousarray(array)
    if out is array:
        out = array.view()
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True)
class MarketFeatures:
    """Arrays derived from a :class:`MarketData` for given windows (see the module docs)."""

    volatility_window: int
    adv_window: int
    adj_close: np.ndarray
    volatility: np.ndarray
    adv: np.ndarray
    vwap: np.ndarray
    mark: np.ndarray
    locked_up: np.ndarray
    locked_down: np.ndarray


def rolling_moment(values: np.ndarray, window: int, moment: int) -> np.ndarray:
    """Rolling mean (``moment=1``) or population std (``moment=2``) over ``window`` rows.

    One pass of running sums, row by row (numpy over the ``n`` columns of a row). With ``c``
    valid values in the window, ``mean = s1 / c`` and ``std = sqrt(max(s2 / c - mean**2, 0))``;
    a window with fewer than ``(window + 1) // 2`` valid values gives NaN. NaN values are
    skipped (adding an exact 0.0 instead, which leaves every sum bit for bit as the
    element-wise recurrence of the plain-Python twin :func:`rolling_moment_py` leaves it).
    Vectorised over columns rather than compiled: no numba compile on a first run.
    """
    days, n = values.shape
    out = np.full((days, n), np.nan)
    s1 = np.zeros(n)
    s2 = np.zeros(n)
    count = np.zeros(n, dtype=np.int64)
    need = (window + 1) // 2
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(days):
            x = values[t]
            valid = x == x
            s1 += np.where(valid, x, 0.0)
            s2 += np.where(valid, x * x, 0.0)
            count += valid
            if t >= window:
                old = values[t - window]
                was = old == old
                s1 -= np.where(was, old, 0.0)
                s2 -= np.where(was, old * old, 0.0)
                count -= was
            ready = (count >= need) & (count > 0)
            m = s1 / count
            if moment == 1:
                row = m
            else:
                variance = s2 / count - m * m
                row = np.where(variance > 0.0, np.sqrt(np.maximum(variance, 0.0)), 0.0)
            out[t] = np.where(ready, row, np.nan)
    return out


def rolling_moment_py(values: np.ndarray, window: int, moment: int) -> np.ndarray:
    """Plain-Python twin of :func:`rolling_moment` (same operations, same order)."""
    days, n = values.shape
    out = np.full((days, n), np.nan)
    s1 = [0.0] * n
    s2 = [0.0] * n
    count = [0] * n
    need = (window + 1) // 2
    for t in range(days):
        for j in range(n):
            x = float(values[t, j])
            if x == x:
                s1[j] += x
                s2[j] += x * x
                count[j] += 1
            if t >= window:
                old = float(values[t - window, j])
                if old == old:
                    s1[j] -= old
                    s2[j] -= old * old
                    count[j] -= 1
            c = count[j]
            if c >= need and c > 0:
                m = s1[j] / c
                if moment == 1:
                    out[t, j] = m
                else:
                    variance = s2[j] / c - m * m
                    out[t, j] = math.sqrt(variance) if variance > 0.0 else 0.0
    return out


def derive_features(
    fields: Mapping[str, np.ndarray], volatility_window: int, adv_window: int
) -> MarketFeatures:
    """Compute the derived arrays of a market's bar fields (see the module docs)."""
    f = fields
    adj_close, returns, vwap, mark, locked_up, locked_down = derive(
        f["open"],
        f["high"],
        f["low"],
        f["close"],
        f["adj_factor"],
        f["volume"],
        f["amount"],
        f["limit_up"],
        f["limit_down"],
    )
    volatility = rolling_moment(returns, volatility_window, 2)
    del returns
    adv = rolling_moment(f["volume"], adv_window, 1)
    return MarketFeatures(
        volatility_window=volatility_window,
        adv_window=adv_window,
        adj_close=read_only(adj_close),
        volatility=read_only(volatility),
        adv=read_only(adv),
        vwap=read_only(vwap),
        mark=read_only(mark),
        locked_up=read_only(locked_up),
        locked_down=read_only(locked_down),
    )


def derive(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    adj_factor: np.ndarray,
    volume: np.ndarray,
    amount: np.ndarray,
    limit_up: np.ndarray,
    limit_down: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Derive adj_close, returns, vwap, mark and lock flags, element-wise (module docs).

    ``returns[t] = adj_close[t] / adj_close[t-1] - 1`` (NaN at t = 0 or without both bars);
    ``vwap = amount / volume`` if volume > 0 (typical price when amount is NaN), else NaN;
    ``mark`` carries the last close forward (0 before the first); ``locked_down = close <=
    limit_down + 5e-5`` and ``locked_up = close >= limit_up - 5e-5`` (False where no limit).
    Every element is the same IEEE operation as in the plain-Python twin :func:`derive_py`
    (held equal to the bit by a test); vectorised, so nothing compiles on a first run.
    """
    days, n = close.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        adj_close = close * adj_factor
        returns = np.full((days, n), np.nan)
        if days > 1:
            previous = adj_close[:-1]
            returns[1:] = np.where(previous != 0.0, adj_close[1:] / previous - 1.0, np.nan)
        typical = (open_ + high + low + close) / 4.0
        vwap = np.where(volume > 0.0, np.where(amount == amount, amount / volume, typical), np.nan)
        locked_down = close <= limit_down + _LOCK_TOLERANCE_CNY
        locked_up = close >= limit_up - _LOCK_TOLERANCE_CNY
    # the mark: the last valid close at or before t (0 before the first one)
    rows = np.where(close == close, np.arange(days)[:, None], -1)
    np.maximum.accumulate(rows, axis=0, out=rows)
    mark = np.where(rows >= 0, np.take_along_axis(close, np.maximum(rows, 0), axis=0), 0.0)
    return adj_close, returns, vwap, mark, locked_up, locked_down


def derive_py(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    adj_factor: np.ndarray,
    volume: np.ndarray,
    amount: np.ndarray,
    limit_up: np.ndarray,
    limit_down: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python twin of :func:`derive` (same operations, same order)."""
    days, n = close.shape
    adj_close = np.empty((days, n))
    returns = np.full((days, n), np.nan)
    vwap = np.full((days, n), np.nan)
    mark = np.zeros((days, n))
    locked_up = np.zeros((days, n), dtype=bool)
    locked_down = np.zeros((days, n), dtype=bool)
    for t in range(days):
        for j in range(n):
            c = float(close[t, j])
            adj = c * float(adj_factor[t, j])
            adj_close[t, j] = adj
            if t > 0:
                previous = float(adj_close[t - 1, j])
                returns[t, j] = adj / previous - 1.0 if previous != 0.0 else math.nan
                mark[t, j] = c if c == c else mark[t - 1, j]
            elif c == c:
                mark[t, j] = c
            v = float(volume[t, j])
            if v > 0.0:
                a = float(amount[t, j])
                if a == a:
                    vwap[t, j] = a / v
                else:
                    vwap[t, j] = (float(open_[t, j]) + high[t, j] + low[t, j] + c) / 4.0
            locked_down[t, j] = c <= float(limit_down[t, j]) + _LOCK_TOLERANCE_CNY
            locked_up[t, j] = c >= float(limit_up[t, j]) - _LOCK_TOLERANCE_CNY
    return adj_close, returns, vwap, mark, locked_up, locked_down
