"""Results checked under concurrency: a threaded cell whose run computes a
wrong answer fails in setup, with the reason, instead of being timed.

Real numpy and real thread pools throughout; a wrong result is injected by
an executor that corrupts one task's outcome after the real pool ran it, or
by a task function that goes wrong only off the main thread (a race)."""

import sys
import threading

import numpy as np
import pytest

from npthreads import workloads
from npthreads.executors import Serial, ThreadPoolRunner
from npthreads.threadcontrol import BlasLimitRefused, BlasThreads, current_blas_threads

from .conftest import ROOT

sys.path.insert(0, str(ROOT))
from benchmarks import common  # noqa: E402
from benchmarks.common import Scenario, WrongResult  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test as a fresh benchmark process: nothing checked, no pool
    kept, no cached data (checks set arrays to NaN; other tests' getters
    of the same shape must get ones again)."""
    common._CHECKED.clear()
    common._close_executors()
    yield
    common._CHECKED.clear()
    common._close_executors()
    for getter in (workloads.ones_list, workloads.ones_array, workloads._right_operands,
                   workloads._second_vector, workloads._exp_output, workloads.small_operands,
                   workloads.python_work_operands):
        getter.cache_clear()


@pytest.fixture
def pool():
    runner = ThreadPoolRunner(4)
    yield runner
    runner.close()


def _corrupt(value):
    """A wrong answer close to the right one: one more in the first number."""
    if isinstance(value, tuple):
        return (_corrupt(value[0]),) + value[1:]
    return value + 1


class Corrupting:
    """A real executor whose run hands back one task's outcome wrong, as a
    race would: a returned value off by one, or one written element."""

    def __init__(self, inner, task=1):
        self.inner, self.task, self.runs = inner, task, 0
        self.name, self.workers = inner.name, inner.workers

    def run(self, fn, tasks, chunksize=None):
        self.runs += 1
        returned = self.inner.run(fn, tasks, chunksize)
        at = min(self.task, len(tasks) - 1)
        if returned[at] is None:          # an in-place task: spoil what it wrote
            written = tasks[at][-1]
            written[(0,) * written.ndim] += 1.0
        else:
            returned[at] = _corrupt(returned[at])
        return returned

    def close(self):
        self.inner.close()


class Counting(Corrupting):
    """The same, corrupting nothing: counts the runs."""

    def run(self, fn, tasks, chunksize=None):
        self.runs += 1
        return self.inner.run(fn, tasks, chunksize)


def _exp_with_varied_source():
    batch = workloads.exp_parts_batch(10_000, 4)
    workloads.ones_array((10_000,))[...] = np.linspace(-3, 3, 10_000)
    return batch


BATCHES = {
    "matmul": lambda: workloads.matmul_batch(24, 6),
    "fill many": lambda: workloads.fill_many_batch(24, 6),
    "fill parts": lambda: workloads.fill_parts_batch(10_001, 4),
    "exp parts": _exp_with_varied_source,
    "small calls": lambda: workloads.small_calls_batch("gemv", 48, 3, 6),
    "python work vector": lambda: workloads.python_work_batch("vector", 16, 50, 6),
    "python work matmul": lambda: workloads.python_work_batch("matmul", 32, 4, 6),
}


def _scenario(executor):
    scenario = Scenario()
    scenario._executor = executor
    return scenario


@pytest.mark.parametrize("make", BATCHES.values(), ids=BATCHES)
def test_a_right_result_passes_through_a_real_thread_pool(make, pool):
    batch = make()
    counting = Counting(pool)
    _scenario(counting).check_results(batch)
    assert counting.runs == 1


@pytest.mark.parametrize("make", BATCHES.values(), ids=BATCHES)
def test_one_wrong_task_fails_the_cell_with_the_reason(make, pool):
    batch = make()
    with pytest.raises(WrongResult) as raised:
        _scenario(Corrupting(pool)).check_results(batch)
    assert not isinstance(raised.value, NotImplementedError)   # asv: failed, not skipped
    message = str(raised.value)
    assert message.startswith(f"Scenario, {batch.name}, threadpool(4 workers)")
    assert "1 of " in message and "task 1: " in message
    assert "differ" in message and "serial loop" in message


def test_the_message_gives_the_max_abs_error(pool):
    batch = workloads.matmul_batch(16, 4)
    with pytest.raises(WrongResult, match=r"max abs error 1 at index \(0, 0\) "
                                          r"\(got 17\.0, expected 16\.0"):
        _scenario(Corrupting(pool)).check_results(batch)


def test_a_task_that_goes_wrong_only_in_a_thread_is_caught(pool):
    """A race: the task is right in the main thread, where the reference is
    computed, and wrong in a pool's worker."""
    def racy(a, b):
        product = a.dot(b)
        return product if threading.current_thread() is threading.main_thread() else product * 1.5
    right = workloads.matmul_batch(16, 4)
    batch = workloads.Batch("racy matmul", racy, right.tasks, same_inputs=True)
    with pytest.raises(WrongResult, match="4 of 4 tasks differ"):
        _scenario(pool).check_results(batch)
    _scenario(Serial()).check_results(batch)   # a serial loop, no BLAS: nothing to compare


