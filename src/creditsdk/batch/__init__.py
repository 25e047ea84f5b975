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

from ._ledger import Ledger, LedgerRow, RowState
from ._prices import Price, load_prices, parse_prices
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
)

__all__ = [
    "BatchOperation",
    "BatchSummary",
    "Ledger",
    "LedgerRow",
    "OutputSchema",
    "Price",
    "ProviderOperation",
    "RowState",
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
]
