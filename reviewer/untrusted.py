"""Checks for values that come from outside the workstation (manifests, referral context).

One place for the rules every free-text field, time and JSON value from outside must
pass, so that nothing a platform's export job writes can crash a run or break a query
later: strings have a size limit and are valid Unicode without NUL characters (lone
surrogates cannot be encoded for the database; PostgreSQL refuses NUL in text), numbers
are finite and fit in 64 bits (the databases' JSON functions reject NaN and Infinity),
and times are range-checked after conversion to UTC.

Every refusal is an `Untrusted` error whose message names the field.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from typing import Final

# Field size limits, in characters. Generous for honest data, small enough that one
# line cannot hold the review screen or the database hostage.
MAX_REPORT_TEXT: Final = 20_000
MAX_NAME: Final = 320  # account identifiers, e-mail addresses, senders, device IDs
MAX_SIGN_IN_NAME: Final = 120  # a workstation account's name, as typed at sign-in
# How much of a refused name an audit event keeps, escaped: enough to recognise it.
RECORDED_NAME_CHARS: Final = 64
MAX_QUEUE_NAME: Final = 120
MAX_LIST_NAME: Final = 120  # a hash list's name, given on import
MAX_COURSE: Final = 200  # a training course's name on an account's record
MAX_EXTERNAL_ID: Final = 200
MAX_LIST: Final = 1_000  # accounts, device IDs, IP events of one item
MAX_CHAT_TEXT: Final = 10_000
MAX_CHAT_LINES: Final = 10_000
MAX_CHAT_CHARS: Final = 1_000_000  # all chat lines of one item together
MAX_EXTRA_CHARS: Final = 100_000  # `extra` as JSON, besides subject and chat
MAX_DEPTH: Final = 32  # JSON nesting, the line itself included; a manifest needs about 5
MAX_KEY: Final = 200
# A moderator's short note (why an item was skipped, why a list's grade was rejected):
# the skip dialog's field holds the same.
MAX_NOTE: Final = 1_000

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

# Times outside this range are refused: before Unix time no upload happened, and far
# future times are typing errors (or attempts to overflow a later conversion).
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)


class Untrusted(ValueError):
    """A value from outside is malformed or too large; the message names the field."""


def text(path: str, value: object, limit: int) -> str:
    """A string of at most `limit` characters, encodable and free of NUL."""
    if not isinstance(value, str):
        raise Untrusted(f"'{path}' must be a string")
    if len(value) > limit:
        raise Untrusted(f"'{path}' is longer than {limit:,} characters ({len(value):,})")
    _check_str(path, value)
    return value


def _check_str(path: str, value: str) -> None:
    if "\0" in value:
        raise Untrusted(f"'{path}' contains a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Untrusted(
            f"'{path}' contains a lone surrogate (\\u{ord(value[exc.start]):04x}), "
            "which is not a character"
        ) from None


def utc_time(path: str, value: object) -> datetime:
    """An ISO 8601 time with a zone, converted to UTC and range-checked."""
    if not isinstance(value, str):
        raise Untrusted(f"'{path}' must be an ISO 8601 string")
    if len(value) > 64:
        raise Untrusted(f"'{path}' is not an ISO 8601 time (longer than 64 characters)")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Untrusted(f"'{path}' is not an ISO 8601 time: {value!r}") from None
    if t.tzinfo is None:
        raise Untrusted(f"'{path}' needs a time zone (e.g. 2026-01-05T09:00:00Z)")
    try:
        utc = t.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise Untrusted(
            f"'{path}' is out of range: {value!r} (must be between "
            f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} UTC)"
        )
    return utc


def check_json(path: str, value: object, depth: int = 0) -> None:
    """Every string, key and number in a parsed JSON value is storable (see module).

    `depth` counts the containers around `value`: at most MAX_DEPTH levels in all."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise Untrusted(f"'{path}' is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _check_str(path, value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise Untrusted(f"'{path}' is a number outside the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Untrusted(f"'{path}' is not a finite number ({value!r})")
    elif isinstance(value, dict):
        for k, v in value.items():
            key_path = f"{path}.{k}" if path else str(k)
            if not isinstance(k, str):
                raise Untrusted(f"'{path}' has a key that is not a string")
            if len(k) > MAX_KEY:
                raise Untrusted(f"'{path}' has a key longer than {MAX_KEY} characters")
            _check_str(f"{path} (a key)", k)
            check_json(key_path, v, depth + 1)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            check_json(f"{path}[{n}]", v, depth + 1)
    else:
        raise Untrusted(f"'{path}' is not a JSON value ({type(value).__name__})")


def sign_in_name(value: object) -> str:
    """An account's name as a person types it (sign-in, a new account): runs of
    whitespace become one space, and the result must be 1 to MAX_SIGN_IN_NAME
    characters with no control or format characters (no NUL, no escape sequence for a
    terminal, no right-to-left override that would make one name look like another in
    the audit trail) and no lone surrogates."""
    if not isinstance(value, str):
        raise Untrusted("'name' must be a string")
    if len(value) > 4 * MAX_SIGN_IN_NAME:  # refuse a huge value before touching it
        raise Untrusted(f"'name' is longer than {MAX_SIGN_IN_NAME:,} characters ({len(value):,})")
    name = " ".join(value.split())
    if not name:
        raise Untrusted("'name' is empty")
    text("name", name, MAX_SIGN_IN_NAME)
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise Untrusted(
                f"'name' contains U+{ord(ch):04X} ({unicodedata.category(ch)}), which is not "
                "a visible character: use letters, digits, spaces and punctuation"
            )
    return name


def recorded_name(value: object) -> str:
    """A name as an audit event may hold it, whoever supplied it: a valid name as it
    is; anything else cut to RECORDED_NAME_CHARS characters, every unusual one escaped
    (so it can be read and stored whatever it held), with its full length if cut."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    try:
        if sign_in_name(value) == value:
            return value
    except Untrusted:
        pass
    head = value[:RECORDED_NAME_CHARS]
    shown = "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else ascii(ch)[1:-1]
        for ch in head
    )
    if len(value) > RECORDED_NAME_CHARS:
        shown += f"… ({len(value):,} characters)"
    return shown
