"""``creditsdk batch reconcile RUN_DIR statement.csv``: match a provider's billing statement
against a run's ledger, and settle ``maybe_billed`` rows (docs/batch.md, "Reconcile").

A statement is a CSV with a header. Columns used (case-insensitive, first match wins):
``transaction_id`` (or ``txn_id``, ``流水号``, ``交易流水号``), ``billed_at`` (or ``time``,
``datetime``, ``计费时间``, ``时间``: ISO date-time; without a zone, local time) and
``id_card`` (or ``applicant``, ``身份证号``: masked like ``110105********002X`` or clear).

Matching: by transaction id first; a line without one (or with an id the ledger does not have)
matches a ``maybe_billed`` row of the same masked ID number recorded within ``window`` seconds
of the line's time -- the call whose answer was lost.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._core.redact import mask_id_card
from ..errors import ConfigurationError
from ._ledger import LEDGER_FILE, RowState, RunLedger
from ._pii import private_file

__all__ = ["ReconcileReport", "reconcile"]

_ID_COLS = ("transaction_id", "txn_id", "transaction", "流水号", "交易流水号")
_TIME_COLS = ("billed_at", "time", "datetime", "timestamp", "计费时间", "时间")
_APPLICANT_COLS = ("id_card", "applicant", "id_no", "身份证号", "身份证")
REPORT_FILE = "reconcile.json"


@attrs.frozen
class ReconcileReport:
    """What a statement and a ledger say about each other.

    ``matched``: statement lines matched to a delivered (billed) row. ``billed_undelivered``:
    lines matching a ``maybe_billed`` row (``maybe_billed_matched``) or no row at all
    (``unknown_lines``, as line numbers). ``delivered_unbilled``: billed rows (by the ledger)
    the statement does not list. ``duplicates``: transaction ids listed more than once, or
    carried by more than one ledger row. ``resolved``: rows settled by this call.
    """

    statement: str
    lines: int
    matched: int
    maybe_billed_matched: tuple[int, ...]
    unknown_lines: tuple[int, ...]
    delivered_unbilled: tuple[int, ...]
    duplicates: Mapping[str, int]
    maybe_billed_left: tuple[int, ...]
    resolved: Mapping[int, str]

    @property
    def billed_undelivered(self) -> int:
        return len(self.maybe_billed_matched) + len(self.unknown_lines)

    @property
    def clean(self) -> bool:
        return not (
            self.unknown_lines
            or self.delivered_unbilled
            or self.duplicates
            or self.maybe_billed_left
            or (self.maybe_billed_matched and not self.resolved)
        )

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["billed_undelivered"] = self.billed_undelivered
        d["resolved"] = {str(k): v for k, v in self.resolved.items()}
        d["clean"] = self.clean
        return d

    def format(self) -> str:
        def rows(items: Sequence[int]) -> str:
            shown = ", ".join(str(i) for i in items[:20])
            return shown + (" …" if len(items) > 20 else "")

        lines = [
            f"statement           {self.statement} ({self.lines} lines)",
            f"matched             {self.matched}",
            f"billed, undelivered {self.billed_undelivered} "
            f"(maybe_billed rows: {rows(self.maybe_billed_matched) or '-'}; "
            f"lines matching no row: {rows(self.unknown_lines) or '-'})",
            f"delivered, unbilled {len(self.delivered_unbilled)}"
            + (f" (rows {rows(self.delivered_unbilled)})" if self.delivered_unbilled else ""),
            f"duplicates          {sum(self.duplicates.values())}"
            + (f" ({', '.join(sorted(self.duplicates))})" if self.duplicates else ""),
        ]
        if self.resolved:
            done = Counter(self.resolved.values())
            lines.append(
                "resolved            "
                + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(done.items()))
            )
        if self.maybe_billed_left:
            lines.append(
                f"maybe billed left   {len(self.maybe_billed_left)} (rows "
                f"{rows(self.maybe_billed_left)}): --apply settles them from this statement, "
                "--mark ROW=billed|not_billed one by one"
            )
        return "\n".join(lines)


def _column(header: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _time(text: str, line: int) -> float | None:
    if not text.strip():
        return None
    try:
        when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"statement line {line}: time {text!r} is not an ISO date-time"
        ) from None
    return when.timestamp()  # a naive time is local time


def _masked(text: str) -> str:
    v = text.strip().upper()
    return v if "*" in v else mask_id_card(v)


def reconcile(
    run_dir: str | os.PathLike[str],
    statement: str | os.PathLike[str],
    *,
    apply: bool = False,
    mark: Mapping[int, str] | None = None,
    window: float = 300.0,
    encoding: str = "utf-8-sig",
) -> ReconcileReport:
    """Match ``statement`` against the ledger of ``run_dir``; see the module docstring.

    ``apply``: settle every ``maybe_billed`` row from this statement (listed → billed, final;
    not listed → not billed, sent again by the next run). ``mark``: ``{row: "billed" |
    "not_billed"}`` for single rows. Decisions are recorded in the ledger
    (``reconciliations`` table); the report is written to ``RUN_DIR/reconcile.json``.
    """
    folder = os.fspath(run_dir)
    ledger_path = os.path.join(folder, LEDGER_FILE)
    if not os.path.exists(ledger_path):
        raise ConfigurationError(f"{folder!r} has no {LEDGER_FILE}: not a batch output folder")
    for row_no, decision in (mark or {}).items():
        if decision not in ("billed", "not_billed"):
            raise ConfigurationError(
                f"mark row {row_no}: 'billed' or 'not_billed', not {decision!r}"
            )
    try:
        with open(statement, newline="", encoding=encoding) as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            lines = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigurationError(
            f"cannot read statement {os.fspath(statement)!r} ({exc})"
        ) from None
    id_col = _column(header, _ID_COLS)
    time_col = _column(header, _TIME_COLS)
    who_col = _column(header, _APPLICANT_COLS)
    if id_col is None and (time_col is None or who_col is None):
        raise ConfigurationError(
            "the statement needs a transaction_id column, or billed_at and id_card columns "
            f"(it has {header})"
        )
    ledger = RunLedger(ledger_path)
    try:
        by_txn: dict[str, list[int]] = {}
        billed_rows: list[int] = []
        maybe: dict[int, tuple[str, float]] = {}
        times = ledger.updated_at()
        for row in ledger.rows():
            if row.transaction_id:
                by_txn.setdefault(row.transaction_id, []).append(row.row_no)
            if row.status in ("hit", "no_data"):
                billed_rows.append(row.row_no)
            if row.state == RowState.MAYBE_BILLED:
                maybe[row.row_no] = (str(row.keys.get("id_card", "")), times[row.row_no])
        duplicates: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        listed_rows: set[int] = set()
        maybe_hit: list[int] = []
        unknown: list[int] = []
        matched = 0
        for lineno, line in enumerate(lines, start=2):
            txn = (line.get(id_col) or "").strip() if id_col else ""
            if txn:
                seen[txn] += 1
                if seen[txn] > 1:  # listed (billed) again for one call
                    duplicates[txn] += 1
                rows = by_txn.get(txn)
                if rows:
                    listed_rows.update(rows)
                    matched += 1
                    continue
            when = _time(line.get(time_col) or "", lineno) if time_col else None
            who = _masked(line.get(who_col) or "") if who_col else ""
            found = None
            if when is not None and who:
                candidates = [
                    r
                    for r, (masked, at) in maybe.items()
                    if r not in maybe_hit and masked.upper() == who and abs(at - when) <= window
                ]
                if candidates:
                    found = min(candidates, key=lambda r: abs(maybe[r][1] - when))
            if found is not None:
                maybe_hit.append(found)
            else:
                unknown.append(lineno)
        for txn, rows in by_txn.items():
            if len(rows) > 1:
                duplicates[txn] += len(rows) - 1
        delivered_unbilled = [r for r in billed_rows if r not in listed_rows] if id_col else []
        decisions: dict[int, str] = {}
        if apply:
            for r in maybe:
                decisions[r] = "billed" if r in maybe_hit else "not_billed"
        decisions.update({int(k): v for k, v in (mark or {}).items()})
        resolved: dict[int, str] = {}
        name = os.path.basename(os.fspath(statement))
        for row_no, decision in sorted(decisions.items()):
            ledger.resolve(row_no, decision == "billed", statement=name)
            resolved[row_no] = decision
        left = tuple(r for r in sorted(maybe) if r not in resolved)
        report = ReconcileReport(
            statement=name,
            lines=len(lines),
            matched=matched,
            maybe_billed_matched=tuple(sorted(maybe_hit)),
            unknown_lines=tuple(unknown),
            delivered_unbilled=tuple(delivered_unbilled),
            duplicates=dict(duplicates),
            maybe_billed_left=left,
            resolved=resolved,
        )
        if resolved:
            _refresh_output(ledger, folder)
    finally:
        ledger.close()
    path = os.path.join(folder, REPORT_FILE)
    private_file(path)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report.to_dict(), fh, ensure_ascii=False, indent=2)
    return report


def _refresh_output(ledger: RunLedger, folder: str) -> None:
    """Rewrite the results with the run's own schema, so they show the decisions."""
    from ._output import write_output
    from ._schema import OutputSchema, columns_from_dicts, read_schema

    if not os.path.exists(os.path.join(folder, "schema.json")):
        return
    doc = read_schema(folder)
    schema = OutputSchema(
        operation=doc["operation"],
        provider=doc["provider"],
        key=tuple(doc["key"]),
        columns=columns_from_dicts(doc["columns"]),
        factors=tuple(doc.get("factors", ())),
        bucket_tables=doc.get("bucket_tables"),
        pii=doc.get("pii", "mask"),
    )
    for fmt in ("csv", "parquet"):
        path = os.path.join(folder, f"results.{fmt}")
        if os.path.exists(path):
            write_output(ledger, path, fmt, schema)
