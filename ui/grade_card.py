"""A grading shown field by field, read-only, with the fields that differ from another
grading marked: the two sides of a dispute (ui.adjudication_screen) and of a calibration note
(ui.calibration_screen). Also the one-line summary the tables use."""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from reviewer.grading import Grading
from ui.elide import elide_title

# The fields on which two grades can disagree (reviewer.qa_model.DISPUTED_FIELDS).
FIELD_LABELS: Final = {
    "severity": "severity",
    "csea_related": "CSEA-related",
    "age_band": "age band",
    "production_context": "production context",
}
DIFFERS_COLOUR: Final = "#e3c27d"
_NONE: Final = "—"


def summary(g: Grading, with_context: bool = True) -> str:
    """'Category B · 11-13 (probable) · First-person: groomed' (without the context's
    long label where a table has no room for it)."""
    parts = [g.severity.label if g.severity else "No severity"]
    if g.csea_related:
        parts.append("CSEA-related")
    if g.not_assessable_reason is not None:
        parts.append(g.not_assessable_reason.label)
    if g.age_band is not None:
        confidence = f" ({g.age_confidence.value})" if g.age_confidence else ""
        parts.append(f"{g.age_band.label}{confidence}")
    if g.production_context is not None and with_context:
        parts.append(g.production_context.label)
    return " · ".join(parts)


def field_list(fields: Sequence[str]) -> str:
    """'severity, age band'."""
    return ", ".join(FIELD_LABELS.get(f, f) for f in fields)


class GradeCard(QGroupBox):
    """One grading, a row per field. With `with_decision` it also shows the actions
    and the note, which belong to a decision (a final grade or a known answer has
    neither)."""

    ROWS: Final = (
        ("severity", "Severity"),
        ("csea_related", "CSEA-related"),
        ("not_assessable_reason", "Not assessable because"),
        ("age_band", "Youngest age band"),
        ("age_confidence", "Age confidence"),
        ("production_context", "Production context"),
    )

    def __init__(self, with_decision: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        # What is shown, as plain text, and which fields are marked (tests read these).
        self.shown: dict[str, str] = {}
        self.marked: frozenset[str] = frozenset()
        # Who gave the grade and when: under the title, wrapped (a title cannot wrap).
        self.by = QLabel()
        self.by.setObjectName("status")
        self.by.setWordWrap(True)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        rows = list(self.ROWS)
        if with_decision:
            rows += [("actions", "Actions"), ("note", "Note")]
        for key, label in rows:
            value = QLabel(_NONE)
            value.setWordWrap(True)
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            form.addRow(f"{label}:", value)
            self.values[key] = value
        layout = QVBoxLayout(self)
        layout.addWidget(self.by)
        layout.addLayout(form)
        self._title = elide_title(self)

    def show_grading(
        self, title: str, grading: Grading | None, differ: Collection[str] = (), by: str = ""
    ) -> None:
        """Show `grading` under `title` and `by` (who, when); the fields in `differ` are
        marked."""
        self._title.set_title(title)
        self.by.setText(by)
        self.by.setVisible(bool(by))
        self.marked = frozenset(differ) & self.values.keys()
        for key, label in self.values.items():
            text = _NONE if grading is None else _value(grading, key)
            self.shown[key] = text
            if key in self.marked:
                label.setText(f"<b style='color:{DIFFERS_COLOUR}'>{html.escape(text)}  ≠</b>")
            else:
                label.setText(html.escape(text))


def _value(g: Grading, key: str) -> str:
    if key == "csea_related":
        return "Yes" if g.csea_related else "No"
    if key == "actions":
        return ", ".join(sorted(a.label for a in g.actions)) or _NONE
    if key == "note":
        return g.note or _NONE
    value = getattr(g, key)
    return _NONE if value is None else value.label
