import os
import subprocess
import sys
import threading

import pytest

from npthreads.threadcontrol import BlasLimitRefused, BlasThreads, current_blas_threads, numpy_blas

pytestmark = pytest.mark.skipif(numpy_blas() is None, reason="numpy has no BLAS threadpoolctl sees")


def test_limit_is_in_effect_and_restored():
    default = current_blas_threads()
    with BlasThreads(1) as held:
        assert held.count == 1
        assert current_blas_threads() == 1
    assert current_blas_threads() == default


def test_limit_above_the_core_count_is_applied_not_capped():
    default = current_blas_threads()
    with BlasThreads(default * 2):
        assert current_blas_threads() == default * 2
    assert current_blas_threads() == default


def test_none_leaves_the_default_alone():
    default = current_blas_threads()
    with BlasThreads(None):
        assert current_blas_threads() == default


def test_refused_limit_raises_with_the_reason_and_restores():
    default = current_blas_threads()
    with pytest.raises(BlasLimitRefused) as err:
        BlasThreads(100_000)  # beyond OpenBLAS's compiled NUM_THREADS
    assert "when asked for 100000" in str(err.value)
    assert current_blas_threads() == default


def test_limits_from_a_worker_thread_are_refused():
    errors = []

    def worker():
        try:
            BlasThreads(1)
        except BlasLimitRefused as err:
            errors.append(str(err))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]


def test_benchmark_setup_holds_the_limit_inside_the_timed_region():
    """What the asv benchmark's time_ method sees: setup limits, teardown restores."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from benchmarks.bench_matmul import MatmulThreadSplit, SIZES

    default = current_blas_threads()
    bench = MatmulThreadSplit()
    size = next(iter(SIZES))
    bench.setup(size, "cores", "1")
    seen = []
    original = bench.batch.fn
    try:
        object.__setattr__(bench.batch, "fn", lambda a, b: seen.append(current_blas_threads()) or original(a, b))
        bench.time_matmul_batch(size, "cores", "1")
    finally:
        bench.teardown(size, "cores", "1")
    assert seen and set(seen) == {1}
    assert current_blas_threads() == default


def test_env_var_before_import_sets_the_default():
    """The tutorial's way: OMP_NUM_THREADS before numpy is imported."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c",
                          "from npthreads.threadcontrol import current_blas_threads as c; print(c())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
