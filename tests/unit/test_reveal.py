"""The reveal model: what is unprotected, for how long, and when it re-protects."""

from __future__ import annotations

import math
import random

import pytest

from reviewer.clock import FakeClock
from wellbeing.exposure import RevealMeter
from wellbeing.render import BLUR_STEPS, DEFAULT_BLUR_STEP
from wellbeing.reveal import (
    MAX_SPOTLIGHT_RADIUS,
    MIN_SPOTLIGHT_RADIUS,
    RevealMode,
    RevealState,
    circle_rect_area,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, **kwargs: object) -> tuple[RevealState, RevealMeter]:
    meter = RevealMeter(clock)
    return RevealState(clock, meter, **kwargs), meter  # type: ignore[arg-type]


# --- area


def test_starts_protected(clock: FakeClock) -> None:
    state, meter = make(clock)
    assert state.mode is RevealMode.PROTECTED
    assert state.blur_step == DEFAULT_BLUR_STEP and not state.colour
    assert state.area_fraction() == 0.0 and not state.is_unprotected()
    assert not meter.revealing and meter.snapshot().reveal_count == 0


def test_toggle_and_hold_reveal_the_whole_image(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.toggle()
    assert state.mode is RevealMode.TOGGLED and state.area_fraction() == 1.0
    state.toggle()
    assert state.mode is RevealMode.PROTECTED and state.area_fraction() == 0.0
    state.hold_start()
    assert state.mode is RevealMode.HOLD and state.area_fraction() == 1.0
    state.hold_end()
    assert state.mode is RevealMode.PROTECTED


def test_hold_returns_to_the_spotlight(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.spotlight_at(0.5, 0.5)
    state.hold_start()
    assert state.area_fraction() == 1.0
    state.hold_end()
    assert state.mode is RevealMode.SPOTLIGHT and state.area_fraction() < 1.0


@pytest.mark.parametrize(
    ("centre", "share"),
    [
        ((0.5, 0.5), 1.0),  # whole disc on the image
        ((0.0, 0.0), 0.25),  # corner: a quarter
        ((1.0, 1.0), 0.25),  # the opposite corner
        ((0.0, 0.5), 0.5),  # edge: a half
        ((0.5, 1.0), 0.5),
    ],
)
def test_spotlight_area_on_a_square(
    clock: FakeClock, centre: tuple[float, float], share: float
) -> None:
    state, _ = make(clock, image_size=(800, 800), spotlight_radius=0.2)
    state.spotlight_at(*centre)
    assert state.area_fraction() == pytest.approx(share * math.pi * 0.2**2, rel=1e-12)


def test_spotlight_radius_is_relative_to_the_shorter_side(clock: FakeClock) -> None:
    # 2:1 landscape: radius 0.2 of the height is 160 px of a 1600x800 image.
    state, _ = make(clock, image_size=(1600, 800), spotlight_radius=0.2)
    state.spotlight_at(0.0, 0.0)
    expected = math.pi * 160**2 / 4 / (1600 * 800)
    assert state.area_fraction() == pytest.approx(expected, rel=1e-12)


def test_spotlight_off_the_image_reveals_nothing(clock: FakeClock) -> None:
    state, meter = make(clock, spotlight_radius=0.1)
    state.spotlight_at(0.5, 0.5)
    assert meter.revealing
    state.spotlight_at(3.0, 3.0)  # the cursor left the picture
    assert state.mode is RevealMode.SPOTLIGHT
    assert state.area_fraction() == 0.0 and not state.is_unprotected()
    assert not meter.revealing


def test_spotlight_covering_everything_counts_as_whole(clock: FakeClock) -> None:
    state, meter = make(clock, spotlight_radius=MAX_SPOTLIGHT_RADIUS)
    state.spotlight_at(0.5, 0.5)  # radius 1.0 of the side covers a square entirely
    assert state.area_fraction() == 1.0
    assert meter.snapshot().full_unprotected


def test_spotlight_radius_is_clamped_and_must_be_finite(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.set_spotlight_radius(50.0)
    assert state.spotlight_radius == MAX_SPOTLIGHT_RADIUS
    state.adjust_spotlight_radius(-10.0)
    assert state.spotlight_radius == MIN_SPOTLIGHT_RADIUS
    with pytest.raises(ValueError):
        state.set_spotlight_radius(math.nan)
    with pytest.raises(ValueError):
        state.spotlight_at(math.inf, 0.5)


def test_circle_rect_area_matches_a_fine_grid() -> None:
    rnd = random.Random(5)
    n = 250
    for _ in range(25):
        cx, cy = rnd.uniform(-0.5, 2.5), rnd.uniform(-0.5, 1.5)
        r = rnd.uniform(0.05, 1.5)
        exact = circle_rect_area(cx, cy, r, 0.0, 0.0, 2.0, 1.0)
        hits = sum(
            (2 * (i + 0.5) / n - cx) ** 2 + ((j + 0.5) / n - cy) ** 2 <= r * r
            for i in range(n)
            for j in range(n)
        )
        assert exact == pytest.approx(hits / n / n * 2.0, abs=5e-3)


def test_circle_rect_area_degenerate_cases() -> None:
    assert circle_rect_area(0, 0, 1, -5, -5, 5, 5) == pytest.approx(math.pi)
    assert circle_rect_area(0, 0, 0, -5, -5, 5, 5) == 0.0
    assert circle_rect_area(10, 10, 1, 0, 0, 1, 1) == 0.0
    # A disc larger than the rectangle: the rectangle.
    assert circle_rect_area(0.5, 0.5, 10, 0, 0, 1, 1) == pytest.approx(1.0)


# --- blur and colour


def test_unblurred_is_a_whole_image_reveal(clock: FakeClock) -> None:
    state, meter = make(clock)
    state.set_blur_step(0)
    assert state.mode is RevealMode.PROTECTED
    assert state.area_fraction() == 1.0 and meter.revealing
    state.step_blur(+1)
    assert state.blur_step == 1 and not state.is_unprotected() and not meter.revealing


def test_blur_steps_are_bounded(clock: FakeClock) -> None:
    state, _ = make(clock)
    for bad in (-1, BLUR_STEPS + 1):
        with pytest.raises(ValueError):
            state.set_blur_step(bad)
    state.set_blur_step(BLUR_STEPS)
    state.step_blur(+1)
    assert state.blur_step == BLUR_STEPS
    with pytest.raises(ValueError):
        make(clock, blur_step=0)  # the resting state must blur


def test_colour_alone_is_not_a_reveal_but_is_recorded(clock: FakeClock) -> None:
    state, meter = make(clock)
    state.set_colour(True)
    assert not state.is_unprotected() and not meter.revealing
    state.set_colour(False)
    assert state.least_protection() == {
        "min_blur_step": DEFAULT_BLUR_STEP,
        "colour": True,
        "least_mode": "protected",
    }


def test_least_protection_keeps_the_least_protected_level(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.spotlight_at(0.5, 0.5)
    state.spotlight_off()
    state.set_blur_step(1)
    state.set_blur_step(3)
    state.hold_start()
    state.hold_end()
    assert state.least_protection() == {
        "min_blur_step": 1,
        "colour": False,
        "least_mode": "hold",
    }
    state.toggle()
    assert state.least_protection()["least_mode"] == "toggled"


def test_a_spotlight_that_showed_nothing_is_not_least_mode(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.spotlight_at(-5.0, -5.0)
    assert state.least_protection()["least_mode"] == "protected"


# --- re-protection


def test_reprotects_after_ten_idle_seconds_not_nine(clock: FakeClock) -> None:
    state, meter = make(clock, reprotect_after_seconds=10)
    state.toggle()
    clock.advance(9)
    assert state.reprotect_due_in() == pytest.approx(1.0)
    assert not state.tick()
    assert state.is_unprotected()
    clock.advance(1)
    assert state.tick()
    assert state.mode is RevealMode.PROTECTED and not meter.revealing
    assert meter.snapshot().seconds_revealed == 10.0
    assert state.reprotect_due_in() is None and not state.tick()


def test_interaction_restarts_the_idle_countdown(clock: FakeClock) -> None:
    state, meter = make(clock)
    state.spotlight_at(0.5, 0.5)
    clock.advance(9)
    state.spotlight_at(0.6, 0.5)  # moving the spotlight is interacting
    clock.advance(9)
    state.interaction()
    clock.advance(9)
    assert not state.tick()
    clock.advance(1)
    assert state.tick()
    assert meter.snapshot().seconds_revealed == 28.0
    assert meter.snapshot().reveal_count == 1


def test_a_hold_is_not_idle_but_the_countdown_runs_after_it(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.spotlight_at(0.5, 0.5)
    state.hold_start()
    clock.advance(30)
    assert state.reprotect_due_in() is None and not state.tick()
    state.hold_end()
    clock.advance(10)
    assert state.tick() and state.mode is RevealMode.PROTECTED


def test_reprotect_restores_blur_but_keeps_chosen_blur_and_colour(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.set_colour(True)
    state.set_blur_step(1)
    state.toggle()
    state.focus_lost()
    assert (state.mode, state.blur_step, state.colour) == (RevealMode.PROTECTED, 1, True)
    state.set_blur_step(0)
    clock.advance(10)
    assert state.tick()
    assert state.blur_step == DEFAULT_BLUR_STEP and not state.is_unprotected()


def test_focus_loss_protects_at_once(clock: FakeClock) -> None:
    state, meter = make(clock)
    state.hold_start()
    clock.advance(3)
    state.focus_lost()
    assert state.mode is RevealMode.PROTECTED and not meter.revealing
    state.hold_end()  # the key release arriving late changes nothing
    assert state.mode is RevealMode.PROTECTED
    assert meter.snapshot().seconds_revealed == 3.0


def test_item_change_protects_and_starts_afresh(clock: FakeClock) -> None:
    state, first = make(clock, image_size=(640, 480))
    state.set_spotlight_radius(0.3)
    state.set_colour(True)
    state.set_blur_step(0)
    clock.advance(4)
    second = RevealMeter(clock)
    state.item_changed(second, image_size=(100, 200))
    clock.advance(100)
    assert first.snapshot().seconds_revealed == 4.0  # closed at the change
    assert state.meter is second and not second.revealing
    assert (state.mode, state.blur_step, state.colour) == (
        RevealMode.PROTECTED,
        DEFAULT_BLUR_STEP,
        False,
    )
    assert state.least_protection() == {
        "min_blur_step": DEFAULT_BLUR_STEP,
        "colour": False,
        "least_mode": "protected",
    }
    assert state.spotlight_radius == 0.3  # a preference, not a reveal
    state.spotlight_at(0.5, 0.5)
    assert state.area_fraction() == pytest.approx(math.pi * 30**2 / (100 * 200))


def test_disabled_refuses_reveals(clock: FakeClock) -> None:
    state, meter = make(clock)
    state.toggle()
    state.set_enabled(False)
    assert not state.is_unprotected() and not meter.revealing
    state.toggle()
    state.hold_start()
    state.spotlight_at(0.5, 0.5)
    state.set_blur_step(0)
    assert not state.is_unprotected()
    state.set_blur_step(3)  # more protection is always allowed
    assert state.blur_step == 3
    state.item_changed(RevealMeter(clock))
    assert state.enabled


# --- metering


def test_meter_totals_equal_the_reveals(clock: FakeClock) -> None:
    state, meter = make(clock, image_size=(1000, 1000), spotlight_radius=0.1)
    shown = 0.0
    state.toggle()  # 1: 3 s whole image
    clock.advance(3)
    shown += 3
    state.toggle()
    clock.advance(20)
    state.spotlight_at(0.5, 0.5)  # 2: 5 s spotlight, moved half-way
    clock.advance(2)
    state.spotlight_at(0.0, 0.0)
    clock.advance(3)
    shown += 5
    state.spotlight_off()
    clock.advance(7)
    state.hold_start()  # 3: 2 s hold
    clock.advance(2)
    shown += 2
    state.hold_end()
    state.set_blur_step(0)  # 4: forgotten unblurred view, re-protected after 10 s
    for _ in range(15):
        clock.advance(1)
        state.tick()
    shown += 10
    got = meter.snapshot()
    assert got.seconds_revealed == shown == 20.0
    assert got.reveal_count == 4
    assert got.max_area_fraction == 1.0 and got.full_unprotected
    spot = math.pi * 0.01
    # area_seconds is kept to the millisecond, as seconds_revealed is.
    assert meter.area_seconds == pytest.approx(3 + 2 * spot + 3 * spot / 4 + 2 + 10, abs=1e-3)


def test_meter_area_seconds_counts_an_open_reveal(clock: FakeClock) -> None:
    meter = RevealMeter(clock)
    meter.reveal(0.5)
    clock.advance(4)
    assert meter.area == 0.5 and meter.area_seconds == 2.0
    meter.reveal(0.25)
    clock.advance(4)
    meter.protect()
    assert meter.area == 0.0 and meter.area_seconds == 3.0
    assert meter.snapshot().seconds_revealed == 8.0 and meter.snapshot().reveal_count == 1


def test_an_item_starts_at_its_own_blur_step_and_returns_to_it(clock: FakeClock) -> None:
    state, _ = make(clock)
    state.item_changed(RevealMeter(clock), (100, 100), blur_step=4)
    assert state.blur_step == 4
    assert state.least_protection()["min_blur_step"] == 4
    state.set_blur_step(0)  # unblurred is a reveal; protecting goes back to the start
    state.protect()
    assert state.blur_step == 4
    state.item_changed(RevealMeter(clock), (100, 100))
    assert state.blur_step == DEFAULT_BLUR_STEP
    with pytest.raises(ValueError):
        state.item_changed(RevealMeter(clock), (100, 100), blur_step=0)


def test_flat_tones_are_metered_per_item_and_carry_over_as_a_preference(
    clock: FakeClock,
) -> None:
    state, _ = make(clock)
    state.set_stylised(True)
    clock.advance(4.0)
    assert state.exposure().stylised_seconds == 4.0
    state.set_stylised(False)
    clock.advance(10.0)
    state.set_stylised(True)
    clock.advance(1.5)
    assert state.exposure().stylised_seconds == 5.5
    assert not state.is_unprotected()  # flat tones hide more than blur: no reveal
    state.item_changed(RevealMeter(clock), (100, 100))
    assert state.stylised
    clock.advance(2.0)
    assert state.exposure().stylised_seconds == 2.0
