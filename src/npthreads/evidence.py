"""The evidence behind every verdict: rounds, their noise, the control.

On a shared VM the noise lives between processes, not between samples: the
samples of one asv round (one process, one stretch of machine state) agree,
rounds minutes apart do not. A test on pooled samples treats 18 correlated
samples as 18 independent ones and overstates significance: the A/A pair
(a numpy against the pin-following environment, the same numpy) then flags
rows that no other run flags again (docs/method.md). So, as performance
engineers do with replicated experiments,
the *round* is the unit here:

- each round is summarised by the median of its samples (asv appends each
  round's samples in order; the suite takes a fixed ``repeat`` per round, so
  the flat list cuts back into rounds);
- a side's estimate is the median of its round summaries;
- a row's noise is the robust spread (1.4826 x MAD) of log round summaries
  around their own environment's median, pooled over every environment of
  the run and of the machine's other full runs (8 environments x 6 rounds a
  run);
- the negative control calibrates it: the pin-following environment installs
  the same numpy as one matrix entry, so their differences are pure noise.
  Scaled by the noise model, those differences should look like a standard
  normal; the factor by which their 90th percentile exceeds the normal's
  widens every row's resolution (never narrows it);
- the machine's other runs add how far the row of one environment moves
  against the others from one session to the next (``interaction_sd``);
- a row's resolution, the smallest change it could have detected, is ``Z``
  standard errors of the difference from those parts;
- a row is changed only when its estimate is beyond ``max(factor,
  resolution)`` *and* its rounds separate (Mann-Whitney U over round
  summaries, p < ``ROUND_ALPHA``); a bimodal row (BLAS threads above the
  core count: a round gets one vCPU or two) also needs its fast rounds to
  have moved, so a different share of slow rounds alone is shown, not gated.

Plain functions and dataclasses; no numpy, so the tools read results where
only the standard library is present.
"""

import math
import statistics
from dataclasses import dataclass, field

from . import blasfacts, stats

# The least change worth a verdict, whatever a row's resolution: resolutions
# of single-threaded rows here reach a few percent, and an injected 10%
# slowdown must be called.
FACTOR = 1.05
# Calibrated standard errors a change must exceed: the A/A differences are
# heavier-tailed than a normal, and Z = 3 let some through; single-threaded
# rows still resolve a 10% slowdown (the calibration: docs/method.md).
Z = 4.0
# The rank test over round summaries only has to show that the rounds as a
# whole moved; the magnitude beyond ``Z`` calibrated errors is what keeps
# false calls out. 0.01 called real slowdowns "unstable" on a busy machine,
# and 4 against 4 rounds can reach 0.029.
ROUND_ALPHA = 0.05
# Rounds a run's typical row needs to count as a run of this method.
MIN_ROUNDS = 4
# A row whose resolution is wider than this cannot resolve anything useful.
USEFUL = 1.5
# Two groups of rounds further apart than this ratio make a bimodal row.
BIMODAL_GAP = 1.5
# The normal's 90th percentile of |z|.
_Z90 = 1.6449
# Standard error of a median relative to a mean's, for normal data.
MEDIAN_SE = math.sqrt(math.pi / 2)


def rounds_of(measurement):
    """The median of each round's samples, in the order asv ran them.

    ``per_round`` comes from benchmarks.json (the suite's fixed ``repeat``).
    Where the samples do not divide into it (older results of the suite,
    whose repeat varied from round to round), each sample counts as a
    round: those results overstate their own precision, as they always did.
    """
    samples = [s for s in measurement.samples if s is not None and math.isfinite(s) and s > 0]
    per = measurement.per_round
    if not per or len(samples) % per:
        return samples
    return [statistics.median(samples[i:i + per]) for i in range(0, len(samples), per)]


def bimodal_split(values):
    """(fast, slow) round summaries if they fall into two groups more than
    ``BIMODAL_GAP`` apart, else None."""
    ordered = sorted(v for v in values if v > 0)
    if len(ordered) < 2:
        return None
    gaps = [(ordered[i + 1] / ordered[i], i) for i in range(len(ordered) - 1)]
    ratio, i = max(gaps)
    if ratio < BIMODAL_GAP:
        return None
    return ordered[:i + 1], ordered[i + 1:]


