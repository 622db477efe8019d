"""What each workload costs: floating-point operations and bytes (issue 11).

The one home of these numbers: the benchmarks' memory guards, the report's
GFLOP/s and GB/s, ``advise`` and ``seed`` all read them here. Plain
arithmetic, no numpy, so the tool side (reports, comparisons) computes
rates without importing the library it measures.
"""

import math

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
