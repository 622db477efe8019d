"""Small numpy calls with Python work between them, from Python threads.

Where each call is short, the interpreter does most of the work: indexing
the result, making it a float, branching, tallying. With the GIL only one
thread runs that at a time, so a pool should not beat the serial loop; on
a free-threaded CPython (3.13t, the GIL off) it may. As the calls grow to
BLAS-sized products, the BLAS does the work and releases the GIL, and the
answer no longer depends on the interpreter.
"""

from npthreads import cost, workloads

from .common import GRID, Scenario

WORK = GRID["python_work"]
POOLS = ["serial loop"] + [f"ThreadPool({t})" for t in GRID["python_work_threads"]]


class PythonBetweenCalls(Scenario):
    """Does a pool of Python threads speed up many small numpy calls with
    Python work between them? (the GIL's question: free-threaded CPython
    against the rest)

    The same tasks (each a loop of calls, each call followed by per-item
    Python work) from a serial loop or a thread pool. The BLAS is held at one
    thread in every cell, so a speed-up comes from the Python threads alone
    and the largest products do not oversubscribe the cores (where the BLAS
    refuses a limit, as Accelerate does, the class is skipped with the
    reason, like every scenario that holds the BLAS)."""
    params = [list(WORK), POOLS]
    param_names = ["size", "executor"]

    def setup(self, size, executor):
        kind, n, calls, tasks = WORK[size]
        self.limit_blas("1")
        pool = self.start_executor(executor)
        self.require_memory(cost.python_work_nbytes(kind, n, pool.workers), f"python work {size}")
        self.batch = workloads.python_work_batch(kind, n, calls, tasks)
        self.check_results(self.batch)

    def time_python_work(self, size, executor):
        self._executor.run(self.batch.fn, self.batch.tasks)
