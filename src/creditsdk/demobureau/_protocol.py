"""The demo bureau's wire format (made up): pure request building and answer parsing.

``POST {base}/demo/v1/score`` with header ``X-Demo-Key`` and JSON
``{"name", "id_card", "mobile", "consent_reference"}``; answer
``{"code": "0000", "message", "transaction_id", "data": {"score", "band", "overdue"} | null}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import attrs

from .._core.config import EnvVar, env_or
from .._core.consent import Consent, check_consent
from .._core.identity import Applicant
from .._core.operation import Operation
from .._core.wire import Request, Response
from ..errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidInputError,
    ProviderError,
    ResponseIntegrityError,
)
from .models import DemoRange, DemoScoreResult

__all__ = ["BANDS", "PATH", "DemoConfig", "score_operation"]

PATH = "/demo/v1/score"
#: band code → (low, high) lending institutions; high None: open-ended
BANDS = {"1": (0, 2), "2": (2, 5), "3": (5, 10), "4": (10, None)}


ENV_API_KEY = "CREDITSDK_DEMO_API_KEY"
ENV_BASE_URL = "CREDITSDK_DEMO_BASE_URL"
#: Every variable of `DemoConfig.from_env` (the transport ones come on top).
ENV_VARS = (
    EnvVar(ENV_API_KEY, "the bureau's API key", secret=True, required=True),
    EnvVar(ENV_BASE_URL, "the bureau's host", required=True),
)


@attrs.frozen(repr=False)
class DemoConfig:
    """Where the bureau is and the key it wants (``CREDITSDK_DEMO_API_KEY``,
    ``CREDITSDK_DEMO_BASE_URL``)."""

    api_key: str
    base_url: str

    @classmethod
    def from_env(cls, api_key: str | None = None, base_url: str | None = None) -> DemoConfig:
        """Arguments given win; missing ones come from the environment."""
        key = env_or(api_key, ENV_API_KEY, what="demo API key", secret=True)
        url = env_or(base_url, ENV_BASE_URL, what="demo base URL")
        assert key is not None
        assert url is not None
        return cls(key, url)

    def __repr__(self) -> str:
        return f"DemoConfig(base_url={self.base_url!r})"


def _build(
    base_url: str, api_key: str, applicant: Applicant, consent: Consent
) -> Callable[[], Request]:
    body = json.dumps(
        {
            "name": applicant.name,
            "id_card": applicant.id_card,
            "mobile": applicant.mobile,
            "consent_reference": consent.reference,
        },
        ensure_ascii=False,
    ).encode("utf-8")

    def build() -> Request:
        return Request(
            "POST",
            base_url.rstrip("/") + PATH,
            body=body,
            headers=(("X-Demo-Key", api_key), ("Content-Type", "application/json")),
        )

    return build


def _parse(response: Response) -> DemoScoreResult:
    try:
        doc = response.json()
    except ValueError:
        raise ResponseIntegrityError("answer is not JSON", provider="demo") from None
    code = str(doc.get("code"))
    txn = doc.get("transaction_id")
    if code != "0000":
        cls: type[ProviderError] = {
            "1006": AuthenticationError,
            "1007": InsufficientBalanceError,
        }.get(code, ProviderError)
        raise cls(str(doc.get("message", "")), provider="demo", code=code, transaction_id=txn)
    data = doc.get("data")
    if not data:
        return DemoScoreResult(txn, None, None, None)
    band = BANDS.get(str(data.get("band")))
    return DemoScoreResult(
        transaction_id=txn,
        score=int(data["score"]),
        institutions=DemoRange(*band) if band else None,
        overdue=data.get("overdue") == "1",
    )


def score_operation(
    config: DemoConfig, applicant: object, consent: object
) -> Operation[DemoScoreResult]:
    """The billed, non-idempotent score call; a bad applicant or consent is refused here."""
    if not isinstance(applicant, Applicant):
        raise InvalidInputError("must be a creditsdk.Applicant", field="applicant", rule="type")
    checked = check_consent(consent)
    assert checked is not None
    return Operation(
        provider="demo",
        name="score",
        build_request=_build(config.base_url, config.api_key, applicant, checked),
        parse_response=_parse,
        billed=True,
        idempotent=False,
        applicant=applicant.masked(),
        consent=checked,
        outcome_of=lambda r: "success" if r.has_data else "no_data",
    )
