"""The FaultPlan API itself: which calls get which fault, reproducibly, and what each does."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from creditsdk.errors import ConfigurationError
from creditsdk.sandbox import FAULT_KINDS, Fault, FaultPlan, Sandbox, SandboxResponse


def test_on_call_counts_per_provider() -> None:
    plan = FaultPlan()
    plan.add("tianyuan", "reset_after", on_call=[2, 4])
    picked = [plan.pick("tianyuan") for _ in range(5)]
    assert [f.kind if f else None for f in picked] == [
        None,
        "reset_after",
        None,
        "reset_after",
        None,
    ]
    assert plan.pick("fireeye") is None  # another provider's counter
    assert plan.calls("tianyuan") == 5
    assert plan.calls("fireeye") == 1
    assert [(f.provider, f.call) for f in plan.injected] == [("tianyuan", 2), ("tianyuan", 4)]


def test_probability_is_seeded_and_times_caps_it() -> None:
    def run(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.add("*", "http_503", probability=0.3)
        return [plan.pick("sesame") is not None for _ in range(200)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert 30 < sum(run(1)) < 90
    plan = FaultPlan()
    plan.add("fireeye", 500, probability=1.0, times=2)
    assert [plan.pick("fireeye") is not None for _ in range(4)] == [True, True, False, False]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"on_call": 1, "probability": 0.5}, {"on_call": 0}, {"probability": 1.5}],
)
def test_bad_rules_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FaultPlan().add("tianyuan", "slow", **kwargs)  # type: ignore[arg-type]


def test_unknown_fault_names_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="reset_before"):
        Fault("explode")
    assert Fault(503).kind == "http_503"


def test_billing_semantics_are_declared_for_every_kind() -> None:
    not_processed = {k for k in FAULT_KINDS if not Fault(k).processed}
    # 502/504: a proxy forwarded the request (the provider billed it) and gave up.
    assert not_processed == {"reset_before", "http_429", "http_503"}
    assert Fault("http_429", retry_after="7").refusal() is not None
    refusal = Fault("http_429", retry_after="7").refusal()
    assert refusal is not None
    assert dict(refusal.headers)["Retry-After"] == "7"


SIGNED = (
    b'{"zhima_credit_score_get_response":{"code":"10000","msg":"Success","zm_score":"688"},'
    b'"sign":"QUJDRA=="}'
)


def test_flip_byte_changes_one_byte_of_the_signed_content_and_keeps_json() -> None:
    for seed in range(50):
        out = Fault("flip_byte").corrupt(SandboxResponse(200, SIGNED), random.Random(seed)).body
        diff = [i for i, (a, b) in enumerate(zip(SIGNED, out, strict=True)) if a != b]
        assert len(diff) == 1
        assert diff[0] < SIGNED.index(b'"sign"')
        json.loads(out)


def test_garbled_corrupts_the_ciphertext_and_nothing_else() -> None:
    data = "A" * 64
    body = json.dumps({"code": 0, "transaction_id": "T1", "data": data}).encode()
    out = json.loads(Fault("garbled").corrupt(SandboxResponse(200, body), random.Random(0)).body)
    assert out["code"] == 0
    assert out["transaction_id"] == "T1"
    assert out["data"] != data
    assert len(out["data"]) == len(data)


def test_invalid_json_and_html_page() -> None:
    body = b'{"respCd":"0000","data":1}'
    bad = Fault("invalid_json").corrupt(SandboxResponse(200, body), random.Random(0))
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.body)
    page = Fault("html_page").corrupt(SandboxResponse(200, body), random.Random(0))
    assert page.status == 200
    assert page.body.startswith(b"<!DOCTYPE html>")


def test_in_process_slow_answer_within_the_read_timeout_is_delivered() -> None:
    sb = Sandbox(providers=["fireeye"])
    sb.faults.add("fireeye", Fault("slow", delay=0.0), on_call=1)
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        answer = http.get("/fireeye/creditScore/UnionPayModelScore", timeout=5)
        assert answer.status_code == 200
    sb.faults.clear()
    sb.faults.add("fireeye", Fault("slow", delay=10.0), on_call=2)
    with (
        httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.get("/fireeye/creditScore/UnionPayModelScore", timeout=0.5)


def test_stop_does_not_wait_for_a_slow_answer() -> None:
    sb = Sandbox(providers=["fireeye"]).start()
    sb.faults.add("fireeye", Fault("slow", delay=3600), on_call=1)
    with httpx.Client(base_url=sb.base_url) as http, pytest.raises(httpx.ReadTimeout):
        http.get("/fireeye/creditScore/UnionPayModelScore", timeout=httpx.Timeout(5, read=0.1))
    sb.stop()  # would hang for an hour if the delayed handler ignored the stop


def test_provider_bills_then_a_proxy_answers_504_billed_once_maybe_billed() -> None:
    """Issue 11 item 1: behind a proxy that answered 504 after the provider billed, the old
    client re-sent the call (3 ledger entries for one call)."""
    import datetime as dt

    from creditsdk import Applicant, Consent, MemoryAuditSink, RetryPolicy
    from creditsdk.errors import TransportError
    from creditsdk.sandbox import Sandbox

    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    consent = Consent(
        reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
    )
    sb = Sandbox(seed=3)
    sb.tianyuan.balance = None
    sb.faults.add("tianyuan", "http_504", probability=1.0)
    audit = MemoryAuditSink()
    policy = RetryPolicy(max_attempts=3, initial_backoff=0, jitter=0)
    client = sb.tianyuan_client(retry=policy, audit=audit)
    with client, pytest.raises(TransportError) as caught:
        client.multi_lending(applicant, consent=consent)
    assert caught.value.maybe_billed is True
    assert caught.value.attempts == 1
    assert caught.value.http_status == 504
    assert len(sb.ledger("tianyuan")) == 1
    assert [(e.outcome, e.maybe_billed) for e in audit.events] == [("transport_error", True)]
