"""What each workload costs: floating-point operations and bytes.

The one home of these numbers: the benchmarks' memory guards, the report's
GFLOP/s and GB/s, ``advise`` and ``seed`` all read them here. Plain
arithmetic, no numpy, so the tool side (reports, comparisons) computes
rates without importing the library it measures.
"""

import math
from dataclasses import dataclass

FLOAT_BYTES = 8  # float64, the dtype of every workload


def matmul_flops(n, count):
    """``count`` n x n products: 2n^3 each."""
    return 2.0 * n ** 3 * count


def matmul_nbytes(n, count):
    return 3 * count * n * n * FLOAT_BYTES  # a, b and the result per pair


def dot_flops(n):
    return 2.0 * n


def dot_nbytes(n):
    return 2 * n * FLOAT_BYTES


def fill_many_nbytes(n, count):
    return count * n * n * FLOAT_BYTES


def one_array_nbytes(n_elements, arrays=1):
    return arrays * n_elements * FLOAT_BYTES


@dataclass(frozen=True)
class Work:
    """A workload's cost as a function of its size (a ``profiles`` grid
    entry: (n, count) for the batches, n elements for the one-array work)."""
    grid: str                     # the ``profiles`` grid holding its sizes
    nbytes: object                # size -> bytes its arrays hold
    flops: object = None          # size -> FLOPs, where the DGEMM peak is its limit
    uses_blas: bool = False       # its tasks call the BLAS (else BLAS threads sit idle)

    @property
    def unit(self):
        """The rate it is judged in: GFLOP/s against the DGEMM peak, else
        GB/s against the bandwidth of the level that holds its bytes."""
        return "GFLOP/s" if self.flops else "GB/s"


# work kind -> its cost; ``scenarios.Spec.work`` names a scenario's.
WORK = {
    "matmul": Work("matmul", lambda s: matmul_nbytes(*s), lambda s: matmul_flops(*s),
                   uses_blas=True),
    "dot": Work("dot", dot_nbytes, uses_blas=True),
    "fill_many": Work("fill_many", lambda s: fill_many_nbytes(*s)),
    "fill_one": Work("one_array", one_array_nbytes),
    "exp": Work("one_array", lambda n: one_array_nbytes(n, arrays=2)),
}


# one small BLAS call (numpy#27605): kind -> shapes of its two operands for size n
SMALL_SHAPES = {
    "dot": lambda n: ((n,), (n,)),         # DDOT
    "gemv": lambda n: ((n, n), (n,)),      # DGEMV
    "gemm": lambda n: ((n, n), (n, n)),    # DGEMM
}


def small_calls_nbytes(kind, n, processes=1):
    """Operands and result of one small call, in each of ``processes`` (a
    process pool's workers each hold their own)."""
    shape_a, shape_b = SMALL_SHAPES[kind](n)
    result = {"dot": 1, "gemv": n, "gemm": n * n}[kind]
    return processes * (math.prod(shape_a) + math.prod(shape_b) + result) * FLOAT_BYTES


def small_calls_flops(kind, n, calls=1):
    """Floating-point operations of ``calls`` small calls: 2n, 2n^2 or 2n^3 each."""
    return calls * 2.0 * n ** {"dot": 1, "gemv": 2, "gemm": 3}[kind]


# Python work between small numpy calls: kind -> shapes of the items (one
# per call, in turn) and of the operand each item is multiplied by
PYTHON_WORK_ITEMS = 8
PYTHON_WORK_SHAPES = {
    "vector": lambda n: ((PYTHON_WORK_ITEMS, n), (n,)),          # a dot per call
    "matmul": lambda n: ((PYTHON_WORK_ITEMS, n, n), (n, n)),     # a DGEMM per call
}


def python_work_nbytes(kind, n, threads=1):
    """The items and operand, shared by every thread, and one result per thread."""
    shape_items, shape_right = PYTHON_WORK_SHAPES[kind](n)
    result = 1 if kind == "vector" else n * n
    return (math.prod(shape_items) + math.prod(shape_right) + threads * result) * FLOAT_BYTES


def python_work_call_nbytes(kind, n):
    """Bytes one call reads and writes: an item, the operand and the result."""
    return (2 * n + 1 if kind == "vector" else 3 * n * n) * FLOAT_BYTES


def python_work_flops(kind, n, calls=1):
    """``calls`` calls: 2n (a dot) or 2n^3 (a product) each."""
    return calls * 2.0 * n ** (1 if kind == "vector" else 3)
