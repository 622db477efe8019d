"""The base class every scenario shares: timer, sampling, guards, clean-up.

Not a benchmark module: asv imports it, finds no benchmark in it, and the
scenario modules import ``Scenario`` from it.
"""

import timeit

from npthreads import machine, profiles
from npthreads.executors import executor_from_label
from npthreads.threadcontrol import BlasLimitRefused, BlasThreads

GRID = profiles.grid()


class Scenario:
    # Wall clock: CPU time would add up across threads and hide the question.
    timer = timeit.default_timer
    # Two rounds in separate processes, interleaved with the other benchmarks,
    # so slow drift on a shared machine spreads over both sides; 8-12 samples
    # in all, enough for asv's Mann-Whitney test to be able to reach p < 0.002.
    rounds = 2
    repeat = (4, 6, 8.0)
    sample_time = 0.02
    warmup_time = 0.05
    timeout = 180

    def require_memory(self, nbytes, what):
        """Skip, with the reason, a size this machine cannot hold."""
        reason = machine.check_fits(nbytes, what)
        if reason:
            raise NotImplementedError(reason)

    def limit_blas(self, label):
        """Hold the BLAS at ``label`` threads ("default": untouched) until
        teardown; skip the combination if the BLAS does not comply."""
        count = None if label == "default" else machine.resolve_threads(label)
        try:
            self._blas = BlasThreads(count)
        except BlasLimitRefused as refused:
            raise NotImplementedError(f"BLAS refused {label} threads: {refused}")

    def start_executor(self, label, blas_threads=None):
        self._executor = executor_from_label(label, blas_threads)
        return self._executor

    def teardown(self, *params):
        # asv also calls teardown after setup raised NotImplementedError, so
        # every attribute may be missing.
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.close()
            self._executor = None
        blas = getattr(self, "_blas", None)
        if blas is not None:
            blas.restore()
            self._blas = None
