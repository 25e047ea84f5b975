"""Tianyuan results: [`TianyuanResult`][] (any product), [`MultiLendingReport`][] (JRZQ9E2A).

A factor's value is one of: [`Range`][] (a decoded bucket), ``bool`` (a flag), ``float`` (a 0-1
ratio score), ``int`` (a 350-950 model score) or ``None``. ``Factor.status`` says why a value is
``None``: ``"no_record"`` (the provider sent ``""``), ``"not_hit"`` (model score ``"-1"``),
``"no_table"`` (a bucket code and no table loaded for it: the raw code is kept, no interval is
invented), ``"unrecognized"`` (a value that does not fit the factor's kind or its table) or
``"absent"`` (the key was not in the payload at all).
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, overload

import attrs

from .._core.redact import redact_text
from ..errors import ConfigurationError
from ._order import natural_key, natural_order
from ._values import (
    FACTOR_STATUSES,
    Factor,
    FactorStatus,
    FactorValue,
    Number,
    Range,
    _fmt,
)
from .factors import (
    SANDBOX_BUCKET_TABLES,
    BucketTables,
    catalog,
    decode_factors,
    load_bucket_tables,
    sandbox_catalog,
)

__all__ = [
    "FACTOR_STATUSES",
    "Factor",
    "FactorStatus",
    "FactorValue",
    "MultiLendingReport",
    "Range",
    "RowLayout",
    "SubResponse",
    "TianyuanResult",
    "natural_key",
    "reports_to_frame",
    "row_columns",
    "row_layout",
]


def _absent(code: str) -> Factor:
    entry = catalog().get(code)
    if entry is None:
        return Factor(code, None, None, "absent")
    return Factor(
        code, None, None, "absent", entry.label_zh, entry.label_en, entry.kind, entry.provenance
    )


class _NamedFactor:
    """A named, typed report property: ``report.total_institutions`` is the [`Factor`][] of
    ``xyp_cpl0001`` (status ``"absent"`` when the payload did not carry it)."""

    def __init__(self, code: str, doc: str) -> None:
        self.code = code
        self.__doc__ = f"``{code}``: {doc}"

    @overload
    def __get__(self, report: None, owner: type[Any]) -> _NamedFactor: ...

    @overload
    def __get__(self, report: MultiLendingReport, owner: type[Any]) -> Factor: ...

    def __get__(self, report: MultiLendingReport | None, owner: type[Any]) -> Factor | _NamedFactor:
        if report is None:
            return self
        return report.factor(self.code)


def _factor_property(code: str, doc: str) -> _NamedFactor:
    return _NamedFactor(code, doc)


@attrs.frozen(slots=True, repr=False)
class MultiLendingReport:
    """The JRZQ9E2A multi-lending report.

    ``raw`` holds the decrypted factors exactly as received (strings); ``factors`` holds a
    [`Factor`][] for every key received, known to the catalog or not (both in the order
    received). Iterating the report, `to_dict`, `to_frame` and the Jupyter view list factors in
    natural order (``xyp_var1, xyp_var2, xyp_var10``; see `sorted_factors`). The
    named properties return the [`Factor`][] of a documented factor (status ``"absent"`` if it
    was not sent).
    ``has_data`` is False for the provider's "no data" answer (code 0, empty ``data``).
    """

    transaction_id: str | None
    raw: Mapping[str, str]
    factors: Mapping[str, Factor]
    has_data: bool = True
    tables_name: str | None = None
    #: the tables the factors were decoded with (the row layout of `to_row`)
    tables: BucketTables | None = attrs.field(default=None, eq=False)

    @classmethod
    def from_factors(
        cls,
        raw: Mapping[str, Any],
        *,
        transaction_id: str | None = None,
        tables: BucketTables | str | os.PathLike[str] | None = None,
        has_data: bool | None = None,
    ) -> MultiLendingReport:
        """Decode raw factors (e.g. stored ``report.raw``) with ``tables`` (loaded or a path)."""
        if tables is None:
            tables = BucketTables.empty()
        elif not isinstance(tables, BucketTables):
            tables = load_bucket_tables(tables)
        raw_out, factors = decode_factors(raw, tables)
        return cls(
            transaction_id=transaction_id,
            raw=MappingProxyType(raw_out),
            factors=MappingProxyType(factors),
            has_data=bool(raw_out) if has_data is None else has_data,
            tables_name=tables.name,
            tables=tables,
        )

    def factor(self, code: str) -> Factor:
        """The factor ``code``; an ``"absent"`` Factor when the payload did not carry it."""
        found = self.factors.get(code)
        return found if found is not None else _absent(code)

    def sorted_factors(self) -> list[Factor]:
        """Every factor, codes in natural order (``xyp_var1, xyp_var2, xyp_var10``)."""
        order = natural_order(self.factors)
        if order is None:
            return list(self.factors.values())
        return [self.factors[code] for code in order]

    def __iter__(self) -> Iterator[Factor]:
        return iter(self.sorted_factors())

    def __len__(self) -> int:
        return len(self.factors)

    # The documented factors (seed 002), by meaning.
    total_institutions = _factor_property("xyp_cpl0001", "lending institutions, total")
    settled_institutions = _factor_property("xyp_cpl0002", "institutions with settled loans")
    currently_overdue = _factor_property("xyp_cpl0044", "currently overdue and unsettled (flag)")
    consumer_finance_institutions = _factor_property("xyp_cpl0007", "consumer-finance institutions")
    online_loan_institutions = _factor_property("xyp_cpl0008", "online-loan institutions")
    institutions_last_1d = _factor_property("xyp_cpl0070", "lending institutions, last day")
    institutions_last_7d = _factor_property("xyp_cpl0009", "lending institutions, last 7 days")
    institutions_last_30d = _factor_property("xyp_cpl0011", "lending institutions, last 30 days")
    overdue_last_1d = _factor_property("xyp_cpl0028", "overdue in the last day (flag)")
    overdue_last_30d = _factor_property("xyp_cpl0031", "overdue in the last 30 days (flag)")
    overdue_institutions = _factor_property("xyp_cpl0071", "institutions currently overdue")
    overdue_amount = _factor_property("xyp_cpl0072", "amount currently overdue")
    repaid_amount_last_30d = _factor_property("xyp_cpl0039", "repaid amount, last 30 days")
    credit_risk_score = _factor_property("xyp_cpl0081", "credit risk score 0-1, higher = riskier")
    small_loan_score = _factor_property("xyp_model_score_high", "small online-loan score 350-950")
    instalment_score = _factor_property("xyp_model_score_mid", "small instalment score 350-950")
    model_score_low = _factor_property("xyp_model_score_low", "model score (low), undocumented")

    def counts(self) -> dict[str, int]:
        """How many factors have each status."""
        out: dict[str, int] = {}
        for f in self.factors.values():
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "has_data": self.has_data,
            "tables": self.tables_name,
            "raw": {f.code: self.raw[f.code] for f in self.sorted_factors() if f.code in self.raw},
            "factors": {f.code: f.to_dict() for f in self.sorted_factors()},
        }

    def to_row(
        self, *, tables: BucketTables | str | os.PathLike[str] | None = None
    ) -> dict[str, Any]:
        """This report as one row: ``status`` (``hit`` / ``no_data``), ``billed`` (1),
        ``returned``, ``effective``, ``transaction_id`` and every factor column of the layout of
        ``tables`` (default: the tables it was decoded with) -- the columns of a batch run's
        output, ``None`` where there is no value. See `row_columns` for names and dtypes.
        """
        layout = row_layout(tables if tables is not None else self.tables)
        cells, effective = layout.cells(self)
        returned = bool(self.has_data)
        row: dict[str, Any] = {c["name"]: None for c in _head_columns()}
        row.update(dict.fromkeys(layout.names))
        row.update(
            status="hit" if returned else "no_data",
            billed=1,
            returned=int(returned),
            effective=int(returned and effective),
            transaction_id=self.transaction_id,
        )
        row.update(cells)
        return row

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per factor (needs ``pip install 'creditsdk[pandas]'``)."""
        try:
            pd = importlib.import_module("pandas")
        except ImportError:
            raise ConfigurationError(
                "MultiLendingReport.to_frame() needs pandas: pip install 'creditsdk[pandas]'"
            ) from None
        rows = []
        for f in self.sorted_factors():
            rng = f.value if isinstance(f.value, Range) else None
            rows.append(
                {
                    "code": f.code,
                    "label": f.label,
                    "label_en": f.label_en,
                    "kind": f.kind,
                    "raw": f.raw,
                    "status": f.status,
                    "value": None if rng is not None else f.value,
                    "low": rng.low if rng else None,
                    "high": rng.high if rng else None,
                    "interval": rng.label if rng else None,
                    "unit": rng.unit if rng else None,
                    "provenance": f.provenance,
                }
            )
        return pd.DataFrame(rows).set_index("code")

    def _repr_html_(self) -> str:
        """Jupyter's view: scores against their ranges, overdue flags, institutions by window,
        then every factor (folded). Self-contained, escaped, masked; light and dark themes."""
        from ._report_html import render

        return render(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        return (
            f"MultiLendingReport(transaction_id={self.transaction_id!r}, "
            f"factors={len(self.factors)}{', ' + counts if counts else ''})"
        )


@attrs.frozen(slots=True, repr=False)
class SubResponse:
    """One product's answer inside a composite (COMB…) response.

    A failed part carries the provider's reason in ``error`` (e.g. "参数校验不正确", masked for
    ID numbers, mobiles and cards) and ``data`` None.
    """

    api_code: str
    success: bool
    data: Any
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_code": self.api_code,
            "success": self.success,
            "data": self.data,
            "error": self.error,
        }

    def __repr__(self) -> str:
        error = f", error={self.error!r}" if self.error is not None else ""
        return f"SubResponse(api_code={self.api_code!r}, success={self.success}{error})"


