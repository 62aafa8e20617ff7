"""The SQLite store keeps each user's running and pending task counts in the users table
(by triggers) so that claim reads caps without counting; they must stay exact through
every transition."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

from tests.stores.sqlite import store
from ttsqueue.backends import Backend, BackendOptions
from ttsqueue.backends.base import Completion, InvalidTransition
from ttsqueue.models import Chapter, ClaimedTask, JobFilter, JobSpec

USERS = ("ann", "bob", "cy")


def counts(path: Path) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """(kept by the triggers, counted from the tasks) per user: (running, pending)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT user_id, running, pending FROM users")
        kept = {u: (r, p) for u, r, p in rows}
        counted = dict.fromkeys(kept, (0, 0))
        for user, running, pending in conn.execute(
            "SELECT user_id, sum(status = 'running'), sum(status = 'pending') "
            "FROM tasks GROUP BY user_id"
        ):
            counted[user] = (running, pending)
    return kept, counted


ACTIONS = (
    "enqueue",
    "claim",
    "claim",
    "complete",
    "fail",
    "retry_fail",
    "release",
    "cancel",
    "retry",
    "reap",
    "prune",
)


async def step(
    backend: Backend, rng: random.Random, held: list[ClaimedTask], done: Counter[str]
) -> None:
    action = rng.choice(ACTIONS)
    if action == "enqueue":
        chapters = tuple(Chapter(f"c{i}", "text") for i in range(rng.randint(1, 3)))
        run_at = time.time() + 0.05 if rng.random() < 0.2 else None
        spec = JobSpec(
            user_id=rng.choice(USERS), chapters=chapters, run_at=run_at, max_concurrency=2
        )
        await backend.enqueue([spec])
    elif action == "claim":
        lease_s = 0.01 if rng.random() < 0.3 else 60.0
        held += await backend.claim(worker_id="w", limit=rng.randint(1, 3), lease_s=lease_s)
    elif held and action in ("complete", "fail", "retry_fail", "release"):
        task = held.pop(rng.randrange(len(held)))
        if action == "complete":
            ok = (await backend.complete([Completion(task.lease, {"path": "x"})]))[0]
        elif action == "release":
            ok = await backend.release([task.lease]) == 1
        else:
            retry_at = time.time() if action == "retry_fail" else None
            ok = await backend.fail(task.lease, error="boom", retry_at=retry_at)
        done[action] += ok
    elif action in ("cancel", "retry"):
        items = (await backend.list_jobs(JobFilter(), limit=50)).items
        if items:
            job = rng.choice(items)
            with contextlib.suppress(InvalidTransition):  # not allowed in the job's state
                if action == "cancel":
                    await backend.cancel(job.id)
                else:
                    await backend.retry(job.id)
                done[action] += 1
    elif action == "reap":
        await asyncio.sleep(0.02)  # let the short leases run out
        reaped = await backend.reap()
        done[action] += reaped.requeued + reaped.failed
    elif action == "prune":
        done[action] += len(await backend.prune(older_than=time.time()))


async def test_running_and_pending_counts_stay_exact(tmp_path: Path) -> None:
    rng = random.Random(7)
    held: list[ClaimedTask] = []
    done: Counter[str] = Counter()
    async with store(tmp_path, BackendOptions()) as backend:
        for _ in range(400):
            await step(backend, rng, held, done)
        # and once for certain: a lease that runs out, taken back by reap
        await backend.enqueue([JobSpec(user_id="dee", chapters=(Chapter("c", "text"),))])
        assert await backend.claim(worker_id="w", limit=1, lease_s=0.01)
        await asyncio.sleep(0.05)
        reaped = await backend.reap()
        done["reap"] += reaped.requeued + reaped.failed
        stats = await backend.stats()
    kept, counted = counts(tmp_path / "queue.db")
    assert kept == counted
    assert sum(r for r, _ in kept.values()) == stats.tasks["running"]
    assert sum(p for _, p in kept.values()) == stats.tasks["pending"]
    # every kind of transition really happened along the way
    assert set(done) == set(ACTIONS) - {"enqueue", "claim"}, done
    assert min(done.values()) > 0, done
