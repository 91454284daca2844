"""The hedged books of 2023-2024: market-neutral (long basket, short IC/IM) and DMA.

Both reuse the index-enhanced basket (:func:`strategies.long_only.enhanced_targets`) and short
the index futures of its benchmark through the engine's futures account
(:mod:`backtest.engine.futures.account`): the engine holds the hedge in the contract the roll rule
names, rolls it before expiry, settles it daily through cash and books the basis carry.

Parameters are frozen dataclasses validated at build time; a bad value is refused with a
message naming the parameter and its allowed range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backtest.core.ids import FUTURES_PRODUCTS, FUTURES_UNDERLYING
from backtest.engine.benchmark import Benchmark
from backtest.engine.futures.config import FinancingConfig, FuturesConfig
from backtest.engine.strategy import Context, Strategy
from backtest.rules.cffex import FeeSchedule, MarginSchedule
from backtest.rules.roll import RollRule
from strategies.long_only import IndexEnhancedParams, enhanced_targets

__all__ = ["DMA", "DMAParams", "MarketNeutral", "MarketNeutralParams"]

#: Futures a neutral book may hedge with.
HEDGE_PRODUCTS: tuple[str, ...] = ("IC", "IM", "IF")


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


def _check_product(product: str) -> None:
    if product not in HEDGE_PRODUCTS:
        known = ", ".join(f"{p} ({FUTURES_UNDERLYING[p]})" for p in HEDGE_PRODUCTS)
        raise ValueError(
            f"futures_product must be one of {known}; got {product!r} "
            f"(CFFEX products are {FUTURES_PRODUCTS})"
        )


@dataclass(frozen=True, kw_only=True)
class DrawdownStop:
    """Cut gross exposure after a drawdown from the equity peak.

    When ``equity / peak - 1 <= -drawdown`` the book scales its long basket and hedge by
    ``scale``; it returns to full size once the drawdown is back within ``drawdown / 2``.
    """

    drawdown: float = 0.05
    scale: float = 0.5

    def __post_init__(self) -> None:
        _check("drawdown_stop.drawdown", self.drawdown, 1e-4, 0.9)
        _check("drawdown_stop.scale", self.scale, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class MarketNeutralParams:
    """A market-neutral ("quant hedge", 量化对冲) book.

    Attributes
    ----------
    enhanced
        The long basket: an index-enhanced book's parameters (benchmark CSI 500 or 1000;
        default: the CSI 500 enhanced basket, ``IndexEnhancedParams()``).
    futures_product
        ``"IC"`` (CSI 500), ``"IM"`` (CSI 1000) or ``"IF"`` (CSI 300).
    hedge_ratio
        Short futures notional over the long basket's notional, in [0, 1.5].
    long_gross
        Long basket as a fraction of equity, in (0, 1]; the rest is cash for futures margin
        (margin about 12-15 % of the hedge notional) and its daily variation.
    roll_rule
        Contract held and when to roll.
    margin, fees
        Futures margin (with broker add-on) and fees.
    drawdown_stop
        Optional stop that cuts gross exposure (None: never).
    """

    enhanced: IndexEnhancedParams = field(default_factory=IndexEnhancedParams)
    futures_product: str = "IC"
    hedge_ratio: float = 1.0
    long_gross: float = 0.8
    roll_rule: RollRule = field(default_factory=RollRule)
    margin: MarginSchedule = field(default_factory=lambda: MarginSchedule(broker_add_on=0.02))
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    drawdown_stop: DrawdownStop | None = None

    def __post_init__(self) -> None:
        _check_product(self.futures_product)
        _check("hedge_ratio", self.hedge_ratio, 0.0, 1.5)
        _check("long_gross", self.long_gross, 1e-6, 1.0)


class _HedgedBook:
    """Shared logic: an enhanced basket at ``long_gross`` of equity, hedged on rebalance days."""

    def benchmark(self) -> Benchmark:
        """Cash: a hedged book is an absolute-return product, judged by its own return.

        The futures short takes out the index the basket enhances, so what is left (the
        basket's excess minus the basis, and for DMA that at ~4x on financing) is sold and
        measured as absolute return; a DMA book here is hedged too (``hedge_ratio`` 1), not a
        leveraged long of its index.
        """
        return Benchmark.cash()

    def _rebalance(
        self,
        ctx: Context,
        enhanced: IndexEnhancedParams,
        product: str,
        hedge_ratio: float,
        long_gross: float,
    ) -> None:
        weights = enhanced_targets(ctx, enhanced) * long_gross
        ctx.order_target_weights(weights)
        equity = ctx.portfolio.equity
        ctx.hedge_notional(product, -hedge_ratio * float(weights.sum()) * equity)


class MarketNeutral(_HedgedBook, Strategy[MarketNeutralParams]):
    """A market-neutral book: the enhanced basket, short index futures, margin cash.

    Stands for the 2023 "quant hedge" (量化对冲 / 中性) private funds: a CSI 500 or CSI 1000
    enhanced stock basket tilted to small caps, hedged with IC or IM, earning the excess
    return minus the basis. In January-February 2024 they paid both: the excess collapsed with
    the small caps and the IC/IM discount widened to -37 % / -54 % annualised.
    """

    def __init__(self, params: MarketNeutralParams) -> None:
        super().__init__(params)
        self._peak = 0.0
        self._stopped = False

    def futures_config(self) -> FuturesConfig:
        return FuturesConfig(
            roll_rule=self.params.roll_rule, margin=self.params.margin, fees=self.params.fees
        )

    def _scale(self, ctx: Context) -> tuple[float, bool]:
        """Gross scale from the drawdown stop and whether it changed today."""
        stop = self.params.drawdown_stop
        if stop is None:
            return 1.0, False
        equity = ctx.portfolio.equity
        self._peak = max(self._peak, equity)
        drawdown = equity / self._peak - 1.0 if self._peak > 0 else 0.0
        was = self._stopped
        if drawdown <= -stop.drawdown:
            self._stopped = True
        elif drawdown > -stop.drawdown / 2:
            self._stopped = False
        return (stop.scale if self._stopped else 1.0), was != self._stopped

    def on_bar(self, ctx: Context) -> None:
        p = self.params
        scale, changed = self._scale(ctx)
        if ctx.session_index % p.enhanced.rebalance_every != 0 and not changed:
            return
        self._rebalance(ctx, p.enhanced, p.futures_product, p.hedge_ratio, p.long_gross * scale)


@dataclass(frozen=True, kw_only=True)
class DMAParams:
    """A DMA (direct market access swap, 收益互换) book: a neutral book at ~4x, broker-financed.

    Attributes
    ----------
    enhanced
        The long basket's parameters (default: the CSI 500 basket, ``IndexEnhancedParams()``).
    futures_product
        ``"IC"``, ``"IM"`` or ``"IF"``.
    hedge_ratio
        Short futures notional over the long notional, in [0, 1.5].
    leverage
        Long basket as a multiple of the client's equity, in [1, 10] (4x: 25 % client
        margin); it must not exceed ``financing.max_gross_leverage``.
    financing
        Broker terms: credit line, rate, maintenance ratio, forced or blocked liquidation.
    roll_rule, margin, fees
        Futures settings, as for :class:`MarketNeutralParams`.
    """

    enhanced: IndexEnhancedParams = field(default_factory=IndexEnhancedParams)
    futures_product: str = "IC"
    hedge_ratio: float = 1.0
    leverage: float = 4.0
    financing: FinancingConfig = field(default_factory=FinancingConfig)
    roll_rule: RollRule = field(default_factory=RollRule)
    margin: MarginSchedule = field(default_factory=lambda: MarginSchedule(broker_add_on=0.02))
    fees: FeeSchedule = field(default_factory=FeeSchedule)

    def __post_init__(self) -> None:
        _check_product(self.futures_product)
        _check("hedge_ratio", self.hedge_ratio, 0.0, 1.5)
        _check("leverage", self.leverage, 1.0, 10.0)
        if self.leverage > self.financing.max_gross_leverage:
            raise ValueError(
                f"leverage must be <= financing.max_gross_leverage = "
                f"{self.financing.max_gross_leverage}, got {self.leverage}"
            )

    @property
    def client_margin(self) -> float:
        """The client's equity as a fraction of the long notional (25 % at 4x)."""
        return 1.0 / self.leverage


