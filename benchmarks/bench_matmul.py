"""Batched matrix products (tutorial S1-S3): Python threads against BLAS threads."""

from npthreads import workloads

from .common import GRID, Scenario

SIZES = GRID["matmul"]


def _batch(self, size):
    n, count = SIZES[size]
    self.require_memory(workloads.matmul_nbytes(n, count), f"matmul {size}")
    return workloads.matmul_batch(n, count)


class MatmulTutorial(Scenario):
    """Does a default ``ThreadPool()`` lose to BLAS threads alone?

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

    def time_matmul_batch(self, size, python_threads, blas_threads):
        self._executor.run(self.batch.fn, self.batch.tasks)

    def track_gflops(self, size, python_threads, blas_threads):
        """Best of three runs, as GFLOP/s: the figure a DGEMM peak is judged by."""
        best = min(_elapsed(self, self.batch) for _ in range(3))
        return self.batch.flops / best / 1e9

    track_gflops.unit = "GFLOP/s"


class MatmulExecutors(Scenario):
    """Which executor serves a batch of matmuls best, at one worker per core?

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

    def time_matmul_batch(self, size, executor, blas_threads):
        self._executor.run(self.batch.fn, self.batch.tasks)


def _elapsed(bench, batch):
    start = bench.timer()
    bench._executor.run(batch.fn, batch.tasks)
    return bench.timer() - start
