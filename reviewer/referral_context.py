"""The account and chat context a referral needs, as it travels with an item.

A manifest line may carry a `subject` object and a `chat` list (README, "Command
line"). They are validated here, normalised to plain JSON (times as ISO 8601 UTC
strings) and kept in the item's `extra` under the keys "subject" and "chat", so the
store needs no new columns and disposing of an item's personal data (which clears
`extra`) removes them too.

The URL the content was found at may be given as `extra.url`.

Gaps are allowed: an upload with no port, an account with no phone. The referral
builder lists what is missing; only values that are present but malformed are refused.

    "subject": {"account_id": "u-1", "email": "a@example.test", "phone": "+44 7700 900001",
                "linked_accounts": ["u-2"], "device_ids": ["android-1f2e"],
                "upload_ips": [{"ip": "192.0.2.7", "at": "2026-01-05T09:00:00Z", "port": 51234}],
                "login_ips":  [{"ip": "198.51.100.2", "at": "2026-01-04T21:10:00Z", "port": 40001}],
                "identity_documents": ["passport (description only)"]}
    "chat": [{"at": "2026-01-05T08:58:00Z", "sender": "u-1", "ip": "192.0.2.7", "text": "…"}]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reviewer.referral_model import ChatLine, IpEvent, ReferralSubject
from reviewer.untrusted import (
    MAX_CHAT_CHARS,
    MAX_CHAT_LINES,
    MAX_CHAT_TEXT,
    MAX_LIST,
    MAX_NAME,
    Untrusted,
    text,
    utc_time,
)

SUBJECT_KEY = "subject"
CHAT_KEY = "chat"
_SUBJECT_FIELDS = {
    "account_id",
    "email",
    "phone",
    "linked_accounts",
    "device_ids",
    "upload_ips",
    "login_ips",
    "identity_documents",
}
_EVENT_FIELDS = {"ip", "at", "port"}
_CHAT_FIELDS = {"at", "sender", "ip", "text"}


class ContextInvalid(ValueError):
    """A `subject` or `chat` value is malformed; the message names the field."""


def _time(path: str, value: object) -> str | None:
    if value is None:
        return None
    try:
        t = utc_time(path, value)
    except Untrusted as exc:
        raise ContextInvalid(str(exc)) from None
    return t.isoformat().replace("+00:00", "Z")


def _ip(path: str, value: object) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ContextInvalid(f"'{path}' is not an IP address: {value!r}") from None


def _str(path: str, value: object, limit: int = MAX_NAME) -> str | None:
    if value is None:
        return None
    try:
        return text(path, value, limit).strip() or None
    except Untrusted as exc:
        raise ContextInvalid(str(exc)) from None


def _strings(path: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContextInvalid(f"'{path}' must be a list of strings")
    _bounded(path, value)
    out = []
    for n, v in enumerate(value):
        s = _str(f"{path}[{n}]", v)
        if s:
            out.append(s)
    return out


def _bounded(path: str, value: list[Any]) -> None:
    if len(value) > MAX_LIST:
        raise ContextInvalid(f"'{path}' has more than {MAX_LIST:,} entries")


def _unknown(path: str, obj: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ContextInvalid(
            f"unknown field(s) in '{path}': {', '.join(extra)}; allowed: {sorted(allowed)}"
        )


def _events(path: str, value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContextInvalid(f"'{path}' must be a list of {{ip, at, port}} objects")
    _bounded(path, value)
    out = []
    for n, ev in enumerate(value):
        p = f"{path}[{n}]"
        if not isinstance(ev, dict):
            raise ContextInvalid(f"'{p}' must be an object with ip, at and port")
        _unknown(p, ev, _EVENT_FIELDS)
        ip = _ip(f"{p}.ip", ev.get("ip"))
        if ip is None:
            raise ContextInvalid(f"'{p}.ip' is required")
        port = ev.get("port")
        # bool is an int in Python; a port of `true` is a mistake, not 1.
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            raise ContextInvalid(f"'{p}.port' must be a port number 1-65535, not {port!r}")
        out.append({"ip": ip, "at": _time(f"{p}.at", ev.get("at")), "port": port})
    return out


def parse_subject(value: object) -> dict[str, Any]:
    """Validate a manifest's `subject` object; returns its normalised JSON form."""
    if not isinstance(value, dict):
        raise ContextInvalid("'subject' must be an object")
    _unknown("subject", value, _SUBJECT_FIELDS)
    return {
        "account_id": _str("subject.account_id", value.get("account_id")),
        "email": _str("subject.email", value.get("email")),
        "phone": _str("subject.phone", value.get("phone"), 60),
        "linked_accounts": _strings("subject.linked_accounts", value.get("linked_accounts")),
        "device_ids": _strings("subject.device_ids", value.get("device_ids")),
        "upload_ips": _events("subject.upload_ips", value.get("upload_ips")),
        "login_ips": _events("subject.login_ips", value.get("login_ips")),
        "identity_documents": _strings(
            "subject.identity_documents", value.get("identity_documents")
        ),
    }


