"""Reading a manifest's media files without letting the manifest read anything else.

A manifest names its media by path, and a manifest is written by someone else. Left
alone, a path could name any file the workstation's account can read: an absolute
path, enough `..`, a symlink in the import folder pointing out of it, or
`/proc/self/environ` (the process environment, key passphrase included). So:

- a path is resolved (following links) and must land inside one of the import roots:
  the manifest's own folder, or a folder named with `reviewer ingest --root`;
- `/proc`, `/sys` and `/dev` are never read, whatever the roots;
- the file is then opened one path component at a time from the root's directory
  handle, never following a link (the resolved path has none, so a link appearing
  there after the check is refused rather than followed), without blocking on a FIFO;
- only regular files are read (no device, FIFO, socket or directory), and at most the
  size limit: a file that grows while being read is refused, not read without end.

Every refusal is a `MediaRefused` whose message says what was wrong with the path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from reviewer.manifest import printable

_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_BINARY: Final = getattr(os, "O_BINARY", 0)
_CHUNK: Final = 4 * 1024 * 1024
# System trees whose "files" are the machine's state, not media, on any root.
FORBIDDEN: Final = (Path("/proc"), Path("/sys"), Path("/dev"))
SNIFF_BYTES: Final = 64


class MediaRefused(ValueError):
    """A media path that is not read; the message says why."""


def import_roots(manifest: Path, extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The folders a manifest's media may come from: its own folder and `extra`,
    resolved. Raises MediaRefused for a root that is itself a forbidden system tree."""
    roots = []
    for root in (manifest.parent, *extra):
        real = Path(os.path.realpath(root))
        if _forbidden(real):
            raise MediaRefused(f"{root} cannot be an import root: it is under /proc, /sys or /dev")
        if not real.is_dir():
            raise MediaRefused(f"the import root {root} is not a folder")
        roots.append(real)
    return tuple(dict.fromkeys(roots))


def _forbidden(real: Path) -> bool:
    return any(real == f or f in real.parents for f in FORBIDDEN)


def _inside(real: Path, root: Path) -> bool:
    return real == root or root in real.parents


def read_media(
    roots: Sequence[Path],
    media_path: str,
    limit_for: Callable[[bytes], int],
) -> bytes:
    """The bytes of `media_path` (relative to the first root, the manifest's folder).

    `limit_for(first bytes)` gives the size limit for a file starting with those bytes
    (videos may be larger than pictures). Raises MediaRefused."""
    shown = printable(media_path, 200)
    written = Path(media_path)
    candidate = written if written.is_absolute() else roots[0] / written
    real = Path(os.path.realpath(candidate))
    if _forbidden(real):
        raise MediaRefused(f"media path {shown} is under /proc, /sys or /dev, never read")
    root = next((r for r in roots if _inside(real, r)), None)
    if root is None:
        how = "is an absolute path" if written.is_absolute() else "leads"
        raise MediaRefused(
            f"media path {shown} {how} outside the import folder {roots[0]}"
            + (" and the --root folders" if len(roots) > 1 else "")
            + " (after following links); give a path inside it or name its folder with --root"
        )
    parts = real.relative_to(root).parts
    if not parts:
        raise MediaRefused(f"media path {shown} is a folder, not a file")
    try:
        fd = _open_beneath(root, parts)
    except FileNotFoundError:
        raise MediaRefused(f"media file not found: {shown}") from None
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise MediaRefused(
                f"media path {shown} changed while being opened (a link appeared); not read"
            ) from None
        raise MediaRefused(f"media file cannot be read: {shown} ({exc.strerror})") from None
    try:
        return _read_regular(fd, shown, limit_for)
    finally:
        os.close(fd)


# ELOOP (Linux) / EMLINK (FreeBSD): O_NOFOLLOW met a link; ENOTDIR: a component is not
# a directory any more.
_LINK_ERRNOS: Final = frozenset({errno.ELOOP, errno.EMLINK, errno.ENOTDIR})


def _open_beneath(root: Path, parts: tuple[str, ...]) -> int:
    if not os.supports_dir_fd >= {os.open}:  # no openat (Windows): the checked path
        return os.open(root.joinpath(*parts), os.O_RDONLY | _BINARY | _NOFOLLOW)
    fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        # Non-blocking so that a FIFO swapped in does not hang the run; refused below.
        return os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def _read_regular(fd: int, shown: str, limit_for: Callable[[bytes], int]) -> bytes:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise MediaRefused(f"media path {shown} is {kind}, not a regular file; not read")
    head = os.read(fd, SNIFF_BYTES)
    limit = limit_for(head)
    if st.st_size > limit:
        raise MediaRefused(f"media file is larger than {limit // 2**20} MiB: {shown}")
    # One buffer the size fstat gave (the common case reads straight into it); a file
    # that grows while read is followed in chunks up to the limit.
    buf = bytearray(len(head) + max(0, st.st_size - len(head)) + 1)
    buf[: len(head)] = head
    view = memoryview(buf)
    total = len(head)
    while True:
        if total == len(buf):
            if total > limit:
                raise MediaRefused(f"media file grew past {limit // 2**20} MiB while read: {shown}")
            view.release()  # a bytearray with a view on it cannot grow
            buf.extend(bytes(min(_CHUNK, limit + 1 - total)))
            view = memoryview(buf)
        got = os.readv(fd, [view[total:]])
        if got == 0:
            break
        total += got
    view.release()
    if total > limit:
        raise MediaRefused(f"media file grew past {limit // 2**20} MiB while read: {shown}")
    del buf[total:]
    return bytes(buf)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"
