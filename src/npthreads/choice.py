"""Which configuration to recommend: the one decision rule.

The report's grids and ``npthreads advise`` both ask it: of some measured
configurations (cells), which one should a user run? Calling "tie" whatever
one run's rank test cannot separate hands the fewest-threads cell wins it
has not earned (within one run a threaded cell resolves only coarsely), so
the rule here states what it knows:

- the *best* cell is the one with the lowest point estimate;
- a cell is *clearly slower* when the low end of its ratio to the best
  (an interval at the verdicts' confidence) lies above ``1 + TIE``;
- a cell's *margin* is how much slower than any cell still open it may be:
  the largest high end of its intervals against each of them (the best
  included). The rule recommends the cell with the fewest threads (Python x
  BLAS; then the BLAS left at its default; then the grid's own order) whose
  margin is within ``MARGIN``, and states it: "within +X% of the fastest
  measured", X at most 25%. No measured alternative is then faster than the
  recommended cell beyond that margin. (Asking every open cell to lie
  within 25% of the best at its high end would let a wide cell that is
  slower by its point estimate block any advice);
- where no cell's margin fits, it *cannot tell*: it names the fastest
  measured cell and the contenders it cannot separate from, and what would
  settle it.

The intervals come from the evidence the caller has: a machine's full runs
pooled (``PooledEvidence``, ``npthreads.pooled``), or one run's rounds
(``RunEvidence``: ``evidence.judge`` and the run's noise model, or,
measured live, the rounds' own spread).

Plain dataclasses and functions; standard library only.
"""

import math
import statistics
from dataclasses import dataclass, field

from . import evidence

# A cell is clearly slower only beyond this (evidence.FACTOR: the least
# change any verdict here calls).
TIE = evidence.FACTOR - 1
# The widest margin a recommendation may state: beyond it the advice would
# only say "within 2x", which is no advice.
MARGIN = 1.25
# What would settle a "cannot tell": the results gain a run with each
# ``make bench``; a live ``advise`` gains rounds with a larger budget.
SETTLE_RUNS = "more runs would settle it (each `make bench` adds one)"
SETTLE_ROUNDS = "more rounds would settle it (raise --reps or --budget)"


@dataclass(frozen=True)
class Interval:
    """A cell against the best cell: point ratio (>1: slower) and its interval."""
    ratio: float
    low: float
    high: float
    # Within one run the rounds must also separate (rank test): a cell is
    # clearly slower only then. Pooled evidence has no such test: True.
    separated: bool = True

    @classmethod
    def exact(cls, ratio=1.0):
        return cls(ratio, ratio, ratio)


@dataclass(frozen=True)
class Option:
    """A configuration the rule may recommend."""
    key: object                  # how the caller names the cell
    estimate: float              # a point estimate (seconds, or a ratio to any one cell)
    threads: int                 # Python x BLAS threads it runs
    blas_default: bool = True    # the BLAS left at its own default (nothing to set)
    order: tuple = ()            # the grid's own order: the last tie-break


@dataclass
class Choice:
    """What the rule decided for one set of cells."""
    best: object                 # key of the lowest point estimate: "the fastest measured"
    named: object                # the recommended cell, or (cannot tell) ``best``
    decided: bool                # False: cannot tell
    margin: float | None         # decided: the named cell's interval high end (ratio >= 1)
    contenders: list             # keys not clearly slower than best, best excluded, fastest first
    intervals: dict = field(default_factory=dict)   # key -> Interval against ``best``

    @property
    def recommended(self):
        return self.named if self.decided else None

    def ratio(self, key):
        """A cell's point ratio to the best (1.0 for the best), or None."""
        found = self.intervals.get(key)
        return found.ratio if found else None

    def margin_text(self):
        """"+7%": how much slower than the fastest measured the named cell may be."""
        if not self.decided or self.margin is None:
            return "—"
        return f"+{max(0.0, self.margin - 1):.0%}"


def clearly_slower(interval):
    return interval is not None and interval.separated and interval.low > 1 + TIE


def choose(options, interval_of):
    """The ``Choice`` among ``options``; ``interval_of(best_key, key)`` is the
    ``Interval`` of cell ``key`` against cell ``best_key`` (None: no evidence,
    which leaves the cell a contender the rule cannot bound).

    The best cell starts as the lowest ``estimate``; if a cell's ratio to it
    then comes out below 1 (pooled contrasts need not be transitive), that
    cell is the lower point estimate and becomes the best, so every ratio
    the choice states is against the fastest measured."""
    options = list(options)
    if not options:
        raise ValueError("nothing to choose from")
    by_key = {o.key: o for o in options}
    best = min(options, key=lambda o: (o.estimate, o.order))
    seen = set()
    while True:
        seen.add(best.key)
        intervals = {o.key: Interval.exact() if o.key == best.key else interval_of(best.key, o.key)
                     for o in options}
        lower = [k for k, i in intervals.items()
                 if i is not None and i.ratio < 1 and k not in seen]
        if not lower:
            break
        best = by_key[min(lower, key=lambda k: intervals[k].ratio)]
    open_ = [o for o in options if o.key == best.key or not clearly_slower(intervals[o.key])]
    contenders = sorted((o.key for o in open_ if o.key != best.key),
                        key=lambda k: (_ratio_or_inf(intervals[k]), by_key[k].order))
    # Fewest threads first; the first whose margin fits is named.
    for option in sorted(open_, key=lambda o: (o.threads, not o.blas_default, o.order)):
        margin = margin_of(option.key, open_, intervals, best.key, interval_of)
        if margin is not None and margin <= MARGIN:
            return Choice(best.key, option.key, True, margin, contenders, intervals)
    return Choice(best.key, best.key, False, None, contenders, intervals)


