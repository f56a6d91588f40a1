"""Decoding a video's keyframes with FFmpeg (PyAV), inside limits.

Runs inside the worker process (reviewer.video_worker), or in-process when a caller
asks for isolate=False. Defences, in order:

- only known demuxers and decoders are allowed (FFmpeg `format_whitelist` and
  `codec_whitelist`, as reviewer.media does for Pillow plugins); this also keeps out the
  playlist demuxers (HLS, concat) that can open other files;
- dimensions and duration are checked from the stream header before any frame is
  decoded, and FFmpeg's own `max_pixels` refuses bigger frames mid-stream;
- only keyframes are decoded (`skip_frame = "NONKEY"`, and only keyframe packets are
  sent), chosen from the container index when there is one, so the cost does not
  grow with the number of frames;
- deadline checks inside the demux and decode loops (and FFmpeg's interrupt callback)
  stop a slow file cleanly; what no check can interrupt is the worker's to handle.

Failures raise MediaUnreadable with a short reason.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from typing import Final

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.index import IndexEntries, IndexEntry
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

from reviewer.hashing import pdq_of_rgb
from reviewer.media_types import MediaUnreadable
from reviewer.video_container import Bytes, sniff, structure_cut
from reviewer.video_types import (
    MAX_DURATION_S,
    MAX_VIDEO_PIXELS,
    KeyFrame,
    VideoProbe,
    check_video_dimensions,
)

# FFmpeg demuxer names. MP4, MOV and 3GP share "mov"; MKV and WebM share "matroska".
ALLOWED_FORMATS: Final = ("mov", "mp4", "matroska", "webm", "mpegts", "flv", "avi")
# FFmpeg decoder names: what phones, browsers, screen recorders and streams produce.
ALLOWED_CODECS: Final = (
    "h264",
    "hevc",
    "vp8",
    "vp9",
    "av1",
    "libdav1d",
    "mpeg4",
    "mpeg2video",
    "h263",
    "mjpeg",
)
_CODEC_NAMES: Final = {"libdav1d": "av1", "libvpx": "vp8", "libvpx-vp9": "vp9"}


class _Reader:
    """A seekable read-only file over bytes or a memoryview, for FFmpeg's custom I/O:
    unlike io.BytesIO it never copies a memoryview (a 200 MB video stays one copy)."""

    def __init__(self, data: Bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else min(len(self._view), self._pos + size)
        chunk = bytes(self._view[self._pos : end])
        self._pos = max(self._pos, end)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


@dataclass
class _Deadline:
    at: float
    limit_s: float

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise _out_of_time(self)


def _out_of_time(deadline: _Deadline) -> MediaUnreadable:
    return MediaUnreadable("timeout", f"decoding took longer than {deadline.limit_s:g} s")


def decode_video(
    data: Bytes,
    limit_s: float,
    max_frames: int,
    max_side: int,
    pdq: bool,
    at: float | None = None,
) -> tuple[VideoProbe, list[KeyFrame]]:
    deadline = _Deadline(time.monotonic() + limit_s, limit_s)
    if not data:
        raise MediaUnreadable("empty")
    kind = sniff(data)
    cut = structure_cut(data, kind)
    container = _open(data, kind, cut, deadline)
    with container:
        if cut:
            # It opened, but its own size fields say bytes are missing.
            raise MediaUnreadable("truncated", cut)
        stream = _video_stream(container)
        ctx = stream.codec_context
        if ctx is None or ctx.name not in ALLOWED_CODECS:
            what = f"codec {ctx.name!r}" if ctx is not None else "an unknown codec"
            raise MediaUnreadable("unknown_format", f"the video track uses {what}, not one allowed")
        if ctx.width or ctx.height:
            check_video_dimensions(ctx.width, ctx.height)
        header_s = _header_duration(container, stream)
        if header_s is not None and header_s > MAX_DURATION_S:
            raise MediaUnreadable(
                "absurd_dimensions", f"the header claims a duration of {header_s:,.0f} s"
            )
        keys, count, extent_s = _find_keyframes(container, stream, deadline)
        if count == 0:
            raise MediaUnreadable("no_frames", "the video track holds no frames")
        if not keys:
            raise MediaUnreadable("corrupt", "the video track has no keyframe")
        chosen = _choose(keys, max_frames, at)
        frames = _decode(data, container, stream, chosen, max_side, pdq, deadline)
        if not frames:
            raise MediaUnreadable("corrupt", "no keyframe could be decoded")
        duration_s = header_s if header_s is not None else extent_s
        fps = _fps(stream)
        if count is None:  # cues list keyframes only: estimate from the duration
            count = max(len(keys), round(duration_s * fps) if fps else len(keys))
        probe = VideoProbe(
            container=_container_name(container, kind, data),
            codec=_CODEC_NAMES.get(ctx.name, ctx.name),
            width=ctx.width or frames[0].frame.source_width,
            height=ctx.height or frames[0].frame.source_height,
            rotation=frames[0].rotation,
            duration_s=round(duration_s, 3),
            fps=fps,
            frame_count_estimate=count,
            has_audio=len(container.streams.audio) > 0,
            keyframe_times=tuple(round(k.time_s, 3) for k in keys),
        )
    return probe, [f.frame for f in frames]


def _open(data: Bytes, kind: str | None, cut: str | None, deadline: _Deadline) -> InputContainer:
    try:
        return av.open(
            _Reader(data),
            mode="r",
            container_options={
                "format_whitelist": ",".join(ALLOWED_FORMATS),
                # Decoders that stream analysis may open: video only, so audio is never
                # decoded even there.
                "codec_whitelist": ",".join(ALLOWED_CODECS),
            },
            # Also handed to the decoders that analysis opens: no huge frame even there.
            options={"max_pixels": str(MAX_VIDEO_PIXELS)},
            timeout=(max(0.01, deadline.remaining()), max(0.01, deadline.remaining())),
        )
    except av.error.ExitError as exc:  # FFmpeg's interrupt callback: out of time
        raise _out_of_time(deadline) from exc
    except Exception as exc:
        if cut:
            raise MediaUnreadable("truncated", cut) from exc
        if isinstance(exc, MemoryError):
            raise MediaUnreadable("decompression_bomb") from exc
        if isinstance(exc, EOFError):
            raise MediaUnreadable("truncated", "video data ends before the first frame") from exc
        if kind is None:
            raise MediaUnreadable(
                "unknown_format", "not an MP4, MOV, MKV, WebM, MPEG-TS, FLV or AVI video"
            ) from exc
        raise MediaUnreadable("corrupt", f"{kind} container cannot be parsed: {exc}") from exc


def _video_stream(container: InputContainer) -> VideoStream:
    for stream in container.streams.video:
        # Cover art in MP4/MKV is a one-picture "video" stream; it is not the video.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    what = "an audio track but no video" if container.streams.audio else "no video track"
    raise MediaUnreadable("no_frames", f"the file has {what}")


def _header_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _fps(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate and 0 < rate < 1000:
            return round(float(rate), 3)
    return None


@dataclass(frozen=True)
class _Key:
    time_s: float
    timestamp: int  # what to seek to (index path) or -1 (scan path)
    ordinal: int  # position among the keyframes


def _find_keyframes(
    container: InputContainer, stream: VideoStream, deadline: _Deadline
) -> tuple[list[_Key], int | None, float]:
    """Keyframes, number of frames (None if unknown) and extent in seconds.

    From the index if the container has one (MP4 sample tables, Matroska cues), else
    by demuxing every packet (MPEG-TS, FLV, unfinished recordings). Demuxing is
    cheap; the index is free.
    """
    tb = stream.time_base
    if tb is None:
        raise MediaUnreadable("corrupt", "the video track has no time base")
    entries: IndexEntries | list[IndexEntry] = stream.index_entries
    if len(entries) <= 1 and container.format.name.startswith("matroska"):
        # Matroska reads its cues lazily, on the first seek.
        try:
            container.seek(0, stream=stream)
            entries = stream.index_entries
        except av.error.FFmpegError:
            entries = []
    keyed = [e for e in entries if e.is_keyframe and not e.is_discard]
    if len(entries) >= 2 and keyed:
        # MP4 indexes decode times: count from the first sample so that B-frame
        # reordering does not shift every keyframe by the same delay.
        first = entries[0].timestamp
        keys = [
            _Key(max(0.0, float((e.timestamp - first) * tb)), e.timestamp, i)
            for i, e in enumerate(keyed)
        ]
        extent = max(0.0, float((entries[-1].timestamp - first) * tb))
        # A sample table (MP4) lists every frame; cues (Matroska) only keyframes.
        count = len(entries) if len(entries) > len(keyed) else (stream.frames or None)
        return keys, count, extent
    return _scan_keyframes(container, stream, deadline)


def _scan_keyframes(
    container: InputContainer, stream: VideoStream, deadline: _Deadline
) -> tuple[list[_Key], int, float]:
    tb = stream.time_base
    assert tb is not None
    if container.format.name.startswith("matroska"):
        # Back from the search for cues (if that failed too, nothing moved).
        with contextlib.suppress(av.error.FFmpegError):
            container.seek(0, stream=stream)
    stamps: list[tuple[int | None, bool]] = []
    try:
        for packet in container.demux(stream):
            deadline.check()
            if packet.size:
                stamps.append((packet.pts, packet.is_keyframe))
    except av.error.ExitError as exc:
        raise _out_of_time(deadline) from exc
    except av.error.FFmpegError:
        pass  # a damaged tail: keep what was read before it
    known = [pts for pts, _ in stamps if pts is not None]
    origin = stream.start_time if stream.start_time is not None else min(known, default=0)
    keys: list[_Key] = []
    last_t = 0.0
    for pts, is_key in stamps:
        if is_key:
            # A keyframe without a timestamp takes the previous one's.
            last_t = max(0.0, float((pts - origin) * tb)) if pts is not None else last_t
            keys.append(_Key(last_t, -1, len(keys)))
    extent = max(0.0, float((max(known) - origin) * tb)) if known else 0.0
    return keys, len(stamps), extent


def _choose(keys: list[_Key], max_frames: int, at: float | None) -> list[_Key]:
    if at is not None:
        before = [k for k in keys if k.time_s <= at + 1e-6]
        return [before[-1] if before else keys[0]]
    n = len(keys)
    if n <= max_frames:
        return list(keys)
    if max_frames == 1:
        return [keys[0]]
    picks = sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})
    return [keys[i] for i in picks]


@dataclass(frozen=True)
class _Decoded:
    frame: KeyFrame
    rotation: int


def _decode(
    data: Bytes,
    container: InputContainer,
    stream: VideoStream,
    chosen: list[_Key],
    max_side: int,
    pdq: bool,
    deadline: _Deadline,
) -> list[_Decoded]:
    _prepare(stream.codec_context)
    scale = _Scaler(max_side, pdq)
    out: list[_Decoded] = []
    if chosen[0].timestamp >= 0:
        for key in chosen:
            deadline.check()
            try:
                container.seek(key.timestamp, stream=stream, backward=True)
                packet = _next_keyframe_packet(container, stream, deadline)
            except av.error.ExitError as exc:
                raise _out_of_time(deadline) from exc
            except av.error.FFmpegError:
                continue  # a damaged stretch: the other keyframes may still decode
            if packet is not None:
                _decode_one(stream.codec_context, packet, key, stream, scale, out)
        return out
    # No index: demux again from the start and decode the chosen keyframes in passing.
    # Reopening is more reliable than seeking in MPEG-TS, which may land a GOP late.
    wanted = {k.ordinal: k for k in chosen}
    with _open(data, None, None, deadline) as c2:
        s2 = c2.streams[stream.index]
        assert isinstance(s2, VideoStream)
        ctx2 = _prepare(s2.codec_context)
        ordinal = 0
        try:
            for packet in c2.demux(s2):
                deadline.check()
                if packet.size == 0 or not packet.is_keyframe:
                    continue
                wanted_key = wanted.get(ordinal)
                ordinal += 1
                if wanted_key is not None:
                    _decode_one(ctx2, packet, wanted_key, s2, scale, out)
                if ordinal > max(wanted):
                    break
        except av.error.ExitError as exc:
            raise _out_of_time(deadline) from exc
        except av.error.FFmpegError:
            pass  # a damaged tail: keep the frames decoded before it
    return out


def _prepare(ctx: VideoCodecContext) -> VideoCodecContext:
    ctx.skip_frame = "NONKEY"  # the decoder drops anything else, should it be sent
    ctx.options = {"max_pixels": str(MAX_VIDEO_PIXELS)}
    # Keyframes are decoded one at a time, so frame threads would only add delay;
    # slice threads help codecs with tiles. Capped: each thread costs address space.
    ctx.thread_type = "SLICE"
    ctx.thread_count = min(4, os.cpu_count() or 1)
    return ctx


def _next_keyframe_packet(
    container: InputContainer, stream: VideoStream, deadline: _Deadline
) -> av.Packet[VideoStream] | None:
    for packet in container.demux(stream):
        deadline.check()
        if packet.size and packet.is_keyframe:
            return packet
    return None


def _decode_one(
    ctx: VideoCodecContext,
    packet: av.Packet[VideoStream],
    key: _Key,
    stream: VideoStream,
    scale: _Scaler,
    out: list[_Decoded],
) -> None:
    try:
        frames = ctx.decode(packet)
        if not frames:
            # Decoders with a reorder delay (B-frames) hold the picture until drained.
            frames = ctx.decode(None)
    except av.error.FFmpegError:
        frames = []  # a damaged keyframe: skipped, the sheet shows the others
    finally:
        ctx.flush_buffers()
    if not frames:
        return
    frame = frames[0]
    check_video_dimensions(frame.width, frame.height)
    time_s = key.time_s
    if packet.pts is not None and stream.time_base is not None and key.timestamp >= 0:
        origin = stream.start_time or 0
        time_s = max(0.0, float((packet.pts - origin) * stream.time_base))
    out.append(scale.keyframe(frame, round(time_s, 3)))


class _Scaler:
    """Frames to small upright RGB (and PDQ). One swscale context per output size,
    reused from frame to frame: setting one up costs as much as using it."""

    def __init__(self, max_side: int, pdq: bool) -> None:
        self.max_side, self.pdq = max_side, pdq
        self._small, self._full = VideoReformatter(), VideoReformatter()

    def keyframe(self, frame: VideoFrame, time_s: float) -> _Decoded:
        rotation = round((frame.rotation or 0) / 90) % 4 * 90
        small = self._rgb(self._small, frame, _fit((frame.width, frame.height), self.max_side))
        small = np.ascontiguousarray(np.rot90(small, rotation // 90))
        swap = rotation in (90, 270)
        source = (frame.height, frame.width) if swap else (frame.width, frame.height)
        bits = quality = None
        if self.pdq:
            # The whole frame, upright (as video hashers that decode with ffmpeg see it),
            # hashed exactly as a still picture is: the same frame saved as a PNG and
            # ingested as an image gets the same PDQ.
            full = self._rgb(self._full, frame, (frame.width, frame.height))
            upright = np.ascontiguousarray(np.rot90(full, rotation // 90))
            bits, quality = pdq_of_rgb(Image.fromarray(upright))
        key = KeyFrame(
            time_s=time_s,
            width=small.shape[1],
            height=small.shape[0],
            source_width=source[0],
            source_height=source[1],
            rgb=small.tobytes(),
            pdq=bits,
            pdq_quality=quality,
        )
        return _Decoded(key, rotation)

    @staticmethod
    def _rgb(scaler: VideoReformatter, frame: VideoFrame, size: tuple[int, int]) -> np.ndarray:
        # AREA is a box average: the right filter for large reductions, and cheap.
        out = scaler.reformat(frame, size[0], size[1], "rgb24", interpolation="AREA")
        return out.to_ndarray()


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, max_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _container_name(container: InputContainer, kind: str | None, data: Bytes) -> str:
    fmt = container.format.name
    if fmt.startswith("mov"):
        return "mov" if data[4:8] != b"ftyp" or data[8:12] == b"qt  " else "mp4"
    if fmt.startswith("matroska"):
        return "webm" if b"\x42\x82\x84webm" in bytes(data[:64]) else "mkv"
    return {"mpegts": "ts"}.get(fmt, fmt)
