"""Daily attribution frames and their multi-period linking.

A daily attribution is a set of named components ``c_{j,t}`` whose sum is the day's arithmetic
excess return ``e_t = r_p,t - r_b,t`` exactly. :func:`attribution_frame` assembles one (and
checks the identity); the components may come from several sources at once, e.g. Brinson lines
(:mod:`backtest.analytics.brinson`) or factor lines (:mod:`backtest.analytics.factors`) computed
on the gross stock book, plus the engine's ledger lines, each a signed return (a cost is
negative):

- costs: :data:`COST_COMPONENTS` (``impact``, ``commission``, ``stamp_duty``);
- hedge: :data:`HEDGE_COMPONENTS` (``basis_carry``, ``roll``);
- financing: :data:`FINANCING_COMPONENTS` (``financing``).

Over a window, daily excess returns do not add up to the window's excess ``R_p - R_b`` (both
compounded), so components are linked. Two exact methods are offered:

**Cariño (1999)** log-linking. With ``k_t = [ln(1+r_p,t) - ln(1+r_b,t)] / (r_p,t - r_b,t)`` and
``K = [ln(1+R_p) - ln(1+R_b)] / (R_p - R_b)``, the linked component is
``C_j = sum_t c_{j,t} k_t / K``. Because ``(r_p,t - r_b,t) k_t = ln(1+r_p,t) - ln(1+r_b,t)``
the logs telescope and ``sum_j C_j = R_p - R_b``. When ``r_p = r_b`` the factor is its limit
``1 / (1 + r_b)``. Cariño, D. (1999) "Combining attribution effects over time", *Journal of
Performance Measurement* 3(4), 5-14. Needs ``1 + r > 0`` every day.

**Frongello (2002)**, the geometric "GRAP" method: a day's component is carried forward at the
benchmark's growth and backward at the portfolio's,
``C_j = sum_t c_{j,t} prod_{s<t}(1 + r_p,s) prod_{s>t}(1 + r_b,s)``. The sum telescopes to
``prod(1 + r_p) - prod(1 + r_b) = R_p - R_b``. Frongello, A. (2002) "Linking single period
attribution results", *JPM* 6(3), 10-22. It has no singular case and no sign condition, but
unlike Cariño a component's linked value depends on the order of the days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

LinkingMethod = Literal["carino", "frongello"]
DateLike = str | dt.date | np.datetime64

COST_COMPONENTS: tuple[str, ...] = ("impact", "commission", "stamp_duty")
HEDGE_COMPONENTS: tuple[str, ...] = ("basis_carry", "roll")
FINANCING_COMPONENTS: tuple[str, ...] = ("financing",)
#: Columns every attribution frame has; everything else is a component.
FRAME_COLUMNS: tuple[str, ...] = ("date", "portfolio_return", "benchmark_return", "excess_return")
#: Columns a linked frame (:func:`link_attribution`) has in place of ``date``.
WINDOW_COLUMNS: tuple[str, ...] = ("window", "start", "end")
#: Default tolerance of the identity ``excess = sum(components)``, per day.
IDENTITY_TOLERANCE = 1e-10


class AttributionIdentityError(ValueError):
    """The components of an attribution do not add up to the excess return."""


def _check_growth(returns: NDArray[np.float64], name: str) -> None:
    bad = np.nonzero(~(1.0 + returns > 0.0))[0]
    if bad.size:
        raise ValueError(
            f"{name} must be > -100% every day for Cariño linking (log of 1 + r); day index "
            f"{int(bad[0])} has {returns[bad[0]]!r}. Use method='frongello' for such a series."
        )


def _as_date(value: DateLike) -> dt.date:
    """Return a date from an ISO string, a date or a ``numpy.datetime64``."""
    day: dt.date = np.asarray(value).astype("datetime64[D]").item()
    return day


def carino_coefficients(
    portfolio_returns: ArrayLike, benchmark_returns: ArrayLike
) -> NDArray[np.float64]:
    """Return Cariño's factors ``k = [ln(1+r_p) - ln(1+r_b)] / (r_p - r_b)``, elementwise.

    Computed as ``log1p(u) / u / (1 + r_b)`` with ``u = (r_p - r_b) / (1 + r_b)``, which is
    accurate near ``r_p = r_b`` and takes the limit ``1 / (1 + r_b)`` there.

    Examples
    --------
    >>> carino_coefficients([0.05, 0.01], [0.05, 0.0]).round(6).tolist()
    [0.952381, 0.995033]
    """
    portfolio = np.asarray(portfolio_returns, dtype=np.float64)
    benchmark = np.asarray(benchmark_returns, dtype=np.float64)
    _check_growth(portfolio, "portfolio_returns")
    _check_growth(benchmark, "benchmark_returns")
    relative = (portfolio - benchmark) / (1.0 + benchmark)
    safe = np.where(relative == 0.0, 1.0, relative)
    ratio = np.where(relative == 0.0, 1.0, np.log1p(safe) / safe)
    return np.asarray(ratio / (1.0 + benchmark), dtype=np.float64)


def _validated_inputs(
    components: ArrayLike, portfolio_returns: ArrayLike, benchmark_returns: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    component_array = np.asarray(components, dtype=np.float64)
    portfolio = np.asarray(portfolio_returns, dtype=np.float64)
    benchmark = np.asarray(benchmark_returns, dtype=np.float64)
    if component_array.ndim == 1:
        component_array = component_array[:, None]
    if component_array.ndim != 2 or portfolio.ndim != 1 or benchmark.shape != portfolio.shape:
        raise ValueError(
            "components must be (days, components) and the returns 1-D of length days; got "
            f"{component_array.shape}, {portfolio.shape}, {benchmark.shape}"
        )
    if component_array.shape[0] != portfolio.shape[0]:
        raise ValueError(
            f"components has {component_array.shape[0]} days but the returns have "
            f"{portfolio.shape[0]}"
        )
    return component_array, portfolio, benchmark


def link_components(
    components: ArrayLike,
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    *,
    method: LinkingMethod = "carino",
    cumulative: bool = False,
) -> NDArray[np.float64]:
    """Link daily components over the window so that they sum to ``R_p - R_b``.

    Parameters
    ----------
    components
        ``(days, m)`` daily components whose rows sum to ``r_p,t - r_b,t``.
    portfolio_returns, benchmark_returns
        ``(days,)`` daily simple returns.
    method
        ``"carino"`` (log-linking) or ``"frongello"`` (GRAP), see the module docs.
    cumulative
        False: return ``(m,)``, the components linked over the whole window. True: return
        ``(days, m)`` whose row ``t`` is the linking over days ``0..t``.

    Examples
    --------
    >>> daily = [[0.01, 0.0], [0.0, 0.02]]
    >>> linked = link_components(daily, [0.02, 0.03], [0.01, 0.01])
    >>> round(float(linked.sum()), 12) == round(1.02 * 1.03 - 1.01 * 1.01, 12)
    True
    """
    component_array, portfolio, benchmark = _validated_inputs(
        components, portfolio_returns, benchmark_returns
    )
    days = portfolio.shape[0]
    if days == 0:
        shape = (0, component_array.shape[1]) if cumulative else (component_array.shape[1],)
        return np.zeros(shape)
    if method == "carino":
        daily_factor = carino_coefficients(portfolio, benchmark)
        wealth_portfolio = np.cumprod(1.0 + portfolio)
        wealth_benchmark = np.cumprod(1.0 + benchmark)
        window_factor = carino_coefficients(wealth_portfolio - 1.0, wealth_benchmark - 1.0)
        weighted = np.cumsum(component_array * daily_factor[:, None], axis=0)
        path = weighted / window_factor[:, None]
    elif method == "frongello":
        wealth_portfolio = np.cumprod(1.0 + portfolio)
        wealth_benchmark = np.cumprod(1.0 + benchmark)
        portfolio_before = np.concatenate(([1.0], wealth_portfolio[:-1]))
        # C_j(T) = sum_{t<=T} c_t W_p(t-1) W_b(T) / W_b(t)
        scaled = component_array * (portfolio_before / wealth_benchmark)[:, None]
        path = np.cumsum(scaled, axis=0) * wealth_benchmark[:, None]
    else:
        raise ValueError(f"method must be 'carino' or 'frongello'; got {method!r}")
    return np.asarray(path if cumulative else path[-1], dtype=np.float64)


def attribution_frame(
    dates: ArrayLike,
    portfolio_returns: ArrayLike,
    benchmark_returns: ArrayLike,
    components: Mapping[str, ArrayLike],
    *,
    tolerance: float = IDENTITY_TOLERANCE,
) -> pl.DataFrame:
    """Assemble a daily attribution frame and check ``excess = sum(components)`` every day.

    Parameters
    ----------
    dates
        ``(days,)`` session dates.
    portfolio_returns, benchmark_returns
        ``(days,)`` daily simple returns (the portfolio's net of every cost the components
        include).
    components
        Name -> ``(days,)`` signed daily contributions, in column order. Names must not clash
        with :data:`FRAME_COLUMNS`; use :data:`COST_COMPONENTS`, :data:`HEDGE_COMPONENTS` and
        :data:`FINANCING_COMPONENTS` for ledger lines.
    tolerance
        Largest allowed ``|excess - sum(components)|`` on any day.

    Returns
    -------
    polars.DataFrame
        ``date, portfolio_return, benchmark_return, excess_return, <components...>``.

    Raises
    ------
    AttributionIdentityError
        Naming the first day where the components do not add up, and by how much.

    Examples
    --------
    >>> frame = attribution_frame(
    ...     ["2024-02-05"], [-0.05], [-0.02], {"selection": [-0.025], "impact": [-0.005]}
    ... )
    >>> frame.columns
    ['date', 'portfolio_return', 'benchmark_return', 'excess_return', 'selection', 'impact']
    """
    date_array = np.asarray(dates, dtype="datetime64[D]")
    portfolio = np.asarray(portfolio_returns, dtype=np.float64)
    benchmark = np.asarray(benchmark_returns, dtype=np.float64)
    days = date_array.shape[0]
    if portfolio.shape != (days,) or benchmark.shape != (days,):
        raise ValueError(
            f"portfolio_returns and benchmark_returns must have one value per date ({days}); "
            f"got shapes {portfolio.shape} and {benchmark.shape}"
        )
    columns: dict[str, NDArray[np.float64]] = {}
    for name, values in components.items():
        if name in FRAME_COLUMNS + WINDOW_COLUMNS:
            raise ValueError(
                f"component name {name!r} clashes with a frame column "
                f"{FRAME_COLUMNS + WINDOW_COLUMNS}"
            )
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (days,):
            raise ValueError(
                f"component {name!r} must have one value per date ({days}); got {array.shape}"
            )
        columns[name] = array
    frame = pl.DataFrame(
        {
            "date": pl.Series("date", date_array, dtype=pl.Date),
            "portfolio_return": portfolio,
            "benchmark_return": benchmark,
            "excess_return": portfolio - benchmark,
            **columns,
        }
    )
    check_attribution_identity(frame, tolerance=tolerance)
    return frame


def component_columns(frame: pl.DataFrame) -> list[str]:
    """Return the component columns of a daily or linked attribution frame.

    All columns but :data:`FRAME_COLUMNS` and :data:`WINDOW_COLUMNS`, in frame order.
    """
    reserved = FRAME_COLUMNS + WINDOW_COLUMNS
    return [name for name in frame.columns if name not in reserved]


def check_attribution_identity(
    frame: pl.DataFrame, *, tolerance: float = IDENTITY_TOLERANCE
) -> None:
    """Raise :class:`AttributionIdentityError` unless every row's components sum to its excess.

    Also checks ``excess_return = portfolio_return - benchmark_return`` and that no value is
    NaN.
    """
    missing = [name for name in FRAME_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"attribution frame lacks columns {missing}; it has {frame.columns}")
    names = component_columns(frame)
    excess = frame["excess_return"].to_numpy().astype(np.float64)
    stated = frame["portfolio_return"].to_numpy() - frame["benchmark_return"].to_numpy()
    total = (
        frame.select(names).to_numpy().astype(np.float64).sum(axis=1)
        if names
        else np.zeros_like(excess)
    )
    gap = np.abs(excess - total)
    gap = np.maximum(gap, np.abs(excess - stated))
    bad = np.nonzero(~(gap <= tolerance))[0]
    if bad.size:
        row = int(bad[0])
        raise AttributionIdentityError(
            f"attribution does not add up on {frame['date'][row]} (row {row}): excess_return "
            f"{excess[row]!r} (portfolio - benchmark = {stated[row]!r}) but the components "
            f"{names} sum to {total[row]!r}; gap {gap[row]:.3e} > tolerance {tolerance:.1e} "
            f"({bad.size} bad rows). Add the missing component (costs, hedge, financing?) or "
            "fix the returns."
        )


def link_attribution(
    frame: pl.DataFrame,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    method: LinkingMethod = "carino",
    cumulative: bool = False,
) -> pl.DataFrame:
    """Link an attribution frame over ``[start, end]`` (inclusive dates; None = open end).

    Returns one row ``start, end, portfolio_return, benchmark_return, excess_return,
    <components...>`` where the returns are compounded over the window and the components are
    linked (:func:`link_components`), so ``excess_return = sum(components)`` over the window.
    With ``cumulative=True``, one such row per day: the window from ``start`` to that day.

    Examples
    --------
    >>> frame = attribution_frame(
    ...     ["2024-02-05", "2024-02-06"], [-0.05, 0.04], [-0.02, 0.03],
    ...     {"selection": [-0.03, 0.01]},
    ... )
    >>> row = link_attribution(frame)
    >>> round(row["excess_return"][0], 12) == round(row["selection"][0], 12)
    True
    """
    check_attribution_identity(frame)
    window = frame.sort("date")
    if start is not None:
        window = window.filter(pl.col("date") >= _as_date(start))
    if end is not None:
        window = window.filter(pl.col("date") <= _as_date(end))
    if window.height == 0:
        raise ValueError(f"no attribution rows between start={start} and end={end}")
    names = component_columns(window)
    portfolio = window["portfolio_return"].to_numpy().astype(np.float64)
    benchmark = window["benchmark_return"].to_numpy().astype(np.float64)
    components = window.select(names).to_numpy().astype(np.float64).reshape(window.height, -1)
    linked = link_components(
        components, portfolio, benchmark, method=method, cumulative=cumulative
    ).reshape(-1, len(names))
    wealth_portfolio = np.cumprod(1.0 + portfolio)
    wealth_benchmark = np.cumprod(1.0 + benchmark)
    first_date = window["date"][0]
    if cumulative:
        end_dates: Sequence[object] = window["date"].to_list()
        portfolio_total = wealth_portfolio - 1.0
        benchmark_total = wealth_benchmark - 1.0
    else:
        end_dates = [window["date"][-1]]
        portfolio_total = wealth_portfolio[-1:] - 1.0
        benchmark_total = wealth_benchmark[-1:] - 1.0
    return pl.DataFrame(
        {
            "start": pl.Series([first_date] * len(end_dates), dtype=pl.Date),
            "end": pl.Series(list(end_dates), dtype=pl.Date),
            "portfolio_return": portfolio_total,
            "benchmark_return": benchmark_total,
            "excess_return": portfolio_total - benchmark_total,
            **{name: linked[:, column] for column, name in enumerate(names)},
        }
    )
