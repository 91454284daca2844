"""Shared-market models: the books of one run trade in one market and share its liquidity.

The defaults of :mod:`backtest.execution.models` fill every book as if it were alone. The two
models here make the books a crowd, through the same seams (nothing in the kernel changes):

- :class:`SharedProRata` (a :class:`~backtest.execution.models.LiquidityModel`): the
  participation cap applies to the crowd's flow in a stock, and each book gets its share of it;
- :class:`CrowdSquareRoot` (an :class:`~backtest.execution.models.ImpactModel`): each book's
  square-root impact is measured on the crowd's same-side participation.

With one book, or with every other book at zero order, both reduce exactly to
:class:`~backtest.execution.models.ParticipationCap` and
:class:`~backtest.execution.models.SquareRootImpact` (the fills are bit-identical).

>>> import numpy as np
>>> orders = np.array([[-3_000, 1_000], [-1_000, 0]])
>>> SharedProRata(0.1).caps(orders, np.array([20_000.0, 1e6])).tolist()
[[1500, 1000], [500, 0]]
>>> base, volume = CrowdSquareRoot(0.8).terms(orders, np.array([20_000.0, 1e6]))
>>> base.tolist()
[[1000.0, 0.0], [3000.0, 0.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Allocation", "CrowdSquareRoot", "FlowScope", "SharedProRata"]

#: How the crowd's cap is split: in proportion to the orders, or first come first served.
Allocation = Literal["pro_rata", "arrival"]
#: What the cap bounds: the crowd's gross flow (buys + sells), or each side on its own.
FlowScope = Literal["gross", "per_side"]


def _crowd_cap(fraction: float, day_volume: np.ndarray) -> np.ndarray:
    """``floor(fraction * V)`` per stock as int64 (0 where the volume is unusable)."""
    volume = np.asarray(day_volume, dtype=np.float64)
    usable = np.isfinite(volume) & (volume > 0.0)
    return np.floor(fraction * np.where(usable, volume, 0.0)).astype(np.int64)


def _pro_rata(wanted: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Split ``cap[i]`` among ``wanted[:, i]`` (largest remainder; ties to the lower row).

    ``wanted >= 0`` int64 ``[books, n]``. Where the total fits, every row gets what it wants;
    elsewhere row ``b`` gets ``floor(cap * w_b / W)`` plus one share for the
    ``cap - sum(floors)`` rows with the largest remainders (equal remainders: the lower row
    first), so ``sum_b out[b, i] == cap[i]`` exactly and ``out <= wanted``.
    """
    total = wanted.sum(axis=0)
    out = wanted.copy()
    short = np.flatnonzero(total > cap)
    if short.size == 0:
        return out
    want = wanted[:, short].astype(np.float64)
    exact = want * (cap[short] / total[short].astype(np.float64))
    floors = np.minimum(np.floor(exact), want).astype(np.int64)
    # float rounding may leave the floors one share off in either direction: fix it exactly
    left = cap[short] - floors.sum(axis=0)
    over = left < 0
    if over.any():  # take the excess from the largest floors (never seen; guards rounding)
        for column in np.flatnonzero(over).tolist():
            order = np.argsort(-floors[:, column], kind="stable")
            floors[order[: -left[column]], column] -= 1
        left = cap[short] - floors.sum(axis=0)
    remainder = exact - floors
    rank = np.argsort(np.argsort(-remainder, axis=0, kind="stable"), axis=0, kind="stable")
    floors += (rank < left[None, :]) & (floors < wanted[:, short])
    out[:, short] = floors
    return out


