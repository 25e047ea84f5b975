"""``creditsdk query``: one provider call from the shell.

Each provider adds its own sub-commands (``creditsdk query NAME OPERATION``) from the
``commands`` of its spec; this module gives them the shared pieces. Credentials come from the
same environment variables the clients read (``CREDITSDK_<PROVIDER>_*``); ``--sandbox`` runs
the call against an embedded Sandbox instead (synthetic data). Human output masks personal data
and never shows tokens; ``--json`` prints the result's ``to_dict()``. A bad input or a missing
setting is one line on stderr and exit code 2; a provider refusal or a network failure is exit
code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "SANDBOX_NOTE",
    "add_common",
    "add_consent_args",
    "add_query_parser",
    "applicant_from",
    "bad",
    "client_for",
    "consent_from",
    "emit",
    "env_groups",
    "key_values",
    "masked_applicant",
]

SANDBOX_NOTE = "note: --sandbox: synthetic data from the embedded Sandbox, not the provider"


def bad(option: str, message: str, rule: str = "format") -> InvalidInputError:
    """The error for a bad command-line value (exit code 2), naming the option."""
    return InvalidInputError(message, field=option, rule=rule)


# -- shared options ------------------------------------------------------------------------------


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--sandbox``, ``--json``, ``--timeout``: every query command has them."""
    parser.add_argument(
        "--sandbox", action="store_true", help="run against an embedded Sandbox (synthetic data)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per HTTP attempt (default $CREDITSDK_<PROVIDER>_TIMEOUT, else 20)",
    )


def add_consent_args(parser: argparse.ArgumentParser) -> None:
    """The applicant's authorization, required by billed calls (see `consent_from`)."""
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
    group.add_argument(
        "--consent-expires-at",
        help="when it expires, ISO 8601 (optional; a product's auth_date is built from both)",
    )


def consent_from(args: argparse.Namespace) -> Any:
    """The [`Consent`][creditsdk.Consent] the ``--consent-*`` options describe."""
    from .. import Consent

    granted = _when(args, "consent_granted_at")
    if granted is None:
        granted = _dt.datetime.now() - _dt.timedelta(seconds=1)
    return Consent(
        reference=args.consent_reference,
        purpose=args.consent_purpose,
        granted_at=granted,
        expires_at=_when(args, "consent_expires_at"),
    )


def _when(args: argparse.Namespace, attr: str) -> _dt.datetime | None:
    text = getattr(args, attr, None)
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        option = "--" + attr.replace("_", "-")
        raise bad(option, "must be an ISO 8601 date-time, e.g. 2026-11-01T09:00") from None


def applicant_from(args: argparse.Namespace) -> Any:
    """The [`Applicant`][creditsdk.Applicant] of ``--name``, ``--id-card``, ``--mobile``."""
    from .. import Applicant

    return Applicant(name=args.name, id_card=args.id_card, mobile=args.mobile)


def masked_applicant(applicant: Any) -> str:
    m = applicant.masked()
    return f"{m['name']} {m['id_card']} {m['mobile']}"


def key_values(pairs: list[str], option: str = "--param") -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise bad(option, f"must be KEY=VALUE, not {key!r}")
        params[key.strip()] = value
    return params


@contextlib.contextmanager
def client_for(args: argparse.Namespace, provider: str, **kwargs: Any) -> Iterator[Any]:
    """A sync client of ``provider``: from env-var credentials, or wired to an embedded Sandbox
    (then also at ``args.sandbox_instance``)."""
    if args.timeout is not None:
        kwargs["timeout"] = args.timeout
    if args.sandbox:
        from ..sandbox import Sandbox

        print(SANDBOX_NOTE, file=sys.stderr)
        with Sandbox(providers=[provider]) as sb:
            args.sandbox_instance = sb
            with getattr(sb, f"{provider}_client")(**kwargs) as client:
                yield client
        return
    from .._spec import spec_for

    with spec_for(provider).client_class()(**kwargs) as client:
        yield client


def emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> int:
    """Print the result (``--json``: ``data``; else the human ``lines``); exit code 0."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print("\n".join(lines))
    return 0


# -- environment variables ------------------------------------------------------------------------


def env_groups() -> list[tuple[str, tuple[Any, ...]]]:
    """Every environment variable the clients (and so ``creditsdk query``) read: the shared
    ones, then per provider its own ``ENV_VARS`` (declared next to its config's ``from_env``)
    and the transport ones. docs/production.md shows `env_table` of this."""
    import importlib

    from .._core.config import GLOBAL_ENV_VARS, transport_env_vars
    from .._spec import discover_specs

    specs = discover_specs()
    names = ", ".join(spec.name.upper() for spec in specs)
    groups: list[tuple[str, tuple[Any, ...]]] = [
        (
            f"every provider (`<PROVIDER>`: {names})",
            (*GLOBAL_ENV_VARS, *transport_env_vars("<PROVIDER>")),
        )
    ]
    for spec in specs:
        module = importlib.import_module(spec.config_from_env.partition(":")[0])
        groups.append((spec.display_name, tuple(getattr(module, "ENV_VARS", ()))))
    return groups


# -- the parser ----------------------------------------------------------------------------------


def add_query_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``query`` and every provider's sub-commands to the ``creditsdk`` parser."""
    from .._spec import discover_specs

    query: argparse.ArgumentParser = sub.add_parser(
        "query",
        help="run one query against a provider (or --sandbox)",
        description="One provider call from the shell. Credentials come from the CREDITSDK_* "
        "environment variables; --sandbox uses an embedded Sandbox. Exit codes: 0 ok, "
        "1 provider or network failure, 2 bad input or missing setting.",
    )
    query.set_defaults(help_parser=query)
    providers = query.add_subparsers(dest="provider", metavar="PROVIDER")
    for spec in discover_specs():
        if spec.commands is None:
            continue
        parser = providers.add_parser(spec.name, help=spec.display_name)
        parser.set_defaults(help_parser=parser)
        spec.add_commands(parser.add_subparsers(dest="operation", metavar="OPERATION"))
    return query
