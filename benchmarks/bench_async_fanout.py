"""Async fan-out: 5,000 Tianyuan calls, 200 at a time, against a server answering in 50 ms.

Efficiency = ideal / measured wall-clock, where ideal = calls / concurrency × latency (1.25 s).
Goal (issue 17): >= 0.85. The server runs in its own process so that it does not compete with
the client for this interpreter's GIL; the client is ``AsyncTianyuanClient`` as users get it
(its default executor: aiohttp when the ``creditsdk[aiohttp]`` extra is installed), calling
``JRZQ8F7C`` (a small answer: this measures the HTTP fan-out, not decoding).

    python benchmarks/bench_async_fanout.py                  # row 1: the Sandbox
    python benchmarks/bench_async_fanout.py --server replay  # row 2: the replay server
    python benchmarks/bench_async_fanout.py --calls 1000 --profile

``--server replay`` also measures raw aiohttp in the same run (one fixed request body posted,
the answer read and parsed as JSON, no SDK work): the floor this machine sets for any aiohttp
client, against which the SDK's figure is read.
``--server sandbox`` also measures the httpx-only figure: the same run in a child process with
``CREDITSDK_HTTP_BACKEND=httpx`` (when this tree has that option; else it says so).
``--profile`` runs the client under py-spy and adds its top frames to the details.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import HERE, load, profiled, replay_process, report, sandbox_process, top_frames

from creditsdk import Consent
from creditsdk.tianyuan import AsyncTianyuanClient

CONSENT = Consent(
    reference="AUTH1", purpose="credit_underwriting", granted_at=dt.datetime(2026, 1, 1)
)
PARAMS = {"name": "张三", "id_card": "11010519491231002X", "mobile_no": "13800138000"}
BACKEND_VAR = "CREDITSDK_HTTP_BACKEND"


def backend_option_exists() -> bool:
    """Whether this tree reads CREDITSDK_HTTP_BACKEND (the httpx / aiohttp executor switch)."""
    import creditsdk

    root = Path(creditsdk.__file__).parent
    return any(BACKEND_VAR in p.read_text(encoding="utf-8") for p in root.rglob("*.py"))


def executor_in_use() -> str:
    """Which HTTP stack carried the calls: the one forced by CREDITSDK_HTTP_BACKEND, else
    judged by what got imported (the SDK imports aiohttp only to use it)."""
    forced = os.environ.get(BACKEND_VAR)
    if forced and backend_option_exists():
        return f"{forced} (forced)"
    return "aiohttp" if "aiohttp" in sys.modules else "httpx"


async def timed_calls(
    desc: dict[str, Any], calls: int, concurrency: int, one: Callable[[], Awaitable[object]]
) -> dict[str, float]:
    """``calls`` awaits of ``one()`` over ``concurrency`` workers; wall and CPU of this process
    and of the server process (its ``cpu()``), warm-up excluded."""
    # warm up: imports, then one connection per worker (so every run starts alike)
    await one()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    queue = iter(range(calls))

    async def worker() -> None:
        for _ in queue:
            await one()

    server_cpu = desc["cpu"]()
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "server_cpu": desc["cpu"]() - server_cpu}


async def fan_out(desc: dict[str, Any], calls: int, concurrency: int) -> dict[str, float]:
    """The SDK's fan-out: ``AsyncTianyuanClient.call`` as users make it."""
    ty = desc["tianyuan"]
    async with AsyncTianyuanClient(
        ty["access_id"], ty["access_key"], desc["base_url"], key_format=ty["key_format"], timeout=60
    ) as client:
        return await timed_calls(
            desc, calls, concurrency, lambda: client.call("JRZQ8F7C", PARAMS, consent=CONSENT)
        )


async def raw_fan_out(desc: dict[str, Any], calls: int, concurrency: int) -> dict[str, float]:
    """The same fan-out with bare aiohttp and no SDK work: a request of the SDK's size (an
    encrypted JRZQ8F7C body), the answer read and ``json.loads``-ed. The floor for any client
    built on aiohttp, on this machine, at this moment."""
    import aiohttp

    url = desc["base_url"] + "/api/v1/JRZQ8F7C"
    body = json.dumps({"data": "A" * 172}).encode()
    headers = {"Content-Type": "application/json", "Access-Id": desc["tianyuan"]["access_id"]}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            async with session.post(url, data=body, headers=headers) as response:
                json.loads(await response.read())

        return await timed_calls(desc, calls, concurrency, one)


