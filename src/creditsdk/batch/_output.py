"""Output: a live JSON-lines feed while the batch runs, and the final CSV / Parquet file made
from the ledger (so it has every row exactly once, in input order, whatever happened before)."""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from ..errors import ConfigurationError
from ._ledger import LedgerRow, RunLedger
from ._pii import private_file
from ._schema import (
    DTYPES,
    SCHEMA_FILE,
    Column,
    FactorLayout,
    OutputSchema,
    build_schema,
    cell_kind,
    infer_dtype,
    input_column_name,
)

__all__ = ["LiveFeed", "billed_of", "make_schema", "write_output"]


class LiveFeed:
    """Appends one JSON line per finished row (row, status, error code, transaction id) to
    ``results.live.jsonl``, flushed every ``flush_every`` seconds: something to ``tail -f``.
    Results go to the ledger; the final output is made from it, not from this file."""

    def __init__(self, path: str, *, flush_every: float = 1.0) -> None:
        self.path = path
        private_file(path)
        self._fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._flush_every = flush_every
        self._last_flush = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        now = time.monotonic()
        if now - self._last_flush >= self._flush_every:
            self._fh.flush()
            self._last_flush = now

    def close(self) -> None:
        self._fh.close()


# Answered calls the provider bills even though the output has no data for them.
BILLED_ERROR_CODES = frozenset({"unreadable_result", "lost_answer_billed"})


def billed_of(status: str | None, error_code: str | None) -> int | None:
    """1 billed, 0 not billed, None unknown (``maybe_billed``)."""
    if status in ("hit", "no_data"):
        return 1
    if status == "maybe_billed":
        return None
    if status == "error" and error_code in BILLED_ERROR_CODES:
        return 1
    return 0


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _fallback_layout(ledger: RunLedger) -> FactorLayout:
    """Columns for an operation without a ``layout``: from the values (first-seen order)."""
    kinds: dict[str, set[str]] = {}
    for row in ledger.rows():
        for k, v in row.result.items():
            if k == "effective":
                continue
            bucket = kinds.setdefault(k, set())
            if v is not None:
                bucket.add(_value_kind(v))
    cols = []
    for name, found in kinds.items():
        if found == {"bool"}:
            dtype = "boolean"
        elif found == {"int"}:
            dtype = "Int64"
        elif found and found <= {"int", "float"}:
            dtype = "float64"
        else:
            dtype = "string"
        cols.append(Column(name, dtype, "factor", name, "value"))
    return FactorLayout(columns=tuple(cols))


def scan_inputs(ledger: RunLedger) -> tuple[list[str], dict[str, set[str]]]:
    """The input columns kept in the ledger (first-seen order) and the kinds of their cells."""
    names: dict[str, set[str]] = {}
    for row in ledger.rows(results=False):
        for k, v in row.keys.items():
            bucket = names.setdefault(k, set())
            if v not in (None, ""):
                bucket.add(cell_kind(str(v)) if isinstance(v, str) else _value_kind(v))
    return list(names), names


def make_schema(
    ledger: RunLedger,
    *,
    operation: str,
    provider: str,
    layout: FactorLayout | None,
    personal: frozenset[str],
    key_columns: tuple[str, ...] = (),
    dtypes: Mapping[str, str] | None = None,
    pii: str = "mask",
) -> OutputSchema:
    names, kinds = scan_inputs(ledger)
    keys: list[str] = []
    personal_cols: list[str] = []
    passthrough: list[tuple[str, str]] = []
    overrides = dict(dtypes or {})
    for name in names:
        out_name = input_column_name(name)
        if name in key_columns:
            keys.append(out_name)
        elif name in personal:
            personal_cols.append(out_name)
        else:
            dtype = overrides.get(name) or infer_dtype(kinds[name])
            passthrough.append((out_name, dtype))
    bad = {k: v for k, v in overrides.items() if v not in DTYPES}
    if bad:
        raise ConfigurationError(f"dtypes {bad}: use one of {sorted(DTYPES)}")
    return build_schema(
        operation=operation,
        provider=provider,
        layout=layout if layout is not None else _fallback_layout(ledger),
        keys=keys,
        personal=personal_cols,
        passthrough=passthrough,
        pii=pii,
    )


