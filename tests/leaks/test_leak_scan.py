"""Leak scan: run every flow — successes, provider refusals, bad input, every injected fault —
with ``CREDITSDK_LOG=debug`` and every logger (root, creditsdk, httpx, httpcore) at DEBUG, then
look for personal data and secrets in everything a user could see or store: log records (with
tracebacks), audit events, results' repr/str/to_dict, exceptions' str/repr (and their causes).

What we look for: the applicant's name, ID number, mobile and card number, every key, token,
auth code and signature that went over the wire (harvested from the requests and answers
themselves) — raw, URL-encoded, JSON-escaped (``\\uXXXX``) and base64.

Besides the Sandbox, a hostile provider (``_hostile_flows``) echoes the card, ID number, mobile,
name and the client's own key in every field it can: messages (raw, URL-encoded, JSON-escaped),
codes, transaction ids, FireEye's ``data``, and a name or card placed where a 200-character cut
falls.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import importlib.util
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from creditsdk import Applicant, Consent, MemoryAuditSink, RetryPolicy
from creditsdk._spec import MatrixOperation, ProviderSpec, Sample, discover_specs
from creditsdk.errors import CreditSDKError
from creditsdk.sandbox import FAULT_KINDS, Fault, Sandbox
from creditsdk.sesame import SesameClient

NAME = "张三丰"
ID_CARD = "11010519491231002X"
MOBILE = "13912345678"
CARD = "6222020000000000000"
APPLICANT = Applicant(name=NAME, id_card=ID_CARD, mobile=MOBILE)
CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0),
)
TRANS_DATE = dt.date(2025, 3, 14)
FAST = RetryPolicy(max_attempts=2, initial_backoff=0, jitter=0)
SLOW_TIMEOUT = httpx.Timeout(5.0, read=0.2)
DRIP_TIMEOUT = httpx.Timeout(0.3)
SAMPLE = Sample(applicant=APPLICANT, consent=CONSENT, card_no=CARD, trans_date=TRANS_DATE)


class Evidence:
    """Everything collected during the flows, and the secrets seen on the wire."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self.secrets: dict[str, str] = {}
        self.audit = MemoryAuditSink()
        self.errors: list[BaseException] = []
        self.harvesting = True
        self.played: list[str] = []  # "provider kind" of every fault played
        self.cancelled: list[str] = []  # providers whose cancelled call was scanned

    def secret(self, label: str, value: str | None) -> None:
        if value and len(value) >= 6:
            self.secrets.setdefault(value, label)

    def result(self, where: str, value: Any) -> None:
        self.texts.append((f"{where} repr", repr(value)))
        self.texts.append((f"{where} str", str(value)))
        for attr in ("to_dict", "_repr_html_"):
            method = getattr(value, attr, None)
            if callable(method):
                out = method()
                text = out if isinstance(out, str) else json.dumps(out, default=str)
                self.texts.append((f"{where} {attr}", text))
                if not isinstance(out, str):
                    self.texts.append(
                        (f"{where} {attr} (ascii)", json.dumps(out, default=str, ensure_ascii=True))
                    )

    def error(self, where: str, exc: BaseException) -> None:
        self.errors.append(exc)
        seen: BaseException | None = exc
        while seen is not None:
            self.texts.append((f"{where} {type(seen).__name__} str", str(seen)))
            self.texts.append((f"{where} {type(seen).__name__} repr", repr(seen)))
            seen = seen.__cause__ or seen.__context__

    def run(self, where: str, call: Callable[[], Any]) -> Any:
        try:
            value = call()
        except Exception as exc:
            self.error(where, exc)
            return None
        self.result(where, value)
        return value


class _Capture(logging.Handler):
    def __init__(self, evidence: Evidence) -> None:
        super().__init__(logging.DEBUG)
        self.evidence = evidence

    def emit(self, record: logging.LogRecord) -> None:
        self.evidence.records.append(record)


