"""Background runs of the Scenarios page in threads of the serving process, one at a time.

Dash's :class:`~dash.DiskcacheManager` forks a child process per run. The dashboard's process is
full of threads (the hub's ingest and MQTT client, DuckDB's workers, the web server, the warm-up),
and a child forked from it inherits their locks and half-done C state without the threads: in CI
such children crashed in their garbage collector or hung, and the page waited for a result that
never came. Here a run is a thread instead. Runs share one lock because the crowd kernel's
threading layer (Numba's workqueue) admits one parallel kernel at a time per process; a second run
waits for the first. Progress and results still go through the disk cache, as Dash expects; a
cancelled run stops at its next progress report.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any


class JobCancelledError(Exception):
    """Raised in a background run at its next progress report once the page cancelled it."""


def threaded_manager(cache: Any, *, ready: threading.Event | None = None) -> Any:
    """A Dash background-callback manager that runs each job in a thread, one job at a time.

    Parameters
    ----------
    cache
        A ``diskcache.Cache`` holding progress and results (as for Dash's own manager).
    ready
        When given, a run starts only once this event is set (the dashboard's cache warm-up), so
        a run and the warm-up do not compete for the store and the CPU.
    """
    import dash

    class ThreadManager(dash.DiskcacheManager):  # type: ignore[misc]
        """Dash's disk-cache manager with threads in place of forked processes."""

        def __init__(self) -> None:
            super().__init__(cache)
            self._ids = itertools.count(1)
            self._threads: dict[int, threading.Thread] = {}
            self._cancelled: dict[int, threading.Event] = {}
            self._one_at_a_time = threading.Lock()
            self._state = threading.local()

        def make_job_fn(self, fn: Callable[..., Any], progress: Any, key: Any = None) -> Any:
            if progress:
                manager = self

                def checked(set_progress: Callable[[Any], None], *args: Any, **kwargs: Any) -> Any:
                    def report(value: Any) -> None:
                        manager.raise_if_cancelled()
                        set_progress(value)

                    return fn(report, *args, **kwargs)

                return super().make_job_fn(checked, progress, key)
            return super().make_job_fn(fn, progress, key)

        def raise_if_cancelled(self) -> None:
            event = getattr(self._state, "cancelled", None)
            if event is not None and event.is_set():
                raise JobCancelledError("the run was cancelled from the page")

        def call_job_fn(self, key: Any, job_fn: Any, args: Any, context: Any) -> int:
            job = next(self._ids)
            cancelled = threading.Event()

            def target() -> None:
                if ready is not None:
                    ready.wait(600)
                with self._one_at_a_time:
                    if cancelled.is_set():
                        return
                    self._state.cancelled = cancelled
                    try:
                        job_fn(key, self._make_progress_key(key), args, context)
                    finally:
                        self._state.cancelled = None
                        self._threads.pop(job, None)
                        self._cancelled.pop(job, None)

            thread = threading.Thread(target=target, name=f"dashboard-run-{job}", daemon=True)
            self._threads[job] = thread
            self._cancelled[job] = cancelled
            thread.start()
            return job

        @staticmethod
        def _job(job: Any) -> int | None:
            try:
                return int(job)
            except (TypeError, ValueError):
                return None

        def job_running(self, job: Any) -> bool:
            thread = self._threads.get(self._job(job) or 0)
            return thread is not None and thread.is_alive()

        def terminate_job(self, job: Any) -> None:
            event = self._cancelled.get(self._job(job) or 0)
            if event is not None:
                event.set()

        def terminate_unhealthy_job(self, job: Any) -> bool:
            return False  # a thread that ended is gone from the table; nothing is left to reap

    return ThreadManager()


__all__ = ["JobCancelledError", "threaded_manager"]
