"""The grading form of DOMAIN.md, usable with the keyboard alone.

Every control shows its key. Letter and digit keys are window shortcuts, so they work
wherever focus is, except in the note, which consumes printable keys itself (Qt's
ShortcutOverride), so typing a note never changes the grading. The form validates as
it changes (Grading.problems) and refuses to submit until nothing is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Generic, Protocol, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from reviewer.grading import Grading
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    NotAssessableReason,
    ProductionContext,
    Severity,
    SkipReason,
)
from ui import keymap
from ui.elide import elide_title
from ui.theme import set_style_property


class _Labelled(Protocol):
    """A vocabulary member: every one has the label its button shows."""

    @property
    def label(self) -> str: ...


E = TypeVar("E", bound=_Labelled)


def keyed(key: str, label: str) -> str:
    """A control's text: its shortcut first, so the eye learns the keys."""
    return f"[{key}]  {label}"


def _no_focus(button: QAbstractButton) -> QAbstractButton:
    # Choices are made by shortcut or click; focus stays where the moderator left it,
    # and Space on a focused button can never be mistaken for the reveal key.
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


class _Choice(Generic[E]):
    """Exclusive radio buttons for one field of the grading, laid out in a grid."""

    def __init__(
        self,
        owner: QWidget,
        keys: dict[E, str],
        columns: int,
        changed: Callable[[], None],
        by_column: bool = False,
    ) -> None:
        self.group = QButtonGroup(owner)
        self.grid = QGridLayout()
        self.buttons: dict[E, QRadioButton] = {}
        self._members = list(keys)
        for i, (member, key) in enumerate(keys.items()):
            button = QRadioButton(keyed(key, member.label))
            _no_focus(button)
            self.group.addButton(button, i)
            if by_column:
                rows = -(-len(keys) // columns)
                self.grid.addWidget(button, i % rows, i // rows)
            else:
                self.grid.addWidget(button, i // columns, i % columns)
            self.buttons[member] = button
        self.group.idClicked.connect(lambda _id: changed())

    @property
    def value(self) -> E | None:
        checked = self.group.checkedId()
        return None if checked < 0 else self._members[checked]

    def set(self, value: E | None) -> None:
        if value is not None:
            self.buttons[value].setChecked(True)
            return
        # An exclusive group cannot be emptied by unchecking; lift exclusivity briefly.
        self.group.setExclusive(False)
        for button in self.buttons.values():
            button.setChecked(False)
        self.group.setExclusive(True)


class _NoteEdit(QPlainTextEdit):
    """The free-text note; Escape hands the keyboard back to the shortcuts."""

    # Emitted when the moderator pressed Escape to leave the note.
    left = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.left.emit()
            return
        super().keyPressEvent(event)


class _LeaveOnKeys(QObject):
    """Event filter: Return, Enter or Escape on a combo box hands the keyboard back."""

    def __init__(self, parent: QObject, leave: Callable[[], None]) -> None:
        super().__init__(parent)
        self._leave = leave

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            leaving = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
            if leaving:
                self._leave()
            return leaving
        return False


class SkipDialog(QDialog):
    """Choose why this item is skipped (digits or arrows, Enter), plus an optional note."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skip this item")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.reasons = QListWidget()
        for reason, key in keymap.SKIP_REASON_KEYS.items():
            self.reasons.addItem(keyed(key, reason.label))
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note (optional)")
        self.note.setMaxLength(1000)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Skip item  [Enter]")
        ok.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Cancel  [Esc]")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        # Selection, not the current row: a list given focus gets a current row by
        # itself, and no reason may be chosen on the moderator's behalf.
        self.reasons.itemSelectionChanged.connect(lambda: ok.setEnabled(self.reason() is not None))
        for row, key in enumerate(keymap.SKIP_REASON_KEYS.values()):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda row=row: self.reasons.setCurrentRow(row))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Why are you skipping this item? It goes back to the queue."))
        layout.addWidget(self.reasons)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.reasons.setFocus()

    def reason(self) -> SkipReason | None:
        selected = self.reasons.selectedIndexes()
        return list(SkipReason)[selected[0].row()] if selected else None


class GradingPanel(QWidget):
    """The whole grading schema; emits what the moderator decided, stores nothing.

    With `note_title` it grades without deciding (a lead's final grade on a dispute, a
    gold item's known answer): no actions and no skip, which stay with the decision,
    and the note, under that title, says why."""

    # grading: the Grading now on the form (complete or not), after every change.
    grading_changed = Signal(object)
    # grading: a complete Grading (no problems) the moderator asked to store.
    submitted = Signal(object)
    # reason, note: the SkipReason chosen in the skip dialog and its optional note.
    skip_chosen = Signal(object, str)

    def __init__(self, parent: QWidget | None = None, *, note_title: str | None = None) -> None:
        super().__init__(parent)
        self.decides = note_title is None
        self._home: QWidget | None = None
        # More rules the screen adds (a video's segments must roll up to the severity).
        self._extra_rule: Callable[[Grading], list[str]] | None = None
        self._suggested_reason: NotAssessableReason | None = None
        self.skip_dialog: SkipDialog | None = None
        changed = self._changed

        # A/B/C in the first column, the non-graded outcomes in the second.
        self.severity = _Choice[Severity](self, keymap.SEVERITY_KEYS, 2, changed, by_column=True)
        self.csea_related = QCheckBox(
            keyed(keymap.CSEA_RELATED_KEY, "CSEA-related (with Not illegal)")
        )
        self.csea_related.setToolTip(
            "Not illegal on its face but connected to abuse (series, cropped, "
            "'where are they now', misappropriated, shared against the child's will)"
        )
        _no_focus(self.csea_related)
        self.csea_related.toggled.connect(lambda _on: changed())
        self.reason = QComboBox()
        self.reason.setAccessibleName("Not-assessable reason")
        for reason in NotAssessableReason:
            self.reason.addItem(reason.label)
        self.reason.setPlaceholderText("Not-assessable reason: ↑/↓, Enter")
        self.reason.setCurrentIndex(-1)
        self.reason.currentIndexChanged.connect(lambda _i: changed())
        self.reason.installEventFilter(_LeaveOnKeys(self, self._go_home))
        sev = self.severity.grid
        sev.addWidget(self.csea_related, 3, 0, 1, 2)
        sev.addWidget(self.reason, 4, 0, 1, 2)

        self.age_band = _Choice[AgeBand](self, keymap.AGE_KEYS, 4, changed)
        self.confidence = _Choice[AgeConfidence](self, keymap.CONFIDENCE_KEYS, 3, changed)
        self.context = _Choice[ProductionContext](self, keymap.CONTEXT_KEYS, 1, changed)
        # Not `actions`: that would hide QWidget.actions().
        self.action_boxes: dict[Action, QCheckBox] = {}
        actions_grid = QGridLayout()
        for i, (action, key) in enumerate(keymap.ACTION_KEYS.items() if self.decides else ()):
            box = QCheckBox(keyed(key, action.label))
            _no_focus(box)
            box.toggled.connect(lambda _on: changed())
            # One column: two of these long labels side by side made the form wider
            # than a 1366 x 768 laptop at 150 % can show.
            actions_grid.addWidget(box, i, 0)
            self.action_boxes[action] = box

        self.note = _NoteEdit()
        self.note.setPlaceholderText(f"Note  [{keymap.NOTE}], {keymap.LEAVE_FIELD} to leave")
        self.note.setTabChangesFocus(True)
        self.note.setAccessibleName("Note")
        lines = 3 if self.decides else 5
        self.note.setFixedHeight(self.note.fontMetrics().lineSpacing() * lines + 16)
        self.note.textChanged.connect(changed)
        self.note.left.connect(self._go_home)

        self.problems = QLabel()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.submit_button = QPushButton(keyed(keymap.SUBMIT[1], "Submit"))
        self.submit_button.setObjectName("submit")
        self.skip_button = QPushButton(keyed(keymap.SKIP, "Skip…"))
        for button in (self.submit_button, self.skip_button):
            _no_focus(button)
        self.submit_button.clicked.connect(self._submit)
        self.skip_button.clicked.connect(self._open_skip)

        form = QWidget()
        fields = QVBoxLayout(form)
        fields.setContentsMargins(0, 0, 6, 0)
        fields.setSpacing(6)
        fields.addWidget(_section("Severity (most severe activity visible)", sev))
        fields.addWidget(_section("Youngest person visible: age band", self.age_band.grid))
        fields.addWidget(_section("Age confidence", self.confidence.grid))
        fields.addWidget(_section("Production context (first-person produced)", self.context.grid))
        if self.decides:
            fields.addWidget(_section("Actions", actions_grid))
            fields.addWidget(self.note)
        else:
            note_box = QVBoxLayout()
            note_box.addWidget(self.note)
            fields.addWidget(_section(note_title or "", note_box))
        fields.addStretch(1)
        # Only the fields scroll (on small screens): what is missing and the buttons
        # always stay in view, so the scroll area gets what space is left.
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        scroll.setMinimumWidth(
            form.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit_button, 1)
        buttons.addWidget(self.skip_button)
        self.skip_button.setVisible(self.decides)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.problems)
        layout.addLayout(buttons)

        self._bind_keys()
        self._changed()

    # -- keyboard -----------------------------------------------------------------------

    def _bind_keys(self) -> None:
        def bind(key: str, slot: Callable[[], None]) -> None:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            # A held key chooses once: an action's toggle must not flip on auto-repeat.
            shortcut.setAutoRepeat(False)
            shortcut.activated.connect(slot)

        for sev, key in keymap.SEVERITY_KEYS.items():
            bind(key, partial(self._choose_severity, sev))
        bind(keymap.CSEA_RELATED_KEY, self.csea_related.toggle)
        for band, key in keymap.AGE_KEYS.items():
            bind(key, partial(self._choose, self.age_band, band))
        for conf, key in keymap.CONFIDENCE_KEYS.items():
            bind(key, partial(self._choose, self.confidence, conf))
        for ctx, key in keymap.CONTEXT_KEYS.items():
            bind(key, partial(self._choose, self.context, ctx))
        for action, box in self.action_boxes.items():
            bind(keymap.ACTION_KEYS[action], box.toggle)
        bind(keymap.NOTE, self.note.setFocus)
        for key in keymap.SUBMIT:
            bind(key, self._submit)
        if self.decides:
            bind(keymap.SKIP, self._open_skip)

    def set_home(self, widget: QWidget) -> None:
        """Where the keyboard goes when the moderator leaves the note or reason field."""
        self._home = widget

    def _go_home(self) -> None:
        if self._home is not None:
            self._home.setFocus()
        else:
            focused = self.focusWidget()
            if focused is not None:
                focused.clearFocus()

    def _choose(self, choice: _Choice[E], value: E) -> None:
        choice.set(value)
        self._changed()

    def _choose_severity(self, sev: Severity) -> None:
        if sev is not Severity.NOT_ASSESSABLE and self.reason.hasFocus():
            # Leave before the field is disabled, or Qt would pass focus to the note.
            self._go_home()
        self._choose(self.severity, sev)
        if sev is Severity.NOT_ASSESSABLE:
            if self.reason.currentIndex() < 0 and self._suggested_reason is not None:
                self.reason.setCurrentIndex(list(NotAssessableReason).index(self._suggested_reason))
            self.reason.setFocus()

    # -- the grading --------------------------------------------------------------------

    def grading(self) -> Grading:
        """The grading on the form. CSEA-related and the not-assessable reason count
        only with the severity they belong to (their controls are disabled otherwise)."""
        sev = self.severity.value
        reason_index = self.reason.currentIndex()
        return Grading(
            severity=sev,
            csea_related=sev is Severity.NOT_ILLEGAL and self.csea_related.isChecked(),
            not_assessable_reason=(
                list(NotAssessableReason)[reason_index]
                if sev is Severity.NOT_ASSESSABLE and reason_index >= 0
                else None
            ),
            age_band=self.age_band.value,
            age_confidence=self.confidence.value,
            production_context=self.context.value,
            actions=frozenset(a for a, box in self.action_boxes.items() if box.isChecked()),
            note=self.note.toPlainText().strip(),
        )

    def clear(self) -> None:
        """An empty form for the next item."""
        if self.note.hasFocus() or self.reason.hasFocus():
            self._go_home()
        for choice in (self.severity, self.age_band, self.confidence, self.context):
            choice.set(None)
        self._suggested_reason = None
        for box in (self.csea_related, *self.action_boxes.values()):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self.reason.setCurrentIndex(-1)
        self.note.clear()
        self._changed()

    def set_grading(self, grading: Grading) -> None:
        """Fill the form with `grading`, a starting point to correct; the note is left
        as it is (it may already say why)."""
        self.severity.set(grading.severity)
        self.age_band.set(grading.age_band)
        self.confidence.set(grading.age_confidence)
        self.context.set(grading.production_context)
        reason = grading.not_assessable_reason
        reason_index = -1 if reason is None else list(NotAssessableReason).index(reason)
        boxes = [(self.csea_related, grading.csea_related)]
        boxes += [(box, a in grading.actions) for a, box in self.action_boxes.items()]
        for box, on in boxes:
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)
        self.reason.blockSignals(True)
        self.reason.setCurrentIndex(reason_index)
        self.reason.blockSignals(False)
        self._changed()

    def suggest_not_assessable(self, reason: NotAssessableReason | None) -> None:
        """Pre-select this reason when the moderator presses U (e.g. an unreadable file)."""
        self._suggested_reason = reason

    def show_problems(self, problems: list[str], refused: bool = False) -> None:
        """Show what is missing; `refused` when a submit was just turned down for it."""
        if not problems:
            self.problems.setText("Complete: ready to submit.")
            set_style_property(self.problems, "state", "ok")
        else:
            head = "Not submitted. Still needed:" if refused else "Still needed:"
            self.problems.setText("\n".join([head, *(f"• {p}" for p in problems)]))
            set_style_property(self.problems, "state", "refused" if refused else "missing")

    def set_extra_rule(self, rule: Callable[[Grading], list[str]] | None) -> None:
        """Problems beyond the grading's own, checked on every change and on submit."""
        self._extra_rule = rule
        self._changed()

    def recheck(self) -> None:
        """Something the extra rule looks at changed: check the form again."""
        self._changed()

    def _problems(self, grading: Grading) -> list[str]:
        extra = self._extra_rule(grading) if self._extra_rule is not None else []
        return grading.problems() + extra

    def set_busy(self, busy: bool) -> None:
        """While a submit or skip is being stored, the form (and its keys) rest."""
        self.setEnabled(not busy)

    def _changed(self) -> None:
        grading = self.grading()
        sev = grading.severity
        self.csea_related.setEnabled(sev is Severity.NOT_ILLEGAL)
        self.reason.setEnabled(sev is Severity.NOT_ASSESSABLE)
        problems = self._problems(grading)
        self.submit_button.setEnabled(not problems)
        self.show_problems(problems)
        self.grading_changed.emit(grading)

    def _submit(self) -> None:
        grading = self.grading()
        problems = self._problems(grading)
        if problems:
            self.show_problems(problems, refused=True)
            return
        self.submitted.emit(grading)

    def _open_skip(self) -> None:
        dialog = SkipDialog(self)
        dialog.accepted.connect(lambda: self._skip_accepted(dialog))
        dialog.finished.connect(lambda _result: self._skip_closed(dialog))
        self.skip_dialog = dialog
        dialog.open()
        dialog.activateWindow()

    def _skip_accepted(self, dialog: SkipDialog) -> None:
        reason = dialog.reason()
        if reason is not None:
            self.skip_chosen.emit(reason, dialog.note.text().strip())

    def _skip_closed(self, dialog: SkipDialog) -> None:
        if self.skip_dialog is dialog:
            self.skip_dialog = None
        dialog.deleteLater()
        self._go_home()


def _section(title: str, content: QLayout) -> QGroupBox:
    box = QGroupBox(title)
    box.setLayout(content)
    elide_title(box)
    return box