def describe_distribution(values, fmt):
    """"6 rounds 11.2-11.9 ms" or, bimodal, "4/6 rounds ~11 ms, 2/6 ~110 ms"."""
    if not values:
        return "no rounds"
    split = bimodal_split(values)
    n = len(values)
    if split:
        fast, slow = split
        return (f"{len(fast)}/{n} rounds ~{fmt(statistics.median(fast))}, "
                f"{len(slow)}/{n} ~{fmt(statistics.median(slow))}")
    return f"{n} rounds {fmt(min(values))}-{fmt(max(values))}"


def disturbed(rounds):
    """Why a baseline's rounds are too scattered to carry a speed-up, or "":
    a serial baseline disturbed in one run would otherwise credit a pool
    with a speed-up no other environment shows."""
    if len(rounds) < 2:
        return ""
    if bimodal_split(rounds):
        return "its rounds fall into two groups"
    spread = max(rounds) / min(rounds)
    if spread > USEFUL:
        return f"its rounds span {spread:.1f}x"
    return ""


@dataclass
class Noise:
    """What the runs say about each row's noise on this machine.

    Keys are (benchmark, params) as ``compare`` uses them."""
    sigma: dict = field(default_factory=dict)     # key -> robust SD of log round summaries
    session: dict = field(default_factory=dict)   # key -> SD of env x session interaction
    calibration: float = 1.0                      # >= 1: widens every resolution
    control_pair: tuple = ()                      # ((env, commit), (env, commit)), newest
    control_rows: int = 0                         # rows the calibration saw
    runs: int = 1                                 # runs (commits) the model pools
    session_runs: int = 0                         # other runs behind ``session``

    def resolution(self, key, n_a, n_b):
        """The smallest change (a ratio >= 1) this row could have detected
        with ``n_a`` and ``n_b`` rounds; None if its noise is unknown.

        ``Z`` standard errors of the difference: the rounds' part, widened by
        the negative control's calibration, and, once the machine has several
        runs, how far the row of one environment moves against the others
        from one session to the next (both sides move: twice its variance)."""
        sigma = self.sigma.get(key)
        if sigma is None or not n_a or not n_b:
            return None
        se = self.calibration * MEDIAN_SE * sigma * math.sqrt(1 / n_a + 1 / n_b)
        between = self.session.get(key, 0.0)
        return math.exp(Z * math.sqrt(se ** 2 + 2 * between ** 2))

    def floor(self, key):
        """The resolution this row would reach with unlimited rounds in one
        run: what is left is how far its environments move against each
        other between sessions, which more rounds of one session cannot
        average out (only more runs: ``npthreads.pooled``)."""
        return math.exp(Z * math.sqrt(2) * self.session.get(key, 0.0))


def interaction_sd(table):
    """SD of the environment x session interaction of one row: ``table``
    maps environment -> {commit: log median}, environments measured in every
    session. The residual of the additive model (environment effect +
    session effect) over its (E-1)(S-1) degrees of freedom: how much the
    row moves in one environment against the others between sessions."""
    envs = [e for e in table if len(table[e]) >= 2]
    sessions = set.intersection(*(set(table[e]) for e in envs)) if envs else set()
    if len(envs) < 2 or len(sessions) < 2:
        return None
    sessions = sorted(sessions)
    grid = [[table[e][c] for c in sessions] for e in envs]
    grand = statistics.fmean(v for row in grid for v in row)
    env_mean = [statistics.fmean(row) for row in grid]
    ses_mean = [statistics.fmean(row[j] for row in grid) for j in range(len(sessions))]
    ss = sum((grid[i][j] - env_mean[i] - ses_mean[j] + grand) ** 2
             for i in range(len(envs)) for j in range(len(sessions)))
    return math.sqrt(ss / ((len(envs) - 1) * (len(sessions) - 1)))


def estimate(rounds_a, rounds_b):
    """Ratio of the medians of round summaries, b over a."""
    if not rounds_a or not rounds_b:
        return None
    a, b = statistics.median(rounds_a), statistics.median(rounds_b)
    return b / a if a > 0 else None


def pooled_sigma(groups):
    """Robust SD of log round summaries around each group's own median,
    pooled over groups (one group per environment and commit)."""
    residuals = []
    for rounds in groups:
        logs = [math.log(r) for r in rounds if r > 0]
        if len(logs) >= 2:
            mid = statistics.median(logs)
            residuals.extend(v - mid for v in logs)
    if len(residuals) < 3:
        return None
    return 1.4826 * statistics.median(abs(v) for v in residuals)


