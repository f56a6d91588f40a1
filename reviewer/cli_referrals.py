"""Commands for referrals, retention and the admin's settings, registered by
reviewer/cli.py.

    reviewer referral build ITEM_ID --to nca|ncmec [--priority 1-3]
                            [--incident-type TYPE] [--out DIR] [--allow-incomplete]
    reviewer referral awaiting | list | export REFERRAL_ID --out DIR | reporter [--org ...]
    reviewer referral rules [--destination D --level-hours L=H ... --hold-days N
                            --reference-days N --exempt-if-reported-to [D ...]]
                            [--default-destination D]
    reviewer retention run [--dry-run] | settings [--report-hold-days N] [--dispose-days N]
    reviewer audit mitigations --out FILE [--format jsonld|csv] [--since DATE]
    reviewer hold place|lift ITEM_ID --reason TEXT
    reviewer erasure request ITEM_ID [--note TEXT]
    reviewer welfare settings [--set NAME=VALUE ...]

Exit codes: 0 done; 1 refused (incomplete package, nothing to report, a file in the
way); 2 usage error (bad argument, unknown item).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reviewer.accounts import AccessDenied, LoginFailed
from reviewer.cli_common import open_stores
from reviewer.destinations import Destination, Priority, describe_due
from reviewer.errors import NotFound
from reviewer.mitigations import to_csv, to_jsonld_text
from reviewer.permissions import Check, Operation
from reviewer.referral_model import IncidentType
from reviewer.referral_service import (
    AlreadyReported,
    NotReportable,
    PriorityTooLow,
    ReferralIncomplete,
    ReferralKind,
    ReferralService,
)
from reviewer.retention_service import RetentionService
from wellbeing.settings import WelfareSettings


@contextmanager
def _services(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    store, media = open_stores(args.db)
    try:
        account = _sign_in(store, args)
        referrals, retention = store.referrals, store.retention
        yield {
            "check": lambda op: Check(account.id, account.name, op),
            "referral_repo": referrals,
            "retention_repo": retention,
            "referrals": ReferralService(referrals, media, account),
            "retention": RetentionService(retention, media, account),
        }
    finally:
        store.close()


def _sign_in(store: Any, args: argparse.Namespace) -> Any:  # -> Account
    """The person acting, signed in with their password (as at the workstation): a
    command acts as nobody else, and the gate decides each call for this account.
    The password comes from the terminal, or one line of stdin with --password-stdin."""

    name = args.user or getpass.getuser()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
    return store.accounts.authenticate(name, password)


def _fail(msg: str, code: int = 1) -> int:
    print(f"reviewer: {msg}", file=sys.stderr)
    return code


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the expected refusals into a clear message and an exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (LoginFailed, AccessDenied) as exc:
            return _fail(str(exc))
        except ReferralIncomplete as exc:
            print("reviewer: the referral is incomplete; missing:", file=sys.stderr)
            for m in exc.missing:
                print(f"  - {m}", file=sys.stderr)
            print(
                "Add the data, or store it anyway with --allow-incomplete "
                "(the package then lists what is missing).",
                file=sys.stderr,
            )
            return 1
        except (NotReportable, FileExistsError, AlreadyReported, PriorityTooLow) as exc:
            return _fail(str(exc))
        except (NotFound, ValueError) as exc:
            return _fail(str(exc), 2)

    return run


def _describe(ref: Any, now: datetime) -> str:
    flags = ["URGENT"] if ref.urgent else []
    flags.append(f"{ref.destination.label}, priority {int(ref.priority)}")
    flags.append(describe_due(ref.due_at, ref.sent_at, now))
    flags.append("complete" if ref.complete else f"INCOMPLETE ({len(ref.missing)} missing)")
    if ref.exported_at:
        flags.append(f"exported {ref.exported_at:%Y-%m-%d %H:%M}")
    if ref.disposed_at:
        flags.append(f"text disposed {ref.disposed_at:%Y-%m-%d}")
    items = ",".join(str(i) for i in ref.item_ids)
    return f"{ref.id:>5}  {ref.reference}  item {items}  " + ", ".join(flags)


def _export(svc: Any, ref_id: int, out: str) -> None:
    for p in svc.export(ref_id, Path(out)):
        print(f"wrote {p}")


@_guard
def cmd_referral_build(args: argparse.Namespace) -> int:
    if args.out and not Path(args.out).is_dir():
        return _fail(f"--out {args.out} is not a folder", 2)
    if args.to is None and args.kind is None:
        return _fail("say where the referral goes: --to nca|ncmec", 2)
    destination = Destination(args.to) if args.to else ReferralKind(args.kind).destination
    with _services(args) as s:
        ref = s["referrals"].build(
            args.item_id,
            destination,
            priority=Priority(args.priority) if args.priority else None,
            incident_type=IncidentType(args.incident_type) if args.incident_type else None,
            allow_incomplete=args.allow_incomplete,
        )
        print(f"stored referral {ref.reference} (id {ref.id})")
        print(_describe(ref, s["referral_repo"].current_time()))
        for m in ref.missing:
            print(f"  missing: {m}")
        if args.out:
            _export(s["referrals"], ref.id, args.out)
    return 0


@_guard
def cmd_referral_awaiting(args: argparse.Namespace) -> int:
    with _services(args) as s:
        rows = s["referrals"].awaiting()
        now = s["referral_repo"].current_time()
        if not rows:
            print("no item is waiting for a referral")
        for a in rows:
            flags = "URGENT, " if a.urgent else ""
            print(
                f"item {a.item_id:>6}  {a.severity.label}  {flags}suggested {a.destination.label}"
                f" priority {int(a.priority)}, {describe_due(a.due_at, None, now)}"
            )
    return 0


@_guard
def cmd_referral_list(args: argparse.Namespace) -> int:
    with _services(args) as s:
        refs = s["referrals"].referrals()
        now = s["referral_repo"].current_time()
        if not refs:
            print("no referrals yet")
        for ref in refs:
            print(_describe(ref, now))
    return 0


@_guard
def cmd_referral_rules(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.level_hours:
        try:
            pairs = dict(x.split("=", 1) for x in args.level_hours)
        except ValueError:
            return _fail("--level-hours takes LEVEL=HOURS, e.g. 1=1 2=24 3=72", 2)
        changes["time_frames_hours"] = {int(k): float(v) for k, v in pairs.items()}
    if args.hold_days is not None:
        changes["report_hold_days"] = args.hold_days
    if args.reference_days is not None:
        changes["reference_keep_days"] = args.reference_days
    if args.exempt_if_reported_to is not None:
        changes["exempt_if_reported_to"] = frozenset(
            Destination(x) for x in args.exempt_if_reported_to
        )
    if changes and not args.destination:
        return _fail("--destination is needed to change its figures", 2)
    with _services(args) as s:
        rules = s["referral_repo"].update_destination_rules(
            s["check"](Operation.REPORTING_SETTINGS),
            Destination(args.destination) if args.destination else None,
            default_destination=(
                Destination(args.default_destination) if args.default_destination else None
            ),
            **changes,
        )
        print(f"default destination: {rules.default_destination.label}")
        for d, r in rules.rules.items():
            frames = ", ".join(
                f"level {k}: {v:g} h" for k, v in sorted(r.time_frames_hours.items())
            )
            exempt = ", ".join(x.label for x in r.exempt_if_reported_to) or "none"
            print(f"{d.label}: {frames}; hold {r.report_hold_days} days after sending; "
                  f"reference kept {r.reference_keep_days} days; not reported again "
                  f"after a report to: {exempt}")  # fmt: skip
    return 0


@_guard
def cmd_referral_export(args: argparse.Namespace) -> int:
    with _services(args) as s:
        _export(s["referrals"], args.referral_id, args.out)
    return 0


@_guard
def cmd_referral_reporter(args: argparse.Namespace) -> int:
    with _services(args) as s:
        st = s["referral_repo"].update_settings(
            s["check"](Operation.REPORTING_SETTINGS),
            organisation=args.org,
            contact_name=args.contact_name,
            contact_email=args.contact_email,
            contact_phone=args.contact_phone,
        )
        print(f"organisation:  {st.organisation or '(not set)'}")
        print(f"contact name:  {st.contact_name or '(not set)'}")
        print(f"contact email: {st.contact_email or '(not set)'}")
        print(f"contact phone: {st.contact_phone or '(not set)'}")
    return 0


@_guard
def cmd_retention_run(args: argparse.Namespace) -> int:
    with _services(args) as s:
        run = s["retention"].run(dry_run=args.dry_run)
        for line in run.lines():
            print(line)
    return 1 if run.errors else 0


@_guard
def cmd_retention_settings(args: argparse.Namespace) -> int:
    with _services(args) as s:
        st = s["referral_repo"].update_settings(
            s["check"](Operation.REPORTING_SETTINGS),
            report_hold_days=args.report_hold_days,
            non_illegal_dispose_days=args.dispose_days,
        )
        print(f"reported items held for {st.report_hold_days} days after the report")
        print(f"non-illegal items disposed of {st.non_illegal_dispose_days} days after decision")
    return 0


def _setting_value(text: str) -> int | float | str:
    """A number as typed; anything else is passed on for WelfareSettings to refuse by
    name (it owns the rules)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@_guard
