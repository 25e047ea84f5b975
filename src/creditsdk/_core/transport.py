"""Former home of the core's transport; kept as re-exports for code that imports from here.

New code imports from the rooms: `clients` (client bases), `executors` (sync/async httpx
executors), `pool` (ShardedAsyncTransport), `call` (the call generator), `policy` (retry rules).
"""

from __future__ import annotations

from .clients import AsyncClientBase, SyncClientBase
from .executors import DEFAULT_MAX_RESPONSE_BYTES
from .executors._httpx import AsyncTransport, SyncTransport
from .pool import ShardedAsyncTransport

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncClientBase",
    "AsyncTransport",
    "ShardedAsyncTransport",
    "SyncClientBase",
    "SyncTransport",
]
