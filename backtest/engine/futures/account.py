"""A book's futures account and broker financing: hedges, rolls, margin, financing, margin calls.

A book whose strategy returns a :class:`FuturesConfig` (``Strategy.futures_config``) or a
:class:`FinancingConfig` (``Strategy.financing_config``) gets a :class:`HedgeAccount` next to its
stock ledger. Python runs here once per session per book, over the few contracts it holds.

Session by session (engine phases):

- ``PRE_OPEN``: financing accrues on the borrowed cash of the previous close,
  ``financing = borrowed * rate * calendar_days / 365`` with
  ``borrowed = max(margin_required - cash, 0)`` (cash below what the futures margin needs is
  lent by the broker; with no futures that is simply negative cash); it is paid from cash.
- ``OPEN``: after the stock fills, futures orders ``target - held`` fill at the contract's open
  (:func:`backtest.engine.futures.fills.fill_futures_orders`: slippage in ticks, CFFEX fees). A
  hedge target is per product and held in the contract the book's :class:`RollRule` names for that
  session (:func:`backtest.rules.roll.roll_schedule`; ``target="main"`` reads the futures panel's
  open interest of the previous session), so on a roll session the old contract is bought back and
  the new one sold at the same open.
- ``SETTLE``: every contract held or traded is marked to its settlement price
  (:func:`backtest.engine.futures.settlement.settle_session`); the variation margin goes
  through cash, an expiring contract is closed at its final settlement price; the margin
  requirement is kept.
- ``CLOSE`` (before ``on_bar``): with financing, the margin check: a book whose collateral
  ratio ``equity / stock holdings`` is below ``maintenance_ratio`` is in a margin call.

Daily lines (CNY, that session; gains positive, costs positive):

- ``futures_pnl``: the variation margin, ``sum_c q_c m (P_t - P_{t-1})`` plus today's trades
  from their fill price to the settle;
- it splits exactly into ``index P&L + basis_carry + roll``, where the index P&L of the hedge
  notional is ``q_overnight m (S_t - S_{t-1}) + q_traded m (S_t - S^open_t)`` (``S`` the
  underlying index, its open where the market has index opens, else the previous close),
  ``roll = - sum_{roll legs} q m (p_fill - S^open_t)`` (the basis given up between the closed
  and the opened contract, slippage included) and ``basis_carry`` the rest: the change of the
  held basis (a short earns while the discount widens and pays as it converges);
- ``futures_fees``: exchange fees (:class:`~backtest.rules.cffex.FeeSchedule`);
- ``financing``: interest paid to the broker;
- ``margin_required`` (CNY), ``futures_notional`` (signed, ``sum q m P_settle``) and
  ``margin_call`` (1.0 on call sessions, else 0.0).

Accounting identity (tested): ``equity = cash + stock holdings``; the futures' value lives in
cash through the daily variation margin, so
``equity_t - equity_{t-1} = stock P&L - stock costs + futures_pnl - futures_fees - financing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from backtest.core.ids import FUTURES_PRODUCTS, FUTURES_UNDERLYING
from backtest.engine.futures.fills import fill_futures_orders
from backtest.engine.futures.settlement import settle_session
from backtest.market import calendar
from backtest.market.panel import MarketData
from backtest.rules.cffex import FeeSchedule, MarginSchedule, parse_contract
from backtest.rules.roll import RollRule, roll_schedule

#: Daily columns a hedged or financed book adds to ``Result.daily``.
HEDGE_COLUMNS: tuple[str, ...] = (
    "futures_pnl",
    "basis_carry",
    "roll",
    "futures_fees",
    "financing",
    "margin_required",
    "futures_notional",
    "margin_call",
)
_DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, kw_only=True, slots=True)
class FuturesConfig:
    """How a book trades index futures.

    Parameters
    ----------
    roll_rule
        Contract held and when to roll (default: next quarterly, 5 sessions before expiry).
    margin
        Dated exchange margin rates plus a broker add-on.
    fees
        Dated exchange fees plus a broker add-on.
    slippage_ticks
        Ticks paid against the open on every futures fill, in 0..10.
    """

    roll_rule: RollRule = field(default_factory=RollRule)
    margin: MarginSchedule = field(default_factory=MarginSchedule)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    slippage_ticks: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.slippage_ticks <= 10:
            raise ValueError(f"slippage_ticks must be in 0..10 ticks, got {self.slippage_ticks}")


@dataclass(frozen=True, kw_only=True, slots=True)
class FinancingConfig:
    """Broker financing of a leveraged (DMA-style) book and its margin call.

    Parameters
    ----------
    max_gross_leverage
        Largest long stock exposure as a multiple of the client's equity, in [1, 10] (4x is
        a client margin of 25 %). Buying power at an open is
        ``cash + (max_gross_leverage - 1) * equity``.
    financing_rate
        Annual rate on borrowed cash, in [0, 0.3] (365-day basis, accrued per calendar day).
    maintenance_ratio
        Collateral ratio ``equity / stock holdings`` below which the broker calls, in
        (0, 1); it must be below ``1 / max_gross_leverage`` (the initial margin).
    target_leverage
        Leverage the forced de-leveraging aims at, in [0, max_gross_leverage]: holdings and
        the hedge are scaled by ``min(1, target_leverage * equity / holdings)``.
    block_liquidation
        True: the broker freezes the account during a call ("cannot sell"): no orders at all
        while the collateral ratio stays below maintenance.
    """

    max_gross_leverage: float = 4.0
    financing_rate: float = 0.055
    maintenance_ratio: float = 0.18
    target_leverage: float = 3.0
    block_liquidation: bool = False

    def __post_init__(self) -> None:
        if not 1.0 <= self.max_gross_leverage <= 10.0:
            raise ValueError(
                f"max_gross_leverage must be in [1, 10] (multiple of equity), got "
                f"{self.max_gross_leverage}"
            )
        if not 0.0 <= self.financing_rate <= 0.3:
            raise ValueError(
                f"financing_rate must be in [0, 0.3] a year, got {self.financing_rate}"
            )
        initial = 1.0 / self.max_gross_leverage
        if not 0.0 < self.maintenance_ratio < 1.0 or self.maintenance_ratio > initial:
            raise ValueError(
                f"maintenance_ratio must be in (0, 1 / max_gross_leverage = {initial:.4f}], "
                f"got {self.maintenance_ratio}"
            )
        if not 0.0 <= self.target_leverage <= self.max_gross_leverage:
            raise ValueError(
                f"target_leverage must be in [0, max_gross_leverage = {self.max_gross_leverage}]"
                f", got {self.target_leverage}"
            )


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a strategy sees of its futures and financing account (a snapshot)."""

    futures_positions: dict[str, int]
    futures_targets: dict[str, int]
    margin_required: float
    futures_notional: float
    margin_call: bool