def _harvest(evidence: Evidence) -> dict[str, list[Callable[..., Any]]]:
    """httpx event hooks that note every signature, token and code that crosses the wire."""

    def on_request(request: httpx.Request) -> None:
        fields = dict(urllib.parse.parse_qsl(request.content.decode("utf-8", "replace")))
        fields.update(urllib.parse.parse_qsl(request.url.query.decode("ascii", "replace")))
        for name in ("sign", "auth_token", "code", "refresh_token"):
            evidence.secret(f"request {name}", fields.get(name))
        evidence.secret("request body", None)

    def on_response(response: httpx.Response) -> None:
        if not evidence.harvesting:  # a dripped answer: reading it here would beat the deadline
            return
        response.read()
        text = response.text
        for name in ("sign", "access_token", "refresh_token"):
            for match in re.finditer(rf'"{name}"\s*:\s*"([^"]+)"', text):
                evidence.secret(f"answer {name}", match.group(1))

    return {"request": [on_request], "response": [on_response]}


def _encodings(value: str) -> set[str]:
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=True)[1:-1],
    }
    if len(value) >= 12:
        forms.add(base64.b64encode(value.encode("utf-8")).decode("ascii").rstrip("="))
    return {f for f in forms if f}


@pytest.fixture(scope="module")
def evidence() -> Iterator[Evidence]:
    ev = Evidence()
    handler = _Capture(ev)
    loggers = [logging.getLogger(n) for n in ("", "creditsdk", "httpx", "httpcore")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    mp = pytest.MonkeyPatch()
    mp.setenv("CREDITSDK_LOG", "debug")
    from creditsdk._core.config import configure_logging_from_env

    configure_logging_from_env()
    try:
        with _leak_sandbox() as sb:
            _all_flows(sb, ev)
        yield ev
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in saved:
            lg.setLevel(level)
        sdk = logging.getLogger("creditsdk")
        for h in list(sdk.handlers):
            if getattr(h, "_creditsdk_env", False):
                sdk.removeHandler(h)
        mp.undo()


def _leak_sandbox() -> Sandbox:
    extra = {
        spec.name: factory
        for spec in discover_specs()
        if not spec.in_default_sandbox and (factory := spec.sandbox_factory()) is not None
    }
    return Sandbox(seed=11, extra_providers=extra)


def _spec_secrets(sb: Sandbox, ev: Evidence) -> None:
    """Every secret each provider's spec names on its sandbox (a PEM: each line of its body)."""
    for spec in discover_specs():
        provider = sb.provider(spec.name)
        for attr in spec.sandbox_secrets:
            value = getattr(provider, attr)
            for line in str(value).splitlines():
                if not line.startswith("-----"):
                    ev.secret(f"{spec.name} {attr}", line)


def _all_flows(sb: Sandbox, ev: Evidence) -> None:
    _spec_secrets(sb, ev)
    hooks = _harvest(ev)
    sb.tianyuan.balance = None
    sb.fireeye.add_transaction(CARD, TRANS_DATE, Decimal("212.00"))
    _tianyuan_flows(sb, ev, hooks)
    _fireeye_flows(sb, ev, hooks)
    _sesame_flows(sb, ev, hooks)
    for spec in discover_specs():
        for op in spec.matrix_operations():
            _faults(sb, ev, spec.name, op, hooks)
            for backend in BACKENDS:
                _cancelled(sb, ev, spec.name, op, backend)
            if AIOHTTP:
                _aiohttp_faults(sb, ev, spec.name, op)
    _hostile_flows(ev)


# -- a hostile provider: echoes everything it was sent, everywhere ---------------------------

HOSTILE_TY_KEY = "0123456789ABCDEF00112233445566FF"
HOSTILE_FE_KEY = "hostile-fireeye-app-key-0001"


def _echo(*secrets: str, name: bool = True) -> str:
    bits = [NAME] if name else []
    bits += [ID_CARD, ID_CARD.lower(), MOBILE, CARD, *secrets]
    encoded = [urllib.parse.quote(b, safe="") for b in bits] + [json.dumps(b)[1:-1] for b in bits]
    return "参数错误 " + " ".join(bits + encoded) + " +86" + MOBILE + " TY" + CARD + "X01"


_HOSTILE_TY_CALLS = iter(range(10**6))


def _hostile_tianyuan(request: httpx.Request) -> httpx.Response:
    n = next(_HOSTILE_TY_CALLS) % 4
    tids = [f"TY{ID_CARD}{MOBILE}", f"{CARD}", f"T-{MOBILE}-{ID_CARD.lower()}", f"TY{CARD}X{NAME}"]
    if n == 3:  # a success with "no data": the echo goes into the result itself
        body = {"code": 0, "message": _echo(HOSTILE_TY_KEY), "transaction_id": tids[n], "data": ""}
    elif n == 2:  # the name exactly where the 200-character cut falls
        body = {"code": 1001, "message": "x" * 198 + NAME, "transaction_id": tids[n]}
    else:
        body = {"code": 1001, "message": _echo(HOSTILE_TY_KEY), "transaction_id": tids[n]}
    return httpx.Response(200, json=body)


def _hostile_fireeye(request: httpx.Request) -> httpx.Response:
    # FireEye is never sent a name, so its echo holds none: a name has no pattern, and only
    # the names the SDK sent can be recognised (docs/consent-and-audit.md). It does echo the
    # name inside ``data``, which the SDK never shows.
    sent = json.loads(urllib.parse.parse_qs(request.content.decode())["data"][0])
    echo = {"cardNo": CARD, "certid": ID_CARD, "mobile": MOBILE, "name": NAME, "sent": sent}
    kind = sent["data"].get("transAmount")
    if kind == "100":
        body: dict[str, Any] = {
            "respCd": "0000",
            "msg": _echo(HOSTILE_FE_KEY, name=False),
            "data": echo,
        }
    elif kind == "200":
        body = {"respCd": CARD, "msg": _echo(HOSTILE_FE_KEY, name=False), "data": echo}
    elif kind == "300":
        # A card across the 200-character cut: masked first, then cut.
        body = {"respCd": "0000", "msg": "x" * 190 + CARD, "data": f"{CARD}"}
    else:
        body = {"respCd": "0004", "msg": _echo(HOSTILE_FE_KEY, name=False), "data": echo}
    return httpx.Response(200, json=body)


def _hostile_flows(ev: Evidence) -> None:
    from creditsdk.fireeye import FireEyeClient
    from creditsdk.tianyuan import TianyuanClient

    ev.secret("hostile tianyuan key", HOSTILE_TY_KEY)
    ev.secret("hostile fireeye app_key", HOSTILE_FE_KEY)
    with httpx.Client(transport=httpx.MockTransport(_hostile_tianyuan)) as http:
        ty = TianyuanClient(
            "hostile", HOSTILE_TY_KEY, "https://ty.hostile", http_client=http, audit=ev.audit
        )
        for _ in range(4):
            ev.run("hostile tianyuan", lambda: ty.multi_lending(APPLICANT, consent=CONSENT))
            ev.run(
                "hostile tianyuan call",
                lambda: ty.call(
                    "JRZQ8F7C",
                    {"name": NAME, "id_card": ID_CARD, "mobile_no": MOBILE},
                    consent=CONSENT,
                ),
            )
    with httpx.Client(transport=httpx.MockTransport(_hostile_fireeye)) as http:
        fe = FireEyeClient(
            "INST-HOSTILE", HOSTILE_FE_KEY, "https://fe.hostile", http_client=http, audit=ev.audit
        )
        for amount in ("1.00", "2.00", "3.00", "4.00"):
            ev.run(
                f"hostile fireeye {amount}",
                lambda a=amount: fe.verify_transaction(
                    CARD, TRANS_DATE, Decimal(a), consent=CONSENT, id_card=ID_CARD, mobile=MOBILE
                ),
            )
        ev.run(
            "hostile fireeye score", lambda: fe.model_score(CARD, ID_CARD, MOBILE, consent=CONSENT)
        )


def _faults(
    sb: Sandbox, ev: Evidence, provider: str, op: MatrixOperation, hooks: dict[str, Any]
) -> None:
    """Every fault kind, played on one operation a provider's spec declares."""
    state = op.setup(sb, SAMPLE)
    with httpx.Client(event_hooks=hooks) as http:
        client = getattr(sb, f"{provider}_client")(audit=ev.audit, http_client=http)
        for kind in FAULT_KINDS:
            sb.faults.add(provider, kind, probability=1.0)
            kw: dict[str, Any] = {"retry": FAST}
            if kind == "slow":
                kw["timeout"] = SLOW_TIMEOUT
            if kind == "drip":  # each byte is quick: only the whole-attempt deadline ends it
                kw["timeout"] = DRIP_TIMEOUT
            played = len(sb.faults.injected)
            ev.harvesting = kind != "drip"
            ev.run(
                f"{provider} fault {kind} {op.name}",
                lambda kw=kw: op.call(client, SAMPLE, state, **kw),
            )
            ev.harvesting = True
            ev.played.extend(f"{provider} {f.kind}" for f in sb.faults.injected[played:])
            sb.faults.clear()
        client.close()


def _aiohttp_faults(sb: Sandbox, ev: Evidence, provider: str, op: MatrixOperation) -> None:
    """Every fault kind again, over the aiohttp executor (the async default with the extra)."""
    import asyncio

    state = op.setup(sb, SAMPLE)

    async def main() -> None:
        with _backend("aiohttp"):
            client = getattr(sb, f"async_{provider}_client")(audit=ev.audit)
        assert type(client._transport).__name__ == "AioHttpTransport"
        try:
            for kind in FAULT_KINDS:
                sb.faults.add(provider, kind, probability=1.0)
                kw: dict[str, Any] = {"retry": FAST}
                if kind == "slow":
                    kw["timeout"] = SLOW_TIMEOUT
                if kind == "drip":
                    kw["timeout"] = DRIP_TIMEOUT
                played = len(sb.faults.injected)
                where = f"{provider} aiohttp fault {kind} {op.name}"
                try:
                    ev.result(where, await op.call(client, SAMPLE, state, **kw))
                except Exception as exc:
                    ev.error(where, exc)
                ev.played.extend(
                    f"{provider} aiohttp {f.kind}" for f in sb.faults.injected[played:]
                )
                sb.faults.clear()
        finally:
            await client.aclose()

    asyncio.run(main())


def _cancelled(sb: Sandbox, ev: Evidence, provider: str, op: MatrixOperation, backend: str) -> None:
    """A call cancelled while its answer is awaited (the provider processed and billed it):
    its audit event, log lines and the cancellation are scanned like everything else."""
    import asyncio

    state = op.setup(sb, SAMPLE)

    async def main() -> None:
        with _backend(backend):
            client = getattr(sb, f"async_{provider}_client")(audit=ev.audit)
        try:
            sb.faults.add(provider, Fault("slow", delay=30.0), probability=1.0)
            seen = sb.faults.played_count
            task = asyncio.ensure_future(op.call(client, SAMPLE, state))
            # Cancel once the provider has taken the request on (no sleeping).
            assert await asyncio.to_thread(sb.faults.wait_injected, seen + 1, 30.0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as exc:
                ev.cancelled.append(op.name if backend == "httpx" else f"{backend} {op.name}")
                ev.error(f"{provider} cancelled {op.name}", exc)
        finally:
            sb.faults.clear()
            await client.aclose()

    asyncio.run(main())


AIOHTTP = importlib.util.find_spec("aiohttp") is not None
#: The async executors the cancelled calls and the async fault flows run over.
BACKENDS = ["httpx", "aiohttp"] if AIOHTTP else ["httpx"]


@contextlib.contextmanager
def _backend(name: str) -> Iterator[None]:
    """Clients built inside use the ``name`` executor (as CREDITSDK_HTTP_BACKEND chooses)."""
    saved = os.environ.get("CREDITSDK_HTTP_BACKEND")
    os.environ["CREDITSDK_HTTP_BACKEND"] = name
    try:
        yield
    finally:
        if saved is None:
            del os.environ["CREDITSDK_HTTP_BACKEND"]
        else:
            os.environ["CREDITSDK_HTTP_BACKEND"] = saved


def _tianyuan_flows(sb: Sandbox, ev: Evidence, hooks: dict[str, Any]) -> None:
    params = {"name": NAME, "id_card": ID_CARD, "mobile_no": MOBILE}
    with httpx.Client(event_hooks=hooks) as http:
        ty = sb.tianyuan_client(audit=ev.audit, http_client=http)
        ev.result("tianyuan client", ty)
        for scenario in ("heavy_borrower", "currently_overdue", "no_data"):
            sb.tianyuan.pin(ID_CARD, scenario)
            ev.run(
                f"tianyuan multi_lending {scenario}",
                lambda: ty.multi_lending(APPLICANT, consent=CONSENT),
            )
        sb.tianyuan.pin(ID_CARD, "light")
        report = ev.run(
            "tianyuan multi_lending", lambda: ty.multi_lending(APPLICANT, consent=CONSENT)
        )
        for factor in list(report.factors.values())[:20]:
            ev.result("tianyuan factor", factor)
        for product in ("JRZQ8F7C", "COMB86PM", "FLXG0V4B"):
            ev.run(
                f"tianyuan call {product}", lambda p=product: ty.call(p, params, consent=CONSENT)
            )
        for code in (1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 2001, 4242):
            sb.tianyuan.fail_next(code, message=f"参数错误 {NAME} {ID_CARD} {MOBILE}")
            ev.run(f"tianyuan code {code}", lambda: ty.multi_lending(APPLICANT, consent=CONSENT))
        ev.run(
            "tianyuan bad id",
            lambda: ty.call("JRZQ8F7C", {**params, "id_card": ID_CARD[:-1] + "9"}, consent=CONSENT),
        )
        ev.run(
            "tianyuan bad mobile",
            lambda: ty.call("JRZQ8F7C", {**params, "mobile_no": MOBILE + "1"}, consent=CONSENT),
        )
        ty.close()
    with contextlib.suppress(CreditSDKError):
        wrong = sb.tianyuan_client(access_key="0" * 32, audit=ev.audit)
        ev.run("tianyuan wrong key", lambda: wrong.multi_lending(APPLICANT, consent=CONSENT))
        wrong.close()


def _fireeye_flows(sb: Sandbox, ev: Evidence, hooks: dict[str, Any]) -> None:
    for method in ("POST", "GET"):
        with httpx.Client(event_hooks=hooks) as http:
            fe = sb.fireeye_client(audit=ev.audit, http_client=http, method=method)
            _fireeye_calls(sb, ev, fe, method)
            fe.close()


def _fireeye_calls(sb: Sandbox, ev: Evidence, fe: Any, method: str) -> None:
    ev.result("fireeye client", fe)
    ev.run(
        f"fireeye {method} match",
        lambda: fe.verify_transaction(
            CARD, TRANS_DATE, Decimal("212.00"), consent=CONSENT, id_card=ID_CARD, mobile=MOBILE
        ),
    )
    ev.run(
        f"fireeye {method} no match",
        lambda: fe.verify_transaction(CARD, TRANS_DATE, Decimal("1.00"), consent=CONSENT),
    )
    ev.run(
        f"fireeye {method} score", lambda: fe.model_score(CARD, ID_CARD, MOBILE, consent=CONSENT)
    )
    for code in ("0001", "0002", "0004", "9999"):
        sb.fireeye.fail_next(code)
        ev.run(
            f"fireeye {method} {code}",
            lambda: fe.model_score(CARD, ID_CARD, MOBILE, consent=CONSENT),
        )
    ev.run(
        "fireeye bad id", lambda: fe.model_score(CARD, ID_CARD[:-1] + "9", MOBILE, consent=CONSENT)
    )


def _sesame_flows(sb: Sandbox, ev: Evidence, hooks: dict[str, Any]) -> None:
    with httpx.Client(event_hooks=hooks) as http:
        zm = sb.sesame_client(audit=ev.audit, http_client=http)
        ev.result("sesame client", zm)
        url = zm.authorization_url("https://lender.example/cb", state="order-42")
        back = sb.sesame.approve(url, id_card=ID_CARD)
        code = zm.parse_redirect(back, expected_state="order-42")
        ev.secret("auth code", code)
        grant = ev.run("sesame exchange", lambda: zm.exchange_code(code))
        ev.secret("access token", grant.access_token)
        ev.secret("refresh token", grant.refresh_token)
        ev.run("sesame exchange again", lambda: zm.exchange_code(code))
        ev.run("sesame redirect state", lambda: zm.parse_redirect(back, expected_state="other"))
        ev.run(
            "sesame redirect denied",
            lambda: zm.parse_redirect(sb.sesame.deny(url), expected_state="order-42"),
        )
        ev.run("sesame score", lambda: zm.score(grant, consent=CONSENT))
        sb.sesame.set_score(grant.user_id, None)
        ev.run("sesame score N/A", lambda: zm.score(grant, consent=CONSENT))
        ev.run("sesame admittance", lambda: zm.admittance(APPLICANT, 600, consent=CONSENT))
        ev.run(
            "sesame authquery applicant",
            lambda: zm.authorization_status(APPLICANT, consent=CONSENT),
        )
        ev.run("sesame authquery grant", lambda: zm.authorization_status(grant))
        fresh = ev.run("sesame refresh", lambda: zm.refresh(grant))
        if fresh is not None:
            ev.secret("access token", fresh.access_token)
            ev.secret("refresh token", fresh.refresh_token)
        ev.run("sesame old token", lambda: zm.score(grant, consent=CONSENT))
        sb.sesame.revoke(grant.user_id)
        ev.run("sesame revoked", lambda: zm.score(fresh or grant, consent=CONSENT))
        ev.run("sesame bad token", lambda: zm.score("not-a-token-at-all", consent=CONSENT))
        ev.run(
            "sesame bad admittance id",
            lambda: zm.admittance(
                Applicant(name=NAME, id_card=ID_CARD[:-1] + "9", mobile=MOBILE), 600, CONSENT
            ),
        )
        zm.close()
    ev.run(
        "sesame own public key",
        lambda: SesameClient(
            app_id=sb.sesame.app_id,
            app_private_key=sb.sesame.app_private_key,
            alipay_public_key=sb.sesame.app_public_key,
            gateway_url=sb.sesame.gateway_url,
            authorize_url=sb.sesame.authorize_url,
        ),
    )


def _everything(ev: Evidence) -> list[tuple[str, str]]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    out = [(f"log {r.name}", formatter.format(r)) for r in ev.records]
    out += [("audit", repr(e)) for e in ev.audit.events]
    out += [("audit to_dict", json.dumps(e.to_dict(), ensure_ascii=False)) for e in ev.audit.events]
    out += [("audit to_dict (ascii)", json.dumps(e.to_dict())) for e in ev.audit.events]
    return out + ev.texts


def test_the_flows_ran_and_were_captured(evidence: Evidence) -> None:
    names = {r.name for r in evidence.records}
    assert {"creditsdk", "httpx", "httpcore.http11"} <= names
    assert len(evidence.audit.events) > 40
    assert len(evidence.errors) > 40
    labels = set(evidence.secrets.values())
    assert {
        "request sign",
        "answer sign",
        "answer access_token",
        "auth code",
        "fireeye app_key",
    } <= labels


NEW_FAULTS = ("oversized", "gzip_bomb", "drip", "http_502", "http_504")


@pytest.mark.parametrize("spec", discover_specs(), ids=lambda s: s.name)
def test_every_fault_and_a_cancelled_call_were_scanned_for_every_operation(
    evidence: Evidence, spec: ProviderSpec
) -> None:
    """Every operation a provider's spec declares is played into every fault kind and
    cancelled once (issue 11, enumerated from the specs since issue 13) — each played, each
    ending in a creditsdk error the scan read, each billed call audited."""
    ops = spec.matrix_operations()
    assert ops
    for op in ops:
        for kind in FAULT_KINDS:
            errors = [t for w, t in evidence.texts if w.startswith(f"{spec.name} fault {kind} ")]
            assert errors, f"{op.name} {kind}: no error text was scanned"
        assert op.name in evidence.cancelled
        if AIOHTTP:
            assert f"aiohttp {op.name}" in evidence.cancelled
            for kind in FAULT_KINDS:
                where = f"{spec.name} aiohttp fault {kind} {op.name}"
                assert any(w.startswith(where) for w, _ in evidence.texts), where
                assert f"{spec.name} aiohttp {kind}" in evidence.played, kind
    for kind in NEW_FAULTS:
        assert f"{spec.name} {kind}" in evidence.played, kind
    cancelled = [
        e for e in evidence.audit.events if e.provider == spec.name and e.outcome == "cancelled"
    ]
    assert len(cancelled) == sum(op.billed for op in ops) * len(BACKENDS)
    for event in cancelled:
        assert event.maybe_billed
    assert any(event.applicant for event in cancelled)  # masked personal data, scanned


PERSONAL = {"name": NAME, "ID number": ID_CARD, "mobile": MOBILE, "card number": CARD}


@pytest.mark.parametrize("what", list(PERSONAL))
def test_no_personal_data_anywhere(evidence: Evidence, what: str) -> None:
    forms = _encodings(PERSONAL[what])
    if what == "ID number":
        forms |= _encodings(ID_CARD.lower())
    leaks = [
        (where, form) for where, text in _everything(evidence) for form in forms if form in text
    ]
    assert leaks == [], f"{what} leaked: {leaks[:5]}"


def test_no_keys_tokens_or_signatures_anywhere(evidence: Evidence) -> None:
    texts = _everything(evidence)
    leaks = [
        (label, where)
        for secret, label in evidence.secrets.items()
        for form in _encodings(secret)
        for where, text in texts
        if form in text
    ]
    assert leaks == [], f"secrets leaked: {sorted(set(leaks))[:10]}"


def test_the_hostile_provider_was_heard(evidence: Evidence) -> None:
    hostile = [(w, t) for w, t in evidence.texts if w.startswith("hostile")]
    assert len(hostile) >= 20
    # The echoes arrived, masked: the masked forms are there, the raw ones are not.
    joined = "\n".join(t for _, t in hostile)
    assert "110105********002X" in joined
    assert "6222***********0000" in joined
    assert "<redacted>" in joined
    ops = {e.operation for e in evidence.audit.events}
    assert {"transaction_auth", "JRZQ8F7C"} <= ops


def test_a_name_at_the_truncation_point_is_masked_before_the_cut(evidence: Evidence) -> None:
    # On main, a message of 198 characters and then the name was cut at 200: "张三" escaped
    # the name mask, which only knew "张三丰".
    partial = NAME[:2]
    leaks = [(w, t[-40:]) for w, t in _everything(evidence) if partial in t]
    assert leaks == [], leaks[:3]
