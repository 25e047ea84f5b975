"""The ``creditsdk`` command: ``demo``, ``sandbox serve|applicants``, ``query``, ``batch``
(and ``batch reconcile``), ``evaluate``, ``env``.

Exit codes: 0 success, 1 the provider or the network failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .. import __version__
from ..errors import ConfigurationError, CreditSDKError, InvalidInputError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "sandbox_description"]


def _specs() -> dict[str, Any]:
    from .._spec import discover_specs

    return {spec.name: spec for spec in discover_specs()}


def _err(message: str) -> None:
    print(f"creditsdk: error: {message}", file=sys.stderr)


def sandbox_description(sb: Any) -> dict[str, Any]:
    """What a client in another language needs to talk to a running Sandbox."""
    out: dict[str, Any] = {"base_url": sb.base_url, "control_url": sb.control_url, "providers": {}}
    if sb.ca_bundle:
        out["ca_bundle"] = sb.ca_bundle
    specs = _specs()
    for name in sb.providers:
        provider = sb.provider(name)
        # Only what each provider's spec declares safe to print (throwaway sandbox values).
        wanted = specs[name].sandbox_fields if name in specs else ()
        fields = {f: getattr(provider, f) for f in wanted if hasattr(provider, f)}
        out["providers"][name] = {k: v for k, v in fields.items() if isinstance(v, str)}
    return out


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from ..sandbox import Sandbox

    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    sb = Sandbox(host=args.host, port=args.port, tls=args.tls, latency=args.latency, seed=args.seed)
    sb.start()
    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        description = sandbox_description(sb)
        if args.keys_dir:
            description["keys_dir"] = str(_write_keys(sb, Path(args.keys_dir)))
        if args.json:
            print(json.dumps(description, ensure_ascii=False), flush=True)
        else:
            print(f"creditsdk sandbox serving on {sb.base_url}  (Ctrl-C to stop)")
            print(f"  control API: {sb.control_url}/  (docs/sandbox.md)")
            if "ca_bundle" in description:
                print(f"  CA bundle: {description['ca_bundle']}")
            for name, fields in description["providers"].items():
                print(f"  {name}:")
                for key, value in fields.items():
                    print(f"    {key} = {value}")
            if args.keys_dir:
                print(f"  keys written to {description['keys_dir']}")
            sys.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sb.stop()
    print("sandbox stopped", file=sys.stderr)
    return EXIT_OK


def _write_keys(sb: Any, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    specs = _specs()
    for name in sb.providers:
        provider = sb.provider(name)
        for key in specs[name].sandbox_key_files if name in specs else ():
            value = getattr(provider, key, None)
            if isinstance(value, str) and value:
                path = folder / f"{name}_{key}.pem"
                path.write_text(value if value.endswith("\n") else value + "\n", encoding="utf-8")
                path.chmod(0o600)
    return folder


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(as_json=args.json, seed=args.seed, plain=args.plain)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="creditsdk",
        description="Typed, billing-safe clients for Chinese credit-data providers.",
        epilog="Exit codes: 0 ok, 1 provider or network failure, 2 bad usage or bad input. "
        "Every command has --help.",
    )
    parser.add_argument("--version", action="version", version=f"creditsdk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run every provider's flow against the embedded Sandbox",
        description="Start the Sandbox on 127.0.0.1 and run each provider's whole flow for a "
        "sample applicant. Needs no network and no credentials.",
    )
    demo.add_argument("--json", action="store_true", help="print the results as JSON")
    demo.add_argument("--seed", type=int, default=0, help="sandbox seed (default 0)")
    demo.add_argument("--plain", action="store_true", help="plain text, even if rich is installed")
    demo.set_defaults(func=_cmd_demo)

    sandbox = sub.add_parser("sandbox", help="run the Sandbox as a server")
    sandbox.set_defaults(help_parser=sandbox)
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    serve = sandbox_sub.add_parser(
        "serve",
        help="serve every provider's sandbox until Ctrl-C",
        description="Serve the Sandbox for clients in any language; prints the credentials it "
        "accepts. Sandbox credentials are throwaway values, not secrets.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    serve.add_argument("--seed", type=int, default=0, help="seed for keys and synthetic data")
    serve.add_argument("--keys-dir", help="write the providers' PEM keys to this folder")
    serve.add_argument("--json", action="store_true", help="print the description as one JSON line")
    serve.set_defaults(func=_cmd_sandbox_serve)
    from ..sandbox._applicants import add_parser as add_applicants_parser

    add_applicants_parser(sandbox_sub)

    from .query import add_query_parser

    add_query_parser(sub)

    from .batch import add_parser as add_batch_parser

    add_batch_parser(sub)

    from .evaluate import add_parser as add_evaluate_parser

    add_evaluate_parser(sub)

    from .env import add_parser as add_env_parser

    add_env_parser(sub)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"creditsdk: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    with warnings.catch_warnings():
        # A warning is one line for a shell user, not a source excerpt.
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:2] == ["batch", "reconcile"]:  # `batch INPUT` takes a positional: dispatch here
        from .batch import reconcile_main

        return reconcile_main(args_list[2:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, bad usage exits 2
        return int(exc.code or 0)
    func = getattr(args, "func", None)
    if func is None:  # a command group without its subcommand: show that group's help
        getattr(args, "help_parser", parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(args))
    except InvalidInputError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ConfigurationError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except CreditSDKError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `creditsdk demo --json | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
