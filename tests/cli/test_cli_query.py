"""``creditsdk query``: one call from the shell, env-var credentials or --sandbox."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditsdk._cli import build_parser, main
from creditsdk.sandbox import Sandbox

from .conftest import SECRETS, run_cli

CONSENT = ["--consent-reference", "AUTH20261101001", "--consent-purpose", "credit_underwriting"]
PERSON = ["--name", "张三", "--id-card", "11010519491231002X", "--mobile", "13800138000"]
CARD = "6262320120123210"
ML = ["query", "tianyuan", "multi-lending", *PERSON, *CONSENT]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> Sandbox:
    """CREDITSDK_* variables pointing every provider at a running Sandbox (not --sandbox)."""
    base = sb.base_url
    values = {
        "CREDITSDK_TIANYUAN_ACCESS_ID": sb.tianyuan.access_id,
        "CREDITSDK_TIANYUAN_ACCESS_KEY": sb.tianyuan.access_key,
        "CREDITSDK_TIANYUAN_BASE_URL": base,
        "CREDITSDK_FIREEYE_INSTITUTION_ID": sb.fireeye.institution_id,
        "CREDITSDK_FIREEYE_APP_KEY": sb.fireeye.app_key,
        "CREDITSDK_FIREEYE_BASE_URL": base,
        "CREDITSDK_SESAME_APP_ID": sb.sesame.app_id,
        "CREDITSDK_SESAME_APP_PRIVATE_KEY": sb.sesame.app_private_key,
        "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": sb.sesame.alipay_public_key,
        "CREDITSDK_SESAME_GATEWAY_URL": sb.sesame.gateway_url,
        "CREDITSDK_SESAME_AUTHORIZE_URL": sb.sesame.authorize_url,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return sb


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    data: dict[str, object] = json.loads(out)
    return data


# -- tianyuan ------------------------------------------------------------------------------------


def test_tianyuan_multi_lending_from_env(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ML, "--json"]) == 0
    data = _json(capsys)
    (entry,) = env_for.ledger("tianyuan")
    assert data["transaction_id"] == entry.transaction_id
    assert data["raw"] == env_for.tianyuan.factors_for("11010519491231002X")
    assert data["tables"] is None  # no tables configured: codes stay raw


def test_tianyuan_multi_lending_human_output_is_masked(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES

    monkeypatch.setenv("CREDITSDK_TIANYUAN_BUCKET_TABLES", str(SANDBOX_BUCKET_TABLES))
    env_for.tianyuan.pin("11010519491231002X", "heavy_borrower")
    assert main(ML) == 0
    out = capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in out
    assert "张* 110105********002X 138****8000" in out
    assert "tables: creditsdk-sandbox-synthetic" in out
    assert "institutions" in out  # decoded into a range


def test_tianyuan_provider_refusal_exits_1(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    env_for.tianyuan.fail_next(1007)  # insufficient balance
    assert main(ML) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("creditsdk: error: [tianyuan 1007]")
    assert len(err.splitlines()) == 1
    assert env_for.ledger("tianyuan") == []


def test_missing_credentials_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ML) == 2
    err = capsys.readouterr().err
    assert "CREDITSDK_TIANYUAN_ACCESS_ID" in err
    assert len(err.strip().splitlines()) == 1


def test_tianyuan_call_with_params(env_for: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    params = ["--param", "id_card=11010519491231002X", "--param", "name=张三"]
    params += ["--param", "mobile_no=13800138000"]
    assert main(["query", "tianyuan", "call", "JRZQ8F7C", *params, *CONSENT, "--json"]) == 0
    data = _json(capsys)
    assert data["code"] == 0
    (entry,) = env_for.ledger("tianyuan")
    assert entry.operation == "JRZQ8F7C"
    assert data["transaction_id"] == entry.transaction_id


def test_tianyuan_bad_param_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "tianyuan", "call", "JRZQ8F7C", "--param", "oops", *CONSENT]) == 2
    assert "--param: must be KEY=VALUE" in capsys.readouterr().err


def test_tianyuan_sandbox_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ML, "--sandbox", "--json"]) == 0
    captured = capsys.readouterr()
    assert "sandbox" in captured.err  # the note says it is sandbox data
    data = json.loads(captured.out)
    assert data["tables"] == "creditsdk-sandbox-synthetic"


# -- fireeye -------------------------------------------------------------------------------------


def test_fireeye_verify_known_and_unknown(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    known = env_for.fireeye.transactions(CARD)[0]
    base = ["query", "fireeye", "verify", "--card-no", CARD, "--date", known.date.isoformat()]
    assert main([*base, "--amount", str(known.amount), *CONSENT, "--json"]) == 0
    hit = _json(capsys)
    assert hit["matched"] is True
    assert hit["card"] == "6262********3210"
    other = str(known.amount + 1)
    assert main([*base, "--amount", other, *CONSENT, "--json"]) == 0  # a result, not an error
    miss = _json(capsys)
    assert miss["matched"] is False
    assert [e.operation for e in env_for.ledger("fireeye")] == ["transaction_auth"] * 2


def test_fireeye_amount_unit_yuan(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["query", "fireeye", "verify", "--card-no", CARD, "--date", "2016-12-01"]
    argv += ["--amount", "212.00", "--add-transaction", "--sandbox", "--json", *CONSENT]
    assert main(argv) == 0
    assert _json(capsys)["matched"] is True
    # --amount-unit reaches the wire: the sandbox reads fen, so 212.0 sent as yuan is ¥2.12
    assert main([*argv, "--amount-unit", "yuan"]) == 0
    assert _json(capsys)["matched"] is False


def test_fireeye_score(env_for: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["query", "fireeye", "score", "--card-no", CARD, "--id-card", "11010519491231002X"]
    assert main([*argv, "--mobile", "13800138000", *CONSENT]) == 0
    captured = capsys.readouterr()
    expected = env_for.fireeye.score_for(CARD, "11010519491231002X", "13800138000")
    assert f": {expected} (300-1000)" in captured.out
    assert CARD not in captured.out
    assert "Luhn" in captured.err  # the warning, as one line
    assert all(line.startswith("creditsdk: ") for line in captured.err.splitlines())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--date", "2016-13-01", "--date: must be a date YYYY-MM-DD"),
        ("--amount", "12x", "--amount: must be a number of yuan"),
        ("--amount", "NaN", "--amount: must be a finite number"),
        ("--card-no", "12", "card_no"),
    ],
)
def test_fireeye_bad_input_exits_2(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--card-no": CARD, "--date": "2016-12-01", "--amount": "212.00", option: value}
    argv = ["query", "fireeye", "verify", *[x for kv in args.items() for x in kv]]
    assert main([*argv, *CONSENT, "--sandbox"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("creditsdk: error:")
    assert message in err[-1]


# -- sesame --------------------------------------------------------------------------------------


def test_sesame_flow_across_commands(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """authorize-url → the user approves → exchange-code --redirect → score --grant-file."""
    argv = ["query", "sesame", "authorize-url", "--redirect-uri", "https://lender.example/cb"]
    assert main([*argv, "--state", "order-7", "--json"]) == 0
    url = _json(capsys)["authorization_url"]
    assert isinstance(url, str)
    redirected = env_for.sesame.approve(url)
    grant_file = tmp_path / "grant.json"
    argv = ["query", "sesame", "exchange-code", "--redirect", redirected, "--state", "order-7"]
    assert main([*argv, "--save-grant", str(grant_file)]) == 0
    out = capsys.readouterr().out
    saved = json.loads(grant_file.read_text(encoding="utf-8"))
    assert saved["access_token"] not in out  # never printed
    assert "<redacted>" in out
    assert os.stat(grant_file).st_mode & 0o777 == 0o600
    assert (
        main(["query", "sesame", "score", "--grant-file", str(grant_file), *CONSENT, "--json"]) == 0
    )
    score = _json(capsys)
    assert score["score"] == env_for.sesame.users[env_for.sesame.default_user_id].score
    assert [e.operation for e in env_for.ledger("sesame")] == ["zhima.credit.score.get"]
    argv = ["query", "sesame", "score", "--access-token", saved["access_token"], *CONSENT]
    assert main(argv) == 0


def test_sesame_exchange_code_wrong_state(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from creditsdk.sesame import SesameClient

    with SesameClient() as zm:
        url = zm.authorization_url("https://lender.example/cb", state="a")
    redirected = env_for.sesame.approve(url)
    argv = ["query", "sesame", "exchange-code", "--redirect", redirected, "--state", "b"]
    assert main(argv) == 2
    assert "state" in capsys.readouterr().err


def test_sesame_sandbox_plays_the_user(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "sesame", "score", "--sandbox", *CONSENT, "--json"]) == 0
    captured = capsys.readouterr()
    assert 350 <= json.loads(captured.out)["score"] <= 950
    assert "plays the user" in captured.err


def test_sesame_score_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "sesame", "score", *CONSENT]) == 2
    assert "--access-token" in capsys.readouterr().err


def test_sesame_bad_grant_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "g.json"
    bad.write_text("{}", encoding="utf-8")
    assert main(["query", "sesame", "score", "--grant-file", str(bad), *CONSENT]) == 2
    assert "--grant-file" in capsys.readouterr().err


# -- exit codes from a real process --------------------------------------------------------------


def test_subprocess_exit_codes() -> None:
    ok = run_cli(*ML, "--sandbox", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["transaction_id"]

    bad = run_cli("query", "tianyuan", "multi-lending", "--name", "张三", "--id-card", "123",
                  "--mobile", "13800138000", *CONSENT, "--sandbox")  # fmt: skip
    assert bad.returncode == 2
    assert bad.stdout == ""
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("creditsdk: error: id_card: ")

    usage = run_cli("query", "fireeye", "score", "--card-no", CARD)
    assert usage.returncode == 2
    assert len(usage.stderr.strip().splitlines()) == 1
    assert "required" in usage.stderr

    # A token the fresh embedded Sandbox cannot know: a usage error that says why (issue 16 #10).
    refused = run_cli("query", "sesame", "score", "--access-token", "bogus", "--sandbox", *CONSENT)
    assert refused.returncode == 2
    assert "new, empty Sandbox for each command" in refused.stderr.strip().splitlines()[-1]


# -- help and version ----------------------------------------------------------------------------


def _all_commands() -> list[list[str]]:
    import argparse

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])

    walk(build_parser(), [])
    return found


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "creditsdk")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: creditsdk")


def test_group_without_subcommand_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "sesame"]) == 2
    assert "authorize-url" in capsys.readouterr().err
    assert main([]) == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from creditsdk import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"creditsdk {__version__}"
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"creditsdk {__version__}"


def test_demo_and_query_json_give_factors_in_one_shape(
    env_for: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 8: ``demo --json`` and ``query … --json`` print the same factor shape (the
    report's to_dict()): the same keys, and for the same applicant and data the same values."""
    from creditsdk._cli import demo
    from creditsdk.tianyuan import SANDBOX_BUCKET_TABLES

    monkeypatch.setenv("CREDITSDK_TIANYUAN_BUCKET_TABLES", str(SANDBOX_BUCKET_TABLES))
    env_for.tianyuan.pin("11010519491231002X", "heavy_borrower")  # what the demo pins
    assert main([*ML, "--json"]) == 0
    queried = _json(capsys)
    shown = demo.collect(seed=0)["tianyuan"]
    assert set(queried) <= set(shown)
    factors = queried["factors"]
    assert isinstance(factors, dict)
    assert len(factors) > 300
    assert shown["factors"] == factors  # same keys, same structured values
    sample = factors["xyp_cpl0001"]
    assert set(sample) == {"code", "raw", "value", "status", "label", "label_en", "kind",
                           "provenance"}  # fmt: skip
    assert set(sample["value"]) == {"low", "high", "inclusivity", "unit", "label"}
    assert shown["raw"] == queried["raw"]
    assert shown["tables"] == queried["tables"] == "creditsdk-sandbox-synthetic"


