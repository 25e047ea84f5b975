"""Reading settings: the "not given" sentinel, env-var fallbacks, timeouts, logging switch."""

from __future__ import annotations

import enum
import logging
import os
from typing import Final, Literal, TypeVar
from urllib.parse import SplitResult, urlsplit

import httpx

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "NotGiven",
    "configure_logging_from_env",
    "env_or",
    "resolve_timeout",
]

T = TypeVar("T")


class NotGiven(enum.Enum):
    """Type of `NOT_GIVEN`: "the caller did not pass this argument".

    Distinct from ``None``, which is an explicit choice (``timeout=None`` means no timeout).
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

#: Finite by default: 5 s to connect, 20 s for everything else.
DEFAULT_TIMEOUT: Final = httpx.Timeout(20.0, connect=5.0)

TimeoutArg = float | httpx.Timeout | None


def resolve_timeout(value: TimeoutArg | NotGiven, fallback: httpx.Timeout) -> httpx.Timeout:
    """``NOT_GIVEN`` → ``fallback``; ``None`` → no timeout; a number → that many seconds."""
    if value is NOT_GIVEN:
        return fallback
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return httpx.Timeout(None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(
            f"timeout must be a positive number of seconds, an httpx.Timeout or None, not {value!r}"
        )
    return httpx.Timeout(float(value))


def env_or(value: str | None, env_var: str, *, what: str, required: bool = True) -> str | None:
    """Return ``value`` if given, else ``$env_var``; a missing required one names the variable."""
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{what} is empty (pass it or set {env_var})")
        return value.strip()
    env = os.environ.get(env_var, "").strip()
    if env:
        return env
    if required:
        raise ConfigurationError(f"{what} is missing: pass it as an argument or set {env_var}")
    return None


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def configure_logging_from_env() -> None:
    """``CREDITSDK_LOG=info|debug`` attaches a masked stderr handler to the ``creditsdk`` logger."""
    level = _LEVELS.get(os.environ.get("CREDITSDK_LOG", "").strip().lower())
    if level is None:
        return
    from .redact import RedactingFilter

    logger = logging.getLogger("creditsdk")
    if not any(getattr(h, "_creditsdk_env", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler.addFilter(RedactingFilter())
        handler._creditsdk_env = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def url_parts(value: object) -> SplitResult | None:
    """``urlsplit(value)``, or None for a non-string or a URL urllib cannot read (it raises
    ValueError, e.g. "Invalid IPv6 URL" for an unclosed ``[``): callers raise their typed error."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # a bad port raises only when read
    except ValueError:
        return None
    return parts
