"""Style factor exposures, daily cross-sectional factor returns and factor attribution.

Timing: row ``t`` of a ``(days, stocks)`` panel is session ``t``; ``stock_returns[t]`` is the
close-to-close return over session ``t`` (adjusted prices), ``float_cap_cny[t]`` and
``amount_cny[t]`` are observed at its close. The exposures that explain ``stock_returns[t]``
use rows ``t-1`` and earlier only (no look-ahead), so a strategy's day-``t`` weights and the
exposures share the same information.

Style factors (raw values, before standardisation), in the spirit of Barra CNE5 (Orr and Mashtaler
2012, *Barra China Equity Model (CNE5) Descriptors*; Menchero, Orr and Wang 2011, *The Barra US
Equity Model (USE4) Methodology Notes*):

- ``size``: ``ln(float_cap_{t-1})``;
- ``beta``: the slope of the stock's returns on the market return over the ``beta_window``
  sessions before ``t``, ``cov(r_i, m) / var(m)``, where the market return is cap-weighted,
  ``m_s = sum_i cap_{i,s-1} r_{i,s} / sum_i cap_{i,s-1}`` (see :func:`market_returns`);
- ``liquidity``: ``ln(mean(amount / float_cap))`` over the ``liquidity_window`` sessions before
  ``t`` (daily turnover of the float; a suspended day with amount 0 counts as zero turnover, a
  missing amount is skipped);
- ``reversal``: the compounded return over the ``reversal_window`` sessions before ``t``
  (5 or 20 is usual; a negative factor return means past losers rebound).

Each is standardised every day (:func:`standardise`): cap-weighted mean zero, equal-weighted
standard deviation one, clipped at ``±winsorise_at`` (the USE4 convention, so the cap-weighted
market has near-zero exposure to every style).

Factor returns (:func:`factor_returns`): a weighted least-squares regression each day,
``r_{i,t} = a_t + sum_k X_{ik,t} f_{k,t} + e_{i,t}``, with weights ``cap``, ``sqrt_cap`` (USE4's
choice, proportional to the inverse of specific variance) or ``equal``; ``a_t`` is the
"market" (intercept) return.

Attribution (:func:`factor_attribution`): with active weights ``w_p - w_b`` and cash lines
``1 - sum(w)`` earning ``c_t``, the excess return splits exactly into
``market_t = (sum w_p - sum w_b)(a_t - c_t)``, ``factor_{k,t} = x_{k,t} f_{k,t}`` with active
exposure ``x_{k,t} = (w_p - w_b)' X_{k,t}``, and ``specific_t = excess_t - market_t - sum_k
factor_{k,t}``. A held stock with a missing exposure counts as exposure 0 (the cap-weighted
mean), so its return lands in ``specific``; a day whose regression failed has factor returns
0 (see ``FactorReturns.status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

FACTOR_NAMES: tuple[str, ...] = ("size", "beta", "liquidity", "reversal")
MARKET = "market"
SPECIFIC = "specific"

RegressionWeighting = Literal["cap", "sqrt_cap", "equal"]

REGRESSION_OK = 0
REGRESSION_TOO_FEW_STOCKS = 1
REGRESSION_RANK_DEFICIENT = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class ExposureConfig:
    """Windows (in sessions) and clipping of the style exposures.

    Attributes
    ----------
    beta_window
        Sessions in the beta regression (default 120, about six months); >= 2.
    beta_min_sessions
        Fewer valid sessions in the window give a NaN beta (default 60); 2..beta_window.
    liquidity_window
        Sessions averaged for the turnover (default 20); >= 1.
    liquidity_min_sessions
        Fewer valid sessions give NaN (default 10); 1..liquidity_window.
    reversal_window
        Sessions compounded for the past return (default 20; 5 is the short variant); >= 1.
    reversal_min_sessions
        Fewer valid sessions give NaN (default 10); 1..reversal_window.
    winsorise_at
        Standardised exposures are clipped to ``[-winsorise_at, winsorise_at]`` (default 3;
        ``inf`` to disable); > 0.
    """

    beta_window: int = 120
    beta_min_sessions: int = 60
    liquidity_window: int = 20
    liquidity_min_sessions: int = 10
    reversal_window: int = 20
    reversal_min_sessions: int = 10
    winsorise_at: float = 3.0

    def __post_init__(self) -> None:
        if self.beta_window < 2:
            raise ValueError(f"beta_window must be >= 2 sessions; got {self.beta_window}")
        for window, minimum, name, low in (
            (self.beta_window, self.beta_min_sessions, "beta", 2),
            (self.liquidity_window, self.liquidity_min_sessions, "liquidity", 1),
            (self.reversal_window, self.reversal_min_sessions, "reversal", 1),
        ):
            if window < 1:
                raise ValueError(f"{name}_window must be >= 1 session; got {window}")
            if not low <= minimum <= window:
                raise ValueError(
                    f"{name}_min_sessions must be in {low}..{name}_window={window}; got {minimum}"
                )
        if not self.winsorise_at > 0:
            raise ValueError(f"winsorise_at must be > 0 (inf disables); got {self.winsorise_at}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Exposures:
    """Per-stock factor exposures: ``values[k, t, i]`` for factor ``names[k]`` (NaN = missing)."""

    names: tuple[str, ...]
    values: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[0] != len(self.names):
            raise ValueError(
                f"values must be (factors={len(self.names)}, days, stocks); got {self.values.shape}"
            )

    def factor(self, name: str) -> NDArray[np.float64]:
        """Return the ``(days, stocks)`` exposures to one factor."""
        return self.values[self.names.index(name)]


@dataclass(frozen=True, kw_only=True, slots=True)
class FactorReturns:
    """Daily regression output.

    ``names`` starts with :data:`MARKET` (the intercept); ``values (days, 1 + factors)`` are
    NaN on a failed day; ``r_squared`` and ``stock_count`` are ``(days,)``; ``status`` holds
    ``REGRESSION_OK``, ``REGRESSION_TOO_FEW_STOCKS`` (NaN output) or
    ``REGRESSION_RANK_DEFICIENT`` (minimum-norm solution) per day.
    """

    names: tuple[str, ...]
    values: NDArray[np.float64]
    r_squared: NDArray[np.float64]
    stock_count: NDArray[np.int64]
    status: NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class FactorAttribution:
    """Daily factor attribution; every array is ``(days,)`` or ``(days, factors)``."""

    factor_names: tuple[str, ...]
    active_exposure: NDArray[np.float64]
    factor_return: NDArray[np.float64]
    contribution: NDArray[np.float64]
    market: NDArray[np.float64]
    specific: NDArray[np.float64]
    portfolio_return: NDArray[np.float64]
    benchmark_return: NDArray[np.float64]

    @property
    def excess_return(self) -> NDArray[np.float64]:
        """Return ``r_p - r_b`` per day."""
        return self.portfolio_return - self.benchmark_return

    def components(self) -> dict[str, NDArray[np.float64]]:
        """Return ``market``, one entry per factor, and ``specific``, summing to the excess."""
        return {
            MARKET: self.market,
            **{name: self.contribution[:, k] for k, name in enumerate(self.factor_names)},
            SPECIFIC: self.specific,
        }


def _panel(
    values: ArrayLike, name: str, shape: tuple[int, ...] | None = None
) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a (days, stocks) array; got shape {array.shape}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} like stock_returns; got {array.shape}")
    return array


def _lag(panel: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shift rows down by one session (row t gets row t-1; row 0 is NaN)."""
    lagged = np.full_like(panel, np.nan)
    lagged[1:] = panel[:-1]
    return lagged


