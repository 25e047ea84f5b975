"""The FireEye side of the Sandbox, written from the provider's page (seed 004), not the client.

Both paths (with the real misspelling ``transationAuthentication``), GET ``?data=`` and POST form
``data=``. ``data`` is either the envelope ``{"id", "appKey", "data": {...}}`` (the model-score
sample) or the bare business object (the transaction sample's GET), in which case credentials
come from ``id`` / ``appKey`` query or form parameters; none at all → 0002.

Knobs (``Sandbox(options={"fireeye": {...}})`` or attributes of ``sb.fireeye``):
``institution_id``, ``app_key``, ``enabled`` (subset of ``{"transaction_auth", "model_score"}``),
``amount_unit`` (``"fen"`` default, or ``"yuan"``: how ``transAmount`` is read),
``score_code_field`` (``"resp"`` default, as in the product page's score sample, or ``"respCd"``),
``generated_transactions`` (per card, default 3), ``not_hit_rate`` (share of model scores
answered ``-1``, not hit: default 0.12), ``run_id`` (in every ledger transaction id; random, so
ids never repeat across Sandboxes). See docs/fireeye.md.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs

from .._core.redact import mask_card, mask_id_card, mask_mobile
from ..errors import ConfigurationError
from ..sandbox import Route, SandboxContext, SandboxRequest, SandboxResponse
from ..sandbox._provider import InjectedFailure, ProviderSandboxBase

if TYPE_CHECKING:
    from .client import AsyncFireEyeClient, FireEyeClient

__all__ = ["SCENARIOS", "FireEyeSandbox", "SandboxTransaction", "create_sandbox"]

#: What `FireEyeSandbox.pin` can fix for a card number: a model score, or "not hit" (-1).
SCENARIOS = ("scored", "not_hit")

TRANSACTION_PATH = "/fireeye/creditScore/transationAuthentication"
SCORE_PATH = "/fireeye/creditScore/UnionPayModelScore"
PRODUCTS = frozenset({"transaction_auth", "model_score"})

_CARD_RE = re.compile(r"\d{12,19}")
_ID_RE = re.compile(r"\d{17}[\dX]")
_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都")
_BOOK_START = _dt.date(2024, 1, 1)
_BOOK_DAYS = 730
#: The refusal once `FireEyeSandbox.balance` is used up: 0001 "service not enabled" [I]
#: (UnionPay documents no balance code).
_NO_BALANCE = "0001"


@attrs.frozen(repr=False)
class SandboxTransaction:
    """A card transaction in the sandbox's book. ``amount`` is in yuan."""

    card_no: str
    date: _dt.date
    amount: Decimal
    location: str | None = None
    id_card: str | None = None
    mobile: str | None = None

    def __repr__(self) -> str:
        return (
            f"SandboxTransaction(card={mask_card(self.card_no)!r}, date={self.date.isoformat()}, "
            f"amount={self.amount}, location={self.location!r})"
        )


