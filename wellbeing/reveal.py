"""The interactive reveal as a pure model: what is unprotected, and for how long.

The UI draws what this says and forwards input to it; every change in what is
unprotected is passed on to a RevealMeter at once, so the exposure ledger is exactly
the sum of what was shown. Protection is the resting state: the model re-protects
after `reprotect_after_seconds` without interaction (checked by `tick()`), on focus
loss and on moving to another item.

Coordinates are fractions of the image (0..1 across, 0..1 down). The spotlight radius
is a fraction of the image's shorter side, so the spotlight is a circle on screen
whatever the aspect ratio.
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import StrEnum
from itertools import pairwise
from typing import Any, Final

from reviewer.clock import Clock
from reviewer.model import Exposure
from wellbeing.exposure import RevealMeter
from wellbeing.render import BLUR_STEPS, DEFAULT_BLUR_STEP, check_protected_step, check_step

DEFAULT_SPOTLIGHT_RADIUS: Final = 0.15
MIN_SPOTLIGHT_RADIUS: Final = 0.03
MAX_SPOTLIGHT_RADIUS: Final = 1.0
# A spotlight covering all but this much of the image counts as the whole image.
_FULL_EPSILON: Final = 1e-9


class RevealMode(StrEnum):
    PROTECTED = "protected"
    SPOTLIGHT = "spotlight"
    HOLD = "hold"
    TOGGLED = "toggled"


# How much each mode gives away, for "least protection used": a toggle stays open
# until something closes it, a hold only while a key or button is down.
_MODE_RANK: Final = {
    RevealMode.PROTECTED: 0,
    RevealMode.SPOTLIGHT: 1,
    RevealMode.HOLD: 2,
    RevealMode.TOGGLED: 3,
}


class RevealState:
    """One screen's reveal of the current item, metered.

    Every method counts as an interaction (it restarts the idle countdown) except
    `tick()`, `focus_lost()` and the read-only ones. While disabled (e.g. the decision
    is being stored, or the welfare policy has locked review), reveal requests are
    ignored and the image stays protected.
    """

    # The current item's state, (re)set by _set_item for every item.
    _meter: RevealMeter
    _size: tuple[float, float]
    _mode: RevealMode
    _before_hold: RevealMode
    _centre: tuple[float, float]
    _blur: int
    _start_blur: int
    _colour: bool
    _stylised_total: float
    _stylised_since: float | None
    _least_blur: int
    _least_colour: bool
    _least_mode: RevealMode

    def __init__(
        self,
        clock: Clock,
        meter: RevealMeter,
        *,
        reprotect_after_seconds: float = 10.0,
        image_size: tuple[int, int] = (1, 1),
        blur_step: int = DEFAULT_BLUR_STEP,
        colour: bool = False,
        spotlight_radius: float = DEFAULT_SPOTLIGHT_RADIUS,
    ) -> None:
        if not reprotect_after_seconds > 0:
            raise ValueError(f"reprotect_after_seconds must be > 0, not {reprotect_after_seconds}")
        # The resting blur must blur: step 0 shows full detail and so is itself a reveal.
        check_protected_step(blur_step)
        self._clock = clock
        self._reprotect_after = float(reprotect_after_seconds)
        self._default_blur = blur_step
        self._default_colour = colour
        self._radius = _clamp_radius(spotlight_radius)
        self._enabled = True
        self._stylised = False
        self._last_interaction = clock.monotonic()
        self._set_item(meter, image_size)

    # -- what the UI draws

    @property
    def mode(self) -> RevealMode:
        return self._mode

    @property
    def blur_step(self) -> int:
        return self._blur

    @property
    def colour(self) -> bool:
        return self._colour

    @property
    def stylised(self) -> bool:
        """The reduced-detail view (a few flat tones) instead of the blurred picture."""
        return self._stylised

    @property
    def spotlight_centre(self) -> tuple[float, float]:
        return self._centre

    @property
    def spotlight_radius(self) -> float:
        return self._radius

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def meter(self) -> RevealMeter:
        return self._meter

    def area_fraction(self) -> float:
        """The fraction of the image shown without protection right now."""
        if self._blur == 0 or self._mode in (RevealMode.HOLD, RevealMode.TOGGLED):
            return 1.0
        if self._mode is RevealMode.PROTECTED:
            return 0.0
        return self._spotlight_area()

    def is_unprotected(self) -> bool:
        return self.area_fraction() > 0.0

    def least_protection(self) -> dict[str, Any]:
        """The least-protected view used on this item, for its exposure record.

        `min_blur_step`: the lowest blur step painted (0 = unblurred);
        `colour`: colour was shown at some point; `least_mode`: the most revealing
        mode that actually uncovered something.
        """
        return {
            "min_blur_step": self._least_blur,
            "colour": self._least_colour,
            "least_mode": self._least_mode.value,
        }

    def exposure(self) -> Exposure:
        """The item's exposure record so far: the meter's totals plus area-seconds and
        the least protection used (what the ledger stores with the decision)."""
        least = self.least_protection()
        return replace(
            self._meter.snapshot(),
            area_seconds=self._meter.area_seconds,
            min_blur_step=least["min_blur_step"],
            colour_shown=least["colour"],
            least_mode=least["least_mode"],
            stylised_seconds=self.stylised_seconds(),
        )

    def stylised_seconds(self) -> float:
        """Seconds the reduced-detail view was on screen for this item: metered like a
        blur step, so the ledger says how the picture was looked at."""
        running = 0.0
        if self._stylised_since is not None:
            running = self._clock.monotonic() - self._stylised_since
        return self._stylised_total + running

    def reprotect_due_in(self) -> float | None:
        """Seconds until `tick()` re-protects (for a single-shot UI timer); None when
        nothing is unprotected or a hold is in progress."""
        if not self.is_unprotected() or self._mode is RevealMode.HOLD:
            return None
        idle = self._clock.monotonic() - self._last_interaction
        return max(0.0, self._reprotect_after - idle)

    # -- input

    def interaction(self) -> None:
        """Any input on the review screen that changes nothing here (scroll, typing
        in the grading form): it keeps a reveal open."""
        self._touch()

    def spotlight_at(self, x: float, y: float) -> None:
        """Spotlight centred at (x, y); entering spotlight mode if need be. A centre
        off the image is allowed: only the part of the circle on the image counts."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"spotlight centre must be finite, not ({x}, {y})")
        self._touch()
        if not self._enabled:
            return
        self._centre = (x, y)
        if self._mode is RevealMode.PROTECTED:
            self._mode = RevealMode.SPOTLIGHT
        self._apply()

    def spotlight_off(self) -> None:
        self._touch()
        if self._mode is RevealMode.SPOTLIGHT:
            self._mode = RevealMode.PROTECTED
            self._apply()

    def set_spotlight_radius(self, radius: float) -> None:
        """Clamped to MIN..MAX_SPOTLIGHT_RADIUS (a wheel can overshoot; that is fine)."""
        self._touch()
        self._radius = _clamp_radius(radius)
        self._apply()

    def adjust_spotlight_radius(self, delta: float) -> None:
        self.set_spotlight_radius(self._radius + delta)

    def hold_start(self) -> None:
        """A reveal key or button went down: the whole image until `hold_end()`.
        While held it counts as continuous interaction, so the idle re-protect waits."""
        self._touch()
        if not self._enabled or self._mode is RevealMode.HOLD:
            return
        self._before_hold = self._mode
        self._mode = RevealMode.HOLD
        self._apply()

    def hold_end(self) -> None:
        """Back to whatever was showing before the hold (protected or the spotlight)."""
        self._touch()
        if self._mode is RevealMode.HOLD:
            self._mode = self._before_hold
            self._apply()

    def toggle(self) -> None:
        """Whole image on, or back to protected."""
        self._touch()
        if self._mode is RevealMode.TOGGLED:
            self._mode = RevealMode.PROTECTED
        elif self._enabled:
            self._mode = RevealMode.TOGGLED
        self._apply()

    def set_blur_step(self, step: int) -> None:
        """0..BLUR_STEPS; 0 shows full detail and so is a whole-image reveal."""
        check_step(step)
        self._touch()
        if step == 0 and not self._enabled:
            return
        self._blur = step
        self._apply()

    def step_blur(self, delta: int) -> None:
        """Less (-1) or more (+1) blur, stopping at the ends."""
        self.set_blur_step(min(BLUR_STEPS, max(0, self._blur + delta)))

    def set_colour(self, colour: bool) -> None:
        self._touch()
        self._colour = colour
        self._apply()

    def set_stylised(self, stylised: bool) -> None:
        """Show the reduced-detail view (or the blurred picture again). It hides more
        than blur does, so it is allowed while reveals are disabled."""
        self._touch()
        if stylised == self._stylised:
            return
        now = self._clock.monotonic()
        if stylised:
            self._stylised_since = now
        elif self._stylised_since is not None:
            self._stylised_total += now - self._stylised_since
            self._stylised_since = None
        self._stylised = stylised

    def protect(self) -> None:
        """Explicit re-protect (the moderator's own key)."""
        self._touch()
        self._reprotect()

    def set_enabled(self, enabled: bool) -> None:
        self._enabled = enabled
        if not enabled:
            self._reprotect()

    # -- automatic re-protection

    def tick(self) -> bool:
        """Re-protect if nothing has happened for `reprotect_after_seconds`; True if it
        did. Call from a UI timer (see `reprotect_due_in`)."""
        due = self.reprotect_due_in()
        if due is None or due > 0:
            return False
        self._reprotect()
        return True

    def focus_lost(self) -> None:
        """The window lost focus or was minimised: protect at once."""
        self._reprotect()

    def item_changed(
        self,
        meter: RevealMeter,
        image_size: tuple[int, int] = (1, 1),
        blur_step: int | None = None,
    ) -> None:
        """Moving on: protect (closing the old item's meter), then start the new item
        at `blur_step` (its starting protection; None: the default) with its own meter
        and a fresh least-protection record. The spotlight radius and the stylised view
        are preferences and carry over."""
        if blur_step is not None:
            check_protected_step(blur_step)
        self._reprotect()
        self._enabled = True
        self._touch()
        self._set_item(meter, image_size, blur_step)

    # -- internals

    def _set_item(
        self, meter: RevealMeter, image_size: tuple[int, int], blur_step: int | None = None
    ) -> None:
        w, h = image_size
        if w <= 0 or h <= 0:
            raise ValueError(f"image size must be positive, not {image_size!r}")
        self._meter = meter
        self._size = (float(w), float(h))
        self._mode = RevealMode.PROTECTED
        self._before_hold = RevealMode.PROTECTED
        self._centre = (0.5, 0.5)
        self._blur = self._default_blur if blur_step is None else blur_step
        self._start_blur = self._blur
        self._colour = self._default_colour
        self._stylised_total = 0.0
        self._stylised_since = self._clock.monotonic() if self._stylised else None
        self._least_blur = self._blur
        self._least_colour = self._colour
        self._least_mode = RevealMode.PROTECTED
        self._apply()

    def _touch(self) -> None:
        self._last_interaction = self._clock.monotonic()

    def _reprotect(self) -> None:
        self._mode = RevealMode.PROTECTED
        self._before_hold = RevealMode.PROTECTED
        if self._blur == 0:
            # Unblurred is a reveal in itself; back to the item's resting blur.
            self._blur = self._start_blur
        self._apply()

    def _apply(self) -> None:
        """Tell the meter what is unprotected now and note the least protection."""
        area = self.area_fraction()
        if area > 0.0:
            if not self._meter.revealing or area != self._meter.area:
                self._meter.reveal(area)
            if _MODE_RANK[self._mode] > _MODE_RANK[self._least_mode]:
                self._least_mode = self._mode
        elif self._meter.revealing:
            self._meter.protect()
        self._least_blur = min(self._least_blur, self._blur)
        self._least_colour = self._least_colour or self._colour

    def _spotlight_area(self) -> float:
        w, h = self._size
        r = self._radius * min(w, h)
        cx, cy = self._centre[0] * w, self._centre[1] * h
        area = circle_rect_area(cx, cy, r, 0.0, 0.0, w, h) / (w * h)
        return 1.0 if area >= 1.0 - _FULL_EPSILON else max(0.0, area)


