"""Shared helpers for the batch tests: valid applicants, CSV files, the demo Sandbox."""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stdnum.cn import ric

from creditsdk import Consent
from creditsdk._cli import batch as cli
from creditsdk.demobureau import applicant_ref, create_sandbox
from creditsdk.sandbox import Sandbox

CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=_dt.datetime(2026, 11, 1, 9, 0),
)

#: the consent flags of `creditsdk batch run`, for CONSENT
CONSENT_ARGS = [
    "--consent-reference",
    CONSENT.reference,
    "--consent-granted-at",
    CONSENT.granted_at.isoformat(),
]


def mounted(argv: list[str]) -> int:
    """Run ``creditsdk batch ARGV`` in this process (the parser mounted as the CLI mounts it)."""
    parser = argparse.ArgumentParser(prog="creditsdk")
    sub = parser.add_subparsers(dest="command")
    cli.add_parser(sub)
    args = parser.parse_args(["batch", *argv])
    return int(args.func(args))


def valid_id(i: int) -> str:
    """A distinct valid resident ID number for each i < 12 * 28 * 1000."""
    month, rest = i % 12 + 1, i // 12
    day, seq = rest % 28 + 1, rest // 28
    body = f"1101051980{month:02d}{day:02d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def applicants(n: int, *, bad: dict[int, dict[str, str]] | None = None) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        row = {
            "applicant_id": f"A{i + 1:06d}",
            "name": "张三",
            "id_card": valid_id(i),
            "mobile": f"138{i:08d}",
            "label": str(i % 2),
        }
        row.update((bad or {}).get(i + 1, {}))
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def demo_sandbox(**kw: Any) -> Sandbox:
    return Sandbox(providers=[], extra_providers={"demo": create_sandbox}, **kw)


def billed_per_applicant(sb: Sandbox) -> Counter[str]:
    return Counter(e.details["applicant"] for e in sb.ledger("demo"))


def ref(row: dict[str, str]) -> str:
    return applicant_ref(row["id_card"])


def kill_after(n: int, pid: int, sig: int = signal.SIGKILL) -> Callable[[int], None]:
    """A demo bureau ``on_billed`` hook: send ``sig`` to ``pid`` right after the n-th billed
    call, before it is answered (the worst moment for the batch), once."""
    lock = threading.Lock()
    fired = False

    def hook(billed: int) -> None:
        nonlocal fired
        with lock:
            if fired or billed < n:
                return
            fired = True
        os.kill(pid, sig)

    return hook
