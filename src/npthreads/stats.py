"""Statistics of measured runs, in one place: the summary of a
set of runs, the notch interval for its median, and the significance test
behind ``npthreads compare``.

- ``summarise``: median, quartiles and range (a ``Summary``), as ``seed``
  reports its programs and ``advise`` its cells;
- ``Summary.notch``: the box-plot notch, a ~95% interval for the median that
  ``seed`` judges the tutorial's claims by;
- ``mann_whitney_u`` (with ``min_p_value`` and ``can_decide``): the rank test
  behind ``evidence.judge``;
- ``random_effects``: a random-effects meta-analysis (DerSimonian-Laird, with
  the Hartung-Knapp guard), how ``npthreads.pooled`` combines one contrast
  measured in several runs.

Standard library only, so any module may import it.

The Mann-Whitney U test: the same test, tie handling and threshold as asv
(``asv._stats``, which ``asv continuous`` uses), written out here for two
reasons: the comparison reports the p-value itself, not only asv's yes/no,
and it runs wherever ``npthreads`` is installed, without asv (whose
``_stats`` is private). The tests check the p-values against asv's own on
random and tied samples. The exact distribution of U is used up to 20
samples a side, the normal approximation above, as asv does. Ties are broken
the least significant way, so a tie never makes a difference look real.
"""

import functools
import math
import statistics
from dataclasses import dataclass


# -- summaries and the notch --------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """Median, quartiles and range of some runs, and the runs themselves."""
    median: float
    q25: float                # quartiles by linear interpolation, as numpy's percentile
    q75: float
    min: float
    max: float
    runs: tuple               # in the order run

    def notch(self):
        """The box-plot notch: median +- 1.57 IQR / sqrt(n), a ~95% interval for
        the median (McGill, Tukey and Larsen 1978). It narrows as runs are added,
        where the IQR alone (the spread of single runs) would not."""
        half = 1.57 * (self.q75 - self.q25) / math.sqrt(len(self.runs))
        return self.median - half, self.median + half


def summarise(values):
    """The ``Summary`` of one or more values; a single value is its own median,
    quartiles and range."""
    runs = tuple(values)
    ordered = sorted(runs)
    if len(ordered) >= 2:
        q25, _, q75 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q25 = q75 = ordered[0]
    return Summary(median=statistics.median(ordered), q25=q25, q75=q75,
                   min=ordered[0], max=ordered[-1], runs=runs)


# -- the significance test ----------------------------------------------------

# asv's threshold: below it a difference counts as real.
P_THRESHOLD = 0.002
_EXACT_UP_TO = 20


def min_p_value(m, n):
    """The smallest two-sided p-value the test can give with m and n samples
    (two samples that do not overlap at all): with fewer samples than make
    this fall below the threshold, no difference can be shown, however large.

    asv's own guard uses the one-sided 1/binom(m+n, m); the test is two-sided,
    so with 6 against 6 samples asv runs it although its p is never below
    2/924 = 0.0022: here that is "too few samples" too."""
    if m == 0 or n == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(m + n, min(m, n)))


def can_decide(m, n, threshold=P_THRESHOLD):
    """Whether m against n samples can ever reach significance."""
    return min_p_value(m, n) < threshold


def mann_whitney_u(x, y):
    """Two-sided Mann-Whitney U test of samples ``x`` against ``y``.

    Returns ``(u, p)``; u counts the pairs where x is larger."""
    x = [v for v in x if not math.isnan(v)]
    y = [v for v in y if not math.isnan(v)]
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        return 0, 1.0
    u = sum(1 for a in x for b in y if a > b)
    ties = sum(1 for a in x for b in y if a == b)
    half = m * n // 2

    # Conservative tie breaking: resolve ties towards the middle of the
    # distribution, i.e. the least significant outcome (as asv does).
    if u <= half and u + ties >= half:
        ties = half - u
    ux1 = min(u, m * n - u)
    ux2 = min(u + ties, m * n - (u + ties))
    if ux1 >= ux2:
        ux = ux1
    else:
        u, ux = u + ties, ux2

    if max(m, n) <= _EXACT_UP_TO:
        cdf = _u_cdf(m, n)
        p = cdf[ux] + 1.0 - cdf[max(half, m * n - ux - 1)]
    else:
        var = m * n * (m + n + 1) / 12
        z = (ux - m * n / 2) / math.sqrt(var)
        p = math.erfc(-z / math.sqrt(2))  # 2 * Phi(z)
    return u, min(p, 1.0)


