"""Environment variables: one scheme, ``_FILE`` secrets, paths where key text belongs, loud
errors naming the variable (issue 16 item 6)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from creditsdk._core.config import (
    LOG_LEVELS,
    NOT_GIVEN,
    configure_logging_from_env,
    env_value,
    looks_like_path,
    transport_from_env,
)
from creditsdk._core.executors import DEFAULT_MAX_RESPONSE_BYTES
from creditsdk._core.retry import RetryPolicy
from creditsdk.errors import ConfigurationError
from creditsdk.fireeye._protocol import FireEyeConfig
from creditsdk.tianyuan import TianyuanClient
from creditsdk.tianyuan._protocol import TianyuanConfig

HEX_KEY = "00112233445566778899aabbccddeeff"
VAR = "CREDITSDK_TIANYUAN_ACCESS_KEY"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CREDITSDK_"):
            monkeypatch.delenv(key)


def _tianyuan_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    monkeypatch.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", "AID-1")
    monkeypatch.setenv("CREDITSDK_TIANYUAN_BASE_URL", "http://127.0.0.1:9")
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


# -- <NAME>_FILE ----------------------------------------------------------------------------


def test_file_variable_reads_the_file_and_strips_one_newline(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cr3t\n\n", encoding="utf-8")
    assert env_value(VAR, secret=True, environ={f"{VAR}_FILE": str(secret)}) == "s3cr3t\n"
    secret.write_text("s3cr3t\r\n", encoding="utf-8")
    assert env_value(VAR, secret=True, environ={f"{VAR}_FILE": str(secret)}) == "s3cr3t"
    # Only secrets have a _FILE form.
    assert env_value(VAR, environ={f"{VAR}_FILE": str(secret)}) is None


def test_tianyuan_key_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "tianyuan_key"
    secret.write_text(HEX_KEY + "\n", encoding="utf-8")
    _tianyuan_env(monkeypatch, **{f"{VAR}_FILE": str(secret)})
    assert TianyuanConfig.from_env().key == bytes.fromhex(HEX_KEY)


def test_both_forms_set_names_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "k"
    secret.write_text(HEX_KEY, encoding="utf-8")
    _tianyuan_env(monkeypatch, **{VAR: HEX_KEY, f"{VAR}_FILE": str(secret)})
    with pytest.raises(ConfigurationError) as info:
        TianyuanConfig.from_env()
    assert f"{VAR} and {VAR}_FILE are both set" in str(info.value)
    assert HEX_KEY not in str(info.value)


def test_unreadable_file_names_variable_and_path_never_content(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv("CREDITSDK_FIREEYE_INSTITUTION_ID", "INST")
    monkeypatch.setenv("CREDITSDK_FIREEYE_APP_KEY_FILE", str(missing))
    with pytest.raises(ConfigurationError) as info:
        FireEyeConfig.from_env()
    message = str(info.value)
    assert "CREDITSDK_FIREEYE_APP_KEY_FILE" in message
    assert str(missing) in message
    # A folder cannot be read as a file either; its content never shows.
    monkeypatch.setenv("CREDITSDK_FIREEYE_APP_KEY_FILE", str(tmp_path))
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_APP_KEY_FILE cannot be read"):
        FireEyeConfig.from_env()


def test_empty_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    _tianyuan_env(monkeypatch, **{f"{VAR}_FILE": str(empty)})
    with pytest.raises(ConfigurationError, match=rf"{VAR}_FILE: .* is empty"):
        TianyuanConfig.from_env()


# -- a path where the key text belongs -------------------------------------------------------


def test_path_in_a_key_variable_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "tianyuan_key"
    secret.write_text(HEX_KEY, encoding="utf-8")
    _tianyuan_env(monkeypatch, **{VAR: str(secret)})
    with pytest.raises(ConfigurationError) as info:
        TianyuanConfig.from_env()
    assert "looks like a path" in str(info.value)
    assert f"{VAR}_FILE" in str(info.value)


def test_path_as_key_argument_says_so() -> None:
    with pytest.raises(ConfigurationError, match="looks like a path"):
        TianyuanConfig.from_env(access_id="A", access_key="keys/tianyuan.pem")


@pytest.mark.parametrize(
    ("text", "pathy"),
    [
        ("/run/secrets/nothing-here", False),  # base64 may start with "/": only if it exists
        ("~/keys/app.pem", True),
        ("./app_private_key.pem", True),
        ("C:\\keys\\app.key", True),
        ("alipayCertPublicKey_RSA2.crt", True),
        (HEX_KEY, False),
        ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", False),
        ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n", False),
    ],
)
def test_looks_like_path(text: str, pathy: bool) -> None:
    assert looks_like_path(text) is pathy


def test_existing_absolute_path_looks_like_a_path(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("x", encoding="utf-8")
    assert looks_like_path(str(target))


# -- Tianyuan's key format -------------------------------------------------------------------


def test_key_format_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    text_key = "abcdefghijklmnop"  # 16 characters, not hex
    _tianyuan_env(monkeypatch, **{VAR: text_key})
    with pytest.raises(ConfigurationError) as info:
        TianyuanConfig.from_env()
    assert "CREDITSDK_TIANYUAN_KEY_FORMAT=utf8" in str(info.value)
    monkeypatch.setenv("CREDITSDK_TIANYUAN_KEY_FORMAT", "utf8")
    assert TianyuanConfig.from_env().key == text_key.encode()
    monkeypatch.setenv("CREDITSDK_TIANYUAN_KEY_FORMAT", "base64")
    with pytest.raises(ConfigurationError, match="CREDITSDK_TIANYUAN_KEY_FORMAT"):
        TianyuanConfig.from_env()


# -- transport settings ----------------------------------------------------------------------


def test_transport_variables_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    _tianyuan_env(
        monkeypatch,
        **{
            VAR: HEX_KEY,
            "CREDITSDK_TIANYUAN_TIMEOUT": "7.5",
            "CREDITSDK_TIANYUAN_CONNECT_TIMEOUT": "2",
            "CREDITSDK_TIANYUAN_MAX_ATTEMPTS": "1",
            "CREDITSDK_TIANYUAN_MAX_RESPONSE_BYTES": "1000",
        },
    )
    with TianyuanClient() as ty:
        assert ty.timeout == httpx.Timeout(7.5, connect=2.0)
        assert ty.retry.max_attempts == 1
        assert ty.max_response_bytes == 1000
    # An argument given wins over its variable.
    with TianyuanClient(timeout=3, retry=RetryPolicy(max_attempts=5), max_response_bytes=9) as ty:
        assert ty.timeout == httpx.Timeout(3.0)
        assert ty.retry.max_attempts == 5
        assert ty.max_response_bytes == 9


def test_timeout_alone_also_bounds_connect() -> None:
    settings = transport_from_env(
        "tianyuan",
        timeout=NOT_GIVEN,
        retry=None,
        verify=True,
        max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
        default_max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
        environ={"CREDITSDK_TIANYUAN_TIMEOUT": "1.5"},
    )
    assert settings.timeout == httpx.Timeout(1.5)
    assert settings.retry is None
    assert settings.verify is True


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("CREDITSDK_TIANYUAN_TIMEOUT", "fast", "a positive number of seconds"),
        ("CREDITSDK_TIANYUAN_TIMEOUT", "-1", "a positive number of seconds"),
        ("CREDITSDK_TIANYUAN_CONNECT_TIMEOUT", "nan", "a positive number of seconds"),
        ("CREDITSDK_TIANYUAN_MAX_ATTEMPTS", "0", "a whole number of attempts"),
        ("CREDITSDK_TIANYUAN_MAX_ATTEMPTS", "2.5", "a whole number of attempts"),
        ("CREDITSDK_TIANYUAN_MAX_RESPONSE_BYTES", "1MB", "a whole number of bytes"),
        ("CREDITSDK_TIANYUAN_CA_BUNDLE", "/no/such/ca.pem", "is not a readable file"),
        ("CREDITSDK_TIANYUAN_CLIENT_KEY", "/no/such/key.pem", "without"),
    ],
)
def test_bad_transport_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, says: str
) -> None:
    _tianyuan_env(monkeypatch, **{VAR: HEX_KEY, var: value})
    with pytest.raises(ConfigurationError) as info:
        TianyuanClient()
    assert var in str(info.value)
    assert says in str(info.value)


def test_every_provider_client_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsdk._spec import discover_specs
    from creditsdk.sandbox import Sandbox

    specs = discover_specs()
    for spec in specs:
        monkeypatch.setenv(f"CREDITSDK_{spec.name.upper()}_MAX_RESPONSE_BYTES", "12345")
    sb = Sandbox()  # not started: its clients only
    for spec in specs:
        if spec.in_default_sandbox:
            client = getattr(sb, f"{spec.name}_client")()
        else:  # the demo bureau: from its own variables
            monkeypatch.setenv(f"CREDITSDK_{spec.name.upper()}_API_KEY", "k")
            monkeypatch.setenv(f"CREDITSDK_{spec.name.upper()}_BASE_URL", "http://127.0.0.1:9")
            client = spec.client_class()()
        with client:
            assert client.max_response_bytes == 12345, spec.name


# -- CREDITSDK_LOG ---------------------------------------------------------------------------


def test_unknown_log_value_is_an_error_listing_the_accepted_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        configure_logging_from_env({"CREDITSDK_LOG": "verbose"})
    message = str(info.value)
    assert "CREDITSDK_LOG" in message
    assert "'verbose'" in message
    for accepted in LOG_LEVELS:
        assert accepted in message


def test_unknown_log_value_fails_client_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    _tianyuan_env(monkeypatch, **{VAR: HEX_KEY, "CREDITSDK_LOG": "loud"})
    with pytest.raises(ConfigurationError, match="CREDITSDK_LOG must be one of"):
        TianyuanClient()


def test_log_levels_and_off() -> None:
    logger = logging.getLogger("creditsdk")
    before = logger.level
    try:
        configure_logging_from_env({"CREDITSDK_LOG": "ERROR"})
        assert logger.level == logging.ERROR
        configure_logging_from_env({"CREDITSDK_LOG": "off"})  # no error, no change
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(before)


def test_a_callers_http_client_keeps_its_own_timeout_and_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tianyuan_env(
        monkeypatch,
        **{
            VAR: HEX_KEY,
            "CREDITSDK_TIANYUAN_TIMEOUT": "7.5",
            "CREDITSDK_TIANYUAN_CA_BUNDLE": "/no/such/ca.pem",  # not even looked at
            "CREDITSDK_TIANYUAN_MAX_ATTEMPTS": "2",
        },
    )
    with httpx.Client(timeout=4.0) as own, TianyuanClient(http_client=own) as ty:
        assert ty.timeout == httpx.Timeout(4.0)
        assert ty.retry.max_attempts == 2  # not a transport setting of httpx: still applies
