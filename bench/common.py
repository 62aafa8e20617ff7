"""What every suite shares: the machine, statistics, scratch stores, result files.

Scratch stores never touch other data: PostgreSQL gets a fresh schema (dropped after),
Redis a fresh key prefix in its own db number (deleted after by SCAN + UNLINK of that
prefix only), SQLite a file in a temporary directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
REPO = ROOT.parent

POSTGRES_URL = os.environ.get("TTSQUEUE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
POSTGRES_DB = os.environ.get("TTSQUEUE_BENCH_POSTGRES_DB", "test")
REDIS_DB = int(os.environ.get("TTSQUEUE_BENCH_REDIS_DB", "15"))
REDIS_URL = os.environ.get("TTSQUEUE_BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{REDIS_DB}")
STORES = ("memory", "sqlite", "postgres", "redis")


def log(msg: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {msg}", file=sys.stderr, flush=True)


# -- statistics ------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between the closest ranks."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if not ours or not theirs:
        return None
    return round(ours / theirs, 2)


# -- the machine -----------------------------------------------------------------------


def _cmd(*args: str) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_gb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _pkg_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """Where and when the numbers were taken."""
    git = _cmd("git", "-C", str(REPO), "rev-parse", "--short", "HEAD")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _mem_gb(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "commit": git,
        "versions": {
            "ttsqueue": _pkg_version("ttsqueue"),
            "psycopg": _pkg_version("psycopg"),
            "redis-py": _pkg_version("redis"),
            "av": _pkg_version("av"),
            "postgresql": _cmd("psql", _pg_url("postgres"), "-Atc", "SHOW server_version"),
            "redis_version": _redis_version(),
            "espeak-ng": _pkg_version("espeakng-loader"),
        },
    }


def _redis_version() -> str:
    out = subprocess.run(
        ["redis-cli", "-u", REDIS_URL, "INFO", "server"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    ).stdout
    for line in out.splitlines():
        if line.startswith("redis_version:"):
            return line.split(":", 1)[1].strip()
    return "unavailable"


def machine_line(m: dict[str, Any]) -> str:
    v = m["versions"]
    return (
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['memory_gb']} GB · "
        f"load {m['load_avg_at_start']} at start · Python {m['python']} · "
        f"PostgreSQL {v['postgresql']} · Redis {v['redis_version']} · commit {m['commit']}"
    )


# -- scratch stores --------------------------------------------------------------------


def _pg_url(db: str, query: str = "") -> str:
    return f"{POSTGRES_URL}/{db}{query}"


@dataclass
class Scratch:
    """One isolated store; :meth:`cleanup` removes exactly what it made."""

    kind: str
    url: str
    name: str  # schema, key prefix or directory
    tmp: Path

    async def cleanup(self) -> None:
        if self.kind == "postgres":
            await drop_schema(self.name)
        elif self.kind == "redis":
            await delete_prefix(self.name)
        shutil.rmtree(self.tmp, ignore_errors=True)


def scratch(kind: str) -> Scratch:
    tag = secrets.token_hex(4)
    tmp = Path(tempfile.mkdtemp(prefix=f"tq-bench-{kind}-", dir=_fast_tmp()))
    if kind == "memory":
        return Scratch(kind, "memory://", "memory", tmp)
    if kind == "sqlite":
        return Scratch(kind, f"sqlite:///{tmp / 'bench.db'}", str(tmp), tmp)
    if kind == "postgres":
        schema = f"tq_bench_{tag}"
        return Scratch(kind, _pg_url(POSTGRES_DB, f"?schema={schema}"), schema, tmp)
    if kind == "redis":
        prefix = f"tqbench-{tag}"
        return Scratch(kind, f"{REDIS_URL}?prefix={prefix}", prefix, tmp)
    raise ValueError(f"unknown store {kind!r}")


def _fast_tmp() -> str | None:
    """Audio files of the no-op path go to a tmpfs where there is one (see docs)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def audio_tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="tq-bench-audio-", dir=_fast_tmp()))


async def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    from ttsqueue.backends.sqlfiles import queries

    text = queries("postgres", "testing.sql")["drop_schema"]
    stmt = sql.SQL(text).format(schema=sql.Identifier(schema))  # type: ignore[arg-type]
    async with await psycopg.AsyncConnection.connect(_pg_url(POSTGRES_DB), autocommit=True) as conn:
        await conn.execute(stmt)


async def delete_prefix(prefix: str, pattern: str | None = None) -> int:
    """Delete this prefix's keys only (SCAN MATCH + UNLINK): the server is shared."""
    import redis.asyncio as aioredis

    from ttsqueue.backends.keys import Keys

    match = pattern or Keys(prefix).pattern()
    n = 0
    client = aioredis.from_url(REDIS_URL)
    try:
        batch: list[bytes] = []
        async for name in client.scan_iter(match=match, count=1000):
            batch.append(name)
            if len(batch) >= 500:
                n += await client.unlink(*batch)
                batch = []
        if batch:
            n += await client.unlink(*batch)
    finally:
        await client.aclose()
    return n


@contextlib.asynccontextmanager
async def scratch_store(kind: str) -> AsyncIterator[Scratch]:
    s = scratch(kind)
    try:
        yield s
    finally:
        await s.cleanup()


# -- result files ----------------------------------------------------------------------


def write_results(name: str, data: dict[str, Any], markdown: str) -> Path:
    """``results/<name>.json`` (every value) and ``results/<name>.md`` (the tables)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    js = RESULTS / f"{name}.json"
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(js)
    md = RESULTS / f"{name}.md"
    md.write_text(markdown.rstrip() + "\n")
    log(f"wrote {js.relative_to(REPO)} and {md.relative_to(REPO)}")
    return md


def read_results(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            if v != v:  # NaN
                return "n/a"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
