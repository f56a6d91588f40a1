"""A throwaway PostgreSQL server for tests and benchmarks.

Usage::

    with PgServer() as pg:
        pg.create_database("bench")
        engine = create_engine(pg.url("bench"))

The server runs from a fresh temporary directory on 127.0.0.1 and a free TCP port,
with durability switched off (fsync, synchronous_commit, full_page_writes) because
its data is thrown away; ``PgServer(in_memory=True)`` (the tests') puts that directory
in /dev/shm when it has room. When the current user is root, initdb and the server run as
the ``postgres`` OS user (PostgreSQL refuses to run as root); otherwise they run as the
current user. The superuser is always called ``postgres`` with trust authentication.

``tests/`` is not a package: benchmark scripts do
``sys.path.insert(0, str(<repo>/"tests"))`` and then ``import pgserver``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PgNotAvailableError",
    "PgServer",
    "PgServerError",
    "find_pg_bindir",
]

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_PG_OS_USER = "postgres"
# Unix socket paths are limited to ~107 bytes; ".s.PGSQL.NNNNN" needs room.
_MAX_SOCKET_DIR_LEN = 80
# The group roles migration 0018 grants to (cluster-wide, so created once here).
PERSON_GROUP = "reviewer_person"
APP_GROUPS = ("reviewer_moderator", "reviewer_qa", "reviewer_lead", "reviewer_admin")
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# A server setting's name as pg_db_role_setting stores it (custom ones have a dot).
_GUC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_MEMORY_DIR = Path("/dev/shm")


class PgServerError(RuntimeError):
    """The PostgreSQL server could not be set up, started or used."""


class PgNotAvailableError(PgServerError):
    """PostgreSQL server binaries (or the OS user to run them as) are not installed."""


def _has_binaries(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in _REQUIRED_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<ver>/bin: sort by the numeric version, newest first.
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path | None:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None.

    ``$REVIEWER_PG_BINDIR`` if set (and only it); otherwise, in order: ``initdb`` on
    ``PATH``; ``pg_config --bindir``; Debian's ``/usr/lib/postgresql/<ver>/bin`` (newest).
    """
    if env := os.environ.get("REVIEWER_PG_BINDIR"):
        # An explicit choice is not second-guessed: wrong means "not available".
        return Path(env) if _has_binaries(Path(env)) else None
    candidates: list[Path] = []
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    for cand in candidates:
        if _has_binaries(cand):
            return cand
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One throwaway PostgreSQL cluster. ``start()``/``stop()`` or use as a context manager."""

    superuser = _PG_OS_USER
    host = "127.0.0.1"
    # The role that owns the tables and runs migrations (never a workstation's).
    owner = "reviewer_owner"
    owner_password = "owner-of-the-throwaway-tables"

    def __init__(
        self,
        bindir: Path | str | None = None,
        *,
        start_timeout: float = 60.0,
        in_memory: bool = False,
    ):
        found = Path(bindir) if bindir is not None else find_pg_bindir()
        if found is None or not _has_binaries(found):
            if found is not None:
                where = str(found)
            elif env := os.environ.get("REVIEWER_PG_BINDIR"):
                where = f"{env} ($REVIEWER_PG_BINDIR)"
            else:
                where = "PATH, pg_config --bindir or /usr/lib/postgresql/*/bin"
            raise PgNotAvailableError(
                f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in {where}. "
                "On Debian/Ubuntu: sudo apt-get install -y postgresql"
            )
        self.bindir: Path = found
        self.start_timeout = start_timeout
        # The tests' server: in RAM (/dev/shm) where there is room. On this project's
        # ext4 disk a CREATE DATABASE (hundreds of files) took 40 to 400 ms, on tmpfs
        # about 25 ms, and the suite creates and drops a database per test. Benchmarks
        # keep the default, so their figures stay comparable with earlier ones.
        self.in_memory = in_memory
        self.port: int | None = None
        self.basedir: Path | None = None
        self._as_root = os.geteuid() == 0
        self._started = False

    # ------------------------------------------------------------------ paths
    @property
    def datadir(self) -> Path:
        return self._base() / "data"

    @property
    def socketdir(self) -> Path:
        return self._base() / "sock"

    @property
    def logfile(self) -> Path:
        return self._base() / "server.log"

    def _base(self) -> Path:
        if self.basedir is None:
            raise PgServerError("PgServer is not started")
        return self.basedir

    # ---------------------------------------------------------------- running
    def _cmd(self, *args: str) -> list[str]:
        # PostgreSQL refuses to run as root, so as root we switch to the postgres user.
        if self._as_root:
            return ["runuser", "-u", _PG_OS_USER, "--", *args]
        return list(args)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = self._cmd(*args)
        try:
            return subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError as e:
            raise PgServerError(
                f"{' '.join(cmd)} failed with exit code {e.returncode}:\n"
                f"{e.stdout}{e.stderr}{self._log_tail()}"
            ) from None
        except subprocess.TimeoutExpired:
            raise PgServerError(
                f"{' '.join(cmd)} timed out after {timeout}s{self._log_tail()}"
            ) from None

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except (OSError, PgServerError):
            return ""
        return "\n--- server log (tail) ---\n" + "\n".join(text)

    def _make_basedir(self) -> Path:
        memory = _MEMORY_DIR if self.in_memory and _has_room(_MEMORY_DIR) else None
        if not self._as_root:
            base = Path(tempfile.mkdtemp(prefix="reviewer-pg-", dir=memory))
        else:
            try:
                pw = pwd.getpwnam(_PG_OS_USER)
            except KeyError:
                raise PgNotAvailableError(
                    f"running as root, but there is no {_PG_OS_USER!r} OS user to run "
                    "PostgreSQL as (the Debian 'postgresql' package creates it): "
                    "sudo apt-get install -y postgresql"
                ) from None
            if shutil.which("runuser") is None:
                raise PgNotAvailableError("running as root, but runuser (util-linux) is missing")
            # The postgres user must be able to reach the directory: $TMPDIR may be
            # private to root, so fall back to /tmp in that case.
            parent = memory or Path(tempfile.gettempdir())
            if not _world_traversable(parent):
                parent = Path("/tmp")
            base = Path(tempfile.mkdtemp(prefix="reviewer-pg-", dir=parent))
            os.chown(base, pw.pw_uid, pw.pw_gid)
        if len(str(base / "sock")) > _MAX_SOCKET_DIR_LEN:
            shutil.rmtree(base, ignore_errors=True)
            base = Path(tempfile.mkdtemp(prefix="reviewer-pg-", dir="/tmp"))
            if self._as_root:
                pw = pwd.getpwnam(_PG_OS_USER)
                os.chown(base, pw.pw_uid, pw.pw_gid)
        return base

    def start(self) -> PgServer:
        """initdb a fresh cluster and start it; returns self. Idempotent."""
        if self._started:
            return self
        self.basedir = self._make_basedir()
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D", str(self.datadir),
                "-U", self.superuser,
                "-A", "trust",
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            )  # fmt: skip
            self._run("mkdir", "-m", "700", str(self.socketdir))
            # Appended settings override initdb's defaults (last one wins).
            with (self.datadir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# reviewer test server: throwaway data, so no durability\n"
                    f"listen_addresses = '{self.host}'\n"
                    f"unix_socket_directories = '{self.socketdir}'\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 200\n"
                    "logging_collector = off\n"
                )
                if self.in_memory:
                    # Checkpoints recycle WAL sooner than at the 1 GB default: copied
                    # databases write theirs, and it should not sit in RAM for long.
                    conf.write("max_wal_size = 256MB\n")
            # The superuser keeps trust (tests and benchmarks administer through it);
            # every other role, the owner and each person's login role, must show its
            # own SCRAM password, as on a team's server.
            (self.datadir / "pg_hba.conf").write_text(
                "local all all trust\n"
                f"host all {self.superuser} {self.host}/32 trust\n"
                f"host all all {self.host}/32 scram-sha-256\n"
            )
            # A free port can be taken between probing and binding: retry a few times.
            last_error: PgServerError | None = None
            for _attempt in range(5):
                self.port = _free_port()
                try:
                    self._run(
                        str(self.bindir / "pg_ctl"),
                        "-D", str(self.datadir),
                        "-l", str(self.logfile),
                        "-o", f"-p {self.port}",
                        "-w",
                        "-t", str(int(self.start_timeout)),
                        "start",
                        timeout=self.start_timeout + 30,
                    )  # fmt: skip
                except PgServerError as e:
                    last_error = e
                    if "already in use" not in str(e):
                        break
                else:
                    last_error = None
                    break
            if last_error is not None:
                raise last_error
        except BaseException:
            self._cleanup()
            raise
        self._started = True
        atexit.register(self.stop)
        try:
            self._create_team_roles()
        except BaseException:
            self.stop()
            raise
        return self

    def _create_team_roles(self) -> None:
        # What a team's server set-up does once (README "Team server"): the owner role
        # that runs migrations and the group roles per app role.
        self._admin_execute(
            f"CREATE ROLE {self.owner} LOGIN CREATEROLE PASSWORD '{self.owner_password}'"
        )
        self._admin_execute(f"CREATE ROLE {PERSON_GROUP} NOLOGIN")
        for group in APP_GROUPS:
            self._admin_execute(f"CREATE ROLE {group} NOLOGIN IN ROLE {PERSON_GROUP}")

    def stop(self) -> None:
        """Stop the server (immediate mode) and remove its directory. Idempotent."""
        atexit.unregister(self.stop)
        if self.basedir is None:
            return
        try:
            if self._started:
                try:
                    self._run(
                        str(self.bindir / "pg_ctl"),
                        "-D", str(self.datadir),
                        "-m", "immediate",
                        "-w",
                        "stop",
                        timeout=60,
                    )  # fmt: skip
                except PgServerError:
                    self._kill_postmaster()
        finally:
            self._started = False
            self._cleanup()

    def _kill_postmaster(self) -> None:
        # Last resort if pg_ctl could not stop it: SIGQUIT is PostgreSQL's immediate stop.
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGQUIT)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        if self.basedir is not None:
            shutil.rmtree(self.basedir, ignore_errors=True)
            self.basedir = None
        self.port = None

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._started

    # -------------------------------------------------------------- databases
    def url(self, dbname: str = "postgres", user: str | None = None, password: str = "") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for database ``dbname`` on this server, as
        the superuser or as ``user`` with ``password``."""
        if not self._started:
            raise PgServerError("PgServer is not started")
        if user is None:
            return f"postgresql+psycopg://{self.superuser}@{self.host}:{self.port}/{dbname}"
        who = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"postgresql+psycopg://{who}@{self.host}:{self.port}/{dbname}"

    def owner_url(self, dbname: str) -> str:
        """``dbname`` as the owner role: the one migrations run as."""
        return self.url(dbname, self.owner, self.owner_password)

    def _admin_connection(self) -> psycopg.Connection:
        # psycopg directly (not SQLAlchemy): CREATE/DROP DATABASE need autocommit and this
        # keeps the helper free of engine pools that would hold connections open.
        import psycopg

        if not self._started:
            raise PgServerError("PgServer is not started")
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    def _admin_execute(self, statement: str) -> None:
        with self._admin_connection() as conn:
            conn.execute(statement)

    @staticmethod
    def _check_name(name: str) -> str:
        # Names are interpolated as quoted identifiers; keep them to simple ones.
        if not _DB_NAME_RE.match(name):
            raise ValueError(
                f"database name {name!r} must match {_DB_NAME_RE.pattern} (max 63 chars)"
            )
        return name

    def create_database(
        self, name: str, owner: str | None = None, template: str | None = None
    ) -> str:
        """Create a database (owned by ``owner``, else the superuser); returns its
        SQLAlchemy URL as the superuser.

        Empty, unless ``template`` names a database made ready with `freeze_template`:
        then a copy of it, database-level settings (``ALTER DATABASE ... SET``) included,
        which CREATE DATABASE itself does not copy."""
        owned = f" OWNER {owner}" if owner else ""
        source = f'"{self._check_name(template)}"' if template else "template0"
        self._admin_execute(f'CREATE DATABASE "{self._check_name(name)}" TEMPLATE {source}{owned}')
        if template:
            try:
                self._copy_database_settings(template, name)
            except BaseException:
                self.drop_database(name)
                raise
        return self.url(name)

    def freeze_template(self, name: str) -> None:
        """Make ``name`` a template for `create_database`: nobody connects to it any
        more (CREATE DATABASE refuses a source with sessions open, and autovacuum leaves
        it alone), and its database-level grants are checked to be the defaults, which
        is all a copy gets (CREATE DATABASE resets them)."""
        from psycopg import sql

        with self._admin_connection() as conn:
            acl = conn.execute(
                "SELECT datacl FROM pg_database WHERE datname = %s", (self._check_name(name),)
            ).fetchone()
            if acl is None:
                raise PgServerError(f"no database {name!r} to make a template of")
            if acl[0] is not None:
                raise PgServerError(
                    f"database {name!r} has its own grants ({acl[0]}), which a copy would "
                    "not get: create each test's database on its own instead"
                )
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )

    def _database_settings(self, conn: psycopg.Connection, name: str) -> list[tuple[str, str]]:
        # (role or "", "name=value") per database-level default: pg_db_role_setting.
        rows = conn.execute(
            "SELECT coalesce(r.rolname, ''), unnest(s.setconfig)"
            " FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
            " LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = %s",
            (name,),
        ).fetchall()
        return sorted((str(role), str(entry)) for role, entry in rows)

    def _copy_database_settings(self, source: str, target: str) -> None:
        from psycopg import sql

        with self._admin_connection() as conn:
            wanted = self._database_settings(conn, source)
            for role, entry in wanted:
                key, _, value = entry.partition("=")
                if not _GUC_NAME_RE.match(key):
                    raise PgServerError(f"unexpected setting {entry!r} on {source!r}")
                where = sql.SQL("ALTER DATABASE {}").format(sql.Identifier(target))
                if role:
                    where = sql.SQL("ALTER ROLE {} IN DATABASE {}").format(
                        sql.Identifier(role), sql.Identifier(target)
                    )
                conn.execute(
                    sql.SQL("{} SET {} = {}").format(where, sql.SQL(key), sql.Literal(value))
                )
            # A list-valued setting read back differently would change what the copy
            # runs with: refuse rather than hand a test a different database.
            got = self._database_settings(conn, target)
            if got != wanted:
                raise PgServerError(
                    f"copying {source!r}'s settings to {target!r} gave {got}, not {wanted}"
                )

    def dump(self, name: str) -> str:
        """``pg_dump --create`` of a database: its definition and database-level
        settings, schema, grants, policies and rows, as SQL text."""
        return self._run(
            str(self.bindir / "pg_dump"),
            "--create",
            "--no-password",
            "-h", self.host,
            "-p", str(self.port),
            "-U", self.superuser,
            self._check_name(name),
        ).stdout  # fmt: skip

    def drop_database(self, name: str) -> None:
        """Drop a database if it exists, disconnecting any sessions still using it."""
        self._admin_execute(f'DROP DATABASE IF EXISTS "{self._check_name(name)}" WITH (FORCE)')


def _has_room(path: Path) -> bool:
    """A writable directory with room for a test cluster and its WAL (a container's
    /dev/shm is often 64 MB: too small, so the disk is used there)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return path.is_dir() and os.access(path, os.W_OK) and st.f_bavail * st.f_frsize >= 2 << 30


def _world_traversable(path: Path) -> bool:
    """True if every directory from / down to ``path`` is searchable by others."""
    path = path.resolve()
    for p in (path, *path.parents):
        try:
            if not p.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True
