"""The one command-line entry point: ``ttsqueue up | api | worker | migrate | submit |
jobs | status | stats | cancel | retry | download | token | gc | voices``.

The commands that read or submit jobs also talk to a remote server (``--server``); see
:mod:`ttsqueue.cli_remote`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ttsqueue import __version__
from ttsqueue.backends import Backend, BackendConfigError, open_backend, open_waiting
from ttsqueue.backends.base import BackendError
from ttsqueue.models import JobStatus, User, Voice
from ttsqueue.queue import BookRequest, Queue, QueueError
from ttsqueue.settings import Settings

log = logging.getLogger("ttsqueue")

CLI_USER = "local"


class CliError(Exception):
    pass


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@contextlib.asynccontextmanager
async def _open(settings: Settings, *, wait: bool = False) -> AsyncIterator[Backend]:
    """The store, open; ``wait``: a long-running process waits for an unreachable store
    (``startup_wait_s``) instead of failing at once."""
    backend = open_backend(settings.database_url, settings.backend_options)
    await open_waiting(backend, settings.startup_wait_s if wait else 0.0)
    try:
        yield backend
    finally:
        await backend.close()


def _queue(backend: Backend, settings: Settings) -> Queue:
    from ttsqueue import tts

    return Queue(backend, settings, check_voice=tts.check_voice, check_text=tts.check_text)


# -- serving ---------------------------------------------------------------------------


async def _serve_worker(settings: Settings, concurrency: int | None) -> None:
    from ttsqueue.worker import Worker, install_signal_handlers

    async with _open(settings, wait=True) as backend:
        worker = Worker(backend, settings, concurrency=concurrency)
        install_signal_handlers(worker)
        await worker.run()


def _serve_worker_metrics(host: str, port: int) -> None:
    """A worker alone serves no HTTP; its counters are scraped from this port, on the
    configured host (TTSQUEUE_HOST, loopback by default) like the API."""
    from prometheus_client import start_http_server

    from ttsqueue.metrics import REGISTRY

    start_http_server(port, addr=host, registry=REGISTRY)
    log.info("worker metrics on %s:%d/metrics", host, port)


def _api_factory() -> Any:
    from ttsqueue.api.app import create_app

    settings = Settings()
    _setup_logging(settings)
    return create_app(settings)


# -- commands --------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from ttsqueue.up import serve_up

    demo = args.demo or args.exit_when_done
    return asyncio.run(serve_up(settings, args.concurrency, demo, args.exit_when_done))


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if settings.metrics_port and args.workers > 1:
        raise CliError(
            "TTSQUEUE_METRICS_PORT serves one process's /metrics: use it with --workers 1"
        )
    from ttsqueue.api.server import http_protocol

    uvicorn.run(
        "ttsqueue.cli:_api_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        log_level="warning",
        http=http_protocol(settings),
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.metrics_port:
        _serve_worker_metrics(settings.host, args.metrics_port)
    asyncio.run(_serve_worker(settings, args.concurrency))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Opening a backend applies its pending migrations under the store's lock; on
    PostgreSQL the reader roles' grants are then brought up to date."""
    postgres = settings.database_url.split("://")[0].lower() in ("postgres", "postgresql")
    if args.print_sql:
        from ttsqueue.backends.postgres_conn import DEFAULT_SCHEMA, parse_url
        from ttsqueue.backends.postgres_roles import migration_script

        schema = args.schema or (
            parse_url(settings.database_url).schema if postgres else DEFAULT_SCHEMA
        )
        sys.stdout.write(migration_script(schema, create_app_role=args.create_app_role))
        return 0
    if args.schema:
        print("--schema goes with --print-sql; the store's schema is in the URL", file=sys.stderr)
        return 2
    if args.create_app_role and not postgres:
        print("--create-app-role needs a PostgreSQL TTSQUEUE_DATABASE_URL", file=sys.stderr)
        return 2

    async def run() -> list[str]:
        async with _open(settings) as backend:
            grant = getattr(backend, "grant_readers", None)
            if grant is None:
                return []
            readers: list[str] = await grant(create_app_role=args.create_app_role)
            return readers

    readers = asyncio.run(run())
    print(f"schema is up to date ({settings.database_url.split('://')[0]})")
    if postgres:
        print(f"roles that may read their own jobs: {', '.join(readers) or 'none'}")
    return 0


def _read_book(source: str, data: bytes, *, read_matter: bool = False) -> Any:
    from ttsqueue.books import parse_book

    name = "stdin.md" if source == "-" else source
    return parse_book(name, data, read_matter=read_matter)


