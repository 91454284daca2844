"""SSE trading sessions.

The sessions come from the calendar akshare ships (``akshare/file_fold/calendar.json``, a list
of ``"YYYYMMDD"`` strings of SSE trading days). The file is located through the import system
without importing akshare (importing it takes seconds).

CFFEX contract dates (expiry on the third Friday or the next session, the four listed months)
are exchange rules, in :mod:`backtest.rules.cffex`; they take these sessions as an argument.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["all_sessions", "sessions"]


def _calendar_path() -> Path:
    spec = importlib.util.find_spec("akshare")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "akshare is not installed, so its SSE calendar (akshare/file_fold/calendar.json) "
            "cannot be found; install the project's dependencies (pip install -e .)"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "file_fold" / "calendar.json"
        if path.exists():
            return path
    raise FileNotFoundError(
        f"akshare at {list(spec.submodule_search_locations)} ships no file_fold/calendar.json; "
        "upgrade akshare"
    )


@lru_cache(maxsize=1)
def _all_sessions() -> np.ndarray:
    with _calendar_path().open() as handle:
        days = json.load(handle)
    iso = [f"{d[:4]}-{d[4:6]}-{d[6:8]}" for d in days]
    out = np.array(iso, dtype="datetime64[D]")
    out.setflags(write=False)
    return out


def all_sessions() -> np.ndarray:
    """Return every SSE session of the shipped calendar (``datetime64[D]``, read-only).

    >>> days = all_sessions()
    >>> str(days[0]), bool(np.datetime64("2024-02-03") in days)  # first session; a Saturday
    ('1990-12-19', False)
    """
    return _all_sessions()


def _day(value: Any) -> np.datetime64:
    return np.datetime64(value, "D")


def sessions(start: Any = "2023-01-03", end: Any = "2024-12-31") -> np.ndarray:
    """Return the SSE sessions from ``start`` to ``end`` inclusive as ``datetime64[D]``.

    >>> days = sessions("2023-01-03", "2024-12-31")
    >>> len(days), str(days[0]), str(days[-1])
    (484, '2023-01-03', '2024-12-31')
    >>> str(sessions("2024-02-08", "2024-02-19")[-1])  # Spring Festival closure
    '2024-02-19'
    """
    every = _all_sessions()
    lo, hi = _day(start), _day(end)
    if hi < lo:
        raise ValueError(f"sessions: end {hi} is before start {lo}")
    if lo < every[0] or hi > every[-1]:
        raise ValueError(
            f"sessions: {lo}..{hi} leaves the shipped calendar {every[0]}..{every[-1]}; "
            "upgrade akshare for later years"
        )
    return every[(every >= lo) & (every <= hi)].copy()
