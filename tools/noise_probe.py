"""Where does a round's noise live on this machine? (issue 16, item 3 and 4)

Runs each workload in several fresh processes, one after the other; in each
process it takes BLOCKS blocks of three ~20 ms samples, BLOCK_GAP seconds
apart, as an asv round takes its three samples. Right before each block it
records the machine's state of the moment: a 2-thread probe (did both vCPUs
run at once: the time of two threads spinning vs one) and a memory-bandwidth
probe (a 64 MiB copy). It prints, per workload:

- the spread of samples within a block (one moment),
- the spread of blocks within a process (moments BLOCK_GAP apart),
- the spread of the first block between processes (what asv's rounds see),
- how much of the blocks' variance the state probes explain (R^2 of a
  least-squares fit of log block time on the two probes).

    .venv/bin/python tools/noise_probe.py [processes]

A measurement, not a test: run it with nothing else running.
"""

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import timeit

BLOCKS, BLOCK_GAP = 4, 0.5
WORKLOADS = ("exp", "mm", "fill")


def _child(kind):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np

    if kind == "exp":
        a, o = np.ones(200_000), np.ones(200_000)
        work = lambda: np.exp(a, out=o)  # noqa: E731
    elif kind == "mm":
        left = [np.ones((64, 64)) for _ in range(128)]
        right = [np.ones((64, 64)) for _ in range(128)]
        work = lambda: [x.dot(y) for x, y in zip(left, right)]  # noqa: E731
    else:
        arrays = [np.ones((128, 128)) for _ in range(256)]
        work = lambda: [x.fill(0) for x in arrays]  # noqa: E731
    src, dst = np.ones(8 << 20), np.ones(8 << 20)

    def bandwidth():
        start = timeit.default_timer()
        np.copyto(dst, src)
        return 2 * src.nbytes / (timeit.default_timer() - start) / 1e9

    def two_threads():
        # a pure-numpy spin in two threads (the GIL is released in np.exp):
        # ~1.0 when both vCPUs ran at once, ~2.0 when they took turns
        x = [np.ones(50_000) for _ in range(2)]

        def spin(v):
            for _ in range(40):
                np.exp(v, out=v)
        start = timeit.default_timer()
        spin(x[0])
        one = timeit.default_timer() - start
        threads = [threading.Thread(target=spin, args=(v,)) for v in x]
        start = timeit.default_timer()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return (timeit.default_timer() - start) / one

    work()
    start = timeit.default_timer()
    work()
    number = max(1, int(0.02 / (timeit.default_timer() - start)))
    blocks = []
    for _ in range(BLOCKS):
        state = (two_threads(), bandwidth())
        samples = []
        for _ in range(3):
            start = timeit.default_timer()
            for _ in range(number):
                work()
            samples.append((timeit.default_timer() - start) / number)
        blocks.append({"samples": samples, "two_threads": state[0], "gbytes": state[1]})
        time.sleep(BLOCK_GAP)
    print(json.dumps(blocks))


def robust_sd(values):
    logs = [math.log(v) for v in values]
    mid = statistics.median(logs)
    return 1.4826 * statistics.median(abs(v - mid) for v in logs)


def r_squared(y, xs):
    """R^2 of the least-squares fit y ~ 1 + xs (two regressors)."""
    n = len(y)
    cols = [[1.0] * n] + xs
    # normal equations, 3x3, solved by Gaussian elimination
    a = [[sum(ci[k] * cj[k] for k in range(n)) for cj in cols] for ci in cols]
    b = [sum(ci[k] * y[k] for k in range(n)) for ci in cols]
    m = len(cols)
    for i in range(m):
        p = max(range(i, m), key=lambda r: abs(a[r][i]))
        a[i], a[p], b[i], b[p] = a[p], a[i], b[p], b[i]
        if abs(a[i][i]) < 1e-12:
            return 0.0
        for r in range(i + 1, m):
            f = a[r][i] / a[i][i]
            a[r] = [x - f * yv for x, yv in zip(a[r], a[i])]
            b[r] -= f * b[i]
    coef = [0.0] * m
    for i in reversed(range(m)):
        coef[i] = (b[i] - sum(a[i][j] * coef[j] for j in range(i + 1, m))) / a[i][i]
    fit = [sum(coef[j] * cols[j][k] for j in range(m)) for k in range(n)]
    mean = statistics.fmean(y)
    total = sum((v - mean) ** 2 for v in y)
    return 1 - sum((v - f) ** 2 for v, f in zip(y, fit)) / total if total else 0.0


def main(processes):
    runs = {kind: [] for kind in WORKLOADS}
    for i in range(processes):
        for kind in WORKLOADS:
            out = subprocess.run([sys.executable, __file__, "--child", kind],
                                 capture_output=True, text=True, check=True).stdout
            runs[kind].append(json.loads(out))
        print(f"[noise_probe] {i + 1}/{processes} processes of each workload", file=sys.stderr)
    print(f"{'workload':8s} {'in a block':>10s} {'blocks of a process':>20s} "
          f"{'first block between processes':>30s} {'R^2 of state probes':>20s}")
    for kind, procs in runs.items():
        within = statistics.median(robust_sd(b["samples"]) for p in procs for b in p)
        residuals, y, x1, x2 = [], [], [], []
        for p in procs:
            meds = [statistics.median(b["samples"]) for b in p]
            mid = statistics.median(math.log(v) for v in meds)
            residuals += [math.log(v) - mid for v in meds]
            y += [math.log(v) - mid for v in meds]
            x1 += [b["two_threads"] for b in p]
            x2 += [math.log(b["gbytes"]) for b in p]
        across = 1.4826 * statistics.median(abs(v) for v in residuals)
        first = robust_sd([statistics.median(p[0]["samples"]) for p in procs])
        print(f"{kind:8s} {within:10.3f} {across:20.3f} {first:30.3f} "
              f"{r_squared(y, [x1, x2]):20.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
