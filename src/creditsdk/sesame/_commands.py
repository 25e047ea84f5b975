"""``creditsdk query sesame …``: the Sesame sub-commands (declared in this package's spec)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._cli import query as q
from ..errors import ConfigurationError
from ._errors import SesameAuthenticationError
from .models import Grant

__all__ = ["add_commands"]


def add_commands(operations: Any) -> None:
    """Add the operations to ``creditsdk query sesame``."""
    auth = operations.add_parser(
        "authorize-url", help="the URL to send the user to (step 1, not billed)"
    )
    auth.add_argument("--redirect-uri", required=True, help="your callback URL")
    auth.add_argument("--state", required=True, help="your value, echoed back in the redirect")
    auth.add_argument("--scope", default="auth_zhima", help="default auth_zhima")
    q.add_common(auth)
    auth.set_defaults(func=_authorize_url)
    exchange = operations.add_parser(
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
    q.add_common(exchange)
    exchange.set_defaults(func=_exchange_code)
    zscore = operations.add_parser(
        "score",
        help="the user's Zhima score (step 3, billed)",
        description="With --sandbox and no token, the Sandbox plays the whole authorization.",
    )
    zscore.add_argument("--access-token", help="the grant's access token")
    zscore.add_argument("--grant-file", help="a grant saved by exchange-code --save-grant")
    zscore.add_argument("--state", help=argparse.SUPPRESS)
    q.add_consent_args(zscore)
    q.add_common(zscore)
    zscore.set_defaults(func=_score)
    watch = operations.add_parser(
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
    q.add_consent_args(watch)
    q.add_common(watch)
    watch.set_defaults(func=_watchlist)


#: Why a code or token from another command cannot work with ``--sandbox``, and what does.
SANDBOX_ACROSS_COMMANDS = (
    "--sandbox starts a new, empty Sandbox for each command and stops it when the command "
    "ends, so {what} from another command is unknown to it. Either leave {option} out (this "
    "command then lets the Sandbox play the user approving and runs the flow in one go), or "
    "run 'creditsdk sandbox serve --keys-dir keys' in another shell and, instead of --sandbox, "
    "point CREDITSDK_SESAME_GATEWAY_URL, CREDITSDK_SESAME_AUTHORIZE_URL, "
    "CREDITSDK_SESAME_APP_ID, CREDITSDK_SESAME_APP_PRIVATE_KEY_FILE and "
    "CREDITSDK_SESAME_ALIPAY_PUBLIC_KEY_FILE at it (values and key files from its output)"
)


@contextlib.contextmanager
def _sandbox_state_from_elsewhere(
    args: argparse.Namespace, what: str, option: str
) -> Iterator[None]:
    """With --sandbox and a code/token the user brought: its refusal says why (not just
    "invalid code"), naming ``creditsdk sandbox serve``."""
    try:
        yield
    except SesameAuthenticationError as exc:
        if not args.sandbox:
            raise
        answered = exc.sub_code or exc.code or type(exc).__name__
        raise ConfigurationError(
            f"{SANDBOX_ACROSS_COMMANDS.format(what=what, option=option)} (the Sandbox "
            f"answered {answered})"
        ) from None


def _authorize_url(args: argparse.Namespace) -> int:
    with q.client_for(args, "sesame") as zm:
        url = zm.authorization_url(args.redirect_uri, state=args.state, scope=args.scope)
    lines = ["send the user to:", url]
    if args.sandbox:
        print(
            "note: --sandbox: this Sandbox stopped with the command, so the next command cannot "
            "answer for this URL; run 'creditsdk sandbox serve' and point CREDITSDK_SESAME_* at "
            "it to go through the steps one command at a time",
            file=sys.stderr,
        )
    else:
        lines.append(
            "then run: creditsdk query sesame exchange-code --redirect "
            f"'<the URL they came back to>' --state {args.state}"
        )
    return q.emit(args, {"authorization_url": url, "state": args.state}, lines)


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


def _exchange_code(args: argparse.Namespace) -> int:
    if args.code and args.redirect:
        raise q.bad("code", "give either CODE or --redirect, not both", "conflict")
    if args.redirect and not args.state:
        raise q.bad("--state", "needed with --redirect (the state you put in the URL)", "required")
    if not (args.code or args.redirect or args.sandbox):
        raise q.bad("code", "give the auth code (CODE) or the --redirect URL", "required")
    with q.client_for(args, "sesame") as zm:
        if args.redirect:
            code = zm.parse_redirect(args.redirect, expected_state=args.state)
        elif args.code:
            code = args.code
        else:
            code = _sandbox_approval(args, zm)
        if args.redirect or args.code:
            with _sandbox_state_from_elsewhere(args, "an auth code", "CODE / --redirect"):
                grant = zm.exchange_code(code)
        else:
            grant = zm.exchange_code(code)
    if args.save_grant:
        _save_grant(grant, args.save_grant)
        if args.sandbox:
            print(
                "note: --sandbox: this grant belongs to a Sandbox that has stopped; a later "
                "'score --sandbox --grant-file' cannot use it (use 'creditsdk sandbox serve')",
                file=sys.stderr,
            )
    lines = [f"grant: {grant!r}"]
    if args.save_grant:
        lines.append(f"saved (with tokens, mode 0600) to {args.save_grant}")
    else:
        lines.append("tokens are not shown: pass --save-grant FILE to keep them for 'score'")
    return q.emit(args, grant.to_dict(), lines)


def _score(args: argparse.Namespace) -> int:
    consent = q.consent_from(args)
    token: Any = args.access_token
    if args.grant_file:
        if token:
            raise q.bad("--grant-file", "give either --access-token or --grant-file", "conflict")
        try:
            token = Grant.from_dict(json.loads(Path(args.grant_file).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise q.bad(
                "--grant-file", f"{args.grant_file} is not a saved grant ({type(exc).__name__})"
            ) from None
    if not token and not args.sandbox:
        raise q.bad(
            "--access-token", "give --access-token or --grant-file (from exchange-code)", "required"
        )
    with q.client_for(args, "sesame") as zm:
        if not token:
            token = zm.exchange_code(_sandbox_approval(args, zm))
            score = zm.score(token, consent=consent)
        else:
            with _sandbox_state_from_elsewhere(
                args, "a token (or saved grant)", "--access-token / --grant-file"
            ):
                score = zm.score(token, consent=consent)
    shown = "N/A" if score.score is None else str(score.score)
    lines = [f"Zhima score: {shown} (350-950)  transaction {score.transaction_id}"]
    return q.emit(args, score.to_dict(), lines)


def _watchlist(args: argparse.Namespace) -> int:
    applicant = q.applicant_from(args)
    consent = q.consent_from(args)
    product_code = args.product_code or os.environ.get("CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE")
    if not product_code:
        if not args.sandbox:
            raise q.bad(
                "--product-code",
                "give your contract's product code "
                "(or set CREDITSDK_SESAME_WATCHLIST_PRODUCT_CODE)",
                "required",
            )
        product_code = "w1010100000000009999"  # the Sandbox accepts any code
    with q.client_for(args, "sesame") as zm:
        result = zm.watchlist(applicant, consent, product_code)
    shown = {None: "N/A (cannot assess)", 0: "0 (not on the watchlist)"}.get(
        result.level, f"{result.level} (on the watchlist)"
    )
    lines = [f"Zhima industry watchlist level: {shown}  transaction {result.transaction_id}"]
    return q.emit(args, result.to_dict(), lines)
