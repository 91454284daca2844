"""Brinson-Fachler attribution of the excess return by cap bucket.

For each day and bucket ``k`` (CSI 300, CSI 500, CSI 1000, CSI 2000, microcap, the rest, plus a
cash line), with ``W_pk, W_bk`` the portfolio and benchmark weights in the bucket,
``R_pk, R_bk`` their returns within the bucket and ``R_b`` the benchmark's total return
(Brinson and Fachler 1985, "Measuring non-US equity portfolio performance", *JPM* 11(3);
Bacon 2008, ch. 5)::

    allocation_k  = (W_pk - W_bk) (R_bk - R_b)
    selection_k   =  W_bk         (R_pk - R_bk)
    interaction_k = (W_pk - W_bk) (R_pk - R_bk)

and ``sum_k (allocation_k + selection_k + interaction_k) = r_p - r_b``.

Choices that keep the sum exact
-------------------------------
- **Cash.** Weights need not sum to one (a long-only book holds cash; a levered book borrows).
  The remainder ``1 - sum(w)`` of each side is a cash line earning ``cash_return`` (0 unless
  given), so both sides sum to one and ``r_p = w_p'r + (1 - sum w_p) cash_return``.
- **Empty portfolio bucket** (``W_pk = 0``, or a long-short bucket whose net weight is below
  ``1e-9`` of its gross weight): ``R_pk`` is undefined and is taken as ``R_bk``; the bucket's
  active return is then all allocation, plus, for a long-short bucket, its contribution
  ``C_pk`` counted as selection.
- **Out-of-benchmark bucket** (``W_bk = 0``, e.g. the microcap sleeve of a CSI 500 enhanced
  book): ``R_bk`` is undefined. With ``market_weights`` (e.g. float caps at the previous
  close) it is the bucket's market return ``M_k = sum_i m_i r_i / sum_i m_i``, so allocation
  measures the bet on the bucket and selection+interaction the picks within it; without, it is
  ``R_b``, so allocation is zero and the sleeve's whole active return shows as interaction.
- **Computation.** Selection is computed as ``(C_pk - W_pk R_bk) - (C_bk - W_bk R_bk) -
  interaction_k`` with ``C`` the contributions ``sum_i w_i r_i``; this equals
  ``W_bk (R_pk - R_bk)`` whenever the returns are defined, and makes the three effects sum to
  ``C_pk - C_bk - (W_pk - W_bk) R_b`` whatever the fallbacks, hence to ``r_p - r_b`` exactly.

Stocks whose returns are NaN are skipped when both weights are zero (not listed, suspended and
not held); a NaN return under a non-zero weight is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from numba import njit
from numpy.typing import ArrayLike, NDArray

#: Default bucket codes ``0..5``; a stock belongs to the first index that holds it.
BUCKET_NAMES: tuple[str, ...] = ("csi300", "csi500", "csi1000", "csi2000", "microcap", "rest")
CASH_BUCKET = "cash"

STATUS_OK = 0
STATUS_BUCKET_OUT_OF_RANGE = 1
STATUS_NAN_RETURN_WITH_WEIGHT = 2
STATUS_NON_FINITE_WEIGHT = 3
STATUS_MESSAGES: dict[int, str] = {
    STATUS_BUCKET_OUT_OF_RANGE: "bucket code outside 0..bucket_count-1 for a stock with weight",
    STATUS_NAN_RETURN_WITH_WEIGHT: "return is NaN for a stock with a non-zero weight",
    STATUS_NON_FINITE_WEIGHT: "weight is NaN or infinite",
}
#: Net bucket weight below this fraction of the gross weight counts as an empty bucket.
NET_WEIGHT_RELATIVE_TOLERANCE = 1e-9

Components = Literal["effect", "effect_and_bucket"]


@njit(cache=True)
def bucket_totals_nb(
    portfolio_weights: NDArray[np.float64],
    benchmark_weights: NDArray[np.float64],
    market_weights: NDArray[np.float64],
    stock_returns: NDArray[np.float64],
    bucket_codes: NDArray[np.int64],
    bucket_count: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Sum weights and contributions per day and bucket in one pass (numba kernel).

    Returns ``totals (7, days, bucket_count)`` holding portfolio net weight, portfolio gross
    weight, portfolio contribution, benchmark weight, benchmark contribution, market weight and
    market contribution; ``status (days,)`` (a ``STATUS_*`` code, the first problem of the day)
    and ``bad_stock (days,)`` (its column, -1 if none). ``market_weights`` of shape ``(0, 0)``
    means none.
    """
    days, stocks = stock_returns.shape
    totals = np.zeros((7, days, bucket_count))
    status = np.zeros(days, dtype=np.int64)
    bad_stock = np.full(days, -1, dtype=np.int64)
    use_market = market_weights.shape[0] > 0
    for day in range(days):
        for stock in range(stocks):
            weight_p = portfolio_weights[day, stock]
            weight_b = benchmark_weights[day, stock]
            stock_return = stock_returns[day, stock]
            code = bucket_codes[day, stock]
            if not (np.isfinite(weight_p) and np.isfinite(weight_b)):
                if status[day] == 0:
                    status[day] = STATUS_NON_FINITE_WEIGHT
                    bad_stock[day] = stock
                continue
            in_range = code >= 0 and code < bucket_count
            if use_market and in_range and np.isfinite(stock_return):
                weight_m = market_weights[day, stock]
                if np.isfinite(weight_m) and weight_m > 0.0:
                    totals[5, day, code] += weight_m
                    totals[6, day, code] += weight_m * stock_return
            if weight_p == 0.0 and weight_b == 0.0:
                continue
            if not in_range:
                if status[day] == 0:
                    status[day] = STATUS_BUCKET_OUT_OF_RANGE
                    bad_stock[day] = stock
                continue
            if not np.isfinite(stock_return):
                if status[day] == 0:
                    status[day] = STATUS_NAN_RETURN_WITH_WEIGHT
                    bad_stock[day] = stock
                continue
            totals[0, day, code] += weight_p
            totals[1, day, code] += abs(weight_p)
            totals[2, day, code] += weight_p * stock_return
            totals[3, day, code] += weight_b
            totals[4, day, code] += weight_b * stock_return
    return totals, status, bad_stock


