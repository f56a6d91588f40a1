"""Ingest: manifests with good and bad lines, hostile media, re-runs, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.cli import main
from reviewer.ingest import ingest_manifest
from reviewer.vocabulary import Severity


def _write(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return name


def _manifest(tmp: Path, lines: list[object]) -> Path:
    path = tmp / "manifest.jsonl"
    with open(path, "w") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


GOOD = {
    "source": "ngo",
    "reported_accounts": ["acct-1@example.test"],
    "upload_ip": "192.0.2.10",
    "upload_time": "2026-01-05T09:00:00Z",
    "report_text": "hotline referral",
}

BAD_LINES: list[tuple[object, str]] = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ({"source": "ngo"}, "'media'"),
    ({"media": "ok.jpg", "source": "telepathy"}, "'source' must be one of"),
    ({"media": "missing.jpg", "source": "ngo"}, "not found"),
    ({"media": "ok.jpg", "source": "ngo", "imminent_risk": "yes"}, "true or false"),
    ({"media": "ok.jpg", "source": "ngo", "upload_ip": "999.1.1.1"}, "not an IP"),
    ({"media": "ok.jpg", "source": "ngo", "upload_time": "yesterday"}, "ISO 8601"),
    ({"media": "ok.jpg", "source": "ngo", "upload_time": "2026-01-05T09:00:00"}, "time zone"),
    ({"media": "ok.jpg", "source": "ngo", "reported_accounts": "bob"}, "list of strings"),
    ({"media": "ok.jpg", "source": "ngo", "colour": "red"}, "unknown field"),
    ({"media": ".", "source": "ngo"}, "not a file"),
    (
        {"media": "ok.jpg", "source": "ngo", "suspected_category": "Category A"},
        "'suspected_category' must be one of 'A', 'B', 'C'",
    ),
    ({"media": "ok.jpg", "source": "ngo", "suspected_category": 1}, "not 1"),
    # Not assessable is what looking finds, not something to suspect.
    (
        {"media": "ok.jpg", "source": "ngo", "suspected_category": "not_assessable"},
        "not 'not_assessable'",
    ),
]


def test_bad_lines_are_reported_and_good_lines_still_go_in(
    store: Store, media: MediaStore, tmp_path: Path
) -> None:
    _write(tmp_path, "ok.jpg", synthetic.make_jpeg(0.3, seed=1))
    _write(tmp_path, "ok2.png", synthetic.make_png(0.3, seed=2))
    lines: list[object] = [{"media": "ok.jpg", **GOOD}]
    lines += [line for line, _ in BAD_LINES]
    lines.append({"media": "ok2.png", "source": "user_report", "imminent_risk": True})
    report = ingest_manifest(store.items, media, _manifest(tmp_path, lines))
    assert report.added == 2
    assert [e.line for e in report.errors] == list(range(2, 2 + len(BAD_LINES)))
    for err, (_, expected) in zip(report.errors, BAD_LINES, strict=True):
        assert expected in err.reason, str(err)
    first = store.items.item(report.item_ids[0])
    assert first.source.value == "ngo" and first.upload_ip == "192.0.2.10"
    assert first.reported_accounts == ("acct-1@example.test",)
    assert first.media.format == "JPEG" and first.media.width == 640
    risky = store.items.item(report.item_ids[1])
    assert risky.imminent_risk and risky.priority == 0


@pytest.mark.parametrize("kind", sorted(synthetic.BROKEN_KINDS))
def test_bad_media_is_kept_as_unreadable(
    store: Store, media: MediaStore, tmp_path: Path, kind: str
) -> None:
    data = synthetic.BROKEN_KINDS[kind](7)
    _write(tmp_path, "bad.bin", data)
    report = ingest_manifest(
        store.items, media, _manifest(tmp_path, [{"media": "bad.bin", **GOOD}])
    )
    assert report.ok and report.added == 1 and report.unreadable == 1
    item = store.items.item(report.item_ids[0])
    assert not item.media.readable and item.media.unreadable_reason
    # The original bytes are kept as evidence, addressed by their SHA-256.
    assert media.get(item.media.sha256) == data
    assert item.media.sha256 == hashlib.sha256(data).hexdigest()


def test_suspected_category_from_the_manifest_is_the_items_hint(
    store: Store, media: MediaStore, tmp_path: Path
) -> None:
    _write(tmp_path, "a.jpg", synthetic.make_jpeg(0.3, seed=8))
    path = _manifest(
        tmp_path,
        [
            {"media": "a.jpg", **GOOD, "id": "ngo-1", "suspected_category": "A"},
            {"media": "a.jpg", "source": "classifier", "suspected_category": "not_illegal"},
            {"media": "a.jpg", "source": "user_report"},
        ],
    )
    report = ingest_manifest(store.items, media, path)
    assert report.ok and report.added == 3
    hints = [store.items.item(i).suspected_category for i in report.item_ids]
    assert hints == [Severity.A, Severity.NOT_ILLEGAL, None]


def test_rerun_does_not_duplicate(store: Store, media: MediaStore, tmp_path: Path) -> None:
    _write(tmp_path, "a.jpg", synthetic.make_jpeg(0.3, seed=3))
    _write(tmp_path, "b.jpg", synthetic.make_jpeg(0.3, seed=4))
    path = _manifest(
        tmp_path,
        [
            {"media": "a.jpg", **GOOD},
            {"media": "b.jpg", "source": "classifier", "id": "ext-77"},
            # Same picture, different report: a separate item sharing one blob.
            {"media": "a.jpg", "source": "user_report"},
        ],
    )
    first = ingest_manifest(store.items, media, path)
    second = ingest_manifest(store.items, media, path)
    assert (first.added, first.duplicates) == (3, 0)
    assert (second.added, second.duplicates) == (0, 3)
    assert store.items.item_count() == 3


def test_cli_ingest_reports_lines_and_exit_code(db_url: str, tmp_path: Path, capsys) -> None:
    _write(tmp_path, "ok.jpg", synthetic.make_jpeg(0.3, seed=5))
    path = _manifest(tmp_path, [{"media": "ok.jpg", **GOOD}, "{oops"])
    assert main(["ingest", str(path), "--db", db_url]) == 1
    out = capsys.readouterr().out
    assert "added 1 item(s)" in out and "line 2: not valid JSON" in out
    # --db also works before the command; the re-run finds the item and the bad line again.
    assert main(["--db", db_url, "ingest", str(path)]) == 1
    assert "1 already present" in capsys.readouterr().out


def test_cli_demo_50_items_without_a_display(db_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    env["REVIEWER_DATA_DIR"] = str(tmp_path / "data")
    # The subprocess has no in-memory test keyring; this machine has no OS keyring.
    env["REVIEWER_KEY_PASSPHRASE"] = "a passphrase for the subprocess"
    code = (
        "import sys; from reviewer.cli import main; "
        f"rc = main(['demo', '--items', '50', '--max-mp', '1', '--db', {db_url!r}]); "
        "assert 'PySide6' not in sys.modules, 'the CLI must not load Qt'; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "added 50 item(s)" in proc.stdout
    store = Store.open(db_url)
    assert store.items.item_count() == 50
    assert {q.name for q in store.items.queue_summaries()} <= {"General", "Child safety"}
    store.close()
