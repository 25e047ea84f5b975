"""``import creditsdk.<provider>`` vs ``import httpx``, in fresh interpreters (lower is better).

Each sample is a new ``python -c`` process that times only the import statement (interpreter
start-up excluded, which would dilute the ratio). ``import creditsdk`` imports httpx too (the
``CREDITSDK_LOG`` setup lives next to the timeout helpers), so the ratio is creditsdk's own cost
on top of httpx's. Provider modules are imported on first use; their cost is shown alongside.
The row is the worst of the three providers. Goal (issue 17): <= 1.5x.

    python benchmarks/bench_import.py [--samples 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _common import load, report

PROVIDERS = ["creditsdk.tianyuan", "creditsdk.sesame", "creditsdk.fireeye"]

SNIPPET = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def sample(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(mod=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    modules = ["httpx", "creditsdk", *PROVIDERS]
    times: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(args.samples):  # interleaved, so load changes hit every module alike
        for m in modules:
            times[m].append(sample(m))
    med = {m: statistics.median(v) for m, v in times.items()}
    worst = max(PROVIDERS, key=med.__getitem__)
    ratio = med[worst] / med["httpx"]
    report(
        "6. import creditsdk.<provider> vs import httpx (worst of three)",
        ratio,
        "<= 1.5x",
        ratio <= 1.5,
        details=", ".join(f"{m} {t * 1e3:.0f} ms" for m, t in med.items())
        + f" (medians of {args.samples} fresh processes; worst: {worst}; load {load()})",
    )


if __name__ == "__main__":
    main()
