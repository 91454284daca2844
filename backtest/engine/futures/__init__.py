"""CFFEX stock-index futures and broker financing in the engine: one subpackage.

- :mod:`backtest.engine.futures.account`: a book's futures account
  (:class:`~backtest.engine.futures.account.FuturesAccount` and the contract plan of its roll
  rule): the one definition of the hedge's daily lines (index P&L, basis carry, roll), booked
  as ledger entries;
- :mod:`backtest.engine.futures.financing`: the broker's loan to a leveraged book
  (:class:`~backtest.engine.futures.financing.Financing`: interest, buying power, margin calls);
- :mod:`backtest.engine.futures.config`: what a book declares (``FuturesConfig``,
  ``FinancingConfig``) and what its strategy sees (``AccountView``);
- :mod:`backtest.engine.futures.fills`: futures fills with slippage and CFFEX fees;
- :mod:`backtest.engine.futures.settlement`: daily mark-to-market, final settlement, margin;
- :mod:`backtest.engine.futures.kernels`: their numba kernels and plain-Python twins.

Rules (specs, expiries, margin and fee schedules, roll rules, hedge sizing) are in
:mod:`backtest.rules.cffex` and :mod:`backtest.rules.roll`; the futures bars in
:mod:`backtest.market.futures_panel`; the quoted basis in :mod:`backtest.analytics.basis`.
"""