def _flat(row: LedgerRow) -> dict[str, Any]:
    """One output row by column name (the writers look cells up by name; order is not used).
    The row's own columns win over a result cell of the same name."""
    head: dict[str, Any] = {"row": row.row_no}
    for k, v in row.keys.items():
        head[input_column_name(k)] = v
    status = row.status or row.state
    head["status"] = status
    head["billed"] = billed_of(status, row.error_code)
    returned = status == "hit"
    head["returned"] = int(returned)
    effective = row.result.get("effective", 1) if returned else 0
    head["error_code"] = row.error_code
    head["error_message"] = row.error_message
    head["transaction_id"] = row.transaction_id
    out = dict(row.result)  # one C copy of the ~350 result cells, then the head over them
    out.update(head)
    out["effective"] = int(bool(effective))
    return out


def _number(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value) if kind == "int" else value
    try:
        if kind == "int":
            return int(value) if not isinstance(value, str) else int(value.strip())
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # int(inf): an empty cell, not a dead file
        return None
    return None if math.isnan(number) else number


def _csv_cell(value: Any, dtype: str) -> Any:
    if value is None:
        return ""
    if dtype in ("Int8", "Int64", "int64"):
        number = _number(value, "int")
        return "" if number is None else str(number)
    if dtype == "float64":
        number = _number(value, "float")
        if number is None:
            return ""
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    if dtype == "boolean":
        if isinstance(value, str):
            return value
        return "true" if value else "false"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv_formatter(dtype: str) -> Callable[[Any], Any]:
    """``_csv_cell`` for one column, with the common case (a value already of the column's
    type, as a layout's cells are) taken without the general conversion: same text."""
    if dtype in ("Int8", "Int64", "int64"):

        def int_cell(value: Any) -> Any:
            return str(value) if type(value) is int else _csv_cell(value, dtype)

        return int_cell
    if dtype == "float64":

        def float_cell(value: Any) -> Any:
            # value - value is 0.0 for a finite float only (inf and nan give nan)
            if type(value) is float and value - value == 0.0:
                return repr(value)
            return _csv_cell(value, dtype)

        return float_cell
    if dtype == "string":

        def str_cell(value: Any) -> Any:
            return value if type(value) is str else _csv_cell(value, dtype)

        return str_cell

    def other_cell(value: Any) -> Any:
        return _csv_cell(value, dtype)

    return other_cell


