"""What a batch says when the user has to act: a GBK/GB18030 input, a consent time missing
(flag or column), and maybe_billed rows left at the end (the reconcile command line)."""

from __future__ import annotations

import functools
import json
import shlex
from pathlib import Path

import pytest

from creditsdk._cli import batch as cli
from creditsdk.batch import InputEncodingError, _input
from creditsdk.batch import run_batch as _run_batch
from creditsdk.errors import ConfigurationError

from .batchhelpers import (
    CONSENT,
    CONSENT_ARGS,
    applicants,
    demo_sandbox,
    mounted,
    read_csv,
    write_csv,
)

run_batch = functools.partial(_run_batch, rate=None)


# -- encodings -------------------------------------------------------------------------------


def test_gb18030_input_names_the_encoding_before_any_call(tmp_path: Path) -> None:
    rows = applicants(3)
    src = write_csv(tmp_path / "in.csv", rows, encoding="gb18030")
    with demo_sandbox() as sb:
        with pytest.raises(InputEncodingError) as info:
            run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
        assert sb.ledger("demo") == []  # refused before any I/O
        err = info.value
        assert isinstance(err, ConfigurationError)
        assert (err.encoding, err.suggested, err.row) == ("utf-8-sig", "gb18030", None)
        assert "is not UTF-8" in str(err)
        assert "encoding='gb18030'" in str(err)  # the Python keyword, for the API
        assert "张" not in str(err)  # nothing of the row's content
        # ... and with that encoding the same file runs
        summary = run_batch(
            src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb, encoding="gb18030"
        )
        assert (summary.rows, summary.billed_calls) == (3, 3)
    out = read_csv(tmp_path / "out" / "results.csv")
    assert [r["applicant_id"] for r in out] == [r["applicant_id"] for r in rows]


def test_cli_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(2), encoding="gbk")
    argv = [str(src), "--operation", "demo.score", "-o", str(tmp_path / "out"), "--sandbox"]
    assert mounted([*argv, *CONSENT_ARGS, "--rate", "0"]) == 2
    err = capsys.readouterr().err
    assert "run again with --encoding gb18030" in err
    assert "UnicodeDecodeError" not in err
    assert mounted([*argv, *CONSENT_ARGS, "--rate", "0", "--encoding", "gb18030", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["billed_calls"] == 2


def test_decoding_failure_after_the_sniffed_start_names_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = applicants(400)
    for row in rows:
        row["name"] = "Zhang San"  # ASCII rows (beyond the reader's first 8 KiB) ...
    rows[349]["name"] = "张三"  # ... and one GB18030 row past the sniffed start
    src = write_csv(tmp_path / "in.csv", rows, encoding="gb18030")
    monkeypatch.setattr(_input, "_SNIFF_BYTES", 64)
    sb = demo_sandbox()  # in-process
    with pytest.raises(InputEncodingError) as info:
        run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
    assert info.value.suggested == "gb18030"
    assert info.value.row is not None
    assert 1 < info.value.row <= 350
    assert f"(at or after input row {info.value.row})" in str(info.value)


def test_undecodable_in_any_known_encoding_asks_for_one(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"name,id_card,mobile\n\xff\xfe\xff\x80,1,2\n")
    with pytest.raises(InputEncodingError) as info:
        run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=True)
    assert info.value.suggested is None
    assert "Give the file's encoding with encoding=" in str(info.value)


# -- consent time ----------------------------------------------------------------------------


def test_cli_consent_without_a_time_names_the_flag_and_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(2))
    argv = [str(src), "--operation", "demo.score", "-o", str(tmp_path / "out"), "--sandbox"]
    assert mounted([*argv, "--consent-reference", CONSENT.reference]) == 2
    err = capsys.readouterr().err
    assert "--consent-granted-at is missing" in err
    assert "consent_granted_at column" in err
    assert CONSENT.reference not in err


def test_consent_reference_column_without_a_time_column_is_refused_up_front(
    tmp_path: Path,
) -> None:
    rows = [{**row, "consent_reference": f"AUTH{i}"} for i, row in enumerate(applicants(2))]
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        with pytest.raises(ConfigurationError, match="no consent_granted_at column"):
            run_batch(src, "demo.score", tmp_path / "out", sandbox=sb)
        assert sb.ledger("demo") == []


def test_empty_consent_time_cell_names_the_column(tmp_path: Path) -> None:
    rows = applicants(2)
    for i, row in enumerate(rows):
        row["consent_reference"] = f"AUTH{i}"
        row["consent_purpose"] = "credit_underwriting"
        row["consent_granted_at"] = "2026-11-01T09:00:00" if i == 0 else ""
    src = write_csv(tmp_path / "in.csv", rows)
    with demo_sandbox() as sb:
        summary = run_batch(src, "demo.score", tmp_path / "out", sandbox=sb)
        assert len(sb.ledger("demo")) == 1
    assert summary.errors_by_code == {"invalid:consent_granted_at:required": 1}
    out = {int(r["row"]): r for r in read_csv(tmp_path / "out" / "results.csv")}
    assert "fill the consent_granted_at column" in out[2]["error_message"]


# -- maybe_billed ----------------------------------------------------------------------------


def test_maybe_billed_rows_end_with_the_reconcile_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = applicants(4)
    src = write_csv(tmp_path / "in.csv", rows)
    out_dir = tmp_path / "run dir"  # a space: the command line must quote it
    with demo_sandbox() as sb:
        sb.demo.lose_answer_for = {rows[1]["id_card"]}
        summary = run_batch(src, "demo.score", out_dir, consent=CONSENT, sandbox=sb)
    assert summary.maybe_billed == 1
    command = f"creditsdk batch reconcile {shlex.quote(str(out_dir))} STATEMENT.csv"
    assert summary.next_step is not None
    assert command in summary.next_step
    assert summary.to_dict()["next_step"] == summary.next_step
    text = summary.format()
    assert text.splitlines()[-3].startswith("next step      1 row may have been billed")
    assert text.splitlines()[-2] == f"                 {command}"
    # ... and the command works as printed
    statement = write_csv(
        tmp_path / "statement.csv", [{"transaction_id": "x", "time": "2026-11-01T09:00:00"}]
    )
    argv = shlex.split(command.replace("STATEMENT.csv", shlex.quote(str(statement))))
    assert argv[:3] == ["creditsdk", "batch", "reconcile"]
    assert cli.reconcile_main(argv[3:]) == 1  # ran: the row is still in doubt
    assert "error" not in capsys.readouterr().err


def test_no_next_step_when_nothing_is_in_doubt(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", applicants(2))
    with demo_sandbox() as sb:
        summary = run_batch(src, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb)
    assert summary.next_step is None
    assert "next step" not in summary.format()
    assert summary.to_dict()["next_step"] is None
