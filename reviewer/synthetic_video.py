"""Synthetic videos for tests and benchmarks: gradients, noise, moving shapes, labels.

No real imagery, ever (../shared/design/DOMAIN.md). Videos are encoded in memory with
PyAV, in the containers and codecs real uploads and livestream captures use, so that
decode timings and failure modes stay honest. Nothing is written to disk.

Content is built straight in YUV 4:2:0 with numpy (no RGB conversion per frame): a
per-scene gradient background with a fixed noise texture (so keyframes carry real
entropy), three coloured shapes moving slowly (low motion keeps long encodes cheap),
and a label with the frame number and time. The background changes every `scene_s`
seconds, as cuts in a real video do, so that keyframes differ from one another.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
import struct
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Final, NamedTuple

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont

from reviewer.synthetic import BrokenMaker

# Container name -> (FFmpeg muxer, default video codec, audio codec).
CONTAINERS: Final[dict[str, tuple[str, str, str]]] = {
    "mp4": ("mp4", "h264", "aac"),
    "mov": ("mov", "h264", "aac"),
    "mkv": ("matroska", "h264", "aac"),
    "webm": ("webm", "vp9", "opus"),
    # MPEG-TS is what HLS livestream recordings are made of.
    "ts": ("mpegts", "h264", "aac"),
}

# Codec name as stored in the file -> the encoder that writes it.
_ENCODERS: Final[dict[str, str]] = {
    "h264": "libx264",
    "hevc": "libx265",
    "vp8": "libvpx",
    "vp9": "libvpx-vp9",
    "mpeg4": "mpeg4",
}
_AUDIO_ENCODERS: Final[dict[str, str]] = {"aac": "aac", "opus": "libopus"}
_AUDIO_RATE: Final = 48_000
_TONE_HZ: Final = 440.0


@dataclass(frozen=True)
class VideoSpec:
    """What to generate. Width and height must be even (4:2:0 chroma)."""

    container: str = "mp4"
    width: int = 320
    height: int = 240
    fps: int = 10
    duration_s: float = 3.0
    gop_s: float = 1.0  # keyframe interval, exact (no extra keyframes at scene cuts)
    audio: bool = False
    seed: int = 0
    codec: str | None = None  # None: the container's usual codec
    scene_s: float = 5.0  # background changes this often; 0 for never
    noise: int = 8  # amplitude of the fixed luma noise texture
    preset: str = "ultrafast"  # x264/x265 speed preset
    fragmented: bool = False  # MP4/MOV only: moov first, then fragments (as live recorders write)
    rotation: int = 0  # display rotation, degrees counter-clockwise (phones filming upright)

    @property
    def frame_count(self) -> int:
        return max(0, round(self.duration_s * self.fps))

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_s * self.fps))


def make_video(spec: VideoSpec | None = None, **changes: object) -> bytes:
    """Encode a synthetic video described by `spec` (defaults updated by `changes`)."""
    spec = _spec(spec, changes)
    return _encode(spec, frames=spec.frame_count)


def _spec(spec: VideoSpec | None, changes: dict[str, object]) -> VideoSpec:
    # ignore[arg-type]: replace() checks the names and types of `changes` at run time
    # (TypeError on a wrong name); statically they are only objects.
    return dataclasses.replace(spec or VideoSpec(), **changes)  # type: ignore[arg-type]


def _encode(spec: VideoSpec, frames: int, video: bool = True) -> bytes:
    if spec.container not in CONTAINERS:
        raise ValueError(f"container must be one of {sorted(CONTAINERS)}, not {spec.container!r}")
    if spec.width % 2 or spec.height % 2 or spec.width < 2 or spec.height < 2:
        raise ValueError(f"size must be even and positive, not {spec.width} × {spec.height}")
    muxer, default_codec, audio_codec = CONTAINERS[spec.container]
    codec = spec.codec or default_codec
    options = {}
    if spec.fragmented:
        options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
    buf = io.BytesIO()
    with av.open(buf, "w", format=muxer, options=options) as out:
        vstream = _add_video_stream(out, spec, codec)
        astream = _add_audio_stream(out, _AUDIO_ENCODERS[audio_codec]) if spec.audio else None
        # Writes the header even if no frame follows (the zero-frame variant).
        out.start_encoding()
        painter = _Painter(spec) if video else None
        samples_done = 0
        for i in range(frames):
            if painter is not None:
                frame = av.VideoFrame.from_ndarray(painter.frame(i), format="yuv420p")
                frame.pts = i
                out.mux(vstream.encode(frame))
            if astream is not None:
                # Keep audio level with the video, one encoder frame at a time.
                until = round((i + 1) / spec.fps * _AUDIO_RATE)
                samples_done = _mux_tone(out, astream, samples_done, until)
        out.mux(vstream.encode(None))
        if astream is not None:
            out.mux(astream.encode(None))
    return buf.getvalue()


def _add_video_stream(out: OutputContainer, spec: VideoSpec, codec: str) -> VideoStream:
    encoder = _ENCODERS.get(codec, codec)
    stream = out.add_stream(encoder, rate=spec.fps)
    # add_stream's type depends on the codec named, which is only known at run time.
    assert isinstance(stream, VideoStream), encoder
    stream.width, stream.height = spec.width, spec.height
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, spec.fps)
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    gop = spec.gop_frames
    stream.codec_context.gop_size = gop
    if encoder == "libx264":
        # Exact GOP: no scene-cut keyframes, so tests know how many keyframes exist.
        stream.codec_context.options = {
            "preset": spec.preset,
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
    elif encoder == "libx265":
        stream.codec_context.options = {
            "preset": spec.preset,
            "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=none",
        }
    elif encoder in ("libvpx", "libvpx-vp9"):
        stream.codec_context.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "keyint_min": str(gop),
            "lag-in-frames": "0",
        }
    return stream


def _add_audio_stream(out: OutputContainer, encoder: str) -> AudioStream:
    stream = out.add_stream(encoder, rate=_AUDIO_RATE)
    assert isinstance(stream, AudioStream), encoder
    stream.layout = "mono"
    return stream


def _mux_tone(out: OutputContainer, stream: AudioStream, done: int, until: int) -> int:
    """Encode a sine tone from sample `done` up to `until`; return the new count."""
    ctx = stream.codec_context
    size = ctx.frame_size or 1024
    while done + size <= until:
        t = (np.arange(done, done + size) / _AUDIO_RATE).astype(np.float32)
        wave = (0.2 * np.sin(2 * math.pi * _TONE_HZ * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = done
        out.mux(stream.encode(frame))
        done += size
    return done


class _Shape(NamedTuple):
    colour: tuple[int, int, int]  # Y, U, V
    w: int
    h: int
    x0: float
    y0: float
    vx: float  # pixels per second
    vy: float
    ellipse: bool


class _Painter:
    """Draws frame i of a synthetic video as a packed yuv420p array (h * 3/2, w)."""

    def __init__(self, spec: VideoSpec) -> None:
        self.spec = spec
        w, h = spec.width, spec.height
        rng = np.random.default_rng(spec.seed)
        self._noise = rng.integers(-spec.noise, spec.noise + 1, (h, w), dtype=np.int16)
        self._yy, self._xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self._scene = -1
        self._base = np.empty((h * 3 // 2, w), np.uint8)
        pyrng = random.Random(spec.seed)
        self._shapes: list[_Shape] = []
        for k in range(3):
            sw = max(2, int(w * pyrng.uniform(0.12, 0.25))) & ~1
            sh = max(2, int(h * pyrng.uniform(0.15, 0.3))) & ~1
            speed = pyrng.uniform(0.03, 0.08)  # of the frame size per second: low motion
            angle = pyrng.uniform(0, 2 * math.pi)
            colour = _yuv(pyrng.randrange(256), pyrng.randrange(256), pyrng.randrange(256))
            self._shapes.append(
                _Shape(
                    colour,
                    sw,
                    sh,
                    pyrng.uniform(0, w - sw),
                    pyrng.uniform(0, h - sh),
                    speed * w * math.cos(angle),
                    speed * h * math.sin(angle),
                    k == 1,
                )
            )
        self._font = ImageFont.load_default(size=max(8, h // 14))

    def frame(self, i: int) -> np.ndarray:
        spec = self.spec
        t = i / spec.fps
        scene = int(t // spec.scene_s) if spec.scene_s > 0 else 0
        if scene != self._scene:
            self._paint_background(scene)
        arr = self._base.copy()
        h, w = spec.height, spec.width
        y_plane, u_plane, v_plane = _planes(arr, w, h)
        for colour, sw, sh, x0, y0, vx, vy, ellipse in self._shapes:
            x = int(_bounce(x0 + vx * t, w - sw)) & ~1
            y = int(_bounce(y0 + vy * t, h - sh)) & ~1
            ys, xs = slice(y, y + sh), slice(x, x + sw)
            cys, cxs = slice(y // 2, (y + sh) // 2), slice(x // 2, (x + sw) // 2)
            if ellipse:
                mask = _ellipse_mask(sw, sh)
                cmask = mask[::2, ::2]
                y_plane[ys, xs][mask] = colour[0]
                u_plane[cys, cxs][cmask] = colour[1]
                v_plane[cys, cxs][cmask] = colour[2]
            else:
                y_plane[ys, xs] = colour[0]
                u_plane[cys, cxs] = colour[1]
                v_plane[cys, cxs] = colour[2]
        self._label(y_plane, u_plane, v_plane, f"SYNTHETIC #{spec.seed}  f{i:06d}  {t:7.1f}s")
        return arr

    def _paint_background(self, scene: int) -> None:
        spec = self.spec
        h, w = spec.height, spec.width
        rng = random.Random(spec.seed * 7919 + scene)
        angle = rng.uniform(0, 2 * math.pi)
        ramp = np.cos(angle) * self._xx / w + np.sin(angle) * self._yy / h
        ramp = (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))
        lo, hi = rng.uniform(30, 90), rng.uniform(160, 220)
        luma = (lo + (hi - lo) * ramp).astype(np.int16) + self._noise
        self._base[:h] = np.clip(luma, 16, 235).astype(np.uint8)
        # Chroma: a second, perpendicular ramp of tint, so the picture is clearly colour.
        cramp = ramp[::2, ::2]
        u0, v0 = rng.uniform(70, 110), rng.uniform(140, 190)
        _, u_plane, v_plane = _planes(self._base, w, h)
        u_plane[:] = (u0 + 50 * (1 - cramp)).astype(np.uint8)
        v_plane[:] = (v0 - 40 * cramp).astype(np.uint8)
        self._scene = scene

    def _label(
        self, y_plane: np.ndarray, u_plane: np.ndarray, v_plane: np.ndarray, text: str
    ) -> None:
        h, w = y_plane.shape
        right, bottom = self._font.getbbox(text)[2:]
        y0, x0 = (h // 20) & ~1, (w // 20) & ~1
        # Even sizes and offsets keep the grey label box aligned with the chroma grid.
        lw, lh = min(w - x0, right + 8) & ~1, min(h - y0, bottom + 8) & ~1
        if lw < 2 or lh < 2:
            return
        img = Image.new("L", (lw, lh), 16)
        ImageDraw.Draw(img).text((4, 4), text, fill=235, font=self._font)
        y_plane[y0 : y0 + lh, x0 : x0 + lw] = np.asarray(img)
        u_plane[y0 // 2 : (y0 + lh) // 2, x0 // 2 : (x0 + lw) // 2] = 128
        v_plane[y0 // 2 : (y0 + lh) // 2, x0 // 2 : (x0 + lw) // 2] = 128


def _planes(arr: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U and V views of a packed yuv420p array (h * 3/2 rows of w bytes).

    The chroma planes are split by byte count, not rows: a quarter-size plane fills
    whole rows of w bytes only when h is a multiple of 4."""
    flat = arr.reshape(-1)
    quarter = (h // 2) * (w // 2)
    u = flat[h * w : h * w + quarter].reshape(h // 2, w // 2)
    v = flat[h * w + quarter : h * w + 2 * quarter].reshape(h // 2, w // 2)
    return arr[:h], u, v


def _bounce(pos: float, span: float) -> float:
    """Position moving back and forth inside [0, span]."""
    if span <= 0:
        return 0.0
    pos %= 2 * span
    return pos if pos <= span else 2 * span - pos


def _ellipse_mask(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    inside: np.ndarray = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + (
        (yy - (h - 1) / 2) / (h / 2)
    ) ** 2 <= 1
    return inside


def _yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """BT.601 limited range, as the encoders assume for yuv420p without tags."""
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


# --- Deliberately broken videos, each a kind of bad upload the workstation must survive.

_SMALL: Final = VideoSpec(width=160, height=120, fps=10, duration_s=2.0, gop_s=0.5)


def truncated(container: str = "mp4", seed: int = 0, keep: float = 0.5) -> bytes:
    """The first `keep` of a valid file, as an interrupted upload or capture leaves it.

    A plain MP4 loses its index (moov is written last); MKV, WebM and TS lose their tail.
    """
    data = make_video(_SMALL, container=container, seed=seed)
    return data[: int(len(data) * keep)]


def truncated_fragmented(seed: int = 0, keep: float = 0.5) -> bytes:
    """A fragmented MP4 (index first, as live recorders write) cut short: it opens."""
    data = make_video(_SMALL, container="mp4", seed=seed, fragmented=True)
    return data[: int(len(data) * keep)]


def zero_frames(container: str = "mkv", seed: int = 0) -> bytes:
    """A well-formed container with a video track that holds no frames (audio only)."""
    spec = _spec(_SMALL, {"container": container, "seed": seed, "audio": True})
    return _encode(spec, frames=spec.frame_count, video=False)


def huge_dimensions(seed: int = 0) -> bytes:
    """A real, tiny H.264 stream whose frames are 12,000 × 16: wider than any camera.

    Cheap to encode (192,000 pixels) yet over the side limit, which is what matters:
    the limit is enforced from the stream header, before any frame is decoded.
    """
    return make_video(width=12_000, height=16, fps=5, duration_s=0.4, gop_s=0.2, seed=seed)


def resolution_switch(seed: int = 0) -> bytes:
    """An MPEG-TS capture that starts at 160 × 120 and switches to 8,200 × 1,040 frames
    mid-stream (as concatenated live segments can): the header shows only the first."""
    small = make_video(_SMALL, container="ts", seed=seed)
    wide = make_video(container="ts", width=8200, height=1040, fps=5, duration_s=0.2, seed=seed)
    return small + wide


def absurd_duration(seed: int = 0) -> bytes:
    """An MKV whose header claims a duration of about 31 years for 2 s of frames."""
    data = make_video(_SMALL, container="mkv", seed=seed)
    return _patch_mkv_float(data, b"\x44\x89", 1e12)  # Segment Info Duration, in ms


def unknown_codec(seed: int = 0) -> bytes:
    """A well-formed MKV whose video track names a codec no decoder knows."""
    data = make_video(_SMALL, container="mkv", seed=seed)
    old, new = b"V_MPEG4/ISO/AVC", b"V_XYZW1/ISO/ZZZ"  # same length: no size fields move
    if old not in data:
        raise AssertionError("MKV codec id not found; the muxer changed")
    return data.replace(old, new, 1)


def corrupt_frames(seed: int = 0) -> bytes:
    """A valid MKV whose frame payloads are replaced by noise; headers, sizes, cues and
    keyframe flags stay intact, so only decoding can tell."""
    data = bytearray(make_video(_SMALL, container="mkv", seed=seed))
    rng = random.Random(seed)
    for start, end in _mkv_block_payloads(data):
        data[start:end] = rng.randbytes(end - start)
    return bytes(data)


def _mkv_block_payloads(data: bytes | bytearray) -> list[tuple[int, int]]:
    """(start, end) of each SimpleBlock's frame data, by walking Segment > Cluster."""
    segment_id, cluster_id, block_id = b"\x18\x53\x80\x67", b"\x1f\x43\xb6\x75", b"\xa3"
    pos = data.index(segment_id)
    size, width = _read_vint(data, pos + 4)
    pos += 4 + width  # children of the Segment
    out = []
    while pos < len(data):
        elem_id, size, header = _element(data, pos)
        if elem_id == cluster_id:
            child, end = pos + header, pos + header + size
            while child < end:
                cid, csize, cheader = _element(data, child)
                if cid == block_id:
                    # Track number (1-byte vint), timecode (2), flags (1), then the frame.
                    out.append((child + cheader + 4, child + cheader + csize))
                child += cheader + csize
        pos += header + size
    return out


def _element(data: bytes | bytearray, pos: int) -> tuple[bytes, int, int]:
    """EBML element at `pos`: (id bytes, payload size, header length)."""
    id_width = 9 - data[pos].bit_length()
    size, width = _read_vint(data, pos + id_width)
    return bytes(data[pos : pos + id_width]), size, id_width + width


def garbage(seed: int = 0) -> bytes:
    """Noise behind a plausible MP4 signature: sniffed as video, then nothing parses."""
    return b"\x00\x00\x00\x18ftypisom" + random.Random(seed).randbytes(64 * 1024)


def not_a_video(seed: int = 0) -> bytes:
    return b"NOTAVIDEO" + random.Random(seed).randbytes(4096)


def audio_only(seed: int = 0) -> bytes:
    """A valid M4A-like MP4 with a sine tone and no video track at all."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = _add_audio_stream(out, "aac")
        done = 0
        for i in range(20):
            done = _mux_tone(out, stream, done, (i + 1) * _AUDIO_RATE // 10)
        out.mux(stream.encode(None))
    return buf.getvalue()


def _read_vint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """EBML variable-length integer at `pos`: (value, width in bytes)."""
    width = 9 - data[pos].bit_length()
    if width > 8:
        raise ValueError(f"invalid EBML length at byte {pos}")
    value = data[pos] & ((1 << (8 - width)) - 1)
    for k in range(1, width):
        value = (value << 8) | data[pos + k]
    return value, width


def _patch_mkv_float(data: bytes, element_id: bytes, value: float) -> bytes:
    pos = data.find(element_id)
    if pos == -1:
        raise AssertionError("MKV element not found; the muxer changed")
    size, width = _read_vint(data, pos + len(element_id))
    start = pos + len(element_id) + width
    packed = struct.pack(">d", value) if size == 8 else struct.pack(">f", value)
    return data[:start] + packed + data[start + size :]


def _empty(seed: int = 0) -> bytes:
    return b""


BROKEN_KINDS: Final[dict[str, BrokenMaker]] = {
    "truncated_mp4": partial(truncated, "mp4"),
    "truncated_mkv": partial(truncated, "mkv"),
    "truncated_webm": partial(truncated, "webm"),
    "truncated_fragmented_mp4": truncated_fragmented,
    "zero_frames_mkv": partial(zero_frames, "mkv"),
    "zero_frames_mp4": partial(zero_frames, "mp4"),
    "huge_dimensions": huge_dimensions,
    "resolution_switch": resolution_switch,
    "absurd_duration": absurd_duration,
    "unknown_codec": unknown_codec,
    "corrupt_frames": corrupt_frames,
    "garbage": garbage,
    "not_a_video": not_a_video,
    "audio_only": audio_only,
    "empty": _empty,
}
