"""The futures basis, and the hedge accounting of a futures position day by day.

Basis: :func:`annualised_basis` as the market quotes it, ``(F - S) / S * 365 / calendar days
to expiry``; :func:`basis_table` for every row of a futures panel; :func:`main_contracts` (the
largest open interest per product and day), whose basis CALIBRATION.md tabulates.

Hedge accounting (:func:`hedge_lines`): a book that shorts ``q`` contracts of ``c`` against a
stock basket earns, each day,

- futures P&L ``= q m (F^c_t - F^c_{t-1})`` (cash: the variation margin at settle),

which splits exactly into

- index P&L ``= q m (S_t - S_{t-1})``: what a perfect hedge of the same notional would earn;
  it offsets the basket's benchmark return;
- basis carry ``= q m (b_t - b_{t-1})`` with ``b = F - S`` the basis of the contract held at
  each close: a short gains when the discount widens and pays as it converges to zero at expiry
  (the "cost of the hedge" that market-neutral books paid in 2024);
- roll ``= q m (b^{old}_t - b^{new}_t)`` on the sessions the book swaps contracts at the settle:
  the basis given up between the closed and the opened contract (rolling a short into a deeper
  discount is a cost); 0 on other days.

``futures P&L = index P&L + basis carry + roll`` holds every day to rounding (see
:func:`backtest.engine.futures_nb.hedge_lines_nb`). Fees and slippage of the roll trades are
trade costs, booked from :func:`backtest.engine.futures.fill_futures_orders`, not here.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.engine.futures import require_columns
from backtest.engine.futures_nb import HEDGE_OK, hedge_lines_nb
from backtest.rules.cffex import SPECS, contract_expiry, parse_contract

HEDGE_LINE_COLUMNS: tuple[str, ...] = (
    "futures_pnl_cny",
    "index_pnl_cny",
    "basis_carry_cny",
    "roll_cny",
)


# ---------------------------------------------------------------------------- basis
def annualised_basis(
    futures_price: np.ndarray | float,
    index_level: np.ndarray | float,
    calendar_days_to_expiry: np.ndarray | float,
) -> np.ndarray:
    """Annualised basis as a fraction a year: ``(F - S) / S * 365 / days``.

    ``days`` are calendar days from the quote date to the expiry date; NaN when ``days <= 0``
    (on the expiry day the basis is not annualisable). This is how the market quotes the
    IC/IM discount (CALIBRATION.md: IC2403 -36.7 %, IM2403 -54.2 % on 2024-02-05).

    >>> float(np.round(annualised_basis(4285.2, 4460.264, 39), 4))
    -0.3673
    """
    price = np.asarray(futures_price, dtype=np.float64)
    level = np.asarray(index_level, dtype=np.float64)
    days = np.asarray(calendar_days_to_expiry, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(days > 0, (price - level) / level * 365.0 / days, np.nan)


def main_contracts(futures: pl.DataFrame) -> pl.DataFrame:
    """The main contract (largest open interest) of each product on each day.

    Input columns ``date, contract, open_interest`` (``product`` is derived from the contract
    when absent); ties go to the nearer contract. Returns ``date, product, contract,
    open_interest`` sorted by date and product.
    """
    require_columns(futures, ("date", "contract", "open_interest"), "futures")
    frame = futures
    if "product" not in frame.columns:
        frame = frame.with_columns(pl.col("contract").str.slice(0, 2).alias("product"))
    return (
        frame.sort(
            ["date", "product", "open_interest", "contract"], descending=[False, False, True, False]
        )
        .group_by(["date", "product"], maintain_order=True)
        .first()
        .select("date", "product", "contract", "open_interest")
    )


def basis_table(
    futures: pl.DataFrame,
    index_bars: pl.DataFrame,
    *,
    price_column: str = "settle",
    sessions: np.ndarray | None = None,
) -> pl.DataFrame:
    """Add the underlying close, calendar days to expiry and basis to each futures row.

    ``futures`` has ``date, contract`` and ``price_column`` (``expiry`` too, else it is
    computed from ``sessions``); ``index_bars`` has ``date, index_code, close``. Adds
    ``index_close, days_to_expiry, basis_points (F - S), basis_annualised`` (a fraction a year).
    """
    require_columns(futures, ("date", "contract", price_column), "futures")
    require_columns(index_bars, ("date", "index_code", "close"), "index_bars")
    frame = futures.with_columns(pl.col("contract").str.slice(0, 2).alias("_product"))
    if "expiry" not in frame.columns:
        if sessions is None:
            raise ValueError("futures has no expiry column: pass sessions to compute it")
        names = frame["contract"].unique().to_list()
        expiry = pl.DataFrame(
            {
                "contract": names,
                "expiry": [contract_expiry(c, sessions).astype(dt.date) for c in names],
            },
            schema={"contract": pl.String, "expiry": pl.Date},
        )
        frame = frame.join(expiry, on="contract", how="left")
    underlying = pl.DataFrame(
        {"_product": list(FUTURES_UNDERLYING), "index_code": list(FUTURES_UNDERLYING.values())}
    )
    levels = index_bars.select("date", "index_code", pl.col("close").alias("index_close"))
    frame = (
        frame.join(underlying, on="_product", how="left")
        .join(levels, on=["date", "index_code"], how="left")
        .with_columns((pl.col("expiry") - pl.col("date")).dt.total_days().alias("days_to_expiry"))
    )
    basis = annualised_basis(
        frame[price_column].to_numpy(),
        frame["index_close"].to_numpy(),
        frame["days_to_expiry"].to_numpy(),
    )
    return frame.drop("_product", "index_code").with_columns(
        (pl.col(price_column) - pl.col("index_close")).alias("basis_points"),
        pl.Series("basis_annualised", basis).fill_nan(None),
    )


def hedge_contracts(notional_cny: float, index_level: float, product: str) -> int:
    """Contracts that hedge ``notional_cny`` of the index: ``round(N / (S * m))``.

    >>> hedge_contracts(10_000_000, 5429.23, "IC")
    9
    """
    if not (index_level > 0 and np.isfinite(notional_cny)):
        raise ValueError(f"index_level must be > 0 and notional finite, got {index_level}")
    return round(notional_cny / (index_level * SPECS[product].multiplier_cny_per_point))


# ---------------------------------------------------------------- hedge accounting
def hedge_lines(
    schedule: pl.DataFrame,
    futures: pl.DataFrame,
    index_bars: pl.DataFrame,
    *,
    price_column: str = "settle",
) -> pl.DataFrame:
    """Daily hedge lines of a holding schedule over a futures panel.

    Parameters
    ----------
    schedule
        One row per session, in order: ``date, contract, position``: the contract and signed
        contracts held at that session's close (``position`` 0 and ``contract`` null when flat).
        A change of contract between two sessions with a position on both is a roll at the
        second session's price (e.g. :func:`backtest.rules.roll.roll_schedule`).
    futures
        ``date, contract`` and ``price_column`` (``settle``; the real CFFEX file has closes only,
        pass ``price_column="close"``).
    index_bars
        ``date, index_code, close``: the underlying of each product
        (``schema.FUTURES_UNDERLYING``).

    Returns
    -------
    polars.DataFrame
        ``date, contract, position, futures_price, index_close, basis_points, is_roll,
        futures_pnl_cny, index_pnl_cny, basis_carry_cny, roll_cny``; the lines of day ``t`` are
        earned on the position held from ``t-1`` to ``t`` (0 on the first session).

    Raises
    ------
    ValueError
        When a column is missing, a date repeats, a roll changes product, or a price needed
        for a held position is missing (the message names the date and contract).
    """
    for frame, name, columns in (
        (schedule, "schedule", ("date", "contract", "position")),
        (futures, "futures", ("date", "contract", price_column)),
        (index_bars, "index_bars", ("date", "index_code", "close")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}; it has {frame.columns}")
    if schedule["date"].is_duplicated().any():
        repeated = schedule.filter(pl.col("date").is_duplicated())["date"][0]
        raise ValueError(f"schedule has more than one row for {repeated}: one row per session")
    plan = (
        schedule.select("date", "contract", pl.col("position").cast(pl.Int64).fill_null(0))
        .sort("date")
        .with_columns(
            pl.when(pl.col("position") != 0).then(pl.col("contract")).alias("contract"),
        )
        .with_columns(
            pl.col("date").shift(1).alias("previous_date"),
            pl.col("contract").shift(1).alias("previous_contract"),
            pl.col("position").shift(1).fill_null(0).alias("position_previous"),
        )
    )
    _check_rolls_keep_product(plan)
    underlying = pl.DataFrame(
        {"_product": list(FUTURES_UNDERLYING), "_index": list(FUTURES_UNDERLYING.values())}
    )
    plan = plan.with_columns(
        pl.coalesce("previous_contract", "contract").str.slice(0, 2).alias("_product")
    ).join(underlying, on="_product", how="left")
    price = futures.select("date", "contract", pl.col(price_column).cast(pl.Float64))
    level = index_bars.select("date", pl.col("index_code").alias("_index"), "close")
    plan = (
        plan.join(
            price.rename({price_column: "old_today"}),
            left_on=["date", "previous_contract"],
            right_on=["date", "contract"],
            how="left",
        )
        .join(
            price.rename({price_column: "old_previous", "date": "previous_date"}),
            left_on=["previous_date", "previous_contract"],
            right_on=["previous_date", "contract"],
            how="left",
        )
        .join(price.rename({price_column: "futures_price"}), on=["date", "contract"], how="left")
        .join(level.rename({"close": "index_close"}), on=["date", "_index"], how="left")
        .join(
            level.rename({"close": "index_previous", "date": "previous_date"}),
            on=["previous_date", "_index"],
            how="left",
        )
        .with_columns(
            (
                (pl.col("position_previous") != 0)
                & (pl.col("position") != 0)
                & (pl.col("contract") != pl.col("previous_contract"))
            )
            .fill_null(False)
            .alias("is_roll")
        )
        .sort("date")
    )
    multiplier = np.array(
        [
            SPECS[p].multiplier_cny_per_point if p in SPECS else np.nan
            for p in plan["_product"].to_list()
        ]
    )

    def floats(column: str) -> np.ndarray:
        return plan[column].cast(pl.Float64).fill_null(np.nan).to_numpy().copy()

    lines = hedge_lines_nb(
        plan["position_previous"].to_numpy().astype(np.int64),
        floats("old_today"),
        floats("old_previous"),
        floats("futures_price"),
        floats("index_close"),
        floats("index_previous"),
        plan["is_roll"].to_numpy().astype(np.bool_),
        multiplier,
    )
    status = lines[4]
    if np.any(status != HEDGE_OK):
        bad = plan.row(int(np.flatnonzero(status != HEDGE_OK)[0]), named=True)
        raise ValueError(
            f"hedge_lines: on {bad['date']} the position of {bad['position_previous']} in "
            f"{bad['previous_contract']} (held since {bad['previous_date']}) needs prices that "
            f"are missing: {price_column} today {bad['old_today']}, previous "
            f"{bad['old_previous']}, index {bad['index_close']} / {bad['index_previous']}"
            + (f", new contract {bad['contract']} {bad['futures_price']}" if bad["is_roll"] else "")
            + "; is the contract held past its expiry, or the index missing from index_bars?"
        )
    return plan.select(
        "date",
        "contract",
        "position",
        "futures_price",
        "index_close",
        (pl.col("futures_price") - pl.col("index_close")).alias("basis_points"),
        "is_roll",
    ).with_columns(
        pl.Series(name, values) for name, values in zip(HEDGE_LINE_COLUMNS, lines[:4], strict=True)
    )


def _check_rolls_keep_product(plan: pl.DataFrame) -> None:
    changes = plan.filter(
        (pl.col("position_previous") != 0)
        & (pl.col("position") != 0)
        & (pl.col("contract") != pl.col("previous_contract"))
    )
    for row in changes.iter_rows(named=True):
        old, new = parse_contract(row["previous_contract"]), parse_contract(row["contract"])
        if old.product != new.product:
            raise ValueError(
                f"schedule rolls {row['previous_contract']} into {row['contract']} on "
                f"{row['date']}: a roll stays within one product; close one and open the other"
            )
