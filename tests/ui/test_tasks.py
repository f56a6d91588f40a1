"""The task lanes: results and errors always come back, on the GUI thread."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from ui.tasks import Tasks


def where() -> str:
    return threading.current_thread().name


def boom() -> None:
    raise RuntimeError("boom")


def test_results_and_errors_are_delivered_on_the_gui_thread(qtbot: QtBot) -> None:
    tasks = Tasks()
    got: list[tuple[str, object, bool]] = []

    def on_done(value: object) -> None:
        got.append(("done", value, threading.current_thread() is threading.main_thread()))

    def on_error(exc: Exception) -> None:
        got.append(("error", str(exc), threading.current_thread() is threading.main_thread()))

    tasks.db.submit(where, on_done=on_done, on_error=on_error)
    tasks.render.submit(boom, on_done=on_done, on_error=on_error)
    assert tasks.pending == 2
    qtbot.waitUntil(lambda: tasks.pending == 0)
    tasks.shutdown()
    outcomes = {kind: (value, on_gui_thread) for kind, value, on_gui_thread in got}
    assert outcomes["error"] == ("boom", True)
    ran_on, on_gui_thread = outcomes["done"]
    assert on_gui_thread
    assert isinstance(ran_on, str) and ran_on.startswith("reviewer-db")


def test_database_jobs_run_in_order_and_shutdown_waits_for_them(qtbot: QtBot) -> None:
    tasks = Tasks()
    order: list[int] = []
    for i in range(20):
        tasks.db.submit(order.append, i, on_done=lambda _none: None, on_error=lambda _exc: None)
    tasks.shutdown()
    assert order == list(range(20))


def test_synchronous_mode_runs_inline() -> None:
    tasks = Tasks(synchronous=True)
    got: list[object] = []
    tasks.db.submit(where, on_done=got.append, on_error=got.append)
    tasks.render.submit(boom, on_done=got.append, on_error=got.append)
    assert got[0] == threading.current_thread().name
    assert isinstance(got[1], RuntimeError)
    assert tasks.pending == 0


def test_submit_after_shutdown_is_dropped_not_raised(qtbot) -> None:
    """A late timer of a closing window must not raise inside the Qt event loop."""
    tasks = Tasks()
    tasks.shutdown()
    outcomes: list[object] = []
    tasks.db.submit(lambda: 1, on_done=outcomes.append, on_error=outcomes.append)
    qtbot.wait(50)
    assert outcomes == [] and tasks.pending == 0
