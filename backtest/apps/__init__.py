"""The applications: the top layer, the only one that may import :mod:`strategies`.

- :mod:`backtest.apps.cli`: the ``backtest`` command, one parser with every subcommand and the
  shared ``--store`` (default :data:`backtest.market.store.DEFAULT_STORE`);
- :mod:`backtest.apps.data`: ``backtest data build|info|fetch|import``;
- :mod:`backtest.apps.replay`: ``backtest replay``, the six books of the industry over 2023-2024;
- :mod:`backtest.apps.report`: ``backtest report``, the HTML page of saved runs (the page itself
  is drawn by :mod:`backtest.analytics.report`);
- :mod:`backtest.apps.notebook`: find, build and open the store the notebooks read.

Each app reads the one default store path and builds a missing or empty store the one way
(:func:`backtest.market.scenario.store_file.ensure_scenario_file`). This package imports none of
its modules, and the notebook helpers do not import the command line (nor its akshare loader).
"""
