"""Validation in one place: ``_protocol.inputs_<operation>`` and ``_protocol.<operation>``.

Every rule raises InvalidInputError naming the field, before any I/O; the clients are one line
over the same functions; ``consent`` is keyword-only (positional still works, with a warning).
"""

from __future__ import annotations

import datetime as dt
import inspect
import typing
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from Crypto.PublicKey import RSA

from creditsdk import Applicant, Consent
from creditsdk.errors import ConfigurationError, InvalidInputError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import AsyncSesameClient, AuthorizationStatus, Grant, SesameClient
from creditsdk.sesame import _protocol as p
from creditsdk.sesame import client as client_module
from creditsdk.sesame.models import mask_user_id

from ._wire import biz

ID = "11010519491231002X"
GRANT = Grant(
    access_token="authusrB1",
    refresh_token="authusrB2",
    user_id="2088000000000001",
    expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
)


def _fails(field: str, rule: str | None = None) -> Any:
    class Check:
        def __enter__(self) -> None:
            return None

        def __exit__(self, tp: Any, exc: Any, tb: Any) -> bool:
            assert isinstance(exc, InvalidInputError), f"expected InvalidInputError, got {exc!r}"
            assert exc.field == field, (exc.field, field)
            if rule is not None:
                assert exc.rule == rule, (exc.rule, rule)
            return True

    return Check()


# -- inputs: pure, strings and typed values -----------------------------------------------------


def test_admittance_inputs_from_a_csv_row_and_from_an_applicant(applicant: Applicant) -> None:
    from_row = p.inputs_admittance(name=" 张三 ", id_card="110105 19491231 002x", threshold="650")
    typed = p.inputs_admittance(applicant=applicant, threshold=650)
    assert (from_row.person.name, from_row.person.id_card) == ("张三", ID)
    assert from_row.threshold == typed.threshold == 650
    assert from_row.product_code == typed.product_code == p.BRIEF_PRODUCT_CODE
    assert from_row.transaction_id is None  # drawn when the Operation is built
    assert typed.person.masked() == applicant.masked()  # audit keeps what it had
    assert from_row.person.masked() == {"name": "张*", "id_card": "110105********002X"}


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        ({"threshold": 650}, "applicant", "required"),
        ({"name": "张三", "threshold": 650}, "id_card", "required"),
        ({"id_card": ID, "threshold": 650}, "name", "required"),
        (
            {"name": "张三", "id_card": "110105194912310021", "threshold": 650},
            "id_card",
            "checksum",
        ),
        ({"name": "张三", "id_card": ID, "threshold": True}, "threshold", "range"),
        ({"name": "张三", "id_card": ID, "threshold": 650.0}, "threshold", "range"),
        ({"name": "张三", "id_card": ID, "threshold": "6五0"}, "threshold", "range"),
        ({"name": "张三", "id_card": ID, "threshold": "951"}, "threshold", "range"),
        ({"name": "张三", "id_card": ID, "threshold": 349}, "threshold", "range"),
        (
            {"name": "张三", "id_card": ID, "threshold": 650, "product_code": "w1 x"},
            "product_code",
            "format",
        ),
        (
            {"name": "张三", "id_card": ID, "threshold": 650, "product_code": ""},
            "product_code",
            "required",
        ),
        (
            {"name": "张三", "id_card": ID, "threshold": 650, "transaction_id": "a-b"},
            "transaction_id",
            "format",
        ),
        ({"applicant": "张三", "threshold": 650}, "applicant", "type"),
    ],
)
def test_admittance_inputs_name_the_field(raw: dict[str, Any], field: str, rule: str) -> None:
    with _fails(field, rule):
        p.inputs_admittance(**raw)


def test_an_applicant_and_a_name_together_is_a_conflict(applicant: Applicant) -> None:
    with _fails("applicant", "conflict"):
        p.inputs_watchlist(applicant=applicant, name="李四", product_code="w1")


