"""Issue 13: every FireEye input rule lives in ``_protocol.inputs_<op>`` (pure), every client
goes through ``_protocol.<op>(config, …)``; strings from a CSV or a command line are inputs too;
``consent`` is keyword-only (positional: deprecated); ``FireEyeConfig.from_env``."""

from __future__ import annotations

import datetime as dt
import json
import sys
import typing
import warnings
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditsdk import Consent
from creditsdk.errors import ConfigurationError, InvalidInputError, UnverifiedCardWarning
from creditsdk.fireeye import (
    AsyncFireEyeClient,
    FireEyeClient,
    FireEyeConfig,
    FireEyeScore,
    TransactionCheck,
)
from creditsdk.fireeye import _protocol as proto
from creditsdk.sandbox import Sandbox

from ._wire import sent

CARD = "6222021234567890128"  # passes Luhn
SAMPLE_CARD = "6262320120123210"  # the product page's card: fails Luhn
SAMPLE_CERTID = "411524198810280019"  # the product page's ID number
ID_CARD = "11010519491231002X"
MOBILE = "13800138000"
TODAY = dt.date(2026, 12, 1)
CONSENT = Consent(
    reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
)
CONFIG = FireEyeConfig(institution_id="username", app_key="password", base_url="https://fe.test")


def _wire(op: Any) -> tuple[str, str, bytes]:
    method, url, _, body = sent(op)
    return method, url, body


def _envelope(op: Any) -> dict[str, Any]:
    method, url, body = _wire(op)
    query = urlsplit(url).query if method == "GET" else body.decode("ascii")
    form = parse_qs(query)
    assert list(form) == ["data"]
    envelope: dict[str, Any] = json.loads(form["data"][0])
    return envelope


# -- inputs: pure, strings as well as typed values -----------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "20161201",  # the wire's own format (the product page's sample)
        "2016-12-01",
        "2016/12/01",
        " 20161201 ",
        "２０１６１２０１",  # full-width, as a Chinese IME types it
        dt.date(2016, 12, 1),
        dt.datetime(2016, 12, 1, 23, 59),
    ],
)
def test_trans_date_strings_and_dates(raw: object) -> None:
    inputs = proto.inputs_verify_transaction(
        card_no=CARD, trans_date=raw, amount="212.00", today=TODAY
    )
    assert inputs.trans_date == dt.date(2016, 12, 1)


