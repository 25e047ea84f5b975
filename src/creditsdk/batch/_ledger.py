"""The batch ledger: one SQLite file in the output folder, one row per input row.

The protocol that makes a batch billing-safe across crashes:

1. before a row's call, its state is committed as ``sending``;
2. after the call, its outcome (flattened result included) is committed as a final state;
3. only then does the row count as done.

On the next run, a row still in ``sending`` may have reached the provider and been billed with
its answer lost: it becomes ``maybe_billed`` and is not sent again unless the user asks.

Writes are grouped: whatever accumulates while one commit is running goes into the next, so
``synchronous=FULL`` (an fsync per commit) costs one fsync per group, not per row.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from ..errors import ConfigurationError

__all__ = ["FINAL_STATES", "LedgerRow", "LedgerWriter", "RowState", "RunLedger"]

LEDGER_FILE = "ledger.sqlite"
SCHEMA_VERSION = "1"


class RowState:
    """Ledger states. ``sending`` is the only non-final state a crash can leave behind."""

    SENDING = "sending"
    DONE = "done"  # the provider answered: status hit, no_data or error
    INVALID = "invalid"  # rejected before any call
    MAYBE_BILLED = "maybe_billed"  # may have been billed; answer lost; not re-sent by default
    NOT_SENT = "not_sent"  # failed before the provider could process it; retried next run
    NOT_REACHED = "not_reached"  # the run stopped before this row (balance, limit, interrupt)


FINAL_STATES = frozenset({RowState.DONE, RowState.INVALID, RowState.MAYBE_BILLED})
# state codes for the in-memory index of a resumed ledger (one byte per row)
_CODE = {
    None: 0,
    RowState.SENDING: 1,
    RowState.DONE: 2,
    RowState.INVALID: 3,
    RowState.MAYBE_BILLED: 4,
    RowState.NOT_SENT: 5,
    RowState.NOT_REACHED: 6,
}
_STATE_OF_CODE = {v: k for k, v in _CODE.items()}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    row_no INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT,
    error_code TEXT,
    error_message TEXT,
    transaction_id TEXT,
    keys BLOB,
    result BLOB,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reconciliations (
    row_no INTEGER NOT NULL,
    resolution TEXT NOT NULL,
    previous_state TEXT NOT NULL,
    statement TEXT,
    note TEXT,
    at REAL NOT NULL
);
"""


_UPSERT = (
    "INSERT INTO rows (row_no, fingerprint, state, status, error_code, "
    "error_message, transaction_id, keys, result, attempts, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(row_no) DO UPDATE SET fingerprint=excluded.fingerprint, "
    "state=excluded.state, status=excluded.status, "
    "error_code=excluded.error_code, error_message=excluded.error_message, "
    "transaction_id=excluded.transaction_id, "
    "keys=COALESCE(excluded.keys, rows.keys), result=excluded.result, "
    "attempts=rows.attempts + excluded.attempts, "
    "updated_at=excluded.updated_at"
)


def _pack(obj: Mapping[str, Any] | None) -> bytes | None:
    if obj is None:
        return None
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    return zlib.compress(text.encode("utf-8"), 1)


def _unpack(blob: bytes | None) -> dict[str, Any]:
    if blob is None:
        return {}
    value: dict[str, Any] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return value


@attrs.frozen
class LedgerRow:
    """One row as stored: what the output is made of."""

    row_no: int
    state: str
    status: str | None
    error_code: str | None
    error_message: str | None
    transaction_id: str | None
    keys: dict[str, Any]
    result: dict[str, Any]
    attempts: int


@attrs.frozen
class _Write:
    row_no: int
    fingerprint: str
    state: str
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    transaction_id: str | None = None
    keys: Mapping[str, Any] | None = None
    result: Mapping[str, Any] | None = None
    new_attempt: bool = False


class _FolderLock:
    """An exclusive lock on ``<ledger>.lock`` for the life of a run.

    Two runs on one ledger would each take the other's in-flight rows for crashed ones and
    send rows twice; the second run is refused instead.
    """

    def __init__(self, path: str) -> None:
        self._fh = open(path, "a+")  # noqa: SIM115
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise ConfigurationError(
                "another batch is running on this output folder (its ledger is locked)"
            ) from None

    def release(self) -> None:
        self._fh.close()  # closing the file releases the lock