def test_watchlist_needs_a_product_code(applicant: Applicant) -> None:
    with _fails("product_code", "required"):
        p.inputs_watchlist(applicant=applicant)


def test_score_inputs() -> None:
    assert p.inputs_score(grant_or_token=GRANT).auth_token == "authusrB1"
    assert p.inputs_score(grant_or_token=" authusrB9 ", transaction_id="t_1") == p.ScoreInputs(
        auth_token="authusrB9", product_code=p.SCORE_PRODUCT_CODE, transaction_id="t_1"
    )
    with _fails("grant", "required"):
        p.inputs_score(grant_or_token="  ")
    with _fails("grant", "format"):
        p.inputs_score(grant_or_token="tok en")  # a space inside a token: a paste error
    with _fails("grant", "type"):
        p.inputs_score(grant_or_token=42)  # type: ignore[arg-type]


def test_token_call_inputs() -> None:
    assert p.inputs_refresh(grant=GRANT).refresh_token == "authusrB2"
    assert p.inputs_refresh(grant="authusrB7").refresh_token == "authusrB7"
    with _fails("refresh_token", "required"):
        p.inputs_refresh(grant=GRANT.__class__(**{**_grant_fields(), "refresh_token": None}))
    with _fails("code", "required"):
        p.inputs_exchange_code(code="")


def _grant_fields() -> dict[str, Any]:
    return {
        "access_token": "authusrB1",
        "refresh_token": "authusrB2",
        "user_id": "2088000000000001",
        "expires_at": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    }


def test_authorization_status_inputs(applicant: Applicant) -> None:
    by_grant = p.inputs_authorization_status(who=GRANT)
    assert (by_grant.identity_type, by_grant.identity_param) == ("5", {"userId": GRANT.user_id})
    assert p.inputs_authorization_status(user_id="2088000000000001") == by_grant
    by_person = p.inputs_authorization_status(name="张三", id_card=ID)
    assert by_person.identity_type == "2"
    assert by_person.identity_param == {"certNo": ID, "certType": "IDENTITY_CARD", "name": "张三"}
    assert p.inputs_authorization_status(who=applicant).identity_param == by_person.identity_param
    with _fails("who", "required"):
        p.inputs_authorization_status()
    with _fails("who", "conflict"):
        p.inputs_authorization_status(who=GRANT, user_id="2088")
    with _fails("user_id", "conflict"):
        p.inputs_authorization_status(user_id="2088", name="张三", id_card=ID)
    with _fails("who", "type"):
        p.inputs_authorization_status(who=2088)  # type: ignore[arg-type]


def test_authorization_url_inputs() -> None:
    with _fails("redirect_uri", "format"):
        p.inputs_authorization_url(redirect_uri="javascript:alert(1)", state="s")
    with _fails("state", "format"):
        p.inputs_authorization_url(redirect_uri="https://l.example/cb", state="x" * 257)
    with _fails("scope", "format"):
        p.inputs_authorization_url(redirect_uri="https://l.example/cb", state="s", scope="A B")


def test_inputs_reprs_mask_people_and_hide_tokens(applicant: Applicant) -> None:
    shown = " ".join(
        repr(v)
        for v in (
            p.inputs_admittance(applicant=applicant, threshold=650),
            p.inputs_watchlist(name="张三", id_card=ID, product_code="w1"),
            p.inputs_authorization_status(who=GRANT),
            p.inputs_score(grant_or_token="authusrSECRET"),
            p.inputs_refresh(grant="authusrREFRESH"),
            p.inputs_exchange_code(code="authcodeSECRET"),
        )
    )
    for secret in ("张三", ID, "13800138000", "authusrSECRET", "authusrREFRESH", "authcodeSECRET",
                   "2088000000000001"):  # fmt: skip
        assert secret not in shown
    assert "110105********002X" in shown
    assert "张*" in shown


# -- operations: consent checked where the Operation is built ----------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["sesame"], seed=3) as sandbox:
        yield sandbox


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"sent {request.method} although the input was bad")


