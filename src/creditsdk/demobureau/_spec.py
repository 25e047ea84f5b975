"""The demo bureau's spec. It joins a Sandbox only when asked (``in_default_sandbox=False``):
a batch of ``demo.score`` adds it, as does ``Sandbox(extra_providers=...)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import MatrixOperation, ProviderSpec, Sample

__all__ = ["MATRIX", "SPEC"]


def _score(client: Any, sample: Sample, state: Mapping[str, Any], **options: Any) -> Any:
    return client.score(sample.applicant, consent=sample.consent, **options)


# Plain JSON answers: nothing signed to break, nothing encrypted to garble.
MATRIX = (
    MatrixOperation(
        "demo.score", True, False, _score, skip_faults=frozenset({"flip_byte", "garbled"})
    ),
)

SPEC = ProviderSpec(
    name="demo",
    display_name="Demo bureau (synthetic, Sandbox only)",
    client="creditsdk.demobureau.client:DemoClient",
    async_client="creditsdk.demobureau.client:AsyncDemoClient",
    config_from_env="creditsdk.demobureau._protocol:DemoConfig.from_env",
    sandbox="creditsdk.demobureau._sandbox:create_sandbox",
    in_default_sandbox=False,
    batch_operations={"demo.score": "creditsdk.demobureau._batch:DemoScore"},
    sandbox_fields=("api_key",),
    sandbox_secrets=("api_key",),
    matrix="creditsdk.demobureau._spec:MATRIX",
    order=90,
)
