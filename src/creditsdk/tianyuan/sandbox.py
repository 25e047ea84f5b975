"""The Tianyuan side of the protocol, for the Sandbox. Written from docs/protocols.md.

It shares no protocol or crypto code with the client (its AES is the Sandbox's own,
`creditsdk.sandbox._crypto`: OpenSSL when ``cryptography`` is installed, else pycryptodome), so a
client that works against it agrees with the spec, not merely with itself.

Cheap per request (a user's load test runs against it): an answer's payload is a pure function of
(product, ID number, scenario), so its JSON bytes are serialised once and kept (bounded); each
call still decrypts and checks the request, bills it, and encrypts the kept bytes under a fresh
IV, the transaction id being the only per-call field of the envelope.

Checks, in order (the key depends on the Access-Id, so the id is checked before decrypting):
missing ``Access-Id`` → 1005, unknown → 1006, source IP not allowed → 1004, body not decryptable
→ 1002, product not enabled → 1008, injected fault (`TianyuanSandbox.fail_next`), bad
parameters (incl. the ID check digit) → 1003, no balance → 1007. Errors are not billed; success
and "no data" are billed (one ledger entry each, with the price).

Everything it returns is SYNTHETIC: deterministic per ID number (same ID → same factors),
with made-up names for the layered factors (provenance ``sandbox-synthetic``).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.identity import is_valid_id_number
from .._core.redact import mask_id_card
from ..errors import ConfigurationError
from ..sandbox._app import (
    Route,
    SandboxContext,
    SandboxRequest,
    SandboxResponse,
    letters_only,
)
from ..sandbox._crypto import AesCbc
from ..sandbox._provider import InjectedFailure, ProviderSandboxBase

if TYPE_CHECKING:
    from .client import AsyncTianyuanClient, TianyuanClient

__all__ = ["SCENARIOS", "TianyuanSandbox", "create_sandbox"]

SCENARIOS = ("thin_file", "light", "heavy_borrower", "currently_overdue", "no_data")
#: P(bad) per scenario for ``creditsdk sandbox applicants`` (scaled to the asked bad rate), so an
#: evaluation of Sandbox answers finds known signal.
BAD_RATE_BY_SCENARIO: Mapping[str, float] = {
    "thin_file": 0.05,
    "light": 0.06,
    "no_data": 0.08,
    "heavy_borrower": 0.16,
    "currently_overdue": 0.40,
}

#: Synthetic price list (yuan per billed call).
PRICES: Mapping[str, Decimal] = {
    "JRZQ9E2A": Decimal("0.80"),
    "JRZQ8F7C": Decimal("0.50"),
    "COMB86PM": Decimal("1.20"),
    "FLXG0V4B": Decimal("0.60"),
}
DEFAULT_ENABLED = frozenset({"JRZQ9E2A", "JRZQ8F7C", "COMB86PM"})

MESSAGES = {
    0: "成功",
    1001: "接口异常",
    1002: "参数解密失败",
    1003: "基础参数校验不正确",
    1004: "未经授权的IP",
    1005: "缺少Access-Id",
    1006: "未经授权的AccessId",
    1007: "账户余额不足，无法请求",
    1008: "产品未开通",
    2001: "业务失败",
}

_DATA = resources.files("creditsdk.tianyuan") / "data"
SANDBOX_TABLES_PATH = Path(str(_DATA / "sandbox_bucket_tables.toml"))
_MOBILE = re.compile(r"1[3-9]\d{9}")

_PROFILES: Mapping[str, Mapping[str, Any]] = {
    # share of non-empty factors, bucket code ranges, score ranges
    "thin_file": {"p": 0.03, "count": (1, 1), "amount": (1, 2), "days": (1, 1), "model": None,
                  "risk": (0.05, 0.30)},
    "light": {"p": 0.35, "count": (1, 2), "amount": (1, 3), "days": (1, 2), "model": (600, 850),
              "risk": (0.05, 0.35)},
    "heavy_borrower": {"p": 0.85, "count": (2, 6), "amount": (3, 7), "days": (1, 3),
                       "model": (430, 660), "risk": (0.45, 0.85)},
    "currently_overdue": {"p": 0.70, "count": (1, 4), "amount": (2, 6), "days": (2, 5),
                          "model": (350, 520), "risk": (0.75, 0.99)},
}  # fmt: skip


#: Entries each per-ID cache keeps (bounded: a load test may use many ID numbers).
_CACHE_SIZE = 4096
_SUCCESS = MESSAGES[0].encode("utf-8")


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load_keys() -> list[tuple[str, str]]:
    text = (_DATA / "sandbox_factors.csv").read_text(encoding="utf-8")
    return [(row["code"], row["kind"]) for row in csv.DictReader(text.splitlines())]


class TianyuanSandbox(ProviderSandboxBase["TianyuanClient", "AsyncTianyuanClient"]):
    """Sandbox knobs: ``access_id``, ``access_key`` (32 hex chars, or 16 characters with
    ``options={"tianyuan": {"key_format": "utf8"}}``), ``balance`` (billable calls left, 1000 by
    default; ``None`` = unlimited; ``creditsdk batch --sandbox-balance N``), ``run_id`` (part of
    every transaction id: random, so ids never repeat across Sandboxes; fix it to replay ids),
    ``enabled_products`` (a set of `implemented_products`; any other code answers 1008),
    ``allowed_ips`` (``None`` = any), ``prices``; `pin` an ID number to one of `SCENARIOS`,
    `fail_next` to inject a provider code (the base, `ProviderSandboxBase`)."""

    name = "tianyuan"
    scenarios = SCENARIOS
    default_balance = 1000
    applicant_bad_rates = BAD_RATE_BY_SCENARIO

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        opts = ctx.options
        digest = hashlib.sha256(f"creditsdk-sandbox-tianyuan:{ctx.seed}".encode()).hexdigest()
        self.key_format: str = opts.get("key_format", "hex")
        if self.key_format not in ("hex", "utf8"):
            raise ConfigurationError("tianyuan sandbox key_format must be 'hex' or 'utf8'")
        self.access_id: str = opts.get("access_id", f"ty-sandbox-{digest[:12]}")
        default_key = digest[16:48] if self.key_format == "hex" else digest[16:32]
        self.access_key: str = opts.get("access_key", default_key)
        # The products the Sandbox answers, with their payloads (a new product is one entry).
        # Any other code, enabled or not, answers 1008: the real gateway's answer to a code it
        # does not know is not documented [I]; 1008 "产品未开通" is its documented answer for a
        # product the account may not call, which an unknown product is.
        self._payloads: Mapping[str, Callable[[str, str], Any]] = {
            "JRZQ9E2A": self._multi_lending,
            "JRZQ8F7C": self._risk_payload,
            "COMB86PM": self._composite,
        }
        #: products answered by add_product(): code -> payload(params, scenario)
        self._added: dict[str, Callable[[Mapping[str, Any], str], Any]] = {}
        self.enabled_products: set[str] = set(opts.get("enabled_products", DEFAULT_ENABLED))
        unknown = sorted(self.enabled_products - self.implemented_products)
        if unknown:
            raise ConfigurationError(
                f"the tianyuan sandbox does not implement {unknown}; "
                f"enabled_products is a subset of {sorted(self.implemented_products)}"
            )
        self.allowed_ips: set[str] | None = opts.get("allowed_ips")
        self.prices: dict[str, Decimal] = dict(PRICES)
        self.bucket_tables_path = SANDBOX_TABLES_PATH
        self._keys = _load_keys()
        # The factors are a pure function of (seed, ID number, scenario): drawn once each.
        self._drawn: dict[tuple[str, str], dict[str, str]] = {}
        # Pure functions of (seed, ID number[, product, scenario]), kept (bounded) because every
        # request needs them: an unpinned ID number's drawn scenario; a product's payload as
        # the JSON bytes that get encrypted (None: no data) with the masked ID for the ledger.
        self._scenarios: dict[str, str] = {}
        self._plain: dict[tuple[str, str, str], tuple[bytes | None, str]] = {}
        self._cipher: tuple[str, str, AesCbc] | None = None

    # -- knobs -------------------------------------------------------------------------------

    def add_product(
        self,
        code: str,
        payload: Callable[[Mapping[str, Any], str], Any],
        *,
        price: Decimal | str | None = None,
        enabled: bool = True,
    ) -> None:
        """Answer product ``code`` too: ``payload(params, scenario)`` returns the ``data`` of a
        code-0 answer (``None``: no data) from the request's decrypted ``params`` and the
        applicant's scenario. For trying a product of your contract (or a test's) before the
        Sandbox implements it; its requests are person queries (``name``, ``id_card``,
        ``mobile_no``) like every other product's."""
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z0-9]{4,16}", code):
            raise ConfigurationError(f"add_product: {code!r} is not a product code like JRZQ9E2A")
        if code in self.implemented_products:
            raise ConfigurationError(f"add_product: the sandbox already answers {code}")
        if not callable(payload):
            raise ConfigurationError("add_product: payload must be a callable (params, scenario)")
        with self._lock:
            self._added[code] = payload
            if price is not None:
                self.prices[code] = Decimal(str(price))
            if enabled:
                self.enabled_products.add(code)

    @property
    def implemented_products(self) -> frozenset[str]:
        """The product codes the Sandbox answers; any other answers 1008."""
        return frozenset(self._payloads) | frozenset(self._added)

    def _failure(self, code: int | str, message: str | None) -> InjectedFailure:
        number = int(code) if isinstance(code, str) and code.strip().isdigit() else code
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise ConfigurationError(
                f"fail_next({code!r}): a Tianyuan refusal code, e.g. 1001 or 2001 (0 is success)"
            )
        return InjectedFailure(number, message)

    def _drawn_scenario(self, key: str) -> str:
        """An unpinned ID number's scenario: drawn deterministically from it (and the seed)."""
        scenario = self._scenarios.get(key)
        if scenario is None:
            scenario = self._draw_scenario(key)
            if len(self._scenarios) < _CACHE_SIZE:
                self._scenarios[key] = scenario
        return scenario

    def _draw_scenario(self, key: str) -> str:
        r = self._rng(key, "scenario").random()
        if r < 0.03:
            return "no_data"
        if r < 0.55:
            return "thin_file"
        if r < 0.83:
            return "light"
        if r < 0.94:
            return "heavy_borrower"
        return "currently_overdue"

    def factors_for(self, id_card: str) -> dict[str, str]:
        """The full JRZQ9E2A payload for ``id_card`` (``{}`` for the no-data scenario)."""
        key = id_card.strip().upper()
        scenario = self.scenario_for(key)
        if scenario == "no_data":
            return {}
        return self._factors(key, scenario)

    # -- plug-in interface -----------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        return [Route.of("POST", "/api/v1/{product}", self._handle)]

    def client_classes(self) -> tuple[type[TianyuanClient], type[AsyncTianyuanClient]]:
        from .client import AsyncTianyuanClient, TianyuanClient

        return TianyuanClient, AsyncTianyuanClient

    def client_defaults(self) -> dict[str, Any]:
        return {
            "access_id": self.access_id,
            "access_key": self.access_key,
            "base_url": self._ctx.base_url,
            "key_format": self.key_format,
        }

    def __repr__(self) -> str:
        return f"TianyuanSandbox(access_id={self.access_id!r}, balance={self.balance})"

    # -- the server side ---------------------------------------------------------------------

    def _key(self) -> bytes:
        if self.key_format == "hex":
            return bytes.fromhex(self.access_key)
        return self.access_key.encode("utf-8")

    def _aes(self) -> AesCbc:
        """The cipher for the current key (``access_key`` may be changed between calls)."""
        cached = self._cipher
        if cached is None or cached[0] != self.access_key or cached[1] != self.key_format:
            cached = (self.access_key, self.key_format, AesCbc(self._key()))
            self._cipher = cached
        return cached[2]

    def _next_tid(self) -> str:
        # Unique across Sandboxes and restarts (a statement is matched by transaction id):
        # the run id is random unless options={"tianyuan": {"run_id": "..."}} fixes it.
        seq = self._next_serial()
        h = hashlib.sha256(f"{self._ctx.seed}:{self.run_id}:{seq}".encode()).hexdigest()
        return f"TYSB{self.run_id}{seq:06d}{letters_only(h[:12])}"

    def _answer(
        self, code: int, tid: str, data: str = "", message: str | None = None
    ) -> SandboxResponse:
        return SandboxResponse.json(
            {
                "code": code,
                "message": message or MESSAGES.get(code, "错误"),
                "transaction_id": tid,
                "data": data,
            }
        )

    def _error(self, code: int, message: str | None = None) -> SandboxResponse:
        return self._answer(code, self._next_tid(), "", message)

    def _decrypt(self, body: bytes) -> dict[str, Any] | None:
        try:
            doc = json.loads(body)
            blob = base64.b64decode(doc["data"], validate=True)
            iv, ct = blob[:16], blob[16:]
            plain = self._aes().decrypt(ct, iv)
            params = json.loads(plain.decode("utf-8"))
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        return params if isinstance(params, dict) else None

    def _encrypt(self, obj: Any, tid: str) -> str:
        plain = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._encrypt_bytes(plain, tid).decode("ascii")

    def _encrypt_bytes(self, plain: bytes, tid: str) -> bytes:
        iv = hashlib.sha256(f"iv:{tid}".encode()).digest()[:16]  # deterministic per answer
        return base64.b64encode(iv + self._aes().encrypt(plain, iv))

    @staticmethod
    def _check_params(product: str, params: Mapping[str, Any]) -> str | None:
        required = ["name", "id_card", "mobile_no"]
        if product in ("JRZQ9E2A", "COMB86PM"):
            required.append("auth_authorize_file_code")
        for field in required:
            value = params.get(field)
            if not isinstance(value, str) or not value.strip():
                return f"{field}不能为空"
        if not is_valid_id_number(params["id_card"]):
            return "id_card格式不正确"
        if not _MOBILE.fullmatch(params["mobile_no"]):
            return "mobile_no格式不正确"
        return None

    def _handle(self, request: SandboxRequest) -> SandboxResponse:
        product = request.path_params.get("product", "")
        access_id = request.headers.get("access-id", "").strip()
        if not access_id:
            return self._error(1005)
        if access_id != self.access_id:
            return self._error(1006)
        if self.allowed_ips is not None and request.client not in self.allowed_ips:
            return self._error(1004)
        params = self._decrypt(request.body)
        if params is None:
            return self._error(1002)
        if product not in self.enabled_products or product not in self.implemented_products:
            return self._error(1008)
        failure = self._next_failure()
        if failure is not None:
            assert isinstance(failure.code, int)
            return self._error(failure.code, failure.message)
        problem = self._check_params(product, params)
        if problem is not None:
            return self._error(1003, f"{MESSAGES[1003]}: {problem}")
        id_card = params["id_card"].strip().upper()
        scenario = self.scenario_for(id_card)
        price = self.prices.get(product, Decimal("1.00"))
        with self._lock:
            if not self._spend():
                return self._error(1007)
            tid = self._next_tid()
            balance_after = self._balance
        added = self._added.get(product)
        if added is not None:
            payload = added(params, scenario)
            plain = None if payload is None else _json_bytes(payload)
            masked = mask_id_card(id_card)
        else:
            plain, masked = self._plain_answer(product, id_card, scenario)
        self._bill(
            product,
            tid,
            product=product,
            price_yuan=str(price),
            id_card=masked,
            scenario=scenario,
            result="no_data" if plain is None else "success",
            balance_after=balance_after,
        )
        # The envelope of a billed answer, spliced: tid is letters and digits, data base64,
        # so the bytes are exactly json.dumps' (tests/tianyuan hold them to that).
        data = b"" if plain is None else self._encrypt_bytes(plain, tid)
        return SandboxResponse.raw_json(
            b'{"code":0,"message":"' + _SUCCESS + b'","transaction_id":"' + tid.encode("ascii")
            + b'","data":"' + data + b'"}'
        )  # fmt: skip

    def _plain_answer(self, product: str, id_card: str, scenario: str) -> tuple[bytes | None, str]:
        """The payload's JSON bytes (None: no data) and the masked ID number, kept per
        (product, ID number, scenario): pure functions of them and the seed."""
        key = (product, id_card, scenario)
        cached = self._plain.get(key)
        if cached is None:
            payload = self._payloads[product](id_card, scenario)
            cached = (None if payload is None else _json_bytes(payload), mask_id_card(id_card))
            if len(self._plain) < _CACHE_SIZE:
                self._plain[key] = cached
        return cached

    def _multi_lending(self, id_card: str, scenario: str) -> Any:
        return None if scenario == "no_data" else self._factors(id_card, scenario)

    def _risk_payload(self, id_card: str, scenario: str) -> Any:
        return None if scenario == "no_data" else self._risk(id_card, scenario)

    def _composite(self, id_card: str, scenario: str) -> Any:
        # COMB86PM: both, as sub-responses. A failed part carries "error" and "data": null, as
        # the real composite answers do (the wording of the no-data reason is the sandbox's).
        no = scenario == "no_data"
        parts: list[dict[str, Any]] = []
        for code, make in (("JRZQ9E2A", self._factors), ("JRZQ8F7C", self._risk)):
            if no:
                parts.append({"api_code": code, "success": False, "error": "查询无结果",
                              "data": None})  # fmt: skip
            else:
                parts.append({"api_code": code, "success": True, "data": make(id_card, scenario)})
        return {"responses": parts}

    # -- synthetic data --------------------------------------------------------------------------

    def _rng(self, id_card: str, purpose: str) -> random.Random:
        digest = hashlib.sha256(f"{self._ctx.seed}:{purpose}:{id_card}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _risk(self, id_card: str, scenario: str) -> dict[str, str]:
        level = {"thin_file": "low", "light": "low", "heavy_borrower": "medium"}.get(
            scenario, "high"
        )
        rng = self._rng(id_card, "risk:" + scenario)
        score_range = {"low": (650, 900), "medium": (500, 700)}.get(level, (350, 560))
        return {
            "risk_level": level,
            "score": str(rng.randint(*score_range)),
            "hit_blacklist": "1" if scenario == "currently_overdue" else "0",
        }

    def _factors(self, id_card: str, scenario: str) -> dict[str, str]:
        drawn = self._drawn.get((id_card, scenario))
        if drawn is None:
            drawn = self._draw_factors(id_card, scenario)
            if len(self._drawn) < _CACHE_SIZE:  # bounded: a load test may use many ID numbers
                self._drawn[(id_card, scenario)] = drawn
        return dict(drawn)

    def _draw_factors(self, id_card: str, scenario: str) -> dict[str, str]:
        prof = _PROFILES[scenario]
        rng = self._rng(id_card, "factors:" + scenario)
        out: dict[str, str] = {}
        # The same draws, in the same order, as rng.randint / rng.uniform make (randint(a, b)
        # is a + _randbelow(b - a + 1), uniform(a, b) is a + (b - a) * random()), without their
        # argument checks: this loop runs once per factor of every new ID number.
        below = getattr(rng, "_randbelow", None)
        if below is None:  # pragma: no cover - another Python's random: the public calls

            def below(n: int) -> int:
                return rng.randint(0, n - 1)

        draw = rng.random
        p = prof["p"]
        count_lo, count_n = prof["count"][0], prof["count"][1] - prof["count"][0] + 1
        amount_lo, amount_n = prof["amount"][0], prof["amount"][1] - prof["amount"][0] + 1
        days_lo, days_n = prof["days"][0], prof["days"][1] - prof["days"][0] + 1
        risk_lo, risk_span = prof["risk"][0], prof["risk"][1] - prof["risk"][0]
        model = prof["model"]
        model_lo, model_n = (0, 1) if model is None else (model[0], model[1] - model[0] + 1)
        overdue = scenario == "currently_overdue"
        for code, kind in self._keys:
            if draw() >= p:
                out[code] = ""
            elif kind == "count_bucket":
                out[code] = str(count_lo + below(count_n))
            elif kind == "amount_bucket":
                out[code] = str(amount_lo + below(amount_n))
            elif kind == "dictionary":
                out[code] = str(days_lo + below(days_n))
            elif kind == "flag":
                out[code] = "1" if overdue and draw() < 0.4 else "0"
            elif kind == "ratio_score":
                out[code] = f"{risk_lo + risk_span * draw():.4f}"
            elif kind == "model_score":
                out[code] = "-1" if model is None else str(model_lo + below(model_n))
            else:  # pragma: no cover - the catalog has no other kinds
                out[code] = ""
        self._make_consistent(out, scenario, rng, prof)
        return out

    @staticmethod
    def _make_consistent(
        out: dict[str, str], scenario: str, rng: random.Random, prof: Mapping[str, Any]
    ) -> None:
        """The documented factors tell one story: totals bound their parts, flags match."""

        def num(code: str) -> int:
            return int(out[code]) if out.get(code) else 0

        if scenario in ("heavy_borrower", "currently_overdue", "light"):
            total = max(num("xyp_cpl0001"), rng.randint(*prof["count"]))
            out["xyp_cpl0001"] = str(total)
            for part in ("xyp_cpl0002", "xyp_cpl0007", "xyp_cpl0008", "xyp_cpl0011"):
                if num(part) > total:
                    out[part] = str(total)
            if num("xyp_cpl0009") > num("xyp_cpl0011"):
                out["xyp_cpl0009"] = out["xyp_cpl0011"]
            if num("xyp_cpl0070") > num("xyp_cpl0009"):
                out["xyp_cpl0070"] = out["xyp_cpl0009"]
            out["xyp_cpl0081"] = f"{rng.uniform(*prof['risk']):.4f}"
            model = prof["model"]
            out["xyp_model_score_high"] = str(rng.randint(*model))
            out["xyp_model_score_mid"] = str(rng.randint(*model))
        if scenario == "heavy_borrower":
            for recent in ("xyp_cpl0009", "xyp_cpl0011"):
                out[recent] = str(max(num(recent), 3))
            out["xyp_cpl0001"] = str(max(num("xyp_cpl0001"), 4))
        if scenario == "currently_overdue":
            out["xyp_cpl0044"] = "1"
            out["xyp_cpl0031"] = "1"
            out["xyp_cpl0071"] = str(max(num("xyp_cpl0071"), 1))
            out["xyp_cpl0072"] = str(max(num("xyp_cpl0072"), 2))
        else:
            for code in ("xyp_cpl0044", "xyp_cpl0028", "xyp_cpl0031"):
                if out.get(code):
                    out[code] = "0"
            out["xyp_cpl0071"] = ""
            out["xyp_cpl0072"] = ""


def create_sandbox(ctx: SandboxContext) -> TianyuanSandbox:
    return TianyuanSandbox(ctx)
