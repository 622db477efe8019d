"""The numpy work the tutorial times, as batches of independent tasks.

A ``Batch`` is a function and the argument tuples of its tasks, plus the
arithmetic and memory traffic they represent, so that an executor can run it
and a report can turn a time into GFLOP/s or GB/s. Data comes from small
cached getters: building it is never timed, and the cache means asv's
per-sample ``setup`` does not rebuild it. Arrays are made with ``np.ones``
(pages touched), never ``np.empty``, so no timed region pays first-touch page
faults.

A batch also knows how to tell a right result from a wrong one
(``Batch.mismatches``): each task's outcome (what it returned, or the arrays
it wrote) against a serial reference computed one task at a time, so a
concurrent run that computes a wrong answer (a race in a free-threaded
numpy, or in OpenBLAS's threads) fails instead of being timed.
"""

import functools
from dataclasses import dataclass

import numpy as np

from . import cost

# Relative tolerance of a float outcome against its reference, scaled by the
# reference's largest magnitude (so an element that cancels to near zero is
# not judged on its own tiny scale). A run with other thread counts may sum
# in another order; rounding then moves a sum of k terms by up to about
# k * 1.1e-16 of its scale: 3e-14 for the 256-term sums of the random data,
# and the long sums (1e9-element dots) are of ones, exact in any order. A
# race (a block computed twice, or not at all) moves a result by far more.
# Integers and other exact values are compared exactly.
RTOL = 1e-9


@dataclass(frozen=True)
class Batch:
    """``fn(*args)`` for every ``args`` in ``tasks``."""
    name: str
    fn: object
    tasks: tuple
    flops: float = 0.0        # floating-point operations in the whole batch
    bytes_moved: float = 0.0  # bytes read + written by the whole batch
    # Indices of the task arguments a task writes its result into: a task
    # that works in place (a fill, a ufunc with out=) returns nothing, so its
    # outcome is those arrays.
    writes: tuple = ()
    # Every task's inputs are equal by construction (np.ones): one serial
    # reference serves every task, where computing one per task would cost a
    # second run of the whole batch (minutes at the tutorial's sizes).
    same_inputs: bool = False
    # The tasks call the BLAS, so its threads make even a serial loop concurrent.
    uses_blas: bool = False

    def run_serial(self):
        fn = self.fn
        return [fn(*args) for args in self.tasks]

    def prepare(self):
        """Before a run whose outcome is checked: set every array a task
        writes to NaN, a value no task writes, so a task that did not run,
        or wrote into the wrong part, shows."""
        for args in self.tasks:
            for at in self.writes:
                args[at][...] = np.nan

    def outcome(self, index, returned):
        """What task ``index`` produced: what it returned, or the arrays it wrote."""
        if self.writes:
            return tuple(self.tasks[index][at] for at in self.writes)
        return returned

    def reference(self, index):
        """Task ``index`` run here, serially; an in-place task writes into
        fresh arrays, so the outcome of the run being checked stays put."""
        args = list(self.tasks[index])
        if not self.writes:
            return self.fn(*args)
        for at in self.writes:
            args[at] = np.full_like(args[at], np.nan)
        self.fn(*args)
        return tuple(args[at] for at in self.writes)

    def reference_nbytes(self):
        """Memory a reference needs beyond the batch's own: the fresh arrays
        of the largest in-place task (a returned result is counted by the
        batch's own memory guard)."""
        return max((sum(args[at].nbytes for at in self.writes) for args in self.tasks),
                   default=0)

    def mismatches(self, returned):
        """``[(task index, what differs)]`` for each task whose outcome in a
        run (``returned``: the run's list of return values, one per task)
        differs from its serial reference. References are computed one at a
        time and dropped, so checking holds one task's result beyond the run's."""
        if len(returned) != len(self.tasks):
            return [(None, f"{len(returned)} results for {len(self.tasks)} tasks")]
        found = []
        key = expected = None
        for index, value in enumerate(returned):
            task_key = 0 if self.same_inputs else _reference_key(self.tasks[index], index)
            if task_key != key:   # identical tasks in a row share one reference
                key, expected = task_key, self.reference(index)
            what = difference(self.outcome(index, value), expected)
            if what:
                found.append((index, what))
        return found


def _reference_key(args, index):
    """Tasks with equal, hashable arguments (a label and numbers) compute the
    same thing; a task holding arrays is only itself."""
    try:
        hash(args)
    except TypeError:
        return ("task", index)
    return ("args", args)


