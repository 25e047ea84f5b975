"""Sesame ``--sandbox`` across separate commands cannot work, and says so (issue 16 item 10);
Alipay's common sub_codes carry an English hint, from one table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from creditsdk._cli import main
from creditsdk.errors import CreditSDKError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame._protocol import SUB_CODE_HINTS, error_for, sub_code_hint

CONSENT = ["--consent-reference", "AUTH20261101001", "--consent-purpose", "credit_underwriting"]


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CREDITSDK_"):
            monkeypatch.delenv(key)


def test_grant_from_another_sandbox_command_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grant = tmp_path / "grant.json"
    assert main(["query", "sesame", "exchange-code", "--sandbox", "--save-grant", str(grant)]) == 0
    assert "cannot use it" in capsys.readouterr().err  # said when the grant is saved
    assert json.loads(grant.read_text(encoding="utf-8"))  # a real grant, of a stopped Sandbox
    code = main(["query", "sesame", "score", "--sandbox", "--grant-file", str(grant), *CONSENT])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("creditsdk: error:")]
    assert "aop.invalid-auth-token" in line
    assert "starts a new, empty Sandbox for each command" in err
    assert "creditsdk sandbox serve" in err
    assert "CREDITSDK_SESAME_GATEWAY_URL" in err
    assert "--access-token / --grant-file" in err


def test_code_from_elsewhere_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "sesame", "exchange-code", "--sandbox", "deadbeefcafe0123"]) == 2
    err = capsys.readouterr().err
    assert "an auth code from another command is unknown to it" in err
    assert "isv.code-invalid" in err  # what the Sandbox answered is kept


def test_the_one_command_flow_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "sesame", "score", "--sandbox", *CONSENT, "--json"]) == 0
    assert 350 <= json.loads(capsys.readouterr().out)["score"] <= 950


def test_without_sandbox_the_refusal_is_the_providers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox(providers=["sesame"]) as sb:
        for key, value in {
            "CREDITSDK_SESAME_APP_ID": sb.sesame.app_id,
            "CREDITSDK_SESAME_APP_PRIVATE_KEY": sb.sesame.app_private_key,
            "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": sb.sesame.alipay_public_key,
            "CREDITSDK_SESAME_GATEWAY_URL": sb.sesame.gateway_url,
        }.items():
            monkeypatch.setenv(key, value)
        assert main(["query", "sesame", "score", "--access-token", "stale", *CONSENT]) == 1
    err = capsys.readouterr().err
    assert "aop.invalid-auth-token" in err
    assert "hint: the user's access token is invalid" in err
    assert "Sandbox" not in err


def test_authorize_url_with_sandbox_warns(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["query", "sesame", "authorize-url", "--sandbox", "--redirect-uri",
            "https://lender.example/cb", "--state", "s1"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "creditsdk sandbox serve" in captured.err
    assert "then run: creditsdk query sesame exchange-code" not in captured.out


# -- sub_code hints --------------------------------------------------------------------------

COMMON = (
    "isv.invalid-signature",
    "isv.missing-app-id",
    "isv.invalid-app-id",
    "aop.invalid-app-auth-token",
    "aop.invalid-auth-token",
    "aop.auth-token-time-out",
    "isv.insufficient-isv-permissions",
    "isv.invalid-timestamp",
    "isv.code-invalid",
    "ZMCREDIT.NO_VALID_ARRANGEMENT",
    "ZMCREDIT.authentication_fail",
)


@pytest.mark.parametrize("sub_code", COMMON)
def test_common_sub_codes_have_a_hint_in_the_message(sub_code: str) -> None:
    hint = sub_code_hint(sub_code)
    assert hint, sub_code
    gateway = {"aop": "20001", "zmc": "40004"}.get(sub_code[:3].lower(), "40002")
    if sub_code == "isv.insufficient-isv-permissions":
        gateway = "40006"
    if sub_code == "isv.missing-app-id":
        gateway = "40001"
    err = error_for({"code": gateway, "msg": "x", "sub_code": sub_code, "sub_msg": "中文说明"})
    assert isinstance(err, CreditSDKError)
    assert f"hint: {hint}" in str(err)
    assert "中文说明" in str(err)  # Alipay's own text is kept
    assert err.sub_code == sub_code  # type: ignore[attr-defined]


def test_hint_table_is_lower_case_english_and_one_line() -> None:
    for sub_code, hint in SUB_CODE_HINTS.items():
        assert sub_code == sub_code.lower()
        assert hint.isascii(), sub_code
        assert "\n" not in hint
        assert len(hint) <= 240, sub_code  # short: one line of a terminal or two


def test_unknown_sub_code_has_no_hint() -> None:
    err = error_for({"code": "40004", "msg": "Business Failed", "sub_code": "ZMCREDIT.other"})
    assert "hint:" not in str(err)
    assert sub_code_hint(None) is None
