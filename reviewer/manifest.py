"""Reading a JSON Lines manifest of flagged items, one line at a time, without trusting it.

A manifest is written by someone else (a platform's export job, a hotline's tool), so
every line is hostile until checked. Each line is read with a size bound, decoded as
UTF-8 on its own, checked for nesting depth before the JSON parser sees it, parsed with
NaN/Infinity and oversized numbers refused, and then validated field by field. Whatever
is wrong with a line becomes a `BadLine` with a message naming the field; nothing in a
line can stop the lines after it from being read (`read_manifest` yields every line as
either its text or its error).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import IO, Any, Final

from reviewer.hints import SUSPECTABLE
from reviewer.referral_context import (
    CHAT_KEY,
    SUBJECT_KEY,
    ContextInvalid,
    parse_chat,
    parse_subject,
)
from reviewer.untrusted import (
    MAX_DEPTH,
    MAX_EXTERNAL_ID,
    MAX_EXTRA_CHARS,
    MAX_LIST,
    MAX_NAME,
    MAX_QUEUE_NAME,
    MAX_REPORT_TEXT,
    Untrusted,
    check_json,
    text,
    utc_time,
)
from reviewer.vocabulary import Severity, Source

# A line holding the largest allowed chat and every other field at its limit stays
# well under this; anything longer is refused without being held in memory whole.
MAX_LINE_BYTES: Final = 8 * 1024 * 1024
# Containers (objects and lists) in one line: bounds the depth pre-scan's work too.
MAX_CONTAINERS: Final = 100_000
MAX_MEDIA_PATH: Final = 4096
# A refusal message quotes at most this much of what it refuses.
MAX_REASON: Final = 400

DEFAULT_QUEUE = "General"
ALLOWED_KEYS = {
    "media",
    "source",
    "queue",
    "id",
    "imminent_risk",
    "reported_accounts",
    "upload_ip",
    "upload_time",
    "report_text",
    "extra",
    # Referral context: see reviewer/referral_context.py for the shape.
    "subject",
    "chat",
    # A classifier's or the referring NGO's suspected category.
    "suspected_category",
}

_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET: Final = re.compile(r"[\[\]{}]")


class BadLine(ValueError):
    """A manifest line that is refused; the message says why, naming the field."""


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __post_init__(self) -> None:
        # The reason may quote the hostile line: keep it short and free of control
        # characters (a terminal escape sequence in a manifest must not reach a console).
        object.__setattr__(self, "reason", printable(self.reason, MAX_REASON))

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def printable(s: str, limit: int) -> str:
    """`s` cut to `limit` characters with non-printable characters escaped."""
    cut = s if len(s) <= limit else s[:limit] + f"… ({len(s) - limit:,} more characters)"
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)


@dataclass(frozen=True)
class Entry:
    """One validated manifest line, media not yet read."""

    line: int
    source: Source
    queue: str
    external_id: str | None
    imminent_risk: bool
    reported_accounts: tuple[str, ...]
    upload_ip: str | None
    upload_time: datetime | None
    report_text: str
    extra: dict[str, Any]
    suspected_category: Severity | None = None


@dataclass(frozen=True)
class Line:
    """One non-blank manifest line: its text, or why it could not even be read."""

    number: int
    text: str | None
    error: str | None = None


def read_manifest(f: IO[bytes]) -> Iterator[Line]:
    """Every non-blank line of a binary stream, numbered from 1, as text or an error.

    A line longer than MAX_LINE_BYTES is skipped to its end without being kept; a line
    that is not UTF-8 is reported with the offending byte. A UTF-8 byte-order mark at
    the very start (some Windows tools write one) is ignored."""
    number = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            skipped = len(raw)
            while (more := f.readline(MAX_LINE_BYTES)) and not more.endswith(b"\n"):
                skipped += len(more)
            skipped += len(more)
            yield Line(
                number,
                None,
                f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB ({skipped:,} bytes)",
            )
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            yield Line(number, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield Line(
                number,
                None,
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})",
            )


def count_lines(f: IO[bytes]) -> int:
    """How many non-blank lines `read_manifest` will yield (for a progress bar)."""
    n = 0
    first = True
    while raw := f.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (more := f.readline(MAX_LINE_BYTES)) and not more.endswith(b"\n"):
                pass
            n += 1
        else:
            # A byte-order mark is dropped on the first line only, as read_manifest does.
            if first and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            n += bool(raw.strip())
        first = False
    return n


def load_json(raw: str) -> object:
    """Parse one line of JSON with its depth, numbers and strings checked (BadLine)."""
    _check_depth(raw)
    try:
        obj = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_no_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:  # the pre-scan should make this unreachable; stay a line error
        raise BadLine(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    try:
        check_json("", obj)
    except Untrusted as exc:
        raise BadLine(str(exc)) from None
    return obj


def _check_depth(raw: str) -> None:
    """Refuse deep nesting before json.loads recurses into it."""
    brackets = _BRACKET.findall(_STRING.sub('""', raw))
    if len(brackets) > 2 * MAX_CONTAINERS:
        raise BadLine(f"more than {MAX_CONTAINERS:,} objects and lists in one line")
    depth = max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)
    if depth > MAX_DEPTH:
        raise BadLine(f"JSON nested more than {MAX_DEPTH} levels deep")


def _refuse_constant(name: str) -> object:
    raise BadLine(f"{name} is not a number JSON allows (only finite numbers)")


def _finite_float(s: str) -> float:
    value = float(s)
    if value in (float("inf"), float("-inf")):
        raise BadLine(f"the number {s[:40]} is too large")
    return value


def _bounded_int(s: str) -> int:
    # Python refuses to convert very long digit strings (ValueError); say so per line.
    if len(s.lstrip("-")) > 19:
        raise BadLine(f"the number {s[:40]}… is outside the 64-bit range")
    return int(s)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate keys, JSON readers disagree on which value wins; refuse the line
    # rather than ingest something other than what another tool would show.
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise BadLine(f"the field {k!r} appears twice in one object")
        out[k] = v
    return out


def parse_line(raw: str, line_no: int) -> tuple[Entry, str]:
    """Validate one manifest line; returns the entry and its media path (as written)."""
    obj = load_json(raw)
    if not isinstance(obj, dict):
        raise BadLine("each line must be a JSON object")
    try:
        return _entry(obj, line_no)
    except (Untrusted, ContextInvalid) as exc:
        raise BadLine(str(exc)) from None


def _entry(obj: dict[str, Any], line_no: int) -> tuple[Entry, str]:
    unknown = sorted(set(obj) - ALLOWED_KEYS)
    if unknown:
        raise BadLine(f"unknown field(s) {', '.join(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
    media = obj.get("media")
    if not isinstance(media, str) or not media.strip():
        raise BadLine("'media' (path to the file) is required")
    text("media", media, MAX_MEDIA_PATH)
    # Matched by value, not Source(...): the line may hold any JSON value here.
    source = next((s for s in Source if s.value == obj.get("source")), None)
    if source is None:
        raise BadLine(
            f"'source' must be one of {', '.join(s.value for s in Source)}, "
            f"not {obj.get('source')!r}"
        )
    risk = obj.get("imminent_risk", False)
    if not isinstance(risk, bool):
        raise BadLine("'imminent_risk' must be true or false")
    accounts = obj.get("reported_accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise BadLine("'reported_accounts' must be a list of strings")
    if len(accounts) > MAX_LIST:
        raise BadLine(f"'reported_accounts' has more than {MAX_LIST:,} entries")
    for n, a in enumerate(accounts):
        text(f"reported_accounts[{n}]", a, MAX_NAME)
    ip = obj.get("upload_ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(str(ip)[:100]))
        except ValueError:
            raise BadLine(f"'upload_ip' is not an IP address: {ip!r}") from None
    upload_time = obj.get("upload_time")
    if upload_time is not None:
        upload_time = utc_time("upload_time", upload_time)
    report_text = text("report_text", obj.get("report_text", ""), MAX_REPORT_TEXT)
    queue = obj.get("queue", DEFAULT_QUEUE)
    if not isinstance(queue, str) or not queue.strip() or len(queue) > MAX_QUEUE_NAME:
        raise BadLine(f"'queue' must be a non-empty name of at most {MAX_QUEUE_NAME} characters")
    ext_id = obj.get("id")
    if ext_id is not None:
        if isinstance(ext_id, bool) or not isinstance(ext_id, str | int):
            raise BadLine("'id' must be a string or a number")
        ext_id = text("id", str(ext_id), MAX_EXTERNAL_ID)
    extra = obj.get("extra", {})
    if not isinstance(extra, dict):
        raise BadLine("'extra' must be an object")
    size = len(json.dumps(extra))
    if size > MAX_EXTRA_CHARS:
        raise BadLine(f"'extra' is larger than {MAX_EXTRA_CHARS:,} characters as JSON ({size:,})")
    extra = {**extra, **_referral_context(obj, extra)}
    entry = Entry(
        line=line_no,
        source=source,
        queue=queue.strip(),
        external_id=ext_id,
        imminent_risk=risk,
        reported_accounts=tuple(accounts),
        upload_ip=ip,
        upload_time=upload_time,
        report_text=report_text,
        extra=extra,
        suspected_category=_suspected(obj.get("suspected_category")),
    )
    return entry, media


def _suspected(value: object) -> Severity | None:
    if value is None:
        return None
    if isinstance(value, str):
        for s in SUSPECTABLE:
            if value == s.value:
                return s
    allowed = ", ".join(repr(s.value) for s in SUSPECTABLE)
    raise BadLine(f"'suspected_category' must be one of {allowed}, not {value!r}")


def _referral_context(obj: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The validated `subject` and `chat`, to be kept in `extra` under the same keys."""
    out: dict[str, Any] = {}
    for key, parse in ((SUBJECT_KEY, parse_subject), (CHAT_KEY, parse_chat)):
        if key in extra:
            raise BadLine(f"give '{key}' at the top level of the line, not inside 'extra'")
        if obj.get(key) is not None:
            out[key] = parse(obj[key])
    return out
