"""The referral, retention, hold and erasure commands end to end."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from referral_fixtures import FULL_CHAT, FULL_SUBJECT, REPORT_B, REVEALED
from sign_in import stored_account

from db.store import Store
from reviewer.accounts import Role
from reviewer.cli import main
from reviewer.synthetic import encode, make_image


def _manifest(tmp_path: Path, subject: dict | None) -> Path:
    (tmp_path / "up").mkdir(exist_ok=True)
    name = f"up/{uuid.uuid4().hex}.jpg"
    (tmp_path / name).write_bytes(encode(make_image(64, 48, seed=1, label="SYNTHETIC"), "JPEG"))
    line = {"media": name, "source": "ngo", "upload_ip": "192.0.2.10"}
    if subject:
        line |= {"subject": subject, "chat": FULL_CHAT}
    path = tmp_path / f"m-{uuid.uuid4().hex}.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return path


def _decide(url: str) -> int:
    store = Store.open(url)
    try:
        uid = store.accounts.ensure_user("mod").id
        claim = store.claims.claim_next(uid)
        assert claim is not None
        store.claims.submit_decision(claim, REPORT_B, REVEALED, str(uuid.uuid4()))
        return claim.item.id
    finally:
        store.close()


PASSWORD = "lead and admin pw"


def _people(url: str) -> None:
    store = Store.open(url)
    try:
        stored_account(store, "Ada", Role.ADMIN, Role.LEAD, password=PASSWORD)
        stored_account(store, "Mo", Role.MODERATOR, password=PASSWORD)
    finally:
        store.close()


@pytest.fixture
def as_ada(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """Run a command signed in as Ada (admin and lead), her password on stdin."""

    def run(argv: list[str], user: str = "Ada", password: str = PASSWORD) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        return main([*argv, "--user", user, "--password-stdin"])

    return run


def test_referral_commands_act_only_as_a_signed_in_account(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], as_ada
) -> None:
    db = ["--db", db_url]
    assert main(["ingest", str(_manifest(tmp_path, FULL_SUBJECT)), *db]) == 0
    item = _decide(db_url)
    _people(db_url)
    capsys.readouterr()
    # A wrong password: refused with the one sign-in message, nothing built.
    assert as_ada(["referral", "build", str(item), "--kind", "uk", *db], password="nope") == 1
    assert "do not match" in capsys.readouterr().err
    # A moderator may not read referrals: refused by the gate, and audited.
    assert as_ada(["referral", "list", *db], user="Mo") == 1
    assert "may not" in capsys.readouterr().err
    store = Store.open(db_url)
    try:
        [denied] = store.audit_events(kind="access_denied")
        assert denied.detail["operation"] == "referral_read"
    finally:
        store.close()


def test_build_export_hold_erasure_and_retention_from_the_command_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], as_ada
) -> None:
    db = ["--db", db_url]
    assert main(["ingest", str(_manifest(tmp_path, FULL_SUBJECT)), *db]) == 0
    item = _decide(db_url)
    _people(db_url)
    capsys.readouterr()

    # No reporter details yet: refused, with the list of what is missing.
    assert as_ada(["referral", "build", str(item), "--kind", "uk", *db]) == 1
    err = capsys.readouterr().err
    assert "reporter organisation" in err and "--allow-incomplete" in err

    reporter = ["--org", "Example Ltd", "--contact-name", "Lead"]
    reporter += ["--contact-email", "lead@example.test"]
    assert as_ada(["referral", "reporter", *reporter, *db]) == 0
    out_dir = tmp_path / "chosen"
    out_dir.mkdir()
    assert as_ada(["referral", "build", str(item), "--kind", "uk", "--out", str(out_dir), *db]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "wrote" in out
    files = sorted(p.suffix for p in out_dir.iterdir())
    assert files == [".json", ".txt"]
    # The US report is still made: the exemption is the UK's, for content sent abroad.
    assert as_ada(["referral", "build", str(item), "--to", "ncmec", *db]) == 0
    assert as_ada(["referral", "list", *db]) == 0
    assert "NCMEC CyberTipline (United States), priority 2, due in" in capsys.readouterr().out

    assert as_ada(["hold", "place", str(item), "--reason", "PO-7 (synthetic)", *db]) == 0
    assert as_ada(["erasure", "request", str(item), *db]) == 0
    capsys.readouterr()
    assert as_ada(["retention", "run", "--dry-run", *db]) == 0
    out = capsys.readouterr().out
    assert f"would keep item {item}: under legal hold" in out
    assert as_ada(["hold", "lift", str(item), "--reason", "done", *db]) == 0
    assert as_ada(["retention", "run", *db]) == 0
    out = capsys.readouterr().out
    assert f"keep item {item}" in out and "held 365 days" in out

    assert as_ada(["retention", "settings", "--report-hold-days", "30", *db]) == 2
    assert "at least 90" in capsys.readouterr().err
    assert as_ada(["retention", "settings", "--report-hold-days", "365", *db]) == 0
    assert as_ada(["hold", "place", "999999", "--reason", "x", *db]) == 2


def test_destinations_priorities_and_the_exemption_from_the_command_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], as_ada
) -> None:
    db = ["--db", db_url]
    assert main(["ingest", str(_manifest(tmp_path, FULL_SUBJECT)), *db]) == 0
    item = _decide(db_url)
    _people(db_url)
    reporter = ["--org", "Example Ltd", "--contact-name", "Lead"]
    reporter += ["--contact-email", "lead@example.test"]
    assert as_ada(["referral", "reporter", *reporter, *db]) == 0
    capsys.readouterr()

    # Graded "Report" with no referral yet: listed as awaiting, with its due time.
    assert as_ada(["referral", "awaiting", *db]) == 0
    out = capsys.readouterr().out
    assert f"item {item:>6}" in out and "NCA (United Kingdom) priority 2, due in 23 h" in out

    # Reported to the CyberTipline first (a new US incident type chosen)...
    build = ["referral", "build", str(item), "--to", "ncmec", "--priority", "3"]
    assert as_ada([*build, "--incident-type", "child_sex_trafficking", *db]) == 0
    assert "priority 3" in capsys.readouterr().out
    assert as_ada(["referral", "awaiting", *db]) == 0
    assert "no item is waiting" in capsys.readouterr().out
    # ... so no second report of the same content to the NCA.
    assert as_ada(["referral", "build", str(item), "--to", "nca", *db]) == 1
    err = capsys.readouterr().err
    assert "need not be reported to NCA (United Kingdom)" in err

    # The rules are settings; a bad value is refused with exit 2 and nothing changes.
    assert as_ada(["referral", "rules", "--destination", "nca", "--hold-days", "30", *db]) == 2
    assert "at least 90" in capsys.readouterr().err
    rules = ["referral", "rules", "--destination", "nca", "--level-hours", "1=0.5", "2=12"]
    assert as_ada([*rules, "3=48", "--hold-days", "730", *db]) == 0
    out = capsys.readouterr().out
    assert "NCA (United Kingdom): level 1: 0.5 h, level 2: 12 h, level 3: 48 h; hold 730" in out