def test_billed_operations_need_a_consent(sb: Sandbox, applicant: Applicant) -> None:
    config = sb.sesame_client().config
    with _fails("consent", "required"):
        p.score(config, grant_or_token=GRANT)
    with _fails("consent", "required"):
        p.admittance(config, applicant=applicant, threshold=650)
    with _fails("consent", "type"):
        p.watchlist(config, consent="yes", applicant=applicant, product_code="w1")  # type: ignore[arg-type]
    assert p.authorization_status(config, who=GRANT).consent is None  # not billed: optional


def test_each_billed_call_draws_its_own_transaction_id(sb: Sandbox, consent: Consent) -> None:
    config = sb.sesame_client().config
    ops = [p.score(config, consent=consent, grant_or_token=GRANT) for _ in range(2)]
    ids = {biz(op)["transaction_id"] for op in ops}
    assert len(ids) == 2


def test_bad_input_never_reaches_the_network(
    sb: Sandbox, applicant: Applicant, consent: Consent
) -> None:
    zm = sb.sesame_client(http_client=httpx.Client(transport=httpx.MockTransport(_no_network)))
    with _fails("product_code", "format"):
        zm.watchlist(applicant, consent=consent, product_code="w1\r\nX-Injected: 1")
    with _fails("product_code", "required"):
        zm.watchlist(applicant, consent=consent)
    with _fails("threshold", "range"):
        zm.admittance(applicant, 1000, consent=consent)
    with _fails("grant", "format"):
        zm.score("tok en", consent=consent)
    with _fails("consent", "required"):
        zm.score(GRANT)


# -- consent is keyword-only; the old positional form warns ---------------------------------------


def test_positional_consent_still_works_with_a_deprecation_warning(
    sb: Sandbox, consent: Consent, applicant: Applicant
) -> None:
    sb.sesame.set_watchlist(ID, 2)
    with sb.sesame_client() as zm:
        with pytest.warns(DeprecationWarning, match=r"watchlist\(\): pass consent=, product_code="):
            old = zm.watchlist(applicant, consent, "w1010100000000009999", "watch_dep_1")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            new = zm.watchlist(
                applicant,
                consent=consent,
                product_code="w1010100000000009999",
                transaction_id="watch_dep_1",
            )
        assert old == new
        with pytest.warns(DeprecationWarning, match="admittance") as caught:
            zm.admittance(applicant, 600, consent)
        assert caught[0].filename == __file__  # points at the caller's line
        with pytest.raises(TypeError, match="multiple values"):
            zm.admittance(applicant, 600, consent, consent=consent)
        with pytest.raises(TypeError, match="at most"):
            zm.watchlist(applicant, consent, "w1", "t_1", "extra")


async def test_async_positional_consent_warns_too(sb: Sandbox, consent: Consent) -> None:
    async with sb.async_sesame_client() as zm:
        code = zm.parse_redirect(
            sb.sesame.approve(zm.authorization_url("https://l.example/cb", "s")), "s"
        )
        grant = await zm.exchange_code(code)
        with pytest.warns(DeprecationWarning, match="AsyncSesameClient.score"):
            first = await zm.score(grant, consent, transaction_id="async_dep_1")
        assert await zm.score(grant, consent=consent, transaction_id="async_dep_1") == first
    assert inspect.iscoroutinefunction(AsyncSesameClient.score)


