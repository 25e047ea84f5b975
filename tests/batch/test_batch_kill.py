"""SIGKILL a batch process mid-run, resume it, and check billing from the provider's ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .batchhelpers import (
    CONSENT,
    applicants,
    billed_per_applicant,
    demo_sandbox,
    kill_after,
    read_csv,
    ref,
)
from .batchhelpers import write_csv as write_input

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

N = 300
CONCURRENCY = 8
BAD = {17: {"id_card": "110105194912310021"}, 99: {"mobile": "999"}, 250: {"name": ""}}


def _batch(src: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "creditsdk.batch", str(src),
            "--operation", "demo.score", "--output", str(out),
            "--consent-reference", CONSENT.reference,
            "--consent-purpose", CONSENT.purpose,
            "--consent-granted-at", CONSENT.granted_at.isoformat(),
            "--concurrency", str(CONCURRENCY), "--rate", "0", "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_sigkill_midway_then_resume_bills_each_row_at_most_once(tmp_path: Path) -> None:
    rows = applicants(N, bad=BAD)
    src = write_input(tmp_path / "in.csv", rows)
    out = tmp_path / "out"
    with demo_sandbox(latency=0.002) as sb:
        env = {
            **os.environ,
            "CREDITSDK_DEMO_BASE_URL": sb.base_url,
            "CREDITSDK_DEMO_API_KEY": sb.demo.api_key,
        }
        first = _batch(src, out, env)
        # The bureau itself kills the batch right after billing its 100th call, before
        # answering it: the worst moment, with that answer (and those in flight) lost.
        sb.demo.on_billed = kill_after(100, first.pid)
        first.communicate(timeout=120)
        assert first.returncode == -signal.SIGKILL
        billed_before = len(sb.ledger("demo"))
        assert 100 <= billed_before < N - len(BAD)

        second = _batch(src, out, env)
        stdout, stderr = second.communicate(timeout=120)
        assert second.returncode == 1, stdout + stderr  # 1: maybe_billed rows to review
        billed = billed_per_applicant(sb)

    results = read_csv(out / "results.csv")
    # The output has every input row exactly once.
    assert [int(r["row"]) for r in results] == list(range(1, N + 1))
    status = {int(r["row"]): r["status"] for r in results}
    assert {n for n, s in status.items() if s == "invalid"} == set(BAD)
    for n, row in enumerate(rows, 1):
        times = billed[ref(row)]
        if n in BAD:
            assert times == 0
        elif status[n] == "maybe_billed":
            assert times in (0, 1)  # in flight at the kill: billed at most once, never resent
        else:
            assert (status[n], times) in (("hit", 1), ("no_data", 1)), n
    maybe = [n for n, s in status.items() if s == "maybe_billed"]
    # Only rows in flight when the process died: at most one per concurrent call.
    assert 1 <= len(maybe) <= CONCURRENCY
    # The call the bureau was answering when it killed the batch is among them.
    killed_on = next(e for e in sb.ledger("demo") if e.seq == 100).details["applicant"]
    assert killed_on in {ref(rows[n - 1]) for n in maybe}
    assert max(billed.values()) == 1
    assert sum(billed.values()) == N - len(BAD) - sum(
        1 for n in maybe if billed[ref(rows[n - 1])] == 0
    )
    assert Counter(status.values())["maybe_billed"] == len(maybe)


def test_ctrl_c_finishes_calls_in_flight_and_leaves_nothing_maybe_billed(tmp_path: Path) -> None:
    rows = applicants(200)
    src = write_input(tmp_path / "in.csv", rows)
    out = tmp_path / "out"
    with demo_sandbox(latency=0.002) as sb:
        env = {
            **os.environ,
            "CREDITSDK_DEMO_BASE_URL": sb.base_url,
            "CREDITSDK_DEMO_API_KEY": sb.demo.api_key,
        }
        first = _batch(src, out, env)
        sb.demo.on_billed = kill_after(50, first.pid, signal.SIGINT)
        stdout, stderr = first.communicate(timeout=120)
        assert first.returncode == 1, stdout + stderr
        assert "interrupted" in stdout
        done_first = read_csv(out / "results.csv")
        # Every call that went out was answered and recorded: nothing is left in doubt; the
        # rows the run never got to are in the output too, as not_reached (interrupted).
        answered = [r for r in done_first if r["status"] != "not_reached"]
        assert {r["status"] for r in answered} <= {"hit", "no_data"}
        assert len(answered) == len(sb.ledger("demo")) < len(rows)
        assert len(done_first) == len(rows)
        assert {r["error_code"] for r in done_first if r["status"] == "not_reached"} == {
            "interrupted"
        }

        second = _batch(src, out, env)
        stdout, stderr = second.communicate(timeout=120)
        assert second.returncode == 0, stdout + stderr
        billed = billed_per_applicant(sb)
    assert [int(r["row"]) for r in read_csv(out / "results.csv")] == list(range(1, 201))
    assert billed == Counter({ref(r): 1 for r in rows})
