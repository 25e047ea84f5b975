"""FireEye's spec: what the batch runner, the ``creditsdk`` command, the demo and the test
matrices know about this provider (by reference, imported on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import MatrixOperation, ProviderSpec, Sample

__all__ = ["MATRIX", "SPEC"]

# Faults the matrices play: the answers are neither signed nor encrypted.
_PLAIN = frozenset({"flip_byte", "garbled"})


def _setup(sandbox: Any, sample: Sample) -> Mapping[str, Any]:
    known = sandbox.fireeye.transactions(sample.card_no)
    if not any(t.date == sample.trans_date and t.amount == sample.amount for t in known):
        sandbox.fireeye.add_transaction(sample.card_no, sample.trans_date, sample.amount)
    return {}


def _verify(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.verify_transaction(
        sample.card_no, sample.trans_date, sample.amount, consent=sample.consent, **options
    )


def _score(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    a = sample.applicant
    return client.model_score(
        sample.card_no, a.id_card, a.mobile, consent=sample.consent, **options
    )


MATRIX = (
    MatrixOperation("fireeye.verify_transaction", True, False, _verify, _setup, _PLAIN),
    MatrixOperation("fireeye.model_score", True, False, _score, _setup, _PLAIN),
)

SPEC = ProviderSpec(
    name="fireeye",
    display_name="UnionPay FireEye (火眼)",
    client="creditsdk.fireeye.client:FireEyeClient",
    async_client="creditsdk.fireeye.client:AsyncFireEyeClient",
    config_from_env="creditsdk.fireeye._protocol:FireEyeConfig.from_env",
    sandbox="creditsdk.fireeye.sandbox:create_sandbox",
    batch_operations={
        "fireeye.model_score": "creditsdk.fireeye._batch:ModelScore",
        "fireeye.verify_transaction": "creditsdk.fireeye._batch:VerifyTransaction",
    },
    commands="creditsdk.fireeye._commands:add_commands",
    demo="creditsdk.fireeye._demo:STEP",
    sandbox_fields=("institution_id", "app_key"),
    sandbox_secrets=("app_key",),
    matrix="creditsdk.fireeye._spec:MATRIX",
    aliases=("unionpay",),
    wire_names=("respCd",),
    order=20,
)
