"""The Sandbox: every provider's server side on 127.0.0.1, for demos, examples and your tests.

See docs/sandbox.md. ``with Sandbox() as sb: client = sb.<provider>_client()``.
"""

from ._app import (
    LedgerEntry,
    ProviderSandbox,
    Route,
    SandboxContext,
    SandboxRequest,
    SandboxResponse,
)
from ._applicants import generate_applicants, write_applicants
from ._faults import FAULT_KINDS, Fault, FaultPlan, InjectedFault
from ._provider import InjectedFailure, ProviderSandboxBase
from ._sandbox import Sandbox, SandboxTransport, discover_providers

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultPlan",
    "InjectedFailure",
    "InjectedFault",
    "LedgerEntry",
    "ProviderSandbox",
    "ProviderSandboxBase",
    "Route",
    "Sandbox",
    "SandboxContext",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxTransport",
    "discover_providers",
    "generate_applicants",
    "write_applicants",
]


def __getattr__(name: str) -> object:
    if name == "Ledger":  # deprecated: the batch runner's is creditsdk.batch.RunLedger
        import warnings

        from ._app import Ledger

        warnings.warn(
            "creditsdk.sandbox.Ledger is deprecated (the Sandbox's internal record); read billed "
            "calls with sb.ledger() or sb.<provider>.ledger()",
            DeprecationWarning,
            stacklevel=2,
        )
        return Ledger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