def difference(got, expected):
    """None where ``got`` is ``expected`` (floats within ``RTOL`` of the
    reference's scale, anything else exactly), else what differs, in words."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"got {_short(got)}, expected {len(expected)} values"
        for position, (g, e) in enumerate(zip(got, expected)):
            what = difference(g, e)
            if what:
                return f"item {position}: {what}" if len(expected) > 1 else what
        return None
    if got is None or expected is None:
        return None if got is expected else f"got {_short(got)}, expected {_short(expected)}"
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return f"shape {g.shape}, expected {e.shape}"
    exact = e.dtype.kind not in "fc" or g.dtype.kind not in "fciub"
    # in blocks, so comparing a task of gigabytes needs megabytes more
    flat_g, flat_e = g.reshape(-1), e.reshape(-1)
    blocks = [slice(at, at + _BLOCK) for at in range(0, flat_e.size, _BLOCK)]
    scale = 0.0
    if not exact:
        for block in blocks:
            part = np.abs(flat_e[block])
            part = part[np.isfinite(part)]
            scale = max(scale, float(part.max()) if part.size else 0.0)
    bad, worst, worst_error = 0, None, -1.0
    for block in blocks:
        pg, pe = flat_g[block], flat_e[block]
        if exact:
            wrong = np.asarray(pg != pe)
            if wrong.any() and worst is None:
                worst = block.start + int(np.argmax(wrong))
            bad += int(np.count_nonzero(wrong))
            continue
        wrong = ~np.isclose(pg, pe, rtol=RTOL, atol=RTOL * scale, equal_nan=True)
        if not wrong.any():
            continue
        bad += int(np.count_nonzero(wrong))
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(pg[wrong].astype(e.dtype) - pe[wrong])
        error = np.where(np.isnan(error), np.inf, error)   # NaN: a value never written
        at = int(np.argmax(error))
        if float(error[at]) > worst_error:
            worst_error = float(error[at])
            worst = block.start + int(np.flatnonzero(wrong)[at])
    if not bad:
        return None
    got_text, expected_text = _short(flat_g[worst]), _short(flat_e[worst])
    if exact:
        return (f"{bad} of {e.size} values differ (compared exactly); first at "
                f"{_where(worst, e.shape)}: got {got_text}, expected {expected_text}")
    size = "NaN or inf" if worst_error == np.inf else f"{worst_error:.3g}"
    return (f"{bad} of {e.size} values differ; max abs error {size} at "
            f"{_where(worst, e.shape)} (got {got_text}, expected {expected_text}; "
            f"tolerance rtol {RTOL:g} of the largest |value| {scale:.3g})")


_BLOCK = 1 << 20   # elements compared at a time


def _where(flat, shape):
    return "index " + (str(tuple(int(i) for i in np.unravel_index(flat, shape))) if shape else "()")


def _short(value):
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- task functions: module level so a process pool can pickle them --------

def matmul_pair(a, b):
    """The tutorial's ``operation``: one BLAS DGEMM."""
    return a.dot(b)


def dot(a, b):
    """Vector dot product: BLAS DDOT."""
    return a.dot(b)


def fill_zero(array):
    """``ndarray.fill`` releases the GIL; returns nothing, like the tutorial."""
    array.fill(0)


def exp_into(source, out):
    """A GIL-releasing elementwise ufunc that numpy runs on one thread."""
    np.exp(source, out=out)


def small_calls(kind, n, calls):
    """``calls`` small BLAS calls of one ``kind`` on this process's own
    operands, as each worker of numpy#27605 makes its many small DDOTs (the
    norms of a cosine similarity per column) on data it built itself. Only ``(kind, n, calls)`` crosses to a process pool and
    one float comes back (the sum of the last result), so the pool times the
    calls, not pickling."""
    a, b = small_operands(kind, n)
    dot = np.dot
    for _ in range(calls):
        out = dot(a, b)
    return float(np.sum(out))


def python_between_calls(kind, n, calls, start):
    """``calls`` small numpy calls, each followed by the Python-level work a
    per-item loop does with a result: index it, make it a float, branch on
    it, tally it. Task ``start`` begins at its own item, so every task's
    answer differs and a result handed to the wrong task shows. At n=16
    the interpreter does most of the work (the GIL decides whether threads
    help); at 256x256 the BLAS does."""
    left, right = python_work_operands(kind, n)
    items = len(left)
    scalar = kind == "vector"
    above = 0
    total = 0.0
    tally = [0] * 8
    for i in range(calls):
        out = left[(start + i) % items] @ right
        value = float(out) if scalar else float(out[i % n, (7 * i) % n])
        if value > 0.0:
            above += 1
        total += value * value
        tally[int(abs(value)) % 8] += 1
    return above, total, tuple(tally)


# -- cached data getters -----------------------------------------------------
# maxsize=2: asv runs one parameter combination per process, so two entries
# cover a benchmark that needs two shapes, without holding gigabytes.

@functools.lru_cache(maxsize=2)
def ones_list(shape, count):
    return tuple(np.ones(shape) for _ in range(count))


@functools.lru_cache(maxsize=2)
def ones_array(shape):
    return np.ones(shape)


