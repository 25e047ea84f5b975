"""What docs/concurrency.md promises: one client shared by many threads, one async client shared
by many tasks, each answer belonging to its own call (checked on the Sandbox's side of the wire:
its ledger, and the audit events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from stdnum.cn import ric

from creditsdk import Applicant, Consent, MemoryAuditSink
from creditsdk._core.redact import mask_id_card
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import MultiLendingReport

CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)
THREADS = 8
CALLS_PER_THREAD = 5


def _applicant(i: int) -> Applicant:
    first17 = f"11010519800101{i:03d}"
    return Applicant(
        name="张三", id_card=first17 + ric.calc_check_digit(first17 + "0"), mobile="13800138000"
    )


APPLICANTS = [_applicant(i) for i in range(1, THREADS + 1)]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["tianyuan"], seed=5) as sandbox:
        sandbox.tianyuan.balance = None  # unlimited
        yield sandbox


def _check(
    sb: Sandbox, results: list[tuple[Applicant, MultiLendingReport]], sink: MemoryAuditSink
) -> None:
    calls = len(results)
    for applicant, report in results:
        assert dict(report.raw) == dict(sb.tianyuan.factors_for(applicant.id_card))
    # One billed ledger entry and one audit event per call, for the right applicant.
    ledger = sb.ledger("tianyuan")
    assert len(ledger) == calls
    expected = Counter(mask_id_card(a.id_card) for a, _ in results)
    assert Counter(e.details["id_card"] for e in ledger) == expected
    assert len(sink.events) == calls
    assert Counter(e.applicant["id_card"] for e in sink.events) == expected
    assert len({r.transaction_id for _, r in results}) == calls
    assert {e.transaction_id for e in sink.events} == {r.transaction_id for _, r in results}


def test_one_sync_client_shared_by_threads(sb: Sandbox) -> None:
    sink = MemoryAuditSink()
    start = threading.Barrier(THREADS)

    with sb.tianyuan_client(audit=sink) as ty:

        def work(applicant: Applicant) -> list[tuple[Applicant, MultiLendingReport]]:
            start.wait()  # every thread in flight together
            return [
                (applicant, ty.multi_lending(applicant, consent=CONSENT))
                for _ in range(CALLS_PER_THREAD)
            ]

        with ThreadPoolExecutor(THREADS) as pool:
            results = [r for batch in pool.map(work, APPLICANTS) for r in batch]

    assert len(results) == THREADS * CALLS_PER_THREAD
    _check(sb, results, sink)


async def test_one_async_client_shared_by_tasks(sb: Sandbox) -> None:
    sink = MemoryAuditSink()
    async with sb.async_tianyuan_client(audit=sink) as ty:

        async def one(applicant: Applicant) -> tuple[Applicant, MultiLendingReport]:
            return applicant, await ty.multi_lending(applicant, consent=CONSENT)

        results = await asyncio.gather(
            *(one(a) for a in APPLICANTS for _ in range(CALLS_PER_THREAD))
        )

    _check(sb, list(results), sink)
