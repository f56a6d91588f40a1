"""The Team menu offers each person the tools their role allows, and they open."""

from __future__ import annotations

from datetime import date

import wiring
from pytestqt.qtbot import QtBot

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role
from ui.main_window import build_main_window
from ui.tasks import Tasks

PASSWORD = "a long enough passphrase"


def _window(qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks, roles: set[Role]):
    accounts = store.accounts
    if not accounts.login_accounts_exist():
        accounts.enrol_first_admin("Admin", PASSWORD)
    admin = accounts.authenticate("Admin", PASSWORD)
    name = "person-" + "-".join(sorted(r.value for r in roles))  # not the admin's login role
    person = accounts.create_user(admin, name, PASSWORD, roles)
    accounts.set_vetting(admin, person.id, "vetted", date.today())
    workstation = wiring.workstation(
        store, media, accounts=accounts, team_for=wiring.team_tools(store, media)
    )
    service = workstation.log_in(name, PASSWORD)
    window = build_main_window(service, tasks)
    qtbot.addWidget(window)
    return window


def _team_actions(window) -> list[str]:
    menu = getattr(window, "team_menu", None)
    return [] if menu is None else [a.text().replace("&", "") for a in menu.actions()]


def _admin_actions(window) -> list[str]:
    menu = window.admin_menu
    return [] if menu is None else [a.text().replace("&", "") for a in menu.actions()]


def test_each_role_sees_only_its_tools(qtbot: QtBot, store, media, tasks) -> None:
    moderator = _window(qtbot, store, media, tasks, {Role.MODERATOR})
    assert _team_actions(moderator) == ["My calibration notes…"]
    assert _team_actions(_window(qtbot, store, media, tasks, {Role.QA})) == ["QA re-grades…"]
    lead = _window(qtbot, store, media, tasks, {Role.LEAD})
    assert _team_actions(lead) == ["Team dashboard…", "Adjudicate QA disputes…", "Referrals…"]
    admin = _window(qtbot, store, media, tasks, {Role.ADMIN})
    assert _team_actions(admin) == ["Referrals…"]
    assert _admin_actions(admin) == ["Users…", "Idle lock…", "Golden set…"]
    for window in (moderator, lead):
        assert window.admin_menu is None
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def test_a_lead_opens_each_tool_and_it_loads(qtbot: QtBot, store, media, tasks) -> None:
    lead = _window(qtbot, store, media, tasks, {Role.LEAD})
    for action in lead.team_menu.actions():
        action.trigger()
    titles = sorted(w.windowTitle() for w in lead.team_windows)
    assert titles == ["Reviewer — QA disputes", "Reviewer — referrals", "Reviewer — team dashboard"]
    # Each started loading when it opened (none is left saying "Loading…").
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    by_title = {w.windowTitle(): w for w in lead.team_windows}
    assert by_title["Reviewer — team dashboard"].snapshot is not None
    assert "referral(s)" in by_title["Reviewer — referrals"].status.text()
    assert "No disputes waiting" in by_title["Reviewer — QA disputes"].status.text()
    # Signing out (closing the main window) closes them too.
    lead.close()
    qtbot.waitUntil(lambda: not lead.team_windows and tasks.pending == 0, timeout=10_000)
