"""Measure the suite's budgets the way a new user meets them.

For each run: a fresh ``git clone`` of this repository into a temporary
folder, then ``make TARGET`` there (which creates .venv and the asv
environments from nothing), timed on the wall clock. Reports the median and
the spread of the runs, and for bench targets the share of timing
benchmarks whose asv spread (IQR / median) is under 5%.

    python tools/budgets.py quick --runs 3
    python tools/budgets.py bench --runs 1
    python tools/budgets.py test --runs 3
    python tools/budgets.py bench-freethreaded --runs 1 --record

``--record`` writes the figures into docs/budgets.md (the table under
"Recorded by tools/budgets.py", one row per target, replaced by the next
recording), so the budgets page is never edited by hand.

A benchmark of the suite, not a test: nothing here passes or fails.
"""

import argparse
import datetime
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from npthreads import results  # noqa: E402

RESULTS_DIR = {"quick": ".asv/quick/results", "bench": "results", "full": ".asv/full/results",
               "bench-openblas": "results", "bench-freethreaded": "results"}
BUDGETS = ROOT / "docs" / "budgets.md"
TABLE = "## Recorded by tools/budgets.py"
HEAD = ("| target | recorded | commit | fresh clones | median | min - max | exit codes |\n"
        "|---|---|---|---|---|---|---|")


def one_run(target, keep):
    work = Path(tempfile.mkdtemp(prefix="npthreads-budget-"))
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    start = time.monotonic()
    code = subprocess.call(["make", target], cwd=clone, stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    share = None
    if target in RESULTS_DIR and code == 0:
        share = stable_share(clone / RESULTS_DIR[target])
    if not keep:
        subprocess.call(["rm", "-rf", str(work)])
    return seconds, code, share


def stable_share(results_dir, limit=0.05):
    """Share of measured timing combinations whose spread is under ``limit``,
    counting only the newest commit (a clone also carries older results)."""
    measured = results.latest_per_environment(results.load(results_dir))
    # A spread needs samples: asv --quick (the quick profile) takes one.
    spreads = [m.spread for m in measured
               if m.status == "ok" and m.benchmark.split(".")[-1].startswith("time")
               and m.spread is not None and len(m.samples) >= 4]
    if not spreads:
        return None
    return sum(s < limit for s in spreads) / len(spreads), len(spreads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["quick", "bench", "bench-openblas",
                                           "bench-freethreaded", "full", "test"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the clones")
    parser.add_argument("--record", action="store_true",
                        help=f"write the figures into {BUDGETS.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    times, codes = [], []
    for i in range(args.runs):
        seconds, code, share = one_run(args.target, args.keep)
        times.append(seconds)
        codes.append(code)
        extra = ""
        if share:
            extra = f", spread < 5% for {share[0]:.0%} of {share[1]} timing combinations"
        print(f"run {i + 1}/{args.runs}: make {args.target} {seconds / 60:.1f} min, "
              f"exit {code}{extra}", flush=True)
    print(f"make {args.target}: median {statistics.median(times) / 60:.1f} min over "
          f"{len(times)} fresh clone(s) (min {min(times) / 60:.1f}, max {max(times) / 60:.1f})")
    if args.record:
        record(args.target, times, codes)


def record(target, times, codes):
    """Replace ``target``'s row of the recorded table in docs/budgets.md."""
    commit = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    row = (f"| `make {target}` | {datetime.date.today()} | `{commit}` | {len(times)} | "
           f"{statistics.median(times) / 60:.1f} min | {min(times) / 60:.1f} - "
           f"{max(times) / 60:.1f} min | {', '.join(map(str, codes))} |")
    text = BUDGETS.read_text() if BUDGETS.is_file() else "# Budgets\n"
    if TABLE not in text:
        text = text.rstrip() + f"\n\n{TABLE}\n\n{HEAD}\n"
    before, after = text.split(TABLE, 1)
    lines = after.splitlines()
    kept = [line for line in lines if not re.match(rf"\| `make {re.escape(target)}` \|", line)]
    end = max((i for i, line in enumerate(kept) if line.startswith("|")), default=len(kept) - 1)
    kept.insert(end + 1, row)
    BUDGETS.write_text(before + TABLE + "\n".join(kept) + "\n")
    print(f"budgets: recorded in {BUDGETS}")


if __name__ == "__main__":
    main()
