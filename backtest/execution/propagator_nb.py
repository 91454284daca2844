"""Lasting impact: the crowd's net flow moves later prices for everyone (a propagator model).

The scenario's prices are the *fundamental* path ``P``. The crowd's prices are that path moved
by the crowd's own trading, ``P' = P * (1 + I)``, with ``I[i]`` the cumulative decayed impact of
the crowd's net signed flow in stock ``i`` (Bouchaud et al. 2004, 2009's transient-impact
"propagator", one session per step)::

    I_t = sum_{s <= t} G(t - s) * J_s
    J_s = sign(Q_s) * c * Y * sigma_s * sqrt(|Q_s| / V_s)
    G(k) = p + (1 - p) * 2 ** (-k / h)

- ``Q_s``: the crowd's net filled shares in the stock in session ``s`` (buys minus sells, all
  books); ``V_s`` the session's volume; ``sigma_s`` the daily volatility the fills used;
- ``Y * sigma * sqrt(|Q| / V)``: the square-root law's peak impact of the day's net flow
  (Almgren et al. 2005; Tóth et al. 2011), ``Y`` the same coefficient as the fills';
- ``c`` (``close_share``, default 2/3): the part of the peak still in the price at the close of
  the day (Bucci, Benzaquen, Lillo & Bouchaud 2019, ANcerno, 8 million US metaorders: "about
  2/3 of the peak impact" at the end of the day);
- ``p`` (``permanent_share``, default 1/2): the part of that end-of-day impact that never
  decays (Bucci et al. 2019: the decay converges, over about 50 days, to about 1/2 of the
  impact at the end of the first day; Brokmann et al. 2015 find a slow decay "to zero or to a
  small value": sweep ``p`` in [0, 0.5]);
- ``h`` (``half_life_sessions``, default 10): the transient part's half-life. The data show a
  power-law decay at short lags; an exponential is the approximation that keeps the state to
  two numbers per stock (at ``h = 10`` the transient is 3 % of its start after 50 sessions,
  the horizon over which Bucci et al. see the decay converge). Sweep ``h`` in [2, 20].

A-share estimates: none found for the decay of daily metaorder impact (the published A-share
impact studies we know of estimate the instantaneous square-root law on intraday data); the
parameters above are the US estimates, stated as such.

The exponential kernel makes the state recursive: ``I_t = T_t + P_t`` with
``T_t = T_{t-1} * 2 ** (-1 / h) + (1 - p) * J_t`` and ``P_t = P_{t-1} + p * J_t``.
:func:`propagate_nb` does that update for one session and every stock (writing only its
``out_`` state arrays); :func:`propagate_py` is its plain-Python twin (a hypothesis test holds
them equal, ``tests/test_crowd_propagator.py``). :func:`moved_prices` turns a fundamental price
row into the crowd's (see :class:`~backtest.execution.exchange.Exchange` for where the prices
are read and the no-look-ahead contract).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "ImpactState",
    "Propagator",
    "empty_impact_state",
    "moved_prices",
    "propagate_nb",
    "propagate_py",
]

#: the crowd's price factor ``1 + I`` never goes below this (a price never reaches zero)
MIN_PRICE_FACTOR = 0.01
#: a moved price within this of a limit (CNY) is at the limit (the features' lock tolerance)
LOCK_TOLERANCE_CNY = 5e-5


@dataclass(frozen=True, slots=True, kw_only=True)
class Propagator:
    """The lasting-impact model's parameters (see the module docs for the formulas and sources).

    Parameters
    ----------
    coefficient
        ``Y`` of the square-root law for the day's net flow (default 0.8, the fills').
    close_share
        ``c``: the share of the peak impact left at the session's close, in [0, 1]
        (default 2/3, Bucci et al. 2019).
    permanent_share
        ``p``: the share of the end-of-day impact that never decays, in [0, 1]
        (default 1/2, Bucci et al. 2019).
    half_life_sessions
        ``h``: sessions for the transient part to halve, > 0 (default 10).
    """

    coefficient: float = 0.8
    close_share: float = 2.0 / 3.0
    permanent_share: float = 0.5
    half_life_sessions: float = 10.0

    def __post_init__(self) -> None:
        checks = (
            ("coefficient", self.coefficient, 0.0 <= self.coefficient <= 10.0, "[0, 10]"),
            ("close_share", self.close_share, 0.0 <= self.close_share <= 1.0, "[0, 1]"),
            (
                "permanent_share",
                self.permanent_share,
                0.0 <= self.permanent_share <= 1.0,
                "[0, 1]",
            ),
            (
                "half_life_sessions",
                self.half_life_sessions,
                self.half_life_sessions > 0.0 and math.isfinite(self.half_life_sessions),
                "(0, inf)",
            ),
        )
        for name, value, ok, bounds in checks:
            if not ok:
                raise ValueError(f"Propagator: {name}={value!r} must be in {bounds}")

    @property
    def decay(self) -> float:
        """The transient part's factor per session, ``2 ** (-1 / h)``."""
        return 2.0 ** (-1.0 / self.half_life_sessions)

    def kernel(self, lags: np.ndarray) -> np.ndarray:
        """``G(k) = p + (1 - p) * 2 ** (-k / h)`` at ``lags`` sessions after the flow."""
        p = self.permanent_share
        return p + (1.0 - p) * self.decay ** np.asarray(lags, dtype=np.float64)


