"""``creditsdk query`` uses every environment variable the clients read: ``_FILE`` secrets, the
transport ones (CA bundle, timeouts …); docs/production.md's table is the code's (issue 16 #6)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditsdk._cli import main
from creditsdk._cli.query import env_groups
from creditsdk._core.config import env_table
from creditsdk.sandbox import Sandbox

DOCS = Path(__file__).resolve().parents[2] / "docs" / "production.md"
ML = [
    "query", "tianyuan", "multi-lending",
    "--name", "张三", "--id-card", "11010519491231002X", "--mobile", "13800138000",
    "--consent-reference", "AUTH20261101001", "--consent-purpose", "credit_underwriting",
]  # fmt: skip


@pytest.fixture(scope="module")
def tls_sb() -> Iterator[Sandbox]:
    with Sandbox(tls=True, providers=["tianyuan"]) as sandbox:
        yield sandbox


def _env(monkeypatch: pytest.MonkeyPatch, sb: Sandbox, tmp_path: Path) -> None:
    key_file = tmp_path / "tianyuan_access_key"
    key_file.write_text(sb.tianyuan.access_key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", sb.tianyuan.access_id)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_KEY_FILE", str(key_file))
    monkeypatch.setenv("CREDITSDK_TIANYUAN_BASE_URL", sb.base_url)


def test_query_uses_file_secret_and_ca_bundle(
    tls_sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert tls_sb.ca_bundle
    assert tls_sb.base_url.startswith("https://")
    _env(monkeypatch, tls_sb, tmp_path)
    # Without the Sandbox's CA the TLS handshake fails: the variable is what makes it work.
    assert main(ML) == 1
    assert "creditsdk: error:" in capsys.readouterr().err
    monkeypatch.setenv("CREDITSDK_TIANYUAN_CA_BUNDLE", tls_sb.ca_bundle)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_TIMEOUT", "30")
    before = len(tls_sb.ledger("tianyuan"))
    assert main([*ML, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    entries = tls_sb.ledger("tianyuan")
    assert len(entries) == before + 1
    assert data["transaction_id"] == entries[-1].transaction_id


def test_query_bad_variable_is_exit_2_naming_it(
    tls_sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _env(monkeypatch, tls_sb, tmp_path)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_MAX_ATTEMPTS", "many")
    assert main(ML) == 2
    err = capsys.readouterr().err
    assert "CREDITSDK_TIANYUAN_MAX_ATTEMPTS must be a whole number" in err
    monkeypatch.delenv("CREDITSDK_TIANYUAN_MAX_ATTEMPTS")
    monkeypatch.setenv("CREDITSDK_LOG", "chatty")
    assert main(ML) == 2
    assert "CREDITSDK_LOG must be one of debug, info, warning, error, off" in (
        capsys.readouterr().err
    )


def test_docs_table_is_the_codes() -> None:
    """docs/production.md carries the table `env_table(env_groups())` generates, verbatim."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- env-table:start -->\n(.*?)<!-- env-table:end -->", text, flags=re.S)
    assert found, "docs/production.md lost its env-table markers"
    assert found.group(1) == env_table(env_groups()), (
        "regenerate: python -c 'from creditsdk._cli.query import env_groups; "
        'from creditsdk._core.config import env_table; print(env_table(env_groups()), end="")\''
    )


def test_every_variable_follows_the_scheme() -> None:
    for _title, variables in env_groups():
        for var in variables:
            assert re.fullmatch(r"CREDITSDK_(LOG|CRYPTO|[A-Z<>]+_[A-Z0-9_]+)", var.name), var.name
            assert not var.name.endswith(("_FILE", "_PATH")), var.name


def test_env_command_lists_variables_never_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "k"
    key_file.write_text("00112233445566778899aabbccddeeff\n", encoding="utf-8")
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", "AID-SECRETISH-1")
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_KEY_FILE", str(key_file))
    monkeypatch.setenv("CREDITSDK_FIREEYE_APP_KEY", "fe-app-key-value")
    monkeypatch.setenv("CREDITSDK_FIREEYE_TIMEOUT", "soon")
    assert main(["env", "--check"]) == 2
    out = capsys.readouterr().out
    for value in ("AID-SECRETISH-1", "fe-app-key-value", "00112233445566778899", str(key_file)):
        assert value not in out
    assert re.search(r"CREDITSDK_TIANYUAN_ACCESS_KEY +set \(file\)", out)
    assert re.search(r"CREDITSDK_TIANYUAN_ACCESS_ID +set ", out)
    assert re.search(r"CREDITSDK_SESAME_APP_ID +- ", out)
    assert "tianyuan: ok" in out
    assert "fireeye: error: FireEye institution_id is missing" in out
    assert "sesame: not configured" in out
    monkeypatch.setenv("CREDITSDK_FIREEYE_INSTITUTION_ID", "I-1")
    assert main(["env", "--check"]) == 2
    assert "fireeye: error: CREDITSDK_FIREEYE_TIMEOUT must be" in capsys.readouterr().out
    monkeypatch.delenv("CREDITSDK_FIREEYE_TIMEOUT")
    assert main(["env", "--check"]) == 0
    assert "fireeye: ok" in capsys.readouterr().out


def test_env_markdown_is_the_docs_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--markdown"]) == 0
    assert capsys.readouterr().out == env_table(env_groups())