def test_signatures_are_keyword_only_for_consent() -> None:
    for cls in (SesameClient, AsyncSesameClient):
        for name in ("score", "admittance", "watchlist", "authorization_status"):
            param = inspect.signature(getattr(cls, name)).parameters["consent"]
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, (cls, name)
    for name in ("exchange_code", "refresh", "score", "authorization_status", "admittance",
                 "watchlist"):  # fmt: skip
        params = inspect.signature(getattr(p, name)).parameters
        assert params["consent"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["consent"].default is None
        assert all(
            v.kind is inspect.Parameter.KEYWORD_ONLY for k, v in params.items() if k != "config"
        )


# -- configuration from the environment ------------------------------------------------------------


def _pem(key: RSA.RsaKey) -> str:
    return key.export_key().decode()


def test_from_env_reads_every_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, app_key: RSA.RsaKey, alipay_key: RSA.RsaKey
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(_pem(app_key))
    env = {
        "CREDITSDK_SESAME_APP_ID": "2021000000000001",
        "CREDITSDK_SESAME_APP_PRIVATE_KEY_PATH": str(key_file),
        "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": _pem(alipay_key.public_key()),
        "CREDITSDK_SESAME_GATEWAY_URL": "https://gw.example/gateway.do",
        "CREDITSDK_SESAME_AUTHORIZE_URL": "https://auth.example/oauth2/publicAppAuthorize.htm",
        "CREDITSDK_SESAME_SIGN_TYPE": "RSA",
        "CREDITSDK_SESAME_ENCRYPT_KEY": "AAAAAAAAAAAAAAAAAAAAAA==",
    }
    config = p.SesameConfig.from_env(environ=env)
    assert config.app_id == "2021000000000001"
    assert config.private_key.n == app_key.n
    assert config.alipay_public_key.n == alipay_key.n
    assert config.gateway_url == "https://gw.example/gateway.do"
    assert config.authorize_url.startswith("https://auth.example/")
    assert (config.sign_type, config.encrypt_key) == ("RSA", bytes(16))
    # arguments win over the environment; the client reads os.environ the same way
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with SesameClient(gateway_url="https://other.example/gateway.do") as zm:
        assert zm.gateway_url == "https://other.example/gateway.do"
        assert zm.config.sign_type == "RSA"
    with SesameClient(config=config) as zm:
        assert zm.config is config


def test_from_env_key_from_a_value_or_a_path_not_both(
    tmp_path: Any, app_key: RSA.RsaKey, alipay_key: RSA.RsaKey
) -> None:
    public = tmp_path / "alipay.pem"
    public.write_text(_pem(alipay_key.public_key()))
    base = {"CREDITSDK_SESAME_APP_ID": "1", "CREDITSDK_SESAME_APP_PRIVATE_KEY": _pem(app_key)}
    from_path = p.SesameConfig.from_env(alipay_public_key_path=public, environ=base)
    assert from_path.alipay_public_key.n == alipay_key.n
    with pytest.raises(ConfigurationError, match="_PATH are both set"):
        p.SesameConfig.from_env(
            environ={**base, "CREDITSDK_SESAME_APP_PRIVATE_KEY_PATH": str(public)},
            alipay_public_key_path=public,
        )
    with pytest.raises(ConfigurationError, match="alipay_public_key or alipay_public_key_path"):
        p.SesameConfig.from_env(
            alipay_public_key=_pem(alipay_key.public_key()), alipay_public_key_path=public,
            environ=base,
        )  # fmt: skip
    with pytest.raises(ConfigurationError, match="CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY") as info:
        p.SesameConfig.from_env(environ=base)
    assert "PRIVATE KEY" not in str(info.value)
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError, match="CREDITSDK_SESAME_APP_PRIVATE_KEY_PATH"):
        p.SesameConfig.from_env(
            environ={"CREDITSDK_SESAME_APP_ID": "1",
                     "CREDITSDK_SESAME_APP_PRIVATE_KEY_PATH": str(missing)},
            alipay_public_key_path=public,
        )  # fmt: skip


