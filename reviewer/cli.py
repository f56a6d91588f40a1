"""The `reviewer` command: the only place that knows every package and wires them.

    reviewer                          open the workstation (GUI)
    reviewer ingest MANIFEST.jsonl    ingest flagged items from a manifest (exit 0 all in,
                                      1 some lines refused, 2 usage, 3 stopped early)
    reviewer demo --items N           generate and ingest N synthetic demo items
    reviewer audit verify [--since F] check the tamper-evident audit chains (exit 1: broken),
                                      and that the log extends checkpoint file F
    reviewer audit checkpoint         print a signed checkpoint of every chain's head, to
                                      keep somewhere the database's administrator can't reach
    reviewer audit export --since D   write audit events as JSON Lines for an inspector

`--db URL` (or env REVIEWER_DB) chooses the database; the default is an SQLite file
in the data directory (env REVIEWER_DATA_DIR moves it).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from db import audit, team
from db.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointRepo,
    LocalCheckpoint,
    write_file,
)
from db.keys import (
    AUDIT_KEY,
    MEDIA_KEY,
    MIN_PASSPHRASE_CHARS,
    TEAM_SECRETS,
    KeysError,
    PassphraseNeeded,
    SecretSource,
    export_secrets,
    fingerprint,
    import_secrets,
    open_secrets,
)
from db.media_store import MediaStore
from db.migrate import current_revision
from db.store import Store
from db.team import team_public_url, team_sign_in
from db.video import VideoRepo
from reviewer import cli_common, cli_hashes, config
from reviewer.cli_common import database_url, keep_unlocked, open_stores, opened_vault, qa_seed
from reviewer.cli_referrals import register as register_referrals
from reviewer.cli_referrals import register_mitigations
from reviewer.composition import build_workstation, ingest_hook
from reviewer.demo import generate_demo
from reviewer.ingest import IngestReport, default_workers, ingest_manifest
from reviewer.matching_demo import generate_matching_demo
from reviewer.media_files import MediaRefused, import_roots
from reviewer.review_service import Workstation
from reviewer.team_session import TeamSignIn

GUI_DEMO_ITEMS = 30
GUI_MATCH_ITEMS = 10  # of which 3 on the demo hash list and 2 near-duplicates


def _gui_secrets() -> SecretSource | None:
    """As cli_common.secrets, but the passphrase is asked in a window (the app may have
    been started from a desktop menu, with no terminal). None: the person chose Quit."""
    # PySide6 only for the GUI: the command-line tools run on servers without Qt.
    from ui.passphrase import ask_vault_passphrase, tell_in_window

    data_dir = config.data_dir()
    try:
        return open_secrets(data_dir)
    except PassphraseNeeded as exc:
        unlocked = ask_vault_passphrase(
            exc.creating,
            str(exc.vault_path),
            MIN_PASSPHRASE_CHARS,
            lambda passphrase: opened_vault(data_dir, passphrase),
        )
        keep_unlocked(unlocked)
        return unlocked
    except KeysError as exc:
        tell_in_window(f"The reviewer cannot reach its keys.\n\n{exc}")
        raise  # and main() exits with 2, as on the command line


def progress_bar(
    stream: TextIO = sys.stderr, label: str = "", clock: Callable[[], float] = time.monotonic
) -> Callable[[int, int], None]:
    """A text progress bar with the rate and the time left: redrawn in place on a
    terminal (at most ten times a second), a line every 10 % otherwise."""
    tty = stream.isatty()
    start = clock()
    last = {"pct": -1, "drawn": -1.0}

    def show(done: int, total: int) -> None:
        if total <= 0:
            return
        now = clock()
        pct = done * 100 // total
        elapsed = now - start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = _duration((total - done) / rate) if rate > 0 else "?"
        speed = f"{rate:,.2f}" if rate < 10 else f"{rate:,.0f}"
        figures = f"{done}/{total} {speed} items/s, {eta} left"
        if done >= total:
            figures = f"{done}/{total} in {_duration(elapsed)}, {speed} items/s"
        if tty:
            if done < total and now - last["drawn"] < 0.1:
                return
            filled = pct * 30 // 100
            stream.write(f"\r{label}[{'#' * filled}{'.' * (30 - filled)}] {figures}\x1b[K")
            if done >= total:
                stream.write("\n")
            stream.flush()
            last["drawn"] = now
        elif pct // 10 != last["pct"] // 10 or done >= total:
            stream.write(f"{label}{figures} ({pct}%)\n")
        last["pct"] = pct

    return show


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _print_report(report: IngestReport, out: TextIO) -> None:
    out.write(
        f"added {report.added} item(s), {report.duplicates} already present, "
        f"{report.unreadable} with unreadable media (kept, to be graded Not assessable), "
        f"{len(report.errors)} bad line(s)\n"
    )
    for err in report.errors:
        out.write(f"  {err}\n")
    if report.stopped:
        out.write(
            f"STOPPED before the end: {report.stopped}\n"
            f"  what got in until then is listed above and stays in; lines after it were "
            f"not read. Fix the cause and run the same manifest again: items already in "
            f"are recognised, not added twice.\n"
        )


# Exit codes of `reviewer ingest` (README, "Command line").
EXIT_ALL_IN = 0
EXIT_LINES_REFUSED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3


def cmd_ingest(args: argparse.Namespace) -> int:
    path = Path(args.manifest)
    if not path.is_file():
        print(f"reviewer ingest: no such manifest: {path}", file=sys.stderr)
        return EXIT_USAGE
    roots = [Path(r) for r in args.root]
    try:
        import_roots(path, roots)  # an unusable --root is a usage error, before any work
    except MediaRefused as exc:
        print(f"reviewer ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    workers = default_workers() if args.workers is None else args.workers
    store, media = open_stores(args.db)
    try:
        report = ingest_manifest(
            store.items,
            media,
            path,
            progress_bar(label="ingest "),
            on_new_item=ingest_hook(store),
            videos=store.videos,
            roots=roots,
            workers=workers,
        )
    finally:
        store.close()
    _print_report(report, sys.stdout)
    if report.stopped:
        return EXIT_STOPPED
    return EXIT_ALL_IN if report.ok else EXIT_LINES_REFUSED


def cmd_demo(args: argparse.Namespace) -> int:
    if args.items < 1:
        print("reviewer demo: --items must be at least 1", file=sys.stderr)
        return 2
    store, media = open_stores(args.db)
    try:
        report = generate_demo(
            store.items,
            media,
            args.items,
            seed=args.seed,
            max_megapixels=args.max_mp,
            progress=progress_bar(label="demo "),
            on_new_item=ingest_hook(store),
            videos=store.videos,
        )
    finally:
        store.close()
    _print_report(report, sys.stdout)
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    if args.forget:
        team.forget(config.settings_path(), cli_common.secrets())
        print("This workstation now uses its embedded database.")
        return 0
    if not args.url:
        print("reviewer connect: give the server URL, or --forget", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is None and not args.no_password:
        password = getpass.getpass("Database password (kept in the OS keyring): ") or None
    try:
        public = team.connect(args.url, password, config.settings_path(), cli_common.secrets())
    except team.RefusedRole as exc:
        print(f"reviewer connect: refused: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # any failure to reach or authenticate is reported, not raised
        print(f"reviewer connect: could not connect: {exc}", file=sys.stderr)
        return 1
    print(
        f"This workstation now uses {public}; each person signs in with their own "
        "password, which is kept nowhere."
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """The server's owner role brings the schema up to date (and, on a new server,
    enrols the first admin). Never a workstation's daily connection."""

    if not args.db:
        print("reviewer migrate: give --db URL (as the owner role)", file=sys.stderr)
        return 2
    audit_key = cli_common.secrets().get_or_create(AUDIT_KEY)
    store = Store.open(args.db, audit_key=audit_key)
    try:
        print(f"Schema at revision {current_revision(store.engine)}.")
        if args.first_admin:
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass(f"Password for {args.first_admin}: ")
            account = store.accounts.enrol_first_admin(args.first_admin, password)
            print(f"First admin {account.name!r} enrolled; they sign in as themselves.")
    finally:
        store.close()
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    secrets = cli_common.secrets()
    if args.action == "show":
        for name in TEAM_SECRETS:
            value = secrets.get(name)
            print(f"{name}: {fingerprint(value) if value else '(none yet)'}  [{secrets.location}]")
        return 0
    passphrase = getpass.getpass("Transfer passphrase: ")
    if args.action == "export":
        if getpass.getpass("Same passphrase again: ") != passphrase:
            print("reviewer keys: the passphrases differ", file=sys.stderr)
            return 2
        for name in TEAM_SECRETS:
            secrets.get_or_create(name)
        sys.stdout.write(export_secrets(secrets, passphrase))
        return 0
    if not args.file:
        print("reviewer keys import: give the exported file", file=sys.stderr)
        return 2
    names = import_secrets(secrets, Path(args.file).read_text(), passphrase, replace=args.replace)
    print(f"imported {', '.join(names) or 'nothing new'}; compare with `reviewer keys show`")
    return 0


