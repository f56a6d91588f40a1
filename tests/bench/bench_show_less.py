"""Benchmark: how much of a queue "show less" decides without an unprotected pixel.

Run from the repository root:

    python tests/bench/bench_show_less.py [--items 200] [--seed 1]

It builds a synthetic queue (reviewer.matching_demo: 30 % re-uploads of pictures on
an imported graded hash list, half listed by MD5 and half by PDQ of an altered
original; 20 % altered copies of other items in the queue; the rest unrelated),
ingested with hashing, matching and grouping as `reviewer ingest` does. A scripted
moderator then works the queue through the services the review screen uses
(ReviewService to claim and grade, ShowLess for known matches and groups):

- an item with a graded known match is confirmed from the protected view (nothing
  revealed);
- any other item is revealed in full, unprotected, for REVEAL_S seconds (the worst
  case: a moderator who looks at everything) and graded with its true grade;
- after each grade, the rest of its near-duplicate group is confirmed from the
  protected group grid.

The share of items decided with no unprotected pixel shown is read back from the
exposure ledger (every exposure of the item: nothing revealed, no full reveal). The
same queue worked by the same moderator with show-less ignored is the baseline,
measured in the same run: its unprotected seconds are the floor the ratio compares
against. Every item's true grade is known to the generator, so the benchmark also
counts items decided unseen with a grade other than their true one (must be 0).

Ends with one `BENCH {json}` line (`unseen_share`, goal >= 0.40). Not a pytest
module: no test_ names, nothing is collected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Standalone script: make the repository (and tests/, for the account helper) importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wiring
from sign_in import stored_account

from db.media_store import MediaStore
from db.store import Store
from reviewer.grading import Grading
from reviewer.matching import ShowLess
from reviewer.matching_demo import MatchingDemo, generate_matching_demo
from reviewer.model import Exposure
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity

GOAL_UNSEEN_SHARE = 0.40
REVEAL_S = 4.0  # seconds a full reveal lasts in the script
BENCH_AUDIT_KEY = b"bench-show-less-audit-key-32byte"  # a throwaway store's audit MAC key
_LIST_GRADES = {"A": AgeBand.B7_10, "B": AgeBand.B11_13, "C": AgeBand.B14_15}
# True grades of the items not on the list (cycled); a near-duplicate's is its original's.
_OTHER_TRUTH = (Severity.B, Severity.NOT_ILLEGAL, Severity.C, Severity.A, Severity.ADULT)


def _grading(severity: Severity) -> Grading:
    if not severity.is_category:
        return Grading(severity=severity)
    return Grading(
        severity=severity,
        age_band=_LIST_GRADES[severity.value],
        age_confidence=AgeConfidence.PROBABLE,
        production_context=ProductionContext.UNKNOWN,
    )


def _truth(demo: MatchingDemo) -> dict[int, Severity]:
    """Each item's true grade, as the generator made it."""
    truth: dict[int, Severity] = {}
    for i, item in enumerate(demo.known):  # reviewer.matching_demo grades A, B, C in turn
        truth[item] = (Severity.A, Severity.B, Severity.C)[i % 3]
    for j, item in enumerate(demo.other):
        truth[item] = _OTHER_TRUTH[j % len(_OTHER_TRUTH)]
    for j, item in enumerate(demo.near):  # near[j] is an altered copy of other[j]
        truth[item] = truth[demo.other[j]]
    return truth


@dataclass
class Outcome:
    items: int
    unseen: int
    unseen_wrong: int
    confirmed_known: int
    propagated: int
    graded_by_eye: int
    unprotected_seconds: float
    elapsed_s: float

    @property
    def unseen_share(self) -> float:
        return self.unseen / self.items


