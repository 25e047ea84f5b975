"""The batch engine: stream rows in, validate, call under a concurrency limit and a token
bucket, commit every row's fate to the ledger, and make the output from the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, resolve_timeout
from .._core.consent import Consent, check_consent
from .._core.redact import mask_card, mask_id_card, mask_mobile, mask_name
from .._core.retry import RetryPolicy
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    CreditSDKError,
    InsufficientBalanceError,
    InvalidInputError,
    ProductNotEnabledError,
    ProviderError,
    RateLimitedError,
    ResponseIntegrityError,
    TransportError,
    UnverifiedCardWarning,
)
from ._input import CONSENT_COLUMNS, PERSONAL_COLUMNS, InputRows, consent_for_row, fingerprint
from ._ledger import FINAL_STATES, LEDGER_FILE, Ledger, LedgerWriter, RowState
from ._output import LiveFeed, write_output
from ._progress import make_progress, progress_wanted
from ._ratelimit import TokenBucket
from .operations import BatchOperation, get_operation

__all__ = ["BatchSummary", "arun_batch", "run_batch"]

_MASKERS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "id_card": mask_id_card,
    "mobile": mask_mobile,
    "card_no": mask_card,
}
_FATAL = (AuthenticationError, InsufficientBalanceError, ProductNotEnabledError, ConfigurationError)


@attrs.frozen
class BatchSummary:
    """What a batch did. Totals (``rows`` … ``maybe_billed``) cover the whole ledger, across
    resumed runs; ``calls``, ``elapsed`` and ``rows_per_second`` cover this run only.

    ``billed_calls`` counts answered calls (``hit`` + ``no_data``): what the provider bills for
    certain. ``maybe_billed`` rows may have been billed too. ``errors`` counts rows by error
    code (provider codes, ``transport``, ``rate_limited``, ``invalid`` rules …).
    """

    operation: str
    rows: int
    hits: int
    no_data: int
    invalid: int
    errors: int
    not_sent: int
    maybe_billed: int
    billed_calls: int
    errors_by_code: Mapping[str, int]
    calls: int
    rows_this_run: int
    skipped: int
    elapsed: float
    rows_per_second: float
    output: str
    ledger: str
    aborted: str | None = None

    @property
    def complete(self) -> bool:
        """Every row has a final answer: nothing to retry, nothing possibly billed unanswered."""
        return self.aborted is None and self.not_sent == 0 and self.maybe_billed == 0

    @property
    def exit_code(self) -> int:
        """0 when complete; 1 when rows are not_sent / maybe_billed or the batch was aborted."""
        return 0 if self.complete else 1

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["errors_by_code"] = dict(self.errors_by_code)
        d["complete"] = self.complete
        return d

    def format(self) -> str:
        lines = [
            f"operation      {self.operation}",
            f"rows           {self.rows}  (hit {self.hits}, no data {self.no_data}, "
            f"invalid {self.invalid}, error {self.errors}, not sent {self.not_sent}, "
            f"maybe billed {self.maybe_billed})",
            f"billed calls   {self.billed_calls}"
            + (f" (+{self.maybe_billed} maybe billed)" if self.maybe_billed else ""),
            f"this run       {self.rows_this_run} rows, {self.calls} calls in "
            f"{self.elapsed:.1f} s ({self.rows_per_second:.1f} rows/s); "
            f"{self.skipped} already done",
        ]
        if self.errors_by_code:
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors_by_code.items()))
            lines.append(f"errors         {codes}")
        if self.aborted:
            lines.append(f"aborted        {self.aborted}")
        lines.append(f"output         {self.output}")
        return "\n".join(lines)


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, InvalidInputError):
        return f"invalid:{exc.field}:{exc.rule}"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, CreditSDKError) and exc.code:
        return str(exc.code)
    if isinstance(exc, TransportError):
        return "transport"
    if isinstance(exc, ResponseIntegrityError):
        return "integrity"
    if isinstance(exc, ConfigurationError):
        return "configuration"
    return type(exc).__name__


def _classify(exc: BaseException) -> tuple[str, str]:
    """(ledger state, output status) for a failed call."""
    if isinstance(exc, InvalidInputError):
        return RowState.INVALID, "invalid"
    if isinstance(exc, (TransportError, ResponseIntegrityError)):
        if getattr(exc, "maybe_billed", False):
            return RowState.MAYBE_BILLED, "maybe_billed"
        return RowState.NOT_SENT, "not_sent"
    if isinstance(exc, (RateLimitedError, *_FATAL)):
        return RowState.NOT_SENT, "not_sent"  # refused before processing: safe to send later
    if isinstance(exc, ProviderError):
        return RowState.DONE, "error"
    # Anything else came from code between us and the wire: we cannot tell if it was sent.
    return RowState.MAYBE_BILLED, "maybe_billed"


def _keys(row: Mapping[str, str], masked: Mapping[str, str] | None) -> dict[str, str]:
    """What the ledger and output keep of the input: other columns as they are, personal ones
    masked, consent columns dropped."""
    out: dict[str, str] = {}
    for k, v in row.items():
        if k in CONSENT_COLUMNS:
            continue
        if k in PERSONAL_COLUMNS:
            out[k] = _MASKERS[k](v) if v else ""
        else:
            out[k] = v
    if masked:
        out.update(masked)
    return out


def _count_rows(source: Any, encoding: str) -> int | None:
    if isinstance(source, (str, os.PathLike)):
        import csv

        try:
            with open(source, newline="", encoding=encoding) as fh:
                return max(0, sum(1 for _ in csv.reader(fh)) - 1)
        except (OSError, UnicodeDecodeError, csv.Error):
            return None
    try:
        return len(source)
    except TypeError:
        return None


def _open_sandbox(sandbox: Any, op: BatchOperation) -> tuple[Any, bool]:
    if sandbox is None or sandbox is False:
        return None, False
    if sandbox is True:
        from ..sandbox import Sandbox

        sb = Sandbox(extra_providers=dict(op.sandbox_providers()))
        sb.start()
        return sb, True
    return sandbox, False


def _http_client(sb: Any, bucket: TokenBucket | None, verify: Any) -> httpx.AsyncClient:
    hooks: dict[str, list[Callable[..., Any]]] = {}
    if bucket is not None:
        hooks["request"] = [bucket.request_hook]
    # One connection per worker: httpcore's pool bookkeeping grows with its size.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    if sb is not None and not sb.running:
        return httpx.AsyncClient(transport=sb.async_transport(), event_hooks=hooks)
    return httpx.AsyncClient(limits=limits, event_hooks=hooks, verify=verify)


def _ssl_context(sb: Any) -> Any:
    """One TLS context shared by every worker's connection (each costs a CA-bundle load)."""
    if sb is not None and sb.tls:
        return sb.ssl_context()
    if sb is not None and not sb.running:
        return True
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


