"""A GIL-releasing elementwise ufunc split across threads."""

from npthreads import cost, workloads

from .common import GRID, Scenario

ONE = GRID["one_array"]


class ExpInParts(Scenario):
    """Does ``np.exp`` over one large array get faster with one slice per thread?

    numpy runs a ufunc on one thread and releases the GIL, so unlike a BLAS
    call this is work Python threads can really share."""
    params = [list(ONE), ["serial loop"] + [f"ThreadPool({t})" for t in GRID["python_threads"]]]
    param_names = ["size", "executor"]

    def setup(self, size, executor):
        n = ONE[size]
        self.require_memory(cost.one_array_nbytes(n, arrays=2), f"exp {size}")
        pool = self.start_executor(executor)
        self.batch = workloads.exp_parts_batch(n, pool.workers)
        self.check_results(self.batch)

    def time_exp(self, size, executor):
        self._executor.run(self.batch.fn, self.batch.tasks)
