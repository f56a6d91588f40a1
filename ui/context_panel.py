"""What is known about the item besides its picture: where it came from and why.

Reading the context first often settles a grading with less looking at the picture.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from reviewer.model import PRIORITY_IMMINENT_RISK, PRIORITY_LABELS, ItemView
from ui import text
from ui.theme import set_style_property
from wellbeing.clock import Clock


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
        self._form = QFormLayout()
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
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
            value = QLabel()
            value.setWordWrap(True)
            value.setTextFormat(Qt.TextFormat.PlainText)
            self._form.addRow(f"{name}:", value)
            self.fields[name] = value
        self.fields["SHA-256"].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
            for value in self.fields.values():
                value.clear()
            return
        self.title.setText(f"Item #{item.id}")
        label = PRIORITY_LABELS.get(item.priority, f"Priority {item.priority}")
        urgent = item.imminent_risk or item.priority == PRIORITY_IMMINENT_RISK
        self.priority.setText(
            f"{label.upper()}: escalate if a child is at risk" if urgent else label
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
            "Reported accounts": "\n".join(item.reported_accounts) or "(none)",
            "Upload IP": item.upload_ip or "(unknown)",
            "Upload time": text.when(item.upload_time) if item.upload_time else "(unknown)",
            "Media": " · ".join(facts),
            "SHA-256": f"{media.sha256[:16]}…",
        }
        for name, value in values.items():
            self.fields[name].setText(value)