def _audit_store(db: str | None) -> tuple[Store, bytes]:
    """The store with this workstation's audit key, and the key, which must exist
    already: a fresh key would make every event look forged."""
    try:
        key = audit.load_key(cli_common.secrets(), create=False)
    except LookupError as exc:
        print(f"reviewer audit: {exc} (reviewer keys import)", file=sys.stderr)
        raise SystemExit(2) from None  # not 1: that means "broken"
    return Store.open(database_url(db), audit_key=key), key


def _checkpoints(store: Store) -> tuple[CheckpointRepo, LocalCheckpoint]:
    return store.checkpoints, LocalCheckpoint(config.data_dir())


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """The chains, then that the log extends the checkpoint this workstation keeps and
    the file given with --since; a file that holds is kept if it is newer."""

    store, key = _audit_store(args.db)
    try:
        repo, local = _checkpoints(store)
        try:
            since = Checkpoint.read(Path(args.since)) if args.since else None
            held = local.load()
        except CheckpointError as exc:
            print(f"reviewer audit verify: {exc}", file=sys.stderr)
            return 2
        result = repo.verify(key, *[cp for cp in (held, since) if cp is not None])
        if result.ok:
            if since is not None:
                local.keep(since)
            repo.check_at_start(local)  # adopt the newest checkpoint the log records
    finally:
        store.close()
    if result.ok:
        print(result.message)
        return 0
    print(f"reviewer audit verify: BROKEN ({result.problem}): {result.message}")
    print(f"({result.checked} events before it verified)")
    return 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    store, key = _audit_store(args.db)
    try:
        repo, local = _checkpoints(store)
        try:
            cp = repo.take(key, local)
        except CheckpointError as exc:
            print(f"reviewer audit checkpoint: refused: {exc}", file=sys.stderr)
            return 1
    finally:
        store.close()
    if args.out:
        write_file(cp, Path(args.out))
    else:
        sys.stdout.write(cp.to_json())
    print(
        f"checkpoint of {len(cp.chains)} chain(s), root chain at #{cp.root_seq}, digest "
        f"{cp.digest()[:16]}…; keep it where the database's administrator cannot reach",
        file=sys.stderr,
    )
    return 0


