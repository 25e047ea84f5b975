"""A synthetic bureau that lives only in the Sandbox: try the batch runner with no provider.

``creditsdk batch applicants.csv --operation demo.score --sandbox`` runs a batch against it. It
is built like a real provider (an Operation run by the core transport, billed and not
idempotent, over real HTTP), so the runner's billing rules are exercised for real; its answers
are deterministic functions of the ID number. It also has fault switches the tests use: answers
lost after billing, provider error codes, and a hook that kills the batch process mid-run.

Wire format (made up): ``POST {base}/demo/v1/score`` with header ``X-Demo-Key`` and JSON
``{"name", "id_card", "mobile", "consent_reference"}``; answer
``{"code": "0000", "message", "transaction_id", "data": {"score", "band", "overdue"} | null}``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, env_or
from .._core.consent import Consent, check_consent
from .._core.identity import Applicant
from .._core.operation import Operation
from .._core.retry import RetryPolicy
from .._core.transport import AsyncClientBase, SyncClientBase
from .._core.wire import Request, Response
from ..errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidInputError,
    ProviderError,
    ResponseIntegrityError,
)
from ..sandbox._app import synthetic_run_id
from .operations import ApplicantOperation, Scalar

__all__ = [
    "AsyncDemoClient",
    "DemoBureauSandbox",
    "DemoClient",
    "DemoRange",
    "DemoScore",
    "DemoScoreResult",
    "create_sandbox",
]

PATH = "/demo/v1/score"
_BANDS = {"1": (0, 2), "2": (2, 5), "3": (5, 10), "4": (10, None)}


@attrs.frozen
class DemoRange:
    low: int | None
    high: int | None


@attrs.frozen(repr=False)
class DemoScoreResult:
    transaction_id: str
    score: int | None
    institutions: DemoRange | None
    overdue: bool | None

    @property
    def has_data(self) -> bool:
        return self.score is not None

    def __repr__(self) -> str:
        return f"DemoScoreResult(transaction_id={self.transaction_id!r}, score={self.score!r})"


def _build(
    base_url: str, api_key: str, applicant: Applicant, consent: Consent
) -> Callable[[], Request]:
    body = json.dumps(
        {
            "name": applicant.name,
            "id_card": applicant.id_card,
            "mobile": applicant.mobile,
            "consent_reference": consent.reference,
        },
        ensure_ascii=False,
    ).encode("utf-8")

    def build() -> Request:
        return Request(
            "POST",
            base_url.rstrip("/") + PATH,
            body=body,
            headers=(("X-Demo-Key", api_key), ("Content-Type", "application/json")),
        )

    return build


def _parse(response: Response) -> DemoScoreResult:
    try:
        doc = response.json()
    except ValueError:
        raise ResponseIntegrityError("answer is not JSON", provider="demo") from None
    code = str(doc.get("code"))
    txn = doc.get("transaction_id")
    if code != "0000":
        cls: type[ProviderError] = {
            "1006": AuthenticationError,
            "1007": InsufficientBalanceError,
        }.get(code, ProviderError)
        raise cls(str(doc.get("message", "")), provider="demo", code=code, transaction_id=txn)
    data = doc.get("data")
    if not data:
        return DemoScoreResult(txn, None, None, None)
    band = _BANDS.get(str(data.get("band")))
    return DemoScoreResult(
        transaction_id=txn,
        score=int(data["score"]),
        institutions=DemoRange(*band) if band else None,
        overdue=data.get("overdue") == "1",
    )


def _operation(
    base_url: str, api_key: str, applicant: object, consent: object
) -> Operation[DemoScoreResult]:
    if not isinstance(applicant, Applicant):
        raise InvalidInputError("must be a creditsdk.Applicant", field="applicant", rule="type")
    checked = check_consent(consent)
    assert checked is not None
    return Operation(
        provider="demo",
        name="score",
        build_request=_build(base_url, api_key, applicant, checked),
        parse_response=_parse,
        billed=True,
        idempotent=False,
        applicant=applicant.masked(),
        consent=checked,
        outcome_of=lambda r: "success" if r.has_data else "no_data",
    )


class _DemoConfig:
    def _configure(self, api_key: str | None, base_url: str | None) -> None:
        self._api_key = env_or(api_key, "CREDITSDK_DEMO_API_KEY", what="demo API key")
        self.base_url = env_or(base_url, "CREDITSDK_DEMO_BASE_URL", what="demo base URL")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class DemoClient(_DemoConfig, SyncClientBase):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        audit: object = None,
        verify: Any = True,
    ) -> None:
        self._configure(api_key, base_url)
        self._init_transport(
            provider="demo",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
        )

    def score(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> DemoScoreResult:
        op = _operation(str(self.base_url), str(self._api_key), applicant, consent)
        return self._run(op, timeout=timeout, retry=retry)


class AsyncDemoClient(_DemoConfig, AsyncClientBase):
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        audit: object = None,
        verify: Any = True,
    ) -> None:
        self._configure(api_key, base_url)
        self._init_transport(
            provider="demo",
            timeout=timeout,
            retry=retry,
            http_client=http_client,
            audit=audit,
            verify=verify,
        )

    async def score(
        self,
        applicant: Applicant,
        *,
        consent: Consent,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> DemoScoreResult:
        op = _operation(str(self.base_url), str(self._api_key), applicant, consent)
        return await self._run(op, timeout=timeout, retry=retry)


# -- the provider side ---------------------------------------------------------------------------


def applicant_ref(id_card: str) -> str:
    """What the demo ledger records instead of the ID number (tests match rows with it)."""
    return hashlib.sha256(id_card.encode("utf-8")).hexdigest()[:16]


class DemoBureauSandbox:
    """The demo bureau's server side. Fault switches are plain attributes, settable any time.

    ``errors``: id_card → provider code to answer with (not billed).
    ``lose_answer_for``: id_cards whose call is billed, then answered with an HTTP 500 page.
    ``kill_after``: ``(n, pid)``: SIGKILL ``pid`` right after the n-th billed call, before
    answering it (the batch dies with that call billed and its answer lost); ``kill_signal``
    sends another signal instead (SIGINT: a Ctrl-C at that moment).
    ``busy_once_for``: id_cards whose first request gets a gateway's 503 page (not processed,
    not billed: the client may retry). ``arrivals`` records the time of every request.
    """

    name = "demo"

    def __init__(self, ctx: Any) -> None:
        from ..sandbox import SandboxContext

        self.ctx: SandboxContext = ctx
        self.api_key = str(ctx.options.get("api_key", "demo-key-" + str(ctx.seed)))
        self.errors: dict[str, str] = {}
        self.lose_answer_for: set[str] = set()
        self.kill_after: tuple[int, int] | None = None
        self.kill_signal: int = signal.SIGKILL
        self.busy_once_for: set[str] = set()
        self.arrivals: list[float] = []
        self._counter = itertools.count(1)
        # unique across Sandbox restarts: a statement is matched by transaction id
        self._run = synthetic_run_id(3)
        self._lock = threading.Lock()
        self.billed = 0

    def routes(self) -> list[Any]:
        from ..sandbox import Route

        return [Route.of("POST", PATH, self.score)]

    def score(self, request: Any) -> Any:
        from ..sandbox import SandboxResponse

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
        code = self.errors.get(id_card)
        if code is not None:
            return SandboxResponse.json({"code": code, "message": "refused by the demo bureau"})
        digest = hashlib.sha256(id_card.encode("utf-8")).digest()
        with self._lock:
            txn = f"DEMO{self.ctx.seed:02d}{self._run}{next(self._counter):08d}"
            self.ctx.bill("score", txn, applicant=applicant_ref(id_card))
            self.billed += 1
            billed = self.billed
        if self.kill_after is not None and billed >= self.kill_after[0]:
            pid, self.kill_after = self.kill_after[1], None
            os.kill(pid, self.kill_signal)
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

    def _options(self, asynchronous: bool, kw: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "base_url": self.ctx.base_url,
            **self.ctx.client_options(asynchronous=asynchronous),
            **kw,
        }

    def client(self, **kw: Any) -> DemoClient:
        return DemoClient(**self._options(False, kw))

    def async_client(self, **kw: Any) -> AsyncDemoClient:
        return AsyncDemoClient(**self._options(True, kw))


def create_sandbox(ctx: Any) -> DemoBureauSandbox:
    return DemoBureauSandbox(ctx)


class DemoScore(ApplicantOperation):
    """``demo.score``: the synthetic bureau (Sandbox only unless CREDITSDK_DEMO_* are set)."""

    name = "demo.score"
    provider = "demo"
    client_class = "creditsdk.batch.demo:AsyncDemoClient"

    async def call(
        self, client: Any, prepared: Applicant, consent: Consent | None, *, timeout: Any, retry: Any
    ) -> DemoScoreResult:
        assert consent is not None
        result: DemoScoreResult = await client.score(
            prepared, consent=consent, timeout=timeout, retry=retry
        )
        return result

    def status(self, result: DemoScoreResult) -> str:
        return "hit" if result.has_data else "no_data"

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> Any:
        from ._schema import Column, FactorLayout

        buckets = [
            {
                "code": int(code),
                "low": lo,
                "high": hi,
                "low_closed": True,
                "high_closed": False,
                "label": f"[{lo}, {'+inf' if hi is None else hi})",
            }
            for code, (lo, hi) in _BANDS.items()
        ]
        return FactorLayout(
            columns=(
                Column("score", "float64", "factor", "score", "score"),
                Column("score_status", "string", "factor", "score", "status"),
                Column("institutions", "Int64", "factor", "institutions", "code"),
                Column("institutions_low", "float64", "factor", "institutions", "low"),
                Column("institutions_high", "float64", "factor", "institutions", "high"),
                Column("institutions_mid", "float64", "factor", "institutions", "mid"),
                Column("overdue", "Int8", "factor", "overdue", "flag"),
            ),
            factors=(
                {
                    "code": "score",
                    "kind": "model_score",
                    "label_en": "demo score 350-950",
                    "core": True,
                    "columns": {"score": "score", "status": "score_status"},
                    "buckets": [],
                },
                {
                    "code": "institutions",
                    "kind": "count_bucket",
                    "label_en": "lending institutions (demo band)",
                    "core": True,
                    "columns": {
                        "code": "institutions",
                        "low": "institutions_low",
                        "high": "institutions_high",
                        "mid": "institutions_mid",
                    },
                    "buckets": buckets,
                },
                {
                    "code": "overdue",
                    "kind": "flag",
                    "label_en": "currently overdue (demo)",
                    "core": True,
                    "columns": {"flag": "overdue"},
                    "buckets": [],
                },
            ),
            bucket_tables={"source": "sandbox", "path": None, "version": "demo-bands"},
        )

    def flatten(self, result: DemoScoreResult) -> dict[str, Scalar]:
        if not result.has_data:
            return {"effective": 0}
        out: dict[str, Scalar] = {"score": float(result.score or 0), "score_status": "hit"}
        if result.overdue is not None:
            out["overdue"] = int(result.overdue)
        band = result.institutions
        if band is not None:
            for code, (lo, hi) in _BANDS.items():
                if (lo, hi) == (band.low, band.high):
                    out["institutions"] = int(code)
            out["institutions_low"] = float(band.low) if band.low is not None else -math.inf
            out["institutions_high"] = float(band.high) if band.high is not None else math.inf
            ends = [x for x in (band.low, band.high) if x is not None]
            if ends:
                out["institutions_mid"] = sum(ends) / len(ends)
        out["effective"] = 1
        return out

    def sandbox_providers(self) -> Mapping[str, Callable[[Any], Any]]:
        return {"demo": create_sandbox}
