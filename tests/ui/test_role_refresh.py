"""Roles an admin changes reach a window that is already open: the Team and Admin menus
are rebuilt, windows opened under the old roles close, and the person is told. A role
taken away takes its tools with it, without signing in again."""

from __future__ import annotations

from datetime import date

import wiring
from pytestqt.qtbot import QtBot

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role
from ui.main_window import MainWindow, build_main_window
from ui.tasks import Tasks

PASSWORD = "a long enough passphrase"


def _team_actions(window: MainWindow) -> list[str]:
    menu = window.team_menu
    return [] if menu is None else [a.text().replace("&", "") for a in menu.actions()]


def test_roles_given_and_taken_away_reach_the_open_window(
    qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks
) -> None:
    accounts = store.accounts
    accounts.enrol_first_admin("Admin", PASSWORD)
    admin = accounts.authenticate("Admin", PASSWORD)
    robin = accounts.create_user(admin, "Robin", PASSWORD, {Role.MODERATOR})
    accounts.set_vetting(admin, robin.id, "vetted", date.today())
    workstation = wiring.workstation(
        store, media, accounts=accounts, team_for=wiring.team_tools(store, media)
    )
    window = build_main_window(workstation.log_in("Robin", PASSWORD), tasks)
    qtbot.addWidget(window)
    window.show()
    assert _team_actions(window) == ["My calibration notes…"]
    assert window.role_check is not None

    # Another workstation's admin makes Robin a lead as well.
    accounts.set_roles(admin, robin.id, {Role.MODERATOR, Role.LEAD})
    window.role_check.timeout.emit()  # the periodic re-read
    qtbot.waitUntil(lambda: "Team dashboard…" in _team_actions(window), timeout=10_000)
    assert "changed your roles" in window.statusBar().currentMessage()
    dashboard = next(a for a in window.team_menu.actions() if "dashboard" in a.text())
    dashboard.trigger()
    assert len(window.team_windows) == 1

    # And takes it away again: the dashboard opened as a lead closes with the role.
    accounts.set_roles(admin, robin.id, {Role.MODERATOR})
    window.role_check.timeout.emit()
    qtbot.waitUntil(lambda: "Team dashboard…" not in _team_actions(window), timeout=10_000)
    qtbot.waitUntil(lambda: window.team_windows == [], timeout=5_000)
    assert _team_actions(window) == ["My calibration notes…"]
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    window.close()
