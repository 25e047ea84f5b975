"""The ``creditsdk`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def _available_providers() -> list[str]:
    from .sandbox import discover_providers

    return sorted(discover_providers())


def _cmd_demo(args: argparse.Namespace) -> int:
    providers = _available_providers()
    print(f"creditsdk {__version__}")
    if not providers:
        print("No provider sandboxes are installed yet; the demo arrives with them.")
        return 0
    print("Sandbox providers available: " + ", ".join(providers))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creditsdk",
        description="Typed, billing-safe clients for Chinese credit-data providers.",
    )
    parser.add_argument("--version", action="version", version=f"creditsdk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run every provider against the local Sandbox")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