@functools.lru_cache(maxsize=512)
def _u_cdf(m, n):
    """Cumulative distribution of U for m and n samples, as a tuple indexed
    by u: counts of orderings with each U (Mann & Whitney's recursion
    r(m, n, u) = r(m-1, n, u-n) + r(m, n-1, u)) over binom(m+n, m)."""
    # counts[j][u] for the current i, built up one x-sample at a time.
    prev = [[1] for _ in range(n + 1)]  # i = 0: U is 0 whatever j is
    for i in range(1, m + 1):
        cur = [[1]]  # j = 0: U is 0
        for j in range(1, n + 1):
            size = i * j + 1
            row = [0] * size
            # the largest value is an x: it beats all j y's -> r(i-1, j, u-j)
            for u, c in enumerate(prev[j]):
                row[u + j] += c
            # the largest value is a y: it adds nothing -> r(i, j-1, u)
            for u, c in enumerate(cur[j - 1]):
                row[u] += c
            cur.append(row)
        prev = cur
    counts = prev[n]
    total = math.comb(m + n, m)
    out, running = [], 0
    for c in counts:
        running += c
        out.append(running / total)
    return tuple(out)


# -- random-effects meta-analysis ------------------------------------------------

@dataclass(frozen=True)
class Pooled:
    """One effect estimated in several runs, combined.

    Each run estimates the same quantity (a log ratio) with its own sampling
    variance; the runs also differ by more than their sampling explains
    (a session lands on another host, an environment's level moves against
    the others by 3-16% between sessions on this VM). ``tau2`` is that
    between-run variance, estimated from the runs themselves."""
    estimate: float      # the pooled effect
    se: float            # its standard error
    tau2: float          # between-run variance (DerSimonian-Laird)
    k: int               # runs pooled

    def z(self):
        return self.estimate / self.se if self.se > 0 else math.inf * (self.estimate or 0)


def random_effects(estimates, variances):
    """DerSimonian-Laird random-effects pooling of ``estimates`` with their
    within-run ``variances``; None for fewer than two usable runs.

    The standard error is the larger of the DerSimonian-Laird one and the
    Hartung-Knapp one (the weighted spread of the runs around the pooled
    value): with the few runs a machine has, DerSimonian-Laird's tau2 is
    often estimated at 0 although the runs scatter, and its interval is then
    too narrow (IntHout, Ioannidis and Borm 2014); taking the larger of the
    two never claims more than either."""
    pairs = [(y, v) for y, v in zip(estimates, variances)
             if math.isfinite(y) and math.isfinite(v) and v > 0]
    k = len(pairs)
    if k < 2:
        return None
    w = [1 / v for _, v in pairs]
    sw = sum(w)
    fixed = sum(wi * y for wi, (y, _) in zip(w, pairs)) / sw
    q = sum(wi * (y - fixed) ** 2 for wi, (y, _) in zip(w, pairs))
    c = sw - sum(wi * wi for wi in w) / sw
    tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    ws = [1 / (v + tau2) for _, v in pairs]
    sws = sum(ws)
    mu = sum(wi * y for wi, (y, _) in zip(ws, pairs)) / sws
    se_dl = math.sqrt(1 / sws)
    q_hk = sum(wi * (y - mu) ** 2 for wi, (y, _) in zip(ws, pairs)) / (k - 1)
    se_hk = math.sqrt(q_hk / sws)
    return Pooled(estimate=mu, se=max(se_dl, se_hk), tau2=tau2, k=k)


def session_effects(rows, min_groups, iterations=10):
    """The common movement of each session, robustly: a two-way median
    polish (Tukey) of log levels, rows x sessions, in which each group of
    rows (a benchmark) has one vote per session.

    ``rows`` maps a row to (its group, {session: log level}). A row's effect
    is the median of its levels less the sessions' effects; a session's
    effect is the median over groups of each group's median residual there,
    so a change in a few groups moves it as little as a change in a few rows
    moves a median. Sessions with fewer than ``min_groups`` groups get no
    effect (0.0: nothing is removed). Returns {session: effect}, the median
    effect 0."""
    # a row seen in one session says nothing of how sessions differ
    rows = {r: v for r, v in rows.items() if len(v[1]) > 1}
    sessions = {s for _, levels in rows.values() for s in levels}
    effect = dict.fromkeys(sessions, 0.0)
    estimable = set()
    for _ in range(iterations):
        row_effect = {r: statistics.median(y - effect[s] for s, y in levels.items())
                      for r, (_, levels) in rows.items()}
        by_session = {}
        for r, (group, levels) in rows.items():
            for s, y in levels.items():
                by_session.setdefault(s, {}).setdefault(group, []).append(y - row_effect[r])
        for s in sessions:
            groups = by_session.get(s, {})
            if len(groups) >= min_groups:
                effect[s] = statistics.median(statistics.median(v) for v in groups.values())
                estimable.add(s)
    if estimable:
        centre = statistics.median(effect[s] for s in estimable)
        for s in estimable:
            effect[s] -= centre
    return effect
