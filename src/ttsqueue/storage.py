"""Where audio lives: a local directory by default.

Paths stored in task and job results are relative to the storage root, so a shared
directory (NFS, a mounted bucket) may sit at a different place on each machine.
Files are written to a temporary name and renamed, so a reader never sees half a file
and a crashed worker leaves no file that looks finished.

Everything is created readable by its owner only (directories 0700, files 0600): the
audio is the users' books.

A temporary file is held under an exclusive ``flock`` for as long as its writer lives,
so :meth:`Storage.sweep_temp` can tell the debris of a killed process (no lock: the
kernel dropped it with the process) from a file a live worker is still writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DIR_MODE = 0o700
FILE_MODE = 0o600

# ".chapter-004.1a2b3c4d.tmp.m4a" and what a writer derives from it
# (".book.1a2b3c4d.tmp.m4b.head"): grouped by the part up to ".tmp"
_TEMP = re.compile(r"^\.(?P<base>.+\.[0-9a-f]{8}\.tmp)(?:\..*)?$")


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 (``mkdir -p`` would give the
    parents the default mode); directories that exist keep theirs."""
    missing = []
    at = path
    while not at.is_dir():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
    return path


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

    def job_dirs(self, *, min_age_s: float = 0.0) -> list[str]:
        """Names of the job directories under the root not changed for ``min_age_s``."""
        cutoff = time.time() - min_age_s
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        names = []
        for entry in entries:
            with contextlib.suppress(OSError):
                if (
                    not entry.name.startswith(".")
                    and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime <= cutoff
                ):
                    names.append(entry.name)
        return sorted(names)

    def sweep_temp(self, *, min_age_s: float = 0.0) -> list[Path]:
        """Delete the temporary files no live process holds (those of killed writers),
        untouched for ``min_age_s``; return what was deleted."""
        cutoff = time.time() - min_age_s
        swept: list[Path] = []
        for job in self.job_dirs():
            groups: dict[str, list[Path]] = {}
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.root / job):
                    m = _TEMP.match(entry.name)
                    if m and entry.is_file(follow_symlinks=False):
                        groups.setdefault(m["base"], []).append(Path(entry.path))
            for paths in groups.values():
                swept += _sweep_group(paths, cutoff)
        return swept


def _sweep_group(paths: list[Path], cutoff: float) -> list[Path]:
    """Delete one writer's temporary files, unless a live writer holds any of them."""
    with contextlib.ExitStack() as locks:
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return []  # gone already, or not ours to read
            locks.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # a live writer holds it
            if os.fstat(fd).st_mtime > cutoff:
                return []
        for path in paths:  # unlinked while we hold the locks
            path.unlink(missing_ok=True)
        return paths
    return []  # pragma: no cover  (ExitStack does not swallow exceptions)


@contextlib.contextmanager
def _locked_temp(path: Path) -> Iterator[Path]:
    """A fresh temporary name beside ``path``, created 0600 and held under ``flock``
    until the block ends (or the process dies)."""
    for _ in range(3):
        tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # a sweeper may have taken the unlocked file between open and flock
            if os.path.lexists(tmp) and os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                yield tmp
                return
        finally:
            os.close(fd)
    raise OSError(f"could not hold a temporary file beside {path}")


def write_atomic(path: Path, write: Callable[[Path], T]) -> T:
    """Call ``write(tmp)`` to produce the file at a temporary name, then rename it into
    place. The temporary name keeps the extension, so encoders that pick the container
    by name still work. The file ends up 0600 whatever the writer asked for."""
    make_private_dir(path.parent)
    with _locked_temp(path) as tmp:
        try:
            result = write(tmp)
            with open(tmp, "rb") as fh:
                os.fchmod(fh.fileno(), FILE_MODE)
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return result
