"""``creditsdk query sesame watchlist`` from the shell."""

from __future__ import annotations

import json

import pytest

from creditsdk._cli import main
from creditsdk.sandbox import Sandbox

CONSENT = ["--consent-reference", "AUTH20261101001", "--consent-purpose", "credit_underwriting"]
PERSON = ["--name", "张三", "--id-card", "11010519491231002X", "--mobile", "13800138000"]
WATCH = ["query", "sesame", "watchlist", *PERSON, *CONSENT]


def test_watchlist_with_sandbox_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*WATCH, "--sandbox", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["level"] in (0, 1, 2, 3)
    assert data["listed"] is (data["level"] > 0)
    assert data["transaction_id"].startswith("csdk_")
    assert "11010519491231002X" not in captured.out + captured.err


def test_watchlist_from_env_with_product_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox(providers=["sesame"], seed=4) as sb:
        sb.sesame.set_watchlist("11010519491231002X", 1)
        for key, value in {
            "CREDITSDK_SESAME_APP_ID": sb.sesame.app_id,
            "CREDITSDK_SESAME_APP_PRIVATE_KEY": sb.sesame.app_private_key,
            "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": sb.sesame.alipay_public_key,
            "CREDITSDK_SESAME_GATEWAY_URL": sb.sesame.gateway_url,
        }.items():
            monkeypatch.setenv(key, value)
        assert main([*WATCH, "--product-code", "w1010100000000001234"]) == 0
        out = capsys.readouterr().out
        (entry,) = sb.ledger("sesame")
    assert "level: 1 (on the watchlist)" in out
    assert entry.details["product_code"] == "w1010100000000001234"


def test_watchlist_without_product_code_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE", raising=False)
    assert main(WATCH) == 2
    assert "--product-code" in capsys.readouterr().err
