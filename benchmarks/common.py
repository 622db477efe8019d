"""The base class every scenario shares: timer, sampling, guards, clean-up.

Not a benchmark module: asv imports it, finds no benchmark in it, and the
scenario modules import ``Scenario`` from it.
"""

import atexit
import hashlib
import os
import sys
import timeit
from pathlib import Path

from npthreads import machine, profiles
from npthreads.executors import Serial, executor_from_label
from npthreads.threadcontrol import BlasLimitRefused, BlasThreads, current_blas_threads

from .versions import VERSIONS

GRID = profiles.grid()

# asv calls setup and teardown around every sample. Starting a process pool
# (or even a thread pool) for each sample would cost more than many samples
# take, so each process keeps its executors for its parameter combination.
_EXECUTORS = {}
# sizes whose memory this process has already checked (see require_memory)
_FITTED = set()
# cells whose results this process has already checked (see check_results)
_CHECKED = set()


class WrongResult(AssertionError):
    """A concurrent run computed something other than the serial reference.

    Raised from ``setup``, so asv records the combination as failed, with
    this message, rather than skipped (NotImplementedError) or timed."""


# Closes them where the process exits normally (the tests, direct use).
# Under asv it never runs: asv_runner's forkserver ends each benchmark
# process with os._exit. Threads end with the process; a process pool's
# workers end with it too on Linux (``executors._die_with_parent``: before,
# most exited within about two seconds, overlapping the next benchmark
# process, and some stayed idle for good).
@atexit.register
def _close_executors():
    while _EXECUTORS:
        _EXECUTORS.popitem()[1].close()


BENCHMARK_PREFIXES = ("time_", "timeraw_", "track_", "mem_", "peakmem_")


