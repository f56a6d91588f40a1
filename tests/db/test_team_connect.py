"""A workstation pointed at a team server signs in as its person's own login role and
keeps no password; the owner and superusers are refused for daily work."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text
from team_server import AUDIT_KEY, TeamDb

from db.engine import make_engine
from db.keys import open_secrets
from db.media_store import MediaStore
from db.store import Store
from db.team import password_name, team_sign_in
from reviewer import config
from reviewer.accounts import AccessDenied, LoginFailed, Role
from reviewer.cli import _workstation, main
from reviewer.review_service import Workstation
from reviewer.team_session import TeamSignIn


@pytest.mark.postgres_only
def test_connect_as_one_s_own_role_keeps_no_password_anywhere(
    team_db: TeamDb, reviewer_data_dir: Path, monkeypatch, capsys
) -> None:
    lead = team_db.person("Lena", Role.LEAD)
    public = team_db.url(lead).replace(f":{quote(lead.password, safe='')}@", "@")
    monkeypatch.setattr("sys.stdin", io.StringIO(lead.password + "\n"))
    assert main(["connect", public, "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert lead.password not in out
    for f in reviewer_data_dir.rglob("*"):
        if f.is_file():
            assert lead.password.encode() not in f.read_bytes(), f"password leaked into {f}"
    public_url = json.loads(config.settings_path().read_text())["team_server"]
    assert public_url.startswith("postgresql") and lead.role in public_url
    secrets = open_secrets(reviewer_data_dir)
    assert secrets.get(password_name(public_url)) is None
    # With no --db, the CLI works against the team server as Lena, who types her own
    # password for each command: a lead may ingest.
    monkeypatch.setattr("getpass.getpass", lambda prompt="": lead.password)
    assert main(["demo", "--items", "2", "--max-mp", "0.3"]) == 0
    assert "added 2 item(s)" in capsys.readouterr().out
    assert main(["connect", "--forget"]) == 0


@pytest.mark.postgres_only
def test_connect_refuses_the_owner_and_a_superuser_with_the_reason(team_db: TeamDb, capsys) -> None:
    owner = team_db.owner_url
    assert main(["connect", owner, "--no-password"]) == 1
    assert "owns the tables" in capsys.readouterr().err
    superuser = team_db.server.url(team_db.name)
    assert main(["connect", superuser, "--no-password"]) == 1
    assert "superuser" in capsys.readouterr().err
    assert (
        not config.settings_path().exists()
        or "team_server" not in config.settings_path().read_text()
    )


@pytest.mark.postgres_only
def test_a_person_s_role_does_not_migrate_but_says_who_must(team_db: TeamDb) -> None:
    from db.migrate import SchemaBehind, upgrade

    mo = team_db.person("Moe", Role.MODERATOR)
    with team_db.owner.engine.begin() as conn:  # as if a newer release were installed
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine = make_engine(team_db.url(mo))
    try:
        with pytest.raises(SchemaBehind, match=r"owner role .*reviewer migrate"):
            upgrade(engine)
    finally:
        engine.dispose()


def test_connect_refuses_a_non_postgres_url(capsys) -> None:
    assert main(["connect", "sqlite:///x.db", "--no-password"]) == 1
    assert "must be PostgreSQL" in capsys.readouterr().err


@pytest.mark.postgres_only
def test_connect_reports_an_unreachable_server(capsys) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert main(["connect", url, "--no-password"]) == 1
    assert "could not connect" in capsys.readouterr().err
    assert (
        not config.settings_path().exists()
        or "team_server" not in config.settings_path().read_text()
    )


@pytest.mark.postgres_only
def test_the_gui_signs_in_to_the_server_as_the_person_s_own_role(
    team_db: TeamDb, tmp_path: Path
) -> None:
    mona = team_db.person("Mona", Role.MODERATOR)
    public = team_db.server.url(team_db.name)  # the address; the user is replaced
    stores: list[Store] = []

    def open_workstation(url: str) -> Workstation:
        store = Store.open(url, audit_key=AUDIT_KEY)
        stores.append(store)
        return _workstation(store, MediaStore(tmp_path / "media", os.urandom(32)))

    sign_in = TeamSignIn(
        lambda name, password: team_sign_in(public, name, password),
        open_workstation,
        lambda _ws: stores.pop().close(),
    )
    assert not sign_in.needs_first_account()
    with pytest.raises(AccessDenied, match="reviewer migrate --first-admin"):
        sign_in.enrol_first_admin("Someone", "a long enough password")
    for name, password in (
        (mona.account.name, "not mona's password"),
        ("Nobody at all", mona.password),
        ("reviewer owner", team_db.server.owner_password),  # a reserved name
    ):
        with pytest.raises(LoginFailed):
            sign_in.log_in(name, password)
    assert stores == []  # nothing opened for a refused sign-in
    service = sign_in.log_in(mona.account.name, mona.password)
    assert service.account.id == mona.id
    [store] = stores
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT session_user")).scalar() == mona.role
    sign_in.close()
    assert stores == []
