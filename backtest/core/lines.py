"""The ledger's lines: one enumeration of everything that changes a book's equity.

A book's equity moves by its **entries**: per session, an amount in CNY on each :class:`Line`.
The engine books them as they happen (cash moves only through
:meth:`backtest.engine.portfolio.Ledger.post`) and values the holdings at the close; the
entries of a session sum to its equity change,

    E_t - E_{t-1} = sum over lines of entry_t(line)

(a test holds it for every golden book; round-off only). Costs are negative amounts.
Attribution reads these lines instead of rebuilding them from fills and positions.

Stock lines, with ``p`` the positions held overnight (after a corporate action scaled them by
``a = adj_t / adj_{t-1}``, keeping ``floor(s a)`` shares and paying the fraction ``f``),
``m`` the marks, ``q`` the signed fills at reference price ``ref`` and fill price ``fill``:

- ``STOCK_PRICE = sum(p m_t) + sum(f m_t) - sum(s_{t-1} m_{t-1})``: what the overnight holdings
  earned at the adjusted return ``a m_t / m_{t-1} - 1`` (``p + f = s_{t-1} a``);
- ``TRADING = sum(q (m_t - ref))``: the session's trades marked from the reference price to the
  close;
- ``IMPACT = -sum(|fill - ref| |q|)``, ``COMMISSION``, ``STAMP_DUTY``, ``TRANSFER_FEE``: costs;
- ``CORPORATE_ACTION = sum(f m_{t-1} / a) - sum(f m_t)``: the fraction paid in cash at the
  ex-price, less what the adjusted return credits it with (a few CNY at most).

Futures and financing lines (:mod:`backtest.engine.futures.account`): the variation margin
``futures_pnl = FUTURES_INDEX + BASIS_CARRY + ROLL`` (the index move on the contracts held, the
change of the basis, and the basis paid or received when rolling), ``FUTURES_FEES`` and
``FINANCING`` (interest on the financed amount, accrued per calendar day).

>>> Line.BASIS_CARRY.label
'basis_carry'
>>> [line.label for line in Line][:3]
['stock_price', 'trading', 'impact']
"""

from __future__ import annotations

import enum

__all__ = ["COST_LINES", "LINES", "Line"]


class Line(enum.IntEnum):
    """A ledger line (``int8`` code in entry arrays); ``label`` is its column name."""

    STOCK_PRICE = 0
    TRADING = 1
    IMPACT = 2
    COMMISSION = 3
    STAMP_DUTY = 4
    TRANSFER_FEE = 5
    CORPORATE_ACTION = 6
    FUTURES_INDEX = 7
    BASIS_CARRY = 8
    ROLL = 9
    FUTURES_FEES = 10
    FINANCING = 11

    @property
    def label(self) -> str:
        """The line's name in frames and tables (``"stock_price"``, ``"basis_carry"``...)."""
        return self.name.lower()


#: every line, in code order
LINES: tuple[Line, ...] = tuple(Line)
#: the stock trading costs, in the order the fill kernel reports them
COST_LINES: tuple[Line, ...] = (Line.IMPACT, Line.COMMISSION, Line.STAMP_DUTY, Line.TRANSFER_FEE)
