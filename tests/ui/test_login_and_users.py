"""Signing in through the dialog, and Admin > Users driven as an admin would."""

from __future__ import annotations

import wiring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_helpers import ADMIN, MODERATOR, WindowFactory

from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import LOGIN_FAILED_MESSAGE, Role, VettingStatus
from reviewer.review_service import ReviewService
from ui.admin_users import (
    NewUserDialog,
    PasswordDialog,
    QueueAccessDialog,
    RolesDialog,
    TrainingDialog,
    UsersDialog,
    VettingDialog,
)
from ui.app import Startup
from ui.events import AppEvents
from ui.login import LoginDialog
from ui.tasks import Tasks

MOD_PASSWORD = "moderator's password"


def _try(qtbot: QtBot, dialog: LoginDialog, name: str, password: str) -> None:
    dialog.name.clear()
    qtbot.keyClicks(dialog.name, name)
    qtbot.keyClicks(dialog.password, password)
    dialog.ok.click()


def test_sign_in_refuses_with_one_message_then_opens_without_admin_menu(
    qtbot: QtBot,
    store: Store,
    media: MediaStore,
    accounts: AccountsRepo,
    admin_service: ReviewService,
    tasks: Tasks,
) -> None:
    admin = admin_service.account
    mod = accounts.create_user(admin, "Mo", MOD_PASSWORD, {Role.MODERATOR})
    today = store.audit_events()[-1].at.date()
    accounts.set_vetting(admin, mod.id, VettingStatus.VETTED, today)
    gone = accounts.create_user(admin, "Gone", MOD_PASSWORD, {Role.MODERATOR})
    accounts.disable(admin, gone.id)

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    startup = Startup(app, wiring.workstation(store, media, accounts=accounts), tasks, AppEvents())
    startup.begin()
    qtbot.waitUntil(lambda: isinstance(startup.dialog, LoginDialog), timeout=10_000)
    dialog = startup.dialog
    assert isinstance(dialog, LoginDialog)
    assert not dialog.first_run and not dialog.again.isVisible()
    assert dialog.password.echoMode() == dialog.password.EchoMode.Password

    for name, password in [("Mo", "not mo's password"), ("Gone", MOD_PASSWORD), ("Nobody", "x")]:
        _try(qtbot, dialog, name, password)
        qtbot.waitUntil(lambda: dialog.error.isVisible() and dialog.ok.isEnabled() is False)
        assert dialog.error.text() == LOGIN_FAILED_MESSAGE
        assert dialog.password.text() == ""
        assert startup.window is None
        dialog.error.hide()

    _try(qtbot, dialog, "Mo", MOD_PASSWORD)
    qtbot.waitUntil(lambda: startup.window is not None, timeout=15_000)
    window = startup.window
    assert window is not None
    qtbot.addWidget(window)
    assert window.windowTitle() == "Reviewer — Mo"
    assert window.admin_menu is None and window.users_action is None
    window.close()


def _accept(qtbot: QtBot, users: UsersDialog) -> None:
    form = users.form
    assert form is not None and form.isVisible()
    with qtbot.waitSignals([users.saved], timeout=10_000, raising=False) as blocker:
        form.buttons.button(form.buttons.StandardButton.Ok).click()
    assert blocker.signal_triggered, users.status.text()
    qtbot.waitSignal(users.loaded, timeout=10_000).wait()


def _row(users: UsersDialog, name: str) -> list[str]:
    model = users.model
    row = next(r for r in range(model.rowCount()) if model.account_at(r).name == name)
    return [
        model.data(model.index(row, c), Qt.ItemDataRole.DisplayRole)
        for c in range(model.columnCount())
    ]


