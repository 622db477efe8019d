"""Racing: more rounds go to the rows whose answer is open, until decided or
the time bound (``npthreads.racing``)."""

from dataclasses import dataclass, replace

from npthreads import racing
from npthreads.verdicts import FASTER, SLOWER, UNCHANGED, UNSTABLE


@dataclass
class Row:
    key: str
    verdict: str
    ratio: float
    n_after: int = 6


def test_open_rows_are_undecided_and_beyond_the_factor():
    assert racing.is_open(Row("a", UNCHANGED, 1.08), 1.05)
    assert racing.is_open(Row("a", UNSTABLE, 0.9), 1.05)
    assert not racing.is_open(Row("a", UNCHANGED, 1.03), 1.05)   # nothing worth deciding
    assert not racing.is_open(Row("a", SLOWER, 1.5), 1.05)       # decided
    assert not racing.is_open(Row("a", FASTER, 0.5), 1.05)


def test_contenders_put_slower_rows_first_then_the_largest_open_change():
    rows = [Row("small", UNCHANGED, 1.07), Row("big", UNCHANGED, 0.7),
            Row("slow", SLOWER, 1.2), Row("done", UNCHANGED, 1.01)]
    assert [r.key for r in racing.contenders(rows, 1.05, 10)] == ["slow", "big", "small"]
    assert [r.key for r in racing.contenders(rows, 1.05, 2)] == ["slow", "big"]


def test_race_stops_measuring_a_row_once_it_is_decided():
    # "a" decides after one batch, "b" after two; each batch sees fewer rows
    state = {"a": Row("a", UNCHANGED, 1.09), "b": Row("b", UNCHANGED, 1.1)}
    measured = []
    decide_after = {"a": 1, "b": 2}

    def measure(rows, left):
        measured.append(sorted(r.key for r in rows))
        for r in rows:
            batches = sum(r.key in m for m in measured)
            done = batches >= decide_after[r.key]
            state[r.key] = replace(state[r.key], verdict=SLOWER if done else UNCHANGED,
                                   n_after=state[r.key].n_after + 6)

    latest, batches = racing.race(list(state.values()), measure, lambda: dict(state), 1.05,
                                  budget=100, say=lambda text: None)
    assert measured == [["a", "b"], ["b"]]
    assert batches == 2 and {r.verdict for r in latest.values()} == {SLOWER}


def test_race_stops_at_the_time_bound_and_says_so():
    clock = iter([0, 0, 30, 60, 90]).__next__
    said = []
    rows = [Row("a", UNCHANGED, 1.2)]
    latest, batches = racing.race(rows, lambda rows, left: None, lambda: {"a": rows[0]},
                                  1.05, budget=50, say=said.append, clock=clock)
    assert batches == 2
    assert any("time bound" in line for line in said)
