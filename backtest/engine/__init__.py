"""The engine: clock, event loop, strategies, orders, ledger with its entries, results, and the
futures and financing accounts; fills come from the Exchange (:mod:`backtest.execution`).

Market rules (costs, limits, lots, CFFEX specs, margin, fees, rolls) are not the engine's: it
reads them from :mod:`backtest.rules` (``EngineConfig.rules`` defaults to the equities of
:data:`backtest.rules.presets.CHINA_A_2023_2024`).

>>> from backtest.engine import Engine, EngineConfig, MarketData, Strategy, Context
"""

from backtest.engine.benchmark import Benchmark
from backtest.engine.book import Book
from backtest.engine.clock import Clock, ClockEvent, Phase
from backtest.engine.config import EngineConfig, ExecutionPrice, canonical_json, config_hash
from backtest.engine.engine import Engine, StrategyError, run_backtest
from backtest.engine.errors import TargetError
from backtest.engine.futures.config import AccountView, FinancingConfig, FuturesConfig
from backtest.engine.orders import Backlog, SessionFills, TargetOrder
from backtest.engine.portfolio import Ledger, PortfolioView
from backtest.engine.result import Result
from backtest.engine.strategy import Context, Strategy
from backtest.market.features import MarketFeatures
from backtest.market.panel import MarketData

__all__ = [
    "AccountView",
    "Backlog",
    "Benchmark",
    "Book",
    "Clock",
    "ClockEvent",
    "Context",
    "Engine",
    "EngineConfig",
    "ExecutionPrice",
    "FinancingConfig",
    "FuturesConfig",
    "Ledger",
    "MarketData",
    "MarketFeatures",
    "Phase",
    "PortfolioView",
    "Result",
    "SessionFills",
    "Strategy",
    "StrategyError",
    "TargetError",
    "TargetOrder",
    "canonical_json",
    "config_hash",
    "run_backtest",
]
