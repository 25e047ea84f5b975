"""Run every benchmark (each in its own process) and rewrite benchmarks/RESULTS.md.

    python benchmarks/run.py            # all of them, a few minutes
    python benchmarks/run.py 1 4        # only those numbers

Each benchmark prints one ``RESULT {json}`` line (see _common.py); a goal that is missed is
reported as missed — goals are never adjusted here.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: (number, file, goal shown when the benchmark cannot run)
BENCHMARKS: list[tuple[str, str, str]] = [
    ("1", "bench_tianyuan_https.py", ">= 3x"),
    ("2", "bench_async_fanout.py", ">= 0.85"),
    ("3", "bench_sesame_official.py", ">= 10x"),
    ("3b", "bench_sesame_signing.py", "(context for 3)"),
    ("4", "bench_tianyuan_decode.py", "<= 2x"),
    ("5", "bench_import.py", "<= 1.3x"),
    ("6", "bench_batch_memory.py", "<= 150 MB"),
    ("7", "bench_evaluate.py", ">= 3x, <= 1 GB"),
]
NAMES = {
    "1": "1. Tianyuan HTTPS round trip vs seed sample",
    "2": "2. async fan-out efficiency",
    "3": "3. Sesame score call vs official alipay-sdk-python",
    "3b": "3b. Sesame sign + verify only vs official SignatureUtils",
    "4": "4. JRZQ9E2A full decode vs json.loads",
    "5": "5. import creditsdk vs import httpx",
    "6": "6. batch of 100,000 rows: peak RSS",
    "7": "7. evaluate 100,000 rows x every JRZQ9E2A factor vs toad.quality",
}

#: Why a goal is missed, when it is (what was measured and tried: see the details).
MISSED_NOTES = {
    "1": "The seed sample pays a TCP + TLS handshake per call (~2.5 ms on loopback); the "
    "Sandbox's own work per call (~1 ms: synthetic factors, AES) is in every client's time. On "
    "this machine even a *bare* httpx keep-alive client is only 2.8-3.8x faster than the seed "
    "across runs, and creditsdk adds 0.1-0.3 ms per call on top of that bare client (validation, "
    "AES, decoding every factor). Across runs the ratio was 2.6-3.7x in-process.",
    "2": "Not reached. The client process needs ~0.9-1.2 ms of CPU per call where the ideal "
    "leaves 0.25 ms; most of it is httpx/httpcore's async request path (the SDK's part is "
    "~15 %). Fixed on the way: httpcore's quadratic pool scan (the async clients now shard "
    "requests over 64 small pools: 40.8 s → ~5-7 s), a failed 'import sniffio' on every lock "
    "(sniffio is now a dependency: ~0.75 ms per call) and the default audit sink serialising "
    "every event with logging off. Reaching 0.85 would need a cheaper HTTP client path than "
    "httpx's on this 2-core machine.",
    "3": "The official client spends ~23 ms signing with pure-Python rsa; creditsdk's whole call "
    "is ~3-4.7 ms across runs, of which its own 2048-bit RSA signature is ~1.1 ms (pycryptodome, "
    "the required crypto library; sign + verify is 19x faster than the official SDK's, 3b); the "
    "rest is HTTP and the Sandbox's own work in the same process (verifying the request, signing "
    "the answer with OpenSSL when available, ~0.4 ms), paid by both clients. 10x per call would "
    "need the client's own RSA signature to cost well under 1 ms.",
}


def _unavailable(number: str) -> str | None:
    if number == "6":
        if importlib.util.find_spec("creditsdk.batch") is None:
            return "not available: creditsdk.batch is not in this tree yet"
        if not (HERE / "bench_batch_memory.py").exists():
            return "not available: benchmarks/bench_batch_memory.py is missing"
    if number == "7":
        for module in ("toad", "sklearn", "pandas"):
            if importlib.util.find_spec(module) is None:
                return f"not available: {module} is not installed (pip install -e '.[dev]')"
    return None


def run_one(number: str, script: str, goal: str) -> dict[str, Any]:
    reason = _unavailable(number)
    if reason is not None:
        print(f"[{number}] {reason}")
        return {"name": NAMES[number], "goal": goal, "status": reason}
    print(f"[{number}] {script} …", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(HERE / script)],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        },
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    sys.stdout.write(proc.stdout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-2000:])
        return {"name": NAMES[number], "goal": goal, "status": f"failed (exit {proc.returncode})"}
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["seconds"] = elapsed
    return result


def _measured(r: dict[str, Any]) -> str:
    if "measured" not in r:
        return "—"
    unit = r.get("unit", "")
    value = r["measured"]
    return f"{value:.2f}{unit}" if unit != " MB" else f"{value:.0f} MB"


def write_results(numbers: list[str], results: list[dict[str, Any]]) -> Path:
    path = HERE / "RESULTS.md"
    rows = []
    for r in results:
        met = r.get("status") or ("**yes**" if r["met"] else "**NO — missed**")
        if r["goal"].startswith("("):
            met = "—"
        rows.append(f"| {r['name']} | {_measured(r)} | {r['goal']} | {met} |")
    details = [f"- **{r['name']}**: {r['details']}" for r in results if r.get("details")]
    missed = [
        f"- **{r['name']}** — {MISSED_NOTES[n]}"
        for n, r in zip(numbers, results, strict=True)
        if r.get("met") is False and n in MISSED_NOTES
    ]
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    import httpx

    text = "\n".join(
        [
            "# Benchmark results",
            "",
            "Written by `python benchmarks/run.py` — do not edit by hand. Every number is a ratio "
            "(or an efficiency) measured in one run on one machine, so it compares like with like; "
            "absolute times are in the details. A missed goal is reported as missed.",
            "",
            "| benchmark | measured | goal | met? |",
            "|---|---|---|---|",
            *rows,
            "",
            *(["## Missed goals", "", *missed, ""] if missed else []),
            "## Details",
            "",
            *details,
            "",
            "## Machine",
            "",
            f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.platform()}",
            f"- CPUs available: {cpus}; load average at the end: {load} (a shared machine: "
            "other jobs ran alongside)",
            f"- httpx {httpx.__version__}",
            "",
        ]
    )
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    wanted = set(argv) or {n for n, _, _ in BENCHMARKS}
    chosen = [(n, s, g) for n, s, g in BENCHMARKS if n in wanted]
    results = [run_one(n, s, g) for n, s, g in chosen]
    path = write_results([n for n, _, _ in chosen], results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
