"""A user submits a Project Gutenberg text in Windows-1252, or a text PDF, and gets back an
M4B with the book's chapters, title and author, and none of the Gutenberg wrapper or the
PDF's page furniture."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutagen.mp4 import MP4

from tests.acceptance.conftest import Cli
from tests.acceptance.test_workers import read_job
from tests.books.test_plaintext import GUTENBERG
from ttsqueue.audio.assemble import read_chapters
from ttsqueue.models import JobStatus

pytestmark = pytest.mark.slow


def test_a_cp1252_gutenberg_text_becomes_an_m4b_with_its_chapters(cli: Cli, tmp_path: Path) -> None:
    data = GUTENBERG.lstrip("\ufeff").replace("\n", "\r\n").encode("cp1252")
    (tmp_path / "pg9999.txt").write_bytes(data)
    job_id = cli.run("submit", "pg9999.txt", "--format", "m4b").strip()
    worker = cli.start("worker", "--concurrency", "2")
    cli.run("status", job_id, timeout=120)
    worker.terminate()

    job = read_job(cli, job_id)
    assert job.status is JobStatus.COMPLETED, job.error
    assert (job.title, job.author) == ("The Lamplighter\u2019s Tale", "Ann Writer")
    assert job.result is not None
    book = cli.data_dir / "audio" / str(job.result["path"])
    assert book.suffix == ".m4b"
    titles = [title for title, _ in read_chapters(book)]
    assert titles[1:] == ["BOOK ONE: CHAPTER I. The Lamp", "CHAPTER II. The Dark", "I."]
    assert len(titles) == 4
    tags = MP4(book).tags
    assert tags is not None
    assert tags["\xa9nam"] == ["The Lamplighter\u2019s Tale"]
    assert tags["\xa9ART"] == ["Ann Writer"]


def test_a_text_pdf_becomes_an_m4b_with_its_outline_chapters(cli: Cli, tmp_path: Path) -> None:
    from tests.books.test_pdf import BOOK, make_pdf

    (tmp_path / "lamp.pdf").write_bytes(make_pdf(BOOK, outline=True))
    job_id = cli.run("submit", "lamp.pdf", "--format", "m4b").strip()
    worker = cli.start("worker", "--concurrency", "2")
    cli.run("status", job_id, timeout=180)
    worker.terminate()

    job = read_job(cli, job_id)
    assert job.status is JobStatus.COMPLETED, job.error
    assert (job.title, job.author) == ("The Lamp", "Ann Writer")
    assert job.result is not None
    book = cli.data_dir / "audio" / str(job.result["path"])
    assert [title for title, _ in read_chapters(book)] == ["Chapter 1", "Chapter 2", "Chapter 3"]
