"""What the batch runner can call: a small provider-neutral adapter per provider operation.

A [`BatchOperation`][] knows which input columns it needs, how to validate one row before
any I/O (``prepare``), how to make an async client, how to make the call, and how to flatten the
result into scalar columns. Provider packages are imported lazily, on first use, so the batch
runner imports without them.

Built in: ``tianyuan.multi_lending``, ``fireeye.model_score``, ``fireeye.verify_transaction``
and ``demo.score`` (a synthetic bureau that only exists in the Sandbox, for trying the runner).
Sesame is not offered: each of its calls needs the user's own OAuth grant, which a batch of past
applicants does not have.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

from .._core.consent import Consent
from .._core.identity import Applicant, normalize_card_no, normalize_id_card, normalize_mobile
from .._core.redact import mask_card, mask_id_card, mask_mobile
from ..errors import ConfigurationError, InvalidInputError, UnverifiedCardWarning
from ._schema import Column, FactorLayout

__all__ = [
    "BatchOperation",
    "ProviderOperation",
    "Scalar",
    "available_operations",
    "flatten_value",
    "get_operation",
    "register_operation",
    "required_field",
]

Scalar = str | int | float | bool | None


@runtime_checkable
class BatchOperation(Protocol):
    """One provider operation, as the batch runner sees it.

    ``columns``: the input columns it reads (canonical names; see ``required``).
    ``prepare(row)`` validates and normalises one row (a mapping of column → string) and raises
    [`InvalidInputError`][creditsdk.errors.InvalidInputError] for a bad one; it never does I/O.
    ``masked(prepared)`` is what may be stored and written out about the person.
    ``make_client(sandbox=..., **client_kwargs)`` returns an async client (an async context
    manager); ``call`` runs the paid call; ``status`` says ``"hit"`` or ``"no_data"`` for an
    answer; ``flatten`` turns it into scalar columns; ``transaction_id`` picks the provider's id.

    Built-in operations also have ``layout(client_options, sandbox=...)``: the fixed factor
    columns of the output (a `FactorLayout`), and their
    ``flatten`` gives the non-null cells of those columns plus ``effective`` (0/1). An operation
    without ``layout`` gets columns from the values it returns (docs/batch.md).
    """

    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def required(self) -> tuple[str, ...]: ...

    @property
    def needs_consent(self) -> bool: ...

    def prepare(self, row: Mapping[str, str]) -> Any: ...

    def masked(self, prepared: Any) -> dict[str, str]: ...

    def make_client(self, *, sandbox: Any = None, **client_kwargs: Any) -> Any: ...

    async def call(
        self, client: Any, prepared: Any, consent: Consent | None, *, timeout: Any, retry: Any
    ) -> Any: ...

    def status(self, result: Any) -> str: ...

    def flatten(self, result: Any) -> dict[str, Scalar]: ...

    def transaction_id(self, result: Any) -> str | None: ...

    def sandbox_providers(self) -> Mapping[str, Callable[[Any], Any]]:
        """Sandbox plug-ins this operation needs beyond the discovered providers."""
        ...


def flatten_value(prefix: str, value: Any) -> dict[str, Scalar]:
    """One decoded value as columns: ranges (anything with ``low``/``high``) as two columns."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return {prefix: value}
    if hasattr(value, "low") and hasattr(value, "high"):
        return {
            f"{prefix}_low": _scalar(value.low),
            f"{prefix}_high": _scalar(value.high),
        }
    return {prefix: _scalar(value)}


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def required_field(row: Mapping[str, str], name: str) -> str:
    value = row.get(name)
    if value is None or not str(value).strip():
        raise InvalidInputError("is empty", field=name, rule="required")
    return str(value)


def _card(value: str, field: str = "card_no") -> str:
    # Some Chinese cards fail Luhn: the SDK warns and sends anyway; a batch stays quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedCardWarning)
        return normalize_card_no(value, field)


class ProviderOperation:
    """Shared plumbing for operations of a provider client class named by import path."""

    name: str = ""
    provider: str = ""
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    needs_consent: bool = True
    #: "module:Class" of the async client, imported on first use
    client_class: str = ""

    def make_client(self, *, sandbox: Any = None, **client_kwargs: Any) -> Any:
        if sandbox is not None:
            factory = getattr(sandbox, f"async_{self.provider}_client", None)
            if factory is None:
                raise ConfigurationError(
                    f"the Sandbox has no {self.provider!r} provider (is creditsdk.{self.provider} "
                    "installed?)"
                )
            return factory(**client_kwargs)
        module_name, _, class_name = self.client_class.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigurationError(
                f"operation {self.name!r} needs {module_name}, which is not installed ({exc})"
            ) from None
        cls = getattr(module, class_name)
        return cls(**client_kwargs)

    def transaction_id(self, result: Any) -> str | None:
        value = getattr(result, "transaction_id", None)
        return None if value is None else str(value)

    def sandbox_providers(self) -> Mapping[str, Callable[[Any], Any]]:
        return {}

    def __repr__(self) -> str:
        return f"<BatchOperation {self.name}>"


