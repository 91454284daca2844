"""The fill kernel against its plain-Python twin, and its invariants, on random cross-sections."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import invariant_settings

from backtest.execution.exchange import Exchange, ExchangeMarket
from backtest.execution.fill_nb import (
    BookOrders,
    Charges,
    StockSession,
    empty_fill_out,
    fill_session_nb,
)
from backtest.execution.fill_py import fill_session_py
from backtest.execution.fills import FillStatus, OrderBatch
from backtest.execution.models import ParticipationCap

OUTPUT_NAMES = (
    "filled_shares",
    "fill_price",
    "impact_cost",
    "commission",
    "stamp_duty",
    "transfer_fee",
    "status",
)
FILLED_STATUSES = {
    FillStatus.FILLED,
    FillStatus.PARTIAL_CAP,
    FillStatus.NOT_SELLABLE,
    FillStatus.BELOW_LOT,
    FillStatus.CASH_LIMITED,
}
#: (lot_size, min_lot, limit fraction) per board: main, chinext, star, bse
BOARDS = ((100, 100, 0.10), (100, 100, 0.20), (1, 200, 0.20), (1, 100, 0.30))


@st.composite
def stock(draw: Any) -> dict[str, Any]:
    lot, minimum, pct = draw(st.sampled_from(BOARDS))
    held = draw(st.sampled_from([0, 0, 50, 100, 150, 200, 1_000, 2_350, 10_000]))
    sellable = draw(st.integers(0, held)) if draw(st.booleans()) else held
    order = draw(
        st.one_of(
            st.just(0),
            st.integers(-12_000, 12_000),
            st.sampled_from([-held, -sellable, 100, 200, 150, 5_000]),
        )
    )
    reference = draw(
        st.one_of(
            st.floats(1.0, 200.0),
            st.sampled_from([math.nan, 0.0, -1.0, 0.05]),
        )
    )
    has_limit = draw(st.booleans()) or not reference > 0
    up = round(reference * (1 + pct), 2) if has_limit and reference > 0 else math.nan
    down = round(reference * (1 - pct), 2) if has_limit and reference > 0 else math.nan
    if has_limit and reference > 0:
        up, down = max(up, reference), min(down, reference)
    return {
        "order_shares": order,
        "held_shares": held,
        "sellable_shares": sellable,
        "reference_price": reference,
        "limit_up": up,
        "limit_down": down,
        "locked_up": draw(st.booleans()) and draw(st.booleans()),
        "locked_down": draw(st.booleans()) and draw(st.booleans()),
        "suspended": draw(st.integers(0, 9)) == 0,
        "day_volume": draw(
            st.one_of(st.floats(0.0, 5e6), st.sampled_from([0.0, math.nan, 1_000.0, 99.0]))
        ),
        "volatility": draw(st.one_of(st.floats(0.0, 0.3), st.just(math.nan))),
        "lot_size": lot,
        "min_lot": minimum,
    }


DTYPES = {
    "order_shares": np.int64,
    "held_shares": np.int64,
    "sellable_shares": np.int64,
    "lot_size": np.int64,
    "min_lot": np.int64,
    "locked_up": np.bool_,
    "locked_down": np.bool_,
    "suspended": np.bool_,
}


@st.composite
def cross_section(draw: Any) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    stocks = draw(st.lists(stock(), min_size=1, max_size=12))
    arrays = {
        name: np.array([s[name] for s in stocks], dtype=DTYPES.get(name, np.float64))
        for name in stocks[0]
    }
    scalars = {
        "cash_available": draw(st.one_of(st.floats(0.0, 2e6), st.sampled_from([0.0, 3.0, 5e4]))),
        "participation_cap": draw(st.sampled_from([0.0, 0.05, 0.1, 0.25, 1.0])),
        "impact_coefficient": draw(st.floats(0.0, 2.0)),
        "fallback_volatility": draw(st.floats(0.0, 0.1)),
        "commission_rate": draw(st.sampled_from([0.0, 0.00025, 0.003])),
        "min_commission": draw(st.sampled_from([0.0, 5.0, 50.0])),
        "stamp_duty_rate": draw(st.sampled_from([0.0, 0.0005, 0.001])),
        "transfer_fee_rate": draw(st.sampled_from([0.0, 0.00001])),
    }
    return arrays, scalars


def records(
    arrays: dict[str, np.ndarray], scalars: dict[str, float], books: int = 1
) -> tuple[StockSession, Charges, BookOrders]:
    """One cross-section as the kernel's records; ``books`` identical rows of its orders."""
    n = arrays["order_shares"].size
    volume = arrays["day_volume"]
    usable = np.isfinite(volume) & (volume > 0)
    cap = np.floor(scalars["participation_cap"] * np.where(usable, volume, 0.0)).astype(np.int64)

    def rows(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(a, (books, n)))

    market = StockSession(**{name: arrays[name] for name in StockSession._fields if name in arrays})
    charges = Charges(
        **{name: float(scalars[name]) for name in Charges._fields},
    )
    orders = BookOrders(
        order_shares=rows(arrays["order_shares"]),
        sellable_shares=rows(arrays["sellable_shares"]),
        cash_available=np.full(books, float(scalars["cash_available"])),
        cap_shares=rows(cap),
        impact_base_shares=np.zeros((books, n)),
        impact_volume=rows(volume),
    )
    return market, charges, orders


