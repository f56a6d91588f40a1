"""Work off the GUI thread, with a guaranteed way back.

The GUI thread never touches the database, the disk or an image decoder. Such work
goes to one of two lanes:

- `Tasks.db`: a single thread, so every ReviewService call is serialised in the order
  it was asked for (a reveal is audited before the decision that follows it);
- `Tasks.render`: a small pool for decoding and rendering pictures.

`Lane.submit(fn, *args, on_done=..., on_error=...)` runs `fn(*args)` on the lane and
then calls exactly one of the callbacks **on the GUI thread**: `on_done(result)` or
`on_error(exception)`. There is no way to submit without an error path.

A Qt object must be destroyed on the thread it lives on; a widget destroyed on a worker
while the GUI thread paints brings the process down. Python frees an object on whichever
thread drops its last reference, and its cyclic garbage collector runs on whichever
thread happens to allocate. So, while a `Tasks` runs:

- the GUI thread holds everything a job refers to (the function, its arguments, both
  callbacks, the outcome) until the outcome is delivered, and the worker lets go of its
  own references first, so the last one is always dropped on the GUI thread;
- automatic garbage collection is off, and a timer on the GUI thread collects instead,
  generation by generation on the interpreter's own thresholds (the pattern of calibre's
  and pyqtgraph's `GarbageCollector`).
"""

from __future__ import annotations

import gc
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")

RENDER_THREADS = 2

# How often the GUI thread looks at the collector's counts: short enough that cyclic
# garbage (a closed screen) goes within a second, long enough to cost nothing.
COLLECT_EVERY_MS = 250


@dataclass
class _Job:
    """One submitted job, kept on the GUI thread from submit to delivery."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    on_done: Callable[[Any], None]
    on_error: Callable[[Exception], None]
    # Set by the worker, read on the GUI thread after the queued signal.
    value: Any = None
    failed: bool = False
    key: int = 0


class _Courier(QObject):
    """Lives on the GUI thread; its queued signal carries job keys home from workers."""

    # key: the finished job's key in Tasks._jobs.
    job_finished = Signal(object)


class _GuiThreadCollection:
    """Automatic garbage collection off while any `Tasks` runs, back on after the last."""

    users = 0
    was_enabled = True

    @classmethod
    def acquire(cls) -> None:
        if cls.users == 0:
            cls.was_enabled = gc.isenabled()
            gc.disable()
        cls.users += 1

    @classmethod
    def release(cls) -> None:
        cls.users -= 1
        if cls.users == 0 and cls.was_enabled:
            gc.enable()


def collect_due_generations() -> None:
    """What the automatic collector would have done by now, on this (the GUI) thread."""
    counts = gc.get_count()
    thresholds = gc.get_threshold()
    generation = -1
    for g in range(3):
        if thresholds[g] and counts[g] > thresholds[g]:
            generation = g
        else:
            break
    if generation >= 0:
        gc.collect(generation)


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
        job = self._tasks._started(_Job(fn, args, on_done, on_error))
        # The worker gets the job in a box it empties, so that the executor's own record
        # of the call does not keep the job alive on the worker thread.
        self._executor.submit(self._run, [job])

    def _run(self, box: list[_Job]) -> None:
        job = box.pop()
        try:
            job.value = job.fn(*job.args)
        except Exception as exc:
            job.value, job.failed = exc, True
        key = job.key
        # The GUI thread still holds the job; the worker must not hold the last reference
        # once the GUI thread has it back.
        del job
        self._tasks._courier.job_finished.emit(key)

    def _shutdown(self, cancel_queued: bool) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel_queued)


class Tasks:
    """The database worker and the render pool of one running workstation."""

    def __init__(self, synchronous: bool = False, render_threads: int = RENDER_THREADS) -> None:
        self.synchronous = synchronous
        self._jobs: dict[int, _Job] = {}
        self._keys = itertools.count(1)
        self._closed = False
        self._courier = _Courier()
        # Queued explicitly: outcomes are emitted on worker threads but must run here.
        self._courier.job_finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.db = Lane(self, "db", 1)
        self.render = Lane(self, "render", render_threads)
        self._collector: QTimer | None = None
        if not synchronous:
            _GuiThreadCollection.acquire()
            self._collector = QTimer(self._courier)
            self._collector.setInterval(COLLECT_EVERY_MS)
            self._collector.timeout.connect(collect_due_generations)
            self._collector.start()

    @property
    def pending(self) -> int:
        """Jobs submitted whose outcome has not yet been delivered."""
        return len(self._jobs)

    def shutdown(self) -> None:
        """Wait for in-flight work: every queued database job still runs (releases of
        held items are queued at close); queued renders are dropped. Outcomes arriving
        afterwards are not delivered, since the screens that asked are gone; errors
        among them are logged."""
        if self._closed:
            return
        self._closed = True
        self.render._shutdown(cancel_queued=True)
        self.db._shutdown(cancel_queued=False)
        # Every job has now run or been dropped; none is delivered any more, and its
        # references go here, on the GUI thread.
        for job in self._jobs.values():
            if job.failed:
                log.warning("background job failed after shutdown: %r", job.value)
        self._jobs.clear()
        if self._collector is not None:
            self._collector.stop()
            _GuiThreadCollection.release()

    def _started(self, job: _Job) -> _Job:
        job.key = next(self._keys)
        self._jobs[job.key] = job
        return job

    def _deliver(self, key: int) -> None:
        job = self._jobs.pop(key, None)
        if job is None:  # finished after shutdown: logged there if it failed
            return
        if job.failed:
            job.on_error(job.value)
        else:
            job.on_done(job.value)
