from __future__ import annotations

import time
import uuid

import pytest

from ttsqueue.models import (
    TERMINAL_JOB_STATUSES,
    JobStatus,
    Voice,
    chapter_message,
    job_progress,
    new_id,
    task_id,
)


def test_new_id_is_a_uuid_version_7() -> None:
    value = uuid.UUID(new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert str(value) == str(value).lower()


def test_new_id_carries_the_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_new_ids_are_unique_and_sort_by_time() -> None:
    early = [new_id() for _ in range(200)]
    time.sleep(0.002)  # the next millisecond at least
    late = [new_id() for _ in range(200)]
    assert len(set(early + late)) == 400
    assert max(early) < min(late)


def test_task_ids_derive_from_the_job() -> None:
    assert task_id("abc", 0) == "abc.0"
    assert task_id("abc", 12) == "abc.12"


@pytest.mark.parametrize(
    ("total", "done", "running", "completed", "expected"),
    [
        (4, 0, 0.0, False, 0.0),
        (4, 1, 0.0, False, 25.0),
        (4, 1, 0.5, False, 37.5),
        (3, 1, 0.0, False, 33.3),
        (3, 2, 0.0, False, 66.7),
        (3, 3, 0.0, False, 99.0),  # every chapter done, the book is not yet assembled
        (3, 3, 0.0, True, 100.0),
        (0, 0, 0.0, False, 0.0),
    ],
)
def test_job_progress(
    total: int, done: int, running: float, completed: bool, expected: float
) -> None:
    assert (
        job_progress(
            total_chapters=total,
            completed_chapters=done,
            running_progress=running,
            completed=completed,
        )
        == expected
    )


def test_chapter_message() -> None:
    assert chapter_message(2, 12, "The Storm") == "Chapter 3 of 12: The Storm"
    assert chapter_message(0, 1, "") == "Chapter 1 of 1"


def test_terminal_statuses() -> None:
    assert {s for s in JobStatus if s.terminal} == TERMINAL_JOB_STATUSES
    assert TERMINAL_JOB_STATUSES == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def test_voice_round_trips_through_a_dict() -> None:
    voice = Voice(engine="piper", name="en_GB-alan", speed=1.25, pitch=0.9, sentence_pause_ms=300)
    assert Voice.from_dict(voice.to_dict()) == voice
    assert Voice.from_dict({}) == Voice()
