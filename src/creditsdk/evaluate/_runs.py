"""Reading batch run directories (docs/batch.md "Output schema"): ``schema.json`` + ``results.csv``
or ``results.parquet`` + ``summary.json`` + ``ledger.sqlite``.

Only the columns the evaluation needs are read: the key, the statuses, the factor columns and the
passthrough columns the user names (target, time, baselines). Personal columns are never read.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigurationError
from ._spec import Bucket, FactorSpec

#: statuses whose rows are left out of the evaluation (their answer is unknown, or was never
#: asked for); counted in the summary
EXCLUDED_STATUSES = ("invalid", "maybe_billed", "error", "not_sent", "not_reached")
#: the order in which a factor's parts carry its ordinal value
_VALUE_PARTS = ("code", "flag", "score", "value")
_KIND_OF_PART = {"code": "unknown", "flag": "flag", "score": "model_score", "value": "value"}
#: column names that hold personal data (batch input aliases); never read, never accepted
PERSONAL_NAMES = frozenset(
    {
        *("name", "full_name", "姓名", "id_card", "idcard", "id_no", "id_number", "cert_no"),
        *("certid", "身份证号", "身份证号码", "身份证", "mobile", "mobile_no", "phone"),
        *("phone_no", "手机号", "手机号码", "手机", "card_no", "card", "bank_card", "cardno"),
        *("银行卡号", "卡号"),
    }
)
_DTYPES = {"int64", "Int64", "Int8", "float64", "string", "boolean"}


@attrs.define
class Run:
    """One run directory, read."""

    path: Path
    label: str
    schema: dict[str, Any]
    frame: Any  # pandas DataFrame with the needed columns only
    summary: dict[str, Any]
    ledger_states: dict[str, int]
    specs: list[FactorSpec]
    skipped_factors: list[str]

    @property
    def operation(self) -> str:
        return str(self.schema.get("operation") or "")

    @property
    def provider(self) -> str:
        return str(self.schema.get("provider") or self.operation.split(".")[0])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path}: missing (is this a creditsdk batch run folder?)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{path}: expected a JSON object")
    return doc


def _ledger_states(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ConfigurationError(f"{path}: cannot read the ledger ({exc})") from None
    return {str(s): int(c) for s, c in rows}


def _columns(schema: Mapping[str, Any], source: Path) -> list[dict[str, Any]]:
    cols = schema.get("columns")
    if not isinstance(cols, list) or not cols:
        raise ConfigurationError(f"{source}: 'columns' must be a non-empty list")
    out = []
    for c in cols:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ConfigurationError(f"{source}: every column needs a 'name'")
        if c.get("dtype") not in _DTYPES:
            raise ConfigurationError(
                f"{source}: column {c['name']!r} has dtype {c.get('dtype')!r}; "
                f"known: {sorted(_DTYPES)}"
            )
        out.append(c)
    return out


def _specs(
    schema: Mapping[str, Any], cols: list[dict[str, Any]], source: str
) -> tuple[list[FactorSpec], list[str], dict[str, str]]:
    """Factor specs (column = the raw results column), skipped factor codes, and
    {results column: factor code} of every factor column used."""
    parts: dict[str, dict[str, str]] = {}
    for c in cols:
        if c.get("role") == "factor" and c.get("factor"):
            parts.setdefault(str(c["factor"]), {})[str(c.get("part") or "value")] = c["name"]
    meta = {
        str(f["code"]): f
        for f in schema.get("factors") or []
        if isinstance(f, dict) and isinstance(f.get("code"), str)
    }
    specs: list[FactorSpec] = []
    skipped: list[str] = []
    used: dict[str, str] = {}
    for code, p in parts.items():
        part = next((x for x in _VALUE_PARTS if x in p), None)
        if part is None:
            skipped.append(code)  # raw text of unknown meaning only
            continue
        m = meta.get(code, {})
        kind = str(m.get("kind") or _KIND_OF_PART[part])
        if part == "score":
            kind = kind if kind in ("model_score", "ratio_score") else "model_score"
        elif part == "flag":
            kind = "flag"
        elif part == "value":
            kind = "value"
        elif kind not in ("count_bucket", "amount_bucket", "dictionary", "unknown"):
            kind = "unknown"
        try:
            buckets = tuple(Bucket.from_dict(b) for b in m.get("buckets") or [])
        except (KeyError, TypeError, ValueError):
            raise ConfigurationError(
                f"{source}: factor {code!r} has a malformed bucket list"
            ) from None
        label = str(m.get("label_en") or m.get("label_zh") or "")
        specs.append(
            FactorSpec(
                name=code,
                column=p[part],
                kind=kind,
                code=code,
                source=source,
                label=label,
                buckets=buckets,
                core=bool(m.get("core", False)),
            )
        )
        used[p[part]] = code
    return specs, skipped, used


def read_run(path: str | os.PathLike[str], *, label: str, passthrough: Sequence[str] = ()) -> Run:
    """Read one run directory; ``passthrough`` names the input columns wanted (target, ...)."""
    pd = _pandas()
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigurationError(f"{folder}: not a folder (expected a batch run directory)")
    schema = _read_json(folder / "schema.json")
    version = schema.get("schema_version")
    if version != 1:
        raise ConfigurationError(
            f"{folder / 'schema.json'}: schema_version {version!r} is not supported (expected 1)"
        )
    cols = _columns(schema, folder / "schema.json")
    by_name = {c["name"]: c for c in cols}
    keys = schema.get("key") or [c["name"] for c in cols if c.get("role") == "key"]
    if not keys or any(k not in by_name for k in keys):
        raise ConfigurationError(f"{folder / 'schema.json'}: key {keys!r} not among the columns")
    specs, skipped, used = _specs(schema, cols, label)
    wanted: list[str] = list(keys)
    for c in cols:
        if c.get("role") == "status" and c["name"] in ("status", "billed", "returned", "effective"):
            wanted.append(c["name"])
    for name in passthrough:
        col = by_name.get(name)
        if col is not None and col.get("role") == "passthrough" and name not in wanted:
            wanted.append(name)
    wanted.extend(c for c in used if c not in wanted)
    for name in wanted:
        if name.strip().lower() in PERSONAL_NAMES:
            raise ConfigurationError(
                f"{folder}: column {name!r} holds personal data; the evaluation never reads it"
            )
    dtypes = {n: by_name[n]["dtype"] for n in wanted}
    parquet = folder / "results.parquet"
    csv = folder / "results.csv"
    try:
        if parquet.exists():
            frame = pd.read_parquet(parquet, columns=wanted)
        elif csv.exists():
            frame = pd.read_csv(
                csv,
                usecols=wanted,
                dtype={n: ("string" if d == "string" else "float64") for n, d in dtypes.items()},
                keep_default_na=True,
                encoding="utf-8",
            )
        else:
            raise ConfigurationError(f"{folder}: neither results.csv nor results.parquet")
    except (ValueError, OSError, ImportError) as exc:
        raise ConfigurationError(f"{folder}: cannot read the results ({exc})") from None
    for n, d in dtypes.items():
        if d in ("int64", "Int64", "Int8"):
            frame[n] = frame[n].astype("float64").astype("Int64")
        elif d == "boolean":
            frame[n] = frame[n].astype("boolean")
    summary_path = folder / "summary.json"
    summary = _read_json(summary_path) if summary_path.exists() else {}
    return Run(
        path=folder,
        label=label,
        schema=schema,
        frame=frame,
        summary=summary,
        ledger_states=_ledger_states(folder / "ledger.sqlite"),
        specs=specs,
        skipped_factors=skipped,
    )


def run_labels(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """A short unique label per run: the folder name (``name-2`` … on clashes)."""
    out: list[str] = []
    for p in paths:
        base = Path(p).resolve().name or "run"
        label, i = base, 2
        while label in out:
            label, i = f"{base}-{i}", i + 1
        out.append(label)
    return out


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - the evaluate extra brings it
        raise ConfigurationError(
            "creditsdk evaluate needs its extra: pip install 'creditsdk[evaluate]'"
        ) from None
    return pd
