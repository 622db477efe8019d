"""Evidence pooled over a machine's full runs: one verdict from every session.

Each full run (one ``make bench``: every environment of the numpy matrix,
interleaved rounds, the pin-following environment as a negative control) is a
replication of the same experiment. Within one run a row's resolution is
bounded by its rounds and by how far an environment's level moves against
the others from one session to the next, which one session cannot average
out: 1.87-2.62x for threaded scenarios on this VM. Across runs that
movement is sampled once per run, so combining the runs narrows it as runs
accumulate.

How (``History.contrast``):

- per run, the contrast of two cells (the same row in two environments, or
  two cells of one environment for the advice) is the log ratio of their
  medians of round summaries, with its sampling variance from the row's
  spread of rounds pooled over every run (``evidence.build_noise``), as the
  per-run verdicts use it (``evidence.noise_of``). A run's own spread made
  a quiet run weigh 25x the others: the ninth run's DotBlasThreads 1e5 row
  at ``cores`` had a spread of 0.034 against 0.13-0.23 in the other runs,
  and its 0.90x A/A difference, which its own per-run verdict did not call,
  was flagged pooled over the newest 3-5 runs (issue 16). With one spread,
  the runs weigh by their rounds and the between-run scatter decides;
- the runs are combined by a random-effects meta-analysis
  (``stats.random_effects``): the between-run variance comes from the runs
  themselves, never from an assumed figure;
- the negative control calibrates it, as within a run: the pin-following
  environment against the matrix entry with the same numpy, pooled over the
  same runs, should give standard normal z-scores; the factor by which their
  90th percentile exceeds the normal's widens every pooled resolution;
- a pooled contrast is a change when its estimate lies beyond
  ``max(factor, resolution)``, the resolution being ``evidence.Z``
  calibrated standard errors.

Only runs that measured the same thing are pooled: the same asv benchmark
version as the newest run, and in the pin-following environment the same
numpy (its pin moves between commits).

Plain functions and dataclasses; standard library only.
"""

import math
import statistics
from dataclasses import dataclass, field

from . import blasfacts, evidence, stats

# Runs a pooled verdict needs: with two, the between-run variance rests on
# one degree of freedom.
MIN_RUNS = 3
_Z90 = 1.6449


@dataclass(frozen=True)
class RunEstimate:
    """One run's contrast: log(b / a) and its sampling variance."""
    commit: str
    log_ratio: float
    variance: float


@dataclass(frozen=True)
class Contrast:
    """Cell b against cell a, in every run that measured both, and pooled."""
    per_run: tuple                      # RunEstimate, newest run first
    pooled: stats.Pooled | None         # None: fewer than MIN_RUNS runs
    calibration: float = 1.0

    @property
    def runs(self):
        return self.pooled.k if self.pooled else len(self.per_run)

    @property
    def ratio(self):
        """b / a, pooled (None without a pooled estimate)."""
        return math.exp(self.pooled.estimate) if self.pooled else None

    @property
    def resolution(self):
        """The smallest change (a ratio >= 1) the pooled runs can detect."""
        if not self.pooled:
            return None
        return math.exp(evidence.Z * self.calibration * self.pooled.se)

    def interval(self):
        """(low, high) of b / a at the verdict's confidence, or None."""
        if not self.pooled:
            return None
        half = evidence.Z * self.calibration * self.pooled.se
        return math.exp(self.pooled.estimate - half), math.exp(self.pooled.estimate + half)

    def direction(self, factor=evidence.FACTOR):
        """+1 b slower, -1 b faster, 0 neither beyond max(factor, resolution)."""
        if not self.pooled:
            return 0
        threshold = math.log(max(factor, self.resolution))
        if self.pooled.estimate > threshold:
            return 1
        if self.pooled.estimate < -threshold:
            return -1
        return 0


