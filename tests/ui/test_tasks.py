"""The task lanes: results and errors always come back, on the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

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


def test_submit_after_shutdown_is_dropped_not_raised(qtbot: QtBot) -> None:
    """A late timer of a closing window must not raise inside the Qt event loop."""
    tasks = Tasks()
    tasks.shutdown()
    outcomes: list[object] = []
    tasks.db.submit(lambda: 1, on_done=outcomes.append, on_error=outcomes.append)
    qtbot.wait(50)
    assert outcomes == [] and tasks.pending == 0


class _Owner:
    """Stands for a screen: its last reference must go on the GUI thread."""

    def __init__(self, go: threading.Event, results: list[object]) -> None:
        self._go = go
        self._results = results

    def work(self, other: _Owner) -> str:
        # Runs until the test has dropped its own references, so that only the lanes
        # hold the owners from here on.
        assert self._go.wait(10)
        return "done"

    def record(self, value: object) -> None:
        self._results.append(value)


def test_what_a_job_holds_is_let_go_on_the_gui_thread(qtbot: QtBot) -> None:
    """A widget freed on a worker while the GUI thread paints crashes the process; the
    lanes must never hold the last reference to a job's function, arguments or callbacks
    on a worker."""
    tasks = Tasks()
    go = threading.Event()
    freed_on: list[str] = []
    results: list[object] = []
    for lane in (tasks.db, tasks.render):
        worker, argument, callback = (_Owner(go, results) for _ in range(3))
        for owner in (worker, argument, callback):
            weakref.finalize(owner, lambda: freed_on.append(where()))
        lane.submit(worker.work, argument, on_done=callback.record, on_error=callback.record)
        del worker, argument, callback, owner
    go.set()
    qtbot.waitUntil(lambda: len(results) == 2 and len(freed_on) == 6, timeout=10_000)
    tasks.shutdown()
    assert results == ["done", "done"]
    assert freed_on == [threading.main_thread().name] * 6


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cyclic_garbage_is_collected_on_the_gui_thread(qtbot: QtBot) -> None:
    """Python's collector runs on whichever thread allocates: with a Tasks running, only
    the GUI thread collects, and garbage made on a worker still goes, and soon."""
    tasks = Tasks()
    collected_on: list[str] = []

    def make_garbage_then_allocate() -> list[list[int]]:
        for _ in range(20):
            weakref.finalize(_Cycle(), lambda: collected_on.append(where()))
        # Far past every generation's threshold: the automatic collector would run here.
        return [[i] for i in range(200_000)]

    kept: list[object] = []
    try:
        tasks.db.submit(make_garbage_then_allocate, on_done=kept.append, on_error=kept.append)
        qtbot.waitUntil(lambda: len(collected_on) == 20, timeout=5_000)
    finally:
        tasks.shutdown()
    assert set(collected_on) == {threading.main_thread().name}


def test_the_collector_is_back_on_after_the_last_tasks_shuts_down(qtbot: QtBot) -> None:
    assert gc.isenabled()
    first, second = Tasks(), Tasks()
    assert not gc.isenabled()
    first.shutdown()
    assert not gc.isenabled()  # the second still runs workers
    second.shutdown()
    second.shutdown()  # twice is harmless, and does not count twice
    assert gc.isenabled()
    assert Tasks(synchronous=True) and gc.isenabled()  # no workers, nothing to guard
