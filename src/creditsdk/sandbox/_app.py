"""The provider-neutral core of the Sandbox: requests, responses, routes, ledger, plug-ins.

A provider plugs in with a module ``creditsdk/<provider>/sandbox.py`` that defines
``create_sandbox(ctx: SandboxContext) -> ProviderSandbox``. The shell discovers those modules;
it knows no provider by name.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs

import attrs

__all__ = [
    "Ledger",
    "LedgerEntry",
    "ProviderSandbox",
    "Route",
    "SandboxContext",
    "SandboxRequest",
    "SandboxResponse",
]


@attrs.frozen
class SandboxRequest:
    """An HTTP request as the sandbox sees it. Header names are lower-cased."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    path_params: Mapping[str, str] = attrs.field(factory=dict)
    client: str = "127.0.0.1"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded`` (UTF-8)."""
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` if it is not."""
        return json.loads(self.body)


@attrs.frozen
class SandboxResponse:
    status: int
    body: bytes = b""
    headers: Sequence[tuple[str, str]] = ()

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()
    ) -> SandboxResponse:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls.raw_json(body, status, headers)

    @classmethod
    def raw_json(
        cls, body: bytes, status: int = 200, headers: Sequence[tuple[str, str]] = ()
    ) -> SandboxResponse:
        """JSON bytes sent exactly as given (signed answers must not be re-serialised)."""
        return cls(status, body, (("Content-Type", "application/json;charset=utf-8"), *headers))

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain"
    ) -> SandboxResponse:
        return cls(
            status, text.encode("utf-8"), (("Content-Type", f"{content_type};charset=utf-8"),)
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> SandboxResponse:
        return cls(status, b"", (("Location", location),))


Handler = Callable[[SandboxRequest], SandboxResponse]

_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.frozen
class Route:
    """``path`` is literal or has ``{name}`` segments, e.g. ``/api/v1/{product}``."""

    methods: frozenset[str]
    path: str
    handler: Handler
    pattern: re.Pattern[str] = attrs.field(init=False)

    @pattern.default
    def _compile(self) -> re.Pattern[str]:
        parts = _PARAM_RE.split(self.path)
        regex = "".join(
            re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts)
        )
        return re.compile(regex + r"\Z")

    @classmethod
    def of(cls, methods: Iterable[str] | str, path: str, handler: Handler) -> Route:
        ms = [methods] if isinstance(methods, str) else list(methods)
        return cls(frozenset(m.upper() for m in ms), path, handler)


@attrs.frozen
class LedgerEntry:
    """One billed call as the provider's billing system would see it."""

    provider: str
    operation: str
    transaction_id: str
    seq: int
    at: _dt.datetime
    details: Mapping[str, Any] = attrs.field(factory=dict)


class Ledger:
    """Thread-safe record of billed calls, per provider, oldest first.

    Recording is on every billed request's path, so it appends one small tuple; the
    `LedgerEntry` values are built when the ledger is read (and kept, so each is built once).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: list[tuple[str, str, str, float, dict[str, Any]]] = []
        self._built: list[LedgerEntry] = []

    def record(
        self, provider: str, operation: str, transaction_id: str, details: Mapping[str, Any]
    ) -> int:
        """Record a billed call; returns its ``seq`` (`entry` gives the `LedgerEntry`)."""
        item = (provider, operation, transaction_id, time.time(), dict(details))
        with self._lock:
            self._raw.append(item)
            return len(self._raw)

    def entry(self, seq: int) -> LedgerEntry:
        """The entry numbered ``seq`` (1 = the oldest)."""
        with self._lock:
            self._build()
            return self._built[seq - 1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._raw)

    def entries(self, provider: str | None = None) -> list[LedgerEntry]:
        with self._lock:
            self._build()
            return [e for e in self._built if provider is None or e.provider == provider]

    def _build(self) -> None:
        """Build the entries recorded since the last read (under the lock)."""
        built = self._built
        for seq in range(len(built) + 1, len(self._raw) + 1):
            name, operation, txn, at, details = self._raw[seq - 1]
            built.append(
                LedgerEntry(
                    provider=name,
                    operation=operation,
                    transaction_id=txn,
                    seq=seq,
                    at=_dt.datetime.fromtimestamp(at, _dt.timezone.utc),
                    details=details,
                )
            )

    def clear(self) -> None:
        with self._lock:
            self._raw.clear()
            self._built.clear()


@runtime_checkable
class ProviderSandbox(Protocol):
    """What a provider's ``create_sandbox(ctx)`` returns."""

    name: str

    def routes(self) -> Iterable[Route]: ...

    def client(self, **kwargs: Any) -> Any:
        """A sync client of this provider wired to the sandbox."""
        ...

    def async_client(self, **kwargs: Any) -> Any:
        """An async client of this provider wired to the sandbox."""
        ...


class SandboxContext:
    """What the shell gives a provider sandbox: its ledger, options, seed and client wiring."""

    def __init__(
        self,
        provider: str,
        *,
        ledger: Ledger,
        seed: int,
        options: Mapping[str, Any],
        wiring: Callable[[bool], dict[str, Any]],
        base_url: Callable[[], str],
    ) -> None:
        self.provider = provider
        self.seed = seed
        self.options = dict(options)
        self._ledger = ledger
        self._wiring = wiring
        self._base_url = base_url

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` once serving; ``http://sandbox.invalid`` in-process."""
        return self._base_url()

    def bill(self, operation: str, transaction_id: str, **details: Any) -> LedgerEntry:
        """Record a billed call. Keep personal data out of ``details`` (mask it)."""
        return self._ledger.entry(self.record(operation, transaction_id, details))

    def record(self, operation: str, transaction_id: str, details: Mapping[str, Any]) -> int:
        """`bill` without building the entry (the cheap path every request takes); returns
        its ``seq``."""
        return self._ledger.record(self.provider, operation, transaction_id, details)

    def ledger(self) -> list[LedgerEntry]:
        return self._ledger.entries(self.provider)

    def client_options(self, *, asynchronous: bool = False) -> dict[str, Any]:
        """Keyword arguments that wire a client to this sandbox: ``http_client=`` (in-process)
        or ``verify=`` (TLS); add ``base_url``/``gateway_url`` from `base_url`."""
        return self._wiring(asynchronous)


_LETTERS = str.maketrans("0123456789abcdefABCDEF", "ABCDEFGHIJKLMNOPKLMNOP")


def letters_only(hex_text: str) -> str:
    """Hex digits spelled as the letters A-P.

    Synthetic transaction ids are built from these and short counters, so that no run of
    digits in one can look like a card or a mobile: the SDK masks such runs wherever they
    appear, and an id must stay exact to be matched against a billing statement.
    """
    return hex_text.translate(_LETTERS)


def synthetic_run_id(nbytes: int = 4) -> str:
    """A random run id of letters only (see `letters_only`)."""
    return letters_only(secrets.token_hex(nbytes))
