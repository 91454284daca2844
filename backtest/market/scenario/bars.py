"""Daily bars from the simulated closes: open, high, low, volume, amount.

Model
-----
- **Open**: ``pre_close * (1 + g)`` with ``g = u * r + N(0, 0.3 sigma)``, ``u ~ U(0, 0.6)``,
  inside the limits. A stock whose desired move passes its limit by more than
  ``LOCKED_FROM_OPEN_MARGIN`` (14 %: it would have moved about 2.4 times its limit) is locked
  from the open: a one-price bar (open = high = low = close). Real one-price locks are rare (33 on
  the main board on 2024-02-05, against 1,275 limit-down closes).
- **High / low**: beyond ``max/min(open, close)`` by half-normal excursions of ``0.5 sigma``,
  inside the limits, rounded to the cent.
- **Amount** (CNY): ``a_i,t = M_t F_i,0^e (F_i,t / F_i,0)^c exp(-0.3 illiq_i + x_it)
  (1 + 6 |r_it|) L_it K_it``, with ``F_i,0`` the float cap on the stock's first session and
  ``F_i,t`` today's, ``e`` the cross-sectional cap elasticity (0.7: turnover falls with size),
  ``c`` the elasticity to the stock's own cap change (0.3: share volume is sticky, so a stock
  whose price halves trades more shares, not half the amount at the same turnover), ``x`` a
  persistent stock-level volume state (AR(1), sd 0.6, daily autocorrelation 0.98: a stock's
  volume has spells, so a month's most traded names trade relatively less later, as in the real
  panel, where the December-2023 top liquidity quintile's volume ratio runs at about half the
  bottom quintile's through 2024), ``L`` log-normal daily noise (0.3) and ``M_t`` the market
  regime, set each session so that the amounts of all trading stocks (first-day listings
  included) add up to the real all-board market amount of that day
  (``data/calibration/volume_daily.csv``: the real main-board amount, scaled to all boards by
  one constant). ``K`` is 1, except on a one-price bar (locked at the limit all day), which
  trades ``locked_volume_fraction`` of normal, and ``LIMIT_CLOSE_VOLUME`` (0.65) on a session
  that closes limit-down after trading: such a stock still trades heavily (the ``1 + 6 |r|``
  term), as in 2024, when liquidity dried up in prices rather than in volume (limit-up closes
  in the 2024-09 rally kept trading: no reduction).
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

LOCKED_FROM_OPEN_MARGIN = 0.14
#: Volume of a stock that closes at its limit after trading through the day, relative to an
#: unlocked stock with the same move: it traded heavily until it locked (real 2024-02-05: the
#: main board's limit-down closes traded 1.4x their December volume, the median stock 1.8x).
LIMIT_CLOSE_VOLUME = 0.65
#: Persistent per-stock log-volume component: stationary AR(1), sd and daily autocorrelation.
PERSISTENT_VOLUME_SD = 0.6
PERSISTENT_VOLUME_AUTOCORRELATION = 0.98


@dataclass(frozen=True, kw_only=True, slots=True)
class Bars:
    """Dense ``(days x n)`` OHLCV arrays (NaN / 0 where not trading)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray
    amount: np.ndarray
    one_price: np.ndarray


def _persistent_state(shape: tuple[int, int], generator: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) log-volume states ``(days x n)``, mean-corrected: ``E[exp(x)] = 1``."""
    phi, sd = PERSISTENT_VOLUME_AUTOCORRELATION, PERSISTENT_VOLUME_SD
    out = generator.standard_normal(shape)
    out[0] *= sd
    innovation_sd = sd * np.sqrt(1.0 - phi * phi)
    for row in range(1, shape[0]):
        out[row] = phi * out[row - 1] + innovation_sd * out[row]
    out -= 0.5 * sd * sd
    return out


def make_bars(
    config: ScenarioConfig,
    universe: Universe,
    days: np.ndarray,
    paths: MarketPaths,
    market_amount: np.ndarray,
    generator: np.random.Generator,
) -> Bars:
    """Build OHLCV consistent with ``paths`` (closes, limits, locks, suspensions).

    ``market_amount`` holds the all-board amount target of each session, CNY (row 0 unused).
    """
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
    float_cap = np.nan_to_num(paths.float_cap, nan=0.0)
    # cross-section: elasticity e to the first traded float cap; time: e_time to its change
    first_cap = float_cap[universe.list_row, np.arange(shape[1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        cap_change = np.where(first_cap > 0, float_cap / first_cap, 0.0)
    noise = 0.3 * generator.standard_normal(shape) - 0.045 + _persistent_state(shape, generator)
    amount = (
        first_cap[None, :] ** config.amount_cap_elasticity
        * cap_change**config.amount_cap_change_elasticity
        * np.exp(noise - 0.3 * universe.illiquidity[None, :])
        * (1.0 + 6.0 * np.abs(np.nan_to_num(ret)))
    )
    del noise, cap_change
    low_fraction, high_fraction = config.locked_volume_fraction
    locked_factor = generator.uniform(low_fraction, high_fraction, shape)
    at_limit = paths.locked_down & ~one_price
    amount = np.where(
        one_price, amount * locked_factor, np.where(at_limit, amount * LIMIT_CLOSE_VOLUME, amount)
    )
    del at_limit
    del locked_factor
    rows = np.arange(shape[0])[:, None]
    first_day = rows == universe.list_row[None, :]
    first_day &= universe.list_row[None, :] > 0
    first_turnover = generator.uniform(0.5, 0.8, shape)
    listing_amount = np.where(first_day, np.nan_to_num(float_cap) * first_turnover, 0.0)
    del first_turnover
    amount = np.where(first_day | ~paths.trading | paths.suspended, 0.0, amount)
    # the market regime: scale each session's amounts to the real all-board amount
    with np.errstate(invalid="ignore", divide="ignore"):
        regime = (market_amount - listing_amount.sum(axis=1)) / amount.sum(axis=1)
    regime = np.where(np.isfinite(regime) & (regime > 0), regime, 0.0)
    amount = amount * regime[:, None] + listing_amount
    del listing_amount

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
