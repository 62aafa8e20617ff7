"""What a worker runs for each kind of task.

The parent process plans (normalise and split the text, pick paths), in a thread off its
event loop; the functions marked *pool* run in the worker's process pool and take only
picklable arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttsqueue.bookinfo import BookInfo
from ttsqueue.models import ClaimedTask, Job, TaskKind, Voice
from ttsqueue.settings import Settings
from ttsqueue.storage import Storage, write_atomic

BATCH_CHARS = 1500  # text sent to the pool per call: progress granularity vs. overhead
SILENT_CHAPTER_MS = 500
EDGE_MS = 40  # silence kept around each chunk's speech (the rest of the pause is ours)


@dataclass(frozen=True, slots=True)
class Batch:
    items: tuple[tuple[str, int], ...]  # (text, pause after in ms)

    @property
    def chars(self) -> int:
        return sum(len(t) for t, _ in self.items)


@dataclass(frozen=True, slots=True)
class ChapterFinish:
    """What happens to a chapter's speech before it is encoded: loudness normalisation
    (``target_lufs`` None: left as the engine made it) and silence around it."""

    start_ms: int = 0
    end_ms: int = 0
    target_lufs: float | None = None
    true_peak_db: float = -3.0

    @classmethod
    def for_voice(cls, voice: Voice, settings: Settings | None) -> ChapterFinish:
        if settings is None:
            return cls()
        target = voice.loudness_lufs if voice.loudness_lufs is not None else settings.loudness_lufs
        return cls(
            start_ms=_or(voice.chapter_start_ms, settings.chapter_start_ms),
            end_ms=_or(voice.chapter_end_ms, settings.chapter_end_ms),
            target_lufs=target if settings.normalize_loudness else None,
            true_peak_db=(
                voice.true_peak_db if voice.true_peak_db is not None else settings.true_peak_db
            ),
        )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class SynthesisPlan:
    engine: str
    voice: dict[str, Any]
    batches: tuple[Batch, ...]
    total_chars: int
    sample_rate: int
    path: Path
    relative: str
    fmt: str
    title: str
    finish: ChapterFinish
    cues_path: Path  # the read-along cues, beside the audio
    cues_relative: str

    def synthesize_args(self, batch: Batch) -> tuple[Any, ...]:
        """Arguments for :func:`synthesize_batch`."""
        return (self.engine, batch.items, self.voice, self.sample_rate)

    def encode_args(self, pcm: bytes, sample_rate: int) -> tuple[Any, ...]:
        """Arguments for :func:`encode_chapter`."""
        return (str(self.path), self.fmt, self.title, pcm, sample_rate, self.finish)

    def result(self, duration_s: float) -> dict[str, Any]:
        return {
            "path": self.relative,
            "cues": self.cues_relative,
            "duration_s": round(duration_s, 3),
            "format": self.fmt,
            "bytes": self.path.stat().st_size,
            "characters": self.total_chars,
        }


def _batches(chunks: Sequence[tuple[str, int]]) -> tuple[Batch, ...]:
    out: list[Batch] = []
    current: list[tuple[str, int]] = []
    size = 0
    for text, pause in chunks:
        current.append((text, pause))
        size += len(text)
        if size >= BATCH_CHARS:
            out.append(Batch(tuple(current)))
            current, size = [], 0
    if current:
        out.append(Batch(tuple(current)))
    return tuple(out)


def plan_chapter(
    task: ClaimedTask, storage: Storage, settings: Settings | None = None
) -> SynthesisPlan:
    from ttsqueue import tts
    from ttsqueue.audio.encode import CHAPTER_FORMAT, EXTENSIONS

    payload = task.payload
    voice = Voice.from_dict(payload["voice"])
    engine = tts.get_engine(voice.engine)
    chunks = tts.prepare_chunks(str(payload["text"]), voice, engine)
    fmt = CHAPTER_FORMAT[str(payload["output_format"])]
    path = storage.chapter_path(task.job_id, task.index, EXTENSIONS[fmt])
    cues = storage.job_dir(task.job_id) / f"cues-{task.index + 1:03d}.json"
    return SynthesisPlan(
        engine=voice.engine,
        voice=voice.to_dict(),
        # the chapter's own closing silence replaces the pause after its last sentence
        batches=_batches([(c.text, 0 if c is chunks[-1] else c.pause_after_ms) for c in chunks]),
        total_chars=sum(len(c.text) for c in chunks),
        sample_rate=int(getattr(engine, "sample_rate", 22050)),
        path=path,
        relative=storage.relative(path),
        fmt=fmt,
        title=str(payload.get("title", "")),
        finish=ChapterFinish.for_voice(voice, settings),
        cues_path=cues,
        cues_relative=storage.relative(cues),
    )


# A chunk's words and where they sound: (text, first sample, end sample) in a batch's PCM.
Span = tuple[str, int, int]


def synthesize_batch(
    engine: str, items: Sequence[tuple[str, int]], voice: dict[str, Any], sample_rate: int
) -> tuple[bytes, int, list[Span]]:
    """*pool* Synthesize a few chunks, joined with their pauses, as one PCM blob, with
    where each chunk's speech lies in it (for the read-along subtitles).

    The silence an engine leaves around a chunk's speech (piper: 150-200 ms after each
    sentence) is trimmed to :data:`EDGE_MS`, so a pause is as long as asked for."""
    from ttsqueue import tts
    from ttsqueue.audio.subtitles import cue_text, speech_span

    out: list[bytes] = []
    spans: list[Span] = []
    at = 0
    for text, pause_ms in items:
        speech = tts.synthesize_chunk(engine, text, voice)
        sample_rate = speech.sample_rate
        pcm = speech.pcm
        first, end = speech_span(pcm)
        if end > first:
            edge = EDGE_MS * sample_rate // 1000
            cut = max(0, first - edge)
            pcm = pcm[2 * cut : 2 * (end + edge)]
            first, end = first - cut, end - cut
            words = cue_text(text)
            if words:
                spans.append((words, at + first, at + end))
        out.append(pcm)
        at += len(pcm) // 2
        if pause_ms:
            gap = tts.silence(pause_ms, sample_rate)
            out.append(gap)
            at += len(gap) // 2
    return b"".join(out), sample_rate, spans


def chapter_cues(spans: Sequence[Span], sample_rate: int, finish: ChapterFinish) -> str:
    """The chapter's cues (JSON, see :mod:`ttsqueue.audio.subtitles`) from its spans,
    counted from the start of its file (after the silence that opens it)."""
    from ttsqueue.audio.subtitles import Cue, dump

    lead = finish.start_ms / 1000
    return dump([Cue(lead + a / sample_rate, lead + b / sample_rate, t) for t, a, b in spans])


def encode_chapter(
    path: str,
    fmt: str,
    title: str,
    pcm: bytes,
    sample_rate: int,
    finish: ChapterFinish | None = None,
) -> float:
    """*pool* Bring a chapter's speech to its loudness, put the chapter's silence around
    it and encode it to its file, atomically; returns its duration."""
    from ttsqueue import tts
    from ttsqueue.audio.encode import encode
    from ttsqueue.audio.loudness import Target, normalize

    finish = finish or ChapterFinish()
    if pcm and finish.target_lufs is not None:
        pcm = normalize(pcm, sample_rate, Target(finish.target_lufs, finish.true_peak_db))
    if not pcm:  # a chapter that reads as nothing still gets a (short, silent) file
        pcm = tts.silence(SILENT_CHAPTER_MS, sample_rate)
    pcm = b"".join(
        (tts.silence(finish.start_ms, sample_rate), pcm, tts.silence(finish.end_ms, sample_rate))
    )
    return write_atomic(Path(path), lambda tmp: encode(pcm, sample_rate, fmt, tmp, title=title))


@dataclass(frozen=True, slots=True)
class AssembleJob:
    chapters: tuple[tuple[str, str, float], ...]  # (absolute path, title, duration_s)
    fmt: str
    path: str
    relative: str
    title: str
    author: str
    narrator: str
    cover_path: str | None
    characters: int = 0  # the sum over the chapters, kept on the job's result
    info: tuple[tuple[str, Any], ...] = ()  # BookInfo fields: series, description, ...

    @classmethod
    def for_job(cls, job: Job, claimed: ClaimedTask, storage: Storage) -> AssembleJob:
        from ttsqueue.audio.encode import EXTENSIONS

        chapters = []
        for t in sorted(job.tasks, key=lambda t: t.index):
            if t.kind is not TaskKind.SYNTHESIZE:
                continue
            if t.result is None:
                raise RuntimeError(f"chapter {t.index + 1} has no audio")
            path = storage.resolve_for_job(job.id, str(t.result["path"]))
            chapters.append((str(path), t.title, float(t.result["duration_s"])))
        path = storage.book_path(job.id, EXTENSIONS[job.output_format])
        cover = job.metadata.get("cover_path")
        return cls(
            chapters=tuple(chapters),
            fmt=job.output_format,
            path=str(path),
            relative=storage.relative(path),
            title=job.title or str(claimed.payload.get("title", "")),
            author=job.author,
            narrator=f"{job.voice.engine} {job.voice.name}",
            cover_path=str(storage.resolve_for_job(job.id, str(cover))) if cover else None,
            characters=sum(int((t.result or {}).get("characters", 0)) for t in job.tasks),
            info=tuple(BookInfo.from_dict(job.metadata.get("book")).to_dict().items()),
        )


def assemble_book(work: AssembleJob) -> dict[str, Any]:
    """*pool* Join the chapters into the book file; returns the job's result."""
    from ttsqueue.audio.assemble import BookMeta, ChapterAudio, assemble

    cover: bytes | None = None
    cover_mime: str | None = None
    if work.cover_path:
        cover = Path(work.cover_path).read_bytes()
        cover_mime = "image/png" if cover.startswith(b"\x89PNG") else "image/jpeg"
    meta = BookMeta(
        title=work.title,
        author=work.author,
        narrator=work.narrator,
        cover=cover,
        cover_mime=cover_mime,
        info=BookInfo.from_dict(dict(work.info)),
    )
    chapters = [ChapterAudio(Path(p), title, d) for p, title, d in work.chapters]
    book = write_atomic(Path(work.path), lambda tmp: assemble(chapters, work.fmt, tmp, meta))
    return {
        "path": work.relative,
        "duration_s": round(book.duration_s, 3),
        "format": work.fmt,
        "bytes": Path(work.path).stat().st_size,
        "chapters": [{"title": t, "start_s": round(s, 3)} for t, s in book.chapters],
        "characters": work.characters,
    }
