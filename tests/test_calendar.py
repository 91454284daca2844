import datetime as dt
import doctest

import numpy as np
import pytest

from backtest.market import calendar
from backtest.market.calendar import all_sessions, sessions
from backtest.rules.cffex import futures_expiry, listed_months, third_friday


def test_doctests_pass() -> None:
    assert doctest.testmod(calendar).failed == 0


def test_sessions_2023_2024_are_the_484_sse_trading_days() -> None:
    days = sessions("2023-01-03", "2024-12-31")
    assert len(days) == 484
    assert days.dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(days).astype(int) > 0)
    weekdays = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    assert set(np.unique(weekdays)) <= {0, 1, 2, 3, 4}
    assert np.datetime64("2024-02-09") not in days  # Spring Festival eve, closed
    assert np.datetime64("2023-09-28") in days and np.datetime64("2023-09-29") not in days


def test_base_date_2022_12_30_is_a_session() -> None:
    assert str(sessions("2022-12-30", "2023-01-03")[0]) == "2022-12-30"


def test_sessions_reject_reversed_or_out_of_range_dates() -> None:
    with pytest.raises(ValueError, match="before start"):
        sessions("2024-01-02", "2023-01-03")
    with pytest.raises(ValueError, match="shipped calendar"):
        sessions("1980-01-01", "1980-12-31")


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2023, 1, dt.date(2023, 1, 20)),
        (2024, 3, dt.date(2024, 3, 15)),
        (2024, 9, dt.date(2024, 9, 20)),
    ],
)
def test_third_friday(year: int, month: int, expected: dt.date) -> None:
    assert third_friday(year, month) == expected
    assert expected.weekday() == 4


def test_expiry_rolls_past_a_holiday_friday() -> None:
    assert third_friday(2024, 2) == dt.date(2024, 2, 16)
    assert futures_expiry(2024, 2, all_sessions()) == dt.date(2024, 2, 19)


def test_listed_contracts_follow_the_cffex_rule() -> None:
    nearest = [(y, m) for y, m, _ in listed_months("2024-03-15", all_sessions())]
    assert nearest == [(2024, 3), (2024, 4), (2024, 6), (2024, 9)]  # expiry day still lists 2403
    after = [(y, m) for y, m, _ in listed_months("2024-03-18", all_sessions())]
    assert after == [(2024, 4), (2024, 5), (2024, 6), (2024, 9)]
    december = [(y, m) for y, m, _ in listed_months("2024-12-31", all_sessions())]
    assert december == [(2025, 1), (2025, 2), (2025, 3), (2025, 6)]
