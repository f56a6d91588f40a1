"""The manifest reader against hostile lines: every kind that used to crash a run is a
line error now, and (hypothesis) no bytes or JSON at all make an exception escape or a
line go unaccounted for."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer.ingest import IngestReport, ingest_lines
from reviewer.manifest import (
    ALLOWED_KEYS,
    MAX_LINE_BYTES,
    BadLine,
    Line,
    LineError,
    count_lines,
    parse_line,
    read_manifest,
)
from reviewer.model import NewItem
from reviewer.untrusted import MAX_DEPTH, MAX_REPORT_TEXT
from tests.unit.test_media import VALID_SMALL

FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


class FakeStore:
    """Records what ingest writes; a dedupe key seen before is a duplicate."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {}

    def add_media(self, *args: object) -> int:
        return 1

    def add_item(self, new: NewItem) -> tuple[int, bool]:
        if new.dedupe_key in self.items:
            return self.items[new.dedupe_key], False
        self.items[new.dedupe_key] = len(self.items) + 1
        return self.items[new.dedupe_key], True


class FakeMedia:
    def put(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.jpg").write_bytes(VALID_SMALL["JPEG"])
        yield Path(tmp)


def _ingest(folder: Path, data: bytes) -> IngestReport:
    lines = list(read_manifest(io.BytesIO(data)))
    report = ingest_lines(FakeStore(), FakeMedia(), lines, [folder], total=len(lines))
    # Every non-blank line is accounted for, once, and the counts agree.
    assert report.stopped is None, report.stopped
    assert report.lines == len(lines) == count_lines(io.BytesIO(data))
    assert report.added + report.duplicates + len(report.errors) == report.lines
    numbers = [e.line for e in report.errors]
    assert numbers == sorted(set(numbers))
    assert set(numbers) <= {line.number for line in lines}
    for err in report.errors:
        str(err).encode("utf-8")  # printable on any console
    return report


def _good(**kw: object) -> bytes:
    return json.dumps({"media": "a.jpg", "source": "ngo", **kw}).encode()


# --- Each class of line that used to crash the whole run ------------------------------

CRASHERS: list[tuple[bytes, str]] = [
    (b'{"media": "a.jpg", "source": "ngo", "report_text": "caf\xe9"}', "not UTF-8"),
    (b"\xff\xfe{}", "not UTF-8"),
    (_good(upload_time="0001-01-01T00:00:00+01:00"), "out of range"),
    (_good(upload_time="9999-12-31T23:59:59-01:00"), "out of range"),
    (_good(upload_time="1969-12-31T23:59:59Z"), "out of range"),
    (
        _good(subject={"upload_ips": [{"ip": "192.0.2.1", "at": "0001-01-01T00:00+00:01"}]}),
        "out of range",
    ),
    (_good(chat=[{"at": "0001-01-01T00:00:00+05:00", "text": "x"}]), "out of range"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    (_good(extra={"d": json.loads("[" * 40 + "1" + "]" * 40)}), "nested more than"),
    (b'{"media": "a.jpg", "source": "ngo", "report_text": "\\ud800"}', "lone surrogate"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"\\udfff": 1}}', "lone surrogate"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"k": ["\\ud83d"]}}', "lone surrogate"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": NaN}}', "NaN is not a number"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": Infinity}}', "Infinity"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": -Infinity}}', "-Infinity"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": 1e999}}', "too large"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": ' + b"9" * 5000 + b"}}", "64-bit"),
    (b'{"media": "a.jpg", "source": "ngo", "extra": {"v": 9223372036854775808}}', "64-bit"),
    (b'{"media": "a.jpg", "source": "ngo", "report_text": "a\\u0000b"}', "NUL"),
    (b'{"media": "a.jpg", "source": "ngo", "media": "b.jpg"}', "appears twice"),
    (_good(id=True), "'id' must be a string or a number"),
]


