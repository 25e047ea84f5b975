"""The batch runner end to end against the demo bureau in the Sandbox (real loopback HTTP)."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest

from creditsdk import Consent
from creditsdk.batch import TokenBucket, arun_batch
from creditsdk.batch import run_batch as _run_batch
from creditsdk.demobureau import DemoScore, applicant_ref
from creditsdk.errors import ConfigurationError

from .batchhelpers import (
    CONSENT,
    applicants,
    billed_per_applicant,
    demo_sandbox,
    read_csv,
    write_csv,
)

# Fast by default; the rate-limit tests pass their own rate.
run_batch = functools.partial(_run_batch, rate=1000.0)

BAD = {
    3: {"id_card": "110105194912310021"},  # check digit wrong
    5: {"mobile": "12345"},
    8: {"name": ""},
}


def ledger_states(out: Path) -> Counter[str]:
    with sqlite3.connect(out / "ledger.sqlite") as conn:
        return Counter(s for (s,) in conn.execute("SELECT state FROM rows"))


def test_end_to_end_over_loopback(tmp_path: Path) -> None:
    rows = applicants(40, bad=BAD)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        summary = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        billed = billed_per_applicant(sb)
    out = read_csv(tmp_path / "out" / "results.csv")
    assert [int(r["row"]) for r in out] == list(range(1, 41))
    # Invalid rows are reported with the reason and never sent.
    reasons = {int(r["row"]): r["error_code"] for r in out if r["status"] == "invalid"}
    assert reasons == {
        3: "invalid:id_card:checksum",
        5: "invalid:mobile:format",
        8: "invalid:name:required",
    }
    valid = [r for i, r in enumerate(rows, 1) if i not in BAD]
    assert billed == Counter({applicant_ref(r["id_card"]): 1 for r in valid})
    assert summary.rows == 40
    assert summary.invalid == 3
    assert summary.hits + summary.no_data == 37 == summary.billed_calls == summary.calls
    assert summary.complete
    assert summary.exit_code == 0
    # Key columns pass through, personal data is masked, factors are flattened.
    first = out[0]
    assert first["applicant_id"] == "A000001"
    assert first["label"] == "0"
    assert first["name"] == "张*"
    assert first["mobile"] == "138****0000"
    assert "*" in first["id_card"]
    assert rows[0]["id_card"] not in (tmp_path / "out" / "results.csv").read_text()
    hit = next(r for r in out if r["status"] == "hit")
    assert hit["transaction_id"].startswith("DEMO")
    assert 350 <= float(hit["score"]) <= 950
    assert hit["score_status"] == "hit"
    assert hit["overdue"] in ("0", "1")  # a nullable 0/1 integer, not True/False
    assert hit["institutions_low"] != ""
    assert hit["institutions"] in ("1", "2", "3", "4")  # the bucket code, the natural ordinal
    assert "institutions_high" in hit
    no_data = [r for r in out if r["status"] == "no_data"]
    assert all(r["score"] == "" for r in no_data)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["rows"] == 40
    assert saved["errors_by_code"]["invalid:mobile:format"] == 1
    # The live feed saw every row once.
    live = (tmp_path / "out" / "results.live.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["row"] for x in live) == list(range(1, 41))


def test_rerun_sends_nothing_again(tmp_path: Path) -> None:
    rows = applicants(12, bad=BAD)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        first = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        again = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert len(sb.ledger("demo")) == 9
    assert first.calls == 9
    assert again.calls == 0
    assert again.skipped == 12
    assert again.rows == 12
    assert again.hits == first.hits
    assert len(read_csv(tmp_path / "out" / "results.csv")) == 12


def test_limit_then_resume_completes_the_rest(tmp_path: Path) -> None:
    rows = applicants(20)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        part = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, limit=7)
        assert (part.rows, part.rows_reached, dict(part.not_reached)) == (20, 7, {"limit": 13})
        assert not part.complete
        out = read_csv(tmp_path / "out" / "results.csv")
        assert [r["status"] for r in out[7:]] == ["not_reached"] * 13
        assert len(out) == 20
        rest = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert rest.calls == 13
        assert rest.skipped == 7
        assert set(billed_per_applicant(sb).values()) == {1}
        assert len(sb.ledger("demo")) == 20
    assert [int(r["row"]) for r in read_csv(tmp_path / "out" / "results.csv")] == list(range(1, 21))


def test_lost_answers_are_maybe_billed_and_not_resent(tmp_path: Path) -> None:
    rows = applicants(10)
    src = write_csv(tmp_path / "in.csv", rows)
    lost = {rows[1]["id_card"], rows[6]["id_card"]}
    with demo_sandbox() as sb:
        sb.demo.lose_answer_for = lost
        s1 = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert (s1.maybe_billed, s1.exit_code) == (2, 1)
        out = {int(r["row"]): r for r in read_csv(tmp_path / "out" / "results.csv")}
        assert {k for k, r in out.items() if r["status"] == "maybe_billed"} == {2, 7}
        assert out[2]["error_code"] == "transport"
        # Re-running does not send them again, even once the bureau would answer.
        sb.demo.lose_answer_for = set()
        s2 = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert s2.calls == 0
        assert s2.maybe_billed == 2
        assert billed_per_applicant(sb) == Counter({applicant_ref(r["id_card"]): 1 for r in rows})
        # Only on request, and only for the rows that request covers (here: the first 3).
        s3 = run_batch(
            src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
            retry_maybe_billed=True, limit=3,
        )  # fmt: skip
        assert (s3.calls, s3.maybe_billed) == (1, 1)
        s4 = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert (s4.calls, s4.maybe_billed) == (0, 1)  # row 7 still waits for a decision
        s5 = run_batch(
            src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
            retry_maybe_billed=True,
        )  # fmt: skip
        assert (s5.calls, s5.maybe_billed) == (1, 0)
        assert s5.complete
        assert billed_per_applicant(sb)[applicant_ref(rows[1]["id_card"])] == 2
        assert billed_per_applicant(sb)[applicant_ref(rows[6]["id_card"])] == 2
    assert ledger_states(tmp_path / "out") == Counter({"done": 10})


def test_provider_errors_are_final_and_fatal_ones_abort(tmp_path: Path) -> None:
    rows = applicants(30)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        sb.demo.errors = {rows[0]["id_card"]: "2001", rows[9]["id_card"]: "1007"}
        s1 = run_batch(
            src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, concurrency=1
        )
        # 2001 is the provider's answer for that row; 1007 (no balance) stops the batch.
        assert s1.aborted is not None
        assert "InsufficientBalanceError" in s1.aborted
        assert s1.errors_by_code == {"2001": 1, "1007": 1}
        assert s1.not_sent == 1
        # The rows the run never got to are counted, and why.
        assert (s1.rows, s1.rows_reached) == (30, 10)
        assert dict(s1.not_reached) == {"balance_exhausted": 20}
        assert "not reached 20 (balance_exhausted: 20)" in s1.format()
        assert s1.exit_code == 1
        # Balance topped up: the same command finishes the batch; 2001 is not asked again.
        sb.demo.errors = {}
        s2 = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert s2.calls == 21
        assert s2.rows == 30
        assert s2.errors == 1
        assert s2.complete
        billed = billed_per_applicant(sb)
    assert applicant_ref(rows[0]["id_card"]) not in billed  # an error answer is not billed here
    assert all(billed[applicant_ref(r["id_card"])] == 1 for r in rows[1:])


def test_another_input_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(5))
    other = write_csv(tmp_path / "other.csv", applicants(6)[1:])
    with demo_sandbox() as sb:
        run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        with pytest.raises(ConfigurationError, match="differs"):
            run_batch(other, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)

        class Other(DemoScore):
            name = "demo.other"

        with pytest.raises(ConfigurationError, match=r"holds a batch of 'demo\.score'"):
            run_batch(src, Other(), tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert len(sb.ledger("demo")) == 5


def test_usage_errors_before_any_call(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(3))
    nomobile = write_csv(tmp_path / "nm.csv", [{"name": "张三", "id_card": "11010519491231002X"}])
    with demo_sandbox() as sb:
        with pytest.raises(ConfigurationError, match="consent is needed"):
            run_batch(src, "demo.score", tmp_path / "o1", sandbox=sb)
        with pytest.raises(ConfigurationError, match=r"no column\(s\) \['mobile'\]"):
            run_batch(nomobile, "demo.score", tmp_path / "o2", consent=CONSENT, sandbox=sb)
        with pytest.raises(ConfigurationError, match="unknown batch operation"):
            run_batch(src, "sesame.score", tmp_path / "o3", consent=CONSENT, sandbox=sb)
        with pytest.raises(ConfigurationError, match="cannot read input"):
            run_batch(tmp_path / "missing.csv", "demo.score", tmp_path / "o4", consent=CONSENT)
        assert sb.ledger("demo") == []


def test_consent_columns_per_row(tmp_path: Path) -> None:
    rows = applicants(4)
    for i, row in enumerate(rows):
        row["consent_reference"] = f"AUTH{i}" if i != 2 else ""
        row["consent_purpose"] = "credit_underwriting"
        row["consent_granted_at"] = "2026-11-01T09:00:00"
        row["consent_expires_at"] = "2026-11-02T00:00:00" if i == 3 else ""
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        run_batch(src, "demo.score", tmp_path / "out", sandbox=sb)
        assert len(sb.ledger("demo")) == 2
    out = {int(r["row"]): r for r in read_csv(tmp_path / "out" / "results.csv")}
    assert out[3]["error_code"] == "invalid:consent:required"  # no reference, no run consent
    assert out[4]["error_code"] == "invalid:consent.expires_at:expired"
    assert "consent_reference" not in out[1]


async def test_async_api_in_process_sandbox_and_iterable_input(tmp_path: Path) -> None:
    rows = applicants(15)
    sb = demo_sandbox()  # not started: answers in-process
    summary = await arun_batch(
        iter(rows), "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None
    )
    assert summary.rows == 15
    assert summary.billed_calls == 15
    assert len(sb.ledger("demo")) == 15


def test_parquet_output_has_typed_columns(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    rows = applicants(12, bad={2: {"mobile": "1"}})
    with demo_sandbox() as sb:
        summary = run_batch(
            rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, format="parquet"
        )
    table = pq.read_table(tmp_path / "out" / "results.parquet")
    data = table.to_pydict()
    assert data["row"] == list(range(1, 13))
    assert summary.invalid == 1
    assert data["status"][1] == "invalid"
    types = {f.name: str(f.type) for f in table.schema}
    assert (types["score"], types["overdue"], types["institutions_low"]) == (
        "double",
        "int8",
        "double",
    )
    assert types["institutions"] == "int64"
    assert types["label"] == "int64"  # a 0/1 label stays an integer
    assert types["applicant_id"] == "string"
    hits = [i for i, s in enumerate(data["status"]) if s == "hit"]
    assert all(350 <= data["score"][i] <= 950 for i in hits)


def test_pandas_dataframe_input(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(applicants(5))
    with demo_sandbox() as sb:
        summary = run_batch(frame, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert len(sb.ledger("demo")) == 5
    assert summary.rows == 5
    assert summary.billed_calls == 5


class _CountingBucket(TokenBucket):
    """The runner's bucket, counting every token taken and never waiting: what it hands out is
    compared with what the Sandbox received, whatever the machine's speed. (The pacing itself is
    tested through an injected clock: test_batch_units.py, tests/core/test_gates.py.)"""

    made: ClassVar[list[_CountingBucket]] = []

    def __init__(self, rate: float, **kw: Any) -> None:
        super().__init__(rate, **kw)
        self.made.append(self)

    def reserve(self) -> float:
        super().reserve()
        return 0.0


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[_CountingBucket]:
    import creditsdk.batch._runner as runner

    made: ClassVar[list[_CountingBucket]] = []
    monkeypatch.setattr(_CountingBucket, "made", made)
    monkeypatch.setattr(runner, "TokenBucket", _CountingBucket)
    return made


def test_rate_limit_counted_on_the_sandbox_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _counting(monkeypatch)
    rows = applicants(60)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        run_batch(
            src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
            rate=40.0, concurrency=16,
        )  # fmt: skip
        arrivals = len(sb.demo.arrivals)
        billed = len(sb.ledger("demo"))
    [bucket] = made
    assert (bucket.rate, bucket.burst) == (40.0, 1)
    assert arrivals == billed == 60
    assert bucket.acquired == arrivals  # every request the provider saw took a token


def test_retries_take_tokens_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsdk import RetryPolicy

    made = _counting(monkeypatch)
    rows = applicants(30)
    with demo_sandbox() as sb:
        sb.demo.busy_once_for = {r["id_card"] for r in rows[::3]}  # 10 rows: 503, then retried
        summary = run_batch(
            rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
            rate=40.0, concurrency=16, retry=RetryPolicy(initial_backoff=0, jitter=0),
        )  # fmt: skip
        arrivals = len(sb.demo.arrivals)
        billed = billed_per_applicant(sb)
    assert summary.complete
    assert arrivals == 40  # every row once, plus one retry for each busy row
    assert set(billed.values()) == {1}
    [bucket] = made
    assert bucket.acquired == 40  # retries go through the same bucket


def test_no_rate_no_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _counting(monkeypatch)
    with demo_sandbox() as sb:
        run_batch(
            applicants(5), "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None
        )
        assert len(sb.ledger("demo")) == 5
    assert made == []


def test_bad_options(tmp_path: Path) -> None:
    rows = applicants(2)
    for kw in ({"concurrency": 0}, {"rate": 0}, {"format": "xlsx"}, {"limit": -1}):
        with pytest.raises(ConfigurationError):
            run_batch(rows, "demo.score", tmp_path / "out", consent=CONSENT, **kw)
    expired = Consent("R", "p", _dt.datetime(2020, 1, 1), _dt.datetime(2020, 2, 1))
    with pytest.raises(Exception, match="expired"):
        run_batch(rows, "demo.score", tmp_path / "out", consent=expired)
