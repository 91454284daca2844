"""Derive the scenario's daily calibration targets from the shared real data files.

Run by a maintainer, never at install or test time (the project ships the CSV files it writes):

    python data/calibration/derive_targets.py [REAL_DIR]

``REAL_DIR`` defaults to ``../shared/data/real`` beside the repository. Reads

- ``index_daily_2022_12_to_2024_12.csv`` (Wind export of the five index closes),
- ``cffex_futures_daily_2022_12_to_2024_12.csv`` (every IF/IH/IC/IM contract's daily close and
  open interest with the underlying index close),
- ``ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet`` (main-board daily bars, volume in
  lots, forward-adjusted prices, survivors only),

and writes, for every session 2022-12-30 (the base date) .. 2024-12-31,

- ``index_daily_closes.csv`` (date, index_code, close): CSI 300/500/1000/2000, Wind microcap
  8841431 under the project's code ``MICRO400``, and SSE 50 (000016) from the CFFEX file's IH
  underlying close;
- ``basis_daily.csv`` (date, product, contract, expiry, days_to_expiry, basis_pct,
  open_interest, role): the annualised basis (F - S) / S * 365 / calendar days to expiry of every
  listed contract, % a year, ``role`` = main (largest open interest), next (second largest) or
  other; expiry-day rows (0 days) carry no basis;
- ``volume_daily.csv`` (see :func:`volume_daily`): the main-board amount estimate, the all-board
  market amount target, and the crash-day microstructure figures;

and, from ``stocklist_industry.csv`` (code, name, area, industry of the listed stocks),

- ``industries.csv`` (see :func:`industries`): each industry's counts by board;
- ``industry_correlation.csv`` (see :func:`industry_correlation`): the average pairwise
  correlation of daily returns within and across industries on the main board, by year.

The scale from the main board to all boards is a single constant: the ratio that makes the
December 2023 mean of the all-board amount equal CNY 0.75 tn a day, the published SH+SZ turnover
of that month (CALIBRATION.md, "market turnover": about 0.7-0.8 tn a day, grade B).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DEFAULT_REAL = HERE.parents[2] / "shared" / "data" / "real"
FIRST = dt.date(2022, 12, 30)
LAST = dt.date(2024, 12, 31)
#: Published SH+SZ daily turnover in December 2023, CNY (the level the all-board amount gets).
DECEMBER_2023_MARKET_AMOUNT_CNY = 0.75e12
LIMIT_DOWN_RETURN = -0.095
#: A one-price bar this far down is a limit-down lock, ST (5 %) names included.
ONE_PRICE_DOWN_RETURN = -0.045
INDEX_CODES = {"000300": "000300", "000905": "000905", "000852": "000852", "932000": "932000"}
INDEX_CODES["8841431"] = "MICRO400"
BOARD_COLUMNS = ("main", "chinext", "star", "bse")
#: A stock enters a year's correlation sample when it has a return on this share of sessions.
CORRELATION_COVERAGE = 0.95


def index_daily_closes(real: Path) -> pl.DataFrame:
    """Daily closes of the five indices and SSE 50, base date included."""
    wind = pl.read_csv(
        real / "index_daily_2022_12_to_2024_12.csv",
        schema_overrides={"index_code": pl.String},
        try_parse_dates=True,
    ).filter(pl.col("date").is_between(FIRST, LAST), pl.col("index_code").is_in(INDEX_CODES))
    wind = wind.select(
        "date", pl.col("index_code").replace_strict(INDEX_CODES), pl.col("close").round(4)
    )
    sse50 = (
        pl.read_csv(real / "cffex_futures_daily_2022_12_to_2024_12.csv", try_parse_dates=True)
        .filter(pl.col("product") == "IH", pl.col("date").is_between(FIRST, LAST))
        .group_by("date")
        .agg(close=pl.col("index_close").first().round(4))
        .select("date", pl.lit("000016").alias("index_code"), "close")
    )
    out = pl.concat([wind, sse50]).sort("date", "index_code")
    counts = out.group_by("index_code").len()
    if counts["len"].n_unique() != 1:
        raise ValueError(f"index series have different session counts: {counts}")
    return out


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def basis_daily(real: Path, sessions: list[dt.date]) -> pl.DataFrame:
    """Annualised basis of every listed contract on every session."""
    futures = pl.read_csv(
        real / "cffex_futures_daily_2022_12_to_2024_12.csv", try_parse_dates=True
    ).filter(pl.col("date").is_between(FIRST, LAST))
    session_set = sorted(sessions)
    expiries: dict[str, dt.date] = {}
    for contract in futures["contract"].unique():
        year, month = 2000 + int(contract[2:4]), int(contract[4:6])
        day = _third_friday(year, month)
        # a holiday expiry rolls to the next session (the file's last trading date confirms it)
        later = [s for s in session_set if s >= day]
        expiries[contract] = later[0] if later and day not in session_set else day
    last_traded = futures.group_by("contract").agg(pl.col("date").max())
    for contract, last in zip(last_traded["contract"], last_traded["date"], strict=True):
        if last < LAST and last != expiries[contract]:
            raise ValueError(f"{contract}: last trading date {last} != expiry {expiries[contract]}")
    out = (
        futures.with_columns(
            expiry=pl.col("contract").replace_strict(expiries, return_dtype=pl.Date)
        )
        .with_columns(days_to_expiry=(pl.col("expiry") - pl.col("date")).dt.total_days())
        .with_columns(
            basis_pct=pl.when(pl.col("days_to_expiry") > 0).then(
                (
                    (pl.col("close") / pl.col("index_close") - 1.0)
                    * 365.0
                    / pl.col("days_to_expiry")
                    * 100.0
                ).round(5)
            )
        )
        .sort("open_interest", "contract", descending=[True, False])
        .with_columns(rank=pl.col("open_interest").cum_count().over("product", "date"))
        .with_columns(
            role=pl.when(pl.col("rank") == 1)
            .then(pl.lit("main"))
            .when(pl.col("rank") == 2)
            .then(pl.lit("next"))
            .otherwise(pl.lit("other"))
        )
    )
    return out.select(
        "date",
        "product",
        "contract",
        "expiry",
        "days_to_expiry",
        "basis_pct",
        "open_interest",
        "role",
    ).sort("date", "product", "contract")


def volume_daily(real: Path) -> pl.DataFrame:
    """Daily market amount and the crash microstructure of the main board.

    Columns: ``mainboard_stocks``; ``mainboard_amount_cny`` (sum of volume x (O+H+L+C)/4 on
    forward-adjusted prices: an estimate, low by the dividends paid after each day, a few %);
    ``market_amount_cny`` (all boards: the main-board figure times one constant, see the module
    docstring); ``median_volume_ratio`` (median over stocks of volume / the stock's mean daily
    volume in December 2023, shares); ``limit_down_closes`` (return below -9.5 % and close at
    the low; ST names, limited at 5 %, are not told apart in the panel and are left out);
    ``one_price_limit_down`` (one-price bars, open = high = low = close, down more than 4.5 %:
    the all-day limit-down locks, ST names included);
    ``limit_down_volume_ratio`` (median volume ratio of the limit-down closes that were not
    one-price, null under 10 stocks).
    """
    panel = pl.read_parquet(real / "ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet")
    panel = panel.sort("symbol", "date").with_columns(
        ret=pl.col("close") / pl.col("close").shift(1).over("symbol") - 1.0,
        volume=pl.col("volume_lots") * 100.0,
    )
    december = (
        panel.filter(pl.col("date").is_between(dt.date(2023, 12, 1), dt.date(2023, 12, 31)))
        .group_by("symbol")
        .agg(december_volume=pl.col("volume").mean())
        .filter(pl.col("december_volume") > 0)
    )
    panel = panel.join(december, on="symbol", how="left").with_columns(
        ratio=pl.col("volume") / pl.col("december_volume"),
        limit_down=(pl.col("ret") < LIMIT_DOWN_RETURN) & (pl.col("close") <= pl.col("low")),
        one_price=(pl.col("open") == pl.col("high"))
        & (pl.col("high") == pl.col("low"))
        & (pl.col("low") == pl.col("close")),
    )
    daily = (
        panel.filter(pl.col("date").is_between(FIRST, LAST), pl.col("volume") > 0)
        .group_by("date")
        .agg(
            mainboard_stocks=pl.len(),
            mainboard_amount_cny=(
                pl.col("volume")
                * (pl.col("open") + pl.col("high") + pl.col("low") + pl.col("close"))
                / 4.0
            ).sum(),
            median_volume_ratio=pl.col("ratio").median(),
            limit_down_closes=pl.col("limit_down").sum(),
            one_price_limit_down=(
                pl.col("one_price") & (pl.col("ret") < ONE_PRICE_DOWN_RETURN)
            ).sum(),
            limit_down_volume_ratio=pl.col("ratio")
            .filter(pl.col("limit_down") & ~pl.col("one_price"))
            .median(),
            limit_down_count_traded=(pl.col("limit_down") & ~pl.col("one_price")).sum(),
        )
        .sort("date")
    )
    december_mean = daily.filter(
        pl.col("date").is_between(dt.date(2023, 12, 1), dt.date(2023, 12, 31))
    )["mainboard_amount_cny"].mean()
    scale = DECEMBER_2023_MARKET_AMOUNT_CNY / float(december_mean)  # type: ignore[arg-type]
    return daily.select(
        "date",
        "mainboard_stocks",
        pl.col("mainboard_amount_cny").round(0).cast(pl.Int64),
        (pl.col("mainboard_amount_cny") * scale).round(0).cast(pl.Int64).alias("market_amount_cny"),
        pl.col("median_volume_ratio").round(4),
        "limit_down_closes",
        "one_price_limit_down",
        pl.when(pl.col("limit_down_count_traded") >= 10)
        .then(pl.col("limit_down_volume_ratio"))
        .round(4)
        .alias("limit_down_volume_ratio"),
    )


def _board(symbol: pl.Expr) -> pl.Expr:
    """Board from the code prefix, as :func:`backtest.core.ids.board_of` (60/00 main, 30
    ChiNext, 68 STAR, 43/83/87/88/92 BSE)."""
    return (
        pl.when(symbol.str.starts_with("68"))
        .then(pl.lit("star"))
        .when(symbol.str.starts_with("30"))
        .then(pl.lit("chinext"))
        .when(symbol.str.starts_with("60") | symbol.str.starts_with("00"))
        .then(pl.lit("main"))
        .when(symbol.str.slice(0, 2).is_in(["43", "83", "87", "88", "92"]))
        .then(pl.lit("bse"))
    )


def _stock_industries(real: Path) -> pl.DataFrame:
    frame = pl.read_csv(
        real / "stocklist_industry.csv", schema_overrides={"symbol": pl.String}
    ).select("symbol", "industry", board=_board(pl.col("symbol")))
    unknown = frame.filter(pl.col("board").is_null() | pl.col("industry").is_null())
    if unknown.height:
        raise ValueError(f"stocks with no board or no industry: {unknown.head(5)}")
    return frame


def industries(real: Path) -> pl.DataFrame:
    """Every industry of ``stocklist_industry.csv`` with its English label, sector and counts.

    Columns: ``industry`` (the source's name), ``industry_en``, ``sector`` (Shenwan-2021-style
    level 1, see ``industry_labels.py``), ``main``, ``chinext``, ``star``, ``bse`` (stocks on
    each board), ``total``; sorted by total, then name.
    """
    from industry_labels import LABELS

    stocks = _stock_industries(real)
    missing = sorted(set(stocks["industry"]) - set(LABELS))
    if missing:
        raise ValueError(f"industries without an English label in industry_labels.py: {missing}")
    counts = (
        stocks.group_by("industry", "board")
        .len()
        .pivot("board", index="industry", values="len")
        .fill_null(0)
    )
    for board in BOARD_COLUMNS:
        if board not in counts.columns:
            counts = counts.with_columns(pl.lit(0).alias(board))
    labels = pl.DataFrame(
        {
            "industry": list(LABELS),
            "industry_en": [v[0] for v in LABELS.values()],
            "sector": [v[1] for v in LABELS.values()],
        }
    )
    return (
        counts.join(labels, on="industry")
        .select(
            "industry",
            "industry_en",
            "sector",
            *[pl.col(b).cast(pl.Int64) for b in BOARD_COLUMNS],
            total=pl.sum_horizontal(*BOARD_COLUMNS).cast(pl.Int64),
        )
        .sort(["total", "industry"], descending=[True, False])
    )


def _pair_means(returns: np.ndarray, codes: np.ndarray) -> tuple[float, float, int, int]:
    """Mean pairwise correlation of the columns of ``returns`` within and across ``codes``."""
    standard = (returns - returns.mean(axis=0)) / returns.std(axis=0)
    correlation = standard.T @ standard / returns.shape[0]
    upper = np.triu(np.ones(correlation.shape, dtype=bool), k=1)
    same = codes[:, None] == codes[None, :]
    within, across = correlation[upper & same], correlation[upper & ~same]
    return float(within.mean()), float(across.mean()), within.size, across.size


def industry_correlation(real: Path) -> pl.DataFrame:
    """Average pairwise correlation of daily returns within and across industries, by year.

    The main-board panel (survivors only) joined to ``stocklist_industry.csv``; a stock enters
    a year when it has a close-to-close return on ``CORRELATION_COVERAGE`` of its sessions
    (a missing return is taken as 0: suspended). ``margin`` = within - across: in a factor
    model with unit-variance returns it is the industry factor's share of a stock's daily
    variance (the scenario's target, :mod:`backtest.market.scenario.industries`).
    """
    panel = pl.read_parquet(real / "ashare_mainboard_daily_qfq_2022_12_to_2024_12.parquet")
    panel = (
        panel.sort("symbol", "date")
        .with_columns(ret=pl.col("close") / pl.col("close").shift(1).over("symbol") - 1.0)
        .join(_stock_industries(real).select("symbol", "industry"), on="symbol")
        .filter(pl.col("ret").is_not_null())
    )
    records = []
    for year in (2023, 2024):
        part = panel.filter(pl.col("date").dt.year() == year)
        sessions = part["date"].n_unique()
        keep = (
            part.group_by("symbol")
            .len()
            .filter(pl.col("len") >= CORRELATION_COVERAGE * sessions)["symbol"]
        )
        wide = (
            part.filter(pl.col("symbol").is_in(keep.implode()))
            .pivot("symbol", index="date", values="ret")
            .sort("date")
            .fill_null(0.0)
        )
        symbols = wide.columns[1:]
        returns = wide.drop("date").to_numpy()
        names = dict(zip(part["symbol"], part["industry"], strict=False))
        codes = np.array([names[s] for s in symbols])
        within, across, within_pairs, across_pairs = _pair_means(returns, codes)
        records.append(
            {
                "year": year,
                "stocks": len(symbols),
                "industries": len(set(codes.tolist())),
                "within_pairs": within_pairs,
                "across_pairs": across_pairs,
                "within_mean": round(within, 4),
                "across_mean": round(across, 4),
                "margin": round(within - across, 4),
            }
        )
    return pl.DataFrame(records)


def main(real: Path = DEFAULT_REAL) -> None:
    closes = index_daily_closes(real)
    sessions = closes["date"].unique().sort().to_list()
    closes.write_csv(HERE / "index_daily_closes.csv")
    basis_daily(real, sessions).write_csv(HERE / "basis_daily.csv")
    volume = volume_daily(real)
    if volume["date"].to_list() != sessions:
        raise ValueError("the main-board panel's sessions differ from the index file's")
    volume.write_csv(HERE / "volume_daily.csv")
    sys.path.insert(0, str(HERE))  # industry_labels.py beside this script
    industries(real).write_csv(HERE / "industries.csv")
    industry_correlation(real).write_csv(HERE / "industry_correlation.csv")
    print(f"wrote {len(sessions)} sessions of targets, and the industries, to {HERE}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REAL)