@pytest.mark.parametrize(("line", "message"), CRASHERS, ids=range(len(CRASHERS)))
def test_each_crash_class_is_a_line_error_and_the_next_line_goes_in(
    folder: Path, line: bytes, message: str
) -> None:
    report = _ingest(folder, _good(id="before") + b"\n" + line + b"\n" + _good(id="after"))
    assert report.added == 2
    assert [e.line for e in report.errors] == [2]
    assert message in report.errors[0].reason, report.errors[0].reason


@pytest.mark.parametrize("source", [None, ["ngo"], {"ngo": 1}, 3, True, "NGO", "", "ngo "])
def test_a_source_that_is_not_one_of_ours_is_a_line_error(folder: Path, source: object) -> None:
    """Any JSON value may stand where the source should: only an exact source name goes in."""
    line = json.dumps({"media": "a.jpg", "source": source}).encode()
    report = _ingest(folder, line + b"\n" + _good())
    assert report.added == 1 and [e.line for e in report.errors] == [1]
    assert "'source' must be one of" in report.errors[0].reason, report.errors[0].reason


def test_a_line_longer_than_the_limit_is_skipped_without_being_kept(folder: Path) -> None:
    huge = b'{"media": "a.jpg", "source": "ngo", "report_text": "' + b"x" * MAX_LINE_BYTES
    report = _ingest(folder, huge + b'"}\n' + _good())
    assert report.added == 1 and report.errors[0].line == 1
    assert "longer than 8 MiB" in report.errors[0].reason


def test_a_byte_order_mark_on_the_first_line_is_ignored(folder: Path) -> None:
    assert _ingest(folder, b"\xef\xbb\xbf" + _good() + b"\n").added == 1


def test_refusals_quote_little_and_escape_control_characters() -> None:
    err = LineError(1, "unknown field(s) \x1b[31mred\x1b[0m " + "y" * 5000)
    assert "\x1b" not in err.reason and "\\x1b[31m" in err.reason
    assert len(err.reason) < 500


# --- Size limits on every free-text field ---------------------------------------------

LIMITS: list[tuple[dict[str, object], str]] = [
    ({"report_text": "r" * (MAX_REPORT_TEXT + 1)}, "'report_text' is longer than 20,000"),
    ({"reported_accounts": ["a" * 321]}, "'reported_accounts[0]' is longer than 320"),
    ({"reported_accounts": ["a"] * 1001}, "more than 1,000 entries"),
    ({"queue": "q" * 121}, "'queue' must be a non-empty name of at most 120"),
    ({"id": "i" * 201}, "'id' is longer than 200"),
    ({"media": "m" * 5000}, "'media' is longer than 4,096"),
    ({"extra": {"notes": "n" * 100_001}}, "'extra' is larger than 100,000"),
    ({"subject": {"email": "e" * 321}}, "'subject.email' is longer than 320"),
    ({"subject": {"device_ids": ["d"] * 1001}}, "'subject.device_ids' has more than 1,000"),
    ({"chat": [{"text": "t" * 10_001}]}, "'chat[0].text' is longer than 10,000"),
    ({"chat": [{"sender": "s" * 321}]}, "'chat[0].sender' is longer than 320"),
    ({"chat": [{"text": "t" * 10_000}] * 101}, "more than 1,000,000 characters"),
]


@pytest.mark.parametrize(("fields", "message"), LIMITS, ids=range(len(LIMITS)))
def test_free_text_fields_have_size_limits(fields: dict[str, object], message: str) -> None:
    with pytest.raises(BadLine) as err:
        parse_line(json.dumps({"media": "a.jpg", "source": "ngo", **fields}), 1)
    assert message in str(err.value)


