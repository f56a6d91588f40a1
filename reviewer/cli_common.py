"""What every `reviewer` command shares before it does anything: this workstation's keys
(the OS keyring, or the passphrase vault where none exists) and its database and media
store, opened with them. Used by reviewer.cli and by the command modules it registers
(reviewer.cli_hashes, reviewer.cli_referrals), so none of them imports another's
private helpers."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from db.keys import AUDIT_KEY, MEDIA_KEY, PassphraseNeeded, SecretSource, open_secrets
from db.media_store import MediaStore
from db.store import Store
from db.team import team_url
from reviewer import config

# The secret store this process opened with a passphrase typed in a window (the GUI):
# asked once, reused by every later secrets() of the same run.
_unlocked: SecretSource | None = None


def keep_unlocked(source: SecretSource | None) -> None:
    """The GUI opened the vault with a passphrase typed in a window: reuse it."""
    global _unlocked
    _unlocked = source


def secrets() -> SecretSource:
    """The OS keyring, or the passphrase-protected vault where no keyring exists."""
    if _unlocked is not None:
        return _unlocked
    try:
        return open_secrets(config.data_dir())
    except PassphraseNeeded as exc:
        if not sys.stdin.isatty():
            raise
        print(exc, file=sys.stderr)
        passphrase = getpass.getpass("Key passphrase: ")
        if exc.creating and getpass.getpass("Same passphrase again: ") != passphrase:
            raise SystemExit("reviewer: the passphrases differ") from None
        return open_secrets(config.data_dir(), passphrase)


def opened_vault(data_dir: Path, passphrase: str) -> SecretSource:
    """The vault opened with `passphrase`, its media key read or made, so that a new
    vault is on disk (and a wrong passphrase refused) before the dialog closes."""
    source = open_secrets(data_dir, passphrase)
    source.get_or_create(MEDIA_KEY)
    return source


def ask_db_password(public_url: str) -> str | None:
    """Team mode keeps no password: the person at the keyboard types their own."""
    return getpass.getpass(f"Your password on {public_url}: ") or None


def database_url(db: str | None) -> str:
    """--db (or REVIEWER_DB), else the team server this workstation joined, else the
    embedded SQLite file."""
    return (
        config.explicit_database_url(db)
        or team_url(config.settings_path(), ask_db_password)
        or config.embedded_database_url()
    )


def open_stores(db: str | None) -> tuple[Store, MediaStore]:
    """The database and the media store. Keys first: a missing passphrase fails before
    anything is written."""
    source = secrets()
    media_key = source.get_or_create(MEDIA_KEY)
    audit_key = source.get_or_create(AUDIT_KEY)
    store = Store.open(database_url(db), audit_key=audit_key)
    return store, MediaStore(config.media_dir(), media_key)


def qa_seed() -> bytes:
    # The QA sampler's seed is a team secret, so that every pick can be re-derived
    # by the team and by nobody else.
    return secrets().get_or_create("qa-seed")
