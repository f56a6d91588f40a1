"""Ingest flagged items: a JSON Lines manifest, one item per line.

Each line is validated on its own (reviewer.manifest): a bad line is reported with its
number and reason and the valid lines still go in. Media is read only from inside the
import roots (reviewer.media_files). Unreadable media is not a bad line: the item is
kept, marked unreadable with the reason, so a moderator can grade it Not assessable.
Re-running the same manifest does not duplicate items (each has a dedupe key).

The work per item is split in two. `prepare` is the heavy, stateless part (read the
file, hash it, decode it once, encrypt it into the media store) and may run in worker
processes, several items at a time. `record` is the database part (media row, item,
audit event, known-list match) and always runs in the calling process, one item after
another in manifest order, so the database sees the same writes in the same order
however many workers there are.

Nothing in a line stops the run. Something that is not the line's fault (the database
or the media store failing, a worker process dying) stops it: the report says what
got in until then (`IngestReport.stopped`).
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

from reviewer.hashing import MediaHashes, inspect
from reviewer.manifest import BadLine, Entry, Line, LineError, count_lines, parse_line, printable
from reviewer.manifest import read_manifest as read_manifest_lines
from reviewer.media import probe
from reviewer.media_files import MediaRefused, import_roots, read_media
from reviewer.media_types import MediaUnreadable
from reviewer.model import NewItem
from reviewer.video_container import looks_like_video
from reviewer.video_model import VideoSink, inspect_for_ingest
from reviewer.video_types import FramePdq, VideoProbe

MAX_MEDIA_BYTES = 256 * 1024 * 1024  # larger uploads are refused rather than read into memory
# Videos may be larger: a 10-minute 1080p phone capture is about 1 GiB. The whole file
# is held in memory (and encrypted whole into the media store), so the cap stays well
# under the video worker's 4 GiB address-space limit.
MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024

Progress = Callable[[int, int], None]
# Called with (item id, the media's hashes) for each newly created item, e.g. to match
# it against known lists (reviewer.matching.HashIngest); runs where `record` runs.
ItemHook = Callable[[int, MediaHashes], None]


class IngestStore(Protocol):
    """Where ingest stores media and items (db.items.ItemsRepo, `store.items`)."""

    def add_media(
        self,
        sha256: str,
        size_bytes: int,
        format: str | None,
        width: int | None,
        height: int | None,
        unreadable_reason: str | None,
    ) -> int: ...

    def add_item(self, new: NewItem) -> tuple[int, bool]: ...


class IngestMedia(Protocol):
    def put(self, data: bytes) -> str: ...


@dataclass
class IngestReport:
    added: int = 0
    duplicates: int = 0
    unreadable: int = 0
    errors: list[LineError] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)
    # Non-blank lines taken in hand; each ends as added, duplicate or an error, unless
    # the run stopped while it was in hand.
    lines: int = 0
    # Why the run stopped early (not the fault of any line), or None if it ran through.
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.stopped is None


@dataclass(frozen=True)
class Prepared:
    """One media file after the heavy work: what it is and its hashes; the bytes are
    already in the media store under `hashes.sha256`. Small and picklable."""

    size: int
    format: str | None
    width: int | None
    height: int | None
    unreadable: str | None
    hashes: MediaHashes
    video: VideoProbe | None = None
    frame_pdqs: tuple[FramePdq, ...] = ()
    is_video: bool = False


def prepare(media: IngestMedia, data: bytes) -> Prepared:
    """Hash, inspect and store one upload. Never raises for hostile or broken bytes
    (they come back `unreadable` with the reason); raises only if the media store does.

    Each byte is hashed once per digest and a picture decoded once: the media store
    takes the SHA-256 it files the blob under (and encrypts, writes and syncs it) in a
    thread of its own, mostly outside the GIL, while this thread takes the MD5 and
    decodes the picture for PDQ, which also gives its format and size; a picture that
    got no PDQ is probed for the reason."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-store") as io:
        stored = io.submit(media.put, data)
        hashes, picture = inspect(data, stored.result)
    video = looks_like_video(data)
    probed: VideoProbe | None = None
    pdqs: tuple[FramePdq, ...] = ()
    try:
        if video:
            probed, pdqs = inspect_for_ingest(data)
            fmt, width, height, unreadable = probed.container, probed.width, probed.height, None
        elif picture is not None:
            fmt, width, height, unreadable = picture.format, picture.width, picture.height, None
        else:
            info = probe(data)
            fmt, width, height, unreadable = info.format, info.width, info.height, None
    except MediaUnreadable as exc:
        fmt, width, height, unreadable = None, None, None, str(exc)
    return Prepared(len(data), fmt, width, height, unreadable, hashes, probed, pdqs, video)


