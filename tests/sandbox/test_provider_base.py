"""Every provider sandbox derives from one base: the same fail_next, client overrides, pins,
balance, ledger and a typed accessor. Tianyuan and FireEye are driven with raw requests (their
own encryption / form layout, not the clients); Sesame, whose requests are RSA-signed, through
its client."""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

from creditsdk import Applicant, Consent, RetryPolicy
from creditsdk.errors import ConfigurationError, ProviderError
from creditsdk.fireeye.sandbox import FireEyeSandbox
from creditsdk.sandbox import InjectedFailure, ProviderSandboxBase, Sandbox, discover_providers
from creditsdk.sesame.sandbox import SesameSandbox
from creditsdk.tianyuan.sandbox import TianyuanSandbox

ID_CARD = "11010519491231002X"
MOBILE = "13800138000"
CARD = "6262320120123210"
CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc),
)
APPLICANT = Applicant(name="张三", id_card=ID_CARD, mobile=MOBILE)
NO_RETRY = RetryPolicy(max_attempts=1)
CLASSES = (TianyuanSandbox, FireEyeSandbox, SesameSandbox)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed=7)  # in-process
    yield sandbox
    sandbox.stop()


# -- raw requests, written from the protocol notes ---------------------------------------------


def _seal(key: bytes, obj: Any) -> str:
    iv = b"\x05" * 16
    plain = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(pad(plain, 16))).decode()


def _unseal(key: bytes, data: str) -> Any:
    blob = base64.b64decode(data)
    return json.loads(unpad(AES.new(key, AES.MODE_CBC, blob[:16]).decrypt(blob[16:]), 16))


def ty_post(sb: Sandbox, product: str) -> dict[str, Any]:
    ty = sb.provider(TianyuanSandbox)
    params = {
        "name": "张三",
        "id_card": ID_CARD,
        "mobile_no": MOBILE,
        "auth_authorize_file_code": "AUTH1",
    }
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        response = http.post(
            f"/api/v1/{product}?t=1",
            json={"data": _seal(bytes.fromhex(ty.access_key), params)},
            headers={"Access-Id": ty.access_id},
        )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def fe_score(sb: Sandbox, card: str = CARD) -> dict[str, Any]:
    fe = sb.provider(FireEyeSandbox)
    envelope = {
        "id": fe.institution_id,
        "appKey": fe.app_key,
        "data": {"cardNo": card, "certid": ID_CARD, "mobile": MOBILE},
    }
    with httpx.Client(transport=sb.transport(), base_url="http://sandbox.invalid") as http:
        response = http.post(
            "/fireeye/creditScore/UnionPayModelScore", data={"data": json.dumps(envelope)}
        )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


# -- one base ----------------------------------------------------------------------------------


def test_every_discovered_provider_sandbox_derives_from_the_base(sb: Sandbox) -> None:
    assert set(discover_providers()) >= {c.name for c in CLASSES}
    for name in sb.providers:
        assert isinstance(sb.provider(name), ProviderSandboxBase), name


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_fail_next_has_one_signature(cls: type[ProviderSandboxBase[Any, Any]]) -> None:
    params = [
        (p.name, p.kind, p.default)
        for p in list(inspect.signature(cls.fail_next).parameters.values())[1:]
        if p.kind is not inspect.Parameter.VAR_KEYWORD  # Sesame's deprecated keywords
    ]
    assert params == [
        ("code", inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.empty),
        ("times", inspect.Parameter.KEYWORD_ONLY, 1),
        ("message", inspect.Parameter.KEYWORD_ONLY, None),
    ]


@pytest.mark.parametrize("name", ["tianyuan", "fireeye", "sesame"])
@pytest.mark.parametrize("times", [0, -1, True, 1.5])
def test_fail_next_refuses_a_count_that_is_not_a_positive_integer(
    sb: Sandbox, name: str, times: Any
) -> None:
    with pytest.raises(ConfigurationError, match="times"):
        sb.provider(name).fail_next("0004" if name == "fireeye" else 1001, times=times)  # type: ignore[attr-defined]


def test_tianyuan_fail_next_times_and_message_then_success(sb: Sandbox) -> None:
    sb.tianyuan.fail_next("2001", times=2, message="业务失败: sandbox")
    assert sb.tianyuan.pending_failures == [InjectedFailure(2001, "业务失败: sandbox")] * 2
    answers = [ty_post(sb, "JRZQ8F7C") for _ in range(3)]
    assert [(a["code"], a["message"]) for a in answers[:2]] == [(2001, "业务失败: sandbox")] * 2
    assert answers[2]["code"] == 0
    assert len(sb.tianyuan.ledger()) == 1
    with pytest.raises(ConfigurationError, match="0 is success"):
        sb.tianyuan.fail_next(0)


