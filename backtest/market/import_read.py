"""Read a user's file for import and refuse what is malformed, naming the file, row and column.

A store is someone's research data: a file that cannot be read exactly as written is refused
whole, before the store is opened, with one sentence that says where the problem is and what to
do. Every row keeps its place in the file (:data:`FILE_ROW`, 1-based, the header not counted), so
a later check can still say "row 7 (line 8)".

Text files are decoded as UTF-8 (a byte-order mark is dropped), else as GB18030 (a superset of
GBK, the encoding Chinese vendor exports often use) when the bytes are not UTF-8 and decode
cleanly; ``encoding`` forces one. Every CSV column is read as text and numbers are parsed here,
so ``abc`` in ``close`` is named rather than turning the column into text or a null.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from backtest.market.derive import normalise_symbol_expr
from backtest.market.schema import Table
from backtest.market.validation import first_row_problem

__all__ = [
    "FILE_ROW",
    "FileRows",
    "ImportFileError",
    "apply_mapping",
    "check_duplicate_keys",
    "check_sessions",
    "check_values",
    "parse_dates",
    "parse_flags",
    "parse_numbers",
    "parse_symbols",
    "read_rows",
    "to_int64",
]

#: Column holding each row's 1-based position among the file's data rows.
FILE_ROW = "_file_row"
_INT64_LIMIT = 2.0**63
#: Bytes looked at for a NUL byte, the mark of a binary file.
_BINARY_PROBE_BYTES = 65_536
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


class ImportFileError(ValueError):
    """A file (or frame) to import is malformed; nothing was written.

    The message is one sentence naming the file and, where there is one, the row and column,
    and what to do. A ``ValueError`` so that the command line prints it as ``error: ...`` and
    exits 2.
    """

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__(f"cannot import {name}: {problem}")


@dataclass(frozen=True, slots=True)
class FileRows:
    """The rows of one input: its name, whether rows have lines (CSV), the frame, the encoding.

    ``frame`` holds the file's columns as read plus :data:`FILE_ROW`.
    """

    name: str
    frame: pl.DataFrame
    is_text: bool = False
    encoding: str | None = None
    #: ``(store column, file column)`` for the columns the mapping renamed
    renamed: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> str:
        """How to name store column ``name`` to the user: by its name in the file."""
        original = dict(self.renamed).get(name)
        return f"{original!r} (store column {name!r})" if original else repr(name)

    def at(self, row: int) -> str:
        """Where data row ``row`` is: ``row 7 (line 8)`` in a CSV, ``row 7`` otherwise."""
        return f"row {row} (line {row + 1})" if self.is_text else f"row {row}"

    def error(self, problem: str) -> ImportFileError:
        """The error to raise for ``problem`` in this input."""
        return ImportFileError(self.name, problem)

    def with_frame(self, frame: pl.DataFrame, renamed: dict[str, str] | None = None) -> FileRows:
        """The same input with its frame converted (and columns ``renamed`` file -> store)."""
        names = self.renamed
        if renamed:
            names = (*names, *((store, file) for file, store in renamed.items()))
        return FileRows(self.name, frame, self.is_text, self.encoding, names)


def read_rows(path: Path, *, encoding: str | None = None) -> FileRows:
    """Read a ``.csv``/``.tsv``/``.txt`` or ``.parquet`` file, every CSV column as text.

    Raises
    ------
    FileNotFoundError
        There is no such file.
    ImportFileError
        The file is empty, has no rows, is not text (or not Parquet), is in an encoding that
        does not decode, or has a line with more or fewer fields than its header.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no file {path} to import; check the path")
    name = path.name
    if path.stat().st_size == 0:
        raise ImportFileError(name, "the file is empty (0 bytes); export it again")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            first_line = str(exc).strip().splitlines()[0]
            raise ImportFileError(
                name,
                f"not a readable Parquet file ({first_line}); it may be truncated or not "
                "Parquet at all: export it again",
            ) from None
        if frame.height == 0:
            raise ImportFileError(name, "the file has columns but no rows; export it again")
        return FileRows(name, frame.with_row_index(FILE_ROW, offset=1))
    if suffix not in (".csv", ".tsv", ".txt"):
        raise ImportFileError(name, "use a .csv, .tsv, .txt or .parquet file")
    separator = "\t" if suffix == ".tsv" else ","
    raw = path.read_bytes()
    if b"\x00" in raw[:_BINARY_PROBE_BYTES]:
        raise ImportFileError(
            name,
            "the file holds binary data (NUL bytes), not CSV text; if it is a Parquet file, "
            "name it .parquet",
        )
    text, used = _decode(name, raw, encoding)
    _check_fields(name, text, separator)
    try:
        frame = pl.read_csv(
            io.StringIO(text), separator=separator, infer_schema=False, truncate_ragged_lines=False
        )
    except pl.exceptions.PolarsError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ImportFileError(name, f"the CSV does not parse ({first_line})") from None
    return FileRows(name, frame.with_row_index(FILE_ROW, offset=1), True, used)


