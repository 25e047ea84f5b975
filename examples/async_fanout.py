"""Many applicants at once: AsyncTianyuanClient with a concurrency limit.

Runs N synthetic applicants against the embedded Sandbox (with a little latency, so the limit
shows) unless CREDITSDK_TIANYUAN_ACCESS_ID and CREDITSDK_TIANYUAN_ACCESS_KEY are set. Against the
real provider every call is billed, so it then reads *your* applicants from the CSV named by
CREDITSDK_EXAMPLE_APPLICANTS (columns name,id_card,mobile,consent_reference) and sends nothing
without it. Prints masked output only.

    python examples/async_fanout.py [N] [LIMIT]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import csv
import datetime as dt
import os
import random
import sys
import time

from stdnum.cn import ric

from creditsdk import Applicant, Consent
from creditsdk.errors import CreditSDKError
from creditsdk.sandbox import Sandbox
from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES, AsyncTianyuanClient, load_bucket_tables

SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军"]


def synthetic_applicants(n: int, seed: int = 7) -> list[tuple[Applicant, str]]:
    """``n`` made-up applicants with valid ID check digits, each with a consent reference."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(365 * 40))
        first17 = f"110105{born:%Y%m%d}{rng.randrange(1000):03d}"
        applicant = Applicant(
            name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            id_card=first17 + ric.calc_check_digit(first17 + "0"),  # wants a placeholder
            mobile=f"13{rng.randrange(10**9):09d}",
        )
        out.append((applicant, f"AUTH-FANOUT-{i:04d}"))
    return out


def applicants_from_csv(path: str) -> list[tuple[Applicant, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [
            (Applicant(name=r["name"], id_card=r["id_card"], mobile=r["mobile"]),
             r["consent_reference"])
            for r in csv.DictReader(fh)
        ]  # fmt: skip


def outcome(report: object) -> str:
    """A one-word summary of a report, for counting."""
    from creditsdk.tianyuan import MultiLendingReport

    assert isinstance(report, MultiLendingReport)
    if not report.has_data:
        return "no data"
    if report.currently_overdue.value is True:
        return "currently overdue"
    if report.total_institutions.has_record:
        return "has lenders"
    return "thin file"


async def fan_out(
    client: AsyncTianyuanClient, people: list[tuple[Applicant, str]], limit: int
) -> tuple[collections.Counter[str], int]:
    semaphore = asyncio.Semaphore(limit)
    in_flight = peak = 0
    granted = dt.datetime.now() - dt.timedelta(minutes=1)

    async def one(applicant: Applicant, reference: str) -> str:
        nonlocal in_flight, peak
        consent = Consent(reference=reference, purpose="credit_underwriting", granted_at=granted)
        async with semaphore:
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                report = await client.multi_lending(applicant, consent=consent)
            except CreditSDKError as exc:  # one failure must not sink the batch
                print(f"  {applicant!r}: {type(exc).__name__}: {exc}")
                return f"error: {type(exc).__name__}"
            finally:
                in_flight -= 1
        return outcome(report)

    results = await asyncio.gather(*(one(a, ref) for a, ref in people))
    return collections.Counter(results), peak


async def main_async(n: int, limit: int) -> int:
    real = bool(
        os.environ.get("CREDITSDK_TIANYUAN_ACCESS_ID")
        and os.environ.get("CREDITSDK_TIANYUAN_ACCESS_KEY")
    )
    async with contextlib.AsyncExitStack() as stack:
        sb = None
        if real:
            source = os.environ.get("CREDITSDK_EXAMPLE_APPLICANTS")
            if not source:
                print("Real Tianyuan credentials found: set CREDITSDK_EXAMPLE_APPLICANTS to a CSV")
                print("of your applicants (name,id_card,mobile,consent_reference). Nothing sent.")
                return 0
            people = applicants_from_csv(source)
            tables = os.environ.get("CREDITSDK_TIANYUAN_BUCKET_TABLES") or None
            client = await stack.enter_async_context(AsyncTianyuanClient(bucket_tables=tables))
            print(f"Tianyuan at {client.base_url}: {len(people)} applicants (billed calls)")
        else:
            sb = stack.enter_context(Sandbox(latency=0.02))
            people = synthetic_applicants(n)
            client = await stack.enter_async_context(
                sb.async_tianyuan_client(bucket_tables=load_bucket_tables(SANDBOX_BUCKET_TABLES))
            )
            print(f"Sandbox at {sb.base_url}: {len(people)} synthetic applicants, limit {limit}")
        print(f"first applicant: {people[0][0]!r}")
        started = time.perf_counter()
        counts, peak = await fan_out(client, people, limit)
        elapsed = time.perf_counter() - started
        print(f"{len(people)} reports in {elapsed:.2f} s, at most {peak} in flight (limit {limit})")
        for what, count in counts.most_common():
            print(f"  {what:18} {count:4}")
        if sb is not None:
            print(f"billed calls in the sandbox ledger: {len(sb.ledger('tianyuan'))}")
    return 0


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    return asyncio.run(main_async(n, limit))


if __name__ == "__main__":
    sys.exit(main())
