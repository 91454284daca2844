"""Index membership rules: CSI 300/500/1000/2000, SSE 50 and the daily microcap index.

Pure functions on dense ``(days x symbols)`` arrays, shared by the calibrated scenario and the
akshare loader (which rebuilds historical membership from cap history by the same rules).

Rules (simplified from the CSI methodology, China Securities Index Co.):

- **Reviews** are semi-annual, effective the first session after the second Friday of June and
  December; the first session of the data is an initial review.
- At a review, eligible stocks (not ST, listed for at least ``min_listed_sessions`` sessions,
  about three months) are ranked by average total cap over the last ``average_window``
  sessions. The tiers are nested cut-offs of that ranking: CSI 300 = top 300, CSI 500 = the next
  500, CSI 1000 = the next 1,000, CSI 2000 = the next 2,000.
- **Buffer**: a stock already inside a cut-off competes with its rank divided by
  ``buffer`` (1.2), so a CSI 300 member keeps its place down to about rank 360 while a newcomer
  needs rank 300 or better: the effect of CSI's 240/360 buffer zones.
- **Weights** are free-float cap weights that drift with prices between reviews
  (``w_{i,t} = F_{i,t} / sum_j F_{j,t}`` over members), without CSI's weight caps.
- **SSE 50** (the underlying of IH) is approximated by the 50 largest CSI 300 members by float
  cap at each review.
- **Microcap** (``MICRO400``): each session, the ``microcap`` smallest stocks by total cap among
  those not ST, not suspended and listed at least 5 sessions; equal weight; rebalanced daily.
- Membership at the close of ``t`` requires the stock to trade at ``t + 1`` (a stock about to be
  delisted leaves the index the session before).

Levels follow from weights as of the previous close and member returns:
``level_t = level_{t-1} * (1 + sum_i w_{i,t-1} * r_{i,t})`` (the Laspeyres chain every
cap-weighted index uses between rebalances).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from backtest.core.ids import CSI300, CSI500, CSI1000, CSI2000, MICROCAP, SSE50

__all__ = [
    "TIER_CODES",
    "IndexSizes",
    "build_index_weights",
    "index_levels_from_weights",
    "microcap_members",
    "review_dates",
    "review_tiers",
    "sse50_members",
    "tier_weights",
]

#: Tier number (1..4) -> index code; tier 0 is "in no CSI index".
TIER_CODES: dict[int, str] = {1: CSI300, 2: CSI500, 3: CSI1000, 4: CSI2000}


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexSizes:
    """Member counts of the indices (defaults: the real ones, for about 5,000 stocks).

    Use :meth:`scaled` for a smaller universe.
    """

    csi300: int = 300
    csi500: int = 500
    csi1000: int = 1000
    csi2000: int = 2000
    microcap: int = 400
    sse50: int = 50
    buffer: float = 1.2
    min_listed_sessions: int = 60
    microcap_min_listed_sessions: int = 5
    average_window: int = 20

    def __post_init__(self) -> None:
        for name in ("csi300", "csi500", "csi1000", "csi2000", "microcap", "sse50"):
            if getattr(self, name) < 1:
                raise ValueError(f"IndexSizes.{name} must be >= 1, got {getattr(self, name)}")
        if self.sse50 > self.csi300:
            raise ValueError(f"IndexSizes.sse50 ({self.sse50}) must be <= csi300 ({self.csi300})")
        if not 1.0 <= self.buffer <= 2.0:
            raise ValueError(f"IndexSizes.buffer must be in [1, 2], got {self.buffer}")
        if self.average_window < 1 or self.min_listed_sessions < 0:
            raise ValueError("IndexSizes.average_window must be >= 1, min_listed_sessions >= 0")

    @classmethod
    def scaled(cls, n_stocks: int, *, minimum: int = 3, reference: int = 5000) -> IndexSizes:
        """Scale the default sizes to ``n_stocks`` (at least ``minimum`` names each).

        >>> IndexSizes.scaled(500).csi300, IndexSizes.scaled(500).microcap
        (30, 40)
        """
        base = cls()

        def size(count: int) -> int:
            return max(minimum, round(count * n_stocks / reference))

        return cls(
            csi300=size(base.csi300),
            csi500=size(base.csi500),
            csi1000=size(base.csi1000),
            csi2000=size(base.csi2000),
            microcap=size(base.microcap),
            sse50=min(size(base.sse50), size(base.csi300)),
        )

    @property
    def cutoffs(self) -> tuple[int, int, int, int]:
        """Cumulative tier cut-offs: 300, 800, 1800, 3800 by default."""
        c1 = self.csi300
        c2 = c1 + self.csi500
        c3 = c2 + self.csi1000
        return c1, c2, c3, c3 + self.csi2000


def review_dates(session_days: np.ndarray) -> np.ndarray:
    """Return a boolean mask of the sessions on which a review takes effect.

    The first session, then the first session after the second Friday of June and December.

    >>> from backtest.market.calendar import sessions
    >>> days = sessions("2023-01-03", "2024-12-31")
    >>> [str(d) for d in days[review_dates(days)]]
    ['2023-01-03', '2023-06-12', '2023-12-11', '2024-06-17', '2024-12-16']
    """
    days = np.asarray(session_days, dtype="datetime64[D]")
    mask = np.zeros(len(days), dtype=bool)
    if len(days) == 0:
        return mask
    mask[0] = True
    years = sorted({d.astype(dt.date).year for d in days[[0, -1]]})
    for year in range(years[0], years[-1] + 1):
        for month in (6, 12):
            first = dt.date(year, month, 1)
            second_friday = first + dt.timedelta(days=(4 - first.weekday()) % 7 + 7)
            index = int(np.searchsorted(days, np.datetime64(second_friday, "D"), side="right"))
            if 0 < index < len(days):
                mask[index] = True
    return mask


def _buffered_top(
    rank_cap: np.ndarray, eligible: np.ndarray, inside: np.ndarray, count: int, buffer: float
) -> np.ndarray:
    """Boolean mask of the ``count`` best stocks; incumbents rank as ``rank / buffer``."""
    order = np.argsort(-np.where(eligible, rank_cap, -np.inf), kind="stable")
    rank = np.empty(len(rank_cap))
    rank[order] = np.arange(1, len(rank_cap) + 1)
    effective = np.where(inside, rank / buffer, rank)
    effective = np.where(eligible, effective, np.inf)
    chosen = np.argsort(effective, kind="stable")[: min(count, int(eligible.sum()))]
    mask = np.zeros(len(rank_cap), dtype=bool)
    mask[chosen] = True
    return mask


def review_tiers(
    average_total_cap: np.ndarray,
    eligible: np.ndarray,
    previous_tier: np.ndarray,
    sizes: IndexSizes,
) -> np.ndarray:
    """Return the CSI tier of each stock after a review (0 none, 1 CSI 300 .. 4 CSI 2000).

    Parameters
    ----------
    average_total_cap
        Average total cap over the ranking window, CNY, shape ``(n,)``.
    eligible
        Stocks that may be members (not ST, listed long enough, trading next session).
    previous_tier
        Tiers before the review (all 0 at the initial review).

    >>> caps = np.array([10.0, 9.0, 8.0, 7.0, 6.0, 5.0])
    >>> sizes = IndexSizes(csi300=2, csi500=2, csi1000=1, csi2000=1, microcap=1, sse50=1)
    >>> review_tiers(caps, np.ones(6, bool), np.zeros(6, np.int8), sizes).tolist()
    [1, 1, 2, 2, 3, 4]
    """
    tier = np.zeros(len(average_total_cap), dtype=np.int8)
    taken = np.zeros(len(average_total_cap), dtype=bool)
    for number, cutoff in enumerate(sizes.cutoffs, start=1):
        inside = (previous_tier > 0) & (previous_tier <= number)
        top = _buffered_top(average_total_cap, eligible, inside, cutoff, sizes.buffer)
        tier[top & ~taken] = number
        taken |= top
    return tier


def sse50_members(float_cap: np.ndarray, tier: np.ndarray, sizes: IndexSizes) -> np.ndarray:
    """The ``sse50`` largest CSI 300 members by float cap (an approximation of SSE 50)."""
    caps = np.where(tier == 1, np.nan_to_num(float_cap, nan=-np.inf), -np.inf)
    chosen = np.argsort(-caps, kind="stable")[: min(sizes.sse50, int((tier == 1).sum()))]
    mask = np.zeros(len(tier), dtype=bool)
    mask[chosen] = True
    return mask


def microcap_members(total_cap: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` smallest eligible stocks by total cap (ties by position).

    >>> microcap_members(np.array([5.0, 1.0, 3.0, 2.0]), np.array([1, 1, 1, 0], bool), 2)
    array([False,  True,  True, False])
    """
    caps = np.where(eligible, total_cap, np.inf)
    chosen = np.argsort(caps, kind="stable")[: min(count, int(eligible.sum()))]
    mask = np.zeros(len(total_cap), dtype=bool)
    mask[chosen] = True
    return mask


