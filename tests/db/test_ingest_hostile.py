"""Hostile manifests against a real database (SQLite and PostgreSQL): containment of
media paths, lines that used to crash a run, non-finite numbers, size limits, exit
codes, and ingest with worker processes giving the same result as without."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from qa_helpers import SEED, account, add_items, moderator_session
from sqlalchemy import text

from db.items import ItemsRepo
from db.media_store import MediaStore
from db.migrate import alembic_config
from db.store import Store
from reviewer import synthetic
from reviewer.accounts import Role
from reviewer.cli import main
from reviewer.clock import FakeClock
from reviewer.ingest import ingest_manifest
from reviewer.model import Exposure, NewItem
from reviewer.qa_model import SYNTHETIC_KEY
from reviewer.qa_service import QaService
from reviewer.untrusted import MAX_NOTE, Untrusted
from reviewer.vocabulary import SkipReason, Source

SECRET = b"the key passphrase is hunter2\n"


def _manifest(folder: Path, lines: list[object], name: str = "manifest.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "wb") as f:
        for line in lines:
            raw = line if isinstance(line, bytes) else json.dumps(line).encode()
            f.write(raw + b"\n")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """An import folder with one picture, and a secret file outside it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok.jpg").write_bytes(synthetic.make_jpeg(0.2, seed=1))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "photo.jpg").write_bytes(synthetic.make_jpeg(0.2, seed=2))
    return {"inbox": inbox, "outside": outside}


def _stored_blobs(media: MediaStore) -> set[bytes]:
    out = set()
    for sub in media.root.iterdir():
        if sub.is_dir():
            out |= {media.get(f.name) for f in sub.iterdir() if not f.name.endswith(".part")}
    return out


def _line(path: str, **kw: object) -> dict[str, object]:
    return {"media": path, "source": "ngo", **kw}


def _gold_candidates(store: Store) -> list[int]:
    """The golden-set query, as an admin runs it."""
    admin = account(store, "Ad Min", Role.ADMIN)
    service = QaService(store.qa, admin, FakeClock(), SEED)
    return [c.item_id for c in service.gold_candidates()]


def test_no_media_path_leaves_the_import_folder(
    store: Store, media: MediaStore, layout: dict[str, Path]
) -> None:
    inbox, outside = layout["inbox"], layout["outside"]
    (inbox / "link_out").symlink_to(outside / "secret.txt")
    (inbox / "dir_out").symlink_to(outside)
    (inbox / "to_proc").symlink_to("/proc/self/environ")
    (inbox / "to_null").symlink_to("/dev/null")
    (inbox / "link_in.jpg").symlink_to(inbox / "ok.jpg")  # stays inside: fine
    os.mkfifo(inbox / "pipe")
    lines = [
        _line(str(outside / "secret.txt")),  # absolute, outside
        _line("../outside/secret.txt"),  # .. out
        _line("sub/../../outside/secret.txt"),
        _line("link_out"),  # symlink pointing out
        _line("dir_out/secret.txt"),  # a linked folder pointing out
        _line("/proc/self/environ"),
        _line("to_proc"),
        _line("/dev/zero"),
        _line("to_null"),
        _line("/sys/kernel/hostname"),
        _line("pipe"),  # a FIFO inside the folder: refused, and no hang
        _line("link_in.jpg", id="in-by-link"),
        _line(str(inbox / "ok.jpg"), id="absolute-inside"),
        _line("ok.jpg", id="plain"),
    ]
    report = ingest_manifest(store.items, media, _manifest(inbox, lines))
    reasons = {e.line: e.reason for e in report.errors}
    assert sorted(reasons) == list(range(1, 12)), reasons
    for n in (1, 2, 3, 4, 5):
        assert "outside the import folder" in reasons[n], reasons[n]
    for n in (6, 7, 8, 9, 10):
        assert "under /proc, /sys or /dev, never read" in reasons[n], reasons[n]
    assert "FIFO" in reasons[11]
    assert report.added == 3 and report.stopped is None
    # Nothing from outside reached the media store (not even encrypted).
    blobs = _stored_blobs(media)
    assert SECRET not in blobs and (layout["outside"] / "photo.jpg").read_bytes() not in blobs
    assert not any(b"hunter2" in b or b"PATH=" in b for b in blobs)


