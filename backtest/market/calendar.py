"""SSE trading sessions and CFFEX contract dates.

The sessions come from the calendar akshare ships (``akshare/file_fold/calendar.json``, a list
of ``"YYYYMMDD"`` strings of SSE trading days). The file is located through the import system
without importing akshare (importing it takes seconds).

CFFEX index futures (IF, IH, IC, IM) list four contracts at any time: the current month, the
next month and the next two quarter months (March, June, September, December); each expires on
the third Friday of its month, or on the next session when that Friday is a holiday (CFFEX
contract rules for CSI 300/SSE 50/CSI 500/CSI 1000 index futures).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "QUARTER_MONTHS",
    "all_sessions",
    "futures_expiry",
    "listed_contracts",
    "sessions",
    "third_friday",
]

QUARTER_MONTHS: tuple[int, ...] = (3, 6, 9, 12)


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


def third_friday(year: int, month: int) -> dt.date:
    """Return the third Friday of a month.

    >>> third_friday(2024, 2), third_friday(2024, 3)
    (datetime.date(2024, 2, 16), datetime.date(2024, 3, 15))
    """
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return first + dt.timedelta(days=offset + 14)


def futures_expiry(year: int, month: int, session_days: np.ndarray | None = None) -> dt.date:
    """Return the last trading day of the CFFEX index future of ``year``-``month``.

    The third Friday, or the next session when it is not a session.

    >>> futures_expiry(2024, 2)  # 2024-02-16 fell in the Spring Festival closure
    datetime.date(2024, 2, 19)
    >>> futures_expiry(2024, 1)
    datetime.date(2024, 1, 19)
    """
    days = _all_sessions() if session_days is None else np.asarray(session_days, "datetime64[D]")
    friday = np.datetime64(third_friday(year, month), "D")
    index = int(np.searchsorted(days, friday, side="left"))
    if index >= len(days):
        raise ValueError(f"futures_expiry: no session on or after {friday} in the calendar given")
    return days[index].astype(dt.date)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def listed_contracts(
    date: Any, session_days: np.ndarray | None = None
) -> list[tuple[int, int, dt.date]]:
    """Return the contracts listed on ``date`` as ``(year, month, expiry)``, nearest first.

    CFFEX rule: the current month, the next month and the next two quarter months. The current
    month's contract is the one not yet expired on ``date`` (after the expiry day the next
    month becomes the current month).

    >>> [(y, m) for y, m, _ in listed_contracts("2024-01-02")]
    [(2024, 1), (2024, 2), (2024, 3), (2024, 6)]
    >>> [(y, m) for y, m, _ in listed_contracts("2024-01-22")]
    [(2024, 2), (2024, 3), (2024, 6), (2024, 9)]
    """
    day = np.datetime64(date, "D").astype(dt.date)
    year, month = day.year, day.month
    if futures_expiry(year, month, session_days) < day:
        year, month = _next_month(year, month)
    months = [(year, month), _next_month(year, month)]
    y, m = months[-1]
    while len(months) < 4:
        y, m = _next_month(y, m)
        if m in QUARTER_MONTHS:
            months.append((y, m))
    return [(y, m, futures_expiry(y, m, session_days)) for y, m in months]
