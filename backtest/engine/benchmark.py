"""What a book is measured against: an index of the market, cash, or a user's return series.

A :class:`Benchmark` is declared with the book (:class:`~backtest.engine.book.Book`, or a
strategy's :meth:`~backtest.engine.strategy.Strategy.benchmark`), carried by its
:class:`~backtest.engine.result.Result` and saved with it; compare, attribution and the report
read it from there and never guess it.

Three kinds:

``index``
    An index code of the market (``"000905"`` CSI 500, ``"MICRO400"`` the microcap index):
    daily returns from the market's index closes, and its published weights for the
    holdings-based attribution.
``cash``
    Earns 0 and holds nothing: the benchmark of absolute-return books (market-neutral, DMA),
    whose excess is their return.
``series``
    A user's daily simple returns by session date (a peer index, a mandate's hurdle): the
    return dated ``d`` is the benchmark's return over session ``d`` (previous close to the
    close of ``d``). It holds nothing, so in the attribution all of its return is
    ``benchmark_replication``. :meth:`Benchmark.from_levels` turns levels into such returns
    (the first level is the base: its return is 0; give one level before a run's first
    session to measure that session).

>>> Benchmark.index("000905").label, Benchmark.cash().label
('000905', 'cash')
>>> Benchmark.from_levels("peer", ["2024-02-05", "2024-02-06"], [100.0, 125.0]).returns
(0.0, 0.25)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

BenchmarkKind = Literal["index", "cash", "series"]
BENCHMARK_KINDS: tuple[BenchmarkKind, ...] = ("index", "cash", "series")
#: The label of the cash benchmark (as the report's ``--benchmark cash`` spells it).
CASH = "cash"


@dataclass(frozen=True, kw_only=True, slots=True)
class Benchmark:
    """A book's benchmark (see the module docs); build it with the class methods.

    Attributes
    ----------
    kind
        ``"index"``, ``"cash"`` or ``"series"``.
    label
        The index code, ``"cash"``, or the series' name.
    dates, returns
        The series' session dates and daily simple returns (empty for the other kinds).
    """

    kind: BenchmarkKind
    label: str
    dates: tuple[dt.date, ...] = ()
    returns: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in BENCHMARK_KINDS:
            raise ValueError(f"benchmark kind must be one of {BENCHMARK_KINDS}, got {self.kind!r}")
        if not self.label:
            raise ValueError("a benchmark needs a label (an index code, 'cash' or a name)")
        if self.kind == "cash" and self.label != CASH:
            raise ValueError(f"the cash benchmark is labelled {CASH!r}, got {self.label!r}")
        if self.kind == "index" and self.label == CASH:
            raise ValueError("'cash' is not an index code: use Benchmark.cash()")
        if self.kind != "series" and (self.dates or self.returns):
            raise ValueError(f"only a series benchmark has dates and returns (got {self.kind})")
        if self.kind == "series":
            if not self.dates or len(self.dates) != len(self.returns):
                raise ValueError(
                    f"benchmark series {self.label!r} needs one return per date; got "
                    f"{len(self.dates)} dates and {len(self.returns)} returns"
                )
            if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
                raise ValueError(f"benchmark series {self.label!r}: dates must be increasing")
            bad = [i for i, r in enumerate(self.returns) if not (math.isfinite(r) and r > -1.0)]
            if bad:
                raise ValueError(
                    f"benchmark series {self.label!r}: the return on {self.dates[bad[0]]} is "
                    f"{self.returns[bad[0]]}; daily returns must be finite and > -1"
                )

    @classmethod
    def index(cls, code: str) -> Benchmark:
        """The index ``code`` of the market (its closes and weights)."""
        return cls(kind="index", label=code)

    @classmethod
    def cash(cls) -> Benchmark:
        """Cash: a return of 0 every session, no holdings."""
        return cls(kind="cash", label=CASH)

    @classmethod
    def parse(cls, text: str) -> Benchmark:
        """``"cash"`` -> :meth:`cash`; any other text is an index code (CLI and saved runs)."""
        return cls.cash() if text == CASH else cls.index(text)

    @classmethod
    def from_returns(cls, name: str, dates: Sequence[Any], returns: ArrayLike) -> Benchmark:
        """A series of daily simple returns, one per session date (dates as ISO text or dates)."""
        values = np.asarray(returns, dtype=np.float64)
        return cls(
            kind="series",
            label=name,
            dates=tuple(_as_date(d) for d in dates),
            returns=tuple(float(r) for r in values.tolist()),
        )

    @classmethod
    def from_levels(cls, name: str, dates: Sequence[Any], levels: ArrayLike) -> Benchmark:
        """A series of levels by session date: ``r_t = L_t / L_{t-1} - 1``, ``r_0 = 0``."""
        values = np.asarray(levels, dtype=np.float64)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"benchmark series {name!r}: levels must be finite and > 0")
        returns = np.concatenate(([0.0], values[1:] / values[:-1] - 1.0))
        return cls.from_returns(name, dates, returns)

    def series_returns(self, dates: NDArray[np.datetime64]) -> NDArray[np.float64]:
        """Return a series benchmark's returns on ``dates`` (every one must be in the series).

        Raises
        ------
        ValueError
            The benchmark is not a series, or a session of ``dates`` is not in it.
        """
        if self.kind != "series":
            raise ValueError(f"benchmark {self.label!r} is an {self.kind}, not a series")
        own = np.array(self.dates, dtype="datetime64[D]")
        wanted = np.asarray(dates, dtype="datetime64[D]")
        where = np.clip(np.searchsorted(own, wanted), 0, own.size - 1)
        missing = own[where] != wanted
        if bool(np.any(missing)):
            raise ValueError(
                f"benchmark series {self.label!r} has no return on session "
                f"{wanted[missing][0]}; it covers {own[0]}..{own[-1]} ({own.size} dates)"
            )
        return np.asarray(self.returns, dtype=np.float64)[where]

    def to_plain(self) -> dict[str, Any]:
        """Plain JSON values (saved with a result and in a run spec)."""
        plain: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.kind == "series":
            plain |= {"dates": [d.isoformat() for d in self.dates], "returns": list(self.returns)}
        return plain

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> Benchmark:
        """Inverse of :meth:`to_plain`."""
        return cls(
            kind=plain["kind"],
            label=plain["label"],
            dates=tuple(_as_date(d) for d in plain.get("dates", ())),
            returns=tuple(float(r) for r in plain.get("returns", ())),
        )


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))