@pytest.mark.parametrize(
    "raw",
    [
        "2016121",
        "2016-1-1",
        "20161301",
        "2016-02-30",
        "2016-12-01T00:00",
        "01/12/2016",
        "",
        "x",
        "②⓪①⑥①②⓪①",  # circled digits: NFKC would make them 20161201
        "２０１６１２０¹",  # a superscript one
        "٢٠١٦١٢٠١",  # Arabic-Indic digits
        "2" * 10_000,
    ],
)
def test_bad_trans_date_strings_name_the_field(raw: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_verify_transaction(card_no=CARD, trans_date=raw, amount="1", today=TODAY)
    assert (info.value.field, info.value.rule) == ("trans_date", "format")


def test_trans_date_string_bounds_as_for_dates() -> None:
    for raw, rule in (("19991231", "range"), ("20261203", "future")):
        with pytest.raises(InvalidInputError) as info:
            proto.inputs_verify_transaction(card_no=CARD, trans_date=raw, amount="1", today=TODAY)
        assert (info.value.field, info.value.rule) == ("trans_date", rule)


@pytest.mark.parametrize(
    ("raw", "yuan"),
    [
        ("212.00", Decimal("212.00")),
        ("212", Decimal("212.00")),
        (" 212.5 ", Decimal("212.50")),
        ("1,234.50", Decimal("1234.50")),
        ("+0.01", Decimal("0.01")),
        (".5", Decimal("0.50")),
        ("２１２．００", Decimal("212.00")),
        (212, Decimal("212.00")),
        (Decimal("212.1000"), Decimal("212.10")),
    ],
)
def test_amount_strings_are_yuan(raw: object, yuan: Decimal) -> None:
    inputs = proto.inputs_verify_transaction(
        card_no=CARD, trans_date="20161201", amount=raw, today=TODAY
    )
    assert inputs.amount == yuan
    assert str(inputs.amount) == str(yuan)  # two places, always


def test_inputs_are_frozen_values_with_masked_repr() -> None:
    inputs = proto.inputs_verify_transaction(
        card_no=f" {CARD[:4]}-{CARD[4:]} ",
        trans_date="2016-12-01",
        amount="212",
        id_card=ID_CARD.lower(),
        mobile="+86 138 0013 8000",
        location=" 上海 ",
        today=TODAY,
    )
    assert inputs == proto.VerifyTransactionInputs(
        CARD, dt.date(2016, 12, 1), Decimal("212.00"), ID_CARD, MOBILE, "上海"
    )
    text = repr(inputs)
    for secret in (CARD, ID_CARD, MOBILE):
        assert secret not in text
    assert "6222***********0128" in text
    with pytest.raises(AttributeError):
        inputs.amount = Decimal(1)  # type: ignore[misc]
    score = proto.inputs_model_score(card_no=CARD, id_card=ID_CARD, mobile=MOBILE)
    assert score == proto.ModelScoreInputs(CARD, ID_CARD, MOBILE)
    for secret in (CARD, ID_CARD, MOBILE):
        assert secret not in repr(score)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"card_no": "6222-abc"}, "card_no"),
        ({"card_no": None}, "card_no"),
        ({"trans_date": 20161201}, "trans_date"),
        ({"amount": "1.5.0"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"id_card": "411524198810280018"}, "id_card"),
        ({"mobile": "12345"}, "mobile"),
        ({"location": ""}, "location"),
    ],
)
def test_every_rule_names_its_field_without_any_config(kw: dict[str, object], field: str) -> None:
    raw: dict[str, Any] = {"card_no": CARD, "trans_date": "20161201", "amount": "1", **kw}
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_verify_transaction(today=TODAY, **raw)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"card_no": "1"}, "card_no"), ({"id_card": "1"}, "id_card"), ({"mobile": "1"}, "mobile")],
)
def test_model_score_rules_name_their_field(kw: dict[str, str], field: str) -> None:
    raw = {"card_no": CARD, "id_card": ID_CARD, "mobile": MOBILE, **kw}
    with pytest.raises(InvalidInputError) as info:
        proto.inputs_model_score(**raw)
    assert info.value.field == field


def test_luhn_warning_of_inputs_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        proto.inputs_model_score(card_no=SAMPLE_CARD, id_card=ID_CARD, mobile=MOBILE)
    assert [(w.category, w.filename, w.lineno) for w in caught] == [
        (UnverifiedCardWarning, __file__, line)
    ]


# -- operations: the wire against the product page's samples ---------------------------------


def test_transaction_operation_from_strings_sends_the_product_page_sample() -> None:
    # The page's GET sample: {"transDate":"20161201","cardNo":"6262320120123210",
    # "certid":"411524198810280019","transAmount":"21200"} — ¥212.00 sent in fen.
    with pytest.warns(UnverifiedCardWarning):  # the page's card fails Luhn
        op = proto.verify_transaction(
            CONFIG,
            consent=CONSENT,
            card_no=SAMPLE_CARD,
            trans_date="20161201",
            amount="212.00",
            id_card=SAMPLE_CERTID,
        )
    assert _envelope(op)["data"] == {
        "transDate": "20161201",
        "cardNo": "6262320120123210",
        "certid": "411524198810280019",
        "transAmount": "21200",
    }
    method, url, _ = _wire(op)
    assert (method, url) == ("POST", "https://fe.test/fireeye/creditScore/transationAuthentication")
    assert (op.billed, op.idempotent, op.name) == (True, False, "transaction_auth")


def test_get_layout_and_yuan_unit_from_the_config() -> None:
    config = FireEyeConfig(
        "username", "password", "https://fe.test", method="get", amount_unit="yuan"
    )
    op = proto.verify_transaction(
        config, consent=CONSENT, card_no=CARD, trans_date="2016-12-01", amount="212.35"
    )
    method, url, body = _wire(op)
    assert (method, body) == ("GET", b"")
    assert urlsplit(url).path == "/fireeye/creditScore/transationAuthentication"
    assert _envelope(op)["data"]["transAmount"] == 212.35


