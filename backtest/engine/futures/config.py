"""What a hedged or financed book declares: its futures and financing configs, and its view.

:class:`FuturesConfig` (roll rule, margin, fees, slippage) and :class:`FinancingConfig`
(leverage, rate, maintenance, forced de-leveraging or a frozen account) are returned by a
strategy's ``futures_config()`` / ``financing_config()``; :class:`AccountView` is what the
strategy sees of both accounts; :data:`HEDGE_COLUMNS` the daily columns such a book adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backtest.core.ids import FUTURES_PRODUCTS
from backtest.rules.cffex import FeeSchedule, MarginSchedule
from backtest.rules.roll import RollRule

__all__ = [
    "HEDGE_COLUMNS",
    "AccountView",
    "FinancingConfig",
    "FuturesConfig",
    "check_product",
]

#: Daily columns a hedged or financed book adds to ``Result.daily``.
HEDGE_COLUMNS: tuple[str, ...] = (
    "futures_pnl",
    "basis_carry",
    "roll",
    "futures_fees",
    "financing",
    "margin_required",
    "futures_notional",
    "margin_call",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesConfig:
    """How a book trades index futures.

    Parameters
    ----------
    roll_rule
        Contract held and when to roll (default: next quarterly, 5 sessions before expiry).
    margin
        Dated exchange margin rates plus a broker add-on.
    fees
        Dated exchange fees plus a broker add-on.
    slippage_ticks
        Ticks paid against the open on every futures fill, in 0..10.
    """

    roll_rule: RollRule = field(default_factory=RollRule)
    margin: MarginSchedule = field(default_factory=MarginSchedule)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    slippage_ticks: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.slippage_ticks <= 10:
            raise ValueError(f"slippage_ticks must be in 0..10 ticks, got {self.slippage_ticks}")


@dataclass(frozen=True, kw_only=True, slots=True)
class FinancingConfig:
    """Broker financing of a leveraged (DMA-style) book and its margin call.

    Parameters
    ----------
    max_gross_leverage
        Largest long stock exposure as a multiple of the client's equity, in [1, 10] (4x is
        a client margin of 25 %). Buying power at an open is
        ``cash + (max_gross_leverage - 1) * equity``.
    financing_rate
        Annual rate on borrowed cash, in [0, 0.3] (365-day basis, accrued per calendar day).
    maintenance_ratio
        Collateral ratio ``equity / stock holdings`` below which the broker calls, in
        (0, 1); it must be below ``1 / max_gross_leverage`` (the initial margin).
    target_leverage
        Leverage the forced de-leveraging aims at, in [0, max_gross_leverage]: holdings and
        the hedge are scaled by ``min(1, target_leverage * equity / holdings)``.
    block_liquidation
        True: the broker freezes the account during a call ("cannot sell"): no orders at all
        while the collateral ratio stays below maintenance.
    """

    max_gross_leverage: float = 4.0
    financing_rate: float = 0.055
    maintenance_ratio: float = 0.18
    target_leverage: float = 3.0
    block_liquidation: bool = False

    def __post_init__(self) -> None:
        if not 1.0 <= self.max_gross_leverage <= 10.0:
            raise ValueError(
                f"max_gross_leverage must be in [1, 10] (multiple of equity), got "
                f"{self.max_gross_leverage}"
            )
        if not 0.0 <= self.financing_rate <= 0.3:
            raise ValueError(
                f"financing_rate must be in [0, 0.3] a year, got {self.financing_rate}"
            )
        initial = 1.0 / self.max_gross_leverage
        if not 0.0 < self.maintenance_ratio < 1.0 or self.maintenance_ratio > initial:
            raise ValueError(
                f"maintenance_ratio must be in (0, 1 / max_gross_leverage = {initial:.4f}], "
                f"got {self.maintenance_ratio}"
            )
        if not 0.0 <= self.target_leverage <= self.max_gross_leverage:
            raise ValueError(
                f"target_leverage must be in [0, max_gross_leverage = {self.max_gross_leverage}]"
                f", got {self.target_leverage}"
            )


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a strategy sees of its futures and financing account (a snapshot)."""

    futures_positions: dict[str, int]
    futures_targets: dict[str, int]
    margin_required: float
    futures_notional: float
    margin_call: bool


def check_product(product: str) -> None:
    """Raise a ValueError naming the allowed products."""
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"futures product must be one of {FUTURES_PRODUCTS}, got {product!r}")