class RunLedger:
    """The SQLite ledger of one batch (``<output>/ledger.sqlite``).

    Opening it takes an exclusive lock (``ledger.sqlite.lock``) until `close()`.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        from ._pii import private_file

        self.path = os.fspath(path)
        for name in (self.path, self.path + ".lock", self.path + "-wal", self.path + "-shm"):
            private_file(name)
        self._folder_lock = _FolderLock(self.path + ".lock")
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed 'sending' survives power loss, not just a killed process.
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    # -- meta -------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def bind(
        self,
        operation: str,
        *,
        key_id: str | None = None,
        pii: str = "mask",
        output_arg: str = "--output",
    ) -> str:
        """Tie the ledger to one operation (and fingerprint key, and pii mode); return its
        fingerprint salt.

        A ledger started for another operation is refused (a ConfigurationError): resuming
        it with a different operation would mix two data sources in one output. So is one made
        with another fingerprint key (rows could not be checked) or another ``pii`` mode.
        A ledger from before keyed fingerprints (no ``key_id``) keeps its unkeyed ones.
        """
        with self._lock:
            meta = self.meta()
            if not meta:
                salt = secrets.token_hex(16)
                entries = [
                    ("schema", SCHEMA_VERSION),
                    ("operation", operation),
                    ("salt", salt),
                    ("created_at", str(time.time())),
                    ("pii", pii),
                ]
                if key_id is not None:
                    entries.append(("key_id", key_id))
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO meta VALUES (?, ?)", entries)
                self._conn.execute("COMMIT")
                return salt
        if meta.get("operation") != operation:
            raise ConfigurationError(
                f"the output folder holds a batch of {meta.get('operation')!r}, not {operation!r}: "
                f"choose another {output_arg} folder"
            )
        if key_id is not None and meta.get("key_id") not in (None, key_id):
            raise ConfigurationError(
                "this output folder's ledger was made with another fingerprint key (key_dir / "
                "CREDITSDK_CONFIG_DIR): resume it with the key it was made with"
            )
        if meta.get("pii", "mask") != pii:
            raise ConfigurationError(
                f"this output folder was written with pii={meta.get('pii', 'mask')!r}, not "
                f"{pii!r}: resume it with the same mode or choose another {output_arg} folder"
            )
        if meta.get("schema") != SCHEMA_VERSION:
            raise ConfigurationError(f"ledger schema {meta.get('schema')!r} is not supported")
        return meta["salt"]

    # -- resume -----------------------------------------------------------------------------

    def recover(self) -> int:
        """Turn rows a crash left in ``sending`` into ``maybe_billed``. Returns how many."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            cur = self._conn.execute(
                "UPDATE rows SET state=?, status=?, error_code=?, error_message=?, updated_at=? "
                "WHERE state=?",
                (
                    RowState.MAYBE_BILLED,
                    "maybe_billed",
                    "interrupted",
                    "the batch stopped while this call was in flight; it may have been billed",
                    time.time(),
                    RowState.SENDING,
                ),
            )
            self._conn.execute("COMMIT")
            return cur.rowcount

    def index(self) -> bytearray:
        """The state of every row, as one byte per row number (a resumed run's skip list)."""
        states = bytearray()
        for row_no, state in self._conn.execute("SELECT row_no, state FROM rows"):
            if row_no >= len(states):
                states.extend(b"\0" * (row_no + 1 - len(states)))
            states[row_no] = _CODE[state]
        return states

    @staticmethod
    def state_of(states: bytearray, row_no: int) -> str | None:
        if row_no >= len(states):
            return None
        return _STATE_OF_CODE[states[row_no]]

    # -- writes -----------------------------------------------------------------------------

    def apply(self, writes: Sequence[_Write]) -> None:
        """Commit a group of writes in one transaction (one fsync with ``durable``)."""
        now = time.time()
        params = [
            (
                w.row_no,
                w.fingerprint,
                w.state,
                w.status,
                w.error_code,
                w.error_message,
                w.transaction_id,
                _pack(w.keys),
                _pack(w.result),
                1 if w.new_attempt else 0,
                now,
            )
            for w in writes
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # One statement for the group: rows are upserted in order, so a row written
                # twice in one group (sending, then its answer) ends in its last state.
                self._conn.executemany(_UPSERT, params)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- reads ------------------------------------------------------------------------------

    def rows(self, batch_size: int = 1000, *, results: bool = True) -> Iterator[LedgerRow]:
        """Every row in row order, streamed (constant memory), on its own connection.

        ``results=False`` leaves each row's ``result`` empty and never reads or unpacks it: a
        pass that needs only the input side (the schema's scan of input columns) costs a
        fraction of one that decompresses and parses every answer."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        result_column = "result" if results else "NULL"
        query = (
            "SELECT row_no, state, status, error_code, error_message, transaction_id, "
            f"keys, {result_column}, attempts FROM rows WHERE row_no > ? ORDER BY row_no LIMIT ?"
        )
        try:
            last = -1
            while True:
                page = conn.execute(query, (last, batch_size)).fetchall()
                if not page:
                    return
                for r in page:
                    yield LedgerRow(
                        row_no=r[0],
                        state=r[1],
                        status=r[2],
                        error_code=r[3],
                        error_message=r[4],
                        transaction_id=r[5],
                        keys=_unpack(r[6]),
                        result=_unpack(r[7]),
                        attempts=r[8],
                    )
                last = page[-1][0]
        finally:
            conn.close()

    def counts(self) -> dict[str, Any]:
        """Totals over the whole ledger: by status, errors by code, and row count."""
        by_status = dict(
            self._conn.execute(
                "SELECT COALESCE(status, state), COUNT(*) FROM rows GROUP BY 1"
            ).fetchall()
        )
        errors = dict(
            self._conn.execute(
                "SELECT error_code, COUNT(*) FROM rows WHERE error_code IS NOT NULL "
                "AND status IN ('error', 'not_sent', 'maybe_billed', 'invalid') GROUP BY 1"
            ).fetchall()
        )
        total = self._conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
        not_reached = dict(
            self._conn.execute(
                "SELECT COALESCE(error_code, 'unknown'), COUNT(*) FROM rows WHERE state=? "
                "GROUP BY 1",
                (RowState.NOT_REACHED,),
            ).fetchall()
        )
        return {
            "rows": total,
            "by_status": by_status,
            "errors": errors,
            "not_reached": not_reached,
        }

    def row(self, row_no: int) -> LedgerRow | None:
        r = self._conn.execute(
            "SELECT row_no, state, status, error_code, error_message, transaction_id, keys, "
            "result, attempts FROM rows WHERE row_no=?",
            (row_no,),
        ).fetchone()
        if r is None:
            return None
        return LedgerRow(r[0], r[1], r[2], r[3], r[4], r[5], _unpack(r[6]), _unpack(r[7]), r[8])

    def updated_at(self) -> dict[int, float]:
        return dict(self._conn.execute("SELECT row_no, updated_at FROM rows").fetchall())

    def resolve(self, row_no: int, billed: bool, *, statement: str, note: str = "") -> None:
        """Record the user's decision on a ``maybe_billed`` row (from a provider statement):
        billed → final (``error`` / ``lost_answer_billed``, billed 1); not billed → ``not_sent``
        (the next run sends it). Kept in the ``reconciliations`` table."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                found = self._conn.execute(
                    "SELECT state FROM rows WHERE row_no=?", (row_no,)
                ).fetchone()
                if found is None or found[0] != RowState.MAYBE_BILLED:
                    raise ConfigurationError(f"row {row_no} is not maybe_billed")
                if billed:
                    values = (
                        RowState.DONE,
                        "error",
                        "lost_answer_billed",
                        "billed by the provider's statement; the answer was lost",
                    )
                else:
                    values = (
                        RowState.NOT_SENT,
                        "not_sent",
                        "reconciled_not_billed",
                        "not on the provider's statement: will be sent again",
                    )
                self._conn.execute(
                    "UPDATE rows SET state=?, status=?, error_code=?, error_message=?, "
                    "updated_at=? WHERE row_no=?",
                    (*values, time.time(), row_no),
                )
                self._conn.execute(
                    "INSERT INTO reconciliations VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        row_no,
                        "billed" if billed else "not_billed",
                        found[0],
                        statement,
                        note,
                        time.time(),
                    ),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        self._folder_lock.release()


class LedgerWriter:
    """Group commit from asyncio: ``await writer.write(...)`` returns once it is committed."""

    def __init__(self, ledger: RunLedger) -> None:
        self._ledger = ledger
        self._pending: list[tuple[_Write, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="creditsdk-ledger")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def write(self, row_no: int, fingerprint: str, state: str, **fields: Any) -> None:
        await self.submit(row_no, fingerprint, state, **fields)

    def submit(
        self, row_no: int, fingerprint: str, state: str, **fields: Any
    ) -> asyncio.Future[None]:
        """Queue a write; the future is done once it is committed (many rows, one commit)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((_Write(row_no, fingerprint, state, **fields), future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._pending = self._pending, []
            if group:
                try:
                    await loop.run_in_executor(
                        self._executor, self._ledger.apply, [w for w, _ in group]
                    )
                except BaseException as exc:
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                else:
                    self.commits += 1
                    for _, fut in group:
                        if not fut.done():
                            fut.set_result(None)
            if self._closing and not self._pending:
                return

    async def aclose(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)


#: The name inside the package before 0.x; ``creditsdk.batch.Ledger`` warns (it clashed with
#: ``creditsdk.sandbox.Ledger``, the Sandbox's billing ledger).
Ledger = RunLedger
