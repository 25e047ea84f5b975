"""The demo bureau's server side (a Sandbox plug-in that joins a Sandbox only when asked:
``Sandbox(extra_providers={"demo": create_sandbox})``, or a batch run of ``demo.score``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ..sandbox._app import Route, SandboxContext, SandboxRequest, SandboxResponse
from ..sandbox._provider import InjectedFailure, ProviderSandboxBase
from ._protocol import PATH
from .client import AsyncDemoClient, DemoClient

__all__ = ["DemoBureauSandbox", "applicant_ref", "create_sandbox"]


def applicant_ref(id_card: str) -> str:
    """What the demo ledger records instead of the ID number (tests match rows with it)."""
    return hashlib.sha256(id_card.encode("utf-8")).hexdigest()[:16]


class DemoBureauSandbox(ProviderSandboxBase[DemoClient, AsyncDemoClient]):
    """The demo bureau's server side. Fault switches are plain attributes, settable any time.

    ``errors``: id_card → provider code to answer with (not billed).
    ``lose_answer_for``: id_cards whose call is billed, then answered with an HTTP 500 page.
    ``on_billed``: called with the count of billed calls right after each is billed, before it is
    answered (the tests use it to kill a batch process at the worst moment).
    ``busy_once_for``: id_cards whose first request gets a gateway's 503 page (not processed,
    not billed: the client may retry). ``arrivals`` records the time of every request.
    ``fail_next``, ``balance`` (used up: code 1007, not billed), ``ledger()`` and client
    overrides are the ones every provider's sandbox has.
    """

    name = "demo"
    run_id_bytes = 3

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.api_key = str(ctx.options.get("api_key", "demo-key-" + str(ctx.seed)))
        self.errors: dict[str, str] = {}
        self.lose_answer_for: set[str] = set()
        self.on_billed: Callable[[int], None] | None = None
        self.busy_once_for: set[str] = set()
        self.arrivals: list[float] = []
        self.billed = 0

    def routes(self) -> list[Route]:
        return [Route.of("POST", PATH, self.score)]

    def client_classes(self) -> tuple[type[DemoClient], type[AsyncDemoClient]]:
        return DemoClient, AsyncDemoClient

    def client_defaults(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "base_url": self.ctx.base_url}

    def _failure(self, code: int | str, message: str | None) -> InjectedFailure:
        text = f"{code:04d}" if isinstance(code, int) else str(code).strip()
        if not text or text == "0000":
            raise ConfigurationError(f"fail_next needs a refusal code, not {code!r}")
        return InjectedFailure(text, message)

    def score(self, request: SandboxRequest) -> SandboxResponse:
        with self._lock:
            self.arrivals.append(time.monotonic())
        if request.headers.get("x-demo-key") != self.api_key:
            return SandboxResponse.json({"code": "1006", "message": "unknown API key"})
        try:
            body = request.json()
            id_card = str(body["id_card"])
        except (ValueError, KeyError, TypeError):
            return SandboxResponse.json({"code": "1003", "message": "bad parameters"})
        with self._lock:
            busy = id_card in self.busy_once_for
            self.busy_once_for.discard(id_card)
        if busy:
            return SandboxResponse.text("upstream busy", 503)
        injected = self._next_failure()
        if injected is not None:
            message = injected.message or "refused by the demo bureau"
            return SandboxResponse.json({"code": str(injected.code), "message": message})
        code = self.errors.get(id_card)
        if code is not None:
            return SandboxResponse.json({"code": code, "message": "refused by the demo bureau"})
        if not self._spend():
            return SandboxResponse.json({"code": "1007", "message": "no balance left"})
        digest = hashlib.sha256(id_card.encode("utf-8")).digest()
        with self._lock:
            # unique across Sandbox restarts: a statement is matched by transaction id
            txn = f"DEMO{self.ctx.seed:02d}{self.run_id}{self._next_serial():08d}"
            self._bill("score", txn, applicant=applicant_ref(id_card))
            self.billed += 1
            billed = self.billed
        if self.on_billed is not None:
            self.on_billed(billed)
        if id_card in self.lose_answer_for:
            return SandboxResponse.text("upstream connection reset", 500)
        if digest[0] % 10 == 0:
            return SandboxResponse.json(
                {"code": "0000", "message": "no data", "transaction_id": txn, "data": None}
            )
        data = {
            "score": str(350 + int.from_bytes(digest[1:3], "big") % 601),
            "band": str(1 + digest[3] % 4),
            "overdue": "1" if digest[4] % 5 == 0 else "0",
        }
        return SandboxResponse.json(
            {"code": "0000", "message": "ok", "transaction_id": txn, "data": data}
        )


def create_sandbox(ctx: SandboxContext) -> DemoBureauSandbox:
    return DemoBureauSandbox(ctx)
