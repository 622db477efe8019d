import numpy as np
import pytest

from npthreads import cost, workloads


def test_matmul_batch_computes_the_products():
    batch = workloads.matmul_batch(16, 3)
    results = batch.run_serial()
    assert len(results) == 3
    # ones(n, n) @ ones(n, n) is n everywhere
    for product in results:
        assert product.shape == (16, 16)
        assert np.all(product == 16)
    assert batch.flops == 2 * 16**3 * 3


def test_matmul_operands_are_distinct_arrays():
    batch = workloads.matmul_batch(8, 4)
    arrays = [a for pair in batch.tasks for a in pair]
    assert len({id(a) for a in arrays}) == 8


def test_dot_batch_computes_the_dot():
    batch = workloads.dot_batch(1000)
    assert batch.run_serial() == [1000.0]
    assert batch.bytes_moved == 2 * 1000 * 8


def test_fill_many_zeroes_every_array():
    batch = workloads.fill_many_batch(32, 5)
    for (array,) in batch.tasks:
        array[...] = 7
    batch.run_serial()
    assert all(np.all(array == 0) for (array,) in batch.tasks)


@pytest.mark.parametrize("parts", [1, 3, 8])
def test_fill_parts_cover_the_whole_array(parts):
    batch = workloads.fill_parts_batch(10_001, parts)
    whole = workloads.ones_array((10_001,))
    whole[...] = 5
    assert len(batch.tasks) == parts
    batch.run_serial()
    assert np.all(whole == 0)


def test_exp_parts_match_exp_of_the_whole():
    batch = workloads.exp_parts_batch(10_000, 4)
    source = workloads.ones_array((10_000,))
    source[...] = np.linspace(-1, 1, 10_000)
    batch.run_serial()
    assert np.allclose(workloads._exp_output(10_000), np.exp(source))


def test_data_is_built_with_pages_touched_and_cached():
    first = workloads.ones_list((8, 8), 2)
    assert workloads.ones_list((8, 8), 2) is first
    assert all(np.all(a == 1) for a in first)


@pytest.mark.parametrize("kind,n", [("dot", 16_000), ("gemv", 64), ("gemm", 32)])
def test_small_calls_batch_equals_a_serial_reference(kind, n):
    batch = workloads.small_calls_batch(kind, n, calls=3, tasks=4)
    a, b = workloads.small_operands(kind, n)
    reference = float(np.sum(np.dot(a, b)))
    assert reference == float(n ** {"dot": 1, "gemv": 2, "gemm": 3}[kind])  # ones . ones
    assert batch.run_serial() == [reference] * 4
    # only a label and two numbers cross to a process pool, never the arrays
    assert batch.tasks == ((kind, n, 3),) * 4
    assert batch.flops == cost.small_calls_flops(kind, n, 12)


def test_small_calls_sizes():
    assert cost.small_calls_flops("dot", 16_000) == 32_000
    assert cost.small_calls_flops("gemm", 128, calls=2) == 2 * 2 * 128**3
    assert cost.small_calls_nbytes("dot", 1000) == (2 * 1000 + 1) * 8
    assert cost.small_calls_nbytes("gemv", 10, processes=3) == 3 * (100 + 10 + 10) * 8
    with pytest.raises(ValueError):
        workloads.small_operands("syrk", 8)


@pytest.mark.parametrize("kind,n", [("vector", 16), ("vector", 1000), ("matmul", 64)])
def test_python_work_batch_equals_a_reference_written_out(kind, n):
    batch = workloads.python_work_batch(kind, n, calls=20, tasks=3)
    left, right = workloads.python_work_operands(kind, n)
    assert left.shape[0] == cost.PYTHON_WORK_ITEMS and right.shape[-1] == n
    results = batch.run_serial()
    for start, (above, total, tally) in enumerate(results):
        values = []
        for i in range(20):
            out = np.dot(left[(start + i) % len(left)], right)
            values.append(float(out) if kind == "vector" else float(out[i % n, (7 * i) % n]))
        assert above == sum(v > 0 for v in values)
        assert total == pytest.approx(sum(v * v for v in values), rel=1e-12)
        assert sum(tally) == 20
    # each task starts at its own item, so no two answers are the same
    assert len({r[1] for r in results}) == 3
    assert batch.tasks == tuple((kind, n, 20, s) for s in range(3))
    assert batch.flops == cost.python_work_flops(kind, n, 60)
    assert batch.uses_blas and not batch.writes


def test_python_work_data_is_fixed_and_cached():
    first = workloads.python_work_operands("vector", 16)
    assert workloads.python_work_operands("vector", 16) is first
    workloads.python_work_operands.cache_clear()
    again = workloads.python_work_operands("vector", 16)
    assert again is not first and all(np.array_equal(a, b) for a, b in zip(first, again))
    with pytest.raises(ValueError):
        workloads.python_work_operands("svd", 8)


def test_python_work_sizes():
    assert cost.python_work_flops("vector", 1000) == 2000
    assert cost.python_work_flops("matmul", 64, calls=2) == 2 * 2 * 64**3
    assert cost.python_work_nbytes("vector", 16) == (8 * 16 + 16 + 1) * 8
    assert cost.python_work_nbytes("matmul", 4, threads=2) == (8 * 16 + 16 + 2 * 16) * 8
    assert cost.python_work_call_nbytes("matmul", 4) == 3 * 16 * 8
