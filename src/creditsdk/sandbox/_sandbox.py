"""Sandbox: every provider's server side on one loopback port, or in-process via httpx."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import pkgutil
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

import httpx

from .._core.wire import Headers
from .._core.wire import Request as WireRequest
from ..errors import ConfigurationError
from ._app import (
    Ledger,
    LedgerEntry,
    ProviderSandbox,
    Route,
    SandboxContext,
    SandboxRequest,
    SandboxResponse,
)
from ._control import CONTROL_PREFIX, ControlAPI, is_control_path
from ._faults import Delivery, FaultPlan, delivery_for
from ._server import LoopbackServer

__all__ = ["Sandbox", "SandboxTransport", "discover_providers"]

ProviderFactory = Callable[[SandboxContext], ProviderSandbox]
_P = TypeVar("_P")

IN_PROCESS_BASE_URL = "http://sandbox.invalid"


def discover_providers() -> dict[str, ProviderFactory]:
    """Every ``creditsdk.<name>.sandbox`` module that defines ``create_sandbox``: a package is a
    provider if it has one (no list of packages that are not; none is imported to find out)."""
    import creditsdk

    found: dict[str, ProviderFactory] = {}
    for info in pkgutil.iter_modules(creditsdk.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        spec = importlib.util.find_spec(f"creditsdk.{info.name}")
        folders = spec.submodule_search_locations if spec is not None else None
        if not folders or not any(m.name == "sandbox" for m in pkgutil.iter_modules(folders)):
            continue
        module = importlib.import_module(f"creditsdk.{info.name}.sandbox")
        factory = getattr(module, "create_sandbox", None)
        if callable(factory):
            found[info.name] = factory
    return found


class Sandbox:
    """Every provider's sandbox on one loopback HTTP server.

    ``with Sandbox() as sb:`` starts a real server on ``127.0.0.1`` at a free port (``port=`` to
    choose one); ``tls=True`` serves HTTPS with a throwaway CA whose PEM is at
    `ca_bundle`. Without starting it, [`transport`][] / [`async_transport`][] give an
    httpx transport that answers in-process (no port at all).

    Per provider: ``sb.<provider>`` (its credentials and knobs; typed:
    ``sb.provider(<Provider>Sandbox)``), ``sb.<provider>_client(**overrides)`` and
    ``sb.async_<provider>_client(**overrides)`` (clients wired to this sandbox; any constructor
    keyword overrides the Sandbox's default), ``sb.ledger(provider)``.

    ``latency`` (seconds, or a callable returning seconds) is added to every answer. ``faults``
    (a [`FaultPlan`][], also reachable as `faults`) injects connection resets, slow
    answers, gateway statuses and corrupted bodies (docs/sandbox.md, "Fault injection"). ``seed``
    makes generated keys and synthetic data reproducible (transaction ids carry a random run id,
    so they never repeat across Sandboxes). ``options`` passes
    per-provider settings, e.g. ``options={name: {"balance": 10}}``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        latency: float | Callable[[], float] = 0.0,
        seed: int = 0,
        providers: Iterable[str] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        extra_providers: Mapping[str, ProviderFactory] | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.host = host
        #: The fault plan: ``sb.faults.add(name, "reset_after", on_call=1)``.
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self.port = port
        self.tls = tls
        self.seed = seed
        self._latency = latency if callable(latency) else (lambda: float(latency))
        self._ledger = Ledger()
        self._server: LoopbackServer | None = None
        self._tmpdir: str | None = None
        self._ca_bundle: str | None = None
        self._owned_http: list[httpx.Client | httpx.AsyncClient] = []
        self._lock = threading.Lock()

        factories = discover_providers()
        if providers is not None:
            wanted = list(providers)
            unknown = sorted(set(wanted) - set(factories))
            if unknown:
                raise ConfigurationError(
                    f"unknown sandbox provider(s) {unknown}; available: {sorted(factories)}"
                )
            factories = {n: factories[n] for n in wanted}
        factories.update(extra_providers or {})
        opts = dict(options or {})
        self._providers: dict[str, ProviderSandbox] = {}
        self._routes: list[tuple[str, Route]] = []
        #: (method, path) -> the route it matched and its path parameters (routes are fixed
        #: once the Sandbox is built)
        self._matched: dict[tuple[str, str], tuple[str, Route, dict[str, str]]] = {}
        self._control = ControlAPI(self)
        for name, factory in factories.items():
            ctx = SandboxContext(
                name,
                ledger=self._ledger,
                seed=seed,
                options=opts.get(name, {}),
                wiring=self._wiring,
                base_url=self._current_base_url,
            )
            provider = factory(ctx)
            self._providers[name] = provider
            for route in provider.routes():
                self._add_route(name, route)

    # -- routing ---------------------------------------------------------------------------

    def _add_route(self, provider: str, route: Route) -> None:
        if is_control_path(route.path):
            raise ConfigurationError(
                f"sandbox route {route.path} of {provider!r} is reserved for the control API "
                f"({CONTROL_PREFIX}/ and /)"
            )
        for other_provider, other in self._routes:
            if other.path == route.path and other.methods & route.methods:
                raise ConfigurationError(
                    f"sandbox route {route.path} of {provider!r} clashes with {other_provider!r}"
                )
        self._routes.append((provider, route))
        self._matched.clear()

    def _match(
        self, request: SandboxRequest
    ) -> tuple[str, Route, SandboxRequest] | SandboxResponse:
        found = self._matched.get((request.method, request.path))
        if found is not None:
            provider, route, params = found
            if params:
                request = _with_params(request, params)
            return provider, route, request
        allowed: set[str] = set()
        for provider, route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if request.method not in route.methods:
                allowed |= route.methods
                continue
            params = match.groupdict()
            if len(self._matched) < 1024:  # the paths a load test uses are few: kept
                self._matched[(request.method, request.path)] = (provider, route, params)
            if params:
                request = _with_params(request, params)
            return provider, route, request
        if allowed:
            return SandboxResponse(405, b"", (("Allow", ", ".join(sorted(allowed))),))
        return SandboxResponse.text("not found", 404)

    @staticmethod
    def _dispatch(route: Route, request: SandboxRequest) -> SandboxResponse:
        try:
            return route.handler(request)
        except Exception as exc:  # a sandbox bug must look like a provider 500, not hang
            return SandboxResponse.text(f"sandbox error: {type(exc).__name__}", 500)

    def serve(self, request: SandboxRequest) -> Delivery:
        """Answer one request under the fault plan (what the server and transport call)."""
        if is_control_path(request.path):
            return Delivery(self._control.answer(request))
        found = self._match(request)
        if isinstance(found, SandboxResponse):
            return Delivery(found)
        provider, route, request = found
        fault = self.faults.pick(provider)
        if fault is not None and not fault.processed:
            refusal = fault.refusal()  # a gateway answering instead of the provider
            delivery = Delivery(refusal) if refusal is not None else Delivery(None, "reset")
        else:
            delivery = delivery_for(fault, self._dispatch(route, request), self.faults.rng)
        if fault is not None:
            self.faults.played()
        return delivery

    def latency(self) -> float:
        return float(self._latency())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        ssl_context = None
        if self.tls:
            ssl_context = self._make_tls()
        self._server = LoopbackServer(
            self.serve,
            host=self.host,
            port=self.port,
            ssl_context=ssl_context,
            latency=self.latency,
        )
        self._server.start()
        return self

    def stop(self) -> None:
        with self._lock:
            owned, self._owned_http = self._owned_http, []
        for client in owned:
            if isinstance(client, httpx.Client):
                client.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._ca_bundle = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _make_tls(self) -> Any:
        try:
            import trustme
        except ImportError:
            raise ConfigurationError(
                "Sandbox(tls=True) needs the 'trustme' package: pip install 'creditsdk[tls]'"
            ) from None
        import ssl

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tmpdir = tempfile.mkdtemp(prefix="creditsdk-sandbox-")
        path = Path(self._tmpdir) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        self._ca_bundle = str(path)
        return context

    # -- what users and provider sandboxes see ----------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls=True``) while running."""
        if self._server is None:
            raise ConfigurationError(
                "the Sandbox is not serving: use 'with Sandbox() as sb:' or sb.start() "
                "(or sb.transport() for in-process use)"
            )
        host, port = self._server.address
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (keep-alive reuse shows as a small number)."""
        return self._server.connections_accepted if self._server is not None else 0

    @property
    def ca_bundle(self) -> str | None:
        """With ``tls=True``: path of the throwaway CA's PEM (trust it as ``verify=``)."""
        return self._ca_bundle

    def _current_base_url(self) -> str:
        return self.base_url if self._server is not None else IN_PROCESS_BASE_URL

    def _wiring(self, asynchronous: bool) -> dict[str, Any]:
        if self._server is None:
            http: httpx.Client | httpx.AsyncClient
            if asynchronous:
                http = httpx.AsyncClient(transport=self.async_transport())
            else:
                http = httpx.Client(transport=self.transport())
            with self._lock:
                self._owned_http.append(http)
            return {"http_client": http}
        if self.tls:
            return {"verify": self.ssl_context()}
        return {}

    def ssl_context(self) -> Any:
        """With ``tls=True``: an ``ssl.SSLContext`` that trusts the throwaway CA (``verify=``)."""
        if self._ca_bundle is None:
            raise ConfigurationError("the Sandbox serves TLS only with tls=True, once started")
        import ssl

        return ssl.create_default_context(cafile=self._ca_bundle)

    def transport(self) -> SandboxTransport:
        """In-process httpx transport: ``httpx.Client(transport=sb.transport())``."""
        return SandboxTransport(self)

    def async_transport(self) -> SandboxTransport:
        """The same for ``httpx.AsyncClient``."""
        return SandboxTransport(self)

    @property
    def providers(self) -> list[str]:
        return list(self._providers)

    @overload
    def provider(self, which: str) -> ProviderSandbox: ...

    @overload
    def provider(self, which: type[_P]) -> _P: ...

    def provider(self, which: str | type[_P]) -> ProviderSandbox | _P:
        """A provider's sandbox, by name (``sb.provider("x")``) or, typed, by its class:
        ``sb.provider(XSandbox)`` is the ``XSandbox`` this Sandbox hosts (mypy knows its type;
        ``sb.x`` is the same object, typed ``Any``)."""
        if isinstance(which, str):
            try:
                return self._providers[which]
            except KeyError:
                raise ConfigurationError(
                    f"no sandbox provider {which!r}; available: {sorted(self._providers)}"
                ) from None
        for provider in self._providers.values():
            if isinstance(provider, which):
                return provider
        raise ConfigurationError(
            f"this Sandbox hosts no {getattr(which, '__name__', which)!r}; "
            f"providers: {sorted(self._providers)}"
        )

    def ledger(self, provider: str | None = None) -> list[LedgerEntry]:
        """Billed calls so far (of one provider, or all), oldest first."""
        if provider is not None:
            self.provider(provider)
        return self._ledger.entries(provider)

    def clear_ledger(self) -> None:
        self._ledger.clear()

    def reset(self) -> None:
        """Clear the ledger and the fault plan's rules, and reset every provider (queued
        failures, pins, balance) — what ``POST /_sandbox/reset`` does."""
        self._ledger.clear()
        self.faults.clear()
        for provider in self._providers.values():
            reset = getattr(provider, "reset", None)
            if callable(reset):
                reset()

    def provider_routes(self) -> dict[str, list[Route]]:
        """Each provider's routes (what ``GET /`` lists)."""
        out: dict[str, list[Route]] = {name: [] for name in self._providers}
        for name, route in self._routes:
            out[name].append(route)
        return out

    @property
    def control_url(self) -> str:
        """``{base_url}/_sandbox``: the HTTP control API (docs/sandbox.md)."""
        return self.base_url + CONTROL_PREFIX

    def __getattr__(self, name: str) -> Any:
        providers = self.__dict__.get("_providers", {})
        if name in providers:
            return providers[name]
        if name.startswith("async_") and name.endswith("_client") and name[6:-7] in providers:
            return providers[name[6:-7]].async_client
        if name.endswith("_client") and name[:-7] in providers:
            return providers[name[:-7]].client
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not serving"
        return f"Sandbox({where}, providers={sorted(self._providers)})"


def _with_params(request: SandboxRequest, params: Mapping[str, str]) -> SandboxRequest:
    # (not attrs.evolve: this is on every request's path, and evolve is slow)
    return SandboxRequest(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        headers=request.headers,
        body=request.body,
        path_params=dict(params),
        client=request.client,
    )


def _sleep_interruptibly(seconds: float) -> None:
    """``time.sleep`` in short slices: a Ctrl-C (SIGINT) that lands just before a long sleep
    would otherwise wait for the whole sleep to be noticed."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))


class _BodyStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An in-process answer body: in 64 KiB pieces, or one byte every ``drip`` seconds."""

    def __init__(self, body: bytes, drip: float | None) -> None:
        self._body = body
        self._drip = drip

    def __iter__(self) -> Iterator[bytes]:
        if self._drip is None:
            for i in range(0, len(self._body), 65536):
                yield self._body[i : i + 65536]
            return
        for i in range(len(self._body)):
            time.sleep(self._drip)
            yield self._body[i : i + 1]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._drip is None:
            for i in range(0, len(self._body), 65536):
                yield self._body[i : i + 65536]
            return
        for i in range(len(self._body)):
            await asyncio.sleep(self._drip)
            yield self._body[i : i + 1]


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers httpx requests by calling the Sandbox directly: no socket, no port.

    The request is handed on as the core's plain wire value (`creditsdk._core.wire.Request`),
    the same an Operation builds."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @staticmethod
    def _to_wire(request: httpx.Request, body: bytes) -> WireRequest:
        return WireRequest(request.method, str(request.url), request.headers.multi_items(), body)

    def _to_sandbox(self, request: httpx.Request, body: bytes) -> SandboxRequest:
        wire = self._to_wire(request, body)
        return SandboxRequest(
            method=wire.method,
            path=wire.path,
            query_string=wire.query,
            headers=dict(Headers(wire.headers).items()),
            body=wire.body,
        )

    @staticmethod
    def _to_httpx(
        answer: SandboxResponse, request: httpx.Request, *, drip: float | None = None
    ) -> httpx.Response:
        headers = list(answer.headers)
        if drip is None and not any(k.lower() == "content-encoding" for k, _ in headers):
            return httpx.Response(
                answer.status, headers=headers, content=answer.body, request=request
            )
        # Streamed, as a socket would deliver it: a compressed body is inflated by the reader
        # (not here, all at once), a dripped one arrives a byte at a time.
        headers.append(("Content-Length", str(len(answer.body))))
        stream = _BodyStream(answer.body, drip)
        return httpx.Response(answer.status, headers=headers, stream=stream, request=request)

    @staticmethod
    def _read_timeout(request: httpx.Request) -> float | None:
        timeout = request.extensions.get("timeout", {})
        value = timeout.get("read") if isinstance(timeout, dict) else None
        return float(value) if value is not None else None

    def _play(self, delivery: Delivery, request: httpx.Request) -> httpx.Response | float:
        """The response, or seconds to wait before answering; raises what a socket would."""
        if delivery.action == "reset" or delivery.response is None:
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if delivery.action == "truncate":
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        if delivery.action == "delay":
            read_timeout = self._read_timeout(request)
            if read_timeout is not None and delivery.delay >= read_timeout:
                raise httpx.ReadTimeout("timed out", request=request)  # no need to wait it out
            return delivery.delay
        if delivery.action == "drip":
            return self._to_httpx(delivery.response, request, drip=delivery.delay)
        return self._to_httpx(delivery.response, request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        delay = self._sandbox.latency()
        if delay > 0:
            time.sleep(delay)
        delivery = self._sandbox.serve(self._to_sandbox(request, body))
        played = self._play(delivery, request)
        if isinstance(played, float):
            _sleep_interruptibly(played)
            assert delivery.response is not None
            return self._to_httpx(delivery.response, request)
        return played

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        delay = self._sandbox.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        delivery = self._sandbox.serve(self._to_sandbox(request, body))
        played = self._play(delivery, request)
        if isinstance(played, float):
            await asyncio.sleep(played)
            assert delivery.response is not None
            return self._to_httpx(delivery.response, request)
        return played