def test_an_in_place_task_that_never_ran_is_caught(pool):
    """Fills check what the arrays hold: set to NaN first, so a task that
    did not run shows even where the arrays already held the target value."""
    batch = workloads.fill_many_batch(16, 4)
    for (array,) in batch.tasks:
        array[...] = 0.0                      # already the fill's target

    class SkipsOne(Counting):
        def run(self, fn, tasks, chunksize=None):
            return self.inner.run(fn, tasks[:2] + tasks[3:], chunksize)[:2] + [None] * 2

    with pytest.raises(WrongResult, match=r"task 2: 256 of 256 values differ; "
                                          r"max abs error NaN or inf"):
        _scenario(SkipsOne(pool)).check_results(batch)


def test_a_missing_result_is_caught(pool):
    class Drops(Counting):
        def run(self, fn, tasks, chunksize=None):
            return self.inner.run(fn, tasks, chunksize)[:-1]

    with pytest.raises(WrongResult, match="5 results for 6 tasks"):
        _scenario(Drops(pool)).check_results(workloads.small_calls_batch("dot", 100, 2, 6))


def test_checked_once_per_process_and_cell(pool):
    batch = workloads.python_work_batch("vector", 16, 20, 4)
    counting = Counting(pool)
    for _ in range(3):                         # asv's setup before every sample
        _scenario(counting).check_results(batch)
    assert counting.runs == 1


def test_checked_once_per_run_environment_and_cell(pool, tmp_path, monkeypatch):
    """Under ``npthreads bench`` each round is a fresh process; the run's
    folder carries the check over from the first round."""
    from npthreads import profiles
    monkeypatch.setenv(profiles.CHECKED_ENV, str(tmp_path))
    monkeypatch.setenv("ASV_ENV_NAME", "virtualenv-py3.13t-numpy2.4.6-PYTHON_GIL0")
    batch = workloads.python_work_batch("vector", 16, 20, 4)
    counting = Counting(pool)
    for _ in range(3):                         # three rounds: three processes
        _scenario(counting).check_results(batch)
        common._CHECKED.clear()
    assert counting.runs == 1
    # the same interpreter, the GIL on: another environment, checked
    monkeypatch.setenv("ASV_ENV_NAME", "virtualenv-py3.13t-numpy2.4.6-PYTHON_GIL1")
    _scenario(counting).check_results(batch)
    assert counting.runs == 2


def test_a_wrong_result_is_not_marked_checked(pool, tmp_path, monkeypatch):
    from npthreads import profiles
    monkeypatch.setenv(profiles.CHECKED_ENV, str(tmp_path))
    batch = workloads.fill_many_batch(24, 6)
    for _ in range(2):                         # every round fails, not only the first
        with pytest.raises(WrongResult):
            _scenario(Corrupting(pool)).check_results(batch)
        common._CHECKED.clear()
    assert not list(tmp_path.iterdir())


def test_a_serial_loop_without_blas_threads_is_not_run_again():
    class CountingSerial(Serial):
        runs = 0

        def run(self, fn, tasks, chunksize=None):
            CountingSerial.runs += 1
            return super().run(fn, tasks, chunksize)

    _scenario(CountingSerial()).check_results(workloads.fill_many_batch(16, 3))
    assert CountingSerial.runs == 0


def _blas_threads_or_skip(count):
    try:
        return BlasThreads(count)
    except BlasLimitRefused as refused:
        pytest.skip(f"BLAS limits: {refused}")


def test_blas_threads_alone_make_a_serial_loop_checked():
    """numpy#29391's shape: np.dot wrong with more BLAS threads, right with
    one. The reference runs with the BLAS held at one thread."""
    def dot_wrong_when_threaded(a, b):
        value = a.dot(b)
        return value + 1 if current_blas_threads() > 1 else value

    right = workloads.dot_batch(1000)
    batch = workloads.Batch("dot threaded wrong", dot_wrong_when_threaded, right.tasks,
                            uses_blas=True)
    with _blas_threads_or_skip(2):
        with pytest.raises(WrongResult, match=r"serial loop, BLAS 2 thread\(s\): 1 of 1 tasks "
                                              r"differ from a serial loop with the BLAS at 1"):
            Scenario().check_results(batch)
        Scenario().check_results(right)
    with _blas_threads_or_skip(1):
        Scenario().check_results(batch)       # one BLAS thread: nothing concurrent


