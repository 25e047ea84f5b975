"""Reading settings: the "not given" sentinel, env-var fallbacks, timeouts, logging switch."""

from __future__ import annotations

import enum
import logging
import os
import re
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import SplitResult, urlsplit

import attrs
import httpx

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOG_LEVELS",
    "NOT_GIVEN",
    "EnvVar",
    "NotGiven",
    "TransportSettings",
    "configure_logging_from_env",
    "env_or",
    "env_table",
    "env_value",
    "looks_like_path",
    "resolve_timeout",
    "transport_env_vars",
    "transport_from_env",
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


# -- environment variables -----------------------------------------------------------------
#
# One scheme: ``CREDITSDK_<PROVIDER>_<OPTION>``. Every secret variable also has a
# ``<NAME>_FILE`` form (the Docker / Kubernetes secret convention): the file's text, one
# trailing newline stripped. Errors name the variable (and the path), never a value.

#: Where an ``environ=`` argument is not given, the process environment is read.
Environ = Mapping[str, str]


@attrs.frozen(slots=True)
class EnvVar:
    """One environment variable a client reads: its ``name``, what it sets, its default (as
    text, ``""`` for none), and whether it holds a secret (then ``<name>_FILE`` works too)."""

    name: str
    description: str
    default: str = ""
    secret: bool = False
    required: bool = False


