"""Ways to run a batch of tasks: the ones a numpy user reaches for.

Every executor is created and started outside the timed region (once per
benchmark process and combination, ``benchmarks/common.py``), so a benchmark
times the work and the hand-off, not thread or process start-up.
``close()`` joins every worker.
"""

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys
from multiprocessing.pool import ThreadPool

from . import UsageError

# name -> what it is, as the parameter labels and reports show it
EXECUTORS = {
    "serial": "a plain loop in the calling thread",
    "threadpool": "multiprocessing.pool.ThreadPool starmap/map",
    "futures": "concurrent.futures.ThreadPoolExecutor.map",
    "processes": "concurrent.futures.ProcessPoolExecutor.map (spawned workers)",
}


def _single_args(tasks):
    """The tasks' sole arguments if every task takes one, else None: the
    tutorial uses ``map`` for one-argument tasks and ``starmap`` otherwise."""
    if all(len(args) == 1 for args in tasks):
        return [args[0] for args in tasks]
    return None


class Serial:
    name = "serial"
    workers = 1

    def run(self, fn, tasks, chunksize=None):
        return [fn(*args) for args in tasks]

    def close(self):
        pass


class ThreadPoolRunner:
    """``multiprocessing.pool.ThreadPool``; ``workers=None`` is the tutorial's
    ``ThreadPool()``, which starts ``os.cpu_count()`` threads."""
    name = "threadpool"

    def __init__(self, workers):
        self.pool = ThreadPool(workers)
        self.workers = self.pool._processes

    def run(self, fn, tasks, chunksize=None):
        single = _single_args(tasks)
        if single is not None:
            return self.pool.map(fn, single, chunksize)
        return self.pool.starmap(fn, tasks, chunksize)

    def close(self):
        self.pool.close()
        self.pool.join()


class FuturesRunner:
    """``ThreadPoolExecutor.map``; it has no chunking for threads."""
    name = "futures"

    def __init__(self, workers):
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.workers = self.pool._max_workers
        # Start every thread now rather than lazily inside the timed region.
        list(self.pool.map(_noop, range(self.workers * 2)))

    def run(self, fn, tasks, chunksize=None):
        return list(self.pool.map(fn, *zip(*tasks)))

    def close(self):
        self.pool.shutdown(wait=True)


def _noop(*_):
    return None


# prctl(2): the signal a Linux process gets when the thread that created it ends
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent):
    """End this worker when the benchmark process that started it ends.

    asv_runner ends every benchmark process with ``os._exit``, so a pool is
    never shut down; its workers usually see their pipe close and exit, but
    not always: after the tenth ``make bench`` three idle workers of a
    ProcessPool cell (numpy 1.26.4) were still alive 36 minutes later. On
    Linux the kernel ends them with their parent (PR_SET_PDEATHSIG);
    elsewhere they are left as before."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:      # the parent ended before the signal was set
        os._exit(0)


def _start_worker(parent, blas_threads):
    """Process-pool initializer: ends with its parent (``_die_with_parent``),
    and limits its own BLAS pool, which must be limited inside it (limits
    do not cross processes). numpy is imported first: threadpoolctl limits
    only the libraries already loaded, and a spawned worker has loaded numpy
    only if the parent's main module imports it (asv's runner's does;
    pytest's does not, and there the limit silently did nothing)."""
    _die_with_parent(parent)
    if blas_threads is not None:
        import numpy  # noqa: F401  (loads the BLAS)
        from threadpoolctl import threadpool_limits
        threadpool_limits(blas_threads, user_api="blas")


class ProcessRunner:
    """``ProcessPoolExecutor`` with spawned workers (fork is unsafe once
    OpenBLAS has started threads). Arguments and results are pickled: that
    cost is part of what this executor is measured for."""
    name = "processes"

    def __init__(self, workers, blas_threads=None):
        ctx = multiprocessing.get_context("spawn")
        self.pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_start_worker,
            initargs=(os.getpid(), blas_threads))
        self.workers = self.pool._max_workers
        list(self.pool.map(_noop, range(self.workers * 2)))

    def run(self, fn, tasks, chunksize=None):
        return list(self.pool.map(fn, *zip(*tasks), chunksize=chunksize or 1))

    def close(self):
        self.pool.shutdown(wait=True)


def make_executor(name, workers, blas_threads=None):
    """Create a started executor. ``workers=None`` means the library's own
    default (``ThreadPool()``: os.cpu_count())."""
    if workers is not None and workers < 1:
        raise UsageError(f"worker count {workers} must be at least 1")
    if name == "serial":
        return Serial()
    if name == "threadpool":
        return ThreadPoolRunner(workers)
    if name == "futures":
        return FuturesRunner(workers)
    if name == "processes":
        return ProcessRunner(workers, blas_threads)
    raise UsageError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")


def resolve_chunksize(label, tasks, workers):
    """Chunk size from a label: "default" (the executor's own), "1",
    "tasks/4" (the tutorial's chunksize=25 for 100 tasks) or
    "tasks/workers" (one chunk per worker)."""
    text = str(label)
    if text == "default":
        return None
    if text.startswith("tasks/"):
        divisor = text.split("/", 1)[1]
        divisor = workers if divisor == "workers" else _positive(divisor, label)
        return max(1, -(-tasks // divisor))
    return _positive(text, label)


def _positive(text, label):
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"chunk size {label!r} is not a number") from None
    if value < 1:
        raise UsageError(f"chunk size {label!r} must be at least 1")
    return value


_LABELLED = {"ThreadPool": "threadpool", "ThreadPoolExecutor": "futures",
             "ProcessPool": "processes"}


def executor_from_label(label, blas_threads=None, cores=None):
    """Create the executor a readable param label names: "serial loop",
    "ThreadPool()" (the library default), "ThreadPool(cores)",
    "ThreadPoolExecutor(2xcores)" or "ProcessPool(cores)"."""
    from .machine import resolve_threads  # machine facts, kept out of import time
    text = str(label).strip()
    if text == "serial loop":
        return Serial()
    kind, _, rest = text.partition("(")
    if kind not in _LABELLED or not rest.endswith(")"):
        raise UsageError(f"unknown executor label {label!r}; use 'serial loop' or "
                         f"{', '.join(k + '(threads)' for k in _LABELLED)}")
    inner = rest[:-1].strip()
    workers = resolve_threads(inner, cores) if inner else None
    return make_executor(_LABELLED[kind], workers, blas_threads)
