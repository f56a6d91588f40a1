"""The suite's journeys beyond the review queue, on a team server where each person
signs in as their own PostgreSQL login role (see test_team_journeys.py): known-hash
lists, matching and near-duplicate groups, the consensus behind the hash export,
video segments, referrals, retention, the audit log's verify and checkpoint, and the
welfare settings.

Where reviewer.cli is how a person does it (hash lists, the audit log, the reporter
details and the welfare settings), the command runs with `--db` set to the person's own
login role's URL and, where the command signs in, their name and password; the
workstation's keys (the team's audit key and a media key) sit in the test's in-memory
keyring as `reviewer keys import` would put them. Otherwise the services are built
over the person's own Store as the composition root or the CLI builds them.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from hash_helpers import ingest_one
from pgserver import PgServer
from qa_helpers import SEED, graded
from referral_fixtures import FULL_CHAT, FULL_SUBJECT, NOT_ILLEGAL, REPORT_B, REVEALED, add_item
from team_server import AUDIT_KEY as TEAM_AUDIT_KEY
from team_server import Person, Seat, TeamDb

from db.keys import AUDIT_KEY, MEDIA_KEY, KeyringSecrets
from db.media_store import MediaStore
from reviewer import config, synthetic, synthetic_video
from reviewer.accounts import AccessDenied, LoginFailed, Role
from reviewer.cli import main
from reviewer.clock import FakeClock
from reviewer.destinations import Destination
from reviewer.grading import GradingInvalid
from reviewer.hashing import compute_hashes
from reviewer.hashlists import parse_hash_list
from reviewer.ingest import ingest_manifest
from reviewer.matching import HashIngest
from reviewer.model import Exposure
from reviewer.qa_model import QaSettings
from reviewer.referral_service import ReferralIncomplete
from reviewer.retention_service import RetentionService
from reviewer.sampling import SamplingPolicy
from reviewer.segments import Segment
from reviewer.vocabulary import AgeBand, Severity
from wellbeing.settings import WelfareSettings

pytestmark = pytest.mark.postgres_only

QA_SEED = SEED.encode()
SIZE = (640, 480)
DAY = 86_400.0


@pytest.fixture
def team(pg_server: PgServer, pg_team_template: str) -> Iterator[TeamDb]:
    t = TeamDb(pg_server, clock=FakeClock(), template=pg_team_template)
    try:
        yield t
    finally:
        t.close()


@pytest.fixture
def media() -> MediaStore:
    """This workstation's media store, with the keys the CLI finds in the keyring."""
    secrets = KeyringSecrets()
    key = os.urandom(32)
    secrets.set(MEDIA_KEY, key)
    secrets.set(AUDIT_KEY, TEAM_AUDIT_KEY)
    return MediaStore(config.media_dir(), key)


def seat(team: TeamDb, media: MediaStore, person: Person) -> Seat:
    s = team.sign_in(person, media, QA_SEED)
    s.assert_own_login_role()
    return s


def command(
    team: TeamDb, person: Person, *argv: str, sign_in: bool = False, expect: int = 0
) -> None:
    """`reviewer ARGV` as `person`: their own login role's URL, and (`sign_in`) their
    name and password for a command that signs in; it must exit with `expect`."""
    extra = ["--db", team.url(person)]
    if sign_in:
        extra += ["--user", person.account.name, "--password-stdin"]
    mp = pytest.MonkeyPatch()
    mp.setattr("sys.stdin", io.StringIO(person.password + "\n"))
    try:
        code = main([*argv, *extra])
    finally:
        mp.undo()
    assert code == expect, argv


def _pdq_row(data: bytes, category: str, band: str) -> dict[str, str]:
    pdq = compute_hashes(data).pdq_hex
    assert pdq is not None
    return {"hash_type": "pdq", "value": pdq, "source": "Hotline", "category": category,
            "age_band": band}  # fmt: skip


