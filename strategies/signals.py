"""Cross-sectional signals of the kind 2023's quant books earned, from arrays that end today.

Every function takes ``(window x symbols)`` history arrays whose last row is today (as
``Context.history`` hands them out) and returns one value per symbol, NaN where the stock has
too little history. Nothing here can look ahead: the functions only ever see what they are
given.

The 2023 alpha of quant index-enhanced books leaned on three well-documented A-share effects:

- **size**: small caps outperformed (Liu, Stambaugh and Yuan, "Size and value in China",
  JFE 2019, find size the dominant A-share factor; it paid handsomely in 2021-2023);
- **short-term reversal**: last month's losers beat last month's winners (ibid.; the A-share
  retail-driven market shows a strong 1-month reversal);
- **low liquidity (turnover)**: low-turnover stocks beat high-turnover ones (the "abnormal
  turnover" anomaly, also in Liu-Stambaugh-Yuan).

All three point the same way: towards small, illiquid names, which is why the crowded exit of
January-February 2024 hurt these books at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["combine_scores", "log_size", "reversal", "turnover", "zscore"]


def zscore(values: np.ndarray, mask: np.ndarray | None = None, clip: float = 3.0) -> np.ndarray:
    """Standardise a cross-section: ``(x - mean) / std`` over finite values in ``mask``.

    Values are winsorised at ``±clip`` standard deviations after standardising; stocks outside
    the mask or with NaN get NaN. A cross-section with fewer than two values, or no dispersion,
    returns zeros on the valid stocks.

    >>> zscore(np.array([1.0, 2.0, 3.0, np.nan])).round(3).tolist()
    [-1.225, 0.0, 1.225, nan]
    """
    x = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(x)
    if mask is not None:
        valid &= mask
    out = np.full(x.shape, np.nan)
    if valid.sum() < 2:
        out[valid] = 0.0
        return out
    mean = x[valid].mean()
    std = x[valid].std()
    out[valid] = 0.0 if std == 0 else np.clip((x[valid] - mean) / std, -clip, clip)
    return out


def log_size(float_cap: np.ndarray) -> np.ndarray:
    """Today's log free-float cap, ``ln(float_cap[-1])`` (CNY); NaN where unknown.

    >>> log_size(np.array([[1e9, np.nan], [np.e * 1e9, 2e9]])).round(3).tolist()
    [21.723, 21.416]
    """
    today = np.asarray(float_cap, dtype=np.float64)[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(today > 0, np.log(today), np.nan)


def reversal(close: np.ndarray, lookback: int) -> np.ndarray:
    """Past return over ``lookback`` sessions, ``close[-1] / close[-1 - lookback] - 1``.

    A reversal book buys the *lowest* values. NaN without a close at both ends.

    >>> reversal(np.array([[10.0], [11.0], [12.0]]), 2).round(3).tolist()
    [0.2]
    """
    close = np.asarray(close, dtype=np.float64)
    if close.shape[0] <= lookback:
        return np.full(close.shape[1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return close[-1] / close[-1 - lookback] - 1.0


def turnover(amount: np.ndarray, float_cap: np.ndarray, window: int) -> np.ndarray:
    """Average daily turnover over the last ``window`` sessions, ``mean(amount / float_cap)``.

    Sessions without trading (suspended, NaN) are skipped; NaN when none is left.

    >>> turnover(np.array([[1e7], [3e7]]), np.array([[1e9], [1e9]]), 2).round(3).tolist()
    [0.02]
    """
    amount = np.asarray(amount, dtype=np.float64)[-window:]
    cap = np.asarray(float_cap, dtype=np.float64)[-window:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((cap > 0) & (amount > 0), amount / cap, np.nan)
    counts = np.isfinite(ratio).sum(axis=0)
    sums = np.nansum(ratio, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def combine_scores(
    components: dict[str, np.ndarray], weights: dict[str, float], mask: np.ndarray
) -> np.ndarray:
    """Weighted sum of z-scored components over ``mask``; NaN where any used component is NaN.

    ``score = sum_k weights[k] * zscore(components[k])``. A component with weight 0 is ignored.
    """
    total = np.zeros(mask.shape)
    valid = mask.copy()
    for name, weight in weights.items():
        if weight == 0:
            continue
        if name not in components:
            raise KeyError(f"no signal component {name!r}; components are {sorted(components)}")
        z = zscore(components[name], mask)
        valid &= np.isfinite(z)
        total += weight * np.nan_to_num(z)
    return np.where(valid, total, np.nan)
