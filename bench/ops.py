"""Where a worker's time goes on each store: every backend call the worker makes, timed
alone, with a backlog in the store. For PROFILE.md; not part of ``make bench``.

``python -m bench.ops [sqlite postgres redis] [--jobs 5000] [--limit 32]``
prints, per store, the mean and p50 milliseconds of ``claim`` (one batch of up to
``--limit``), ``complete`` (the batch), ``get`` (the job, as the assemble step does),
``heartbeat`` and ``stats``, and the tasks/s a worker could reach if it only made those
calls one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from typing import Any

from bench import ours
from bench.common import audio_tmp, median, scratch
from ttsqueue.backends import open_backend
from ttsqueue.backends.base import Completion


async def _timed(samples: dict[str, list[float]], name: str, coro: Any) -> Any:
    t = time.perf_counter()
    result = await coro
    samples.setdefault(name, []).append(time.perf_counter() - t)
    return result


async def store_ops(kind: str, jobs: int, limit: int, rounds: int) -> dict[str, Any]:
    s = scratch(kind)
    audio = audio_tmp()
    settings = ours.settings_for(s.url, audio)
    backend = open_backend(s.url, settings.backend_options)
    await backend.open()
    samples: dict[str, list[float]] = {}
    try:
        queue = ours.facade(backend, settings)
        specs = ours.make_specs(queue, jobs)
        for k in range(0, len(specs), 500):
            await backend.enqueue(specs[k : k + 500])
        done = 0
        for _ in range(rounds):
            claimed = await _timed(
                samples, "claim", backend.claim(worker_id="ops", limit=limit, lease_s=30)
            )
            if not claimed:
                break
            leases = [c.lease for c in claimed]
            await _timed(samples, "heartbeat", backend.heartbeat(leases, lease_s=30))
            for c in claimed[:4]:
                await _timed(samples, "get", backend.get(c.job_id))
            ok = await _timed(
                samples,
                "complete",
                backend.complete(
                    [Completion(c.lease, {"path": "x", "duration_s": 0.01}) for c in claimed]
                ),
            )
            done += sum(ok)
            await _timed(samples, "stats", backend.stats())
        per_task = (
            sum(samples["claim"]) + sum(samples["complete"]) + median(samples["get"]) * done / 2
        ) / max(1, done)
    finally:
        await backend.close()
        await s.cleanup()
        shutil.rmtree(audio, ignore_errors=True)
    return {
        "store": kind,
        "backlog_jobs": jobs,
        "limit": limit,
        "claimed_per_call": done / max(1, len(samples.get("claim", []))),
        "ms": {
            name: {
                "mean": round(1000 * sum(v) / len(v), 3),
                "p50": round(1000 * median(v), 3),
                "n": len(v),
            }
            for name, v in samples.items()
        },
        "ceiling_tasks_per_s_one_connection": round(1 / per_task, 1) if per_task else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ops")
    p.add_argument("stores", nargs="*", default=["sqlite", "postgres", "redis"])
    p.add_argument("--jobs", type=int, default=5000)
    p.add_argument("--limit", type=int, default=32)
    p.add_argument("--rounds", type=int, default=40)
    args = p.parse_args()
    for kind in args.stores:
        res = asyncio.run(store_ops(kind, args.jobs, args.limit, args.rounds))
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
