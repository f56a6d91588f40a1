"""Containment of media paths below the checks ingest runs: a link swapped in after the
path was resolved is not followed, special files are refused, and a size limit holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviewer import media_files
from reviewer.cli import progress_bar
from reviewer.media_files import MediaRefused, _open_beneath, import_roots, read_media


def _no_limit(head: bytes) -> int:
    return 1 << 30


def test_a_final_link_swapped_in_after_resolution_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.jpg").symlink_to(tmp_path / "secret")
    # As if "a.jpg" was a plain file when resolved and a link by the time it is opened.
    with pytest.raises(OSError):
        _open_beneath(tmp_path / "inbox", ("a.jpg",))


def test_a_folder_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.jpg").write_bytes(b"x")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        _open_beneath(tmp_path / "inbox", ("sub", "a.jpg"))


def test_special_files_and_folders_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    roots = import_roots(tmp_path / "manifest.jsonl")
    with pytest.raises(MediaRefused, match="FIFO"):
        read_media(roots, "fifo", _no_limit)
    with pytest.raises(MediaRefused, match="a folder"):
        read_media(roots, "dir", _no_limit)
    with pytest.raises(MediaRefused, match="a folder, not a file"):
        read_media(roots, ".", _no_limit)


def test_the_size_limit_depends_on_the_first_bytes(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"V" + b"x" * 2000)
    (tmp_path / "small").write_bytes(b"x" * 2001)
    roots = import_roots(tmp_path / "m.jsonl")

    def limit(head: bytes) -> int:
        return 4096 if head.startswith(b"V") else 1000

    assert len(read_media(roots, "big", limit)) == 2001
    with pytest.raises(MediaRefused, match="larger than"):
        read_media(roots, "small", limit)


def test_roots_under_system_trees_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaRefused, match="cannot be an import root"):
        import_roots(tmp_path / "m.jsonl", [Path("/proc/self")])
    with pytest.raises(MediaRefused, match="not a folder"):
        import_roots(tmp_path / "m.jsonl", [tmp_path / "missing"])


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.out: list[str] = []
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def write(self, s: str) -> None:
        self.out.append(s)

    def flush(self) -> None:
        pass


def test_the_progress_bar_shows_rate_and_time_left() -> None:
    now = [100.0]
    stream = _Stream(tty=False)
    show = progress_bar(stream, "ingest ", clock=lambda: now[0])  # type: ignore[arg-type]
    now[0] += 10
    show(20, 100)
    assert stream.out[-1] == "ingest 20/100 2.00 items/s, 40 s left (20%)\n"
    now[0] += 40
    show(100, 100)
    assert stream.out[-1] == "ingest 100/100 in 50 s, 2.00 items/s (100%)\n"
    tty = _Stream(tty=True)
    show = progress_bar(tty, "", clock=lambda: now[0])  # type: ignore[arg-type]
    now[0] += 600
    show(1, 3)
    assert "1/3 0.00 items/s, 20 min 00 s left" in tty.out[-1]


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 1024 * 1024 + 7])
def test_every_byte_is_read_whatever_the_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert read_media(import_roots(tmp_path / "m.jsonl"), "f", _no_limit) == data


def _file_grown_since_fstat(monkeypatch: pytest.MonkeyPatch, shrink_by: int) -> None:
    """fstat reports the size the file had before `shrink_by` more bytes were written."""
    real = os.fstat

    def fstat(fd: int) -> os.stat_result:
        st = real(fd)
        fields = list(st)
        fields[6] = max(0, st.st_size - shrink_by)  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr(media_files.os, "fstat", fstat)


def test_a_file_that_grew_after_fstat_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(50_000)
    (tmp_path / "f").write_bytes(data)
    _file_grown_since_fstat(monkeypatch, 30_000)
    assert read_media(import_roots(tmp_path / "m.jsonl"), "f", _no_limit) == data


def test_a_file_that_grew_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f").write_bytes(b"x" * 5000)
    _file_grown_since_fstat(monkeypatch, 4000)
    with pytest.raises(MediaRefused, match="grew past"):
        read_media(import_roots(tmp_path / "m.jsonl"), "f", lambda head: 3000)