class ApplicantOperation(ProviderOperation):
    """An operation whose row is one [`Applicant`][] (name, ID number, mobile)."""

    columns = ("name", "id_card", "mobile")
    required = ("name", "id_card", "mobile")

    def prepare(self, row: Mapping[str, str]) -> Applicant:
        return Applicant(
            name=required_field(row, "name"),
            id_card=required_field(row, "id_card"),
            mobile=required_field(row, "mobile"),
        )

    def masked(self, prepared: Applicant) -> dict[str, str]:
        return prepared.masked()


class TianyuanMultiLending(ApplicantOperation):
    """Tianyuan JRZQ9E2A: every factor of the catalog and of the loaded bucket tables is a fixed
    set of columns (bucket code, ``_low``, ``_high``, ``_mid``; flags 0/1; scores and their
    status), whatever the answers hold."""

    name = "tianyuan.multi_lending"
    provider = "tianyuan"
    client_class = "creditsdk.tianyuan:AsyncTianyuanClient"

    def __init__(self) -> None:
        self._tables: Any = None
        self._tables_from: Any = None

    def _resolve_tables(self, client_kwargs: dict[str, Any], sandbox: Any) -> None:
        # Against the Sandbox, decode with the Sandbox's own bucket tables unless told otherwise
        # (against the provider, pass your contract's: client_options={"bucket_tables": path}).
        if sandbox is not None and "bucket_tables" not in client_kwargs:
            path = getattr(getattr(sandbox, "tianyuan", None), "bucket_tables_path", None)
            if path is not None:
                client_kwargs["bucket_tables"] = path
        given = client_kwargs.get("bucket_tables")
        if given is None:
            return
        if self._tables is not None and self._tables_from is given:
            client_kwargs["bucket_tables"] = self._tables
            return
        from ..tianyuan.factors import BucketTables, load_bucket_tables

        tables = given if isinstance(given, BucketTables) else load_bucket_tables(given)
        self._tables, self._tables_from = tables, given
        client_kwargs["bucket_tables"] = tables

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        from ..tianyuan.models import row_layout

        options = dict(client_options)
        self._resolve_tables(options, sandbox)
        rows = row_layout(self._tables)
        return FactorLayout(
            columns=tuple(
                Column(c["name"], c["dtype"], c["role"], c["factor"], c["part"])
                for c in rows.columns
            ),
            factors=tuple(rows.factors),
            bucket_tables=rows.bucket_tables_info(),
        )

    def make_client(self, *, sandbox: Any = None, **client_kwargs: Any) -> Any:
        self._resolve_tables(client_kwargs, sandbox)
        return super().make_client(sandbox=sandbox, **client_kwargs)

    async def call(
        self, client: Any, prepared: Applicant, consent: Consent | None, *, timeout: Any, retry: Any
    ) -> Any:
        return await client.multi_lending(prepared, consent=consent, timeout=timeout, retry=retry)

    def status(self, result: Any) -> str:
        has_data = getattr(result, "has_data", None)
        if has_data is None:
            has_data = any(str(v).strip() for v in getattr(result, "raw", {}).values())
        return "hit" if has_data else "no_data"

    def flatten(self, result: Any) -> dict[str, Scalar]:
        from ..tianyuan.models import row_layout

        tables = self._tables if self._tables is not None else getattr(result, "tables", None)
        cells, effective = row_layout(tables).cells(result)
        out: dict[str, Scalar] = dict(cells)
        out["effective"] = int(effective and self.status(result) == "hit")
        return out


