"""The one home of market rules, as dated data (STYLE habit 5) bundled in presets.

- :mod:`backtest.rules.dated`: the scheme every rule table uses: rows with a start date, the
  row in force on a day is the last one starting on or before it;
- :mod:`backtest.rules.ashare`: A-share costs (stamp duty, transfer fee, commission), price
  limits by board, ST and listing age, lots (:class:`~backtest.rules.ashare.MarketRules`);
- :mod:`backtest.rules.cffex`: CFFEX index futures: specs (``SPECS``), contract names, expiry
  and listing, dated margin (:class:`~backtest.rules.cffex.MarginSchedule`) and fees
  (:class:`~backtest.rules.cffex.FeeSchedule`);
- :mod:`backtest.rules.roll`: which contract a hedged book holds (``RollRule``,
  ``roll_schedule``);
- :mod:`backtest.rules.presets`: ``CHINA_A_2023_2024``, equities and futures in one object.

The engine, the importers and the scenario all read these rules; this package imports only
:mod:`backtest.core` (and numpy, polars), never the market, engine or analytics layers.
"""