@attrs.frozen(slots=True, repr=False)
class TianyuanResult:
    """A successful (code 0) answer of any product.

    ``data`` is the decrypted JSON (``None`` for the provider's "no data" answer). For composite
    products (``COMB…``) ``responses`` holds the parsed sub-responses, else it is empty.
    """

    product_code: str
    code: int
    message: str
    transaction_id: str | None
    data: Any
    responses: tuple[SubResponse, ...] = ()

    @property
    def has_data(self) -> bool:
        return self.data is not None

    def response(self, api_code: str) -> SubResponse:
        """The sub-response of ``api_code`` in a composite answer (KeyError if absent)."""
        for sub in self.responses:
            if sub.api_code == api_code:
                return sub
        raise KeyError(api_code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_code": self.product_code,
            "code": self.code,
            "message": self.message,
            "transaction_id": self.transaction_id,
            "data": self.data,
            "responses": [r.to_dict() for r in self.responses],
        }

    def __repr__(self) -> str:
        # data may hold personal data echoed back: show its shape only.
        shape = (
            "None"
            if self.data is None
            else f"<{type(self.data).__name__} of {len(self.data)}>"
            if isinstance(self.data, (dict, list))
            else f"<{type(self.data).__name__}>"
        )
        subs = f", responses={[r.api_code for r in self.responses]}" if self.responses else ""
        return (
            f"TianyuanResult(product_code={self.product_code!r}, code={self.code}, "
            f"transaction_id={self.transaction_id!r}, data={shape}{subs})"
        )


