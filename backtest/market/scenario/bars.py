"""Daily bars from the simulated closes: open, high, low, volume, amount.

Model
-----
- **Open**: ``pre_close * (1 + g)`` with ``g = u * r + N(0, 0.3 sigma)``, ``u ~ U(0, 0.6)``,
  inside the limits. A stock whose desired move passes its limit by more than 2 % is locked
  from the open: a one-price bar (open = high = low = close).
- **High / low**: beyond ``max/min(open, close)`` by half-normal excursions of ``0.5 sigma``,
  inside the limits, rounded to the cent.
- **Amount** (CNY): ``a_i,t = k F_i^e exp(-0.3 illiq_i) (1 + 6 |r_it|) P_t(i) L_it``, with
  ``F`` the float cap, ``e`` the cap elasticity (0.7: turnover falls with size), ``k`` set so
  that the median turnover matches the config, ``P`` the panic factor (2024-01-22..2024-02-07:
  small caps' liquidity dries up, ``1 - 0.5 smallness``), ``L`` log-normal noise (0.3); limit-
  locked sessions trade ``locked_volume_fraction`` of that (a third of it when one-price).
- **Volume** = ``amount / vwap`` rounded to 100 shares (at least 100), then
  ``amount = volume * vwap`` with ``vwap`` the mean of open, high, low and close, so
  ``amount / volume`` lies inside ``[low, high]``. New listings trade 50-80 % of their float
  on their first day. Suspended sessions: volume 0, amount 0, OHLC = pre_close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.market.scenario.config import ScenarioConfig
from backtest.market.scenario.simulate import MarketPaths
from backtest.market.scenario.universe import Universe

__all__ = ["Bars", "make_bars"]

PANIC_START = np.datetime64("2024-01-22")
PANIC_END = np.datetime64("2024-02-07")
LOCKED_FROM_OPEN_MARGIN = 0.02


@dataclass(frozen=True, kw_only=True, slots=True)
class Bars:
    """Dense ``(days x n)`` OHLCV arrays (NaN / 0 where not trading)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray
    amount: np.ndarray
    one_price: np.ndarray


def make_bars(
    config: ScenarioConfig,
    universe: Universe,
    days: np.ndarray,
    paths: MarketPaths,
    generator: np.random.Generator,
) -> Bars:
    """Build OHLCV consistent with ``paths`` (closes, limits, locks, suspensions)."""
    shape = paths.close.shape
    pre, close = paths.pre_close, paths.close
    sigma = universe.idiosyncratic_vol[None, :]
    with np.errstate(invalid="ignore"):
        ret = close / pre - 1.0
    lower = np.where(np.isnan(paths.limit_down), -np.inf, paths.limit_down)
    upper = np.where(np.isnan(paths.limit_up), np.inf, paths.limit_up)

    gap = generator.uniform(0.0, 0.6, shape) * ret + 0.3 * sigma * generator.standard_normal(shape)
    open_ = np.clip(np.round(pre * (1.0 + gap), 2), lower, upper)
    margin = LOCKED_FROM_OPEN_MARGIN
    with np.errstate(invalid="ignore"):
        deep_down = paths.locked_down & (paths.desired < paths.limit_down / pre - 1.0 - margin)
        deep_up = paths.locked_up & (paths.desired > paths.limit_up / pre - 1.0 + margin)
    one_price = deep_down | deep_up
    open_ = np.where(one_price, close, open_)
    excursion_up = np.abs(generator.standard_normal(shape)) * 0.5 * sigma
    excursion_down = np.abs(generator.standard_normal(shape)) * 0.5 * sigma
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = np.clip(np.round(top * (1.0 + excursion_up), 2), top, np.maximum(upper, top))
    low = np.clip(np.round(bottom * (1.0 - excursion_down), 2), np.minimum(lower, bottom), bottom)
    low = np.maximum(low, 0.01)
    high = np.where(one_price, close, high)
    low = np.where(one_price, close, low)

    # amount (CNY)
    float_cap = paths.float_cap
    elasticity = config.amount_cap_elasticity
    base_float = np.nanmedian(float_cap[0]) if np.isfinite(float_cap[0]).any() else 1e9
    scale = config.median_turnover * base_float ** (1.0 - elasticity)
    smallness = np.clip(-universe.size_score / 2.0 + 0.5, 0.0, 1.0)
    in_panic = ((days >= PANIC_START) & (days <= PANIC_END))[:, None]
    panic = np.where(in_panic, 1.0 - 0.5 * smallness[None, :], 1.0)
    noise = np.exp(0.3 * generator.standard_normal(shape) - 0.045)
    amount = (
        scale
        * np.nan_to_num(float_cap, nan=0.0) ** elasticity
        * np.exp(-0.3 * universe.illiquidity)[None, :]
        * (1.0 + 6.0 * np.abs(np.nan_to_num(ret)))
        * panic
        * noise
    )
    low_fraction, high_fraction = config.locked_volume_fraction
    locked = paths.locked_down | paths.locked_up
    locked_factor = generator.uniform(low_fraction, high_fraction, shape)
    amount = np.where(
        locked, amount * np.where(one_price, locked_factor / 3.0, locked_factor), amount
    )
    rows = np.arange(shape[0])[:, None]
    first_day = rows == universe.list_row[None, :]
    first_day &= universe.list_row[None, :] > 0
    first_turnover = generator.uniform(0.5, 0.8, shape)
    amount = np.where(first_day, np.nan_to_num(float_cap) * first_turnover, amount)

    vwap = (open_ + high + low + close) / 4.0
    with np.errstate(invalid="ignore", divide="ignore"):
        lots = np.round(amount / np.where(vwap > 0, vwap, np.nan) / 100.0)
    volume = np.maximum(np.nan_to_num(lots, nan=1.0), 1.0) * 100.0
    volume = np.where(paths.trading & ~paths.suspended, volume, 0.0).astype(np.int64)
    amount = np.where(paths.trading, volume * np.nan_to_num(vwap), 0.0)

    stopped = paths.suspended
    open_ = np.where(stopped, pre, open_)
    high = np.where(stopped, pre, high)
    low = np.where(stopped, pre, low)
    return Bars(open=open_, high=high, low=low, volume=volume, amount=amount, one_price=one_price)
