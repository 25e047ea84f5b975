"""A test-only provider that needs a bearer token: the shape of a token-authenticated provider.

It is one folder's worth of code — Operations, a client pair, a server — and touches nothing in
the core: the token fetch is another Operation, declared through `TokenAuth`.

``POST /oauth/token`` (client id + secret in a form) answers ``{"access_token", "expires_in"}``;
``GET /v1/lookup?ref=…`` wants ``Authorization: Bearer <token>`` and answers 401 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import httpx

from creditsdk._core.auth import Token, TokenAuth
from creditsdk._core.clients import AsyncClientBase, SyncClientBase
from creditsdk._core.executors import AsyncTransport, SyncTransport
from creditsdk._core.operation import Operation
from creditsdk._core.redact import register_secret
from creditsdk._core.wire import Request, Response
from creditsdk.errors import AuthenticationError, ProviderError, ResponseIntegrityError

PROVIDER = "tokenbureau"
BASE = "https://token.example"


@attrs.frozen
class Config:
    client_id: str
    client_secret: str = attrs.field(repr=False)
    base_url: str = BASE


@attrs.frozen
class Lookup:
    ref: str
    score: int
    transaction_id: str


def _error(response: Response) -> ProviderError:
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    message = str(doc.get("error", f"HTTP {response.status_code}"))
    cls = AuthenticationError if response.status_code == 401 else ProviderError
    return cls(message, code=str(doc.get("code", response.status_code)))


def token_operation(config: Config) -> Operation[Token]:
    def build() -> Request:
        form = {"grant_type": "client_credentials", "client_id": config.client_id,
                "client_secret": config.client_secret}  # fmt: skip
        return Request(
            "POST",
            f"{config.base_url}/oauth/token",
            (("Content-Type", "application/x-www-form-urlencoded"),),
            urlencode(form).encode("ascii"),
        )

    def parse(response: Response) -> Token:
        if response.status_code != 200:
            raise _error(response)
        doc = response.json()
        if not isinstance(doc.get("access_token"), str):
            raise ResponseIntegrityError("no access_token")
        return Token(doc["access_token"], expires_in=float(doc["expires_in"]))

    return Operation(
        provider=PROVIDER, name="token", build_request=build, parse_response=parse,
        billed=False, idempotent=True,
    )  # fmt: skip


def _bearer(request: Request, token: Token) -> Request:
    return request.with_header("Authorization", f"Bearer {token.value}")


def lookup_operation(config: Config, ref: str) -> Operation[Lookup]:
    def build() -> Request:
        return Request("GET", f"{config.base_url}/v1/lookup?{urlencode({'ref': ref})}")

    def parse(response: Response) -> Lookup:
        if response.status_code != 200:
            raise _error(response)
        doc = response.json()
        return Lookup(ref, int(doc["score"]), str(doc["transaction_id"]))

    return Operation(
        provider=PROVIDER,
        name="lookup",
        build_request=build,
        parse_response=parse,
        billed=True,
        idempotent=False,
        is_provider_answer=lambda r: r.headers.get("Content-Type") == "application/json",
        auth=TokenAuth(
            key=("client_credentials", config.client_id),
            fetch=lambda: token_operation(config),
            apply=_bearer,
        ),
    )


class TokenClient(SyncClientBase):
    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic,
                 **kw: Any) -> None:  # fmt: skip
        register_secret(config.client_secret)
        self._config = config
        self._transport = SyncTransport(provider=PROVIDER, clock=clock, **kw)

    def lookup(self, ref: str) -> Lookup:
        return self._run(lookup_operation(self._config, ref))


class AsyncTokenClient(AsyncClientBase):
    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic,
                 **kw: Any) -> None:  # fmt: skip
        register_secret(config.client_secret)
        self._config = config
        self._transport = AsyncTransport(provider=PROVIDER, clock=clock, **kw)

    async def lookup(self, ref: str) -> Lookup:
        return await self._run(lookup_operation(self._config, ref))


class TokenServer:
    """The provider's side, in process (``httpx.MockTransport``): issues ``tok-<n>-<secret>``
    tokens, accepts only those it issued and has not revoked."""

    def __init__(self, config: Config, *, expires_in: float = 60.0) -> None:
        self.config = config
        self.expires_in = expires_in
        self.token_requests = 0
        self.lookups: list[str | None] = []  # the bearer of each lookup
        self.valid: set[str] = set()
        self.reject_all = False
        self.echo_token_in_errors = True  # a hostile provider: its 401 quotes the token
        #: Called before a token is issued (a test holds the answer there).
        self.before_token: Callable[[], object] | None = None
        self._lock = threading.Lock()

    def revoke(self) -> None:
        with self._lock:
            self.valid.clear()

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.config.client_id,
            self.config.client_secret,
        ):
            return self._json(401, {"error": "bad client credentials", "code": "invalid_client"})
        with self._lock:
            self.token_requests += 1
            token = f"tok-{self.token_requests}-Zq8xVw3rT6"
            self.valid.add(token)
        return self._json(200, {"access_token": token, "expires_in": self.expires_in})

    def _lookup(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Authorization", "")
        bearer = header[len("Bearer ") :] if header.startswith("Bearer ") else None
        with self._lock:
            self.lookups.append(bearer)
            ok = bearer in self.valid and not self.reject_all
        if not ok:
            said = f"token {bearer} is not valid" if self.echo_token_in_errors else "bad token"
            return self._json(401, {"error": said, "code": "invalid_token"})
        ref = parse_qs(urlsplit(str(request.url)).query)["ref"][0]
        return self._json(200, {"score": 700, "transaction_id": f"T-{ref}"})

    @staticmethod
    def _json(status: int, doc: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            status, content=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            if self.before_token is not None:
                self.before_token()
            return self._token(request)
        return self._lookup(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            # Let every other task run (and reach the token cache) before answering.
            for _ in range(5):
                await asyncio.sleep(0)
            return self._token(request)
        return self._lookup(request)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle), **kw)

    def async_client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle), **kw)
