"""Spend rounds where the question is open: racing (F-race, successive halving).

A full run gives every row the same six rounds a side. Most rows are decided
by then: unchanged within a narrow resolution, or clearly changed. A few are
not: their estimate lies beyond the least change worth a verdict, but their
rounds cannot yet tell it from noise. On this VM the noise of a round is a
moment of the host, not of the process: in one process, blocks of samples
0.5 s apart scatter 6-10% like separate processes do, while the samples of
one 60 ms block agree within 2-4% (``docs/method.md``). So the only way to
resolve a 10% change in a single-threaded row is more rounds, 12-16 a side
instead of six; giving them to every row would triple ``make bench``.
Racing gives them to the open rows only, in batches, until each is decided
or the time bound is reached.

Used by ``npthreads compare --confirm`` and by ``npthreads bench``'s
follow-up phase; the measuring (asv with ``--append-samples``) and the
judging are theirs, passed in as functions.
"""

import time

from .verdicts import FASTER, SLOWER, UNCHANGED, UNSTABLE


def size(row):
    """How far a row's estimate lies from no change, as a ratio >= 1."""
    if not row.ratio or row.ratio <= 0:
        return 1.0
    return max(row.ratio, 1 / row.ratio)


def is_open(row, factor):
    """Whether more rounds could decide ``row``: its estimate is beyond
    ``factor`` but its verdict is neither slower nor faster (its resolution
    is wider than the estimate, or its rounds overlap: unstable), and beyond
    the row's ``floor`` too, the resolution unlimited rounds of one session
    would reach (``evidence.Noise.floor``): below it only more runs help."""
    if row.verdict not in (UNCHANGED, UNSTABLE):
        return False
    return size(row) > max(factor, getattr(row, "floor", 1.0))


def contenders(rows, factor, most):
    """The rows worth more rounds, largest change first, at most ``most``:
    every slower row (re-measured to confirm it) and every open one."""
    wanted = [r for r in rows if r.verdict == SLOWER or is_open(r, factor)]
    wanted.sort(key=lambda r: (r.verdict != SLOWER, -size(r)))
    return wanted[:most]


def race(targets, measure, rejudge, factor, budget, say=print, clock=time.monotonic):
    """Measure ``targets`` in batches until none is open or ``budget``
    seconds have passed.

    ``measure(rows, seconds_left)`` appends one batch of rounds to ``rows``
    (both sides); ``rejudge()`` returns row key -> the row judged again.
    Returns (row key -> latest row for every row measured, batches run)."""
    start = clock()
    latest, batches = {}, 0
    while targets:
        left = budget - (clock() - start)
        if left <= 0:
            say(f"[race] time bound reached ({budget:g} s): {len(targets)} row(s) still open")
            break
        batches += 1
        say(f"[race] batch {batches}: {len(targets)} row(s) "
            f"({sum(r.verdict == SLOWER for r in targets)} to confirm, "
            f"{sum(is_open(r, factor) for r in targets)} open), {left:.0f} s left")
        measure(targets, left)
        judged = rejudge()
        for r in targets:
            if r.key in judged:
                latest[r.key] = judged[r.key]
        targets = [latest[r.key] for r in targets
                   if r.key in latest and is_open(latest[r.key], factor)]
    closed = sum(not is_open(r, factor) for r in latest.values())
    moved = sum(r.verdict in (SLOWER, FASTER) for r in latest.values())
    say(f"[race] {batches} batch(es): {closed} of {len(latest)} re-measured row(s) decided "
        f"({moved} slower or faster)")
    return latest, batches
