"""A book's futures account: hedges, rolls, daily settlement and margin; the hedge's daily lines.

A book whose strategy returns a :class:`~backtest.engine.futures.config.FuturesConfig`
(``Strategy.futures_config``) gets a :class:`FuturesAccount` next to its stock ledger (broker
financing is :mod:`backtest.engine.futures.financing`). Python runs here once per session per
book, over the few contracts it holds. It changes cash only through the ledger's entries.

Session by session (engine phases):

- ``OPEN``: after the stock fills, futures orders ``target - held`` fill at the contract's open
  (:func:`backtest.engine.futures.fills.fill_futures_orders`: slippage in ticks, CFFEX fees). A
  hedge target is per product and held in the contract the book's :class:`RollRule` names for
  that session (:func:`backtest.rules.roll.roll_schedule`; ``target="main"`` reads the futures
  panel's open interest of the previous session), so on a roll session the old contract is
  bought back and the new one sold at the same open.
- ``SETTLE``: every contract held or traded is marked to its settlement price
  (:func:`backtest.engine.futures.settlement.settle_session`); the variation margin goes
  through cash, an expiring contract is closed at its final settlement price; the margin
  requirement is kept.

Daily lines (CNY, that session; gains positive, fees positive), the one definition of the
hedge's split, booked as ledger entries (``FUTURES_INDEX``, ``BASIS_CARRY``, ``ROLL``,
``FUTURES_FEES``, :mod:`backtest.core.lines`):

- ``futures_pnl``: the variation margin, ``sum_c q_c m (P_t - P_{t-1})`` plus today's trades
  from their fill price to the settle;
- it splits exactly into ``index P&L + basis_carry + roll``, where the index P&L of the hedge
  notional is ``q_overnight m (S_t - S_{t-1}) + q_traded m (S_t - S^open_t)`` (``S`` the
  underlying index, its open where the market has index opens, else the previous close),
  ``roll = - sum_{roll legs} q m (p_fill - S^open_t)`` (the basis given up between the closed
  and the opened contract, slippage included) and ``basis_carry`` the rest: the change of the
  held basis (a short earns while the discount widens and pays as it converges);
- ``futures_fees``: exchange fees (:class:`~backtest.rules.cffex.FeeSchedule`).

Accounting identity (tested through the entries): ``equity = cash + stock holdings``; the
futures' value lives in cash through the daily variation margin.
"""

from __future__ import annotations

import math

import numpy as np

from backtest.core.ids import FUTURES_UNDERLYING
from backtest.engine.futures.config import FuturesConfig, check_product
from backtest.engine.futures.fills import fill_futures_orders
from backtest.engine.futures.settlement import settle_session
from backtest.market import calendar
from backtest.market.panel import MarketData
from backtest.rules.cffex import parse_contract
from backtest.rules.roll import RollRule, roll_schedule

__all__ = ["FUTURES_LINES", "ContractPlan", "FuturesAccount"]

#: The session lines a futures account books (CNY; fees positive, as costs).
FUTURES_LINES: tuple[str, ...] = ("futures_pnl", "basis_carry", "roll", "futures_fees")


class ContractPlan:
    """The contract to hold per product and session, for one roll rule (cached per run)."""

    def __init__(self, market: MarketData) -> None:
        self.market = market
        self._plans: dict[tuple[str, RollRule], tuple[list[str], np.ndarray]] = {}

    def contracts(self, product: str, rule: RollRule) -> tuple[list[str], np.ndarray]:
        """``(contract per session, is_roll per session)`` over the market's dates."""
        key = (product, rule)
        if key not in self._plans:
            dates = self.market.dates
            panel = self.market.futures
            last = dates[-1] if panel is None else max(dates[-1], panel.expiry.max())
            try:
                sessions = calendar.sessions(dates[0], last + np.timedelta64(120, "D"))
            except ValueError:  # past the shipped calendar: the last expiry must still fit
                sessions = calendar.sessions(dates[0], last)
            interest = None
            if rule.target == "main":  # the most held contract, read from the panel
                if panel is None:
                    raise ValueError(
                        f"RollRule(target='main') for {product} needs the futures' open "
                        "interest: the market has no futures_bars"
                    )
                interest = panel.open_interest(product)
            plan = roll_schedule(
                rule, product, sessions, start=dates[0], end=dates[-1], futures=interest
            )
            if plan.height != dates.size:
                raise ValueError(
                    f"the market's {dates.size} sessions are not all SSE sessions "
                    f"({plan.height} are): futures books need the exchange calendar"
                )
            self._plans[key] = (plan["contract"].to_list(), plan["is_roll"].to_numpy())
        return self._plans[key]


