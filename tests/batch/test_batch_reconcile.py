"""`creditsdk batch reconcile`, the Sandbox as an evaluation partner, and Python = CLI."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from stdnum import luhn
from stdnum.cn import ric

from creditsdk._cli import main as cli_main
from creditsdk._cli.batch import main as batch_main
from creditsdk.batch import run_batch
from creditsdk.demobureau import applicant_ref
from creditsdk.errors import ConfigurationError
from creditsdk.sandbox import Sandbox
from creditsdk.sandbox._applicants import BAD_RATE_BY_SCENARIO, generate_applicants

from .batchhelpers import CONSENT, applicants, billed_per_applicant, demo_sandbox, write_csv


def _statement(path: Path, sb: Sandbox, rows: list[dict[str, str]], *, lost: set[str]) -> Path:
    """The provider's statement: every billed call; for calls whose answer was lost, the
    bureau's id means nothing to the ledger, so those lines carry time and masked applicant."""
    by_ref = {applicant_ref(r["id_card"]): r for r in rows}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["transaction_id", "billed_at", "id_card", "amount"])
        for entry in sb.ledger("demo"):
            row = by_ref[entry.details["applicant"]]
            masked = row["id_card"][:6] + "********" + row["id_card"][-4:]
            txn = f"LOST-{entry.seq}" if row["id_card"] in lost else entry.transaction_id
            writer.writerow([txn, entry.at.isoformat(), masked, "0.80"])
    return path


