"""What `plan_cache_mode=force_generic_plan` (db/engine.py's PG_OPTIONS) does to the
reads a person makes on a team server, each signed in as their own login role.

The setting makes every prepared statement take its generic plan from its first run,
which shortens a claim under row-level security (bench_claims). A generic plan does not
see a parameter's value, so a read whose best plan depends on it (a date bound, a user
id) could get slower. This bench seeds a team database (`--items` items in three
queues, `--cycles` claim + decide cycles by four moderators, about a third of the
decisions sampled for QA and some re-graded), then times, as a lead, the dashboard's
reads (queue depths, people's load) and the queue summaries, and as a QA reviewer the
QA queue; once with the application's options and once with PostgreSQL's default
(`plan_cache_mode=auto`), alternating, each on its own signed-in Store. Every read runs
`--repeats` times per round (a Store's statements are prepared on the server from their
first run, so the later runs are what a person sees over a shift). `--history N` adds
N items already decided (a table with months behind it: what the partial indexes of
open items are for).

Prints, per read, the median wall time per call each way and the ratio
generic / auto (above 1: the setting makes that read slower); the last line is
`BENCH {json}`.

    .venv/bin/python tests/bench/bench_plan_cache.py [--history 200000] [--exists-policies]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from pgserver import PgServer  # noqa: E402
from profile_claims_pg import exists_policies  # noqa: E402
from qa_helpers import SEED, graded  # noqa: E402
from team_server import Seat, TeamDb  # noqa: E402

import db.engine  # noqa: E402
from db.media_store import MediaStore  # noqa: E402
from reviewer.accounts import Role  # noqa: E402
from reviewer.model import Exposure, NewItem  # noqa: E402
from reviewer.permissions import Check, Operation  # noqa: E402
from reviewer.qa_model import QaSettings  # noqa: E402
from reviewer.sampling import SamplingPolicy  # noqa: E402
from reviewer.vocabulary import Severity, Source  # noqa: E402

APP = db.engine.PG_OPTIONS
DEFAULT = "-c jit=off -c plan_cache_mode=auto"
QA_SEED = SEED.encode()
SOURCES = list(Source)
SEVERITIES = (Severity.NOT_ILLEGAL, Severity.C, Severity.B, Severity.A)


def seated(team: TeamDb, media: MediaStore, person: Any, options: str) -> Seat:
    """`person` signed in on a Store whose connections carry `options`."""
    db.engine.PG_OPTIONS = options
    try:
        return team.sign_in(person, media, QA_SEED)
    finally:
        db.engine.PG_OPTIONS = APP


def seed(team: TeamDb, media: MediaStore, n_items: int, cycles: int) -> None:
    admin = team.sign_in(team.admin, media, QA_SEED)
    assert admin.svc.team is not None and admin.svc.team.gold is not None
    admin.svc.team.gold.set_settings(QaSettings(SamplingPolicy(0.33, True, 1.0, 0), gold_rate=0.0))
    # Ingest is the owner's (as reviewer ingest runs it); 500 media rows shared.
    shas = [hashlib.sha256(f"media-{i}".encode()).hexdigest() for i in range(500)]
    for sha in shas:
        team.owner.items.add_media(sha, 100_000, "JPEG", 800, 600, None)
    queues = ("General",) * 6 + ("Specialist",) * 3 + ("Urgent",)
    batch = [
        NewItem(
            queue=queues[i % len(queues)],
            source=SOURCES[i % len(SOURCES)],
            media_sha256=shas[i % len(shas)],
            dedupe_key=hashlib.sha256(f"item-{i}".encode()).hexdigest(),
            imminent_risk=i % 97 == 0,
            report_text="reported by the benchmark",
        )
        for i in range(n_items)
    ]
    team.owner.items.enqueue_many(batch)
    mods = [team.sign_in(team.person(f"Mod{i}", Role.MODERATOR), media, QA_SEED) for i in range(4)]
    # Claims and decisions through the Store's claim lifecycle and the gate, as the
    # review service runs them (without the welfare pauses between items).
    for i in range(cycles):
        mo = mods[i % len(mods)]
        me = mo.person.account
        claim = mo.store.claims.claim_next(
            me.id, lease_seconds=600, check=Check(me.id, me.name, Operation.CLAIM)
        )
        assert claim is not None
        exposure = Exposure(seconds_revealed=1.0 + i % 5, reveal_count=1, max_area_fraction=0.3)
        mo.store.claims.submit_decision(
            claim,
            graded(SEVERITIES[i % len(SEVERITIES)]),
            exposure,
            f"seed-{i}",
            check=Check(me.id, me.name, Operation.SUBMIT, claim_id=claim.claim_id),
        )
    qa = team.sign_in(team.person("QaSeed", Role.QA), media, QA_SEED)
    assert qa.svc.team is not None and qa.svc.team.qa_session is not None
    for i in range(cycles // 20):
        sample = qa.svc.team.qa_session.claim_next()
        if sample is None:
            break
        qa.svc.team.qa_session.submit(sample, graded(Severity.C), Exposure(), f"qa-{i}")


def history(team: TeamDb, n: int) -> None:
    """`n` more items, already decided: only the items table's share of a long history
    (what the statements on its partial indexes of open items have to skip)."""
    shas = [hashlib.sha256(f"media-{i}".encode()).hexdigest() for i in range(500)]
    batch = [
        NewItem(
            queue="General",
            source=SOURCES[i % len(SOURCES)],
            media_sha256=shas[i % len(shas)],
            dedupe_key=hashlib.sha256(f"old-item-{i}".encode()).hexdigest(),
            imminent_risk=False,
            report_text="reported by the benchmark",
        )
        for i in range(n)
    ]
    for i in range(0, n, 20_000):
        team.owner.items.enqueue_many(batch[i : i + 20_000])
    with team.owner.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE items SET status = 'decided' WHERE status = 'pending'"
            " AND dedupe_key IN (SELECT dedupe_key FROM items ORDER BY id DESC LIMIT %(n)s)",
            {"n": n},
        )
        conn.exec_driver_sql("ANALYZE items")


def reads(lead: Seat, qa: Seat) -> dict[str, Callable[[], object]]:
    assert lead.svc.team is not None and lead.svc.team.dashboard is not None
    assert qa.svc.team is not None and qa.svc.team.qa_session is not None
    dash, session = lead.svc.team.dashboard, qa.svc.team.qa_session
    return {
        "dashboard snapshot (lead)": dash.snapshot,
        "queue summaries (lead)": lead.svc.queues,
        "QA queue (QA)": session.queues,
    }


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--cycles", type=int, default=1_200)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument(
        "--history",
        type=int,
        default=0,
        help="items more, marked decided by the owner (a database with months behind it)",
    )
    ap.add_argument(
        "--exists-policies",
        action="store_true",
        help="experiment: the policies of 0023 as one EXISTS each (profile_claims_pg.py)",
    )
    args = ap.parse_args()
    with PgServer() as pg, tempfile.TemporaryDirectory() as tmp:
        team = TeamDb(pg)
        try:
            media = MediaStore(Path(tmp) / "media", os.urandom(32))
            t0 = time.perf_counter()
            seed(team, media, args.items, args.cycles)
            if args.history:
                history(team, args.history)
            if args.exists_policies:
                with team.owner.engine.begin() as conn:
                    for sql in exists_policies():
                        conn.exec_driver_sql(sql)
            took = time.perf_counter() - t0
            print(f"seeded {args.items} items, {args.cycles} decisions in {took:.0f} s")
            lead_p = team.person("Lead", Role.LEAD, Role.MODERATOR)
            qa_p = team.person("Quinn", Role.QA)
            ways = {
                "generic": reads(seated(team, media, lead_p, APP), seated(team, media, qa_p, APP)),
                "auto": reads(
                    seated(team, media, lead_p, DEFAULT), seated(team, media, qa_p, DEFAULT)
                ),
            }
            times: dict[str, dict[str, list[float]]] = {w: {r: [] for r in ways[w]} for w in ways}
            for rnd in range(args.rounds):
                order = ("generic", "auto") if rnd % 2 == 0 else ("auto", "generic")
                for way in order:
                    for name, fn in ways[way].items():
                        times[way][name] += timed(fn, args.repeats)
        finally:
            team.close()
    result: dict[str, Any] = {}
    for name in times["generic"]:
        g = statistics.median(times["generic"][name]) * 1000
        a = statistics.median(times["auto"][name]) * 1000
        result[name] = {"generic_ms": round(g, 2), "auto_ms": round(a, 2), "ratio": round(g / a, 2)}
        print(f"  {name:28s} generic {g:8.2f} ms  auto {a:8.2f} ms  generic/auto {g / a:.2f}")
    policies = "one EXISTS each (experiment)" if args.exists_policies else "as migrated"
    bench = {
        "bench": "plan_cache",
        "items": args.items,
        "decided_history": args.history,
        "policies": policies,
        "reads": result,
    }
    print("BENCH " + json.dumps(bench))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