class _Refusal(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class FireEyeSandbox(ProviderSandboxBase["FireEyeClient", "AsyncFireEyeClient"]):
    """What ``sb.fireeye`` is: credentials, knobs, the transaction book and the handlers.

    ``fail_next``, ``pin`` (a card number to one of `SCENARIOS`), ``balance`` and ``ledger``
    come from `ProviderSandboxBase`. ``balance`` is unlimited by default; once used up, calls
    are refused with 0001 (UnionPay documents no "no balance" code: [I])."""

    name = "fireeye"
    scenarios = SCENARIOS
    run_id_bytes = 3

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        opts = ctx.options
        rng = random.Random(f"fireeye:{ctx.seed}")
        self.institution_id: str = str(opts.get("institution_id", f"SBX{rng.randrange(10**8):08d}"))
        self.app_key: str = str(opts.get("app_key", f"{rng.getrandbits(128):032x}"))
        self.enabled: set[str] = set(opts.get("enabled", PRODUCTS))
        self.amount_unit: str = str(opts.get("amount_unit", "fen"))
        self.score_code_field: str = str(opts.get("score_code_field", "resp"))
        self.generated_transactions: int = int(opts.get("generated_transactions", 3))
        # [I] share of model-score answers "not hit" (-1): cards with too little history
        self.not_hit_rate: float = float(opts.get("not_hit_rate", 0.12))
        if not 0 <= self.not_hit_rate <= 1:
            raise ConfigurationError("fireeye sandbox not_hit_rate must be in [0, 1]")
        if self.amount_unit not in ("fen", "yuan"):
            raise ConfigurationError(
                f"fireeye sandbox amount_unit must be 'fen' or 'yuan', not {self.amount_unit!r}"
            )
        if self.score_code_field not in ("resp", "respCd"):
            raise ConfigurationError("fireeye sandbox score_code_field must be 'resp' or 'respCd'")
        self._added: dict[str, list[SandboxTransaction]] = {}

    # -- what tests use --------------------------------------------------------------------

    def add_transaction(
        self,
        card_no: str,
        date: _dt.date,
        amount: Decimal | int | str,
        *,
        location: str | None = None,
        id_card: str | None = None,
        mobile: str | None = None,
    ) -> SandboxTransaction:
        """Put a transaction in the book (``amount`` in yuan). Optional details must then match."""
        tx = SandboxTransaction(
            card_no, date, Decimal(str(amount)).quantize(Decimal("0.01")), location, id_card, mobile
        )
        with self._lock:
            self._added.setdefault(card_no, []).append(tx)
        return tx

    def transactions(self, card_no: str) -> list[SandboxTransaction]:
        """Every transaction the sandbox knows for a card: generated ones, then added ones.

        Generated transactions depend only on the Sandbox seed and the card number (dates in
        2024-2025, amounts ¥1.00-¥5000.00, a city as location)."""
        seed = hashlib.sha256(f"{self._ctx.seed}|{card_no}".encode()).digest()
        rng = random.Random(seed)
        generated = [
            SandboxTransaction(
                card_no,
                _BOOK_START + _dt.timedelta(days=rng.randrange(_BOOK_DAYS)),
                (Decimal(rng.randrange(100, 500_001)) / 100).quantize(Decimal("0.01")),
                rng.choice(_CITIES),
            )
            for _ in range(self.generated_transactions)
        ]
        with self._lock:
            return generated + list(self._added.get(card_no, ()))

    def score_for(self, card_no: str, id_card: str, mobile: str) -> int:
        """The score the sandbox gives this (card, ID, mobile): deterministic, in 300..1000, or
        ``-1`` (not hit) for a share ``not_hit_rate`` of cards, or as the card is `pin`-ned."""
        digest = hashlib.sha256(f"{self._ctx.seed}|{card_no}|{id_card}|{mobile}".encode()).digest()
        pinned = self.pinned(card_no)
        if pinned == "not_hit" or (
            pinned is None and int.from_bytes(digest[8:12], "big") / 2**32 < self.not_hit_rate
        ):
            return -1
        return 300 + int.from_bytes(digest[:8], "big") % 701

    def _failure(self, code: int | str, message: str | None) -> InjectedFailure:
        """Refusals only (never billed), e.g. ``"0004"`` (an int is zero-padded): a 0003 comes
        from asking about an unknown transaction, a 0000 from a known one."""
        text = f"{code:04d}" if isinstance(code, int) and not isinstance(code, bool) else code
        if (
            not isinstance(text, str)
            or not re.fullmatch(r"\d{4}", text)
            or text in ("0000", "0003")
        ):
            raise ConfigurationError(
                f"fail_next({code!r}): only refusal codes can be injected (0001, 0002, 0004, ...)"
            )
        return InjectedFailure(text, message)

    # -- plug-in ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route.of(("GET", "POST"), TRANSACTION_PATH, self._transaction_auth),
            Route.of(("GET", "POST"), SCORE_PATH, self._model_score),
        ]

    def client_classes(self) -> tuple[type[FireEyeClient], type[AsyncFireEyeClient]]:
        from .client import AsyncFireEyeClient, FireEyeClient

        return FireEyeClient, AsyncFireEyeClient

    def client_defaults(self) -> dict[str, Any]:
        return {
            "institution_id": self.institution_id,
            "app_key": self.app_key,
            "base_url": self._ctx.base_url,
            "amount_unit": self.amount_unit,
        }

    def __repr__(self) -> str:
        return (
            f"FireEyeSandbox(institution_id={self.institution_id!r}, "
            f"enabled={sorted(self.enabled)}, amount_unit={self.amount_unit!r})"
        )

    # -- the provider ----------------------------------------------------------------------

    def _params(self, request: SandboxRequest) -> dict[str, str]:
        """Query parameters, overlaid by form fields of a POST body."""
        params = {k: v[0] for k, v in request.query.items() if v}
        if request.method == "POST" and request.body:
            body = request.body.strip()
            if body.startswith(b"{"):
                params["data"] = body.decode("utf-8", "replace")  # a bare JSON body
            else:
                params.update({k: v[0] for k, v in request.form().items() if v})
        return params

    def _open(self, request: SandboxRequest, product: str) -> dict[str, Any]:
        """Credentials, product, then the business object; raises _Refusal(code)."""
        params = self._params(request)
        payload: Any = None
        try:
            payload = json.loads(params["data"]) if "data" in params else None
        except ValueError:
            payload = None
        if isinstance(payload, dict) and (
            "appKey" in payload or isinstance(payload.get("data"), (dict, str))
        ):
            inst, key, inner = payload.get("id"), payload.get("appKey"), payload.get("data")
            if isinstance(inner, str):  # a double-encoded inner object
                try:
                    inner = json.loads(inner)
                except ValueError:
                    inner = None
        else:  # the bare business object (seed's GET sample): credentials as parameters
            inst, key, inner = params.get("id"), params.get("appKey"), payload
        if inst != self.institution_id or key != self.app_key:
            raise _Refusal("0002")
        if product not in self.enabled:
            raise _Refusal("0001")
        failure = self._next_failure()
        if failure is not None:
            raise _Refusal(str(failure.code), failure.message)
        if not isinstance(inner, dict):
            raise _Refusal("0004")
        return inner

    def _answer(
        self, code: str, data: Any, *, code_field: str = "respCd", message: str | None = None
    ) -> SandboxResponse:
        msg = message if message is not None else "Success" if code == "0000" else "Failed"
        body: dict[str, Any] = {code_field: code, "msg": msg}
        if data is not None:
            body["data"] = data
        return SandboxResponse.json(body)

    def _charge(self, operation: str, **details: Any) -> bool:
        """Bill one call (False, not billed, when the balance is used up)."""
        if not self._spend():
            return False
        self._bill(operation, f"FE{self.run_id}{self._next_serial():08d}", **details)
        return True

    def _transaction_auth(self, request: SandboxRequest) -> SandboxResponse:
        try:
            data = self._open(request, "transaction_auth")
            card = _text(data.get("cardNo"))
            if not _CARD_RE.fullmatch(card):
                raise _Refusal("0004")
            day = _dt.datetime.strptime(_text(data.get("transDate")), "%Y%m%d").date()
            amount = self._amount(data.get("transAmount"))
        except _Refusal as refusal:
            return self._answer(refusal.code, None, message=refusal.message)
        except ValueError:
            return self._answer("0004", None)
        same = [t for t in self.transactions(card) if t.date == day and t.amount == amount]
        if not same:
            if not self._charge(
                "transaction_auth", card=mask_card(card), result="no_such_transaction", code="0003"
            ):
                return self._answer(_NO_BALANCE, None)
            return self._answer("0003", 0)
        asked = {
            "id_card": _optional(data.get("certid")),
            "mobile": _optional(data.get("mobile")),
            "location": _optional(data.get("transLocation")),
        }
        matched = any(
            all(
                value is None or getattr(t, field) is None or getattr(t, field) == value
                for field, value in asked.items()
            )
            for t in same
        )
        if not self._charge(
            "transaction_auth",
            card=mask_card(card),
            result="match" if matched else "mismatch",
            code="0000",
        ):
            return self._answer(_NO_BALANCE, None)
        return self._answer("0000", 1 if matched else 0)

    def _amount(self, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _Refusal("0004")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise _Refusal("0004") from None
        if not amount.is_finite() or amount <= 0:
            raise _Refusal("0004")
        return amount / 100 if self.amount_unit == "fen" else amount

    def _model_score(self, request: SandboxRequest) -> SandboxResponse:
        field = self.score_code_field
        try:
            data = self._open(request, "model_score")
            card, id_card, mobile = (
                _text(data.get("cardNo")),
                _text(data.get("certid")).upper(),
                _text(data.get("mobile")),
            )
            if not (
                _CARD_RE.fullmatch(card)
                and _ID_RE.fullmatch(id_card)
                and _MOBILE_RE.fullmatch(mobile)
            ):
                raise _Refusal("0004")
        except _Refusal as refusal:
            return self._answer(refusal.code, None, code_field=field, message=refusal.message)
        score = self.score_for(card, id_card, mobile)
        if not self._charge(
            "model_score",
            card=mask_card(card),
            id_card=mask_id_card(id_card),
            mobile=mask_mobile(mobile),
            code="0000",
        ):
            return self._answer(_NO_BALANCE, None, code_field=field)
        return self._answer("0000", score, code_field=field)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    text = _text(value)
    return text or None


def create_sandbox(ctx: SandboxContext) -> FireEyeSandbox:
    return FireEyeSandbox(ctx)
