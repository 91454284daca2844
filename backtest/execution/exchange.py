"""The Exchange: every book's orders of one session in, one :class:`FillBatch` out.

One numba call per session fills all books (:func:`backtest.execution.fill_nb.fill_session_nb`),
so books can share one market: what each may take and what it pays are the
:class:`~backtest.execution.models.LiquidityModel`'s and
:class:`~backtest.execution.models.ImpactModel`'s, computed from all books' orders at once. With
the defaults (:class:`~backtest.execution.models.ParticipationCap`,
:class:`~backtest.execution.models.SquareRootImpact`) every book sees the whole volume and pays
its own impact: each book's fills are exactly those of a run with that book alone.

The Exchange reads dense ``(days, n)`` arrays (:class:`ExchangeMarket`); it knows nothing of
strategies, ledgers or the store. The engine builds the arrays once per run from its
``MarketData``.

>>> import numpy as np
>>> from backtest.execution.fills import OrderBatch
>>> market = ExchangeMarket.unlimited(
...     reference_price=np.array([[10.0, 20.0]]), volume=np.array([[1e6, 1e6]]),
...     lot_size=np.array([100, 100]), min_lot=np.array([100, 100]))
>>> exchange = Exchange(market)
>>> orders = OrderBatch(session_index=0, order_shares=np.array([[1_000, 0], [0, 300]]),
...     held_shares=np.zeros((2, 2), dtype=np.int64),
...     sellable_shares=np.zeros((2, 2), dtype=np.int64))
>>> fills = exchange.open(orders, buying_power=np.array([1e6, 1e6]))
>>> fills.filled_shares.tolist()
[[1000, 0], [0, 300]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.execution.fill_nb import (
    BookOrders,
    Charges,
    StockSession,
    empty_fill_out,
    fill_session_nb,
)
from backtest.execution.fills import FillBatch, OrderBatch
from backtest.execution.models import (
    ImpactModel,
    LiquidityModel,
    ParticipationCap,
    SquareRootImpact,
)
from backtest.execution.propagator_nb import (
    Propagator,
    empty_impact_state,
    moved_prices,
    propagate_nb,
)

__all__ = ["Exchange", "ExchangeMarket"]

#: caps are whole shares in int64; no session trades more (guards absurd volumes)
_MAX_CAP_SHARES = float(2**62)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeMarket:
    """What the Exchange reads: per-session arrays ``(days, n)`` and per-stock/per-day terms.

    ``volatility[t]`` is the daily return volatility known at the close of ``t`` (the Exchange
    uses ``t - 1``'s at the open of ``t``); ``volume`` is the session's market volume (NaN: no
    trade); ``stamp_duty_rate``/``transfer_fee_rate`` are per session (dated rules), commission
    a rate with a CNY minimum.
    """

    reference_price: np.ndarray
    limit_up: np.ndarray
    limit_down: np.ndarray
    locked_up: np.ndarray
    locked_down: np.ndarray
    suspended: np.ndarray
    volume: np.ndarray
    volatility: np.ndarray
    lot_size: np.ndarray
    min_lot: np.ndarray
    stamp_duty_rate: np.ndarray
    transfer_fee_rate: np.ndarray
    commission_rate: float = 0.00025
    min_commission: float = 5.0
    #: ``(days, n)`` the fundamental mark and close (needed only with a propagator)
    mark: np.ndarray | None = None
    close: np.ndarray | None = None

    @classmethod
    def unlimited(
        cls,
        *,
        reference_price: np.ndarray,
        volume: np.ndarray,
        lot_size: np.ndarray,
        min_lot: np.ndarray,
        stamp_duty_rate: float = 0.0005,
        transfer_fee_rate: float = 0.00001,
        close: np.ndarray | None = None,
    ) -> ExchangeMarket:
        """A market without limits, locks, suspensions or known volatility (examples, tests)."""
        shape = np.shape(reference_price)
        days = shape[0]
        return cls(
            reference_price=np.asarray(reference_price, dtype=np.float64),
            limit_up=np.full(shape, np.nan),
            limit_down=np.full(shape, np.nan),
            locked_up=np.zeros(shape, dtype=bool),
            locked_down=np.zeros(shape, dtype=bool),
            suspended=np.zeros(shape, dtype=bool),
            volume=np.asarray(volume, dtype=np.float64),
            volatility=np.full(shape, np.nan),
            lot_size=np.asarray(lot_size, dtype=np.int64),
            min_lot=np.asarray(min_lot, dtype=np.int64),
            stamp_duty_rate=np.full(days, stamp_duty_rate),
            transfer_fee_rate=np.full(days, transfer_fee_rate),
            mark=None if close is None else np.asarray(close, dtype=np.float64),
            close=None if close is None else np.asarray(close, dtype=np.float64),
        )


class Exchange:
    """Fill every book's orders of a session in one kernel call (see the module docs).

    Parameters
    ----------
    market
        The arrays the fills read.
    liquidity, impact
        The models (defaults: each book may take 10 % of the volume; square-root impact with
        ``Y = 0.8`` on its own participation).
    fallback_volatility
        ``sigma`` of the impact law where the volatility is unknown (NaN).
    propagator
        Lasting impact (:class:`~backtest.execution.propagator_nb.Propagator`), or ``None``
        (default): prices are the scenario's and nobody's trading moves them.

    Lasting impact and time
    -----------------------
    With a propagator the Exchange keeps one state per stock, the crowd's cumulative decayed
    impact ``I`` (:mod:`backtest.execution.propagator_nb`), and the prices the books see are
    the fundamental ones moved by it. Session ``t`` runs in this order, so the fills of ``t``
    move prices from ``t``'s close onwards and never before:

    1. :meth:`open` (``t``): the reference price is ``ref_t * (1 + I_{t-1})`` clipped to the
       session's limits; a moved reference at or beyond a limit locks the stock on that side
       (on top of the scenario's own locks); the books' net filled shares are added to the
       session's flow;
    2. :meth:`close` (``t``): ``I_t`` from ``I_{t-1}`` and the session's flow (one
       :func:`~backtest.execution.propagator_nb.propagate_nb` call, even without fills: the
       transient part decays); row ``t`` of :attr:`marks` and :attr:`closes` becomes the
       fundamental row moved by ``I_t``. Rows after ``t`` still hold the fundamental path
       until their own close (a reader must stop at ``t``, as the strategy's context does).

    Without a propagator :meth:`close` only returns the fundamental mark row, and
    :attr:`marks` is the array the market was built with (no copy).
    """

    def __init__(
        self,
        market: ExchangeMarket,
        *,
        liquidity: LiquidityModel | None = None,
        impact: ImpactModel | None = None,
        fallback_volatility: float = 0.02,
        propagator: Propagator | None = None,
    ) -> None:
        self.market = market
        self.liquidity: LiquidityModel = liquidity if liquidity is not None else ParticipationCap()
        self.impact: ImpactModel = impact if impact is not None else SquareRootImpact()
        self.fallback_volatility = float(fallback_volatility)
        self.propagator = propagator
        n = market.lot_size.shape[0]
        days = market.reference_price.shape[0]
        self._no_volatility = np.full(n, np.nan)
        # the session volumes as the kernel reads them (NaN: nothing traded), once per run
        self._day_volume = np.nan_to_num(market.volume, nan=0.0)
        self._cap_volume = np.minimum(self._day_volume, _MAX_CAP_SHARES)
        fundamental_mark, fundamental_close = _fundamental(market)
        if propagator is None:
            #: ``(days, n)``: the prices positions are marked at (moved rows up to the last
            #: :meth:`close` with a propagator; the market's own array without one)
            self.marks = fundamental_mark
            #: ``(days, n)``: the closes the strategies see (moved like :attr:`marks`)
            self.closes = fundamental_close
            return
        if market.mark is None or market.close is None:
            raise ValueError(
                "Exchange: a propagator needs the market's fundamental mark and close "
                "(ExchangeMarket(mark=..., close=...)); they are the prices it moves"
            )
        self.marks = np.array(fundamental_mark, dtype=np.float64)
        self.closes = np.array(fundamental_close, dtype=np.float64)
        self.state = empty_impact_state(n)
        #: ``(days, n)``: ``I_t`` after each session's close (fractions of the fundamental)
        self.impact_path = np.zeros((days, n))
        self._flow = np.zeros(n)
        self._next_close = 0

    def current_impact(self) -> np.ndarray:
        """``I`` as it stands (after the last :meth:`close`); zeros without a propagator."""
        if self.propagator is None:
            return np.zeros(self.market.lot_size.shape[0])
        return self.state.out_transient + self.state.out_permanent

    def session(self, t: int) -> StockSession:
        """The market of session ``t`` as the kernel reads it (volatility: ``t - 1``'s)."""
        market = self.market
        reference_price = market.reference_price[t]
        locked_up = market.locked_up[t]
        locked_down = market.locked_down[t]
        if self.propagator is not None:
            reference_price, at_up, at_down = moved_prices(
                reference_price, self.current_impact(), market.limit_up[t], market.limit_down[t]
            )
            locked_up = locked_up | at_up
            locked_down = locked_down | at_down
        return StockSession(
            reference_price=reference_price,
            limit_up=market.limit_up[t],
            limit_down=market.limit_down[t],
            locked_up=locked_up,
            locked_down=locked_down,
            suspended=market.suspended[t],
            day_volume=self._day_volume[t],
            volatility=market.volatility[t - 1] if t > 0 else self._no_volatility,
            lot_size=market.lot_size,
            min_lot=market.min_lot,
        )

    def close(self, t: int) -> np.ndarray:
        """End session ``t``: advance the impact state, move row ``t``; return the mark row."""
        propagator = self.propagator
        if propagator is None:
            return self.marks[t]
        if t != self._next_close:
            raise ValueError(
                f"Exchange.close: session {t} closed out of order (expected {self._next_close}); "
                "call close once per session, in order"
            )
        market = self.market
        volatility = market.volatility[t - 1] if t > 0 else self._no_volatility
        propagate_nb(
            self._flow,
            self._day_volume[t],
            volatility,
            self.fallback_volatility,
            propagator.close_share * propagator.coefficient,
            propagator.decay,
            propagator.permanent_share,
            self.state,
        )
        self._flow[:] = 0.0
        self._next_close = t + 1
        impact = self.current_impact()
        self.impact_path[t] = impact
        fundamental_mark, fundamental_close = _fundamental(market)
        limit_up, limit_down = market.limit_up[t], market.limit_down[t]
        self.marks[t] = moved_prices(fundamental_mark[t], impact, limit_up, limit_down)[0]
        self.closes[t] = moved_prices(fundamental_close[t], impact, limit_up, limit_down)[0]
        return self.marks[t]

    def open(self, orders: OrderBatch, buying_power: np.ndarray) -> FillBatch:
        """Fill ``orders`` at the open of ``orders.session_index``; return every book's fills.

        ``buying_power[b]`` is the cash book ``b`` may spend (CNY, after its sells' proceeds
        are added by the kernel).
        """
        t = orders.session_index
        session = self.session(t)
        market = self.market
        charges = Charges(
            commission_rate=market.commission_rate,
            min_commission=market.min_commission,
            stamp_duty_rate=float(market.stamp_duty_rate[t]),
            transfer_fee_rate=float(market.transfer_fee_rate[t]),
            impact_coefficient=float(self.impact.coefficient),
            fallback_volatility=self.fallback_volatility,
        )
        order_shares = orders.order_shares
        volume = self._cap_volume[t]
        base, impact_volume = self.impact.terms(order_shares, session.day_volume)
        # the models may return broadcast views (every book alike): the kernel reads any layout
        books = BookOrders(
            order_shares=order_shares,
            sellable_shares=orders.sellable_shares,
            cash_available=np.ascontiguousarray(buying_power, dtype=np.float64),
            cap_shares=np.asarray(self.liquidity.caps(order_shares, volume), dtype=np.int64),
            impact_base_shares=np.asarray(base, dtype=np.float64),
            impact_volume=np.asarray(impact_volume, dtype=np.float64),
        )
        out = empty_fill_out(orders.books, order_shares.shape[1])
        fill_session_nb(session, charges, books, out)
        if self.propagator is not None:
            self._flow += out.out_filled_shares.sum(axis=0)
        return FillBatch.from_kernel(t, order_shares, session.reference_price, out)


def _fundamental(market: ExchangeMarket) -> tuple[np.ndarray, np.ndarray]:
    """The market's ``(mark, close)``; each falls back on the other, then on the reference."""
    close = market.close if market.close is not None else market.mark
    mark = market.mark if market.mark is not None else close
    if mark is None or close is None:
        return market.reference_price, market.reference_price
    return mark, close
