"""The Exchange's seams: how much of the market a book may take, and what its trading costs it.

Two small protocols, zipline's slippage/commission split made array-wise: a model turns every
book's orders of one session into arrays the fill kernel (:mod:`backtest.execution.fill_nb`)
reads, so a new law is a new model, never a new kernel or a new engine.

- :class:`LiquidityModel` sets ``cap_shares[b, i]``, the most shares book ``b`` may trade in stock
  ``i`` this session;
- :class:`ImpactModel` sets the square-root law's coefficient ``Y`` and, per book and stock, the
  participation it is measured on: ``fill_price = ref * (1 ± Y * sigma * sqrt((q0 + q) / Vi))``
  with ``q0 = impact_base_shares[b, i]`` and ``Vi = impact_volume[b, i]``.

The defaults reproduce the single-book engine exactly ("independent" mode): every book sees the
whole session volume (:class:`ParticipationCap`) and pays for its own participation only
(:class:`SquareRootImpact`). The shared-liquidity mode is another pair of models
(:mod:`backtest.execution.crowd`): caps that split ``cap * V`` among the books trading a stock
(:class:`~backtest.execution.crowd.SharedProRata`), and impact measured on the crowd's flow
(:class:`~backtest.execution.crowd.CrowdSquareRoot`, ``q0`` = the other books' shares).

>>> import numpy as np
>>> orders = np.array([[1_000, -500], [0, 200]])
>>> ParticipationCap(0.1).caps(orders, np.array([15_000.0, np.nan])).tolist()  # every book
[[1500, 0]]
>>> base, volume = SquareRootImpact(0.8).terms(orders, np.array([15_000.0, 1e6]))
>>> base.tolist(), volume.tolist()
([[0.0, 0.0]], [[15000.0, 1000000.0]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ImpactModel", "LiquidityModel", "ParticipationCap", "SquareRootImpact"]


@runtime_checkable
class LiquidityModel(Protocol):
    """How many shares each book may trade per stock in one session."""

    def caps(self, order_shares: np.ndarray, day_volume: np.ndarray) -> np.ndarray:
        """Return ``int64[books, n]`` caps (>= 0) for ``order_shares int64[books, n]``.

        ``int64[1, n]`` (one row) gives every book the same caps.

        ``day_volume`` is the session's market volume per stock (NaN or <= 0: none traded; the
        kernel blocks those orders before it reads the cap).
        """
        ...


@runtime_checkable
class ImpactModel(Protocol):
    """The square-root law's coefficient and the participation each book's impact is measured on."""

    @property
    def coefficient(self) -> float:
        """``Y`` of ``ref * (1 ± Y * sigma * sqrt((q0 + q) / Vi))``."""
        ...

    def terms(
        self, order_shares: np.ndarray, day_volume: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(impact_base_shares, impact_volume)``, ``float64[books, n]`` or ``[1, n]``.

        One row applies to every book.
        """
        ...


def _usable(day_volume: np.ndarray) -> np.ndarray:
    return np.isfinite(day_volume) & (day_volume > 0.0)


@dataclass(frozen=True, slots=True)
class ParticipationCap:
    """Each book alone may trade up to ``fraction`` of the session's volume (independent mode).

    ``cap = floor(fraction * V)`` shares per book and stock, whatever the other books do: the
    books do not share liquidity (each is filled as if it were the only one in the market).
    """

    fraction: float = 0.10

    def __post_init__(self) -> None:
        if not (0.0 < self.fraction <= 1.0) or math.isnan(self.fraction):
            raise ValueError(
                f"ParticipationCap: fraction={self.fraction!r} must be in (0, 1] "
                "(a share of the session's volume)"
            )

    def caps(self, order_shares: np.ndarray, day_volume: np.ndarray) -> np.ndarray:
        usable = _usable(day_volume)
        per_stock = np.floor(self.fraction * np.where(usable, day_volume, 0.0)).astype(np.int64)
        return per_stock[None, :]  # one row: every book alike


@dataclass(frozen=True, slots=True)
class SquareRootImpact:
    """Square-root impact on each book's own participation (Almgren et al. 2005; Tóth et al. 2011).

    ``fill_price = ref * (1 ± Y * sigma * sqrt(q / V))``: ``q0 = 0`` and ``Vi = V`` for every
    book, so a book pays only for its own shares.
    """

    coefficient: float = 0.8

    def __post_init__(self) -> None:
        if not (0.0 <= self.coefficient <= 10.0):
            raise ValueError(
                f"SquareRootImpact: coefficient={self.coefficient!r} must be in [0, 10]"
            )

    def terms(
        self, order_shares: np.ndarray, day_volume: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        n = order_shares.shape[1]
        volume = np.asarray(day_volume, dtype=np.float64)[None, :]
        return np.zeros((1, n)), volume  # one row each: every book alike
