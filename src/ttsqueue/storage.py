"""Where audio lives: a local directory by default.

Paths stored in task and job results are relative to the storage root, so a shared
directory (NFS, a mounted bucket) may sit at a different place on each machine.
Files are written to a temporary name and renamed, so a reader never sees half a file
and a crashed worker leaves no file that looks finished.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def job_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValueError(f"bad job id {job_id!r}")
        return self.root / job_id

    def chapter_path(self, job_id: str, index: int, ext: str) -> Path:
        """``<root>/<job>/chapter-001.m4a`` for chapter index 0."""
        return self.job_dir(job_id) / f"chapter-{index + 1:03d}{ext}"

    def book_path(self, job_id: str, ext: str) -> Path:
        return self.job_dir(job_id) / f"book{ext}"

    def relative(self, path: Path) -> str:
        """``path`` (made by this Storage) relative to the root, as stored in results."""
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """The absolute path of a stored file; refuses anything outside the root.

        Lexical (no filesystem calls): it runs for every chapter on the hot path, and
        the root's own symlinks are the operator's business, not a user's."""
        path = Path(os.path.normpath(self.root / relative))
        if not path.is_relative_to(self.root):
            raise ValueError(f"path {relative!r} is outside storage")
        return path

    def resolve_for_job(self, job_id: str, relative: str) -> Path:
        """The absolute path of one of ``job_id``'s own files: it must lie inside that
        job's directory, lexically and after symlinks, so a stored path that was
        tampered with (another job's file, another user's book) is refused."""
        own = self.job_dir(job_id)
        path = self.resolve(relative)
        if not path.is_relative_to(own) or path == own:
            raise ValueError(f"path {relative!r} is not a file of job {job_id}")
        real_own = own.resolve()
        if not path.resolve().is_relative_to(real_own):
            raise ValueError(f"path {relative!r} leads out of job {job_id}'s directory")
        return path

    def delete_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)


def write_atomic(path: Path, write: Callable[[Path], T]) -> T:
    """Call ``write(tmp)`` to produce the file at a temporary name, then rename it into
    place. The temporary name keeps the extension, so encoders that pick the container
    by name still work."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        result = write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return result
