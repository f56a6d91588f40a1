"""The severity hint: what an item is expected to be before anyone grades it.

Stored as items.suspected_category. It comes from what the system already knows: a
classifier's or the referring NGO's suspicion in the manifest, the grade of a known-list
entry the item matches, the grade of a near-duplicate already decided. It steers
claims (after N Category A decisions in a row, other work first) and opt-outs by
kind; it never replaces a moderator's grade.

When several sources speak, the most severe wins, and later evidence only ever raises
a hint: taking a suspected A item for other work would show the moderator the very
thing the cap is there to spare them, while a hint set too high costs only a place in
the order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from reviewer.segments import most_severe
from reviewer.vocabulary import Severity

# What a suspicion may name. "Not assessable" is an outcome of looking, not something to
# suspect, so it never becomes a hint.
SUSPECTABLE: Final[tuple[Severity, ...]] = tuple(
    s for s in Severity if s is not Severity.NOT_ASSESSABLE
)


def combined(hints: Iterable[Severity | None]) -> Severity | None:
    """The most severe of `hints` that can be suspected; None if there is none."""
    return most_severe(h for h in hints if h is not None and h in SUSPECTABLE)
