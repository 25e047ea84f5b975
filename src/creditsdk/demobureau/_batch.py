"""``demo.score`` for the batch runner (declared in this package's spec)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .._core.consent import Consent
from .._core.identity import Applicant
from ..batch._schema import Column, FactorLayout
from ..batch.operations import ApplicantOperation, Scalar
from ._protocol import BANDS
from .models import DemoScoreResult

__all__ = ["DemoScore"]


class DemoScore(ApplicantOperation):
    """``demo.score``: the synthetic bureau (Sandbox only unless CREDITSDK_DEMO_* are set)."""

    name = "demo.score"
    provider = "demo"
    client_class = "creditsdk.demobureau.client:AsyncDemoClient"

    async def call(
        self, client: Any, prepared: Applicant, consent: Consent | None, *, timeout: Any, retry: Any
    ) -> DemoScoreResult:
        assert consent is not None
        result: DemoScoreResult = await client.score(
            prepared, consent=consent, timeout=timeout, retry=retry
        )
        return result

    def status(self, result: DemoScoreResult) -> str:
        return "hit" if result.has_data else "no_data"

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> Any:
        buckets = [
            {
                "code": int(code),
                "low": lo,
                "high": hi,
                "low_closed": True,
                "high_closed": False,
                "label": f"[{lo}, {'+inf' if hi is None else hi})",
            }
            for code, (lo, hi) in BANDS.items()
        ]
        return FactorLayout(
            columns=(
                Column("score", "float64", "factor", "score", "score"),
                Column("score_status", "string", "factor", "score", "status"),
                Column("institutions", "Int64", "factor", "institutions", "code"),
                Column("institutions_low", "float64", "factor", "institutions", "low"),
                Column("institutions_high", "float64", "factor", "institutions", "high"),
                Column("institutions_mid", "float64", "factor", "institutions", "mid"),
                Column("overdue", "Int8", "factor", "overdue", "flag"),
            ),
            factors=(
                {
                    "code": "score",
                    "kind": "model_score",
                    "label_en": "demo score 350-950",
                    "core": True,
                    "columns": {"score": "score", "status": "score_status"},
                    "buckets": [],
                },
                {
                    "code": "institutions",
                    "kind": "count_bucket",
                    "label_en": "lending institutions (demo band)",
                    "core": True,
                    "columns": {
                        "code": "institutions",
                        "low": "institutions_low",
                        "high": "institutions_high",
                        "mid": "institutions_mid",
                    },
                    "buckets": buckets,
                },
                {
                    "code": "overdue",
                    "kind": "flag",
                    "label_en": "currently overdue (demo)",
                    "core": True,
                    "columns": {"flag": "overdue"},
                    "buckets": [],
                },
            ),
            bucket_tables={"source": "sandbox", "path": None, "version": "demo-bands"},
        )

    def flatten(self, result: DemoScoreResult) -> dict[str, Scalar]:
        if not result.has_data:
            return {"effective": 0}
        out: dict[str, Scalar] = {"score": float(result.score or 0), "score_status": "hit"}
        if result.overdue is not None:
            out["overdue"] = int(result.overdue)
        band = result.institutions
        if band is not None:
            for code, (lo, hi) in BANDS.items():
                if (lo, hi) == (band.low, band.high):
                    out["institutions"] = int(code)
            out["institutions_low"] = float(band.low) if band.low is not None else -math.inf
            out["institutions_high"] = float(band.high) if band.high is not None else math.inf
            ends = [x for x in (band.low, band.high) if x is not None]
            if ends:
                out["institutions_mid"] = sum(ends) / len(ends)
        out["effective"] = 1
        return out

    def sandbox_providers(self) -> Mapping[str, Callable[[Any], Any]]:
        from ._sandbox import create_sandbox

        return {"demo": create_sandbox}
