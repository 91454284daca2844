"""Golden acceptance of the hedged books: a market-neutral and a DMA book, exact to the bit.

One seeded market of 24 main-board stocks over the SSE sessions 2023-11-01..2024-02-29 with the
CSI 500 and CSI 1000 indices and their IC / IM contracts (monthly and quarterly, expiries from
the calendar). Both books run in one :class:`~backtest.engine.Engine` pass:

- ``neutral``: :class:`~strategies.hedged.MarketNeutral` on the CSI 1000 basket, short IM,
  with a drawdown stop;
- ``dma``: :class:`~strategies.hedged.DMA` at 4x on the CSI 500 basket, short IC, financed by
  the broker.

The stocks crash in the first week of February 2024 (small caps fall more than the indices,
the futures discount widens, some names close locked limit-down), so the DMA book is called
and de-levered by the engine. The golden files pin the daily frames, every stock order, and
the futures contracts held after each close (from ``ctx.account``: ``Result`` has no futures
frame). Separate tests hold that the goldens keep exercising what they are meant to guard: a
roll, basis carry, futures fees, financing, a margin call with forced sales.

Regenerate after an intended change with
``BACKTEST_REGEN_GOLDEN=1 pytest tests/test_engine_golden_hedged.py`` and review the diff of
``tests/golden/engine_neutral_*.csv`` and ``tests/golden/engine_dma_*.csv`` before committing.
Floats are written by polars with ``float_precision=None`` (shortest round-trip text), as in
``tests/test_engine_golden.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtest.engine import Book, Context, Engine, EngineConfig, FinancingConfig, MarketData
from backtest.market.calendar import sessions
from backtest.market.futures_panel import futures_panel
from backtest.rules.cffex import contract_expiry, contract_name
from strategies.hedged import DMA, DMAParams, DrawdownStop, MarketNeutral, MarketNeutralParams
from strategies.long_only import IndexEnhancedParams

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("BACKTEST_REGEN_GOLDEN") == "1"

START, END = "2023-11-01", "2024-02-29"
CRASH = ("2024-02-05", "2024-02-06", "2024-02-07")
#: stocks that close locked limit-down on the first crash day and open there on the second
#: (on the third, others close at the limit by the clip: the DMA book's forced sales wait)
LOCKED = (3, 11, 19)
#: the hedges roll out of the December contracts here; the DMA book is called on CALLS
ROLL = "2023-12-08"
CALLS = ("2024-02-06", "2024-02-07")
BOOKS = ("neutral", "dma")
FRAMES = ("daily", "fills", "futures")


def _round_price(values: np.ndarray) -> np.ndarray:
    """Round to 0.01 CNY (ties by numpy's rule: the market is fixed, not realistic)."""
    return np.round(values, 2)


def hedged_market(seed: int = 20240205, n: int = 24) -> MarketData:
    """The seeded hedged market of the module docs (stocks, two indices, IC and IM)."""
    rng = np.random.default_rng(seed)
    dates = sessions(START, END)
    calendar_days = sessions(START, "2024-12-31")
    days = dates.size
    crash = np.isin(dates, np.array(CRASH, dtype="datetime64[D]"))
    # market factor, its crash, and the small caps' extra fall (the excess collapse)
    market_return = rng.normal(0.0003, 0.009, days)
    market_return[crash] = -0.03
    extra = np.where(crash, -0.055, 0.0)
    beta = rng.uniform(0.8, 1.2, n)
    noise = rng.normal(0.0, 0.012, (days, n))
    returns = beta * market_return[:, None] + extra[:, None] + noise
    returns[0] = 0.0
    first = _round_price(np.exp(rng.uniform(np.log(4.0), np.log(40.0), n)))
    close = np.empty((days, n))
    open_ = np.empty((days, n))
    limit_up = np.empty((days, n))
    limit_down = np.empty((days, n))
    previous = first
    t_lock = int(np.flatnonzero(crash)[0])
    for t in range(days):
        up, down = _round_price(previous * 1.1), _round_price(previous * 0.9)
        c = np.clip(_round_price(previous * (1.0 + returns[t])), down, up)
        o = np.clip(_round_price(previous * (1.0 + 0.3 * returns[t])), down, up)
        if t == t_lock:
            c[list(LOCKED)] = down[list(LOCKED)]
        if t == t_lock + 1:
            o[list(LOCKED)] = down[list(LOCKED)]
            c[list(LOCKED)] = down[list(LOCKED)]
        if t == 0:
            c, o = first, first
        close[t], open_[t], limit_up[t], limit_down[t] = c, o, up, down
        previous = c
    symbols = [f"{600000 + 7 * i:06d}" if i % 2 == 0 else f"{1 + 7 * i:06d}" for i in range(n)]
    float_shares = np.exp(rng.uniform(np.log(5e7), np.log(2e9), n))
    float_cap = close * float_shares
    volume = np.round(float_shares * rng.uniform(0.005, 0.03, (days, n)))
    amount = volume * (open_ + close) / 2.0
    members_500 = np.argsort(float_shares)[n // 3 :]  # the larger two thirds
    members_1000 = np.argsort(float_shares)[: 2 * n // 3]  # the smaller two thirds
    weights = {}
    for code, members in (("000905", members_500), ("000852", members_1000)):
        w = np.zeros((days, n))
        w[:, members] = float_cap[:, members] / float_cap[:, members].sum(axis=1, keepdims=True)
        weights[code] = w
    levels = {"000905": 5600.0, "000852": 6100.0}
    index_closes, index_opens = {}, {}
    for code, level in levels.items():
        scale = 1.0 if code == "000905" else 1.15  # CSI 1000 moves more
        index = level * np.cumprod(1.0 + scale * np.where(np.arange(days) == 0, 0.0, market_return))
        gap = rng.normal(0.0, 0.002, days)
        index_opens[code] = np.concatenate([[index[0]], index[:-1] * (1.0 + gap[1:])])
        index_closes[code] = index
    # discount (annualised) widens from 8 % to 35 % over the crash, then eases to 15 %
    discount = np.where(dates < np.datetime64(CRASH[0]), 0.08, 0.15)
    discount[crash] = (0.25, 0.35, 0.30)
    rows = []
    months = [(2023, 11), (2023, 12)] + [(2024, m) for m in range(1, 7)] + [(2024, 9)]
    for product, code in (("IC", "000905"), ("IM", "000852")):
        index, index_open = index_closes[code], index_opens[code]
        for year, month in months:
            name = contract_name(product, year, month)
            expiry = contract_expiry(name, calendar_days)
            for t, day in enumerate(dates):
                if day > expiry:
                    break
                left = float((expiry - day).astype(np.int64))
                basis = -discount[t] * left / 365.0
                price = round(index[t] * (1.0 + basis), 1)
                opening = round(index_open[t] * (1.0 + basis), 1)
                settle = round(price + 0.2 * float(rng.integers(-3, 4)), 1) if left > 0 else price
                open_interest = 20000 + 500 * t
                rows.append(
                    (day.item(), name, opening, price, settle, open_interest, expiry.item())
                )
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
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        volume=volume,
        amount=amount,
        limit_up=limit_up,
        limit_down=limit_down,
        float_cap=float_cap,
        total_cap=float_cap / 0.6,
        index_weights=weights,
        index_closes=index_closes,
        index_opens=index_opens,
        futures=futures_panel(frame),
    )


def _basket(benchmark: str) -> IndexEnhancedParams:
    return IndexEnhancedParams(
        benchmark=benchmark,  # type: ignore[arg-type]
        max_active_weight=0.03,
        out_of_benchmark_names=4,
        max_turnover=0.5,
        reversal_window=5,
        liquidity_window=5,
        rebalance_every=5,
    )


#: (date, contracts held after that close), as the strategy saw them in ``on_bar``
Held = list[tuple[np.datetime64, dict[str, int]]]


class RecordedNeutral(MarketNeutral):
    """MarketNeutral that keeps the futures contracts held after each close."""

    def __init__(self, params: MarketNeutralParams) -> None:
        super().__init__(params)
        self.held: Held = []

    def on_bar(self, ctx: Context) -> None:
        self.held.append((ctx.today, ctx.account.futures_positions))
        super().on_bar(ctx)


class RecordedDMA(DMA):
    """DMA that keeps the futures contracts held after each close."""

    def __init__(self, params: DMAParams) -> None:
        super().__init__(params)
        self.held: Held = []

    def on_bar(self, ctx: Context) -> None:
        self.held.append((ctx.today, ctx.account.futures_positions))
        super().on_bar(ctx)


def _futures_frame(held: Held) -> pl.DataFrame:
    rows = [(day.item(), c, q) for day, positions in held for c, q in sorted(positions.items())]
    return pl.DataFrame(
        rows, schema={"date": pl.Date, "contract": pl.String, "contracts": pl.Int64}, orient="row"
    )


def golden_run() -> dict[str, pl.DataFrame]:
    """The frames the golden files hold, by file stem (``engine_<book>_<frame>``)."""
    market = hedged_market()
    neutral = RecordedNeutral(
        MarketNeutralParams(
            enhanced=_basket("000852"),
            futures_product="IM",
            long_gross=0.8,
            drawdown_stop=DrawdownStop(drawdown=0.03),
        )
    )
    dma = RecordedDMA(
        DMAParams(
            enhanced=_basket("000905"),
            futures_product="IC",
            leverage=4.0,
            financing=FinancingConfig(financing_rate=0.06, maintenance_ratio=0.2),
        )
    )
    results = Engine(EngineConfig(initial_cash=1e8)).run(
        market,
        [
            Book(name="neutral", strategy=neutral),
            Book(name="dma", strategy=dma, initial_cash=3e7),
        ],
    )
    out = {}
    for name, strategy in (("neutral", neutral), ("dma", dma)):
        result = results[name]
        assert result.complete
        out[f"engine_{name}_daily"] = result.daily.sort("date")
        out[f"engine_{name}_fills"] = result.fills.sort("date", "symbol")
        out[f"engine_{name}_futures"] = _futures_frame(strategy.held).sort("date", "contract")
    return out


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return golden_run()


def _first_difference(text: str, stored: str) -> str:
    """Name the first differing row and column of two CSV texts (rows counted from 1)."""
    new, old = text.splitlines(), stored.splitlines()
    if not new or not old or new[0] != old[0]:
        return f"header differs: now {new[:1]}, stored {old[:1]}"
    header = old[0].split(",")
    keys = [j for j, name in enumerate(header) if name in ("date", "symbol", "contract")]
    for row, (a, b) in enumerate(zip(new[1:], old[1:], strict=False), start=1):
        if a == b:
            continue
        cells_a, cells_b = a.split(","), b.split(",")
        where = ", ".join(f"{header[j]}={cells_b[j]}" for j in keys if j < len(cells_b))
        for column, (x, y) in enumerate(zip(cells_a, cells_b, strict=False)):
            if x != y:
                return f"row {row} ({where}), column {header[column]!r}: now {x}, stored {y}"
        return f"row {row} ({where}): now {a!r}, stored {b!r}"
    return f"row count differs: now {len(new) - 1}, stored {len(old) - 1}"


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("book", BOOKS)
def test_golden_hedged_run_matches_stored_figures_exactly(frames, book, frame):
    name = f"engine_{book}_{frame}"
    text = frames[name].write_csv(float_precision=None)
    path = GOLDEN / f"{name}.csv"
    if REGEN:
        path.write_text(text)
    assert path.exists(), f"{path} is missing; run with BACKTEST_REGEN_GOLDEN=1 to create it"
    stored = path.read_text()
    assert text == stored, (
        f"{path.name} differs: {_first_difference(text, stored)}; if intended, regenerate "
        "with BACKTEST_REGEN_GOLDEN=1 and review the diff"
    )


def test_golden_csv_text_round_trips_every_float_to_the_bit(frames):
    # the text comparison is only bit-exact if the CSV floats parse back to the same bits
    for name, frame in frames.items():
        text = frame.write_csv(float_precision=None)
        back = pl.read_csv(io.StringIO(text), schema=frame.schema)
        for column in frame.columns:
            if frame[column].dtype == pl.Float64:
                bits = frame[column].to_numpy().view(np.uint64)
                np.testing.assert_array_equal(back[column].to_numpy().view(np.uint64), bits)
            else:
                assert back[column].equals(frame[column]), f"{name}.{column} changed in CSV"


# ---------------------------------------------------------------- what the goldens must cover
def _daily(frames: dict[str, pl.DataFrame], book: str) -> pl.DataFrame:
    return frames[f"engine_{book}_daily"]


def _days(frame: pl.DataFrame, condition: pl.Expr) -> list[str]:
    return frame.filter(condition)["date"].cast(pl.String).to_list()


@pytest.mark.parametrize(("book", "product"), [("neutral", "IM"), ("dma", "IC")])
def test_golden_books_roll_their_hedge_once_from_the_december_to_the_march_contract(
    frames, book, product
):
    daily = _daily(frames, book)
    assert _days(daily, pl.col("roll") != 0.0) == [ROLL]
    assert daily.filter(pl.col("date") == pl.lit(ROLL).str.to_date())["roll"][0] < 0.0
    held = frames[f"engine_{book}_futures"]
    assert held["contract"].unique().sort().to_list() == [f"{product}2312", f"{product}2403"]
    assert held.filter(pl.col("contract") == f"{product}2403")["date"].min() == dt.date(2023, 12, 8)
    assert (held["contracts"] < 0).all()  # short every session after the first open


@pytest.mark.parametrize("book", BOOKS)
def test_golden_books_carry_basis_pay_futures_fees_and_settle_variation_margin(frames, book):
    daily = _daily(frames, book)
    before_roll = daily.filter(pl.col("date") < pl.lit(ROLL).str.to_date())
    assert (before_roll["basis_carry"] != 0.0).sum() >= 20
    assert daily["futures_fees"].sum() > 0.0
    assert (daily["futures_fees"] > 0.0).sum() >= 5  # the first hedge, the roll, resizes
    assert (daily["futures_pnl"] > 0.0).any() and (daily["futures_pnl"] < 0.0).any()
    assert (daily["margin_required"][1:] > 0.0).all()
    # the crash: the short hedge gains while the discount widens
    crash = daily.filter(pl.col("date") == pl.lit(CRASH[0]).str.to_date())
    assert crash["futures_pnl"][0] > 0.0 and crash["basis_carry"][0] > 0.0


def test_golden_neutral_book_cuts_its_hedge_at_the_drawdown_stop_without_financing(frames):
    daily = _daily(frames, "neutral")
    assert daily["financing"].sum() == 0.0 and daily["margin_call"].sum() == 0.0
    held = frames["engine_neutral_futures"]
    sizes = held["contracts"].to_numpy()
    assert sizes.min() < 0 and np.abs(sizes[-1]) < 0.6 * np.abs(sizes).max()


def test_golden_dma_book_pays_financing_and_is_called_and_deleveraged_in_the_crash(frames):
    daily = _daily(frames, "dma")
    # interest from the second night on: the first close had no borrowing yet
    assert (daily["financing"][:2] == 0.0).all() and (daily["financing"][2:] > 0.0).all()
    calls = _days(daily, pl.col("margin_call") == 1.0)
    assert calls == list(CALLS)
    gross = daily["holdings_value"].to_numpy()
    t = _days(daily, pl.lit(True)).index(CALLS[0])
    assert gross[t + 2] < 0.5 * gross[t]  # forced sales at the next two opens
    fills = frames["engine_dma_fills"]
    forced = fills.filter(pl.col("date") == pl.lit(CRASH[2]).str.to_date())
    assert (forced["order_shares"] < 0).all()
    # names locked limit-down could not be sold: their forced sales waited
    assert forced.filter(pl.col("status_name") == "LOCKED_LIMIT_DOWN").height >= 1
    held = frames["engine_dma_futures"]
    hedge = dict(zip(held["date"].cast(pl.String), held["contracts"], strict=True))
    assert abs(hedge[CALLS[-1]]) < abs(hedge[CALLS[0]])  # the hedge scaled down too