def margin_of(key, open_, intervals, best_key, interval_of):
    """How much slower than any cell still open ``key`` may be: the largest
    high end of its interval against each of them (the best included), at
    least 1; None where a cell leaves it unbounded (no evidence). A cell
    whose interval against the best is wide but whose point is slower does
    not count against *another* cell: what matters is how much better than
    the named cell any contender could be."""
    worst = 1.0
    for other in open_:
        if other.key == key:
            continue
        if other.key == best_key:
            found = intervals[key]
        else:
            found = interval_of(other.key, key)
        if found is None:
            return None
        worst = max(worst, found.high)
    return worst


def _ratio_or_inf(interval):
    return interval.ratio if interval is not None else math.inf


# -- the evidence behind the intervals -------------------------------------------

class PooledEvidence:
    """Cells of one environment compared over a machine's full runs
    (``pooled.History``): the same environment name in every run, pooled by
    random-effects meta-analysis. ``interval`` is None for a pair fewer than
    ``pooled.MIN_RUNS`` comparable runs measured."""

    def __init__(self, history, env, reference=None, commits=None):
        self.history, self.env = history, env
        self.reference, self.commits = reference, commits
        self._cache = {}

    def contrast(self, key_a, key_b):
        pair = (key_a, key_b)
        if pair not in self._cache:
            self._cache[pair] = self.history.contrast(
                (self.env, key_a), (self.env, key_b), self.reference, self.commits)
        return self._cache[pair]

    def interval(self, key_a, key_b):
        c = self.contrast(key_a, key_b)
        if not c.pooled:
            return None
        low, high = c.interval()
        return Interval(c.ratio, low, high)

    def runs(self, key_a, key_b):
        return self.contrast(key_a, key_b).runs

    def level(self, key):
        """The cell's typical time over the runs pooled: the median over them
        of its median of round summaries (None if no run measured it)."""
        commits = self.commits or self.history.runs
        values = [statistics.median(rounds) for c in commits
                  if (rounds := self.history.rounds.get((self.env, c), {}).get(key))]
        return statistics.median(values) if values else None


class RunEvidence:
    """Cells of one run, compared on their rounds.

    ``rounds``: key -> round summaries (empty: asv ran without samples, and
    only its median ``values`` is known). ``noise``: the results' noise
    model (``evidence.noise_of``), whose resolution includes the negative
    control's calibration and the session-to-session term; without it (a
    grid measured live) the resolution comes from the rounds' own spread,
    each cell's taken as no smaller than the typical cell's."""

    def __init__(self, rounds, values, noise=None):
        self.rounds, self.values, self.noise = rounds, values, noise
        spreads = [s for r in rounds.values() if len(r) >= 2
                   and (s := evidence.pooled_sigma([r])) is not None]
        self._floor = max(statistics.median(spreads) if spreads else 0.0, 1e-3)

    def level(self, key):
        rounds = self.rounds.get(key)
        return statistics.median(rounds) if rounds else self.values.get(key)

    def resolution(self, key_a, key_b):
        ra, rb = self.rounds.get(key_a) or [], self.rounds.get(key_b) or []
        if not ra or not rb:
            return None
        if self.noise is not None:
            found = [r for k in (key_a, key_b)
                     if (r := self.noise.resolution(k, len(ra), len(rb)))]
            return max(found) if found else None
        if len(ra) < 2 or len(rb) < 2:
            return None
        sa, sb = (max(evidence.pooled_sigma([r]) or 0.0, self._floor) for r in (ra, rb))
        se = evidence.MEDIAN_SE * math.sqrt(sa ** 2 / len(ra) + sb ** 2 / len(rb))
        return math.exp(evidence.Z * se)

    def interval(self, key_a, key_b):
        a, b = self.level(key_a), self.level(key_b)
        if not a or not b:
            return None
        ratio = b / a
        ra, rb = self.rounds.get(key_a) or [], self.rounds.get(key_b) or []
        if not ra or not rb:
            # asv's medians alone: no spread known, the ratio stands as measured
            return Interval.exact(ratio)
        resolution = self.resolution(key_a, key_b)
        if resolution is None:
            return None
        j = evidence.judge(ra, rb, resolution, evidence.FACTOR)
        return Interval(ratio, ratio / resolution, ratio * resolution,
                        separated=j.direction > 0 and j.separated)
