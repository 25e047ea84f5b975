"""Fuzz: every provider operation, run through the whole call driver (client, transport,
retry loop, audit), against an answer of any status (200, 400, 401, 404, 429, 5xx) and any
body — deeply nested JSON, huge strings, invalid UTF-8, random JSON objects shaped like the
provider's answers — lets nothing but a creditsdk error out (or returns a result).

Issue 11 item 4: a nested JSON body on a 400/500 raised a raw RecursionError from all three
providers, which the parser-level fuzzers (status 200 only) could not see.

The answers come from an ``httpx.MockTransport`` given as ``http_client=``; the retry policy
makes one attempt, so nothing sleeps. A few hundred examples per test keep each under ~10 s.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditsdk import Applicant, Consent, MemoryAuditSink, RetryPolicy
from creditsdk.errors import CreditSDKError
from creditsdk.sandbox import Sandbox

STATUSES = [200, 400, 401, 404, 429, 500, 502, 503, 504]
EXAMPLES = 400
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ONE = RetryPolicy.no_retries()
APPLICANT = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
CONSENT = Consent("AUTH1", "credit_underwriting", dt.datetime(2026, 11, 1))
CARD = "6222020000000000000"

# Bodies built once: the hostile ones are big, and hypothesis only picks among them.
DEEP = [
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"code":"0","data":' * 50_000 + b"{}" + b"}" * 50_000,
]
HUGE = [
    json.dumps({"code": "1", "message": "x" * 2_000_000}).encode(),
    b'"' + b"\\u0000" * 300_000 + b'"',
    b"1" * 1_000_000,
    b"9" * 5_000 + b"e99999",
]
BAD_BYTES = [b"\xff\xfe\x00", b'{"code": "\xc3\x28"}', b"\xed\xa0\x80", b"\x80" * 1000]
KEYS = [
    "code", "message", "msg", "data", "sign", "transaction_id", "transNo", "resCode", "resMsg",
    "score", "result", "error_response", "sub_code", "sub_msg", "zm_score", "is_admittance",
    "level", "authorized", "access_token", "user_id", "expires_in", "refresh_token",
    "zhima_credit_score_get_response", "zhima_credit_score_brief_get_response",
    "zhima_credit_watchlist_brief_get_response", "zhima_auth_info_authquery_response",
    "alipay_system_oauth_token_response", "statusCode", "resultCode", "body", "cipher",
]  # fmt: skip

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["0", "1", "10000", "40004", "200", "-1", "", "null", "true"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except ValueError:  # a float json refuses
        return b"{}"


BODIES = st.one_of(
    st.sampled_from(DEEP),
    st.sampled_from(HUGE),
    st.sampled_from(BAD_BYTES),
    st.binary(max_size=64),
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6).map(_encode),
    JSON.map(_encode),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json;charset=UTF-8", "text/html", "text/plain", None]
)


class _Answers:
    """A MockTransport handler that answers what the current example chose."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.content_type: str | None = None
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        headers = {"Content-Type": self.content_type} if self.content_type else {}
        return httpx.Response(self.status, content=self.body, headers=headers)


Call = Callable[[Any], Any]
CALLS: dict[str, list[tuple[str, Call]]] = {
    "tianyuan": [
        ("multi_lending", lambda c: c.multi_lending(APPLICANT, consent=CONSENT)),
        (
            "call",
            lambda c: c.call(
                "JRZQ8F7C",
                {"name": "张三", "id_card": APPLICANT.id_card, "mobile_no": APPLICANT.mobile},
                consent=CONSENT,
            ),
        ),
    ],
    "fireeye": [
        (
            "verify_transaction",
            lambda c: c.verify_transaction(CARD, dt.date(2025, 3, 14), Decimal("1.00"), CONSENT),
        ),
        (
            "model_score",
            lambda c: c.model_score(CARD, APPLICANT.id_card, APPLICANT.mobile, CONSENT),
        ),
    ],
    "sesame": [
        ("score", lambda c: c.score("token-0123456789", CONSENT)),
        ("admittance", lambda c: c.admittance(APPLICANT, 600, CONSENT)),
        ("authorization_status", lambda c: c.authorization_status(APPLICANT, consent=CONSENT)),
        ("watchlist", lambda c: c.watchlist(APPLICANT, CONSENT, "w1010100100000000001")),
        ("exchange_code", lambda c: c.exchange_code("auth-code-0123456789")),
    ],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(seed=11)
    yield sb
    sb.stop()


def _fuzz(sandbox: Sandbox, provider: str) -> None:
    answers = _Answers()
    audit = MemoryAuditSink()
    http = httpx.Client(transport=httpx.MockTransport(answers))
    client = getattr(sandbox, f"{provider}_client")(http_client=http, audit=audit, retry=ONE)
    calls = CALLS[provider]

    @FUZZ
    @given(
        which=st.integers(0, len(calls) - 1),
        status=st.sampled_from(STATUSES),
        body=BODIES,
        content_type=CONTENT_TYPES,
    )
    def run(which: int, status: int, body: bytes, content_type: str | None) -> None:
        answers.status, answers.body, answers.content_type = status, body, content_type
        before = answers.requests
        name, call = calls[which]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(client)
        except CreditSDKError:
            pass
        except BaseException as exc:  # pragma: no cover - the failure being looked for
            raise AssertionError(
                f"{provider}.{name} on HTTP {status} let {type(exc).__name__} escape"
            ) from exc
        assert answers.requests == before + 1, "one attempt, one request"

    try:
        run()
    finally:
        client.close()
        http.close()


@pytest.mark.parametrize("provider", sorted(CALLS))
def test_only_creditsdk_errors_escape_any_status_any_body(sandbox: Sandbox, provider: str) -> None:
    _fuzz(sandbox, provider)
