"""A sweep as a value: one base run and the axes it varies, read from TOML, expanded to cells.

A sweep file names the market, the books, the engine settings every cell shares, and the axes
(a full grid, or a seeded random sample of it). Each cell is a :class:`~backtest.runs.spec.RunSpec`,
so a cell's run hash (:meth:`RunSpec.hash`) names it in the runs store and a cell can be rerun
alone with :func:`~backtest.runs.spec.run`::

    name = "impact-participation"
    books = "replay"                  # the six books of ``backtest replay`` (the default)

    [market]
    source = "store"                  # the --store file (built when empty, with [market.build])
    start = "2023-12-01"              # optional window of it
    end = "2024-02-29"

    [config]                          # EngineConfig fields every cell shares
    initial_cash = 1e8

    [grid]                            # each axis a list; every combination is a cell
    "config.impact_coefficient" = [0.4, 0.8, 1.2]
    "config.participation_cap" = [0.05, 0.10]

Axes (the key says what varies):

- ``config.<field>``: an :class:`~backtest.engine.EngineConfig` field;
- ``market.<field>``: ``seed``, ``n_stocks`` or ``end`` of a scenario market, ``start`` or
  ``end`` of a store market; ``window``: ``[start, end]`` pairs of a store market;
- ``books.<book>.<field>``: a field of one book's strategy parameters
  (``books.microcap.names``).

``[random]`` instead of ``[grid]``: ``samples`` cells drawn with ``seed``
(``numpy.random.default_rng``); each axis in ``[random.axes]`` is a list (one value drawn
uniformly) or ``{low = .., high = .., log = false}`` (a uniform draw, rounded to 6 significant
digits). Cells with equal run hashes are kept once.

``books`` may instead be a list of tables, ``[[books]]`` with ``name``, ``strategy``
(``"module:Class"``), ``params`` (``"module:Class"`` of its parameters), ``values`` (the
parameters' fields), and optionally ``benchmark`` (an index code or ``"cash"``) and
``initial_cash``.

>>> spec = SweepSpec.from_dict({
...     "name": "doc", "market": {"source": "scenario", "n_stocks": 100, "end": "2023-03-31"},
...     "grid": {"config.impact_coefficient": [0.4, 0.8], "market.seed": [1, 2]}})
>>> [tuple(value for _, value in cell.values) for cell in spec.cells()]
[(0.4, 1), (0.4, 2), (0.8, 1), (0.8, 2)]
>>> len({cell.spec.hash() for cell in spec.cells()})
4
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from backtest.apps.replay import default_book_specs
from backtest.engine.benchmark import Benchmark
from backtest.engine.config import EngineConfig
from backtest.runs.spec import BookSpec, MarketRef, RunSpec, ScenarioRef, StoreRef, _import

__all__ = ["Axis", "Cell", "MarketSettings", "SweepSpec", "load_sweep"]

Sampling = Literal["grid", "random"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Axis:
    """One swept setting: its key (module docs) and its values, or a range to draw from."""

    key: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        """One value drawn for a random sample (a listed value, or a uniform draw)."""
        if self.values:
            return self.values[int(rng.integers(len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = float(rng.uniform(self.low, self.high))
        return float(f"{value:.6g}")


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketSettings:
    """Where the cells' market comes from.

    ``source="store"``: the ``--store`` file, windowed by ``start``/``end``, built from the
    scenario of ``build`` (:class:`~backtest.market.scenario.ScenarioConfig` fields) when it
    is missing or empty. ``source="scenario"``: the scenario ``seed``/``n_stocks``/``end``
    generated in memory (:class:`~backtest.runs.spec.ScenarioRef`).
    """

    source: Literal["store", "scenario"] = "store"
    start: str | None = None
    end: str | None = None
    seed: int | None = None
    n_stocks: int | None = None
    build: tuple[tuple[str, Any], ...] = ()

    def reference(self, store: Path | None) -> MarketRef:
        """The base market reference (reads the store's identity for a store market)."""
        if self.source == "scenario":
            given: dict[str, Any] = {"seed": self.seed, "n_stocks": self.n_stocks, "end": self.end}
            return ScenarioRef(**{k: v for k, v in given.items() if v is not None})
        if store is None:
            raise ValueError("this sweep reads a market store: give its path (--store PATH)")
        return StoreRef.of(store, start=self.start, end=self.end)


@dataclass(frozen=True, kw_only=True, slots=True)
class Cell:
    """One run of a sweep: its position, the axis values that make it, and its run spec."""

    index: int
    values: tuple[tuple[str, Any], ...]
    spec: RunSpec

    @property
    def run_id(self) -> str:
        """The cell's name in the runs store: its run hash."""
        return self.spec.hash()


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepSpec:
    """A sweep (module docs): a base run, its axes, grid or seeded random sampling."""

    name: str
    market: MarketSettings = field(default_factory=MarketSettings)
    books: tuple[BookSpec, ...] | None = None  # None: the six books of the replay
    config: EngineConfig = field(default_factory=EngineConfig)
    axes: tuple[Axis, ...] = ()
    sampling: Sampling = "grid"
    samples: int = 0
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "the sweep") -> SweepSpec:
        """Validate a parsed sweep file; errors name the table and key to fix."""
        known = {"name", "books", "market", "config", "grid", "random"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; a sweep has {sorted(known)}")
        if ("grid" in data) == ("random" in data):
            raise ValueError(f"{where}: give exactly one of [grid] or [random] (its axes)")
        market = _market(data.get("market", {}), where)
        try:
            config = EngineConfig(**data.get("config", {}))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: [config]: {exc}") from exc
        books = _books(data.get("books", "replay"), where)
        if "grid" in data:
            axes = tuple(_axis(key, value, where, "grid") for key, value in data["grid"].items())
            spec = cls(name=str(data.get("name", "sweep")), market=market, books=books)
            spec = dataclasses.replace(spec, config=config, axes=axes)
        else:
            table = dict(data["random"])
            samples, seed = table.pop("samples", None), table.pop("seed", None)
            raw_axes = table.pop("axes", {})
            if not isinstance(samples, int) or samples < 1 or not isinstance(seed, int) or table:
                raise ValueError(
                    f"{where}: [random] needs samples (an int >= 1), seed (an int) and "
                    f"[random.axes]; got {sorted(data['random'])}"
                )
            axes = tuple(_axis(key, value, where, "random") for key, value in raw_axes.items())
            spec = cls(
                name=str(data.get("name", "sweep")),
                market=market,
                books=books,
                config=config,
                axes=axes,
                sampling="random",
                samples=samples,
                seed=seed,
            )
        for axis in spec.axes:  # refuse a bad key before any work, with its table
            _check_key(spec, axis.key, where)
        return spec

    def cells(self, store: Path | None = None) -> list[Cell]:
        """Every cell, in grid (or draw) order; duplicates by run hash kept once.

        Raises
        ------
        ValueError
            A value an axis gives is refused by its setting (the message names the axis).
        """

        base = RunSpec(
            market=self.market.reference(store),
            books=self.books if self.books is not None else default_book_specs(),
            config=self.config,
        )
        if self.sampling == "grid":
            combos = list(itertools.product(*(axis.values for axis in self.axes)))
        else:
            rng = np.random.default_rng(self.seed)
            combos = [tuple(axis.draw(rng) for axis in self.axes) for _ in range(self.samples)]
        cells: list[Cell] = []
        seen: set[str] = set()
        for combo in combos:
            spec = base
            values = tuple((axis.key, value) for axis, value in zip(self.axes, combo, strict=True))
            for key, value in values:
                spec = _apply(spec, key, value)
            if spec.hash() not in seen:
                seen.add(spec.hash())
                cells.append(Cell(index=len(cells), values=values, spec=spec))
        return cells


def load_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep file (TOML, module docs)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    return SweepSpec.from_dict(data, where=str(path))


# ---------------------------------------------------------------------- parsing helpers
def _market(table: dict[str, Any], where: str) -> MarketSettings:
    fields = {f.name for f in dataclasses.fields(MarketSettings)}
    unknown = sorted(set(table) - fields)
    if unknown:
        raise ValueError(f"{where}: [market] has unknown keys {unknown}; it has {sorted(fields)}")
    values = dict(table)
    if "build" in values:
        values["build"] = tuple(sorted(values["build"].items()))
    for key in ("start", "end"):
        if key in values:
            values[key] = str(values[key])
    market = MarketSettings(**values)
    if market.source not in ("store", "scenario"):
        raise ValueError(f"{where}: [market] source must be 'store' or 'scenario'")
    if market.source == "scenario" and market.start is not None:
        raise ValueError(f"{where}: a scenario market starts on 2023-01-03; drop [market] start")
    return market


def _books(value: Any, where: str) -> tuple[BookSpec, ...] | None:
    if value == "replay":
        return None
    if not isinstance(value, list) or not value:
        raise ValueError(f'{where}: books must be "replay" or a list of [[books]] tables')
    books = []
    for table in value:
        try:
            params = _import(table["params"])(**table.get("values", {}))
            benchmark = table.get("benchmark")
            books.append(
                BookSpec(
                    name=table["name"],
                    strategy=_import(table["strategy"]),
                    params=params,
                    benchmark=None if benchmark is None else Benchmark.parse(benchmark),
                    initial_cash=table.get("initial_cash"),
                )
            )
        except (KeyError, TypeError, ValueError, ImportError, AttributeError) as exc:
            raise ValueError(
                f"{where}: [[books]] {table.get('name', '?')!r}: {exc!r}; a book needs name, "
                "strategy and params ('module:Class'), and values (the parameters' fields)"
            ) from exc
    return tuple(books)


def _axis(key: str, value: Any, where: str, table: str) -> Axis:
    if isinstance(value, list) and value:
        values = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        return Axis(key=key, values=values)
    if table == "random" and isinstance(value, dict) and {"low", "high"} <= set(value):
        low, high = float(value["low"]), float(value["high"])
        log = bool(value.get("log", False))
        if not low < high or (log and low <= 0):
            raise ValueError(f"{where}: axis {key!r}: need low < high (and low > 0 with log)")
        return Axis(key=key, low=low, high=high, log=log)
    shape = "a non-empty list" + (" or {low, high}" if table == "random" else "")
    raise ValueError(f"{where}: axis {key!r} in [{table}] must be {shape}; got {value!r}")


def _check_key(spec: SweepSpec, key: str, where: str) -> None:
    head, _, rest = key.partition(".")
    config_fields = {f.name for f in dataclasses.fields(EngineConfig)}
    market_fields = (
        {"seed", "n_stocks", "end"}
        if spec.market.source == "scenario"
        else {
            "start",
            "end",
        }
    )
    ok = (
        (head == "config" and rest in config_fields)
        or (head == "market" and rest in market_fields)
        or (key == "window" and spec.market.source == "store")
        or (head == "books" and rest.count(".") == 1)
    )
    if not ok:
        raise ValueError(
            f"{where}: axis {key!r} is not a setting; axes are config.<EngineConfig field>, "
            f"market.{{{','.join(sorted(market_fields))}}}"
            + (", window" if spec.market.source == "store" else "")
            + " or books.<book>.<parameter>"
        )


def _apply(spec: RunSpec, key: str, value: Any) -> RunSpec:
    """``spec`` with the setting ``key`` (module docs) set to ``value``."""
    head, _, rest = key.partition(".")
    try:
        if head == "config":
            return dataclasses.replace(
                spec, config=dataclasses.replace(spec.config, **{rest: value})
            )
        market: Any = spec.market  # StoreRef or ScenarioRef: the axis key was checked for it
        if key == "window":
            start, end = value
            market = dataclasses.replace(market, start=str(start), end=str(end))
            return dataclasses.replace(spec, market=market)
        if head == "market":
            text = str(value) if rest in ("start", "end") else value
            return dataclasses.replace(spec, market=dataclasses.replace(market, **{rest: text}))
        book_name, _, parameter = rest.partition(".")
        names = [book.name for book in spec.books]
        if book_name not in names:
            raise ValueError(f"no book {book_name!r}; the books are {names}")
        books = tuple(
            dataclasses.replace(book, params=dataclasses.replace(book.params, **{parameter: value}))
            if book.name == book_name
            else book
            for book in spec.books
        )
        return dataclasses.replace(spec, books=books)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"axis {key!r} = {value!r}: {exc}") from exc