def test_from_env_certificate_mode_from_variables(sb: Sandbox) -> None:
    pytest.importorskip("cryptography")
    with Sandbox(providers=["sesame"], seed=4, options={"sesame": {"cert_mode": True}}) as cert_sb:
        s = cert_sb.sesame
        env = {
            "CREDITSDK_SESAME_APP_ID": s.app_id,
            "CREDITSDK_SESAME_APP_PRIVATE_KEY": s.app_private_key,
            "CREDITSDK_SESAME_APP_CERT": s.app_cert,
            "CREDITSDK_SESAME_ALIPAY_CERT": s.alipay_cert,
            "CREDITSDK_SESAME_ALIPAY_ROOT_CERT": s.alipay_root_cert,
        }
        config = p.SesameConfig.from_env(environ=env)
        assert config.certs is not None
        # an explicit alipay_public_key argument chooses public-key mode over the variables
        keyed = p.SesameConfig.from_env(alipay_public_key=sb.sesame.alipay_public_key, environ=env)
        assert keyed.certs is None
        with pytest.raises(ConfigurationError, match="both set"):
            p.SesameConfig.from_env(
                environ={**env, "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": sb.sesame.alipay_public_key}
            )
        # certificate arguments win over a public key left in the environment
        explicit = p.SesameConfig.from_env(
            app_id=s.app_id,
            app_private_key=s.app_private_key,
            app_cert=s.app_cert,
            alipay_cert=s.alipay_cert,
            alipay_root_cert=s.alipay_root_cert,
            environ={"CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY": sb.sesame.alipay_public_key},
        )
        assert explicit.certs is not None


def test_config_and_credential_arguments_together_is_an_error(sb: Sandbox) -> None:
    config = sb.sesame_client().config
    with pytest.raises(ConfigurationError, match="app_id"):
        SesameClient(app_id="x", config=config)


# -- one user-id mask; typed surface ---------------------------------------------------------------


def test_short_user_ids_do_not_show_their_length() -> None:
    assert mask_user_id("2088000000000001") == "2088********0001"
    assert mask_user_id("abc123") == mask_user_id("a") == "****"
    assert "'****'" in repr(AuthorizationStatus(authorized=True, open_id="abc123"))


def test_client_surface_is_typed() -> None:
    for cls in (SesameClient, AsyncSesameClient):
        hints = typing.get_type_hints(cls.__init__, globalns=vars(client_module))
        for name in ("verify", "audit", "http_client", "config"):
            assert hints[name] is not Any, (cls, name)
            assert "Any" not in str(hints[name]), (cls, name, hints[name])
        assert typing.get_type_hints(cls.config.fget)["return"] is p.SesameConfig  # type: ignore[attr-defined]


def test_generated_transaction_ids_survive_the_masking_pass(monkeypatch: Any) -> None:
    """A UUID4's hex can hold a long digit run that looks like a card or mobile: the masking pass
    then starred it out of the audit event, which no longer matched the result (a flaky test
    found it). Grouped ids cannot hold such a run."""
    import uuid

    from creditsdk._core.redact import scrub_text
    from creditsdk.sesame import _inputs

    mobile_like = uuid.UUID(hex="a13800138000bcdefabcdefabcdefabc")  # a mobile number inside
    assert scrub_text("csdk_" + mobile_like.hex) != "csdk_" + mobile_like.hex  # the old id
    monkeypatch.setattr(_inputs.uuid, "uuid4", lambda: mobile_like)
    fixed = _inputs.new_transaction_id()
    assert fixed == "csdk_a1380013_8000bcde_fabcdefa_bcdefabc"
    assert scrub_text(fixed) == fixed
    monkeypatch.undo()
    ids = {_inputs.new_transaction_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(scrub_text(t) == t and len(t) == 40 for t in ids)


@pytest.mark.parametrize("redirect", ["http://[::1/cb?auth_code=x&state=s", "https://[x?state=s"])
def test_a_redirect_urllib_cannot_split_is_an_input_error(redirect: str) -> None:
    """The fuzzer's find: urlsplit raised ValueError ("Invalid IPv6 URL") out of parse_redirect."""
    from creditsdk.errors import InvalidInputError
    from creditsdk.sesame import _protocol

    with pytest.raises(InvalidInputError) as caught:
        _protocol.parse_redirect(redirect, "s")
    assert caught.value.field == "redirect"
