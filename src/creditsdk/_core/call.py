"""The one call generator: gates, credentials, attempts, retries, the typed outcome, audit.

`drive` is the whole life of one logical call, written once. It yields *commands* — `Send`
this request, `Sleep` this long, `GetToken` for these credentials — and receives their outcomes,
so the sync and the async executors (`creditsdk._core.executors`) follow exactly the same rules.
It knows no HTTP library and no provider.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Generator
from typing import Any, TypeVar

import attrs

from ..errors import CreditSDKError, RateLimitedError, ResponseIntegrityError
from .auth import Token, TokenAuth
from .consent import AttemptTiming, AuditEvent, AuditSink, emit_all, listening
from .gates import Gate, Outcome, OutcomeKind
from .observe import current_call, price_of
from .operation import Operation
from .otel import start_span
from .policy import (
    Failure,
    Processed,
    classify_status,
    finish_error,
    outcome_name,
    retry_delay,
)
from .redact import mask_name, scrub_text
from .retry import RetryEvent, RetryPolicy
from .wire import Request, Response

__all__ = ["Cancelled", "GetToken", "Send", "Sleep", "drive", "safe_url"]

T = TypeVar("T")
log = logging.getLogger("creditsdk")


@attrs.frozen
class Send:
    """Send ``request``; answer with a `Response` (body read within ``max_bytes``, all within
    ``deadline`` seconds), a `Failure`, or a `Cancelled` (then re-raise the cancellation)."""

    request: Request
    deadline: float | None
    max_bytes: int


@attrs.frozen
class Sleep:
    """Wait ``seconds``; answer with None, or a `Cancelled`."""

    seconds: float


@attrs.frozen
class GetToken:
    """A token for ``auth`` (``stale``: the one just rejected, to be replaced); answer with a
    `Token`, the `CreditSDKError` its fetch raised, or a `Cancelled`."""

    auth: TokenAuth
    stale: Token | None = None


@attrs.frozen
class Cancelled:
    """The call was cancelled (CancelledError, KeyboardInterrupt …) while running a command."""

    error_type: str
    sent: bool  # had the attempt under way started sending?


Command = Send | Sleep | GetToken


def safe_url(url: str) -> str:
    """The URL without its query: providers carry personal data and signatures there."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _scrub_names(err: CreditSDKError, names: tuple[str, ...]) -> None:
    for name in names:
        if name:
            err.replace_text(name, mask_name(name))


def _handle_answer(op: Operation[T], response: Response) -> tuple[Failure | None, T | None]:
    """The typed result of an answer, or the failure it is. Raises only CreditSDKError."""
    try:
        failure = classify_status(op, response)
        if failure is not None:
            return attrs.evolve(failure, status=response.status_code), None
        return None, op.parse_response(response)
    except RateLimitedError as exc:
        # The provider refused to process: safe to retry after its wait.
        return Failure(Processed.NO, "rate limited", exc, exc.retry_after), None
    except CreditSDKError:
        raise
    except Exception as exc:  # a parser must not leak foreign exception types
        # Chained and named, so a bug stays visible; a garbled answer is still an answer.
        raised = ResponseIntegrityError(f"answer could not be parsed ({type(exc).__name__})")
        raise raised from exc


def _failed_attempt(call: _Call, failure: Failure, status: int | None = None) -> float:
    error = failure.error
    return call.end_attempt(
        outcome_name(error),
        status=failure.status if failure.status is not None else status,
        error_type=type(error).__name__,
        reason=failure.reason,
    )


def _answer_transaction_id(op: Operation[Any], response: Response) -> str | None:
    if op.transaction_id_of_answer is None:
        return None
    try:
        return op.transaction_id_of_answer(response)
    except Exception:  # a garbled answer has none
        return None


