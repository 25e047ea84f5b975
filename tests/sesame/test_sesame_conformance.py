"""Every field the SDK sends or reads, checked against the official alipay-sdk-python classes.

Not a test of the client against our own Sandbox: the reference is Alipay's generated model,
request and response classes (``alipay.aop.api.domain.*Model``, ``request.*Request``,
``response.*Response``), one per method. For each Zhima/OAuth operation the client builds:

- every ``biz_content`` key is a property of the method's ``*Model``;
- every other form-body parameter is a property of the method's ``*Request``;
- every URL-query parameter is one of the official common parameters (``COMMON_PARAM_KEYS``,
  plus the certificate-mode SNs the Java/PHP SDKs add);
- every answer field the parser reads (recorded while it parses) is a property of the
  ``*Response`` (``code``/``msg``/``sub_code``/``sub_msg`` come from ``AlipayResponse``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

pytest.importorskip("alipay.aop.api")

from alipay.aop.api.constant.ParamConstants import COMMON_PARAM_KEYS

from creditsdk import Applicant, Consent
from creditsdk._core.executors import as_httpx
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import Grant
from creditsdk.sesame import _protocol as p
from creditsdk.sesame.client import SesameClient

CERT_MODE_PARAMS = {"app_cert_sn", "alipay_root_cert_sn"}  # Java AlipayConstants, PHP AopCertClient


def _camel(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("."))


def _official(kind: str, method: str) -> Any:
    name = _camel(method) + {"domain": "Model", "request": "Request", "response": "Response"}[kind]
    module = importlib.import_module(f"alipay.aop.api.{kind}.{name}")
    return getattr(module, name)


def _properties(cls: Any) -> set[str]:
    """Public properties, plus the attributes an instance sets (AlipayResponse's code, msg…)."""
    props = {n for c in cls.__mro__ for n, v in vars(c).items() if isinstance(v, property)}
    instance = {n for n in vars(cls()) if not n.startswith("_")}
    return props | instance


class _Recorder(dict):  # type: ignore[type-arg]
    """A dict that remembers which keys were read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


# A full success answer per method: every field the official Response class knows.
_ANSWERS: dict[str, dict[str, Any]] = {
    p.M_TOKEN: {"access_token": "authusrB1", "alipay_user_id": "2088", "expires_in": "60",
                "re_expires_in": "120", "refresh_token": "authusrB2", "user_id": "2088",
                "open_id": "0x", "auth_start": "", "auth_token_type": "", "union_id": ""},
    p.M_SCORE: {"code": "10000", "msg": "Success", "zm_score": "700", "biz_no": "ZM"},
    p.M_AUTHQUERY: {"code": "10000", "msg": "Success", "authorized": True, "open_id": "0x"},
    p.M_BRIEF: {"code": "10000", "msg": "Success", "is_admittance": "Y", "biz_no": "ZM"},
    p.M_WATCHLIST: {"code": "10000", "msg": "Success", "level": "0", "biz_no": "ZM"},
}  # fmt: skip


@pytest.fixture(scope="module")
def zm() -> Iterator[SesameClient]:
    with Sandbox(providers=["sesame"], seed=5) as sb, sb.sesame_client() as client:
        yield client


def _operations(zm: SesameClient) -> list[tuple[str, Any]]:
    consent = Consent(reference="R1", purpose="credit_underwriting",
                      granted_at=__import__("datetime").datetime(2026, 1, 1))  # fmt: skip
    who = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    grant = Grant(access_token="authusrB1", refresh_token="authusrB2", user_id="2088000000000001",
                  expires_at=__import__("datetime").datetime(2030, 1, 1))  # fmt: skip
    return [
        (p.M_TOKEN, zm._exchange_op("code-1")),
        (p.M_TOKEN, zm._refresh_op(grant)),
        (p.M_SCORE, zm._score_op(grant, consent, p.SCORE_PRODUCT_CODE, None)),
        (p.M_AUTHQUERY, zm._authquery_op(who, None)),
        (p.M_AUTHQUERY, zm._authquery_op(grant, None)),
        (p.M_BRIEF, zm._admittance_op(who, 650, consent, p.BRIEF_PRODUCT_CODE, None)),
        (p.M_WATCHLIST, zm._watchlist_op(who, consent, "w1", None)),
    ]


def _sent(request: httpx.Request) -> tuple[dict[str, str], dict[str, str]]:
    query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    body = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    return query, body


def test_every_method_the_sdk_sends_is_covered(zm: SesameClient) -> None:
    methods = {m for m, _ in _operations(zm)}
    assert methods == {p.M_TOKEN, p.M_SCORE, p.M_AUTHQUERY, p.M_BRIEF, p.M_WATCHLIST}


@pytest.mark.parametrize("index", range(7))
def test_request_fields_exist_on_the_official_classes(zm: SesameClient, index: int) -> None:
    method, op = _operations(zm)[index]
    query, body = _sent(as_httpx(op.build_request()))
    assert query["method"] == method
    assert set(query) <= COMMON_PARAM_KEYS | CERT_MODE_PARAMS, set(query) - COMMON_PARAM_KEYS
    request_props = _properties(_official("request", method))
    top_level = set(body) - {"biz_content"}
    assert top_level <= request_props, (
        f"{method}: not on the official Request: {top_level - request_props}"
    )
    if "biz_content" in body:
        model_props = _properties(_official("domain", method))
        keys = set(json.loads(body["biz_content"]))
        assert keys <= model_props, f"{method}: not on the official Model: {keys - model_props}"


@pytest.mark.parametrize("index", range(7))
def test_answer_fields_read_exist_on_the_official_response(
    zm: SesameClient, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    method, op = _operations(zm)[index]
    recorder = _Recorder(_ANSWERS[method])
    monkeypatch.setattr(p, "verified_content", lambda *_a: recorder)
    op.parse_response(httpx.Response(200, content=b"{}"))
    response_props = _properties(_official("response", method))
    assert recorder.read, "the parser read nothing?"
    assert recorder.read <= response_props, (
        f"{method}: read but not on the official Response: {recorder.read - response_props}"
    )


def test_the_check_catches_a_wrong_name() -> None:
    """The walk is not vacuous: the old brief.get key is not on the official model."""
    assert "admit_score" not in _properties(_official("domain", p.M_BRIEF))
    assert "admittance_score" in _properties(_official("domain", p.M_BRIEF))