def _read_secret_file(var: str, path: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"{var} cannot be read: {path} ({reason})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{var}: {path} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def env_value(name: str, *, secret: bool = False, environ: Environ | None = None) -> str | None:
    """``$name`` (stripped; blank = unset) or, for a ``secret``, the text of the file named by
    ``$name_FILE`` (one trailing newline stripped). Both set, or a file that cannot be read,
    is a [`ConfigurationError`][creditsdk.errors.ConfigurationError] naming the variables."""
    env = os.environ if environ is None else environ
    value = env.get(name, "").strip()
    if not secret:
        return value or None
    file_var = f"{name}_FILE"
    path = env.get(file_var, "").strip()
    if value and path:
        raise ConfigurationError(f"{name} and {file_var} are both set: unset one")
    if path:
        text = _read_secret_file(file_var, path)
        if not text.strip():
            raise ConfigurationError(f"{file_var}: {path} is empty")
        return text
    if value and looks_like_path(value):
        raise ConfigurationError(
            f"{name} looks like a path, not the key itself: set {file_var} to the path "
            "instead, or put the file's text in the variable"
        )
    return value or None


_PATHY_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p12", ".pfx", ".txt", ".json")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


def looks_like_path(text: str | bytes) -> bool:
    """Does ``text``, given where key text is expected, look like a file name instead?
    (One line, no PEM header, and a key-file suffix, a home/relative/drive path, or an
    absolute path of a file that exists.)"""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return False
    text = text.strip()
    if not text or "\n" in text or "-----BEGIN" in text:
        return False
    if text.lower().endswith(_PATHY_SUFFIXES):
        return True
    if text.startswith(("~/", "./", "../", "\\\\")) or _DRIVE.match(text):
        return True
    # "/..." may also be base64 (whose alphabet has "/"): a path only if such a file exists.
    if text.startswith("/") and " " not in text:
        try:
            return Path(text).is_file()
        except (OSError, ValueError):
            return False
    return False


def env_or(
    value: str | None,
    env_var: str,
    *,
    what: str,
    required: bool = True,
    secret: bool = False,
    environ: Environ | None = None,
) -> str | None:
    """Return ``value`` if given, else ``$env_var`` (or, for a ``secret``, the file named by
    ``$env_var_FILE``); a missing required one names the variable."""
    file_hint = f" (or {env_var}_FILE)" if secret else ""
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{what} is empty (pass it or set {env_var}{file_hint})")
        if secret and looks_like_path(value):
            raise ConfigurationError(
                f"{what} looks like a path, not the key itself: pass the file's text, or "
                f"set {env_var}_FILE to the path"
            )
        return value.strip()
    env = env_value(env_var, secret=secret, environ=environ)
    if env is not None:
        return env.strip()
    if required:
        raise ConfigurationError(
            f"{what} is missing: pass it as an argument or set {env_var}{file_hint}"
        )
    return None


def env_number(
    name: str,
    convert: Callable[[str], T],
    *,
    what: str,
    check: Callable[[T], bool] = lambda _: True,
    environ: Environ | None = None,
) -> T | None:
    """``$name`` converted (``int`` / ``float``), or None when unset; a bad value names the
    variable and says what it must be."""
    raw = env_value(name, environ=environ)
    if raw is None:
        return None
    try:
        number = convert(raw)
    except ValueError:
        number = None
    if number is None or not check(number):
        raise ConfigurationError(f"{name} must be {what}, not {raw!r}")
    return number


# -- the transport settings every client reads ----------------------------------------------

#: (option, description, default): ``CREDITSDK_<PROVIDER>_<option>`` for every provider.
TRANSPORT_OPTIONS: Final = (
    ("TIMEOUT", "seconds per HTTP attempt (read, write, pool)", "20"),
    ("CONNECT_TIMEOUT", "seconds to connect (default: TIMEOUT if set, else 5)", "5"),
    ("MAX_ATTEMPTS", "attempts per call, retries included (billing-safe: see retries)", "3"),
    ("MAX_RESPONSE_BYTES", "the largest answer read, in decoded bytes", "4194304"),
    ("CA_BUNDLE", "path of a PEM file of CA certificates to trust instead of the system's", ""),
    ("CLIENT_CERT", "path of a PEM client certificate (mutual TLS)", ""),
    ("CLIENT_KEY", "path of the client certificate's PEM private key, if not in CLIENT_CERT", ""),
)


def provider_prefix(provider: str) -> str:
    """``CREDITSDK_<PROVIDER>_`` for a provider's short name."""
    return f"CREDITSDK_{provider.upper()}_"


def transport_env_vars(provider: str) -> tuple[EnvVar, ...]:
    """The transport variables of ``provider`` (the same options for every provider)."""
    prefix = provider_prefix(provider)
    return tuple(EnvVar(prefix + opt, desc, default) for opt, desc, default in TRANSPORT_OPTIONS)


@attrs.frozen(slots=True)
class TransportSettings:
    """What `transport_from_env` resolved: the arguments a transport is built with."""

    timeout: TimeoutArg | NotGiven
    retry: Any
    verify: Any
    max_response_bytes: int


def _positive(x: float) -> bool:
    return x > 0 and x == x and x != float("inf")


def transport_from_env(
    provider: str,
    *,
    timeout: TimeoutArg | NotGiven,
    retry: Any,
    verify: Any,
    max_response_bytes: int,
    default_max_response_bytes: int,
    http_client: object = None,
    environ: Environ | None = None,
) -> TransportSettings:
    """The client's transport arguments, with ``CREDITSDK_<PROVIDER>_*`` filling those left at
    their defaults: ``timeout`` not given, ``retry`` None, ``verify`` True,
    ``max_response_bytes`` the default. The timeout and TLS variables do not apply to a
    caller's own ``http_client`` (its own settings do). A bad value is a ConfigurationError
    naming the variable."""
    prefix = provider_prefix(provider)

    def var(option: str) -> str:
        return prefix + option

    seconds = "a positive number of seconds"
    if timeout is NOT_GIVEN and http_client is None:  # else that client's own timeout
        read = env_number(var("TIMEOUT"), float, what=seconds, check=_positive, environ=environ)
        connect = env_number(
            var("CONNECT_TIMEOUT"), float, what=seconds, check=_positive, environ=environ
        )
        if read is not None or connect is not None:
            base = DEFAULT_TIMEOUT
            timeout = httpx.Timeout(
                read if read is not None else base.read,
                connect=connect if connect is not None else (read or base.connect),
            )
    if retry is None:
        attempts = env_number(
            var("MAX_ATTEMPTS"),
            int,
            what="a whole number of attempts >= 1",
            check=lambda n: n >= 1,
            environ=environ,
        )
        if attempts is not None:
            from .retry import RetryPolicy

            retry = RetryPolicy(max_attempts=attempts)
    if max_response_bytes == default_max_response_bytes:
        limit = env_number(
            var("MAX_RESPONSE_BYTES"),
            int,
            what="a whole number of bytes >= 1",
            check=lambda n: n >= 1,
            environ=environ,
        )
        if limit is not None:
            max_response_bytes = limit
    if verify is True and http_client is None:
        verify = _tls_from_env(prefix, environ)
    return TransportSettings(timeout, retry, verify, max_response_bytes)


def _tls_from_env(prefix: str, environ: Environ | None) -> Any:
    ca = env_value(prefix + "CA_BUNDLE", environ=environ)
    cert = env_value(prefix + "CLIENT_CERT", environ=environ)
    key = env_value(prefix + "CLIENT_KEY", environ=environ)
    if key and not cert:
        raise ConfigurationError(f"{prefix}CLIENT_KEY is set without {prefix}CLIENT_CERT")
    if not ca and not cert:
        return True
    for name, path in (("CA_BUNDLE", ca), ("CLIENT_CERT", cert), ("CLIENT_KEY", key)):
        if path and not Path(path).expanduser().is_file():
            raise ConfigurationError(f"{prefix}{name}: {path} is not a readable file")
    try:
        context = ssl.create_default_context(cafile=str(Path(ca).expanduser()) if ca else None)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"{prefix}CA_BUNDLE: {ca} holds no usable CA certificate ({type(exc).__name__})"
        ) from None
    if cert:
        try:
            context.load_cert_chain(
                str(Path(cert).expanduser()), str(Path(key).expanduser()) if key else None
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigurationError(
                f"{prefix}CLIENT_CERT / {prefix}CLIENT_KEY: not a usable certificate and key "
                f"({type(exc).__name__})"
            ) from None
    return context


def env_table(groups: Iterable[tuple[str, Iterable[EnvVar]]]) -> str:
    """The Markdown table of ``groups`` (a title and its variables): docs/production.md has it
    (a test keeps the two equal)."""
    lines = ["| variable | what it sets | default | `_FILE` |", "|---|---|---|---|"]
    for title, variables in groups:
        lines.append(f"| **{title}** | | | |")
        for v in variables:
            default = "required" if v.required else (f"`{v.default}`" if v.default else "")
            lines.append(
                f"| `{v.name}` | {v.description} | {default} | {'yes' if v.secret else ''} |"
            )
    return "\n".join(lines) + "\n"


# -- logging ---------------------------------------------------------------------------------

#: What ``CREDITSDK_LOG`` accepts (case-insensitive); empty or ``off`` = no handler.
LOG_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": None,
}