def _since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD, or an ISO time such as 2026-03-01T09:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # a bare date means UTC


def cmd_audit_export(args: argparse.Namespace) -> int:
    store, _key = _audit_store(args.db)
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                n = store.export_audit(args.since, out)
        else:
            n = store.export_audit(args.since, sys.stdout)
    finally:
        store.close()
    print(f"exported {n} audit event(s) since {args.since.isoformat()}", file=sys.stderr)
    return 0


def seed_gui_demo(
    store: Store, media: MediaStore, videos: VideoRepo, progress: Callable[[int, int], None]
) -> int:
    """The GUI's first-run demo queue: GUI_DEMO_ITEMS synthetic items (pictures of every
    size, videos, broken files), then GUI_MATCH_ITEMS more with a small synthetic hash
    list imported, so that known matches (the confirm panel) and near-duplicate groups
    are on the queue too. Returns how many items were added."""

    total = GUI_DEMO_ITEMS + GUI_MATCH_ITEMS
    added = generate_demo(
        store.items,
        media,
        GUI_DEMO_ITEMS,
        max_megapixels=12,
        progress=lambda done, _n: progress(done, total),
        on_new_item=ingest_hook(store),
        videos=videos,
    ).added
    matching = generate_matching_demo(store.items, media, store.hashes, n=GUI_MATCH_ITEMS, seed=1)
    progress(total, total)
    return added + matching.total


def _check_audit_at_start(store: Store) -> None:
    """The log must still extend the checkpoint this workstation keeps. If it does not,
    say so here and in the log (the lead dashboard and the next verify see it); the
    workstation still opens: refusing to start would only stop the reviews."""
    repo, local = _checkpoints(store)
    check = repo.check_at_start(local)
    if not check.ok:
        print(f"reviewer: AUDIT WARNING: {check.message}", file=sys.stderr)
        store.record_event(None, "audit_checkpoint_mismatch", None, {"message": check.message})


def cmd_gui(args: argparse.Namespace) -> int:
    # PySide6 only for the GUI: the command-line tools run on servers without Qt.
    from ui.app import run_app

    if _gui_secrets() is None:
        return 0  # Quit chosen in the passphrase dialog: nothing was opened
    public = (
        None if config.explicit_database_url(args.db) else team_public_url(config.settings_path())
    )
    if public is not None:
        return _gui_on_team_server(public)
    store, media = open_stores(args.db)
    _check_audit_at_start(store)
    try:
        return run_app(_workstation(store, media), sys.argv[:1])
    finally:
        store.close()


