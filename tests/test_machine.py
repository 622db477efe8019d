import pytest

from npthreads import UsageError, machine


@pytest.mark.parametrize("label,expected", [
    ("1", 1), ("cores", 6), ("halfcores", 3), ("2xcores", 12), ("4xcores", 24), ("5", 5),
])
def test_thread_labels_resolve_relative_to_cores(label, expected):
    assert machine.resolve_threads(label, cores=6) == expected


def test_halfcores_never_reaches_zero():
    assert machine.resolve_threads("halfcores", cores=1) == 1


@pytest.mark.parametrize("bad", ["0", "-2", "abc", "0xcores", "", "1.5"])
def test_bad_thread_counts_are_refused_with_a_reason(bad):
    with pytest.raises(UsageError) as err:
        machine.resolve_threads(bad, cores=4)
    assert "\n" not in str(err.value)
    assert repr(bad) in str(err.value) or "factor" in str(err.value)


def test_usable_cores_is_within_the_host():
    import os
    assert 1 <= machine.usable_cores() <= os.cpu_count()


def test_memory_guard_refuses_what_cannot_fit():
    total, available = machine.memory_bytes()
    assert 0 < available <= total
    assert machine.check_fits(1024, "tiny") is None
    reason = machine.check_fits(total * 4, "matmul 2000x2000 x100000")
    assert "matmul 2000x2000 x100000 needs" in reason and "GiB" in reason


def test_waiting_for_memory_gives_up_at_once_when_the_machine_cannot_hold_it():
    import time
    total, _ = machine.memory_bytes()
    start = time.monotonic()
    reason = machine.wait_until_fits(total * 2, "too big", seconds=30)
    assert reason and "kept free" in reason
    assert time.monotonic() - start < 5  # no point waiting for memory that cannot exist


def test_waiting_for_memory_returns_none_when_it_fits():
    assert machine.wait_until_fits(1024, "tiny", seconds=30) is None
