"""The CLI's commands that read or submit jobs, over HTTP to a remote server.

``--server URL`` (or ``TTSQUEUE_SERVER_URL``) with ``--token`` (or ``TTSQUEUE_TOKEN``)
sends ``submit``, ``jobs``, ``status``, ``stats``, ``cancel``, ``retry`` and ``download``
to that server through :class:`ttsqueue.client.Client`, as the token's user, instead of
opening the store named by ``TTSQUEUE_DATABASE_URL``. Without them the commands work
on the local store, as an administrator.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ttsqueue.cli import CLI_USER, CliError, _bar, _fmt_time, _open, _queue
from ttsqueue.settings import Settings

SERVER_ENV = "TTSQUEUE_SERVER_URL"
TOKEN_ENV = "TTSQUEUE_TOKEN"
REMOTE_COMMANDS = ("submit", "jobs", "status", "stats", "cancel", "retry", "download")

if TYPE_CHECKING:
    from ttsqueue.client import Client, JobSummary

Command = Callable[[argparse.Namespace, Settings], int]


# -- wiring ---------------------------------------------------------------------------


def install(sub: Any) -> None:
    """Add ``cancel``, ``retry`` and ``download`` to the CLI, and ``--server``/``--token``
    to every command that reads or submits jobs (``sub`` is the parser's subcommands)."""
    cancel = sub.add_parser("cancel", help="cancel a job that has not finished")
    cancel.add_argument("job")
    cancel.set_defaults(fn=_local_cancel)
    retry = sub.add_parser("retry", help="run a failed or cancelled job again")
    retry.add_argument("job")
    retry.set_defaults(fn=_local_retry)
    download = sub.add_parser("download", help="save a finished job's audio")
    download.add_argument("job")
    download.add_argument("--chapter", type=int, default=None, help="one chapter, from 1")
    download.add_argument("-o", "--output", default=None, help="file (default: the job's title)")
    download.set_defaults(fn=_local_download)
    for name in REMOTE_COMMANDS:
        parser = sub.choices[name]
        group = parser.add_argument_group("remote server")
        group.add_argument(
            "--server",
            default=os.environ.get(SERVER_ENV) or None,
            metavar="URL",
            help=f"talk to this ttsqueue server over HTTP (env {SERVER_ENV})",
        )
        group.add_argument(
            "--token",
            default=os.environ.get(TOKEN_ENV) or None,
            help=f"its API key or JWT (env {TOKEN_ENV})",
        )
        parser.set_defaults(fn=_either(parser.get_default("fn"), _REMOTE[name]))


def _either(local: Command, remote: Command) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        if not args.server:
            if args.token and args.token != os.environ.get(TOKEN_ENV):
                raise CliError(f"--token needs --server (or {SERVER_ENV})")
            return local(args, settings)
        if not args.token:
            raise CliError(f"a token is needed for {args.server}: --token or {TOKEN_ENV}")
        if args.command == "submit" and (args.premium or args.user != CLI_USER):
            raise CliError(
                "--user and --premium are for the local store: the token says who submits"
            )
        return _remote(remote, args, settings)

    return run


def _remote(command: Command, args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    from ttsqueue.client import ClientError

    if settings.log_level.upper() != "DEBUG":  # not a log line per request
        logging.getLogger("httpx").setLevel(logging.WARNING)

    try:
        return command(args, settings)
    except ClientError as exc:
        raise CliError(f"{args.server}: {exc}") from None
    except httpx.HTTPError as exc:
        raise CliError(f"{args.server}: {exc or type(exc).__name__}") from None


def _client(args: argparse.Namespace) -> Client:
    from ttsqueue.client import Client

    return Client(args.server, args.token)


# -- remote commands --------------------------------------------------------------------


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def remote_submit(args: argparse.Namespace, settings: Settings) -> int:
    if args.file == "-":
        data, name = sys.stdin.buffer.read(), "stdin.md"
    else:
        data, name = Path(args.file).read_bytes(), Path(args.file).name
    params: dict[str, Any] = {
        "title": args.title or None,
        "author": args.author or None,
        "engine": args.engine,
        "voice": args.voice,
        "speed": args.speed if args.speed != 1.0 else None,
        "output_format": args.format,
        "priority": args.priority,
        "run_at": time.time() + args.delay if args.delay else None,
        "read_matter": "true" if args.read_matter else None,
        "read_chapters": args.chapters,
    }
    with _client(args) as client:
        job = client.add_job_from_file(data, filename=name, idempotency_key=args.key, **params)
    print(job.id)
    if args.wait:
        follow = argparse.Namespace(**{**vars(args), "job": job.id, "once": False})
        return remote_status(follow, settings)
    return 0


def remote_jobs(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args) as client:
        page = client.get_user_jobs(status=args.status, limit=args.limit, user=args.user)
    print(f"{'JOB':36}  {'USER':12} {'STATUS':10} {'PROGRESS':>8}  {'CREATED':19}  TITLE")
    for j in page.items:
        print(
            f"{j.id:36}  {j.user_id[:12]:12} {j.status.value:10} "
            f"{j.progress_percent:7.1f}%  {_fmt_time(_epoch(j.created_at)):19}  {j.title}"
        )
    return 0


def remote_status(args: argparse.Namespace, settings: Settings) -> int:
    tty = sys.stdout.isatty()
    last = ""

    def show(job: JobSummary) -> None:
        nonlocal last
        line = (
            f"[{_bar(job.progress_percent)}] {job.progress_percent:5.1f}% "
            f"{job.status.value:10} {job.progress_message}"
        )
        if line != last:
            print(("\r\x1b[2K" if tty else "") + line, end="" if tty else "\n", flush=True)
            last = line

    with _client(args) as client:
        job = client.get_job(args.job)
        show(job)
        if not (job.status.terminal or args.once):
            for _event in client.events(args.job):  # each event: the job as it is now
                job = client.get_job(args.job)
                show(job)
            job = client.get_job(args.job)
            show(job)
        if tty:
            print()
        if job.error:
            print(f"error: {job.error}")
        if job.audio_url:
            print(f"audio: {client.audio_url(job.id)}")
    return 0 if job.status.value == "completed" or args.once else 1


def remote_stats(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args) as client:
        stats = client.get_queue_stats()
    print(json.dumps(stats.model_dump(mode="json"), indent=2))
    return 0


def remote_cancel(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args) as client:
        job = client.cancel_job(args.job)
    print(f"{job.id} {job.status.value}")
    return 0


def remote_retry(args: argparse.Namespace, settings: Settings) -> int:
    with _client(args) as client:
        job = client.retry_job(args.job)
    print(f"{job.id} {job.status.value}")
    return 0


def _output_path(
    output: str | None, title: str, job_id: str, chapter: int | None, ext: str
) -> Path:
    if output:
        return Path(output)
    stem = "".join(c for c in title if c.isalnum() or c in " -_.").strip(" .") or job_id
    if chapter is not None:
        stem = f"{stem} - {chapter:03d}"
    return Path(f"{stem}{ext}")


def remote_download(args: argparse.Namespace, settings: Settings) -> int:
    from ttsqueue.audio.encode import CHAPTER_FORMAT, EXTENSIONS

    with _client(args) as client:
        job = client.get_job(args.job)
        fmt = job.output_format
        if args.chapter is not None:
            fmt = CHAPTER_FORMAT.get(fmt, fmt)
        ext = EXTENSIONS.get(fmt, f".{fmt}")
        path = _output_path(args.output, job.title, job.id, args.chapter, ext)
        size = client.download_audio(job.id, path, chapter=args.chapter)
    print(f"{path} ({size} bytes)")
    return 0


_REMOTE: dict[str, Command] = {
    "submit": remote_submit,
    "jobs": remote_jobs,
    "status": remote_status,
    "stats": remote_stats,
    "cancel": remote_cancel,
    "retry": remote_retry,
    "download": remote_download,
}


# -- cancel, retry and download on the local store ----------------------------------------


def _on_local_queue(settings: Settings, action: Callable[[Any, Any], Any]) -> Any:
    import asyncio

    from ttsqueue.models import User

    async def run() -> Any:
        async with _open(settings) as backend:
            return await action(_queue(backend, settings), User(CLI_USER, admin=True))

    return asyncio.run(run())


def _local_cancel(args: argparse.Namespace, settings: Settings) -> int:
    job = _on_local_queue(settings, lambda q, admin: q.cancel_job(admin, args.job))
    print(f"{job.id} {job.status.value}")
    return 0


def _local_retry(args: argparse.Namespace, settings: Settings) -> int:
    async def retry(queue: Any, admin: Any) -> Any:
        await queue.retry_job(admin, args.job)
        return await queue.get_job(admin, args.job)

    job = _on_local_queue(settings, retry)
    print(f"{job.id} {job.status.value}")
    return 0


def _local_download(args: argparse.Namespace, settings: Settings) -> int:
    from ttsqueue.models import JobStatus, TaskKind, TaskStatus
    from ttsqueue.storage import Storage

    job = _on_local_queue(settings, lambda q, admin: q.get_job(admin, args.job))
    if args.chapter is None:
        if job.status is not JobStatus.COMPLETED:
            raise CliError(f"the audiobook is not ready: the job is {job.status.value}")
        result = job.result
    else:
        tasks = [
            t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE and t.index == args.chapter - 1
        ]
        if not tasks or tasks[0].status is not TaskStatus.COMPLETED:
            raise CliError(f"chapter {args.chapter} is not ready")
        result = tasks[0].result
    source = Storage(settings.audio_dir).resolve(str((result or {}).get("path", "")))
    path = _output_path(args.output, job.title, job.id, args.chapter, source.suffix)
    shutil.copyfile(source, path)
    print(f"{path} ({path.stat().st_size} bytes)")
    return 0
