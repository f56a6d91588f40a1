"""Take docs/screenshots/referrals.png: the Referrals window on synthetic items.

    Xvfb :98 -screen 0 1366x768x24 &
    DISPLAY=:98 PYTHONPATH=.:tests python tests/ui/make_referrals_screenshot.py [OUTPUT.png]

Throwaway database and media store in a temporary directory; synthetic data only
(RFC 5737 addresses, example.test accounts, generated pictures).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    REVEALED,
    add_item,
    decide,
    reporting_lead,
    settings_check,
)

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.destinations import Destination
from reviewer.referral_service import ReferralService
from ui.referral_screen import ReferralsWindow
from ui.tasks import Tasks
from ui.theme import apply_theme

ROOT = Path(__file__).resolve().parents[2]


def main(output: Path) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        store = Store.open(f"sqlite:///{tmp}/reviewer.db", clock=clock, audit_key=os.urandom(32))
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        repo = store.referrals
        repo.update_settings(
            settings_check(store),
            organisation="Example Platform Ltd",
            contact_name="Duty T&S lead",
            contact_email="tns@example.test",
        )
        svc = ReferralService(repo, media, reporting_lead(store))
        # Four reported items built into referrals (one exported, one with gaps), three
        # still awaiting one (one of them urgent and overdue), at a fixed clock.
        specs = [
            (dict(subject=FULL_SUBJECT, chat=FULL_CHAT), Destination.NCA, False),
            ({}, Destination.NCMEC, True),
            (dict(subject=FULL_SUBJECT, imminent_risk=True), Destination.NCA, False),
            (dict(subject=FULL_SUBJECT, chat=FULL_CHAT), Destination.NCMEC, False),
        ]
        built = []
        for n, (fields, destination, incomplete) in enumerate(specs):
            item = add_item(store, media, seed=n + 1, **fields)
            decide(store, item, exposure=REVEALED, user="Sam Okafor")
            built.append(svc.build(item, destination, allow_incomplete=incomplete))
        svc.export(built[0].id, Path(tmp))
        for n, fields in enumerate(
            (dict(subject=FULL_SUBJECT, imminent_risk=True), dict(subject=FULL_SUBJECT), {})
        ):
            item = add_item(store, media, seed=10 + n, **fields)
            decide(store, item, exposure=REVEALED, user="Ana Ruiz")
        clock.advance(90 * 60)  # the urgent ones are now overdue (level 1: 1 hour)
        tasks = Tasks(synchronous=True)
        window = ReferralsWindow(svc, tasks)
        window.resize(1366, 768)
        window.show()
        window.refresh()
        # The incomplete CyberTipline referral: its gaps in the detail pane.
        view = window.table.model()
        for r in range(view.rowCount()):
            if view.index(r, 2).data() == built[1].reference:
                window.table.selectRow(r)
        for _ in range(20):
            app.processEvents()
        window.grab().save(str(output))
        window.close()
        store.close()
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/screenshots/referrals.png")