def check_product(product: str) -> None:
    """Raise a ValueError naming the allowed products."""
    if product not in FUTURES_PRODUCTS:
        raise ValueError(f"futures product must be one of {FUTURES_PRODUCTS}, got {product!r}")


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


class HedgeAccount:
    """Futures positions, hedge targets, margin and financing of one book (engine-owned)."""

    def __init__(
        self,
        *,
        market: MarketData,
        plan: ContractPlan,
        futures: FuturesConfig | None,
        financing: FinancingConfig | None,
    ) -> None:
        self.market = market
        self.plan = plan
        self.futures = futures
        self.financing = financing
        self.positions: dict[str, int] = {}
        self.targets: dict[str, int] = {}
        self.margin_required = 0.0
        self.futures_notional = 0.0
        self.in_call = False
        self.lines = dict.fromkeys(HEDGE_COLUMNS, 0.0)
        self._traded: dict[str, int] = {}
        self._trade_price: dict[str, float] = {}
        self._roll_value = 0.0
        self._index_traded = 0.0

    # ------------------------------------------------------------------ views
    def view(self) -> AccountView:
        return AccountView(
            futures_positions=dict(self.positions),
            futures_targets=dict(self.targets),
            margin_required=self.margin_required,
            futures_notional=self.futures_notional,
            margin_call=self.in_call,
        )

    def set_target(self, product: str, contracts: int) -> None:
        if self.futures is None:
            raise ValueError(
                "this book has no futures account: return a FuturesConfig from the "
                "strategy's futures_config() to trade futures"
            )
        check_product(product)
        if contracts == 0:
            self.targets.pop(product, None)
        else:
            self.targets[product] = int(contracts)

    def buying_power(self, cash: float, equity: float) -> float:
        """Cash the stock fill kernel may spend: with financing, the broker's credit line."""
        if self.financing is None:
            return max(cash, 0.0)
        credit = (self.financing.max_gross_leverage - 1.0) * max(equity, 0.0)
        return max(cash + credit, 0.0)

    # ------------------------------------------------------------------ phases
    def pre_open(self, t: int, cash: float) -> float:
        """Reset the lines; return the financing paid for the night before session ``t``."""
        self.lines = dict.fromkeys(HEDGE_COLUMNS, 0.0)
        self._traded, self._trade_price = {}, {}
        self._roll_value = 0.0
        self._index_traded = 0.0
        if self.financing is None or t == 0:
            return 0.0
        dates = self.market.dates
        days = float((dates[t] - dates[t - 1]).astype(np.int64))
        borrowed = max(self.margin_required - cash, 0.0)
        paid = borrowed * self.financing.financing_rate * days / _DAYS_PER_YEAR
        self.lines["financing"] = paid
        return paid

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
        if self.futures is None:
            return 0.0
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
        assert self.futures is not None
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

    def margin_check(self, equity: float, holdings: float) -> bool:
        """True when the book is in a margin call at this close (collateral below maintenance)."""
        if self.financing is None:
            return False
        self.in_call = holdings > 0 and equity < self.financing.maintenance_ratio * holdings
        return self.in_call

    def deleverage_scale(self, equity: float, holdings: float) -> float:
        """Factor the forced orders scale holdings and hedge by (0 when equity is gone)."""
        assert self.financing is not None
        if equity <= 0 or holdings <= 0:
            return 0.0
        return min(1.0, self.financing.target_leverage * equity / holdings)

    def frozen(self) -> bool:
        """True while a blocked-liquidation account is in a call (no orders at all)."""
        return self.in_call and self.financing is not None and self.financing.block_liquidation

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

    def record(self) -> dict[str, float]:
        """The session's daily lines (see the module docs)."""
        self.lines["margin_required"] = self.margin_required
        self.lines["futures_notional"] = self.futures_notional
        self.lines["margin_call"] = 1.0 if self.in_call else 0.0
        return self.lines