def test_model_score_operation_sends_the_product_page_envelope() -> None:
    # The page's model-score sample posts data={"id":"username","appKey":"password",
    # "data":{"mobile":"13888888888","cardNo":"6262320120123210","certid":"411524198810280019"}}
    with pytest.warns(UnverifiedCardWarning):
        op = proto.model_score(
            CONFIG,
            consent=CONSENT,
            card_no=SAMPLE_CARD,
            id_card=SAMPLE_CERTID,
            mobile="13888888888",
        )
    assert _envelope(op) == {
        "id": "username",
        "appKey": "password",
        "data": {"mobile": "13888888888", "cardNo": SAMPLE_CARD, "certid": SAMPLE_CERTID},
    }
    assert _wire(op)[1] == "https://fe.test/fireeye/creditScore/UnionPayModelScore"


@pytest.mark.parametrize("consent", [None, "AUTH1", object()])
def test_operations_require_a_consent(consent: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        proto.model_score(CONFIG, consent=consent, card_no=CARD, id_card=ID_CARD, mobile=MOBILE)
    assert info.value.field == "consent"
    with pytest.raises(InvalidInputError) as info:
        proto.verify_transaction(
            CONFIG, consent=consent, card_no=CARD, trans_date="20161201", amount="1"
        )
    assert info.value.field == "consent"


# -- the clients take strings too, end to end ----------------------------------------------


def test_clients_take_csv_strings_end_to_end() -> None:
    sb = Sandbox(providers=["fireeye"])
    real = sb.fireeye.transactions(CARD)[0]
    with sb.fireeye_client() as fe:
        check = fe.verify_transaction(
            CARD, real.date.strftime("%Y%m%d"), str(real.amount), consent=CONSENT
        )
        wrong = fe.verify_transaction(
            CARD, real.date.isoformat(), str(real.amount + 1), consent=CONSENT
        )
    assert check.matched is True
    assert (wrong.matched, wrong.transaction_found) == (False, False)


async def test_async_client_takes_strings() -> None:
    sb = Sandbox(providers=["fireeye"])
    real = sb.fireeye.transactions(CARD)[0]
    async with sb.async_fireeye_client() as fe:
        check = await fe.verify_transaction(
            CARD, real.date.isoformat(), str(real.amount), consent=CONSENT
        )
    assert check.matched is True


# -- consent keyword-only, positional deprecated --------------------------------------------


def test_positional_consent_is_deprecated_but_works_and_points_at_the_caller() -> None:
    sb = Sandbox(providers=["fireeye"])
    real = sb.fireeye.transactions(CARD)[0]
    with sb.fireeye_client() as fe, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        check = fe.verify_transaction(CARD, real.date, real.amount, CONSENT)  # type: ignore[misc]
        score = fe.model_score(CARD, ID_CARD, MOBILE, CONSENT)  # type: ignore[misc]
    assert check.matched is True
    assert score.score == sb.fireeye.score_for(CARD, ID_CARD, MOBILE)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [(w.filename, w.lineno) for w in deprecations] == [
        (__file__, line),
        (__file__, line + 1),
    ]
    assert "consent=" in str(deprecations[0].message)


def test_positional_details_after_consent_keep_their_meaning() -> None:
    sb = Sandbox(providers=["fireeye"])
    real = sb.fireeye.transactions(CARD)[0]
    sb.fireeye.add_transaction(CARD, real.date, Decimal("7.00"), id_card=ID_CARD, mobile=MOBILE)
    with (
        sb.fireeye_client() as fe,
        pytest.warns(DeprecationWarning, match="consent, id_card, mobile"),
    ):
        ok = fe.verify_transaction(CARD, real.date, "7.00", CONSENT, ID_CARD, MOBILE)  # type: ignore[misc]
    with (
        sb.fireeye_client() as fe,
        pytest.warns(DeprecationWarning, match="consent, id_card, mobile"),
    ):
        other = fe.verify_transaction(CARD, real.date, "7.00", CONSENT, ID_CARD, "13900139000")  # type: ignore[misc]
    assert (ok.matched, other.matched, other.transaction_found) == (True, False, True)


def test_positional_misuse_is_a_type_error() -> None:
    sb = Sandbox(providers=["fireeye"])
    with sb.fireeye_client() as fe, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="multiple values"):
            fe.model_score(CARD, ID_CARD, MOBILE, CONSENT, consent=CONSENT)  # type: ignore[misc]
        with pytest.raises(TypeError, match="at most"):
            fe.model_score(CARD, ID_CARD, MOBILE, CONSENT, "x")  # type: ignore[misc]
        with pytest.raises(TypeError, match="at most"):
            fe.verify_transaction(CARD, "20250101", "1", CONSENT, None, None, None, "x")  # type: ignore[misc]
    assert sb.ledger("fireeye") == []


