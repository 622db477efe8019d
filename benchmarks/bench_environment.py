"""What each environment ran on: its BLAS and the machine, on the graphs.

numpy wheels vendor OpenBLAS, so a numpy upgrade is also a BLAS upgrade;
tracking the version makes that step visible next to the timings."""

from npthreads import blasfacts, cost, machine
from npthreads.threadcontrol import numpy_blas

from .common import Versioned, best_seconds


def _fact(name):
    return blasfacts.describe(numpy_blas())[name]


class BlasRuntime(Versioned):
    """Which BLAS, built how, at which default thread count, each
    environment runs. Categorical facts are codes: ``npthreads.blasfacts``
    decodes them (the report shows the names)."""

    def track_numpy_version(self):
        """Which numpy ran: the pin-following environment's requirements do
        not say, and the comparisons need it to find the environment that
        duplicates it (the negative control)."""
        import numpy
        return blasfacts.version_number(numpy.__version__)

    track_numpy_version.unit = "major*10000+minor*100+patch"

    def track_openblas_version(self):
        return _fact("version")

    track_openblas_version.unit = "major*10000+minor*100+patch"

    def track_blas_default_threads(self):
        return _fact("default_threads")

    track_blas_default_threads.unit = "threads"

    def track_blas_library(self):
        return _fact("library")

    track_blas_library.unit = "code: npthreads.blasfacts.LIBRARIES"

    def track_blas_threading_layer(self):
        return _fact("threading_layer")

    track_blas_threading_layer.unit = "code: npthreads.blasfacts.THREADING_LAYERS"

    def track_blas_architecture(self):
        """The kernel OpenBLAS's DYNAMIC_ARCH chose for this CPU."""
        return _fact("architecture")

    track_blas_architecture.unit = "code: npthreads.blasfacts.ARCHITECTURES"

    def track_usable_cores(self):
        """The count that the "cores" thread label resolved to."""
        return machine.usable_cores()

    track_usable_cores.unit = "cores"

    def track_gil_enabled(self):
        """Whether the GIL was on while this environment ran: a free-threaded
        CPython (3.13t) runs without it unless PYTHON_GIL=1 (or an extension
        not declared free-threading safe) turns it on; a default build always
        holds it, and before 3.13 there is no ``sys._is_gil_enabled`` to ask."""
        import sys
        is_enabled = getattr(sys, "_is_gil_enabled", None)
        return 1.0 if is_enabled is None or is_enabled() else 0.0

    track_gil_enabled.unit = "1 = GIL enabled, 0 = disabled"


class MachineLimits(Versioned):
    """The ceilings the advice judges the scenarios against: a calibrated
    DGEMM peak (GFLOP/s) for matmul, a STREAM-triad-like bandwidth (GB/s)
    for the memory-bound dot and fill. Measured, not taken from a data sheet,
    because turbo, SMT and a shared host all move them."""
    timeout = 120

    def setup(self):
        import numpy as np
        self._np = np
        self.n = 1024
        self.a, self.b = np.ones((self.n, self.n)), np.ones((self.n, self.n))
        # 2e7 doubles = 160 MB per array: far beyond any cache.
        self.x, self.y, self.z = (np.ones(20_000_000) for _ in range(3))

    def track_dgemm_peak_gflops(self):
        """Best of 5 products of 1024 x 1024 with the BLAS at its default
        (all cores): the most this machine's BLAS gets out of it."""
        from timeit import default_timer as clock
        best = float("inf")
        for _ in range(5):
            start = clock()
            self.a.dot(self.b)
            best = min(best, clock() - start)
        return 2.0 * self.n**3 / best / 1e9

    track_dgemm_peak_gflops.unit = "GFLOP/s"

    def track_triad_gbytes_per_s(self):
        """x = y + 3z over one slice per core in a ThreadPool, best of 5,
        counted as STREAM counts a triad (24 bytes per element). numpy's
        two-pass triad moves more than that, so this is a lower bound."""
        from timeit import default_timer as clock
        from npthreads.executors import executor_from_label
        np = self._np
        pool = executor_from_label("ThreadPool(cores)")
        parts = list(zip(*(np.array_split(v, pool.workers) for v in (self.x, self.y, self.z))))
        try:
            best = float("inf")
            for _ in range(5):
                start = clock()
                pool.run(_triad, parts)
                best = min(best, clock() - start)
        finally:
            pool.close()
        return 24.0 * self.x.size / best / 1e9

    track_triad_gbytes_per_s.unit = "GB/s"


class CacheLimits(Versioned):
    """The bandwidth of each cache level, the ceiling for the rows whose data
    fits in it: judged against the memory triad, a row whose data sits in
    cache comes out above 100% of "the machine's limit", which says only
    that the data was not in memory.

    The same triad as ``MachineLimits``, one thread per core, over a working
    set of half the level's capacity across the machine (so it stays
    resident next to the interpreter's own data), repeated within each task
    so the pool's dispatch is not what gets measured. L1 is not measured: an
    L1-sized slice is a few hundred doubles, and numpy's ~1 us per call
    would be the figure, not the cache; no row of the grid fits L1 anyway.
    Where the OS reports no such level (Apple silicon has no L3 in sysctl;
    Windows is not read) the level is skipped with the reason."""
    params = [["L2", "L3"]]
    param_names = ["level"]
    rounds = 1   # asv keeps one value of a track_ per result
    timeout = 120
    # bytes each core moves per task (STREAM counting): ~10 ms at L3 speed
    TRAFFIC = 200_000_000

    def setup(self, level):
        import numpy as np
        found = {c.name: c for c in machine.cache_levels()}
        if level not in found:
            # sysfs on Linux, sysctl on macOS; elsewhere a skip with the reason
            raise NotImplementedError(machine.no_cache_reason(level))
        self.cache = found[level]
        cores = machine.usable_cores()
        # doubles per core and array: half the capacity over 3 arrays and the cores
        per_array = self.cache.total // 2 // 3 // cost.FLOAT_BYTES // cores
        # one slice per core, made in the main thread (first touch is not
        # timed; a later task touches it once before the clock starts)
        self.parts = [tuple(np.ones(per_array) for _ in range(3)) for _ in range(cores)]
        self.reps = max(1, self.TRAFFIC // (24 * per_array))

    def track_cache_bytes(self, level):
        """The level's capacity across the machine (bytes): where the report
        draws the line between this level and the next."""
        return self.cache.total

    track_cache_bytes.unit = "bytes"

    def track_cache_gbytes_per_s(self, level):
        """Best of 5 repeated triads over a resident working set."""
        from npthreads.executors import executor_from_label
        pool = executor_from_label("ThreadPool(cores)")
        tasks = [(*part, self.reps) for part in self.parts]
        try:
            pool.run(_triad_repeated, [(*part, 1) for part in self.parts])  # warm
            best = best_seconds(lambda: pool.run(_triad_repeated, tasks), repeats=5)
        finally:
            pool.close()
        moved = sum(24 * part[0].size * self.reps for part in self.parts)
        return moved / best / 1e9

    track_cache_gbytes_per_s.unit = "GB/s"


def _triad_repeated(x, y, z, reps):
    for _ in range(reps):
        _triad(x, y, z)


def _triad(x, y, z):
    import numpy as np
    np.multiply(z, 3.0, out=x)
    np.add(x, y, out=x)
