"""Tianyuan (天远API): AES-enveloped product calls and the JRZQ9E2A multi-lending report.

```python
from creditsdk.tianyuan import TianyuanClient, MultiLendingReport, load_bucket_tables
```

See docs/tianyuan.md for the protocol notes, the error-code table and the bucket-table format.
"""

from __future__ import annotations

from ._protocol import TianyuanConfig
from ._spec import SPEC as SPEC  # what central code reads (creditsdk._spec)
from .client import AsyncTianyuanClient, TianyuanClient
from .factors import (
    SANDBOX_BUCKET_TABLES,
    BucketTableError,
    BucketTables,
    CatalogEntry,
    catalog,
    load_bucket_tables,
)
from .models import (
    Factor,
    MultiLendingReport,
    Range,
    SubResponse,
    TianyuanResult,
    reports_to_frame,
    row_columns,
)

__all__ = [
    "SANDBOX_BUCKET_TABLES",
    "AsyncTianyuanClient",
    "BucketTableError",
    "BucketTables",
    "CatalogEntry",
    "Factor",
    "MultiLendingReport",
    "Range",
    "SubResponse",
    "TianyuanClient",
    "TianyuanConfig",
    "TianyuanResult",
    "catalog",
    "load_bucket_tables",
    "reports_to_frame",
    "row_columns",
]
