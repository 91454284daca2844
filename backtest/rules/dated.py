"""Market rules as dated rows: the one scheme every rule table uses (STYLE habit 5).

A rule that changed on a date is a row of a table, never an ``if`` on the date. A table is a
tuple of rows sorted by their start date; the row in force on a day is the last one starting
on or before it. Two row shapes share this scheme:

- ``(start_date, value)`` pairs (:data:`DatedRows`): stamp duty, transfer fee, price-limit
  fractions, unlimited first sessions, a futures product's margin rate;
- records with a ``start`` attribute (:class:`DatedRecord`), when one date changes several
  values at once: the three CFFEX fee rates.

>>> rows = ((dt.date(2008, 9, 19), 0.001), (dt.date(2023, 8, 28), 0.0005))
>>> value_on(rows, dt.date(2023, 8, 27)), value_on(rows, "2023-08-28")
(0.001, 0.0005)
>>> values_on(rows, np.array(["2000-01-04", "2024-01-02"], dtype="datetime64[D]")).tolist()
[nan, 0.0005]
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

__all__ = [
    "DatedRecord",
    "DatedRows",
    "as_date",
    "check_rows",
    "record_on",
    "value_on",
    "values_on",
]

#: Rows ``(start_date, value)`` sorted by strictly increasing start date.
DatedRows = tuple[tuple[dt.date, float], ...]


class DatedRecord(Protocol):
    """A row that changes several values on one date: anything with a ``start`` date."""

    @property
    def start(self) -> dt.date: ...


RecordT = TypeVar("RecordT", bound=DatedRecord)


def as_date(day: object) -> dt.date:
    """Return ``day`` (a date, datetime, ``numpy.datetime64`` or ``'YYYY-MM-DD'``) as a date.

    >>> as_date("2024-02-05"), as_date(np.datetime64("2024-02-05"))
    (datetime.date(2024, 2, 5), datetime.date(2024, 2, 5))
    """
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if isinstance(day, np.datetime64):
        value = day.astype("datetime64[D]").item()
        if isinstance(value, dt.date):
            return value
    if isinstance(day, str):
        return dt.date.fromisoformat(day)
    raise TypeError(
        f"expected a date (datetime.date, numpy.datetime64 or 'YYYY-MM-DD'), got {day!r}"
    )


def check_rows(owner: str, name: str, rows: Sequence[tuple[dt.date, float]], high: float) -> None:
    """Raise unless ``rows`` is a non-empty table of increasing dates with values in [0, high].

    >>> check_rows("MarketRules", "stamp_duty_sell", ((dt.date(2023, 8, 28), 0.5),), 0.01)
    Traceback (most recent call last):
    ...
    ValueError: MarketRules.stamp_duty_sell: value 0.5 from 2023-08-28 must be in [0, 0.01]
    """
    if not rows:
        raise ValueError(f"{owner}.{name} is empty; give at least one (start_date, value) row")
    starts = [row[0] for row in rows]
    if any(not isinstance(s, dt.date) for s in starts) or starts != sorted(set(starts)):
        raise ValueError(
            f"{owner}.{name}: start dates must be dates, strictly increasing: {starts}"
        )
    for start, value in rows:
        if not 0.0 <= float(value) <= high:
            raise ValueError(f"{owner}.{name}: value {value} from {start} must be in [0, {high}]")


def value_on(rows: Sequence[tuple[dt.date, Any]], day: Any, *, name: str = "rate") -> float:
    """Return the value of the row in force on ``day`` (the last start on or before it).

    Raises when ``day`` is before the first row, naming the table and its first date.
    """
    day = as_date(day)
    starts = [row[0] for row in rows]
    k = bisect.bisect_right(starts, day) - 1
    if k < 0:
        raise ValueError(
            f"{name}: no row in force on {day}; the table starts on {starts[0]}: add an earlier row"
        )
    return float(rows[k][1])


def values_on(rows: Sequence[tuple[dt.date, Any]], days: np.ndarray) -> np.ndarray:
    """Return the value in force on each of ``days`` (``datetime64[D]``); NaN before row one."""
    when = np.asarray(days, dtype="datetime64[D]")
    starts = np.array([row[0] for row in rows], dtype="datetime64[D]")
    values = np.array([row[1] for row in rows], dtype=np.float64)
    where = np.searchsorted(starts, when, side="right") - 1
    out: np.ndarray = np.where(where >= 0, values[np.maximum(where, 0)], np.nan)
    return out


def record_on(records: Sequence[RecordT], day: Any, *, name: str = "rows") -> RecordT:
    """Return the record in force on ``day``: the one with the latest ``start`` on or before it.

    Raises when every record starts after ``day``.
    """
    when = np.datetime64(day, "D")
    live = [r for r in records if np.datetime64(r.start, "D") <= when]
    if not live:
        raise ValueError(f"no {name} on {day}: the first row starts later")
    return max(live, key=lambda r: r.start)