class DMA(_HedgedBook, Strategy[DMAParams]):
    """A DMA book: the neutral book's basket at about 4x gross, financed by the broker.

    Stands for the DMA (收益互换) products of 2023: a private fund posts about 25 % margin with
    a broker, which finances a ~4x stock basket traded on the fund's signals; the fund shorts
    index futures against it. In February 2024 losses of excess at 4x hit the brokers'
    maintenance lines: margin calls, forced sales into limit-down locks (or frozen accounts),
    and the regulator's halt of new DMA business.
    """

    def futures_config(self) -> FuturesConfig:
        return FuturesConfig(
            roll_rule=self.params.roll_rule, margin=self.params.margin, fees=self.params.fees
        )

    def financing_config(self) -> FinancingConfig:
        return self.params.financing

    def on_bar(self, ctx: Context) -> None:
        p = self.params
        if ctx.account.margin_call:
            return  # the engine's forced orders (or the frozen account) rule this session
        if ctx.session_index % p.enhanced.rebalance_every != 0:
            return
        self._rebalance(ctx, p.enhanced, p.futures_product, p.hedge_ratio, p.leverage)


def default_benchmark_product(benchmark: str) -> str:
    """The futures product whose underlying is ``benchmark`` (``"000905"`` -> ``"IC"``)."""
    for product, code in FUTURES_UNDERLYING.items():
        if code == benchmark:
            return product
    raise ValueError(f"no CFFEX product has underlying {benchmark!r}")
