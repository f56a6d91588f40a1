"""Metering of what a moderator actually sees of one item.

Every reveal is evidence (a US report must say whether the file was viewed) and every
second revealed counts against the moderator's exposure, so the meter records real
viewing and never assumes it.
"""

from __future__ import annotations

from reviewer.clock import Clock
from reviewer.model import Exposure


class RevealMeter:
    """Accumulates revealed seconds and reveal counts for one item on one screen."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._since: float | None = None
        self._seconds = 0.0
        self._count = 0
        self._max_area = 0.0
        self._full = False
        # Area x time: a spotlight on a tenth of the image for 10 s is 1.0, not 10.
        self._area = 0.0
        self._segment_since = 0.0
        self._area_seconds = 0.0

    @property
    def revealing(self) -> bool:
        return self._since is not None

    def reveal(self, area_fraction: float = 1.0) -> None:
        """The moderator uncovered `area_fraction` of the image without protection."""
        now = self._clock.monotonic()
        if self._since is None:
            self._since = now
            self._count += 1
        else:
            # Still the same reveal (e.g. the spotlight moved): close the area segment.
            self._area_seconds += (now - self._segment_since) * self._area
        self._area = min(1.0, max(0.0, area_fraction))
        self._segment_since = now
        self._max_area = max(self._max_area, self._area)
        if area_fraction >= 1.0:
            self._full = True

    def protect(self) -> None:
        if self._since is not None:
            now = self._clock.monotonic()
            self._seconds += now - self._since
            self._area_seconds += (now - self._segment_since) * self._area
            self._since = None
            self._area = 0.0

    @property
    def area(self) -> float:
        """The fraction of the image unprotected right now (0.0 while protected)."""
        return self._area

    @property
    def area_seconds(self) -> float:
        """Revealed area x seconds so far, counting an open reveal up to now."""
        open_part = 0.0
        if self._since is not None:
            open_part = (self._clock.monotonic() - self._segment_since) * self._area
        return round(self._area_seconds + open_part, 3)

    def snapshot(self) -> Exposure:
        """Totals so far, counting an open reveal up to now."""
        open_s = 0.0 if self._since is None else self._clock.monotonic() - self._since
        return Exposure(
            seconds_revealed=round(self._seconds + open_s, 3),
            reveal_count=self._count,
            max_area_fraction=self._max_area,
            full_unprotected=self._full,
        )
