"""The acceptance tests run the real clients against the real loopback Sandbox, once per async
HTTP library: aiohttp (the default a user gets with the extra installed) and httpx. The suite's
global default is httpx (tests/conftest.py), which would otherwise leave aiohttp's path to the
executor matrices alone."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, params=["httpx", "aiohttp"])
def http_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "aiohttp":
        pytest.importorskip("aiohttp")
    monkeypatch.setenv("CREDITSDK_HTTP_BACKEND", request.param)
    return str(request.param)
