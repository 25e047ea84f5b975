"""Batch runs: one provider operation over thousands of applicants, resumable and billing-safe.

```python
from creditsdk.batch import run_batch

summary = run_batch(
    "applicants.csv", "tianyuan.multi_lending", "out/", consent=consent, rate=5, concurrency=8
)
```

Every row's fate is committed to ``out/ledger.sqlite`` (``sending`` before the call, the result
after it), so running the same thing again after a crash continues where it stopped and never
sends a row that may already have been billed. See docs/batch.md.
"""

from typing import Any

from .._core.prices import Price, load_prices, parse_prices
from ._input import InputEncodingError
from ._ledger import LedgerRow, RowState, RunLedger
from ._ratelimit import TokenBucket
from ._runner import BatchSummary, arun_batch, run_batch
from ._schema import OutputSchema, read_results
from .operations import (
    BatchOperation,
    ProviderOperation,
    available_operations,
    flatten_value,
    get_operation,
    register_operation,
    score_layout,
)

__all__ = [
    "BatchOperation",
    "BatchSummary",
    "InputEncodingError",
    "LedgerRow",
    "OutputSchema",
    "Price",
    "ProviderOperation",
    "RowState",
    "RunLedger",
    "TokenBucket",
    "arun_batch",
    "available_operations",
    "flatten_value",
    "get_operation",
    "load_prices",
    "parse_prices",
    "read_results",
    "register_operation",
    "run_batch",
    "score_layout",
]


def __getattr__(name: str) -> Any:
    if name == "Ledger":  # renamed: it clashed with creditsdk.sandbox.Ledger
        import warnings

        warnings.warn(
            "creditsdk.batch.Ledger is now creditsdk.batch.RunLedger "
            "(creditsdk.sandbox.Ledger is the Sandbox's billing ledger)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RunLedger
    raise AttributeError(f"module 'creditsdk.batch' has no attribute {name!r}")
