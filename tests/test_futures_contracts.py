"""CFFEX contracts: specs, names, expiries and listings on the SSE calendar, roll schedules,
margin and fee schedules, the annualised basis."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from backtest.analytics.basis import annualised_basis, main_contracts
from backtest.engine.futures.fills import fill_futures_orders
from backtest.market.calendar import sessions
from backtest.rules.cffex import (
    SPECS,
    FeeSchedule,
    MarginSchedule,
    contract_expiry,
    contract_name,
    hedge_contracts,
    listed_contracts,
    parse_contract,
)
from backtest.rules.roll import RollRule, roll_schedule

CALENDAR = sessions("2022-12-01", "2025-12-31")

#: third Fridays of 2023-2024 checked against the SSE holidays: only 2024-02-16 (Spring Festival
#: closure, 2024-02-09..02-16) was not a session, so IC2402 expired on Monday 2024-02-19.
EXPIRIES_2023_2024 = {
    "2301": "2023-01-20", "2302": "2023-02-17", "2303": "2023-03-17", "2304": "2023-04-21",
    "2305": "2023-05-19", "2306": "2023-06-16", "2307": "2023-07-21", "2308": "2023-08-18",
    "2309": "2023-09-15", "2310": "2023-10-20", "2311": "2023-11-17", "2312": "2023-12-15",
    "2401": "2024-01-19", "2402": "2024-02-19", "2403": "2024-03-15", "2404": "2024-04-19",
    "2405": "2024-05-17", "2406": "2024-06-21", "2407": "2024-07-19", "2408": "2024-08-16",
    "2409": "2024-09-20", "2410": "2024-10-18", "2411": "2024-11-15", "2412": "2024-12-20",
}  # fmt: skip


def test_specs_carry_the_cffex_multipliers_ticks_and_underlyings() -> None:
    assert {p: s.multiplier_cny_per_point for p, s in SPECS.items()} == {
        "IF": 300.0,
        "IH": 300.0,
        "IC": 200.0,
        "IM": 200.0,
    }
    assert {s.tick_points for s in SPECS.values()} == {0.2}
    assert SPECS["IC"].underlying_index == "000905" and SPECS["IM"].underlying_index == "000852"
    with pytest.raises(TypeError):
        SPECS["IX"] = SPECS["IF"]  # type: ignore[index]


def test_contract_names_round_trip_and_bad_names_are_refused() -> None:
    assert parse_contract("ic2403") == ("IC", 2024, 3)
    assert parse_contract("IM2412").name == "IM2412"
    assert contract_name("IF", 2023, 1) == "IF2301"
    for bad in ("IX2403", "IC24", "IC2413", "IC24A3"):
        with pytest.raises(ValueError, match="not a CFFEX index future name"):
            parse_contract(bad)


@pytest.mark.parametrize(("yymm", "expiry"), sorted(EXPIRIES_2023_2024.items()))
def test_expiry_is_third_friday_or_next_session_on_sse_calendar(yymm: str, expiry: str) -> None:
    assert contract_expiry(f"IC{yymm}", CALENDAR) == np.datetime64(expiry)


def test_listed_contracts_are_current_next_and_two_quarterlies() -> None:
    assert listed_contracts("IM", "2024-02-05", CALENDAR) == [
        "IM2402",
        "IM2403",
        "IM2406",
        "IM2409",
    ]
    # on the expiry day the expiring contract still trades; the next session it is gone
    assert listed_contracts("IC", "2024-02-19", CALENDAR)[0] == "IC2402"
    assert listed_contracts("IC", "2024-02-20", CALENDAR) == [
        "IC2403",
        "IC2404",
        "IC2406",
        "IC2409",
    ]


def _rolls(rule: RollRule, start: str, end: str) -> list[tuple[str, str, str]]:
    frame = roll_schedule(rule, "IC", CALENDAR, start=start, end=end).filter(pl.col("is_roll"))
    rows = frame.select("date", "previous_contract", "contract").rows()
    return [(str(day), old, new) for day, old, new in rows]


def test_quarterly_roll_five_sessions_before_expiry_holds_ic2403_through_the_crash() -> None:
    rule = RollRule(sessions_before_expiry=5, target="next_quarterly")
    assert _rolls(rule, "2023-12-01", "2024-03-29") == [
        ("2023-12-08", "IC2312", "IC2403"),
        ("2024-03-08", "IC2403", "IC2406"),
    ]
    frame = roll_schedule(rule, "IC", CALENDAR, start="2024-01-02", end="2024-03-01")
    assert set(frame["contract"]) == {"IC2403"}


def test_monthly_roll_counts_sessions_across_the_spring_festival_closure() -> None:
    # IC2402 expires 2024-02-19; after 2024-02-02 only 02-05..02-08 and 02-19 remain (5)
    rule = RollRule(sessions_before_expiry=5, target="next_listed")
    assert _rolls(rule, "2023-12-01", "2024-03-29") == [
        ("2023-12-08", "IC2312", "IC2401"),
        ("2024-01-12", "IC2401", "IC2402"),
        ("2024-02-02", "IC2402", "IC2403"),
        ("2024-03-08", "IC2403", "IC2404"),
    ]


def test_roll_at_zero_sessions_holds_to_the_final_settlement_day() -> None:
    rule = RollRule(sessions_before_expiry=0, target="next_listed")
    assert _rolls(rule, "2024-01-02", "2024-02-29") == [
        ("2024-01-19", "IC2401", "IC2402"),
        ("2024-02-19", "IC2402", "IC2403"),
    ]


def test_main_roll_follows_open_interest_of_the_previous_session_only_forward() -> None:
    days = sessions("2024-01-15", "2024-01-19")
    open_interest = {  # the main contract moves to IC2403 on 01-16, and back to IC2402 on 01-17
        "IC2401": [100, 10, 10, 10, 10],
        "IC2402": [50, 50, 300, 300, 300],
        "IC2403": [80, 200, 100, 100, 100],
    }
    rows = [
        (d.astype(dt.date), c, oi[i]) for c, oi in open_interest.items() for i, d in enumerate(days)
    ]
    frame = pl.DataFrame(
        rows,
        schema={"date": pl.Date, "contract": pl.String, "open_interest": pl.Int64},
        orient="row",
    )
    rule = RollRule(sessions_before_expiry=0, target="main")
    held = roll_schedule(rule, "IC", CALENDAR, start="2024-01-15", end="2024-01-19", futures=frame)
    # 01-15: no earlier data -> nearest listed; 01-16 follows 01-15's main (IC2401);
    # 01-17 follows 01-16's main IC2403; a nearer main (IC2402) later does not pull it back
    assert held["contract"].to_list() == ["IC2401", "IC2401", "IC2403", "IC2403", "IC2403"]
    with pytest.raises(ValueError, match="needs futures"):
        roll_schedule(rule, "IC", CALENDAR, start="2024-01-15", end="2024-01-19")


def test_roll_rule_validates_its_parameters() -> None:
    with pytest.raises(ValueError, match=r"sessions_before_expiry must be in 0\.\.15"):
        RollRule(sessions_before_expiry=-1)
    with pytest.raises(ValueError, match="target must be"):
        RollRule(target="front")  # type: ignore[arg-type]


def test_main_contract_is_largest_open_interest_with_ties_to_the_nearer() -> None:
    frame = pl.DataFrame(
        {
            "date": [dt.date(2024, 2, 5)] * 4,
            "contract": ["IC2402", "IC2403", "IM2403", "IM2406"],
            "open_interest": [90, 137, 125, 125],
        }
    )
    main = main_contracts(frame)
    assert main.select("product", "contract").rows() == [("IC", "IC2403"), ("IM", "IM2403")]


def test_annualised_basis_uses_calendar_days_and_is_nan_on_expiry_day() -> None:
    # 1 % discount with 36.5 days left = -10 % a year
    assert annualised_basis(4950.0, 5000.0, 36.5) == pytest.approx(-0.10)
    assert np.isnan(annualised_basis(4990.0, 5000.0, 0))


def test_margin_schedule_is_dated_and_adds_the_broker_add_on() -> None:
    schedule = MarginSchedule(broker_add_on=0.02)
    rates = schedule.rates("IM", np.array(["2022-07-21", "2023-01-03", "2024-02-05"], "M8[D]"))
    assert np.isnan(rates[0])  # before IM was listed
    assert rates[1:] == pytest.approx([0.17, 0.14])
    with pytest.raises(ValueError, match="broker_add_on must be in"):
        MarginSchedule(broker_add_on=-0.01)
    with pytest.raises(ValueError, match="no margin rate for IM on 2022-01-04"):
        schedule.rate("IM", "2022-01-04")


def test_close_today_fee_was_cut_on_2023_03_20() -> None:
    fees = FeeSchedule()
    assert fees.on("2023-03-17").close_today_rate == pytest.approx(3.45e-4)
    assert fees.on("2023-03-20").close_today_rate == pytest.approx(2.3e-4)
    assert fees.on("2024-02-05").open_rate == pytest.approx(0.23e-4)


def test_fill_wrapper_prices_fees_and_slippage_per_contract() -> None:
    fills = fill_futures_orders(
        contracts=("IF2403", "IC2403"),
        orders=np.array([1, -2]),
        reference_price=np.array([3400.0, 5000.0]),
        held_overnight=np.array([0, 0]),
        fees=FeeSchedule().on("2024-02-05"),
        slippage_ticks=2,
    )
    assert fills.fill_price == pytest.approx([3400.4, 4999.6])
    assert fills.slippage_cny == pytest.approx([1 * 300 * 0.4, 2 * 200 * 0.4])
    assert fills.fee_cny == pytest.approx([3400.4 * 300 * 0.23e-4, 2 * 4999.6 * 200 * 0.23e-4])
    with pytest.raises(ValueError, match="orders has shape"):
        fill_futures_orders(
            contracts=("IF2403",),
            orders=np.array([1, 2]),
            reference_price=np.array([3400.0]),
            held_overnight=np.array([0]),
            fees=FeeSchedule().on("2024-02-05"),
        )


def test_hedge_contracts_round_the_notional_to_whole_lots() -> None:
    # CNY 10 m of CSI 1000 at 4,293.07 with CNY 200 a point: 11.6 lots -> 12
    assert hedge_contracts(10_000_000, 4293.07, "IM") == 12
    assert hedge_contracts(10_000_000, 3200.42, "IF") == 10
