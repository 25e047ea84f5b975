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


# Factor statuses that mean "no value", whatever the raw text ("-1" for a score not hit).
_NOTHING_TO_SHOW = frozenset({"no_record", "not_hit", "absent"})


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
    """Tianyuan JRZQ9E2A: every decoded factor becomes a column (ranges as _low/_high)."""

    name = "tianyuan.multi_lending"
    provider = "tianyuan"
    client_class = "creditsdk.tianyuan:AsyncTianyuanClient"

    def make_client(self, *, sandbox: Any = None, **client_kwargs: Any) -> Any:
        # Against the Sandbox, decode with the Sandbox's own bucket tables unless told otherwise
        # (against the provider, pass your contract's: client_options={"bucket_tables": path}).
        if sandbox is not None and "bucket_tables" not in client_kwargs:
            path = getattr(getattr(sandbox, "tianyuan", None), "bucket_tables_path", None)
            if path is not None:
                client_kwargs["bucket_tables"] = path
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
        out: dict[str, Scalar] = {}
        raw: Mapping[str, Any] = getattr(result, "raw", {}) or {}
        for code, factor in (getattr(result, "factors", {}) or {}).items():
            value = getattr(factor, "value", None)
            if value is None:
                if getattr(factor, "status", None) in _NOTHING_TO_SHOW:
                    out[code] = None
                    continue
                # Not decoded (no bucket table for the code): keep the code as received.
                received = getattr(factor, "raw", raw.get(code))
                out[code] = received if received not in (None, "") else None
            else:
                out.update(flatten_value(code, value))
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
        return "no_data" if getattr(result, "score", None) is None else "hit"

    def flatten(self, result: Any) -> dict[str, Scalar]:
        return {"score": _scalar(getattr(result, "score", None))}


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

    def flatten(self, result: Any) -> dict[str, Scalar]:
        return {"matched": _scalar(getattr(result, "matched", None))}


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
