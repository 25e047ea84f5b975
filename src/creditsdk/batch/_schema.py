"""The output schema of a run: the columns, their pandas dtypes and roles, written to
``schema.json`` beside the results. Fixed by the operation, its factor catalog and the loaded
bucket tables -- never by the values a sample happens to hold (docs/batch.md, "The schema")."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConfigurationError

__all__ = [
    "DTYPES",
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "Column",
    "FactorLayout",
    "OutputSchema",
    "infer_dtype",
    "read_results",
]

SCHEMA_FILE = "schema.json"
SCHEMA_VERSION = 1
DTYPES = frozenset({"int64", "Int64", "Int8", "float64", "string", "boolean"})
ROLES = frozenset({"key", "passthrough", "personal", "status", "meta", "factor"})

#: Per-row outcome columns, always present, in this order.
STATUS_COLUMNS = ("status", "billed", "returned", "effective")
META_COLUMNS = ("error_code", "error_message", "transaction_id")
STATUSES = ("hit", "no_data", "invalid", "error", "not_sent", "maybe_billed", "not_reached")

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)


@attrs.frozen
class Column:
    name: str
    dtype: str
    role: str
    factor: str | None = None
    part: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "role": self.role,
            "factor": self.factor,
            "part": self.part,
        }


@attrs.frozen
class FactorLayout:
    """What an operation contributes: factor columns, their catalog entries, table provenance."""

    columns: tuple[Column, ...]
    factors: tuple[Mapping[str, Any], ...] = ()
    bucket_tables: Mapping[str, Any] | None = None


@attrs.frozen
class OutputSchema:
    operation: str
    provider: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    factors: tuple[Mapping[str, Any], ...] = ()
    bucket_tables: Mapping[str, Any] | None = None
    pii: str = "mask"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "operation": self.operation,
            "provider": self.provider,
            "key": list(self.key),
            "pii": self.pii,
            "bucket_tables": dict(self.bucket_tables)
            if self.bucket_tables is not None
            else {"source": "none", "path": None, "version": None},
            "columns": [c.to_dict() for c in self.columns],
            "factors": [dict(f) for f in self.factors],
        }


def infer_dtype(kinds: set[str]) -> str:
    """A passthrough column's dtype from the kinds of its non-empty cells (``int`` / ``float``
    / ``str``): all integers → ``Int64`` (a 0/1 label stays an integer), numbers → ``float64``,
    anything else (or no value at all) → ``string``."""
    if kinds == {"int"}:
        return "Int64"
    if kinds and kinds <= {"int", "float"}:
        return "float64"
    return "string"


def cell_kind(text: str) -> str:
    t = text.strip()
    if _INT.fullmatch(t):
        return "int"
    if _FLOAT.fullmatch(t):
        return "float"
    return "str"


def build_schema(
    *,
    operation: str,
    provider: str,
    layout: FactorLayout,
    keys: Sequence[str],
    personal: Sequence[str],
    passthrough: Sequence[tuple[str, str]],
    pii: str,
) -> OutputSchema:
    cols: list[Column] = [Column("row", "int64", "key")]
    taken = {"row"}
    cols += [Column(k, "string", "key") for k in keys]
    taken.update(keys)
    cols += [Column(p, "string", "personal") for p in personal]
    taken.update(personal)
    cols += [Column(name, dtype, "passthrough") for name, dtype in passthrough]
    taken.update(name for name, _ in passthrough)
    cols.append(Column("status", "string", "status"))
    cols += [Column(n, "Int8", "status") for n in STATUS_COLUMNS[1:]]
    cols += [Column(n, "string", "meta") for n in META_COLUMNS]
    fixed = {*STATUS_COLUMNS, *META_COLUMNS, "row"}
    clash = [c.name for c in layout.columns if c.name in fixed or c.name in taken]
    if clash:  # pragma: no cover - operations name their columns apart from the fixed ones
        raise ConfigurationError(f"factor columns {clash} clash with the fixed columns")
    cols += list(layout.columns)
    return OutputSchema(
        operation=operation,
        provider=provider,
        key=("row", *keys),
        columns=tuple(cols),
        factors=layout.factors,
        bucket_tables=layout.bucket_tables,
        pii=pii,
    )


def input_column_name(name: str) -> str:
    """An input column whose name is taken by a fixed output column is renamed ``input_NAME``."""
    return f"input_{name}" if name in {*STATUS_COLUMNS, *META_COLUMNS, "row"} else name


def columns_from_dicts(items: Iterable[Mapping[str, Any]]) -> tuple[Column, ...]:
    return tuple(
        Column(d["name"], d["dtype"], d["role"], d.get("factor"), d.get("part")) for d in items
    )


def read_schema(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = os.path.join(os.fspath(run_dir), SCHEMA_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            doc: dict[str, Any] = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path} ({type(exc).__name__})") from None
    return doc


def read_results(run_dir: str | os.PathLike[str]) -> Any:
    """A run's results as a pandas DataFrame with the dtypes of its ``schema.json``."""
    try:
        pd: Any = importlib.import_module("pandas")
    except ImportError:
        raise ConfigurationError("read_results() needs pandas: pip install pandas") from None
    doc = read_schema(run_dir)
    dtypes = {c["name"]: c["dtype"] for c in doc["columns"]}
    folder = os.fspath(run_dir)
    parquet = os.path.join(folder, "results.parquet")
    if os.path.exists(parquet) and not os.path.exists(os.path.join(folder, "results.csv")):
        return pd.read_parquet(parquet).astype(dtypes)
    frame = pd.read_csv(
        os.path.join(folder, "results.csv"),
        dtype={k: ("float64" if v in ("float64",) else v) for k, v in dtypes.items()},
        keep_default_na=False,
        na_values={k: [""] for k in dtypes},
    )
    return frame
