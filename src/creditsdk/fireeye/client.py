"""FireEyeClient / AsyncFireEyeClient: thin; every rule lives in _protocol.py and the core."""

from __future__ import annotations

import datetime as _dt
import warnings
from decimal import Decimal

import httpx

from .._core.clients import AsyncClientBase, AuditArg, PricesArg, SyncClientBase, VerifyArg
from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg
from .._core.consent import Consent
from .._core.executors import DEFAULT_MAX_RESPONSE_BYTES
from .._core.identity import _caller_stacklevel
from .._core.operation import Operation
from .._core.redact import mask_secret
from .._core.retry import RetryPolicy
from ..errors import (
    ConfigurationError,
)
from . import _protocol as proto
from ._guard import CardGuard
from ._protocol import FireEyeConfig
from .models import FireEyeScore, TransactionCheck

__all__ = [
    "AmountArg",
    "AsyncFireEyeClient",
    "AuditArg",
    "DateArg",
    "FireEyeClient",
    "VerifyArg",
]

#: A transaction date: a ``date`` (or ``datetime``) or ``"YYYYMMDD"`` / ``"YYYY-MM-DD"``.
DateArg = _dt.date | str
#: An amount in yuan: ``Decimal("212.00")``, ``212`` or ``"212.00"`` (never a float).
AmountArg = Decimal | int | str


def _guard_of(value: object) -> CardGuard | None:
    if value is None or value is False:
        return None
    if value is True:
        return CardGuard()
    if isinstance(value, CardGuard):
        return value
    raise ConfigurationError(f"card_guard must be a CardGuard, True or None, not {value!r}")


def _legacy_positional(
    method: str, legacy: tuple[object, ...], names: tuple[str, ...], given: dict[str, object]
) -> dict[str, object]:
    """Map arguments passed positionally after the last positional parameter (``consent`` and
    what followed it) to their names, with a `DeprecationWarning`: they are keyword-only now."""
    if not legacy:
        return given
    if len(legacy) > len(names):
        raise TypeError(f"{method}() takes at most {len(names)} more positional arguments")
    out = dict(given)
    for name, value in zip(names[: len(legacy)], legacy, strict=True):
        if out.get(name) is not None:
            raise TypeError(f"{method}() got multiple values for argument {name!r}")
        out[name] = value
    warnings.warn(
        f"passing {', '.join(names[: len(legacy)])} positionally to {method}() is deprecated "
        f"and will stop working in a future release: pass {names[0]}=… (keyword-only)",
        DeprecationWarning,
        stacklevel=_caller_stacklevel(),
    )
    return out


_TRANSACTION_EXTRA = ("consent", "id_card", "mobile", "location")
_TRANSACTION_ARGS = ("card_no", "trans_date", "amount", *_TRANSACTION_EXTRA)


class _FireEyeCommon:
    """Configuration and per-call logic shared by the sync and async clients."""

    _config: FireEyeConfig
    card_guard: CardGuard | None

    def _configure(
        self,
        config: FireEyeConfig | None,
        institution_id: str | None,
        app_key: str | None,
        base_url: str | None,
        method: str | None,
        amount_unit: str | None,
        card_guard: CardGuard | bool | None,
    ) -> None:
        if config is None:
            config = FireEyeConfig.from_env(
                institution_id, app_key, base_url, method=method, amount_unit=amount_unit
            )
        elif not isinstance(config, FireEyeConfig):
            raise ConfigurationError(f"config must be a FireEyeConfig, not {type(config).__name__}")
        elif any(v is not None for v in (institution_id, app_key, base_url, method, amount_unit)):
            raise ConfigurationError(
                "pass either config= or institution_id/app_key/base_url/method/amount_unit"
            )
        self._config = config
        self.card_guard = _guard_of(card_guard)

    @property
    def config(self) -> FireEyeConfig:
        """The validated settings every request is built from."""
        return self._config

    @property
    def institution_id(self) -> str:
        return self._config.institution_id

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def method(self) -> proto.HttpMethod:
        """``"POST"`` (form body ``data=``) or ``"GET"`` (``?data=``)."""
        return self._config.method

    @property
    def amount_unit(self) -> proto.AmountUnit:
        """How ``transAmount`` goes on the wire: ``"fen"`` or ``"yuan"``."""
        return self._config.amount_unit

    def _transaction(
        self, legacy: tuple[object, ...], *values: object
    ) -> Operation[TransactionCheck]:
        given = dict(zip(_TRANSACTION_ARGS, values, strict=True))
        raw = _legacy_positional("verify_transaction", legacy, _TRANSACTION_EXTRA, given)
        inputs = proto.inputs_verify_transaction(
            card_no=raw["card_no"],
            trans_date=raw["trans_date"],
            amount=raw["amount"],
            id_card=raw["id_card"],
            mobile=raw["mobile"],
            location=raw["location"],
        )
        op = proto.build_verify_transaction(self._config, inputs, consent=raw["consent"])
        # The guard is a gate of the call: admitted once the inputs are valid (a refused input
        # must not use up a slot of the card's daily allowance), settled by its outcome.
        if self.card_guard is None:
            return op
        return op.with_gates(self.card_guard.gate(inputs.card_no))

    def _score(
        self, legacy: tuple[object, ...], consent: Consent | None, **raw: object
    ) -> Operation[FireEyeScore]:
        given = _legacy_positional("model_score", legacy, ("consent",), {"consent": consent})
        return proto.model_score(self._config, consent=given["consent"], **raw)

    def __repr__(self) -> str:
        c = self._config
        return (
            f"{type(self).__name__}(institution_id={c.institution_id!r}, "
            f"app_key={mask_secret(c.app_key)}, base_url={c.base_url!r}, "
            f"method={c.method!r}, amount_unit={c.amount_unit!r}, "
            f"card_guard={self.card_guard!r})"
        )


