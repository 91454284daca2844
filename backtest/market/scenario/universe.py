"""The stock universe: codes, boards, names, caps, listings, delistings, ST and characteristics.

Model
-----
- **Caps** at the base date (2022-12-30) follow a log-normal body with a fattened upper tail,
  ``log C = mu + s z + k max(z - 1, 0)^2`` at stratified normal quantiles ``z``; ``s`` and
  ``k`` are set so that the smallest and largest caps match the config, ``mu`` so that the
  total matches (about CNY 85 trillion, largest about 2 trillion, smallest a few hundred
  million).
- **Boards** by code prefix with shares near the real ones (main ~60 %, ChiNext ~25 %, STAR
  ~10 %, BSE ~5 %); BSE names are drawn mostly from the smallest caps, main-board names are
  over-represented among the largest (as in the market).
- **Listings**: 6 % of the stocks list in 2023 and 2 % in 2024 (300 and 100 at 5,000) at a
  random session; **delistings**: 0.8 % (40), three quarters of them ST.
- **ST**: 3 %, drawn from the smaller half; the flag is constant over the period. Price limits
  by board, ST and listing age are the market rules' (:mod:`backtest.rules.ashare`), applied in
  :mod:`backtest.market.scenario.simulate`.
- **Industries**: one of the 110 real industries per stock, in the real proportions of its
  board (:mod:`backtest.market.scenario.industries`), drawn after every other draw.
- **Characteristics**: market beta ``N(1, 0.25)`` clipped to [0.3, 2]; illiquidity, a unit
  score correlated (-0.6) with log size; idiosyncratic volatility that falls with size; float
  ratio 0.3-1.0 (0.15-0.35 for new listings, whose shares are mostly locked up).

Codes and names are synthetic but follow the real prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from backtest.market.scenario.config import ScenarioConfig
from backtest.market.scenario.industries import IndustryTargets, assign_industries
from backtest.rules.ashare import BOARD_NAMES

__all__ = ["Universe", "make_universe"]

#: Share of each board (in the order of ``BOARD_NAMES``: main, chinext, star, bse).
BOARD_SHARES = np.array([0.60, 0.25, 0.10, 0.05])
_SYLLABLES = (
    "Hua Xin Zhong Tian Guo Jin Long Hai Kang Da Rui Feng Tong Yuan Sheng Hong Cheng Ming "
    "Bao An Heng Yu Xing Chang Fu Jia Tai Ke Lian Shen"
).split()
_TRADES = (
    "Technology Pharmaceutical Electronics Materials Machinery Energy Chemical Holdings "
    "Environmental Semiconductor Automotive Foods Power Software Equipment Textiles"
).split()


@dataclass(frozen=True, kw_only=True, slots=True)
class Universe:
    """Static facts of every stock, arrays of shape ``(n,)`` sorted by symbol.

    ``list_row``/``delist_row`` are row numbers of the scenario's day axis (row 0 is the base
    date 2022-12-30): a stock trades on rows ``list_row .. delist_row`` inclusive
    (``list_row = 0`` for stocks listed before the period; ``delist_row = days - 1`` while
    listed). ``price0`` is the base-date close for seasoned stocks and the offer price of new
    listings; ``shares`` the total shares.
    """

    symbols: np.ndarray
    names: np.ndarray
    exchange: np.ndarray
    board: np.ndarray  # int8 board code (backtest.rules.ashare.BOARD_CODES)
    is_st: np.ndarray
    list_row: np.ndarray
    delist_row: np.ndarray
    list_date: np.ndarray  # datetime64[D]
    price0: np.ndarray
    shares: np.ndarray
    float_ratio: np.ndarray
    beta: np.ndarray
    illiquidity: np.ndarray
    size_score: np.ndarray  # standardised log base cap (0 mean, unit sd)
    idiosyncratic_vol: np.ndarray
    ipo_pop: np.ndarray  # first-day return of new listings (0 for seasoned stocks)
    industry: np.ndarray  # int16 code into IndustryTargets.names
    industry_names: tuple[str, ...]

    def industries_frame(self) -> pl.DataFrame:
        """Rows of the ``industries`` table: each stock's industry from its listing date."""
        return pl.DataFrame(
            {
                "symbol": self.symbols.astype(str),
                "start_date": pl.Series(self.list_date).cast(pl.Date),
                "industry": np.array(self.industry_names, dtype=object)[self.industry],
            },
            schema={"symbol": pl.String, "start_date": pl.Date, "industry": pl.String},
        )

    def instruments_frame(self, days: np.ndarray) -> pl.DataFrame:
        """Rows of the ``instruments`` table."""
        last = len(days) - 1
        delisted = self.delist_row < last
        delist_day = days[np.minimum(self.delist_row, last)].astype("datetime64[D]")
        return pl.DataFrame(
            {
                "symbol": self.symbols.astype(str),
                "name": self.names.astype(str),
                "exchange": self.exchange.astype(str),
                "board": np.array(BOARD_NAMES)[self.board],
                "list_date": pl.Series(self.list_date).cast(pl.Date),
                "delist_date": pl.Series(delist_day).cast(pl.Date).set(pl.Series(~delisted), None),
            }
        )