def run(kernel: Any, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> tuple:
    """Run ``kernel`` on one book; return its row as the 8-tuple of outputs."""
    market, charges, orders = records(arrays, scalars)
    out = empty_fill_out(1, arrays["order_shares"].size)
    kernel(market, charges, orders, out)
    return (*(array[0] for array in out[:7]), float(out.out_cash_after[0]))


@invariant_settings(300)
@given(cross_section())
def test_kernel_and_python_twin_agree_exactly(case: tuple) -> None:
    arrays, scalars = case
    compiled = run(fill_session_nb, arrays, scalars)
    plain = run(fill_session_py, arrays, scalars)
    for name, a, b in zip(OUTPUT_NAMES, compiled[:7], plain[:7], strict=True):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert compiled[7] == plain[7]


@invariant_settings(300)
@given(cross_section())
def test_fills_respect_order_cap_sellable_lots_locks_and_cash(case: tuple) -> None:
    arrays, scalars = case
    filled, price, impact, commission, stamp, transfer, status, cash_after = run(
        fill_session_nb, arrays, scalars
    )
    order = arrays["order_shares"]
    cap = np.floor(scalars["participation_cap"] * np.nan_to_num(arrays["day_volume"]))
    sold = filled < 0
    bought = filled > 0
    size = np.abs(filled)
    # never more than the order, on the order's side, within the cap and the sellable shares
    assert np.all(size <= np.abs(order))
    assert np.all(np.sign(filled[filled != 0]) == np.sign(order[filled != 0]))
    assert np.all(size <= cap)
    assert np.all(size[sold] <= arrays["sellable_shares"][sold])
    # lots: buys whole lots >= min_lot; sells too unless they empty the sellable shares
    lot, minimum = arrays["lot_size"], arrays["min_lot"]
    assert np.all(size[bought] % lot[bought] == 0)
    assert np.all(size[bought] >= minimum[bought])
    odd_sell = sold & (size != arrays["sellable_shares"])
    assert np.all(size[odd_sell] % lot[odd_sell] == 0)
    assert np.all(size[odd_sell] >= minimum[odd_sell])
    # blocked sessions
    assert not np.any(bought & arrays["locked_up"])
    assert not np.any(sold & arrays["locked_down"])
    assert not np.any((filled != 0) & arrays["suspended"])
    # prices inside the limits, costs non-negative, statuses consistent
    traded = filled != 0
    assert np.all(np.isnan(price[~traded]))
    up, down = arrays["limit_up"][traded], arrays["limit_down"][traded]
    assert np.all(np.isnan(up) | (price[traded] <= up))
    assert np.all(np.isnan(down) | (price[traded] >= down))
    assert np.all(impact >= 0) and np.all(commission >= 0) and np.all(transfer >= 0)
    assert np.all(stamp[bought] == 0)
    assert all(FillStatus(s) in FILLED_STATUSES for s in status[traded])
    # FILLED means the whole order; BELOW_LOT leaves less than one lot (or min_lot) unfilled
    done = status == FillStatus.FILLED
    assert np.all(filled[done] == order[done])
    short = status == FillStatus.BELOW_LOT
    assert np.all((np.abs(order[short]) - size[short] < lot[short]) | (size[short] == 0))
    assert np.all(status[order == 0] == FillStatus.NO_ORDER)
    # cash identity and solvency
    notional = np.where(traded, price, 0.0) * size
    expected = (
        scalars["cash_available"]
        + notional[sold].sum()
        - notional[bought].sum()
        - (commission + stamp + transfer).sum()
    )
    assert math.isclose(cash_after, expected, rel_tol=1e-6, abs_tol=1e-6)
    assert cash_after >= 0.0


def test_kernel_accepts_read_only_arrays_like_the_engine_passes() -> None:
    arrays = {
        "order_shares": np.array([1_000, -100]),
        "held_shares": np.array([0, 100]),
        "sellable_shares": np.array([0, 100]),
        "reference_price": np.array([10.0, 10.0]),
        "limit_up": np.array([11.0, 11.0]),
        "limit_down": np.array([9.0, 9.0]),
        "locked_up": np.zeros(2, dtype=bool),
        "locked_down": np.zeros(2, dtype=bool),
        "suspended": np.zeros(2, dtype=bool),
        "day_volume": np.array([1e6, 1e6]),
        "volatility": np.array([np.nan, 0.02]),
        "lot_size": np.array([100, 100]),
        "min_lot": np.array([100, 100]),
    }
    for a in arrays.values():
        a.setflags(write=False)
    scalars = dict.fromkeys(Charges._fields, 0.0) | {
        "cash_available": 1e5,
        "participation_cap": 0.1,
    }
    filled = run(fill_session_nb, arrays, scalars)[0]
    assert filled.tolist() == [1_000, -100]


@invariant_settings(100)
@given(st.lists(cross_section(), min_size=2, max_size=4))
def test_books_in_one_call_fill_exactly_as_each_book_alone(cases: list[tuple]) -> None:
    """Independent mode: one kernel call over several books == one call per book."""
    n = min(case[0]["order_shares"].size for case in cases)
    market_arrays, scalars = cases[0]
    market_arrays = {k: v[:n] for k, v in market_arrays.items()}
    alone = []
    merged: list[tuple[StockSession, Charges, BookOrders]] = []
    for arrays, book_scalars in cases:
        mine = dict(market_arrays)
        for name in ("order_shares", "held_shares", "sellable_shares"):
            mine[name] = arrays[name][:n]
        mine["sellable_shares"] = np.minimum(mine["sellable_shares"], mine["held_shares"])
        mine_scalars = dict(scalars, cash_available=book_scalars["cash_available"])
        alone.append(run(fill_session_nb, mine, mine_scalars))
        merged.append(records(mine, mine_scalars))
    market, charges, _ = merged[0]
    together = BookOrders(
        *(np.concatenate([m[2][k] for m in merged]) for k in range(len(BookOrders._fields)))
    )
    out = empty_fill_out(len(cases), n)
    fill_session_nb(market, charges, together, out)
    for b, single in enumerate(alone):
        for name, a, expected in zip(OUTPUT_NAMES, out[:7], single[:7], strict=True):
            np.testing.assert_array_equal(a[b], expected, err_msg=f"book {b}: {name}")
        assert out.out_cash_after[b] == single[7]


class HalfEach:
    """A toy shared-liquidity model: the books split ``cap * V`` equally."""

    def caps(self, order_shares: np.ndarray, day_volume: np.ndarray) -> np.ndarray:
        total = ParticipationCap(0.1).caps(order_shares, day_volume)
        return total // order_shares.shape[0]


def test_exchange_reads_caps_from_its_liquidity_model() -> None:
    market = ExchangeMarket.unlimited(
        reference_price=np.array([[10.0]]),
        volume=np.array([[10_000.0]]),
        lot_size=np.array([100]),
        min_lot=np.array([100]),
    )
    orders = OrderBatch(
        session_index=0,
        order_shares=np.array([[5_000], [5_000]]),
        held_shares=np.zeros((2, 1), dtype=np.int64),
        sellable_shares=np.zeros((2, 1), dtype=np.int64),
    )
    cash = np.array([1e6, 1e6])
    independent = Exchange(market).open(orders, cash)
    shared = Exchange(market, liquidity=HalfEach()).open(orders, cash)
    assert independent.filled_shares.ravel().tolist() == [1_000, 1_000]
    assert shared.filled_shares.ravel().tolist() == [500, 500]
    assert [s.name for s in shared.statuses(0)] == ["PARTIAL_CAP"]