def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    book = _read_book(args.file, data, read_matter=args.read_matter)
    chapters = book.chapters
    if args.chapters:
        from ttsqueue.books.select import selected

        chapters = [chapters[i] for i in selected(args.chapters, len(chapters))]
    voice = Voice(
        engine=args.engine or settings.default_engine,
        name=args.voice or settings.default_voice,
        speed=args.speed,
    )
    request = BookRequest(
        chapters=chapters,
        title=args.title or book.title,
        author=args.author or book.author,
        voice=voice,
        output_format=args.format,
        priority=args.priority,
        run_at=time.time() + args.delay if args.delay else None,
        idempotency_key=args.key,
        cover=book.cover,
        info=book.info,
    )
    user = User(args.user, premium=args.premium)

    async def run() -> str:
        async with _open(settings) as backend:
            result = await _queue(backend, settings).add_job(user, request)
            return result.job.id

    job_id = asyncio.run(run())
    print(job_id)
    if args.wait:
        return cmd_status(argparse.Namespace(job=job_id, once=False), settings)
    return 0


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with _open(settings) as backend:
            admin = User(CLI_USER, admin=True)
            status = JobStatus(args.status) if args.status else None
            page = await _queue(backend, settings).user_jobs(
                admin,
                status=status,
                limit=args.limit,
                all_users=args.user is None,
                owner=args.user,
            )
            print(f"{'JOB':36}  {'USER':12} {'STATUS':10} {'PROGRESS':>8}  {'CREATED':19}  TITLE")
            for j in page.items:
                print(
                    f"{j.id:36}  {j.user_id[:12]:12} {j.status.value:10} "
                    f"{j.progress_percent:7.1f}%  {_fmt_time(j.created_at):19}  {j.title}"
                )

    asyncio.run(run())
    return 0


def _bar(percent: float, width: int = 30) -> str:
    filled = int(width * percent / 100)
    return "#" * filled + "-" * (width - filled)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    tty = sys.stdout.isatty()

    async def run() -> JobStatus:
        async with _open(settings) as backend:
            queue = _queue(backend, settings)
            admin = User(CLI_USER, admin=True)
            last = ""
            while True:
                job = await queue.get_job(admin, args.job)
                line = (
                    f"[{_bar(job.progress_percent)}] {job.progress_percent:5.1f}% "
                    f"{job.status.value:10} {job.progress_message}"
                )
                if line != last:
                    print(("\r\x1b[2K" if tty else "") + line, end="" if tty else "\n", flush=True)
                    last = line
                if job.status.terminal or args.once:
                    if tty:
                        print()
                    if job.error:
                        print(f"error: {job.error}")
                    if job.result:
                        print(f"audio: {settings.audio_dir / str(job.result['path'])}")
                    return job.status
                await asyncio.sleep(0.5)

    status = asyncio.run(run())
    return 0 if status in (JobStatus.COMPLETED,) or args.once else 1


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> dict[str, Any]:
        async with _open(settings) as backend:
            stats = await backend.stats()
            workers = await backend.list_workers()
            return {
                "jobs": stats.jobs,
                "tasks": stats.tasks,
                "users": stats.users,
                "oldest_pending_at": stats.oldest_pending_at,
                "workers": [{"id": w.id, "tasks": list(w.tasks)} for w in workers],
            }

    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from ttsqueue.api import keys

    async def run() -> str:
        async with _open(settings) as backend:
            if args.action == "create":
                user = User(args.user, premium=args.premium, admin=args.admin)
                token: str = await keys.issue_api_key(backend, user, label=args.label)
                return token
            if args.action == "list":
                return _key_table(await backend.list_api_keys())
            key_id = _key_id(args.key)
            if not await backend.revoke_api_key(key_id):
                raise CliError(f"no API key with id {key_id}")
            return f"revoked {key_id}"

    print(asyncio.run(run()))
    return 0


def _key_id(given: str) -> str:
    """A key id, or the id inside a full token; the token's secret is never echoed."""
    from ttsqueue.api import keys

    given = given.strip()
    if keys.looks_like_api_key(given):
        key_id = keys.key_id_of(given)
        if key_id is None:
            raise CliError("that is not a complete ttsqueue token (nor a key id)")
        return key_id
    return given


def _key_table(found: Sequence[Any]) -> str:
    lines = [f"{'ID':36}  {'USER':16} {'ROLE':14} {'CREATED':19}  LABEL"]
    for k in found:
        role = "admin" if k.admin else "premium" if k.premium else "user"
        if k.admin and k.premium:
            role = "admin,premium"
        lines.append(
            f"{k.id:36}  {k.user_id[:16]:16} {role:14} {_fmt_time(k.created_at):19}  {k.label}"
        )
    return "\n".join(lines)


def cmd_gc(args: argparse.Namespace, settings: Settings) -> int:
    """Prune finished jobs past retention, then remove the files of no job."""
    from ttsqueue import maintenance
    from ttsqueue.storage import Storage

    async def run() -> None:
        async with _open(settings) as backend:
            storage = Storage(settings.audio_dir)
            pruned = await maintenance.prune(backend, storage, settings)
            collected = await maintenance.collect_garbage(
                backend,
                storage,
                orphan_min_age_s=args.min_age,
                temp_min_age_s=min(args.min_age, maintenance.TEMP_MIN_AGE_S),
            )
            print(
                f"pruned {len(pruned)} finished jobs; removed {len(collected.orphans)} "
                f"audio directories of no job and {len(collected.temp_files)} temporary files"
            )

    asyncio.run(run())
    return 0