def _gui_on_team_server(public_url: str) -> int:
    """Team mode: nothing is opened before sign-in; the sign-in dialog's name and
    password are checked by the server, and the workstation then runs as that
    person's own login role."""
    # PySide6 only for the GUI: the command-line tools run on servers without Qt.
    from ui.app import run_app

    secrets = cli_common.secrets()
    media = MediaStore(config.media_dir(), secrets.get_or_create(MEDIA_KEY))
    audit_key = secrets.get_or_create(AUDIT_KEY)
    stores: dict[int, Store] = {}

    def open_workstation(url: str) -> Workstation:
        store = Store.open(url, audit_key=audit_key)
        _check_audit_at_start(store)
        workstation = _workstation(store, media)
        stores[id(workstation)] = store
        return workstation

    def close_workstation(workstation: Workstation) -> None:
        stores.pop(id(workstation)).close()

    sign_in = TeamSignIn(
        lambda name, password: team_sign_in(public_url, name, password),
        open_workstation,
        close_workstation,
    )
    try:
        return run_app(sign_in, sys.argv[:1])
    finally:
        sign_in.close()


def _workstation(store: Store, media: MediaStore) -> Workstation:
    """The one composition of a workstation's services over an open database."""
    videos = store.videos

    def seed(progress: Callable[[int, int], None]) -> int:
        return seed_gui_demo(store, media, videos, progress)

    return build_workstation(store, media, qa_seed(), seed)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,  # so `--db` works before or after the command
        help="database URL (default: env REVIEWER_DB, else SQLite in the data directory)",
    )
    parser = argparse.ArgumentParser(
        prog="reviewer",
        description="Moderator review workstation. With no command, opens the GUI.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command")
    p_ingest = sub.add_parser("ingest", parents=[common], help="ingest a JSON Lines manifest")
    p_ingest.add_argument(
        "manifest", help="path to MANIFEST.jsonl (media paths are relative to its folder)"
    )
    p_ingest.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder media may come from (repeatable); nothing outside the "
        "manifest's folder and these is read",
    )
    p_ingest.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes that hash and decode (default: one per core; 0: none)",
    )
    p_ingest.set_defaults(func=cmd_ingest)
    p_demo = sub.add_parser("demo", parents=[common], help="ingest synthetic demo items")
    p_demo.add_argument("--items", type=int, default=50, help="how many items (default 50)")
    p_demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p_demo.add_argument(
        "--max-mp", type=float, default=24.0, help="largest picture in megapixels (default 24)"
    )
    p_demo.set_defaults(func=cmd_demo)
    p_conn = sub.add_parser(
        "connect", help="use a team PostgreSQL server, signing in as your own role"
    )
    p_conn.add_argument("url", nargs="?", help="postgresql+psycopg://USER@HOST:PORT/DBNAME")
    p_conn.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    p_conn.add_argument("--no-password", action="store_true", help="the server needs none")
    p_conn.add_argument("--forget", action="store_true", help="go back to the embedded database")
    p_conn.set_defaults(func=cmd_connect)
    p_migrate = sub.add_parser(
        "migrate",
        parents=[common],
        help="as the server's owner role: bring the schema up to date, enrol the first admin",
    )
    p_migrate.add_argument("--first-admin", metavar="NAME", help="enrol the first admin")
    p_migrate.add_argument(
        "--password-stdin", action="store_true", help="read the admin's password from stdin"
    )
    p_migrate.set_defaults(func=cmd_migrate)
    p_keys = sub.add_parser(
        "keys", help="show, export or import the team's media and audit keys (enrolment)"
    )
    p_keys.add_argument("action", choices=["show", "export", "import"])
    p_keys.add_argument("file", nargs="?", help="with import: the file `keys export` wrote")
    p_keys.add_argument("--replace", action="store_true", help="import over a different key")
    p_keys.set_defaults(func=cmd_keys)
    p_audit = sub.add_parser(
        "audit", parents=[common], help="check or export the tamper-evident audit log"
    )
    audit_sub = p_audit.add_subparsers(dest="audit_command", required=True)
    p_verify = audit_sub.add_parser(
        "verify", parents=[common], help="check the hash chain: exit 0 intact, 1 broken"
    )
    p_verify.add_argument(
        "--since", metavar="FILE", help="a checkpoint file (`audit checkpoint`) to check against"
    )
    p_verify.set_defaults(func=cmd_audit_verify)
    p_checkpoint = audit_sub.add_parser(
        "checkpoint", parents=[common], help="print a signed checkpoint of every chain's head"
    )
    p_checkpoint.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p_checkpoint.set_defaults(func=cmd_audit_checkpoint)
    p_export = audit_sub.add_parser(
        "export", parents=[common], help="write audit events as JSON Lines for an inspector"
    )
    p_export.add_argument(
        "--since", required=True, type=_since, metavar="DATE", help="YYYY-MM-DD (UTC) or ISO time"
    )
    p_export.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p_export.set_defaults(func=cmd_audit_export)
    register_mitigations(audit_sub, common)  # audit mitigations (CAC ontology terms)
    cli_hashes.register(sub, common)
    register_referrals(sub, common)  # referral, retention, hold, erasure
    parser.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = getattr(args, "db", None)

    try:
        return int(args.func(args))
    except KeysError as exc:
        print(f"reviewer: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