class FireEyeClient(_FireEyeCommon, SyncClientBase):
    """UnionPay FireEye (火眼): transaction authentication and the UnionPay model score.

    Settings not given fall back to ``CREDITSDK_FIREEYE_INSTITUTION_ID``, ``_APP_KEY``,
    ``_BASE_URL`` (then the production host), ``_METHOD`` and ``_AMOUNT_UNIT``; or pass a
    ready [`FireEyeConfig`][creditsdk.fireeye.FireEyeConfig] as ``config=``.
    ``method``: ``"POST"`` (form body ``data=``, default) or ``"GET"`` (``?data=``).
    ``amount_unit``: how ``transAmount`` goes on the wire, ``"fen"`` (default, ``"21200"``) or
    ``"yuan"`` (``212.0``); amounts you pass are always yuan. ``card_guard``: a
    [`CardGuard`][] (or True for the default limits) to refuse checks that would get a card
    locked. Both operations are billed and not idempotent: a call that may have reached
    UnionPay is never retried automatically.
    """

    def __init__(
        self,
        institution_id: str | None = None,
        app_key: str | None = None,
        base_url: str | None = None,
        *,
        config: FireEyeConfig | None = None,
        method: str | None = None,
        amount_unit: str | None = None,
        card_guard: CardGuard | bool | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._configure(config, institution_id, app_key, base_url, method, amount_unit, card_guard)
        self._init_transport(
            provider="fireeye",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    def verify_transaction(
        self,
        card_no: str,
        trans_date: DateArg,
        amount: AmountArg,
        *legacy: object,
        consent: Consent | None = None,
        id_card: str | None = None,
        mobile: str | None = None,
        location: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> TransactionCheck:
        """Does UnionPay know this card transaction (date, amount in yuan, optional details)?

        ``consent`` (required) and the details are keyword-only; passing them positionally
        still works but is deprecated. A transaction UnionPay does not know (0003) is a
        result, ``matched=False``, not an error.
        """
        raw = (card_no, trans_date, amount, consent, id_card, mobile, location)
        return self._run(
            self._transaction(legacy, *raw),
            timeout=timeout,
            retry=retry,
            correlation_id=correlation_id,
        )

    def model_score(
        self,
        card_no: str,
        id_card: str,
        mobile: str,
        *legacy: object,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> FireEyeScore:
        """The UnionPay model score of a cardholder: an int in 300..1000 (``None`` if not hit).

        ``consent`` is keyword-only (positionally: deprecated)."""
        op = self._score(legacy, consent, card_no=card_no, id_card=id_card, mobile=mobile)
        return self._run(op, timeout, retry, correlation_id=correlation_id)


class AsyncFireEyeClient(_FireEyeCommon, AsyncClientBase):
    """The async twin of [`FireEyeClient`][]: same arguments, ``async def`` methods."""

    def __init__(
        self,
        institution_id: str | None = None,
        app_key: str | None = None,
        base_url: str | None = None,
        *,
        config: FireEyeConfig | None = None,
        method: str | None = None,
        amount_unit: str | None = None,
        card_guard: CardGuard | bool | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: AuditArg = None,
        prices: PricesArg = None,
        verify: VerifyArg = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._configure(config, institution_id, app_key, base_url, method, amount_unit, card_guard)
        self._init_transport(
            provider="fireeye",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            prices=prices,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    async def verify_transaction(
        self,
        card_no: str,
        trans_date: DateArg,
        amount: AmountArg,
        *legacy: object,
        consent: Consent | None = None,
        id_card: str | None = None,
        mobile: str | None = None,
        location: str | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> TransactionCheck:
        """See [`FireEyeClient.verify_transaction`][]."""
        raw = (card_no, trans_date, amount, consent, id_card, mobile, location)
        return await self._run(
            self._transaction(legacy, *raw),
            timeout=timeout,
            retry=retry,
            correlation_id=correlation_id,
        )

    async def model_score(
        self,
        card_no: str,
        id_card: str,
        mobile: str,
        *legacy: object,
        consent: Consent | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        correlation_id: str | None = None,
    ) -> FireEyeScore:
        """See [`FireEyeClient.model_score`][creditsdk.fireeye.FireEyeClient.model_score]."""
        op = self._score(legacy, consent, card_no=card_no, id_card=id_card, mobile=mobile)
        return await self._run(op, timeout, retry, correlation_id=correlation_id)