def cmd_voices(args: argparse.Namespace, settings: Settings) -> int:
    from ttsqueue import tts

    for v in tts.list_voices(args.engine):
        print(f"{v.engine:8} {v.name:24} {v.language:10} {v.description}")
    return 0


# -- parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ttsqueue", description="Books in, audiobooks out.")
    p.add_argument("--version", action="version", version=f"ttsqueue {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="API, worker and dashboard in one process")
    up.add_argument("--concurrency", type=int, default=None)
    up.add_argument("--demo", action="store_true", help="submit the sample book if empty")
    up.add_argument(
        "--exit-when-done",
        action="store_true",
        help="submit the sample book, exit 0 once it is finished (non-zero if it failed)",
    )
    up.set_defaults(fn=cmd_up)

    api = sub.add_parser("api", help="the HTTP API alone")
    api.add_argument("--workers", type=int, default=1, help="API processes")
    api.set_defaults(fn=cmd_api)

    worker = sub.add_parser("worker", help="a worker alone")
    worker.add_argument("--concurrency", type=int, default=None, help="chapters at once")
    worker.add_argument(
        "--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port"
    )
    worker.set_defaults(fn=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply schema migrations")
    migrate.add_argument(
        "--print-sql",
        action="store_true",
        help="print the complete PostgreSQL schema as SQL (for Supabase's SQL editor)",
    )
    migrate.add_argument("--schema", default=None, help="the schema --print-sql writes for")
    migrate.add_argument(
        "--create-app-role",
        action="store_true",
        help="PostgreSQL: create the read-only ttsqueue_app role (docs/security.md)",
    )
    migrate.set_defaults(fn=cmd_migrate)

    submit = sub.add_parser(
        "submit", help="submit a book file (.txt, .md, .epub, .html, .pdf) or - for stdin"
    )
    submit.add_argument("file")
    submit.add_argument("--user", default=CLI_USER)
    submit.add_argument("--premium", action="store_true")
    submit.add_argument("--title", default="")
    submit.add_argument("--author", default="")
    submit.add_argument("--engine", default=None)
    submit.add_argument("--voice", default=None)
    submit.add_argument("--speed", type=float, default=1.0)
    submit.add_argument("--format", default=None, help="m4b, mp3, opus, m4a, flac or wav")
    submit.add_argument("--priority", type=int, default=None, help="0..9")
    submit.add_argument("--delay", type=float, default=0.0, help="start after N seconds")
    submit.add_argument("--key", default=None, help="idempotency key")
    submit.add_argument("--wait", action="store_true", help="follow progress to the end")
    submit.add_argument(
        "--read-matter",
        action="store_true",
        help="EPUB: read the cover, title page, copyright, contents, index... too",
    )
    submit.add_argument(
        "--chapters", default=None, metavar="SPEC", help="read only these, e.g. 1-3,5,9-"
    )
    submit.set_defaults(fn=cmd_submit)

    jobs = sub.add_parser("jobs", help="list jobs, newest first")
    jobs.add_argument("--user", default=None)
    jobs.add_argument("--status", choices=[s.value for s in JobStatus], default=None)
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(fn=cmd_jobs)

    status = sub.add_parser("status", help="a job's progress, live")
    status.add_argument("job")
    status.add_argument("--once", action="store_true", help="print once, do not follow")
    status.set_defaults(fn=cmd_status)

    sub.add_parser("stats", help="queue statistics as JSON").set_defaults(fn=cmd_stats)

    token = sub.add_parser("token", help="API keys")
    tsub = token.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create")
    create.add_argument("--user", required=True)
    create.add_argument("--premium", action="store_true")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--label", default="")
    tsub.add_parser("list", help="keys with their ids, users and roles (never secrets)")
    revoke = tsub.add_parser("revoke", help="revoke a key by its id or its full token")
    revoke.add_argument("key", metavar="ID_OR_TOKEN")
    token.set_defaults(fn=cmd_token)

    gc = sub.add_parser("gc", help="prune old jobs, remove audio and temporary files of no job")
    gc.add_argument(
        "--min-age",
        type=float,
        default=600.0,
        help="leave directories changed in the last N seconds (a submission in progress)",
    )
    gc.set_defaults(fn=cmd_gc)

    voices = sub.add_parser("voices", help="list installed voices")
    voices.add_argument("--engine", default=None)
    voices.set_defaults(fn=cmd_voices)

    from ttsqueue import cli_remote

    cli_remote.install(sub)  # cancel, retry, download; --server/--token on the job commands
    from ttsqueue import cli_admin

    cli_admin.install(sub)  # pause, resume, pauses
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a setting refused at start
        print(f"ttsqueue: invalid configuration: {exc}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    try:
        return int(args.fn(args, settings))
    except (CliError, QueueError, BackendConfigError, BackendError, ValueError, OSError) as exc:
        print(f"ttsqueue: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
