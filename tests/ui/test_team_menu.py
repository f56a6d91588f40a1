"""The Team menu offers each person the tools their role allows, and they open."""

from __future__ import annotations

from datetime import date

from pytestqt.qtbot import QtBot

from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role
from reviewer.cli import _team_tools
from reviewer.review import Workstation
from ui.main_window import build_main_window
from ui.tasks import Tasks

PASSWORD = "a long enough passphrase"


def _window(qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks, roles: set[Role]):
    accounts = AccountsRepo(store)
    if not accounts.login_accounts_exist():
        accounts.enrol_first_admin("Admin", PASSWORD)
    admin = accounts.authenticate("Admin", PASSWORD)
    name = "-".join(sorted(r.value for r in roles))
    person = accounts.create_user(admin, name, PASSWORD, roles)
    accounts.set_vetting(admin, person.id, "vetted", date.today())
    workstation = Workstation(store, media, accounts=accounts, team_for=_team_tools(store, media))
    service = workstation.log_in(name, PASSWORD)
    window = build_main_window(service, tasks)
    qtbot.addWidget(window)
    return window


def _team_actions(window) -> list[str]:
    menu = getattr(window, "team_menu", None)
    return [] if menu is None else [a.text().replace("&", "") for a in menu.actions()]


def test_each_role_sees_only_its_tools(qtbot: QtBot, store, media, tasks) -> None:
    assert _team_actions(_window(qtbot, store, media, tasks, {Role.MODERATOR})) == []
    assert _team_actions(_window(qtbot, store, media, tasks, {Role.QA})) == ["QA re-grades…"]
    lead = _window(qtbot, store, media, tasks, {Role.LEAD})
    assert _team_actions(lead) == ["Team dashboard…", "Referrals…"]


def test_a_lead_opens_the_dashboard_and_referrals(qtbot: QtBot, store, media, tasks) -> None:
    lead = _window(qtbot, store, media, tasks, {Role.LEAD})
    for action in lead.team_menu.actions():
        action.trigger()
    titles = sorted(w.windowTitle() for w in lead.team_windows)
    assert titles == ["Reviewer — referrals", "Reviewer — team dashboard"]
    for w in list(lead.team_windows):
        w.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
