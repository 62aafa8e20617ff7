"""The driver every peer script shares; runs in the peers' own virtual environment.

A peer module defines a class with ``open``/``close``, ``enqueue_one``,
``enqueue_many``, ``run_worker`` (until an event is set) and ``pending`` (jobs not yet
finished), and calls :func:`main`. ``round`` runs one benchmark round and prints one
JSON object; the worker always runs in a separate OS process (``worker`` mode), as
ttsqueue's does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

READY = "READY"


class Peer(Protocol):
    default_concurrency: int
    tuned_concurrency: int

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue_one(self, payload: dict[str, Any]) -> None: ...
    async def enqueue_many(self, payloads: list[dict[str, Any]]) -> None: ...
    async def run_worker(
        self, concurrency: int, on_job: Callable[[dict[str, Any]], None], stop: asyncio.Event
    ) -> None: ...
    async def pending(self) -> int: ...


def percentile(values: list[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


async def _worker(peer: Peer, n: int, concurrency: int) -> dict[str, Any]:
    """Process ``n`` jobs; the time runs from start until every job is finished."""
    await peer.open()
    stop = asyncio.Event()
    seen = 0
    lat: list[float] = []

    def on_job(payload: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if "t0" in payload:
            lat.append(time.time() - float(payload["t0"]))

    print(READY, flush=True)
    t0 = time.perf_counter()
    runner = asyncio.create_task(peer.run_worker(concurrency, on_job, stop))
    while seen < n:
        if runner.done():
            runner.result()
            raise RuntimeError(f"worker ended after {seen} of {n} jobs")
        await asyncio.sleep(0.002)
    while await peer.pending() > 0:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t0
    stop.set()
    try:
        await asyncio.wait_for(runner, 30)
    except TimeoutError:
        runner.cancel()
    await peer.close()
    return {"jobs": seen, "seconds": elapsed, "latencies": lat}


async def _spawn_worker(n: int, concurrency: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        sys.argv[0],
        "worker",
        "--n",
        str(n),
        "--concurrency",
        str(concurrency),
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.decode().strip() != READY:
        raise RuntimeError(f"peer worker did not start: {line!r}")
    return proc


async def _result(proc: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    out = await asyncio.wait_for(proc.stdout.read(), timeout)
    await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"peer worker exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def _process(peer: Peer, n: int, concurrency: int) -> dict[str, Any]:
    proc = await _spawn_worker(n, concurrency)
    res = await _result(proc, 600)
    left = await peer.pending()
    return {
        "concurrency": concurrency,
        "jobs": res["jobs"],
        "seconds": res["seconds"],
        "per_s": res["jobs"] / res["seconds"],
        "all_completed": left == 0 and res["jobs"] == n,
    }


async def _round(peer: Peer, args: argparse.Namespace) -> dict[str, Any]:
    n = args.n
    out: dict[str, Any] = {}
    await peer.open()
    try:
        t = time.perf_counter()
        for i in range(n):
            await peer.enqueue_one({"i": i})
        out["enqueue_single"] = {"jobs": n, "per_s": n / (time.perf_counter() - t)}
        out["process_default"] = await _process(peer, n, peer.default_concurrency)

        payloads = [{"i": i} for i in range(n)]
        t = time.perf_counter()
        for k in range(0, n, args.batch):
            await peer.enqueue_many(payloads[k : k + args.batch])
        out["enqueue_batch"] = {
            "jobs": n,
            "batch": args.batch,
            "per_s": n / (time.perf_counter() - t),
        }
        out["process_tuned"] = await _process(peer, n, peer.tuned_concurrency)

        proc = await _spawn_worker(args.latency_n, peer.default_concurrency)
        await asyncio.sleep(1.0)  # let the worker go idle
        for _ in range(args.latency_n):
            await peer.enqueue_one({"t0": time.time()})
            await asyncio.sleep(args.gap_ms / 1000)
        res = await _result(proc, 120)
        lat = [x * 1000 for x in res["latencies"]]
        out["latency"] = {
            "n": len(lat),
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else float("nan"),
        }
    finally:
        await peer.close()
    return out


def main(peer: Peer) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["round", "worker"])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=0)
    p.add_argument("--latency-n", type=int, default=200)
    p.add_argument("--gap-ms", type=float, default=20.0)
    args = p.parse_args()
    if args.mode == "worker":
        res = asyncio.run(_worker(peer, args.n, args.concurrency))
    else:
        res = asyncio.run(_round(peer, args))
    print(json.dumps(res), flush=True)