def test_reconcile_settles_maybe_billed_rows_and_the_run_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # distinct masked ID numbers: a line without an id is matched by time + masked applicant
    rows = [{k: str(v) for k, v in p.items()} for p in generate_applicants(8, seed=3)]
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out"
    lost = {rows[1]["id_card"], rows[5]["id_card"]}
    with demo_sandbox() as sb:
        sb.demo.lose_answer_for = lost
        first = run_batch(src, "demo.score", out, consent=CONSENT, sandbox=sb)
        assert first.maybe_billed == 2
        sb.demo.lose_answer_for = set()
        statement = _statement(tmp_path / "statement.csv", sb, rows, lost={rows[1]["id_card"]})
        # row 6's call is not on the statement: the provider did not bill it after all
        row6 = rows[5]["id_card"][:6] + "********" + rows[5]["id_card"][-4:]
        lines = [x for x in statement.read_text().splitlines() if row6 not in x]
        lines.append(lines[1])  # and one call is listed twice
        statement.write_text("\n".join(lines) + "\n")

        assert cli_main(["batch", "reconcile", str(out), str(statement), "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert report["maybe_billed_matched"] == [2]
        assert report["maybe_billed_left"] == [2, 6]
        assert report["billed_undelivered"] == 1
        assert report["delivered_unbilled"] == []
        assert sum(report["duplicates"].values()) == 1
        assert (out / "reconcile.json").exists()

        # Settle: row 2 billed (final), row 6 not billed (sendable again), recorded in the ledger.
        assert batch_main(["reconcile", str(out), str(statement), "--apply"]) == 1  # dup left
        printed = capsys.readouterr().out
        assert "resolved" in printed
        again = run_batch(src, "demo.score", out, consent=CONSENT, sandbox=sb)
        assert again.calls == 1  # only row 6
        assert again.exit_code == 0
        assert billed_per_applicant(sb)[applicant_ref(rows[1]["id_card"])] == 1
        assert billed_per_applicant(sb)[applicant_ref(rows[5]["id_card"])] == 2
    import sqlite3

    conn = sqlite3.connect(out / "ledger.sqlite")
    decisions = conn.execute("SELECT row_no, resolution FROM reconciliations").fetchall()
    conn.close()
    assert sorted(decisions) == [(2, "billed"), (6, "not_billed")]


def test_reconcile_finds_delivered_but_unbilled_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = applicants(4)
    with demo_sandbox() as sb:
        run_batch(rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        statement = _statement(tmp_path / "s.csv", sb, rows, lost=set())
    lines = statement.read_text().splitlines()
    statement.write_text("\n".join(lines[:-1]) + "\n")  # the provider forgot one call
    assert cli_main(["batch", "reconcile", str(tmp_path / "out"), str(statement)]) == 1
    assert "delivered, unbilled 1" in capsys.readouterr().out
    statement.write_text("\n".join(lines) + "\n")
    assert cli_main(["batch", "reconcile", str(tmp_path / "out"), str(statement)]) == 0
    assert batch_main(["reconcile", "--help"]) == 0
    assert cli_main(["batch", "reconcile", str(tmp_path / "nowhere"), str(statement)]) == 2


def test_sandbox_transaction_ids_are_unique_across_runs_and_restarts(tmp_path: Path) -> None:
    rows = applicants(5)
    ids: list[str] = []
    for name in ("a", "b"):
        with Sandbox(providers=["tianyuan"]) as sb:  # same seed, a fresh Sandbox each time
            run_batch(rows, "tianyuan.multi_lending", tmp_path / name, consent=CONSENT,
                      sandbox=sb)  # fmt: skip
            ids += [e.transaction_id for e in sb.ledger("tianyuan")]
        with demo_sandbox() as sb:
            run_batch(rows, "demo.score", tmp_path / f"d{name}", consent=CONSENT, sandbox=sb)
            ids += [e.transaction_id for e in sb.ledger("demo")]
    assert len(ids) == len(set(ids)) == 20
    fixed = [Sandbox(providers=["tianyuan"], options={"tianyuan": {"run_id": "R1"}}).tianyuan
             for _ in range(2)]  # fmt: skip
    assert fixed[0]._next_tid() == fixed[1]._next_tid()  # replayable on request


def test_sandbox_balance_from_python_and_the_cli(tmp_path: Path) -> None:
    rows = applicants(9)
    src = write_csv(tmp_path / "in.csv", rows)
    summary = run_batch(src, "tianyuan.multi_lending", tmp_path / "py", consent=CONSENT,
                        sandbox=True, sandbox_balance=4, concurrency=1, rate=0)  # fmt: skip
    assert summary.billed == 4
    assert dict(summary.not_reached) == {"balance_exhausted": 4}
    assert summary.rows_reached == 5  # 4 billed, the 5th refused (not_sent)
    code = batch_main([str(src), "--operation", "tianyuan.multi_lending", "-o",
                       str(tmp_path / "cli"), "--sandbox", "--sandbox-balance", "unlimited",
                       "--consent-reference", "AUTH1", "--consent-granted-at",
                       "2026-11-01T09:00", "--rate", "0", "--no-progress"])  # fmt: skip
    assert code == 0
    with pytest.raises(ConfigurationError, match="sandbox_balance"):
        run_batch(src, "tianyuan.multi_lending", tmp_path / "x", consent=CONSENT,
                  sandbox_balance=3)  # fmt: skip


def test_python_and_cli_mean_the_same(tmp_path: Path) -> None:
    rows = applicants(3)
    with demo_sandbox() as sb:
        # rate=0 is unlimited, as --rate 0 is
        summary = run_batch(rows, "demo.score", tmp_path / "a", consent=CONSENT, sandbox=sb, rate=0)
        assert summary.complete
        with pytest.raises(ConfigurationError) as info:
            run_batch(rows, "demo.score", tmp_path / "b", consent=CONSENT, sandbox=sb, rate=-1)
    # the message names the Python argument, and carries no event-loop noise
    assert "rate" in str(info.value)
    assert "--rate" not in str(info.value)
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    with pytest.raises(ConfigurationError) as info:
        run_batch(rows, "demo.score", tmp_path / "c", sandbox=True)
    assert "consent=Consent(" in str(info.value)
    assert "--consent" not in str(info.value)
    assert info.value.__context__ is None
    with pytest.raises(ConfigurationError) as info:
        run_batch([{"x": "1"}], "demo.score", tmp_path / "d", consent=CONSENT, sandbox=True)
    assert "columns={" in str(info.value)
    assert "--column" not in str(info.value)


def test_cli_errors_still_cite_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(2))
    code = batch_main([str(src), "--operation", "demo.score", "-o", str(tmp_path / "o"),
                       "--sandbox", "--rate", "-1"])  # fmt: skip
    assert code == 2
    assert "--rate" in capsys.readouterr().err


def test_applicants_are_valid_and_their_label_follows_the_sandbox(tmp_path: Path) -> None:
    people = list(generate_applicants(1500, bad_rate=0.09, seed=1))
    assert len({p["id_card"] for p in people}) == 1500
    assert all(ric.is_valid(p["id_card"]) for p in people)
    assert all(luhn.is_valid(p["card_no"]) for p in people)
    assert all(len(p["mobile"]) == 11 and p["mobile"][:2] in {"13", "15", "17", "18", "19"}
               for p in people)  # fmt: skip
    counties = {p["id_card"][:6] for p in people}
    assert len(counties) > 500  # real county codes from all over, not one
    rate = sum(p["bad"] for p in people) / len(people)
    assert 0.06 < rate < 0.12
    sb = Sandbox(providers=["tianyuan"]).tianyuan
    by: dict[str, list[int]] = {}
    for p in people:
        by.setdefault(sb.scenario_for(p["id_card"]), []).append(p["bad"])
    share = {k: sum(v) / len(v) for k, v in by.items()}
    assert share["currently_overdue"] > 2 * share["thin_file"]  # the known signal
    assert BAD_RATE_BY_SCENARIO["thin_file"] < BAD_RATE_BY_SCENARIO["currently_overdue"]
    assert list(generate_applicants(1500, bad_rate=0.09, seed=1)) == people  # reproducible
    code = cli_main(["sandbox", "applicants", "--n", "20", "--bad-rate", "0.09",
                     "-o", str(tmp_path / "a.csv")])  # fmt: skip
    assert code == 0
    with open(tmp_path / "a.csv", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == 20
    assert set(written[0]) >= {"name", "id_card", "mobile", "card_no", "bad", "noise_1"}


def test_evaluating_sandbox_answers_shows_the_known_signal(tmp_path: Path) -> None:
    people = list(generate_applicants(400, bad_rate=0.09, seed=2))
    src = write_csv(tmp_path / "in.csv", [{k: str(v) for k, v in p.items()} for p in people])
    run_batch(src, "tianyuan.multi_lending", tmp_path / "o", consent=CONSENT, sandbox=True,
              sandbox_balance=None, rate=0, concurrency=4)  # fmt: skip
    with open(tmp_path / "o" / "results.csv", encoding="utf-8") as fh:
        out = list(csv.DictReader(fh))
    bad: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for row in out:
        group = row["xyp_cpl0044"] or "none"
        count[group] += 1
        bad[group] += int(row["bad"])
    assert count["1"] > 0
    assert bad["1"] / count["1"] > 2 * bad["none"] / count["none"]


def test_fireeye_answers_not_hit_at_a_realistic_rate(tmp_path: Path) -> None:
    people = list(generate_applicants(300, seed=4))
    sb = Sandbox(providers=["fireeye"]).fireeye
    scores = [sb.score_for(p["card_no"], p["id_card"], p["mobile"]) for p in people]
    share = scores.count(-1) / len(scores)
    assert 0.06 < share < 0.2
    assert all(s == -1 or 300 <= s <= 1000 for s in scores)
    rows = [{k: str(v) for k, v in p.items()} for p in people[:40]]
    summary = run_batch(rows, "fireeye.model_score", tmp_path / "o", consent=CONSENT,
                        sandbox=True, rate=0)  # fmt: skip
    expected_not_hit = sum(1 for s in scores[:40] if s == -1)
    assert summary.billed == summary.returned == 40
    assert summary.effective == 40 - expected_not_hit
    with Sandbox(providers=["fireeye"]) as live, live.fireeye_client() as fe:
        p = next(p for p, s in zip(people, scores, strict=True) if s == -1)
        answer = fe.model_score(p["card_no"], p["id_card"], p["mobile"], consent=CONSENT)
    assert answer.score is None
    assert not answer.hit


def test_fireeye_balance_unlimited_by_default_and_settable(tmp_path: Path) -> None:
    from creditsdk.sandbox import write_applicants

    src = tmp_path / "in.csv"
    write_applicants(src, 3, seed=2)
    summary = run_batch(src, "fireeye.model_score", tmp_path / "fe", consent=CONSENT,
                        sandbox=True, sandbox_balance=None, rate=0)  # fmt: skip
    assert summary.billed == 3
    # The Sandbox's FireEye has a balance of its own now (issue 13: one base for every
    # provider sandbox): two calls' worth bills two rows and refuses the third.
    limited = run_batch(src, "fireeye.model_score", tmp_path / "fe2", consent=CONSENT,
                        sandbox=True, sandbox_balance=2, rate=0)  # fmt: skip
    assert limited.billed == 2