def configure_logging_from_env(environ: Environ | None = None) -> None:
    """``CREDITSDK_LOG=debug|info|warning|error`` attaches a masked stderr handler to the
    ``creditsdk`` logger; ``off`` or unset attaches none; anything else is a
    ConfigurationError listing the accepted values."""
    raw = (os.environ if environ is None else environ).get("CREDITSDK_LOG", "").strip()
    if not raw:
        return
    key = raw.lower()
    if key not in LOG_LEVELS:
        accepted = ", ".join(LOG_LEVELS)
        raise ConfigurationError(f"CREDITSDK_LOG must be one of {accepted}, not {raw!r}")
    level = LOG_LEVELS[key]
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


#: The variables every client reads whatever its provider.
GLOBAL_ENV_VARS: Final = (
    EnvVar(
        "CREDITSDK_LOG",
        "log to stderr, masked, from the first client on: "
        + " / ".join(f"`{k}`" for k in LOG_LEVELS),
        "off",
    ),
    EnvVar(
        "CREDITSDK_HTTP_BACKEND",
        "the async clients' HTTP library: `aiohttp` / `httpx` (unset: aiohttp when installed)",
    ),
    EnvVar(
        "CREDITSDK_CRYPTO",
        "RSA and AES backend: `openssl` / `pycryptodome` / `auto` (OpenSSL when `cryptography` "
        "is installed)",
        "auto",
    ),
    EnvVar(
        "CREDITSDK_SANDBOX_PARSER",
        "the Sandbox server's request parser: `httptools` / `h11` (unset: httptools when "
        "installed)",
    ),
)


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