class FuturesAccount:
    """Futures positions, hedge targets and margin of one book (engine-owned).

    It changes only by its fills at the open (:meth:`open`) and its settlement at the close
    (:meth:`settle`); ``lines`` holds the session's ``futures_pnl``, ``basis_carry``, ``roll``
    and ``futures_fees`` (the one definition of the hedge's daily split, module docs).
    """

    def __init__(self, *, market: MarketData, plan: ContractPlan, config: FuturesConfig) -> None:
        self.market = market
        self.plan = plan
        self.futures = config
        self.positions: dict[str, int] = {}
        self.targets: dict[str, int] = {}
        self.margin_required = 0.0
        self.futures_notional = 0.0
        self.lines = dict.fromkeys(FUTURES_LINES, 0.0)
        self._traded: dict[str, int] = {}
        self._trade_price: dict[str, float] = {}
        self._roll_value = 0.0
        self._index_traded = 0.0

    def set_target(self, product: str, contracts: int) -> None:
        """Hold ``contracts`` of ``product`` (0 drops the target)."""
        check_product(product)
        if contracts == 0:
            self.targets.pop(product, None)
        else:
            self.targets[product] = int(contracts)

    # ------------------------------------------------------------------ phases
    def begin_session(self) -> None:
        """Reset the session's lines and trades (before the open)."""
        self.lines = dict.fromkeys(FUTURES_LINES, 0.0)
        self._traded, self._trade_price = {}, {}
        self._roll_value = 0.0
        self._index_traded = 0.0

    def _index(self, product: str) -> tuple[np.ndarray, np.ndarray | None]:
        code = FUTURES_UNDERLYING[product]
        closes = self.market.index_closes.get(code)
        if closes is None:
            raise ValueError(
                f"futures product {product} needs the closes of its index {code}; the market "
                f"has {sorted(self.market.index_closes)} (load index_bars)"
            )
        return closes, self.market.index_opens.get(code)

    def open(self, t: int) -> float:
        """Fill the futures orders at the open; return the cash paid in fees."""
        panel = self.market.futures
        if panel is None:
            if not self.targets and not self.positions:
                return 0.0
            raise ValueError("this book trades futures but the market has no futures panel")
        desired: dict[str, int] = {}
        rolling: set[str] = set()
        for product, contracts in self.targets.items():
            names, is_roll = self.plan.contracts(product, self.futures.roll_rule)
            desired[names[t]] = desired.get(names[t], 0) + contracts
            if is_roll[t]:
                rolling.add(product)
        names_all = tuple(sorted(set(desired) | set(self.positions)))
        orders = np.array([desired.get(c, 0) - self.positions.get(c, 0) for c in names_all])
        if not names_all or not orders.any():
            return 0.0
        columns = panel.columns(list(names_all))
        reference = panel["open"][t, columns]
        fills = fill_futures_orders(
            contracts=names_all,
            orders=orders,
            reference_price=np.where(np.isfinite(reference), reference, 0.0),
            held_overnight=np.array([self.positions.get(c, 0) for c in names_all]),
            tradable=np.isfinite(reference),
            fees=self.futures.fees.on(self.market.dates[t]),
            slippage_ticks=self.futures.slippage_ticks,
        )
        fee = float(fills.fee_cny.sum())
        for i, contract in enumerate(names_all):
            q = int(fills.filled[i])
            if q == 0:
                continue
            product = parse_contract(contract).product
            multiplier = float(panel.multiplier[columns[i]])
            closes, opens = self._index(product)
            index_open = opens[t] if opens is not None else np.nan
            if not math.isfinite(index_open):
                index_open = closes[t - 1] if t > 0 else closes[t]
            self._traded[contract] = q
            self._trade_price[contract] = float(fills.fill_price[i])
            self._index_traded += q * multiplier * (closes[t] - index_open)
            if product in rolling:
                self._roll_value -= q * multiplier * (float(fills.fill_price[i]) - index_open)
        self.lines["futures_fees"] = fee
        return fee

    def settle(self, t: int) -> float:
        """Mark futures to the settle; return the variation margin (cash in)."""
        panel = self.market.futures
        names = tuple(sorted(set(self.positions) | set(self._traded)))
        if panel is None or not names:
            self.margin_required = 0.0
            self.futures_notional = 0.0
            return 0.0
        columns = panel.columns(list(names))
        settle = panel["settle"][t, columns]
        previous = panel["settle"][t - 1, columns] if t > 0 else np.full(len(names), np.nan)
        products = [parse_contract(c).product for c in names]
        date = self.market.dates[t]
        overnight = np.array([self.positions.get(c, 0) for c in names], dtype=np.int64)
        result = settle_session(
            contracts=names,
            position_overnight=overnight,
            traded_today=np.array([self._traded.get(c, 0) for c in names], dtype=np.int64),
            trade_price=np.array([self._trade_price.get(c, np.nan) for c in names]),
            settle_previous=previous,
            settle_today=settle,
            multiplier=panel.multiplier[columns],
            margin_rate=np.array([self.futures.margin.rate(p, date) for p in products]),
            expiring=panel.expiry[columns] == date,
        )
        variation = result.variation_total_cny
        index_pnl = self._index_traded
        for i, product in enumerate(products):
            if overnight[i] != 0 and t > 0:
                closes, _ = self._index(product)
                index_pnl += (
                    overnight[i] * panel.multiplier[columns[i]] * (closes[t] - closes[t - 1])
                )
        self.positions = {
            c: int(q) for c, q in zip(names, result.position_after, strict=True) if q != 0
        }
        price = np.where(np.isfinite(settle), settle, np.nan_to_num(previous))
        self.futures_notional = float(
            np.sum(result.position_after * panel.multiplier[columns] * price)
        )
        self.margin_required = result.margin_total_cny
        self.lines["futures_pnl"] = variation
        self.lines["roll"] = self._roll_value
        self.lines["basis_carry"] = variation - index_pnl - self._roll_value
        return variation

    def hold_futures(self) -> None:
        """Set the hedge targets to the contracts held now, per product."""
        held: dict[str, int] = {}
        for contract, q in self.positions.items():
            product = parse_contract(contract).product
            held[product] = held.get(product, 0) + q
        self.targets = {p: q for p, q in held.items() if q != 0}

    def scale_targets(self, scale: float) -> None:
        """Scale the hedge targets (forced de-leveraging), rounding toward zero."""
        self.targets = {
            p: math.trunc(q * scale) for p, q in self.targets.items() if math.trunc(q * scale) != 0
        }
