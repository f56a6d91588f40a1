"""A synthetic demo queue: generated pictures with realistic sizes, sources and context.

No real imagery, ever: every picture is shapes, gradients, noise and a label.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from reviewer import synthetic
from reviewer.ingest import (
    Entry,
    IngestMedia,
    IngestReport,
    IngestStore,
    ItemHook,
    Progress,
    ingest_bytes,
)
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
) -> IngestReport:
    """Generate and ingest `n` synthetic flagged items (about one in twelve broken)."""
    rng = random.Random(seed)
    sources = [s for s, _ in _SOURCES]
    source_w = [w for _, w in _SOURCES]
    sizes = [(mp, w) for mp, w in _SIZES if mp <= max_megapixels] or [(0.3, 1)]
    broken_kinds = list(synthetic.BROKEN_KINDS)
    now = datetime.now(UTC)
    report = IngestReport()
    for i in range(n):
        source = rng.choices(sources, source_w)[0]
        item_seed = seed * 100_003 + i
        if broken and i % 12 == 11:
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
            imminent_risk=source is Source.LIVESTREAM and rng.random() < 0.3,
            reported_accounts=(f"user{rng.randrange(10_000, 99_999)}@example.test",),
            upload_ip=f"{rng.choice(_TEST_NETS)}.{rng.randrange(1, 255)}",
            upload_time=now - timedelta(minutes=rng.randrange(5, 3000)),
            report_text=_REPORTS[source],
            extra={"demo": True, "synthetic": label, **_referral_context(seed, i, now)},
        )
        ingest_bytes(store, media, entry, data, report, on_new_item)
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
