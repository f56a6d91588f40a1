"""The video decoding worker process and its pipe protocol.

Hostile video is decoded in a separate process that the caller kills when the time
limit passes. The decoder's own deadline checks (reviewer.video_decode) normally stop
it first, cleanly; the kill is for what no check can interrupt: a decoder stuck inside
one call, or one that crashes. A crash then costs a restarted worker, not the
workstation. A thread could not do this: it cannot be stopped while it is inside
FFmpeg, and it shares the process that a crash would take down.

Nothing decoded is ever written to disk: bytes go to the worker through a pipe and
small frames come back the same way. The worker's reply is parsed as data (a JSON
header and raw pixels, checked for size), never unpickled, so that even a worker
subverted by a malicious file cannot run code in the caller.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Final, cast, get_args

from reviewer.media_types import MediaUnreadable, Reason
from reviewer.video_decode import decode_video
from reviewer.video_types import MAX_VIDEO_SIDE, KeyFrame, VideoProbe

try:
    import fcntl
except ImportError:  # Windows
    # ignore[assignment]: no such module on Windows; None says so to _widen_pipe.
    fcntl = None  # type: ignore[assignment]


def shutdown_worker() -> None:
    """Stop the worker process (it restarts on the next call). Called at exit."""
    _WORKER.close()


# --- The worker process and its pipe protocol.
#
# Request: u32 length + JSON {"limit_s", "max_frames", "max_side", "pdq", "at", "same"},
#          u64 length + the media bytes (none if "same": the previous call's again).
# Reply:   u32 length + JSON {"ok": true, "probe": {...}, "frames": [{...}, ...]} and
#          then each frame's RGB bytes in order, or JSON {"ok": false, "reason", "detail"}.

# Time the caller waits beyond the limit before killing: the worker normally reports
# its own timeout first, so that a kill is only ever for a stuck decoder.
KILL_GRACE_S: Final = 2.0
_START_TIMEOUT_S: Final = 60.0
# Passing 256 MB through a pipe takes well under a second even on a busy machine.
_WRITE_TIMEOUT_S: Final = 30.0
# Restart now and then anyway, so that nothing a long session decoded lingers.
_MAX_REQUESTS: Final = 200
# The worker's address space: bounds what a decoder bomb can take from the desktop.
_WORKER_MEMORY_BYTES: Final = 4 << 30
_MAX_HEADER_BYTES: Final = 16 << 20
_READY: Final = b"R"
_WORKER_COMMAND: Final = (
    sys.executable,
    "-c",
    "from reviewer.video_worker import worker_main; worker_main()",
)


def run(
    data: bytes,
    time_limit_s: float,
    isolate: bool,
    *,
    max_frames: int,
    max_side: int,
    pdq: bool,
    at: float | None = None,
) -> tuple[VideoProbe, list[KeyFrame]]:
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be positive")
    if not isolate:
        return decode_video(data, time_limit_s, max_frames, max_side, pdq, at)
    request = {
        "limit_s": time_limit_s,
        "max_frames": max_frames,
        "max_side": max_side,
        "pdq": pdq,
        "at": at,
    }
    max_payload = max_frames * max_side * max_side * 3
    header, payload = _WORKER.call(request, data, time_limit_s + KILL_GRACE_S, max_payload)
    return _from_reply(header, payload, max_frames, max_side)


class _Worker:
    """One long-lived decoding process, restarted after a timeout, crash or N requests.

    Calls are serialised; the process is started on first use (about half a second of
    interpreter and PyAV start-up, not counted against the time limit).
    """

    def __init__(self, command: Sequence[str] | None = None) -> None:
        # `command` replaces the worker (tests use stand-ins that hang or crash).
        self._command = list(command or _WORKER_COMMAND)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._served = 0
        # The bytes the worker holds from the last call. Held here too, so that the
        # identity test below can never match a new object at a recycled address.
        self._last: bytes | None = None

    def call(
        self, request: dict[str, Any], data: bytes, kill_after_s: float, max_payload: int
    ) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            proc = self._ensure()
            self._served += 1
            result: dict[str, Any] = {}
            written = threading.Event()
            # Sheet, then reveals of single frames: the same (immutable) bytes again
            # need not cross the pipe again; the worker kept them.
            same = type(data) is bytes and data is self._last
            request = {**request, "same": same}

            def exchange() -> None:
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    _write_request(proc.stdin, request, b"" if same else data)
                    written.set()
                    result["reply"] = _read_reply(proc.stdout, max_payload)
                except BaseException as exc:  # EOF or a broken pipe: the worker died
                    result["error"] = exc
                    written.set()

            # The exchange runs in a thread so that this one can stop waiting at the
            # deadline; killing the worker then ends the exchange too. The clock starts
            # once the bytes are across, as the worker's own clock does.
            io_thread = threading.Thread(target=exchange, name="video-worker-io", daemon=True)
            io_thread.start()
            if written.wait(_WRITE_TIMEOUT_S):
                io_thread.join(kill_after_s)
            if io_thread.is_alive():
                self._stop(kill=True)
                io_thread.join(5)
                raise MediaUnreadable(
                    "timeout",
                    f"decoding took longer than {request['limit_s']:g} s; the decoder was stopped",
                )
            if "error" in result:
                code = self._stop(kill=True)
                raise MediaUnreadable(
                    "corrupt", f"the video decoder failed on this file (exit status {code})"
                ) from result["error"]
            self._last = data if type(data) is bytes else None
            if self._served >= _MAX_REQUESTS:
                self._stop(kill=False)
            reply: tuple[dict[str, Any], bytes] = result["reply"]
            return reply

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        # A new process (the old one exited or died): it holds no media yet.
        self._served, self._last = 0, None
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # FFmpeg's warnings about hostile files are noise for the caller.
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._proc = proc
        _widen_pipe(proc.stdin)
        ready: list[bytes] = []
        waiter = threading.Thread(
            target=lambda: ready.append(proc.stdout.read(1) if proc.stdout else b""),
            daemon=True,
        )
        waiter.start()
        waiter.join(_START_TIMEOUT_S)
        if ready != [_READY]:
            self._stop(kill=True)
            raise RuntimeError("the video worker process did not start")
        return proc

    def _stop(self, kill: bool) -> int | None:
        proc, self._proc, self._last = self._proc, None, None
        if proc is None:
            return None
        if kill:
            proc.kill()
        else:
            # Closing stdin is the worker's signal to exit.
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        return code


_WORKER: Final = _Worker()
atexit.register(shutdown_worker)


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Linux: 1 MB pipe buffer instead of 64 KB; passing a 200 MB video then takes
    about 70 ms instead of 170 ms (fewer switches between the two processes)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl else None
    if pipe is None or set_size is None:
        return
    with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size: keep 64 KB
        fcntl.fcntl(pipe.fileno(), set_size, 1 << 20)


def _write_request(pipe: IO[bytes], request: dict[str, Any], data: bytes) -> None:
    header = json.dumps(request).encode()
    pipe.write(struct.pack(">I", len(header)) + header + struct.pack(">Q", len(data)))
    pipe.write(data)
    pipe.flush()


def _read_exact(pipe: IO[bytes], n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = pipe.read(n - got)
        if not chunk:
            raise EOFError("the video worker closed its pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_into(pipe: IO[bytes], n: int) -> memoryview:
    """Read `n` bytes straight into one buffer: no chunks to join, so one copy only."""
    # A pipe is a buffered (or raw) binary file, which has readinto; IO[bytes] does not say so.
    assert isinstance(pipe, io.BufferedIOBase | io.RawIOBase)
    view = memoryview(bytearray(n))
    got = 0
    while got < n:
        k = pipe.readinto(view[got:])
        if not k:
            raise EOFError("the caller closed its pipe")
        got += k
    return view


def _read_reply(pipe: IO[bytes], max_payload: int) -> tuple[dict[str, Any], bytes]:
    (size,) = struct.unpack(">I", _read_exact(pipe, 4))
    if size > _MAX_HEADER_BYTES:
        raise ValueError("reply header too large")
    header = json.loads(_read_exact(pipe, size))
    if not isinstance(header, dict):
        raise ValueError("reply header is not an object")
    frames = header.get("frames") or []
    if not isinstance(frames, list):
        raise ValueError("reply frames is not a list")
    total = sum(_int(meta, "width") * _int(meta, "height") * 3 for meta in frames)
    if total > max_payload:
        raise ValueError("reply is larger than asked for")
    return header, _read_exact(pipe, total) if total else b""


def _int(meta: object, key: str, low: int = 1, high: int = MAX_VIDEO_SIDE) -> int:
    value = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"reply field {key!r} is not an integer in {low}..{high}")
    return value


def _from_reply(
    header: dict[str, Any], payload: bytes, max_frames: int, max_side: int
) -> tuple[VideoProbe, list[KeyFrame]]:
    """Rebuild the result from the worker's reply, trusting nothing in it."""
    try:
        if not header.get("ok"):
            reason, detail = header.get("reason"), header.get("detail")
            if reason not in get_args(Reason) or not isinstance(detail, str):
                raise ValueError("unknown failure reason")
            raise MediaUnreadable(cast(Reason, reason), detail[:500])
        probe = _probe_from(header["probe"])
        frames, offset = [], 0
        metas = header["frames"]
        if not isinstance(metas, list) or not 1 <= len(metas) <= max_frames:
            raise ValueError("wrong number of frames")
        for meta in metas:
            w, h = _int(meta, "width", high=max_side), _int(meta, "height", high=max_side)
            pdq = meta.get("pdq")
            frames.append(
                KeyFrame(
                    time_s=_float(meta["time_s"]),
                    width=w,
                    height=h,
                    source_width=_int(meta, "source_width"),
                    source_height=_int(meta, "source_height"),
                    rgb=payload[offset : offset + w * h * 3],
                    pdq=bytes.fromhex(pdq) if isinstance(pdq, str) and len(pdq) == 64 else None,
                    pdq_quality=_int(meta, "pdq_quality", 0, 100) if pdq else None,
                )
            )
            offset += w * h * 3
        if offset != len(payload):
            raise ValueError("pixel data does not match the frame sizes")
    except MediaUnreadable:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MediaUnreadable("corrupt", f"the video worker's reply is malformed ({exc})") from exc
    return probe, frames