def test_an_import_root_named_on_the_command_line_lets_its_files_in(
    db_url: str, layout: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _manifest(layout["inbox"], [_line(str(layout["outside"] / "photo.jpg"))])
    assert main(["ingest", str(path), "--db", db_url, "--workers", "0"]) == 1
    assert "outside the import folder" in capsys.readouterr().out
    rc = main(
        ["ingest", str(path), "--db", db_url, "--root", str(layout["outside"]), "--workers", "0"]
    )
    assert rc == 0, capsys.readouterr()
    assert "added 1 item(s)" in capsys.readouterr().out
    # A system tree cannot be made a root.
    assert main(["ingest", str(path), "--db", db_url, "--root", "/proc/self"]) == 2
    assert "cannot be an import root" in capsys.readouterr().err


def test_cli_exit_codes(
    db_url: str, layout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = layout["inbox"]
    good = _manifest(inbox, [_line("ok.jpg", id="g1")], "good.jsonl")
    mixed = _manifest(inbox, [_line("ok.jpg", id="g2"), b"\xff\xfe"], "mixed.jsonl")
    args = ["--db", db_url, "--workers", "0"]
    assert main(["ingest", str(good), *args]) == 0
    assert main(["ingest", str(mixed), *args]) == 1
    assert "line 2: not UTF-8" in capsys.readouterr().out
    assert main(["ingest", str(inbox / "none.jsonl"), *args]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["ingest"])
    assert usage.value.code == 2


def test_an_internal_error_stops_the_run_with_exit_3_saying_what_got_in(
    db_url: str,
    layout: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = layout["inbox"]
    lines = [_line("ok.jpg", id=f"s{n}") for n in range(4)]
    path = _manifest(inbox, lines)
    real_add_item = ItemsRepo.add_item
    calls = {"n": 0}

    def failing_add_item(self: ItemsRepo, new: NewItem, *a: object) -> tuple[int, bool]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk on fire")
        return real_add_item(self, new, *a)

    monkeypatch.setattr(ItemsRepo, "add_item", failing_add_item)
    assert main(["ingest", str(path), "--db", db_url, "--workers", "0"]) == 3
    out = capsys.readouterr().out
    assert "added 2 item(s)" in out
    assert "STOPPED before the end: stopped at line 3: OSError: disk on fire" in out
    monkeypatch.setattr(ItemsRepo, "add_item", real_add_item)
    # Running it again once the cause is gone adds the rest and nothing twice.
    assert main(["ingest", str(path), "--db", db_url, "--workers", "0"]) == 0
    assert "added 2 item(s), 2 already present" in capsys.readouterr().out


@pytest.mark.parametrize(
    "line",
    [
        b'{"media": "ok.jpg", "source": "ngo", "report_text": "\xc3\x28"}',
        b'{"media": "ok.jpg", "source": "ngo", "upload_time": "0001-01-01T00:00:00+01:00"}',
        b"[" * 200_000,
        b'{"media": "ok.jpg", "source": "ngo", "report_text": "\\udc80"}',
        b'{"media": "ok.jpg", "source": "ngo", "extra": {"n": NaN}}',
        b'{"media": "ok.jpg", "source": "ngo", "extra": {"n": -Infinity}}',
        b'{"media": "ok.jpg", "source": "ngo", "extra": {"n": 1e400}}',
        b'{"media": "ok.jpg", "source": "ngo", "report_text": "nul \\u0000 here"}',
    ],
    ids=["utf8", "time", "depth", "surrogate", "nan", "inf", "overflow", "nul"],
)
def test_crash_classes_are_line_errors_and_the_database_stays_queryable(
    store: Store, media: MediaStore, layout: dict[str, Path], line: bytes
) -> None:
    inbox = layout["inbox"]
    lines = [
        _line("ok.jpg", id="a", extra={SYNTHETIC_KEY: "bench"}),
        line,
        _line("ok.jpg", id="b"),
    ]
    report = ingest_manifest(store.items, media, _manifest(inbox, lines))
    assert report.added == 2 and [e.line for e in report.errors] == [2]
    assert report.stopped is None
    # The golden-set query reads every item's `extra` through the database's JSON
    # functions: one stored NaN used to make it fail for the whole database.
    assert _gold_candidates(store) == [report.item_ids[0]]


def test_the_store_refuses_non_finite_json_whatever_the_caller(store: Store) -> None:
    """Below the manifest check: no path can store NaN in a JSON column."""
    sha = "ab" * 32
    store.items.add_media(sha, 10, "JPEG", 10, 10, None)
    for bad in (math.nan, math.inf):
        with pytest.raises(Exception, match=r"JSON compliant|Out of range float"):
            store.items.add_item(
                NewItem(
                    queue="General",
                    source=Source.NGO,
                    media_sha256=sha,
                    dedupe_key=f"k{bad}",
                    extra={"v": bad},
                )
            )
    assert store.items.item_count() == 0
    assert _gold_candidates(store) == []


def test_size_limits_are_line_errors(
    store: Store, media: MediaStore, layout: dict[str, Path]
) -> None:
    big = "x" * 1_000_000
    lines = [
        _line("ok.jpg", report_text=big),
        _line("ok.jpg", chat=[{"text": big}]),
        _line("ok.jpg", reported_accounts=[big]),
        _line("ok.jpg", report_text="x" * 10_000_000),  # the 10 MB report of old
        _line("ok.jpg", id="fine", report_text="x" * 20_000),
    ]
    report = ingest_manifest(store.items, media, _manifest(layout["inbox"], lines))
    assert [e.line for e in report.errors] == [1, 2, 3, 4]
    assert "'report_text' is longer than 20,000 characters (1,000,000)" in report.errors[0].reason
    assert "'chat[0].text' is longer than 10,000" in report.errors[1].reason
    assert "'reported_accounts[0]' is longer than 320" in report.errors[2].reason
    assert "the line is longer than 8 MiB" in report.errors[3].reason
    assert report.added == 1
    assert len(store.items.item(report.item_ids[0]).report_text) == 20_000


def test_workers_give_the_same_items_in_the_same_order(
    db_url: str, store: Store, media: MediaStore, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lines: list[object] = []
    for n in range(8):
        (inbox / f"{n}.jpg").write_bytes(synthetic.make_jpeg(0.1, seed=100 + n))
        lines.append(_line(f"{n}.jpg", id=f"w{n}", report_text=f"report {n}"))
        if n == 3:
            lines.append(_line("missing.jpg"))
            lines.append(b"{broken")
    (inbox / "bad.jpg").write_bytes(synthetic.BROKEN_KINDS["truncated"](1))
    lines.append(_line("bad.jpg", id="unreadable"))
    path = _manifest(inbox, lines)
    report = ingest_manifest(store.items, media, path, workers=2)
    assert report.stopped is None
    assert [e.line for e in report.errors] == [5, 6]
    assert report.added == 9 and report.unreadable == 1
    texts = [store.items.item(i).report_text for i in report.item_ids]
    assert texts == [f"report {n}" for n in range(8)] + [""]
    # The blobs the workers stored decrypt here, under this process's key.
    items = [store.items.item(i) for i in report.item_ids]
    assert all(media.get(item.media.sha256) for item in items)
    assert [item.media.readable for item in items] == [True] * 8 + [False]
    assert items[0].media.width == synthetic.size_for(0.1)[0]
    # And the same manifest without workers finds every item already there.
    again = ingest_manifest(store.items, media, path, workers=0)
    assert (again.added, again.duplicates) == (0, 9)


def test_nan_stored_by_older_versions_is_repaired_by_migration_0019(
    store: Store, db_url: str
) -> None:
    """SQLite kept NaN/Infinity as written; the migration turns them into strings so
    that the database's JSON functions read every row again."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's json type never accepted NaN")
    sha = "cd" * 32
    store.items.add_media(sha, 10, "JPEG", 10, 10, None)
    item_id, _ = store.items.add_item(
        NewItem(
            queue="General",
            source=Source.NGO,
            media_sha256=sha,
            dedupe_key="old",
            extra={SYNTHETIC_KEY: "old demo"},
        )
    )
    old = '{"synthetic": "old demo", "v": NaN, "w": [Infinity, -Infinity, 1.5], "s": "NaN"}'
    with store.engine.begin() as conn:  # as an older version wrote it
        conn.execute(text("UPDATE items SET extra = :e WHERE id = :i"), {"e": old, "i": item_id})
    with pytest.raises(Exception, match="malformed JSON"):
        _gold_candidates(store)
    script = ScriptDirectory.from_config(alembic_config(store.engine))
    module = script.get_revision("0019").module
    with store.engine.begin() as conn:
        assert module.repair(conn) == 1
        assert module.repair(conn) == 0  # idempotent
    assert _gold_candidates(store) == [item_id]
    assert store.items.item(item_id).extra == {
        "synthetic": "old demo",
        "v": "NaN",
        "w": ["Infinity", "-Infinity", 1.5],
        "s": "NaN",
    }


def test_a_skip_note_over_the_limit_is_refused_and_the_item_stays_held(store: Store) -> None:
    add_items(store, 1)
    mod = account(store, "Mo Derator", Role.MODERATOR)
    session = moderator_session(store, store.qa, mod)
    claim = session.claim_next()
    assert claim is not None
    with pytest.raises(Untrusted, match="'note' is longer than 1,000"):
        session.skip(claim, SkipReason.OTHER, "n" * (MAX_NOTE + 1), Exposure())
    assert store.items.item_status(claim.item.id) == "claimed"
    with pytest.raises(Untrusted, match="NUL"):
        session.skip(claim, SkipReason.OTHER, "a\0b", Exposure())
    session.skip(claim, SkipReason.OTHER, "n" * MAX_NOTE, Exposure())
    assert store.items.item_status(claim.item.id) == "pending"