def run(url: str, media_dir: Path, items: int, seed: int, use_show_less: bool) -> Outcome:
    store = Store.open(url, audit_key=BENCH_AUDIT_KEY)
    try:
        media = MediaStore(media_dir, os.urandom(32))
        repo = store.hashes
        demo = generate_matching_demo(store.items, media, repo, n=items, seed=seed, list_first=True)
        truth = _truth(demo)
        # A vetted moderator, stored as an admin would have set them up: the gate
        # re-reads the account on every claim and decision.
        user = stored_account(store, "Scripted moderator")
        review = wiring.session(store, media, user)
        show = ShowLess(repo, store, user.id, media.get)
        revealed = Exposure(
            seconds_revealed=REVEAL_S,
            reveal_count=1,
            max_area_fraction=1.0,
            full_unprotected=True,
            area_seconds=REVEAL_S,
            min_blur_step=0,
            colour_shown=True,
            least_mode="toggled",
        )
        counts = {"known": 0, "propagated": 0, "eye": 0}
        started = time.perf_counter()
        while (claim := review.claim_next()) is not None:
            item_id = claim.item.id
            matches = show.graded_matches(item_id) if use_show_less else []
            if matches:
                show.confirm(claim, matches[0], Exposure(), str(uuid.uuid4()))
                counts["known"] += 1
                continue
            review.submit(claim, _grading(truth[item_id]), revealed, str(uuid.uuid4()))
            counts["eye"] += 1
            if not use_show_less:
                continue
            group = show.group_after(item_id)
            if group is not None:
                pending = [m.item_id for m in group.pending_except(item_id)]
                counts["propagated"] += len(show.propagate(group.id, item_id, pending).decided)
        elapsed = time.perf_counter() - started
        return _measure(store, truth, counts, elapsed)
    finally:
        store.close()


def _measure(
    store: Store, truth: dict[int, Severity], counts: dict[str, int], elapsed: float
) -> Outcome:
    unseen = wrong = 0
    seconds = 0.0
    for item_id, true_grade in truth.items():
        exposures = store.items.exposures(item_id)
        seconds += sum(e["seconds_revealed"] for e in exposures if e["full_unprotected"])
        if all(
            e["reveal_count"] == 0 and e["max_area_fraction"] == 0 and not e["full_unprotected"]
            for e in exposures
        ):
            unseen += 1
            decided = store.items.decisions(item_id)[-1]["severity"]
            wrong += decided != true_grade.value
    undecided = [i for i in truth if store.items.item_status(i) != "decided"]
    if undecided:
        raise SystemExit(f"the script left {len(undecided)} item(s) undecided")
    return Outcome(
        len(truth),
        unseen,
        wrong,
        counts["known"],
        counts["propagated"],
        counts["eye"],
        seconds,
        elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-show-less-") as tmp:
        root = Path(tmp)

        # The share is a property of the queue and the services, not of the backend:
        # SQLite files keep the run self-contained.
        runs: dict[str, Callable[[], Outcome]] = {
            "baseline (show-less ignored)": lambda: run(
                f"sqlite:///{root / 'baseline.db'}", root / "media-b", args.items, args.seed, False
            ),
            "show-less": lambda: run(
                f"sqlite:///{root / 'show.db'}", root / "media-s", args.items, args.seed, True
            ),
        }
        results = {name: fn() for name, fn in runs.items()}
    base, ours = results["baseline (show-less ignored)"], results["show-less"]
    print(f"queue: {args.items} synthetic items, seed {args.seed}, load {os.getloadavg()[0]:.2f}")
    print(
        f"{'run':32} {'unseen':>8} {'share':>7} {'known':>6} {'group':>6} {'by eye':>7} "
        f"{'unprot. s':>10} {'wrong':>6} {'script s':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:32} {r.unseen:8d} {r.unseen_share:7.1%} {r.confirmed_known:6d} "
            f"{r.propagated:6d} {r.graded_by_eye:7d} {r.unprotected_seconds:10.0f} "
            f"{r.unseen_wrong:6d} {r.elapsed_s:9.1f}"
        )
    exposure_ratio = ours.unprotected_seconds / base.unprotected_seconds
    print(
        f"unseen share {ours.unseen_share:.1%} (goal >= {GOAL_UNSEEN_SHARE:.0%}): "
        f"{ours.unseen_share / GOAL_UNSEEN_SHARE:.2f}x the goal; unprotected seconds "
        f"{exposure_ratio:.2f}x the baseline's; {ours.unseen_wrong} decided unseen wrongly"
    )
    bench = {
        "bench": "show_less",
        "items": args.items,
        "seed": args.seed,
        "unseen_share": round(ours.unseen_share, 4),
        "goal_unseen_share": GOAL_UNSEEN_SHARE,
        "vs_goal": round(ours.unseen_share / GOAL_UNSEEN_SHARE, 3),
        "baseline_unseen_share": round(base.unseen_share, 4),
        "unprotected_seconds_vs_baseline": round(exposure_ratio, 3),
        "unseen_wrong": ours.unseen_wrong,
        "confirmed_known": ours.confirmed_known,
        "propagated": ours.propagated,
        "graded_by_eye": ours.graded_by_eye,
    }
    print("BENCH " + json.dumps(bench))
    return 0 if ours.unseen_share >= GOAL_UNSEEN_SHARE and ours.unseen_wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
