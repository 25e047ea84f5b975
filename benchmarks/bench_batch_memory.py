"""Batch runner: peak memory and throughput over many rows against the loopback Sandbox.

The Sandbox runs in this process; the batch runs as ``python -m creditsdk.batch`` in a child
process, whose peak RSS is read with ``resource.getrusage(RUSAGE_CHILDREN)`` once it exits. So the
figure is the batch's own memory, not the Sandbox's.

    python benchmarks/bench_batch_memory.py                 # 100,000 rows, demo bureau
    python benchmarks/bench_batch_memory.py --rows 20000 --provider tianyuan
    python benchmarks/bench_batch_memory.py --fast-ledger   # no fsync per ledger commit

With ``--provider tianyuan`` the output has the full stable schema (every factor of the catalog
and of the Sandbox's bucket tables: ~1,400 columns, whatever the answers hold).

Prints rows/s and peak MB; the target is a flat profile (peak RSS <= 150 MB at 100,000 rows).
Throughput is bounded by the Sandbox (a stdlib threaded server sharing the machine) and, with
the default durable ledger, by fsync: both are reported, nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report
from stdnum.cn import ric

from creditsdk.sandbox import Sandbox


def valid_id(i: int) -> str:
    month, rest = i % 12 + 1, i // 12
    day, seq = rest % 28 + 1, rest // 28
    body = f"1101051980{month:02d}{day:02d}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def write_input(path: Path, rows: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["applicant_id", "name", "id_card", "mobile", "label"])
        for i in range(rows):
            # IDs repeat after 336,000 rows; the runner does not care.
            writer.writerow([f"A{i:07d}", "张三", valid_id(i), f"13{i % 10**9:09d}", i % 2])


def sandbox_for(provider: str) -> tuple[Sandbox, str, dict[str, str]]:
    if provider == "demo":
        from creditsdk.demobureau import create_sandbox

        sb = Sandbox(providers=[], extra_providers={"demo": create_sandbox}).start()
        env = {"CREDITSDK_DEMO_BASE_URL": sb.base_url, "CREDITSDK_DEMO_API_KEY": sb.demo.api_key}
        return sb, "demo.score", env
    if provider == "tianyuan":
        sb = Sandbox(providers=["tianyuan"], options={"tianyuan": {"balance": None}}).start()
        env = {
            "CREDITSDK_TIANYUAN_BASE_URL": sb.base_url,
            "CREDITSDK_TIANYUAN_ACCESS_ID": sb.tianyuan.access_id,
            "CREDITSDK_TIANYUAN_ACCESS_KEY": sb.tianyuan.access_key,
        }
        return sb, "tianyuan.multi_lending", env
    raise SystemExit(f"unknown provider {provider!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--provider", choices=["demo", "tianyuan"], default="demo")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="calls/s, 0 = unlimited")
    parser.add_argument("--fast-ledger", action="store_true")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="creditsdk-bench-batch-") as tmp:
        src = Path(tmp) / "in.csv"
        write_input(src, args.rows)
        sb, operation, env = sandbox_for(args.provider)
        try:
            cmd = [
                sys.executable, "-m", "creditsdk.batch", str(src),
                "--operation", operation, "--output", str(Path(tmp) / "out"),
                "--consent-reference", "AUTH-BENCH", "--consent-granted-at", "2026-01-01T00:00",
                "--concurrency", str(args.concurrency), "--rate", str(args.rate),
                "--format", args.format, "--no-progress", "--json",
            ]  # fmt: skip
            if args.fast_ledger:
                cmd.append("--fast-ledger")
            if args.provider == "tianyuan":  # decode with the Sandbox's tables: the full schema
                tables = sb.tianyuan.bucket_tables_path
                cmd += ["--client-option", f"bucket_tables={tables}"]
            started = time.perf_counter()
            # the fingerprint key lives outside the output folder (here: beside it, in tmp)
            env["CREDITSDK_CONFIG_DIR"] = str(Path(tmp) / "config")
            proc = subprocess.run(
                cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False
            )
            wall = time.perf_counter() - started
            billed = len(sb.ledger())
        finally:
            sb.stop()
        if proc.returncode not in (0, 1):
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        summary = json.loads(proc.stdout)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kb = usage.ru_maxrss
        child_cpu = usage.ru_utime + usage.ru_stime
        out_size = os.path.getsize(summary["output"]) / 1e6
        with open(Path(summary["output"]).parent / "schema.json", encoding="utf-8") as fh:
            n_columns = len(json.load(fh)["columns"])
        ledger_size = os.path.getsize(summary["ledger"]) / 1e6

    peak_mb = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024
    rate = args.rate or "unlimited"
    s = summary
    print(f"operation          {operation} (concurrency {args.concurrency}, rate {rate})")
    print(f"rows               {s['rows']} ({s['hits']} hit, {s['no_data']} no data)")
    print(f"billed (sandbox)   {billed}")
    print(f"run loop           {s['elapsed']:.1f} s -> {s['rows_per_second']:.0f} rows/s")
    print(f"whole process      {wall:.1f} s (start-up and output file included)")
    print(f"peak RSS (batch)   {peak_mb:.1f} MB  (target <= 150 MB)")
    print(f"CPU (batch)        {child_cpu:.1f} s = {child_cpu / wall:.0%} of one core")
    print(f"ledger / output    {ledger_size:.1f} MB / {out_size:.1f} MB, {n_columns} columns")
    report(
        "6. batch of 100,000 rows: peak RSS",
        peak_mb,
        "<= 150 MB",
        peak_mb <= 150,
        unit=" MB",
        details=f"{s['rows']} rows of {operation}, concurrency {args.concurrency}, rate {rate}: "
        f"{s['rows_per_second']:.0f} rows/s in the run loop, {billed} billed calls on the "
        f"sandbox ledger, ledger {ledger_size:.1f} MB, output {out_size:.1f} MB "
        f"({n_columns} columns)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
