"""The market store's tables, in one place.

Every table the store holds is declared here once: its columns, their polars dtypes, which may
be null, its primary key, and the checks a frame must pass before it is written. The store
(:mod:`backtest.market.store`) creates the DuckDB tables from these declarations and validates
every write against them, so a source (the scenario, akshare, a user's files) cannot put a
malformed row into the store.

Units
-----
- prices in CNY per share, **raw** (unadjusted); ``adj_factor`` turns them into adjusted prices
  (``adjusted = raw * adj_factor``, backward-adjusted to the first session of the source);
- ``volume`` in shares (never lots), ``amount`` in CNY;
- caps (``float_cap``, ``total_cap``) in CNY;
- index weights are fractions that sum to 1 per ``(date, index_code)``;
- futures prices in index points; ``volume`` and ``open_interest`` in contracts.

Symbols are the exchange's six-digit codes as text (``"600000"``); the board follows from the
code (:func:`backtest.core.ids.board_of`, with the index codes and futures products).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from backtest.core.ids import BOARDS, FUTURES_PRODUCTS


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table: name, polars dtype, whether null is allowed, and checks.

    ``positive`` refuses values ``<= 0``; ``non_negative`` refuses values ``< 0``; both refuse
    NaN. ``finite`` refuses NaN and infinities in a float column. ``maximum`` refuses values
    above it: a plausibility bound, far above anything the market has printed, that catches a
    unit or parsing mistake (a close of ``1e300``, volume in thousandths); ``bound_reason`` says
    why the bound is where it is.
    """

    name: str
    dtype: pl.DataType
    nullable: bool = False
    positive: bool = False
    non_negative: bool = False
    finite: bool = False
    doc: str = ""
    maximum: float | None = None
    bound_reason: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """A store table: its columns, primary key, and whether dates must be sessions."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    #: column whose values must be sessions of the store's calendar (None for no check)
    session_column: str | None = "date"
    #: column whose values must be symbols of ``instruments`` (None for no check)
    symbol_column: str | None = None
    #: extra row-level checks as (description, polars expression that is True on a *bad* row)
    row_checks: tuple[tuple[str, pl.Expr], ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}; columns are {self.names}")


#: Stock prices in (0, 1e6] CNY: the dearest A-share (Kweichow Moutai) has printed about
#: 2,600 CNY and the oldest backward-adjusted series reach the tens of thousands.
STOCK_PRICE_MAX = 1e6
_STOCK_PRICE_WHY = "no A-share price, raw or adjusted, comes near 1e6 CNY"
#: Index and futures levels in (0, 1e7] points: CSI indices start at 1,000, Wind's microcap
#: index stood near 373,000 in 2024.
INDEX_LEVEL_MAX = 1e7
_INDEX_LEVEL_WHY = "no index in the market's history comes near 1e7 points"
#: Volume in [0, 1e13] shares: the largest A-share (ICBC) has about 3.6e11 shares.
STOCK_VOLUME_MAX = 1e13
_STOCK_VOLUME_WHY = "one day's volume cannot be 30 times the largest stock's share count"
#: Amount in [0, 1e14] CNY: the whole market's busiest days traded about 3.5e12 CNY.
AMOUNT_MAX = 1e14
_AMOUNT_WHY = "one day's turnover cannot be 30 times the whole market's record"
#: Caps in (0, 1e14] CNY: the largest A-share is worth about 2.5e12 CNY, the market 1e14.
CAP_MAX = 1e14
_CAP_WHY = "no stock is worth more than the whole A-share market (about 1e14 CNY)"
#: adj_factor in (0, 1e6]: cumulative backward factors of 1990s listings reach the thousands.
ADJ_FACTOR_MAX = 1e6
#: Futures volume and open interest in [0, 1e8] contracts: CFFEX's record day was about 3e6.
CONTRACTS_MAX = 1e8
_CONTRACTS_WHY = "CFFEX's busiest day traded about 3e6 contracts; 1e8 is a unit mistake"


def _price(
    name: str,
    nullable: bool = False,
    doc: str = "",
    *,
    maximum: float = STOCK_PRICE_MAX,
    bound_reason: str = _STOCK_PRICE_WHY,
) -> Column:
    return Column(
        name,
        pl.Float64(),
        nullable=nullable,
        positive=True,
        doc=doc,
        maximum=maximum,
        bound_reason=bound_reason,
    )


def _level(name: str, doc: str = "") -> Column:
    return _price(name, doc=doc, maximum=INDEX_LEVEL_MAX, bound_reason=_INDEX_LEVEL_WHY)


_OHLC_CHECKS: tuple[tuple[str, pl.Expr], ...] = (
    ("high < low", pl.col("high") < pl.col("low")),
    ("high below open or close", pl.col("high") < pl.max_horizontal("open", "close")),
    ("low above open or close", pl.col("low") > pl.min_horizontal("open", "close")),
)

CALENDAR = Table(
    "calendar",
    (Column("date", pl.Date(), doc="a trading session"),),
    key=("date",),
    doc="Trading sessions of the market held in the store.",
    session_column=None,
)

INSTRUMENTS = Table(
    "instruments",
    (
        Column("symbol", pl.String(), doc="six-digit exchange code"),
        Column("name", pl.String(), nullable=True),
        Column("exchange", pl.String(), doc="SH, SZ or BJ"),
        Column("board", pl.String(), doc="main, chinext, star or bse"),
        Column("list_date", pl.Date(), nullable=True, doc="first session; null when unknown"),
        Column("delist_date", pl.Date(), nullable=True, doc="last session; null while listed"),
    ),
    key=("symbol",),
    doc="Stocks the store knows, listed or delisted.",
    session_column=None,
    row_checks=(
        ("board not one of main, chinext, star, bse", ~pl.col("board").is_in(list(BOARDS))),
        ("exchange not one of SH, SZ, BJ", ~pl.col("exchange").is_in(["SH", "SZ", "BJ"])),
        ("delist_date before list_date", pl.col("delist_date") < pl.col("list_date")),
    ),
)

BARS = Table(
    "bars",
    (
        Column("date", pl.Date()),
        Column("symbol", pl.String()),
        _price("open"),
        _price("high"),
        _price("low"),
        _price("close"),
        _price("pre_close", nullable=True, doc="previous close (raw, ex-rights adjusted)"),
        Column(
            "volume",
            pl.Int64(),
            non_negative=True,
            doc="shares",
            maximum=STOCK_VOLUME_MAX,
            bound_reason=_STOCK_VOLUME_WHY,
        ),
        Column(
            "amount",
            pl.Float64(),
            nullable=True,
            non_negative=True,
            doc="CNY",
            maximum=AMOUNT_MAX,
            bound_reason=_AMOUNT_WHY,
        ),
        Column(
            "adj_factor",
            pl.Float64(),
            positive=True,
            doc="adjusted = raw * adj_factor",
            maximum=ADJ_FACTOR_MAX,
            bound_reason="no split or dividend history multiplies a price by a million",
        ),
        _price("limit_up", nullable=True, doc="null when the stock has no limit that day"),
        _price("limit_down", nullable=True, doc="null when the stock has no limit that day"),
        Column("suspended", pl.Boolean()),
        Column(
            "float_cap",
            pl.Float64(),
            nullable=True,
            positive=True,
            doc="CNY",
            maximum=CAP_MAX,
            bound_reason=_CAP_WHY,
        ),
        Column(
            "total_cap",
            pl.Float64(),
            nullable=True,
            positive=True,
            doc="CNY",
            maximum=CAP_MAX,
            bound_reason=_CAP_WHY,
        ),
        Column("is_st", pl.Boolean()),
    ),
    key=("date", "symbol"),
    doc="Daily stock bars, raw prices. Suspended sessions have a row with volume 0.",
    symbol_column="symbol",
    row_checks=(
        *_OHLC_CHECKS,
        ("limit_down above limit_up", pl.col("limit_down") > pl.col("limit_up")),
        ("suspended with volume > 0", pl.col("suspended") & (pl.col("volume") > 0)),
    ),
)

INDEX_BARS = Table(
    "index_bars",
    (
        Column("date", pl.Date()),
        Column("index_code", pl.String()),
        _level("open"),
        _level("high"),
        _level("low"),
        _level("close"),
        Column(
            "amount",
            pl.Float64(),
            nullable=True,
            non_negative=True,
            doc="CNY",
            maximum=AMOUNT_MAX,
            bound_reason=_AMOUNT_WHY,
        ),
    ),
    key=("date", "index_code"),
    doc="Daily index levels.",
    row_checks=_OHLC_CHECKS,
)

INDEX_WEIGHTS = Table(
    "index_weights",
    (
        Column("date", pl.Date()),
        Column("index_code", pl.String()),
        Column("symbol", pl.String()),
        Column(
            "weight",
            pl.Float64(),
            positive=True,
            doc="fraction of the index, sums to 1",
            maximum=1.0,
            bound_reason="a member's weight is a fraction of its index",
        ),
    ),
    key=("date", "index_code", "symbol"),
    doc="Point-in-time index membership and weights as of each session's close.",
    symbol_column="symbol",
)

FUTURES_BARS = Table(
    "futures_bars",
    (
        Column("date", pl.Date()),
        Column("contract", pl.String(), doc="e.g. IC2403"),
        Column("product", pl.String(), doc="IF, IH, IC or IM"),
        _level("open"),
        _level("high"),
        _level("low"),
        _level("close"),
        _level("settle", doc="daily settlement price"),
        Column(
            "volume",
            pl.Int64(),
            non_negative=True,
            doc="contracts",
            maximum=CONTRACTS_MAX,
            bound_reason=_CONTRACTS_WHY,
        ),
        Column(
            "open_interest",
            pl.Int64(),
            non_negative=True,
            doc="contracts",
            maximum=CONTRACTS_MAX,
            bound_reason=_CONTRACTS_WHY,
        ),
        Column("expiry", pl.Date(), doc="last trading day (third Friday, rolled past holidays)"),
    ),
    key=("date", "contract"),
    doc="Daily bars of CFFEX index futures.",
    row_checks=(
        *_OHLC_CHECKS,
        ("product not one of IF, IH, IC, IM", ~pl.col("product").is_in(list(FUTURES_PRODUCTS))),
        ("date after expiry", pl.col("date") > pl.col("expiry")),
    ),
)

#: ``start_date`` of a classification whose source gives no date: the first SSE session.
CLASSIFIED_SINCE_ALWAYS = "1990-12-19"

INDUSTRIES = Table(
    "industries",
    (
        Column("symbol", pl.String(), doc="six-digit exchange code"),
        Column(
            "start_date",
            pl.Date(),
            doc="first day the classification holds; 1990-12-19 when the source gives no date",
        ),
        Column("industry", pl.String(), doc="industry name as the source gives it (e.g. 银行)"),
    ),
    key=("symbol", "start_date"),
    doc=(
        "Point-in-time industry of each stock: a row holds from its start_date until the "
        "symbol's next row. Optional: a store without rows has no industries."
    ),
    session_column=None,
    # a classification list (Tushare stock_basic, a vendor's sector file) covers the whole
    # market; rows for symbols the store does not hold are kept (as a calendar holds sessions
    # without bars) so the order of imports does not matter
    symbol_column=None,
    row_checks=(
        ("industry is empty", pl.col("industry").str.strip_chars().str.len_chars() == 0),
        ("symbol is not a six-digit code", ~pl.col("symbol").str.contains(r"^\d{6}$")),
    ),
)

PROVENANCE = Table(
    "provenance",
    (
        Column("table_name", pl.String()),
        Column("source", pl.String(), doc="scenario:ashare-2023-2024, akshare, import:<file>"),
        Column("params", pl.String(), doc="JSON of the parameters that produced the rows"),
        Column("fetched_at", pl.Datetime("us", "UTC")),
        Column("rows", pl.Int64(), non_negative=True),
    ),
    key=("table_name", "source", "fetched_at"),
    doc="What wrote each table, when, and with which parameters.",
    session_column=None,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CALENDAR,
        INSTRUMENTS,
        BARS,
        INDEX_BARS,
        INDEX_WEIGHTS,
        FUTURES_BARS,
        INDUSTRIES,
        PROVENANCE,
    )
}

#: Columns of ``bars`` that can be loaded as dense ``(days x symbols)`` panels.
BAR_FIELDS: tuple[str, ...] = tuple(
    c.name for c in BARS.columns if c.name not in ("date", "symbol")
)
