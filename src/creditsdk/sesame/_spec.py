"""Sesame's spec: what the batch runner, the ``creditsdk`` command, the demo and the test
matrices know about this provider (by reference, imported on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import MatrixOperation, ProviderSpec, Sample

__all__ = ["MATRIX", "SPEC"]

# Faults the matrices play: the answers are signed, not encrypted (nothing to garble).
_SIGNED = frozenset({"garbled"})


def _grant(sandbox: Any, sample: Sample) -> Mapping[str, Any]:
    """A grant from the whole authorization, and a fresh auth code not yet exchanged."""
    with sandbox.sesame_client() as zm:
        url = zm.authorization_url("https://lender.example/cb", state="s")
        approve = sandbox.sesame.approve
        grant = zm.exchange_code(zm.parse_redirect(approve(url), expected_state="s"))
        code = zm.parse_redirect(approve(url), expected_state="s")
    return {"grant": grant, "code": code}


def _score(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.score(state["grant"], consent=sample.consent, **options)


def _admittance(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.admittance(sample.applicant, 600, consent=sample.consent, **options)


def _exchange(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.exchange_code(state["code"], **options)


def _authquery(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.authorization_status(state["grant"], **options)


MATRIX = (
    MatrixOperation("sesame.score", True, True, _score, _grant, _SIGNED),
    MatrixOperation("sesame.admittance", True, True, _admittance, _grant, _SIGNED),
    MatrixOperation("sesame.exchange_code", False, False, _exchange, _grant, _SIGNED),
    MatrixOperation("sesame.authorization_status", False, True, _authquery, _grant, _SIGNED),
)

SPEC = ProviderSpec(
    name="sesame",
    display_name="Sesame / Zhima (芝麻信用)",
    client="creditsdk.sesame.client:SesameClient",
    async_client="creditsdk.sesame.client:AsyncSesameClient",
    config_from_env="creditsdk.sesame._protocol:SesameConfig.from_env",
    sandbox="creditsdk.sesame.sandbox:create_sandbox",
    batch_note="Sesame needs each user's OAuth grant: not available in batches",
    commands="creditsdk.sesame._commands:add_commands",
    demo="creditsdk.sesame._demo:STEP",
    sandbox_fields=("app_id", "gateway_url", "authorize_url"),
    sandbox_key_files=("app_private_key", "app_public_key", "alipay_public_key"),
    sandbox_secrets=("app_private_key", "encrypt_key"),
    matrix="creditsdk.sesame._spec:MATRIX",
    aliases=("zhima", "alipay"),
    wire_names=("sub_msg", "sub_code", "biz_content"),
    order=30,
)
