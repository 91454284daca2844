"""Synthetic markets and small strategies for the engine's tests (helper module, not conftest).

``synthetic_market(seed, days, n)`` builds an A-share-like market from arrays: mixed boards
(main, ChiNext, STAR), exchange-rounded limit prices, sessions that close locked at the limit
(some open there too), suspensions, ST flags, volumes, amounts, index weights and closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from backtest.engine import Context, MarketData, Strategy
from backtest.engine.orders import SessionFills

_PREFIXES = ("600", "000", "300", "688", "002", "601")
_BOARD_LIMIT = {"600": 0.10, "000": 0.10, "002": 0.10, "601": 0.10, "300": 0.20, "688": 0.20}


def round_price(values: np.ndarray) -> np.ndarray:
    """Exchange rounding to 0.01 CNY, half up."""
    flat = [
        float(Decimal(repr(float(v))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        for v in np.ravel(values)
    ]
    return np.array(flat).reshape(np.shape(values))


def synthetic_symbols(n: int) -> list[str]:
    return [f"{_PREFIXES[i % len(_PREFIXES)]}{i:03d}" for i in range(n)]


def synthetic_market(
    seed: int,
    days: int = 40,
    n: int = 30,
    *,
    lock_probability: float = 0.06,
    suspend_probability: float = 0.02,
    start: str = "2023-08-21",
) -> MarketData:
    """A seeded small market with limits, locks and suspensions (see the module docs)."""
    rng = np.random.default_rng(seed)
    symbols = synthetic_symbols(n)
    limit_pct = np.array([_BOARD_LIMIT[s[:3]] for s in symbols])
    is_st = rng.random(n) < 0.1
    limit_pct = np.where(is_st & (limit_pct == 0.10), 0.05, limit_pct)
    dates = np.busday_offset(np.datetime64(start, "D"), np.arange(days), roll="forward")
    volatility = rng.uniform(0.01, 0.04, n)
    close = np.empty((days, n))
    open_ = np.empty((days, n))
    high = np.empty((days, n))
    low = np.empty((days, n))
    pre_close = np.empty((days, n))
    limit_up = np.empty((days, n))
    limit_down = np.empty((days, n))
    suspended = rng.random((days, n)) < suspend_probability
    previous = round_price(np.exp(rng.uniform(np.log(3.0), np.log(80.0), n)))
    for t in range(days):
        up = round_price(previous * (1 + limit_pct))
        down = round_price(previous * (1 - limit_pct))
        move = rng.standard_normal(n) * volatility
        lock = rng.random(n)
        target = previous * np.exp(move)
        target = np.where(lock < lock_probability / 2, down, target)
        target = np.where(lock > 1 - lock_probability / 2, up, target)
        c = np.clip(round_price(target), down, up)
        o = np.clip(round_price(previous * np.exp(0.3 * move)), down, up)
        o = np.where(lock < lock_probability / 4, down, o)
        c = np.where(suspended[t], previous, c)
        o = np.where(suspended[t], previous, o)
        spread = np.abs(rng.standard_normal(n)) * volatility * 0.5
        h = np.minimum(np.maximum(o, c) * (1 + spread), up)
        lo = np.maximum(np.minimum(o, c) * (1 - spread), down)
        close[t], open_[t], high[t], low[t] = c, o, round_price(h), round_price(lo)
        high[t] = np.maximum(high[t], np.maximum(o, c))
        low[t] = np.minimum(low[t], np.minimum(o, c))
        pre_close[t], limit_up[t], limit_down[t] = previous, up, down
        previous = c
    volume = np.round(
        np.exp(rng.uniform(np.log(2e4), np.log(2e6), n)) * rng.lognormal(0, 0.4, (days, n))
    )
    volume = np.where(suspended, 0.0, volume)
    amount = volume * (open_ + high + low + close) / 4.0
    total_cap = close * rng.uniform(5e7, 5e9, n)
    members = np.argsort(total_cap[0])[: max(n // 3, 1)]
    weights = np.zeros((days, n))
    weights[:, members] = total_cap[:, members] / total_cap[:, members].sum(axis=1, keepdims=True)
    index_close = 1000.0 * np.cumprod(1 + np.nanmean(close / pre_close - 1, axis=1))
    return MarketData.from_arrays(
        dates=dates,
        symbols=symbols,
        open=open_,
        high=high,
        low=low,
        close=close,
        pre_close=pre_close,
        volume=volume,
        amount=amount,
        limit_up=limit_up,
        limit_down=limit_down,
        suspended=suspended,
        is_st=np.broadcast_to(is_st, (days, n)),
        total_cap=total_cap,
        float_cap=total_cap * 0.6,
        index_weights={"000852": weights},
        index_closes={"000852": index_close},
    )


@dataclass(frozen=True, kw_only=True)
class MomentumParams:
    lookback: int = 5
    top: int = 8
    gross: float = 0.95


class Momentum(Strategy[MomentumParams]):
    """Equal weights in the ``top`` names by ``lookback``-session return of adjusted closes."""

    def on_bar(self, ctx: Context) -> None:
        closes = ctx.history("adj_close", self.params.lookback + 1)
        signal = closes[-1] / closes[0] - 1.0
        signal = np.where(np.isnan(signal), -np.inf, signal)
        top = np.argsort(-signal, kind="stable")[: self.params.top]
        weights = np.zeros(ctx.symbols.size)
        weights[top] = self.params.gross / self.params.top
        ctx.order_target_weights(weights)


@dataclass(frozen=True, kw_only=True)
class RandomParams:
    seed: int = 0
    gross: float = 1.0
    change_probability: float = 0.5


class RandomTargets(Strategy[RandomParams]):
    """Random weights (seeded) on some sessions: exercises partial fills, locks and backlogs."""

    def __init__(self, params: RandomParams) -> None:
        super().__init__(params)
        self.rng = np.random.default_rng(params.seed)
        self.fills: list[SessionFills] = []

    def on_bar(self, ctx: Context) -> None:
        if self.rng.random() > self.params.change_probability:
            return
        raw = self.rng.random(ctx.symbols.size) * (self.rng.random(ctx.symbols.size) < 0.5)
        total = raw.sum()
        if total > 0:
            ctx.order_target_weights(raw / total * self.params.gross)

    def on_fill(self, ctx: Context, fills: SessionFills) -> None:
        self.fills.append(fills)


class Raises(Strategy[None]):
    """Buys on the first sessions, then raises on session ``fail_at``."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(None)
        self.fail_at = fail_at

    def on_bar(self, ctx: Context) -> None:
        if ctx.session_index == self.fail_at:
            raise ZeroDivisionError("model blew up")
        ctx.order_target_weights(np.full(ctx.symbols.size, 0.5 / ctx.symbols.size))


def dense(frame, market: MarketData, column: str) -> np.ndarray:
    """Pivot a long (date, symbol, column) frame onto the market's (days, n) axes (0 elsewhere)."""
    out = np.zeros(market.shape)
    day_index = {d: i for i, d in enumerate(market.dates.astype("datetime64[D]").tolist())}
    symbol_index = {s: j for j, s in enumerate(market.symbols.tolist())}
    for day, symbol, value in zip(
        frame["date"].to_list(), frame["symbol"].to_list(), frame[column].to_list(), strict=True
    ):
        out[day_index[day], symbol_index[symbol]] = value
    return out
