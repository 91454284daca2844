"""Performance metrics as small pure functions of daily returns.

Every function takes simple (not log) daily returns first, as a 1-D array-like, and the number of
sessions per year explicitly (:data:`SESSIONS_PER_YEAR` = 242 for A-shares, the usual convention
for the SSE/SZSE calendar; 2023 had 242 sessions and 2024 had 242). A function that needs ``m``
observations returns NaN on fewer, as empyrical does; a NaN inside the input propagates to the
result (fill or drop it first: a missing day is a decision for the caller, not for a metric).
The one exception is :func:`hit_rate`, a count of outcomes: a day with a NaN return (or NaN
benchmark) has no outcome, so it is left out of both the hits and the sessions counted.

A ratio over a standard deviation (Sharpe, information ratio) is NaN when that deviation is
round-off rather than risk, see :data:`ROUND_OFF_TOLERANCE`.

Sources: the definitions follow empyrical (Quantopian, ``empyrical/stats.py``), Bacon (2008)
*Practical Portfolio Performance Measurement and Attribution*, 2nd ed., ch. 4 (tracking error,
information ratio, drawdown) and Sharpe (1994) "The Sharpe Ratio", *JPM* 21(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

# the drawdown and excess definitions live in the lowest layer (Result.summary uses them too)
from backtest.core.returns import (
    ExcessMethod,
    as_aligned_pair,
    as_returns,
    cumulative_excess_return,
    cumulative_return,
    drawdowns,
    max_drawdown,
)

#: Trading sessions per year on the Shanghai and Shenzhen exchanges (the annualisation default).
SESSIONS_PER_YEAR = 242

#: Relative size below which a daily standard deviation is round-off, not risk.
#:
#: A simple return is computed as ``W_t / W_{t-1} - 1``: a number near 1 minus 1, so it carries
#: an absolute round-off of about machine epsilon (2.2e-16) whatever its size, and a series that
#: is constant in exact arithmetic (a book equal to its benchmark plus a constant) shows a
#: standard deviation of 1e-19 to 1e-16 instead of 0; dividing by it gives ratios near 1e15.
#: A deviation ``s <= ROUND_OFF_TOLERANCE * max(1, |mean|)`` is taken as zero: 1e-12 is about
#: 4,500 epsilons (room for the round-off accumulated by a mean and a standard deviation over
#: any realistic series) and about 1.6e-11 a year annualised, far below any real volatility or
#: tracking error (a tracker's is of order 1e-3). ``max(1, |mean|)`` is the scale the returns
#: were computed at: the gross return 1, or the level of the series when that is larger.
ROUND_OFF_TOLERANCE = 1e-12

TurnoverSides = Literal["one_sided", "two_sided"]


def _check_sessions(sessions_per_year: float) -> None:
    if not sessions_per_year > 0:
        raise ValueError(f"sessions_per_year must be > 0; got {sessions_per_year}")


def _annualised_mean_over_deviation(series: NDArray[np.float64], sessions_per_year: float) -> float:
    """Return ``mean(x) / std(x, ddof=1) * sqrt(P)``; NaN when the deviation is round-off.

    The deviation is round-off when ``std <= ROUND_OFF_TOLERANCE * max(1, |mean|)`` (see
    :data:`ROUND_OFF_TOLERANCE`), and NaN when the series holds a NaN.
    """
    mean = float(np.mean(series))
    deviation = float(np.std(series, ddof=1))
    if not (np.isfinite(mean) and np.isfinite(deviation)):
        return float("nan")
    if deviation <= ROUND_OFF_TOLERANCE * max(1.0, abs(mean)):
        return float("nan")
    return float(mean / deviation * np.sqrt(sessions_per_year))


def cumulative_returns(returns: ArrayLike) -> NDArray[np.float64]:
    """Return the compounded return path: element ``t`` is ``prod_{s<=t} (1 + r_s) - 1``.

    Examples
    --------
    >>> cumulative_returns([0.10, -0.10]).round(12).tolist()
    [0.1, -0.01]
    """
    return np.asarray(np.cumprod(1.0 + as_returns(returns)) - 1.0, dtype=np.float64)


def annualised_return(returns: ArrayLike, *, sessions_per_year: float = SESSIONS_PER_YEAR) -> float:
    """Return the compound annual growth rate.

    ``(1 + R)^(P / n) - 1`` with ``R`` the cumulative return, ``n`` the number of sessions and
    ``P`` the sessions per year (empyrical ``annual_return``). NaN on an empty series.

    Examples
    --------
    >>> round(annualised_return([0.001] * 242), 10) == round(1.001**242 - 1, 10)
    True
    """
    _check_sessions(sessions_per_year)
    array = as_returns(returns)
    if array.size < 1:
        return float("nan")
    growth = float(np.prod(1.0 + array))
    return float(growth ** (sessions_per_year / array.size) - 1.0)


def annualised_volatility(
    returns: ArrayLike, *, sessions_per_year: float = SESSIONS_PER_YEAR
) -> float:
    """Return the annualised standard deviation of daily returns.

    ``sigma = std(r, ddof=1) * sqrt(P)``. NaN on fewer than 2 sessions.

    Examples
    --------
    >>> annualised_volatility([0.01, 0.01, 0.01])
    0.0
    >>> annualised_volatility([0.01])
    nan
    """
    _check_sessions(sessions_per_year)
    array = as_returns(returns)
    if array.size < 2:
        return float("nan")
    if np.ptp(array) == 0.0:
        return 0.0
    return float(np.std(array, ddof=1) * np.sqrt(sessions_per_year))


def sharpe_ratio(
    returns: ArrayLike,
    *,
    risk_free_rate: float = 0.0,
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> float:
    """Return the annualised Sharpe ratio.

    ``SR = mean(r_t - r_f) / std(r_t - r_f, ddof=1) * sqrt(P)`` where the daily risk-free
    return is ``r_f = (1 + risk_free_rate)^(1/P) - 1`` and ``risk_free_rate`` is an annual,
    compounded rate (e.g. 0.02 for 2 %). Sharpe (1994); empyrical ``sharpe_ratio``. NaN on
    fewer than 2 sessions, on a NaN inside the series, or when the standard deviation is
    round-off: ``std <= ROUND_OFF_TOLERANCE * max(1, |mean|)`` with
    :data:`ROUND_OFF_TOLERANCE` = 1e-12 (a constant series, exactly or up to round-off).

    Examples
    --------
    >>> round(sharpe_ratio([0.01, -0.01, 0.02, 0.0]), 6)
    6.024948
    >>> sharpe_ratio([0.01, 0.01])
    nan
    """
    _check_sessions(sessions_per_year)
    array = as_returns(returns)
    if array.size < 2:
        return float("nan")
    daily_risk_free = (1.0 + risk_free_rate) ** (1.0 / sessions_per_year) - 1.0
    return _annualised_mean_over_deviation(array - daily_risk_free, sessions_per_year)


@dataclass(frozen=True, kw_only=True, slots=True)
class Drawdown:
    """The deepest drawdown of a series and when it happened.

    ``depth`` is ``min_t D_t`` (e.g. -0.25 for a 25 % fall; 0.0 when the series never fell, NaN
    on an empty series). Indices are positions in the returns array: ``peak_index`` is the
    session whose close set the high-water mark (-1 when it is the initial capital, before the
    first session), ``trough_index`` the session of the lowest point, ``recovery_index`` the
    first session after the trough back at or above the peak (None if not recovered). The
    ``*_date`` fields are the same positions looked up in ``dates`` when given (None for the
    initial capital, an unrecovered drawdown, or no dates). With no drawdown all positions are
    None.
    """

    depth: float
    peak_index: int | None
    trough_index: int | None
    recovery_index: int | None
    peak_date: np.datetime64 | None = None
    trough_date: np.datetime64 | None = None
    recovery_date: np.datetime64 | None = None


def max_drawdown_details(returns: ArrayLike, *, dates: ArrayLike | None = None) -> Drawdown:
    """Return the deepest drawdown with its peak, trough and recovery sessions.

    Parameters
    ----------
    returns
        Daily simple returns.
    dates
        Optional session dates aligned with ``returns`` (anything ``numpy.datetime64`` accepts).

    Examples
    --------
    >>> details = max_drawdown_details([0.10, -0.20, 0.05, 0.30])
    >>> round(details.depth, 12), details.peak_index, details.trough_index, details.recovery_index
    (-0.2, 0, 1, 3)
    """
    array = as_returns(returns)
    date_array = None
    if dates is not None:
        date_array = np.asarray(dates, dtype="datetime64[D]")
        if date_array.shape != array.shape:
            raise ValueError(
                f"dates must align with returns; got {date_array.shape[0]} dates for "
                f"{array.shape[0]} returns"
            )
    if array.size < 1 or not np.all(np.isfinite(array)):
        return Drawdown(depth=float("nan"), peak_index=None, trough_index=None, recovery_index=None)
    wealth = np.cumprod(1.0 + array)
    underwater = drawdowns(array)
    depth = float(np.min(underwater))
    if depth >= 0.0:
        return Drawdown(depth=0.0, peak_index=None, trough_index=None, recovery_index=None)
    trough = int(np.argmin(underwater))
    path_to_trough = np.concatenate(([1.0], wealth[: trough + 1]))
    # last position of the running maximum before the trough; position 0 is the initial capital
    peak_position = int(path_to_trough.size - 1 - np.argmax(path_to_trough[::-1]))
    peak = peak_position - 1
    peak_wealth = path_to_trough[peak_position]
    recovered = np.nonzero(wealth[trough + 1 :] >= peak_wealth)[0]
    recovery = int(trough + 1 + recovered[0]) if recovered.size else None

    def _date(index: int | None) -> np.datetime64 | None:
        if date_array is None or index is None or index < 0:
            return None
        return date_array[index]

    return Drawdown(
        depth=depth,
        peak_index=peak,
        trough_index=trough,
        recovery_index=recovery,
        peak_date=_date(peak),
        trough_date=_date(trough),
        recovery_date=_date(recovery),
    )


def excess_returns(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    method: ExcessMethod = "arithmetic",
) -> NDArray[np.float64]:
    """Return daily excess returns over the benchmark.

    ``arithmetic``: ``e_t = r_p,t - r_b,t``; ``geometric``: ``e_t = (1 + r_p,t)/(1 + r_b,t) - 1``
    (Bacon 2008, sec. 2.4).

    Examples
    --------
    >>> excess_returns([0.02], [0.01]).round(12).tolist()
    [0.01]
    >>> excess_returns([0.02], [0.01], method="geometric").round(6).tolist()
    [0.009901]
    """
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    if method == "arithmetic":
        return portfolio - benchmark
    if method == "geometric":
        return (1.0 + portfolio) / (1.0 + benchmark) - 1.0
    raise ValueError(f"method must be 'arithmetic' or 'geometric'; got {method!r}")


def cumulative_excess_returns(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    method: ExcessMethod = "arithmetic",
) -> NDArray[np.float64]:
    """Return the path of :func:`cumulative_excess_return` from the first session to each day.

    Examples
    --------
    >>> cumulative_excess_returns([0.1, 0.1], [0.0, 0.1]).round(12).tolist()
    [0.1, 0.11]
    """
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    wealth_portfolio = np.cumprod(1.0 + portfolio)
    wealth_benchmark = np.cumprod(1.0 + benchmark)
    if method == "arithmetic":
        return wealth_portfolio - wealth_benchmark
    if method == "geometric":
        return wealth_portfolio / wealth_benchmark - 1.0
    raise ValueError(f"method must be 'arithmetic' or 'geometric'; got {method!r}")


def tracking_error(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> float:
    """Return the annualised tracking error (ex post).

    ``TE = std(r_p - r_b, ddof=1) * sqrt(P)`` (Bacon 2008, sec. 4.3). NaN on fewer than 2
    sessions.

    Examples
    --------
    >>> round(tracking_error([0.01, 0.03], [0.01, 0.01], sessions_per_year=1), 9)
    0.014142136
    """
    _check_sessions(sessions_per_year)
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    if portfolio.size < 2:
        return float("nan")
    return float(np.std(portfolio - benchmark, ddof=1) * np.sqrt(sessions_per_year))


def information_ratio(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> float:
    """Return the annualised information ratio.

    ``IR = mean(r_p - r_b) * P / TE`` with ``TE`` from :func:`tracking_error`, i.e.
    ``mean(e) / std(e, ddof=1) * sqrt(P)`` (Grinold and Kahn 2000, ch. 5; Bacon 2008,
    sec. 4.3, arithmetic form). NaN on fewer than 2 sessions, on a NaN inside either series,
    or when the tracking error is round-off: ``std(e) <= ROUND_OFF_TOLERANCE * max(1,
    |mean(e)|)`` with :data:`ROUND_OFF_TOLERANCE` = 1e-12 (a book equal to its benchmark plus
    a constant, whose excess is constant up to round-off).

    Examples
    --------
    >>> round(information_ratio([0.02, 0.00], [0.01, 0.00], sessions_per_year=1), 6)
    0.707107
    >>> information_ratio([0.021, 0.011, -0.009], [0.02, 0.01, -0.01])  # constant excess 0.001
    nan
    """
    _check_sessions(sessions_per_year)
    portfolio, benchmark = as_aligned_pair(portfolio_returns, benchmark_returns)
    if portfolio.size < 2:
        return float("nan")
    return _annualised_mean_over_deviation(portfolio - benchmark, sessions_per_year)


def daily_turnover(
    traded_notional_cny: ArrayLike,
    equity_cny: ArrayLike,
    *,
    sides: TurnoverSides = "one_sided",
) -> NDArray[np.float64]:
    """Return daily turnover as a fraction of equity.

    ``two_sided``: ``T_t = N_t / E_t`` where ``N_t`` is the gross traded notional (buys plus
    sells, CNY) and ``E_t`` the equity it is measured against (the start-of-day equity is the
    usual choice); ``one_sided``: ``N_t / (2 E_t)``, so that selling the whole book and buying
    a new one counts as 100 %. Days with zero or negative equity give NaN.

    Examples
    --------
    >>> daily_turnover([2_000_000.0, 0.0], [10_000_000.0, 10_000_000.0]).tolist()
    [0.1, 0.0]
    """
    notional = as_returns(traded_notional_cny, "traded_notional_cny")
    equity = as_returns(equity_cny, "equity_cny")
    if notional.shape != equity.shape:
        raise ValueError(
            "traded_notional_cny and equity_cny must align day by day; got lengths "
            f"{notional.shape[0]} and {equity.shape[0]}"
        )
    if sides not in ("one_sided", "two_sided"):
        raise ValueError(f"sides must be 'one_sided' or 'two_sided'; got {sides!r}")
    divisor = 2.0 if sides == "one_sided" else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = np.abs(notional) / (divisor * equity)
    return np.where(equity > 0.0, turnover, np.nan)


def annualised_turnover(
    traded_notional_cny: ArrayLike,
    equity_cny: ArrayLike,
    *,
    sides: TurnoverSides = "one_sided",
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> float:
    """Return the mean of :func:`daily_turnover` times ``P``; NaN on empty input.

    Examples
    --------
    >>> round(annualised_turnover([1e6, 1e6], [1e7, 1e7], sessions_per_year=242), 9)
    12.1
    """
    _check_sessions(sessions_per_year)
    turnover = daily_turnover(traded_notional_cny, equity_cny, sides=sides)
    if turnover.size < 1:
        return float("nan")
    return float(np.mean(turnover) * sessions_per_year)


def hit_rate(returns: ArrayLike, benchmark_returns: ArrayLike | None = None) -> float:
    """Return the fraction of sessions with a positive return (or excess return).

    ``h = #{t in K : r_t > b_t} / #K`` with ``b_t = 0`` without a benchmark and ``K`` the
    sessions where neither ``r_t`` nor ``b_t`` is NaN: a NaN day has no outcome, so it is
    neither a hit nor a miss. A tie counts as a miss. NaN when no session is left (an empty or
    all-NaN series).

    Examples
    --------
    >>> hit_rate([0.01, -0.01, 0.0, 0.02])
    0.5
    >>> hit_rate([0.01, 0.01], [0.0, 0.02])
    0.5
    >>> hit_rate([0.01, float("nan"), -0.01, 0.02])
    0.6666666666666666
    """
    array = as_returns(returns)
    reference = (
        np.zeros_like(array)
        if benchmark_returns is None
        else as_aligned_pair(array, benchmark_returns)[1]
    )
    known = ~(np.isnan(array) | np.isnan(reference))
    sessions = int(np.count_nonzero(known))
    if sessions < 1:
        return float("nan")
    return float(np.count_nonzero(array[known] > reference[known]) / sessions)


def performance_summary(
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike | None = None,
    *,
    risk_free_rate: float = 0.0,
    sessions_per_year: float = SESSIONS_PER_YEAR,
) -> dict[str, float]:
    """Return the headline metrics of one book as a flat ``name -> value`` mapping.

    Keys: ``sessions``, ``cumulative_return``, ``annualised_return``, ``annualised_volatility``,
    ``sharpe_ratio``, ``max_drawdown``, ``hit_rate``; with a benchmark also
    ``benchmark_cumulative_return``, ``excess_return`` (arithmetic, compounded each side),
    ``geometric_excess_return``, ``tracking_error``, ``information_ratio`` and
    ``excess_hit_rate``. Several books' summaries stack into one frame with
    ``polars.DataFrame([...])``.

    Examples
    --------
    >>> summary = performance_summary([0.01, -0.02, 0.03], [0.0, -0.01, 0.01])
    >>> summary["sessions"], round(summary["excess_return"], 6)
    (3.0, 0.019594)
    """
    portfolio = as_returns(portfolio_returns, "portfolio_returns")
    summary = {
        "sessions": float(portfolio.size),
        "cumulative_return": cumulative_return(portfolio),
        "annualised_return": annualised_return(portfolio, sessions_per_year=sessions_per_year),
        "annualised_volatility": annualised_volatility(
            portfolio, sessions_per_year=sessions_per_year
        ),
        "sharpe_ratio": sharpe_ratio(
            portfolio, risk_free_rate=risk_free_rate, sessions_per_year=sessions_per_year
        ),
        "max_drawdown": max_drawdown(portfolio),
        "hit_rate": hit_rate(portfolio),
    }
    if benchmark_returns is None:
        return summary
    _, benchmark = as_aligned_pair(portfolio, benchmark_returns)
    summary |= {
        "benchmark_cumulative_return": cumulative_return(benchmark),
        "excess_return": cumulative_excess_return(portfolio, benchmark),
        "geometric_excess_return": cumulative_excess_return(
            portfolio, benchmark, method="geometric"
        ),
        "tracking_error": tracking_error(portfolio, benchmark, sessions_per_year=sessions_per_year),
        "information_ratio": information_ratio(
            portfolio, benchmark, sessions_per_year=sessions_per_year
        ),
        "excess_hit_rate": hit_rate(portfolio, benchmark),
    }
    return summary