async def test_async_positional_consent_is_deprecated_and_points_at_the_caller() -> None:
    sb = Sandbox(providers=["fireeye"])
    async with sb.async_fireeye_client() as fe:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = sys._getframe().f_lineno + 1
            score = await fe.model_score(CARD, ID_CARD, MOBILE, CONSENT)  # type: ignore[misc]
    assert score.hit
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [(w.filename, w.lineno) for w in deprecations] == [(__file__, line)]


def test_luhn_warning_of_verify_transaction_points_at_the_caller() -> None:
    sb = Sandbox(providers=["fireeye"])
    with sb.fireeye_client() as fe, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        fe.verify_transaction(SAMPLE_CARD, "20250101", "1.00", consent=CONSENT)
    cards = [w for w in caught if issubclass(w.category, UnverifiedCardWarning)]
    assert [(w.filename, w.lineno) for w in cards] == [(__file__, line)]


async def test_async_luhn_warning_points_at_the_caller() -> None:
    sb = Sandbox(providers=["fireeye"])
    async with sb.async_fireeye_client() as fe:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = sys._getframe().f_lineno + 1
            await fe.verify_transaction(SAMPLE_CARD, "20250101", "1.00", consent=CONSENT)
    cards = [w for w in caught if issubclass(w.category, UnverifiedCardWarning)]
    assert [(w.filename, w.lineno) for w in cards] == [(__file__, line)]


# -- FireEyeConfig ----------------------------------------------------------------------------


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITSDK_FIREEYE_INSTITUTION_ID", "ENVINST")
    monkeypatch.setenv("CREDITSDK_FIREEYE_APP_KEY", "env-app-key-271828")
    monkeypatch.setenv("CREDITSDK_FIREEYE_BASE_URL", "https://env.test/")
    monkeypatch.setenv("CREDITSDK_FIREEYE_METHOD", "get")
    monkeypatch.setenv("CREDITSDK_FIREEYE_AMOUNT_UNIT", "yuan")
    config = FireEyeConfig.from_env()
    assert (config.institution_id, config.app_key, config.base_url) == (
        "ENVINST",
        "env-app-key-271828",
        "https://env.test",
    )
    assert (config.method, config.amount_unit) == ("GET", "yuan")
    assert FireEyeConfig.from_env(method="POST", amount_unit="fen").method == "POST"
    assert "env-app-key-271828" not in repr(config)
    with FireEyeClient() as fe:  # the client reads the same variables
        assert (fe.method, fe.amount_unit, fe.base_url) == ("GET", "yuan", "https://env.test")
        assert fe.config == config


def test_config_defaults_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INSTITUTION_ID", "APP_KEY", "BASE_URL", "METHOD", "AMOUNT_UNIT"):
        monkeypatch.delenv(f"CREDITSDK_FIREEYE_{name}", raising=False)
    config = FireEyeConfig.from_env("I", "K")
    assert (config.base_url, config.method, config.amount_unit) == (
        "https://risktech.unionpay.com",
        "POST",
        "fen",
    )
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_APP_KEY"):
        FireEyeConfig.from_env("I")
    monkeypatch.setenv("CREDITSDK_FIREEYE_AMOUNT_UNIT", "jiao")
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_AMOUNT_UNIT"):
        FireEyeConfig.from_env("I", "K")
    monkeypatch.setenv("CREDITSDK_FIREEYE_BASE_URL", "risktech.unionpay.com")
    with pytest.raises(ConfigurationError, match="CREDITSDK_FIREEYE_BASE_URL"):
        FireEyeConfig.from_env("I", "K", amount_unit="fen")
    with pytest.raises(ConfigurationError) as info:  # a bad argument is named as such
        FireEyeConfig.from_env("I", "K", base_url="ftp://x", amount_unit="fen")
    assert "CREDITSDK" not in str(info.value)
    for bad in ({"institution_id": ""}, {"app_key": 5}, {"method": "PUT"}, {"base_url": "x"}):
        kw: dict[str, Any] = {"institution_id": "I", "app_key": "K", **bad}
        with pytest.raises(ConfigurationError):
            FireEyeConfig(**kw)


