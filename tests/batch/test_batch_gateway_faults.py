"""Issue 11 item 1, the headline scenario: a provider behind a proxy bills a batch row, then the
proxy answers a 502/504 page. The row is ``maybe_billed`` (never ``not_sent``), a second run
does not send it again, and the provider's ledger shows exactly one billed call for it across
both runs. An unusable answer to a billed call (ResponseIntegrityError) is ``maybe_billed`` too.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from creditsdk import RetryPolicy
from creditsdk.batch import run_batch
from creditsdk.batch._ledger import RowState
from creditsdk.batch._runner import _classify
from creditsdk.errors import ResponseIntegrityError, TransportError
from creditsdk.sandbox import FaultPlan, Sandbox

from .batchhelpers import CONSENT, applicants, demo_sandbox, read_csv

CARDS = ["6262320120123210", "6222020200112233445", "6217000010001234567"]
#: a policy that would retry a retryable failure at once (no sleeping)
RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, jitter=0.0)


def _rows(operation: str) -> list[dict[str, str]]:
    rows = applicants(3)
    if operation.startswith("fireeye."):
        rows = [{**r, "card_no": CARDS[i]} for i, r in enumerate(rows)]
    return rows


def _sandbox(provider: str, plan: FaultPlan) -> Sandbox:
    if provider == "demo":
        return demo_sandbox(faults=plan)
    return Sandbox(providers=[provider], faults=plan)


def _run_twice(
    tmp_path: Path, operation: str, provider: str, fault: str
) -> tuple[Any, Any, list[dict[str, str]], int, int]:
    rows = _rows(operation)
    plan = FaultPlan(seed=1)
    plan.add(provider, fault, on_call=2, times=1)
    out = tmp_path / "out"
    with _sandbox(provider, plan) as sb:
        options: dict[str, Any] = {"consent": CONSENT, "sandbox": sb, "rate": None}
        # one worker: call 2 is row 2
        first = run_batch(rows, operation, out, concurrency=1, retry=RETRY, **options)
        second = run_batch(rows, operation, out, concurrency=1, retry=RETRY, **options)
        billed = len(sb.ledger(provider))
        requests = plan.calls(provider)
    return first, second, read_csv(out / "results.csv"), billed, requests


@pytest.mark.parametrize("fault", ["http_502", "http_504"])
@pytest.mark.parametrize(
    ("operation", "provider"),
    [
        ("demo.score", "demo"),
        ("tianyuan.multi_lending", "tianyuan"),
        ("fireeye.model_score", "fireeye"),
    ],
)
def test_gateway_page_after_billing_is_maybe_billed_and_never_resent(
    tmp_path: Path, operation: str, provider: str, fault: str
) -> None:
    first, second, out, billed, requests = _run_twice(tmp_path, operation, provider, fault)
    # The faulty row: maybe billed, with a transport error; the others answered.
    assert [r["status"] for r in out] == ["hit", "maybe_billed", "hit"]
    assert out[1]["error_code"] == "transport"
    assert first.maybe_billed == 1
    assert first.not_sent == 0
    assert not first.complete
    # The second run sends nothing: the maybe-billed row is not re-sent by default.
    assert second.calls == 0
    assert second.maybe_billed == 1
    # Three rows, three requests, three billed entries: row 2 was billed exactly once.
    assert requests == 3
    assert billed == 3


def test_gateway_page_rows_are_billed_once_per_applicant(tmp_path: Path) -> None:
    rows = applicants(4)
    plan = FaultPlan(seed=1)
    plan.add("demo", "http_504", on_call=[1, 3])
    with demo_sandbox(faults=plan) as sb:
        for _ in range(2):
            run_batch(
                rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None,
                retry=RETRY,
            )  # fmt: skip
        per_applicant = Counter(e.details["applicant"] for e in sb.ledger("demo"))
    assert sorted(per_applicant.values()) == [1, 1, 1, 1]
    statuses = Counter(r["status"] for r in read_csv(tmp_path / "out" / "results.csv"))
    assert statuses == {"hit": 2, "maybe_billed": 2}


def test_unusable_answer_to_a_billed_call_is_maybe_billed(tmp_path: Path) -> None:
    _first, second, out, billed, requests = _run_twice(
        tmp_path, "tianyuan.multi_lending", "tianyuan", "garbled"
    )
    assert [r["status"] for r in out] == ["hit", "maybe_billed", "hit"]
    assert out[1]["error_code"] == "integrity"
    assert second.calls == 0
    assert (requests, billed) == (3, 3)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TransportError("504", maybe_billed=True), (RowState.MAYBE_BILLED, "maybe_billed")),
        (TransportError("reset", maybe_billed=False), (RowState.NOT_SENT, "not_sent")),
        (
            ResponseIntegrityError("bad sign", maybe_billed=True),
            (RowState.MAYBE_BILLED, "maybe_billed"),
        ),
    ],
)
def test_classify_keeps_maybe_billed(exc: Exception, expected: tuple[str, str]) -> None:
    assert _classify(exc) == expected
