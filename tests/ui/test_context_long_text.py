"""Long free text already in the database (stored before ingest had size limits) is
shown without blocking: a short preview in the context panel, the rest in pages on
request. On SQLite and PostgreSQL (the text goes through the store)."""

from __future__ import annotations

import hashlib

from pytestqt.qtbot import QtBot
from ui_helpers import clipped_texts

from db.store import Store
from reviewer.clock import FakeClock
from reviewer.model import NewItem
from reviewer.vocabulary import Source
from ui.context_panel import PAGE_CHARS, PREVIEW_CHARS, PREVIEW_LINES, ContextPanel

TEN_MB = 10_000_000


def _stored_item(store: Store, report: str, accounts: tuple[str, ...] = ()) -> int:
    """An item written straight to the store, as older versions could write it."""
    sha = hashlib.sha256(report[:100].encode() + str(len(report)).encode()).hexdigest()
    store.items.add_media(sha, 100, "JPEG", 10, 10, None)
    item_id, _ = store.items.add_item(
        NewItem(
            queue="General",
            source=Source.USER_REPORT,
            media_sha256=sha,
            dedupe_key=sha,
            report_text=report,
            reported_accounts=accounts,
        )
    )
    return item_id


def test_a_10_mb_report_already_stored_shows_a_preview_and_pages_on_demand(
    qtbot: QtBot, store: Store
) -> None:
    report = ("abuse report line " * 40 + "\n") * (TEN_MB // 721) + "THE END"
    item = store.items.item(_stored_item(store, report))
    assert len(item.report_text) == len(report)
    panel = ContextPanel(FakeClock())
    qtbot.addWidget(panel)
    panel.show_item(item)
    shown = panel.fields["Report"].text()
    assert len(shown) <= PREVIEW_CHARS + 1 and shown.endswith("…")
    assert shown.count("\n") < PREVIEW_LINES
    button = panel.show_all["Report"]
    assert not button.isHidden() and f"{len(report):,} characters" in button.text()
    button.click()
    dialog = panel.dialog
    assert dialog is not None
    assert len(dialog.view.toPlainText()) == PAGE_CHARS
    dialog.more.click()
    assert len(dialog.view.toPlainText()) == 2 * PAGE_CHARS
    assert "more characters" in dialog.more.text()
    # The next item with a short report hides the button again.
    short = store.items.item(_stored_item(store, "short report"))
    panel.show_item(short)
    assert panel.fields["Report"].text() == "short report"
    assert panel.show_all["Report"].isHidden()


def test_a_short_report_is_shown_whole_and_pages_to_its_end(qtbot: QtBot, store: Store) -> None:
    report = "x" * (PAGE_CHARS + 5)
    panel = ContextPanel(FakeClock())
    qtbot.addWidget(panel)
    panel.show_item(store.items.item(_stored_item(store, report)))
    panel.show_all["Report"].click()
    assert panel.dialog is not None
    panel.dialog.more.click()
    assert panel.dialog.view.toPlainText() == report
    assert panel.dialog.more.isHidden()


def test_many_accounts_and_unbroken_text_do_not_widen_or_flood_the_panel(
    qtbot: QtBot, store: Store
) -> None:
    accounts = tuple(f"user{n}@example.test" for n in range(100_000))
    item = store.items.item(_stored_item(store, "y" * 5_000, accounts))
    panel = ContextPanel(FakeClock())
    qtbot.addWidget(panel)
    panel.resize(360, 700)
    panel.show_item(item)
    assert panel.fields["Reported accounts"].text().count("\n") < PREVIEW_LINES
    assert "100,000 accounts" in panel.show_all["Reported accounts"].text()
    # A 600-character run with no space still wraps inside a narrow panel.
    assert panel.fields["Report"].minimumSizeHint().width() < 400
    panel.show_all["Reported accounts"].click()
    assert panel.dialog is not None
    assert panel.dialog.view.toPlainText().startswith("user0@example.test\nuser1@")


def test_long_values_wrap_inside_the_column_a_laptop_screen_gives_the_panel(
    qtbot: QtBot, themed: None, store: Store
) -> None:
    sha = hashlib.sha256(b"long values").hexdigest()
    store.items.add_media(sha, 100, "JPEG", 10, 10, None)
    item_id, _ = store.items.add_item(
        NewItem(
            queue="Child-safety-escalations-from-trusted-flaggers-EMEA",
            source=Source.NGO,
            media_sha256=sha,
            dedupe_key=sha,
            report_text="See https://example.test/reports/" + "a1b2c3d4" * 8,
            reported_accounts=("a.very.long.account.name.with.no.spaces@subdomain.example.test",),
            upload_ip="2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            imminent_risk=True,  # the longest priority banner
        )
    )
    panel = ContextPanel(FakeClock())
    qtbot.addWidget(panel)
    # About what the review screen's left column gets at 1366 × 768.
    panel.resize(300, 700)
    panel.show()
    panel.show_item(store.items.item(item_id))
    qtbot.wait(20)
    assert panel.width() == 300  # nothing widened it
    assert clipped_texts(panel) == []
    assert panel.fields["SHA-256"].text() == f"{sha[:16]}…"  # copied as it is