def tier_weights(member: np.ndarray, float_cap: np.ndarray) -> np.ndarray:
    """Float-cap weights of the members (0 elsewhere); all zero when there is no member."""
    caps = np.where(member, np.nan_to_num(float_cap, nan=0.0), 0.0)
    total = caps.sum()
    return caps / total if total > 0 else caps


def _trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the non-NaN values over the last ``window`` rows, per column."""
    filled = np.nan_to_num(values, nan=0.0)
    count = (~np.isnan(values)).astype(np.float64)
    csum = np.cumsum(filled, axis=0)
    ccount = np.cumsum(count, axis=0)
    csum[window:] = csum[window:] - csum[:-window].copy()
    ccount[window:] = ccount[window:] - ccount[:-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ccount > 0, csum / ccount, np.nan)


def build_index_weights(
    dates: np.ndarray,
    symbols: np.ndarray,
    total_cap: np.ndarray,
    float_cap: np.ndarray,
    is_st: np.ndarray,
    listed: np.ndarray,
    suspended: np.ndarray | None = None,
    *,
    sizes: IndexSizes | None = None,
    seasoned: np.ndarray | None = None,
) -> pl.DataFrame:
    """Build point-in-time weights of CSI 300/500/1000/2000, SSE 50 and the microcap index.

    Parameters
    ----------
    dates
        Sessions, ``datetime64[D]`` shape ``(days,)``; the first is the initial review.
    symbols
        Codes, shape ``(n,)``.
    total_cap, float_cap
        CNY, ``(days x n)``, NaN where the stock does not trade.
    is_st, listed, suspended
        Boolean ``(days x n)``: ST flag, has a bar that day, suspended that day.
    sizes
        Member counts; default :meth:`IndexSizes.scaled` to ``n``.
    seasoned
        Stocks listed long before the first date, shape ``(n,)``; they count as listed for
        ``min_listed_sessions`` sessions already. Default: the stocks trading on the first date.

    Returns
    -------
    polars.DataFrame
        Columns ``date, index_code, symbol, weight`` (schema ``index_weights``), weights as of
        each close, sorted by date, index code, symbol.
    """
    days, n = total_cap.shape
    for name, array in (("float_cap", float_cap), ("is_st", is_st), ("listed", listed)):
        if array.shape != (days, n):
            raise ValueError(
                f"build_index_weights: {name} has shape {array.shape}, not {(days, n)}"
            )
    if len(dates) != days or len(symbols) != n:
        raise ValueError("build_index_weights: dates/symbols do not match the arrays' shape")
    sizes = sizes or IndexSizes.scaled(n)
    suspended = np.zeros((days, n), dtype=bool) if suspended is None else suspended
    reviews = review_dates(dates)
    seasoned = listed[0] if seasoned is None else np.asarray(seasoned, dtype=bool)
    sessions_listed = np.cumsum(listed, axis=0) + np.where(seasoned, sizes.min_listed_sessions, 0)
    average_cap = _trailing_mean(total_cap, sizes.average_window)
    tier = np.zeros(n, dtype=np.int8)
    sse50 = np.zeros(n, dtype=bool)
    rows: list[pl.DataFrame] = []
    for t in range(days):
        trades_next = listed[t + 1] if t + 1 < days else listed[t]
        alive = listed[t] & trades_next
        if reviews[t]:
            eligible = alive & ~is_st[t] & (sessions_listed[t] >= sizes.min_listed_sessions)
            tier = review_tiers(np.nan_to_num(average_cap[t], nan=0.0), eligible, tier, sizes)
            sse50 = sse50_members(float_cap[t], tier, sizes)
        micro_eligible = (
            alive
            & ~is_st[t]
            & ~suspended[t]
            & (sessions_listed[t] >= sizes.microcap_min_listed_sessions)
        )
        micro = microcap_members(total_cap[t], micro_eligible, sizes.microcap)
        members = {code: (tier == k) & alive for k, code in TIER_CODES.items()}
        members[SSE50] = sse50 & alive
        for code, mask in members.items():
            weight = tier_weights(mask, float_cap[t])
            rows.append(_weight_rows(dates[t], code, symbols, weight))
        micro_weight = micro / max(int(micro.sum()), 1)
        rows.append(_weight_rows(dates[t], MICROCAP, symbols, micro_weight))
    frame = pl.concat(rows) if rows else _weight_rows(np.datetime64("NaT"), "", symbols[:0], [])
    return frame.sort("date", "index_code", "symbol")


def _weight_rows(
    date: np.datetime64, code: str, symbols: np.ndarray, weights: np.ndarray | list[float]
) -> pl.DataFrame:
    weight = np.asarray(weights, dtype=np.float64)
    keep = weight > 0
    count = int(keep.sum())
    return pl.DataFrame(
        {
            "date": pl.Series(np.repeat(np.asarray(date, "datetime64[D]"), count)).cast(pl.Date),
            "index_code": pl.Series([code] * count, dtype=pl.String),
            "symbol": pl.Series(np.asarray(symbols)[keep].astype(str), dtype=pl.String),
            "weight": weight[keep],
        }
    )


def index_levels_from_weights(
    weights: np.ndarray, returns: np.ndarray, base_level: float
) -> np.ndarray:
    """Chain index levels from previous-close weights and member returns.

    ``level_0 = base_level`` and ``level_t = level_{t-1} * (1 + sum_i w_{i,t-1} r_{i,t})``;
    NaN returns of zero-weight stocks are ignored.

    Parameters
    ----------
    weights
        ``(days x n)`` weights as of each close (row ``t`` applies to the return of ``t+1``).
    returns
        ``(days x n)`` close-to-close simple returns (row 0 unused).

    >>> w = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 0.0]])
    >>> r = np.array([[0.0, 0.0], [0.10, -0.10], [0.02, 0.04]])
    >>> index_levels_from_weights(w, r, 100.0).round(6).tolist()
    [100.0, 100.0, 103.0]
    """
    contribution = np.where(weights[:-1] > 0, weights[:-1] * np.nan_to_num(returns[1:]), 0.0)
    growth = 1.0 + contribution.sum(axis=1)
    return base_level * np.concatenate([[1.0], np.cumprod(growth)])
