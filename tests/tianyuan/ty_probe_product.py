"""A test-only typed Tianyuan product: everything adding one takes is this declaration.

``TSTPRB01`` ("probe") takes an applicant and ``months`` (1-24; a CSV or CLI gives "6"), sends
``authorized: "1"`` (the consent flag some products use, docs/protocols.md) and returns a
`ProbeResult`. It is registered by the tests that use it (`register_product(PROBE)`) and
unregistered after them, so nothing else in the session sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from creditsdk import Consent
from creditsdk.errors import InvalidInputError
from creditsdk.tianyuan._protocol import (
    ApplicantInputs,
    Product,
    ProductAnswer,
    inputs_applicant,
)

CODE = "TSTPRB01"


@attrs.frozen
class ProbeInputs:
    person: ApplicantInputs
    months: int

    @property
    def names(self) -> tuple[str, ...]:
        return self.person.names

    @property
    def values(self) -> tuple[str, ...]:
        return self.person.values

    def masked(self) -> Mapping[str, str]:
        return self.person.masked()


@attrs.frozen
class ProbeResult:
    transaction_id: str | None
    has_data: bool
    keys: tuple[str, ...]


def inputs_probe(
    applicant: object = None,
    *,
    name: object = None,
    id_card: object = None,
    mobile: object = None,
    months: object = 6,
) -> ProbeInputs:
    person = inputs_applicant(applicant, name=name, id_card=id_card, mobile=mobile)
    text = months.strip() if isinstance(months, str) else months
    if isinstance(text, str) and text.isascii() and text.isdigit():
        text = int(text)
    if not isinstance(text, int) or isinstance(text, bool) or not 1 <= text <= 24:
        raise InvalidInputError(
            "must be a whole number of months, 1-24", field="months", rule="range"
        )
    return ProbeInputs(person, text)


def _params(inputs: ProbeInputs, consent: Consent) -> dict[str, str]:
    a = inputs.person.applicant
    return {
        "name": a.name,
        "id_card": a.id_card,
        "mobile_no": a.mobile,
        "months": str(inputs.months),
        "authorized": "1",
    }


def _parse(answer: ProductAnswer) -> ProbeResult:
    data: Any = answer.data
    keys = tuple(sorted(data)) if isinstance(data, dict) else ()
    return ProbeResult(answer.transaction_id, data is not None, keys)


PROBE: Product[ProbeInputs, ProbeResult] = Product(
    code=CODE,
    name="probe",
    title="test-only probe product",
    inputs=inputs_probe,
    params=_params,
    parse=_parse,
    result=ProbeResult,
    columns=("name", "id_card", "mobile", "months"),
    example={"name": "张三", "id_card": "11010519491231002X", "mobile": "13800138000", "months": 6},
    sandbox_data=lambda params, scenario: {"months": params["months"], "scenario": scenario},
)
