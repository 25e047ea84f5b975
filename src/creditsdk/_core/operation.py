"""Operation: one provider call as pure data and functions (sans-I/O).

An Operation knows how to build the ``httpx.Request`` for an attempt and how to turn an
``httpx.Response`` into a typed result or a typed error. It declares whether the provider bills
it and whether the provider deduplicates repeats (idempotent). It never sends anything: that is
`creditsdk._core.transport`'s job, so the sync and async clients share every rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import attrs
import httpx

from .consent import Consent

__all__ = ["Operation", "looks_like_json_object"]

T = TypeVar("T")


def looks_like_json_object(response: httpx.Response) -> bool:
    """True when the body is a JSON object: the provider's envelope rather than a gateway page."""
    content = response.content.strip()
    if not content.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


def _no_transaction_id(_result: object) -> str | None:
    return getattr(_result, "transaction_id", None)


def _success(_result: object) -> str:
    return "success"


@attrs.frozen
class Operation(Generic[T]):
    """One provider call.

    ``build_request(attempt)`` is called once per attempt (1-based), so each attempt can carry
    a fresh IV, timestamp or signature while keeping what must stay the same (a client-chosen
    ``transaction_id`` for an idempotent operation). ``parse_response`` raises a
    [`CreditSDKError`][creditsdk.errors.CreditSDKError] subclass for anything but success.

    ``applicant`` is already masked: it goes into audit events as is.
    """

    provider: str
    name: str
    build_request: Callable[[int], httpx.Request]
    parse_response: Callable[[httpx.Response], T]
    billed: bool
    idempotent: bool
    applicant: Mapping[str, str] | None = None
    consent: Consent | None = None
    #: Tells a provider's answer from a gateway/load-balancer page on 5xx/4xx statuses.
    is_provider_answer: Callable[[httpx.Response], bool] = looks_like_json_object
    #: Audit outcome of a successful result: "success" or e.g. "no_data".
    outcome_of: Callable[[T], str] = _success
    transaction_id_of: Callable[[T], str | None] = _no_transaction_id
    #: Personal names sent with the request: masked out of error messages should the provider
    #: echo them (ID numbers, mobiles and cards are masked by pattern; names have none).
    names: tuple[str, ...] = attrs.field(default=(), repr=False)
