"""``fireeye.model_score`` and ``fireeye.verify_transaction`` for the batch runner (declared in
this package's spec)."""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .._core.consent import Consent
from .._core.identity import normalize_card_no, normalize_id_card, normalize_mobile
from .._core.redact import mask_card, mask_id_card, mask_mobile
from ..batch._schema import Column, FactorLayout
from ..batch.operations import ProviderOperation, Scalar, required_field, score_layout
from ..errors import InvalidInputError, UnverifiedCardWarning

__all__ = ["ModelScore", "VerifyTransaction"]


def _card(value: str, field: str = "card_no") -> str:
    # Some Chinese cards fail Luhn: the SDK warns and sends anyway; a batch stays quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedCardWarning)
        return normalize_card_no(value, field)


class ModelScore(ProviderOperation):
    """UnionPay FireEye model score (300-1000) by card, ID number and mobile."""

    name = "fireeye.model_score"
    provider = "fireeye"
    columns = ("card_no", "id_card", "mobile")
    required = ("card_no", "id_card", "mobile")
    client_class = "creditsdk.fireeye.client:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> dict[str, str]:
        return {
            "card_no": _card(required_field(row, "card_no")),
            "id_card": normalize_id_card(required_field(row, "id_card")),
            "mobile": normalize_mobile(required_field(row, "mobile")),
        }

    def masked(self, prepared: Mapping[str, str]) -> dict[str, str]:
        return {
            "card_no": mask_card(prepared["card_no"]),
            "id_card": mask_id_card(prepared["id_card"]),
            "mobile": mask_mobile(prepared["mobile"]),
        }

    async def call(
        self,
        client: Any,
        prepared: Mapping[str, str],
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        return await client.model_score(
            card_no=prepared["card_no"],
            id_card=prepared["id_card"],
            mobile=prepared["mobile"],
            consent=consent,
            timeout=timeout,
            retry=retry,
        )

    def status(self, result: Any) -> str:
        return "hit"  # a score or "not hit" (-1): the provider answered

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        return score_layout("score", "UnionPay model score 300-1000")

    def flatten(self, result: Any) -> dict[str, Scalar]:
        score = getattr(result, "score", None)
        if score is None or score == -1:
            return {"score_status": "not_hit", "effective": 0}
        return {"score": float(score), "score_status": "hit", "effective": 1}


def _parse_date(value: str, field: str) -> _dt.date:
    v = value.strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return _dt.datetime.strptime(v, fmt).date()
        except ValueError:
            continue
    raise InvalidInputError("must be a date (YYYYMMDD or YYYY-MM-DD)", field=field, rule="format")


def _parse_amount(value: str, field: str) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInputError("must be a number of yuan", field=field, rule="format") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInputError("must be a positive amount", field=field, rule="range")
    return amount


class VerifyTransaction(ProviderOperation):
    """UnionPay FireEye transaction authentication: did this card make this payment?"""

    name = "fireeye.verify_transaction"
    provider = "fireeye"
    columns = ("card_no", "trans_date", "amount", "id_card", "mobile")
    required = ("card_no", "trans_date", "amount")
    client_class = "creditsdk.fireeye.client:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> dict[str, Any]:
        prepared: dict[str, Any] = {
            "card_no": _card(required_field(row, "card_no")),
            "trans_date": _parse_date(required_field(row, "trans_date"), "trans_date"),
            "amount": _parse_amount(required_field(row, "amount"), "amount"),
        }
        if str(row.get("id_card") or "").strip():
            prepared["id_card"] = normalize_id_card(row["id_card"])
        if str(row.get("mobile") or "").strip():
            prepared["mobile"] = normalize_mobile(row["mobile"])
        return prepared

    def masked(self, prepared: Mapping[str, Any]) -> dict[str, str]:
        out = {
            "card_no": mask_card(prepared["card_no"]),
            "trans_date": prepared["trans_date"].isoformat(),
            "amount": str(prepared["amount"]),
        }
        if "id_card" in prepared:
            out["id_card"] = mask_id_card(prepared["id_card"])
        if "mobile" in prepared:
            out["mobile"] = mask_mobile(prepared["mobile"])
        return out

    async def call(
        self,
        client: Any,
        prepared: Mapping[str, Any],
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        extra = {k: prepared[k] for k in ("id_card", "mobile") if k in prepared}
        return await client.verify_transaction(
            card_no=prepared["card_no"],
            trans_date=prepared["trans_date"],
            amount=prepared["amount"],
            consent=consent,
            timeout=timeout,
            retry=retry,
            **extra,
        )

    def status(self, result: Any) -> str:
        return "hit"  # matched or not, it is an answer

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        return FactorLayout(
            columns=(Column("matched", "Int8", "factor", "matched", "flag"),),
            factors=(
                {
                    "code": "matched",
                    "kind": "flag",
                    "label_zh": "交易验证结果",
                    "label_en": "the card made this transaction",
                    "core": True,
                    "columns": {"flag": "matched"},
                    "buckets": [],
                },
            ),
        )

    def flatten(self, result: Any) -> dict[str, Scalar]:
        matched = getattr(result, "matched", None)
        if matched is None:
            return {"effective": 0}
        return {"matched": int(bool(matched)), "effective": int(bool(matched))}