# -- one row per applicant ------------------------------------------------------------------
#
# The columns of a report's row are fixed by the factor catalog and the loaded bucket tables,
# never by the values: the batch output and the frame builder below use the same layout.

_ROW_BUCKET_KINDS = frozenset({"count_bucket", "amount_bucket", "dictionary"})
_SCORE_KINDS = frozenset({"model_score", "ratio_score"})
#: Provenance of the factors the provider documents (seed 002): the core that defines
#: ``effective`` (at least one of them has a record; a model score only when it is not -1).
CORE_PROVENANCE = "seed-002"
#: Status columns every row has, in this order (see docs/batch.md).
ROW_STATUS_COLUMNS = ("status", "billed", "returned", "effective")
ROW_META_COLUMNS = ("error_code", "error_message", "transaction_id")
#: JSON object of the answer's keys that are in no catalog and no table (``None`` if none)
UNLISTED_COLUMN = "unlisted_factors"


def _end(x: Number | None, sign: float) -> float:
    return sign * math.inf if x is None else float(x)


def _interval_label(rng: Range) -> str:
    lo = "-inf" if rng.low is None else _fmt(rng.low, "")
    hi = "+inf" if rng.high is None else _fmt(rng.high, "")
    return f"{rng.inclusivity[0]}{lo}, {hi}{rng.inclusivity[1]}"