def test_users_screen_adds_and_edits_an_account(
    qtbot: QtBot,
    make_window: WindowFactory,
    admin_service: ReviewService,
    store: Store,
    accounts: AccountsRepo,
) -> None:
    qid = store.items.ensure_queue("Livestream — restricted")
    window = make_window(review_service=admin_service, start=False)
    assert window.users_action is not None
    window.users_action.trigger()
    users = window.users_dialog
    assert isinstance(users, UsersDialog)
    # The admin, and the make_window fixture's password-less profile.
    qtbot.waitUntil(lambda: users.model.rowCount() == 2, timeout=10_000)
    assert _row(users, ADMIN)[1:3] == ["Admin, Moderator", "Vetted"]
    assert _row(users, MODERATOR)[-1] == "No password"

    users.add_button.click()
    form = users.form
    assert isinstance(form, NewUserDialog)
    qtbot.keyClicks(form.name, "Sam Okafor")
    qtbot.keyClicks(form.password, "sam's first password")
    qtbot.keyClicks(form.again, "sam's first password")
    _accept(qtbot, users)
    assert _row(users, "Sam Okafor") == [
        "Sam Okafor",
        "Moderator",
        "Pending",
        "—",
        "—",
        "—",
        "Active",
    ]
    sam = users.selected()
    assert sam is not None and sam.name == "Sam Okafor"

    users.vetting_button.click()
    vetting = users.form
    assert isinstance(vetting, VettingDialog)
    vetting.status.setCurrentIndex(list(VettingStatus).index(VettingStatus.VETTED))
    _accept(qtbot, users)
    users.training_button.click()
    training = users.form
    assert isinstance(training, TrainingDialog)
    qtbot.keyClicks(training.course, "Wellbeing induction")
    _accept(qtbot, users)
    users.roles_button.click()
    roles = users.form
    assert isinstance(roles, RolesDialog)
    roles.roles[Role.LEAD].setChecked(True)
    _accept(qtbot, users)
    users.queues_button.click()
    access = users.form
    assert isinstance(access, QueueAccessDialog)
    access.restricted[qid].setChecked(True)
    access.allowed[qid].setChecked(True)
    _accept(qtbot, users)
    users.password_button.click()
    password = users.form
    assert isinstance(password, PasswordDialog)
    qtbot.keyClicks(password.password, "sam's second password")
    qtbot.keyClicks(password.again, "sam's second password")
    _accept(qtbot, users)

    row = _row(users, "Sam Okafor")
    assert row[1:3] == ["Team lead, Moderator", "Vetted"]
    assert row[4].startswith("Wellbeing induction, ") and row[5] == "Livestream — restricted"
    assert accounts.authenticate("Sam Okafor", "sam's second password").queue_ids == {qid}

    with qtbot.waitSignal(users.loaded, timeout=10_000):
        users.disable_button.click()
    assert _row(users, "Sam Okafor")[-1] == "Disabled"
    assert users.disable_button.text() == "&Enable"

    # The repository's refusals are shown, not swallowed: the last admin stays.
    users.select_user(admin_service.account.id)
    with qtbot.waitSignal(users.failed, timeout=10_000) as failed:
        users.disable_button.click()
    assert "no enabled admin" in failed.args[0]
    assert "Not done" in users.status.text()

    kinds = [e.kind for e in store.audit_events() if e.user_id == admin_service.account.id]
    for kind in (
        "user_created",
        "vetting_set",
        "training_added",
        "roles_set",
        "queue_restricted_set",
        "queue_access_granted",
        "password_set",
        "user_disabled",
    ):
        assert kind in kinds
    window.close()


def test_a_weak_or_mistyped_new_password_is_refused_in_the_form(
    qtbot: QtBot, make_window: WindowFactory, admin_service: ReviewService
) -> None:
    window = make_window(review_service=admin_service, start=False)
    window.show_users()
    users = window.users_dialog
    assert users is not None
    qtbot.waitSignal(users.loaded, timeout=10_000)
    users.add_button.click()
    form = users.form
    assert isinstance(form, NewUserDialog)
    qtbot.keyClicks(form.name, "Sam")
    qtbot.keyClicks(form.password, "short")
    qtbot.keyClicks(form.again, "short")
    form.buttons.button(form.buttons.StandardButton.Ok).click()
    assert form.isVisible() and "too weak" in form.error.text()
    window.close()