async def arun_batch(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | Any,
    operation: str | BatchOperation,
    output: str | os.PathLike[str],
    *,
    format: str = "csv",
    consent: Consent | None = None,
    concurrency: int = 8,
    rate: float | None = 10.0,
    burst: int = 1,
    sandbox: Any = None,
    retry_maybe_billed: bool = False,
    limit: int | None = None,
    timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    retry: RetryPolicy | None = None,
    audit: object = None,
    client: Any = None,
    client_options: Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | None = None,
    encoding: str = "utf-8-sig",
    durable: bool = True,
    progress: bool | None = None,
    handle_signals: bool = False,
) -> BatchSummary:
    """Run ``operation`` over every row of ``source``; see [`run_batch`][]."""
    op = get_operation(operation)
    if format not in ("csv", "parquet"):
        raise ConfigurationError(f"format must be 'csv' or 'parquet', not {format!r}")
    if format == "parquet":
        try:
            importlib.import_module("pyarrow")
        except ImportError:
            raise ConfigurationError(
                "Parquet output needs pyarrow: pip install 'creditsdk[parquet]'"
            ) from None
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be an integer >= 1, not {concurrency!r}")
    if rate is not None and not rate > 0:
        raise ConfigurationError(f"rate must be > 0 calls per second (or None), not {rate!r}")
    if limit is not None and limit < 0:
        raise ConfigurationError(f"limit must be >= 0, not {limit!r}")
    if consent is not None:
        check_consent(consent)
    resolve_timeout(timeout, httpx.Timeout(20.0))  # fail early on a bad timeout

    out_dir = os.fspath(output)
    os.makedirs(out_dir, exist_ok=True)
    rows = InputRows(source, encoding=encoding, mapping=columns)
    try:
        rows.check_columns(op.required)
        if op.needs_consent and consent is None and "consent_reference" not in rows.columns:
            raise ConfigurationError(
                "a consent is needed: give one for the run (--consent-reference, "
                "--consent-purpose, --consent-granted-at) or consent_* columns"
            )
    except BaseException:
        rows.close()
        raise
    total = _count_rows(source, encoding) if progress_wanted(progress) else None
    if total is not None and limit is not None:
        total = min(total, limit)

    ledger_path = os.path.join(out_dir, LEDGER_FILE)
    output_path = os.path.join(out_dir, f"results.{format}")
    ledger = Ledger(ledger_path, durable=durable)
    sb, owns_sandbox = None, False
    https: list[httpx.AsyncClient] = []
    apis: list[Any] = []
    try:
        salt = ledger.bind(op.name)
        ledger.recover()
        states = ledger.index()
        sb, owns_sandbox = _open_sandbox(sandbox, op)
        bucket = TokenBucket(rate, burst=burst) if rate is not None else None
        if client is None:
            # A client (and one keep-alive connection) per worker.
            verify = _ssl_context(sb)
            for _ in range(concurrency):
                https.append(_http_client(sb, bucket, verify))
                apis.append(
                    _make_client(
                        op,
                        dict(client_options or {}),
                        sandbox=sb,
                        http_client=https[-1],
                        timeout=timeout,
                        retry=retry,
                        audit=audit,
                    )
                )
        else:
            apis = [client] * concurrency
        reader = sqlite3.connect(ledger_path, isolation_level=None)
        runner = _Run(
            op=op,
            apis=apis,
            ledger=ledger,
            reader=reader,
            states=states,
            salt=salt,
            consent=consent,
            retry_maybe_billed=retry_maybe_billed,
            concurrency=concurrency,
            bucket=bucket,
            prepay_only=client is not None,
            limit=limit,
            timeout=timeout,
            retry=NOT_GIVEN if retry is None else retry,
            feed=LiveFeed(os.path.join(out_dir, "results.live.jsonl")),
            progress=make_progress(progress, total, op.name),
        )
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # Cards failing Luhn are sent anyway, as the clients do: no warning per row.
                warnings.simplefilter("ignore", UnverifiedCardWarning)
                await runner.run(rows, handle_signals=handle_signals)
        finally:
            elapsed = time.perf_counter() - started
            runner.feed.close()
            runner.progress.close()
            reader.close()
        write_output(ledger, output_path, format)
        summary = _summary(op.name, ledger, runner, elapsed, output_path, ledger_path)
        _write_summary(os.path.join(out_dir, "summary.json"), summary)
        return summary
    finally:
        rows.close()
        if client is None:
            for api in apis:
                with contextlib.suppress(Exception):
                    await api.aclose()
        for http in https:
            await http.aclose()
        if owns_sandbox and sb is not None:
            sb.stop()
        ledger.close()