def test_fireeye_fail_next_takes_a_message_and_an_int_code(sb: Sandbox) -> None:
    sb.fireeye.fail_next(4, message="处理出错")  # 4 is "0004"
    assert fe_score(sb) == {"resp": "0004", "msg": "处理出错"}
    assert fe_score(sb)["resp"] == "0000"
    assert len(sb.fireeye.ledger()) == 1
    for billed in ("0000", "0003", 3):
        with pytest.raises(ConfigurationError, match="refusal"):
            sb.fireeye.fail_next(billed)


def test_sesame_fail_next_derives_the_gateway_code_and_keeps_the_message(sb: Sandbox) -> None:
    sb.sesame.fail_next("ZMCREDIT.no_valid_arrangement", message="合约已被冻结")
    sb.sesame.fail_next("isp.unknow-error")
    with sb.sesame_client(retry=NO_RETRY) as zm:
        with pytest.raises(ProviderError) as frozen:
            zm.admittance(APPLICANT, 600, consent=CONSENT)
        with pytest.raises(ProviderError) as down:
            zm.admittance(APPLICANT, 600, consent=CONSENT)
        assert zm.admittance(APPLICANT, 600, consent=CONSENT).admitted is not None
    assert (frozen.value.code, frozen.value.sub_code) == (  # type: ignore[attr-defined]
        "40004",
        "ZMCREDIT.no_valid_arrangement",
    )
    assert "合约已被冻结" in frozen.value.message
    assert down.value.code == "20000"
    assert len(sb.sesame.ledger()) == 1


def test_sesame_fail_next_old_keywords_still_work_with_a_warning(sb: Sandbox) -> None:
    with pytest.warns(DeprecationWarning, match="fail_next"):
        sb.sesame.fail_next("isv.app-call-limited", code="40006", sub_msg="slow down")
    assert sb.sesame.pending_failures == [
        InjectedFailure("40006 isv.app-call-limited", "slow down")
    ]
    with pytest.raises(TypeError, match="sub_kode"):
        sb.sesame.fail_next("isv.x", sub_kode="typo")
    for wrong in ("10000 isv.x", "99999 isv.x", 40004, "not a code!"):
        with pytest.raises(ConfigurationError, match="sub_code"):
            sb.sesame.fail_next(wrong)


# -- clients: any constructor keyword overrides the Sandbox's default ---------------------------


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("tianyuan", "access_id", "ty-someone-else"),
        ("fireeye", "app_key", "f" * 32),
        ("sesame", "app_id", "2021000000000042"),
    ],
)
def test_client_overrides_win_over_the_sandbox_defaults(
    sb: Sandbox, name: str, field: str, value: str
) -> None:
    provider = sb.provider(name)
    options = provider.client_options(**{field: value})  # type: ignore[attr-defined]
    assert options[field] == value
    for make in (getattr(sb, f"{name}_client"), getattr(sb, f"async_{name}_client")):
        client = make(**{field: value})
        assert type(client).__name__.endswith("Client")


@pytest.mark.parametrize("name", ["tianyuan", "fireeye", "sesame"])
def test_a_callers_http_client_replaces_the_in_process_wiring(sb: Sandbox, name: str) -> None:
    mine = httpx.Client(transport=sb.transport())
    client = getattr(sb, f"{name}_client")(http_client=mine)
    assert sb._owned_http == []  # the Sandbox made no client of its own to leak
    client.close()
    mine.close()


# -- typed accessor ----------------------------------------------------------------------------


def test_provider_by_class_is_typed_and_the_same_object(sb: Sandbox) -> None:
    ty: TianyuanSandbox = sb.provider(TianyuanSandbox)
    assert ty is sb.tianyuan
    assert sb.provider(SesameSandbox) is sb.sesame
    only = Sandbox(providers=["fireeye"])
    with pytest.raises(ConfigurationError, match="TianyuanSandbox"):
        only.provider(TianyuanSandbox)


# -- pins, balance, ledger ---------------------------------------------------------------------


def test_pins_are_checked_the_same_way_everywhere(sb: Sandbox) -> None:
    sb.fireeye.pin(CARD, "not_hit")
    assert fe_score(sb)["data"] == -1
    sb.fireeye.unpin(CARD)
    assert sb.fireeye.pinned(CARD) is None
    for provider in (sb.tianyuan, sb.fireeye):
        with pytest.raises(ConfigurationError, match="unknown scenario"):
            provider.pin(ID_CARD, "rich")
    with pytest.raises(ConfigurationError, match="no scenarios"):
        sb.sesame.pin(ID_CARD, "anything")
    sb.tianyuan.pin(" 11010519491231002x ", "no_data")
    assert sb.tianyuan.scenario_for(ID_CARD) == "no_data"


