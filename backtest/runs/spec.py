"""A run as a value: the market's identity, the books and the engine config, hashable.

A :class:`RunSpec` is frozen and plain: :meth:`RunSpec.to_json` is canonical JSON (sorted
keys, classes named by ``module:qualname``) and :meth:`RunSpec.from_json` rebuilds an equal
spec; :meth:`RunSpec.hash` is the sha256 of that text, the same for the same spec in any
process. :func:`run` is a pure function of a spec: it loads the market by its reference, builds
each book's strategy from its class and parameters, runs the engine and returns the results (a
sweep sends specs to workers; ``backtest replay`` builds one and calls it).

The market is referenced, never embedded:

- :class:`StoreRef`: a store file, a date range and the store's content hash
  (:meth:`~backtest.market.store.Store.identity`, read when the reference is made); loading
  refuses a store whose content changed since;
- :class:`ScenarioRef`: the calibrated scenario's seed, size and last session, generated in
  memory (deterministic: the same reference gives the same market, to the bit).

Either way the market's identity goes into each book's run hash
(:attr:`Result.config_hash`), so two seeds, or two stores, never share one.

>>> spec = RunSpec(market=ScenarioRef(seed=1, n_stocks=200), books=())
>>> RunSpec.from_json(spec.to_json()) == spec, len(spec.hash())
(True, 64)
>>> spec.hash() == RunSpec(market=ScenarioRef(seed=2, n_stocks=200), books=()).hash()
False
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backtest.engine.benchmark import Benchmark
from backtest.engine.book import Book
from backtest.engine.config import EngineConfig
from backtest.engine.engine import Engine
from backtest.engine.result import Result
from backtest.engine.strategy import Strategy
from backtest.market.panel import MarketData, store_query_identity
from backtest.market.scenario import ScenarioConfig, build_scenario
from backtest.market.store import Store

__all__ = ["BookSpec", "MarketRef", "RunSpec", "ScenarioRef", "StoreRef", "run", "run_on"]


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreRef:
    """A market store file, a date range of it and the content hash it must still have.

    Build it with :meth:`of` (reads the store's identity now).
    """

    path: str
    content_hash: str
    start: str | None = None
    end: str | None = None

    @classmethod
    def of(cls, path: str | Path, *, start: Any = None, end: Any = None) -> StoreRef:
        """Reference ``path`` (opened read-only) as it is now, from ``start`` to ``end``."""
        with Store(path, read_only=True) as store:
            identity = store.identity()
        return cls(
            path=str(path),
            content_hash=identity,
            start=None if start is None else str(start),
            end=None if end is None else str(end),
        )

    def identity(self) -> str:
        """The identity of the market this reference loads (:meth:`MarketData.identity`)."""
        return store_query_identity(self.content_hash, start=self.start, end=self.end)

    def load(self) -> MarketData:
        """Load the referenced range (read-only); refuse a store that changed since.

        Raises
        ------
        ValueError
            The store's identity is no longer ``content_hash`` (rebuilt or imported into).
        """
        with Store(self.path, read_only=True) as store:
            if store.identity() != self.content_hash:
                raise ValueError(
                    f"the market in {self.path} changed since this run was specified (identity "
                    f"{store.identity()}, the spec has {self.content_hash}); make a new spec "
                    "with StoreRef.of(path)"
                )
            return MarketData.from_store(store, start=self.start, end=self.end)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScenarioRef:
    """The calibrated scenario (:class:`~backtest.market.scenario.ScenarioConfig`), in memory.

    Only the seed, the size and the last session vary here; the rest of the scenario's
    settings are its defaults (and the calibration files of this version of the code).
    """

    seed: int = 20240205
    n_stocks: int = 5000
    end: str = "2024-12-31"

    def identity(self) -> str:
        """The market's identity: the sha256 of the scenario's full settings."""
        return hashlib.sha256(self._config().to_json().encode("ascii")).hexdigest()

    def _config(self) -> ScenarioConfig:
        return ScenarioConfig(seed=self.seed, n_stocks=self.n_stocks, end=self.end)

    def load(self) -> MarketData:
        """Generate the scenario into an in-memory store and load it (about 10 s at 5,000)."""
        with Store(":memory:") as store:
            build_scenario(store, self._config())
            market = MarketData.from_store(store)
        return dataclasses.replace(market, source_identity=self.identity())


#: Where a run's market comes from.
MarketRef = StoreRef | ScenarioRef


@dataclass(frozen=True, kw_only=True, slots=True)
class BookSpec:
    """One book of a run: a strategy class with its parameters, its benchmark and cash.

    ``benchmark=None`` takes the strategy's own declaration
    (:meth:`~backtest.engine.strategy.Strategy.benchmark`), as :class:`Book` does.
    """

    name: str
    strategy: type[Strategy[Any]]
    params: Any
    benchmark: Benchmark | None = None
    initial_cash: float | None = None

    def book(self) -> Book:
        """A fresh :class:`Book` (a new strategy instance: strategies may keep state)."""
        return Book(
            name=self.name,
            strategy=self.strategy(self.params),
            benchmark=self.benchmark,
            initial_cash=self.initial_cash,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSpec:
    """A run: the market's reference, the books and the engine's config (module docs)."""

    market: MarketRef
    books: tuple[BookSpec, ...]
    config: EngineConfig = field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        names = [book.name for book in self.books]
        if len(set(names)) != len(names):
            raise ValueError(f"book names must be unique in a run spec, got {names}")

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces; classes as ``module:qualname``."""
        return json.dumps(_encode(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Rebuild a spec from :meth:`to_json` (imports the classes it names)."""
        spec = _decode(json.loads(text))
        if not isinstance(spec, cls):
            raise ValueError(f"the JSON holds a {type(spec).__name__}, not a RunSpec")
        return spec

    def hash(self) -> str:
        """The sha256 (hex) of :meth:`to_json`: equal specs, equal hashes, in any process."""
        return hashlib.sha256(self.to_json().encode("ascii")).hexdigest()


def run(spec: RunSpec) -> dict[str, Result]:
    """Load the spec's market, build its books, run the engine; results by book name."""
    return run_on(spec, spec.market.load())


def run_on(spec: RunSpec, market: MarketData) -> dict[str, Result]:
    """Run the spec on a market already loaded from ``spec.market`` (checked by identity).

    For a caller that needs the market afterwards too (``backtest replay`` prints a table of
    it); the results are those of :func:`run`.

    Raises
    ------
    ValueError
        ``market`` is not the one the spec references.
    """
    if market.identity() != spec.market.identity():
        raise ValueError(
            f"the market given (identity {market.identity()}) is not the one the spec "
            f"references ({spec.market.identity()}); load it with spec.market.load()"
        )
    return Engine(spec.config).run(market, [book.book() for book in spec.books])


# ---------------------------------------------------------------------- canonical JSON codec
def _class_path(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def _import(path: str) -> Any:
    module, _, name = path.partition(":")
    value: Any = importlib.import_module(module)
    for part in name.split("."):
        value = getattr(value, part)
    return value


def _encode(value: Any) -> Any:
    """Plain JSON of specs, configs and strategy parameters, decodable by :func:`_decode`."""
    if isinstance(value, type):
        return {"__class__": _class_path(value)}
    if dataclasses.is_dataclass(value):
        fields = {
            f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return {"__dataclass__": _class_path(type(value)), "fields": fields}
    if isinstance(value, enum.Enum):
        return {"__enum__": _class_path(type(value)), "value": _encode(value.value)}
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"run spec dicts need string keys, got {list(value)[:3]}")
        return {"__dict__": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"a run spec holds only dataclasses, enums, dates, tuples, lists, dicts and scalars; "
        f"got {type(value).__name__} ({value!r:.60})"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__class__" in value:
        return _import(value["__class__"])
    if "__dataclass__" in value:
        kind = _import(value["__dataclass__"])
        return kind(**{k: _decode(v) for k, v in value["fields"].items()})
    if "__enum__" in value:
        return _import(value["__enum__"])(_decode(value["value"]))
    if "__datetime__" in value:
        return dt.datetime.fromisoformat(value["__datetime__"])
    if "__date__" in value:
        return dt.date.fromisoformat(value["__date__"])
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v) for k, v in value["__dict__"].items()}
    if "__float__" in value:
        return float(value["__float__"])
    raise ValueError(f"not a run spec value: {sorted(value)}")