def test_text_at_its_limit_is_accepted() -> None:
    entry, _ = parse_line(_good(report_text="r" * MAX_REPORT_TEXT).decode(), 1)
    assert len(entry.report_text) == MAX_REPORT_TEXT


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # The line's object, `extra` and MAX_DEPTH - 2 lists: MAX_DEPTH levels.
    deep = json.loads("[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2))
    entry, _ = parse_line(_good(extra={"d": deep}).decode(), 1)
    assert entry.extra["d"]
    with pytest.raises(BadLine, match="nested more than"):
        parse_line(_good(extra={"d": [deep]}).decode(), 1)


# --- Property-based: arbitrary bytes and arbitrary JSON -------------------------------

_any_char = st.characters(blacklist_categories=())  # surrogates and NUL included
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(_any_char, max_size=30)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(_any_char, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_plausible_values = {
    "media": st.sampled_from(["a.jpg", "missing.jpg", "../a.jpg", "/etc/passwd", "."]) | _json,
    "source": st.sampled_from(["ngo", "user_report", "classifier", "x"]) | _json,
    "upload_time": st.sampled_from(["2026-01-05T09:00:00Z", "0001-01-01T00:00+01:00"]) | _json,
    "upload_ip": st.sampled_from(["192.0.2.1", "2001:db8::1"]) | _json,
    "subject": st.fixed_dictionaries(
        {}, optional={"email": _json, "upload_ips": _json, "login_ips": _json}
    )
    | _json,
    "chat": st.lists(
        st.fixed_dictionaries({}, optional={"at": _json, "ip": _json, "text": _json}),
        max_size=3,
    )
    | _json,
}
_lines = st.fixed_dictionaries(
    {},
    optional={k: _plausible_values.get(k, _json) for k in sorted(ALLOWED_KEYS)},
)


def _dump(obj: object) -> bytes:
    # allow_nan: the NaN/Infinity literals are exactly what a hostile writer would send.
    return json.dumps(obj, allow_nan=True).encode()


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_arbitrary_bytes_never_escape_and_every_line_is_accounted_for(
    folder: Path, chunks: list[bytes]
) -> None:
    _ingest(folder, b"\n".join(chunks))


@FUZZ
@given(st.lists(_json, max_size=6))
def test_arbitrary_json_never_escapes_and_every_line_is_accounted_for(
    folder: Path, values: list[object]
) -> None:
    _ingest(folder, b"\n".join(_dump(v) for v in values))


@FUZZ
@given(st.lists(_lines, min_size=1, max_size=6))
def test_arbitrary_manifest_shaped_lines_never_escape(
    folder: Path, objs: list[dict[str, object]]
) -> None:
    report = _ingest(folder, b"\n".join(_dump(o) for o in objs))
    # What went in is storable: the checks let nothing through that a database refuses.
    assert report.added + report.duplicates <= len(objs)


@FUZZ
@given(st.lists(_lines, min_size=1, max_size=4), st.integers(0, 10_000))
def test_any_accepted_line_holds_only_storable_values(
    folder: Path, objs: list[dict[str, object]], _: int
) -> None:
    for n, obj in enumerate(objs, start=1):
        try:
            entry, _path = parse_line(_dump(obj).decode(), n)
        except BadLine:
            continue
        # Strict JSON (no NaN/Infinity) that encodes as UTF-8: what both databases take.
        json.dumps(entry.extra, allow_nan=False).encode("utf-8")
        entry.report_text.encode("utf-8")
        assert "\0" not in entry.report_text


def test_lines_are_read_lazily_one_at_a_time() -> None:
    """A bad line in the middle does not stop reading: the reader yields every line."""
    data = b'{"a": 1}\n\xff\n\n   \n{"b": 2}\n'
    assert [(x.number, x.error is None) for x in read_manifest(io.BytesIO(data))] == [
        (1, True),
        (2, False),
        (5, True),
    ]
    assert Line(1, "x").error is None


@FUZZ
@given(st.lists(st.binary(max_size=200) | _json.map(_dump) | _lines.map(_dump), max_size=6))
def test_the_line_checks_raise_nothing_but_bad_line(chunks: list[bytes]) -> None:
    """Below ingest's own safety net: parse_line itself only ever refuses with BadLine."""
    for line in read_manifest(io.BytesIO(b"\n".join(chunks))):
        if line.text is not None:
            with contextlib.suppress(BadLine):
                parse_line(line.text, line.number)
