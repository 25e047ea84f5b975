"""OpenTelemetry spans, when ``opentelemetry-api`` is installed (``pip install 'creditsdk[otel]'``).

One span per call, named ``creditsdk.<provider>.<operation>``, kind CLIENT, its attempts as
span events. The API is imported on the first call, never at ``import creditsdk``; without it
every function here is a no-op. With the API but no SDK configured, spans are non-recording and
nothing is computed for them.

Span attributes follow the OpenTelemetry semantic conventions where one fits
(``http.request.method``, ``server.address``, ``server.port``, ``http.response.status_code``,
``error.type``); the rest are ``creditsdk.*``. None holds personal data: no URL query, no
request or answer body, no error message (an answer can echo the applicant) — only names,
counts, statuses and the masked correlation id.
"""

from __future__ import annotations

import importlib
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .._version import __version__
from .consent import AttemptTiming

__all__ = ["CallSpan", "start_span"]

_UNSET: Any = object()
_api: Any = _UNSET  # the opentelemetry.trace module, or None when it is not installed
_tracer: Any = None


def _trace_api() -> Any:
    global _api
    if _api is _UNSET:
        try:
            _api = importlib.import_module("opentelemetry.trace")
        except ImportError:
            _api = None
    return _api


def _get_tracer(api: Any, provider: Any) -> Any:
    """The tracer of ``provider``, else of the global provider; None while nobody set one (the
    API's proxy would hand out non-recording spans: skip the work)."""
    global _tracer
    if provider is not None:
        return provider.get_tracer("creditsdk", __version__)
    if _tracer is None:
        # get_tracer_provider() reads os.environ on every call while none is set; the API's
        # global says the same for free (checked once that no provider comes from the env).
        if _unset_globally(api):
            return None  # not cached: the application may set its provider later
        current = api.get_tracer_provider()
        if isinstance(current, api.ProxyTracerProvider):
            return None
        _tracer = current.get_tracer("creditsdk", __version__)
    return _tracer


_from_env: bool | None = None


def _unset_globally(api: Any) -> bool:
    global _from_env
    if _from_env is None:
        _from_env = bool(os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"))
    return not _from_env and getattr(api, "_TRACER_PROVIDER", False) is None


class CallSpan:
    """The span of one call: attributes set as the call learns them, ended exactly once."""

    __slots__ = ("_api", "_ended", "_span", "_status")

    def __init__(self, api: Any, span: Any) -> None:
        self._api = api
        self._span = span
        self._ended = False
        self._status: int | None = None

    def request(self, method: str, url: str) -> None:
        """The first attempt's request line (host and port only: no path, no query)."""
        if self._status is not None:
            return
        self._status = 0
        try:
            parts = urllib.parse.urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        attrs: dict[str, Any] = {"http.request.method": method}
        if host:
            attrs["server.address"] = host
        if port:
            attrs["server.port"] = port
        self._span.set_attributes(attrs)

    def attempt(self, timing: AttemptTiming) -> None:
        attrs: dict[str, Any] = {
            "creditsdk.attempt": timing.number,
            "creditsdk.attempt.start_s": timing.start,
            "creditsdk.attempt.duration_s": timing.duration,
            "creditsdk.attempt.outcome": timing.outcome,
        }
        if timing.http_status is not None:
            attrs["http.response.status_code"] = timing.http_status
        if timing.error_type is not None:
            attrs["error.type"] = timing.error_type
        if timing.reason is not None:
            attrs["creditsdk.attempt.reason"] = timing.reason
        self._span.add_event("creditsdk.attempt", attrs)

    def end(self, attributes: Mapping[str, Any], error_type: str | None) -> None:
        if self._ended:
            return
        self._ended = True
        span, api = self._span, self._api
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            # the class name only: an error's message may quote the provider's answer
            span.set_status(api.Status(api.StatusCode.ERROR, error_type))
        span.end()


def start_span(
    provider: str, operation: str, correlation_id: str | None, tracer_provider: Any = None
) -> CallSpan | None:
    """The span of a call starting now, or None (no OpenTelemetry, or nobody records)."""
    api = _trace_api()
    if api is None:
        return None
    tracer = _get_tracer(api, tracer_provider)
    if tracer is None:
        return None
    span = tracer.start_span(
        f"creditsdk.{provider}.{operation}",
        kind=api.SpanKind.CLIENT,
        attributes={"creditsdk.provider": provider, "creditsdk.operation": operation},
    )
    if not span.is_recording():
        return None
    if correlation_id is not None:
        span.set_attribute("creditsdk.correlation_id", correlation_id)
    return CallSpan(api, span)