class ImpactState(NamedTuple):
    """The propagator's state per stock (fractions of the fundamental price); updated in place."""

    #: ``float64[n]``: ``T``, the decaying part
    out_transient: np.ndarray
    #: ``float64[n]``: ``P``, the permanent part
    out_permanent: np.ndarray


def empty_impact_state(n: int) -> ImpactState:
    """No impact yet: both parts zero."""
    return ImpactState(np.zeros(n), np.zeros(n))


def _day_impact(flow: float, volume: float, sigma: float, scale: float) -> float:
    """``J = sign(Q) * scale * sigma * sqrt(|Q| / V)`` (0 without flow or volume)."""
    if flow == 0.0 or not (volume > 0.0) or math.isinf(volume):
        return 0.0
    size = scale * sigma * math.sqrt(abs(flow) / volume)
    return size if flow > 0.0 else -size


_day_impact_nb = njit(cache=True)(_day_impact)


@njit(cache=True)
def propagate_nb(
    net_flow: np.ndarray,
    day_volume: np.ndarray,
    volatility: np.ndarray,
    fallback_volatility: float,
    scale: float,
    decay: float,
    permanent_share: float,
    state: ImpactState,
) -> None:
    """Advance the impact state by one session (see the module docs).

    ``net_flow`` is the crowd's net filled shares per stock (float64), ``volatility`` the
    ``sigma`` the fills used (NaN or negative: ``fallback_volatility``), ``scale = c * Y``,
    ``decay = 2 ** (-1 / h)``. Writes ``state.out_transient`` and ``state.out_permanent``.
    """
    transient = state.out_transient
    permanent = state.out_permanent
    for i in range(net_flow.shape[0]):
        sigma = volatility[i]
        if not (sigma >= 0.0):
            sigma = fallback_volatility
        jump = _day_impact_nb(net_flow[i], day_volume[i], sigma, scale)
        transient[i] = transient[i] * decay + (1.0 - permanent_share) * jump
        permanent[i] = permanent[i] + permanent_share * jump


def propagate_py(
    net_flow: np.ndarray,
    day_volume: np.ndarray,
    volatility: np.ndarray,
    fallback_volatility: float,
    scale: float,
    decay: float,
    permanent_share: float,
    state: ImpactState,
) -> None:
    """Plain-Python twin of :func:`propagate_nb`: the same operations in the same order."""
    for i in range(len(net_flow)):
        sigma = float(volatility[i])
        if not (sigma >= 0.0):
            sigma = fallback_volatility
        jump = _day_impact(float(net_flow[i]), float(day_volume[i]), sigma, scale)
        state.out_transient[i] = (
            float(state.out_transient[i]) * decay + (1.0 - permanent_share) * jump
        )
        state.out_permanent[i] = float(state.out_permanent[i]) + permanent_share * jump


def moved_prices(
    price: np.ndarray, impact: np.ndarray, limit_up: np.ndarray, limit_down: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(moved, at_limit_up, at_limit_down)`` for a fundamental price row.

    ``moved = clip(price * max(1 + I, 0.01), limit_down, limit_up)`` where ``I != 0`` and
    ``price`` itself where ``I == 0`` (NaN limits: no clip; a NaN price stays NaN). The limits
    are the scenario's, set from the *fundamental* previous close: the crowd can push a price to
    its fundamental band and hold it there (a lock) while its pressure lasts, but not beyond
    (the real band follows the moved close, so this bounds the crowd's displacement to one band
    around the fundamental path: conservative). ``at_limit_down`` marks a stock the crowd's
    selling pressure (``I < 0``) has pushed to or beyond its limit-down (within half a
    hundredth of a tick), ``at_limit_up`` likewise for buying; where ``I == 0`` neither is set,
    so a crowd that has not traded changes nothing.

    >>> moved, up, down = moved_prices(np.array([10.0, 10.0]), np.array([-0.05, -0.2]),
    ...     np.array([11.0, 11.0]), np.array([9.0, 9.0]))
    >>> moved.tolist(), down.tolist()
    ([9.5, 9.0], [False, True])
    """
    with np.errstate(invalid="ignore"):
        raw = price * np.maximum(1.0 + impact, MIN_PRICE_FACTOR)
        at_down = (impact < 0.0) & (raw <= limit_down + LOCK_TOLERANCE_CNY)
        at_up = (impact > 0.0) & (raw >= limit_up - LOCK_TOLERANCE_CNY)
    moved = np.where(
        impact == 0.0, price, np.where(at_down, limit_down, np.where(at_up, limit_up, raw))
    )
    return moved, at_up, at_down
