"""The suite's one global: tests mock httpx (respx, ``httpx.MockTransport``), so clients built
without ``http_client=`` use the httpx executor unless a test chooses otherwise. The executor
matrices (tests/faults, tests/leaks, tests/fuzz, tests/core/test_executors.py) run both."""

from __future__ import annotations

import os

os.environ.setdefault("CREDITSDK_HTTP_BACKEND", "httpx")