def _tallied(ledger: RunLedger, tally: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    """The output rows; counts ``effective`` rows into ``tally`` on the way (one pass over the
    ledger serves the file and the summary)."""
    effective = 0
    for row in ledger.rows():
        flat = _flat(row)
        effective += flat["effective"]
        yield flat
    if tally is not None:
        tally["effective"] = effective


def _write_csv(
    ledger: RunLedger, path: str, schema: OutputSchema, tally: dict[str, int] | None = None
) -> None:
    names = [c.name for c in schema.columns]
    formatters = [_csv_formatter(c.dtype) for c in schema.columns]
    index = {n: i for i, n in enumerate(names)}
    blank = [""] * len(names)
    private_file(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for flat in _tallied(ledger, tally):
            # a wide schema is mostly empty cells: format only the cells the row has
            cells = blank.copy()
            for k, v in flat.items():
                i = index.get(k)
                if i is not None and v is not None:
                    cells[i] = formatters[i](v)
            writer.writerow(cells)


#: the most rows in one Parquet row group (a narrow schema's groups stop here)
_ROW_GROUP_ROWS = 100_000

_ARROW = {
    "int64": "int64",
    "Int64": "int64",
    "Int8": "int8",
    "float64": "float64",
    "string": "string",
    "boolean": "bool_",
}


def _arrow_value(value: Any, dtype: str) -> Any:
    if value is None:
        return None
    if dtype in ("Int8", "Int64", "int64"):
        return _number(value, "int")
    if dtype == "float64":
        return _number(value, "float")
    if dtype == "boolean":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _arrow_converter(dtype: str) -> Callable[[Any], Any]:
    """``_arrow_value`` for one column, with a value already of the column's type taken as it
    is (same value out)."""
    if dtype in ("Int8", "Int64", "int64"):

        def int_value(value: Any) -> Any:
            return value if type(value) is int else _arrow_value(value, dtype)

        return int_value
    if dtype == "float64":

        def float_value(value: Any) -> Any:
            if type(value) is float:
                return value if value == value else None  # NaN is a null, as _number has it
            return _arrow_value(value, dtype)

        return float_value
    if dtype == "string":

        def str_value(value: Any) -> Any:
            return value if type(value) is str else _arrow_value(value, dtype)

        return str_value

    def other_value(value: Any) -> Any:
        return _arrow_value(value, dtype)

    return other_value


def _pandas_metadata(schema: OutputSchema) -> bytes:
    """pandas' own Parquet metadata, so ``pd.read_parquet`` gives back Int8/Int64/string."""
    numpy_type = {"string": "string", "boolean": "boolean"}
    pandas_type = {
        "int64": "int64",
        "Int64": "int64",
        "Int8": "int8",
        "float64": "float64",
        "string": "unicode",
        "boolean": "bool",
    }
    doc = {
        "index_columns": [],
        "column_indexes": [],
        "columns": [
            {
                "name": c.name,
                "field_name": c.name,
                "pandas_type": pandas_type[c.dtype],
                "numpy_type": numpy_type.get(c.dtype, c.dtype),
                "metadata": None,
            }
            for c in schema.columns
        ],
        "creator": {"library": "creditsdk"},
        "pandas_version": "2.0.0",
    }
    return json.dumps(doc).encode("utf-8")


def _write_parquet(
    ledger: RunLedger, path: str, schema: OutputSchema, tally: dict[str, int] | None = None
) -> None:
    try:
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigurationError(
            "Parquet output needs pyarrow: pip install 'creditsdk[parquet]' (or use --format csv)"
        ) from None
    cols = [(c.name, c.dtype) for c in schema.columns]
    fields = [pa.field(n, getattr(pa, _ARROW[d])()) for n, d in cols]
    arrow_schema = pa.schema(fields, metadata={b"pandas": _pandas_metadata(schema)})
    width = max(1, len(cols))
    # Python rows are converted in chunks near 200,000 cells whatever the width, and written in
    # row groups near 4,000,000 cells (as Arrow columns: a mostly-null float column costs its
    # bitmap and 8 bytes a slot, ~32 MB at most). Memory stays flat either way; one row group
    # per small chunk made a 1,417-column file's footer ~1.3 KB a row and pandas slow to read.
    size = max(50, 200_000 // width)
    group = max(size, min(_ROW_GROUP_ROWS, 4_000_000 // width))
    convert = [_arrow_converter(d) for _, d in cols]
    index = {n: i for i, (n, _) in enumerate(cols)}
    private_file(path)
    with pq.ParquetWriter(path, arrow_schema) as writer:
        chunk: list[dict[str, Any]] = []
        tables: list[Any] = []
        buffered = 0

        def convert_chunk() -> None:
            nonlocal buffered
            # A wide schema is mostly empty cells: every column starts as nulls and only the
            # cells each row has are converted (not one conversion per column per row).
            rows = len(chunk)
            values: list[list[Any]] = [[None] * rows for _ in cols]
            for j, flat in enumerate(chunk):
                for k, v in flat.items():
                    i = index.get(k)
                    if i is not None and v is not None:
                        values[i][j] = convert[i](v)
            data = {n: values[i] for i, (n, _) in enumerate(cols)}
            tables.append(pa.Table.from_pydict(data, schema=arrow_schema))
            buffered += rows
            chunk.clear()

        def write_group() -> None:
            nonlocal buffered
            writer.write_table(pa.concat_tables(tables), row_group_size=buffered)
            tables.clear()
            buffered = 0

        for flat in _tallied(ledger, tally):
            chunk.append(flat)
            if len(chunk) >= size:
                convert_chunk()
                if buffered >= group:
                    write_group()
        if chunk:
            convert_chunk()
        if tables:
            write_group()


def write_schema(schema: OutputSchema, path: str) -> None:
    tmp = f"{path}.tmp"
    private_file(tmp)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(schema.to_dict(), fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def write_output(
    ledger: RunLedger,
    path: str,
    fmt: str,
    schema: OutputSchema,
    *,
    tally: dict[str, int] | None = None,
) -> int:
    """(Re)write the output file from the ledger, atomically, with ``schema``'s columns; and
    ``schema.json`` beside it. Returns the number of rows; ``tally`` (if given) gets the count
    of ``effective`` rows, read on the same pass."""
    tmp = f"{path}.tmp"
    if fmt == "csv":
        _write_csv(ledger, tmp, schema, tally)
    elif fmt == "parquet":
        _write_parquet(ledger, tmp, schema, tally)
    else:
        raise ConfigurationError(f"unknown output format {fmt!r} (csv or parquet)")
    os.replace(tmp, path)
    write_schema(schema, os.path.join(os.path.dirname(path), SCHEMA_FILE))
    return int(ledger.counts()["rows"])
