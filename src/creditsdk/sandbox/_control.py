"""The Sandbox's HTTP control API, for tests written in any language (docs/sandbox.md).

Everything under ``/_sandbox/`` (no provider route may use it) and ``GET /``. JSON in and out;
a refusal is ``{"error": {"type", "message", "field"}}`` with a 4xx status. It drives the same
state as the Python API (``sb.faults``, ``sb.<provider>.fail_next``, ``pin``, ``balance``,
``sb.ledger()``): a test may mix both.

Loopback only, and hardened against the ways a web page could reach a server on 127.0.0.1:
the peer must be a loopback address; ``Host`` must name a loopback host (DNS rebinding points
an attacker's name at 127.0.0.1, but the browser still sends the attacker's name); an ``Origin``
must be a loopback origin; and a request that changes state must say
``Content-Type: application/json``, which a cross-site form or simple ``fetch`` cannot send
without a CORS preflight this server never approves.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .._core.redact import redact_text
from ..errors import ConfigurationError
from ._app import LedgerEntry, SandboxRequest, SandboxResponse
from ._faults import FAULT_KINDS, Fault
from ._provider import ProviderSandboxBase

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["CONTROL_PREFIX", "ControlAPI"]

CONTROL_PREFIX = "/_sandbox"
_MAX_BODY = 64 * 1024
_MAX_TIMES = 1_000_000
_MAX_DELAY = 3600.0
_PROVIDER_PATH = re.compile(r"/_sandbox/providers/([A-Za-z0-9_]+)(?:/([a-z_]+))?\Z")
_LOOPBACK_NAMES = ("localhost", "sandbox.invalid")  # .invalid never resolves (RFC 6761)


class _Refusal(Exception):
    def __init__(self, status: int, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.field = field

    def response(self) -> SandboxResponse:
        error: dict[str, Any] = {"type": self.kind, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return SandboxResponse.json({"error": error}, self.status)


def _bad(field: str, message: str) -> _Refusal:
    return _Refusal(400, "invalid_field", f"{field}: {message}", field)


def is_control_path(path: str) -> bool:
    return path == "/" or path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def _loopback_host(host: str) -> bool:
    """Is ``host`` (a Host header or URL authority, port allowed) a loopback name?"""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    if not name:
        return False
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    return _loopback_address(name)


def _loopback_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class ControlAPI:
    """Answers the control requests of one `Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox
        self._routes: dict[tuple[str, str], Callable[[SandboxRequest], Any]] = {
            ("GET", "/"): self._index,
            ("GET", CONTROL_PREFIX): self._index,
            ("GET", f"{CONTROL_PREFIX}/"): self._index,
            ("GET", f"{CONTROL_PREFIX}/health"): self._health,
            ("GET", f"{CONTROL_PREFIX}/ledger"): self._ledger,
            ("DELETE", f"{CONTROL_PREFIX}/ledger"): self._clear_ledger,
            ("GET", f"{CONTROL_PREFIX}/faults"): self._faults,
            ("POST", f"{CONTROL_PREFIX}/faults"): self._add_fault,
            ("DELETE", f"{CONTROL_PREFIX}/faults"): self._clear_faults,
            ("GET", f"{CONTROL_PREFIX}/providers"): self._providers,
            ("POST", f"{CONTROL_PREFIX}/reset"): self._reset,
        }
        self._provider_actions: dict[tuple[str, str], Callable[[str, Any], Any]] = {
            ("GET", ""): self._provider,
            ("POST", "fail_next"): self._fail_next,
            ("POST", "pin"): self._pin,
            ("POST", "unpin"): self._unpin,
            ("GET", "balance"): self._balance,
            ("PUT", "balance"): self._set_balance,
            ("POST", "approve"): self._approve,
            ("POST", "deny"): self._deny,
        }

    def answer(self, request: SandboxRequest) -> SandboxResponse:
        try:
            self._guard(request)
            status, result = self._route(request)
        except _Refusal as refusal:
            return refusal.response()
        except ConfigurationError as exc:  # the Python API's own check, worded for its caller
            return _Refusal(400, "invalid_request", str(exc)).response()
        return SandboxResponse.json(result, status)

    # -- who may ask ---------------------------------------------------------------------------

    def _guard(self, request: SandboxRequest) -> None:
        if not _loopback_address(request.client):
            raise _Refusal(403, "forbidden", "the control API answers loopback clients only")
        host = request.headers.get("host", "")
        if not _loopback_host(host):
            raise _Refusal(403, "forbidden", "Host must name a loopback host", "Host")
        origin = request.headers.get("origin")
        if origin is not None and not _loopback_host(urlsplit(origin).netloc):
            raise _Refusal(403, "forbidden", "Origin must be a loopback origin", "Origin")
        if request.method not in ("GET", "HEAD"):
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                raise _Refusal(
                    415,
                    "unsupported_media_type",
                    "a control request that changes state needs Content-Type: application/json",
                    "Content-Type",
                )
            if len(request.body) > _MAX_BODY:
                raise _Refusal(413, "too_large", f"a control body is at most {_MAX_BODY} bytes")

    # -- routing -------------------------------------------------------------------------------

    def _route(self, request: SandboxRequest) -> tuple[int, Any]:
        method = "GET" if request.method == "HEAD" else request.method
        handler = self._routes.get((method, request.path))
        if handler is not None:
            return 200, handler(request)
        match = _PROVIDER_PATH.match(request.path)
        if match is not None:
            name, action = match.group(1), match.group(2) or ""
            action_handler = self._provider_actions.get((method, action))
            if action_handler is None:
                if any(a == action for _, a in self._provider_actions):
                    raise _Refusal(405, "method_not_allowed", f"{request.method} not allowed here")
                raise _Refusal(404, "unknown_endpoint", f"no control endpoint {request.path}")
            self._provider_named(name)
            return 200, action_handler(name, _body(request) if method != "GET" else {})
        if any(path == request.path for _, path in self._routes):
            raise _Refusal(405, "method_not_allowed", f"{request.method} not allowed here")
        raise _Refusal(404, "unknown_endpoint", f"no control endpoint {request.path}")

    def _provider_named(self, name: str) -> Any:
        if name not in self._sb.providers:
            raise _Refusal(
                404,
                "unknown_provider",
                f"no sandbox provider {name!r}; available: {sorted(self._sb.providers)}",
                "provider",
            )
        return self._sb.provider(name)

    def _based(self, name: str, what: str) -> ProviderSandboxBase[Any, Any]:
        provider = self._provider_named(name)
        if not isinstance(provider, ProviderSandboxBase):
            raise _Refusal(409, "unsupported", f"the {name} sandbox has no {what}")
        return provider

    # -- the endpoints -------------------------------------------------------------------------

    def _index(self, _request: SandboxRequest) -> Any:
        p = CONTROL_PREFIX
        return {
            "service": "creditsdk sandbox",
            "providers": {
                name: {"routes": [{"methods": sorted(r.methods), "path": r.path} for r in routes]}
                for name, routes in self._sb.provider_routes().items()
            },
            "control": {
                "health": f"GET {p}/health",
                "ledger": f"GET {p}/ledger?provider=NAME, DELETE {p}/ledger",
                "faults": f"GET|POST|DELETE {p}/faults",
                "providers": f"GET {p}/providers, GET {p}/providers/NAME",
                "fail_next": f"POST {p}/providers/NAME/fail_next",
                "pin": f"POST {p}/providers/NAME/pin, POST {p}/providers/NAME/unpin",
                "balance": f"GET|PUT {p}/providers/NAME/balance",
                "authorization": f"POST {p}/providers/NAME/approve, POST {p}/providers/NAME/deny",
                "reset": f"POST {p}/reset",
            },
            "fault_kinds": list(FAULT_KINDS),
        }

    def _health(self, _request: SandboxRequest) -> Any:
        return {
            "status": "ok",
            "providers": self._sb.providers,
            "tls": self._sb.tls,
            "connections_accepted": self._sb.connections_accepted,
        }

    def _ledger(self, request: SandboxRequest) -> Any:
        query = parse_qs(request.query_string, keep_blank_values=True)
        values = query.get("provider")
        provider = values[0] if values else None
        if provider is not None:
            self._provider_named(provider)
        return {"entries": [_entry(e) for e in self._sb.ledger(provider)]}

    def _clear_ledger(self, _request: SandboxRequest) -> Any:
        cleared = len(self._sb.ledger())
        self._sb.clear_ledger()
        return {"cleared": cleared}

    def _faults(self, _request: SandboxRequest) -> Any:
        plan = self._sb.faults
        return {
            "kinds": list(FAULT_KINDS),
            "rules": plan.rules(),
            "calls": {name: plan.calls(name) for name in self._sb.providers},
            "injected": [
                {"provider": f.provider, "call": f.call, "kind": f.kind} for f in plan.injected
            ],
        }

    def _add_fault(self, request: SandboxRequest) -> Any:
        body = _body(request)
        _only(body, {"provider", "kind", "on_call", "probability", "times", "delay", "retry_after"})
        provider = _string(body, "provider", required=True)
        if provider != "*":
            self._provider_named(provider)
        kind = _string(body, "kind", required=True)
        if kind not in FAULT_KINDS:
            raise _bad("kind", f"unknown fault {kind!r}; choose from {list(FAULT_KINDS)}")
        on_call = body.get("on_call")
        if on_call is not None:
            calls = [on_call] if not isinstance(on_call, list) else on_call
            if not calls or not all(_is_int(c) and 1 <= c <= 10**9 for c in calls):
                raise _bad("on_call", "a call number (>= 1) or a non-empty list of them")
        probability = body.get("probability")
        if probability is not None and not (_is_number(probability) and 0 <= probability <= 1):
            raise _bad("probability", "a number between 0 and 1")
        if on_call is not None and probability is not None:
            raise _bad("on_call", "give on_call or probability, not both")
        times = body.get("times")
        if times is not None and not (_is_int(times) and 1 <= times <= _MAX_TIMES):
            raise _bad("times", f"an integer from 1 to {_MAX_TIMES}")
        if on_call is None and probability is None:
            probability = 1.0  # the next call(s): `times` of them, default one
            times = 1 if times is None else times
        extra: dict[str, Any] = {}
        if "delay" in body:
            delay = body["delay"]
            if not (_is_number(delay) and 0 <= delay <= _MAX_DELAY):
                raise _bad("delay", f"seconds, a number from 0 to {_MAX_DELAY:g}")
            extra["delay"] = float(delay)
        if "retry_after" in body:
            retry_after = body["retry_after"]
            printable = isinstance(retry_after, str) and retry_after.isprintable()
            if retry_after is not None and not (printable and len(retry_after) < 64):
                raise _bad("retry_after", "a short string (the Retry-After header) or null")
            extra["retry_after"] = retry_after
        fault = Fault(kind, **extra)
        self._sb.faults.add(provider, fault, on_call=on_call, probability=probability, times=times)
        return {
            "added": {
                "provider": provider,
                "kind": kind,
                "on_call": on_call,
                "probability": probability,
                "times": times,
                "delay": fault.delay,
            }
        }

    def _clear_faults(self, _request: SandboxRequest) -> Any:
        self._sb.faults.clear()
        return {"cleared": True}

    def _providers(self, _request: SandboxRequest) -> Any:
        return {"providers": {name: self._provider(name, {}) for name in self._sb.providers}}

    def _provider(self, name: str, _body: Any) -> Any:
        provider = self._provider_named(name)
        out: dict[str, Any] = {"name": name}
        if isinstance(provider, ProviderSandboxBase):
            out["scenarios"] = list(provider.scenarios)
            out["balance"] = provider.balance
            out["pending_failures"] = len(provider.pending_failures)
        out["authorization"] = callable(getattr(provider, "approve", None))
        return out

    def _fail_next(self, name: str, body: Any) -> Any:
        provider = self._based(name, "fail_next")
        _only(body, {"code", "times", "message"})
        code = body.get("code")
        if not (_is_int(code) or (isinstance(code, str) and code.strip())):
            raise _bad("code", "the provider's refusal code (a number or a string)")
        times = body.get("times", 1)
        if not (_is_int(times) and 1 <= times <= 10_000):
            raise _bad("times", "an integer from 1 to 10000")
        message = body.get("message")
        if message is not None and not (isinstance(message, str) and len(message) <= 1000):
            raise _bad("message", "a string of at most 1000 characters, or null")
        try:
            provider.fail_next(code, times=times, message=message)
        except ConfigurationError as exc:
            raise _bad("code", str(exc)) from None
        return {"pending_failures": len(provider.pending_failures)}

    def _pin(self, name: str, body: Any) -> Any:
        provider = self._based(name, "scenarios")
        _only(body, {"key", "scenario"})
        key = _string(body, "key", required=True)
        scenario = _string(body, "scenario", required=True)
        if scenario not in provider.scenarios:
            raise _bad(
                "scenario", f"unknown scenario {scenario!r}; choose from {list(provider.scenarios)}"
            )
        provider.pin(key, scenario)
        return {"key": redact_text(key), "scenario": scenario}

    def _unpin(self, name: str, body: Any) -> Any:
        provider = self._based(name, "scenarios")
        _only(body, {"key"})
        key = _string(body, "key", required=True)
        was = provider.pinned(key)
        provider.unpin(key)
        return {"key": redact_text(key), "was": was}

    def _balance(self, name: str, _body: Any) -> Any:
        return {"balance": self._based(name, "balance").balance}

    def _set_balance(self, name: str, body: Any) -> Any:
        provider = self._based(name, "balance")
        _only(body, {"balance"})
        if "balance" not in body:
            raise _bad("balance", "required (an integer >= 0, or null for unlimited)")
        balance = body["balance"]
        if balance is not None and not (_is_int(balance) and 0 <= balance <= 10**12):
            raise _bad("balance", "an integer >= 0, or null for unlimited")
        provider.balance = balance
        return {"balance": provider.balance}

    def _authorization(self, name: str, body: Any, decision: str) -> Any:
        provider = self._provider_named(name)
        act = getattr(provider, decision, None)
        if not callable(act):
            raise _Refusal(409, "unsupported", f"the {name} sandbox has no authorization page")
        allowed = {"url", "user_id", "id_card"} if decision == "approve" else {"url"}
        _only(body, allowed)
        url = _string(body, "url", required=True)
        kwargs = {k: _string(body, k) for k in ("user_id", "id_card") if k in body}
        try:
            redirect = act(url, **kwargs)
        except ConfigurationError as exc:
            raise _bad("url", str(exc)) from None
        return {"redirect": redirect}

    def _approve(self, name: str, body: Any) -> Any:
        return self._authorization(name, body, "approve")

    def _deny(self, name: str, body: Any) -> Any:
        return self._authorization(name, body, "deny")

    def _reset(self, _request: SandboxRequest) -> Any:
        self._sb.reset()
        return {"reset": True}


# -- JSON bodies -------------------------------------------------------------------------------


def _body(request: SandboxRequest) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        doc = json.loads(request.body)
    except RecursionError:  # 10,000 nested brackets: refused, not a crash
        raise _Refusal(400, "invalid_json", "the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise _Refusal(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _Refusal(400, "invalid_json", "the body must be a JSON object")
    return doc


def _only(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _bad(unknown[0], f"unknown field; expected {sorted(allowed)}")


def _string(body: Mapping[str, Any], field: str, *, required: bool = False) -> Any:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:
        raise _bad(field, "required: a non-empty string" if required else "a non-empty string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


def _entry(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "provider": entry.provider,
        "operation": entry.operation,
        "transaction_id": entry.transaction_id,
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "details": _masked(dict(entry.details)),
    }
