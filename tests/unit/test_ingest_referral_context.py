"""Referral context: the manifest's `subject` and `chat` (validated, normalised, line-numbered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reviewer.demo import _referral_context
from reviewer.ingest import ingest_lines
from reviewer.manifest import BadLine, Line, parse_line
from reviewer.referral_context import chat_from, subject_from
from reviewer.referral_model import missing_fields

BASE = {"media": "a.jpg", "source": "user_report"}
SUBJECT = {
    "account_id": "u-1",
    "email": "u1@example.test",
    "upload_ips": [{"ip": "192.0.2.7", "at": "2026-01-05T10:00:00+01:00", "port": 51234}],
    "login_ips": [{"ip": "2001:db8::1", "at": "2026-01-04T09:00:00Z"}],
}


def _line(**kw: object) -> str:
    return json.dumps({**BASE, **kw})


def test_subject_and_chat_are_normalised_into_extra() -> None:
    chat = [{"at": "2026-01-05T09:00:00Z", "sender": "u-1", "ip": "192.0.2.7", "text": "x"}]
    entry, _ = parse_line(_line(subject=SUBJECT, chat=chat, extra={"k": 1}), 1)
    assert entry.extra["k"] == 1
    s = entry.extra["subject"]
    assert s["upload_ips"] == [{"ip": "192.0.2.7", "at": "2026-01-05T09:00:00Z", "port": 51234}]
    assert s["login_ips"][0]["port"] is None  # a gap, kept for the referral to report
    assert entry.extra["chat"][0]["ip"] == "192.0.2.7"
    subject = subject_from(entry.extra)
    assert subject.upload_ips[0].at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert chat_from(entry.extra)[0].sender == "u-1"


def test_identity_documents_held_are_carried_as_descriptions() -> None:
    subject = {**SUBJECT, "identity_documents": ["passport held (description only)", " "]}
    entry, _ = parse_line(_line(subject=subject), 1)
    assert entry.extra["subject"]["identity_documents"] == ["passport held (description only)"]
    assert subject_from(entry.extra).identity_documents == ("passport held (description only)",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": []}, "'subject' must be an object"),
        ({"subject": {"mail": "x"}}, "unknown field(s) in 'subject': mail"),
        ({"subject": {"upload_ips": [{"ip": "999.1.1.1"}]}}, "'subject.upload_ips[0].ip'"),
        (
            {"subject": {"login_ips": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.2", "port": 0}]}},
            "'subject.login_ips[1].port' must be a port number",
        ),
        ({"subject": {"login_ips": [{"ip": "192.0.2.1", "port": True}]}}, "port number"),
        ({"subject": {"upload_ips": [{"ip": "192.0.2.1", "at": "2026-01-05"}]}}, "time zone"),
        ({"chat": {"at": 1}}, "'chat' must be a list"),
        ({"chat": [{"at": "2026-01-05T09:00:00Z", "ip": "nope"}]}, "'chat[0].ip'"),
        ({"extra": {"subject": {}}}, "top level"),
        ({"subject": {"identity_documents": "passport"}}, "must be a list of strings"),
        ({"subject": {"identity_documents": ["x" * 321]}}, "longer than 320"),
    ],
)
def test_bad_context_is_refused_with_the_field_named(fields: dict, message: str) -> None:
    with pytest.raises(BadLine) as err:
        parse_line(_line(**fields), 3)
    assert message in str(err.value)


def test_bad_lines_are_reported_by_number_and_the_rest_go_in(tmp_path: Path) -> None:
    lines = [Line(1, _line(subject=SUBJECT)), Line(2, _line(subject={"phone": 7}))]
    report = ingest_lines(_NoStore(), _NoMedia(), lines, [tmp_path])  # a.jpg is absent
    assert report.stopped is None
    assert [str(e) for e in report.errors][1] == "line 2: 'subject.phone' must be a string"


class _NoStore:
    def add_media(self, *a: object) -> int:
        raise AssertionError

    def add_item(self, new: object) -> tuple[int, bool]:
        raise AssertionError


class _NoMedia:
    def put(self, data: bytes) -> str:
        raise AssertionError


def test_demo_fills_context_for_some_items_and_leaves_gaps_in_others() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    full, partial, none = (_referral_context(0, i, now) for i in range(3))
    assert none == {}
    for ctx in (full, partial):
        parse_line(_line(subject=ctx["subject"], chat=ctx["chat"]), 1)  # valid manifest data
        assert ctx["subject"]["email"].endswith("@example.test")
        ips = [e["ip"] for e in ctx["subject"]["upload_ips"] + ctx["subject"]["login_ips"]]
        assert all(ip.startswith(("192.0.2.", "198.51.100.", "203.0.113.")) for ip in ips)
    assert len(full["subject"]["login_ips"]) >= 3 and full["subject"]["phone"]
    assert partial["subject"]["phone"] is None and len(partial["subject"]["login_ips"]) < 3
    # Through the referral rules: the full one lacks nothing on the subject side.
    from reviewer.referral_model import ReferralCase, Reporter

    def subject_gaps(ctx: dict) -> list[str]:
        case = ReferralCase("r", Reporter("o", "n", "e@example.test"), subject_from(ctx), ())
        return [m for m in missing_fields(case) if m != "at least one item"]

    assert subject_gaps(full) == []
    assert "account phone" in subject_gaps(partial)