def parse_chat(value: object) -> list[dict[str, Any]]:
    """Validate a manifest's `chat` list; returns its normalised JSON form."""
    if not isinstance(value, list):
        raise ContextInvalid("'chat' must be a list of {at, sender, ip, text} objects")
    if len(value) > MAX_CHAT_LINES:
        raise ContextInvalid(f"'chat' has more than {MAX_CHAT_LINES:,} lines")
    out: list[dict[str, Any]] = []
    chars = 0
    for n, line in enumerate(value):
        p = f"chat[{n}]"
        if not isinstance(line, dict):
            raise ContextInvalid(f"'{p}' must be an object with at, sender, ip and text")
        _unknown(p, line, _CHAT_FIELDS)
        out.append(
            {
                "at": _time(f"{p}.at", line.get("at")),
                "sender": _str(f"{p}.sender", line.get("sender")) or "",
                "ip": _ip(f"{p}.ip", line.get("ip")),
                "text": _str(f"{p}.text", line.get("text"), MAX_CHAT_TEXT) or "",
            }
        )
        chars += len(out[-1]["text"]) + len(out[-1]["sender"])
        if chars > MAX_CHAT_CHARS:
            raise ContextInvalid(
                f"'chat' holds more than {MAX_CHAT_CHARS:,} characters of text in all"
            )
    return out


# -- back out, for the referral builder ----------------------------------------------


def _dt(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _event(d: Mapping[str, Any]) -> IpEvent:
    port = d.get("port")
    return IpEvent(
        str(d.get("ip") or ""), _dt(d.get("at")), port if isinstance(port, int) else None
    )


def subject_from(
    extra: Mapping[str, Any],
    reported_accounts: tuple[str, ...] = (),
    upload_ip: str | None = None,
    upload_time: datetime | None = None,
) -> ReferralSubject:
    """The referral subject from an item's stored context.

    Falls back on the item's own columns where the manifest gave no `subject`: the
    first reported account as the account ID, the rest as linked accounts, and the
    item's upload IP and time (with no port: the referral will say the port is missing).
    """
    raw = extra.get(SUBJECT_KEY)
    s: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    accounts = [a for a in reported_accounts if a]
    account_id = s.get("account_id") or (accounts[0] if accounts else "")
    linked = list(s.get("linked_accounts") or accounts[1:])
    uploads = [_event(e) for e in s.get("upload_ips") or () if isinstance(e, dict)]
    if not uploads and upload_ip:
        uploads = [IpEvent(upload_ip, upload_time, None)]
    logins = [_event(e) for e in s.get("login_ips") or () if isinstance(e, dict)]
    # The most recent logins first, as the referral form expects.
    logins.sort(key=lambda e: e.at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return ReferralSubject(
        account_id=str(account_id),
        email=s.get("email"),
        phone=s.get("phone"),
        linked_accounts=tuple(str(a) for a in linked),
        upload_ips=tuple(uploads),
        login_ips=tuple(logins),
        device_ids=tuple(str(d) for d in s.get("device_ids") or ()),
        identity_documents=tuple(str(d) for d in s.get("identity_documents") or ()),
    )


def chat_from(extra: Mapping[str, Any]) -> tuple[ChatLine, ...]:
    raw = extra.get(CHAT_KEY)
    if not isinstance(raw, list):
        return ()
    return tuple(
        ChatLine(
            _dt(c.get("at")), str(c.get("sender") or ""), c.get("ip"), str(c.get("text") or "")
        )
        for c in raw
        if isinstance(c, dict)
    )
