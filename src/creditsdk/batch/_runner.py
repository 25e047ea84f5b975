"""The batch engine: stream rows in, validate, call under a concurrency limit and a token
bucket, commit every row's fate to the ledger, and make the output from the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shlex
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import httpx

from .._core.config import NOT_GIVEN, NotGiven, TimeoutArg, resolve_timeout
from .._core.consent import Consent, check_consent
from .._core.prices import Price, load_prices, parse_prices
from .._core.redact import redact_text
from .._core.retry import RetryPolicy
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    CreditSDKError,
    InsufficientBalanceError,
    InvalidInputError,
    ProductNotEnabledError,
    RateLimitedError,
    ResponseIntegrityError,
    TransportError,
    UnverifiedCardWarning,
)
from ._input import CONSENT_COLUMNS, PERSONAL_COLUMNS, InputRows, consent_for_row, fingerprint
from ._ledger import FINAL_STATES, LEDGER_FILE, Ledger, LedgerWriter, RowState
from ._output import LiveFeed, make_schema, write_output
from ._pii import PiiPolicy, key_id, load_key, private_file
from ._progress import make_progress, progress_wanted
from ._ratelimit import TokenBucket
from .operations import BatchOperation, get_operation

__all__ = ["BatchSummary", "arun_batch", "run_batch"]

SUMMARY_FILE = "summary.json"
_FATAL = (AuthenticationError, InsufficientBalanceError, ProductNotEnabledError, ConfigurationError)
_NOT_REACHED = {
    "balance_exhausted": "the provider refused for lack of balance; the run stopped before it",
    "authentication_refused": "the provider refused the credentials; the run stopped",
    "product_not_enabled": "the product is not enabled for the account; the run stopped",
    "configuration": "a configuration error stopped the run before this row",
    "interrupted": "the run was interrupted before this row",
    "limit": "beyond the run's limit",
}


def _abort_reason(exc: BaseException) -> str:
    if isinstance(exc, InsufficientBalanceError):
        return "balance_exhausted"
    if isinstance(exc, AuthenticationError):
        return "authentication_refused"
    if isinstance(exc, ProductNotEnabledError):
        return "product_not_enabled"
    return "configuration"


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
    rows_reached: int = 0
    not_reached: Mapping[str, int] = attrs.field(factory=dict)
    by_status: Mapping[str, int] = attrs.field(factory=dict)
    billed: int = 0
    returned: int = 0
    effective: int = 0
    cost: Mapping[str, Any] | None = None
    prices: Mapping[str, Any] | None = None

    @property
    def rows_total(self) -> int:
        return self.rows

    @property
    def complete(self) -> bool:
        """Every row has a final answer: nothing to retry, nothing possibly billed unanswered."""
        return (
            self.aborted is None
            and self.not_sent == 0
            and self.maybe_billed == 0
            and not any(self.not_reached.values())
        )

    @property
    def exit_code(self) -> int:
        """0 when complete; 1 when rows are not_sent / maybe_billed or the batch was aborted."""
        return 0 if self.complete else 1

    @property
    def next_step(self) -> str | None:
        """What to do about rows left in doubt: for ``maybe_billed`` rows, the exact
        ``creditsdk batch reconcile`` command line (None when there is nothing to do)."""
        if not self.maybe_billed:
            return None
        run_dir = shlex.quote(os.path.dirname(self.ledger) or ".")
        rows = "row" if self.maybe_billed == 1 else "rows"
        return (
            f"{self.maybe_billed} {rows} may have been billed without an answer. Check them "
            "against the provider's billing statement (a CSV):\n"
            f"  creditsdk batch reconcile {run_dir} STATEMENT.csv\n"
            "then add --apply to settle them (billed: final; not billed: sent by the next run), "
            "or send them again, possibly paying twice, with --retry-maybe-billed"
        )

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["next_step"] = self.next_step
        d["errors_by_code"] = dict(self.errors_by_code)
        d["not_reached"] = dict(self.not_reached)
        d["by_status"] = dict(self.by_status)
        d["rows_total"] = self.rows
        d["complete"] = self.complete
        if self.cost is None:
            d.pop("cost")
        if self.prices is None:
            d.pop("prices")
        return d

    def format(self) -> str:
        not_reached = sum(self.not_reached.values())
        why = ", ".join(f"{k}: {v}" for k, v in sorted(self.not_reached.items()))
        lines = [
            f"operation      {self.operation}",
            f"rows           {self.rows} in the input so far; reached {self.rows_reached}"
            + (f", not reached {not_reached} ({why})" if not_reached else ""),
            f"outcomes       hit {self.hits}, no data {self.no_data}, invalid {self.invalid}, "
            f"error {self.errors}, not sent {self.not_sent}, maybe billed {self.maybe_billed}",
            f"billed         {self.billed}"
            + (f" (+{self.maybe_billed} maybe billed)" if self.maybe_billed else "")
            + f"; returned data {self.returned}; effective {self.effective}",
            f"this run       {self.rows_this_run} rows, {self.calls} calls in "
            f"{self.elapsed:.1f} s ({self.rows_per_second:.1f} rows/s); "
            f"{self.skipped} already done",
        ]
        if self.errors_by_code:
            codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors_by_code.items()))
            lines.append(f"errors         {codes}")
        if self.cost is not None:
            lo, hi = self.cost["maybe_billed_range"]
            extra = f" (maybe billed rows: +{lo} .. +{hi})" if self.maybe_billed else ""
            lines.append(f"cost           {self.cost['total']} {self.cost['currency']}{extra}")
        if self.aborted:
            lines.append(f"aborted        {self.aborted}")
        lines.append(f"output         {self.output}")
        step = self.next_step
        if step is not None:
            first, *rest = step.splitlines()
            lines.append(f"next step      {first}")
            lines.extend(f"               {line}" for line in rest)
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
    # The call's own outcome says whether the request was sent (creditsdk._core.gates).
    outcome = getattr(exc, "outcome", None)
    if outcome == "maybe_billed":
        return RowState.MAYBE_BILLED, "maybe_billed"
    if outcome == "not_sent" or isinstance(exc, (RateLimitedError, *_FATAL)):
        return RowState.NOT_SENT, "not_sent"  # refused before processing: safe to send later
    if outcome == "answered":
        return RowState.DONE, "error"
    # Anything else came from code between us and the wire: we cannot tell if it was sent.
    return RowState.MAYBE_BILLED, "maybe_billed"


def _keys(
    row: Mapping[str, str], masked: Mapping[str, str] | None, pii: PiiPolicy
) -> dict[str, str]:
    """What the ledger and output keep of the input: personal columns masked (or HMAC'd, or
    dropped), other cells as they are unless they look like an ID, mobile or card number,
    consent columns dropped."""
    out: dict[str, str] = {}
    for k, v in row.items():
        if k in CONSENT_COLUMNS:
            continue
        if k in PERSONAL_COLUMNS and k not in pii.raw_columns:
            kept = pii.personal(k, v)
            if kept is not None:
                out[k] = kept
        else:
            out[k] = pii.passthrough(k, v)
    if masked:
        for k, v in pii.masked_prepared(masked, row).items():
            if k not in pii.raw_columns:
                out[k] = v
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


def _open_sandbox(
    sandbox: Any, op: BatchOperation, balance: int | NotGiven | None
) -> tuple[Any, bool]:
    if sandbox is None or sandbox is False:
        if not isinstance(balance, NotGiven):
            raise ConfigurationError(
                "sandbox_balance is for runs against the Sandbox (sandbox=True)"
            )
        return None, False
    if sandbox is True:
        from ..sandbox import Sandbox

        options: dict[str, dict[str, Any]] = {}
        if not isinstance(balance, NotGiven):
            options[op.provider] = {"balance": balance}
        sb = Sandbox(extra_providers=dict(op.sandbox_providers()), options=options)
        sb.start()
        if not isinstance(balance, NotGiven):
            provider = sb.provider(op.provider)
            if not hasattr(provider, "balance"):
                if balance is None:  # unlimited: what a provider without a balance is anyway
                    return sb, True
                sb.stop()
                raise ConfigurationError(
                    f"the {op.provider} Sandbox has no balance to set (sandbox_balance)"
                )
            provider.balance = balance
        return sb, True
    if not isinstance(balance, NotGiven):
        sb_provider = sandbox.provider(op.provider)
        if hasattr(sb_provider, "balance"):
            sb_provider.balance = balance
        elif balance is not None:
            raise ConfigurationError(
                f"the {op.provider} Sandbox has no balance to set (sandbox_balance)"
            )
    return sandbox, False


def _in_process_http(sb: Any) -> httpx.AsyncClient:
    """An httpx client answered by a Sandbox that is not serving (no socket)."""
    return httpx.AsyncClient(transport=sb.async_transport())


class _Names:
    """Option names for messages: the CLI's flags or the Python arguments."""

    def __init__(self, cli: bool) -> None:
        self.cli = cli

    def __call__(self, python: str, flag: str) -> str:
        return flag if self.cli else python