def measure(
    server: str,
    calls: int,
    concurrency: int,
    latency: float,
    pythonpath: str | None = None,
    *,
    with_raw: bool = False,
) -> dict[str, Any]:
    if server == "replay":
        ctx = replay_process(latency)
    else:
        ctx = sandbox_process(
            server="baseline" if server == "baseline" else "current",
            pythonpath=pythonpath,
            latency=latency,
            providers=["tianyuan"],
        )
    raw: dict[str, Any] | None = None
    with ctx as desc:
        m: dict[str, Any] = asyncio.run(fan_out(desc, calls, concurrency))
        if with_raw and server == "replay" and importlib.util.find_spec("aiohttp") is not None:
            raw = asyncio.run(raw_fan_out(desc, calls, concurrency))
    ideal = calls / concurrency * latency
    executor = executor_in_use()
    for one in (m, raw):
        if one is not None:
            one.update(
                efficiency=ideal / one["wall"],
                ideal=ideal,
                client_ms=one["cpu"] / calls * 1e3,
                server_ms=one["server_cpu"] / calls * 1e3,
            )
    m["executor"] = executor
    if raw is not None:
        m["raw"] = raw
    return m


def _child(args: argparse.Namespace, env: dict[str, str], extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--json-only", "--server", args.server,
           "--calls", str(args.calls), "--concurrency", str(args.concurrency),
           "--latency", str(args.latency), *extra]  # fmt: skip
    proc = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False, cwd=HERE
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEASURE ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the child run failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("MEASURE ") :])
    return result


def _profiled_run(args: argparse.Namespace, env: dict[str, str]) -> str:
    """A second, profiled run of the same measurement (py-spy slows the one it watches)."""
    with tempfile.TemporaryDirectory(prefix="creditsdk-bench-") as tmp:
        raw = Path(tmp) / "profile.txt"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--json-only", "--server",
               args.server, "--calls", str(args.calls), "--concurrency", str(args.concurrency),
               "--latency", str(args.latency)]  # fmt: skip
        subprocess.run(profiled(cmd, raw), env={**os.environ, **env}, capture_output=True, cwd=HERE)
        return top_frames(raw, focus=("timed_calls.<locals>.worker",))  # the measured calls only


def _describe(m: dict[str, Any], calls: int, concurrency: int, latency: float) -> str:
    return (
        f"{m['executor']} executor: {m['wall']:.2f} s vs ideal {m['ideal']:.2f} s "
        f"(efficiency {m['efficiency']:.2f}); client CPU {m['client_ms']:.3f} ms/call, server "
        f"CPU {m['server_ms']:.3f} ms/request"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--server", choices=["sandbox", "replay", "baseline"], default="sandbox")
    parser.add_argument("--profile", action="store_true", help="add a py-spy profile")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json_only:
        m = measure(args.server, args.calls, args.concurrency, args.latency)
        print("MEASURE " + json.dumps(m), flush=True)
        return
    # the raw aiohttp floor only here: not in the child runs (httpx-only, profiled)
    m = measure(args.server, args.calls, args.concurrency, args.latency, with_raw=True)
    where = {"sandbox": "Sandbox in its own process", "replay": "replay server (~0.05 ms/req)",
             "baseline": "Sandbox on the 3b18631 server"}[args.server]  # fmt: skip
    details = (
        f"{args.calls} calls, concurrency {args.concurrency}, latency "
        f"{args.latency * 1000:.0f} ms, {where}. Default: "
        + _describe(m, args.calls, args.concurrency, args.latency)
    )
    if "raw" in m:
        raw = m["raw"]
        details += (
            f". Raw aiohttp in the same run (no SDK work: a body of the same size posted, the "
            f"answer parsed as JSON): {raw['wall']:.2f} s (efficiency {raw['efficiency']:.2f}), "
            f"client CPU {raw['client_ms']:.3f} ms/call, so the SDK's own work is "
            f"~{m['client_ms'] - raw['client_ms']:.3f} ms/call on top"
        )
    if args.server == "sandbox":
        if not backend_option_exists():
            details += (
                f". httpx-only: this tree has no {BACKEND_VAR} option, so the default run is "
                "the httpx figure"
            )
        else:
            h = _child(args, {BACKEND_VAR: "httpx"}, [])
            details += f". httpx-only ({BACKEND_VAR}=httpx): " + _describe(
                h, args.calls, args.concurrency, args.latency
            )
    if args.profile:
        details += ". Client " + _profiled_run(args, {})
    details += f" (load {load()} at the end)"
    name = (
        "1. async fan-out efficiency, Sandbox in its own process"
        if args.server != "replay"
        else "2. async fan-out efficiency, replay server (client only)"
    )
    report(name, m["efficiency"], ">= 0.85", m["efficiency"] >= 0.85, unit="", details=details)


if __name__ == "__main__":
    main()
