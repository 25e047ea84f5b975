"""Output: a live JSON-lines feed while the batch runs, and the final CSV / Parquet file made
from the ledger (so it has every row exactly once, in input order, whatever happened before)."""

from __future__ import annotations

import csv
import importlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any

from ..errors import ConfigurationError
from ._ledger import Ledger, LedgerRow

__all__ = ["FIXED_COLUMNS", "LiveFeed", "write_output"]

FIXED_COLUMNS = ("row", "status", "error_code", "error_message", "transaction_id")


class LiveFeed:
    """Appends one JSON line per finished row (row, status, error code, transaction id) to
    ``results.live.jsonl``, flushed every ``flush_every`` seconds: something to ``tail -f``.
    Results go to the ledger; the final output is made from it, not from this file."""

    def __init__(self, path: str, *, flush_every: float = 1.0) -> None:
        self.path = path
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


def _key_name(key: str) -> str:
    return f"input_{key}" if key in FIXED_COLUMNS else key


def _flat(row: LedgerRow) -> dict[str, Any]:
    out: dict[str, Any] = {"row": row.row_no}
    for k, v in row.keys.items():
        out[_key_name(k)] = v
    out["status"] = row.status or row.state
    out["error_code"] = row.error_code
    out["error_message"] = row.error_message
    out["transaction_id"] = row.transaction_id
    for k, v in row.result.items():
        out.setdefault(k, v)
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _scan(ledger: Ledger) -> tuple[list[str], dict[str, set[str]]]:
    """First pass: the columns (first-seen order) and the kinds of value each holds."""
    keys: dict[str, None] = {}
    results: dict[str, None] = {}
    kinds: dict[str, set[str]] = {}
    for row in ledger.rows():
        for k in row.keys:
            keys.setdefault(_key_name(k), None)
        for k, v in row.result.items():
            results.setdefault(k, None)
            if v is not None:
                kinds.setdefault(k, set()).add(_kind(v))
    head = ["row", *keys]
    columns = head + [c for c in FIXED_COLUMNS if c != "row"]
    columns += [c for c in results if c not in columns]
    return columns, kinds


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _write_csv(ledger: Ledger, path: str, columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in ledger.rows():
            flat = _flat(row)
            writer.writerow([_csv_cell(flat.get(c)) for c in columns])


def _arrow_type(pa: Any, kinds: set[str]) -> Any:
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"int"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    return pa.string()


def _coerce(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if kind == "double":
        return float(value)
    return value


def _chunks(ledger: Ledger, size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in ledger.rows():
        chunk.append(_flat(row))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_parquet(
    ledger: Ledger, path: str, columns: list[str], kinds: dict[str, set[str]]
) -> None:
    try:
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigurationError(
            "Parquet output needs pyarrow: pip install 'creditsdk[parquet]' (or use --format csv)"
        ) from None
    fixed_types = {"row": pa.int64()}
    fields = []
    for c in columns:
        if c in fixed_types:
            fields.append(pa.field(c, fixed_types[c]))
        elif c in kinds:
            fields.append(pa.field(c, _arrow_type(pa, kinds[c])))
        else:
            fields.append(pa.field(c, pa.string()))
    schema = pa.schema(fields)
    type_names = {f.name: str(f.type) for f in fields}
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in _chunks(ledger, 5000):
            data = {c: [_coerce(r.get(c), type_names[c]) for r in chunk] for c in columns}
            writer.write_table(pa.Table.from_pydict(data, schema=schema))


def write_output(ledger: Ledger, path: str, fmt: str) -> int:
    """(Re)write the output file from the ledger, atomically. Returns the number of rows."""
    columns, kinds = _scan(ledger)
    tmp = f"{path}.tmp"
    if fmt == "csv":
        _write_csv(ledger, tmp, columns)
    elif fmt == "parquet":
        _write_parquet(ledger, tmp, columns, kinds)
    else:
        raise ConfigurationError(f"unknown output format {fmt!r} (csv or parquet)")
    os.replace(tmp, path)
    return int(ledger.counts()["rows"])