# --------------------------------------------------------------------------- hash lists
def test_a_listed_upload_is_confirmed_unseen_and_a_decided_groups_members_hinted(
    team: TeamDb, media: MediaStore, tmp_path: Path
) -> None:
    """The admin imports a list and ingests; the moderator confirms the known match
    without seeing it, and decides a group's representative, whose grade becomes the
    pending members' hint."""
    admin = seat(team, media, team.admin)
    listed = synthetic.make_image(*SIZE, 21)
    grouped = synthetic.make_image(*SIZE, 31)
    lst = tmp_path / "ngo.jsonl"
    lst.write_text(json.dumps(_pdq_row(synthetic.encode(listed, "JPEG"), "A", "3-6")) + "\n")
    command(team, team.admin, "hashlist", "import", str(lst), "--name", "ngo",
            "--source", "Hotline")  # fmt: skip
    hook = HashIngest(admin.store.hashes)
    known = ingest_one(admin.store, media, hook, synthetic.encode(listed.convert("L"), "JPEG"), "k")
    rep = ingest_one(admin.store, media, hook, synthetic.encode(grouped, "JPEG"), "r")
    copies = [
        ingest_one(admin.store, media, hook, synthetic.encode(grouped, "JPEG", 55), "c1"),
        ingest_one(
            admin.store,
            media,
            hook,
            synthetic.encode(grouped.resize((320, 240)), "JPEG"),
            "c2",
        ),
    ]
    assert team.owner.items.item(known).suspected_category is Severity.A

    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    show = mo.svc.show_less
    assert show is not None
    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == known
    (match,) = show.graded_matches(known)
    show.confirm(claim, match, Exposure(), str(uuid.uuid4()))
    (decision,) = team.owner.items.decisions(known)
    assert (decision["severity"], decision["age_band"]) == ("A", "3-6")
    assert decision["user_id"] == mo.person.id
    (exposure,) = team.owner.items.exposures(known)
    assert exposure["reveal_count"] == 0 and not exposure["full_unprotected"]

    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == rep
    mo.svc.submit(claim, graded(Severity.B, AgeBand.B11_13), Exposure(1.5, 1, 1.0), "rep")
    assert {team.owner.items.item(i).suspected_category for i in copies} == {None}
    show.group_after(rep)  # (offering the group to settle: the test below)
    # The members still to decide took the group's grade as their hint at once.
    assert {team.owner.items.item(i).suspected_category for i in copies} == {Severity.B}
    assert show.flags() == []


def test_a_moderator_settles_a_near_duplicate_group_with_the_representatives_grade(
    team: TeamDb, media: MediaStore
) -> None:
    admin = seat(team, media, team.admin)
    grouped = synthetic.make_image(*SIZE, 31)
    hook = HashIngest(admin.store.hashes)
    rep = ingest_one(admin.store, media, hook, synthetic.encode(grouped, "JPEG"), "r")
    copies = [
        ingest_one(admin.store, media, hook, synthetic.encode(grouped, "JPEG", 55), "c1"),
        ingest_one(admin.store, media, hook, synthetic.encode(grouped.convert("L"), "JPEG"), "c2"),
    ]
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    show = mo.svc.show_less
    assert show is not None
    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == rep
    mo.svc.submit(claim, graded(Severity.B, AgeBand.B11_13), Exposure(1.5, 1, 1.0), "rep")
    group = show.group_after(rep)
    assert group is not None
    members = [m.item_id for m in group.pending_except(rep)]
    assert sorted(members) == sorted(copies)
    done = show.settle(group.id, rep, members, [])
    assert sorted(done.decided) == sorted(copies)
    for item_id in copies:
        (d,) = team.owner.items.decisions(item_id)
        assert (d["severity"], d["user_id"]) == ("B", mo.person.id)
        assert team.owner.items.item_status(item_id) == "decided"
        assert [e.kind for e in team.owner.audit_events(item_id)][-1] == "group_decision"
    assert show.flags() == []


