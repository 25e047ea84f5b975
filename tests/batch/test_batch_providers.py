"""The provider adapters end to end against their Sandboxes (run once the providers exist)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creditsdk.batch import run_batch

from .batchhelpers import CONSENT, applicants, read_csv, write_csv

CARDS = ["6262320120123210", "6222020200112233445", "6217000010001234567"]


@pytest.fixture
def tianyuan_sandbox() -> Iterator[Any]:
    pytest.importorskip("creditsdk.tianyuan")
    from creditsdk.sandbox import Sandbox

    with Sandbox(providers=["tianyuan"]) as sb:
        yield sb


@pytest.fixture
def fireeye_sandbox() -> Iterator[Any]:
    pytest.importorskip("creditsdk.fireeye")
    from creditsdk.sandbox import Sandbox

    with Sandbox(providers=["fireeye"]) as sb:
        yield sb


def test_tianyuan_multi_lending_batch(tianyuan_sandbox: Any, tmp_path: Path) -> None:
    sb = tianyuan_sandbox
    rows = applicants(12, bad={4: {"id_card": "110105194912310021"}})
    sb.tianyuan.pin(rows[0]["id_card"], "no_data")
    src = write_csv(tmp_path / "in.csv", rows)
    summary = run_batch(
        src, "tianyuan.multi_lending", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None
    )
    assert summary.rows == 12
    assert summary.invalid == 1
    assert summary.no_data >= 1
    assert summary.hits + summary.no_data == 11
    assert len(sb.ledger("tianyuan")) == 11
    out = read_csv(tmp_path / "out" / "results.csv")
    assert out[0]["status"] == "no_data"
    assert out[3]["error_code"] == "invalid:id_card:checksum"
    hit = next(r for r in out if r["status"] == "hit")
    assert hit["transaction_id"]
    assert any(c.startswith("xyp_cpl0001") for c in hit)
    assert any(c.startswith("xyp_model_score_high") for c in hit)
    # Decoded with the Sandbox's bucket tables: bucket codes became ranges.
    ranges = [c[:-4] for c in hit if c.endswith("_low") and c[:-4] + "_high" in hit]
    assert any(c.startswith("xyp_cpl") for c in ranges)


def test_tianyuan_client_options_reach_the_client(tianyuan_sandbox: Any, tmp_path: Path) -> None:
    from creditsdk.tianyuan.factors import BucketTables

    sb = tianyuan_sandbox
    rows = applicants(3)
    for row in rows:
        sb.tianyuan.pin(row["id_card"], "heavy_borrower")
    # Empty tables given explicitly: nothing decodes to a range, raw codes are kept.
    run_batch(
        rows, "tianyuan.multi_lending", tmp_path / "out", consent=CONSENT, sandbox=sb,
        client_options={"bucket_tables": BucketTables.empty()},
    )  # fmt: skip
    out = read_csv(tmp_path / "out" / "results.csv")
    hit = next(r for r in out if r["status"] == "hit")
    # No table: the interval columns exist (the schema does not depend on the tables' luck)
    # but stay empty; the bucket codes are kept as received.
    assert not any(v for c, v in hit.items() if c.startswith("xyp_cpl") and c.endswith("_low"))
    assert any(v for c, v in hit.items() if c.startswith("xyp_cpl") and c[-4:].isdigit())
    # Without the Sandbox's tables its synthetic factors are in no catalog: kept aside as JSON.
    assert json.loads(hit["unlisted_factors"])


def test_tianyuan_refused_account_aborts_then_resumes(
    tianyuan_sandbox: Any, tmp_path: Path
) -> None:
    sb = tianyuan_sandbox
    rows = applicants(6)
    sb.tianyuan.fail_next(1007)  # insufficient balance
    first = run_batch(
        rows, "tianyuan.multi_lending", tmp_path / "out", consent=CONSENT, sandbox=sb,
        concurrency=1, rate=None,
    )  # fmt: skip
    assert first.aborted is not None
    assert first.not_sent == 1
    assert first.errors_by_code == {"1007": 1}
    second = run_batch(
        rows, "tianyuan.multi_lending", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None
    )
    assert second.complete
    assert second.rows == 6
    assert len(sb.ledger("tianyuan")) == 6


def test_fireeye_model_score_batch(fireeye_sandbox: Any, tmp_path: Path) -> None:
    sb = fireeye_sandbox
    rows = [{**a, "card_no": CARDS[i % len(CARDS)]} for i, a in enumerate(applicants(6))]
    rows[2]["card_no"] = "12"
    summary = run_batch(
        rows, "fireeye.model_score", tmp_path / "out", consent=CONSENT, sandbox=sb, rate=None
    )
    assert (summary.rows, summary.invalid, summary.hits) == (6, 1, 5)
    out = read_csv(tmp_path / "out" / "results.csv")
    for row, result in zip(rows, out, strict=True):
        if result["status"] == "hit":
            expected = sb.fireeye.score_for(row["card_no"], row["id_card"], row["mobile"])
            if expected == -1:  # not hit: answered (billed), no score, not effective
                assert (result["score"], result["score_status"]) == ("", "not_hit")
                assert result["effective"] == "0"
            else:
                assert float(result["score"]) == expected
                assert result["score_status"] == "hit"
                assert result["effective"] == "1"
    assert out[2]["error_code"] == "invalid:card_no:format"
    assert len(sb.ledger("fireeye")) == 5


def test_fireeye_verify_transaction_batch(fireeye_sandbox: Any, tmp_path: Path) -> None:
    sb = fireeye_sandbox
    sb.fireeye.add_transaction(CARDS[0], _dt.date(2016, 12, 1), Decimal("212.00"))
    rows = [
        {"ref": "t1", "card_no": CARDS[0], "trans_date": "2016-12-01", "amount": "212.00"},
        {"ref": "t2", "card_no": CARDS[1], "trans_date": "20161201", "amount": "99.00"},
        {"ref": "t3", "card_no": CARDS[1], "trans_date": "someday", "amount": "1"},
    ]
    summary = run_batch(
        rows, "fireeye.verify_transaction", tmp_path / "out", consent=CONSENT, sandbox=sb
    )
    out = read_csv(tmp_path / "out" / "results.csv")
    assert [r["matched"] for r in out[:2]] == ["1", "0"]  # a nullable 0/1 integer
    assert out[2]["status"] == "invalid"
    assert out[0]["ref"] == "t1"
    assert summary.invalid == 1