def _decode(name: str, raw: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise ImportFileError(
                name, f"{encoding!r} is not an encoding Python knows; try utf-8 or gb18030"
            ) from None
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                name,
                f"byte {exc.start} does not decode as {encoding}; pass the file's encoding "
                "with --encoding (e.g. utf-8 or gb18030)",
            ) from None
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise ImportFileError(
                name,
                f"byte {utf8_error.start} is neither UTF-8 nor GBK/GB18030 text; pass the "
                "file's encoding with --encoding",
            ) from None


def _check_fields(name: str, text: str, separator: str) -> None:
    """Refuse a line with more or fewer fields than the header, and a file without rows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header = next(reader, None)
    if not header:
        raise ImportFileError(name, "the file has no header line; export it again")
    records = 0
    for record in reader:
        if not record:
            continue  # a blank line
        records += 1
        if len(record) != len(header):
            raise ImportFileError(
                name,
                f"line {reader.line_num} has {len(record)} fields where the header has "
                f"{len(header)}; fix or remove that line (a stray separator or a cut line)",
            )
    if records == 0:
        raise ImportFileError(name, "the file has a header but no rows; export it again")


def _first(mask: pl.Series, frame: pl.DataFrame, column: str) -> tuple[int, object, int]:
    """The file row, value and count of the rows ``mask`` flags."""
    bad = frame.filter(mask)
    return int(bad[FILE_ROW][0]), bad[column][0], bad.height


def parse_dates(rows: FileRows, column: str, date_format: str | None) -> FileRows:
    """Parse ``column`` as dates; refuse the first value that is not one, naming its row."""
    frame = rows.frame
    dtype = frame.schema[column]
    if dtype == pl.Date:
        parsed = frame[column]
    elif isinstance(dtype, pl.Datetime):
        parsed = frame[column].dt.date()
    else:
        text = frame[column].cast(pl.String).str.strip_chars()
        formats = [date_format] if date_format else ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]
        parsed = pl.select(
            pl.coalesce([text.str.strptime(pl.Date, f, strict=False) for f in formats])
        ).to_series()
        bad = parsed.is_null()
        if bad.any():
            row, value, count = _first(bad, frame, column)
            raise rows.error(
                f"{rows.at(row)}, column {rows.column(column)}: {value!r} is not a date in "
                f"{' or '.join(formats)} ({count} such rows); pass the file's format with "
                "--date-format or fix the rows"
            )
    return rows.with_frame(frame.with_columns(parsed.alias(column)))


def parse_symbols(rows: FileRows, column: str = "symbol") -> FileRows:
    """Normalise stock codes to six digits; refuse a code that is not one (e.g. ``ABC.SZ``)."""
    frame = rows.frame
    normalised = frame.select(normalise_symbol_expr(column))[column]
    bad = normalised.is_null()
    if bad.any():
        row, value, count = _first(bad, frame, column)
        shown = "an empty code" if value is None or str(value).strip() == "" else repr(value)
        raise rows.error(
            f"{rows.at(row)}, column {rows.column(column)}: {shown} is not an A-share code such "
            f"as 600000, 600000.SH or sh600000 ({count} such rows); fix the code or remove the row"
        )
    return rows.with_frame(frame.with_columns(normalised))


def parse_numbers(rows: FileRows, columns: list[str]) -> FileRows:
    """Parse text ``columns`` as Float64; refuse the first non-empty value that is not a number."""
    frame = rows.frame
    parsed = []
    for column in columns:
        if column not in frame.columns:
            continue
        series = frame[column]
        if series.dtype == pl.String:
            text = series.str.strip_chars()
            number = text.cast(pl.Float64, strict=False)
            bad = number.is_null() & text.is_not_null() & (text != "")
            if bad.any():
                row, value, count = _first(bad, frame, column)
                raise rows.error(
                    f"{rows.at(row)}, column {rows.column(column)}: {value!r} is not a number "
                    f"({count} such rows); fix the value or remove the row"
                )
            parsed.append(number.alias(column))
        elif series.dtype.is_numeric():
            parsed.append(series.cast(pl.Float64).alias(column))
        else:
            raise rows.error(
                f"column {rows.column(column)} holds {series.dtype} values, not numbers; map "
                "another column onto it"
            )
    return rows.with_frame(frame.with_columns(parsed)) if parsed else rows


def to_int64(rows: FileRows, column: str) -> FileRows:
    """Round a Float64 column to Int64; refuse a value that an int64 cannot hold, naming it."""
    frame = rows.frame
    values = frame[column]
    bad = (values.abs() >= _INT64_LIMIT).fill_null(False)
    if bad.any():
        row, value, count = _first(bad, frame, column)
        raise rows.error(
            f"{rows.at(row)}, column {rows.column(column)}: {value!r} is too large for a 64-bit "
            f"integer ({count} such rows); check the column's unit (e.g. --volume-unit)"
        )
    return rows.with_frame(frame.with_columns(values.round(0).cast(pl.Int64)))


def check_values(rows: FileRows, spec: Table) -> None:
    """Refuse the first row that breaks a value check of ``spec`` (null, NaN, sign, bound, OHLC)."""
    problem = first_row_problem(spec, rows.frame)
    if problem is None:
        return
    row, value, count = _first(problem.bad, rows.frame, problem.column)
    raise rows.error(
        f"{rows.at(row)}, column {rows.column(problem.column)} (table {spec.name!r}): value "
        f"{value!r}: {problem.problem} ({count} such rows); fix the value or remove the row"
    )


def check_duplicate_keys(rows: FileRows, key: tuple[str, ...]) -> None:
    """Refuse a key that appears twice in the file, naming both rows."""
    frame = rows.frame
    duplicated = frame.select(pl.struct(list(key)).is_duplicated().alias("dup"))["dup"]
    if not duplicated.any():
        return
    twins = frame.filter(duplicated).sort(FILE_ROW)
    first = twins.row(0, named=True)
    same = twins.filter(pl.all_horizontal([pl.col(k) == first[k] for k in key]))
    shown = ", ".join(f"{k} {first[k]}" for k in key)
    raise rows.error(
        f"{rows.at(int(same[FILE_ROW][0]))} and {rows.at(int(same[FILE_ROW][1]))} have the same "
        f"{shown} ({twins.height} rows share a key with another); keep one of them"
    )


def check_sessions(rows: FileRows, sessions: np.ndarray, entity: str | None) -> None:
    """Refuse a row dated off the SSE calendar (weekend, holiday), naming its row and date."""
    frame = rows.frame
    known = pl.Series(sessions.astype("datetime64[D]")).cast(pl.Date)
    off = ~frame["date"].is_in(known.implode())
    if not off.any():
        return
    bad = frame.filter(off).sort(FILE_ROW).row(0, named=True)
    day = bad["date"]
    what = f", {entity} {bad[entity]}" if entity and entity in frame.columns else ""
    if day < known[0] or day > known[-1]:
        why = f"it lies outside the shipped SSE calendar {known[0]}..{known[-1]}"
        todo = "upgrade akshare for a later calendar, or remove the row"
    else:
        kind = f"a {day:%A}" if day.weekday() >= 5 else "an exchange holiday"
        why = f"it is not an SSE trading session ({kind})"
        todo = "fix the date or remove the row"
    raise rows.error(
        f"{rows.at(int(bad[FILE_ROW]))}: date {day}{what}: {why} ({int(off.sum())} such rows); "
        f"{todo}"
    )


def apply_mapping(
    rows: FileRows,
    mapping: dict[str, str],
    table_columns: set[str],
    required: tuple[str, ...],
    table: str,
) -> tuple[FileRows, list[str]]:
    """Rename the file's columns onto the store's; return the rows and the columns dropped."""
    frame = rows.frame
    present = {src: dst for src, dst in mapping.items() if src in frame.columns}
    absent = sorted(set(mapping) - set(frame.columns))
    columns = [c for c in frame.columns if c != FILE_ROW]
    if absent and not present:
        raise rows.error(
            f"mapped columns {absent} are not in the file; it has {columns}: fix --map"
        )
    frame = frame.rename(present)
    dropped = [c for c in frame.columns if c not in table_columns | {FILE_ROW}]
    frame = frame.drop(dropped)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise rows.error(
            f"the file has no column for {missing} of table {table!r} (after mapping; "
            f"it has {columns}); map them, e.g. --map your_column={missing[0]}"
        )
    return rows.with_frame(frame, present), dropped


def parse_flags(rows: FileRows, columns: list[str]) -> FileRows:
    """Parse text ``columns`` as booleans (true/false, 1/0, yes/no); refuse anything else."""
    frame = rows.frame
    for column in columns:
        if frame.schema[column] == pl.Boolean:
            continue
        text = frame[column].cast(pl.String).str.strip_chars().str.to_lowercase()
        bad = ~text.is_in([*_TRUE, *_FALSE]).fill_null(True)
        if bad.any():
            row, value, _ = _first(bad, frame, column)
            raise rows.error(
                f"{rows.at(row)}, column {rows.column(column)}: {value!r} is not true or false; "
                "fix the value"
            )
        frame = frame.with_columns(text.is_in(list(_TRUE)).alias(column))
    return rows.with_frame(frame)
