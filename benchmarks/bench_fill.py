"""Array fills (tutorial S6-S7 and the "parts of one array" contrast)."""

from npthreads import cost, workloads
from npthreads.executors import resolve_chunksize

from .common import GRID, Rate, Scenario, best_seconds

MANY = GRID["fill_many"]
ONE = GRID["one_array"]
POOLS = ["serial loop"] + [f"ThreadPool({t})" for t in GRID["python_threads"]]


class FillManyArrays(Scenario):
    """Does a thread pool speed up filling many separate arrays? (tutorial S6-S7)

    S6 is the serial loop and S7 ``ThreadPool().map`` with its default
    chunksize; the allocation the tutorial also timed is left out here (it
    is built once, pages touched) so only the parallel part is measured."""
    params = [list(MANY), ["serial loop", "ThreadPool()", "ThreadPool(cores)"],
              ["default", "tasks/workers"]]
    param_names = ["size", "executor", "chunksize"]

    def setup(self, size, executor, chunksize):
        if executor == "serial loop" and chunksize != "default":
            raise NotImplementedError("a serial loop has no chunks")
        n, count = MANY[size]
        self.require_memory(cost.fill_many_nbytes(n, count), f"fill {size}")
        self.batch = workloads.fill_many_batch(n, count)
        pool = self.start_executor(executor)
        self.chunksize = resolve_chunksize(chunksize, count, pool.workers)
        self.check_results(self.batch, self.chunksize)

    def time_fill(self, size, executor, chunksize):
        self._executor.run(self.batch.fn, self.batch.tasks, self.chunksize)


class FillOneArrayInParts(Scenario):
    """Does filling one large array, one slice per thread, speed it up?"""
    params = [list(ONE), POOLS]
    param_names = ["size", "executor"]

    def setup(self, size, executor):
        n = ONE[size]
        self.require_memory(cost.one_array_nbytes(n), f"fill {size}")
        pool = self.start_executor(executor)
        self.batch = workloads.fill_parts_batch(n, pool.workers)
        self.check_results(self.batch)

    def time_fill(self, size, executor):
        self._executor.run(self.batch.fn, self.batch.tasks)


class FillRate(Rate):
    """How much of the memory bandwidth does a fill use, alone or in parts?"""
    params = [list(ONE), ["serial loop", "ThreadPool(cores)"]]
    param_names = ["size", "executor"]
    setup = FillOneArrayInParts.setup

    def track_gbytes_per_s(self, size, executor):
        run = lambda: self._executor.run(self.batch.fn, self.batch.tasks)  # noqa: E731
        return self.batch.bytes_moved / best_seconds(run) / 1e9

    track_gbytes_per_s.unit = "GB/s"