def build_noise(rounds_by_env, control_pairs=()):
    """The noise model of a set of runs.

    ``rounds_by_env`` maps (environment, commit) -> {key: round summaries}
    for every environment of the runs pooled; ``control_pairs`` lists the
    (environment, commit) twins that ran the same numpy, one pair a run."""
    keys = set()
    for rows in rounds_by_env.values():
        keys.update(rows)
    noise = Noise()
    for key in keys:
        sigma = pooled_sigma([rows[key] for rows in rounds_by_env.values() if key in rows])
        if sigma is not None:
            # A row measured with a coarse clock can show zero spread: one
            # part in a thousand is the least a round is trusted to.
            noise.sigma[key] = max(sigma, 1e-3)
    z_scores = []
    for pair in control_pairs:
        if not all(env in rounds_by_env for env in pair):
            continue
        a, b = (rounds_by_env[env] for env in pair)
        for key in set(a) & set(b):
            ratio = estimate(a[key], b[key])
            if ratio is None or key not in noise.sigma:
                continue
            se = MEDIAN_SE * noise.sigma[key] * math.sqrt(1 / len(a[key]) + 1 / len(b[key]))
            z_scores.append(abs(math.log(ratio)) / se)
        noise.control_pair = tuple(pair)
    if z_scores:
        q90 = sorted(z_scores)[min(len(z_scores) - 1, int(0.9 * len(z_scores)))]
        noise.calibration = max(1.0, q90 / _Z90)
        noise.control_rows = len(z_scores)
    return noise


@dataclass
class Judgement:
    """One row's evidence and what it says."""
    direction: int            # +1 slower, -1 faster, 0 neither beyond the threshold
    separated: bool           # rounds separate (rank test)
    ratio: float | None
    p: float | None
    resolution: float | None  # smallest detectable change, as a ratio
    threshold: float          # max(factor, resolution)
    too_few: bool = False     # the rank test could never reach ROUND_ALPHA
    bimodal: bool = False     # judged on the fast rounds (see ``judge``)
    share_changed: bool = False  # bimodal: the share of slow rounds differs


def _one_test(rounds_a, rounds_b, resolution, factor, alpha=ROUND_ALPHA):
    ratio = estimate(rounds_a, rounds_b)
    threshold = max(factor, resolution or factor)
    if not stats.can_decide(len(rounds_a), len(rounds_b), alpha):
        return Judgement(0, False, ratio, None, resolution, threshold, too_few=True)
    _, p = stats.mann_whitney_u(rounds_a, rounds_b)
    direction = 0
    if ratio is not None:
        if ratio > threshold:
            direction = 1
        elif ratio < 1 / threshold:
            direction = -1
    return Judgement(direction, p < alpha, ratio, p, resolution, threshold)


def judge(rounds_a, rounds_b, resolution, factor, alpha=ROUND_ALPHA):
    """The verdict's ingredients for one row; ``compare`` names it.

    A bimodal row (either side's rounds in two groups, e.g. BLAS threads
    above the core count getting one vCPU or two) is judged on its fast
    rounds, the state a change in the code moves: in the first run of issue
    8's method the A/A pair's 2e5 fill had 3 of 6 rounds at 48 us against
    29 us, and judged on all rounds it looked 0.78x "faster". A side whose
    rounds are all slow has no fast group and is compared whole, so losing
    the fast state altogether is still a change. A different share of slow
    rounds alone is reported (``share_changed``), not gated."""
    split_a, split_b = bimodal_split(rounds_a), bimodal_split(rounds_b)
    whole = _one_test(rounds_a, rounds_b, resolution, factor, alpha)
    if not (split_a or split_b) or whole.too_few:
        return whole
    fast_a = split_a[0] if split_a else rounds_a
    fast_b = split_b[0] if split_b else rounds_b
    whole.bimodal = True
    # Changed when all the rounds separate beyond the threshold and the fast
    # rounds moved the same way by more than the factor too (the fast groups
    # alone are often too few to test: 1 or 2 fast rounds of 6).
    fast_ratio = estimate(fast_a, fast_b) or 1.0
    moved = ((whole.direction > 0 and fast_ratio > factor)
             or (whole.direction < 0 and fast_ratio < 1 / factor))
    if moved and whole.separated:
        return whole
    whole.share_changed = bool(whole.direction)
    whole.direction, whole.separated = 0, False
    return whole


# -- the negative control and the noise model of a run -------------------------

