import multiprocessing
import subprocess
import sys
import threading
import time

import pytest

from npthreads import UsageError
from npthreads.executors import executor_from_label, resolve_chunksize

LABELS = ["serial loop", "ThreadPool()", "ThreadPool(1)", "ThreadPool(cores)",
          "ThreadPoolExecutor(2xcores)", "ProcessPool(cores)"]


def square(x):
    return x * x


def add(x, y):
    return x + y


class Recorder:
    """Counts how often each task ran, from whichever thread ran it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []

    def __call__(self, task_id):
        with self.lock:
            self.seen.append(task_id)
        return task_id


@pytest.mark.parametrize("label", [l for l in LABELS if not l.startswith("Process")])
@pytest.mark.parametrize("chunksize", [None, 1, 7])
def test_thread_executors_run_every_task_exactly_once(label, chunksize):
    recorder = Recorder()
    before = threading.active_count()
    executor = executor_from_label(label)
    try:
        results = executor.run(recorder, [(i,) for i in range(50)], chunksize)
    finally:
        executor.close()
    assert results == list(range(50))           # in order
    assert sorted(recorder.seen) == list(range(50))  # each once
    assert threading.active_count() == before   # no thread left behind


def test_multi_argument_tasks_use_starmap():
    executor = executor_from_label("ThreadPool(cores)")
    try:
        assert executor.run(add, [(i, 10) for i in range(20)]) == [i + 10 for i in range(20)]
    finally:
        executor.close()


def test_process_pool_runs_every_task_and_leaves_no_process():
    executor = executor_from_label("ProcessPool(2)")
    try:
        assert executor.run(square, [(i,) for i in range(30)], 4) == [i * i for i in range(30)]
        assert len(multiprocessing.active_children()) >= 1
    finally:
        executor.close()
    assert multiprocessing.active_children() == []


def test_default_threadpool_uses_the_library_default():
    import os
    executor = executor_from_label("ThreadPool()")
    try:
        assert executor.workers == os.cpu_count()
    finally:
        executor.close()


@pytest.mark.parametrize("label", ["ThreadPool(0)", "ThreadPool(x)", "Pool(2)", "ThreadPool(2"])
def test_bad_executor_labels_are_one_line_errors(label):
    with pytest.raises(UsageError) as err:
        executor_from_label(label)
    assert "\n" not in str(err.value)


def test_chunksize_labels():
    assert resolve_chunksize("default", 100, 4) is None
    assert resolve_chunksize("tasks/4", 100, 8) == 25  # the tutorial's chunksize=25
    assert resolve_chunksize("tasks/workers", 10, 4) == 3
    assert resolve_chunksize("3", 10, 4) == 3
    for bad in ("0", "x", "tasks/0"):
        with pytest.raises(UsageError):
            resolve_chunksize(bad, 10, 4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_process_pool_workers_end_with_a_process_that_ends_with_os_exit():
    """asv_runner ends a benchmark process with os._exit: its pool is never
    shut down, and the workers must not outlive it. One worker is busy (a
    task in flight does not read the pipe that tells it its parent is gone):
    without the parent-death signal it lives until its task ends, a minute
    later."""
    program = (
        "import os, time\n"
        "from npthreads.executors import executor_from_label\n"
        "pool = executor_from_label('ProcessPool(cores)')\n"
        "pool.pool.submit(time.sleep, 60)\n"
        "time.sleep(0.5)\n"
        "print(' '.join(str(p) for p in pool.pool._processes), flush=True)\n"
        "os._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True, timeout=60)
    workers = [int(p) for p in done.stdout.split()]
    assert workers
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [p for p in workers if _running(p)]
        time.sleep(0.1)
    assert not alive, f"workers {alive} outlived their process"


def _running(pid):
    """Alive and not a zombie (a zombie's parent has not reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
