"""Pauses: a globally paused queue claims nothing; jobs keep queueing; resume lets work flow."""

from __future__ import annotations

from tests.conformance.helpers import add, book, claim
from ttsqueue.backends.base import Backend
from ttsqueue.models import JobStatus


async def test_a_global_pause_claims_nothing_and_resume_lets_work_flow(backend: Backend) -> None:
    assert await backend.list_pauses() == []
    first = await backend.pause()
    assert first.engine is None
    again = await backend.pause()
    assert again.since == first.since  # idempotent: the first pause stands

    job = await add(backend, book("alice", 2))  # enqueueing goes on while paused
    assert job.status is JobStatus.QUEUED
    assert await claim(backend) == []
    assert [p.engine for p in await backend.list_pauses()] == [None]

    assert await backend.resume()
    assert not await backend.resume()  # nothing left to lift
    assert await backend.list_pauses() == []
    claimed = await claim(backend)
    assert sorted(t.index for t in claimed) == [0, 1]
    assert all(t.job_id == job.id for t in claimed)


async def test_engine_pauses_are_recorded_but_do_not_stop_the_claim(backend: Backend) -> None:
    await backend.pause("piper")
    await backend.pause("espeak")
    await backend.pause()
    pauses = await backend.list_pauses()
    assert [p.engine for p in pauses] == [None, "espeak", "piper"]
    assert all(p.since > 0 for p in pauses)

    job = await add(backend, book("bob", 1))
    assert await claim(backend) == []
    assert await backend.resume()  # the global pause only
    assert [p.engine for p in await backend.list_pauses()] == ["espeak", "piper"]
    # an engine pause is applied by the worker, which knows each chapter's engine
    (task,) = await claim(backend)
    assert task.job_id == job.id
    assert await backend.resume("piper")
    assert not await backend.resume("piper")
    assert [p.engine for p in await backend.list_pauses()] == ["espeak"]


async def test_a_drain_request_is_taken_once_by_its_worker(backend: Backend) -> None:
    assert not await backend.take_drain("w1")
    await backend.drain_worker("w1")
    await backend.drain_worker("w1")  # idempotent
    assert not await backend.take_drain("w2")
    assert await backend.take_drain("w1")
    assert not await backend.take_drain("w1")
