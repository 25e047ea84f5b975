"""Every exception creditsdk raises.

All of them derive from [`CreditSDKError`][]. Messages are one line and never contain personal
data or secrets: the message and every other public text attribute of every error (``code``,
``transaction_id``, a provider's own detail fields) go through the SDK's masking pass
(`creditsdk._core.redact.scrub_text`) when they are set, whoever sets them — so a provider's
echo of an ID number, mobile, card or of the client's own key is masked before anything can
show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core.redact import scrub_text

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "CreditSDKError",
    "CreditSDKWarning",
    "DeadlineExceededError",
    "InsufficientBalanceError",
    "InvalidInputError",
    "ProductNotEnabledError",
    "ProviderError",
    "RateLimitedError",
    "ResponseIntegrityError",
    "ResponseTooLargeError",
    "TransportError",
    "UnknownRegionWarning",
    "UnverifiedCardWarning",
]

#: Text attributes left as they are: names the SDK itself chose (never a provider's echo).
_NOT_SCRUBBED = frozenset({"provider", "field", "rule", "outcome"})


class CreditSDKError(Exception):
    """Base class of everything the SDK raises.

    Attributes are ``None`` where not known: ``provider`` (``"tianyuan"``, ``"fireeye"``,
    ``"sesame"``), ``code`` (the provider's own code, as a string), ``transaction_id``,
    ``http_status`` and ``attempts`` (how many HTTP attempts were made). ``outcome`` says, for
    an error a call ended with, what became of the request: ``"answered"`` (the provider gave
    this error), ``"not_sent"`` (nothing it could have processed) or ``"maybe_billed"``.
    """

    outcome: str | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        transaction_id: str | None = None,
        http_status: int | None = None,
        attempts: int | None = None,
    ) -> None:
        message = scrub_text(message)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.transaction_id = transaction_id
        self.http_status = http_status
        self.attempts = attempts

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise allow any attribute

        def __setattr__(self, name: str, value: Any) -> None:
            if isinstance(value, str) and not name.startswith("_") and name not in _NOT_SCRUBBED:
                value = scrub_text(value)
                if name == "message":
                    self.args = (value, *self.args[1:])
            super().__setattr__(name, value)

    def __str__(self) -> str:
        head = ""
        if self.provider is not None or self.code is not None:
            head = "[" + " ".join(p for p in (self.provider, self.code) if p) + "] "
        details = [
            f"{name}={value}"
            for name, value in (
                ("transaction_id", self.transaction_id),
                ("http_status", self.http_status),
                ("attempts", self.attempts),
            )
            if value is not None
        ]
        tail = f" ({', '.join(details)})" if details else ""
        return f"{head}{self.message}{tail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def replace_text(self, old: str, new: str) -> None:
        """Replace ``old`` with ``new`` in every string attribute and argument of the error
        (e.g. a personal name the provider echoed, masked by the core once the call fails)."""
        if not old:
            return
        for name, value in list(vars(self).items()):
            if isinstance(value, str) and old in value:
                setattr(self, name, value.replace(old, new))
        self.args = tuple(a.replace(old, new) if isinstance(a, str) else a for a in self.args)

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword attributes across pickling (multiprocessing, batch workers).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[CreditSDKError], message: str, state: dict[str, object]) -> CreditSDKError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class InvalidInputError(CreditSDKError, ValueError):
    """An argument failed validation. Raised before any network I/O.

    ``field`` names the argument (``"id_card"``, ``"consent.expires_at"`` …) and ``rule`` the
    check that failed (``"checksum"``, ``"format"``, ``"expired"`` …).
    """

    def __init__(self, message: str, *, field: str, rule: str, **kwargs: object) -> None:
        super().__init__(f"{field}: {message}", **kwargs)  # type: ignore[arg-type]
        self.field = field
        self.rule = rule


class ConfigurationError(CreditSDKError):
    """Missing or unusable credentials, keys or options. Names the setting, never its value."""


class TransportError(CreditSDKError):
    """The HTTP exchange failed (connect error, timeout, dropped connection, bad gateway).

    ``maybe_billed`` is True when the request may have reached the provider and been billed but
    its answer was lost. Such a call is never retried automatically for a billed, non-idempotent
    operation: check the provider's statement (or the audit log) before sending it again.
    """

    def __init__(self, message: str, *, maybe_billed: bool = False, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.maybe_billed = maybe_billed
        self.outcome = "maybe_billed" if maybe_billed else "not_sent"  # the call may refine it

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} [maybe billed]" if self.maybe_billed else base


class ResponseTooLargeError(TransportError):
    """The answer was larger than the client's ``max_response_bytes`` (counted decoded, so a
    small compressed "bomb" counts at its real size). It was not read further: for the caller
    it is a lost answer, ``maybe_billed`` as for any answer lost after the request was sent.
    ``limit`` is the cap in bytes."""

    def __init__(self, message: str, *, limit: int | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.limit = limit


class DeadlineExceededError(TransportError):
    """No complete answer within the call's ``timeout``, taken as a deadline for the whole
    attempt (connect, send, wait and read together), however slowly the bytes trickled in.
    ``maybe_billed`` as for any answer lost after the request was sent. ``deadline`` is the
    limit in seconds."""

    def __init__(self, message: str, *, deadline: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.deadline = deadline


class ProviderError(CreditSDKError):
    """The provider answered and said no. ``code`` and ``message`` are the provider's own."""


class AuthenticationError(ProviderError):
    """Credentials, signature, source IP or token were refused by the provider."""


class InsufficientBalanceError(ProviderError):
    """The account has no balance left for this product (Tianyuan 1007 and the like)."""


class ProductNotEnabledError(ProviderError):
    """The product is not enabled for this account (Tianyuan 1008, FireEye 0001)."""


class RateLimitedError(ProviderError):
    """The provider (or its gateway) asked us to slow down.

    ``retry_after`` is the wait the provider asked for, in seconds, or ``None``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ResponseIntegrityError(CreditSDKError):
    """The answer could not be trusted: undecryptable, bad or missing signature, malformed.

    ``maybe_billed`` is True for a billed operation: the provider answered (and so may have
    billed) but the answer is unusable.
    """

    def __init__(self, message: str, *, maybe_billed: bool = False, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.maybe_billed = maybe_billed
        self.outcome = "maybe_billed" if maybe_billed else "not_sent"  # the call may refine it


class CreditSDKWarning(UserWarning):
    """Base class of warnings issued by creditsdk."""


class UnverifiedCardWarning(CreditSDKWarning):
    """A bank card number failed the Luhn check. Some Chinese cards do; the call still goes out."""


class UnknownRegionWarning(CreditSDKWarning):
    """An ID number's region code (its first 6 digits) is in no edition of the county list
    shipped with python-stdnum. The check digit and birth date are right; the call still goes
    out (the list may be missing a code, e.g. a residence permit's 83xxxx)."""
