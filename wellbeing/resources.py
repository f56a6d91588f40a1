"""What the support and counselling page says: reachable from every screen.

Plain text, no Qt, so an organisation can replace it (its own assistance programme,
phone numbers, opening hours) without touching the UI.
"""

from __future__ import annotations

from typing import Final

TITLE: Final = "Support and counselling"

SECTIONS: Final[tuple[tuple[str, str], ...]] = (
    (
        "Right now",
        "Step away from the screen. Look at something far away, breathe out slowly, "
        "drink some water. You can skip an item for welfare reasons at any time "
        "(Ctrl+K), without penalty.",
    ),
    (
        "Talk to someone",
        "Your organisation's employee assistance programme offers confidential "
        "counselling, day and night. Your team lead can arrange time off the queue. "
        "What you say in a check-in is never shown to anyone; only the number of "
        "people who asked for support is.",
    ),
    (
        "Outside work",
        "If what you saw stays with you (sleep, intrusive memories, irritability), "
        "that is a common response to this work, not a weakness. Tell your GP or "
        "a counsellor that you review harmful material at work.",
    ),
    (
        "Limits this tool keeps for you",
        "A break after 50 minutes of review, a daily limit on review and on viewing "
        "Category A/B material, a short pause after each Category A item, and no more "
        "than a few Category A items in a row when other work is waiting.",
    ),
)
