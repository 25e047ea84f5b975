"""Tianyuan's spec: what the batch runner, the ``creditsdk`` command, the demo and the test
matrices know about this provider (by reference, imported on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import MatrixOperation, ProviderSpec, Sample

__all__ = ["MATRIX", "SPEC"]

# Faults the matrices play: every kind but a broken signature (the answers are not signed).
_UNSIGNED = frozenset({"flip_byte"})


def _setup(sandbox: Any, sample: Sample) -> Mapping[str, Any]:
    sandbox.tianyuan.balance = None
    sandbox.tianyuan.pin(sample.applicant.id_card, "light")  # an answer with ciphertext
    return {}


def _multi_lending(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.multi_lending(sample.applicant, consent=sample.consent, **options)


def _call(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    a = sample.applicant
    params = {"name": a.name, "id_card": a.id_card, "mobile_no": a.mobile}
    return client.call("JRZQ8F7C", params, consent=sample.consent, **options)


MATRIX = (
    MatrixOperation("tianyuan.multi_lending", True, False, _multi_lending, _setup, _UNSIGNED),
    MatrixOperation("tianyuan.call", True, False, _call, _setup, _UNSIGNED),
)

SPEC = ProviderSpec(
    name="tianyuan",
    display_name="Tianyuan (天远API)",
    client="creditsdk.tianyuan.client:TianyuanClient",
    async_client="creditsdk.tianyuan.client:AsyncTianyuanClient",
    config_from_env="creditsdk.tianyuan._protocol:TianyuanConfig.from_env",
    sandbox="creditsdk.tianyuan.sandbox:create_sandbox",
    batch_operations={"tianyuan.multi_lending": "creditsdk.tianyuan._batch:MultiLending"},
    commands="creditsdk.tianyuan._commands:add_commands",
    demo="creditsdk.tianyuan._demo:STEP",
    sandbox_fields=("access_id", "access_key"),
    sandbox_secrets=("access_key",),
    matrix="creditsdk.tianyuan._spec:MATRIX",
    wire_names=("xyp_",),
    order=10,
)
