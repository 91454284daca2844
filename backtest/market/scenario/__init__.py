"""The calibrated scenario ``ashare-2023-2024``: a synthetic A-share market of 2023-2024.

What it is: a seeded, deterministic model of the 2023-2024 A-share market, written into the store
through the same schema as real data. About 5,000 stocks on the real SSE calendar with realistic
codes and boards, a heavy-tailed cap distribution, ST names, listings and delistings; each stock in
one of the 110 real industries, in the real proportions of its board; returns with market-beta,
size and liquidity components, a daily industry factor (calibrated to the real 2023
within-minus-across-industry correlation) and idiosyncratic (Student-t) noise, solved session by
session so that the CSI 300/500/1000/2000, microcap and SSE 50 indices **built from the generated
constituents** (cap-weighted, membership by cap rank with semi-annual reviews; the microcap the 400
smallest, equal weight, daily; SSE 50 the 50 largest CSI 300 members) reproduce the **real close of
every session** 2023-01-03..2024-12-31 (``data/calibration/index_daily_closes.csv``; within 0.03 %,
cent rounding), so the 2024-01/02 crash, the 2024-04 microcap fall, the 2024-09-24..10-08 rally and
the 10-09 fall are all there. Price limits by board, ST and listing age, read from the market rules
(:mod:`backtest.rules.ashare`, as real data's are), with multi-day limit locks that carry unfilled
moves forward; volume whose daily market total is the real one (the real main-board amount scaled to
all boards), rising on crash and rally days, with limit-down closes that trade heavily and rare
one-price locks; suspensions; IF/IH/IC/IM contracts each carrying its own real daily basis (main,
next and the others) on the 0.2-point tick.

What it is not: real prices of real companies (codes and names are synthetic); no corporate
actions (``adj_factor`` is 1.0, shares constant except at listing); industries drawn without
regard to size (banks are not made large) and never reclassified; no intraday
path (open/high/low are drawn around the close-to-close move); the cross-section (which stocks
move how much around the index targets: size and liquidity gradients, breadth on ordinary
days, correlation) is modelled, not calibrated to the real panel; SSE 50's level is real but
its membership (the 50 largest CSI 300 members by float cap, any exchange) only approximates
the SSE rule; futures settle at the close (the final settlement at the expiry-day close, not
CFFEX's two-hour average); open interest and volume of futures are stylised, so the
largest-open-interest contract follows the roll rule of ``futures.py``, which matches the real
one on 90 % of days for IC/IM and 75 % for IF/IH.

>>> from backtest.market.scenario import ScenarioConfig
>>> ScenarioConfig().seed
20240205
"""

from backtest.market.scenario.build import build_scenario, generate
from backtest.market.scenario.config import SOURCE, ScenarioConfig

__all__ = ["SOURCE", "ScenarioConfig", "build_scenario", "generate"]