def _normal_quantiles(count: int) -> np.ndarray:
    dist = NormalDist()
    return np.array([dist.inv_cdf((k + 0.5) / count) for k in range(count)])


def _base_caps(config: ScenarioConfig, count: int) -> np.ndarray:
    """Sorted (ascending) base-date caps matching smallest, largest and total."""
    z = _normal_quantiles(count)
    spread = np.log(config.largest_cap_cny / config.smallest_cap_cny)
    low, high = z[0], z[-1]
    tail = max(high - 1.0, 0.0) ** 2
    target_ratio = config.total_cap_cny / config.largest_cap_cny
    best: tuple[float, np.ndarray] | None = None
    # pick the body width s whose tail k (set by the log range) gives total / largest closest
    # to the target; mu then sets the total
    for scale_s in np.linspace(0.3, spread / max(high - low, 1e-9), 60):
        scale_k = max((spread - scale_s * (high - low)) / tail, 0.0) if tail > 0 else 0.0
        shape = scale_s * z + scale_k * np.maximum(z - 1.0, 0.0) ** 2
        ratio = np.exp(shape - shape[-1]).sum()
        miss = abs(np.log(ratio / target_ratio))
        if best is None or miss < best[0]:
            best = (miss, shape)
    assert best is not None
    shape = best[1]
    mu = np.log(config.total_cap_cny / np.exp(shape).sum())
    return np.exp(mu + shape)


def _codes(board: int, count: int, generator: np.random.Generator) -> list[str]:
    ranges = {
        0: [(600000, 606000), (1, 3100)],
        1: [(300001, 301600)],
        2: [(688001, 688800)],
        3: [(430001, 439999), (830001, 839999), (870001, 873999)],
    }[board]
    pool = np.concatenate([np.arange(a, b) for a, b in ranges])
    chosen = np.sort(generator.choice(pool, size=count, replace=False))
    return [f"{c:06d}" for c in chosen]


