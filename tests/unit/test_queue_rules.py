"""The facade's rules for a submission, at their edges: what is accepted exactly at a
limit, what is refused one past it, and which field the refusal names (the API shows
it to the user). Also what the facade fills in: defaults, tier policy, attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ttsqueue.models import Chapter, User, Voice
from ttsqueue.queue import MAX_KEY_CHARS, MAX_TITLE_CHARS, BookRequest, Queue, QueueError
from ttsqueue.settings import Settings
from ttsqueue.tts.base import MAX_SPEED, MIN_SPEED

ALICE = User("alice")
PREMIUM = User("pat", premium=True)


class NoBackend:
    """build_spec never reaches the store."""


@pytest.fixture
def queue(tmp_path: Path) -> Queue:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="memory://",
        data_dir=tmp_path,
        default_engine="noop",
        default_voice="silence",
        default_format="opus",
        max_attempts=4,
        max_chapters=3,
        max_chapter_chars=50,
        max_book_chars=120,
        free_concurrency=2,
        premium_concurrency=7,
        premium_priority_boost=10,
    )
    return Queue(NoBackend(), settings)  # type: ignore[arg-type]


def book(**kw: Any) -> BookRequest:
    kw.setdefault("chapters", [Chapter("One", "Some text.")])
    return BookRequest(**kw)


def refusal(queue: Queue, user: User = ALICE, **kw: Any) -> tuple[str, str]:
    with pytest.raises(QueueError) as caught:
        queue.build_spec(user, book(**kw))
    return caught.value.field, caught.value.message


def test_defaults_and_policy_are_filled_in(queue: Queue) -> None:
    spec = queue.build_spec(ALICE, book(title="T", author="A", work_id="w", run_at=5.0))
    assert spec.voice == Voice(engine="noop", name="silence")
    assert (spec.output_format, spec.max_attempts, spec.max_concurrency) == ("opus", 4, 2)
    assert (spec.title, spec.author, spec.work_id, spec.run_at) == ("T", "A", "w", 5.0)
    assert spec.user_id == "alice" and spec.priority == 5
    premium = queue.build_spec(PREMIUM, book(priority=3))
    assert (premium.priority, premium.max_concurrency) == (13, 7)
    assert queue.build_spec(ALICE, book(output_format="M4B")).output_format == "m4b"
    meta = {"isbn": "123"}
    assert queue.build_spec(ALICE, book(metadata=meta)).metadata == meta
    assert queue.build_spec(ALICE, book(idempotency_key="k")).idempotency_key == "k"


@pytest.mark.parametrize("field", ["title", "author"])
def test_title_and_author_up_to_the_limit(queue: Queue, field: str) -> None:
    queue.build_spec(ALICE, book(**{field: "x" * MAX_TITLE_CHARS}))
    assert refusal(queue, **{field: "x" * (MAX_TITLE_CHARS + 1)}) == (
        field,
        f"at most {MAX_TITLE_CHARS} characters",
    )


def test_output_format_must_be_known(queue: Queue) -> None:
    assert refusal(queue, output_format="ogg") == (
        "output_format",
        "one of m4b, mp3, opus, m4a, flac, wav",
    )


def test_speed_inclusive_bounds(queue: Queue) -> None:
    for speed in (MIN_SPEED, MAX_SPEED):
        queue.build_spec(ALICE, book(voice=Voice(engine="noop", name="silence", speed=speed)))
    for speed in (MIN_SPEED - 0.01, MAX_SPEED + 0.01):
        voice = Voice(engine="noop", name="silence", speed=speed)
        assert refusal(queue, voice=voice) == (
            "voice.speed",
            f"between {MIN_SPEED} and {MAX_SPEED}",
        )


def test_priority_inclusive_bounds(queue: Queue) -> None:
    assert queue.build_spec(ALICE, book(priority=0)).priority == 0
    assert queue.build_spec(ALICE, book(priority=9)).priority == 9
    for priority in (-1, 10):
        assert refusal(queue, priority=priority) == ("priority", "between 0 and 9")


def test_idempotency_key_length(queue: Queue) -> None:
    queue.build_spec(ALICE, book(idempotency_key="k" * MAX_KEY_CHARS))
    for key in ("", "k" * (MAX_KEY_CHARS + 1)):
        assert refusal(queue, idempotency_key=key) == (
            "idempotency_key",
            f"1 to {MAX_KEY_CHARS} characters",
        )


def test_chapter_rules_name_the_chapter(queue: Queue) -> None:
    assert refusal(queue, chapters=[]) == ("chapters", "a book needs at least one chapter")
    four = [Chapter(str(i), "text") for i in range(4)]
    assert refusal(queue, chapters=four) == ("chapters", "at most 3 chapters per book")
    queue.build_spec(ALICE, book(chapters=four[:3]))
    blank = [Chapter("a", "text"), Chapter("b", " \n\t")]
    assert refusal(queue, chapters=blank) == ("chapters.1.text", "chapter text is empty")
    queue.build_spec(ALICE, book(chapters=[Chapter("a", "x" * 50)]))
    long = [Chapter("a", "text"), Chapter("b", "x" * 51)]
    assert refusal(queue, chapters=long) == (
        "chapters.1.text",
        "at most 50 characters per chapter",
    )
    titled = [Chapter("t" * (MAX_TITLE_CHARS + 1), "text")]
    assert refusal(queue, chapters=titled) == (
        "chapters.0.title",
        f"at most {MAX_TITLE_CHARS} characters",
    )
    queue.build_spec(ALICE, book(chapters=[Chapter("a", "x" * 50)] * 2 + [Chapter("c", "y" * 20)]))
    over = [Chapter("a", "x" * 50)] * 2 + [Chapter("c", "y" * 21)]
    assert refusal(queue, chapters=over) == ("chapters", "at most 120 characters per book")
