"""`reviewer hashlist ...`: import and export known-hash lists, list versions, re-match,
and the lead's list of near-duplicate groups graded inconsistently.

    reviewer hashlist import FILE --name N --source ORG   new version of list N
                 [--format csv|jsonl|vics] [--categories caid-uk|TABLE.json]
    reviewer hashlist list                                 every version, with provenance
    reviewer hashlist rematch                              match pending items again
    reviewer hashlist rehash                               PDQ of stored still images again
    reviewer hashlist export --format csv|jsonl|vics --out FILE [--source ORG]
                 [--categories caid-uk|TABLE.json]
    reviewer hashlist flags                                groups flagged for a lead
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from db.hashes import HashRepo
from db.store import Store
from reviewer.cli_common import open_stores
from reviewer.hashing import PDQ_MATCH_DISTANCE
from reviewer.hashlists import ListRefused
from reviewer.matching import export_confirmed, import_hash_list, rehash_stored, rematch_pending
from reviewer.vics import TABLES, CategoryTable

DEFAULT_EXPORT_SOURCE = "Reviewer export"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the `hashlist` command (called once from reviewer.cli.build_parser)."""
    p = subparsers.add_parser(
        "hashlist", parents=[common], help="import/export known-hash lists (PDQ, MD5, SHA-256)"
    )
    sub = p.add_subparsers(dest="hash_action", required=True)
    p_imp = sub.add_parser("import", parents=[common], help="import a CSV or JSON Lines list")
    p_imp.add_argument("file", help="the list (CSV with a header row, JSON Lines or VICS 2.0)")
    p_imp.add_argument(
        "--format",
        choices=["csv", "jsonl", "vics"],
        default=None,
        help="the list's format (default: detected)",
    )
    p_imp.add_argument(
        "--categories",
        default="caid-uk",
        help="VICS category table: caid-uk (default) or a JSON file (see README)",
    )
    p_imp.add_argument("--name", required=True, help="list name; re-importing makes a new version")
    p_imp.add_argument("--source", required=True, help="organisation that supplied the list")
    p_imp.add_argument(
        "--radius",
        type=int,
        default=PDQ_MATCH_DISTANCE,
        help=f"PDQ match distance (default {PDQ_MATCH_DISTANCE})",
    )
    p_imp.set_defaults(func=cmd_import)
    p_list = sub.add_parser("list", parents=[common], help="every list version, with provenance")
    p_list.set_defaults(func=cmd_list)
    p_re = sub.add_parser("rematch", parents=[common], help="match pending items again")
    p_re.set_defaults(func=cmd_rematch)
    p_rh = sub.add_parser(
        "rehash",
        parents=[common],
        help=(
            "compute stored still images' PDQ again (once after upgrading the hasher); "
            "video keyframe hashes are not re-hashed: a video ingested before keyframes "
            "were hashed like pictures keeps its older keyframe PDQs"
        ),
    )
    p_rh.set_defaults(func=cmd_rehash)
    p_exp = sub.add_parser(
        "export", parents=[common], help="hashes of confirmed (Category A/B/C) items"
    )
    p_exp.add_argument("--format", choices=["csv", "jsonl", "vics"], required=True)
    p_exp.add_argument(
        "--categories",
        default="caid-uk",
        help="VICS category table for --format vics: caid-uk (default) or a JSON file",
    )
    p_exp.add_argument("--out", required=True, help="file to write (refuses to overwrite)")
    p_exp.add_argument(
        "--source", default=DEFAULT_EXPORT_SOURCE, help="our organisation's name in the rows"
    )
    p_exp.set_defaults(func=cmd_export)
    p_flags = sub.add_parser(
        "flags", parents=[common], help="near-duplicate groups graded differently (for a lead)"
    )
    p_flags.set_defaults(func=cmd_flags)


def _open(args: argparse.Namespace) -> tuple[Store, HashRepo]:
    store, _media = open_stores(args.db)
    return store, store.hashes


