"""The day loop: returns solved so that the generated indices track their target paths.

Each session ``t`` (Python runs once per session; the work is numpy and a numba kernel):

1. Desired raw return of stock ``i``:
   ``raw_i = (beta_i - 1) m_t + 0.1 (-size_i) s_t + illiq_i l_t + sigma_i eps_it + carry_i``,
   with ``m_t`` the CSI 300 target return, ``s_t`` the microcap-minus-CSI 300 target spread,
   ``l_t = premium + loading * min(s_t + 1 %, 0)`` the liquidity factor (illiquid names earn a
   premium on quiet days and fall more in a small-cap sell-off) and ``eps`` Student-t(5) noise
   scaled to unit variance, of which a share ``h`` of the variance is the stock's industry
   factor, ``eps_it = sqrt(h) f_{k(i)t} + sqrt(1 - h) e_it``
   (:mod:`backtest.market.scenario.industries`): added before the solve, so it moves
   industries against each other, not the indices.
2. Buckets in the order SSE 50, CSI 300, 500, 1000, 2000, microcap (membership and float-cap
   weights as of the previous close): the members not yet given a return share a shift solved
   by :func:`~backtest.market.scenario.returns.solve_shift_nb` so that the index return on
   **limit-clipped** returns equals ``target_t / level_{t-1} - 1``, members already given a
   return (SSE 50 inside CSI 300, CSI members inside the microcap) keeping theirs. The targets
   are the real daily closes, so the generated level tracks them and errors do not accumulate.
   Stocks in no index get a shift interpolated by size between the CSI 2000 and microcap
   shifts.
3. The realised return is the desired one clipped to the price limits of the market rules
   (:meth:`backtest.rules.ashare.MarketRules.limit_prices`: the fraction by board, ST and
   date, rounded half up to the tick; none in a new listing's first sessions, 5 or 1 by board
   and listing date); the part of a move beyond the limit is carried into the next session
   (times ``carry_keep``): multi-day limit locks. A suspended stock keeps its price and carries
   its move.
4. After the close, memberships are updated: CSI reviews on review dates, the microcap index
   every session (:mod:`backtest.market.indices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.market.indices import (
    IndexSizes,
    microcap_members,
    review_dates,
    review_tiers,
    sse50_members,
    tier_weights,
)
from backtest.market.scenario.config import ScenarioConfig
from backtest.market.scenario.industries import industry_factor
from backtest.market.scenario.returns import SOLVED, solve_shift_nb
from backtest.market.scenario.universe import Universe
from backtest.rules.ashare import MarketRules
from backtest.rules.presets import CHINA_A_2023_2024

__all__ = ["INDEX_SLOTS", "MarketPaths", "simulate"]

#: Columns of ``MarketPaths.levels`` (and of the target levels) and keys of ``weights``:
#: CSI 300, 500, 1000, 2000, microcap, SSE 50.
INDEX_SLOTS: tuple[str, ...] = ("000300", "000905", "000852", "932000", "MICRO400", "000016")
UNLIMITED_LOWER = -0.6
UNLIMITED_UPPER = 3.0
CARRY_BOUND = 0.3
#: Sessions since listing given to stocks listed before the base date: past every unlimited spell.
SEASONED_AGE = 1_000_000
#: Order in which the buckets are solved: SSE 50 before CSI 300, which contains it.
BUCKET_ORDER: tuple[int, ...] = (5, 0, 1, 2, 3, 4)


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketPaths:
    """Dense ``(days x n)`` results of the day loop (row 0 = base date), NaN where not listed.

    ``weights[code]`` holds ``(rows, members, weight)`` arrays: the weights as of each close.
    ``solve_status`` is ``(days x 6)`` with the kernel status of each bucket in
    :data:`INDEX_SLOTS` order (row 0 unused).
    """

    close: np.ndarray
    pre_close: np.ndarray
    desired: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    trading: np.ndarray
    suspended: np.ndarray
    unlimited: np.ndarray
    locked_up: np.ndarray
    locked_down: np.ndarray
    total_cap: np.ndarray
    float_cap: np.ndarray
    levels: np.ndarray
    weights: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    solve_status: np.ndarray


def _suspensions(
    config: ScenarioConfig, universe: Universe, days: int, generator: np.random.Generator
) -> np.ndarray:
    n = len(universe.symbols)
    starts = np.argwhere(generator.random((days, n)) < config.suspension_rate)
    lengths = generator.integers(1, 6, len(starts))
    out = np.zeros((days, n), dtype=bool)
    for (row, col), length in zip(starts, lengths, strict=True):
        if row > 0:
            out[row : row + length, col] = True
    rows = np.arange(days)[:, None]
    listed = (rows >= universe.list_row + 5) & (rows <= universe.delist_row)
    return out & listed


def simulate(
    config: ScenarioConfig,
    universe: Universe,
    days: np.ndarray,
    target_levels: np.ndarray,
    generator: np.random.Generator,
    sizes: IndexSizes | None = None,
    rules: MarketRules = CHINA_A_2023_2024.equities,
) -> MarketPaths:
    """Run the day loop over ``days`` (row 0 = base date) and return the paths.

    ``rules`` gives the price limits (by board, ST and listing age) of every session.
    ``target_levels`` is ``(days x 6)`` in :data:`INDEX_SLOTS` order; row 0 sets the base levels.
    """
    day_count, n = len(days), len(universe.symbols)
    sizes = sizes or IndexSizes.scaled(n)
    shape = (day_count, n)
    close = np.full(shape, np.nan)
    pre_close = np.full(shape, np.nan)
    desired_all = np.full(shape, np.nan)
    limit_up = np.full(shape, np.nan)
    limit_down = np.full(shape, np.nan)
    locked_up = np.zeros(shape, dtype=bool)
    locked_down = np.zeros(shape, dtype=bool)
    unlimited_all = np.zeros(shape, dtype=bool)
    total_cap = np.full(shape, np.nan)
    levels = np.full((day_count, len(INDEX_SLOTS)), np.nan)
    status = np.zeros((day_count, len(INDEX_SLOTS)), dtype=np.int8)
    rows = np.arange(day_count)[:, None]
    trading = (rows >= universe.list_row) & (rows <= universe.delist_row)
    suspended = _suspensions(config, universe, day_count, generator)
    noise = generator.standard_t(5, size=shape) * np.sqrt(3.0 / 5.0)
    # drawn after the noise: suspensions and noise are the draws they were without industries
    factor = industry_factor(day_count, len(universe.industry_names), generator)
    share = config.industry_variance_share
    noise *= np.sqrt(1.0 - share)
    noise += np.sqrt(share) * factor[:, universe.industry]
    del factor
    reviews = review_dates(days)
    seasoned = universe.list_row == 0
    log_targets = np.log(target_levels)
    target_returns = np.vstack(
        [np.zeros((1, len(INDEX_SLOTS))), np.expm1(np.diff(log_targets, axis=0))]
    )
    market = target_returns[:, 0]
    size_spread = target_returns[:, 4] - target_returns[:, 0]
    liquidity = config.liquidity_premium_daily + config.liquidity_crash_loading * np.minimum(
        size_spread + 0.01, 0.0
    )

    levels[0] = target_levels[0]
    close[0] = np.where(seasoned, universe.price0, np.nan)
    total_cap[0] = universe.shares * close[0]
    tier = np.zeros(n, dtype=np.int8)
    sse50 = np.zeros(n, dtype=bool)
    weight_log: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in INDEX_SLOTS}
    carry = np.zeros(n)
    current: list[np.ndarray] = []

    def update_membership(t: int) -> list[np.ndarray]:
        nonlocal tier, sse50
        next_row = min(t + 1, day_count - 1)
        alive = trading[t] & trading[next_row]
        listed_sessions = (
            t - universe.list_row + 1 + np.where(seasoned, sizes.min_listed_sessions, 0)
        )
        float_cap = total_cap[t] * universe.float_ratio
        if reviews[t]:
            window = total_cap[max(0, t - sizes.average_window + 1) : t + 1]
            counts = (~np.isnan(window)).sum(axis=0)
            average = np.where(counts > 0, np.nansum(window, axis=0) / np.maximum(counts, 1), 0.0)
            eligible = alive & ~universe.is_st & (listed_sessions >= sizes.min_listed_sessions)
            tier = review_tiers(average, eligible, tier, sizes)
            sse50 = sse50_members(float_cap, tier, sizes)
        micro_eligible = (
            alive
            & ~universe.is_st
            & ~suspended[t]
            & (listed_sessions >= sizes.microcap_min_listed_sessions)
        )
        micro = microcap_members(
            np.nan_to_num(total_cap[t], nan=np.inf), micro_eligible, sizes.microcap
        )
        out = [tier_weights((tier == k) & alive, float_cap) for k in (1, 2, 3, 4)]
        out.append(micro / max(int(micro.sum()), 1))
        out.append(tier_weights(sse50 & alive, float_cap))
        for code, weight in zip(INDEX_SLOTS, out, strict=True):
            members = np.flatnonzero(weight > 0)
            weight_log[code].append((members, weight[members]))
        return out

    current = update_membership(0)
    log_cap = np.log(np.nan_to_num(total_cap[0], nan=1.0))
    for t in range(1, day_count):
        alive = trading[t]
        first_day = universe.list_row == t
        pre = np.where(first_day, universe.price0, close[t - 1])
        pre_close[t] = np.where(alive, pre, np.nan)
        up, down = rules.limit_prices(
            pre_close[t],
            universe.board,
            universe.is_st,
            np.where(seasoned, SEASONED_AGE, t - universe.list_row),
            days[t],
            list_dates=universe.list_date,
        )
        limited = np.isfinite(up)  # listed, and past its unlimited first sessions
        unlimited = alive & ~limited
        unlimited_all[t] = unlimited
        lower = np.where(unlimited, UNLIMITED_LOWER, down / pre - 1.0)
        upper = np.where(unlimited, UNLIMITED_UPPER, up / pre - 1.0)
        stopped = suspended[t]
        lower = np.where(stopped, 0.0, lower)
        upper = np.where(stopped, 0.0, upper)
        lower = np.where(first_day, universe.ipo_pop, lower)
        upper = np.where(first_day, universe.ipo_pop, upper)
        vol_scale = np.where(unlimited, 2.5, 1.0)
        raw = (
            (universe.beta - 1.0) * market[t]
            - 0.1 * universe.size_score * size_spread[t]
            + universe.illiquidity * liquidity[t]
            + universe.idiosyncratic_vol * vol_scale * noise[t]
            + carry
        )
        raw = np.where(alive, raw, 0.0)
        lower = np.where(alive, lower, 0.0)
        upper = np.where(alive, upper, 0.0)
        shift = np.zeros(n)
        assigned = np.zeros(n, dtype=bool)
        bucket_shift = np.zeros(len(INDEX_SLOTS))
        for k in BUCKET_ORDER:
            weight = current[k]
            members = np.flatnonzero(weight > 0)
            target = target_levels[t, k] / levels[t - 1, k] - 1.0
            fixed = members[assigned[members]]
            free = members[~assigned[members]]
            if len(fixed):
                fixed_return = np.clip(raw[fixed] + shift[fixed], lower[fixed], upper[fixed])
                target -= float(weight[fixed] @ fixed_return)
            value, code = solve_shift_nb(raw[free], weight[free], lower[free], upper[free], target)
            status[t, k] = code
            bucket_shift[k] = value if code == SOLVED else np.clip(value, -0.35, 0.35)
            shift[free] = value
            assigned[free] = True
        # stocks in no bucket: interpolate between the CSI 2000 and microcap shifts by size
        in_2000 = current[3] > 0
        in_micro = current[4] > 0
        big = log_cap[in_2000].mean() if in_2000.any() else log_cap.mean()
        small = log_cap[in_micro].mean() if in_micro.any() else log_cap.min()
        smallness = np.clip((big - log_cap) / max(big - small, 1e-9), 0.0, 1.0)
        interpolated = (1.0 - smallness) * bucket_shift[3] + smallness * bucket_shift[4]
        shift = np.where(assigned, shift, interpolated)
        desired = raw + shift
        realised = np.clip(desired, lower, upper)
        new_close = np.round(pre * (1.0 + realised), 2)
        new_close = np.where(limited, np.clip(new_close, down, up), new_close)
        new_close = np.maximum(new_close, 0.01)
        close[t] = np.where(alive, new_close, np.nan)
        limit_up[t] = up
        limit_down[t] = down
        locked_down[t] = limited & ~stopped & (desired < lower - 1e-12) & (new_close <= down)
        locked_up[t] = limited & ~stopped & (desired > upper + 1e-12) & (new_close >= up)
        desired_all[t] = np.where(alive, desired, np.nan)
        carry = np.where(
            alive & ~first_day,
            np.clip(desired - realised, -CARRY_BOUND, CARRY_BOUND) * config.carry_keep,
            0.0,
        )
        actual = np.where(alive, new_close / pre - 1.0, 0.0)
        for k in range(6):
            levels[t, k] = levels[t - 1, k] * (1.0 + float(current[k] @ actual))
        total_cap[t] = universe.shares * close[t]
        log_cap = np.log(np.nan_to_num(total_cap[t], nan=1.0))
        current = update_membership(t)

    weights: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for code, entries in weight_log.items():
        counts = [len(m) for m, _ in entries]
        weights[code] = (
            np.repeat(np.arange(len(entries)), counts),
            np.concatenate([m for m, _ in entries]).astype(np.int64),
            np.concatenate([w for _, w in entries]),
        )
    return MarketPaths(
        close=close,
        pre_close=pre_close,
        desired=desired_all,
        limit_up=limit_up,
        limit_down=limit_down,
        trading=trading,
        suspended=suspended,
        unlimited=unlimited_all,
        locked_up=locked_up,
        locked_down=locked_down,
        total_cap=total_cap,
        float_cap=total_cap * universe.float_ratio,
        levels=levels,
        weights=weights,
        solve_status=status,
    )
