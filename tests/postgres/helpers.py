from __future__ import annotations

from ttsqueue.models import Chapter, JobSpec


def book(user: str = "alice", chapters: int = 2, **kw: object) -> JobSpec:
    return JobSpec(
        user_id=user,
        chapters=tuple(Chapter(f"Chapter {i}", f"Text of chapter {i}.") for i in range(chapters)),
        title=f"A book by {user}",
        **kw,  # type: ignore[arg-type]
    )