def test_difference_is_exact_for_integers_and_tolerant_for_floats():
    assert workloads.difference(3, 3) is None
    assert "compared exactly" in workloads.difference(np.arange(4), np.array([0, 1, 2, 4]))
    assert workloads.difference((2, 1.0, (1, 2)), (2, 1.0, (1, 2))) is None
    assert workloads.difference((2, 1.0, (1, 2)), (2, 1.0, (1, 3))).startswith("item 2: item 1:")
    big = np.full(8, 1e6)
    assert workloads.difference(big * (1 + 1e-13), big) is None      # a reordered sum
    assert "max abs error 1" in workloads.difference(big + np.eye(8)[3], big)
    # the tolerance scales with the largest value, so a term that cancels to ~0 passes
    assert workloads.difference(np.array([1e6, 1e-12]), np.array([1e6, 0.0])) is None
    assert workloads.difference(np.ones((2, 3)), np.ones((3, 2))) == "shape (2, 3), expected (3, 2)"
    assert workloads.difference(None, 1.0) == "got None, expected 1.0"
    assert workloads.difference(np.array([np.nan]), np.array([np.nan])) is None


def test_the_reference_of_an_in_place_task_leaves_its_outcome_alone():
    batch = workloads.fill_parts_batch(1_000, 3)
    batch.prepare()
    assert all(np.isnan(view).all() for (view,) in batch.tasks)
    (zeros,) = batch.reference(1)
    assert np.all(zeros == 0) and zeros.shape == batch.tasks[1][0].shape
    assert np.isnan(batch.tasks[1][0]).all()   # the reference wrote elsewhere


# -- each scenario's setup runs the check -----------------------------------

def _cells():
    from benchmarks import (bench_fill, bench_matmul, bench_python_work, bench_small_calls,
                            bench_ufunc)
    first = lambda grid: next(iter(grid))   # noqa: E731
    matmul = first(bench_matmul.SIZES)
    return [
        (bench_matmul.MatmulTutorial, (matmul, "ThreadPool()", "tasks/4")),
        (bench_matmul.MatmulThreadSplit, (matmul, "cores", "1")),
        (bench_matmul.MatmulExecutors, (matmul, "ThreadPoolExecutor(cores)", "1")),
        (bench_matmul.MatmulRate, (matmul, "ThreadPool(cores), BLAS 1")),
        (bench_fill.FillManyArrays, (first(bench_fill.MANY), "ThreadPool(cores)", "tasks/workers")),
        (bench_fill.FillOneArrayInParts, (first(bench_fill.ONE), "ThreadPool(cores)")),
        (bench_fill.FillRate, (first(bench_fill.ONE), "ThreadPool(cores)")),
        (bench_ufunc.ExpInParts, (first(bench_ufunc.ONE), "ThreadPool(cores)")),
        (bench_small_calls.SmallBlasCalls,
         (first(bench_small_calls.CALLS), "ThreadPool(cores)", "1")),
        (bench_python_work.PythonBetweenCalls,
         (first(bench_python_work.WORK), "ThreadPool(cores)")),
    ]


CELLS = _cells()


@pytest.mark.parametrize("cls,params", CELLS, ids=[c.__name__ for c, _ in CELLS])
def test_every_threaded_scenario_checks_in_setup(cls, params, monkeypatch):
    real = common.executor_from_label
    monkeypatch.setattr(common, "executor_from_label",
                        lambda *a, **k: Corrupting(real(*a, **k)))
    bench = cls()
    try:
        with pytest.raises(WrongResult, match=f"^{cls.__name__}, "):
            bench.setup(*params)
    finally:
        bench.teardown(*params)


@pytest.mark.parametrize("cls,params", CELLS, ids=[c.__name__ for c, _ in CELLS])
def test_every_threaded_scenario_passes_with_a_real_pool(cls, params):
    bench = cls()
    try:
        bench.setup(*params)
    finally:
        bench.teardown(*params)


def test_difference_compares_in_blocks_and_finds_the_worst_element():
    expected = np.zeros(3 * workloads._BLOCK + 5)
    got = expected.copy()
    got[10] = 0.5
    got[2 * workloads._BLOCK + 7] = 2.0        # the worst, in the third block
    what = workloads.difference(got, expected)
    assert what.startswith(f"2 of {expected.size} values differ; max abs error 2 at "
                           f"index ({2 * workloads._BLOCK + 7},)")
    ints = np.arange(2 * workloads._BLOCK)
    wrong = ints.copy()
    wrong[workloads._BLOCK + 1] = -1
    assert f"first at index ({workloads._BLOCK + 1},)" in workloads.difference(wrong, ints)
