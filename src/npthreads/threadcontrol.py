"""BLAS thread limits, set at run time with threadpoolctl.

Why one cached controller: ``threadpool_limits()`` rescans every loaded
library on each call (~0.3 ms), which would land inside short timed regions;
a cached ``ThreadpoolController`` limits in ~13 us. It must be created after
numpy is imported, or it does not see numpy's OpenBLAS.

Why limits are verified: since threadpoolctl 3.8 a limit set from a worker
thread while the main thread holds one is silently ignored, and a BLAS may
cap a request. A benchmark must never be recorded under a thread count it did
not run with, so a limit that did not take raises ``BlasLimitRefused`` and the
benchmark skips that combination with the reason.

Why only OpenBLAS: a limit is trusted where it has been shown to be the
count that runs. threadpoolctl cannot control Apple's Accelerate at all (the
BLAS of numpy's macOS arm64 wheels from 2.0 on); it can set MKL's and
BLIS's, but MKL's dynamic mode may run fewer threads than its limit and
neither was measured here. There every BLAS-thread cell is refused with the
reason, the cells at the BLAS's default still run.
"""

import functools
import threading

import numpy  # noqa: F401  (loads the BLAS before the controller scans)
from threadpoolctl import ThreadpoolController


class BlasLimitRefused(RuntimeError):
    """The BLAS did not apply the requested thread count."""


# threadpoolctl's ``internal_api`` of the BLAS libraries whose limits this
# suite trusts (read back after setting, and checked by the tests).
VERIFIED_BLAS = ("openblas",)


@functools.lru_cache(maxsize=1)
def controller():
    return ThreadpoolController()


def blas_pools():
    """The BLAS libraries loaded in this process (numpy's, and scipy's if
    scipy is imported), as threadpoolctl describes them."""
    return [info for info in controller().info() if info["user_api"] == "blas"]


def numpy_blas():
    """threadpoolctl's description of the BLAS numpy is linked against, or
    None for a numpy built without one. numpy's own copy is preferred when
    several are loaded: it is the one ``ndarray.dot`` calls."""
    pools = blas_pools()
    for info in pools:
        if "numpy" in info.get("filepath", "").lower():
            return info
    return pools[0] if pools else None


def build_blas():
    """The BLAS numpy's build configuration names ("accelerate",
    "scipy-openblas", "mkl", ...), with its version, or None where numpy does
    not say (numpy < 1.25): the name for a BLAS threadpoolctl does not see."""
    try:
        blas = numpy.__config__.CONFIG["Build Dependencies"]["blas"]
    except (AttributeError, KeyError, TypeError):
        return None
    name = str(blas.get("name") or "").strip()
    if not name:
        return None
    version = str(blas.get("version") or "").strip()
    return f"{name} {version}" if version and version != "unknown" else name


def limit_refusal(info, build=None):
    """Why BLAS thread limits cannot be trusted for ``info`` (threadpoolctl's
    description of numpy's BLAS, None where it sees none; ``build`` is what
    numpy's build says it is), or None where they can."""
    if info is None:
        named = f" (numpy's build says {build})" if build else ""
        return (f"numpy's BLAS{named} is not one threadpoolctl can control "
                "(e.g. Apple's Accelerate): its thread count cannot be set, "
                "only its default runs")
    api = str(info.get("internal_api") or "unknown")
    if api.lower() not in VERIFIED_BLAS:
        version = info.get("version")
        what = f"{api} {version}" if version else api
        return (f"numpy's BLAS is {what}: threadpoolctl can set its thread count, but "
                f"this suite verifies limits only for {', '.join(VERIFIED_BLAS)} "
                "(a limit read back is not shown to be the count that runs)")
    return None


def current_blas_threads():
    info = numpy_blas()
    return None if info is None else info["num_threads"]


def worker_blas_threads(_task=None):
    """``current_blas_threads()`` as a task: run in a process pool's workers
    it reports the limit their initializer set (limits do not cross
    processes, so the parent's BlasThreads cannot verify them)."""
    return current_blas_threads()


class BlasThreads:
    """Hold the BLAS at ``count`` threads until ``restore()``.

    ``count=None`` means "leave the BLAS at its default" (the tutorial's
    configuration) and changes nothing. Must be used from the main thread,
    where threadpoolctl lets the limit take effect."""

    def __init__(self, count):
        self.count = count
        self._limiter = None
        if count is None:
            return
        if threading.current_thread() is not threading.main_thread():
            raise BlasLimitRefused("BLAS limits must be set from the main thread")
        info = numpy_blas()
        refusal = limit_refusal(info, build_blas() if info is None else None)
        if refusal:
            raise BlasLimitRefused(refusal)
        self._limiter = controller().select(filepath=info["filepath"]).limit(limits=count)
        applied = current_blas_threads()
        if applied != count:
            self.restore()
            raise BlasLimitRefused(
                f"{info['internal_api']} {info.get('version')} runs {applied} "
                f"threads when asked for {count}")

    def restore(self):
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
