"""Orders (requests), fills (facts) and the backlog of unfilled targets.

Intent, fact and state apart (nautilus_trader): a :class:`TargetOrder` is an immutable request
("hold these shares"), a :class:`SessionFills` an immutable record of what the fill kernel did,
and the :class:`Backlog` is the engine's state of targets not yet reached.

Backlog rules
-------------
- A target sets, for some symbols, the number of shares the book wants to hold. The order sent
  to the fill kernel each open is the *desired delta* ``target - held`` of every active entry.
- An entry stays active across sessions until the position reaches the target, the entry is
  cancelled, or a new target for that symbol replaces it (which resets its age).
- ``age`` counts the opens at which the entry was sent and not completed: in a crash, the
  backlog of limit-locked sells and its age is the story.

Order state, per symbol: ``NONE -> ACTIVE`` (a target differing from the position)
``ACTIVE -> NONE`` (filled to target, cancelled, or replaced by a target equal to the position)
``ACTIVE -> ACTIVE`` (partly filled or blocked: age + 1; or replaced: age 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetOrder:
    """A request to hold ``target_shares[i]`` of each symbol ``i`` where ``is_set[i]``.

    Created at the close of ``session_index`` (or at an open, from ``on_fill``); it first
    executes at the next open.
    """

    session_index: int
    target_shares: np.ndarray
    is_set: np.ndarray

    def __post_init__(self) -> None:
        if self.target_shares.shape != self.is_set.shape:
            raise ValueError(
                f"target_shares {self.target_shares.shape} and is_set {self.is_set.shape} "
                "must have the same shape"
            )
        if bool(np.any(self.target_shares[self.is_set] < 0)):
            raise ValueError("target_shares must be >= 0 (long-only stock books)")
        object.__setattr__(self, "target_shares", _frozen(self.target_shares.astype(np.int64)))
        object.__setattr__(self, "is_set", _frozen(self.is_set.astype(bool)))


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionFills:
    """What the fill kernel did at one open, for every symbol that had an order.

    Arrays are aligned and read-only; ``symbol_index`` points into the market's symbols.
    ``filled_shares`` is signed (+ bought, - sold); ``status`` holds ``FillStatus`` codes;
    ``fill_price`` includes impact (NaN where nothing filled); costs are in CNY.
    """

    session_index: int
    symbol_index: np.ndarray
    order_shares: np.ndarray
    filled_shares: np.ndarray
    reference_price: np.ndarray
    fill_price: np.ndarray
    impact: np.ndarray
    commission: np.ndarray
    stamp_duty: np.ndarray
    transfer_fee: np.ndarray
    status: np.ndarray

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, name, _frozen(value))

    def __len__(self) -> int:
        return int(self.symbol_index.size)

    @property
    def traded_notional(self) -> float:
        """Sum of ``|filled| * fill_price`` (CNY)."""
        mask = self.filled_shares != 0
        return float(np.sum(np.abs(self.filled_shares[mask]) * self.fill_price[mask]))


class Backlog:
    """Active targets of one book (engine-owned state; see the module docs)."""

    def __init__(self, n: int) -> None:
        self.target_shares = np.zeros(n, dtype=np.int64)
        self.active = np.zeros(n, dtype=bool)
        self.age = np.zeros(n, dtype=np.int32)

    def replace(self, order: TargetOrder, held: np.ndarray) -> None:
        """Replace the targets of the symbols the order sets (ages reset to 0)."""
        mask = order.is_set
        self.target_shares[mask] = order.target_shares[mask]
        self.age[mask] = 0
        self.active[mask] = order.target_shares[mask] != held[mask]

    def cancel(self, mask: np.ndarray) -> None:
        """Drop the entries of the masked symbols."""
        self.active[mask] = False
        self.age[mask] = 0

    def orders(self, held: np.ndarray) -> np.ndarray:
        """Return the signed desired deltas (int64) to send to the fill kernel."""
        return np.where(self.active, self.target_shares - held, 0)

    def scale(self, ratio: np.ndarray) -> None:
        """Scale active targets by a corporate action's share ratio (rounded to nearest)."""
        changed = self.active & (ratio != 1.0)
        self.target_shares[changed] = np.rint(self.target_shares[changed] * ratio[changed]).astype(
            np.int64
        )

    def remaining(self, held: np.ndarray) -> np.ndarray:
        """Signed shares still wanted (0 where no active entry)."""
        return self.orders(held)
