"""The daily settlement of a book's futures: variation margin, margin requirement, expiries.

:func:`settle_session` is what the engine calls once per session per book: arrays over the
contracts the book holds or trades, out come the variation margin, the margin requirement and
the positions after final settlement (kernel :func:`backtest.engine.futures.kernels.settle_nb`).
The margin rates it applies are dated rules, read from
:class:`backtest.rules.cffex.MarginSchedule` (fees: :class:`backtest.rules.cffex.FeeSchedule`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backtest.engine.futures.kernels import settle_nb


@dataclass(frozen=True, kw_only=True, slots=True)
class Settlement:
    """One session's settlement of a book's futures, one entry per contract.

    ``status`` uses the codes of :mod:`backtest.engine.futures.kernels` (``SETTLE_*``).
    """

    contracts: tuple[str, ...]
    variation_cny: np.ndarray
    margin_cny: np.ndarray
    position_after: np.ndarray
    status: np.ndarray = field(repr=False)

    @property
    def variation_total_cny(self) -> float:
        return float(np.nansum(self.variation_cny))

    @property
    def margin_total_cny(self) -> float:
        return float(np.sum(self.margin_cny))


def settle_session(
    *,
    contracts: tuple[str, ...],
    position_overnight: np.ndarray,
    traded_today: np.ndarray,
    trade_price: np.ndarray,
    settle_previous: np.ndarray,
    settle_today: np.ndarray,
    multiplier: np.ndarray,
    margin_rate: np.ndarray,
    expiring: np.ndarray,
) -> Settlement:
    """Settle one session of a book's futures (validated shell of ``settle_nb``).

    On a contract's expiry day pass its final settlement price as ``settle_today`` (in the
    store: ``futures_bars.settle`` on the expiry date) and ``expiring=True``: the position is
    marked to it and closed. See :func:`backtest.engine.futures.kernels.settle_nb` for formulas.

    >>> s = settle_session(contracts=("IC2403",), position_overnight=np.array([-2]),
    ...     traded_today=np.array([0]), trade_price=np.array([np.nan]),
    ...     settle_previous=np.array([5409.0]), settle_today=np.array([5300.0]),
    ...     multiplier=np.array([200.0]), margin_rate=np.array([0.12]),
    ...     expiring=np.array([False]))
    >>> s.variation_total_cny, s.margin_total_cny
    (43600.0, 254400.0)
    """
    n = len(contracts)
    arrays = {
        "position_overnight": np.asarray(position_overnight, dtype=np.int64),
        "traded_today": np.asarray(traded_today, dtype=np.int64),
        "trade_price": np.asarray(trade_price, dtype=np.float64),
        "settle_previous": np.asarray(settle_previous, dtype=np.float64),
        "settle_today": np.asarray(settle_today, dtype=np.float64),
        "multiplier": np.asarray(multiplier, dtype=np.float64),
        "margin_rate": np.asarray(margin_rate, dtype=np.float64),
        "expiring": np.asarray(expiring, dtype=np.bool_),
    }
    for name, array in arrays.items():
        if array.shape != (n,):
            raise ValueError(f"{name} has shape {array.shape}; expected ({n},), one per contract")
    for i, contract in enumerate(contracts):
        if arrays["position_overnight"][i] != 0 and np.isnan(arrays["settle_previous"][i]):
            raise ValueError(
                f"contract {contract}: position held overnight but settle_previous is NaN; "
                "pass the previous session's settlement price"
            )
        if arrays["traded_today"][i] != 0 and np.isnan(arrays["trade_price"][i]):
            raise ValueError(f"contract {contract}: traded today but trade_price is NaN")
    multiplier_array: np.ndarray = arrays["multiplier"]
    rate_array: np.ndarray = arrays["margin_rate"]
    if np.any(multiplier_array <= 0) or np.any(~(rate_array >= 0)):
        raise ValueError("multiplier must be > 0 and margin_rate >= 0 for every contract")
    variation, margin, after, status = settle_nb(*arrays.values())
    return Settlement(
        contracts=tuple(contracts),
        variation_cny=variation,
        margin_cny=margin,
        position_after=after,
        status=status,
    )