def test_the_hash_export_waits_for_agreeing_grades_and_round_trips(
    team: TeamDb, media: MediaStore, tmp_path: Path
) -> None:
    """Consensus: with two independent grades needed, a moderator's Category A grade
    is held until QA's blind re-grade agrees; then the admin's export carries it."""
    admin = seat(team, media, team.admin)
    assert admin.svc.team is not None and admin.svc.team.gold is not None
    qa_door = admin.svc.team.gold
    qa_door.set_settings(
        replace(
            QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0),
            export_grades_needed=2,
        )
    )
    data = synthetic.encode(synthetic.make_image(*SIZE, 51), "JPEG")
    item = ingest_one(admin.store, media, HashIngest(admin.store.hashes), data, "x")
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    quinn = seat(team, media, team.person("Quinn", Role.QA))
    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == item
    mo.svc.submit(claim, graded(Severity.A), Exposure(), "t-1")

    held = tmp_path / "held.jsonl"
    command(team, team.admin, "hashlist", "export", "--format", "jsonl", "--out", str(held))
    assert held.read_text() == ""
    assert quinn.svc.team is not None and quinn.svc.team.qa_session is not None
    sample = quinn.svc.team.qa_session.claim_next()
    assert sample is not None and sample.item.id == item
    quinn.svc.team.qa_session.submit(sample, graded(Severity.A), Exposure(), "qa-1")
    out = tmp_path / "agreed.jsonl"
    command(team, team.admin, "hashlist", "export", "--format", "jsonl", "--out", str(out))
    entries, errors = parse_hash_list(out.read_text())
    assert errors == []
    h = compute_hashes(data)
    assert {(e.hash_type.value, e.value) for e in entries} == {
        ("pdq", h.pdq_hex),
        ("md5", h.md5),
        ("sha256", h.sha256),
    }
    assert {e.category for e in entries} == {Severity.A}
    assert len(team.owner.audit_events(kind="hashlist_exported")) == 2
    # A moderator's role cannot read the list entries it would export.
    with team.raw(mo.person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT value FROM hash_list_entries")


# --------------------------------------------------------------------------- video
def test_a_videos_segments_roll_up_to_its_grade(
    team: TeamDb, media: MediaStore, tmp_path: Path
) -> None:
    admin = seat(team, media, team.admin)
    (tmp_path / "capture.mp4").write_bytes(synthetic_video.make_video(duration_s=6.0))
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"media": "capture.mp4", "source": "livestream"}) + "\n")
    ingest_manifest(admin.store.items, media, manifest, videos=admin.store.videos)
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    claim = mo.svc.claim_next()
    assert claim is not None
    meta = mo.svc.video_meta(claim)
    assert meta is not None and meta.duration_s == pytest.approx(6.0, abs=0.5)
    segments = [
        Segment(0.0, 2.0, Severity.NOT_ILLEGAL),
        Segment(2.0, 4.0, Severity.A),
        Segment(3.0, 6.0, Severity.C),
    ]
    token = str(uuid.uuid4())
    with pytest.raises(GradingInvalid, match="most severe segment"):
        mo.svc.submit(claim, graded(Severity.C), Exposure(), token, segments)
    assert team.owner.items.decisions(claim.item.id) == []
    receipt = mo.svc.submit(claim, graded(Severity.A), Exposure(), token, segments)
    assert team.owner.videos.decision_segments(receipt.decision_id) == sorted(segments)
    again = mo.svc.submit(claim, graded(Severity.A), Exposure(), token, segments)
    assert again.decision_id == receipt.decision_id
    assert team.owner.videos.decision_segments(receipt.decision_id) == sorted(segments)


# --------------------------------------------------------------------------- referrals
def test_a_lead_builds_lists_the_gaps_and_exports_a_referral(
    team: TeamDb, media: MediaStore, tmp_path: Path
) -> None:
    admin = seat(team, media, team.admin)
    command(team, team.admin, "referral", "reporter", "--org", "Example Ltd",
            "--contact-name", "Duty lead", "--contact-email", "tns@example.test",
            sign_in=True)  # fmt: skip
    full = add_item(admin.store, media, seed=1, subject=FULL_SUBJECT, chat=FULL_CHAT)
    bare = add_item(admin.store, media, seed=2)
    cleared = add_item(admin.store, media, seed=3)
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    for item, grading in ((full, REPORT_B), (bare, REPORT_B), (cleared, NOT_ILLEGAL)):
        claim = mo.svc.claim_next()
        assert claim is not None and claim.item.id == item
        mo.svc.submit(claim, grading, REVEALED, str(uuid.uuid4()))
    assert mo.svc.team is not None and mo.svc.team.referrals is None
    with team.raw(mo.person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT package FROM referrals")

    lee = seat(team, media, team.person("Lee", Role.LEAD))
    assert lee.svc.team is not None and lee.svc.team.referrals is not None
    referrals = lee.svc.team.referrals
    assert {a.item_id for a in referrals.awaiting()} == {full, bare}
    with pytest.raises(ReferralIncomplete) as gaps:
        referrals.build(bare, Destination.NCA)
    assert "account email" in gaps.value.missing
    assert referrals.missing(bare) == gaps.value.missing
    ref = referrals.build(full, Destination.NCA)
    assert ref.complete
    folder = tmp_path / "out"
    folder.mkdir()
    paths = referrals.export(ref.id, folder)
    assert sorted(p.name for p in paths) == sorted(ref.file_names)
    assert json.loads(paths[0].read_text())["reference"] == ref.reference
    assert referrals.get(ref.id).exported_at is not None
    (ev,) = team.owner.audit_events(full, kind="referral_exported")
    assert ev.user_id == lee.person.id
    assert {a.item_id for a in referrals.awaiting()} == {bare}


# --------------------------------------------------------------------------- retention
def test_an_admin_plans_and_runs_retention(team: TeamDb, media: MediaStore) -> None:
    clock = team.clock
    assert isinstance(clock, FakeClock)
    admin = seat(team, media, team.admin)
    item = add_item(admin.store, media, seed=7, subject=FULL_SUBJECT)
    sha = team.owner.items.item(item).media.sha256
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == item
    mo.svc.submit(claim, NOT_ILLEGAL, REVEALED, "t-1")
    clock.advance(400 * DAY)

    # As the CLI's `reviewer retention run` builds it, over the admin's own Store.
    service = RetentionService(admin.store.retention, media, admin.svc.account)
    plan = service.plan()
    assert [d.item_id for d in plan.plan.disposals] == [item]
    run = service.run()
    assert [d.item_id for d in run.done] == [item]
    assert run.blobs_deleted == [sha] and not media.has(sha)
    view = team.owner.items.item(item)
    assert (view.report_text, view.upload_ip, view.extra) == ("", None, {})
    (ev,) = team.owner.audit_events(item, kind="retention_disposed")
    assert ev.user_id == team.admin.id
    # Not a moderator's to run.
    with pytest.raises(AccessDenied):
        RetentionService(mo.store.retention, media, mo.svc.account).plan()


# --------------------------------------------------------------------------- audit
def test_the_audit_log_verifies_and_extends_a_checkpoint_taken_by_the_admin(
    team: TeamDb, media: MediaStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = seat(team, media, team.admin)
    add_item(admin.store, media, seed=1)
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    claim = mo.svc.claim_next()
    assert claim is not None
    mo.svc.submit(claim, NOT_ILLEGAL, Exposure(), "t-1")
    saved = tmp_path / "elsewhere" / "checkpoint.json"
    command(team, team.admin, "audit", "checkpoint", "--out", str(saved))
    assert json.loads(saved.read_text())["signature"]
    capsys.readouterr()
    command(team, team.admin, "audit", "verify", "--since", str(saved))
    assert "extends the checkpoint" in capsys.readouterr().out
    # More work, then a lead verifies against the admin's checkpoint too.
    add_item(admin.store, media, seed=2)
    claim = mo.svc.claim_next()
    assert claim is not None
    mo.svc.submit(claim, NOT_ILLEGAL, Exposure(), "t-2")
    lee = seat(team, media, team.person("Lee", Role.LEAD))
    command(team, lee.person, "audit", "verify", "--since", str(saved))
    assert "extends the checkpoint" in capsys.readouterr().out
    assert lee.svc.team is not None and lee.svc.team.dashboard is not None
    assert lee.svc.team.dashboard.snapshot().last_audit_checkpoint is not None
    # Nobody's own role can edit the log the verify reads.
    with team.raw(team.admin) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE audit_events SET kind = 'tampered' WHERE seq = 2")


# --------------------------------------------------------------------------- welfare
def test_an_admin_changes_the_welfare_settings_and_a_lead_may_not(
    team: TeamDb, media: MediaStore, capsys: pytest.CaptureFixture[str]
) -> None:
    lee = team.person("Lee", Role.LEAD)
    command(team, team.admin, "welfare", "settings", "--set", "break_minutes=15",
            sign_in=True)  # fmt: skip
    command(team, lee, "welfare", "settings", "--set", "break_minutes=5", sign_in=True,
            expect=1)  # fmt: skip
    assert team.owner.welfare.settings() == WelfareSettings(break_minutes=15)
    (changed,) = team.owner.audit_events(None, kind="welfare_settings_changed")
    assert changed.user_id == team.admin.id
    # The next sign-in works under the new settings.
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    assert mo.svc.welfare is not None
    mo.svc.welfare.start_break()
    assert team.clock is not None and isinstance(team.clock, FakeClock)
    team.clock.advance(14 * 60)
    with pytest.raises(Exception, match="break"):
        mo.svc.welfare.end_break()
    team.clock.advance(60)
    mo.svc.welfare.end_break()
    with team.raw(lee) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE welfare_settings SET data = '{}'")


def test_a_lead_ends_a_moderators_break_early_at_the_moderators_desk(
    team: TeamDb, media: MediaStore
) -> None:
    """The lead types their own name and password at the moderator's workstation:
    checked by the server, then by the gate; the moderator cannot do it themselves."""
    lee = team.person("Lee", Role.LEAD)
    mo = seat(team, media, team.person("Mo", Role.MODERATOR))
    welfare = mo.svc.welfare
    assert welfare is not None
    welfare.start_break()
    assert isinstance(team.clock, FakeClock)
    team.clock.advance(60)
    with pytest.raises(AccessDenied):
        welfare.lead_end_break(mo.person.account.name, "I feel fine", mo.person.password)
    with pytest.raises(AccessDenied):  # an admin is not a lead
        welfare.lead_end_break(team.admin.account.name, "urgent", team.admin.password)
    with pytest.raises(LoginFailed):
        welfare.lead_end_break(lee.account.name, "urgent", "not the password")
    assert welfare.state().mode.value == "on_break"
    welfare.lead_end_break(lee.account.name, "urgent escalation", lee.password)
    assert welfare.state().can_claim
    (event,) = team.owner.audit_events(kind="break_overridden")
    assert event.detail["lead"] == lee.account.name
    # Every check made at Mo's desk is on record as Mo's session, naming who was tried.
    failed = team.owner.audit_events(None, kind="desk_sign_in_failed")
    assert [(e.user_id, e.detail["person_id"]) for e in failed] == [(mo.person.id, lee.id)]
    proven = team.owner.audit_events(None, kind="desk_sign_in_ok")
    assert [(e.user_id, e.detail["person_id"]) for e in proven] == [
        (mo.person.id, mo.person.id),
        (mo.person.id, team.admin.id),
        (mo.person.id, lee.id),
    ]
    denied = team.owner.audit_events(None, kind="access_denied")
    assert [(e.user_id, e.detail["person_id"], e.detail["operation"]) for e in denied] == [
        (mo.person.id, mo.person.id, "end_break"),
        (mo.person.id, team.admin.id, "end_break"),
    ]
    # Lee never signed in anywhere: no login of Lee's is on record.
    assert all(e.user_id != lee.id for e in team.owner.audit_events(None, kind="login_ok"))
