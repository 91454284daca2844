"""A small market with CFFEX IC futures on the real SSE calendar, and hedging test strategies.

``futures_market(...)``: ``n`` main-board stocks and the CSI 500 index over real sessions, IC
contracts (monthly and quarterly, expiries from the calendar) priced ``F = S + basis`` with a
discount that shrinks linearly to 0 at expiry; settle = close; index opens = previous close
times a small gap. Stocks follow the index (beta 1) plus noise; an optional crash day moves
every stock by ``crash_return`` (limit prices NaN: no lock unless asked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from backtest.engine import Context, MarketData, Strategy
from backtest.engine.futures.config import FinancingConfig, FuturesConfig
from backtest.market.calendar import sessions
from backtest.market.futures_panel import futures_panel
from backtest.rules.cffex import contract_expiry, contract_name

START, END = "2023-11-01", "2024-04-30"


def futures_market(
    *,
    n: int = 6,
    seed: int = 7,
    crash_day: str | None = None,
    crash_return: float = -0.2,
    locked_after_crash: bool = False,
    untradable_open: dict[str, str] | None = None,
    open_interest: dict[str, tuple[str, int]] | None = None,
) -> MarketData:
    """A small market with CSI 500 stocks and IC contracts (open interest 1000 each).

    ``open_interest`` maps a contract to ``(first date, open interest)`` to raise it from then.
    """
    rng = np.random.default_rng(seed)
    dates = sessions(START, END)
    all_days = sessions(START, "2024-12-31")
    days = dates.size
    index = 5500.0 * np.cumprod(1.0 + rng.normal(0.0, 0.004, days))
    index_open = np.empty(days)
    index_open[0] = index[0]
    index_open[1:] = index[:-1] * (1.0 + rng.normal(0.0, 0.002, days - 1))
    symbols = [f"600{i:03d}" for i in range(n)]
    returns = np.log(index[1:] / index[:-1])[:, None] + rng.normal(0.0, 0.005, (days - 1, n))
    close = np.empty((days, n))
    close[0] = 10.0 + np.arange(n)
    close[1:] = close[0] * np.exp(np.cumsum(returns, axis=0))
    limit_down = np.full((days, n), np.nan)
    if crash_day is not None:
        t = int(np.searchsorted(dates, np.datetime64(crash_day)))
        close[t:] *= 1.0 + crash_return
        if locked_after_crash:
            limit_down[t : t + 3] = close[t : t + 3]
    open_ = close.copy()
    open_[1:] = close[:-1]
    rows = []
    months = [(2023, m) for m in (11, 12)] + [(2024, m) for m in range(1, 13)]
    for year, month in months:
        name = contract_name("IC", year, month)
        expiry = contract_expiry(name, all_days)
        for t, day in enumerate(dates):
            if day > expiry:
                break
            left = int((expiry - day).astype(np.int64))
            basis = -0.0008 * left * index[t]  # discount, 0 at expiry
            price = round(index[t] + basis, 1)
            opening = round(index_open[t] + basis, 1)
            if untradable_open and untradable_open.get(name) == str(day):
                opening = None
            interest = 1000
            if open_interest and name in open_interest:
                since, value = open_interest[name]
                interest = value if day >= np.datetime64(since) else interest
            rows.append((day.item(), name, opening, price, price, interest, expiry.item()))
    frame = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "contract": pl.String,
            "open": pl.Float64,
            "close": pl.Float64,
            "settle": pl.Float64,
            "open_interest": pl.Int64,
            "expiry": pl.Date,
        },
        orient="row",
    )
    return MarketData.from_arrays(
        dates=dates,
        symbols=symbols,
        close=close,
        open=open_,
        volume=np.full((days, n), 1e9),
        limit_down=limit_down,
        index_weights={"000905": np.full((days, n), 1.0 / n)},
        index_closes={"000905": index},
        index_opens={"000905": index_open},
        futures=futures_panel(frame),
    )


@dataclass(frozen=True, kw_only=True)
class ShortParams:
    contracts: int = -10
    long_weight: float = 0.0
    futures: FuturesConfig = field(default_factory=FuturesConfig)
    financing: FinancingConfig | None = None


class ShortFutures(Strategy[ShortParams]):
    """Holds a fixed futures short (and optionally equal weights in stocks); records views."""

    def __init__(self, params: ShortParams) -> None:
        super().__init__(params)
        self.seen: list[tuple[np.datetime64, dict[str, int], bool]] = []

    def futures_config(self) -> FuturesConfig:
        return self.params.futures

    def financing_config(self) -> FinancingConfig | None:
        return self.params.financing

    def on_bar(self, ctx: Context) -> None:
        account = ctx.account
        self.seen.append((ctx.today, account.futures_positions, account.margin_call))
        if ctx.session_index == 0:
            ctx.order_futures_target("IC", self.params.contracts)
            if self.params.long_weight > 0:
                n = ctx.symbols.size
                ctx.order_target_weights(np.full(n, self.params.long_weight / n))