def control_pair(measurements, commit):
    """The two environments at ``commit`` that ran the same numpy: the
    pin-following one and the matrix entry it duplicates, found from the
    suite's ``track_numpy_version`` (or, for results older than that track,
    the pin the reader found for the commit, ``Measurement.pinned_numpy``).
    None if there is no such pair."""
    # environments with a swapped OpenBLAS run the same numpy on purpose:
    # they are the OpenBLAS axis, not a control
    at_commit = [m for m in measurements if m.commit == commit and m.axis == "numpy"]
    envs = {m.env_name: m.numpy for m in at_commit}
    pinned = [e for e, numpy in envs.items() if numpy == "pinned"]
    if len(pinned) != 1:
        return None
    version = next((blasfacts.version_text(m.value) for m in at_commit
                    if m.env_name == pinned[0] and m.benchmark.endswith("track_numpy_version")
                    and m.status == "ok" and m.value), None)
    version = version or next((m.pinned_numpy for m in at_commit
                               if m.env_name == pinned[0] and m.pinned_numpy), None)
    twins = [e for e, numpy in envs.items() if numpy == version]
    return (twins[0], pinned[0]) if len(twins) == 1 else None


def is_timed(benchmark):
    """time_ and timeraw_ benchmarks have rounds; track_ ones one value."""
    return benchmark.rsplit(".", 1)[-1].startswith("time")


def method_runs(measurements):
    """Commits whose run is a full run of this method: a negative control
    and at least ``MIN_ROUNDS`` rounds in its typical row. Newest first."""
    rounds, dates = {}, {}
    for m in measurements:
        dates[m.commit] = max(dates.get(m.commit, 0), m.date, m.started_at)
        if m.status == "ok" and is_timed(m.benchmark):
            # samples that do not divide into the suite's rounds: not this method
            whole = m.per_round and m.samples and len(m.samples) % m.per_round == 0
            rounds.setdefault(m.commit, []).append(
                len(m.samples) // m.per_round if whole else 0)
    full = [c for c, counts in rounds.items()
            if statistics.median(counts) >= MIN_ROUNDS and control_pair(measurements, c)]
    return sorted(full, key=dates.get, reverse=True)


def noise_of(measurements, commits):
    """The noise model of ``commits``, pooled with every full run of this
    method on the machine (``method_runs``): each row's spread over rounds
    and the negative control's calibration then come from every session the
    machine has recorded, not from one run's 48 rounds, and the machine's
    other runs say how far each row moves between sessions. Within one run a
    row's spread and the calibration move from run to run, and a verdict
    flipped with them although the ratio itself held; pooled, every run of
    a row is judged against the same resolution."""
    full = set(method_runs(measurements))
    pool = set(commits) | full
    groups = {}
    for m in measurements:
        if m.commit in pool and m.status == "ok" and is_timed(m.benchmark):
            rounds = rounds_of(m)
            if rounds:
                groups.setdefault((m.env_name, m.commit), {})[m.key] = rounds
    pairs = []
    for commit in sorted(pool, key=lambda c: c in commits):   # the compared runs last
        found = control_pair(measurements, commit)
        if found:
            pairs.append(tuple((env, commit) for env in found))
    noise = build_noise(groups, pairs)
    noise.runs = len({commit for _, commit in groups})
    # Between sessions: the machine's other full runs, never the compared
    # ones, whose own change would otherwise pass for session noise (and the
    # reproducibility report judges each run by the others: no circle).
    others = full - set(commits)
    tables, sampling = {}, {}
    for (env, commit), rows in groups.items():
        if commit not in others:
            continue
        for key, rounds in rows.items():
            tables.setdefault(key, {}).setdefault(env, {})[commit] = \
                math.log(statistics.median(rounds))
            sampling.setdefault(key, []).append(len(rounds))
    for key, table in tables.items():
        sd = interaction_sd(table)
        if sd is None:
            continue
        # The residual of each (environment, session) median also holds that
        # median's own sampling error, which ``Noise.resolution`` already
        # counts from the rounds: subtract its mean so it is not counted
        # twice (for ExpInParts' serial 2e7 row, 0.034 -> 0.030).
        sigma = noise.sigma.get(key, 0.0)
        mean_var = statistics.fmean((MEDIAN_SE * sigma) ** 2 / n for n in sampling[key])
        noise.session[key] = math.sqrt(max(0.0, sd ** 2 - mean_var))
    noise.session_runs = len(others) if noise.session else 0
    return noise
