"""Video media and per-segment grades: a repository on db.repo.Repo.

- `add_video`: marks a media row as a video and stores what it is, with the PDQ of each
  keyframe (per-frame matching), in one transaction;
- `stage_segments`: the segments a moderator graded, stored under the decision's client
  token in a transaction of their own, just BEFORE the decision is submitted. The
  Store's submit transaction cannot be joined from here, so a segment belongs to a
  decision through that token: `decision_segments` only returns segments whose token
  has a stored decision, and a submit that never lands leaves staged rows nobody reads
  (a retried submit with the same token replaces them). The audit chain records the
  staging, so an inspector sees the segments next to the decision event.
- `livestream_waiting`: pending livestream captures per queue, for the lead.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update

from db.models import (
    DecisionRow,
    ItemRow,
    MediaRow,
    MediaVideoRow,
    VideoKeyframeRow,
    VideoSegmentRow,
)
from db.open_items import PENDING
from db.repo import Repo, translate_errors
from reviewer.errors import NotFound
from reviewer.model import Claim
from reviewer.segments import Segment
from reviewer.video_model import VideoMeta
from reviewer.video_types import FramePdq, VideoProbe
from reviewer.vocabulary import Severity, Source

media_t = MediaRow.__table__
videos_t = MediaVideoRow.__table__
keyframes_t = VideoKeyframeRow.__table__
segments_t = VideoSegmentRow.__table__
decisions_t = DecisionRow.__table__
items_t = ItemRow.__table__


class VideoRepo(Repo):
    @translate_errors
    def add_video(self, sha256: str, probe: VideoProbe | None, frames: Sequence[FramePdq]) -> None:
        """Mark media `sha256` a video; store its probe and keyframe PDQs (once).
        `probe` None: a video that could not be read (kind only; the reason is on the
        media row)."""
        with self.write() as conn:
            mid = conn.execute(select(media_t.c.id).where(media_t.c.sha256 == sha256)).scalar()
            if mid is None:
                raise NotFound(f"media {sha256} is not in the store")
            conn.execute(update(media_t).where(media_t.c.id == mid).values(kind="video"))
            if probe is None:
                return
            known = conn.execute(
                select(videos_t.c.media_id).where(videos_t.c.media_id == mid)
            ).scalar()
            if known is not None:
                return  # the same bytes ingested again
            conn.execute(
                insert(videos_t).values(
                    media_id=mid,
                    container=probe.container,
                    codec=probe.codec,
                    rotation=probe.rotation,
                    duration_s=probe.duration_s,
                    fps=probe.fps,
                    frame_count_estimate=probe.frame_count_estimate,
                    has_audio=probe.has_audio,
                    keyframe_times=list(probe.keyframe_times),
                )
            )
            if frames:
                conn.execute(
                    insert(keyframes_t),
                    [
                        {
                            "media_id": mid,
                            "time_s": f.time_s,
                            "pdq": f.hex,
                            "pdq_quality": f.quality,
                        }
                        for f in frames
                    ],
                )

    @translate_errors
    def video_meta(self, sha256: str) -> VideoMeta | None:
        """What the ingest stored about video `sha256`; None for a picture or an
        unreadable video."""
        with self.read() as conn:
            row = conn.execute(
                select(videos_t, media_t.c.width, media_t.c.height)
                .join(media_t, media_t.c.id == videos_t.c.media_id)
                .where(media_t.c.sha256 == sha256)
            ).first()
            if row is None:
                return None
            pdqs = conn.execute(
                select(keyframes_t.c.time_s, keyframes_t.c.pdq, keyframes_t.c.pdq_quality)
                .where(keyframes_t.c.media_id == row.media_id)
                .order_by(keyframes_t.c.time_s, keyframes_t.c.id)
            ).all()
        return VideoMeta(
            container=row.container,
            codec=row.codec,
            width=row.width,
            height=row.height,
            duration_s=row.duration_s,
            fps=row.fps,
            has_audio=bool(row.has_audio),
            keyframe_times=tuple(float(t) for t in row.keyframe_times or ()),
            keyframe_pdqs=tuple(FramePdq(t, bytes.fromhex(p), q) for t, p, q in pdqs),
        )

    @translate_errors
    def media_kind(self, sha256: str) -> str | None:
        with self.read() as conn:
            return conn.execute(select(media_t.c.kind).where(media_t.c.sha256 == sha256)).scalar()

    @translate_errors
    def stage_segments(self, claim: Claim, client_token: str, segments: Sequence[Segment]) -> None:
        """Store `segments` under `client_token` (replacing any staged before), unless a
        decision with that token is already stored (a retry: its segments stand)."""
        with self.write() as conn:
            decided = conn.execute(
                select(decisions_t.c.id).where(decisions_t.c.client_token == client_token)
            ).scalar()
            if decided is not None:
                return
            conn.execute(delete(segments_t).where(segments_t.c.client_token == client_token))
            if segments:
                now = self.now_value(conn)  # executemany takes values, not expressions
                conn.execute(
                    insert(segments_t),
                    [
                        {
                            "client_token": client_token,
                            "item_id": claim.item.id,
                            "claim_id": claim.claim_id,
                            "user_id": claim.user_id,
                            "start_s": s.start_s,
                            "end_s": s.end_s,
                            "severity": s.severity.value,
                            "staged_at": now,
                        }
                        for s in segments
                    ],
                )
            self.audit(
                conn,
                claim.user_id,
                "segments_staged",
                claim.item.id,
                {
                    "claim_id": claim.claim_id,
                    "client_token": client_token,
                    "segments": [[s.start_s, s.end_s, s.severity.value] for s in segments],
                },
            )

    @translate_errors
    def decision_segments(self, decision_id: int) -> list[Segment]:
        """The segments stored with decision `decision_id`, in time order."""
        with self.read() as conn:
            rows = conn.execute(
                select(segments_t.c.start_s, segments_t.c.end_s, segments_t.c.severity)
                .join(decisions_t, decisions_t.c.client_token == segments_t.c.client_token)
                .where(
                    decisions_t.c.id == decision_id,
                    # The decision's own claim: a token reused elsewhere cannot leak in.
                    segments_t.c.claim_id == decisions_t.c.claim_id,
                )
                .order_by(segments_t.c.start_s, segments_t.c.end_s)
            ).all()
        return [Segment(r.start_s, r.end_s, Severity(r.severity)) for r in rows]

    @translate_errors
    def livestream_waiting(self) -> dict[int, int]:
        """Pending livestream captures per queue id (queues with none are left out)."""
        with self.read() as conn:
            rows = conn.execute(
                select(items_t.c.queue_id, func.count())
                .where(items_t.c.status == PENDING, items_t.c.source == Source.LIVESTREAM.value)
                .group_by(items_t.c.queue_id)
            ).all()
        return {int(q): int(n) for q, n in rows}