def _clamp_radius(radius: float) -> float:
    if not math.isfinite(radius):
        raise ValueError(f"spotlight radius must be finite, not {radius}")
    return min(MAX_SPOTLIGHT_RADIUS, max(MIN_SPOTLIGHT_RADIUS, radius))


def circle_rect_area(
    cx: float, cy: float, r: float, x0: float, y0: float, x1: float, y1: float
) -> float:
    """Exact area of the disc (centre cx, cy; radius r) inside [x0, x1] x [y0, y1].

    Integrates the disc's vertical chord clipped to [y0, y1] over x. Between the
    breakpoints (rectangle edges, disc edges, and where the disc boundary crosses
    y0 or y1) each clipped end is either a rectangle edge or the circle, so each
    piece integrates in closed form.
    """
    if r <= 0 or x1 <= x0 or y1 <= y0:
        return 0.0
    # Work relative to the centre.
    ax0, ax1, ay0, ay1 = x0 - cx, x1 - cx, y0 - cy, y1 - cy
    lo, hi = max(ax0, -r), min(ax1, r)
    if lo >= hi or ay0 >= r or ay1 <= -r:
        return 0.0
    r2 = r * r
    cuts = {lo, hi}
    for y in (ay0, ay1):
        if abs(y) < r:
            b = math.sqrt(r2 - y * y)
            cuts.update(v for v in (-b, b) if lo < v < hi)

    def chord(x: float) -> float:  # half-chord at x
        return math.sqrt(max(0.0, r2 - x * x))

    def chord_integral(x: float) -> float:  # antiderivative of chord(x)
        return 0.5 * (x * chord(x) + r2 * math.asin(max(-1.0, min(1.0, x / r))))

    total = 0.0
    for a, b in pairwise(sorted(cuts)):
        s = chord((a + b) / 2)
        top_is_circle, bottom_is_circle = s < ay1, -s > ay0
        if min(ay1, s) <= max(ay0, -s):
            continue  # the chord misses the rectangle on this piece
        arc = chord_integral(b) - chord_integral(a)
        top = arc if top_is_circle else ay1 * (b - a)
        bottom = -arc if bottom_is_circle else ay0 * (b - a)
        total += top - bottom
    return total
