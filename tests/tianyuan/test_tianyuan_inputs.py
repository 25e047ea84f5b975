"""Validation lives in `_protocol`: ``inputs_<op>`` takes typed values and the strings of a CSV
or CLI, refuses bad ones naming the field (rules of docs/protocols.md §4), and ``<op>(config,
*, consent, ...)`` builds the Operation whose request carries the documented parameters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from ty_helpers import ACCESS_ID, BASE, KEY_HEX, unseal, wire

from creditsdk import Applicant, Consent
from creditsdk.errors import ConfigurationError, InvalidInputError
from creditsdk.tianyuan import BucketTables, TianyuanClient
from creditsdk.tianyuan import _protocol as proto

KEY = bytes.fromhex(KEY_HEX)
CONFIG = proto.TianyuanConfig(access_id=ACCESS_ID, key=KEY, base_url=BASE, tables=BucketTables({}))
APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent(
    reference="AUTH20251210001", purpose="credit_underwriting", granted_at=dt.datetime(2026, 11, 1)
)


def sent(op: Any) -> dict[str, Any]:
    _path, _headers, body = wire(op)
    return unseal(KEY, json.loads(body)["data"])  # type: ignore[no-any-return]


def test_csv_strings_and_an_applicant_give_the_same_inputs() -> None:
    # Full-width digits, spaces and a lower-case x, as a spreadsheet export has them.
    raw = proto.inputs_multi_lending(
        name=" 张三 ", id_card="１１０１０５１９４９１２３１００２x", mobile="138 0013 8000"
    )
    assert raw == proto.inputs_multi_lending(APPLICANT)
    assert raw.applicant == APPLICANT
    assert "11010519491231002X" not in repr(raw)


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        ({}, "name", "required"),
        ({"name": "张三", "id_card": "11010519491231002X", "mobile": ""}, "mobile", "required"),
        ({"name": "张三", "id_card": "110101199001011234", "mobile": "13800138000"}, "id_card",
         "checksum"),  # the seed's sample number: its check digit is wrong
        ({"name": "张三", "id_card": "110105491231002", "mobile": "13800138000"}, "id_card",
         "legacy_15_digit"),  # 15-digit legacy numbers are refused
        ({"name": "张三", "id_card": "11010519491231002X", "mobile": "12800138000"}, "mobile",
         "format"),
        ({"name": "张3", "id_card": "11010519491231002X", "mobile": "13800138000"}, "name",
         "format"),
        ({"applicant": {"name": "张三"}}, "applicant", "type"),
        ({"applicant": APPLICANT, "mobile": "13800138000"}, "mobile", "conflict"),
    ],
)  # fmt: skip
def test_bad_multi_lending_inputs_name_the_field(
    raw: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_multi_lending(**raw)
    assert (info.value.field, info.value.rule) == (field, rule)
    with pytest.raises(InvalidInputError) as again:
        proto.multi_lending(CONFIG, consent=CONSENT, **raw)
    assert again.value.field == field


def test_consent_is_required_and_keyword_only() -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.multi_lending(CONFIG, applicant=APPLICANT)
    assert (info.value.field, info.value.rule) == ("consent", "required")
    with pytest.raises(InvalidInputError) as info:
        proto.call(CONFIG, product_code="JRZQ8F7C", params={}, consent="AUTH1")
    assert (info.value.field, info.value.rule) == ("consent", "type")
    with pytest.raises(TypeError):
        proto.multi_lending(CONFIG, CONSENT)  # type: ignore[misc]
    with TianyuanClient(ACCESS_ID, KEY_HEX, BASE) as ty, pytest.raises(TypeError):
        ty.multi_lending(APPLICANT, CONSENT)  # type: ignore[misc]


def test_multi_lending_sends_the_documented_parameters() -> None:
    # seed 002 / docs/protocols.md [C]: name, id_card, mobile_no, auth_authorize_file_code
    op = proto.multi_lending(
        CONFIG, consent=CONSENT, name="张三", id_card="11010519491231002x", mobile="13800138000"
    )
    assert op.name == "JRZQ9E2A"
    assert wire(op)[0] == "/api/v1/JRZQ9E2A"
    assert sent(op) == {
        "name": "张三",
        "id_card": "11010519491231002X",
        "mobile_no": "13800138000",
        "auth_authorize_file_code": "AUTH20251210001",
    }
    assert op.applicant == APPLICANT.masked()
    assert op.consent is CONSENT


@pytest.mark.parametrize("code", ["jrzq8f7c", "JRZ", "JRZQ8F7C/../x", "", None, 8, "JRZQ 8F7C"])
def test_a_bad_product_code_is_refused_before_io(code: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_call(code, {})
    assert (info.value.field, info.value.rule) == ("product_code", "format")
    nowhere = "http://127.0.0.1:9"  # nothing listens: an attempt would be a TransportError
    with TianyuanClient(ACCESS_ID, KEY_HEX, nowhere) as ty, pytest.raises(InvalidInputError):
        ty.call(code, {}, consent=CONSENT)  # type: ignore[arg-type]


def test_call_params_from_a_mapping_or_json_text() -> None:
    inputs = proto.inputs_call(
        "JRZQ8F7C", '{"idCard": "11010519491231002x", "phone": "13800138000"}'
    )
    assert dict(inputs.params) == {"idCard": "11010519491231002X", "phone": "13800138000"}
    assert inputs.masked() == {"id_card": "110105********002X", "mobile": "138****8000"}
    with pytest.raises(TypeError):
        inputs.params["idCard"] = "x"  # type: ignore[index]
    op = proto.call(CONFIG, consent=CONSENT, product_code="JRZQ8F7C", params=inputs.params)
    assert sent(op) == dict(inputs.params)
    assert wire(op)[0] == "/api/v1/JRZQ8F7C"


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ("[1, 2]", "params", "type"),
        ("{not json", "params", "format"),
        ({"idCard": "110101199001011234"}, "params.idCard", "checksum"),
        ({"mobile_no": "1380013800"}, "params.mobile_no", "format"),
        ({"when": dt.date(2026, 1, 1)}, "params", "type"),
    ],
)
def test_bad_call_params_name_the_field(params: object, field: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_call("JRZQ8F7C", params)
    assert info.value.field == field
    assert info.value.rule == rule


# -- TianyuanConfig.from_env ------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ACCESS_ID", "ACCESS_KEY", "BASE_URL", "KEY_FORMAT", "BUCKET_TABLES"):
        monkeypatch.delenv(f"CREDITSDK_TIANYUAN_{name}", raising=False)
    return monkeypatch


def test_from_env_reads_every_setting(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tables = tmp_path / "t.csv"
    tables.write_text("factor,code,low,high,bounds\nxyp_cpl0001,1,0,9,()\n", encoding="utf-8")
    env.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", "ty-env")
    env.setenv("CREDITSDK_TIANYUAN_ACCESS_KEY", "0123456789abcdef")
    env.setenv("CREDITSDK_TIANYUAN_BASE_URL", "https://ty.example/")
    env.setenv("CREDITSDK_TIANYUAN_KEY_FORMAT", "utf8")
    env.setenv("CREDITSDK_TIANYUAN_BUCKET_TABLES", str(tables))
    config = proto.TianyuanConfig.from_env()
    assert config.access_id == "ty-env"
    assert config.key == b"0123456789abcdef"
    assert config.base_url == "https://ty.example"
    assert set(config.tables.tables) == {"xyp_cpl0001"}
    assert "0123456789abcdef" not in repr(config)
    # An argument wins over its variable; the client reads the same settings.
    assert proto.TianyuanConfig.from_env(access_key=KEY_HEX, key_format="hex").key == KEY
    with TianyuanClient() as ty:
        assert ty.base_url == "https://ty.example"
        assert set(ty.bucket_tables.tables) == {"xyp_cpl0001"}


def test_from_env_names_what_is_missing_or_wrong(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="CREDITSDK_TIANYUAN_ACCESS_ID"):
        proto.TianyuanConfig.from_env()
    env.setenv("CREDITSDK_TIANYUAN_ACCESS_ID", "ty-env")
    with pytest.raises(ConfigurationError, match="CREDITSDK_TIANYUAN_ACCESS_KEY"):
        proto.TianyuanConfig.from_env()
    env.setenv("CREDITSDK_TIANYUAN_ACCESS_KEY", KEY_HEX)
    env.setenv("CREDITSDK_TIANYUAN_KEY_FORMAT", "base64")
    with pytest.raises(ConfigurationError, match="key_format") as info:
        proto.TianyuanConfig.from_env()
    assert KEY_HEX not in str(info.value)
    env.setenv("CREDITSDK_TIANYUAN_KEY_FORMAT", "hex")
    env.setenv("CREDITSDK_TIANYUAN_BASE_URL", "ftp://ty.example")
    with pytest.raises(ConfigurationError, match="http"):
        proto.TianyuanConfig.from_env()
    env.delenv("CREDITSDK_TIANYUAN_BASE_URL")
    assert proto.TianyuanConfig.from_env().base_url == "https://api.tianyuanapi.com"


def test_a_client_takes_a_ready_config(env: pytest.MonkeyPatch) -> None:
    config = proto.TianyuanConfig.from_env(access_id="ty-cfg", access_key=KEY_HEX, base_url=BASE)
    with TianyuanClient(config=config) as ty:
        assert ty.base_url == BASE
        op = proto.multi_lending(config, consent=CONSENT, applicant=APPLICANT)
        assert wire(op)[1]["access-id"] == "ty-cfg"
    with pytest.raises(ConfigurationError, match="not both"):
        TianyuanClient("ty-other", config=config)
    with pytest.raises(ConfigurationError, match="TianyuanConfig"):
        TianyuanClient(config={"access_id": "x"})  # type: ignore[arg-type]


def test_a_real_number_whose_county_was_created_later_is_accepted() -> None:
    # docs/protocols.md §4 [C]: county 411524 was created in 1998, the holder born in 1988.
    inputs = proto.inputs_multi_lending(
        name="李四", id_card="411524198810280019", mobile="13900139000"
    )
    assert inputs.applicant.id_card == "411524198810280019"


def test_inputs_and_answers_do_not_show_personal_data() -> None:
    inputs = proto.inputs_call("JRZQ8F7C", {"name": "张三", "id_card": "11010519491231002X"})
    answer = proto.ProductAnswer(
        "JRZQ8F7C", "T1", "成功", {"echo": "11010519491231002X"}, CONFIG.tables
    )
    for text in (repr(inputs), repr(proto.inputs_multi_lending(APPLICANT)), repr(answer)):
        assert "11010519491231002X" not in text
        assert "张三" not in text
