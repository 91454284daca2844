"""The calibrated scenario ``ashare-2023-2024``: a synthetic A-share market of 2023-2024.

What it is: a seeded, deterministic model of the 2023-2024 A-share market, written into the
store through the same schema as real data. About 5,000 stocks on the real SSE calendar with
realistic codes and boards, a heavy-tailed cap distribution, ST names, listings and
delistings; returns with market-beta, size and liquidity components and idiosyncratic
(Student-t) noise, solved session by session so that the CSI 300/500/1000/2000 and microcap
indices **built from the generated constituents** (cap-weighted, membership by cap rank with
semi-annual reviews; the microcap the 400 smallest, equal weight, daily) reproduce the published
closes in ``data/calibration`` (month ends, every day of the 2024-01-02..2024-03-01 crash window,
hence the 2024-02-07 year-to-date figures) to well within 0.5 %. Price limits by board, ST and
listing age, read from the market rules (:mod:`backtest.rules.ashare`, as real data's are), with
multi-day limit locks that carry unfilled moves forward, collapsed volume in locks, liquidity
drying up in the January-February 2024 panic, suspensions, and IF/IH/IC/IM contracts whose
main-contract basis follows the published monthly and crash-window figures.

What it is not: real prices of real companies (codes and names are synthetic); no corporate
actions (``adj_factor`` is 1.0, shares constant except at listing); no industries; no intraday
path (open/high/low are drawn around the close-to-close move); between calibration anchors the
index paths are Brownian bridges, so intra-month events (e.g. the 2024-09-24 rally) are spread
over their month; SSE 50 (IH's underlying) is approximated by the 50 largest CSI 300 members and
is not calibrated; futures settle at the close (the final settlement at the expiry-day close,
not CFFEX's two-hour average); open interest and volume of futures are stylised.

>>> from backtest.market.scenario import ScenarioConfig
>>> ScenarioConfig().seed
20240205
"""

from backtest.market.scenario.build import build_scenario, generate
from backtest.market.scenario.config import SOURCE, ScenarioConfig

__all__ = ["SOURCE", "ScenarioConfig", "build_scenario", "generate"]