class Versioned:
    """Gives each benchmark method of a subclass its explicit asv version
    from ``versions.VERSIONS`` (why: see that module); a benchmark the table
    does not name stops the import with the reason."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        module = cls.__module__.rsplit(".", 1)[-1]
        for name, method in vars(cls).items():
            if name.startswith(BENCHMARK_PREFIXES) and callable(method):
                key = f"{module}.{cls.__name__}.{name}"
                if key not in VERSIONS:
                    raise LookupError(f"{key} has no entry in benchmarks/versions.py")
                method.version = VERSIONS[key]


class Scenario(Versioned):
    # Wall clock: CPU time would add up across threads and hide the question.
    timer = timeit.default_timer
    # Many short rounds, each a fresh process, with a fixed number of samples
    # in each. On a shared VM the noise lives between processes: samples
    # within one round agree, rounds minutes apart do not. So the round, not the
    # sample, is the unit the comparisons count (``npthreads.stats``), and a
    # fixed ``repeat`` lets them cut asv's flat sample list back into rounds
    # (asv appends each round's samples in order). `npthreads bench` runs
    # asv with --interleave-rounds, so every environment's round k runs
    # before any round k+1: drift lands on every numpy alike.
    # Four rounds of three: the median of three per round shrugs off one
    # preempted call, and four rounds a side let a rank test over rounds
    # reach p = 0.029 (``evidence.ROUND_ALPHA`` is 0.05). Six rounds took
    # `make bench` to 23-29 min here (issue 16 asks 15); a run's rounds
    # narrow only the within-run part of a row's error, and the machine's
    # runs are pooled (``npthreads.pooled``): cutting the nine committed
    # six-round runs to their first four rounds moved the pooled
    # resolutions from 1.15-1.20x to 1.18-1.27x per scenario, A/A still 0
    # rows per run and pooled (docs/method.md).
    rounds = 4
    repeat = 3
    sample_time = 0.02
    warmup_time = 0.02
    timeout = 180
    if profiles.active_profile() == "full":
        # The tutorial's sizes take 10-20 s a call: fewer rounds, no
        # warm-up, and time enough that a combination is measured, not
        # timed out. The full grid takes hours on a small machine.
        rounds, repeat, warmup_time, timeout = 2, 2, 0.0, 3600

    def require_memory(self, nbytes, what):
        """Skip, with the reason, a size this machine cannot hold.

        Checked once per process and size: asv calls setup before every
        sample, and from the second sample on the data is held by the cached
        getters, so the machine's free memory no longer counts it."""
        if what in _FITTED:
            return
        reason = machine.wait_until_fits(nbytes, what)
        if reason:
            raise NotImplementedError(reason)
        _FITTED.add(what)

    def limit_blas(self, label):
        """Hold the BLAS at ``label`` threads ("default": untouched) until
        teardown; skip the combination if the BLAS does not comply."""
        count = None if label == "default" else machine.resolve_threads(label)
        try:
            self._blas = BlasThreads(count)
        except BlasLimitRefused as refused:
            raise NotImplementedError(f"BLAS refused {label} threads: {refused}")

    def check_results(self, batch, chunksize=None):
        """Fail the cell, with the reason, if running ``batch`` the way it is
        timed gives another answer than a serial loop with the BLAS at one
        thread computes in this process.

        Free-threaded numpy releases and OpenBLAS releases (0.3.28-0.3.30:
        np.dot wrong with more than 2 threads) have had races; a cell that
        times a wrong answer would look like a speed-up. So every cell that
        runs concurrently (an executor other than a serial loop, or a BLAS
        call with more than one BLAS thread) runs the batch once here, outside
        the timed region, before its first sample, and compares each task's
        outcome (``Batch.mismatches``). A difference raises ``WrongResult``:
        asv records the cell as failed, with the message, never as skipped or
        timed. Once per process and cell (asv calls setup before every
        sample, and a round is a process), and under ``npthreads bench``
        once per run, environment and cell (``_run_mark``): checking
        in every round took a third of an environment's round (9-10 s of
        28 s, numpy 2.4.6), and six rounds times eight environments took
        too long for a run (issue 16's 15 minutes).
        """
        executor = getattr(self, "_executor", None) or Serial()
        blas = current_blas_threads()
        blas_concurrent = batch.uses_blas and (blas is None or blas > 1)
        if isinstance(executor, Serial) and not blas_concurrent:
            return   # the run is itself the reference
        # a pool is started once per process (start_executor), a serial loop is not
        pool = None if isinstance(executor, Serial) else id(executor)
        key = (type(self).__name__, batch.name, pool, chunksize, blas)
        if key in _CHECKED:
            return
        mark = _run_mark(type(self).__name__, batch.name, _describe(executor), chunksize, blas)
        if mark is not None and mark.exists():
            _CHECKED.add(key)
            return
        if batch.reference_nbytes():
            self.require_memory(batch.reference_nbytes(), f"the reference of {batch.name}")
        batch.prepare()
        returned = executor.run(batch.fn, batch.tasks, chunksize)
        try:
            reference, how = BlasThreads(1), "a serial loop with the BLAS at 1 thread"
        except BlasLimitRefused:
            reference, how = BlasThreads(None), "a serial loop with the BLAS at its default"
        with reference:
            wrong = batch.mismatches(returned)
        if wrong:
            where = (f"{type(self).__name__}, {batch.name}, {_describe(executor)}, "
                     f"BLAS {'unknown' if blas is None else blas} thread(s)")
            shown = "; ".join(what if i is None else f"task {i}: {what}" for i, what in wrong[:3])
            raise WrongResult(f"{where}: {len(wrong)} of {len(batch.tasks)} tasks differ "
                              f"from {how}: {shown}")
        _CHECKED.add(key)
        if mark is not None:
            mark.touch()

    def start_executor(self, label, blas_threads=None):
        """A started executor for ``label``, created once per process."""
        key = (label, blas_threads)
        if key not in _EXECUTORS:
            _EXECUTORS[key] = executor_from_label(label, blas_threads)
        self._executor = _EXECUTORS[key]
        return self._executor

    def teardown(self, *params):
        # asv also calls teardown after setup raised NotImplementedError, so
        # every attribute may be missing.
        blas = getattr(self, "_blas", None)
        if blas is not None:
            blas.restore()
            self._blas = None


def _run_mark(*cell):
    """Where this run marks ``cell`` checked in this environment, or None
    outside ``npthreads bench`` (``profiles.CHECKED_ENV`` unset). The
    environment is asv's name for it (``ASV_ENV_NAME``, which carries the
    variables that change what one interpreter runs: the free-threaded axis
    runs one interpreter with the GIL off and on) and its interpreter."""
    folder = os.environ.get(profiles.CHECKED_ENV)
    if not folder or not Path(folder).is_dir():
        return None
    text = repr((os.environ.get("ASV_ENV_NAME"), sys.executable, cell))
    return Path(folder) / hashlib.sha1(text.encode()).hexdigest()


def _describe(executor):
    if isinstance(executor, Serial):
        return "serial loop"
    return f"{getattr(executor, 'name', type(executor).__name__)}({executor.workers} workers)"


class Rate(Scenario):
    """A scenario that tracks a rate (GFLOP/s, GB/s) rather than timing it.

    asv keeps one value of a ``track_`` per result, whatever the rounds, so
    a second round would only cost time: one round."""
    rounds = 1


def best_seconds(run, repeats=3):
    """Best of ``repeats`` wall-clock runs: what a rate (GFLOP/s, GB/s) is
    computed from, since the fastest run is the one least disturbed."""
    best = float("inf")
    for _ in range(repeats):
        start = timeit.default_timer()
        run()
        best = min(best, timeit.default_timer() - start)
    return best