class _Call:
    """The bookkeeping of one call, shared by its steps."""

    def __init__(self, op: Operation[Any], sinks: tuple[AuditSink, ...], gates: tuple[Gate, ...]):
        self.op = op
        self.sinks = sinks
        self.gates = (*op.gates, *gates)
        self.admitted: list[Gate] = []
        self.attempt = 0
        self.maybe_processed = False  # did an attempt possibly reach the provider unanswered?
        self.sent_any = False  # did an attempt start sending? (then a cancellation is audited)
        self.last_status: int | None = None
        # -- timings, correlation id, price, span (see creditsdk._core.observe) ---------------
        context = current_call()
        observer = context.observer
        self.clock = observer.monotonic
        self.wall = observer.wall
        self.correlation_id = context.correlation_id
        self.price = observer.price(op.provider, op.name)
        # (number, start, duration, outcome, status, error_type, reason) per attempt: plain
        # tuples, made into AttemptTiming values only when an event or a span needs them
        self.timings: list[tuple[int, float, float, str, int | None, str | None, str | None]] = []
        self.span = start_span(
            op.provider,
            op.name,
            None if context.correlation_id is None else scrub_text(context.correlation_id),
            observer.tracer_provider,
        )
        self.started = self.attempt_started = self.clock()

    def begin_attempt(self, request: Request) -> None:
        self.attempt_started = self.clock()
        if self.span is not None:
            self.span.request(request.method, safe_url(request.url))

    def end_attempt(
        self,
        outcome: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
    ) -> float:
        """Record the attempt under way; returns its duration in seconds."""
        began = self.attempt_started
        took = self.clock() - began
        timing = (self.attempt, began - self.started, took, outcome, status, error_type, reason)
        self.timings.append(timing)
        if self.span is not None:
            self.span.attempt(AttemptTiming(*timing))
        return took

    def end_span(self, outcome: str, maybe_billed: bool, error_type: str | None) -> None:
        span = self.span
        if span is None:
            return
        self.span = None
        price, currency = price_of(self.price, outcome, maybe_billed)
        span.end(
            {
                "creditsdk.outcome": outcome,
                "creditsdk.attempts": self.attempt,
                "creditsdk.billed": self.op.billed and outcome in ("success", "no_data"),
                "creditsdk.maybe_billed": maybe_billed,
                "creditsdk.price": None if price is None else str(price),
                "creditsdk.price.currency": currency,
                "http.response.status_code": self.last_status,
            },
            error_type,
        )

    def settle(self, outcome: Outcome) -> None:
        for gate in self.admitted:
            try:
                gate.settle(outcome)
            except Exception:  # pragma: no cover - a gate's bug must not replace the outcome
                log.exception("creditsdk: a gate failed to settle")
        self.admitted.clear()

    def audit(
        self,
        *,
        outcome: str,
        maybe_billed: bool,
        transaction_id: str | None,
        error: CreditSDKError | None = None,
        error_type: str | None = None,
    ) -> None:
        op = self.op
        error_type = type(error).__name__ if error else error_type
        self.end_span(outcome, maybe_billed, error_type)
        if not op.billed or not self.sinks or not listening(self.sinks):
            return  # nobody consumes the event (the default sink's logger is off): not built
        price, currency = price_of(self.price, outcome, maybe_billed)
        emit_all(
            self.sinks,
            AuditEvent(
                provider=op.provider,
                operation=op.name,
                outcome=outcome,
                attempts=self.attempt,
                maybe_billed=maybe_billed,
                applicant=op.applicant,
                consent_reference=op.consent.reference if op.consent else None,
                consent_purpose=op.consent.purpose if op.consent else None,
                transaction_id=transaction_id,
                error_code=error.code if error else None,
                error_type=error_type,
                http_status=self.last_status,
                timestamp=self.wall(),
                duration=self.clock() - self.started,
                attempt_timings=tuple(AttemptTiming(*t) for t in self.timings),
                correlation_id=self.correlation_id,
                price=price,
                currency=currency,
            ),
        )

    def cancelled(self, cancelled: Cancelled) -> None:
        """One event for a call cancelled after it started sending; none if nothing was sent."""
        sent = self.sent_any or cancelled.sent
        self.settle(Outcome(OutcomeKind.CANCELLED, self.attempt, sent=sent))
        if not sent:
            self.end_span("cancelled", False, cancelled.error_type)
            return
        op = self.op
        self.audit(
            outcome="cancelled",
            maybe_billed=op.billed and (self.maybe_processed or cancelled.sent),
            transaction_id=None,
            error_type=cancelled.error_type,
        )
        log.info(
            "%s %s cancelled (%s)%s",
            op.provider,
            op.name,
            cancelled.error_type,
            " after the request was sent: maybe billed" if cancelled.sent else "",
        )

    def fail(
        self, err: CreditSDKError, *, answered: bool, transaction_id: str | None = None
    ) -> CreditSDKError:
        """Stamp, settle, audit and log the error the call ends with."""
        op = self.op
        _scrub_names(err, op.names)
        maybe_billed = op.billed and self.maybe_processed
        finish_error(
            err,
            provider=op.provider,
            transaction_id=transaction_id,
            attempts=self.attempt,
            maybe_billed=maybe_billed,
            http_status=self.last_status,
        )
        if self.maybe_processed:
            kind = OutcomeKind.MAYBE_BILLED
        else:
            kind = OutcomeKind.ANSWERED if answered else OutcomeKind.NOT_SENT
        err.outcome = kind.value
        self.settle(Outcome(kind, self.attempt, error=err, sent=self.sent_any))
        self.audit(
            outcome=outcome_name(err),
            maybe_billed=maybe_billed,
            transaction_id=err.transaction_id,
            error=err,
        )
        log.info("%s %s failed: %s", op.provider, op.name, err)
        return err

    def refused(self, err: CreditSDKError) -> CreditSDKError:
        """The first attempt never went out (a gate refused it, or its credentials could not be
        obtained): nothing was sent, nothing is audited."""
        if err.provider is None:
            err.provider = self.op.provider
        err.outcome = OutcomeKind.NOT_SENT.value
        self.settle(Outcome(OutcomeKind.NOT_SENT, 0, error=err))
        self.attempt = 0
        self.end_span(outcome_name(err), False, type(err).__name__)
        return err