def _make_client(op: BatchOperation, options: dict[str, Any], **wiring: Any) -> Any:
    try:
        return op.make_client(**wiring, **options)
    except TypeError as exc:
        if not options:
            raise
        raise ConfigurationError(
            f"the {op.provider} client refused client options {sorted(options)} ({exc})"
        ) from None


def _write_summary(path: str, summary: BatchSummary) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(summary.to_dict(), fh, ensure_ascii=False, indent=2)


def _summary(
    name: str, ledger: Ledger, run: _Run, elapsed: float, output: str, ledger_path: str
) -> BatchSummary:
    counts = ledger.counts()
    by_status: dict[str, int] = counts["by_status"]
    hits = by_status.get("hit", 0)
    no_data = by_status.get("no_data", 0)
    return BatchSummary(
        operation=name,
        rows=counts["rows"],
        hits=hits,
        no_data=no_data,
        invalid=by_status.get("invalid", 0),
        errors=by_status.get("error", 0),
        not_sent=by_status.get("not_sent", 0),
        maybe_billed=by_status.get("maybe_billed", 0),
        billed_calls=hits + no_data,
        errors_by_code=dict(counts["errors"]),
        calls=run.calls,
        rows_this_run=run.finished,
        skipped=run.skipped,
        elapsed=elapsed,
        rows_per_second=run.finished / elapsed if elapsed > 0 else 0.0,
        output=output,
        ledger=ledger_path,
        aborted=run.aborted,
    )


