"""The executors: run the call generator's commands over an HTTP library.

* `SyncTransport` — httpx, the sync client (owned, or the caller's ``http_client=``);
* `AsyncTransport` — httpx, async: the caller's ``http_client=httpx.AsyncClient(...)`` (respx
  and ``httpx.MockTransport`` work), or the default when aiohttp is not installed;
* `AioHttpTransport` — aiohttp, async: the default when the ``creditsdk[aiohttp]`` extra is
  installed, or the caller's ``http_client=aiohttp.ClientSession(...)``.

`async_executor` picks one; ``CREDITSDK_HTTP_BACKEND=httpx|aiohttp`` overrides the default.
Both libraries are imported only when an executor over them is built.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError
from ._limits import DEFAULT_MAX_RESPONSE_BYTES, check_max_bytes

if TYPE_CHECKING:
    from ._aiohttp import AioHttpTransport
    from ._httpx import AsyncTransport, SyncTransport, as_httpx
    from ._shared import AsyncExecutor, TransportBase, attempt_deadline

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AioHttpTransport",
    "AsyncExecutor",
    "AsyncTransport",
    "SyncTransport",
    "TransportBase",
    "as_httpx",
    "async_executor",
    "attempt_deadline",
    "check_max_bytes",
    "default_backend",
]

#: The environment variable that chooses the async HTTP library.
BACKEND_ENV = "CREDITSDK_HTTP_BACKEND"
BACKENDS = ("httpx", "aiohttp")

_LAZY = {
    "AsyncExecutor": "._shared",
    "TransportBase": "._shared",
    "attempt_deadline": "._shared",
    "SyncTransport": "._httpx",
    "AsyncTransport": "._httpx",
    "as_httpx": "._httpx",
    "AioHttpTransport": "._aiohttp",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def _check_backend(value: str, where: str) -> str:
    choice = value.strip().lower()
    if choice not in BACKENDS:
        raise ConfigurationError(
            f"{where} must be 'httpx' or 'aiohttp', not {value.strip()[:40]!r}"
        )
    return choice


def default_backend(backend: str | None = None) -> str:
    """The async HTTP library to use: ``backend`` if given, else ``$CREDITSDK_HTTP_BACKEND``,
    else aiohttp when it is installed, else httpx."""
    if backend is not None:
        return _check_backend(backend, "http_backend")
    env = os.environ.get(BACKEND_ENV, "").strip()
    if env:
        return _check_backend(env, BACKEND_ENV)
    return "aiohttp" if importlib.util.find_spec("aiohttp") is not None else "httpx"


def async_executor(
    *, http_client: object = None, backend: str | None = None, **options: Any
) -> AsyncExecutor:
    """The async executor for a client: the caller's ``http_client=`` decides (an
    ``httpx.AsyncClient`` or an ``aiohttp.ClientSession``), else `default_backend`."""
    from ._aiohttp import is_aiohttp_session

    if http_client is not None:
        if is_aiohttp_session(http_client):
            from ._aiohttp import AioHttpTransport

            return AioHttpTransport(http_client=http_client, **options)  # type: ignore[arg-type]
        from ._httpx import AsyncTransport

        return AsyncTransport(http_client=http_client, **options)  # type: ignore[arg-type]
    if default_backend(backend) == "aiohttp":
        from ._aiohttp import AioHttpTransport

        return AioHttpTransport(**options)
    from ._httpx import AsyncTransport

    return AsyncTransport(**options)
