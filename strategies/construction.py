"""Portfolio construction for the modelled books: pure functions from scores to target weights.

All functions work on one cross-section (arrays of one value per symbol) and return long-only
weights that sum to the requested total. The books in this package call them once per
rebalance, so the rules a reader looks for (the 80 % benchmark floor, the active-weight budget,
the turnover limit) live here, in one place, each with a test.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "benchmark_share",
    "enhanced_weights",
    "limit_turnover",
    "smallest_equal_weight",
    "top_equal_weight",
]


def smallest_equal_weight(total_cap: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Equal weights in the ``count`` eligible stocks with the smallest total cap.

    Ties are broken by position (stable sort), so the result is deterministic.

    >>> smallest_equal_weight(np.array([5.0, 1.0, 3.0, np.nan]), np.ones(4, bool), 2).tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    cap = np.where(eligible & np.isfinite(total_cap) & (total_cap > 0), total_cap, np.inf)
    order = np.argsort(cap, kind="stable")
    chosen = order[: min(count, int(np.isfinite(cap).sum()))]
    weights = np.zeros(len(total_cap))
    if len(chosen):
        weights[chosen] = 1.0 / len(chosen)
    return weights


def top_equal_weight(score: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """Equal weights in the ``count`` eligible stocks with the highest finite score.

    >>> top_equal_weight(np.array([0.1, 0.9, np.nan, 0.5]), np.ones(4, bool), 2).tolist()
    [0.0, 0.5, 0.0, 0.5]
    """
    ranked = np.where(eligible & np.isfinite(score), -score, np.inf)
    order = np.argsort(ranked, kind="stable")
    chosen = order[: min(count, int(np.isfinite(ranked).sum()))]
    weights = np.zeros(len(score))
    if len(chosen):
        weights[chosen] = 1.0 / len(chosen)
    return weights


def benchmark_share(weights: np.ndarray, benchmark_weight: np.ndarray) -> float:
    """Fraction of a portfolio's weight held in benchmark members (``benchmark_weight > 0``)."""
    total = float(weights.sum())
    if total <= 0:
        return 0.0
    return float(weights[benchmark_weight > 0].sum()) / total


def enhanced_weights(
    score: np.ndarray,
    benchmark_weight: np.ndarray,
    eligible: np.ndarray,
    *,
    in_benchmark_share: float = 0.8,
    tilt: float = 1.0,
    max_active_weight: float = 0.01,
    out_of_benchmark_names: int = 100,
) -> np.ndarray:
    """Target weights of an index-enhanced book: a tilted benchmark plus a free sleeve.

    In-benchmark sleeve (``in_benchmark_share`` of the book): each member's weight is its
    benchmark weight tilted by its score, ``w_i ∝ b_i * max(0, 1 + tilt * z_i)``, then held
    within ``b_i * s ± max_active_weight`` (``s`` the sleeve share) and renormalised. The rest,
    ``1 - in_benchmark_share``, goes equally into the ``out_of_benchmark_names`` eligible
    non-members with the best scores: the out-of-benchmark sleeve that 2023's enhanced products
    filled with small and micro caps (contracts allowed up to 20 % outside the benchmark).

    Parameters
    ----------
    score
        Alpha score per stock (higher is better), NaN where unknown.
    benchmark_weight
        Today's benchmark weights (0 for non-members), summing to 1.
    eligible
        Stocks the book may buy (listed, priced, not suspended, not ST ...).

    Returns
    -------
    numpy.ndarray
        Weights summing to 1 (or less if too few stocks are eligible).
    """
    z = np.where(np.isfinite(score), score, 0.0)
    member = (benchmark_weight > 0) & eligible
    weights = np.zeros(len(score))
    if member.any():
        base = benchmark_weight * member
        base = base / base.sum() * in_benchmark_share
        tilted = base * np.maximum(0.0, 1.0 + tilt * z)
        if tilted.sum() <= 0:
            tilted = base.copy()
        low = np.maximum(base - max_active_weight, 0.0)
        high = base + max_active_weight
        weights += _scale_into_band(tilted, low, high, in_benchmark_share)
    outside = eligible & ~(benchmark_weight > 0)
    sleeve = top_equal_weight(np.where(outside, score, np.nan), outside, out_of_benchmark_names)
    if sleeve.sum() > 0:
        weights += sleeve * (1.0 - in_benchmark_share)
    elif member.any():
        weights *= 1.0 / in_benchmark_share
    return weights


def _scale_into_band(
    raw: np.ndarray, low: np.ndarray, high: np.ndarray, total: float
) -> np.ndarray:
    """Return ``clip(lam * raw, low, high)`` with ``lam`` solved so the weights sum to ``total``.

    The sum is continuous and non-decreasing in ``lam``, from ``sum(low)`` to ``sum(high)``, so
    bisection finds ``lam`` whenever ``sum(low) <= total <= sum(high)`` (true here because the
    untilted weights lie inside the band and sum to ``total``).
    """
    lo, hi = 0.0, 1.0
    while np.clip(hi * raw, low, high).sum() < total and hi < 1e12:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if np.clip(mid * raw, low, high).sum() < total:
            lo = mid
        else:
            hi = mid
    weights = np.clip(hi * raw, low, high)
    # remove the last rounding residue on names strictly inside their band
    free = (weights > low) & (weights < high)
    if free.any():
        weights[free] += (total - weights.sum()) / free.sum()
    return weights


def limit_turnover(
    target: np.ndarray, previous: np.ndarray, max_turnover: float | None
) -> np.ndarray:
    """Move from ``previous`` towards ``target`` by at most ``max_turnover`` one-way turnover.

    One-way turnover is ``0.5 * sum|target - previous|``; when it exceeds the limit the move is
    scaled, ``previous + (max_turnover / turnover) * (target - previous)``, a convex blend that
    keeps any linear constraint both portfolios meet (such as a benchmark-share floor under the
    same membership).

    >>> limit_turnover(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25).tolist()
    [0.25, 0.75]
    """
    if max_turnover is None:
        return target.copy()
    move = target - previous
    turnover = 0.5 * float(np.abs(move).sum())
    if turnover <= max_turnover or turnover == 0:
        return target.copy()
    return previous + move * (max_turnover / turnover)