def test_client_takes_a_config_but_not_both() -> None:
    config = FireEyeConfig("INST", "key-0123456789", "https://fe.test", amount_unit="yuan")
    with FireEyeClient(config=config) as fe:
        assert fe.config is config
        assert (fe.institution_id, fe.amount_unit, fe.method) == ("INST", "yuan", "POST")
        assert "key-0123456789" not in repr(fe)
        with pytest.raises(AttributeError):
            fe.amount_unit = "fen"  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="either"):
        FireEyeClient(institution_id="X", config=config)
    with pytest.raises(ConfigurationError):
        AsyncFireEyeClient(config="INST")  # type: ignore[arg-type]


# -- typed surface -----------------------------------------------------------------------------


def _mentions_any(hint: object) -> bool:
    return hint is Any or any(_mentions_any(arg) for arg in typing.get_args(hint))


@pytest.mark.parametrize(
    "owner", [FireEyeClient, AsyncFireEyeClient, FireEyeConfig, TransactionCheck, FireEyeScore]
)
def test_public_surface_has_no_any(owner: type) -> None:
    fields = {k: v for k, v in typing.get_type_hints(owner).items() if not k.startswith("_")}
    assert not {k: v for k, v in fields.items() if _mentions_any(v)}
    checked = 0
    for name in dir(owner):
        if name.startswith("_") and name != "__init__":
            continue
        member = getattr(owner, name)
        func = member.fget if isinstance(member, property) else member
        if not callable(func) or isinstance(func, type):
            continue
        try:
            hints = typing.get_type_hints(func)
        except TypeError:  # a builtin slot wrapper
            continue
        checked += 1
        untyped = {k: v for k, v in hints.items() if _mentions_any(v)}
        assert not untyped, f"{owner.__name__}.{name}: {untyped}"
    assert checked >= 2


# -- answers: the product page's samples, byte for byte ---------------------------------------

TRANSACTION_SAMPLE_ANSWER = '{\n  "respCd": "0000",\n  "data": 1,\n  "msg": "Success"\n}'
SCORE_SAMPLE_ANSWER = '{\n"resp":"0000",\n"msg":"Success",\n"data":888\n}'


def test_the_product_page_sample_answers_parse() -> None:
    check = proto.parse_transaction(
        httpx.Response(200, content=TRANSACTION_SAMPLE_ANSWER.encode()), card="c"
    )
    assert check == TransactionCheck(True, "0000", "Success", None, "c")
    score = proto.parse_score(httpx.Response(200, content=SCORE_SAMPLE_ANSWER.encode()), card="c")
    assert score == FireEyeScore(888, "0000", "Success", "c")


# -- whatever text comes in: a value or an InvalidInputError naming the field -------------------


@given(st.text(max_size=60), st.text(max_size=60))
def test_any_text_is_a_value_or_an_invalid_input_error(day: str, amount: str) -> None:
    field = None
    try:
        inputs = proto.inputs_verify_transaction(
            card_no=CARD, trans_date=day, amount=amount, today=TODAY
        )
    except InvalidInputError as exc:
        field = exc.field
    assert field in (None, "trans_date", "amount")
    if field is None:
        assert dt.date(2000, 1, 1) <= inputs.trans_date <= TODAY + dt.timedelta(days=1)
        assert inputs.amount > 0
        assert inputs.amount == inputs.amount.quantize(Decimal("0.01"))


@given(st.integers(min_value=1, max_value=10**15 - 1))
def test_amount_text_round_trips_to_the_fen(fen: int) -> None:
    text = f"{fen // 100}.{fen % 100:02d}"
    inputs = proto.inputs_verify_transaction(
        card_no=CARD, trans_date="20250101", amount=text, today=TODAY
    )
    assert proto.encode_amount(inputs.amount, "fen") == str(fen)