def drive(
    op: Operation[T],
    policy: RetryPolicy,
    deadline: float | None,
    sinks: tuple[AuditSink, ...],
    rng: random.Random,
    max_bytes: int,
    gates: tuple[Gate, ...] = (),
) -> Generator[Command, Any, T]:
    """The whole life of one logical call. Yields commands; returns the result or raises.

    ``gates`` are the client's, asked after the Operation's own. A cancellation audits and then
    returns None: the executor re-raises it.
    """
    call = _Call(op, sinks, gates)
    try:
        return (yield from _steps(call, policy, deadline, rng, max_bytes))
    finally:
        # A generator closed mid-call (its executor went away) still ends its span.
        call.end_span("abandoned", call.maybe_processed and op.billed, "GeneratorExit")


def _steps(
    call: _Call,
    policy: RetryPolicy,
    deadline: float | None,
    rng: random.Random,
    max_bytes: int,
) -> Generator[Command, Any, T]:
    op: Operation[T] = call.op
    token: Token | None = None
    stale: Token | None = None
    reauthorised = False
    while True:
        call.attempt += 1
        # -- gates: each may refuse, or ask for a wait ------------------------------------------
        wait = 0.0
        for gate in call.gates:
            try:
                seconds = gate.admit(call.attempt)
            except CreditSDKError as exc:
                if call.attempt == 1:
                    raise call.refused(exc) from None
                call.attempt -= 1  # the refused attempt never started
                raise call.fail(exc, answered=False) from None
            if not any(g is gate for g in call.admitted):
                call.admitted.append(gate)
            wait = max(wait, float(seconds or 0.0))
        if wait > 0:
            slept = yield Sleep(wait)
            if isinstance(slept, Cancelled):
                call.cancelled(slept)
                return None  # type: ignore[return-value]  # the executor re-raises
        # -- credentials --------------------------------------------------------------------------
        request = op.build_request()
        if op.auth is not None:
            got = yield GetToken(op.auth, stale)
            if isinstance(got, Cancelled):
                call.cancelled(got)
                return None  # type: ignore[return-value]
            if isinstance(got, CreditSDKError):
                call.attempt -= 1  # this attempt was never sent
                if call.attempt == 0:
                    raise call.refused(got) from None  # nothing sent: nothing to audit
                raise call.fail(got, answered=False) from None
            token, stale = got, None
            request = op.auth.apply(request, token)
        # -- the attempt --------------------------------------------------------------------------
        call.begin_attempt(request)
        if log.isEnabledFor(logging.DEBUG):  # safe_url is not free: only when it is shown
            log.debug(
                "%s %s → %s %s (attempt %d)",
                op.provider,
                op.name,
                request.method,
                safe_url(request.url),
                call.attempt,
            )
        outcome = yield Send(request, deadline, max_bytes)
        if isinstance(outcome, Cancelled):
            call.end_attempt("cancelled", error_type=outcome.error_type)
            call.cancelled(outcome)
            return None  # type: ignore[return-value]  # the executor re-raises
        failure: Failure | None = None
        result: T | None = None
        if isinstance(outcome, Failure):
            failure = outcome
            call.sent_any = call.sent_any or failure.processed is Processed.MAYBE
            call.last_status = failure.status or call.last_status
            took = _failed_attempt(call, failure)
            log.debug("%s %s ✗ %s after %.0f ms", op.provider, op.name, failure.reason, took * 1e3)
        else:
            response: Response = outcome
            call.sent_any = True
            status = call.last_status = response.status_code
            log.debug(
                "%s %s ← HTTP %d in %.0f ms",
                op.provider,
                op.name,
                status,
                (call.clock() - call.attempt_started) * 1000,
            )
            if (
                op.auth is not None
                and token is not None
                and not reauthorised
                and op.auth.rejected(response)
            ):
                # The credentials were refused, not the request processed: fetch new ones and
                # send again, once (whatever the retry policy says).
                reauthorised, stale = True, token
                call.end_attempt("credentials_rejected", status=status)
                log.info("%s %s: credentials rejected; renewing them", op.provider, op.name)
                continue
            try:
                handled = _handle_answer(op, response)
            except CreditSDKError as exc:
                if isinstance(exc, ResponseIntegrityError):
                    call.maybe_processed = True
                call.end_attempt(outcome_name(exc), status=status, error_type=type(exc).__name__)
                txn = _answer_transaction_id(op, response)
                raise call.fail(exc, answered=True, transaction_id=txn) from exc.__cause__
            failure, result = handled
            if failure is not None:
                _failed_attempt(call, failure, status)
        if failure is None:
            try:
                name = op.outcome_of(result)  # type: ignore[arg-type]
                transaction_id = op.transaction_id_of(result)  # type: ignore[arg-type]
            except Exception as exc:  # pragma: no cover - an Operation bug, kept visible
                call.maybe_processed = True
                raised = ResponseIntegrityError(
                    f"answer could not be parsed ({type(exc).__name__})"
                )
                call.end_attempt("integrity_error", status=call.last_status)
                raise call.fail(raised, answered=True) from exc
            call.end_attempt(name, status=call.last_status)
            call.settle(Outcome(OutcomeKind.ANSWERED, call.attempt, result=result, sent=True))
            call.audit(outcome=name, maybe_billed=False, transaction_id=transaction_id)
            return result  # type: ignore[return-value]
        if failure.processed is Processed.MAYBE:
            call.maybe_processed = True
        delay = retry_delay(op, policy, failure, call.attempt, rng)
        if delay is None:
            raise call.fail(failure.error, answered=False)
        log.info(
            "%s %s: attempt %d failed (%s); retrying in %.2f s",
            op.provider,
            op.name,
            call.attempt,
            failure.reason,
            delay,
        )
        if policy.on_retry is not None:
            policy.on_retry(RetryEvent(op.provider, op.name, call.attempt, delay, failure.reason))
        slept = yield Sleep(delay)
        if isinstance(slept, Cancelled):
            call.cancelled(slept)
            return None  # type: ignore[return-value]  # the executor re-raises
