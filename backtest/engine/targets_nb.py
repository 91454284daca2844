"""Target weights to target shares: the kernel, its plain-Python twin and the status codes.

:func:`targets_from_weights` turns a strategy's weights into whole-lot share targets
(``Context.order_target_weights``); the kernel writes only to its ``out`` record, and a
hypothesis test holds it equal to :func:`targets_from_weights_py` (tests/test_ledger_kernels.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

#: Per-symbol status of :func:`targets_from_weights_nb` (0 = the target is usable).
TARGET_OK = 0
#: The weight is +-inf.
TARGET_WEIGHT_NOT_FINITE = 1
#: The weight is negative (A-share books are long-only).
TARGET_WEIGHT_NEGATIVE = 2
#: The implied share count is not finite or exceeds :data:`MAX_TARGET_SHARES`.
TARGET_TOO_LARGE = 3
#: A positive weight on a symbol whose mark is +inf.
TARGET_MARK_NOT_FINITE = 4

#: Names of the statuses above, for error messages.
TARGET_STATUS_NAMES: tuple[str, ...] = (
    "ok",
    "weight is not finite",
    "weight is negative (long-only)",
    "implied share count is absurd",
    "mark is not finite",
)

#: The most shares a target may name: 10^12, above the share count of any listed A-share
#: (ICBC, the largest, has about 3.6 * 10^11) and far below int64's 9.2 * 10^18.
MAX_TARGET_SHARES = 1_000_000_000_000


class TargetArrays(NamedTuple):
    """The outputs of :func:`targets_from_weights_nb` (zero-filled by the caller)."""

    out_target: np.ndarray
    out_is_set: np.ndarray
    out_status: np.ndarray


def targets_from_weights(
    weights: np.ndarray,
    mark: np.ndarray,
    equity: float,
    held: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn target weights into target shares (whole lots); NaN weight = symbol not set.

    ``raw = weight * max(equity, 0) / mark`` (0 when the weight is 0 or the mark is not > 0);
    ``target = floor(raw / lot) * lot``; if ``target > 0`` the delta ``target - held`` is
    rounded toward zero to whole lots (so an odd-lot position is not chased by a sub-lot order),
    and a buy delta below ``min_lot`` keeps the position (``target = held``). A target of 0 sells
    everything, odd lots included.

    Returns ``(target_shares int64, is_set bool, status int8)``. A symbol whose status is not
    ``TARGET_OK`` (an infinite or negative weight, a positive weight on an infinite mark, or
    ``raw / lot * lot`` not finite or above ``MAX_TARGET_SHARES``, which a NaN or infinite
    equity makes it for every positive weight) has target 0 and must not
    be traded: the caller refuses the whole vector (a status code, not an exception, so the
    kernel never raises and never casts an overflowing float to int64).
    """
    n = weights.shape[0]
    out = TargetArrays(
        np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int8)
    )
    targets_from_weights_nb(weights, mark, equity, held, lot_size, min_lot, out)
    return out.out_target, out.out_is_set, out.out_status


@njit(cache=True)
def targets_from_weights_nb(
    weights: np.ndarray,
    mark: np.ndarray,
    equity: float,
    held: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
    out: TargetArrays,
) -> None:
    """The kernel of :func:`targets_from_weights`: writes ``out`` (allocates nothing)."""
    n = weights.shape[0]
    target, is_set, status = out.out_target, out.out_is_set, out.out_status
    budget = equity if equity > 0.0 or equity != equity else 0.0  # NaN: refused below
    for i in range(n):
        w = weights[i]
        if w != w:
            continue
        is_set[i] = True
        if w == np.inf or w == -np.inf:
            status[i] = TARGET_WEIGHT_NOT_FINITE
            continue
        if w < 0.0:
            status[i] = TARGET_WEIGHT_NEGATIVE
            continue
        price = mark[i]
        shares = 0
        if w > 0.0 and price > 0.0:
            if price == np.inf:
                status[i] = TARGET_MARK_NOT_FINITE
                continue
            lot = lot_size[i]
            lots = w * budget / price / lot
            if not lots * lot <= MAX_TARGET_SHARES:
                status[i] = TARGET_TOO_LARGE
                continue
            shares = np.int64(math.floor(lots)) * lot
            if shares > 0:
                delta = shares - held[i]
                if delta >= 0:
                    step = (delta // lot) * lot
                else:
                    step = -((-delta // lot) * lot)
                shares = held[i] + step
                if 0 < step < min_lot[i]:
                    shares = held[i]
        target[i] = shares


def targets_from_weights_py(
    weights: np.ndarray,
    mark: np.ndarray,
    equity: float,
    held: np.ndarray,
    lot_size: np.ndarray,
    min_lot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python twin of :func:`targets_from_weights_nb`."""
    n = weights.shape[0]
    target = np.zeros(n, dtype=np.int64)
    is_set = np.zeros(n, dtype=bool)
    status = np.zeros(n, dtype=np.int8)
    budget = equity if equity > 0.0 or equity != equity else 0.0  # NaN: refused below
    for i in range(n):
        w = float(weights[i])
        if w != w:
            continue
        is_set[i] = True
        if math.isinf(w):
            status[i] = TARGET_WEIGHT_NOT_FINITE
            continue
        if w < 0.0:
            status[i] = TARGET_WEIGHT_NEGATIVE
            continue
        price = float(mark[i])
        shares = 0
        if w > 0.0 and price > 0.0:
            if math.isinf(price):
                status[i] = TARGET_MARK_NOT_FINITE
                continue
            lot = int(lot_size[i])
            lots = w * budget / price / lot
            if not lots * lot <= MAX_TARGET_SHARES:
                status[i] = TARGET_TOO_LARGE
                continue
            shares = math.floor(lots) * lot
            if shares > 0:
                delta = shares - int(held[i])
                step = (delta // lot) * lot if delta >= 0 else -((-delta // lot) * lot)
                shares = int(held[i]) + step
                if 0 < step < int(min_lot[i]):
                    shares = int(held[i])
        target[i] = shares
    return target, is_set, status