def record(
    store: IngestStore,
    entry: Entry,
    prepared: Prepared,
    report: IngestReport,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> None:
    """Enqueue one prepared item, counting the outcome in `report`.

    `videos` stores a video's details; without it a video is still kept and
    enqueued, but only its media row is written."""
    p = prepared
    sha = p.hashes.sha256
    store.add_media(sha, p.size, p.format, p.width, p.height, p.unreadable)
    if p.is_video and videos is not None:
        videos.add_video(sha, p.video, p.frame_pdqs)
    item_id, created = store.add_item(
        NewItem(
            queue=entry.queue,
            source=entry.source,
            media_sha256=sha,
            dedupe_key=dedupe_key(entry, sha),
            imminent_risk=entry.imminent_risk,
            report_text=entry.report_text,
            reported_accounts=entry.reported_accounts,
            upload_ip=entry.upload_ip,
            upload_time=entry.upload_time,
            extra=entry.extra,
            suspected_category=entry.suspected_category,
        )
    )
    if created:
        report.added += 1
        report.item_ids.append(item_id)
        if p.unreadable:
            report.unreadable += 1
        if on_new_item is not None:
            on_new_item(item_id, p.hashes)
    else:
        report.duplicates += 1


def ingest_bytes(
    store: IngestStore,
    media: IngestMedia,
    entry: Entry,
    data: bytes,
    report: IngestReport,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> None:
    """Store one item's media and enqueue it, counting the outcome in `report`
    (`prepare` then `record`, in this process)."""
    record(store, entry, prepare(media, data), report, on_new_item, videos)


def dedupe_key(entry: Entry, sha256: str) -> str:
    if entry.external_id is not None:
        basis = f"id\0{entry.source.value}\0{entry.external_id}"
    else:
        basis = "\0".join(
            [
                "content",
                sha256,
                entry.source.value,
                entry.report_text,
                ",".join(entry.reported_accounts),
                entry.upload_time.isoformat() if entry.upload_time else "",
            ]
        )
    return hashlib.sha256(basis.encode()).hexdigest()


def media_limit(head: bytes) -> int:
    """The size limit for a file starting with `head`: videos may be larger."""
    return MAX_VIDEO_BYTES if looks_like_video(head) else MAX_MEDIA_BYTES


def _prepare_file(media: IngestMedia, roots: Sequence[Path], media_path: str) -> Prepared | str:
    """Read a contained media file and prepare it; a refused path comes back as its
    reason (a line error), anything else that goes wrong is raised."""
    try:
        data = read_media(roots, media_path, media_limit)
    except MediaRefused as exc:
        return str(exc)
    return prepare(media, data)


# The media store of a worker process, handed over once when the pool starts (by fork:
# the key never crosses a pipe or touches the disk).
_worker_media: IngestMedia | None = None


def _init_worker(media: IngestMedia) -> None:
    global _worker_media
    _worker_media = media


def _worker_prepare(roots: Sequence[Path], media_path: str) -> Prepared | str:
    if _worker_media is None:
        raise RuntimeError("ingest worker started without its media store")
    return _prepare_file(_worker_media, roots, media_path)


P = ParamSpec("P")
T = TypeVar("T")


class _InProcess(Executor):
    """Runs each job at once, in this process: ingest without workers."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered to the caller like a worker's error
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    """Worker processes for a command-line ingest: one per core, where fork exists."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return os.cpu_count() or 1


Job = Callable[[Sequence[Path], str], "Prepared | str"]


def _executor(media: IngestMedia, workers: int) -> tuple[Executor, Job]:
    """Where files are prepared, and the job that prepares one there."""
    if workers <= 0:
        return _InProcess(), functools.partial(_prepare_file, media)
    # Fork: the workers inherit the media store (and its key) without pickling it.
    # The caller must not be a GUI process (Qt does not survive a fork).
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(media,),
    )
    return pool, _worker_prepare


def ingest_lines(
    store: IngestStore,
    media: IngestMedia,
    lines: Iterable[Line],
    roots: Sequence[Path],
    total: int = 0,
    progress: Progress | None = None,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
    workers: int = 0,
) -> IngestReport:
    """Ingest manifest lines whose media lies under `roots` (the first is the
    manifest's folder, against which relative paths are read).

    With `workers` > 0, media is prepared in that many forked worker processes, a few
    items ahead; records still happen here, in manifest order."""
    report = IngestReport()
    executor, job = _executor(media, workers)
    ahead = max(2, 3 * workers)
    pending: deque[tuple[int, Entry | None, Future[Prepared | str] | str]] = deque()
    done = 0
    line_iter = iter(lines)
    current = 0
    try:
        while True:
            while len(pending) < ahead and (line := next(line_iter, None)) is not None:
                report.lines += 1
                pending.append(_submit(executor, job, line, roots))
            if not pending:
                break
            current, entry, work = pending.popleft()
            outcome = work if isinstance(work, str) else work.result()
            if isinstance(outcome, str):
                report.errors.append(LineError(current, outcome))
            else:
                assert entry is not None
                record(store, entry, outcome, report, on_new_item, videos)
            done += 1
            if progress:
                progress(done, total)
    except (Exception, KeyboardInterrupt) as exc:
        # Not the line's fault: stop, and say how far the run got.
        what = (
            "interrupted"
            if isinstance(exc, KeyboardInterrupt)
            else (f"{type(exc).__name__}: {printable(str(exc), 300)}")
        )
        report.stopped = f"stopped at line {current}: {what}"
    finally:
        for _, _, work in pending:
            if not isinstance(work, str):
                work.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
    return report


def _submit(
    executor: Executor, job: Job, line: Line, roots: Sequence[Path]
) -> tuple[int, Entry | None, Future[Prepared | str] | str]:
    if line.text is None:
        return line.number, None, line.error or "unreadable line"
    try:
        entry, media_path = parse_line(line.text, line.number)
    except BadLine as exc:
        return line.number, None, str(exc)
    except RecursionError:  # a guard in the reader missed something; still this line's
        return line.number, None, "the line is nested too deeply to read"
    except Exception as exc:  # a check that failed on this line alone: refuse the line
        return line.number, None, f"this line could not be checked ({type(exc).__name__})"
    return line.number, entry, executor.submit(job, roots, media_path)


def read_manifest(path: Path) -> Iterator[Line]:
    with open(path, "rb") as f:
        yield from read_manifest_lines(f)


def ingest_manifest(
    store: IngestStore,
    media: IngestMedia,
    path: Path,
    progress: Progress | None = None,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
    roots: Sequence[Path] = (),
    workers: int = 0,
) -> IngestReport:
    """Ingest a manifest file. Media may come from its folder and from `roots`
    (MediaRefused if a root is unusable); `workers` as in `ingest_lines`."""
    allowed = import_roots(path, roots)
    with open(path, "rb") as f:
        total = count_lines(f)
    return ingest_lines(
        store, media, read_manifest(path), allowed, total, progress, on_new_item, videos, workers
    )
