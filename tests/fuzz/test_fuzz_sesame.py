"""Fuzz: Alipay answer extraction and verification and the redirect parser let only creditsdk
errors out; sign → verify round-trips (requests and answers) for arbitrary content."""

from __future__ import annotations

from typing import Any

from Crypto.PublicKey import RSA
from hypothesis import given

from creditsdk._core.crypto import rsa_sign, rsa_verify
from creditsdk.errors import CreditSDKError, InvalidInputError, ResponseIntegrityError
from creditsdk.sesame import _protocol as proto

from ._profile import FUZZ
from .source import SEEDS, Source, dumps, response

# 1024-bit keys keep 10,000 signatures fast; the code paths are those of 2048-bit keys.
APP_KEY = RSA.generate(1024)
ALIPAY_KEY = RSA.generate(1024)
CONFIG = proto.SesameConfig(
    app_id="2021000000000001",
    private_key=APP_KEY,
    alipay_public_key=ALIPAY_KEY.public_key(),
    gateway_url="https://openapi.example/gateway.do",
    authorize_url="https://openapi.example/oauth2/publicAppAuthorize.htm",
)
METHOD = "zhima.credit.score.get"
KEY = proto.response_key(METHOD)
# A well-formed signature by the right key — of other content.
OTHER_SIGN = rsa_sign(ALIPAY_KEY, b"other content")


def answer_text(src: Source) -> str:
    kind = src.byte() % 4
    if kind == 0:
        return src.text(60)
    if kind == 1:  # members in any order, some repeated, odd spacing
        parts = [
            f'"{src.choice([KEY, "error_response", "sign", src.text(6)])}"'
            f"{src.choice(['', ' ', chr(10)])}:{src.choice(['', ' '])}"
            f"{dumps(src.choice([src.json(), OTHER_SIGN, {'code': '10000'}]))}"
            for _ in range(src.int(0, 4))
        ]
        return "{" + src.choice([",", ", ", " ,"]).join(parts) + src.choice(["}", "", "}x", " }"])
    if kind == 2:
        return '{"' + KEY + '":' + src.text(30) + ',"sign":' + src.text(30) + "}"
    return dumps({KEY: src.json(), "sign": src.choice([OTHER_SIGN, src.text(20), 5])})


@FUZZ
@given(seed=SEEDS)
def test_extraction_and_verification_only_raise_integrity_errors(seed: bytes) -> None:
    src = Source(seed)
    text = answer_text(src)
    try:
        key, raw, sign = proto.extract_signed(text, METHOD)
    except ResponseIntegrityError:
        pass
    else:
        assert key in (KEY, "error_response")
        assert raw in text
        assert sign
    body = src.raw(80) if src.byte() % 5 == 0 else text.encode("utf-8", "surrogatepass")
    try:
        proto.verified_content(CONFIG, response(body), METHOD)
    except CreditSDKError:
        return
    raise AssertionError("an answer not signed by Alipay's key verified")


@FUZZ
@given(seed=SEEDS)
def test_sign_then_verify_round_trips(seed: bytes) -> None:
    src = Source(seed)
    # An answer: the signature covers the raw member text exactly as sent, however serialised.
    content: dict[str, Any] = {src.text(8): src.json() for _ in range(src.int(0, 5))}
    raw = dumps(content, ascii_only=src.flag(), spaced=src.flag())
    sign = rsa_sign(ALIPAY_KEY, raw.encode("utf-8", "surrogatepass"))
    parts = [f'"{KEY}": {raw}', f'"sign": "{sign}"']
    text = "{" + ", ".join(parts if src.flag() else parts[::-1]) + "}"
    body = text.encode("utf-8", "surrogatepass")
    assert proto.verified_content(CONFIG, response(body), METHOD) == content
    # A request: what the client signs is what the gateway verifies; a changed byte fails.
    params = {src.text(8) or "k": (None if src.byte() % 5 == 0 else src.text(16)) for _ in range(4)}
    signed = proto.sign_content(params).encode("utf-8", "surrogatepass")
    signature = rsa_sign(APP_KEY, signed)
    assert rsa_verify(APP_KEY.public_key(), signed, signature)
    assert not rsa_verify(APP_KEY.public_key(), signed + b"&x=1", signature)


@FUZZ
@given(seed=SEEDS)
def test_redirect_parsing_returns_a_code_or_an_input_error(seed: bytes) -> None:
    src = Source(seed)
    kind = src.byte() % 4
    redirect: Any
    if kind == 0:
        redirect = src.text(60)
    elif kind == 1:
        keys = ["auth_code", "code", "state", "error", "app_id"]
        redirect = {
            (src.choice(keys) if src.flag() else src.text(5)): src.choice(
                [src.text(10), [src.text(5)], [], src.int(0, 9)]
            )
            for _ in range(src.int(0, 4))
        }
    elif kind == 2:
        query = "&".join(
            f"{src.choice(['auth_code', 'state', 'error', 'code', 'x'])}={src.text(8)}"
            for _ in range(src.int(0, 4))
        )
        redirect = src.choice(["https://lender.example/cb?", "", "?"]) + query
    else:
        redirect = src.choice([None, 5, b"auth_code=1", ["state", "s"]])
    state = src.choice(["s", "order-42", "", None, src.text(5)])
    try:
        code = proto.parse_redirect(redirect, state)  # type: ignore[arg-type]
    except InvalidInputError:
        return
    assert isinstance(code, str)
    assert code