def _categories(args: argparse.Namespace) -> CategoryTable:
    """The VICS category table: a built-in one by name, or a JSON file."""

    if args.categories in TABLES:
        return TABLES[args.categories]
    path = Path(args.categories)
    if not path.is_file():
        known = ", ".join(TABLES)
        raise ValueError(f"--categories: no table {args.categories!r} (built in: {known})")
    return CategoryTable.from_json(path.read_text(encoding="utf-8"))


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"reviewer hashlist import: no such file: {path}", file=sys.stderr)
        return 2
    try:
        table = _categories(args)
    except ValueError as exc:
        print(f"reviewer hashlist import: {exc}", file=sys.stderr)
        return 2
    store, repo = _open(args)
    try:
        report = import_hash_list(
            repo,
            path.read_bytes(),
            args.name,
            args.source,
            path.name,
            radius=args.radius,
            fmt=args.format,
            categories=table,
        )
    except ListRefused as exc:
        print(f"reviewer hashlist import: {path.name} refused; nothing imported", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err.where}: {err.reason}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"reviewer hashlist import: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    info = report.hash_list
    replaced = f", replacing version {report.replaced_version}" if report.replaced_version else ""
    print(
        f"imported {info.name} version {info.version} from {info.source_org}{replaced}: "
        f"{info.entry_count} hash(es); "
        f"{report.rematched_items} pending item(s) re-matched, {report.matches} match(es)"
    )
    for err in report.errors:  # notices only: a list with errors is refused
        print(f"  {err.where}: {err.reason}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store, repo = _open(args)
    try:
        lists = repo.lists()
    finally:
        store.close()
    if not lists:
        print("no hash lists imported")
    for v in lists:
        state = "active" if v.active else "superseded"
        print(
            f"{v.name} v{v.version} [{state}] {v.source_org}: {v.entry_count} hashes, "
            f"{v.rejected_count} rejected; {v.file_name} sha256 {v.file_sha256[:16]}…, "
            f"imported {v.imported_at:%Y-%m-%d %H:%M} UTC"
        )
    return 0


def cmd_rematch(args: argparse.Namespace) -> int:
    store, repo = _open(args)
    try:
        items, matches = rematch_pending(repo)
    finally:
        store.close()
    print(f"re-matched {items} pending item(s): {matches} match(es)")
    return 0


def cmd_rehash(args: argparse.Namespace) -> int:
    store, media = open_stores(args.db)
    try:
        report = rehash_stored(store.hashes, media.get)
    finally:
        store.close()
    print(
        f"re-hashed {report.checked} stored image(s): {report.changed} PDQ hash(es) changed; "
        f"{report.rematched_items} pending item(s) re-matched, {report.matches} match(es)"
    )
    for sha in report.missing[:20]:
        print(f"  media {sha[:16]}… unreadable from the media store: hash kept as stored")
    if len(report.missing) > 20:
        print(f"  … and {len(report.missing) - 20} more")
    for sha in report.unhashable[:20]:
        print(f"  media {sha[:16]}… gives no PDQ now: its stored hash is kept")
    return 0 if not (report.missing or report.unhashable) else 1


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        print(f"reviewer hashlist export: {out} exists; choose another name", file=sys.stderr)
        return 2
    try:
        table = _categories(args)
    except ValueError as exc:
        print(f"reviewer hashlist export: {exc}", file=sys.stderr)
        return 2
    store, repo = _open(args)
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as f:
            report = export_confirmed(repo, f, args.format, args.source, categories=table)
        tmp.replace(out)  # a half-written export never carries the final name
    except ValueError as exc:
        tmp.unlink(missing_ok=True)
        print(f"reviewer hashlist export: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(
        f"wrote {report.rows} row(s) for {report.items} confirmed item(s) to {out} "
        f"(each with at least {report.grades_needed} agreeing independent grade(s))"
    )
    if report.held:
        print(f"held back {len(report.held)} Category A/B/C item(s) until graders agree:")
        for held in report.held[:20]:
            print(f"  item #{held.item_id} ({held.verdict.category}): {held.verdict.held_because}")
        if len(report.held) > 20:
            print(f"  … and {len(report.held) - 20} more")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    store, repo = _open(args)
    try:
        repo.flag_disagreements()  # sweep first: lists every disagreement, however made
        flags = repo.group_flags()
    finally:
        store.close()
    if not flags:
        print("no near-duplicate groups flagged")
    for f in flags:
        print(f"group {f.group_id}, item #{f.item_id} ({f.flagged_at:%Y-%m-%d %H:%M}): {f.reason}")
    return 0