def cmd_welfare_settings(args: argparse.Namespace) -> int:
    """Show the welfare settings, or change some (the rest kept): validated whole by
    WelfareSettings, saved and audited through the gate as the signed-in admin."""
    changes: dict[str, Any] = {}
    for pair in args.set or ():
        name, sep, value = pair.partition("=")
        if not sep:
            return _fail("--set takes NAME=VALUE, e.g. break_minutes=15", 2)
        changes[name.strip()] = _setting_value(value.strip())
    store, _media = open_stores(args.db)
    try:
        account = _sign_in(store, args)
        check = Check(account.id, account.name, Operation.WELFARE_SETTINGS)
        repo = store.welfare
        if changes:
            new = WelfareSettings.from_dict(repo.settings().to_dict() | changes)
            repo.save_settings(new, check)
        else:
            repo.authorise(check)
        for name, value in repo.settings().to_dict().items():
            print(f"{name}: {value:g}")
    finally:
        store.close()
    return 0


@_guard
def cmd_hold(args: argparse.Namespace) -> int:
    with _services(args) as s:
        repo = s["retention_repo"]
        if args.action == "place":
            hold = repo.place_hold(args.item_id, s["check"](Operation.RETENTION), args.reason)
            print(
                f"item {args.item_id} is under legal hold (hold {hold.id}); nothing of it "
                "will be disposed of until the hold is lifted"
            )
        else:
            n = repo.lift_hold(args.item_id, s["check"](Operation.RETENTION), args.reason)
            print(f"lifted {n} hold(s) on item {args.item_id}")
    return 0