@functools.lru_cache(maxsize=2)
def small_operands(kind, n):
    """The two operands of a small call, built once per process (in a process
    pool's worker on its first task: microseconds, against the milliseconds a
    task takes)."""
    if kind not in cost.SMALL_SHAPES:
        raise ValueError(f"unknown small call {kind!r}; choose from {', '.join(cost.SMALL_SHAPES)}")
    shape_a, shape_b = cost.SMALL_SHAPES[kind](n)
    return np.ones(shape_a), np.ones(shape_b)


@functools.lru_cache(maxsize=2)
def python_work_operands(kind, n):
    """``cost.PYTHON_WORK_ITEMS`` items (vectors or n x n matrices) and the
    operand each is multiplied by: random, from a fixed seed, so the Python
    work branches both ways and every task's answer is its own; the same in
    every process and environment. Shared read-only by the threads."""
    if kind not in cost.PYTHON_WORK_SHAPES:
        raise ValueError(f"unknown Python work {kind!r}; "
                         f"choose from {', '.join(cost.PYTHON_WORK_SHAPES)}")
    shape_items, shape_right = cost.PYTHON_WORK_SHAPES[kind](n)
    rng = np.random.default_rng(20_240_613)
    return rng.standard_normal(shape_items), rng.standard_normal(shape_right)


# -- batches -----------------------------------------------------------------

def matmul_batch(n, count):
    """``count`` independent products of n x n matrices (tutorial: 100 of 2000)."""
    left = ones_list((n, n), count)
    right = _right_operands(n, count)
    return Batch(f"matmul {count}x({n}x{n})", matmul_pair, tuple(zip(left, right)),
                 flops=cost.matmul_flops(n, count),
                 bytes_moved=float(cost.matmul_nbytes(n, count)),
                 same_inputs=True, uses_blas=True)


@functools.lru_cache(maxsize=2)
def _right_operands(n, count):
    # A second, distinct set of matrices: the tutorial multiplies two lists.
    return tuple(np.ones((n, n)) for _ in range(count))


def dot_batch(n):
    """One dot of two n-vectors (tutorial: n = 1e9)."""
    a = ones_array((n,))
    b = _second_vector(n)
    return Batch(f"dot {n}", dot, ((a, b),), flops=cost.dot_flops(n),
                 bytes_moved=float(cost.dot_nbytes(n)), uses_blas=True)


@functools.lru_cache(maxsize=1)
def _second_vector(n):
    return np.ones(n)


def fill_many_batch(n, count):
    """``count`` separate n x n arrays, each filled (tutorial: 100 of 5000)."""
    arrays = ones_list((n, n), count)
    return Batch(f"fill {count}x({n}x{n})", fill_zero, tuple((a,) for a in arrays),
                 bytes_moved=float(cost.fill_many_nbytes(n, count)),
                 writes=(0,), same_inputs=True)


def fill_parts_batch(n_elements, parts):
    """One large array filled as ``parts`` contiguous slices (the "3x faster"
    contrast of the tutorial's further reading)."""
    array = ones_array((n_elements,))
    views = np.array_split(array, parts)
    return Batch(f"fill 1x{n_elements} in {parts} parts", fill_zero,
                 tuple((v,) for v in views),
                 bytes_moved=float(cost.one_array_nbytes(n_elements)), writes=(0,))


def exp_parts_batch(n_elements, parts):
    """``np.exp`` of one large array into another, split into ``parts``."""
    source = ones_array((n_elements,))
    out = _exp_output(n_elements)
    pairs = zip(np.array_split(source, parts), np.array_split(out, parts))
    return Batch(f"exp 1x{n_elements} in {parts} parts", exp_into, tuple(pairs),
                 flops=float(n_elements),
                 bytes_moved=float(cost.one_array_nbytes(n_elements, arrays=2)),
                 writes=(1,))


@functools.lru_cache(maxsize=1)
def _exp_output(n_elements):
    return np.ones(n_elements)


def small_calls_batch(kind, n, calls, tasks):
    """``tasks`` tasks of ``calls`` small BLAS calls each (numpy#27605: each
    worker process makes many small DDOTs, of n=16000 there). The operands
    stay in cache: what is measured is the call and the BLAS threads it
    wakes, not memory."""
    small_operands(kind, n)  # built here, outside any timed region
    total = calls * tasks
    return Batch(f"{kind} n={n} x{total}", small_calls, ((kind, n, calls),) * tasks,
                 flops=cost.small_calls_flops(kind, n, total),
                 bytes_moved=float(cost.small_calls_nbytes(kind, n) * total),
                 uses_blas=True)


def python_work_batch(kind, n, calls, tasks):
    """``tasks`` tasks of ``calls`` small numpy calls each, with Python work
    between them (``python_between_calls``); task i starts at item i."""
    python_work_operands(kind, n)  # built here, outside any timed region
    total = calls * tasks
    return Batch(f"{kind} n={n} x{total} with Python work", python_between_calls,
                 tuple((kind, n, calls, start) for start in range(tasks)),
                 flops=cost.python_work_flops(kind, n, total),
                 bytes_moved=float(cost.python_work_call_nbytes(kind, n) * total),
                 uses_blas=True)