def _float(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(value)


def _probe_from(raw: dict[str, Any]) -> VideoProbe:
    times = raw["keyframe_times"]
    if not isinstance(times, list):
        raise ValueError("keyframe_times is not a list")
    fps = raw["fps"]
    return VideoProbe(
        container=str(raw["container"])[:16],
        codec=str(raw["codec"])[:32],
        width=_int(raw, "width"),
        height=_int(raw, "height"),
        rotation=_int(raw, "rotation", 0, 270),
        duration_s=_float(raw["duration_s"]),
        fps=None if fps is None else _float(fps),
        frame_count_estimate=_int(raw, "frame_count_estimate", 0, 1 << 40),
        has_audio=bool(raw["has_audio"]),
        keyframe_times=tuple(_float(t) for t in times),
    )


def _reply_for(probe: VideoProbe, frames: list[KeyFrame]) -> tuple[bytes, list[bytes]]:
    header = {
        "ok": True,
        "probe": {**probe.__dict__, "keyframe_times": list(probe.keyframe_times)},
        "frames": [
            {
                "time_s": f.time_s,
                "width": f.width,
                "height": f.height,
                "source_width": f.source_width,
                "source_height": f.source_height,
                "pdq": f.pdq.hex() if f.pdq else None,
                "pdq_quality": f.pdq_quality,
            }
            for f in frames
        ],
    }
    return json.dumps(header).encode(), [f.rgb for f in frames]


def worker_main() -> None:
    """Entry point of the worker process: serve requests on stdin until it closes."""
    _limit_memory()
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    # A stray print anywhere must not corrupt the protocol.
    sys.stdout = sys.stderr
    replies.write(_READY)
    replies.flush()
    last = memoryview(b"")
    while True:
        try:
            (size,) = struct.unpack(">I", _read_exact(requests, 4))
            request = json.loads(_read_exact(requests, size))
            (length,) = struct.unpack(">Q", _read_exact(requests, 8))
            # Let go of the previous media before reading the next into memory.
            last = last if request.get("same") else memoryview(b"")
            data = last if request.get("same") else _read_into(requests, length)
            last = data
        except EOFError:
            return
        try:
            probe, frames = decode_video(
                data,
                float(request["limit_s"]),
                int(request["max_frames"]),
                int(request["max_side"]),
                bool(request["pdq"]),
                request.get("at"),
            )
            header, chunks = _reply_for(probe, frames)
        except MediaUnreadable as exc:
            header, chunks = (
                json.dumps({"ok": False, "reason": exc.reason, "detail": exc.detail}).encode(),
                [],
            )
        except Exception as exc:  # anything else a hostile file provokes
            detail = f"video data is damaged ({type(exc).__name__}: {str(exc)[:160]})"
            header, chunks = (
                json.dumps({"ok": False, "reason": "corrupt", "detail": detail}).encode(),
                [],
            )
        replies.write(struct.pack(">I", len(header)) + header)
        for chunk in chunks:
            replies.write(chunk)
        replies.flush()


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # not on Windows; the time limit still applies
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = (
        _WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(hard, _WORKER_MEMORY_BYTES)
    )
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
