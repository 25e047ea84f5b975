"""``creditsdk query``: one provider call from the shell.

Credentials come from the same environment variables the clients read (``CREDITSDK_TIANYUAN_*``,
``CREDITSDK_FIREEYE_*``, ``CREDITSDK_SESAME_*``); ``--sandbox`` runs the call against an embedded
Sandbox instead (synthetic data). Human output masks personal data and never shows tokens;
``--json`` prints the result's ``to_dict()``. A bad input or a missing setting is one line on
stderr and exit code 2; a provider refusal or a network failure is exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .demo import TIANYUAN_FACTORS
from .errors import InvalidInputError

__all__ = ["add_query_parser"]

SANDBOX_NOTE = "note: --sandbox: synthetic data from the embedded Sandbox, not the provider"


def _bad(option: str, message: str, rule: str = "format") -> InvalidInputError:
    return InvalidInputError(message, field=option, rule=rule)


# -- shared options ------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sandbox", action="store_true", help="run against an embedded Sandbox (synthetic data)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per HTTP attempt (default 20)"
    )


def _consent_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the applicant's authorization (required for billed calls)")
    group.add_argument(
        "--consent-reference", required=True, help="reference of the signed authorization"
    )
    group.add_argument(
        "--consent-purpose", required=True, help="why you query, e.g. credit_underwriting"
    )
    group.add_argument(
        "--consent-granted-at",
        help="when it was granted, ISO 8601 (default: now)",
    )


def _consent(args: argparse.Namespace) -> Any:
    from . import Consent

    if args.consent_granted_at:
        try:
            granted = _dt.datetime.fromisoformat(args.consent_granted_at)
        except ValueError:
            raise _bad(
                "--consent-granted-at", "must be an ISO 8601 date-time, e.g. 2026-11-01T09:00"
            ) from None
    else:
        granted = _dt.datetime.now() - _dt.timedelta(seconds=1)
    return Consent(
        reference=args.consent_reference, purpose=args.consent_purpose, granted_at=granted
    )


def _client_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {} if args.timeout is None else {"timeout": args.timeout}


@contextlib.contextmanager
def _client(args: argparse.Namespace, provider: str, **kwargs: Any) -> Iterator[Any]:
    """A client for ``provider``: from env-var credentials, or wired to an embedded Sandbox."""
    kwargs.update(_client_kwargs(args))
    if args.sandbox:
        from .sandbox import Sandbox

        print(SANDBOX_NOTE, file=sys.stderr)
        with Sandbox(providers=[provider]) as sb:
            args.sandbox_instance = sb
            with getattr(sb, f"{provider}_client")(**kwargs) as client:
                yield client
        return
    if provider == "tianyuan":
        from .tianyuan import TianyuanClient

        with TianyuanClient(**kwargs) as client:
            yield client
    elif provider == "fireeye":
        from .fireeye import FireEyeClient

        with FireEyeClient(**kwargs) as client:
            yield client
    else:
        from .sesame import SesameClient

        with SesameClient(**kwargs) as client:
            yield client


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> int:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print("\n".join(lines))
    return 0


def _applicant(args: argparse.Namespace) -> Any:
    from . import Applicant

    return Applicant(name=args.name, id_card=args.id_card, mobile=args.mobile)


# -- tianyuan ------------------------------------------------------------------------------------


def _tianyuan_multi_lending(args: argparse.Namespace) -> int:
    from .tianyuan import SANDBOX_BUCKET_TABLES

    applicant = _applicant(args)
    consent = _consent(args)
    tables = args.bucket_tables or os.environ.get("CREDITSDK_TIANYUAN_BUCKET_TABLES") or None
    if tables is None and args.sandbox:
        tables = str(SANDBOX_BUCKET_TABLES)
    with _client(args, "tianyuan", bucket_tables=tables) as ty:
        report = ty.multi_lending(applicant, consent=consent)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
    lines = [
        f"Tianyuan JRZQ9E2A for {_masked_applicant(applicant)}",
        f"transaction: {report.transaction_id}",
        f"tables: {report.tables_name or 'none loaded (bucket codes stay raw)'}",
        f"factors: {len(report)} ({counts or 'no data'})",
    ]
    for prop in TIANYUAN_FACTORS:
        f = getattr(report, prop)
        lines.append(f"  {f.code:22} {f.label_en or '':40} {f.display()}")
    return _emit(args, report.to_dict(), lines)


def _masked_applicant(applicant: Any) -> str:
    m = applicant.masked()
    return f"{m['name']} {m['id_card']} {m['mobile']}"


def _params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _bad("--param", f"must be KEY=VALUE, not {key!r}")
        params[key.strip()] = value
    return params


def _tianyuan_call(args: argparse.Namespace) -> int:
    from ._core.redact import redact_text

    params = _params(args.param)
    consent = _consent(args)
    with _client(args, "tianyuan") as ty:
        result = ty.call(args.product, params, consent=consent)
    data = json.dumps(result.data, ensure_ascii=False, indent=2) if result.has_data else "no data"
    lines = [
        f"Tianyuan {args.product}: code {result.code} {result.message}",
        f"transaction: {result.transaction_id}",
        redact_text(data),
    ]
    return _emit(args, result.to_dict(), lines)


# -- fireeye -------------------------------------------------------------------------------------


def _parse_date(value: str, option: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise _bad(option, f"must be a date YYYY-MM-DD, not {value!r}") from None


def _parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _bad("--amount", f"must be a number of yuan, e.g. 212.00, not {value!r}") from None
    if not amount.is_finite():
        raise _bad("--amount", f"must be a finite number of yuan, not {value!r}")
    return amount


def _fireeye_verify(args: argparse.Namespace) -> int:
    from ._core.redact import mask_card

    day = _parse_date(args.date, "--date")
    amount = _parse_amount(args.amount)
    consent = _consent(args)
    with _client(args, "fireeye", amount_unit=args.amount_unit) as fe:
        if args.sandbox and args.add_transaction:
            args.sandbox_instance.fireeye.add_transaction(args.card_no, day, amount)
        check = fe.verify_transaction(
            args.card_no,
            day,
            amount,
            consent=consent,
            id_card=args.id_card,
            mobile=args.mobile,
            location=args.location,
        )
    verdict = "matched" if check.matched else f"not matched ({check.reason})"
    lines = [
        f"FireEye transaction check, card {mask_card(args.card_no)}, {day.isoformat()} ¥{amount}:",
        f"  {verdict}  (code {check.code} {check.message})",
    ]
    return _emit(args, check.to_dict(), lines)


def _fireeye_score(args: argparse.Namespace) -> int:
    consent = _consent(args)
    with _client(args, "fireeye") as fe:
        score = fe.model_score(args.card_no, args.id_card, args.mobile, consent=consent)
    shown_score = "not hit" if score.score is None else str(score.score)
    lines = [f"FireEye model score, card {score.card}: {shown_score} (300-1000)"]
    return _emit(args, score.to_dict(), lines)


# -- sesame --------------------------------------------------------------------------------------


def _sesame_authorize_url(args: argparse.Namespace) -> int:
    with _client(args, "sesame") as zm:
        url = zm.authorization_url(args.redirect_uri, state=args.state, scope=args.scope)
    lines = [
        "send the user to:",
        url,
        "then run: creditsdk query sesame exchange-code --redirect '<the URL they came back to>'"
        f" --state {args.state}",
    ]
    return _emit(args, {"authorization_url": url, "state": args.state}, lines)


def _sandbox_approval(args: argparse.Namespace, zm: Any) -> str:
    """With --sandbox and no code: the Sandbox plays the user approving; returns the code."""
    state = args.state or "cli"
    url = zm.authorization_url("https://lender.example/callback", state=state)
    print(
        "note: --sandbox: the Sandbox plays the user approving the authorization", file=sys.stderr
    )
    redirected = args.sandbox_instance.sesame.approve(url)
    return str(zm.parse_redirect(redirected, expected_state=state))


def _save_grant(grant: Any, path: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(grant.to_dict(reveal_tokens=True), fh, ensure_ascii=False)
    target.chmod(0o600)


def _sesame_exchange_code(args: argparse.Namespace) -> int:
    if args.code and args.redirect:
        raise _bad("code", "give either CODE or --redirect, not both", "conflict")
    if args.redirect and not args.state:
        raise _bad("--state", "needed with --redirect (the state you put in the URL)", "required")
    if not (args.code or args.redirect or args.sandbox):
        raise _bad("code", "give the auth code (CODE) or the --redirect URL", "required")
    with _client(args, "sesame") as zm:
        if args.redirect:
            code = zm.parse_redirect(args.redirect, expected_state=args.state)
        elif args.code:
            code = args.code
        else:
            code = _sandbox_approval(args, zm)
        grant = zm.exchange_code(code)
    if args.save_grant:
        _save_grant(grant, args.save_grant)
    lines = [f"grant: {grant!r}"]
    if args.save_grant:
        lines.append(f"saved (with tokens, mode 0600) to {args.save_grant}")
    else:
        lines.append("tokens are not shown: pass --save-grant FILE to keep them for 'score'")
    return _emit(args, grant.to_dict(), lines)


def _sesame_score(args: argparse.Namespace) -> int:
    from .sesame import Grant

    consent = _consent(args)
    token: Any = args.access_token
    if args.grant_file:
        if token:
            raise _bad("--grant-file", "give either --access-token or --grant-file", "conflict")
        try:
            token = Grant.from_dict(json.loads(Path(args.grant_file).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _bad(
                "--grant-file", f"{args.grant_file} is not a saved grant ({type(exc).__name__})"
            ) from None
    if not token and not args.sandbox:
        raise _bad(
            "--access-token", "give --access-token or --grant-file (from exchange-code)", "required"
        )
    with _client(args, "sesame") as zm:
        if not token:
            token = zm.exchange_code(_sandbox_approval(args, zm))
        score = zm.score(token, consent=consent)
    shown = "N/A" if score.score is None else str(score.score)
    lines = [f"Zhima score: {shown} (350-950)  transaction {score.transaction_id}"]
    return _emit(args, score.to_dict(), lines)


def _sesame_watchlist(args: argparse.Namespace) -> int:
    applicant = _applicant(args)
    consent = _consent(args)
    product_code = args.product_code or os.environ.get("CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE")
    if not product_code:
        if not args.sandbox:
            raise _bad(
                "--product-code",
                "give your contract's product code "
                "(or set CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE)",
                "required",
            )
        product_code = "w1010100000000009999"  # the Sandbox accepts any code
    with _client(args, "sesame") as zm:
        result = zm.watchlist(applicant, consent, product_code)
    shown = {None: "N/A (cannot assess)", 0: "0 (not on the watchlist)"}.get(
        result.level, f"{result.level} (on the watchlist)"
    )
    lines = [f"Zhima industry watchlist level: {shown}  transaction {result.transaction_id}"]
    return _emit(args, result.to_dict(), lines)


# -- the parser ----------------------------------------------------------------------------------


def add_query_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``query`` and its provider subcommands to the ``creditsdk`` parser."""
    query: argparse.ArgumentParser = sub.add_parser(
        "query",
        help="run one query against a provider (or --sandbox)",
        description="One provider call from the shell. Credentials come from the CREDITSDK_* "
        "environment variables; --sandbox uses an embedded Sandbox. Exit codes: 0 ok, "
        "1 provider or network failure, 2 bad input or missing setting.",
    )
    query.set_defaults(help_parser=query)
    providers = query.add_subparsers(dest="provider", metavar="PROVIDER")

    # tianyuan
    ty = providers.add_parser("tianyuan", help="Tianyuan (天远API)")
    ty.set_defaults(help_parser=ty)
    ty_sub = ty.add_subparsers(dest="operation", metavar="OPERATION")
    ml = ty_sub.add_parser(
        "multi-lending",
        help="JRZQ9E2A multi-lending report (billed)",
        description="The JRZQ9E2A multi-lending report, decoded with your bucket tables.",
    )
    ml.add_argument("--name", required=True, help="the applicant's name")
    ml.add_argument("--id-card", required=True, help="resident ID number (18 characters)")
    ml.add_argument("--mobile", required=True, help="mainland mobile number")
    ml.add_argument(
        "--bucket-tables",
        help="your contract's bucket tables (.toml/.csv); default "
        "$CREDITSDK_TIANYUAN_BUCKET_TABLES (the synthetic sandbox tables with --sandbox)",
    )
    _consent_args(ml)
    _common(ml)
    ml.set_defaults(func=_tianyuan_multi_lending)
    call = ty_sub.add_parser(
        "call",
        help="any Tianyuan product with raw parameters (billed)",
        description="Call any product; parameters are sent as given (ID/mobile/name validated).",
    )
    call.add_argument("product", help="product code, e.g. JRZQ8F7C")
    call.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a request parameter (repeat)",
    )
    _consent_args(call)
    _common(call)
    call.set_defaults(func=_tianyuan_call)

    # fireeye
    fe = providers.add_parser("fireeye", help="UnionPay FireEye (火眼)")
    fe.set_defaults(help_parser=fe)
    fe_sub = fe.add_subparsers(dest="operation", metavar="OPERATION")
    verify = fe_sub.add_parser(
        "verify",
        help="does UnionPay know this card transaction? (billed)",
        description="Transaction authentication. 'not matched' is a result (exit code 0).",
    )
    verify.add_argument("--card-no", required=True, help="bank card number")
    verify.add_argument("--date", required=True, help="transaction date, YYYY-MM-DD")
    verify.add_argument("--amount", required=True, help="amount in yuan, e.g. 212.00")
    verify.add_argument(
        "--amount-unit",
        choices=("fen", "yuan"),
        default="fen",
        help="how the amount goes on the wire (your contract says; default fen)",
    )
    verify.add_argument("--id-card", help="cardholder's ID number (optional detail)")
    verify.add_argument("--mobile", help="cardholder's mobile (optional detail)")
    verify.add_argument("--location", help="where the transaction happened (optional detail)")
    verify.add_argument(
        "--add-transaction",
        action="store_true",
        help="with --sandbox: put this transaction in the Sandbox's book first",
    )
    _consent_args(verify)
    _common(verify)
    verify.set_defaults(func=_fireeye_verify)
    score = fe_sub.add_parser("score", help="UnionPay model score, 300-1000 (billed)")
    score.add_argument("--card-no", required=True, help="bank card number")
    score.add_argument("--id-card", required=True, help="cardholder's ID number")
    score.add_argument("--mobile", required=True, help="cardholder's mobile")
    _consent_args(score)
    _common(score)
    score.set_defaults(func=_fireeye_score)

    # sesame
    zm = providers.add_parser("sesame", help="Sesame / Zhima (芝麻信用)")
    zm.set_defaults(help_parser=zm)
    zm_sub = zm.add_subparsers(dest="operation", metavar="OPERATION")
    auth = zm_sub.add_parser(
        "authorize-url", help="the URL to send the user to (step 1, not billed)"
    )
    auth.add_argument("--redirect-uri", required=True, help="your callback URL")
    auth.add_argument("--state", required=True, help="your value, echoed back in the redirect")
    auth.add_argument("--scope", default="auth_zhima", help="default auth_zhima")
    _common(auth)
    auth.set_defaults(func=_sesame_authorize_url)
    exchange = zm_sub.add_parser(
        "exchange-code",
        help="trade the redirect's auth code for a grant (step 2)",
        description="Give the code, or the URL the user was redirected to (with --state). "
        "Tokens are never printed: --save-grant writes them to a file (mode 0600). "
        "With --sandbox and no code, the Sandbox plays the user approving.",
    )
    exchange.add_argument("code", nargs="?", help="the auth_code from the redirect")
    exchange.add_argument("--redirect", help="the full URL the user was redirected to")
    exchange.add_argument("--state", help="the state you put in the authorization URL")
    exchange.add_argument("--save-grant", metavar="FILE", help="write the grant with its tokens")
    _common(exchange)
    exchange.set_defaults(func=_sesame_exchange_code)
    zscore = zm_sub.add_parser(
        "score",
        help="the user's Zhima score (step 3, billed)",
        description="With --sandbox and no token, the Sandbox plays the whole authorization.",
    )
    zscore.add_argument("--access-token", help="the grant's access token")
    zscore.add_argument("--grant-file", help="a grant saved by exchange-code --save-grant")
    zscore.add_argument("--state", help=argparse.SUPPRESS)
    _consent_args(zscore)
    _common(zscore)
    zscore.set_defaults(func=_sesame_score)
    watch = zm_sub.add_parser(
        "watchlist",
        help="industry watchlist level, 行业关注名单 (billed)",
        description="zhima.credit.watchlist.brief.get: level 0 (not listed), 1-3, or N/A.",
    )
    watch.add_argument("--name", required=True, help="the applicant's name")
    watch.add_argument("--id-card", required=True, help="resident ID number (18 characters)")
    watch.add_argument("--mobile", required=True, help="mainland mobile number")
    watch.add_argument(
        "--product-code",
        help="your contract's product code (default $CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE)",
    )
    _consent_args(watch)
    _common(watch)
    watch.set_defaults(func=_sesame_watchlist)
    return query
