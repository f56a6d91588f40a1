"""What is known about the item besides its picture: where it came from and why.

Reading the context first often settles a grading with less looking at the picture.

Free text comes from outside (a report, a list of accounts) and may be long: new items
are held to size limits at ingest, but items stored before those limits may hold
megabytes. The panel therefore never lays out more than a short preview; "Show all"
opens the full text in pages of PAGE_CHARS characters, each added on request, so no
step on the GUI thread grows with the text's length.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from reviewer.clock import Clock
from reviewer.model import PRIORITY_IMMINENT_RISK, PRIORITY_LABELS, ItemView
from ui import text
from ui.theme import set_style_property

PREVIEW_CHARS: Final = 600
PREVIEW_LINES: Final = 8
PAGE_CHARS: Final = 20_000
# A word longer than this is given break opportunities (invisible unless used), so one
# unbroken run of characters (a report, an e-mail address, an IPv6 address, a queue's
# name) cannot widen the panel past its column or be cut off at its edge.
_LONG_WORD: Final = 12
_ZWSP: Final = "\u200b"


def preview(text: str) -> tuple[str, bool]:
    """The start of `text` to show in the panel, and whether anything was left out."""
    head = text[:PREVIEW_CHARS]
    lines = head.split("\n")
    cut = len(text) > PREVIEW_CHARS or len(lines) > PREVIEW_LINES
    head = "\n".join(lines[:PREVIEW_LINES])
    return breakable(head) + ("…" if cut else ""), cut


def breakable(text: str) -> str:
    """`text` with a zero-width break opportunity every _LONG_WORD characters of any
    longer word, so that a wrapped label can always wrap it."""
    lines = []
    for line in text.split("\n"):
        words = []
        for word in line.split(" "):
            if len(word) > _LONG_WORD:
                word = _ZWSP.join(word[i : i + _LONG_WORD] for i in range(0, len(word), _LONG_WORD))
            words.append(word)
        lines.append(" ".join(words))
    return "\n".join(lines)


class LongTextDialog(QDialog):
    """A long free-text field, read-only, PAGE_CHARS characters at a time."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(720, 520)
        self._text = text
        self.shown = 0
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setAccessibleName(title)
        self.more = QPushButton()
        self.more.clicked.connect(self.show_more)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addWidget(self.more)
        layout.addWidget(buttons)
        self.show_more()

    def show_more(self) -> None:
        page = self._text[self.shown : self.shown + PAGE_CHARS]
        self.shown += len(page)
        cursor = self.view.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(page)
        left = len(self._text) - self.shown
        self.more.setText(f"Show {min(left, PAGE_CHARS):,} more characters ({left:,} left)")
        self.more.setVisible(left > 0)


class ContextPanel(QWidget):
    """Read-only facts of one item. Only the hash may be selected; nothing of the media."""

    def __init__(self, clock: Clock, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self.title = QLabel("No item")
        self.title.setObjectName("contextTitle")
        self.priority = QLabel()
        self.priority.setObjectName("priority")
        self.priority.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # "IMMINENT RISK: escalate if a child is at risk" is wider than the column a
        # laptop screen gives the panel: it wraps rather than widen or be cut off.
        self.priority.setWordWrap(True)
        self._form = QFormLayout()
        # Each name above its value: the column is narrow on a laptop screen, and a value
        # squeezed beside "Reported accounts:" wrapped into more lines than QFormLayout
        # gave it room for (its last line cut off).
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for name in (
            "Source",
            "Queue",
            "Received",
            "Report",
            "Reported accounts",
            "Upload IP",
            "Upload time",
            "Media",
            "SHA-256",
        ):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            self._form.addRow(f"{name}:", label)
            self.fields[name] = label
        self.fields["SHA-256"].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # "Show all" under each free-text field that may be long.
        self._item: ItemView | None = None
        self.show_all: dict[str, QPushButton] = {}
        for name in ("Report", "Reported accounts"):
            button = QPushButton()
            button.setFlat(True)
            button.clicked.connect(lambda _=False, n=name: self.open_full(n))
            button.hide()
            # (row, role); the stubs only promise an object.
            position = self._form.getWidgetPosition(self.fields[name])
            assert isinstance(position, tuple)
            row: int = position[0]
            self._form.insertRow(row + 1, "", button)
            self.show_all[name] = button
        self.dialog: LongTextDialog | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.priority)
        layout.addLayout(self._form)
        layout.addStretch(1)
        self.show_item(None)

    def show_item(self, item: ItemView | None) -> None:
        if item is None:
            self.title.setText("No item")
            self.priority.hide()
            for label in self.fields.values():
                label.clear()
            for button in self.show_all.values():
                button.hide()
            self._item = None
            return
        self.title.setText(f"Item #{item.id}")
        priority = PRIORITY_LABELS.get(item.priority, f"Priority {item.priority}")
        urgent = item.imminent_risk or item.priority == PRIORITY_IMMINENT_RISK
        self.priority.setText(
            f"{priority.upper()}: escalate if a child is at risk" if urgent else priority
        )
        set_style_property(self.priority, "urgent", urgent)
        self.priority.show()
        waited = (self._clock.now() - item.received_at).total_seconds()
        media = item.media
        facts = [media.format or "unknown format", text.size(media.size_bytes)]
        if media.width and media.height:
            facts.append(f"{media.width} × {media.height} px")
        if not media.readable:
            facts.append(f"unreadable: {media.unreadable_reason}")
        values = {
            "Source": item.source.label,
            "Queue": item.queue_name,
            "Received": f"{text.when(item.received_at)} ({text.age(waited)} ago)",
            "Report": item.report_text or "(none)",
            "Upload IP": item.upload_ip or "(unknown)",
            "Upload time": text.when(item.upload_time) if item.upload_time else "(unknown)",
            "Media": " · ".join(facts),
            "SHA-256": f"{media.sha256[:16]}…",
        }
        # Only the first accounts are joined here; the rest when asked for.
        first = item.reported_accounts[: PREVIEW_LINES + 1]
        values["Reported accounts"] = "\n".join(first) or "(none)"
        self._item = item
        for name, value in values.items():
            if name == "Report":
                value, cut = preview(value)
                size = f"{len(item.report_text):,} characters"
            elif name == "Reported accounts":
                value, cut = preview(value)
                cut = cut or len(item.reported_accounts) > len(first)
                size = f"{len(item.reported_accounts):,} accounts"
            if name in self.show_all:
                self.show_all[name].setText(f"Show all ({size})")
                self.show_all[name].setVisible(cut)
            elif name != "SHA-256":  # selectable: copied without break characters
                value = breakable(value)
            self.fields[name].setText(value)

    def open_full(self, name: str) -> None:
        """The whole of a long field, in a dialog that adds it page by page."""
        if self.dialog is not None:
            self.dialog.close()
        if self._item is None:
            return
        full = (
            self._item.report_text if name == "Report" else "\n".join(self._item.reported_accounts)
        )
        self.dialog = LongTextDialog(f"{name} — {self.title.text()}", full, self)
        self.dialog.show()
