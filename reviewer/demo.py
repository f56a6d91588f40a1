"""A synthetic demo queue: generated pictures with realistic sizes, sources and context.

No real imagery, ever: every picture is shapes, gradients, noise and a label.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from reviewer import synthetic, synthetic_video
from reviewer.ingest import (
    IngestMedia,
    IngestReport,
    IngestStore,
    ItemHook,
    Progress,
    ingest_bytes,
)
from reviewer.manifest import Entry
from reviewer.synthetic_video import VideoSpec
from reviewer.video_review import VideoSink
from reviewer.vocabulary import Source

# Roughly the mix a trust and safety team sees: most volume from classifiers and users.
_SOURCES = [
    (Source.LIVESTREAM, 1),
    (Source.NGO, 2),
    (Source.TRUSTED_FLAGGER, 1),
    (Source.HASH_MATCH, 3),
    (Source.CLASSIFIER, 5),
    (Source.USER_REPORT, 4),
]
# Camera and phone sizes; small ones are commoner, as in real uploads.
_SIZES = [(0.3, 6), (1, 5), (2, 4), (5, 3), (8, 2), (12, 2), (24, 1)]
_REPORTS = {
    Source.LIVESTREAM: "Live broadcast flagged by stream safety model; capture attached.",
    Source.NGO: "Referral from partner hotline: reported URL resolved to this upload.",
    Source.TRUSTED_FLAGGER: "Trusted flagger report: account shares content in a series.",
    Source.HASH_MATCH: "Upload matched an entry on an NGO hash list at ingest.",
    Source.CLASSIFIER: "Classifier score above review threshold.",
    Source.USER_REPORT: "User report: 'this account is sending images to minors'.",
}
# Documentation address ranges (RFC 5737): never anyone's real address.
_TEST_NETS = ["192.0.2", "198.51.100", "203.0.113"]


# Short synthetic videos (shapes moving over gradients, a tone for audio), small and
# quick to make (under a second each). Each replaces the picture item at its index.
_VIDEOS: list[tuple[int, Source, str, VideoSpec]] = [
    (
        2,
        Source.LIVESTREAM,
        "livestream capture (fragmented MP4, audio)",
        VideoSpec(
            container="mp4",
            width=640,
            height=360,
            duration_s=12.0,
            fps=10,
            gop_s=1.0,
            audio=True,
            fragmented=True,
        ),
    ),
    (
        7,
        Source.CLASSIFIER,
        "WebM VP9",
        VideoSpec(container="webm", width=480, height=270, duration_s=8.0, fps=10),
    ),
    (
        13,
        Source.USER_REPORT,
        "MKV H.264, audio",
        VideoSpec(container="mkv", width=640, height=360, duration_s=10.0, fps=10, audio=True),
    ),
    (19, Source.USER_REPORT, "broken:truncated_mp4", VideoSpec()),  # spec unused: broken
]
_VIDEO_REPORTS = {
    Source.LIVESTREAM: "Live broadcast flagged by stream safety model; recording attached.",
    Source.CLASSIFIER: "Classifier score above review threshold on uploaded video.",
    Source.USER_REPORT: "User report: 'this account posted a video of a child'.",
}


def _queue_for(source: Source) -> str:
    return "General" if source in (Source.CLASSIFIER, Source.USER_REPORT) else "Child safety"


def generate_demo(
    store: IngestStore,
    media: IngestMedia,
    n: int,
    seed: int = 0,
    max_megapixels: float = 24.0,
    broken: bool = True,
    progress: Progress | None = None,
    on_new_item: ItemHook | None = None,
    videos: VideoSink | None = None,
) -> IngestReport:
    """Generate and ingest `n` synthetic flagged items (about one in twelve broken).

    With `videos` (where video details are stored), items 3, 8, 14 and 20 are short
    videos instead of pictures: a livestream capture, a WebM, an MKV with audio and a
    truncated MP4 (the broken one only when `broken`)."""
    rng = random.Random(seed)
    sources = [s for s, _ in _SOURCES]
    source_w = [w for _, w in _SOURCES]
    sizes = [(mp, w) for mp, w in _SIZES if mp <= max_megapixels] or [(0.3, 1)]
    broken_kinds = list(synthetic.BROKEN_KINDS)
    now = datetime.now(UTC)
    report = IngestReport()
    video_at = {i: (src, label, spec) for i, src, label, spec in _VIDEOS} if videos else {}
    for i in range(n):
        source = rng.choices(sources, source_w)[0]
        item_seed = seed * 100_003 + i
        report_text = _REPORTS[source]
        if i in video_at and (broken or video_at[i][1] != "broken:truncated_mp4"):
            source, label, spec = video_at[i]
            report_text = _VIDEO_REPORTS[source]
            if label.startswith("broken:"):
                data = synthetic_video.BROKEN_KINDS[label.split(":", 1)[1]](item_seed)
            else:
                data = synthetic_video.make_video(spec, seed=item_seed)
        elif broken and i % 12 == 11:
            kind = broken_kinds[(i // 12) % len(broken_kinds)]
            data = synthetic.BROKEN_KINDS[kind](item_seed)
            label = f"broken:{kind}"
        else:
            mp = rng.choices([s for s, _ in sizes], [w for _, w in sizes])[0]
            fmt = "PNG" if mp <= 2 and rng.random() < 0.3 else "JPEG"
            w, h = synthetic.size_for(mp)
            if rng.random() < 0.25:
                w, h = h, w  # portrait, as phones shoot
            img = synthetic.make_image(w, h, item_seed, f"DEMO {i + 1} · {source.value}")
            data = synthetic.encode(img, fmt, quality=rng.choice([75, 85, 92]))
            label = f"{fmt} {w}x{h}"
        entry = Entry(
            line=i + 1,
            source=source,
            queue=_queue_for(source),
            external_id=f"demo-{seed}-{i}",
            # The demo's livestream capture is not imminent risk: it shows the livestream rank.
            imminent_risk=source is Source.LIVESTREAM and i not in video_at and rng.random() < 0.3,
            reported_accounts=(f"user{rng.randrange(10_000, 99_999)}@example.test",),
            upload_ip=f"{rng.choice(_TEST_NETS)}.{rng.randrange(1, 255)}",
            upload_time=now - timedelta(minutes=rng.randrange(5, 3000)),
            report_text=report_text,
            extra={"demo": True, "synthetic": label, **_referral_context(seed, i, now)},
        )
        ingest_bytes(store, media, entry, data, report, on_new_item, videos)
        if progress:
            progress(i + 1, n)
    return report


def _referral_context(seed: int, i: int, now: datetime) -> dict[str, Any]:
    """Synthetic account and chat data for referrals: complete for one item in three,
    with gaps (no phone, too few logins, no ports) for the next, none for the third.

    A generator of its own, so the pictures and sources stay those of earlier versions.
    Addresses are RFC 5737 documentation ranges; emails are @example.test."""
    kind = i % 3
    if kind == 2:
        return {}
    rng = random.Random(f"referral-context/{seed}/{i}")
    user = f"user{rng.randrange(10_000, 99_999)}"

    def ip() -> str:
        return f"{rng.choice(_TEST_NETS)}.{rng.randrange(1, 255)}"

    def at(minutes_ago: int) -> str:
        t = now - timedelta(minutes=minutes_ago)
        return t.isoformat().replace("+00:00", "Z")

    upload_ip = ip()
    uploaded = rng.randrange(5, 3000)
    logins = 4 if kind == 0 else 2
    subject: dict[str, Any] = {
        "account_id": user,
        "email": f"{user}@example.test",
        "phone": f"+44 7700 900{rng.randrange(100, 999)}" if kind == 0 else None,
        "linked_accounts": [f"alt-{user}"] if kind == 0 else [],
        "device_ids": [f"android-{rng.getrandbits(32):08x}"] if kind == 0 else [],
        "upload_ips": [
            {
                "ip": upload_ip,
                "at": at(uploaded),
                "port": rng.randrange(1024, 65535) if kind == 0 else None,
            }
        ],
        "login_ips": [
            {"ip": ip(), "at": at(uploaded + 60 * (n + 1)), "port": rng.randrange(1024, 65535)}
            for n in range(logins)
        ],
    }
    chat = [
        {
            "at": at(uploaded + 3 - n),
            "sender": user if n % 2 == 0 else "other-account",
            "ip": upload_ip if n % 2 == 0 else (ip() if kind == 0 else None),
            "text": f"synthetic chat line {n + 1}",
        }
        for n in range(4)
    ]
    return {"subject": subject, "chat": chat}
