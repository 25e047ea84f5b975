"""Shared helpers: every benchmark prints one ``RESULT {json}`` line that run.py collects."""

from __future__ import annotations

import json
import os
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
def sandbox_process(
    *, server: str = "current", pythonpath: str | None = None, **options: Any
) -> Iterator[dict[str, Any]]:
    """A Sandbox in its own process (so its threads do not share our GIL); yields its
    description (base_url, credentials, pid) plus ``cpu``: a function returning the server
    process's CPU seconds so far. ``options`` go to ``Sandbox(...)``; ``server="baseline"``
    serves the same app with the frozen threaded server of commit 3b18631; ``pythonpath``
    puts another tree's ``src/`` first (a whole earlier Sandbox: server and provider code)."""
    args = [sys.executable, str(HERE / "_serve.py"), json.dumps(options)]
    env = None
    if pythonpath is not None:
        rest = os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([pythonpath, str(HERE), rest])}
    with _server_process([*args, "baseline"] if server == "baseline" else args, env) as desc:
        yield desc


@contextmanager
def replay_process(latency: float) -> Iterator[dict[str, Any]]:
    """The replay server (_replay.py) in its own process; yields what sandbox_process does."""
    with _server_process([sys.executable, str(HERE / "_replay.py"), str(latency)]) as desc:
        yield desc


@contextmanager
def _server_process(args: list[str], env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the server process exited ({proc.wait()}) before serving")
        desc: dict[str, Any] = json.loads(line)
        stdin, stdout = proc.stdin, proc.stdout

        def cpu() -> float:
            stdin.write("cpu\n")
            stdin.flush()
            return float(json.loads(stdout.readline())["cpu"])

        desc["cpu"] = cpu
        yield desc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops when its stdin closes
        proc.wait(timeout=30)


def load() -> str:
    """The 1-minute load average now, and the CPUs this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 0
    one = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{one:.2f} on {cpus} CPUs"


def py_spy() -> str | None:
    """The py-spy binary next to this interpreter (or on PATH), if there is one."""
    import shutil

    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profiled(cmd: list[str], out: Path) -> list[str]:
    """``cmd`` run under py-spy (collapsed stacks written to ``out``), or as it is without it."""
    spy = py_spy()
    if spy is None:
        return cmd
    return [spy, "record", "--format", "raw", "--rate", "250", "--nonblocking", "-o", str(out),
            "--", *cmd]  # fmt: skip


def top_frames(raw: Path, n: int = 5, focus: tuple[str, ...] = ()) -> str:
    """The ``n`` functions with the most samples of their own (leaf frames) in py-spy's
    collapsed output, and the packages (creditsdk's subpackages, installed packages) with the
    largest inclusive share, as one line. ``focus``: only stacks holding one of these strings
    (e.g. the run loop's functions), so start-up and the final write are left out."""
    import re
    from collections import Counter

    if not raw.exists():
        return "no profile (py-spy is not installed: pip install py-spy)"
    leaf: Counter[str] = Counter()
    package: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        if "importlib._bootstrap" in stack:
            continue  # start-up (imports), not the work measured
        if focus and not any(f in stack for f in focus):
            continue
        total += samples
        frames = stack.split(";")
        leaf[frames[-1]] += samples
        seen = set()
        for frame in frames:
            m = re.search(r"\(([^)]*?)(?::\d+)?\)$", frame)
            path = m.group(1) if m else ""
            parts = re.split(r"[\\/]", path)
            if "site-packages" in parts:
                pkg = parts[parts.index("site-packages") + 1]
            elif "creditsdk" in parts:
                pkg = "creditsdk/" + parts[parts.index("creditsdk") + 1]
            else:
                continue  # the standard library (the event loop) is in every stack
            pkg = pkg.removesuffix(".py")
            if pkg not in seen:
                seen.add(pkg)
                package[pkg] += samples
    if not total:
        return "empty profile"
    own = "; ".join(f"{f} {c / total:.0%}" for f, c in leaf.most_common(n))
    incl = ", ".join(f"{p} {c / total:.0%}" for p, c in package.most_common(n + 3))
    scope = f" in {'/'.join(focus)}" if focus else ""
    return f"profile ({total} samples{scope}): top own time: {own}. Inclusive by package: {incl}"
