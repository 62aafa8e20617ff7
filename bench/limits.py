"""What the servers themselves can do on this machine, for scale.

PostgreSQL: pgbench with a one-row UPDATE transaction (``sql/update_one_row.sql``) in
a scratch database ``tq_bench`` made and dropped here, with 1 client (one connection
in a loop, like one worker) and with 8. Redis: redis-benchmark for the commands our
scripts use, on the bench's db number and key prefix, with 1 client and with 50.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

from bench.common import POSTGRES_URL, REDIS_DB, REDIS_URL, ROOT, delete_prefix, log

PG_DB = "tq_bench"
SCRIPT = ROOT / "sql" / "update_one_row.sql"
LIMIT_PREFIX = "tqbench-limits"
# A script as small as a script can be: the ceiling for one EVALSHA round trip.
TINY_LUA = "return redis.call('INCR', KEYS[1])"


def _pg_args() -> list[str]:
    u = urlsplit(POSTGRES_URL)
    return [
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
    ]


def _run(args: list[str], timeout: float = 120) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {out.stderr.strip()[:500]}")
    return out.stdout + out.stderr


def pgbench(seconds: int) -> dict[str, Any]:
    base = _pg_args()
    subprocess.run(["dropdb", *base, "--if-exists", PG_DB], check=False, capture_output=True)
    _run(["createdb", *base, PG_DB])
    try:
        _run(["pgbench", *base, "-i", "-q", "-s", "1", PG_DB], timeout=300)
        out: dict[str, Any] = {}
        for clients in (1, 8):
            text = _run(
                [
                    "pgbench", *base, "-n", "-f", str(SCRIPT), "-c", str(clients),
                    "-j", str(min(clients, 2)), "-T", str(seconds), PG_DB,
                ],
                timeout=seconds + 120,
            )  # fmt: skip
            m = re.search(r"tps = ([\d.]+)", text)
            lat = re.search(r"latency average = ([\d.]+) ms", text)
            out[f"clients_{clients}"] = {
                "tps": float(m.group(1)) if m else None,
                "latency_ms": float(lat.group(1)) if lat else None,
            }
            log(f"pgbench {clients} client(s): {out[f'clients_{clients}']}")
        return out
    finally:
        subprocess.run(["dropdb", *base, "--if-exists", PG_DB], check=False, capture_output=True)


def _redis_args() -> list[str]:
    u = urlsplit(REDIS_URL)
    return ["-h", u.hostname or "127.0.0.1", "-p", str(u.port or 6379), "--dbnum", str(REDIS_DB)]


def _rps(text: str) -> float | None:
    m = re.search(r'"[^"]*","([\d.]+)"', text)
    return float(m.group(1)) if m else None


async def redis_benchmark(requests: int) -> dict[str, Any]:
    base = _redis_args()
    sha = _run(["redis-cli", *base[:4], "-n", str(REDIS_DB), "SCRIPT", "LOAD", TINY_LUA]).strip()
    key = LIMIT_PREFIX + ":{{k}}:{}:__rand_int__"
    commands = {
        "EVALSHA (tiny script)": ["EVALSHA", sha, "1", key.format("n")],
        "HSET": ["HSET", key.format("h"), "f", "v"],
        "ZADD": ["ZADD", f"{LIMIT_PREFIX}:{{k}}:z", "__rand_int__", "m__rand_int__"],
        "GET": ["GET", key.format("n")],
        "PUBLISH": ["PUBLISH", f"{LIMIT_PREFIX}:channel", "x"],
    }
    out: dict[str, Any] = {}
    try:
        for clients in (1, 50):
            row: dict[str, float | None] = {}
            for name, cmd in commands.items():
                text = _run(
                    [
                        "redis-benchmark", *base, "-c", str(clients), "-n", str(requests),
                        "-r", "100000", "--csv", *cmd,
                    ]
                )  # fmt: skip
                row[name] = _rps(text)
            out[f"clients_{clients}"] = row
            log(f"redis-benchmark {clients} client(s): {row}")
    finally:
        with contextlib.suppress(Exception):
            await delete_prefix(LIMIT_PREFIX, pattern=f"{LIMIT_PREFIX}:*")
    return out


async def run(quick: bool) -> dict[str, Any]:
    """Both limits; a tool that fails is recorded as an error, not fatal to the suite."""
    out: dict[str, Any] = {}
    for attempt in (1, 2):  # the server is shared: another session may cut a connection
        try:
            out["pgbench_update_one_row"] = pgbench(3 if quick else 10)
            out.pop("pgbench_error", None)
            break
        except Exception as exc:
            out["pgbench_error"] = f"attempt {attempt}: {type(exc).__name__}: {exc}"[:1000]
            log(f"pgbench failed: {out['pgbench_error'][:200]}")
    try:
        out["redis_benchmark"] = await redis_benchmark(20_000 if quick else 100_000)
    except Exception as exc:
        out["redis_benchmark_error"] = f"{type(exc).__name__}: {exc}"[:1000]
        log(f"redis-benchmark failed: {out['redis_benchmark_error'][:200]}")
    return out
