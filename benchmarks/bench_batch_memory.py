"""Batch runner: throughput (row 7) and peak memory (row 8) over many rows against the Sandbox.

The Sandbox runs in this process; the batch runs as ``python -m creditsdk.batch`` in a child
process, whose peak RSS is read with ``resource.getrusage(RUSAGE_CHILDREN)`` once it exits. So the
figure is the batch's own memory, not the Sandbox's.

    python benchmarks/bench_batch_memory.py                 # 100,000 rows, demo bureau
    python benchmarks/bench_batch_memory.py --rows 20000 --provider tianyuan
    python benchmarks/bench_batch_memory.py --fast-ledger   # no fsync per ledger commit
    python benchmarks/bench_batch_memory.py --measure rows --provider tianyuan --rows 20000
    python benchmarks/bench_batch_memory.py --measure rows --before 3b18631   # and that commit's

``--measure rows`` reports rows/s (goal >= 1,500, Tianyuan, unlimited rate; row 7), ``--measure
rss`` peak RSS (goal <= 150 MB at 100,000 rows; row 8). ``--before REV`` runs the same batch
with the ``creditsdk`` of git revision REV too (exported to a temporary folder, put first on
the child's PYTHONPATH), alternating, so before/after come from one run. ``--profile`` runs the
batch under py-spy and adds its top frames.

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
from typing import Any

from _common import HERE, load, profiled, report, top_frames
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


def run_batch(
    args: argparse.Namespace,
    tmp: Path,
    src: Path,
    label: str,
    *,
    pythonpath: str | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One batch in a child process against a fresh Sandbox in this process."""
    sb, operation, env = sandbox_for(args.provider)
    out = tmp / f"out-{label}"
    try:
        cmd = [
            sys.executable, "-m", "creditsdk.batch", str(src),
            "--operation", operation, "--output", str(out),
            "--consent-reference", "AUTH-BENCH", "--consent-granted-at", "2026-01-01T00:00",
            "--concurrency", str(args.concurrency), "--rate", str(args.rate),
            "--format", args.format, "--no-progress", "--json",
        ]  # fmt: skip
        if args.fast_ledger:
            cmd.append("--fast-ledger")
        if args.provider == "tianyuan":  # decode with the Sandbox's tables: the full schema
            tables = sb.tianyuan.bucket_tables_path
            cmd += ["--client-option", f"bucket_tables={tables}"]
        if profile is not None:
            cmd = profiled(cmd, profile)
        # the fingerprint key lives outside the output folder (here: beside it, in tmp)
        env["CREDITSDK_CONFIG_DIR"] = str(tmp / "config")
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(
            cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        billed = len(sb.ledger())
    finally:
        sb.stop()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the batch failed ({proc.returncode}): {proc.stderr[-3000:]}")
    summary: dict[str, Any] = json.JSONDecoder().raw_decode(proc.stdout, proc.stdout.index("{"))[0]
    with open(Path(summary["output"]).parent / "schema.json", encoding="utf-8") as fh:
        n_columns = len(json.load(fh)["columns"])
    peak_kb = usage.ru_maxrss  # the largest child so far: run the RSS measure first
    return {
        "summary": summary,
        "operation": operation,
        "wall": wall,
        "billed": billed,
        "cpu": (usage.ru_utime + usage.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak_mb": peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024,
        "out_mb": os.path.getsize(summary["output"]) / 1e6,
        "ledger_mb": os.path.getsize(summary["ledger"]) / 1e6,
        "columns": n_columns,
    }


def export_revision(rev: str, into: Path) -> str:
    """``src/`` of git revision ``rev`` in a folder of its own; returns it (for PYTHONPATH)."""
    repo = HERE.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return str(into / "src")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--provider", choices=["demo", "tianyuan"], default="demo")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="calls/s, 0 = unlimited")
    parser.add_argument("--fast-ledger", action="store_true")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--measure", choices=["rss", "rows"], default="rss")
    parser.add_argument("--before", metavar="REV", help="also run git revision REV's batch")
    parser.add_argument("--profile", action="store_true", help="add a py-spy profile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="creditsdk-bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "in.csv"
        write_input(src, args.rows)
        r = run_batch(args, tmp, src, "now")
        before: dict[str, Any] | None = None
        if args.before:
            old_src = export_revision(args.before, tmp / "before")
            before = run_batch(args, tmp, src, "before", pythonpath=old_src)
            again = run_batch(args, tmp, src, "now-again")  # after, before, after
            if again["summary"]["rows_per_second"] > r["summary"]["rows_per_second"]:
                r = {**again, "peak_mb": r["peak_mb"]}
        profile_line = ""
        if args.profile:
            raw = tmp / "profile.txt"
            run_batch(args, tmp, src, "profiled", profile=raw)
            # the run loop and the ledger's writer thread: what rows/s measures
            profile_line = ". Batch process " + top_frames(
                raw, focus=("_Run.", "LedgerWriter", "RunLedger.apply")
            )

    s = r["summary"]
    rate = args.rate or "unlimited"
    operation = r["operation"]
    print(f"operation          {operation} (concurrency {args.concurrency}, rate {rate})")
    print(f"rows               {s['rows']} ({s['hits']} hit, {s['no_data']} no data)")
    print(f"billed (sandbox)   {r['billed']}")
    print(f"run loop           {s['elapsed']:.1f} s -> {s['rows_per_second']:.0f} rows/s")
    print(f"whole process      {r['wall']:.1f} s (start-up and output file included)")
    print(f"peak RSS (batch)   {r['peak_mb']:.1f} MB  (target <= 150 MB)")
    print(f"CPU (batch)        {r['cpu']:.1f} s = {r['cpu'] / r['wall']:.0%} of one core")
    print(
        f"ledger / output    {r['ledger_mb']:.1f} MB / {r['out_mb']:.1f} MB, {r['columns']} columns"
    )
    common = (
        f"{s['rows']} rows of {operation}, concurrency {args.concurrency}, rate {rate}: "
        f"{s['rows_per_second']:.0f} rows/s in the run loop ({r['wall']:.1f} s whole process, "
        f"batch CPU {r['cpu'] / s['rows'] * 1e3:.2f} ms/row), {r['billed']} billed calls on the "
        f"sandbox ledger, ledger {r['ledger_mb']:.1f} MB, output {r['out_mb']:.1f} MB "
        f"({r['columns']} columns)"
    )
    if before is not None:
        b = before["summary"]
        common += (
            f"; {args.before} in the same run: {b['rows_per_second']:.0f} rows/s, batch CPU "
            f"{before['cpu'] / b['rows'] * 1e3:.2f} ms/row"
        )
    common += f"{profile_line} (load {load()} at the end)"
    if args.measure == "rows":
        per_s = s["rows_per_second"]
        report(
            "7. batch rows/s, Tianyuan, unlimited rate, Sandbox in its own process",
            per_s, ">= 1,500", per_s >= 1500, unit=" rows/s", details=common,
        )  # fmt: skip
    else:
        report(
            "8. batch of 100,000 rows: peak RSS", r["peak_mb"], "<= 150 MB",
            r["peak_mb"] <= 150, unit=" MB", details=common,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
