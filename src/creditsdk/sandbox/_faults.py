"""Fault injection for the Sandbox: what can go wrong between a client and a provider.

A [`FaultPlan`][] says which calls of which provider go wrong and how. Each [`Fault`][]
states whether the provider *processes* (and so may bill) the request before things go wrong —
that is what decides whether a client may safely send it again (see docs/retries.md).

==================  ===========================================  ==========================
fault               what the client sees                          provider processed/billed?
==================  ===========================================  ==========================
``reset_before``    connection reset after the request was sent   no
``reset_after``     connection reset instead of the answer        yes
``slow``            no answer before the client's read timeout    yes
``http_429``        429 + ``Retry-After`` from a gateway          no
``http_503``        a gateway's 503 page (it took nothing on)     no
``http_502``        a gateway's 502 page: it forwarded the        yes
                    request, the provider's answer was lost
``http_504``        a gateway's 504 page: it forwarded the        yes
                    request and gave up waiting
``http_500``        a 500 HTML error page                         yes
``truncated``       body shorter than its ``Content-Length``      yes
``garbled``         the encrypted payload is corrupted            yes
``flip_byte``       one byte of the signed content changed        yes
``invalid_json``    a body that is not JSON                       yes
``html_page``       HTTP 200 with an HTML error page              yes
``oversized``       the answer padded to 9 MiB (still valid JSON) yes
``gzip_bomb``       the same, gzip-compressed to ~9 KB on the     yes
                    wire (it inflates to 9 MiB)
``drip``            the answer sent one byte every ``delay``      yes
                    seconds (each read is quick: only a
                    whole-attempt deadline ends it)
==================  ===========================================  ==========================

A 502 or 504 is modelled as a proxy in front of a provider that took the request on, billed it
and then failed to answer in time (RFC 9110 §15.6.3, §15.6.5): the client sees a gateway page
and cannot know whether it was billed. 429 and 503 are answered *instead of* the provider.

Connection-level faults (``reset_*``, ``slow``, ``truncated``, ``drip``) are played on the
socket by the loopback server; the in-process
[`SandboxTransport`][creditsdk.sandbox.SandboxTransport] raises the httpx exception a real
socket would have produced (or drips, for ``drip``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import json
import random
import re
import threading
from collections.abc import Iterable
from typing import Any

import attrs

from ..errors import ConfigurationError
from ._app import SandboxResponse

__all__ = ["FAULT_KINDS", "Delivery", "Fault", "FaultPlan", "InjectedFault"]

#: kind → does the provider process (and bill) the request before the fault?
_PROCESSED: dict[str, bool] = {
    "reset_before": False,
    "reset_after": True,
    "slow": True,
    "http_429": False,
    "http_500": True,
    "http_502": True,
    "http_503": False,
    "http_504": True,
    "truncated": True,
    "garbled": True,
    "flip_byte": True,
    "invalid_json": True,
    "html_page": True,
    "oversized": True,
    "gzip_bomb": True,
    "drip": True,
}
FAULT_KINDS: tuple[str, ...] = tuple(_PROCESSED)
#: How big ``oversized`` and ``gzip_bomb`` answers are: above any client's default cap.
OVERSIZED_BYTES = 9 * 1024 * 1024
_STATUS_OF = {"http_429": 429, "http_500": 500, "http_502": 502, "http_503": 503, "http_504": 504}

_HTML = (
    "<!DOCTYPE html><html><head><title>{status} {title}</title></head><body>"
    "<h1>{status} {title}</h1><hr><center>nginx</center></body></html>"
)
_TITLES = {
    200: "Error",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def _html(status: int, *, reported_status: int | None = None) -> SandboxResponse:
    shown = reported_status or status
    text = _HTML.format(status=shown, title=_TITLES.get(shown, "Error"))
    return SandboxResponse.text(text, status, content_type="text/html")


def _kind_of(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"http_{value}"
    if not isinstance(value, str) or value not in _PROCESSED:
        raise ConfigurationError(f"unknown fault {value!r}; choose from {list(FAULT_KINDS)}")
    return value


@attrs.frozen
class Fault:
    """One way for a call to go wrong. ``kind`` is one of `creditsdk.sandbox.FAULT_KINDS`.

    ``delay`` (seconds) is how long a ``slow`` answer takes (make it longer than the client's
    read timeout), or for ``drip`` the wait between two bytes (default 0.05 s for ``drip``);
    ``retry_after`` is the ``Retry-After`` header of ``http_429`` (``None`` to
    omit it).
    """

    kind: str = attrs.field(converter=_kind_of)
    delay: float = attrs.field()
    retry_after: str | None = "0"

    @delay.default
    def _default_delay(self) -> float:
        return 0.05 if self.kind == "drip" else 5.0

    @property
    def processed(self) -> bool:
        """Does the provider process (and, for a billed operation, bill) the request?"""
        return _PROCESSED[self.kind]

    def refusal(self) -> SandboxResponse | None:
        """The answer sent *instead of* dispatching (gateway statuses), else None."""
        if self.kind == "http_429":
            headers = (("Retry-After", self.retry_after),) if self.retry_after is not None else ()
            page = _html(429)
            return SandboxResponse(429, page.body, (*page.headers, *headers))
        if self.kind == "http_503":
            return _html(503)
        return None

    def corrupt(self, response: SandboxResponse, rng: random.Random) -> SandboxResponse:
        """The provider's answer as this (body-level) fault delivers it."""
        if self.kind in ("http_500", "http_502", "http_504"):
            return _html(_STATUS_OF[self.kind])  # processed (billed), then the page
        if self.kind == "oversized":
            return attrs.evolve(response, body=_padded(response.body))
        if self.kind == "gzip_bomb":
            headers = (*response.headers, ("Content-Encoding", "gzip"))
            return attrs.evolve(response, body=_bomb(response.body), headers=headers)
        if self.kind == "html_page":
            return _html(200, reported_status=200)
        if self.kind == "invalid_json":
            body = response.body[: max(1, len(response.body) // 2)] + b"\x00<"
            return attrs.evolve(response, body=body)
        if self.kind == "garbled":
            return attrs.evolve(response, body=_garble(response.body, rng))
        if self.kind == "flip_byte":
            return attrs.evolve(response, body=_flip_byte(response.body, rng))
        return response


def _padded(body: bytes) -> bytes:
    """``body`` followed by whitespace up to `OVERSIZED_BYTES`: still the same JSON."""
    return body + b" " * max(0, OVERSIZED_BYTES - len(body))


@functools.lru_cache(maxsize=1)
def _compressed_padding() -> bytes:
    return gzip.compress(b" " * OVERSIZED_BYTES, compresslevel=9, mtime=0)


def _bomb(body: bytes) -> bytes:
    """A gzip stream that inflates to ``body`` plus 9 MiB of whitespace (two members, which
    gzip readers, httpx's among them, concatenate)."""
    return gzip.compress(body, mtime=0) + _compressed_padding()


def _garble(body: bytes, rng: random.Random) -> bytes:
    """Corrupt the last cipher block of the longest base64 string value (the payload)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return _flip_byte(body, rng)
    best: str | None = None
    for key, value in doc.items() if isinstance(doc, dict) else ():
        if key == "sign" or not isinstance(value, str) or len(value) < 44:
            continue
        if best is None or len(value) > len(best):
            best = value
    if best is None:
        return _flip_byte(body, rng)
    try:
        blob = bytearray(base64.b64decode(best, validate=True))
    except (binascii.Error, ValueError):
        return _flip_byte(body, rng)
    for i in range(max(0, len(blob) - 16), len(blob)):
        blob[i] ^= rng.randrange(1, 256)
    garbled = base64.b64encode(bytes(blob)).decode("ascii")
    return body.replace(best.encode("ascii"), garbled.encode("ascii"), 1)


_SIGNED_VALUE = re.compile(rb'"[A-Za-z0-9_]+_response"\s*:')
_ALNUM = re.compile(rb"[A-Za-z0-9]")


def _flip_byte(body: bytes, rng: random.Random) -> bytes:
    """Change one letter or digit (so JSON stays valid) inside the signed content if any."""
    start, end = 0, len(body)
    match = _SIGNED_VALUE.search(body)
    if match is not None:
        start = match.end()
        sign_at = body.rfind(b'"sign"')
        end = sign_at if sign_at > start else end
    positions = [m.start() for m in _ALNUM.finditer(body, start, end)]
    if not positions:
        return body + b"\x00"
    i = rng.choice(positions)
    old = body[i : i + 1]
    pool = b"0123456789" if old.isdigit() else b"abcdefghijklmnopqrstuvwxyz"
    new = bytes([rng.choice([c for c in pool if c != old.lower()[0]])])
    if old.isupper():
        new = new.upper()
    return body[:i] + new + body[i + 1 :]


@attrs.frozen
class InjectedFault:
    """A record of one fault played: which provider's call number got which fault."""

    provider: str
    call: int
    kind: str


@attrs.frozen
class Delivery:
    """What the server does with a request: send ``response``, and how (``action``)."""

    response: SandboxResponse | None
    action: str = "send"  # send | reset | truncate | delay | drip
    delay: float = 0.0


@attrs.define
class _Rule:
    provider: str
    fault: Fault
    on_calls: frozenset[int] | None
    probability: float | None
    times: int | None


class FaultPlan:
    """Which calls go wrong, per provider: by call number (1-based, counted per provider from
    when the plan is attached) or at random with a ``probability`` (seeded: reproducible).

    ```python
    plan = FaultPlan(seed=7)
    plan.add(name, "reset_after", on_call=1)  # the provider's first call loses its answer
    plan.add(other, "http_503", probability=0.2)  # one in five of another's, at random
    ```
    """

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._played = threading.Condition(self._lock)
        self._rules: list[_Rule] = []
        self._calls: dict[str, int] = {}
        self._injected: list[InjectedFault] = []
        self._played_count = 0

    def add(
        self,
        provider: str,
        fault: Fault | str | int,
        *,
        on_call: int | Iterable[int] | None = None,
        probability: float | None = None,
        times: int | None = None,
    ) -> Fault:
        """Inject ``fault`` into ``provider``'s call(s) ``on_call`` or with ``probability``
        (at most ``times`` times). ``provider="*"`` matches every provider."""
        fault = fault if isinstance(fault, Fault) else Fault(fault)
        if (on_call is None) == (probability is None):
            raise ConfigurationError("give exactly one of on_call= or probability=")
        calls: frozenset[int] | None = None
        if on_call is not None:
            calls = frozenset([on_call] if isinstance(on_call, int) else on_call)
            if not calls or min(calls) < 1:
                raise ConfigurationError("on_call numbers start at 1")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ConfigurationError(f"probability must be between 0 and 1, not {probability!r}")
        with self._lock:
            self._rules.append(_Rule(provider, fault, calls, probability, times))
        return fault

    def clear(self) -> None:
        """Remove every rule (call counters and the record of injected faults stay)."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        """The rules still in the plan, as plain values (``times`` counts down as they play)."""
        with self._lock:
            return [
                {
                    "provider": r.provider,
                    "kind": r.fault.kind,
                    "on_call": sorted(r.on_calls) if r.on_calls is not None else None,
                    "probability": r.probability,
                    "times": r.times,
                    "delay": r.fault.delay,
                }
                for r in self._rules
            ]

    def calls(self, provider: str) -> int:
        """How many requests ``provider`` has received so far."""
        with self._lock:
            return self._calls.get(provider, 0)

    @property
    def injected(self) -> list[InjectedFault]:
        with self._lock:
            return list(self._injected)

    def wait_injected(self, count: int, timeout: float | None = None) -> bool:
        """Block until at least ``count`` faults were played in all — the provider has
        processed (and billed) the request if the fault lets it, and the faulty answer is on
        its way; False if ``timeout`` passed first. For tests that act on a call in flight
        (cancel it, interrupt it) without sleeping."""
        with self._played:
            return self._played.wait_for(lambda: self._played_count >= count, timeout)

    @property
    def played_count(self) -> int:
        """How many picked faults were played so far (see `wait_injected`)."""
        with self._lock:
            return self._played_count

    def played(self) -> None:
        """Called by the Sandbox once a picked fault's request was dispatched (or refused)."""
        with self._played:
            self._played_count += 1
            self._played.notify_all()

    @property
    def rng(self) -> random.Random:
        return self._rng

    def pick(self, provider: str) -> Fault | None:
        """Count one call of ``provider`` and return the fault to play on it, if any."""
        with self._lock:
            n = self._calls.get(provider, 0) + 1
            self._calls[provider] = n
            for rule in self._rules:
                if rule.provider not in (provider, "*") or rule.times == 0:
                    continue
                if rule.on_calls is not None:
                    hit = n in rule.on_calls
                else:
                    hit = self._rng.random() < (rule.probability or 0.0)
                if hit:
                    if rule.times is not None:
                        rule.times -= 1
                    self._injected.append(InjectedFault(provider, n, rule.fault.kind))
                    return rule.fault
        return None

    def __repr__(self) -> str:
        return f"FaultPlan(seed={self.seed}, rules={len(self._rules)})"


def delivery_for(fault: Fault | None, answer: Any, rng: random.Random) -> Delivery:
    """How to deliver ``answer`` (the provider's response, already dispatched) under ``fault``."""
    if fault is None:
        return Delivery(answer)
    if fault.kind == "reset_after":
        return Delivery(None, "reset")
    if fault.kind == "slow":
        return Delivery(answer, "delay", fault.delay)
    if fault.kind == "truncated":
        return Delivery(answer, "truncate")
    if fault.kind == "drip":
        return Delivery(answer, "drip", fault.delay)
    return Delivery(fault.corrupt(answer, rng))