class FireEyeModelScore(ProviderOperation):
    """UnionPay FireEye model score (300-1000) by card, ID number and mobile."""

    name = "fireeye.model_score"
    provider = "fireeye"
    columns = ("card_no", "id_card", "mobile")
    required = ("card_no", "id_card", "mobile")
    client_class = "creditsdk.fireeye:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> dict[str, str]:
        return {
            "card_no": _card(required_field(row, "card_no")),
            "id_card": normalize_id_card(required_field(row, "id_card")),
            "mobile": normalize_mobile(required_field(row, "mobile")),
        }

    def masked(self, prepared: Mapping[str, str]) -> dict[str, str]:
        return {
            "card_no": mask_card(prepared["card_no"]),
            "id_card": mask_id_card(prepared["id_card"]),
            "mobile": mask_mobile(prepared["mobile"]),
        }

    async def call(
        self,
        client: Any,
        prepared: Mapping[str, str],
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        return await client.model_score(
            card_no=prepared["card_no"],
            id_card=prepared["id_card"],
            mobile=prepared["mobile"],
            consent=consent,
            timeout=timeout,
            retry=retry,
        )

    def status(self, result: Any) -> str:
        return "hit"  # a score or "not hit" (-1): the provider answered

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        return _score_layout("score", "UnionPay model score 300-1000")

    def flatten(self, result: Any) -> dict[str, Scalar]:
        score = getattr(result, "score", None)
        if score is None or score == -1:
            return {"score_status": "not_hit", "effective": 0}
        return {"score": float(score), "score_status": "hit", "effective": 1}


def _parse_date(value: str, field: str) -> _dt.date:
    v = value.strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return _dt.datetime.strptime(v, fmt).date()
        except ValueError:
            continue
    raise InvalidInputError("must be a date (YYYYMMDD or YYYY-MM-DD)", field=field, rule="format")


def _parse_amount(value: str, field: str) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInputError("must be a number of yuan", field=field, rule="format") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInputError("must be a positive amount", field=field, rule="range")
    return amount


class FireEyeVerifyTransaction(ProviderOperation):
    """UnionPay FireEye transaction authentication: did this card make this payment?"""

    name = "fireeye.verify_transaction"
    provider = "fireeye"
    columns = ("card_no", "trans_date", "amount", "id_card", "mobile")
    required = ("card_no", "trans_date", "amount")
    client_class = "creditsdk.fireeye:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> dict[str, Any]:
        prepared: dict[str, Any] = {
            "card_no": _card(required_field(row, "card_no")),
            "trans_date": _parse_date(required_field(row, "trans_date"), "trans_date"),
            "amount": _parse_amount(required_field(row, "amount"), "amount"),
        }
        if str(row.get("id_card") or "").strip():
            prepared["id_card"] = normalize_id_card(row["id_card"])
        if str(row.get("mobile") or "").strip():
            prepared["mobile"] = normalize_mobile(row["mobile"])
        return prepared

    def masked(self, prepared: Mapping[str, Any]) -> dict[str, str]:
        out = {
            "card_no": mask_card(prepared["card_no"]),
            "trans_date": prepared["trans_date"].isoformat(),
            "amount": str(prepared["amount"]),
        }
        if "id_card" in prepared:
            out["id_card"] = mask_id_card(prepared["id_card"])
        if "mobile" in prepared:
            out["mobile"] = mask_mobile(prepared["mobile"])
        return out

    async def call(
        self,
        client: Any,
        prepared: Mapping[str, Any],
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        extra = {k: prepared[k] for k in ("id_card", "mobile") if k in prepared}
        return await client.verify_transaction(
            card_no=prepared["card_no"],
            trans_date=prepared["trans_date"],
            amount=prepared["amount"],
            consent=consent,
            timeout=timeout,
            retry=retry,
            **extra,
        )

    def status(self, result: Any) -> str:
        return "hit"  # matched or not, it is an answer

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        return FactorLayout(
            columns=(Column("matched", "Int8", "factor", "matched", "flag"),),
            factors=(
                {
                    "code": "matched",
                    "kind": "flag",
                    "label_zh": "交易验证结果",
                    "label_en": "the card made this transaction",
                    "core": True,
                    "columns": {"flag": "matched"},
                    "buckets": [],
                },
            ),
        )

    def flatten(self, result: Any) -> dict[str, Scalar]:
        matched = getattr(result, "matched", None)
        if matched is None:
            return {"effective": 0}
        return {"matched": int(bool(matched)), "effective": int(bool(matched))}


def _score_layout(code: str, label_en: str, label_zh: str | None = None) -> FactorLayout:
    return FactorLayout(
        columns=(
            Column(code, "float64", "factor", code, "score"),
            Column(f"{code}_status", "string", "factor", code, "status"),
        ),
        factors=(
            {
                "code": code,
                "kind": "model_score",
                "label_zh": label_zh,
                "label_en": label_en,
                "core": True,
                "columns": {"score": code, "status": f"{code}_status"},
                "buckets": [],
            },
        ),
    )


def _demo_operation() -> BatchOperation:
    from .demo import DemoScore

    return DemoScore()


_REGISTRY: dict[str, Callable[[], BatchOperation]] = {
    "tianyuan.multi_lending": TianyuanMultiLending,
    "fireeye.model_score": FireEyeModelScore,
    "fireeye.verify_transaction": FireEyeVerifyTransaction,
    "demo.score": _demo_operation,
}


def register_operation(name: str, factory: Callable[[], BatchOperation]) -> None:
    """Make ``factory()`` available as ``--operation NAME`` / ``run_batch(operation=NAME)``."""
    _REGISTRY[name] = factory


def available_operations() -> list[str]:
    return sorted(_REGISTRY)


def get_operation(operation: str | BatchOperation) -> BatchOperation:
    """The operation named ``operation`` (or ``operation`` itself if it is one)."""
    if not isinstance(operation, str):
        return operation
    factory = _REGISTRY.get(operation)
    if factory is None:
        hint = " (Sesame needs each user's OAuth grant: not available in batches)"
        raise ConfigurationError(
            f"unknown batch operation {operation!r}; available: {available_operations()}"
            + (hint if operation.startswith("sesame") else "")
        )
    return factory()
