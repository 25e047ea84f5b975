"""Shared helpers: every benchmark prints one ``RESULT {json}`` line that run.py collects."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def report(
    name: str, measured: float, goal: str, met: bool, *, unit: str = "x", details: str = ""
) -> None:
    """Print the machine-readable result line (and a human one)."""
    print(f"{name}: {measured:.2f}{unit} (goal {goal}) {'met' if met else 'MISSED'} {details}")
    line = {"name": name, "measured": measured, "unit": unit, "goal": goal, "met": met,
            "details": details}  # fmt: skip
    print("RESULT " + json.dumps(line, ensure_ascii=False), flush=True)


@contextmanager
def sandbox_process(**options: Any) -> Iterator[dict[str, Any]]:
    """A Sandbox in its own process (so its threads do not share our GIL); yields its
    description (base_url, credentials). ``options`` go to ``Sandbox(...)``."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_serve.py"), json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops when its stdin closes
        proc.wait(timeout=30)
