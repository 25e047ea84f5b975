"""``fireeye.model_score`` and ``fireeye.verify_transaction`` for the batch runner (declared in
this package's spec)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from .._core.consent import Consent
from ..batch._schema import Column, FactorLayout
from ..batch.operations import ProviderOperation, Scalar, row_cells, score_layout
from ..errors import UnverifiedCardWarning
from ._protocol import (
    ModelScoreInputs,
    VerifyTransactionInputs,
    inputs_model_score,
    inputs_verify_transaction,
)

__all__ = ["ModelScore", "VerifyTransaction"]


def _quietly(build: Any, **raw: Any) -> Any:
    # Some Chinese cards fail Luhn: the SDK warns and sends anyway; a batch stays quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedCardWarning)
        return build(**raw)


class ModelScore(ProviderOperation):
    """UnionPay FireEye model score (300-1000) by card, ID number and mobile."""

    name = "fireeye.model_score"
    provider = "fireeye"
    columns = ("card_no", "id_card", "mobile")
    required = ("card_no", "id_card", "mobile")
    client_class = "creditsdk.fireeye.client:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> ModelScoreInputs:
        return _quietly(inputs_model_score, **row_cells(row, self.columns))  # type: ignore[no-any-return]

    def masked(self, prepared: ModelScoreInputs) -> dict[str, str]:
        return prepared.masked()

    async def call(
        self,
        client: Any,
        prepared: ModelScoreInputs,
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        return await client.model_score(
            card_no=prepared.card_no,
            id_card=prepared.id_card,
            mobile=prepared.mobile,
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


class VerifyTransaction(ProviderOperation):
    """UnionPay FireEye transaction authentication: did this card make this payment?"""

    name = "fireeye.verify_transaction"
    provider = "fireeye"
    columns = ("card_no", "trans_date", "amount", "id_card", "mobile")
    required = ("card_no", "trans_date", "amount")
    client_class = "creditsdk.fireeye.client:AsyncFireEyeClient"

    def prepare(self, row: Mapping[str, str]) -> VerifyTransactionInputs:
        return _quietly(inputs_verify_transaction, **row_cells(row, self.columns))  # type: ignore[no-any-return]

    def masked(self, prepared: VerifyTransactionInputs) -> dict[str, str]:
        masked = prepared.masked()
        out = {
            "card_no": masked.pop("card_no"),
            "trans_date": prepared.trans_date.isoformat(),
            "amount": str(prepared.amount),
        }
        out.update(masked)  # id_card, mobile when given (the order of earlier runs' ledgers)
        return out

    async def call(
        self,
        client: Any,
        prepared: VerifyTransactionInputs,
        consent: Consent | None,
        *,
        timeout: Any,
        retry: Any,
    ) -> Any:
        return await client.verify_transaction(
            card_no=prepared.card_no,
            trans_date=prepared.trans_date,
            amount=prepared.amount,
            id_card=prepared.id_card,
            mobile=prepared.mobile,
            location=prepared.location,
            consent=consent,
            timeout=timeout,
            retry=retry,
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
