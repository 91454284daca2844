"""The calibration kernel: the bucket shift that makes an index hit its target return.

Each session, the members of an index bucket share a shift ``c`` added to their raw returns;
the realised return of a member is its desired return clipped to its price limits,
``r_i(c) = clip(raw_i + c, lower_i, upper_i)``. The index return as of previous-close weights
is ``R(c) = sum_i w_i r_i(c)``, non-decreasing in ``c``; bisection finds ``c`` with
``R(c) = target``. When the target lies beyond what the limits allow (every member locked),
the kernel returns the extreme shift and a status code saying so.

Status codes: ``SOLVED`` 0, ``BELOW_REACH`` 1 (target under the all-limit-down return),
``ABOVE_REACH`` 2 (target over the all-limit-up return), ``NO_WEIGHT`` 3 (no member).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ABOVE_REACH",
    "BELOW_REACH",
    "NO_WEIGHT",
    "SHIFT_BOUND",
    "SOLVED",
    "solve_shift",
    "solve_shift_nb",
    "solve_shift_py",
]

SOLVED = 0
BELOW_REACH = 1
ABOVE_REACH = 2
NO_WEIGHT = 3
#: The shift is searched in [-SHIFT_BOUND, SHIFT_BOUND] (returns, not percent).
SHIFT_BOUND = 3.0
_ITERATIONS = 60


@njit(cache=True)
def _bucket_return_nb(raw, weight, lower, upper, shift):
    total = 0.0
    for i in range(raw.shape[0]):
        value = raw[i] + shift
        if value < lower[i]:
            value = lower[i]
        elif value > upper[i]:
            value = upper[i]
        total += weight[i] * value
    return total


@njit(cache=True)
def solve_shift_nb(raw, weight, lower, upper, target):
    """Return ``(shift, status)`` with ``sum w clip(raw + shift, lower, upper) = target``.

    Arrays of equal length, float64; ``weight`` sums to the bucket's free weight.
    """
    weight_sum = 0.0
    for i in range(weight.shape[0]):
        weight_sum += weight[i]
    if weight_sum <= 0.0:
        return 0.0, NO_WEIGHT
    low = -SHIFT_BOUND
    high = SHIFT_BOUND
    if _bucket_return_nb(raw, weight, lower, upper, low) >= target:
        return low, BELOW_REACH
    if _bucket_return_nb(raw, weight, lower, upper, high) <= target:
        return high, ABOVE_REACH
    for _ in range(_ITERATIONS):
        middle = 0.5 * (low + high)
        if _bucket_return_nb(raw, weight, lower, upper, middle) < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high), SOLVED


def solve_shift_py(
    raw: np.ndarray, weight: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: float
) -> tuple[float, int]:
    """Plain-Python twin of :func:`solve_shift_nb` (same algorithm, same result)."""

    def bucket_return(shift: float) -> float:
        total = 0.0
        for r, w, lo, hi in zip(raw, weight, lower, upper, strict=True):
            total += float(w) * min(max(float(r) + shift, float(lo)), float(hi))
        return total

    if float(np.sum(weight)) <= 0.0:
        return 0.0, NO_WEIGHT
    low, high = -SHIFT_BOUND, SHIFT_BOUND
    if bucket_return(low) >= target:
        return low, BELOW_REACH
    if bucket_return(high) <= target:
        return high, ABOVE_REACH
    for _ in range(_ITERATIONS):
        middle = 0.5 * (low + high)
        if bucket_return(middle) < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high), SOLVED


def solve_shift(
    raw: np.ndarray, weight: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: float
) -> tuple[float, int]:
    """Validate and solve the bucket shift (see :func:`solve_shift_nb`).

    >>> raw = np.array([0.0, 0.0]); weight = np.array([0.5, 0.5])
    >>> lower = np.array([-0.1, -0.2]); upper = np.array([0.1, 0.2])
    >>> shift, status = solve_shift(raw, weight, lower, upper, -0.15)
    >>> round(shift, 6), status
    (-0.2, 0)
    """
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (raw, weight, lower, upper)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError("solve_shift: raw, weight, lower and upper must be 1-d of equal length")
    if np.any(arrays[2] > arrays[3]):
        raise ValueError("solve_shift: some lower bound exceeds its upper bound")
    raw_, weight_, lower_, upper_ = arrays
    shift, status = solve_shift_nb(raw_, weight_, lower_, upper_, float(target))
    return float(shift), int(status)
