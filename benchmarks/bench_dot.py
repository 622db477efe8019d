"""Vector dot products (tutorial S4-S5): does a threaded BLAS help a dot?"""

from npthreads import cost, workloads

from .common import GRID, Rate, Scenario, best_seconds

SIZES = GRID["dot"]


class DotBlasThreads(Scenario):
    """Does a threaded BLAS speed up one large vector dot? (tutorial S4-S5)

    The limits are set at run time (threadpoolctl)."""
    params = [list(SIZES), ["1", "cores", "2xcores", "default"]]
    param_names = ["size", "blas_threads"]

    def setup(self, size, blas_threads):
        n = SIZES[size]
        self.require_memory(cost.dot_nbytes(n), f"dot {size}")
        self.batch = workloads.dot_batch(n)
        self.limit_blas(blas_threads)
        self.check_results(self.batch)

    def time_dot(self, size, blas_threads):
        self.batch.run_serial()


class DotRate(Rate):
    """How much of the memory bandwidth does a dot use, one BLAS thread or all?"""
    params = [list(SIZES), ["1", "default"]]
    param_names = ["size", "blas_threads"]
    setup = DotBlasThreads.setup

    def track_gbytes_per_s(self, size, blas_threads):
        return self.batch.bytes_moved / best_seconds(self.batch.run_serial) / 1e9

    track_gbytes_per_s.unit = "GB/s"


class DotEnvVarTutorial(Scenario):
    """The tutorial's OMP_NUM_THREADS before import, vector creation included (S4-S5)

    The tutorial's way: ``OMP_NUM_THREADS`` set before numpy is imported, in
    a fresh interpreter, timing vector creation and the dot as the
    tutorial's program does (the import itself is not timed)."""
    params = [list(SIZES), ["1", "default"]]
    param_names = ["size", "omp_num_threads"]
    # Each sample starts an interpreter: two per round (their mean is the
    # round's median) keep the four rounds of eight environments near 1.5 min.
    repeat = 2
    number = 1
    # No warm-up call: with number fixed, asv_runner's warm-up is one more
    # interpreter started and thrown away, a third of this class's 1.7-2.3 s
    # an environment round (measured with numpy 2.4.6), and it warms nothing
    # a sample keeps: each sample is a fresh interpreter, whose files the
    # environment's forkserver has already read into the page cache.
    warmup_time = 0.0

    def setup(self, size, omp_num_threads):
        self.require_memory(cost.dot_nbytes(SIZES[size]), f"dot {size}")

    def timeraw_create_and_dot(self, size, omp_num_threads):
        n = SIZES[size]
        # OPENBLAS_NUM_THREADS outranks OMP_NUM_THREADS, so it must not be set
        # (asv's env_nobuild sets it to empty, which OpenBLAS reads as unset).
        setup = (
            "import os\n"
            "for var in ('OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS', 'OMP_NUM_THREADS'):\n"
            "    os.environ.pop(var, None)\n"
            + (f"os.environ['OMP_NUM_THREADS'] = {omp_num_threads!r}\n"
               if omp_num_threads != "default" else "")
            + "from numpy import ones\n"
        )
        code = f"data1 = ones({n})\ndata2 = ones({n})\nresult = data1.dot(data2)\n"
        return code, setup