class _Run:
    def __init__(
        self,
        *,
        op: BatchOperation,
        apis: list[Any],
        ledger: Ledger,
        reader: sqlite3.Connection,
        states: bytearray,
        salt: str,
        consent: Consent | None,
        retry_maybe_billed: bool,
        concurrency: int,
        bucket: TokenBucket | None,
        prepay_only: bool,
        limit: int | None,
        timeout: Any,
        retry: Any,
        feed: LiveFeed,
        progress: Any,
    ) -> None:
        self.op = op
        self.apis = apis
        self.ledger = ledger
        self.reader = reader
        self.states = states
        self.salt = salt
        self.consent = consent
        self.retry_maybe_billed = retry_maybe_billed
        self.concurrency = concurrency
        self.bucket = bucket
        self.prepay_only = prepay_only
        self.limit = limit
        self.timeout = timeout
        self.retry = retry
        self.feed = feed
        self.progress = progress
        self.writer = LedgerWriter(ledger)
        self.calls = 0
        self.finished = 0
        self.skipped = 0
        self.aborted: str | None = None

    def _stored_fingerprint(self, row_no: int) -> str | None:
        found = self.reader.execute(
            "SELECT fingerprint FROM rows WHERE row_no=?", (row_no,)
        ).fetchone()
        return None if found is None else str(found[0])

    def _done(self, row_no: int, status: str, **record: Any) -> None:
        self.finished += 1
        self.progress.advance(status)
        self.feed.write({"row": row_no, "status": status, **record})

    def abort(self, reason: str) -> None:
        if self.aborted is None:
            self.aborted = reason

    async def run(self, rows: InputRows, *, handle_signals: bool) -> None:
        self.writer.start()
        queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        workers = [
            asyncio.create_task(self._worker(queue, self.apis[i])) for i in range(self.concurrency)
        ]
        restore = self._install_signals() if handle_signals else None
        try:
            try:
                await self._produce(rows, queue)
            finally:
                for _ in workers:
                    await queue.put(None)
                await asyncio.gather(*workers)
        finally:
            if restore is not None:
                restore()
            await self.writer.aclose()

    def _install_signals(self) -> Callable[[], None] | None:
        if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
            return None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            if self.aborted is not None:  # second signal: stop now
                raise KeyboardInterrupt
            self.abort("interrupted: rows in flight were finished, the rest left for the next run")

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, stop)
                installed.append(sig)

        def restore() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return restore

    async def _produce(self, rows: InputRows, queue: asyncio.Queue[tuple[Any, ...] | None]) -> None:
        op = self.op
        for row_no, row in rows:
            if self.aborted is not None:
                return
            if self.limit is not None and row_no > self.limit:
                return
            fp = fingerprint(self.salt, row)
            state = Ledger.state_of(self.states, row_no)
            if state is not None:
                if self._stored_fingerprint(row_no) != fp:
                    raise ConfigurationError(
                        f"input row {row_no} differs from the row the ledger recorded for it: "
                        "this output folder belongs to another input file (or it was edited)"
                    )
                resend = state == RowState.MAYBE_BILLED and self.retry_maybe_billed
                if state in FINAL_STATES and not resend:
                    self.skipped += 1
                    self.progress.advance(None)
                    continue
            try:
                prepared = op.prepare(row)
                row_consent = consent_for_row(row, self.consent)
                if op.needs_consent:
                    row_consent = check_consent(row_consent)
            except (InvalidInputError, ValueError) as exc:
                code = _error_code(exc)
                await self.writer.write(
                    row_no,
                    fp,
                    RowState.INVALID,
                    status="invalid",
                    error_code=code,
                    error_message=str(exc),
                    keys=_keys(row, None),
                )
                self._done(row_no, "invalid", error_code=code)
                continue
            keys = _keys(row, op.masked(prepared))
            await queue.put((row_no, fp, prepared, row_consent, keys))

    async def _worker(self, queue: asyncio.Queue[tuple[Any, ...] | None], api: Any) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self.aborted is not None:
                continue  # never marked sending: the next run sends it
            row_no, fp, prepared, row_consent, keys = item
            if self.bucket is not None:
                if self.prepay_only:
                    await self.bucket.acquire()
                else:
                    await self.bucket.prepay()
            if self.aborted is not None:
                continue
            # The billing-safe step: committed before anything can reach the provider.
            await self.writer.write(row_no, fp, RowState.SENDING, keys=keys, new_attempt=True)
            self.calls += 1
            try:
                result = await self.op.call(
                    api, prepared, row_consent, timeout=self.timeout, retry=self.retry
                )
            except Exception as exc:
                await self._failed(row_no, fp, exc)
                continue
            try:
                status = self.op.status(result)
                flat = self.op.flatten(result)
                txn = self.op.transaction_id(result)
            except Exception as exc:  # answered (and billed) but not understood
                txn = getattr(result, "transaction_id", None)
                await self.writer.write(
                    row_no,
                    fp,
                    RowState.DONE,
                    status="error",
                    error_code="unreadable_result",
                    error_message=f"{type(exc).__name__} while reading the answer",
                    transaction_id=txn,
                )
                self._done(row_no, "error", error_code="unreadable_result")
                continue
            await self.writer.write(
                row_no, fp, RowState.DONE, status=status, transaction_id=txn, result=flat
            )
            self._done(row_no, status, transaction_id=txn)

    async def _failed(self, row_no: int, fp: str, exc: Exception) -> None:
        state, status = _classify(exc)
        code = _error_code(exc)
        txn = getattr(exc, "transaction_id", None)
        await self.writer.write(
            row_no,
            fp,
            state,
            status=status,
            error_code=code,
            error_message=str(exc),
            transaction_id=txn,
        )
        self._done(row_no, status, error_code=code)
        if isinstance(exc, _FATAL):
            self.abort(f"{type(exc).__name__}: {exc}")


def run_batch(
    source: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | Any,
    operation: str | BatchOperation,
    output: str | os.PathLike[str],
    **options: Any,
) -> BatchSummary:
    """Run ``operation`` over every row of ``source`` and write ``output``/results.csv.

    ``source``: a CSV path, a pandas DataFrame or an iterable of mappings with the operation's
    columns. ``output``: a folder; it holds the ledger (``ledger.sqlite``), the results and
    ``summary.json``. Running the same call again resumes: rows already answered are not sent
    again. Options are those of [`arun_batch`][] (``consent=``, ``concurrency=``, ``rate=``,
    ``sandbox=``, ``retry_maybe_billed=``, ``limit=``, ``format=`` …); ``client_options`` go to
    the provider client's constructor (e.g. Tianyuan's ``bucket_tables=``). Blocks until done; from
    inside a running event loop (Jupyter), it runs in a helper thread.
    """
    coro = arun_batch(source, operation, output, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="creditsdk-batch")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: BatchSummary = box["result"]
    return result