# -- the product's authorization parameter (issue 16 item 7) -----------------------------------

COMB_PARAMS = ["--param", "id_card=11010519491231002X", "--param", "name=张三"]
COMB_PARAMS += ["--param", "mobile_no=13800138000"]


@pytest.fixture
def sent_params(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The plaintext parameters of every Tianyuan request built (before encryption)."""
    from creditsdk.tianyuan import _protocol

    seen: list[dict[str, object]] = []
    original = _protocol.build_request

    def spy(config: object, product_code: str, plaintext: bytes) -> object:
        seen.append(json.loads(plaintext))
        return original(config, product_code, plaintext)  # type: ignore[arg-type]

    monkeypatch.setattr(_protocol, "build_request", spy)
    return seen


def test_sandbox_refuses_a_composite_without_the_authorization(env_for: Sandbox) -> None:
    """The premise: the Sandbox checks COMB86PM's authorization parameter (1003 without it)."""
    import datetime as dt

    from creditsdk import Consent
    from creditsdk.errors import ProviderError

    granted = dt.datetime.now() - dt.timedelta(minutes=1)
    consent = Consent(reference="AUTH-1", purpose="credit_underwriting", granted_at=granted)
    params = {"id_card": "11010519491231002X", "name": "张三", "mobile_no": "13800138000"}
    with env_for.tianyuan_client() as ty, pytest.raises(ProviderError) as info:
        ty.call("COMB86PM", params, consent=consent)
    assert info.value.code == "1003"


def test_call_fills_the_authorization_from_the_consent(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str], sent_params: list[dict[str, object]]
) -> None:
    argv = ["query", "tianyuan", "call", "COMB86PM", *COMB_PARAMS, *CONSENT, "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    data = _json(capsys)
    assert data["code"] == 0
    (entry,) = env_for.ledger("tianyuan")
    assert entry.operation == "COMB86PM"
    (params,) = sent_params
    assert params["auth_authorize_file_code"] == "AUTH20261101001"


def test_call_keeps_an_authorization_param_given(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str], sent_params: list[dict[str, object]]
) -> None:
    given = [*COMB_PARAMS, "--param", "auth_authorize_file_code=LETTER-7"]
    assert main(["query", "tianyuan", "call", "COMB86PM", *given, *CONSENT]) == 0
    assert sent_params[0]["auth_authorize_file_code"] == "LETTER-7"


