"""The audit chain's canonical text of an event's detail must stay byte for byte what
every stored hash was computed from: the faster form is checked against the plain
definition on random values."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.audit import canonical_detail


def reference_detail(detail: Any) -> str:
    """The definition: the JSON value the database gives back, sorted, compact."""
    value = json.loads(json.dumps(detail if detail is not None else {}, allow_nan=False))
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


class Colour(enum.IntEnum):
    RED = 1


class Mode(enum.StrEnum):
    PROTECTED = "protected"


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinity included: both forms must refuse them alike
    | st.text()
    | st.sampled_from([Colour.RED, Mode.PROTECTED, -0.0, 1e308, 2**70])
)
keys = (
    st.text() | st.integers(-5, 5) | st.booleans() | st.none() | st.sampled_from([Mode.PROTECTED])
)
details = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=20,
)


def outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(value)
    except (ValueError, TypeError) as exc:
        return "error", type(exc)


@settings(max_examples=1500, deadline=None)
@given(detail=details | st.dictionaries(st.text(), details, max_size=6))
def test_canonical_detail_is_the_definitions_text(detail: Any) -> None:
    assert outcome(canonical_detail, detail) == outcome(reference_detail, detail)


@pytest.mark.parametrize(
    "detail",
    [
        None,
        {},
        {"claim_id": 7, "grading": {"severity": "category_a", "age_band": "0-3"}},
        {"n": float("nan")},
        {"n": float("inf")},
        {1: "int key", "1": "text key"},  # the same key once JSON has made text of both
        {"t": (1, 2)},
        {"e": Colour.RED, "m": Mode.PROTECTED},
        {"s": "\u00e9\u202e\ud800"},  # non-ASCII, a control and a lone surrogate
    ],
)
def test_canonical_detail_on_the_awkward_cases(detail: Any) -> None:
    assert outcome(canonical_detail, detail) == outcome(reference_detail, detail)
