"""Analytics: performance metrics, attribution of engine results, the comparison and report.

Every public function is importable from here:

>>> from backtest.analytics import compare, sharpe_ratio
>>> compare.__module__, round(sharpe_ratio([0.01, -0.01, 0.02, 0.0]), 6)
('backtest.analytics.compare', 6.024948)

Books of a run side by side
---------------------------
- :func:`compare`: one polars row per book: returns, risk, drawdown, excess by window,
  tracking error, information ratio, costs and trading (:mod:`backtest.analytics.compare`).
- :func:`attribute_book`: one book's daily Brinson and factor attribution against its
  benchmark, components adding up to the excess every day (a :class:`BookAttribution`).
- :func:`attribute_books`: the same for several books of one run, market inputs computed once.
- :func:`book_returns`: a book's daily returns ``E_t / E_{t-1} - 1`` from its ledger.

Tear sheet (one book against its benchmark; every book side by side in the report)
------------------------------------------------------------------------------------
- :func:`period_returns` / :func:`period_table`: monthly and yearly returns of book,
  benchmark and excess, each compounded; the calendar table of the report.
- :func:`rolling_figures`: rolling 60-session volatility, Sharpe, beta and tracking error.
- :func:`worst_drawdowns`: the five worst drawdowns (peak, trough, recovery, depth, length).
- :func:`exposures`: gross and net exposure and the hedge ratio per session.
- :func:`holdings_concentration` / :func:`top_holdings`: names held, top-10 share,
  effective number of names; the largest positions.
- :func:`trade_shortfall`: unfilled sell notional and the share of target reached per session.
- :func:`pm_attribution`: a linked attribution summed into stock selection, trading, costs,
  hedge, financing and other.
- :func:`returns_pandas`: the book's and its benchmark's daily returns as pandas Series (for
  quantstats, empyrical, pyfolio).
- figures: :func:`equity_figure`, :func:`excess_figure`, :func:`rolling_figure`,
  :func:`exposure_figure`, :func:`holdings_figure`, :func:`shortfall_figure`,
  :func:`capacity_figure`.

Report and figures
------------------
- :func:`write_report`: write the self-contained HTML report of a run to a file.
- :func:`render_report`: return that report's HTML text.
- :func:`cumulative_excess_figure`: one book's linked cumulative excess, stacked by component.
- :func:`drawdowns_figure`: every book's drawdown from its high-water mark.
- :func:`active_size_exposure_figure`: every book's active exposure to the size factor.
- :func:`crash_trading_figure`: fill rate and backlog of every book in the crash window.

Metrics (pure functions of daily returns, 242 sessions a year)
--------------------------------------------------------------
- :func:`cumulative_return` / :func:`cumulative_returns`: compounded return, whole or path.
- :func:`annualised_return`: compound annual growth rate.
- :func:`annualised_volatility`: standard deviation of daily returns times ``sqrt(242)``.
- :func:`sharpe_ratio`: annualised mean over standard deviation of returns over risk-free.
- :func:`drawdowns` / :func:`max_drawdown`: underwater curve and its deepest point.
- :func:`max_drawdown_details`: deepest drawdown with peak, trough and recovery (a
  :class:`Drawdown`).
- :func:`excess_returns`: daily excess over a benchmark, arithmetic or geometric.
- :func:`cumulative_excess_return` / :func:`cumulative_excess_returns`: excess with each side
  compounded first, whole or path.
- :func:`tracking_error`: annualised standard deviation of the daily excess.
- :func:`information_ratio`: annualised mean over standard deviation of the daily excess.
- :func:`daily_turnover` / :func:`annualised_turnover`: traded notional over equity.
- :func:`hit_rate`: share of sessions beating zero or a benchmark (NaN days left out).
- :func:`performance_summary`: the headline metrics of one book as a flat mapping.

Building blocks
---------------
- :mod:`~backtest.analytics.brinson`: Brinson-Fachler allocation/selection/interaction by cap
  bucket;
- :mod:`~backtest.analytics.factors`: style exposures, daily factor returns, factor attribution;
- :mod:`~backtest.analytics.linking`: daily attribution frames (``excess = sum(components)``,
  with cost, hedge and financing lines) and Cariño / Frongello linking over any window.

``compare`` names both a submodule and its function; the package binds the function, so
``import backtest.analytics.compare as m`` also gives the function. Import the module's other
names directly (``from backtest.analytics.compare import compare_row``).
"""

import importlib
from typing import TYPE_CHECKING, Any

from backtest.analytics.attribution import (
    BookAttribution,
    attribute_book,
    attribute_books,
    book_returns,
)
from backtest.analytics.brinson import (
    BUCKET_NAMES,
    CASH_BUCKET,
    BrinsonAttribution,
    brinson_fachler,
    brinson_fachler_day,
    cap_bucket_codes,
)

