"""FireEyeClient / AsyncFireEyeClient: thin; every rule lives in _protocol.py and the core."""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any

import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, env_or
from .._core.consent import Consent, check_consent
from .._core.identity import normalize_card_no, normalize_id_card, normalize_mobile
from .._core.operation import Operation
from .._core.redact import mask_secret
from .._core.retry import RetryPolicy
from .._core.transport import DEFAULT_MAX_RESPONSE_BYTES, AsyncClientBase, SyncClientBase
from ..errors import (
    ConfigurationError,
)
from . import _protocol as proto
from ._guard import CardGuard
from .models import FireEyeScore, TransactionCheck

__all__ = ["AsyncFireEyeClient", "FireEyeClient"]

ENV_INSTITUTION_ID = "CREDITSDK_FIREEYE_INSTITUTION_ID"
ENV_APP_KEY = "CREDITSDK_FIREEYE_APP_KEY"
ENV_BASE_URL = "CREDITSDK_FIREEYE_BASE_URL"


def _guard_of(value: object) -> CardGuard | None:
    if value is None or value is False:
        return None
    if value is True:
        return CardGuard()
    if isinstance(value, CardGuard):
        return value
    raise ConfigurationError(f"card_guard must be a CardGuard, True or None, not {value!r}")


class _FireEyeCommon:
    """Configuration and per-call logic shared by the sync and async clients."""

    _creds: proto.Credentials
    base_url: str
    method: proto.HttpMethod
    amount_unit: proto.AmountUnit
    card_guard: CardGuard | None

    def _configure(
        self,
        institution_id: str | None,
        app_key: str | None,
        base_url: str | None,
        method: str,
        amount_unit: str,
        card_guard: CardGuard | bool | None,
    ) -> None:
        inst = env_or(institution_id, ENV_INSTITUTION_ID, what="FireEye institution_id")
        key = env_or(app_key, ENV_APP_KEY, what="FireEye app_key")
        assert inst is not None
        assert key is not None
        self._creds = proto.Credentials(inst, key)
        url = env_or(base_url, ENV_BASE_URL, what="FireEye base_url", required=False)
        self.base_url = proto.check_base_url(url or proto.DEFAULT_BASE_URL)
        self.method = proto.check_method(method)
        self.amount_unit = proto.check_amount_unit(amount_unit)
        self.card_guard = _guard_of(card_guard)

    @property
    def institution_id(self) -> str:
        return self._creds.institution_id

    def _transaction(
        self,
        card: str,
        trans_date: object,
        amount: object,
        consent: object,
        id_card: object,
        mobile: object,
        location: object,
    ) -> Operation[TransactionCheck]:
        op = proto.transaction_operation(
            base_url=self.base_url,
            method=self.method,
            creds=self._creds,
            amount_unit=self.amount_unit,
            card_no=card,
            trans_date=proto.normalize_trans_date(trans_date),
            amount=proto.normalize_amount(amount),
            consent=_consent(consent),
            id_card=None if id_card is None else normalize_id_card(id_card),
            mobile=None if mobile is None else normalize_mobile(mobile),
            location=proto.normalize_location(location),
        )
        # The guard is a gate of the call: admitted once the inputs are valid (a refused input
        # must not use up a slot of the card's daily allowance), settled by its outcome.
        return op if self.card_guard is None else op.with_gates(self.card_guard.gate(card))

    def _score(
        self, card: str, id_card: object, mobile: object, consent: object
    ) -> Operation[FireEyeScore]:
        """``card`` is already normalised by the public method, so that a Luhn warning points
        at the caller's line."""
        return proto.model_score_operation(
            base_url=self.base_url,
            method=self.method,
            creds=self._creds,
            card_no=card,
            id_card=normalize_id_card(id_card),
            mobile=normalize_mobile(mobile),
            consent=_consent(consent),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(institution_id={self._creds.institution_id!r}, "
            f"app_key={mask_secret(self._creds.app_key)}, base_url={self.base_url!r}, "
            f"method={self.method!r}, amount_unit={self.amount_unit!r}, "
            f"card_guard={self.card_guard!r})"
        )


def _consent(consent: object) -> Consent:
    checked = check_consent(consent)
    assert checked is not None
    return checked


class FireEyeClient(_FireEyeCommon, SyncClientBase):
    """UnionPay FireEye (火眼): transaction authentication and the UnionPay model score.

    Credentials fall back to ``CREDITSDK_FIREEYE_INSTITUTION_ID`` / ``CREDITSDK_FIREEYE_APP_KEY``
    and the base URL to ``CREDITSDK_FIREEYE_BASE_URL``, then to the production host.
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
        method: str = "POST",
        amount_unit: str = "fen",
        card_guard: CardGuard | bool | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: Any = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._configure(institution_id, app_key, base_url, method, amount_unit, card_guard)
        self._init_transport(
            provider="fireeye",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    def verify_transaction(
        self,
        card_no: str,
        trans_date: _dt.date,
        amount: Decimal,
        consent: Consent,
        id_card: str | None = None,
        mobile: str | None = None,
        location: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> TransactionCheck:
        """Does UnionPay know this card transaction (date, amount in yuan, optional details)?

        A transaction UnionPay does not know (0003) is a result, ``matched=False``, not an error.
        """
        card = normalize_card_no(card_no)
        op = self._transaction(card, trans_date, amount, consent, id_card, mobile, location)
        return self._run(op, timeout=timeout, retry=retry)

    def model_score(
        self,
        card_no: str,
        id_card: str,
        mobile: str,
        consent: Consent,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> FireEyeScore:
        """The UnionPay model score of a cardholder: an int in 300..1000."""
        return self._run(
            self._score(normalize_card_no(card_no), id_card, mobile, consent), timeout, retry
        )


class AsyncFireEyeClient(_FireEyeCommon, AsyncClientBase):
    """The async twin of [`FireEyeClient`][]: same arguments, ``async def`` methods."""

    def __init__(
        self,
        institution_id: str | None = None,
        app_key: str | None = None,
        base_url: str | None = None,
        *,
        method: str = "POST",
        amount_unit: str = "fen",
        card_guard: CardGuard | bool | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: Any = None,
        verify: Any = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._configure(institution_id, app_key, base_url, method, amount_unit, card_guard)
        self._init_transport(
            provider="fireeye",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
            max_response_bytes=max_response_bytes,
        )

    async def verify_transaction(
        self,
        card_no: str,
        trans_date: _dt.date,
        amount: Decimal,
        consent: Consent,
        id_card: str | None = None,
        mobile: str | None = None,
        location: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> TransactionCheck:
        """See [`FireEyeClient.verify_transaction`][]."""
        card = normalize_card_no(card_no)
        op = self._transaction(card, trans_date, amount, consent, id_card, mobile, location)
        return await self._run(op, timeout=timeout, retry=retry)

    async def model_score(
        self,
        card_no: str,
        id_card: str,
        mobile: str,
        consent: Consent,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> FireEyeScore:
        """See [`FireEyeClient.model_score`][creditsdk.fireeye.FireEyeClient.model_score]."""
        return await self._run(
            self._score(normalize_card_no(card_no), id_card, mobile, consent), timeout, retry
        )