def bucket_totals_python(
    portfolio_weights: NDArray[np.float64],
    benchmark_weights: NDArray[np.float64],
    market_weights: NDArray[np.float64],
    stock_returns: NDArray[np.float64],
    bucket_codes: NDArray[np.int64],
    bucket_count: int,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Plain-numpy twin of :func:`bucket_totals_nb` (same inputs, same outputs)."""
    days = stock_returns.shape[0]
    totals = np.zeros((7, days, bucket_count))
    status = np.zeros(days, dtype=np.int64)
    bad_stock = np.full(days, -1, dtype=np.int64)
    finite_weights = np.isfinite(portfolio_weights) & np.isfinite(benchmark_weights)
    in_range = (bucket_codes >= 0) & (bucket_codes < bucket_count)
    held = finite_weights & ((portfolio_weights != 0.0) | (benchmark_weights != 0.0))
    problems = [
        (~finite_weights, STATUS_NON_FINITE_WEIGHT),
        (held & ~in_range, STATUS_BUCKET_OUT_OF_RANGE),
        (held & in_range & ~np.isfinite(stock_returns), STATUS_NAN_RETURN_WITH_WEIGHT),
    ]
    problem_any = np.zeros_like(held)
    problem_code = np.zeros(stock_returns.shape, dtype=np.int64)
    for mask, code in problems:
        problem_code = np.where(mask & ~problem_any, code, problem_code)
        problem_any |= mask
    for day in range(days):
        flagged = np.nonzero(problem_any[day])[0]
        if flagged.size:
            status[day] = problem_code[day, flagged[0]]
            bad_stock[day] = flagged[0]
    good = held & in_range & np.isfinite(stock_returns)
    safe_returns = np.where(good, stock_returns, 0.0)
    for bucket in range(bucket_count):
        member = good & (bucket_codes == bucket)
        weight_p = np.where(member, portfolio_weights, 0.0)
        weight_b = np.where(member, benchmark_weights, 0.0)
        totals[0, :, bucket] = weight_p.sum(axis=1)
        totals[1, :, bucket] = np.abs(weight_p).sum(axis=1)
        totals[2, :, bucket] = (weight_p * safe_returns).sum(axis=1)
        totals[3, :, bucket] = weight_b.sum(axis=1)
        totals[4, :, bucket] = (weight_b * safe_returns).sum(axis=1)
        if market_weights.shape[0] > 0:
            market_member = (
                (bucket_codes == bucket)
                & finite_weights
                & np.isfinite(stock_returns)
                & np.isfinite(market_weights)
                & (market_weights > 0.0)
            )
            weight_m = np.where(market_member, market_weights, 0.0)
            totals[5, :, bucket] = weight_m.sum(axis=1)
            totals[6, :, bucket] = (weight_m * np.where(market_member, stock_returns, 0.0)).sum(
                axis=1
            )
    return totals, status, bad_stock


@dataclass(frozen=True, kw_only=True, slots=True)
class BrinsonAttribution:
    """Daily Brinson-Fachler effects by bucket; arrays are ``(days, buckets)`` unless noted.

    ``bucket_names`` ends with :data:`CASH_BUCKET`. ``portfolio_return`` and
    ``benchmark_return`` are ``(days,)`` and include the cash lines.
    """

    bucket_names: tuple[str, ...]
    allocation: NDArray[np.float64]
    selection: NDArray[np.float64]
    interaction: NDArray[np.float64]
    portfolio_weight: NDArray[np.float64]
    benchmark_weight: NDArray[np.float64]
    portfolio_bucket_return: NDArray[np.float64]
    benchmark_bucket_return: NDArray[np.float64]
    portfolio_return: NDArray[np.float64]
    benchmark_return: NDArray[np.float64]

    @property
    def excess_return(self) -> NDArray[np.float64]:
        """Return ``r_p - r_b`` per day."""
        return self.portfolio_return - self.benchmark_return

    def components(self, by: Components = "effect") -> dict[str, NDArray[np.float64]]:
        """Return named ``(days,)`` components for ``linking.attribution_frame``.

        ``effect``: ``allocation``, ``selection``, ``interaction`` summed over buckets;
        ``effect_and_bucket``: ``allocation_csi300``, ``selection_csi300``, ... one per pair.
        """
        effects = {
            "allocation": self.allocation,
            "selection": self.selection,
            "interaction": self.interaction,
        }
        if by == "effect":
            return {name: values.sum(axis=1) for name, values in effects.items()}
        if by == "effect_and_bucket":
            return {
                f"{name}_{bucket}": values[:, column]
                for name, values in effects.items()
                for column, bucket in enumerate(self.bucket_names)
            }
        raise ValueError(f"by must be 'effect' or 'effect_and_bucket'; got {by!r}")

    def to_frame(self, dates: ArrayLike) -> pl.DataFrame:
        """Return a long frame ``date, bucket, portfolio_weight, benchmark_weight,
        portfolio_bucket_return, benchmark_bucket_return, allocation, selection, interaction``
        sorted by date then bucket order.
        """
        date_array = np.asarray(dates, dtype="datetime64[D]")
        days, buckets = self.allocation.shape
        if date_array.shape != (days,):
            raise ValueError(f"dates must have {days} entries; got {date_array.shape}")
        return pl.DataFrame(
            {
                "date": pl.Series(np.repeat(date_array, buckets), dtype=pl.Date),
                "bucket": np.tile(np.asarray(self.bucket_names), days),
                "portfolio_weight": self.portfolio_weight.ravel(),
                "benchmark_weight": self.benchmark_weight.ravel(),
                "portfolio_bucket_return": self.portfolio_bucket_return.ravel(),
                "benchmark_bucket_return": self.benchmark_bucket_return.ravel(),
                "allocation": self.allocation.ravel(),
                "selection": self.selection.ravel(),
                "interaction": self.interaction.ravel(),
            }
        )


def _as_panel(values: ArrayLike, name: str, shape: tuple[int, ...] | None) -> NDArray[np.float64]:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a (days, stocks) array; got shape {array.shape}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} like stock_returns; got {array.shape}")
    return array


def brinson_fachler(
    portfolio_weights: ArrayLike,
    benchmark_weights: ArrayLike,
    stock_returns: ArrayLike,
    bucket_codes: ArrayLike,
    *,
    bucket_names: Sequence[str] = BUCKET_NAMES,
    market_weights: ArrayLike | None = None,
    cash_return: ArrayLike | float = 0.0,
    dates: ArrayLike | None = None,
    symbols: ArrayLike | None = None,
) -> BrinsonAttribution:
    """Return the daily Brinson-Fachler attribution by bucket (see the module docs).

    Parameters
    ----------
    portfolio_weights, benchmark_weights
        ``(days, stocks)`` weights of the day's start-of-day holdings as fractions of equity
        (0 where not held).
    stock_returns
        ``(days, stocks)`` simple returns over the day (NaN allowed where both weights are 0).
    bucket_codes
        ``(days, stocks)`` integer codes ``0..len(bucket_names)-1`` (see
        :func:`cap_bucket_codes`); any value where both weights are 0 is ignored.
    bucket_names
        One name per code; :data:`CASH_BUCKET` is appended.
    market_weights
        Optional ``(days, stocks)`` market weights (e.g. float cap at the previous close) that
        define the return of out-of-benchmark buckets; without, ``R_b`` is used.
    cash_return
        Scalar or ``(days,)`` return of the cash lines.
    dates, symbols
        Optional labels used only in error messages.

    Examples
    --------
    >>> result = brinson_fachler(
    ...     [[0.5, 0.5]], [[0.5, 0.5]], [[0.02, 0.0]], [[0, 1]], bucket_names=("large", "small")
    ... )
    >>> result.excess_return.tolist(), result.bucket_names
    ([0.0], ('large', 'small', 'cash'))
    """
    returns = _as_panel(stock_returns, "stock_returns", None)
    shape = returns.shape
    weights_p = _as_panel(portfolio_weights, "portfolio_weights", shape)
    weights_b = _as_panel(benchmark_weights, "benchmark_weights", shape)
    codes = np.ascontiguousarray(bucket_codes, dtype=np.int64)
    if codes.shape != shape:
        raise ValueError(
            f"bucket_codes must have shape {shape} like stock_returns; got {codes.shape}"
        )
    weights_m = (
        np.zeros((0, 0))
        if market_weights is None
        else _as_panel(market_weights, "market_weights", shape)
    )
    days = shape[0]
    cash = _per_day(cash_return, days)
    names = (*tuple(bucket_names), CASH_BUCKET)
    bucket_count = len(names) - 1
    totals, status, bad_stock = bucket_totals_nb(
        weights_p, weights_b, weights_m, returns, codes, bucket_count
    )
    _raise_on_status(status, bad_stock, dates, symbols)
    net_p, gross_p, contribution_p, weight_b, contribution_b, weight_m, contribution_m = totals
    # the cash line closes each side to a total weight of one
    cash_p = 1.0 - net_p.sum(axis=1)
    cash_b = 1.0 - weight_b.sum(axis=1)
    net_p = np.column_stack((net_p, cash_p))
    gross_p = np.column_stack((gross_p, np.abs(cash_p)))
    contribution_p = np.column_stack((contribution_p, cash_p * cash))
    weight_b = np.column_stack((weight_b, cash_b))
    contribution_b = np.column_stack((contribution_b, cash_b * cash))
    portfolio_return = contribution_p.sum(axis=1)
    benchmark_return = contribution_b.sum(axis=1)
    fallback = np.repeat(benchmark_return[:, None], bucket_count + 1, axis=1)
    if market_weights is not None:
        has_market = weight_m > 0.0
        market_return = np.divide(
            contribution_m, weight_m, out=np.zeros_like(weight_m), where=has_market
        )
        fallback[:, :bucket_count] = np.where(has_market, market_return, fallback[:, :-1])
    fallback[:, -1] = cash
    benchmark_defined = weight_b != 0.0
    benchmark_bucket = np.divide(
        contribution_b, weight_b, out=np.zeros_like(weight_b), where=benchmark_defined
    )
    benchmark_bucket = np.where(benchmark_defined, benchmark_bucket, fallback)
    benchmark_bucket[:, -1] = cash
    portfolio_defined = np.abs(net_p) > NET_WEIGHT_RELATIVE_TOLERANCE * gross_p
    portfolio_bucket = np.divide(
        contribution_p, net_p, out=np.zeros_like(net_p), where=portfolio_defined
    )
    portfolio_bucket = np.where(portfolio_defined, portfolio_bucket, benchmark_bucket)
    portfolio_bucket[:, -1] = cash
    active_weight = net_p - weight_b
    allocation = active_weight * (benchmark_bucket - benchmark_return[:, None])
    interaction = active_weight * (portfolio_bucket - benchmark_bucket)
    selection = (
        (contribution_p - net_p * benchmark_bucket)
        - (contribution_b - weight_b * benchmark_bucket)
        - interaction
    )
    return BrinsonAttribution(
        bucket_names=names,
        allocation=allocation,
        selection=selection,
        interaction=interaction,
        portfolio_weight=net_p,
        benchmark_weight=weight_b,
        portfolio_bucket_return=portfolio_bucket,
        benchmark_bucket_return=benchmark_bucket,
        portfolio_return=portfolio_return,
        benchmark_return=benchmark_return,
    )


def brinson_fachler_day(
    portfolio_weights: ArrayLike,
    benchmark_weights: ArrayLike,
    stock_returns: ArrayLike,
    bucket_codes: ArrayLike,
    *,
    bucket_names: Sequence[str] = BUCKET_NAMES,
    market_weights: ArrayLike | None = None,
    cash_return: float = 0.0,
) -> BrinsonAttribution:
    """Return :func:`brinson_fachler` for one day from ``(stocks,)`` arrays (one-row result).

    Examples
    --------
    >>> day = brinson_fachler_day([0.7, 0.3], [0.5, 0.5], [0.02, -0.01], [0, 1],
    ...                           bucket_names=("large", "small"))
    >>> round(float(day.excess_return[0]), 12)
    0.006
    """
    return brinson_fachler(
        np.asarray(portfolio_weights, dtype=np.float64)[None, :],
        np.asarray(benchmark_weights, dtype=np.float64)[None, :],
        np.asarray(stock_returns, dtype=np.float64)[None, :],
        np.asarray(bucket_codes, dtype=np.int64)[None, :],
        bucket_names=bucket_names,
        market_weights=None
        if market_weights is None
        else np.asarray(market_weights, dtype=np.float64)[None, :],
        cash_return=cash_return,
    )


def cap_bucket_codes(memberships: Sequence[ArrayLike]) -> NDArray[np.int8]:
    """Return bucket codes from membership masks given in priority order.

    ``memberships[j]`` is a ``(days, stocks)`` boolean mask (e.g. ``index_weight > 0`` for CSI
    300, CSI 500, CSI 1000, CSI 2000, microcap, in the order of :data:`BUCKET_NAMES`); a stock
    gets the code of the first mask that holds it, and ``len(memberships)`` ("the rest") when
    none does.

    Examples
    --------
    >>> cap_bucket_codes([[[True, False, False]], [[True, True, False]]]).tolist()
    [[0, 1, 2]]
    """
    if not memberships:
        raise ValueError("memberships must hold at least one (days, stocks) mask")
    masks = [np.asarray(mask, dtype=bool) for mask in memberships]
    shape = masks[0].shape
    for position, mask in enumerate(masks):
        if mask.shape != shape:
            raise ValueError(f"memberships[{position}] has shape {mask.shape}; expected {shape}")
    codes = np.full(shape, len(masks), dtype=np.int8)
    for code in range(len(masks) - 1, -1, -1):
        codes[masks[code]] = code
    return codes


def _raise_on_status(
    status: NDArray[np.int64],
    bad_stock: NDArray[np.int64],
    dates: ArrayLike | None,
    symbols: ArrayLike | None,
) -> None:
    bad_days = np.nonzero(status)[0]
    if not bad_days.size:
        return
    day = int(bad_days[0])
    stock = int(bad_stock[day])
    day_label = f"day {day}" if dates is None else f"{np.asarray(dates)[day]} (day {day})"
    stock_label = (
        f"column {stock}" if symbols is None else f"{np.asarray(symbols)[stock]} (column {stock})"
    )
    raise ValueError(
        f"Brinson attribution input invalid on {day_label}, stock {stock_label}: "
        f"{STATUS_MESSAGES[int(status[day])]} ({bad_days.size} bad days). Give every held stock "
        "a finite weight, a finite return and a bucket code."
    )


def _per_day(cash_return: ArrayLike | float, days: int) -> NDArray[np.float64]:
    """Return ``cash_return`` as a ``(days,)`` array (a scalar applies to every day)."""
    cash = np.asarray(cash_return, dtype=np.float64)
    if cash.ndim == 0:
        return np.full(days, float(cash))
    if cash.shape != (days,):
        raise ValueError(f"cash_return must be a scalar or have {days} values; got {cash.shape}")
    return cash