def _check_rate(rate: float | None, name: _Names) -> float | None:
    """``None`` or 0: unlimited (the CLI's ``--rate 0``); else calls per second, > 0."""
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate != rate or rate < 0:
        raise ConfigurationError(
            f"{name('rate', '--rate')} must be a number of calls per second >= 0 "
            f"(0 or None: unlimited), not {rate!r}"
        )
    return None if rate == 0 else float(rate)


def _resolve_prices(prices: Any, operation: str, name: _Names) -> Price | None:
    if prices is None:
        return None
    if isinstance(prices, Price):
        table: Mapping[str, Price] = {prices.operation: prices}
    elif isinstance(prices, (str, os.PathLike)):
        table = load_prices(prices)
    elif isinstance(prices, Mapping):
        if all(isinstance(v, Price) for v in prices.values()):
            table = prices
        else:
            table = parse_prices(prices, source=name("prices", "--prices"))
    else:
        raise ConfigurationError(
            f"{name('prices', '--prices')} must be a prices.toml path, a mapping or a Price"
        )
    price = table.get(operation)
    if price is None:
        raise ConfigurationError(
            f"{name('prices', '--prices')} has no price for {operation!r} (it has {sorted(table)})"
        )
    return price


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
    sandbox_balance: int | NotGiven | None = NOT_GIVEN,
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
    prices: Any = None,
    pii: str = "mask",
    raw_columns: Iterable[str] = (),
    key_columns: Iterable[str] = (),
    dtypes: Mapping[str, str] | None = None,
    key_dir: str | os.PathLike[str] | None = None,
    _cli: bool = False,
) -> BatchSummary:
    """Run ``operation`` over every row of ``source``; see [`run_batch`][]."""
    name = _Names(_cli)
    op = get_operation(operation)
    if format not in ("csv", "parquet"):
        raise ConfigurationError(
            f"{name('format', '--format')} must be 'csv' or 'parquet', not {format!r}"
        )
    if format == "parquet":
        try:
            importlib.import_module("pyarrow")
        except ImportError:
            raise ConfigurationError(
                "Parquet output needs pyarrow: pip install 'creditsdk[parquet]'"
            ) from None
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(
            f"{name('concurrency', '--concurrency')} must be an integer >= 1, not {concurrency!r}"
        )
    rate = _check_rate(rate, name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigurationError(f"{name('limit', '--limit')} must be >= 0, not {limit!r}")
    if (
        not isinstance(sandbox_balance, NotGiven)
        and sandbox_balance is not None
        and (
            isinstance(sandbox_balance, bool)
            or not isinstance(sandbox_balance, int)
            or sandbox_balance < 0
        )
    ):
        raise ConfigurationError(
            f"{name('sandbox_balance', '--sandbox-balance')} must be an integer >= 0 "
            f"(or None: unlimited), not {sandbox_balance!r}"
        )
    if consent is not None:
        check_consent(consent)
    resolve_timeout(timeout, httpx.Timeout(20.0))  # fail early on a bad timeout
    price = _resolve_prices(prices, op.name, name)
    raw_cols = tuple(raw_columns)
    key_cols = tuple(key_columns)

    out_dir = os.fspath(output)
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    policy = PiiPolicy(pii, load_key(key_dir, output=out_dir), raw_cols)
    fp_key = policy._key
    rows = InputRows(source, encoding=encoding, mapping=columns, cli=_cli)
    try:
        rows.check_columns(op.required, cli=_cli)
        missing = [c for c in (*raw_cols, *key_cols) if c not in rows.columns]
        if missing:
            raise ConfigurationError(
                f"{name('raw_columns / key_columns', '--raw-column / --key-column')} name "
                f"column(s) {missing} the input does not have (it has {rows.columns})"
            )
        if op.needs_consent and consent is None and "consent_reference" not in rows.columns:
            how = name(
                "consent=Consent(reference=..., purpose=..., granted_at=...)",
                "--consent-reference, --consent-purpose, --consent-granted-at",
            )
            raise ConfigurationError(
                f"a consent is needed: give one for the run ({how}) or consent_* columns"
            )
        if "consent_reference" in rows.columns and "consent_granted_at" not in rows.columns:
            raise ConfigurationError(
                "the input has a consent_reference column but no consent_granted_at column: "
                "add one with the ISO date-time each row's consent was granted (e.g. "
                "2026-11-01T09:00); a row's consent needs its own time, the run's "
                f"{name('consent=', '--consent-granted-at')} is not used for it"
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
        meta_before = ledger.meta()
        legacy = bool(meta_before) and "key_id" not in meta_before
        salt = ledger.bind(
            op.name,
            key_id=None if legacy else key_id(fp_key),
            pii=pii,
            output_arg=name("output", "--output"),
        )
        ledger.recover()
        states = ledger.index()
        sb, owns_sandbox = _open_sandbox(sandbox, op, sandbox_balance)
        layout_of = getattr(op, "layout", None)
        layout = (
            layout_of(dict(client_options or {}), sandbox=sb) if layout_of is not None else None
        )
        bucket = TokenBucket(rate, burst=burst) if rate is not None else None
        if client is None:
            # One client for every worker, on the client's own default executor (the async
            # default: aiohttp when installed, else sharded httpx pools): it holds up to
            # ``concurrency`` keep-alive connections itself.
            wiring: dict[str, Any] = {}
            if sb is not None and not sb.running:
                https.append(_in_process_http(sb))
                wiring["http_client"] = https[-1]
            shared = _make_client(
                op,
                dict(client_options or {}),
                sandbox=sb,
                timeout=timeout,
                retry=retry,
                audit=audit,
                **wiring,
            )
            add_gate = getattr(shared, "_add_gate", None)
            if bucket is not None and add_gate is not None:
                # Retries take their tokens inside the call; the first is paid below.
                add_gate(bucket.gate(first_attempt_paid=True))
            apis = [shared]
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
            fp_key=None if legacy else fp_key,
            pii=policy,
            consent=consent,
            retry_maybe_billed=retry_maybe_billed,
            concurrency=concurrency,
            bucket=bucket,
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
        schema = make_schema(
            ledger,
            operation=op.name,
            provider=op.provider,
            layout=layout,
            personal=frozenset(PERSONAL_COLUMNS) - frozenset(raw_cols),
            key_columns=key_cols,
            dtypes=dtypes,
            pii=pii,
        )
        tally: dict[str, int] = {}
        write_output(ledger, output_path, format, schema, tally=tally)
        summary = _summary(
            op.name,
            ledger,
            runner,
            elapsed,
            output_path,
            ledger_path,
            price,
            effective=tally.get("effective"),
        )
        _write_summary(os.path.join(out_dir, SUMMARY_FILE), summary)
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
    tmp = f"{path}.tmp"
    private_file(tmp)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(summary.to_dict(), fh, ensure_ascii=False, indent=2)
    os.replace(tmp, path)


def _effective_count(ledger: Ledger) -> int:
    count = 0
    for row in ledger.rows():
        if row.status == "hit" and row.result.get("effective", 1):
            count += 1
    return count


def _cost(price: Price, billed: int, returned: int, effective: int, maybe: int) -> dict[str, Any]:
    total = price.cost(billed, returned)
    # a maybe_billed row costs nothing (not billed) up to a billed call that returned data
    high = price.cost(maybe, maybe)
    per_hit = (total / returned).quantize(Decimal("0.0001")) if returned else None
    per_effective = (total / effective).quantize(Decimal("0.0001")) if effective else None
    return {
        "currency": price.currency,
        "total": str(total),
        "per_call": None if price.per_call is None else str(price.per_call),
        "per_hit": None if price.per_hit is None else str(price.per_hit),
        "per_returned_hit": None if per_hit is None else str(per_hit),
        "per_effective_hit": None if per_effective is None else str(per_effective),
        "maybe_billed_range": ["0", str(high)],
    }


def _summary(
    name: str,
    ledger: Ledger,
    run: _Run,
    elapsed: float,
    output: str,
    ledger_path: str,
    price: Price | None = None,
    *,
    effective: int | None = None,
) -> BatchSummary:
    counts = ledger.counts()
    by_status: dict[str, int] = counts["by_status"]
    hits = by_status.get("hit", 0)
    no_data = by_status.get("no_data", 0)
    billed_errors = sum(
        n
        for code, n in counts["errors"].items()
        if code in ("unreadable_result", "lost_answer_billed")
    )
    not_reached = dict(counts["not_reached"])
    billed = hits + no_data + billed_errors
    if effective is None:
        effective = _effective_count(ledger)
    maybe = by_status.get("maybe_billed", 0)
    return BatchSummary(
        operation=name,
        rows=counts["rows"],
        hits=hits,
        no_data=no_data,
        invalid=by_status.get("invalid", 0),
        errors=by_status.get("error", 0),
        not_sent=by_status.get("not_sent", 0),
        maybe_billed=maybe,
        billed_calls=billed,
        errors_by_code=dict(counts["errors"]),
        calls=run.calls,
        rows_this_run=run.finished,
        skipped=run.skipped,
        elapsed=elapsed,
        rows_per_second=run.finished / elapsed if elapsed > 0 else 0.0,
        output=output,
        ledger=ledger_path,
        aborted=run.aborted,
        rows_reached=counts["rows"] - sum(not_reached.values()),
        not_reached=not_reached,
        by_status=dict(by_status),
        billed=billed,
        returned=hits,
        effective=effective,
        cost=None if price is None else _cost(price, billed, hits, effective, maybe),
        prices=None if price is None else price.to_dict(),
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
        fp_key: bytes | None,
        pii: PiiPolicy,
        consent: Consent | None,
        retry_maybe_billed: bool,
        concurrency: int,
        bucket: TokenBucket | None,
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
        self.fp_key = fp_key
        self.pii = pii
        self.consent = consent
        self.retry_maybe_billed = retry_maybe_billed
        self.concurrency = concurrency
        self.bucket = bucket
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
        self.abort_reason = "interrupted"

    def _check_fingerprint(self, row_no: int, fp: str) -> None:
        if Ledger.state_of(self.states, row_no) is None:
            return
        if self._stored_fingerprint(row_no) != fp:
            raise ConfigurationError(
                f"input row {row_no} differs from the row the ledger recorded for it: "
                "this output folder belongs to another input file (or it was edited)"
            )

    def _stored_fingerprint(self, row_no: int) -> str | None:
        found = self.reader.execute(
            "SELECT fingerprint FROM rows WHERE row_no=?", (row_no,)
        ).fetchone()
        return None if found is None else str(found[0])

    def _done(self, row_no: int, status: str, **record: Any) -> None:
        self.finished += 1
        self.progress.advance(status)
        self.feed.write({"row": row_no, "status": status, **record})

    def abort(self, message: str, reason: str = "interrupted") -> None:
        if self.aborted is None:
            self.aborted = message
            self.abort_reason = reason

    def _reachable(self, row_no: int) -> bool:
        """A row the run did not get to may be marked not_reached (never over an outcome)."""
        state = Ledger.state_of(self.states, row_no)
        return state in (None, RowState.NOT_SENT, RowState.NOT_REACHED)

    async def _not_reached(
        self, pending: list[asyncio.Future[None]], row_no: int, fp: str, keys: Any, reason: str
    ) -> None:
        pending.append(
            self.writer.submit(
                row_no,
                fp,
                RowState.NOT_REACHED,
                status="not_reached",
                error_code=reason,
                error_message=_NOT_REACHED.get(reason, reason),
                keys=keys,
            )
        )
        if len(pending) >= 500:
            await asyncio.gather(*pending)
            pending.clear()

    async def run(self, rows: InputRows, *, handle_signals: bool) -> None:
        self.writer.start()
        queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        workers = [
            asyncio.create_task(self._worker(queue, self.apis[i % len(self.apis)]))
            for i in range(self.concurrency)
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
            self.abort(
                "interrupted: rows in flight were finished, the rest left for the next run",
                "interrupted",
            )

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
        pending: list[asyncio.Future[None]] = []
        try:
            await self._produce_rows(rows, queue, pending)
        finally:
            if pending:
                await asyncio.gather(*pending)

    async def _produce_rows(
        self,
        rows: InputRows,
        queue: asyncio.Queue[tuple[Any, ...] | None],
        pending: list[asyncio.Future[None]],
    ) -> None:
        op = self.op
        for row_no, row in rows:
            fp = fingerprint(self.salt, row, self.fp_key)
            stop = self.aborted is not None or (self.limit is not None and row_no > self.limit)
            if stop:
                # Every input row gets a line in the output: the rest are not_reached, and why.
                if self._reachable(row_no):
                    self._check_fingerprint(row_no, fp)
                    reason = "limit" if self.aborted is None else self.abort_reason
                    await self._not_reached(pending, row_no, fp, _keys(row, None, self.pii), reason)
                continue
            state = Ledger.state_of(self.states, row_no)
            if state is not None:
                self._check_fingerprint(row_no, fp)
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
                    error_message=redact_text(str(exc)),
                    keys=_keys(row, None, self.pii),
                )
                self._done(row_no, "invalid", error_code=code)
                continue
            keys = _keys(row, op.masked(prepared), self.pii)
            await queue.put((row_no, fp, prepared, row_consent, keys))

    async def _worker(self, queue: asyncio.Queue[tuple[Any, ...] | None], api: Any) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            row_no, fp, prepared, row_consent, keys = item
            if self.aborted is not None:
                await self._skip(row_no, fp, keys)  # never sent: the next run sends it
                continue
            if self.bucket is not None:
                # The first attempt's token, before the row is committed as being sent.
                await self.bucket.acquire()
            if self.aborted is not None:
                await self._skip(row_no, fp, keys)
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

    async def _skip(self, row_no: int, fp: str, keys: Any) -> None:
        if self._reachable(row_no):
            await self.writer.write(
                row_no,
                fp,
                RowState.NOT_REACHED,
                status="not_reached",
                error_code=self.abort_reason,
                error_message=_NOT_REACHED.get(self.abort_reason, self.abort_reason),
                keys=keys,
            )

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
            error_message=redact_text(str(exc)),
            transaction_id=txn,
        )
        self._done(row_no, status, error_code=code)
        if isinstance(exc, _FATAL):
            self.abort(f"{type(exc).__name__}: {exc}", _abort_reason(exc))


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
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    coro = arun_batch(source, operation, output, **options)
    if not in_loop:
        # outside the except block: an error from the run carries no "no running event loop"
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
        error = box.pop("error")
        raise error
    result: BatchSummary = box["result"]
    return result
