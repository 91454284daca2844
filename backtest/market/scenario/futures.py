"""CFFEX index futures IF, IH, IC, IM on the generated index levels.

Model
-----
- Listed contracts each session by the CFFEX rule
  (:func:`backtest.rules.cffex.listed_months`): current month, next month, next two
  quarter months; expiry on the third Friday, rolled to the next session past holidays.
- **Main contract** (largest open interest): the nearest quarter-month contract with more than
  5 sessions to expiry, then the next quarter month. This is the rule the real 2023-2024 CFFEX
  data follow for IC and IM (IC2403/IM2403 through the crash window) and, within a few days of
  each roll, for IF and IH.
- **Prices**: ``F = S (1 + b d / 365)`` with ``S`` the underlying index (IF: CSI 300, IH: SSE 50,
  IC: CSI 500, IM: CSI 1000), ``d`` calendar days to expiry and ``b`` the annualised basis of
  that very contract on that day in the real CFFEX closes (``data/calibration/basis_daily.csv``):
  every listed contract, main, next and the others, carries its real basis. Prices are on the
  0.2-point tick, so with ``S`` on the real close ``F`` is the real close; the final settlement
  equals the index close of the expiry day (approximating CFFEX's two-hour average); otherwise
  settle = close. Open, high and low apply the close's basis to the index open, high and low.
- **Open interest** per product (IF 220k, IH 90k, IC 250k, IM 200k contracts) split 50 % to the
  main contract and the rest to the others, the expiring month fading over its last five
  sessions; volume is 40 % of open interest, more on large index moves.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from backtest.market.calendar import all_sessions
from backtest.market.schema import FUTURES_BARS
from backtest.rules.cffex import listed_months

__all__ = ["MAIN_ROLL_SESSIONS", "PRODUCT_UNDERLYING_SLOT", "main_contract", "make_futures"]

TICK = 0.2
MAIN_ROLL_SESSIONS = 5
#: Product -> column of the scenario's index levels (see simulate.INDEX_SLOTS).
PRODUCT_UNDERLYING_SLOT: dict[str, int] = {"IF": 0, "IH": 5, "IC": 1, "IM": 2}
_OPEN_INTEREST = {"IF": 220_000, "IH": 90_000, "IC": 250_000, "IM": 200_000}
_PRODUCTS = ("IF", "IH", "IC", "IM")


def main_contract(contracts: list[tuple[int, int, dt.date]], sessions_to_expiry: list[int]) -> int:
    """Position (in ``contracts``) of the main contract: the nearest quarter month with more
    than :data:`MAIN_ROLL_SESSIONS` sessions left, else the next quarter month.

    >>> import datetime as dt
    >>> cs = [(2024, 1, dt.date(2024, 1, 19)), (2024, 2, dt.date(2024, 2, 19)),
    ...       (2024, 3, dt.date(2024, 3, 15)), (2024, 6, dt.date(2024, 6, 21))]
    >>> main_contract(cs, [13, 32, 50, 115]), main_contract(cs, [1, 2, 5, 70])
    (2, 3)
    """
    for position, ((_, month, _), left) in enumerate(
        zip(contracts, sessions_to_expiry, strict=True)
    ):
        if month % 3 == 0 and left > MAIN_ROLL_SESSIONS:
            return position
    return len(contracts) - 1


def _tick(value: np.ndarray | float) -> np.ndarray:
    return np.round(np.asarray(value) / TICK) * TICK


def make_futures(
    days: np.ndarray,
    index_ohlc: dict[str, np.ndarray],
    basis: dict[tuple[int, str], float],
    generator: np.random.Generator,
) -> pl.DataFrame:
    """Futures bars for rows 1.. of ``days``.

    Parameters
    ----------
    days
        Sessions, row 0 the base date (no bars).
    index_ohlc
        ``open``, ``high``, ``low``, ``close``: ``(days x 6)`` levels in ``INDEX_SLOTS`` order.
    basis
        ``(row, contract) -> annualised basis`` (fraction a year) of every listed contract
        before its expiry day (:func:`~backtest.market.scenario.targets.basis_by_contract`).
    """
    session_days = days.astype("datetime64[D]")
    records: dict[str, list] = {name: [] for name in FUTURES_BARS.names}
    close_levels = index_ohlc["close"]
    with np.errstate(invalid="ignore", divide="ignore"):
        index_moves = np.abs(np.nan_to_num(close_levels[1:] / close_levels[:-1] - 1.0))
    calendar_days = np.concatenate([session_days, session_days[-1:] + np.arange(1, 200)])
    exchange_days = all_sessions()
    for row in range(1, len(days)):
        day = session_days[row].astype(dt.date)
        contracts = listed_months(session_days[row], exchange_days)
        expiries = [np.datetime64(e, "D") for _, _, e in contracts]
        left = [int(np.searchsorted(calendar_days, e) - row) for e in expiries]
        main = main_contract(contracts, left)
        for product in _PRODUCTS:
            slot = PRODUCT_UNDERLYING_SLOT[product]
            spot = {k: index_ohlc[k][row, slot] for k in ("open", "high", "low", "close")}
            move = index_moves[row - 1, slot]
            size_noise = generator.uniform(0.9, 1.1, len(contracts))
            shares = np.full(len(contracts), 0.5 / (len(contracts) - 1))
            shares[main] = 0.5
            for c, ((year, month, expiry), sessions_left) in enumerate(
                zip(contracts, left, strict=True)
            ):
                days_to_expiry = (expiry - day).days
                code = f"{product}{year % 100:02d}{month:02d}"
                rate = basis.get((row, code))
                if rate is None:
                    if days_to_expiry > 0:
                        raise ValueError(
                            f"data/calibration/basis_daily.csv has no basis for {code} on {day}"
                        )
                    rate = 0.0
                carry = 1.0 + rate * days_to_expiry / 365.0
                prices = {k: float(_tick(v * carry)) for k, v in spot.items()}
                if days_to_expiry == 0:
                    prices["close"] = round(float(spot["close"]), 2)
                    prices["open"] = min(max(prices["open"], prices["low"]), prices["high"])
                top = max(prices.values())
                bottom = min(prices.values())
                fade = min(1.0, (sessions_left + 1) / (MAIN_ROLL_SESSIONS + 1))
                weight = shares[c] * (fade if c != main else 1.0)
                open_interest = int(_OPEN_INTEREST[product] * weight * size_noise[c])
                volume = int(open_interest * 0.4 * (1.0 + 30.0 * move) * size_noise[-1 - c])
                records["date"].append(day)
                records["contract"].append(code)
                records["product"].append(product)
                records["open"].append(prices["open"])
                records["high"].append(top)
                records["low"].append(bottom)
                records["close"].append(prices["close"])
                records["settle"].append(prices["close"])
                records["volume"].append(max(volume, 1))
                records["open_interest"].append(max(open_interest, 1))
                records["expiry"].append(expiry)
    return pl.DataFrame(
        records,
        schema={
            "date": pl.Date,
            "contract": pl.String,
            "product": pl.String,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "settle": pl.Float64,
            "volume": pl.Int64,
            "open_interest": pl.Int64,
            "expiry": pl.Date,
        },
    ).sort("date", "contract")
