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