def make_universe(
    config: ScenarioConfig,
    days: np.ndarray,
    generator: np.random.Generator,
    industries: IndustryTargets,
) -> Universe:
    """Draw the universe for ``days`` (row 0 = base date) from ``generator``."""
    n = config.n_stocks
    day_count = len(days)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    new_2023 = round(n * config.listing_share_2023)
    new_2024 = round(n * config.listing_share_2024) if (years == 2024).any() else 0
    seasoned = n - new_2023 - new_2024

    # caps: seasoned stocks get the stratified distribution; new listings draw from its middle
    caps_sorted = _base_caps(config, seasoned)
    size_rank = generator.permutation(seasoned)
    seasoned_caps = caps_sorted[size_rank]
    new_caps = np.exp(np.log(4e9) + 0.6 * generator.standard_normal(new_2023 + new_2024))
    caps = np.concatenate([seasoned_caps, new_caps])
    log_cap = np.log(caps)
    size_score = (log_cap - log_cap.mean()) / log_cap.std()
    percentile = np.argsort(np.argsort(log_cap)) / max(n - 1, 1)

    # boards: BSE from the bottom, main over-represented at the top
    weights = np.stack(
        [
            BOARD_SHARES[0] * (0.6 + 0.8 * percentile),
            BOARD_SHARES[1] * (1.2 - 0.4 * percentile),
            BOARD_SHARES[2] * np.ones(n),
            BOARD_SHARES[3] * 6.0 * np.exp(-6.0 * percentile),
        ],
        axis=1,
    )
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1)
    board = (generator.random(n)[:, None] > cumulative).sum(axis=1).astype(np.int8)
    board = np.minimum(board, 3).astype(np.int8)

    # listings and delistings (rows of the day axis)
    list_row = np.zeros(n, dtype=np.int64)
    rows_2023 = np.flatnonzero((years == 2023) & (np.arange(day_count) > 0))
    rows_2024 = np.flatnonzero(years == 2024)
    list_row[seasoned : seasoned + new_2023] = generator.choice(rows_2023, new_2023)
    if new_2024:
        list_row[seasoned + new_2023 :] = generator.choice(rows_2024, new_2024)
    is_new = list_row > 0

    st_candidates = np.flatnonzero(~is_new & (percentile < 0.5))
    st_count = min(round(n * config.st_share), len(st_candidates))
    is_st = np.zeros(n, dtype=bool)
    is_st[generator.choice(st_candidates, st_count, replace=False)] = True

    delist_row = np.full(n, day_count - 1, dtype=np.int64)
    delist_count = round(n * config.delisting_share)
    from_st = min(round(delist_count * 0.75), st_count)
    small_other = np.flatnonzero(~is_new & ~is_st & (percentile < 0.2))
    leaving = np.concatenate(
        [
            generator.choice(np.flatnonzero(is_st), from_st, replace=False),
            generator.choice(
                small_other, min(delist_count - from_st, len(small_other)), replace=False
            ),
        ]
    ).astype(np.int64)
    if day_count > 80:
        delist_row[leaving] = generator.integers(60, day_count - 1, size=len(leaving))

    # characteristics
    beta = np.clip(1.0 + 0.25 * generator.standard_normal(n), 0.3, 2.0)
    illiquidity = -0.6 * size_score + 0.8 * generator.standard_normal(n)
    illiquidity = (illiquidity - illiquidity.mean()) / illiquidity.std()
    idio_vol = config.idiosyncratic_vol * np.exp(
        -0.25 * size_score + 0.2 * generator.standard_normal(n)
    )
    float_ratio = np.where(is_new, generator.uniform(0.15, 0.35, n), generator.uniform(0.3, 1.0, n))
    price = np.exp(np.log(12.0) + 0.3 * size_score + 0.7 * generator.standard_normal(n))
    price = np.clip(np.where(is_new, price * 1.5, price), 2.0, 1500.0).round(2)
    shares = np.round(caps / price / 1000.0) * 1000.0
    ipo_pop = np.where(is_new, np.expm1(0.55 + 0.45 * generator.standard_normal(n)), 0.0)

    # codes per board; older stocks take the lower codes
    symbols = np.empty(n, dtype=object)
    for b in range(4):
        members = np.flatnonzero(board == b)
        order = members[np.argsort(list_row[members], kind="stable")]
        symbols[order] = _codes(b, len(members), generator)
    exchange = np.where(
        board == 3, "BJ", np.where(np.char.startswith(symbols.astype(str), "6"), "SH", "SZ")
    )
    first = generator.integers(0, len(_SYLLABLES), n)
    second = generator.integers(0, len(_SYLLABLES), n)
    trade = generator.integers(0, len(_TRADES), n)
    names = np.array(
        [
            ("ST " if st else "") + f"{_SYLLABLES[a]}{_SYLLABLES[b].lower()} {_TRADES[c]}"
            for st, a, b, c in zip(is_st, first, second, trade, strict=True)
        ],
        dtype=object,
    )
    seasoned_list = np.datetime64("1991-01-01") + generator.integers(0, 11500, n).astype(
        "timedelta64[D]"
    )
    list_date = np.where(is_new, days[list_row], seasoned_list).astype("datetime64[D]")

    order = np.argsort(symbols.astype(str), kind="stable")
    # last: every earlier draw is as it was before industries existed
    industry = assign_industries(board[order], industries, generator)
    return Universe(
        symbols=symbols[order].astype(str),
        names=names[order],
        exchange=exchange[order],
        board=board[order],
        is_st=is_st[order],
        list_row=list_row[order],
        delist_row=delist_row[order],
        list_date=list_date[order],
        price0=price[order],
        shares=shares[order],
        float_ratio=float_ratio[order],
        beta=beta[order],
        illiquidity=illiquidity[order],
        size_score=size_score[order],
        idiosyncratic_vol=idio_vol[order],
        ipo_pop=ipo_pop[order],
        industry=industry,
        industry_names=industries.names,
    )
