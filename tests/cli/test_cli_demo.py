"""``creditsdk demo``: the whole flow against the Sandbox, masked, as rich text, plain or JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from creditsdk._cli import demo, main
from creditsdk.sandbox import Sandbox

from .conftest import SECRETS, clean_env, console_script, run_cli


@pytest.fixture(scope="module")
def demo_json() -> dict[str, object]:
    result = run_cli("demo", "--json")
    assert result.returncode == 0, result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout
        assert secret not in result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_json_has_every_provider_step(demo_json: dict[str, object]) -> None:
    data = demo_json
    ty = data["tianyuan"]
    assert isinstance(ty, dict)
    assert ty["transaction_id"].startswith("TYSB")
    assert ty["tables"] == "creditsdk-sandbox-synthetic"
    assert sum(ty["statuses"].values()) == ty["factor_count"] > 300
    by_code = ty["factors"]  # the report's to_dict() shape: code -> structured factor
    assert by_code["xyp_cpl0001"]["status"] == "decoded"
    assert set(by_code["xyp_cpl0001"]["value"]) == {"low", "high", "inclusivity", "unit", "label"}
    assert by_code["xyp_cpl0001"]["value"]["unit"] == "institutions"
    shown = {h["code"]: h["display"] for h in ty["highlights"]}
    assert shown["xyp_cpl0001"].endswith("institutions")  # a readable range
    assert shown["xyp_cpl0044"] in ("yes", "no", "no record")

    fe = data["fireeye"]
    assert isinstance(fe, dict)
    assert [c["matched"] for c in fe["checks"]] == [True, False]
    assert fe["checks"][1]["reason"] == "no such transaction"
    assert 300 <= fe["model_score"] <= 1000

    zm = data["sesame"]
    assert isinstance(zm, dict)
    assert 350 <= zm["score"] <= 950
    assert zm["access_token"] == "<redacted>"
    assert zm["transaction_id"]

    ledger = data["ledger"]
    assert isinstance(ledger, dict)
    assert ledger["billed_calls"] == {"fireeye": 3, "sesame": 1, "tianyuan": 1}
    ops = [(e["provider"], e["operation"]) for e in ledger["entries"]]
    assert ("tianyuan", "JRZQ9E2A") in ops
    assert ops.count(("fireeye", "model_score")) == 1
    tids = {e["transaction_id"] for e in ledger["entries"]}
    assert ty["transaction_id"] in tids
    assert zm["transaction_id"] in tids

    assert data["applicant"] == {
        "name": "张*",
        "id_card": "110105********002X",
        "mobile": "138****8000",
        "card_no": "6262********3210",
    }


def test_values_are_what_the_sandbox_serves(demo_json: dict[str, object]) -> None:
    """The demo shows the Sandbox's own answers (same seed), decoded, not made-up numbers."""
    sb = Sandbox(seed=0)  # not started: only its deterministic data is used
    sb.tianyuan.pin(demo.SAMPLE["id_card"], "heavy_borrower")
    raw = sb.tianyuan.factors_for(demo.SAMPLE["id_card"])
    ty = demo_json["tianyuan"]
    assert isinstance(ty, dict)
    assert ty["raw"] == raw
    for code, f in ty["factors"].items():
        assert (f["raw"] or "") == raw.get(code, "")
    fe = demo_json["fireeye"]
    assert isinstance(fe, dict)
    card, id_card, mobile = (demo.SAMPLE[k] for k in ("card_no", "id_card", "mobile"))
    assert fe["model_score"] == sb.fireeye.score_for(card, id_card, mobile)
    known = sb.fireeye.transactions(card)[0]
    assert fe["checks"][0]["amount"] == str(known.amount)
    zm = demo_json["sesame"]
    assert isinstance(zm, dict)
    assert zm["score"] == sb.sesame.users[sb.sesame.default_user_id].score


def test_rich_output_through_the_console_script() -> None:
    result = subprocess.run(
        [str(console_script()), "demo"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(COLUMNS="140"),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for secret in SECRETS:
        assert secret not in out
    assert "110105********002X" in out
    assert "not matched (no such transaction)" in out
    assert "institutions" in out
    assert "Sandbox ledger" in out
    assert result.stderr == ""


def test_plain_text_when_rich_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # import fails
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in out
    assert "Tianyuan JRZQ9E2A multi-lending report" in out
    assert "model score:" in out
    assert "Sandbox ledger (billed calls): fireeye 3, sesame 1, tianyuan 1" in out


def test_plain_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--plain"]) == 0
    out = capsys.readouterr().out
    assert "not matched (no such transaction)" in out
    assert "╭" not in out  # no rich box drawing


def test_seed_reaches_the_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json", "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sandbox"]["seed"] == 3
    sb = Sandbox(seed=3)  # not started: its deterministic data only
    card, id_card, mobile = (demo.SAMPLE[k] for k in ("card_no", "id_card", "mobile"))
    assert data["fireeye"]["model_score"] == sb.fireeye.score_for(card, id_card, mobile)
    assert data["fireeye"]["checks"][0]["amount"] == str(sb.fireeye.transactions(card)[0].amount)
    assert data["sesame"]["score"] == sb.sesame.users[sb.sesame.default_user_id].score
