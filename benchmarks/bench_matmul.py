"""Batched matrix products (tutorial S1-S3): Python threads against BLAS threads."""

from npthreads import cost, workloads

from .common import GRID, Rate, Scenario, best_seconds

SIZES = GRID["matmul"]


def _batch(self, size):
    n, count = SIZES[size]
    self.require_memory(cost.matmul_nbytes(n, count), f"matmul {size}")
    return workloads.matmul_batch(n, count)


class MatmulTutorial(Scenario):
    """Does a default ``ThreadPool()`` lose to BLAS threads alone? (tutorial S1-S3)

    S1 is the serial loop, S2 ``ThreadPool().starmap``, S3 the same with the
    tutorial's chunksize=25 of 100 tasks (a quarter of the tasks per chunk);
    BLAS threads stay at their default, as in the tutorial."""
    params = [list(SIZES), ["serial loop", "ThreadPool()"], ["default", "tasks/4"]]
    param_names = ["size", "executor", "chunksize"]

    def setup(self, size, executor, chunksize):
        if executor == "serial loop" and chunksize != "default":
            raise NotImplementedError("a serial loop has no chunks")
        self.batch = _batch(self, size)
        pool = self.start_executor(executor)
        from npthreads.executors import resolve_chunksize
        self.chunksize = resolve_chunksize(chunksize, len(self.batch.tasks), pool.workers)
        self.check_results(self.batch, self.chunksize)

    def time_matmul_batch(self, size, executor, chunksize):
        self._executor.run(self.batch.fn, self.batch.tasks, self.chunksize)


class MatmulThreadSplit(Scenario):
    """Which split of Python threads x BLAS threads is fastest?

    The tutorial's advice to "strike a balance", as a full grid: each cell
    runs the batch through ``ThreadPool(python_threads).starmap`` with the
    BLAS held at ``blas_threads``."""
    params = [list(SIZES), GRID["python_threads"], GRID["blas_threads"]]
    param_names = ["size", "python_threads", "blas_threads"]

    def setup(self, size, python_threads, blas_threads):
        self.batch = _batch(self, size)
        self.limit_blas(blas_threads)
        self.start_executor(f"ThreadPool({python_threads})")
        self.check_results(self.batch)

    def time_matmul_batch(self, size, python_threads, blas_threads):
        self._executor.run(self.batch.fn, self.batch.tasks)


class MatmulExecutors(Scenario):
    """Which executor serves a batch of matmuls best, one worker per core?

    Thread pools share the arrays; a process pool pickles them both ways and
    limits BLAS threads inside each worker."""
    params = [list(SIZES),
              ["ThreadPool(cores)", "ThreadPoolExecutor(cores)", "ProcessPool(cores)"],
              ["1", "default"]]
    param_names = ["size", "executor", "blas_threads"]

    def setup(self, size, executor, blas_threads):
        self.batch = _batch(self, size)
        self.limit_blas(blas_threads)
        worker_blas = None if blas_threads == "default" else self._blas.count
        self.start_executor(executor, blas_threads=worker_blas)
        self.check_results(self.batch)

    def time_matmul_batch(self, size, executor, blas_threads):
        self._executor.run(self.batch.fn, self.batch.tasks)


class MatmulRate(Rate):
    """How close does a batch of matmuls get to the machine's DGEMM peak?

    GFLOP/s on asv's graphs for the two ends of the balance: BLAS threads
    alone, and one Python thread per core with single-threaded BLAS."""
    params = [list(SIZES), ["serial loop, BLAS default", "ThreadPool(cores), BLAS 1"]]
    param_names = ["size", "configuration"]

    def setup(self, size, configuration):
        self.batch = _batch(self, size)
        executor, blas = configuration.split(", BLAS ")
        self.limit_blas(blas)
        self.start_executor(executor)
        self.check_results(self.batch)

    def track_gflops(self, size, configuration):
        seconds = best_seconds(lambda: self._executor.run(self.batch.fn, self.batch.tasks))
        return self.batch.flops / seconds / 1e9

    track_gflops.unit = "GFLOP/s"
