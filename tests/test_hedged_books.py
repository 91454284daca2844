"""MarketNeutral and DMA: parameters refused at build time, drawdown stop, configs handed over."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backtest.engine import FinancingConfig
from backtest.rules.roll import RollRule
from strategies.hedged import DMA, DMAParams, DrawdownStop, MarketNeutral, MarketNeutralParams
from strategies.long_only import IndexEnhancedParams


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MarketNeutralParams(futures_product="XX"), "futures_product must be one of"),
        (lambda: MarketNeutralParams(hedge_ratio=1.6), r"hedge_ratio must be in \[0.0, 1.5\]"),
        (lambda: MarketNeutralParams(hedge_ratio=-0.1), "hedge_ratio must be in"),
        (lambda: MarketNeutralParams(long_gross=1.2), "long_gross must be in"),
        (
            lambda: MarketNeutralParams(enhanced=IndexEnhancedParams(benchmark="000300")),
            "benchmark must be one of",
        ),
        (lambda: DMAParams(leverage=0.5), r"leverage must be in \[1.0, 10.0\]"),
        (lambda: DMAParams(leverage=5.0), "leverage must be <= financing.max_gross_leverage"),
        (lambda: DMAParams(futures_product="IH"), "futures_product must be one of"),
        (
            lambda: DMAParams(financing=FinancingConfig(maintenance_ratio=1.2)),
            "maintenance_ratio must be in",
        ),
        (lambda: DrawdownStop(drawdown=0.0), "drawdown_stop.drawdown must be in"),
        (lambda: RollRule(sessions_before_expiry=30), "sessions_before_expiry must be in"),
    ],
)
def test_bad_parameters_are_refused_at_build_with_the_parameter_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_margin_above_100_percent_of_equity_is_refused():
    # a client margin above 100 % is a leverage below 1x
    with pytest.raises(ValueError, match="leverage must be in"):
        DMAParams(leverage=1 / 1.2)


def test_books_hand_their_futures_and_financing_configs_to_the_engine():
    neutral = MarketNeutral(MarketNeutralParams(roll_rule=RollRule(sessions_before_expiry=3)))
    assert neutral.futures_config().roll_rule.sessions_before_expiry == 3
    assert neutral.financing_config() is None
    dma = DMA(DMAParams())
    assert dma.financing_config().max_gross_leverage == 4.0
    assert DMAParams().client_margin == 0.25


def test_drawdown_stop_halves_gross_after_five_percent_and_restores_it_on_recovery():
    book = MarketNeutral(MarketNeutralParams(drawdown_stop=DrawdownStop()))
    scales = []
    for equity in (100.0, 104.0, 99.0, 98.5, 101.0, 103.0):
        ctx = SimpleNamespace(portfolio=SimpleNamespace(equity=equity))
        scales.append(book._scale(ctx))  # type: ignore[arg-type]
    # peak 104: 99 is -4.8 % (hold), 98.5 is -5.3 % (stop), 101 is -2.9 % (still stopped),
    # 103 is -1.0 % (back within half the stop: full size)
    assert [s for s, _ in scales] == [1.0, 1.0, 1.0, 0.5, 0.5, 1.0]
    assert [c for _, c in scales] == [False, False, False, True, False, True]