@_guard
def cmd_erasure(args: argparse.Namespace) -> int:
    with _services(args) as s:
        at = s["retention_repo"].request_erasure(
            args.item_id, s["check"](Operation.RETENTION), args.note
        )
        print(
            f"erasure of item {args.item_id} requested ({at:%Y-%m-%d %H:%M} UTC); the next "
            "`reviewer retention run` honours it unless a hold or report keeps the item"
        )
    return 0


@_guard
def cmd_audit_mitigations(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        return _fail(f"{out} already exists; choose another file", 1)
    if not out.parent.is_dir():
        return _fail(f"no such folder: {out.parent}", 2)
    store, _media = open_stores(args.db)
    try:
        repo = store.mitigations
        rows = repo.decisions(args.since)
        now = repo.current_time()
    finally:
        store.close()
    text = to_csv(rows) if args.format == "csv" else to_jsonld_text(rows, now)
    with open(out, "x", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {len(rows)} decision(s) with the mitigations in force to {out}")
    return 0


def _since_date(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (YYYY-MM-DD)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def register_mitigations(audit_sub: Any, common: argparse.ArgumentParser) -> None:
    """`reviewer audit mitigations`: the welfare practice per decision, for an inspector."""
    m = audit_sub.add_parser(
        "mitigations",
        parents=[common],
        help="per decision, the exposure mitigations in force (CAC ontology terms)",
    )
    m.add_argument("--out", metavar="FILE", required=True, help="a new file (never overwritten)")
    m.add_argument("--format", choices=["jsonld", "csv"], default="jsonld")
    m.add_argument("--since", type=_since_date, metavar="DATE", help="decisions from DATE on")
    m.set_defaults(func=cmd_audit_mitigations)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the referral, retention, hold and erasure commands to `reviewer`."""
    who = argparse.ArgumentParser(add_help=False, parents=[common])
    who.add_argument("--user", help="your account's name (default: the login name)")
    who.add_argument("--password-stdin", action="store_true", help="read your password from stdin")

    p = sub.add_parser("referral", help="referral packages for reported items")
    rs = p.add_subparsers(dest="referral_command", required=True)
    b = rs.add_parser("build", parents=[who], help="build and store a package for an item")
    b.add_argument("item_id", type=int)
    b.add_argument("--to", choices=["nca", "ncmec"], help="destination (NCA or CyberTipline)")
    b.add_argument(
        "--kind", choices=["uk", "cybertip"], help="older spelling: uk = nca, cybertip = ncmec"
    )
    b.add_argument("--priority", type=int, choices=[1, 2, 3], help="default: suggested")
    b.add_argument(
        "--incident-type",
        choices=["apparent_csam", "online_enticement", "child_sex_trafficking"],
        help="default: from the grade's production context",
    )
    b.add_argument("--out", metavar="DIR", help="also export it into this folder")
    b.add_argument(
        "--allow-incomplete", action="store_true", help="store it even if data is missing"
    )
    b.set_defaults(func=cmd_referral_build)
    ls = rs.add_parser("list", parents=[who], help="stored packages, due and overdue first")
    ls.set_defaults(func=cmd_referral_list)
    aw = rs.add_parser("awaiting", parents=[who], help="items graded 'Report' with no referral")
    aw.set_defaults(func=cmd_referral_awaiting)
    ru = rs.add_parser("rules", parents=[who], help="show or set the per-destination rules")
    ru.add_argument("--destination", choices=["nca", "ncmec"])
    ru.add_argument("--level-hours", nargs="+", metavar="LEVEL=HOURS")
    ru.add_argument("--hold-days", type=int)
    ru.add_argument("--reference-days", type=int)
    ru.add_argument(
        "--exempt-if-reported-to",
        nargs="*",
        choices=["nca", "ncmec"],
        metavar="DEST",
        help="no report here for content already reported to these (none given: always report)",
    )
    ru.add_argument("--default-destination", choices=["nca", "ncmec"])
    ru.set_defaults(func=cmd_referral_rules)
    ex = rs.add_parser("export", parents=[who], help="write a stored package into a folder")
    ex.add_argument("referral_id", type=int)
    ex.add_argument("--out", metavar="DIR", required=True)
    ex.set_defaults(func=cmd_referral_export)
    rp = rs.add_parser("reporter", parents=[who], help="show or set who reports")
    rp.add_argument("--org")
    rp.add_argument("--contact-name")
    rp.add_argument("--contact-email")
    rp.add_argument("--contact-phone")
    rp.set_defaults(func=cmd_referral_reporter)

    p = sub.add_parser("retention", help="dispose of what the retention rules allow")
    rt = p.add_subparsers(dest="retention_command", required=True)
    r = rt.add_parser("run", parents=[who], help="apply the retention rules now")
    r.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    r.set_defaults(func=cmd_retention_run)
    st = rt.add_parser("settings", parents=[who], help="show or set the retention periods")
    st.add_argument("--report-hold-days", type=int, help="at least 90 (365 for US reports)")
    st.add_argument("--dispose-days", type=int, help="non-illegal items, after decision")
    st.set_defaults(func=cmd_retention_settings)

    w = sub.add_parser("welfare", help="the welfare limits: breaks, caps, pauses, protection")
    wc = w.add_subparsers(dest="welfare_command", required=True)
    ws = wc.add_parser("settings", parents=[who], help="show or set the welfare settings")
    ws.add_argument(
        "--set",
        nargs="+",
        metavar="NAME=VALUE",
        help="e.g. break_minutes=15 reprotect_after_seconds=5 (takes effect at each sign-in)",
    )
    ws.set_defaults(func=cmd_welfare_settings)

    h = sub.add_parser("hold", parents=[who], help="place or lift a legal hold on an item")
    h.add_argument("action", choices=["place", "lift"])
    h.add_argument("item_id", type=int)
    h.add_argument("--reason", required=True, help="e.g. the preservation order reference")
    h.set_defaults(func=cmd_hold)

    e = sub.add_parser("erasure", parents=[who], help="record an erasure request")
    e.add_argument("action", choices=["request"])
    e.add_argument("item_id", type=int)
    e.add_argument("--note", default="", help="where the request came from")
    e.set_defaults(func=cmd_erasure)
