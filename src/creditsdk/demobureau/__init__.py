"""A synthetic bureau that lives only in the Sandbox: try the batch runner with no provider.

``creditsdk batch applicants.csv --operation demo.score --sandbox`` runs a batch against it. It
is built like a real provider (an Operation run by the core transport, billed and not
idempotent, over real HTTP), so the runner's billing rules are exercised for real; its answers
are deterministic functions of the ID number. Its Sandbox side has fault switches the tests use:
answers lost after billing, provider error codes, a 503 once, a hook after each billed call.
"""

from __future__ import annotations

from ._batch import DemoScore
from ._protocol import DemoConfig
from ._sandbox import DemoBureauSandbox, applicant_ref, create_sandbox
from ._spec import SPEC as SPEC  # what central code reads (creditsdk._spec)
from .client import AsyncDemoClient, DemoClient
from .models import DemoRange, DemoScoreResult

__all__ = [
    "AsyncDemoClient",
    "DemoBureauSandbox",
    "DemoClient",
    "DemoConfig",
    "DemoRange",
    "DemoScore",
    "DemoScoreResult",
    "applicant_ref",
    "create_sandbox",
]