def test_every_provider_has_a_balance_and_refuses_unbilled_when_it_is_out() -> None:
    opts = {"balance": 1}
    sb = Sandbox(seed=3, options={"tianyuan": opts, "fireeye": opts, "sesame": opts})
    assert ty_post(sb, "JRZQ8F7C")["code"] == 0
    assert ty_post(sb, "JRZQ8F7C")["code"] == 1007
    assert fe_score(sb)["resp"] == "0000"
    assert fe_score(sb) == {"resp": "0001", "msg": "Failed"}
    with sb.sesame_client(retry=NO_RETRY) as zm:
        zm.admittance(APPLICANT, 600, consent=CONSENT, transaction_id="bal_1")
        assert zm.admittance(APPLICANT, 600, consent=CONSENT, transaction_id="bal_1")  # a repeat
        with pytest.raises(ProviderError) as out:
            zm.admittance(APPLICANT, 600, consent=CONSENT, transaction_id="bal_2")
    assert out.value.sub_code == "ZMCREDIT.no_valid_arrangement"  # type: ignore[attr-defined]
    for name in ("tianyuan", "fireeye", "sesame"):
        assert sb.provider(name).balance == 0  # type: ignore[attr-defined]
        assert len(sb.ledger(name)) == 1
        assert sb.provider(name).ledger() == sb.ledger(name)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="balance"):
        Sandbox(providers=["fireeye"], options={"fireeye": {"balance": -1}})
    with pytest.raises(ConfigurationError, match="balance"):
        sb.tianyuan.balance = "10"
    sb.fireeye.balance = None  # unlimited again
    assert fe_score(sb)["resp"] == "0000"


# -- an unknown Tianyuan product ---------------------------------------------------------------


@pytest.mark.parametrize("product", ["FLXG0V4B", "NOPE0001"])
def test_an_unimplemented_product_gets_1008_even_when_enabled(sb: Sandbox, product: str) -> None:
    sb.tianyuan.enabled_products.add(product)
    answer = ty_post(sb, product)
    assert answer["code"] == 1008
    assert answer["message"] == "产品未开通"
    assert answer["data"] == ""
    assert sb.ledger("tianyuan") == []
    assert sb.tianyuan.balance == 1000


def test_the_composite_product_still_answers_its_parts(sb: Sandbox) -> None:
    answer = ty_post(sb, "COMB86PM")
    assert answer["code"] == 0
    parts = _unseal(bytes.fromhex(sb.tianyuan.access_key), answer["data"])["responses"]
    assert [p["api_code"] for p in parts] == ["JRZQ9E2A", "JRZQ8F7C"]


def test_enabling_an_unimplemented_product_by_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="FLXG0V4B"):
        Sandbox(providers=["tianyuan"], options={"tianyuan": {"enabled_products": {"FLXG0V4B"}}})


# -- the central sandbox names no provider ------------------------------------------------------


def test_the_sandbox_package_names_no_provider() -> None:
    import creditsdk.sandbox

    folder = Path(creditsdk.sandbox.__file__).parent
    names = set(discover_providers())
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8").lower()
        assert not [n for n in names if n in text], path.name


def test_discovery_imports_no_package_that_is_not_a_provider() -> None:
    code = (
        "import sys; from creditsdk.sandbox import discover_providers; "
        "found = discover_providers(); "
        "print(sorted(found)); "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['creditsdk', 'batch'], ['creditsdk', 'evaluate'])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert set(json.loads(out[0].replace("'", '"'))) >= {c.name for c in CLASSES}
    assert out[1] == "[]"


def test_the_sandbox_ledger_class_is_no_longer_public() -> None:
    import creditsdk.sandbox

    assert "Ledger" not in creditsdk.sandbox.__all__
    with pytest.warns(DeprecationWarning, match="sb.ledger"):
        assert creditsdk.sandbox.Ledger().entries() == []  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_typed_accessor_and_client_factories_are_typed_for_mypy(tmp_path: Path) -> None:
    snippet = tmp_path / "typed.py"
    snippet.write_text(
        "from creditsdk.sandbox import ProviderSandbox, Sandbox, SandboxContext\n"
        "from creditsdk.tianyuan.sandbox import TianyuanSandbox\n"
        "def plug(ctx: SandboxContext) -> ProviderSandbox:\n"
        "    return TianyuanSandbox(ctx)\n"
        "sb = Sandbox()\n"
        "reveal_type(sb.provider(TianyuanSandbox))\n"
        "reveal_type(sb.provider(TianyuanSandbox).client(timeout=3))\n"
        "reveal_type(sb.provider(TianyuanSandbox).async_client())\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(snippet)],
        cwd=Path(__file__).resolve().parents[2],  # the repository's mypy cache: incremental
        capture_output=True,
        text=True,
        check=False,
    )
    revealed = [line.split('"')[1] for line in result.stdout.splitlines() if "Revealed" in line]
    assert revealed == [
        "creditsdk.tianyuan.sandbox.TianyuanSandbox",
        "creditsdk.tianyuan.client.TianyuanClient",
        "creditsdk.tianyuan.client.AsyncTianyuanClient",
    ], result.stdout
    assert "error" not in result.stdout.replace("no issues", ""), result.stdout
