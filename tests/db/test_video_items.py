"""Video items through ingest, the review service and the database.

Every video is synthetic, made by reviewer.synthetic_video with PyAV.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import wiring
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic_video
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.grading import Grading, GradingInvalid
from reviewer.ingest import ingest_manifest
from reviewer.model import Exposure
from reviewer.segments import Segment
from reviewer.vocabulary import (
    AgeBand,
    AgeConfidence,
    NotAssessableReason,
    ProductionContext,
    Severity,
    Source,
)


def _grading(severity: Severity) -> Grading:
    if severity.is_category:
        return Grading(
            severity=severity,
            age_band=AgeBand.B11_13,
            age_confidence=AgeConfidence.PROBABLE,
            production_context=ProductionContext.UNKNOWN,
        )
    if severity is Severity.NOT_ASSESSABLE:
        return Grading(severity=severity, not_assessable_reason=NotAssessableReason.UNREADABLE)
    return Grading(severity=severity)


def _manifest(tmp: Path, files: dict[str, bytes], source: str = "livestream") -> Path:
    lines = []
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        lines.append(json.dumps({"media": name, "source": source, "id": name}))
    path = tmp / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


VIDEOS = {
    "capture.mp4": dict(container="mp4", duration_s=4.0, audio=True, fragmented=True),
    "clip.webm": dict(container="webm", duration_s=3.0),
    "clip.mov": dict(container="mov", duration_s=3.0),
    "clip.mkv": dict(container="mkv", duration_s=5.0, audio=True),
}


def test_videos_are_ingested_with_details_and_per_keyframe_pdq(
    store: Store, media: MediaStore, tmp_path: Path
) -> None:
    repo = store.videos
    files = {
        name: synthetic_video.make_video(seed=i, **spec)
        for i, (name, spec) in enumerate(VIDEOS.items())
    }
    report = ingest_manifest(store.items, media, _manifest(tmp_path, files), videos=repo)
    assert report.ok and report.added == 4 and report.unreadable == 0
    for item_id, (name, spec) in zip(report.item_ids, VIDEOS.items(), strict=True):
        item = store.items.item(item_id)
        assert item.media.readable and item.media.width == 320
        assert repo.media_kind(item.media.sha256) == "video"
        meta = repo.video_meta(item.media.sha256)
        assert meta is not None, name
        assert meta.container == spec["container"]
        assert meta.duration_s == pytest.approx(spec["duration_s"], abs=0.1)
        assert meta.has_audio is bool(spec.get("audio"))
        # One keyframe a second (gop_s=1): each hashed, for per-frame matching.
        assert len(meta.keyframe_times) == round(spec["duration_s"])
        assert [f.time_s for f in meta.keyframe_pdqs] == pytest.approx(meta.keyframe_times)
        assert all(len(f.pdq) == 32 for f in meta.keyframe_pdqs)
        # The original bytes are kept, encrypted, as evidence.
        assert media.get(item.media.sha256) == files[name]


@pytest.mark.parametrize("kind", sorted(synthetic_video.BROKEN_KINDS))
def test_broken_video_is_kept_not_assessable_within_a_time_limit(
    store: Store, media: MediaStore, tmp_path: Path, kind: str
) -> None:
    repo = store.videos
    data = synthetic_video.BROKEN_KINDS[kind](3)
    started = time.monotonic()
    report = ingest_manifest(
        store.items, media, _manifest(tmp_path, {"bad.bin": data}), videos=repo
    )
    elapsed = time.monotonic() - started
    # The worker's limit is 30 s at ingest; these fail long before it.
    assert elapsed < 30, f"{kind} took {elapsed:.1f} s"
    assert report.ok and report.added == 1 and report.unreadable == 1
    item = store.items.item(report.item_ids[0])
    assert not item.media.readable and item.media.unreadable_reason
    assert repo.video_meta(item.media.sha256) is None
    assert media.get(item.media.sha256) == data


def test_a_hanging_decode_becomes_a_timeout_not_a_hang(
    store: Store, media: MediaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reviewer.video_model as video_model

    real = video_model.inspect_video
    # A time limit far below what even a small video needs stands in for a decoder
    # that never returns: the worker is stopped and the item kept as unreadable.
    monkeypatch.setattr(
        video_model,
        "inspect_video",
        lambda data, *a, **k: real(data, *a, **{**k, "time_limit_s": 0.001}),
    )
    data = synthetic_video.make_video(duration_s=4.0)
    started = time.monotonic()
    report = ingest_manifest(
        store.items, media, _manifest(tmp_path, {"v.mp4": data}), videos=store.videos
    )
    assert time.monotonic() - started < 15
    assert report.unreadable == 1
    reason = store.items.item(report.item_ids[0]).media.unreadable_reason or ""
    assert "took longer" in reason or "timeout" in reason


def test_segments_roll_up_to_the_items_grade_through_the_service(
    store: Store, media: MediaStore, tmp_path: Path
) -> None:
    repo = store.videos
    files = {"capture.mp4": synthetic_video.make_video(duration_s=6.0)}
    ingest_manifest(store.items, media, _manifest(tmp_path, files), videos=repo)
    service = sign_in(wiring.workstation(store, media, videos=repo), "mod")
    claim = service.claim_next()
    assert claim is not None
    segments = [
        Segment(0.0, 2.0, Severity.NOT_ILLEGAL),
        Segment(2.0, 4.0, Severity.A),
        Segment(3.0, 6.0, Severity.C),
    ]
    token = str(uuid.uuid4())
    # The grade must be the roll-up (A): anything else is refused and nothing is stored.
    with pytest.raises(GradingInvalid, match="most severe segment"):
        service.submit(claim, _grading(Severity.C), Exposure(), token, segments)
    assert store.items.decisions() == []
    # A segment past the end of the video is refused too.
    with pytest.raises(GradingInvalid, match="after the video"):
        service.submit(
            claim, _grading(Severity.A), Exposure(), token, [Segment(5.0, 9.0, Severity.A)]
        )
    receipt = service.submit(claim, _grading(Severity.A), Exposure(), token, segments)
    [decision] = store.items.decisions(claim.item.id)
    assert decision["severity"] == "A"
    assert repo.decision_segments(receipt.decision_id) == sorted(segments)
    # A retry with the same token (after a dropped connection) stores nothing twice.
    again = service.submit(claim, _grading(Severity.A), Exposure(), token, segments)
    assert again.decision_id == receipt.decision_id
    assert repo.decision_segments(receipt.decision_id) == sorted(segments)
    [staged] = store.audit_events(claim.item.id, kind="segments_staged")
    assert staged.detail["client_token"] == token
    assert len(staged.detail["segments"]) == 3


def test_audio_unmute_is_audited(store: Store, media: MediaStore, tmp_path: Path) -> None:
    repo = store.videos
    files = {"a.mkv": synthetic_video.make_video(container="mkv", audio=True)}
    ingest_manifest(store.items, media, _manifest(tmp_path, files), videos=repo)
    service = sign_in(wiring.workstation(store, media, videos=repo), "mod")
    claim = service.claim_next()
    assert claim is not None
    service.record_audio(claim, True)
    service.record_audio(claim, False)
    kinds = [e.kind for e in store.audit_events(claim.item.id) if e.kind.startswith("audio")]
    assert kinds == ["audio_unmuted", "audio_muted"]


def test_livestream_captures_come_before_all_but_imminent_risk(
    store: Store, enqueue, clock: FakeClock, media: MediaStore
) -> None:
    repo = store.videos
    # Oldest first: every other source waits longer than the livestream capture.
    others = []
    for source in (Source.USER_REPORT, Source.CLASSIFIER, Source.HASH_MATCH, Source.NGO):
        others += enqueue(store, 1, source, queue="Child safety")
        clock.advance(60)
    clock.advance(60)
    [live] = enqueue(store, 1, Source.LIVESTREAM, queue="Child safety")
    clock.advance(60)
    [risk] = enqueue(
        store, 1, Source.USER_REPORT, queue="Child safety", imminent_risk=True, tag="r"
    )
    service = sign_in(wiring.workstation(store, media, videos=repo), "lead")
    # The lead sees the livestream captures waiting, per queue.
    [queue] = service.queues()
    assert (queue.pending, queue.livestream) == (6, 1)
    order = []
    while (claim := service.claim_next()) is not None:
        order.append(claim.item.id)
    assert order[:2] == [risk, live]
    assert order[2:] == list(reversed(others))  # NGO, hash match, classifier, user report
    assert service.queues()[0].livestream == 0


def test_demo_includes_short_videos_a_livestream_capture_and_a_broken_one(
    store: Store, media: MediaStore
) -> None:
    repo = store.videos
    started = time.monotonic()
    report = generate_demo(store.items, media, 20, seed=1, max_megapixels=0.3, videos=repo)
    assert time.monotonic() - started < 60
    assert report.added == 20
    videos = [store.items.item(i) for i in report.item_ids]
    videos = [v for v in videos if repo.media_kind(v.media.sha256) == "video"]
    assert len(videos) == 4
    readable = [v for v in videos if v.media.readable]
    assert len(readable) == 3
    assert any(v.source is Source.LIVESTREAM and not v.imminent_risk for v in readable)
    [broken] = [v for v in videos if not v.media.readable]
    assert broken.extra["synthetic"].startswith("broken:")
