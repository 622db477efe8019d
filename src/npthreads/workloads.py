"""The numpy work the tutorial times, as batches of independent tasks.

A ``Batch`` is a function and the argument tuples of its tasks, plus the
arithmetic and memory traffic they represent, so that an executor can run it
and a report can turn a time into GFLOP/s or GB/s. Data comes from small
cached getters: building it is never timed, and the cache means asv's
per-sample ``setup`` does not rebuild it. Arrays are made with ``np.ones``
(pages touched), never ``np.empty``, so no timed region pays first-touch page
faults.
"""

import functools
from dataclasses import dataclass

import numpy as np

from . import cost



@dataclass(frozen=True)
class Batch:
    """``fn(*args)`` for every ``args`` in ``tasks``."""
    name: str
    fn: object
    tasks: tuple
    flops: float = 0.0        # floating-point operations in the whole batch
    bytes_moved: float = 0.0  # bytes read + written by the whole batch

    def run_serial(self):
        fn = self.fn
        return [fn(*args) for args in self.tasks]


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


# -- batches -----------------------------------------------------------------

def matmul_batch(n, count):
    """``count`` independent products of n x n matrices (tutorial: 100 of 2000)."""
    left = ones_list((n, n), count)
    right = _right_operands(n, count)
    return Batch(f"matmul {count}x({n}x{n})", matmul_pair, tuple(zip(left, right)),
                 flops=cost.matmul_flops(n, count),
                 bytes_moved=float(cost.matmul_nbytes(n, count)))


@functools.lru_cache(maxsize=2)
def _right_operands(n, count):
    # A second, distinct set of matrices: the tutorial multiplies two lists.
    return tuple(np.ones((n, n)) for _ in range(count))


def dot_batch(n):
    """One dot of two n-vectors (tutorial: n = 1e9)."""
    a = ones_array((n,))
    b = _second_vector(n)
    return Batch(f"dot {n}", dot, ((a, b),), flops=cost.dot_flops(n),
                 bytes_moved=float(cost.dot_nbytes(n)))


@functools.lru_cache(maxsize=1)
def _second_vector(n):
    return np.ones(n)


def fill_many_batch(n, count):
    """``count`` separate n x n arrays, each filled (tutorial: 100 of 5000)."""
    arrays = ones_list((n, n), count)
    return Batch(f"fill {count}x({n}x{n})", fill_zero, tuple((a,) for a in arrays),
                 bytes_moved=float(cost.fill_many_nbytes(n, count)))


def fill_parts_batch(n_elements, parts):
    """One large array filled as ``parts`` contiguous slices (the "3x faster"
    contrast of the tutorial's further reading)."""
    array = ones_array((n_elements,))
    views = np.array_split(array, parts)
    return Batch(f"fill 1x{n_elements} in {parts} parts", fill_zero,
                 tuple((v,) for v in views),
                 bytes_moved=float(cost.one_array_nbytes(n_elements)))


def exp_parts_batch(n_elements, parts):
    """``np.exp`` of one large array into another, split into ``parts``."""
    source = ones_array((n_elements,))
    out = _exp_output(n_elements)
    pairs = zip(np.array_split(source, parts), np.array_split(out, parts))
    return Batch(f"exp 1x{n_elements} in {parts} parts", exp_into, tuple(pairs),
                 flops=float(n_elements),
                 bytes_moved=float(cost.one_array_nbytes(n_elements, arrays=2)))


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
                 bytes_moved=float(cost.small_calls_nbytes(kind, n) * total))
