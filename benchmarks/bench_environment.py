"""What each environment ran on: its BLAS and the machine, on the graphs.

numpy wheels vendor OpenBLAS, so a numpy upgrade is also a BLAS upgrade;
tracking the version makes that step visible next to the timings."""

from npthreads import machine
from npthreads.threadcontrol import numpy_blas


def _version_number(text):
    """'0.3.31.188.0' -> 331 (major*10000 + minor*100 + patch): a number asv can plot."""
    parts = [int(p) for p in str(text).split(".")[:3] if p.isdigit()]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


class BlasRuntime:
    """Which BLAS, at which default thread count, each environment runs."""

    def track_openblas_version(self):
        info = numpy_blas()
        return _version_number(info["version"]) if info else 0

    track_openblas_version.unit = "major*10000+minor*100+patch"

    def track_blas_default_threads(self):
        info = numpy_blas()
        return info["num_threads"] if info else 0

    track_blas_default_threads.unit = "threads"

    def track_usable_cores(self):
        """The count that the "cores" thread label resolved to."""
        return machine.usable_cores()

    track_usable_cores.unit = "cores"


class MachineLimits:
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


def _triad(x, y, z):
    import numpy as np
    np.multiply(z, 3.0, out=x)
    np.add(x, y, out=x)
