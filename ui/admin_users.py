"""Admin > Users: every account with its roles, vetting, training, queue access and
status; add a user, reset a password, disable or enable, set roles, vetting, training
and queue access. Admin > Idle lock: the lock's two settings.

The table is a QAbstractTableModel over immutable Account rows, loaded and saved on the
database worker. Every change is checked and audited by the accounts repository; this
screen only offers what an admin may do anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import (
    MAX_IDLE_LOCK_MINUTES,
    MAX_IDLE_RELEASE_MINUTES,
    Account,
    QueueInfo,
    Role,
    SecuritySettings,
    VettingStatus,
)
from reviewer.admin_service import AdminService, UsersSnapshot
from reviewer.clock import Clock
from reviewer.untrusted import MAX_COURSE
from ui.login import password_field, password_problem
from ui.screen_fit import fit_to_screen
from ui.tasks import Tasks
from ui.theme import set_style_property

AnyIndex = QModelIndex | QPersistentModelIndex
COLUMNS: Final = ("Name", "Roles", "Vetting", "Vetted on", "Training", "Queue access", "Status")


def vetting_text(account: Account, today: date) -> str:
    if account.vetting is VettingStatus.VETTED and not account.vetting_current(today):
        return "Expired"
    return account.vetting.value.capitalize()


class UsersModel(QAbstractTableModel):
    """One row per account, in name order; rows are immutable Account objects."""

    # The row's Account, for views and tests.
    AccountRole: Final = Qt.ItemDataRole.UserRole + 1

    def __init__(self, today: Callable[[], date], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._today = today
        self._rows: tuple[Account, ...] = ()
        self._queues: dict[int, QueueInfo] = {}

    def set_snapshot(self, snapshot: UsersSnapshot) -> None:
        self.beginResetModel()
        self._rows = snapshot.accounts
        self._queues = {q.id: q for q in snapshot.queues}
        self.endResetModel()

    @property
    def queues(self) -> tuple[QueueInfo, ...]:
        return tuple(self._queues.values())

    def account_at(self, row: int) -> Account:
        return self._rows[row]

    def row_of(self, user_id: int) -> int | None:
        return next((i for i, a in enumerate(self._rows) if a.id == user_id), None)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        account = self._rows[index.row()]
        if role == self.AccountRole:
            return account
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(account, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 4:
            return "\n".join(f"{t.course} — {t.completed_on.isoformat()}" for t in account.training)
        if role == Qt.ItemDataRole.ForegroundRole and account.disabled:
            return QColor("#8a9199")
        return None

    def _text(self, a: Account, column: int) -> str:
        if column == 0:
            return a.name
        if column == 1:
            order = [Role.ADMIN, Role.LEAD, Role.QA, Role.MODERATOR]
            return ", ".join(r.label for r in order if r in a.roles)
        if column == 2:
            return vetting_text(a, self._today())
        if column == 3:
            return a.vetted_on.isoformat() if a.vetted_on else "—"
        if column == 4:
            if not a.training:
                return "—"
            latest = max(a.training, key=lambda t: t.completed_on)
            more = f" (+{len(a.training) - 1})" if len(a.training) > 1 else ""
            return f"{latest.course}, {latest.completed_on.isoformat()}{more}"
        if column == 5:
            names = sorted(
                q.name for qid, q in self._queues.items() if q.restricted and qid in a.queue_ids
            )
            return ", ".join(names) or "—"
        if a.disabled:
            return "Disabled"
        return "Active" if a.has_password else "No password"


# -- the small dialogs ---------------------------------------------------------------------


class _FormDialog(QDialog):
    """A form with OK / Cancel that refuses OK while `problem()` names something."""

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.error = QLabel()
        self.error.setObjectName("status")
        self.error.setProperty("level", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._try_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)

    def problem(self) -> str | None:
        return None

    def first_field(self) -> QWidget | None:
        """The form's first control that takes keyboard focus (a field, or the first
        check box of a list of them), in tab order; never OK or Cancel."""
        widget = self.nextInFocusChain()
        while widget is not None and widget is not self:
            if (
                self.isAncestorOf(widget)
                and not self.buttons.isAncestorOf(widget)
                and widget.isVisibleTo(self)
                and widget.isEnabled()
                and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            ):
                return widget
            widget = widget.nextInFocusChain()
        return None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Typing goes to the first field at once, replacing what is there (a spin box's
        # "15 min" would otherwise refuse a digit typed after its suffix).
        field = self.first_field()
        if field is not None:
            field.setFocus(Qt.FocusReason.TabFocusReason)
            if isinstance(field, QLineEdit | QAbstractSpinBox):
                field.selectAll()

    def _try_accept(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        self.accept()


def _role_boxes(checked: frozenset[Role]) -> dict[Role, QCheckBox]:
    return {r: _checked(QCheckBox(r.label), r in checked) for r in Role}


def _checked(box: QCheckBox, on: bool) -> QCheckBox:
    box.setChecked(on)
    return box


def _date_edit(value: date, today: date) -> QDateEdit:
    edit = QDateEdit(QDate(value.year, value.month, value.day))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMaximumDate(QDate(today.year, today.month, today.day))
    return edit


def _date_of(edit: QDateEdit) -> date:
    d = edit.date()
    return date(d.year(), d.month(), d.day())


class NewUserDialog(_FormDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add a user", parent)
        self.name = QLineEdit()
        self.name.setMaxLength(120)
        self.password = password_field("Temporary password")
        self.again = password_field()
        self.roles = _role_boxes(frozenset({Role.MODERATOR}))
        roles = QHBoxLayout()
        for box in self.roles.values():
            roles.addWidget(box)
        self.form.addRow("&Name", self.name)
        self.form.addRow("&Password", self.password)
        self.form.addRow("Password &again", self.again)
        self.form.addRow("Roles", roles)
        note = QLabel(
            "New accounts start with vetting pending: they cannot review until it is set."
        )
        note.setWordWrap(True)
        self.form.addRow(note)

    def chosen_roles(self) -> frozenset[Role]:
        return frozenset(r for r, box in self.roles.items() if box.isChecked())

    def problem(self) -> str | None:
        if not self.name.text().strip():
            return "Give the person's name."
        if not self.chosen_roles():
            return "Choose at least one role."
        return password_problem(self.password.text(), self.again.text())


class PasswordDialog(_FormDialog):
    def __init__(self, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(f"Reset {account.name}'s password", parent)
        self.password = password_field("New password")
        self.again = password_field()
        self.form.addRow("&New password", self.password)
        self.form.addRow("Password &again", self.again)

    def problem(self) -> str | None:
        return password_problem(self.password.text(), self.again.text())


class RolesDialog(_FormDialog):
    def __init__(self, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(f"Roles of {account.name}", parent)
        self.roles = _role_boxes(account.roles)
        for box in self.roles.values():
            self.form.addRow(box)

    def chosen_roles(self) -> frozenset[Role]:
        return frozenset(r for r, box in self.roles.items() if box.isChecked())

    def problem(self) -> str | None:
        return None if self.chosen_roles() else "Choose at least one role."


class VettingDialog(_FormDialog):
    def __init__(self, account: Account, today: date, parent: QWidget | None = None) -> None:
        super().__init__(f"Vetting of {account.name}", parent)
        self.status = QComboBox()
        for s in VettingStatus:
            self.status.addItem(s.value.capitalize(), s.value)
        self.status.setCurrentIndex(list(VettingStatus).index(account.vetting))
        self.vetted_on = _date_edit(account.vetted_on or today, today)
        self.status.currentIndexChanged.connect(self._update)
        self.form.addRow("&Status", self.status)
        self.form.addRow("&Vetted on", self.vetted_on)
        self._update()

    def chosen(self) -> tuple[VettingStatus, date | None]:
        status = VettingStatus(self.status.currentData())
        return status, _date_of(self.vetted_on) if status is VettingStatus.VETTED else None

    def _update(self) -> None:
        self.vetted_on.setEnabled(VettingStatus(self.status.currentData()) is VettingStatus.VETTED)


class TrainingDialog(_FormDialog):
    def __init__(self, account: Account, today: date, parent: QWidget | None = None) -> None:
        super().__init__(f"Training of {account.name}", parent)
        done = "\n".join(f"{t.course} — {t.completed_on.isoformat()}" for t in account.training)
        self.form.addRow(QLabel(f"Recorded:\n{done}" if done else "No training recorded yet."))
        self.course = QLineEdit()
        self.course.setPlaceholderText("e.g. Wellbeing induction")
        self.course.setMaxLength(MAX_COURSE)  # the service refuses longer ones
        self.completed_on = _date_edit(today, today)
        self.form.addRow("&Course", self.course)
        self.form.addRow("&Completed on", self.completed_on)

    def chosen(self) -> tuple[str, date]:
        return self.course.text().strip(), _date_of(self.completed_on)

    def problem(self) -> str | None:
        return None if self.course.text().strip() else "Give the course's name."


class QueueAccessDialog(_FormDialog):
    """Which queues are restricted (for everyone), and which of those this person may
    claim from."""

    def __init__(
        self, account: Account, queues: tuple[QueueInfo, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(f"Queue access of {account.name}", parent)
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Queue</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Restricted (everyone)</b>"), 0, 1)
        grid.addWidget(QLabel(f"<b>{account.name} may claim</b>"), 0, 2)
        self.restricted: dict[int, QCheckBox] = {}
        self.allowed: dict[int, QCheckBox] = {}
        for row, q in enumerate(queues, start=1):
            grid.addWidget(QLabel(q.name), row, 0)
            r = _checked(QCheckBox(), q.restricted)
            a = _checked(QCheckBox(), q.id in account.queue_ids)
            r.toggled.connect(lambda on, a=a: a.setEnabled(on))
            a.setEnabled(q.restricted)
            grid.addWidget(r, row, 1)
            grid.addWidget(a, row, 2)
            self.restricted[q.id], self.allowed[q.id] = r, a
        if not queues:
            grid.addWidget(QLabel("There are no queues yet."), 1, 0, 1, 3)
        self.form.addRow(grid)
        note = QLabel("Anyone may claim from a queue that is not restricted.")
        note.setWordWrap(True)
        self.form.addRow(note)

    def chosen(self) -> tuple[frozenset[int], frozenset[int]]:
        """(queues this person may claim from among the restricted, restricted queues)."""
        restricted = frozenset(q for q, box in self.restricted.items() if box.isChecked())
        allowed = frozenset(q for q, box in self.allowed.items() if box.isChecked())
        return allowed & restricted, restricted


class SecuritySettingsDialog(_FormDialog):
    def __init__(self, settings: SecuritySettings, parent: QWidget | None = None) -> None:
        super().__init__("Idle lock", parent)
        self.lock_after = QSpinBox()
        self.lock_after.setRange(1, MAX_IDLE_LOCK_MINUTES)
        self.lock_after.setSuffix(" min")
        self.lock_after.setValue(settings.idle_lock_minutes)
        self.release_after = QSpinBox()
        self.release_after.setRange(1, MAX_IDLE_RELEASE_MINUTES)
        self.release_after.setSuffix(" min")
        self.release_after.setValue(settings.release_after_minutes)
        self.form.addRow("Lock the screen after no input for", self.lock_after)
        self.form.addRow("Return held items once locked for", self.release_after)
        note = QLabel("Applies to every workstation from its next sign-in.")
        note.setWordWrap(True)
        self.form.addRow(note)

    def chosen(self) -> SecuritySettings:
        return SecuritySettings(self.lock_after.value(), self.release_after.value())


# -- the screen ----------------------------------------------------------------------------


class UsersDialog(QDialog):
    """Admin > Users."""

    # The table was (re)loaded from the database.
    loaded = Signal()
    # message: a change was stored (and audited); the table reloads after it.
    saved = Signal(str)
    # message: a load or a change was refused or failed.
    failed = Signal(str)

    def __init__(
        self, admin: AdminService, tasks: Tasks, clock: Clock, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Users")
        self._admin = admin
        self._tasks = tasks
        self._clock = clock
        self._form: QDialog | None = None  # the small dialog open, kept alive
        self.model = UsersModel(lambda: clock.now().date(), self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.add_button = QPushButton("&Add user…")
        self.password_button = QPushButton("Reset &password…")
        self.disable_button = QPushButton("&Disable")
        self.roles_button = QPushButton("&Roles…")
        self.vetting_button = QPushButton("&Vetting…")
        self.training_button = QPushButton("&Training…")
        self.queues_button = QPushButton("&Queue access…")
        self.add_button.clicked.connect(self.ask_new_user)
        self.password_button.clicked.connect(self.ask_password)
        self.disable_button.clicked.connect(self.toggle_disabled)
        self.roles_button.clicked.connect(self.ask_roles)
        self.vetting_button.clicked.connect(self.ask_vetting)
        self.training_button.clicked.connect(self.ask_training)
        self.queues_button.clicked.connect(self.ask_queue_access)
        self._per_user = (
            self.password_button,
            self.disable_button,
            self.roles_button,
            self.vetting_button,
            self.training_button,
            self.queues_button,
        )
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addSpacing(12)
        for b in self._per_user:
            buttons.addWidget(b)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)

        self.status = QLabel("Loading…")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        body = QHBoxLayout()
        body.addWidget(self.table, 1)
        body.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.status)
        fit_to_screen(self, (1320, 520))
        self._update_buttons()

    # -- loading ------------------------------------------------------------------------

    def reload(self, select_user: int | None = None) -> None:
        keep = select_user if select_user is not None else self._selected_id()
        self._tasks.db.submit(
            self._admin.snapshot,
            on_done=lambda snap: self._loaded(snap, keep),
            on_error=self._failed,
        )

    def _loaded(self, snapshot: UsersSnapshot, select_user: int | None) -> None:
        self.model.set_snapshot(snapshot)
        row = None if select_user is None else self.model.row_of(select_user)
        if row is not None:
            self.table.selectRow(row)
        self._update_buttons()
        if self.status.text() == "Loading…":
            self._say(f"{self.model.rowCount()} accounts.")
        self.loaded.emit()

    def _failed(self, exc: Exception) -> None:
        message = (
            str(exc)
            if isinstance(exc, PermissionError | ValueError)
            else (f"{type(exc).__name__}: {exc}")
        )
        self._say(f"Not done: {message}", "error")
        self.failed.emit(message)

    # -- selection ----------------------------------------------------------------------

    def select_user(self, user_id: int) -> None:
        row = self.model.row_of(user_id)
        if row is not None:
            self.table.selectRow(row)

    def selected(self) -> Account | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.account_at(rows[0].row()) if rows else None

    def _selected_id(self) -> int | None:
        account = self.selected()
        return None if account is None else account.id

    def _update_buttons(self) -> None:
        account = self.selected()
        for b in self._per_user:
            b.setEnabled(account is not None)
        self.disable_button.setText("&Enable" if account and account.disabled else "&Disable")

    # -- changes ------------------------------------------------------------------------

    def _save(self, message: str, fn: Callable[..., Any], *args: Any, select: int | None) -> None:
        self._say("Saving…")

        def done(result: Any) -> None:
            picked = result.id if isinstance(result, Account) else select
            self._say(message)
            self.saved.emit(message)
            self.reload(picked)

        self._tasks.db.submit(fn, *args, on_done=done, on_error=self._failed)

    def _open_form(self, form: _FormDialog, on_ok: Callable[[], None]) -> None:
        self._form = form
        form.accepted.connect(on_ok)
        form.open()

    @property
    def form(self) -> QDialog | None:
        """The small dialog on screen (add user, password, roles, …), if any."""
        return self._form

    def ask_new_user(self) -> None:
        form = NewUserDialog(self)

        def ok() -> None:
            name = form.name.text().strip()
            self._save(
                f"Added {name}.",
                self._admin.create_user,
                name,
                form.password.text(),
                form.chosen_roles(),
                select=None,
            )

        self._open_form(form, ok)

    def ask_password(self) -> None:
        account = self.selected()
        if account is None:
            return
        form = PasswordDialog(account, self)
        self._open_form(
            form,
            lambda: self._save(
                f"{account.name}'s password was reset.",
                self._admin.reset_password,
                account.id,
                form.password.text(),
                select=account.id,
            ),
        )

    def toggle_disabled(self) -> None:
        account = self.selected()
        if account is None:
            return
        disable = not account.disabled
        self._save(
            f"{account.name} is {'disabled' if disable else 'enabled again'}.",
            self._admin.set_disabled,
            account.id,
            disable,
            select=account.id,
        )

    def ask_roles(self) -> None:
        account = self.selected()
        if account is None:
            return
        form = RolesDialog(account, self)
        self._open_form(
            form,
            lambda: self._save(
                f"{account.name}'s roles were changed.",
                self._admin.set_roles,
                account.id,
                form.chosen_roles(),
                select=account.id,
            ),
        )

    def ask_vetting(self) -> None:
        account = self.selected()
        if account is None:
            return
        form = VettingDialog(account, self._clock.now().date(), self)
        self._open_form(
            form,
            lambda: self._save(
                f"{account.name}'s vetting was recorded.",
                self._admin.set_vetting,
                account.id,
                *form.chosen(),
                select=account.id,
            ),
        )

    def ask_training(self) -> None:
        account = self.selected()
        if account is None:
            return
        form = TrainingDialog(account, self._clock.now().date(), self)
        self._open_form(
            form,
            lambda: self._save(
                f"Training recorded for {account.name}.",
                self._admin.add_training,
                account.id,
                *form.chosen(),
                select=account.id,
            ),
        )

    def ask_queue_access(self) -> None:
        account = self.selected()
        if account is None:
            return
        form = QueueAccessDialog(account, self.model.queues, self)
        self._open_form(
            form,
            lambda: self._save(
                f"Queue access of {account.name} saved.",
                self._admin.set_queue_access,
                account.id,
                *form.chosen(),
                select=account.id,
            ),
        )

    def _say(self, message: str, level: str = "info") -> None:
        self.status.setText(message)
        set_style_property(self.status, "level", level)