def _mid(rng: Range) -> float:
    if rng.low is None and rng.high is None:
        return math.nan
    if rng.low is None:
        return float(rng.high)  # type: ignore[arg-type]
    if rng.high is None:
        return float(rng.low)
    return (float(rng.low) + float(rng.high)) / 2


class RowLayout:
    """The factor columns of a JRZQ9E2A row for one set of bucket tables.

    ``columns``: ``{"name", "dtype", "role", "factor", "part"}`` per column, in order;
    ``factors``: per factor its kind, labels, whether it is core, its columns and every bucket of
    its table (see docs/batch.md, "The schema"). `cells` turns a report into the non-null
    cells of a row (memoised per factor and raw value).
    """

    def __init__(self, tables: BucketTables) -> None:
        self.tables = tables
        source = tables.source
        self.sandbox = bool(source) and os.path.abspath(str(source)) == os.path.abspath(
            str(SANDBOX_BUCKET_TABLES)
        )
        cat = catalog()
        extra = sandbox_catalog() if self.sandbox else {}
        codes = list(cat)  # the catalog's own order: documented factors first
        codes += sorted((c for c in extra if c not in cat), key=natural_key)
        seen = set(codes)
        codes += sorted((c for c in tables.tables if c not in seen), key=natural_key)
        self.columns: list[dict[str, Any]] = []
        self.factors: list[dict[str, Any]] = []
        self._part: dict[str, tuple[str, tuple[str, ...]]] = {}  # code -> (layout, names)
        self.core: frozenset[str] = frozenset(
            c for c, e in cat.items() if e.provenance == CORE_PROVENANCE
        )
        # (code, raw) -> (its cells, does it make the row effective): decided once per pair.
        self._memo: dict[tuple[str, str], tuple[tuple[tuple[str, Any], ...], bool]] = {}
        self._int_codes: dict[str, bool] = {}
        for code in codes:
            entry = cat.get(code) or extra.get(code)
            kind = entry.kind if entry is not None else "unknown"
            table = tables.tables.get(code)
            if kind in _ROW_BUCKET_KINDS or (kind == "unknown" and table is not None):
                layout = "bucket"
                int_codes = table is None or all(_is_int(k) for k in table)
                self._int_codes[code] = int_codes
                parts = [
                    (code, "Int64" if int_codes else "string", "code"),
                    (f"{code}_low", "float64", "low"),
                    (f"{code}_high", "float64", "high"),
                    (f"{code}_mid", "float64", "mid"),
                ]
            elif kind == "flag":
                layout = "flag"
                parts = [(code, "Int8", "flag")]
            elif kind in _SCORE_KINDS:
                layout = "score"
                parts = [(code, "float64", "score"), (f"{code}_status", "string", "status")]
            else:
                layout = "raw"
                parts = [(code, "string", "raw")]
            self._part[code] = (layout, tuple(p[0] for p in parts))
            for name, dtype, part in parts:
                self.columns.append(
                    {"name": name, "dtype": dtype, "role": "factor", "factor": code, "part": part}
                )
            buckets = []
            for bcode, rng in (table or {}).items():
                buckets.append(
                    {
                        "code": int(bcode) if self._int_codes.get(code) else bcode,
                        "low": rng.low,
                        "high": rng.high,
                        "low_closed": rng.inclusivity[0] == "[",
                        "high_closed": rng.inclusivity[1] == "]",
                        "label": _interval_label(rng),
                        "unit": rng.unit,
                    }
                )
            self.factors.append(
                {
                    "code": code,
                    "kind": kind if layout != "bucket" or kind != "unknown" else "bucket",
                    "label_zh": entry.label_zh if entry else None,
                    "label_en": entry.label_en if entry else None,
                    "provenance": entry.provenance if entry else None,
                    "core": code in self.core,
                    "columns": {p[2]: p[0] for p in parts},
                    "buckets": buckets,
                }
            )
        self.codes = tuple(codes)
        # Keys of an answer outside the layout (in no catalog, no table): kept aside, as JSON.
        self.columns.append(
            {
                "name": UNLISTED_COLUMN,
                "dtype": "string",
                "role": "meta",
                "factor": None,
                "part": None,
            }
        )

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def bucket_tables_info(self) -> dict[str, Any]:
        """Where the tables come from (``source``: ``sandbox`` / ``file`` / ``none``)."""
        if not self.tables.tables:
            return {"source": "none", "path": None, "version": None}
        return {
            "source": "sandbox" if self.sandbox else "file",
            "path": None if self.tables.source is None else str(self.tables.source),
            "version": self.tables.name,
        }

    def _memoised(self, code: str, factor: Factor) -> tuple[tuple[tuple[str, Any], ...], bool]:
        raw = factor.raw if factor.raw is not None else ""
        key = (code, raw)
        found = self._memo.get(key)
        if found is not None:
            return found
        layout, names = self._part[code]
        cells: list[tuple[str, Any]] = []
        if layout == "bucket":
            if raw.strip():
                if self._int_codes[code]:
                    if _is_int(raw):
                        cells.append((names[0], int(raw)))
                else:
                    cells.append((names[0], raw))
                rng = factor.value if isinstance(factor.value, Range) else None
                if rng is None:
                    rng = (self.tables.tables.get(code) or {}).get(raw)
                if rng is not None:
                    cells += [
                        (names[1], _end(rng.low, -1.0)),
                        (names[2], _end(rng.high, 1.0)),
                        (names[3], _mid(rng)),
                    ]
        elif layout == "flag":
            if isinstance(factor.value, bool):
                cells.append((names[0], int(factor.value)))
            elif raw in ("0", "1"):
                cells.append((names[0], int(raw)))
        elif layout == "score":
            value = factor.value
            if factor.status == "decoded" and isinstance(value, (int, float)):
                cells += [(names[0], float(value)), (names[1], "hit")]
            elif factor.status == "not_hit" or raw.strip() == "-1":
                cells.append((names[1], "not_hit"))
            elif factor.status in ("no_record", "absent") or not raw.strip():
                cells.append((names[1], "no_record"))
            else:
                cells.append((names[1], "unrecognized"))
        elif raw:
            cells.append((names[0], raw))
        out = tuple(cells)
        decided = (out, bool(out) and code in self.core and self.present(code, out))
        if len(self._memo) < 200_000:
            self._memo[key] = decided
        return decided

    def present(self, code: str, cells: tuple[tuple[str, Any], ...]) -> bool:
        layout, names = self._part[code]
        if layout == "score":
            return any(v == "hit" for _, v in cells)
        return any(n == names[0] for n, _ in cells)

    def cells(self, report: MultiLendingReport) -> tuple[dict[str, Any], bool]:
        """(non-null factor cells, effective) for a report; keys outside the layout are skipped."""
        pairs: list[tuple[str, Any]] = []
        extend = pairs.extend  # one dict() of all pairs at the end: ~40% less than update()s
        effective = False
        parts = self._part
        memo = self._memo
        unlisted: dict[str, str] | None = None
        for code, factor in report.factors.items():
            raw = factor.raw
            found = memo.get((code, raw if raw is not None else ""))
            if found is None:
                if code not in parts:
                    if raw:
                        if unlisted is None:
                            unlisted = {}
                        unlisted[code] = raw
                    continue
                found = self._memoised(code, factor)
            extend(found[0])
            if found[1]:
                effective = True
        out = dict(pairs)
        if unlisted:  # a provider may echo personal data: redacted
            text = json.dumps(unlisted, ensure_ascii=False, sort_keys=True)
            out[UNLISTED_COLUMN] = redact_text(text)
        return out, effective


