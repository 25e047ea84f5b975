"""``creditsdk batch`` as the main CLI will mount it: add_parser + run, exit codes, output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creditsdk._cli import batch as cli

from .batchhelpers import CONSENT, CONSENT_ARGS, applicants, mounted, read_csv, write_csv


def test_mounted_subcommand_runs_a_sandbox_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(8, bad={2: {"mobile": "1"}}))
    argv = [str(src), "--operation", "demo.score", "-o", str(tmp_path / "out"), "--sandbox"]
    code = mounted([*argv, *CONSENT_ARGS, "--rate", "0", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["invalid"], summary["complete"]) == (8, 1, True)
    assert summary["errors_by_code"] == {"invalid:mobile:format": 1}
    assert len(read_csv(tmp_path / "out" / "results.csv")) == 8
    # Human summary on a re-run: nothing sent again.
    assert mounted([*argv, *CONSENT_ARGS]) == 0
    text = capsys.readouterr().out
    assert "0 calls" in text
    assert "8 already done" in text


def test_exit_code_2_for_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(2))
    base = [str(src), "--operation", "demo.score", "-o", str(tmp_path / "out"), "--sandbox"]
    assert mounted(base) == 2  # no consent at all
    assert "consent is needed" in capsys.readouterr().err
    assert mounted([*base, *CONSENT_ARGS, "--column", "bad"]) == 2
    assert "CANONICAL=SOURCE" in capsys.readouterr().err
    assert mounted([*base, *CONSENT_ARGS, "--client-option", "=x"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert mounted([*base, *CONSENT_ARGS, "--client-option", "nonsense=1"]) == 2
    assert "refused client options ['nonsense']" in capsys.readouterr().err

    missing = [str(tmp_path / "nope.csv"), *base[1:], *CONSENT_ARGS]
    assert mounted(missing) == 2
    assert "cannot read input" in capsys.readouterr().err
    bad_consent = [*base, "--consent-reference", "R", "--consent-granted-at", "soon"]
    assert mounted(bad_consent) == 2
    assert "consent_granted_at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mounted([*base, "--operation", "sesame.score"])


def test_exit_code_1_when_rows_are_left_to_review(tmp_path: Path) -> None:
    from creditsdk.batch import run_batch

    from .batchhelpers import demo_sandbox

    rows = applicants(4)
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        sb.demo.lose_answer_for = {rows[0]["id_card"]}
        summary = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
    assert summary.exit_code == 1
    assert "maybe billed 1" in summary.format()


def test_column_mapping_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"客户姓名": r["name"], "证件号码": r["id_card"], "联系电话": r["mobile"]}
        for r in applicants(3)
    ]
    src = write_csv(tmp_path / "in.csv", rows)
    code = cli.main(
        [
            str(src), "--operation", "demo.score", "-o", str(tmp_path / "out"), "--sandbox",
            *CONSENT_ARGS, "--column", "name=客户姓名", "--column", "id_card=证件号码",
            "--column", "mobile=联系电话", "--rate", "0",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = read_csv(tmp_path / "out" / "results.csv")
    assert {r["status"] for r in out} <= {"hit", "no_data"}
    assert out[0]["id_card"].count("*") == 8


def test_progress_is_quiet_off_a_terminal_and_rich_on_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from creditsdk.batch._progress import _Quiet, make_progress

    monkeypatch.setenv("CI", "true")
    assert isinstance(make_progress(None, 10, "x"), _Quiet)
    assert isinstance(make_progress(False, 10, "x"), _Quiet)
    pytest.importorskip("rich")
    bar = make_progress(True, 3, "demo.score")
    assert not isinstance(bar, _Quiet)
    for status in ("hit", "no_data", None):
        bar.advance(status)
    assert bar._counts == {"hit": 1, "no_data": 1}
    bar.close()


def test_progress_bar_updates_at_most_ten_times_a_second() -> None:
    pytest.importorskip("rich")
    from creditsdk.batch._progress import make_progress

    bar = make_progress(True, 100, "demo.score")
    now = [1000.0]
    bar._clock = lambda: now[0]
    task = bar._progress.tasks[0]
    for _ in range(5):
        bar.advance("hit")
    assert task.completed == 1  # the first row is shown, the next four wait
    now[0] += 0.1
    bar.advance("hit")
    assert task.completed == 6
    bar.advance(None)
    bar.close()  # the rows not yet shown are shown on close
    assert task.completed == 7
    assert bar._counts == {"hit": 6}
