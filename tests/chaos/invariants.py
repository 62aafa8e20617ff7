"""What must hold after a chaos run, read from the store directly (not through the
processes that suffered the faults) and from the files, with independent decoders."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
from mutagen.mp4 import MP4

from tests.chaos.traffic import Traffic
from ttsqueue.backends import Backend, open_backend
from ttsqueue.models import TERMINAL_EVENTS, Event, EventType, Job, JobStatus, TaskKind

# Workers sweep temporary files left by killed workers (at start and in maintenance;
# ``ttsqueue gc`` on demand): after the run's sweep none may be left.
TEMP_FILES_ARE_SWEPT = True


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    chapters: int = 0
    temp_files: list[str] = field(default_factory=list)
    events: dict[str, list[Event]] = field(default_factory=dict)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def temp_files(data_dir: Path) -> list[str]:
    audio = data_dir / "audio"
    return (
        sorted(str(p.relative_to(audio)) for p in audio.rglob(".*tmp*")) if audio.exists() else []
    )


def check_book(f: Findings, data_dir: Path, job: Job) -> None:
    """The M4B decodes; one marker per chapter; its duration is the chapters' sum."""
    assert job.result is not None
    book = data_dir / "audio" / str(job.result["path"])
    chapters = [t for t in job.tasks if t.kind is TaskKind.SYNTHESIZE]
    durations = []
    for t in chapters:
        assert t.result is not None
        durations.append(float(t.result["duration_s"]))
    try:
        with av.open(str(book)) as container:
            markers = list(container.chapters())
            decoded = 0.0
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                decoded += frame.samples / frame.sample_rate
        mp4 = MP4(str(book))
    except Exception as exc:  # the book is the thing under test: any failure is a finding
        f.problems.append(f"{job.id}: {book.name} does not decode: {exc!r}")
        return
    f.check(
        len(markers) == len(chapters),
        f"{job.id}: {len(markers)} chapter markers for {len(chapters)} chapters",
    )
    total = sum(durations)
    f.check(
        abs(decoded - total) <= max(0.05, 0.01 * total),
        f"{job.id}: decodes to {decoded:.3f}s, chapters sum to {total:.3f}s",
    )
    f.check(
        abs(mp4.info.length - total) <= max(0.05, 0.01 * total),
        f"{job.id}: mutagen reads {mp4.info.length:.3f}s, chapters sum to {total:.3f}s",
    )


def check_history(f: Findings, job: Job, events: list[Event]) -> None:
    """1..n without gaps, one terminal event and nothing after it, each chapter
    completed exactly once."""
    seqs = [e.seq for e in events]
    f.check(seqs == list(range(1, len(seqs) + 1)), f"{job.id}: event seqs {seqs}")
    terminal = [i for i, e in enumerate(events) if e.type in TERMINAL_EVENTS]
    f.check(
        len(terminal) == 1 and terminal[0] == len(events) - 1,
        f"{job.id}: terminal events at {terminal} of {len(events)}",
    )
    done = Counter(int(e.data["index"]) for e in events if e.type is EventType.CHAPTER_COMPLETED)
    n = job.total_chapters
    if job.status is JobStatus.COMPLETED:
        f.check(
            done == Counter(range(n)),
            f"{job.id}: chapters completed {sorted(done.elements())}, each of 0..{n - 1} once",
        )
    else:
        f.check(max(done.values(), default=1) == 1, f"{job.id}: a chapter completed twice: {done}")


async def _read(
    url: str, job_ids: list[str]
) -> tuple[dict[str, Job | None], dict[str, list[Event]], Backend]:
    backend = open_backend(url)
    await backend.open()
    jobs = {j: await backend.get(j) for j in job_ids}
    events = {j: await backend.events(j, limit=100_000) for j in job_ids}
    return jobs, events, backend


async def check_store(f: Findings, url: str, traffic: Traffic, data_dir: Path) -> None:
    ids = [a.job_id for a in traffic.accepted]
    jobs, events, backend = await _read(url, ids)
    try:
        f.events = events
        for a in traffic.accepted:
            job = jobs[a.job_id]
            if job is None:
                f.problems.append(f"accepted job {a.job_id} ({a.key}) is gone")
                continue
            f.check(
                all(r == a.job_id for r in a.resubmits), f"{a.key}: resubmits got {a.resubmits}"
            )
            check_history(f, job, events[a.job_id])
            if job.status is JobStatus.COMPLETED:
                f.completed += 1
                f.chapters += job.total_chapters
                check_book(f, data_dir, job)
            elif job.status is JobStatus.FAILED:
                f.failed += 1
                spent = [t for t in job.tasks if t.attempts >= t.max_attempts]
                f.check(bool(spent), f"{job.id}: failed with attempts left: {job.tasks}")
                f.check(bool(job.error), f"{job.id}: failed without a reason kept")
            else:
                f.problems.append(f"{job.id}: ended the run {job.status.value}")
        stats = await backend.stats()
        for status in ("pending", "running", "waiting"):
            f.check(stats.tasks.get(status, 0) == 0, f"tasks {status} at the end: {stats.tasks}")
        for user in sorted({a.user for a in traffic.accepted}):
            mine = await backend.stats(user_id=user)
            busy = {
                k: v for k, v in mine.tasks.items() if k in ("pending", "running", "waiting") and v
            }
            f.check(not busy, f"{user}: counters not back at zero: {busy}")
            active = {
                k: v
                for k, v in mine.jobs.items()
                if v and k not in ("completed", "failed", "cancelled")
            }
            f.check(not active, f"{user}: jobs still active: {active}")
    finally:
        await backend.close()


def check_resume(
    f: Findings, rng: random.Random, traffic: Traffic, port: int, samples: int
) -> None:
    """Last-Event-ID resumes exactly: from a random point, the rest of the history."""
    for a in rng.sample(traffic.accepted, min(samples, len(traffic.accepted))):
        history = f.events.get(a.job_id, [])
        if not history:
            continue
        k = rng.randint(0, len(history))
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/jobs/{a.job_id}/events",
            headers={"Authorization": f"Bearer {traffic.tokens[a.user]}", "Last-Event-ID": str(k)},
            timeout=30,
        )
        seqs = [int(line[4:]) for line in r.text.splitlines() if line.startswith("id: ")]
        f.check(seqs == [e.seq for e in history[k:]], f"{a.job_id}: resumed after {k}: {seqs}")


def check_followers(f: Findings, traffic: Traffic) -> None:
    for fo in traffic.followers:
        f.check(fo.done, f"follower of {fo.job_id} never saw a terminal event")
        f.check(not fo.problems, f"follower of {fo.job_id}: {fo.problems}")
        history = f.events.get(fo.job_id, [])
        f.check(
            [x.seq for x in fo.frames] == [e.seq for e in history],
            f"follower of {fo.job_id} saw {[x.seq for x in fo.frames]}, "
            f"history has {[e.seq for e in history]}",
        )


def run_checks(
    url: str, traffic: Traffic, data_dir: Path, rng: random.Random, port: int
) -> Findings:
    f = Findings()
    asyncio.run(check_store(f, url, traffic, data_dir))
    check_followers(f, traffic)
    check_resume(f, rng, traffic, port, samples=10)
    f.temp_files = temp_files(data_dir)
    if TEMP_FILES_ARE_SWEPT:
        f.check(not f.temp_files, f"temporary files left: {f.temp_files}")
    return f