def _trailing_sum(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Return ``S[t] = sum_{s=t-window}^{t-1} values[s]`` (rows before 0 count as zero)."""
    prefix = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    np.cumsum(values, axis=0, out=prefix[1:])
    trailing = prefix[:-1]
    if window < values.shape[0]:
        trailing[window:] -= prefix[: values.shape[0] - window]
    return trailing


def market_returns(stock_returns: ArrayLike, float_cap_cny: ArrayLike) -> NDArray[np.float64]:
    """Return the cap-weighted market return per session (NaN on the first).

    ``m_t = sum_i cap_{i,t-1} r_{i,t} / sum_i cap_{i,t-1}`` over stocks with a finite return and
    a positive previous cap.

    Examples
    --------
    >>> market_returns([[0.0, 0.0], [0.1, 0.0]], [[3.0, 1.0], [3.0, 1.0]]).round(6).tolist()
    [nan, 0.075]
    """
    returns = _panel(stock_returns, "stock_returns")
    caps = _lag(_panel(float_cap_cny, "float_cap_cny", returns.shape))
    valid = np.isfinite(returns) & np.isfinite(caps) & (caps > 0.0)
    weights = np.where(valid, caps, 0.0)
    total = weights.sum(axis=1)
    weighted = (weights * np.where(valid, returns, 0.0)).sum(axis=1)
    return np.divide(weighted, total, out=np.full(total.shape, np.nan), where=total > 0.0)


def raw_style_exposures(
    stock_returns: ArrayLike,
    float_cap_cny: ArrayLike,
    amount_cny: ArrayLike,
    *,
    config: ExposureConfig | None = None,
) -> Exposures:
    """Return the raw (unstandardised) style exposures of :data:`FACTOR_NAMES`.

    Row ``t`` uses rows ``< t`` of the inputs only (see the module docs for the formulas).
    """
    settings = config or ExposureConfig()
    returns = _panel(stock_returns, "stock_returns")
    caps = _panel(float_cap_cny, "float_cap_cny", returns.shape)
    amounts = _panel(amount_cny, "amount_cny", returns.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.log(np.where(caps > 0.0, caps, np.nan))
    size = _lag(size)

    market = market_returns(returns, caps)[:, None]
    valid = np.isfinite(returns) & np.isfinite(market)
    stock_part = np.where(valid, returns, 0.0)
    market_part = np.where(valid, market, 0.0)
    window = settings.beta_window
    count = _trailing_sum(valid.astype(np.float64), window)
    sum_stock = _trailing_sum(stock_part, window)
    sum_market = _trailing_sum(market_part, window)
    sum_cross = _trailing_sum(stock_part * market_part, window)
    sum_market_squared = _trailing_sum(market_part * market_part, window)
    covariance = count * sum_cross - sum_stock * sum_market
    variance = count * sum_market_squared - sum_market * sum_market
    enough = (count >= settings.beta_min_sessions) & (variance > 0.0)
    beta = np.divide(covariance, variance, out=np.full(returns.shape, np.nan), where=enough)

    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = amounts / caps
    turnover_valid = np.isfinite(turnover) & (caps > 0.0) & (turnover >= 0.0)
    turnover_count = _trailing_sum(turnover_valid.astype(np.float64), settings.liquidity_window)
    turnover_sum = _trailing_sum(np.where(turnover_valid, turnover, 0.0), settings.liquidity_window)
    mean_turnover = np.divide(
        turnover_sum,
        turnover_count,
        out=np.full(returns.shape, np.nan),
        where=turnover_count >= settings.liquidity_min_sessions,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        liquidity = np.log(np.where(mean_turnover > 0.0, mean_turnover, np.nan))

    growth_valid = np.isfinite(returns) & (returns > -1.0)
    log_growth = np.where(growth_valid, np.log1p(np.where(growth_valid, returns, 0.0)), 0.0)
    growth_count = _trailing_sum(growth_valid.astype(np.float64), settings.reversal_window)
    reversal = np.where(
        growth_count >= settings.reversal_min_sessions,
        np.expm1(_trailing_sum(log_growth, settings.reversal_window)),
        np.nan,
    )
    return Exposures(names=FACTOR_NAMES, values=np.stack((size, beta, liquidity, reversal)))


def standardise(
    raw: Exposures, float_cap_cny: ArrayLike, *, winsorise_at: float = 3.0
) -> Exposures:
    """Standardise each factor every day: cap-weighted mean 0, equal-weighted std 1, clipped.

    ``z = clip((x - sum(c x)/sum(c)) / std(x), -winsorise_at, winsorise_at)`` over the stocks
    with a finite ``x`` and a positive previous-close cap ``c`` (row ``t`` uses caps of row
    ``t-1``); others get NaN. A day with fewer than 2 such stocks or no dispersion is NaN.

    Examples
    --------
    >>> raw = Exposures(names=("size",), values=np.array([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]]))
    >>> z = standardise(raw, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]).values
    >>> z[0, 1].round(6).tolist()
    [-1.224745, 0.0, 1.224745]
    """
    caps = _lag(_panel(float_cap_cny, "float_cap_cny", raw.values.shape[1:]))
    cap_ok = np.isfinite(caps) & (caps > 0.0)
    standardised = np.full_like(raw.values, np.nan)
    for k in range(raw.values.shape[0]):
        values = raw.values[k]
        valid = np.isfinite(values) & cap_ok
        count = valid.sum(axis=1)
        weights = np.where(valid, caps, 0.0)
        safe = np.where(valid, values, 0.0)
        weight_total = weights.sum(axis=1)
        cap_mean = np.divide(
            (weights * safe).sum(axis=1),
            weight_total,
            out=np.zeros(count.shape),
            where=weight_total > 0.0,
        )
        equal_mean = np.divide(safe.sum(axis=1), count, out=np.zeros(count.shape), where=count > 0)
        squared = np.where(valid, (values - equal_mean[:, None]) ** 2, 0.0).sum(axis=1)
        deviation = np.sqrt(np.divide(squared, count, out=np.zeros(count.shape), where=count > 0))
        usable = (count >= 2) & (deviation > 0.0)
        scaled = (values - cap_mean[:, None]) / np.where(usable, deviation, 1.0)[:, None]
        clipped = np.clip(scaled, -winsorise_at, winsorise_at)
        standardised[k] = np.where(valid & usable[:, None], clipped, np.nan)
    return Exposures(names=raw.names, values=standardised)


def style_exposures(
    stock_returns: ArrayLike,
    float_cap_cny: ArrayLike,
    amount_cny: ArrayLike,
    *,
    config: ExposureConfig | None = None,
) -> Exposures:
    """Return standardised exposures: :func:`raw_style_exposures`, then :func:`standardise`."""
    settings = config or ExposureConfig()
    raw = raw_style_exposures(stock_returns, float_cap_cny, amount_cny, config=settings)
    return standardise(raw, float_cap_cny, winsorise_at=settings.winsorise_at)


def factor_returns(
    stock_returns: ArrayLike,
    exposures: Exposures,
    float_cap_cny: ArrayLike | None = None,
    *,
    weighting: RegressionWeighting = "sqrt_cap",
    min_stocks: int = 20,
) -> FactorReturns:
    """Return daily factor returns by weighted least squares with an intercept.

    Solves ``min sum_i v_i (r_i - a - X_i f)^2`` each day over stocks with a finite return
    and (unless ``equal``) a positive previous-close cap ``c``; ``v = c``, ``sqrt(c)`` or 1.
    A missing exposure counts as 0, the cap-weighted mean (as in the attribution), so a factor
    nobody has yet (beta in its first ``beta_min_sessions``) makes the day rank-deficient, and
    the minimum-norm solution gives it a return of 0 while the other factors are estimated as
    if it were absent. Days with fewer than ``min_stocks`` stocks (at least the parameters
    plus one) are NaN.

    Examples
    --------
    >>> x = np.array([[[-1.0, 0.0, 1.0]]])
    >>> result = factor_returns([[0.01 - 0.02, 0.01, 0.01 + 0.02]], Exposures(names=("size",),
    ...                         values=x), weighting="equal", min_stocks=3)
    >>> result.values.round(12).tolist()
    [[0.01, 0.02]]
    """
    returns = _panel(stock_returns, "stock_returns")
    if exposures.values.shape[1:] != returns.shape:
        raise ValueError(
            f"exposures cover {exposures.values.shape[1:]} (days, stocks) but stock_returns has "
            f"{returns.shape}"
        )
    if weighting not in ("cap", "sqrt_cap", "equal"):
        raise ValueError(f"weighting must be 'cap', 'sqrt_cap' or 'equal'; got {weighting!r}")
    factor_count = exposures.values.shape[0]
    parameter_count = factor_count + 1
    if min_stocks < parameter_count + 1:
        raise ValueError(
            f"min_stocks must be >= {parameter_count + 1} (parameters + 1); got {min_stocks}"
        )
    valid = np.isfinite(returns)
    if weighting == "equal":
        weights = np.where(valid, 1.0, 0.0)
    else:
        if float_cap_cny is None:
            raise ValueError(f"weighting={weighting!r} needs float_cap_cny")
        caps = _lag(_panel(float_cap_cny, "float_cap_cny", returns.shape))
        valid &= np.isfinite(caps) & (caps > 0.0)
        safe_caps = np.where(valid, caps, 0.0)
        weights = safe_caps if weighting == "cap" else np.sqrt(safe_caps)
    weight_total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, weight_total, out=np.zeros_like(weights), where=weight_total > 0)
    design = [np.ones_like(returns)] + [
        np.where(valid & np.isfinite(exposures.values[k]), exposures.values[k], 0.0)
        for k in range(factor_count)
    ]
    target = np.where(valid, returns, 0.0)
    days = returns.shape[0]
    normal = np.empty((days, parameter_count, parameter_count))
    right = np.empty((days, parameter_count))
    for j in range(parameter_count):
        weighted_column = weights * design[j]
        right[:, j] = (weighted_column * target).sum(axis=1)
        for m in range(j, parameter_count):
            normal[:, j, m] = normal[:, m, j] = (weighted_column * design[m]).sum(axis=1)
    stock_count = valid.sum(axis=1).astype(np.int64)
    enough = stock_count >= min_stocks
    status = np.where(enough, REGRESSION_OK, REGRESSION_TOO_FEW_STOCKS).astype(np.int64)
    normal_safe = np.where(enough[:, None, None], normal, np.eye(parameter_count))
    rank = np.linalg.matrix_rank(normal_safe)
    status[enough & (rank < parameter_count)] = REGRESSION_RANK_DEFICIENT
    solution = np.einsum("tjm,tm->tj", np.linalg.pinv(normal_safe), right)
    # a factor no stock is exposed to gets exactly 0, not pinv's round-off
    unexposed = np.diagonal(normal, axis1=1, axis2=2) == 0.0
    solution[unexposed] = 0.0
    solution[~enough] = np.nan
    fitted = sum(solution[:, [j]] * design[j] for j in range(parameter_count))
    residual = np.where(valid, target - fitted, 0.0)
    weighted_mean = (weights * target).sum(axis=1, keepdims=True)
    total_variation = (weights * np.where(valid, target - weighted_mean, 0.0) ** 2).sum(axis=1)
    residual_variation = (weights * residual**2).sum(axis=1)
    r_squared = np.divide(
        total_variation - residual_variation,
        total_variation,
        out=np.full(days, np.nan),
        where=enough & (total_variation > 0.0),
    )
    return FactorReturns(
        names=(MARKET, *exposures.names),
        values=solution,
        r_squared=r_squared,
        stock_count=stock_count,
        status=status,
    )


def factor_attribution(
    portfolio_weights: ArrayLike,
    benchmark_weights: ArrayLike,
    stock_returns: ArrayLike,
    exposures: Exposures,
    returns_of_factors: FactorReturns,
    *,
    cash_return: ArrayLike | float = 0.0,
) -> FactorAttribution:
    """Return the daily factor attribution of the excess return (see the module docs).

    Parameters
    ----------
    portfolio_weights, benchmark_weights
        ``(days, stocks)`` start-of-day weights as fractions of equity; the remainder
        ``1 - sum(w)`` is cash earning ``cash_return``.
    stock_returns
        ``(days, stocks)`` returns (NaN allowed where both weights are 0).
    exposures, returns_of_factors
        From :func:`style_exposures` (or hand-made) and :func:`factor_returns`.

    Examples
    --------
    >>> x = Exposures(names=("size",), values=np.array([[[-1.0, 0.0, 1.0]]]))
    >>> r = [[-0.01, 0.01, 0.03]]
    >>> f = factor_returns(r, x, weighting="equal", min_stocks=3)
    >>> a = factor_attribution([[0.0, 0.5, 0.5]], [[1 / 3, 1 / 3, 1 / 3]], r, x, f)
    >>> round(float(a.contribution[0, 0]), 12), round(float(a.specific[0]), 12)
    (0.01, 0.0)
    """
    returns = _panel(stock_returns, "stock_returns")
    shape = returns.shape
    weights_p = _panel(portfolio_weights, "portfolio_weights", shape)
    weights_b = _panel(benchmark_weights, "benchmark_weights", shape)
    for name, weights in (("portfolio_weights", weights_p), ("benchmark_weights", weights_b)):
        bad = ~np.isfinite(weights)
        if bad.any():
            day, stock = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{name} is not finite on day {day}, stock column {stock}")
    held = (weights_p != 0.0) | (weights_b != 0.0)
    missing = held & ~np.isfinite(returns)
    if missing.any():
        day, stock = (int(v) for v in np.argwhere(missing)[0])
        raise ValueError(
            f"stock_returns is NaN on day {day}, stock column {stock}, which has a weight; "
            "give held stocks a return (0 for a suspended stock)"
        )
    if exposures.values.shape[1:] != shape:
        raise ValueError(f"exposures cover {exposures.values.shape[1:]}; expected {shape}")
    if returns_of_factors.names[1:] != exposures.names:
        raise ValueError(
            f"factor returns are for {returns_of_factors.names[1:]} but the exposures are for "
            f"{exposures.names}; estimate them from the same exposures"
        )
    cash = _per_day(cash_return, shape[0])
    if returns_of_factors.values.shape[0] != shape[0]:
        raise ValueError(
            f"factor returns cover {returns_of_factors.values.shape[0]} days; the weights cover "
            f"{shape[0]}"
        )
    safe_returns = np.where(held, returns, 0.0)
    invested_p = weights_p.sum(axis=1)
    invested_b = weights_b.sum(axis=1)
    portfolio_return = (weights_p * safe_returns).sum(axis=1) + (1.0 - invested_p) * cash
    benchmark_return = (weights_b * safe_returns).sum(axis=1) + (1.0 - invested_b) * cash
    active = weights_p - weights_b
    active_exposure = np.stack(
        [
            (active * np.nan_to_num(exposures.values[k], nan=0.0)).sum(axis=1)
            for k in range(exposures.values.shape[0])
        ],
        axis=1,
    ).reshape(shape[0], exposures.values.shape[0])
    estimated = np.nan_to_num(returns_of_factors.values, nan=0.0)
    market = (invested_p - invested_b) * (estimated[:, 0] - cash)
    contribution = active_exposure * estimated[:, 1:]
    specific = (portfolio_return - benchmark_return) - market - contribution.sum(axis=1)
    return FactorAttribution(
        factor_names=exposures.names,
        active_exposure=active_exposure,
        factor_return=returns_of_factors.values[:, 1:],
        contribution=contribution,
        market=market,
        specific=specific,
        portfolio_return=portfolio_return,
        benchmark_return=benchmark_return,
    )


def _per_day(cash_return: ArrayLike | float, days: int) -> NDArray[np.float64]:
    """Return ``cash_return`` as a ``(days,)`` array (a scalar applies to every day)."""
    cash = np.asarray(cash_return, dtype=np.float64)
    if cash.ndim == 0:
        return np.full(days, float(cash))
    if cash.shape != (days,):
        raise ValueError(f"cash_return must be a scalar or have {days} values; got {cash.shape}")
    return cash
