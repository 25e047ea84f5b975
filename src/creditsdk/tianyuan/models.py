"""Tianyuan results: :class:`TianyuanResult` (any product), :class:`MultiLendingReport` (JRZQ9E2A).

A factor's value is one of: :class:`Range` (a decoded bucket), ``bool`` (a flag), ``float`` (a 0-1
ratio score), ``int`` (a 350-950 model score) or ``None``. ``Factor.status`` says why a value is
``None``: ``"no_record"`` (the provider sent ``""``), ``"not_hit"`` (model score ``"-1"``),
``"no_table"`` (a bucket code and no table loaded for it: the raw code is kept, no interval is
invented), ``"unrecognized"`` (a value that does not fit the factor's kind or its table) or
``"absent"`` (the key was not in the payload at all).
"""

from __future__ import annotations

import html
import importlib
import math
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .factors import BucketTables

__all__ = [
    "FACTOR_STATUSES",
    "Factor",
    "FactorStatus",
    "MultiLendingReport",
    "Range",
    "SubResponse",
    "TianyuanResult",
]

Number = int | float
FactorStatus = Literal["decoded", "no_record", "not_hit", "no_table", "unrecognized", "absent"]
FACTOR_STATUSES: frozenset[str] = frozenset(
    {"decoded", "no_record", "not_hit", "no_table", "unrecognized", "absent"}
)
BOUNDS = ("()", "[)", "(]", "[]")


def _fmt(x: Number | None, inf: str) -> str:
    if x is None:
        return inf
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


@attrs.frozen(slots=True)
class Range:
    """An interval a bucket code stands for, from a bucket table.

    ``low``/``high`` are ``None`` when unbounded; ``inclusivity`` is one of ``"()"``, ``"[)"``,
    ``"(]"``, ``"[]"`` (which ends are included); ``unit`` e.g. ``"institutions"``, ``"yuan"``.
    """

    low: Number | None
    high: Number | None
    inclusivity: str = "[)"
    unit: str | None = None
    label: str = attrs.field(default="")

    def __attrs_post_init__(self) -> None:
        if not self.label:
            text = (
                f"{self.inclusivity[0]}{_fmt(self.low, '-∞')}, "
                f"{_fmt(self.high, '+∞')}{self.inclusivity[1]}"
            )
            object.__setattr__(self, "label", text)

    def __contains__(self, x: object) -> bool:
        if not isinstance(x, (int, float)) or isinstance(x, bool) or math.isnan(x):
            return False
        if self.low is not None and (
            x < self.low or (x == self.low and self.inclusivity[0] == "(")
        ):
            return False
        return not (
            self.high is not None
            and (x > self.high or (x == self.high and self.inclusivity[1] == ")"))
        )

    def __str__(self) -> str:
        return self.label + (f" {self.unit}" if self.unit else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "inclusivity": self.inclusivity,
            "unit": self.unit,
            "label": self.label,
        }


FactorValue = Range | bool | float | int | None


@attrs.frozen(slots=True)
class Factor:
    """One JRZQ9E2A factor: the raw string as received and what it decodes to.

    ``label`` is the Chinese label (``None`` for a key the catalog does not know), ``label_en``
    the English one, ``kind`` the catalog kind (``"unknown"`` for uncatalogued keys),
    ``provenance`` where the catalog entry comes from (``"seed-002"``, ``"protocols"`` …).
    """

    code: str
    raw: str | None
    value: FactorValue
    status: FactorStatus
    label: str | None = None
    label_en: str | None = None
    kind: str = "unknown"
    provenance: str | None = None

    @property
    def has_record(self) -> bool:
        """True unless the provider sent ``""`` (or nothing) for this factor."""
        return self.status not in ("no_record", "absent")

    def display(self) -> str:
        """Human text for the value: the interval, flag, score, or why there is none."""
        if self.status == "decoded":
            if isinstance(self.value, bool):
                return "yes" if self.value else "no"
            return str(self.value)
        if self.status == "no_table":
            return f"code {self.raw} (no table)"
        if self.status == "unrecognized":
            return f"{self.raw!r} (unrecognized)"
        return self.status.replace("_", " ")

    def to_dict(self) -> dict[str, Any]:
        value: Any = self.value.to_dict() if isinstance(self.value, Range) else self.value
        return {
            "code": self.code,
            "raw": self.raw,
            "value": value,
            "status": self.status,
            "label": self.label,
            "label_en": self.label_en,
            "kind": self.kind,
            "provenance": self.provenance,
        }


def _absent(code: str) -> Factor:
    from .factors import catalog

    entry = catalog().get(code)
    if entry is None:
        return Factor(code, None, None, "absent")
    return Factor(
        code, None, None, "absent", entry.label_zh, entry.label_en, entry.kind, entry.provenance
    )


def _factor_property(code: str, doc: str) -> property:
    def get(self: MultiLendingReport) -> Factor:
        return self.factor(code)

    get.__doc__ = f"``{code}``: {doc}"
    return property(get)


@attrs.frozen(slots=True, repr=False)
class MultiLendingReport:
    """The JRZQ9E2A multi-lending report.

    ``raw`` holds the decrypted factors exactly as received (strings); ``factors`` holds a
    :class:`Factor` for every key received, known to the catalog or not. The named properties
    return the :class:`Factor` of a documented factor (status ``"absent"`` if it was not sent).
    ``has_data`` is False for the provider's "no data" answer (code 0, empty ``data``).
    """

    transaction_id: str | None
    raw: Mapping[str, str]
    factors: Mapping[str, Factor]
    has_data: bool = True
    tables_name: str | None = None

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
        from .factors import BucketTables, decode_factors, load_bucket_tables

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
        )

    def factor(self, code: str) -> Factor:
        """The factor ``code``; an ``"absent"`` Factor when the payload did not carry it."""
        found = self.factors.get(code)
        return found if found is not None else _absent(code)

    def __iter__(self) -> Iterator[Factor]:
        return iter(self.factors.values())

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
            "raw": dict(self.raw),
            "factors": {code: f.to_dict() for code, f in self.factors.items()},
        }

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per factor (needs ``pip install 'creditsdk[pandas]'``)."""
        try:
            pd = importlib.import_module("pandas")
        except ImportError:
            raise ConfigurationError(
                "MultiLendingReport.to_frame() needs pandas: pip install 'creditsdk[pandas]'"
            ) from None
        rows = []
        for f in self.factors.values():
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
        esc = html.escape
        known = [
            f for f in self.factors.values() if f.provenance not in (None, "sandbox-synthetic")
        ]
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts().items()))
        head = (
            f"<p><b>Tianyuan multi-lending report</b> {esc(str(self.transaction_id))} "
            f"&mdash; {len(self.factors)} factors ({esc(counts) or 'no data'}); "
            f"tables: {esc(self.tables_name or 'none loaded')}</p>"
        )
        rows = "".join(
            f"<tr><td><code>{esc(f.code)}</code></td><td>{esc(f.label or '')}</td>"
            f"<td>{esc(f.label_en or '')}</td><td>{esc(repr(f.raw))}</td>"
            f"<td>{esc(f.display())}</td></tr>"
            for f in known
        )
        table = (
            "<table><thead><tr><th>code</th><th>标签</th><th>label</th><th>raw</th>"
            f"<th>value</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        return head + table

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
