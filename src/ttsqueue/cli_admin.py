"""``ttsqueue pause``, ``resume``, ``pauses`` and ``worker-drain``, on the store."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Any

from ttsqueue.backends import open_backend
from ttsqueue.backends.base import Pause
from ttsqueue.settings import Settings

ENGINE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,50}")  # as the API accepts


def install(sub: Any) -> None:
    pause = sub.add_parser(
        "pause", help="stop claiming, for every engine or one (jobs still queue)"
    )
    pause.add_argument("--engine", default=None, help="pause this engine only")
    pause.set_defaults(fn=cmd_pause)
    resume = sub.add_parser("resume", help="lift a pause")
    resume.add_argument("--engine", default=None, help="lift this engine's pause")
    resume.set_defaults(fn=cmd_resume)
    sub.add_parser("pauses", help="the pauses in force, as JSON").set_defaults(fn=cmd_pauses)
    drain = sub.add_parser(
        "worker-drain", help="ask a worker to finish what it holds and exit (see `stats`)"
    )
    drain.add_argument("worker_id", metavar="ID")
    drain.set_defaults(fn=cmd_worker_drain)


def _engine(value: str | None) -> str | None:
    if value is not None and not ENGINE_NAME.fullmatch(value):
        raise ValueError(f"--engine: not an engine name: {value!r}")
    return value


def _shown(p: Pause) -> dict[str, Any]:
    return {"engine": p.engine, "since": p.since}


async def _with_store(settings: Settings, fn: Any) -> Any:
    async with open_backend(settings.database_url, settings.backend_options) as backend:
        return await fn(backend)


def cmd_pause(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(args.engine)
    pause = asyncio.run(_with_store(settings, lambda b: b.pause(engine)))
    print(json.dumps(_shown(pause)))
    return 0


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(args.engine)
    resumed = asyncio.run(_with_store(settings, lambda b: b.resume(engine)))
    print(json.dumps({"engine": engine, "resumed": resumed}))
    return 0


def cmd_pauses(args: argparse.Namespace, settings: Settings) -> int:
    pauses = asyncio.run(_with_store(settings, lambda b: b.list_pauses()))
    print(json.dumps([_shown(p) for p in pauses], indent=2))
    return 0


def cmd_worker_drain(args: argparse.Namespace, settings: Settings) -> int:
    async def run(backend: Any) -> bool:
        if args.worker_id not in {w.id for w in await backend.list_workers()}:
            return False
        await backend.drain_worker(args.worker_id)
        return True

    if not asyncio.run(_with_store(settings, run)):
        raise ValueError(f"no live worker {args.worker_id!r}")
    print(json.dumps({"worker_id": args.worker_id, "requested": True}))
    return 0
