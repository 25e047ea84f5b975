"""creditsdk: typed, billing-safe clients for Chinese credit-data providers.

```python
from creditsdk import Applicant, Consent, RetryPolicy
```

Provider clients live in ``creditsdk.tianyuan``, ``creditsdk.fireeye`` and ``creditsdk.sesame``;
the loopback Sandbox in ``creditsdk.sandbox``. Heavier modules are imported on first use so that
``import creditsdk`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from ._version import __version__

if TYPE_CHECKING:
    from ._core.config import NOT_GIVEN, NotGiven
    from ._core.consent import (
        AttemptTiming,
        AuditEvent,
        AuditSink,
        Consent,
        JsonlAuditSink,
        LoggingAuditSink,
        MemoryAuditSink,
    )
    from ._core.identity import Applicant
    from ._core.observe import correlation, current_correlation_id
    from ._core.redact import RedactingFilter
    from ._core.retry import RetryEvent, RetryPolicy
    from ._core.transport import ShardedAsyncTransport

__all__ = [
    "NOT_GIVEN",
    "Applicant",
    "AttemptTiming",
    "AuditEvent",
    "AuditSink",
    "Consent",
    "JsonlAuditSink",
    "LoggingAuditSink",
    "MemoryAuditSink",
    "NotGiven",
    "RedactingFilter",
    "RetryEvent",
    "RetryPolicy",
    "ShardedAsyncTransport",
    "__version__",
    "correlation",
    "current_correlation_id",
    "errors",
]

_LAZY = {
    "NOT_GIVEN": "._core.config",
    "NotGiven": "._core.config",
    "Applicant": "._core.identity",
    "AttemptTiming": "._core.consent",
    "correlation": "._core.observe",
    "current_correlation_id": "._core.observe",
    "AuditEvent": "._core.consent",
    "AuditSink": "._core.consent",
    "Consent": "._core.consent",
    "JsonlAuditSink": "._core.consent",
    "LoggingAuditSink": "._core.consent",
    "MemoryAuditSink": "._core.consent",
    "RedactingFilter": "._core.redact",
    "RetryEvent": "._core.retry",
    "RetryPolicy": "._core.retry",
    "ShardedAsyncTransport": "._core.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'creditsdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
