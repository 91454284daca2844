"""Bookkeeping kernels equal their plain-Python twins; weight -> share rounding rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import invariant_settings

from backtest.engine.ledger_nb import (
    BacklogArrays,
    FillRecords,
    LedgerArrays,
    SessionFillRow,
    SettleRows,
    apply_session_nb,
    apply_session_py,
    holdings_value_nb,
    holdings_value_py,
    settle_nb,
    settle_py,
)
from backtest.engine.targets_nb import (
    MAX_TARGET_SHARES,
    TARGET_MARK_NOT_FINITE,
    TARGET_OK,
    TARGET_TOO_LARGE,
    TARGET_WEIGHT_NEGATIVE,
    TARGET_WEIGHT_NOT_FINITE,
    targets_from_weights,
    targets_from_weights_py,
)


@st.composite
def cross_sections(draw):
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    weights = rng.random(n) * draw(st.sampled_from([0.01, 0.2, 1.0]))
    weights[rng.random(n) < 0.2] = np.nan
    weights[rng.random(n) < 0.2] = 0.0
    mark = np.round(rng.uniform(1.0, 200.0, n), 2)
    mark[rng.random(n) < 0.1] = 0.0
    star = rng.random(n) < 0.3
    lot = np.where(star, 1, 100).astype(np.int64)
    min_lot = np.where(star, 200, 100).astype(np.int64)
    held = (rng.integers(0, 50, n) * 100 + np.where(rng.random(n) < 0.2, 37, 0)).astype(np.int64)
    equity = draw(st.sampled_from([-5.0, 0.0, 1e5, 3.3e6, 1e8]))
    return weights, mark, equity, held, lot, min_lot


@invariant_settings(150)
@given(cross_sections())
def test_targets_from_weights_kernel_equals_twin(case):
    kernel = targets_from_weights(*case)
    twin = targets_from_weights_py(*case)
    for got, expected in zip(kernel, twin, strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    assert np.all(kernel[2] == TARGET_OK)


_ADVERSARIAL_WEIGHTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e300, -1e300, 1e-300, 5e-324, 1e10, 1e6, 0.5, 1.0]),
)
_ADVERSARIAL_MARKS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-300, 5e-324, 0.01, 1e300, 10.0]),
)


@st.composite
def adversarial_cross_sections(draw):
    n = draw(st.integers(1, 6))
    weights = np.array(draw(st.lists(_ADVERSARIAL_WEIGHTS, min_size=n, max_size=n)))
    mark = np.array(draw(st.lists(_ADVERSARIAL_MARKS, min_size=n, max_size=n)))
    star = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    lot = np.where(star, 1, 100).astype(np.int64)
    min_lot = np.where(star, 200, 100).astype(np.int64)
    held = np.array(
        draw(st.lists(st.integers(0, MAX_TARGET_SHARES), min_size=n, max_size=n)), dtype=np.int64
    )
    equity = draw(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, 1e6, 1e12, 1e300]),
        )
    )
    return weights, mark, equity, held, lot, min_lot


@invariant_settings(300)
@given(adversarial_cross_sections())
def test_targets_from_weights_kernel_equals_twin_on_absurd_weights_marks_and_equity(case):
    weights, held = case[0], case[3]
    kernel = targets_from_weights(*case)
    twin = targets_from_weights_py(*case)
    for got, expected in zip(kernel, twin, strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    target, is_set, status = kernel
    ok = is_set & (status == TARGET_OK)
    # a usable target is a sane long position; a refused one is flagged, never a wrapped int
    assert np.all((target[ok] >= 0) & (target[ok] <= max(MAX_TARGET_SHARES, held.max())))
    assert np.all(target[~ok] == 0)
    assert np.all(status[~is_set] == TARGET_OK)
    assert np.all(status[is_set & (np.isinf(weights) | (weights < 0))] != TARGET_OK)


def test_a_weight_of_1e300_is_refused_not_wrapped_into_a_sale():
    weights = np.array([1e300, 0.1, np.inf, -0.1, 0.1])
    mark = np.array([10.0, 10.0, 10.0, 10.0, np.inf])
    held = np.full(5, 1_000, dtype=np.int64)
    lot = np.full(5, 100, dtype=np.int64)
    for kernel in (targets_from_weights, targets_from_weights_py):
        target, is_set, status = kernel(weights, mark, 1e6, held, lot, lot)
        assert status.tolist() == [
            TARGET_TOO_LARGE,
            TARGET_OK,
            TARGET_WEIGHT_NOT_FINITE,
            TARGET_WEIGHT_NEGATIVE,
            TARGET_MARK_NOT_FINITE,
        ]
        assert target.tolist() == [0, 10_000, 0, 0, 0]
        assert is_set.all()
        _, _, status = kernel(np.array([0.1, 0.0]), mark[:2], np.nan, held[:2], lot[:2], lot[:2])
        assert status.tolist() == [TARGET_TOO_LARGE, TARGET_OK], "a NaN equity sells nothing"


@invariant_settings(150)
@given(cross_sections())
def test_weight_targets_never_exceed_the_weight_and_trade_whole_lots(case):
    weights, mark, equity, held, lot, min_lot = case
    target, is_set, _ = targets_from_weights(*case)
    assert np.array_equal(is_set, ~np.isnan(weights))
    delta = target - held
    rounded_sell_out = target == 0
    assert np.all((delta % lot == 0) | rounded_sell_out | ~is_set)
    assert not np.any(is_set & (delta > 0) & (delta < min_lot))
    budget = max(equity, 0.0)
    with np.errstate(invalid="ignore"):
        over = is_set & (delta > 0) & (target * mark > weights * budget + 1e-6)
    assert not np.any(over)


def test_weights_round_down_to_lots_and_sub_lot_deltas_keep_the_position():
    weights = np.array([0.1234, 0.1, 0.0, 0.1])
    mark = np.array([10.0, 10.0, 10.0, 100.0])
    held = np.array([0, 9_950, 137, 0], dtype=np.int64)
    lot = np.array([100, 100, 100, 1], dtype=np.int64)
    min_lot = np.array([100, 100, 100, 200], dtype=np.int64)
    target, _, _ = targets_from_weights(weights, mark, 1e6, held, lot, min_lot)
    # 12340 -> 12300; 10000 vs 9950 held -> delta 50 rounds to 0; 0 sells the odd lot;
    # STAR: 1000 shares, lot 1
    assert target.tolist() == [12_300, 9_950, 0, 1_000]


@invariant_settings(100)
@given(cross_sections())
def test_holdings_value_kernel_equals_twin(case):
    _, mark, _, held, _, _ = case
    assert holdings_value_nb(held, mark) == holdings_value_py(held, mark)


@st.composite
def sessions(draw):
    n = draw(st.integers(1, 10))
    rng = np.random.default_rng(draw(st.integers(0, 10**6)))
    held = rng.integers(0, 5, n).astype(np.int64) * 100
    target = rng.integers(0, 5, n).astype(np.int64) * 100
    active = rng.random(n) < 0.8
    orders = np.where(active, target - held, 0).astype(np.int64)
    fraction = rng.choice([0.0, 0.5, 1.0], n)
    filled = (np.trunc(orders * fraction / 100) * 100).astype(np.int64)
    filled = np.where(filled < 0, np.maximum(filled, -held), filled)
    reference = np.round(rng.uniform(1, 100, n), 2)
    price = np.where(filled != 0, reference * (1 + np.sign(filled) * 0.001), np.nan)
    costs = [np.where(orders != 0, rng.uniform(0, 5, n), 0.0) for _ in range(4)]
    status = rng.integers(0, 10, n).astype(np.int8)
    age = rng.integers(0, 4, n).astype(np.int32)
    return orders, reference, filled, price, costs, status, held, target, active, age


@invariant_settings(150)
@given(sessions())
def test_apply_session_kernel_equals_twin(case):
    orders, reference, filled, price, costs, status, held, target, active, age = case
    n = orders.size
    outputs = []
    for function in (apply_session_nb, apply_session_py):
        state = [
            held.copy(),
            held.copy(),
            np.zeros(n, np.int64),
            target.copy(),
            active.copy(),
            age.copy(),
        ]
        rows = [np.zeros((4, n), np.int64), np.zeros((6, n)), np.zeros(n, np.int8)]
        lines = np.zeros(7)
        row_end, cash = function(
            7,
            SessionFillRow(orders, reference, filled, price, *costs, status),
            LedgerArrays(*state[:3]),
            BacklogArrays(*state[3:]),
            FillRecords(*rows),
            0,
            lines,
        )
        outputs.append((row_end, cash, lines, state, rows))
    (end_a, cash_a, lines_a, state_a, rows_a), (end_b, cash_b, lines_b, state_b, rows_b) = outputs
    assert end_a == end_b == int(np.count_nonzero(orders))
    assert cash_a == cash_b
    np.testing.assert_array_equal(lines_a, lines_b)
    for a, b in zip(state_a + rows_a, state_b + rows_b, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(state_a[2], np.where(orders != 0, filled, 0))  # traded


@invariant_settings(100)
@given(sessions())
def test_settle_kernel_equals_twin(case):
    _, reference, filled, _, _, _, held, target, active, age = case
    n = held.size
    outputs = []
    for function in (settle_nb, settle_py):
        rows = [np.zeros(n, np.int64), np.zeros((4, n + 3), np.int64)]
        totals = function(
            5, held, reference, filled, BacklogArrays(target, active, age), SettleRows(*rows, 3)
        )
        outputs.append((totals, rows))
    assert outputs[0][0] == outputs[1][0]
    for a, b in zip(outputs[0][1], outputs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)
    _, _, row_end, traded_value = outputs[0][0]
    remaining = np.where(active, target - held, 0)
    assert row_end - 3 == int(np.count_nonzero(remaining))
    np.testing.assert_array_equal(outputs[0][1][1][2, 3:row_end], remaining[remaining != 0])
    assert traded_value == sum(int(q) * float(m) for q, m in zip(filled, reference, strict=True))
