"""The queue suite: ttsqueue on memory, sqlite, postgres and redis against pgqueuer,
saq and arq, rounds interleaved (ours, then the peer on the same store, minutes apart),
the median of the rounds reported; then the servers' own limits."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Coroutine
from typing import Any

from bench import limits, ours, peers_env
from bench.common import (
    POSTGRES_DB,
    POSTGRES_URL,
    REDIS_URL,
    ROOT,
    STORES,
    audio_tmp,
    delete_prefix,
    drop_schema,
    latency_summary,
    log,
    median,
    scratch,
)
from ttsqueue.backends import open_backend

PEERS = {"postgres": ["pgqueuer"], "redis": ["saq", "arq"]}
BATCH = 500
TUNED = 32


async def our_round(kind: str, tasks: int, latency_n: int, gap_s: float) -> dict[str, Any]:
    jobs = tasks // ours.TASKS_PER_JOB
    in_process = kind == "memory"
    out: dict[str, Any] = {}
    for phase in ("single", "batch", "pipeline", "latency"):
        s = scratch(kind)
        audio = audio_tmp()
        settings = ours.settings_for(s.url, audio)
        backend = open_backend(s.url, settings.backend_options)
        await backend.open()
        try:
            queue = ours.facade(backend, settings)
            if phase == "latency":
                lat = await ours.latency(backend, queue, s.url, audio, latency_n, gap_s, in_process)
                out["latency"] = latency_summary(lat)
                continue
            specs = ours.make_specs(queue, jobs)
            if phase == "single":
                out["enqueue_single"] = {
                    "tasks": tasks,
                    "per_s": await ours.enqueue_single(backend, specs),
                }
                conc = os.cpu_count() or 1  # the Worker's default: one per core
                out["process_default"] = await ours.process(
                    backend, s.url, audio, conc, tasks, in_process
                )
            elif phase == "batch":
                out["enqueue_batch"] = {
                    "tasks": tasks,
                    "batch": BATCH,
                    "per_s": await ours.enqueue_batch(backend, specs, BATCH),
                }
                out["process_tuned"] = await ours.process(
                    backend, s.url, audio, TUNED, tasks, in_process
                )
            else:  # the same jobs through the audiobook pipeline, files and all
                await ours.enqueue_batch(backend, specs, BATCH)
                out["process_pipeline"] = await ours.process(
                    backend, s.url, audio, TUNED, tasks, in_process, mode="pipeline"
                )
        finally:
            await backend.close()
            await s.cleanup()
            shutil.rmtree(audio, ignore_errors=True)
    return out


async def peer_round(
    python: str, peer: str, tasks: int, latency_n: int, gap_s: float
) -> dict[str, Any]:
    tag = secrets.token_hex(4)
    schema = f"tq_bench_peer_{tag}"
    name = f"tqbench-{peer}-{tag}"
    env = dict(os.environ)
    env.update(
        BENCH_PG_DSN=f"{POSTGRES_URL}/{POSTGRES_DB}",
        PGQUEUER_SCHEMA=schema,
        PGQUEUER_PREFIX=f"tqb{tag}_",
        BENCH_REDIS_URL=REDIS_URL,
        BENCH_NAME=name,
    )
    script = ROOT / "peers" / f"{peer}_bench.py"
    args = [
        python, str(script), "round", "--n", str(tasks), "--batch", str(BATCH),
        "--latency-n", str(latency_n), "--gap-ms", str(gap_s * 1000),
    ]  # fmt: skip
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(script.parent),
        )
        out, err = await asyncio.wait_for(proc.communicate(), 1200)
        if proc.returncode != 0:
            raise RuntimeError(f"{peer} failed: {err.decode()[-1500:]}")
        import json

        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result
    finally:
        if peer == "pgqueuer":
            await drop_schema(schema)
        elif peer == "saq":
            await delete_prefix(name, pattern=f"saq:{name}:*")
            await delete_prefix(name, pattern=f"saq:job:{name}:*")
        elif peer == "arq":
            await delete_prefix(name, pattern=f"{name}*")


def _median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per measure, the median over rounds of every numeric field."""
    out: dict[str, Any] = {}
    for measure in rounds[0]:
        fields: dict[str, Any] = {}
        for key, value in rounds[0][measure].items():
            if isinstance(value, bool):
                fields[key] = all(r[measure][key] for r in rounds)
            elif isinstance(value, (int, float)):
                fields[key] = median([float(r[measure][key]) for r in rounds])
            else:
                fields[key] = value
        out[measure] = fields
    return out


async def _guarded(
    rounds: dict[str, list[dict[str, Any]]],
    errors: dict[str, str],
    name: str,
    work: Coroutine[Any, Any, dict[str, Any]],
) -> None:
    """A store or peer that fails is reported as such; the others still run."""
    try:
        rounds.setdefault(name, []).append(await work)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"[:2000]
        log(f"{name} failed: {errors[name][:300]}")


async def run(quick: bool) -> dict[str, Any]:
    tasks = 1_000 if quick else 10_000
    runs = 1 if quick else 3
    latency_n = 50 if quick else 200
    gap_s = 0.020
    python = peers_env.ensure()
    rounds: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for r in range(runs):
        for kind in STORES:
            log(f"round {r + 1}/{runs}: ttsqueue on {kind}")
            await _guarded(rounds, errors, kind, our_round(kind, tasks, latency_n, gap_s))
            for peer in PEERS.get(kind, []):
                log(f"round {r + 1}/{runs}: {peer}")
                await _guarded(
                    rounds, errors, peer, peer_round(python, peer, tasks, latency_n, gap_s)
                )
    log("server limits: pgbench, redis-benchmark")
    return {
        "params": {
            "tasks": tasks,
            "runs": runs,
            "batch": BATCH,
            "tuned_concurrency_ours": TUNED,
            "default_concurrency_ours": os.cpu_count() or 1,
            "latency_jobs": latency_n,
            "latency_gap_ms": gap_s * 1000,
            "users": ours.USERS,
            "worker_pool": "ThreadPoolExecutor (no-op engine)",
        },
        "peer_versions": peers_env.versions(),
        "rounds": rounds,
        "errors": errors,
        "median": {name: _median_of(rs) for name, rs in rounds.items() if rs},
        "limits": await limits.run(quick),
    }
