"""The frame the team screens share (QA disputes, calibration notes, golden set): a
title, a status line, a Refresh button, an introduction, then the screen's own body."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.theme import set_style_property


class ListScreen(QWidget):
    """Subclasses build their body, then call `_frame`, and implement `refresh`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("Loading…")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)

    def refresh(self) -> None:
        raise NotImplementedError

    def _frame(self, title: str, intro: str, body: QWidget) -> None:
        top = QHBoxLayout()
        heading = QLabel(title)
        heading.setObjectName("contextTitle")
        top.addWidget(heading)
        top.addSpacing(16)
        top.addWidget(self.status, 1)
        top.addWidget(self.refresh_button)
        about = QLabel(intro)
        about.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(about)
        layout.addWidget(body, 1)

    def _say(self, message: str, level: str = "info") -> None:
        self.status.setText(message)
        set_style_property(self.status, "level", level)
