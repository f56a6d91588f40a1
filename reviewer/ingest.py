"""Ingest flagged items: a JSON Lines manifest, one item per line.

Each line is validated on its own: a bad line is reported with its number and reason
and the valid lines still go in. Unreadable media is not a bad line: the item is kept,
marked unreadable with the reason, so a moderator can grade it Not assessable.
Re-running the same manifest does not duplicate items (each has a dedupe key).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from reviewer.hints import SUSPECTABLE
from reviewer.media import MediaUnreadable, probe
from reviewer.model import NewItem
from reviewer.referral_context import (
    CHAT_KEY,
    SUBJECT_KEY,
    ContextInvalid,
    parse_chat,
    parse_subject,
)
from reviewer.video import FramePdq, looks_like_video
from reviewer.video_review import VideoSink, inspect_for_ingest
from reviewer.vocabulary import Severity, Source

MAX_MEDIA_BYTES = 256 * 1024 * 1024  # larger uploads are refused rather than read into memory
# Videos may be larger: a 10-minute 1080p phone capture is about 1 GiB. The whole file
# is held in memory (and encrypted whole into the media store), so the cap stays well
# under the video worker's 4 GiB address-space limit.
MAX_VIDEO_BYTES = 2 * 1024 * 1024 * 1024
_SNIFF_BYTES = 64
DEFAULT_QUEUE = "General"
ALLOWED_KEYS = {
    "media",
    "source",
    "queue",
    "id",
    "imminent_risk",
    "reported_accounts",
    "upload_ip",
    "upload_time",
    "report_text",
    "extra",
    # Referral context (issue 8): see reviewer/referral_context.py for the shape.
    "subject",
    "chat",
    # A classifier's or the referring NGO's suspected category (issue 5).
    "suspected_category",
}

Progress = Callable[[int, int], None]
# Called with (item id, media bytes) for each newly created item, e.g. to hash and
# match it (reviewer.matching.HashIngest); runs wherever ingest runs, never the GUI.
ItemHook = Callable[[int, bytes], None]


class IngestStore(Protocol):
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


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class IngestReport:
    added: int = 0
    duplicates: int = 0
    unreadable: int = 0
    errors: list[LineError] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Entry:
    """One validated manifest line, media not yet read."""

    line: int
    source: Source
    queue: str
    external_id: str | None
    imminent_risk: bool
    reported_accounts: tuple[str, ...]
    upload_ip: str | None
    upload_time: datetime | None
    report_text: str
    extra: dict[str, Any]
    suspected_category: Severity | None = None


class BadLine(ValueError):
    pass


def parse_line(raw: str, line_no: int) -> tuple[Entry, str]:
    """Validate one manifest line; returns the entry and its media path (as written)."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise BadLine("each line must be a JSON object")
    unknown = sorted(set(obj) - ALLOWED_KEYS)
    if unknown:
        raise BadLine(f"unknown field(s) {', '.join(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
    media = obj.get("media")
    if not isinstance(media, str) or not media.strip():
        raise BadLine("'media' (path to the file) is required")
    try:
        source = Source(obj.get("source"))
    except ValueError:
        raise BadLine(
            f"'source' must be one of {', '.join(s.value for s in Source)}, "
            f"not {obj.get('source')!r}"
        ) from None
    risk = obj.get("imminent_risk", False)
    if not isinstance(risk, bool):
        raise BadLine("'imminent_risk' must be true or false")
    accounts = obj.get("reported_accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise BadLine("'reported_accounts' must be a list of strings")
    ip = obj.get("upload_ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(str(ip)))
        except ValueError:
            raise BadLine(f"'upload_ip' is not an IP address: {ip!r}") from None
    upload_time = obj.get("upload_time")
    if upload_time is not None:
        upload_time = _parse_time(upload_time)
    text = obj.get("report_text", "")
    if not isinstance(text, str):
        raise BadLine("'report_text' must be a string")
    queue = obj.get("queue", DEFAULT_QUEUE)
    if not isinstance(queue, str) or not queue.strip() or len(queue) > 120:
        raise BadLine("'queue' must be a non-empty name of at most 120 characters")
    ext_id = obj.get("id")
    if ext_id is not None and not isinstance(ext_id, str | int):
        raise BadLine("'id' must be a string or a number")
    extra = obj.get("extra", {})
    if not isinstance(extra, dict):
        raise BadLine("'extra' must be an object")
    extra = {**extra, **_referral_context(obj, extra)}
    suspected = _suspected(obj.get("suspected_category"))
    entry = Entry(
        line=line_no,
        source=source,
        queue=queue.strip(),
        external_id=None if ext_id is None else str(ext_id),
        imminent_risk=risk,
        reported_accounts=tuple(accounts),
        upload_ip=ip,
        upload_time=upload_time,
        report_text=text,
        extra=extra,
        suspected_category=suspected,
    )
    return entry, media


def _suspected(value: object) -> Severity | None:
    if value is None:
        return None
    if isinstance(value, str):
        for s in SUSPECTABLE:
            if value == s.value:
                return s
    allowed = ", ".join(repr(s.value) for s in SUSPECTABLE)
    raise BadLine(f"'suspected_category' must be one of {allowed}, not {value!r}")


def _referral_context(obj: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The validated `subject` and `chat`, to be kept in `extra` under the same keys."""
    out: dict[str, Any] = {}
    for key, parse in ((SUBJECT_KEY, parse_subject), (CHAT_KEY, parse_chat)):
        if key in extra:
            raise BadLine(f"give '{key}' at the top level of the line, not inside 'extra'")
        if obj.get(key) is not None:
            try:
                out[key] = parse(obj[key])
            except ContextInvalid as exc:
                raise BadLine(str(exc)) from None
    return out


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise BadLine("'upload_time' must be an ISO 8601 string")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadLine(f"'upload_time' is not an ISO 8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise BadLine("'upload_time' needs a time zone (e.g. 2026-01-05T09:00:00Z)")
    return t.astimezone(UTC)


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


def read_manifest(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            if raw.strip():
                yield n, raw


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for raw in f if raw.strip())


def ingest_lines(
    store: IngestStore,
    media: IngestMedia,
    lines: Iterable[tuple[int, str]],
    base_dir: Path,
    total: int = 0,
    progress: Progress | None = None,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> IngestReport:
    report = IngestReport()
    for done, (line_no, raw) in enumerate(lines, start=1):
        try:
            entry, media_path = parse_line(raw, line_no)
            data = _read_media(base_dir, media_path)
        except BadLine as exc:
            report.errors.append(LineError(line_no, str(exc)))
        else:
            ingest_bytes(store, media, entry, data, report, on_new_item, videos)
        if progress:
            progress(done, total)
    return report


def _read_media(base_dir: Path, media_path: str) -> bytes:
    path = Path(media_path)
    if not path.is_absolute():
        path = base_dir / path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BadLine(f"media file not found: {path}") from None
    except OSError as exc:
        raise BadLine(f"media file cannot be read: {path} ({exc.strerror})") from None
    if not path.is_file():
        raise BadLine(f"media path is not a file: {path}")
    if size > MAX_MEDIA_BYTES:
        limit = MAX_VIDEO_BYTES if _sniffs_video(path) else MAX_MEDIA_BYTES
        if size > limit:
            raise BadLine(f"media file is larger than {limit // 2**20} MiB: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadLine(f"media file cannot be read: {path} ({exc.strerror})") from None


def _sniffs_video(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return looks_like_video(f.read(_SNIFF_BYTES))
    except OSError:
        return False


def ingest_bytes(
    store: IngestStore,
    media: IngestMedia,
    entry: Entry,
    data: bytes,
    report: IngestReport,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> None:
    """Store one item's media and enqueue it, counting the outcome in `report`.

    Videos (MP4, MOV, WebM, MKV...) are probed and their keyframes hashed in the
    isolated video worker with a time limit; a broken one is kept as unreadable, like a
    broken picture. `videos` stores their details; without it a video is still
    probed, kept and enqueued, but only its media row is written."""
    video = looks_like_video(data)
    probed = None
    pdqs: tuple[FramePdq, ...] = ()
    try:
        if video:
            probed, pdqs = inspect_for_ingest(data)
            fmt, width, height, unreadable = probed.container, probed.width, probed.height, None
        else:
            info = probe(data)
            fmt, width, height, unreadable = info.format, info.width, info.height, None
    except MediaUnreadable as exc:
        fmt, width, height, unreadable = None, None, None, str(exc)
    sha = media.put(data)
    store.add_media(sha, len(data), fmt, width, height, unreadable)
    if video and videos is not None:
        videos.add_video(sha, probed, pdqs)
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
        if unreadable:
            report.unreadable += 1
        if on_new_item is not None:
            on_new_item(item_id, data)
    else:
        report.duplicates += 1


def ingest_manifest(
    store: IngestStore,
    media: IngestMedia,
    path: Path,
    progress: Progress | None = None,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> IngestReport:
    total = count_lines(path)
    return ingest_lines(
        store, media, read_manifest(path), path.parent, total, progress, on_new_item, videos
    )
