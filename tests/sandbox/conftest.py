"""The loopback server's protocol tests run under both request parsers (h11, httptools).

``sandbox_parser`` is module-scoped so a module's own module-scoped Sandbox starts after it; it
sets ``CREDITSDK_SANDBOX_PARSER`` for the module's tests. httptools is skipped where it is not
installed (it is in ``.[dev]``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

PARSERS = ["h11", "httptools"]


@pytest.fixture(scope="module", params=PARSERS)
def sandbox_parser(request: pytest.FixtureRequest) -> Iterator[str]:
    name: str = request.param
    if name == "httptools" and importlib.util.find_spec("httptools") is None:
        pytest.skip("httptools is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CREDITSDK_SANDBOX_PARSER", name)
        yield name
