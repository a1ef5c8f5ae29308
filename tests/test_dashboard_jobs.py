"""The dashboard's background runs: threads of the serving process, one at a time, cancellable.

Driven through the same manager methods Dash's callback machinery calls (register, call_job_fn,
job_running, result_ready, get_result, terminate_job), with a real disk cache.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from conftest import require_module

require_module("diskcache", "the 'dashboard' extra (diskcache) for background runs")


def _manager(tmp_path: Path, ready: threading.Event | None = None) -> Any:
    import diskcache

    from dashboard.jobs import threaded_manager

    return threaded_manager(diskcache.Cache(str(tmp_path / "cache")), ready=ready)


def _wait(manager: Any, key: str, job: int, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if manager.result_ready(key):
            return manager.get_result(key, job)
        time.sleep(0.01)
    raise AssertionError(f"job {job} gave no result within {timeout_s} s")


def test_a_run_reports_progress_and_its_result_without_a_child_process(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    threads: list[str] = []

    def work(set_progress: Any, n: int) -> int:
        threads.append(threading.current_thread().name)
        for i in range(n):
            set_progress((str(i), f"step {i}"))
        return n * 10

    job_fn = manager.make_job_fn(work, progress=True)
    job = manager.call_job_fn("k1", job_fn, [3], {})
    assert _wait(manager, "k1", job) == 30
    assert threads == [f"dashboard-run-{job}"]  # a thread of this process, not a forked child
    assert not manager.job_running(job)


def test_runs_take_turns(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    inside = 0
    most = 0
    lock = threading.Lock()

    def work(set_progress: Any, label: str) -> str:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.2)
        set_progress(("1", label))
        with lock:
            inside -= 1
        return label

    job_fn = manager.make_job_fn(work, progress=True)
    jobs = {key: manager.call_job_fn(key, job_fn, [key], {}) for key in ("a", "b", "c")}
    assert {key: _wait(manager, key, job) for key, job in jobs.items()} == {"a": "a", "b": "b", "c": "c"}
    assert most == 1  # the crowd kernel's threading layer admits one parallel kernel per process


def test_a_cancelled_run_stops_at_its_next_progress_report(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    started = threading.Event()
    steps: list[int] = []

    def work(set_progress: Any) -> str:
        started.set()
        for i in range(500):
            set_progress((str(i), "working"))
            steps.append(i)
            time.sleep(0.01)
        return "finished"

    job_fn = manager.make_job_fn(work, progress=True)
    job = manager.call_job_fn("k", job_fn, [], {})
    assert started.wait(10)
    manager.terminate_job(job)
    result = _wait(manager, "k", job)
    assert isinstance(result, dict) and "cancelled" in result["background_callback_error"]["msg"]
    assert len(steps) < 500


def test_a_run_waits_for_the_warm_up(tmp_path: Path) -> None:
    ready = threading.Event()
    manager = _manager(tmp_path, ready=ready)
    job_fn = manager.make_job_fn(lambda: "done", progress=False)
    job = manager.call_job_fn("k", job_fn, [], {})
    time.sleep(0.3)
    assert manager.job_running(job) and not manager.result_ready("k")
    ready.set()
    assert _wait(manager, "k", job) == "done"
