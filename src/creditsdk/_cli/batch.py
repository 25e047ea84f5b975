"""``creditsdk batch``: argparse wiring. The main CLI calls `add_parser` and `run`; ``python -m
creditsdk.batch`` calls `main`.

Exit codes: 0 every row has a final answer (hit, no data, invalid or a provider error);
1 the batch stopped short or left rows to look at (``not_sent`` rows to retry by running the
same command again, ``maybe_billed`` rows, or an abort on a refused account); 2 bad usage,
unreadable input, a mismatched output folder or missing credentials; 130 interrupted hard.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError, InvalidInputError

__all__ = ["add_parser", "build_parser", "main", "reconcile_main", "run"]

_EPILOG = """\
Re-running the same command resumes: rows already answered are not sent again, and a row whose
call may have been billed without an answer is reported as maybe_billed (sent again only with
--retry-maybe-billed, or settled from the provider's statement with
`creditsdk batch reconcile RUN_DIR statement.csv`). The output's columns are listed in
RUN_DIR/schema.json. Exit codes: 0 complete, 1 rows left to retry/review or aborted,
2 bad usage/input/credentials. See docs/batch.md."""


def _configure(parser: argparse.ArgumentParser) -> None:
    from ..batch.operations import available_operations

    parser.add_argument("input", help="CSV file with a header row (name, id_card, mobile, …)")
    parser.add_argument(
        "--operation", required=True, choices=available_operations(), help="what to call"
    )
    parser.add_argument("-o", "--output", required=True, help="output folder (ledger, results)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight (default 8)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="calls per second, 0 = unlimited (default 10)"
    )
    parser.add_argument("--burst", type=int, default=1, help="token-bucket burst (default 1)")
    parser.add_argument("--consent-reference", help="the signed authorization's reference")
    parser.add_argument("--consent-purpose", default=None, help="e.g. credit_underwriting")
    parser.add_argument("--consent-granted-at", help="ISO date-time the consent was granted")
    parser.add_argument("--consent-expires-at", help="ISO date-time it expires (optional)")
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="CANONICAL=SOURCE",
        help="use input column SOURCE as CANONICAL (e.g. id_card=证件号码); repeatable",
    )
    parser.add_argument(
        "--client-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a provider client argument, e.g. bucket_tables=contract.toml; repeatable",
    )
    parser.add_argument("--encoding", default="utf-8-sig", help="input encoding (e.g. gb18030)")
    parser.add_argument("--sandbox", action="store_true", help="run against an embedded Sandbox")
    parser.add_argument(
        "--sandbox-balance",
        type=_balance,
        default=None,
        metavar="N",
        help="billable calls the Sandbox allows (default: the provider sandbox's own; 'unlimited')",
    )
    parser.add_argument(
        "--prices", metavar="PRICES.TOML", help="contract prices: the summary shows the cost"
    )
    parser.add_argument(
        "--pii",
        choices=["mask", "drop", "hmac"],
        default="mask",
        help="personal columns in the output: masked (default), dropped, or a keyed HMAC",
    )
    parser.add_argument(
        "--raw-column",
        action="append",
        default=[],
        metavar="NAME",
        help="pass input column NAME through unmasked, on purpose; repeatable",
    )
    parser.add_argument(
        "--key-column",
        action="append",
        default=[],
        metavar="NAME",
        help="input column NAME is a row key (role 'key' in schema.json); repeatable",
    )
    parser.add_argument(
        "--dtype",
        action="append",
        default=[],
        metavar="NAME=DTYPE",
        help="dtype of an input column in the output (Int64, float64, string …); repeatable",
    )
    parser.add_argument(
        "--key-dir",
        default=None,
        help="folder of the fingerprint key, outside the output folder "
        "(default: $CREDITSDK_CONFIG_DIR or ~/.config/creditsdk)",
    )
    parser.add_argument(
        "--retry-maybe-billed",
        action="store_true",
        help="send maybe_billed rows again (they may be billed twice)",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N input rows")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per HTTP attempt")
    parser.add_argument(
        "--fast-ledger",
        action="store_true",
        help="no fsync per ledger commit (safe against crashes, not against power loss)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None)
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _balance(text: str) -> int | str:
    if text.strip().lower() in ("unlimited", "none", "inf"):
        return "unlimited"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of calls: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``batch`` to the main CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "batch",
        help="run a provider operation over a CSV of applicants (resumable, rate-limited)",
        description="Run a provider operation over many applicants, resumably.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creditsdk batch",
        description="Run a provider operation over many applicants, resumably.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _configure(parser)
    return parser


def _consent(args: argparse.Namespace) -> Any:
    given = [args.consent_reference, args.consent_granted_at, args.consent_purpose]
    if not any(given):
        return None
    from ..batch._input import parse_consent

    if args.consent_reference and not args.consent_granted_at:
        raise ConfigurationError(
            "--consent-granted-at is missing: give the ISO date-time the consent was "
            "granted (e.g. --consent-granted-at "
            "2026-11-01T09:00), or a consent_granted_at column (with consent_reference) "
            "for each row's own consent"
        )
    return parse_consent(
        args.consent_reference,
        args.consent_purpose or "credit_underwriting",
        args.consent_granted_at,
        args.consent_expires_at,
    )


def run(args: argparse.Namespace) -> int:
    """Run the batch the parsed arguments describe; returns the exit code."""
    from ..batch import run_batch

    try:
        mapping = {}
        for item in args.column:
            canonical, sep, source = item.partition("=")
            if not sep or not canonical.strip() or not source.strip():
                raise ConfigurationError(f"--column takes CANONICAL=SOURCE, not {item!r}")
            mapping[canonical.strip()] = source.strip()
        dtypes = {}
        for item in args.dtype:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ConfigurationError(f"--dtype takes NAME=DTYPE, not {item!r}")
            dtypes[name.strip()] = value.strip()
        extra: dict[str, Any] = {}
        if args.sandbox_balance is not None:
            extra["sandbox_balance"] = (
                None if args.sandbox_balance == "unlimited" else args.sandbox_balance
            )
        client_options = {}
        for item in args.client_option:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ConfigurationError(f"--client-option takes NAME=VALUE, not {item!r}")
            client_options[name.strip()] = value
        summary = run_batch(
            args.input,
            args.operation,
            args.output,
            format=args.format,
            consent=_consent(args),
            concurrency=args.concurrency,
            rate=args.rate,  # 0 = unlimited, as in Python
            burst=args.burst,
            sandbox=True if args.sandbox else None,
            retry_maybe_billed=args.retry_maybe_billed,
            limit=args.limit,
            timeout=args.timeout if args.timeout else _not_given(),
            columns=mapping or None,
            client_options=client_options or None,
            encoding=args.encoding,
            durable=not args.fast_ledger,
            progress=args.progress,
            handle_signals=True,
            prices=args.prices,
            pii=args.pii,
            raw_columns=args.raw_column,
            key_columns=args.key_column,
            dtypes=dtypes or None,
            key_dir=args.key_dir,
            _cli=True,
            **extra,
        )
    except (ConfigurationError, InvalidInputError) as exc:
        print(f"creditsdk batch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("creditsdk batch: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(summary.format())
    return summary.exit_code


def _not_given() -> Any:
    from .._core.config import NOT_GIVEN

    return NOT_GIVEN


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["reconcile"]:
        return reconcile_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    return run(args)


def reconcile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creditsdk batch reconcile",
        description="Match a provider's billing statement against a run's ledger: billed but "
        "undelivered, delivered but unbilled, duplicates; settle maybe_billed rows.",
        epilog="Exit codes: 0 the statement and the ledger agree and no row is left in doubt; "
        "1 discrepancies or maybe_billed rows left; 2 bad usage or unreadable files. "
        "See docs/batch.md.",
    )
    parser.add_argument("run_dir", help="the batch's output folder")
    parser.add_argument("statement", help="the provider's statement (CSV)")
    parser.add_argument(
        "--apply",
        action="store_true",
        help="settle every maybe_billed row from the statement: listed -> billed (final), "
        "not listed -> not billed (sent again by the next run)",
    )
    parser.add_argument(
        "--mark",
        action="append",
        default=[],
        metavar="ROW=billed|not_billed",
        help="settle one maybe_billed row by hand; repeatable",
    )
    parser.add_argument(
        "--window", type=float, default=300.0, help="seconds between a line and a row (300)"
    )
    parser.add_argument("--encoding", default="utf-8-sig", help="statement encoding")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def reconcile_main(argv: Sequence[str]) -> int:
    """``creditsdk batch reconcile RUN_DIR statement.csv [--apply] [--mark ROW=billed]``."""
    from ..batch._reconcile import reconcile

    try:
        args = reconcile_parser().parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        marks: dict[int, str] = {}
        for item in args.mark:
            row, sep, decision = item.partition("=")
            if not sep or not row.strip().isdigit():
                raise ConfigurationError(f"--mark takes ROW=billed|not_billed, not {item!r}")
            marks[int(row)] = decision.strip()
        report = reconcile(
            args.run_dir,
            args.statement,
            apply=args.apply,
            mark=marks,
            window=args.window,
            encoding=args.encoding,
        )
    except (ConfigurationError, InvalidInputError) as exc:
        print(f"creditsdk batch reconcile: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(report.format())
    return 0 if report.clean else 1