# Loading the submodule binds the package attribute ``compare`` to the module; this from-import
# then rebinds it to the function, and later imports of the submodule find it in sys.modules and
# leave the attribute alone (tests/test_public_api.py pins both import orders).
from backtest.analytics.compare import compare
from backtest.analytics.factors import (
    FACTOR_NAMES,
    ExposureConfig,
    Exposures,
    FactorAttribution,
    FactorReturns,
    factor_attribution,
    factor_returns,
    market_returns,
    raw_style_exposures,
    standardise,
    style_exposures,
)
from backtest.analytics.linking import (
    COST_COMPONENTS,
    FINANCING_COMPONENTS,
    HEDGE_COMPONENTS,
    AttributionIdentityError,
    attribution_frame,
    carino_coefficients,
    check_attribution_identity,
    component_columns,
    link_attribution,
    link_components,
)
from backtest.analytics.metrics import (
    ROUND_OFF_TOLERANCE,
    SESSIONS_PER_YEAR,
    Drawdown,
    annualised_return,
    annualised_turnover,
    annualised_volatility,
    cumulative_excess_return,
    cumulative_excess_returns,
    cumulative_return,
    cumulative_returns,
    daily_turnover,
    drawdowns,
    excess_returns,
    hit_rate,
    information_ratio,
    max_drawdown,
    max_drawdown_details,
    performance_summary,
    sharpe_ratio,
    tracking_error,
)
from backtest.analytics.tearsheet import (
    period_returns,
    period_table,
    rolling_figures,
    worst_drawdowns,
)
from backtest.analytics.tearsheet_book import (
    PM_GROUPS,
    BookSeries,
    book_series,
    exposures,
    holdings_concentration,
    pm_attribution,
    returns_pandas,
    top_holdings,
    trade_shortfall,
)

if TYPE_CHECKING:
    from backtest.analytics.plots import (
        active_size_exposure_figure,
        crash_trading_figure,
        cumulative_excess_figure,
        drawdowns_figure,
    )
    from backtest.analytics.report import render_report, write_report
    from backtest.analytics.tearsheet_figures import (
        capacity_figure,
        equity_figure,
        excess_figure,
        exposure_figure,
        holdings_figure,
        rolling_figure,
        shortfall_figure,
    )

# The figures and the report need matplotlib, which takes about a second to import (as long as
# the rest of this package): they load on first use, so that the metrics and the attribution
# (and the CLI commands that use only them) do not pay for it.
_LOADED_ON_FIRST_USE = {
    "active_size_exposure_figure": "backtest.analytics.plots",
    "crash_trading_figure": "backtest.analytics.plots",
    "cumulative_excess_figure": "backtest.analytics.plots",
    "drawdowns_figure": "backtest.analytics.plots",
    "render_report": "backtest.analytics.report",
    "write_report": "backtest.analytics.report",
    **dict.fromkeys(
        (
            "capacity_figure",
            "equity_figure",
            "excess_figure",
            "exposure_figure",
            "holdings_figure",
            "rolling_figure",
            "shortfall_figure",
        ),
        "backtest.analytics.tearsheet_figures",
    ),
}


def __getattr__(name: str) -> Any:
    """Return a figure or report function, importing its module (and matplotlib) on first use."""
    module = _LOADED_ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """List the package's names, the ones loaded on first use included."""
    return sorted({*globals(), *_LOADED_ON_FIRST_USE})


__all__ = [
    "BUCKET_NAMES",
    "CASH_BUCKET",
    "COST_COMPONENTS",
    "FACTOR_NAMES",
    "FINANCING_COMPONENTS",
    "HEDGE_COMPONENTS",
    "PM_GROUPS",
    "ROUND_OFF_TOLERANCE",
    "SESSIONS_PER_YEAR",
    "AttributionIdentityError",
    "BookAttribution",
    "BookSeries",
    "BrinsonAttribution",
    "Drawdown",
    "ExposureConfig",
    "Exposures",
    "FactorAttribution",
    "FactorReturns",
    "active_size_exposure_figure",
    "annualised_return",
    "annualised_turnover",
    "annualised_volatility",
    "attribute_book",
    "attribute_books",
    "attribution_frame",
    "book_returns",
    "book_series",
    "brinson_fachler",
    "brinson_fachler_day",
    "cap_bucket_codes",
    "capacity_figure",
    "carino_coefficients",
    "check_attribution_identity",
    "compare",
    "component_columns",
    "crash_trading_figure",
    "cumulative_excess_figure",
    "cumulative_excess_return",
    "cumulative_excess_returns",
    "cumulative_return",
    "cumulative_returns",
    "daily_turnover",
    "drawdowns",
    "drawdowns_figure",
    "equity_figure",
    "excess_figure",
    "excess_returns",
    "exposure_figure",
    "exposures",
    "factor_attribution",
    "factor_returns",
    "hit_rate",
    "holdings_concentration",
    "holdings_figure",
    "information_ratio",
    "link_attribution",
    "link_components",
    "market_returns",
    "max_drawdown",
    "max_drawdown_details",
    "performance_summary",
    "period_returns",
    "period_table",
    "pm_attribution",
    "raw_style_exposures",
    "render_report",
    "returns_pandas",
    "rolling_figure",
    "rolling_figures",
    "sharpe_ratio",
    "shortfall_figure",
    "standardise",
    "style_exposures",
    "top_holdings",
    "tracking_error",
    "trade_shortfall",
    "worst_drawdowns",
    "write_report",
]
