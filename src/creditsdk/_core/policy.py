"""The billing-safe rules, pure: what a failed attempt means, and whether to try again."""

from __future__ import annotations

import enum
import random
from typing import Any

import attrs

from ..errors import (
    ConfigurationError,
    CreditSDKError,
    DeadlineExceededError,
    ProviderError,
    RateLimitedError,
    ResponseIntegrityError,
    ResponseTooLargeError,
    TransportError,
)
from .operation import Operation
from .retry import RetryPolicy, parse_retry_after
from .wire import Response

__all__ = [
    "Failure",
    "Processed",
    "classify_status",
    "finish_error",
    "lost",
    "outcome_name",
    "retry_delay",
]

#: Statuses that say "not processed": 429 (slow down) and 503 (not accepting work). A 502 or
#: 504 means a gateway forwarded the request and got no (valid) answer back (RFC 9110 §15.6.3,
#: §15.6.5): the provider may have processed it, like any other 5xx page.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
_GATEWAY_STATUSES = frozenset({502, 504})


class Processed(enum.Enum):
    NO = "no"  # the provider cannot have processed (or billed) the attempt
    MAYBE = "maybe"  # it may have: the request was sent and the answer was lost


@attrs.frozen
class Failure:
    """A failed attempt: did it reach the provider, why (short, masked: for logs and
    RetryEvent), what to raise if the call stops here."""

    processed: Processed
    reason: str
    error: CreditSDKError
    retry_after: float | None = None
    status: int | None = None  # the HTTP status, if an answer's head arrived


def lost(
    kind: str,
    *,
    sent: bool,
    status: int | None = None,
    cause: BaseException | None = None,
    deadline: float | None = None,
    limit: int = 0,
) -> Failure:
    """An attempt an executor ended without an answer: ``too_large``, ``deadline`` or
    ``foreign`` (the HTTP client raised something unexpected)."""
    processed = Processed.MAYBE if sent else Processed.NO
    err: CreditSDKError
    if kind == "too_large":
        err = ResponseTooLargeError(
            f"answer larger than {limit} bytes (max_response_bytes); not read further",
            http_status=status,
            limit=limit,
        )
        return Failure(Processed.MAYBE, "answer too large", err, status=status)
    if kind == "deadline":
        err = DeadlineExceededError(
            f"no complete answer within the {deadline:g} s deadline of the attempt",
            http_status=status,
            deadline=deadline,
        )
        return Failure(processed, "deadline exceeded", err, status=status)
    name = type(cause).__name__
    err = TransportError(f"the HTTP client failed unexpectedly ({name})")
    err.__cause__ = cause
    return Failure(processed, name, err, status=status)


def classify_status(op: Operation[Any], response: Response) -> Failure | None:
    """Statuses answered by something in front of the provider, not by the provider itself."""
    status = response.status_code
    if status < 400 or op.is_provider_answer(response):
        return None
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Failure(
            Processed.NO,
            "HTTP 429",
            RateLimitedError(
                "rate limited (HTTP 429)", code="429", http_status=429, retry_after=retry_after
            ),
            retry_after=retry_after,
        )
    if status in _NOT_PROCESSED_STATUSES:
        # 503 from a gateway or load balancer: it did not take the request on.
        return Failure(
            Processed.NO,
            f"HTTP {status}",
            TransportError(f"HTTP {status} from a gateway", http_status=status),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in _GATEWAY_STATUSES:
        # 502/504: a gateway forwarded the request and gave up on the answer. The provider
        # may have processed (and billed) it.
        return Failure(
            Processed.MAYBE,
            f"HTTP {status}",
            TransportError(
                f"HTTP {status} from a gateway after the request went upstream",
                http_status=status,
            ),
        )
    if status >= 500:
        return Failure(
            Processed.MAYBE,
            f"HTTP {status}",
            TransportError(f"HTTP {status} server error page", http_status=status),
        )
    if status == 404:
        path = response.url.split("?", 1)[0].split("://", 1)[-1].partition("/")[2]
        err: CreditSDKError = ConfigurationError(
            f"HTTP 404 for /{path}: check the base URL", http_status=404
        )
    else:
        err = ProviderError(
            f"HTTP {status} without a provider answer", code=str(status), http_status=status
        )
    return Failure(Processed.NO, f"HTTP {status}", err)


def retry_delay(
    op: Operation[Any], policy: RetryPolicy, failure: Failure, attempt: int, rng: random.Random
) -> float | None:
    """Seconds to wait before the next attempt, or None to stop: the billing-safe rule."""
    if attempt >= policy.max_attempts:
        return None
    if failure.processed is Processed.MAYBE and not op.idempotent:
        # The provider may have processed (and billed) it: sending again could bill twice.
        return None
    if isinstance(failure.error, ConfigurationError):
        return None
    if isinstance(failure.error, ProviderError) and not isinstance(failure.error, RateLimitedError):
        return None  # e.g. a proxy's 401: the same request will get the same answer
    if failure.retry_after is not None:
        if failure.retry_after > policy.max_retry_after:
            return None
        return failure.retry_after
    return policy.backoff(attempt, rng)


def finish_error(
    err: CreditSDKError,
    *,
    provider: str,
    transaction_id: str | None,
    attempts: int,
    maybe_billed: bool,
    http_status: int | None,
) -> CreditSDKError:
    """Stamp what the call knows on the error it raises (once, here: not in each provider)."""
    if err.provider is None:
        err.provider = provider
    if err.transaction_id is None and transaction_id is not None:
        err.transaction_id = transaction_id
    err.attempts = attempts
    if err.http_status is None:
        err.http_status = http_status
    if isinstance(err, (TransportError, ResponseIntegrityError)):
        err.maybe_billed = maybe_billed
    return err


def outcome_name(err: BaseException) -> str:
    """The audit outcome of a failed call."""
    if isinstance(err, TransportError):
        return "transport_error"
    if isinstance(err, ResponseIntegrityError):
        return "integrity_error"
    if isinstance(err, ProviderError):
        return "provider_error"
    return "error"
