"""The futures basis as the market quotes it.

:func:`annualised_basis`: ``(F - S) / S * 365 / calendar days to expiry``; :func:`basis_table`
for every row of a futures panel; :func:`main_contracts` (the largest open interest per product
and day), whose basis CALIBRATION.md tabulates.

How a hedged book's futures P&L splits into index P&L, basis carry and roll is defined once, by
the engine's futures account (:mod:`backtest.engine.futures.account`), and recorded as ledger
entries (:mod:`backtest.core.lines`); read them from ``Result.entries``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.market.futures_panel import require_columns
from backtest.rules.cffex import contract_expiry


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
