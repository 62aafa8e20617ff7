"""A user submits an EPUB and gets back an M4B that a player shows with the right
chapters, cover and metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutagen.mp4 import MP4

from tests.acceptance.conftest import Cli
from tests.acceptance.test_workers import read_job
from tests.books.epub_builder import OPF, PNG, build_epub
from ttsqueue.audio.assemble import read_chapters
from ttsqueue.models import JobStatus

pytestmark = pytest.mark.slow


def test_epub_becomes_an_m4b_with_chapters_cover_and_tags(cli: Cli, tmp_path: Path) -> None:
    opf = OPF.format(cover_props='properties="cover-image"').replace(
        "<dc:language>en</dc:language>",
        "<dc:language>en</dc:language><dc:date>2011</dc:date>"
        '<meta name="calibre:series" content="Lights"/>'
        '<meta name="calibre:series_index" content="2"/>',
    )
    (tmp_path / "lighthouse.epub").write_bytes(build_epub(extra={"OEBPS/content.opf": opf}))
    job_id = cli.run("submit", "lighthouse.epub", "--format", "m4b").strip()
    worker = cli.start("worker", "--concurrency", "2")
    cli.run("status", job_id, timeout=120)
    worker.terminate()

    job = read_job(cli, job_id)
    assert job.status is JobStatus.COMPLETED, job.error
    assert (job.title, job.author) == ("The Lighthouse", "Ann Writer, Bo Second")
    assert job.result is not None
    book = cli.data_dir / "audio" / str(job.result["path"])
    assert book.suffix == ".m4b"

    chapters = read_chapters(book)
    assert [title for title, _ in chapters] == [
        "Chapter 1: The Storm",
        "Chapter 2: Calm",
        "Epilogue",
    ]
    starts = [start for _, start in chapters]
    durations = [float(t.result["duration_s"]) for t in job.tasks[:3] if t.result]
    assert starts == pytest.approx([0.0, durations[0], durations[0] + durations[1]], abs=0.05)

    tags = MP4(book).tags
    assert tags is not None
    assert tags["\xa9nam"] == ["The Lighthouse"]
    assert tags["\xa9ART"] == ["Ann Writer, Bo Second"]
    assert tags["stik"] == [2]  # audiobook
    assert bytes(tags["covr"][0]) == PNG
    # the EPUB's own metadata, where Apple Books and Audiobookshelf read it
    assert tags["\xa9day"] == ["2011"]
    assert tags["\xa9mvn"] == ["Lights"]
    assert tags["\xa9mvi"] == [2]
    assert bytes(tags["----:com.apple.iTunes:LANGUAGE"][0]) == b"en"