def _is_int(text: str) -> bool:
    t = text.strip()
    return t.isascii() and (t.isdigit() or (t[:1] == "-" and t[1:].isdigit()))


_LAYOUTS: dict[int, tuple[BucketTables, RowLayout]] = {}


def row_layout(tables: BucketTables | str | os.PathLike[str] | None = None) -> RowLayout:
    """The `RowLayout` for ``tables`` (loaded tables or a path; ``None``: no tables)."""
    if tables is None:
        tables = BucketTables.empty()
    elif not isinstance(tables, BucketTables):
        tables = load_bucket_tables(tables)
    found = _LAYOUTS.get(id(tables))
    if found is not None and found[0] is tables:
        return found[1]
    layout = RowLayout(tables)
    if len(_LAYOUTS) > 16:
        _LAYOUTS.clear()
    _LAYOUTS[id(tables)] = (tables, layout)
    return layout


def row_columns(
    tables: BucketTables | str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Every column of `to_row` (and of `reports_to_frame`)
    with its pandas dtype: ``row``, statuses, meta, then the factor columns of ``tables``."""
    return _head_columns() + list(row_layout(tables).columns)


def _head_columns() -> list[dict[str, Any]]:
    head = [
        {"name": "row", "dtype": "int64", "role": "key", "factor": None, "part": None},
        {"name": "status", "dtype": "string", "role": "status", "factor": None, "part": None},
        {"name": "billed", "dtype": "Int8", "role": "status", "factor": None, "part": None},
        {"name": "returned", "dtype": "Int8", "role": "status", "factor": None, "part": None},
        {"name": "effective", "dtype": "Int8", "role": "status", "factor": None, "part": None},
    ]
    head += [
        {"name": n, "dtype": "string", "role": "meta", "factor": None, "part": None}
        for n in ROW_META_COLUMNS
    ]
    return head


def reports_to_frame(
    reports: Any,
    *,
    tables: BucketTables | str | os.PathLike[str] | None = None,
) -> Any:
    """One row per report, with exactly the columns and dtypes of a batch run's output (less
    the input's own columns): ``row`` (1, 2, …), statuses, meta, factors (needs pandas).

    ``tables``: the bucket tables the layout is made of; by default those the first report was
    decoded with (all reports should share them).
    """
    try:
        pd = importlib.import_module("pandas")
    except ImportError:
        raise ConfigurationError(
            "reports_to_frame() needs pandas: pip install 'creditsdk[pandas]'"
        ) from None
    items = list(reports)
    if tables is None:
        tables = next((r.tables for r in items if r.tables is not None), None)
    columns = row_columns(tables)
    names = [c["name"] for c in columns]
    data: dict[str, list[Any]] = {n: [None] * len(items) for n in names}
    for i, report in enumerate(items):
        row = report.to_row(tables=tables)
        row["row"] = i + 1
        for name, value in row.items():
            col = data.get(name)
            if col is not None:
                col[i] = value
    frame = pd.DataFrame({n: data[n] for n in names}, columns=names)
    return frame.astype({c["name"]: c["dtype"] for c in columns})
