"""The moderator's main window as built at sign-in: the review screen in ui.window's
frame, with the Admin and Team menus the account's roles allow, following role changes."""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMenu

from reviewer.clock import Clock, SystemClock
from reviewer.qa_service import QaService
from reviewer.review_service import ReviewService
from reviewer.team_service import TeamServices
from ui.adjudication_screen import AdjudicationScreen
from ui.calibration_screen import CalibrationScreen, unseen
from ui.dashboard_screen import DashboardScreen
from ui.events import AppEvents, Change, ChangeSet
from ui.gold_screen import GoldScreen
from ui.idle_lock import LockTimings
from ui.qa_screen import build_qa_window
from ui.referral_screen import ReferralsWindow
from ui.review_screen import ReviewScreen, Timings
from ui.tasks import Tasks
from ui.welfare_view import WelfareGuard
from ui.window import MainWindow

log = logging.getLogger(__name__)


def build_main_window(
    service: ReviewService,
    tasks: Tasks,
    events: AppEvents | None = None,
    clock: Clock | None = None,
    timings: Timings | None = None,
    lock: LockTimings | None = None,
) -> MainWindow:
    """The window for a signed-in person; call `window.review.start()` once shown."""
    clock = clock or SystemClock()
    events = events or AppEvents()
    review = ReviewScreen(service, tasks, events, clock, timings)
    window = MainWindow(
        review, service.account.name, service=service, tasks=tasks, clock=clock, lock=lock
    )
    # Every sign-in has its welfare policy: breaks, pauses and the shift's end lock here.
    window.welfare = WelfareGuard(window, review, service.welfare, tasks, clock)
    window.add_status_banner(window.welfare.banner)
    _add_role_menus(window, service, tasks, events, clock)
    _follow_role_changes(window, service, tasks, events, clock)
    return window


# How often an open window re-reads its account's roles (also after each decision).
ROLE_CHECK_MS = 30_000


def _add_role_menus(
    window: MainWindow, service: ReviewService, tasks: Tasks, events: AppEvents, clock: Clock
) -> None:
    """The Admin and Team menus for the account's roles as the service last read them."""
    window.add_admin_menu()
    team = getattr(service, "team", None)
    if team is not None and team.any:
        window.team_menu = _add_team_menu(window, service, team, tasks, events, clock)
    if team is not None and team.gold is not None and window.admin_menu is not None:
        gold = team.gold

        def open_gold() -> None:
            screen = GoldScreen(gold, tasks)
            window.open_team_window(screen, "Reviewer — golden set", screen.refresh)

        window.admin_menu.addAction("&Golden set…").triggered.connect(open_gold)


def _follow_role_changes(
    window: MainWindow, service: ReviewService, tasks: Tasks, events: AppEvents, clock: Clock
) -> None:
    """Roles an admin gives or takes away reach this open window without signing in
    again: the menus are rebuilt, windows opened under the old roles close, and the
    person is told."""

    def check() -> None:
        if not window.isVisible() or (window.idle is not None and window.idle.is_locked):
            return
        tasks.db.submit(
            service.refresh_team,
            on_done=changed,
            on_error=lambda exc: log.warning("could not re-read the account: %r", exc),
        )

    def changed(did_change: bool) -> None:
        if not did_change or not window.isVisible():
            return
        for w in list(window.team_windows):
            w.close()
        for menu in (window.admin_menu, window.team_menu):
            if menu is not None:
                window.menuBar().removeAction(menu.menuAction())
                menu.deleteLater()
        window.admin_menu = window.team_menu = None
        window.users_action = window.settings_action = window.calibration_action = None
        _add_role_menus(window, service, tasks, events, clock)
        roles = ", ".join(sorted(r.label for r in service.account.roles)) or "none"
        window.statusBar().showMessage(
            f"An admin changed your roles: now {roles}. The menus show what they allow.",
            30_000,
        )

    timer = QTimer(window)
    timer.setInterval(ROLE_CHECK_MS)
    timer.timeout.connect(check)
    timer.start()
    window.role_check = timer
    events.changed.connect(
        lambda change: check() if change.touches(Change.DECISION_RECORDED) else None
    )


def _add_team_menu(
    window: MainWindow,
    service: ReviewService,
    team: TeamServices,
    tasks: Tasks,
    events: AppEvents,
    clock: Clock,
) -> QMenu:
    """Dashboard, QA queue, disputes, referrals and calibration notes, each only for
    those who may use it; each opens in a window of its own."""
    menu = QMenu("&Team", window)
    window.menuBar().insertMenu(window.help_menu.menuAction(), menu)
    keep = window.open_team_window

    if team.dashboard is not None:
        dashboard = team.dashboard

        def open_dashboard() -> None:
            screen = DashboardScreen(dashboard, tasks, events)
            keep(screen, "Reviewer — team dashboard", screen.start)

        menu.addAction("Team &dashboard…").triggered.connect(open_dashboard)
    if team.qa_session is not None:
        session = team.qa_session

        def open_qa() -> None:
            # The same person's sign-in: the QA window locks on idle as this one does.
            lock = window.idle.timings if window.idle is not None else None
            qa_window = build_qa_window(session, tasks, clock=clock, owner=service, lock=lock)
            keep(qa_window, qa_window.windowTitle(), qa_window.review.start)

        menu.addAction("&QA re-grades…").triggered.connect(open_qa)
    if team.adjudication is not None:
        adjudication = team.adjudication

        def open_disputes() -> None:
            screen = AdjudicationScreen(adjudication, tasks)
            keep(screen, "Reviewer — QA disputes", screen.refresh)

        menu.addAction("&Adjudicate QA disputes…").triggered.connect(open_disputes)
    if team.referrals is not None:
        referrals = team.referrals

        def open_referrals() -> None:
            screen = ReferralsWindow(referrals, tasks)
            keep(screen, "Reviewer — referrals", screen.refresh)

        menu.addAction("&Referrals…").triggered.connect(open_referrals)
    if team.calibration is not None:
        _add_calibration(window, menu, team.calibration, tasks, events)
    return menu


def _add_calibration(
    window: MainWindow, menu: QMenu, notes: QaService, tasks: Tasks, events: AppEvents
) -> None:
    """My calibration notes, with the count not yet read: read at sign-in, after each
    decision (a lead may have settled one meanwhile) and as notes are opened."""

    def count() -> None:
        tasks.db.submit(
            notes.my_calibration,
            on_done=lambda rows: window.show_unseen_notes(unseen(rows)),
            on_error=lambda exc: log.warning("could not count calibration notes: %r", exc),
        )

    def changed(change: ChangeSet) -> None:
        if change.touches(Change.DECISION_RECORDED):
            count()

    def open_notes() -> None:
        screen = CalibrationScreen(notes, tasks)
        screen.unseen_changed.connect(window.show_unseen_notes)
        window.open_team_window(screen, "Reviewer — my calibration notes", screen.refresh)

    window.calibration_action = menu.addAction("My &calibration notes…")
    window.calibration_action.triggered.connect(open_notes)
    events.changed.connect(changed)
    count()