def _arrival(wanted: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """First come first served: row ``b`` gets ``min(w_b, cap - sum of the rows before it)``."""
    before = np.cumsum(wanted, axis=0) - wanted
    return np.clip(cap[None, :] - before, 0, wanted)


@dataclass(frozen=True, slots=True)
class SharedProRata:
    """The crowd may trade ``fraction`` of a stock's session volume; books share it.

    Per stock ``i`` with session volume ``V_i`` the crowd's cap is ``C_i = floor(fraction *
    V_i)`` shares. With ``scope="gross"`` (default) it bounds the crowd's gross flow
    ``D_i = sum_b |order_b,i|``: a buyer and a seller of the same stock both take part of the
    session's volume, even when they could have crossed (the conservative choice: every share
    either of them trades is printed against the market's volume). With ``scope="per_side"``
    buys and sells are capped separately, each at ``C_i``.

    Allocation when ``D_i > C_i`` (``allocation="pro_rata"``, default): book ``b`` may trade
    ``floor(C_i * d_b / D_i)`` shares plus one more for the ``C_i - sum_b floor(...)`` books
    with the largest remainders (ties: the lower book row, i.e. the run's book order), so the
    caps sum to exactly ``C_i`` and never exceed what a book asked for. With
    ``allocation="arrival"`` the books are served in row order, each taking what it asked for
    until the cap is spent. When ``D_i <= C_i`` every book may trade its whole order.

    The kernel rounds each book's cap down to whole lots, so the crowd's filled shares are at
    most ``C_i`` (a few odd shares of the cap may go unused). Caps follow the orders as sent
    (``target - held``); a sell beyond a book's sellable shares is a share of the cap it cannot
    use (the engine never sends one: sells are bounded by the position, sellable after T+1).
    """

    fraction: float = 0.10
    allocation: Allocation = "pro_rata"
    scope: FlowScope = "gross"

    def __post_init__(self) -> None:
        if not (0.0 < self.fraction <= 1.0) or math.isnan(self.fraction):
            raise ValueError(
                f"SharedProRata: fraction={self.fraction!r} must be in (0, 1] "
                "(a share of the session's volume)"
            )
        if self.allocation not in ("pro_rata", "arrival"):
            raise ValueError(
                f"SharedProRata: allocation={self.allocation!r} must be 'pro_rata' or 'arrival'"
            )
        if self.scope not in ("gross", "per_side"):
            raise ValueError(f"SharedProRata: scope={self.scope!r} must be 'gross' or 'per_side'")

    def caps(self, order_shares: np.ndarray, day_volume: np.ndarray) -> np.ndarray:
        cap = _crowd_cap(self.fraction, day_volume)
        orders = np.asarray(order_shares, dtype=np.int64)
        split = _pro_rata if self.allocation == "pro_rata" else _arrival
        if self.scope == "gross":
            return split(np.abs(orders), cap)
        buys = split(np.where(orders > 0, orders, 0), cap)
        sells = split(np.where(orders < 0, -orders, 0), cap)
        return buys + sells


@dataclass(frozen=True, slots=True)
class CrowdSquareRoot:
    """Square-root impact on the crowd's same-side participation (Almgren et al. 2005).

    ``fill_price = ref * (1 ± Y * sigma * sqrt((q0 + q) / V))`` with ``q`` the book's own
    filled shares and ``q0`` the shares the *other* books send on the same side of the same
    stock this session: ``q0_b,i = S_i^side - d_b,i`` with ``S_i^side`` the crowd's total
    buys (or sells) in ``i``. A book selling alongside others pays the price of the crowd's
    whole sell flow, as if it traded last in the queue (the square-root law's concavity makes
    the marginal share cheaper than the first, so the crowd's average cost is below this; the
    choice charges each book the price level the crowd's flow reaches). Flows on the other
    side do not offset (each side takes liquidity from the book).

    ``participation_cap``: when set (the crowd's cap of :class:`SharedProRata`), the other
    books' flow is scaled to what the cap lets them trade, ``q0 * min(1, C / D)``, so impact is
    charged on the flow that fills, not the flow that was wished. ``None`` charges the orders.

    ``Y`` (``coefficient``) of about 0.5-1: Almgren et al. (2005) on US equities, Tóth et al.
    (2011) on futures and equities; the default 0.8 is the engine's.
    """

    coefficient: float = 0.8
    participation_cap: float | None = None
    scope: FlowScope = "gross"

    def __post_init__(self) -> None:
        if not (0.0 <= self.coefficient <= 10.0):
            raise ValueError(
                f"CrowdSquareRoot: coefficient={self.coefficient!r} must be in [0, 10]"
            )
        cap = self.participation_cap
        if cap is not None and (not (0.0 < cap <= 1.0) or math.isnan(cap)):
            raise ValueError(
                f"CrowdSquareRoot: participation_cap={cap!r} must be None or in (0, 1]"
            )
        if self.scope not in ("gross", "per_side"):
            raise ValueError(f"CrowdSquareRoot: scope={self.scope!r} must be 'gross' or 'per_side'")

    def terms(
        self, order_shares: np.ndarray, day_volume: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        orders = np.asarray(order_shares, dtype=np.int64)
        buys = np.where(orders > 0, orders, 0)
        sells = np.where(orders < 0, -orders, 0)
        buy_total = buys.sum(axis=0)
        sell_total = sells.sum(axis=0)
        base = np.where(orders > 0, buy_total - buys, np.where(orders < 0, sell_total - sells, 0))
        base = base.astype(np.float64)
        if self.participation_cap is not None:
            cap = _crowd_cap(self.participation_cap, day_volume).astype(np.float64)
            if self.scope == "gross":
                gross = (buy_total + sell_total).astype(np.float64)
                scale = np.where(gross > cap, cap / np.maximum(gross, 1.0), 1.0)
                base = base * scale
            else:
                buy_scale = np.where(buy_total > cap, cap / np.maximum(buy_total, 1), 1.0)
                sell_scale = np.where(sell_total > cap, cap / np.maximum(sell_total, 1), 1.0)
                base = base * np.where(orders > 0, buy_scale, sell_scale)
        volume = np.broadcast_to(np.asarray(day_volume, dtype=np.float64), orders.shape)
        return base, volume