@dataclass
class History:
    """A machine's full runs, ready to pool.

    ``rounds`` maps (environment, commit) -> {row key: round summaries};
    ``sigma`` maps row key -> robust SD of log rounds, pooled over the runs."""
    runs: list                                       # full runs, newest first
    rounds: dict = field(default_factory=dict)
    sigma: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)     # (commit, benchmark) -> asv version
    numpy: dict = field(default_factory=dict)        # (environment, commit) -> numpy it ran
    controls: dict = field(default_factory=dict)     # commit -> (twin env, pinned env)
    calibration: float = 1.0
    control_rows: int = 0

    def _estimate(self, commit, a, b):
        """RunEstimate of cell b against cell a at ``commit``; a cell is
        (environment, row key). None where either was not measured."""
        ra = self.rounds.get((a[0], commit), {}).get(a[1])
        rb = self.rounds.get((b[0], commit), {}).get(b[1])
        sa, sb = (self.sigma.get(cell[1]) for cell in (a, b))
        if not ra or not rb or sa is None or sb is None:
            return None
        ratio = evidence.estimate(ra, rb)
        if not ratio or ratio <= 0:
            return None
        variance = evidence.MEDIAN_SE ** 2 * (sa ** 2 / len(ra) + sb ** 2 / len(rb))
        return RunEstimate(commit, math.log(ratio), variance)

    def comparable(self, commit, reference, cells):
        """Whether ``commit`` measured ``cells`` as ``reference`` did: the
        same benchmark versions and the same numpy in each environment."""
        for env, key in cells:
            if self.versions.get((commit, key[0])) != self.versions.get((reference, key[0])):
                return False
            if self.numpy.get((env, commit)) != self.numpy.get((env, reference)):
                return False
        return True

    def contrast(self, a, b, reference=None, commits=None):
        """Cell b against cell a pooled over the full runs (or ``commits``)
        comparable with ``reference`` (default: the newest run that measured
        both). A cell is (environment, row key), or a dict commit ->
        (environment, row key) where the environment differs between runs
        (the negative control's twin)."""
        cell_a = a if isinstance(a, dict) else None
        cell_b = b if isinstance(b, dict) else None
        estimates = []
        for commit in (commits or self.runs):
            ca = cell_a.get(commit) if cell_a is not None else a
            cb = cell_b.get(commit) if cell_b is not None else b
            if ca is None or cb is None:
                continue
            if reference is None and cell_a is None and cell_b is None:
                if self._estimate(commit, ca, cb) is None:
                    continue
                reference = commit
            if reference is not None and not self.comparable(commit, reference, (ca, cb)):
                continue
            found = self._estimate(commit, ca, cb)
            if found:
                estimates.append(found)
        pooled = None
        if len(estimates) >= MIN_RUNS:
            pooled = stats.random_effects([e.log_ratio for e in estimates],
                                          [e.variance for e in estimates])
        return Contrast(tuple(estimates), pooled, self.calibration)

    def pair(self, env_a, env_b, key, reference=None):
        """The same row in two environments, pooled."""
        return self.contrast((env_a, key), (env_b, key), reference)

    def control(self, key):
        """The negative control's contrast of ``key``, pooled over every run
        that has one (twin, then pin-following environment)."""
        return self.contrast({c: (pair[0], key) for c, pair in self.controls.items()},
                             {c: (pair[1], key) for c, pair in self.controls.items()})

    def keys(self):
        out = set()
        for rows in self.rounds.values():
            out.update(rows)
        return out


def _numpy_ran(measurements):
    """(environment, commit) -> the numpy version it ran: the suite's own
    track where it ran, else the matrix's requirement."""
    out = {}
    for m in measurements:
        if m.benchmark.endswith("track_numpy_version") and m.status == "ok" and m.value:
            out[(m.env_name, m.commit)] = blasfacts.version_text(m.value)
    for m in measurements:
        out.setdefault((m.env_name, m.commit), m.numpy)
    return out


def history_of(measurements):
    """The ``History`` of a machine's measurements: its full runs of this
    method (``evidence.method_runs``) on the numpy axis, calibrated by their
    negative controls."""
    runs = evidence.method_runs(measurements)
    chosen = set(runs)
    history = History(runs=runs, numpy=_numpy_ran(measurements))
    for m in measurements:
        if m.commit not in chosen:
            continue
        history.versions.setdefault((m.commit, m.benchmark), m.version)
        # the OpenBLAS axis swaps builds into one numpy, the free-threaded
        # axis runs in sessions of its own: not this history's
        if m.axis != "numpy" or m.status != "ok" or not evidence.is_timed(m.benchmark):
            continue
        rounds = evidence.rounds_of(m)
        if rounds:
            history.rounds.setdefault((m.env_name, m.commit), {})[m.key] = rounds
    history.sigma = evidence.build_noise(history.rounds).sigma
    for commit in runs:
        pair = evidence.control_pair(measurements, commit)
        if pair:
            history.controls[commit] = pair
    z_scores = []
    for key in history.keys():
        found = history.control(key)
        if found.pooled and found.pooled.se > 0:
            z_scores.append(abs(found.pooled.estimate) / found.pooled.se)
    if z_scores:
        q90 = sorted(z_scores)[min(len(z_scores) - 1, int(0.9 * len(z_scores)))]
        history.calibration = max(1.0, q90 / _Z90)
        history.control_rows = len(z_scores)
    return history


def median_resolution(contrasts):
    """Median pooled resolution of some contrasts (None if none pooled)."""
    values = [c.resolution for c in contrasts if c.resolution]
    return statistics.median(values) if values else None
