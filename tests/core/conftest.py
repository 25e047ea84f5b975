"""A fake provider Operation, so the core can be tested without any real provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from creditsdk._core.operation import Operation
from creditsdk._core.wire import Request, Response
from creditsdk.errors import ProviderError

URL = "https://fake.example/api/query"


def fake_parse(response: Response) -> dict[str, Any]:
    body = response.json()
    if body.get("code") != 0:
        raise ProviderError(
            body.get("message", "failed"),
            provider="fake",
            code=str(body.get("code")),
            transaction_id=body.get("transaction_id"),
        )
    return dict(body)


def make_op(
    *,
    billed: bool = True,
    idempotent: bool = False,
    parse: Callable[[Response], Any] = fake_parse,
    built: list[int] | None = None,
) -> Operation[Any]:
    def build() -> Request:
        if built is not None:
            built.append(len(built) + 1)
        attempt = len(built) if built is not None else 1
        return Request("POST", URL, body=json.dumps({"attempt": attempt}).encode())

    return Operation(
        provider="fake",
        name="QUERY",
        build_request=build,
        parse_response=parse,
        billed=billed,
        idempotent=idempotent,
        applicant={"name": "张*", "id_card": "110105********002X"},
        transaction_id_of=lambda r: r.get("transaction_id"),
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []
