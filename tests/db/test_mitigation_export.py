"""`reviewer audit mitigations`: per decision, the exposure mitigations in force, read
from the exposure ledger and the audit trail, on both backends."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import pytest
from referral_fixtures import REPORT_B, add_item

from db.media_store import MediaStore
from db.store import Store
from reviewer.cli import main
from reviewer.grading import Grading
from reviewer.mitigations import KNOWN_MATCH_NOTE
from reviewer.model import Exposure


def _decide(store: Store, item: int, exposure: Exposure, grading: Grading = REPORT_B) -> int:
    uid = store.accounts.ensure_user("mod").id
    claim = store.claims.claim_next(uid)
    assert claim is not None and claim.item.id == item
    store.claims.submit_decision(claim, grading, exposure, str(uuid.uuid4()))
    return claim.claim_id


@pytest.fixture
def decisions(store: Store, media: MediaStore) -> dict[str, int]:
    out = {}
    # Spotlighted a little: blurred preview and progressive reveal.
    out["spotlight"] = add_item(store, media, seed=1)
    _decide(store, out["spotlight"], Exposure(2.0, 1, 0.2, False, least_mode="spotlight"))
    # Shown fully unprotected: the blurred preview, but no progressive reveal.
    out["full"] = add_item(store, media, seed=2)
    _decide(store, out["full"], Exposure(5.0, 1, 1.0, True, least_mode="toggled"))
    # A known match confirmed without viewing.
    out["hash"] = add_item(store, media, seed=3)
    known = Grading(
        severity=REPORT_B.severity,
        age_band=REPORT_B.age_band,
        age_confidence=REPORT_B.age_confidence,
        production_context=REPORT_B.production_context,
        actions=REPORT_B.actions,
        note=f"{KNOWN_MATCH_NOTE}: SHA-256 exact match; list Demo v1.",
    )
    _decide(store, out["hash"], Exposure(), known)
    # Two videos graded from their keyframe sheets; one had its sound unmuted.
    videos = store.videos
    for name, seed in (("video_muted", 4), ("video_unmuted", 5)):
        out[name] = add_item(store, media, seed=seed)
        videos.add_video(store.items.item(out[name]).media.sha256, None, ())
    _decide(store, out["video_muted"], Exposure())
    uid = store.accounts.ensure_user("mod").id
    claim = store.claims.claim_next(uid)
    assert claim is not None and claim.item.id == out["video_unmuted"]
    # The same call ReviewService.record_audio makes when M is pressed.
    store.record_event(
        uid, "audio_unmuted", claim.item.id, {"claim_id": claim.claim_id, "reveal": "audio"}
    )
    store.claims.submit_decision(claim, REPORT_B, Exposure(), str(uuid.uuid4()))
    return out


def test_mitigations_in_force_per_decision(store: Store, decisions: dict[str, int]) -> None:
    from reviewer.mitigations import derive

    by_item = {d.item_id: {m.value for m in derive(d)} for d in store.mitigations.decisions()}
    assert by_item == {
        decisions["spotlight"]: {"blurred_preview", "progressive_reveal"},
        decisions["full"]: {"blurred_preview"},
        decisions["hash"]: {"hash_only_review"},
        decisions["video_muted"]: {
            "blurred_preview",
            "progressive_reveal",
            "frame_sampling",
            "audio_removed",
        },
        decisions["video_unmuted"]: {"blurred_preview", "progressive_reveal", "frame_sampling"},
    }


def test_the_cli_writes_jsonld_and_csv_and_never_overwrites(
    db_url: str,
    store: Store,
    decisions: dict[str, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = ["--db", db_url]
    out = tmp_path / "welfare.jsonld"
    assert main(["audit", "mitigations", "--out", str(out), *db]) == 0
    doc = json.loads(out.read_text())
    actions = [
        n for n in doc["@graph"] if n["@type"] == "cacontology-detection:ManualClassificationAction"
    ]
    assert len(actions) == 5 == doc["reviewer:decisions"]
    hashed = next(a for a in actions if a["reviewer:item"] == decisions["hash"])
    assert hashed["cacontology-analyst:usesExposureMitigation"] == [
        {"@id": "urn:x-reviewer:welfare:mitigation:hash_only_review"}
    ]
    assert "mod" not in out.read_text()  # reviewers by number only

    table = tmp_path / "welfare.csv"
    assert main(["audit", "mitigations", "--format", "csv", "--out", str(table), *db]) == 0
    rows = {int(r["item_id"]): r for r in csv.DictReader(table.open())}
    assert rows[decisions["video_unmuted"]]["audio_removed"] == "false"
    assert rows[decisions["video_muted"]]["audio_removed"] == "true"
    assert rows[decisions["full"]]["progressive_reveal"] == "false"

    before = table.read_text()
    assert main(["audit", "mitigations", "--format", "csv", "--out", str(table), *db]) == 1
    assert "already exists" in capsys.readouterr().err and table.read_text() == before
    # Decisions from a date on: none in the future.
    late = tmp_path / "late.csv"
    assert main(["audit", "mitigations", "--format", "csv", "--since", "2999-01-01",
                 "--out", str(late), *db]) == 0  # fmt: skip
    assert late.read_text().count("\n") == 1  # the header only
