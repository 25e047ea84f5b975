"""What the batch runner can call: a small provider-neutral adapter per provider operation.

A [`BatchOperation`][] knows which input columns it needs, how to validate one row before
any I/O (``prepare``), how to make an async client, how to make the call, and how to flatten the
result into scalar columns. Provider packages are imported lazily, on first use, so the batch
runner imports without them.

The operations on offer are those the provider specs declare (``ProviderSpec.batch_operations``,
see docs/contributing.md) plus any added with [`register_operation`][]. A provider whose calls a
batch cannot make (one needing each user's own authorization) says why in its spec's
``batch_note``.
"""

from __future__ import annotations

import datetime as _dt
import importlib
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from .._core.consent import Consent
from .._core.identity import Applicant
from ..errors import ConfigurationError, InvalidInputError
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
    "row_cells",
    "score_layout",
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


def row_cells(row: Mapping[str, str], names: Iterable[str]) -> dict[str, str | None]:
    """The row's cells for ``names``, a blank cell as None: the keyword arguments of a provider's
    ``_protocol.inputs_<op>`` (whose rules then say "required" for a missing one)."""
    out: dict[str, str | None] = {}
    for name in names:
        value = row.get(name)
        out[name] = None if value is None or not str(value).strip() else str(value)
    return out


def required_field(row: Mapping[str, str], name: str) -> str:
    value = row.get(name)
    if value is None or not str(value).strip():
        raise InvalidInputError("is empty", field=name, rule="required")
    return str(value)


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


def score_layout(code: str, label_en: str, label_zh: str | None = None) -> FactorLayout:
    """The two columns of one model score: the score and its status."""
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


#: operations registered at run time (``register_operation``), over the providers' own
_REGISTERED: dict[str, Callable[[], BatchOperation]] = {}


def _declared() -> dict[str, tuple[Any, str]]:
    """Operation name → (spec, name) for every operation the provider specs declare."""
    from .._spec import discover_specs

    return {name: (spec, name) for spec in discover_specs() for name in spec.batch_operations}


def register_operation(name: str, factory: Callable[[], BatchOperation]) -> None:
    """Make ``factory()`` available as ``--operation NAME`` / ``run_batch(operation=NAME)``."""
    _REGISTERED[name] = factory


def available_operations() -> list[str]:
    return sorted(set(_declared()) | set(_REGISTERED))


def get_operation(operation: str | BatchOperation) -> BatchOperation:
    """The operation named ``operation`` (or ``operation`` itself if it is one)."""
    if not isinstance(operation, str):
        return operation
    factory = _REGISTERED.get(operation)
    if factory is not None:
        return factory()
    declared = _declared().get(operation)
    if declared is not None:
        spec, name = declared
        op: BatchOperation = spec.batch_operation_factory(name)()
        return op
    from .._spec import discover_specs

    prefix = operation.partition(".")[0]
    notes = [s.batch_note for s in discover_specs() if s.name == prefix and s.batch_note]
    raise ConfigurationError(
        f"unknown batch operation {operation!r}; available: {available_operations()}"
        + "".join(f" ({note})" for note in notes)
    )
