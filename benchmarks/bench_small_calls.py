"""Many small BLAS calls from concurrent workers: numpy#27605.

Each worker of the issue computes a cosine similarity per column of a
16000 x 1000 DataFrame it builds itself (``np.linalg.norm`` of a float
column is a DDOT of 16000 elements); with numpy 2.0.0 five such workers in a
``ProcessPoolExecutor`` took 65 s instead of 8 s with numpy 1.26.4.
numpy 2.0 vendors OpenBLAS 0.3.27, whose waiting threads on x86-64 spin
instead of calling sched_yield, and a DDOT of more than 10,000 elements
wakes them: each worker's BLAS threads compete with the other workers.
"""

from npthreads import cost, machine, workloads
from npthreads.threadcontrol import worker_blas_threads

from .common import GRID, Scenario

CALLS = GRID["small_calls"]
# process pools whose workers' BLAS limit this process has checked
_CHECKED = set()


class SmallBlasCalls(Scenario):
    """Do many small BLAS calls from concurrent workers slow down when each
    worker's BLAS keeps its default threads? (numpy#27605)

    The same batch of small calls, each task on the operands its process
    holds, from a serial loop, one Python thread per core, or one process
    per core; the BLAS at one thread or at its default (one per core) in
    every process that calls it: a process pool's workers get the limit from
    their initializer, and it is checked there before a sample is taken."""
    params = [list(CALLS), ["serial loop", "ThreadPool(cores)", "ProcessPool(cores)"],
              ["1", "default"]]
    param_names = ["call", "executor", "blas_threads"]

    def setup(self, call, executor, blas_threads):
        kind, n, calls, tasks = CALLS[call]
        processes = 1 + (machine.resolve_threads("cores") if executor.startswith("Process") else 0)
        self.require_memory(cost.small_calls_nbytes(kind, n, processes), f"small {call}")
        self.batch = workloads.small_calls_batch(kind, n, calls, tasks)
        self.limit_blas(blas_threads)
        worker_blas = None if blas_threads == "default" else self._blas.count
        pool = self.start_executor(executor, blas_threads=worker_blas)
        if executor.startswith("Process") and worker_blas is not None \
                and (executor, worker_blas) not in _CHECKED:
            seen = set(pool.run(worker_blas_threads, [(i,) for i in range(2 * pool.workers)]))
            if seen != {worker_blas}:
                raise NotImplementedError(f"BLAS in the workers runs {sorted(seen, key=str)} threads "
                                          f"when asked for {worker_blas}")
            _CHECKED.add((executor, worker_blas))
        self.check_results(self.batch)

    def time_small_calls(self, call, executor, blas_threads):
        self._executor.run(self.batch.fn, self.batch.tasks)
