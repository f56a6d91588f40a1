"""Work off the GUI thread, with a guaranteed way back.

The GUI thread never touches the database, the disk or an image decoder. Such work
goes to one of two lanes:

- `Tasks.db`: a single thread, so every ReviewService call is serialised in the order
  it was asked for (a reveal is audited before the decision that follows it);
- `Tasks.render`: a small pool for decoding and rendering pictures.

`Lane.submit(fn, *args, on_done=..., on_error=...)` runs `fn(*args)` on the lane and
then calls exactly one of the callbacks **on the GUI thread**: `on_done(result)` or
`on_error(exception)`. There is no way to submit without an error path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

RENDER_THREADS = 2


@dataclass(frozen=True)
class _Outcome:
    """What one job produced, and which callback gets it."""

    callback: Callable[[Any], None]
    value: Any
    failed: bool


class _Courier(QObject):
    """Lives on the GUI thread; its queued signal carries outcomes home from workers."""

    # outcome: the _Outcome of one finished job.
    job_finished = Signal(object)


class Lane:
    """One executor whose outcomes are delivered on the GUI thread."""

    def __init__(self, tasks: Tasks, name: str, workers: int) -> None:
        self._tasks = tasks
        self.name = name
        self._executor = (
            None
            if tasks.synchronous
            else ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"reviewer-{name}")
        )

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        """Run `fn(*args)` on this lane; then `on_done(result)` or `on_error(exc)` on the
        GUI thread (inline, before returning, in synchronous mode)."""
        if self._executor is None:
            try:
                result = fn(*args)
            except Exception as exc:
                on_error(exc)
            else:
                on_done(result)
            return
        if self._tasks._closed:
            # The workstation is shutting down (a late timer of a closing window): there
            # is no one left to deliver to, and nothing new may start.
            log.info("dropped %s submitted after shutdown", getattr(fn, "__name__", fn))
            return
        self._tasks._started()
        self._executor.submit(self._run, fn, args, on_done, on_error)

    def _run(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        try:
            outcome = _Outcome(on_done, fn(*args), failed=False)
        except Exception as exc:
            outcome = _Outcome(on_error, exc, failed=True)
        self._tasks._courier.job_finished.emit(outcome)

    def _shutdown(self, cancel_queued: bool) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel_queued)


class Tasks:
    """The database worker and the render pool of one running workstation."""

    def __init__(self, synchronous: bool = False, render_threads: int = RENDER_THREADS) -> None:
        self.synchronous = synchronous
        self._pending = 0
        self._closed = False
        self._courier = _Courier()
        # Queued explicitly: outcomes are emitted on worker threads but must run here.
        self._courier.job_finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.db = Lane(self, "db", 1)
        self.render = Lane(self, "render", render_threads)

    @property
    def pending(self) -> int:
        """Jobs submitted whose outcome has not yet been delivered."""
        return self._pending

    def shutdown(self) -> None:
        """Wait for in-flight work: every queued database job still runs (releases of
        held items are queued at close); queued renders are dropped. Outcomes arriving
        afterwards are not delivered, since the screens that asked are gone; errors
        among them are logged."""
        self._closed = True
        self.render._shutdown(cancel_queued=True)
        self.db._shutdown(cancel_queued=False)

    def _started(self) -> None:
        self._pending += 1

    def _deliver(self, outcome: _Outcome) -> None:
        self._pending -= 1
        if not self._closed:
            outcome.callback(outcome.value)
        elif outcome.failed:
            log.warning("background job failed after shutdown: %r", outcome.value)
