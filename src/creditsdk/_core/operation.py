"""Operation: one provider call as pure data and functions (sans-I/O).

An Operation knows how to build the plain `Request` of an attempt and how to turn a plain
`Response` into a typed result or a typed error (`creditsdk._core.wire`: no HTTP library). It
declares whether the provider bills it, whether the provider deduplicates repeats (idempotent),
the gates it must pass before each attempt and the credentials it needs. It never sends
anything: that is `creditsdk._core.call`'s job, so the sync and async clients share every rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from .consent import Consent
from .wire import Request, Response

if TYPE_CHECKING:
    from .auth import TokenAuth
    from .gates import Gate

__all__ = ["Operation", "looks_like_json_object"]

T = TypeVar("T")


def looks_like_json_object(response: Response) -> bool:
    """True when the body is a JSON object: the provider's envelope rather than a gateway page."""
    content = response.content.strip()
    if not content.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


def _transaction_id_attribute(result: object) -> str | None:
    return getattr(result, "transaction_id", None)


def _success(_result: object) -> str:
    return "success"


@attrs.frozen
class Operation(Generic[T]):
    """One provider call.

    ``build_request()`` is called once per attempt, so each attempt can carry a fresh IV,
    timestamp or signature while keeping what must stay the same (a client-chosen
    ``transaction_id`` for an idempotent operation). ``parse_response`` raises a
    [`CreditSDKError`][creditsdk.errors.CreditSDKError] subclass for anything but success; the
    call stamps ``provider`` on it, and ``transaction_id`` from ``transaction_id_of_answer``
    when the parser did not set one.

    ``applicant`` is already masked: it goes into audit events as is.
    """

    provider: str
    name: str
    build_request: Callable[[], Request]
    parse_response: Callable[[Response], T]
    billed: bool
    idempotent: bool
    applicant: Mapping[str, str] | None = None
    consent: Consent | None = None
    #: Tells a provider's answer from a gateway/load-balancer page on 5xx/4xx statuses.
    is_provider_answer: Callable[[Response], bool] = looks_like_json_object
    #: Audit outcome of a successful result: "success" or e.g. "no_data".
    outcome_of: Callable[[T], str] = _success
    transaction_id_of: Callable[[T], str | None] = _transaction_id_attribute
    #: The provider's transaction id in an answer, for an error raised while parsing it.
    transaction_id_of_answer: Callable[[Response], str | None] | None = None
    #: Personal names sent with the request: masked out of error messages should the provider
    #: echo them (ID numbers, mobiles and cards are masked by pattern; names have none).
    names: tuple[str, ...] = attrs.field(default=(), repr=False)
    #: Asked before each attempt, told the outcome once (e.g. a card guard, a rate limit).
    gates: tuple[Gate, ...] = attrs.field(default=(), repr=False)
    #: Credentials the call needs: obtained (and refreshed) by running another Operation.
    auth: TokenAuth | None = attrs.field(default=None, repr=False)

    def with_gates(self, *gates: Gate) -> Operation[T]:
        """A copy that also passes ``gates`` (after its own)."""
        return attrs.evolve(self, gates=(*self.gates, *gates))
