"""Validation of frames against the store's schema, before anything is written.

Every check names the table, the column and the first offending row (its position in the frame
and its key values), and says what to do. Checks run vectorised in polars: a 2.4 M-row bar frame
validates in well under a second.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import polars as pl

from backtest.market.schema import Table

__all__ = ["RowProblem", "StoreValidationError", "first_row_problem", "validate_frame"]

_ROW = "_row"


class StoreValidationError(ValueError):
    """A frame broke the schema of the table it was written to; nothing was written.

    Attributes
    ----------
    table, column
        Where the problem is.
    row
        The offending row as ``{column: value}`` (with ``_row``, its 0-based position in the
        frame), or None when the problem is not one row's.
    """

    def __init__(self, table: str, column: str, row: dict[str, Any] | None, problem: str):
        self.table = table
        self.column = column
        self.row = row
        where = f"table {table!r}, column {column!r}"
        if row is not None:
            position = row.get(_ROW)
            shown = ", ".join(f"{k}={v}" for k, v in row.items() if k != _ROW)
            where += f", row {position} ({shown})"
        super().__init__(f"{where}: {problem}. Nothing was written; fix the input and write again.")


def _describe_row(spec: Table, frame: pl.DataFrame, mask: pl.Series, column: str) -> dict[str, Any]:
    bad = frame.filter(mask).head(1)
    keep = [_ROW, *[k for k in spec.key if k in bad.columns]]
    if column in bad.columns and column not in keep:
        keep.append(column)
    return bad.select(keep).to_dicts()[0]


def _fail(spec: Table, frame: pl.DataFrame, mask: pl.Series, column: str, problem: str) -> None:
    count = int(mask.sum())
    row = _describe_row(spec, frame, mask, column)
    raise StoreValidationError(spec.name, column, row, f"{problem} ({count} such rows)")


class RowProblem(NamedTuple):
    """The first value check a frame fails: the column, a mask of bad rows, and what is wrong."""

    column: str
    bad: pl.Series
    problem: str


def first_row_problem(spec: Table, frame: pl.DataFrame) -> RowProblem | None:
    """Return the first per-row problem of ``frame`` against ``spec``, or None.

    Checks, for the table's columns present in ``frame`` (already of the schema's dtypes): nulls
    in required columns, NaN and infinities, ``positive``/``non_negative``, the plausibility
    bound ``maximum``, then the table's row checks whose columns are all present. Importers
    call it on a file's rows to name the file's row; :func:`validate_frame` on every write.

    >>> from backtest.market.schema import INDEX_WEIGHTS
    >>> frame = pl.DataFrame({"weight": [0.5, 1.5]})
    >>> found = first_row_problem(INDEX_WEIGHTS, frame)
    >>> found.column, found.bad.to_list()
    ('weight', [False, True])
    """
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        if not col.nullable and series.null_count():
            return RowProblem(col.name, series.is_null(), "null in a required column")
        if series.dtype.is_float():
            bad = series.is_nan() | series.is_infinite()
            if bad.any():
                return RowProblem(col.name, bad.fill_null(False), "NaN or infinite value")
        if col.positive:
            bad = (series <= 0).fill_null(False)
            if bad.any():
                return RowProblem(col.name, bad, "value must be > 0")
        if col.non_negative:
            bad = (series < 0).fill_null(False)
            if bad.any():
                return RowProblem(col.name, bad, "value must be >= 0")
        if col.maximum is not None and series.dtype.is_numeric():
            bad = (series.cast(pl.Float64) > col.maximum).fill_null(False)
            if bad.any():
                return RowProblem(
                    col.name,
                    bad,
                    f"value above the plausible maximum {col.maximum:g} ({col.bound_reason})",
                )
    for description, expr in spec.row_checks:
        roots = expr.meta.root_names()
        if not all(name in frame.columns for name in roots):
            continue
        bad = frame.select(expr.fill_null(False).alias("bad"))["bad"]
        if bad.any():
            return RowProblem(roots[0] if roots else spec.key[0], bad, description)
    return None


def validate_frame(
    spec: Table,
    frame: pl.DataFrame,
    *,
    sessions: np.ndarray | None,
    symbols: np.ndarray | None,
) -> pl.DataFrame:
    """Check ``frame`` against ``spec`` and return it cast to the schema, in column order.

    Parameters
    ----------
    spec
        The table's declaration.
    frame
        Incoming rows. Nullable columns may be missing (they are added as nulls); extra columns
        are refused, so a mapping mistake does not pass silently.
    sessions
        The store's calendar, when the table's ``session_column`` must hold sessions.
    symbols
        The store's instruments, when the table's ``symbol_column`` must hold known symbols.

    Raises
    ------
    StoreValidationError
        The first problem found, naming table, column and an offending row.
    """
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"write to {spec.name!r} needs a polars DataFrame, got {type(frame)!r}")
    extra = [c for c in frame.columns if c not in spec.names]
    if extra:
        raise StoreValidationError(
            spec.name, extra[0], None, f"unknown column(s) {extra}; the table has {spec.names}"
        )
    for col in spec.columns:
        if col.name not in frame.columns:
            if not col.nullable:
                raise StoreValidationError(
                    spec.name, col.name, None, "required column is missing from the frame"
                )
            frame = frame.with_columns(pl.lit(None, dtype=col.dtype).alias(col.name))
    frame = frame.select(spec.names).with_row_index(_ROW)

    # dtypes: cast, and name the first value that does not convert
    casts = []
    for col in spec.columns:
        source = frame[col.name]
        if source.dtype == col.dtype:
            continue
        try:
            casted = source.cast(col.dtype, strict=False)
        except pl.exceptions.InvalidOperationError as exc:
            raise StoreValidationError(
                spec.name, col.name, None, f"cannot convert {source.dtype} to {col.dtype}: {exc}"
            ) from exc
        lost = casted.is_null() & source.is_not_null()
        if lost.any():
            _fail(spec, frame, lost, col.name, f"value does not convert to {col.dtype}")
        casts.append(casted.alias(col.name))
    if casts:
        frame = frame.with_columns(casts)

    problem = first_row_problem(spec, frame)
    if problem is not None:
        _fail(spec, frame, problem.bad, problem.column, problem.problem)

    duplicated = frame.select(pl.struct(list(spec.key)).is_duplicated().alias("dup"))["dup"]
    if duplicated.any():
        _fail(spec, frame, duplicated, spec.key[-1], f"duplicate key {spec.key}")

    if spec.session_column is not None and sessions is not None:
        column = spec.session_column
        if len(sessions) == 0:
            raise StoreValidationError(
                spec.name, column, None, "the store has no calendar yet: write 'calendar' first"
            )
        allowed = pl.Series(sessions.astype("datetime64[D]")).cast(pl.Date)
        off = ~frame[column].is_in(allowed.implode())
        if off.any():
            _fail(spec, frame, off, column, "date is not a session of the store's calendar")

    if spec.symbol_column is not None and symbols is not None:
        column = spec.symbol_column
        known = pl.Series(symbols.tolist(), dtype=pl.String)
        unknown = ~frame[column].is_in(known.implode())
        if unknown.any():
            _fail(
                spec,
                frame,
                unknown,
                column,
                "symbol is not in 'instruments': write its instruments row first",
            )
    return frame.drop(_ROW)
