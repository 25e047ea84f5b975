"""Sesame keys from ``CREDITSDK_SESAME_*_FILE`` (and the older ``_PATH``); a path given where the
key text belongs says so (issue 16 item 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from creditsdk.errors import ConfigurationError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame._protocol import SesameConfig

P = "CREDITSDK_SESAME_"


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    sb = Sandbox(providers=["sesame"])  # not started: its throwaway keys only
    return {
        "app_id": sb.sesame.app_id,
        "private": sb.sesame.app_private_key,
        "public": sb.sesame.alipay_public_key,
    }


@pytest.fixture
def files(tmp_path: Path, keys: dict[str, str]) -> dict[str, str]:
    out = {}
    for name in ("private", "public"):
        path = tmp_path / f"{name}.pem"
        path.write_text(keys[name], encoding="utf-8")
        out[name] = str(path)
    return out


def test_keys_from_file_variables(keys: dict[str, str], files: dict[str, str]) -> None:
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY_FILE": files["private"],
        P + "ALIPAY_PUBLIC_KEY_FILE": files["public"],
    }
    config = SesameConfig.from_env(environ=env)
    assert config.app_id == keys["app_id"]
    legacy = {k: v for k, v in env.items() if k != P + "ALIPAY_PUBLIC_KEY_FILE"}
    legacy[P + "ALIPAY_PUBLIC_KEY_PATH"] = files["public"]
    assert SesameConfig.from_env(environ=legacy).alipay_public_key == config.alipay_public_key


def test_file_and_path_both_set(keys: dict[str, str], files: dict[str, str]) -> None:
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY_FILE": files["private"],
        P + "APP_PRIVATE_KEY_PATH": files["private"],
        P + "ALIPAY_PUBLIC_KEY": keys["public"],
    }
    with pytest.raises(ConfigurationError, match=r"APP_PRIVATE_KEY_FILE and .*_PATH are both set"):
        SesameConfig.from_env(environ=env)
    del env[P + "APP_PRIVATE_KEY_PATH"]
    env[P + "APP_PRIVATE_KEY"] = keys["private"]
    with pytest.raises(ConfigurationError, match=r"APP_PRIVATE_KEY and .*_FILE are both set"):
        SesameConfig.from_env(environ=env)


def test_path_where_key_text_belongs(keys: dict[str, str], files: dict[str, str]) -> None:
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY": files["private"],
        P + "ALIPAY_PUBLIC_KEY": keys["public"],
    }
    with pytest.raises(ConfigurationError) as info:
        SesameConfig.from_env(environ=env)
    assert "looks like a path" in str(info.value)
    assert "CREDITSDK_SESAME_APP_PRIVATE_KEY_FILE" in str(info.value)
    with pytest.raises(ConfigurationError, match="alipay_public_key looks like a path"):
        SesameConfig.from_env(
            app_id="A", app_private_key=keys["private"], alipay_public_key="alipay_pub.pem"
        )
    # A PathLike is read as the file, as before.
    config = SesameConfig.from_env(
        app_id="A", app_private_key=keys["private"], alipay_public_key=Path(files["public"])
    )
    assert config.app_id == "A"


def test_unreadable_file_names_variable_and_path(keys: dict[str, str], tmp_path: Path) -> None:
    missing = os.fspath(tmp_path / "gone.pem")
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY_FILE": missing,
        P + "ALIPAY_PUBLIC_KEY": keys["public"],
    }
    with pytest.raises(ConfigurationError) as info:
        SesameConfig.from_env(environ=env)
    assert "CREDITSDK_SESAME_APP_PRIVATE_KEY_FILE cannot be read" in str(info.value)
    assert missing in str(info.value)


def test_encrypt_key_from_file(keys: dict[str, str], files: dict[str, str], tmp_path: Path) -> None:
    aes = tmp_path / "aes"
    aes.write_text("MDEyMzQ1Njc4OWFiY2RlZg==\n", encoding="utf-8")  # 16 bytes, base64
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY": keys["private"],
        P + "ALIPAY_PUBLIC_KEY": keys["public"],
        P + "ENCRYPT_KEY_FILE": str(aes),
    }
    assert SesameConfig.from_env(environ=env).encrypt_key == b"0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "value"),
    [("SIGN_TYPE", "RSA256"), ("GATEWAY_URL", "openapi.alipay.com"), ("AUTHORIZE_URL", "x")],
)
def test_bad_value_from_a_variable_names_it(keys: dict[str, str], name: str, value: str) -> None:
    env = {
        P + "APP_ID": keys["app_id"],
        P + "APP_PRIVATE_KEY": keys["private"],
        P + "ALIPAY_PUBLIC_KEY": keys["public"],
        P + name: value,
    }
    with pytest.raises(ConfigurationError, match=P + name):
        SesameConfig.from_env(environ=env)