def test_unknown_product_names_the_param_before_any_io(
    env_for: Sandbox, capsys: pytest.CaptureFixture[str], sent_params: list[dict[str, object]]
) -> None:
    assert main(["query", "tianyuan", "call", "FLXG0V4B", *COMB_PARAMS, *CONSENT]) == 2
    err = capsys.readouterr().err
    assert "--param" in err
    assert "auth_authorize_file_code=AUTH20261101001" in err
    assert "authorized=1" in err
    assert "auth_date=YYYYMMDD-YYYYMMDD" in err
    assert sent_params == []  # nothing built, nothing sent
    assert env_for.ledger("tianyuan") == []
    # Giving one of them is enough (the Sandbox then refuses the product itself: 1008).
    argv = ["query", "tianyuan", "call", "FLXG0V4B", *COMB_PARAMS, "--param", "authorized=1"]
    assert main([*argv, *CONSENT]) == 1
    assert "[tianyuan 1008]" in capsys.readouterr().err
    assert sent_params[0]["authorized"] == "1"


def test_fillers_of_every_known_parameter() -> None:
    import datetime as dt

    from creditsdk import Consent
    from creditsdk.errors import InvalidInputError
    from creditsdk.tianyuan._authorization import AUTHORIZATION_PARAMS

    granted = dt.datetime(2026, 11, 1, 9, 0)
    consent = Consent(
        reference="https://lender.example/auth/7",
        purpose="credit_underwriting",
        granted_at=granted,
        expires_at=granted + dt.timedelta(days=30),
    )
    filled = {name: fill(consent) for name, fill in AUTHORIZATION_PARAMS.items()}
    assert filled == {
        "auth_authorize_file_code": "https://lender.example/auth/7",
        "authorized": "1",
        "auth_date": "20261101-20261201",
        "authorization_url": "https://lender.example/auth/7",
    }
    bare = Consent(reference="AUTH-1", purpose="credit_underwriting", granted_at=granted)
    with pytest.raises(InvalidInputError, match="consent-expires-at"):
        AUTHORIZATION_PARAMS["auth_date"](bare)
    with pytest.raises(InvalidInputError, match="authorization_url"):
        AUTHORIZATION_PARAMS["authorization_url"](bare)
