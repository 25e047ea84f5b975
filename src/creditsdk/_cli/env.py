"""``creditsdk env``: every environment variable the clients read, and which are set.

Values are never printed, only whether a variable is set (and whether from a ``_FILE``).
``--check`` also builds each provider's configuration from the environment, as a client
would, and reports the error naming the variable; ``--markdown`` prints the table of
docs/production.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    env = sub.add_parser(
        "env",
        help="list the CREDITSDK_* variables and which are set (never their values)",
        description="Every environment variable the clients and `creditsdk query` read, and "
        "whether it is set here. Values are never shown.",
    )
    env.add_argument(
        "--check",
        action="store_true",
        help="also build each provider's configuration from the environment (exit 2 on error)",
    )
    env.add_argument("--markdown", action="store_true", help="print the docs' Markdown table")
    env.set_defaults(func=_run)


def _state(name: str, secret: bool) -> str:
    if os.environ.get(name, "").strip():
        return "set"
    if secret and os.environ.get(f"{name}_FILE", "").strip():
        return "set (file)"
    return "-"


def _run(args: argparse.Namespace) -> int:
    from .._core.config import env_table
    from .query import env_groups

    groups = env_groups()
    if args.markdown:
        sys.stdout.write(env_table(groups))
        return 0
    width = max(len(v.name) for _, variables in groups for v in variables)
    for title, variables in groups:
        print(title)
        for v in variables:
            print(f"  {v.name:{width}}  {_state(v.name, v.secret):10}  {v.description}")
    if not args.check:
        return 0
    return _check()


def _check() -> int:
    from .._core.config import NOT_GIVEN, configure_logging_from_env, transport_from_env
    from .._core.executors import DEFAULT_MAX_RESPONSE_BYTES
    from .._spec import discover_specs
    from ..errors import CreditSDKError

    failed = False
    print()
    for spec in discover_specs():
        prefix = f"CREDITSDK_{spec.name.upper()}_"
        if not any(k.startswith(prefix) and v.strip() for k, v in os.environ.items()):
            print(f"{spec.name}: not configured")
            continue
        try:
            spec.config_from_env_function()()
            configure_logging_from_env()
            transport_from_env(
                spec.name,
                timeout=NOT_GIVEN,
                retry=None,
                verify=True,
                max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
                default_max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
            )
        except CreditSDKError as exc:
            failed = True
            print(f"{spec.name}: error: {exc}")
        else:
            print(f"{spec.name}: ok")
    return 2 if failed else 0
