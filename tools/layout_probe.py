"""Is the environment x session term of single-threaded rows the page cache?
(issue 16, item 4)

Within one run a single-threaded row cannot resolve below about 1.5x here:
its environments move against each other by a median 7.8% SD from one
session to the next (``evidence.interaction_sd``), and one session samples
that once. Every process of an environment in a session maps the same
physical pages of numpy's and OpenBLAS's shared libraries (the page cache
keeps them from the first load), so a code layout that is good or bad for
the caches would last the whole session and change with the next one. If
so, dropping the page cache before each group of processes gives each
group its own layout, and the groups' means spread apart; without the drop
they share one.

Two arms, ABBA: "keep" (one drop, then GROUPS groups) and "drop" (a drop
before every group); a group is PER_GROUP fresh processes of the given
interpreter, each timing single-threaded workloads (the median of 21
samples). Per workload and arm it prints the spread within groups and the
between-group SD component, with a permutation p-value for it.

    sudo .venv/bin/python tools/layout_probe.py /path/to/env/bin/python [/another/python]

Needs root (``/proc/sys/vm/drop_caches``). A measurement, not a test: run it
with nothing else running.
"""

import json
import math
import os
import random
import statistics
import subprocess
import sys

GROUPS, PER_GROUP, PERMUTATIONS = 6, 5, 2000

CHILD = r"""
import json, os, statistics, timeit
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np
rng = np.random.default_rng(0)
a, o = np.ones(200_000), np.empty(200_000)
g = [rng.random((128, 128)) for _ in range(2)]
v = [rng.random(16_000) for _ in range(2)]
m = [rng.random((384, 384)) for _ in range(2)]
work = {
    "exp 2e5": (lambda: np.exp(a, out=o), 20),
    "fill 2e5": (lambda: o.fill(1.5), 40),
    "gemm 128": (lambda: g[0] @ g[1], 20),
    "dot 16e3": (lambda: v[0] @ v[1], 200),
    "matmul 384": (lambda: m[0] @ m[1], 2),
}
out = {}
for name, (fn, number) in work.items():
    fn()
    out[name] = statistics.median(timeit.repeat(fn, number=number, repeat=21)) / number
print(json.dumps(out))
"""


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def group(python):
    return [json.loads(subprocess.run([python, "-c", CHILD], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(PER_GROUP)]


def arm(python, drop_each):
    drop_caches()
    groups = []
    for i in range(GROUPS):
        if drop_each and i:
            drop_caches()
        groups.append(group(python))
        print(f"  {'drop' if drop_each else 'keep'} group {i + 1}/{GROUPS}", file=sys.stderr,
              flush=True)
    return groups


def between_sd(groups):
    """(between, within): the SD of the group means beyond what the spread
    within groups explains, and that spread."""
    within = statistics.fmean(statistics.variance(g) for g in groups)
    means = [statistics.fmean(g) for g in groups]
    return math.sqrt(max(0.0, statistics.variance(means) - within / len(groups[0]))), \
        math.sqrt(within)


def permutation_p(groups, rng):
    observed = statistics.variance([statistics.fmean(g) for g in groups])
    pool = [v for g in groups for v in g]
    k = len(groups[0])
    hits = 0
    for _ in range(PERMUTATIONS):
        rng.shuffle(pool)
        shuffled = [pool[i:i + k] for i in range(0, len(pool), k)]
        hits += statistics.variance([statistics.fmean(g) for g in shuffled]) >= observed
    return (hits + 1) / (PERMUTATIONS + 1)


def main(pythons):
    if os.geteuid() != 0:
        print("layout_probe: needs root to drop the page cache", file=sys.stderr)
        return 2
    rng = random.Random(0)
    for python in pythons:
        print(f"{python}:", flush=True)
        arms = [("keep" if not drop_each else "drop", arm(python, drop_each))
                for drop_each in (False, True, True, False)]         # ABBA
        names = list(arms[0][1][0][0])
        print(f"  {'workload':12s} {'arm':5s} {'within SD':>9s} {'between SD':>10s} {'p':>6s}")
        for name in names:
            for label, groups in arms:
                logs = [[math.log(p[name]) for p in g] for g in groups]
                between, within = between_sd(logs)
                print(f"  {name:12s} {label:5s} {within:9.3f} {between:10.3f} "
                      f"{permutation_p(logs, rng):6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
