"""Metering of what a moderator actually sees of one item.

Every reveal is evidence (a US report must say whether the file was viewed) and every
second revealed counts against the moderator's exposure, so the meter records real
viewing and never assumes it.
"""

from __future__ import annotations

from reviewer.model import Exposure
from wellbeing.clock import Clock


class RevealMeter:
    """Accumulates revealed seconds and reveal counts for one item on one screen."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._since: float | None = None
        self._seconds = 0.0
        self._count = 0
        self._max_area = 0.0
        self._full = False

    @property
    def revealing(self) -> bool:
        return self._since is not None

    def reveal(self, area_fraction: float = 1.0) -> None:
        """The moderator uncovered `area_fraction` of the image without protection."""
        if self._since is None:
            self._since = self._clock.monotonic()
            self._count += 1
        self._max_area = max(self._max_area, min(1.0, max(0.0, area_fraction)))
        if area_fraction >= 1.0:
            self._full = True

    def protect(self) -> None:
        if self._since is not None:
            self._seconds += self._clock.monotonic() - self._since
            self._since = None

    def snapshot(self) -> Exposure:
        """Totals so far, counting an open reveal up to now."""
        open_s = 0.0 if self._since is None else self._clock.monotonic() - self._since
        return Exposure(
            seconds_revealed=round(self._seconds + open_s, 3),
            reveal_count=self._count,
            max_area_fraction=self._max_area,
            full_unprotected=self._full,
        )
