"""The DuckDB store: schema, validated transactional writes, reads and dense panels."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.core.ids import board_of
from backtest.market.schema import TABLES
from backtest.market.store import Store, StoreValidationError

SESSIONS = [dt.date(2024, 2, 1), dt.date(2024, 2, 2), dt.date(2024, 2, 5), dt.date(2024, 2, 6)]
SYMBOLS = ["000001", "300750", "600000", "688981"]


def _instruments(symbols: list[str]) -> pl.DataFrame:
    boards = [board_of(s) for s in symbols]
    return pl.DataFrame(
        {
            "symbol": symbols,
            "name": [f"stock {s}" for s in symbols],
            "exchange": [b[0] for b in boards],
            "board": [b[1] for b in boards],
        }
    )


def _bars(sessions: list[dt.date], symbols: list[str], seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in sessions:
        for s in symbols:
            close = float(np.round(rng.uniform(5, 50), 2))
            rows.append(
                {
                    "date": d,
                    "symbol": s,
                    "open": close,
                    "high": close * 1.02,
                    "low": close * 0.98,
                    "close": close,
                    "pre_close": close,
                    "volume": int(rng.integers(0, 10**6)),
                    "amount": close * 1000.0,
                    "adj_factor": 1.0,
                    "limit_up": round(close * 1.1, 2),
                    "limit_down": round(close * 0.9, 2),
                    "suspended": False,
                    "float_cap": 1e9,
                    "total_cap": 2e9,
                    "is_st": False,
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture()
def store(tmp_path) -> Store:
    s = Store(tmp_path / "market.duckdb")
    s.write("calendar", pl.DataFrame({"date": SESSIONS}), source="test")
    s.write("instruments", _instruments(SYMBOLS), source="test")
    s.write("bars", _bars(SESSIONS, SYMBOLS), source="test", params={"seed": 0})
    yield s
    s.close()


def _contents(store: Store) -> dict[str, pl.DataFrame]:
    return {name: store.read(name) for name in TABLES if name != "provenance"}


def test_schema_creates_every_table(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        info = s.info()
    assert set(info["table"]) == set(TABLES)


def test_write_records_provenance_with_params(store):
    prov = store.provenance().filter(pl.col("table_name") == "bars")
    assert prov.height == 1
    assert json.loads(prov["params"][0]) == {"seed": 0}
    assert prov["rows"][0] == len(SESSIONS) * len(SYMBOLS)


def test_store_persists_across_reopen(tmp_path):
    path = tmp_path / "m.duckdb"
    with Store(path) as s:
        s.write("calendar", pl.DataFrame({"date": SESSIONS}), source="test")
    with Store(path, read_only=True) as s:
        assert s.calendar().tolist() == [np.datetime64(d) for d in SESSIONS]


@pytest.mark.parametrize(
    ("mutate", "column", "fragment"),
    [
        (lambda f: f.drop("close"), "close", "required column is missing"),
        (
            lambda f: f.with_columns(
                close=pl.when(pl.int_range(pl.len()) == 5).then(float("nan")).otherwise("close")
            ),
            "close",
            "NaN",
        ),
        (
            lambda f: f.with_columns(
                open=pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise("open")
            ),
            "open",
            "> 0",
        ),
        (lambda f: f.with_columns(high=pl.col("low") * 0.5), "high", "high < low"),
        (lambda f: pl.concat([f, f.tail(1)]), "symbol", "duplicate key"),
        (
            lambda f: f.with_columns(
                date=pl.when(pl.int_range(pl.len()) == 0)
                .then(pl.lit(dt.date(2024, 2, 3)))
                .otherwise("date")
            ),
            "date",
            "not a session",
        ),
        (
            lambda f: f.with_columns(
                symbol=pl.when(pl.int_range(pl.len()) == 0)
                .then(pl.lit("600999"))
                .otherwise("symbol")
            ),
            "symbol",
            "not in 'instruments'",
        ),
        (lambda f: f.with_columns(bogus=pl.lit(1)), "bogus", "unknown column"),
        (lambda f: f.with_columns(volume=pl.lit("many")), "volume", "does not convert"),
    ],
    ids=[
        "missing",
        "nan",
        "negative",
        "high_lt_low",
        "duplicate",
        "off_calendar",
        "unknown_symbol",
        "extra_column",
        "bad_type",
    ],
)
def test_malformed_bars_are_refused_and_store_unchanged(store, mutate, column, fragment):
    before = _contents(store)
    prov_before = store.provenance().height
    bad = mutate(_bars(SESSIONS[:2], SYMBOLS, seed=9))
    with pytest.raises(StoreValidationError) as info:
        store.write("bars", bad, source="bad")
    message = str(info.value)
    assert "table 'bars'" in message
    assert f"column '{column}'" in message
    assert fragment in message
    after = _contents(store)
    for name in before:
        assert before[name].equals(after[name]), name
    assert store.provenance().height == prov_before


def test_error_names_the_offending_row(store):
    bad = _bars(SESSIONS[:1], SYMBOLS, seed=3).with_columns(
        close=pl.when(pl.col("symbol") == "300750").then(float("nan")).otherwise("close")
    )
    with pytest.raises(StoreValidationError, match=r"row 1 \(date=2024-02-01, symbol=300750"):
        store.write("bars", bad, source="bad")


def test_transaction_rolls_back_every_write_on_error(store):
    before = _contents(store)
    with pytest.raises(RuntimeError, match="interrupted"), store.transaction() as tx:
        tx.write("bars", _bars(SESSIONS, SYMBOLS, seed=5), source="x")
        tx.write(
            "index_bars",
            pl.DataFrame(
                {
                    "date": SESSIONS[:1],
                    "index_code": ["000300"],
                    "open": [1.0],
                    "high": [1.0],
                    "low": [1.0],
                    "close": [1.0],
                }
            ),
            source="x",
        )
        raise RuntimeError("interrupted")
    after = _contents(store)
    for name in before:
        assert before[name].equals(after[name]), name


def test_upsert_replaces_rows_with_the_same_key(store):
    new = _bars(SESSIONS[:1], SYMBOLS[:1], seed=42).with_columns(
        close=pl.lit(12.34), open=pl.lit(12.34), high=pl.lit(12.5), low=pl.lit(12.0)
    )
    store.write("bars", new, source="fix")
    got = store.read("bars", where={"symbol": [SYMBOLS[0]]}, start=SESSIONS[0], end=SESSIONS[0])
    assert got.height == 1 and got["close"][0] == 12.34
    assert store.read("bars").height == len(SESSIONS) * len(SYMBOLS)


def test_append_refuses_a_stored_key(store):
    with pytest.raises(StoreValidationError, match="already stored"):
        store.write("bars", _bars(SESSIONS[:1], SYMBOLS[:1]), source="x", mode="append")


def test_replace_empties_the_table_first(store):
    store.write("bars", _bars(SESSIONS[:1], SYMBOLS[:2]), source="x", mode="replace")
    assert store.read("bars").height == 2


def test_bars_before_calendar_are_refused(tmp_path):
    with Store(tmp_path / "e.duckdb") as s:
        s.write("instruments", _instruments(SYMBOLS), source="t")
        with pytest.raises(StoreValidationError, match="write 'calendar' first"):
            s.write("bars", _bars(SESSIONS, SYMBOLS), source="t")


def test_panel_matches_rows_and_fills_gaps(store):
    store.write("instruments", _instruments(["002594"]), source="t")
    panel = store.panel(["close", "volume", "suspended"])
    assert panel.shape == (len(SESSIONS), len(SYMBOLS) + 1)
    bars = store.read("bars")
    j = {s: k for k, s in enumerate(panel.symbols.tolist())}
    i = {d: k for k, d in enumerate(panel.dates.astype(object).tolist())}
    for row in bars.iter_rows(named=True):
        assert panel["close"][i[row["date"]], j[row["symbol"]]] == row["close"]
        assert panel["volume"][i[row["date"]], j[row["symbol"]]] == row["volume"]
    assert np.isnan(panel["close"][:, j["002594"]]).all()
    assert panel["suspended"].dtype == bool and not panel["suspended"].any()


def test_panel_respects_symbol_order_and_date_range(store):
    panel = store.panel("close", start=SESSIONS[1], end=SESSIONS[2], symbols=["600000", "000001"])
    assert panel.symbols.tolist() == ["600000", "000001"]
    assert panel.dates.tolist() == [np.datetime64(SESSIONS[1]), np.datetime64(SESSIONS[2])]
    full = store.panel("close")
    assert np.array_equal(panel["close"][:, 0], full["close"][1:3, SYMBOLS.index("600000")])


def test_panel_unknown_symbol_or_field_is_a_clear_error(store):
    with pytest.raises(KeyError, match="unknown symbols"):
        store.panel("close", symbols=["999999"])
    with pytest.raises(KeyError, match="no field 'closing'"):
        store.panel("closing")


def test_index_weight_panel_is_zero_outside_membership(store):
    weights = pl.DataFrame(
        {
            "date": [SESSIONS[0]] * 2,
            "index_code": ["000300"] * 2,
            "symbol": ["600000", "000001"],
            "weight": [0.75, 0.25],
        }
    )
    store.write("index_weights", weights, source="t")
    panel = store.index_weight_panel("000300")
    assert panel["weight"].sum() == pytest.approx(1.0)
    assert panel["weight"][1:].sum() == 0.0


@settings(max_examples=25, deadline=None)
@given(
    n_days=st.integers(1, len(SESSIONS)),
    n_symbols=st.integers(1, len(SYMBOLS)),
    seed=st.integers(0, 10_000),
)
def test_panel_round_trips_any_bar_subset(n_days, n_symbols, seed):
    with Store(":memory:") as s:
        s.write("calendar", pl.DataFrame({"date": SESSIONS}), source="t")
        s.write("instruments", _instruments(SYMBOLS), source="t")
        rng = np.random.default_rng(seed)
        days = sorted(rng.choice(len(SESSIONS), n_days, replace=False).tolist())
        syms = sorted(rng.choice(SYMBOLS, n_symbols, replace=False).tolist())
        frame = _bars([SESSIONS[d] for d in days], syms, seed=seed)
        s.write("bars", frame, source="t")
        panel = s.panel("close")
        assert int(np.isfinite(panel["close"]).sum()) == frame.height
        assert np.nansum(panel["close"]) == pytest.approx(frame["close"].sum())
