"""Several machines side by side: what each ran, and each one's advice for
the same scenario and size in the environments they have in common.

Thread counts are labels relative to the machine (``cores``, ``2xcores``),
so a 1-core and a 2-core machine's grids line up cell for cell; what
differs is how many threads a label means, which the rows say. No HTML
here: ``pages`` renders it.
"""

import time
from dataclasses import dataclass, field

from . import evidence, report, results


@dataclass
class Summary:
    """One machine's line in the reports' index."""
    machine: str
    cpu: str
    cores: str
    memory: str                  # machine.json's ram, as asv recorded it
    blas: str                    # "OpenBLAS 0.3.34 (numpy 2.5.5)"
    kernel: str
    axes: list                   # "numpy", "openblas", "free-threaded": the ones that ran
    environments: int
    full_runs: int
    newest_commit: str
    newest_date: str


AXIS_NAMES = {"numpy": "numpy", "openblas": "openblas", "freethreaded": "free-threaded"}


def summary(rep):
    """The index line of ``rep``'s machine."""
    measurements = rep.measurements
    numbered = [e for e in rep.envs if e.numpy != "pinned"] or rep.envs
    newest = max(numbered, key=lambda e: report.version_key(e.numpy), default=None)
    axes = {m.axis for m in measurements}
    last = max(measurements, key=lambda m: (m.date, m.started_at), default=None)
    return Summary(
        machine=rep.machine, cpu=str(rep.info.get("cpu", "?")),
        cores=str(rep.info.get("num_cpu", "?")), memory=str(rep.info.get("ram", "?")),
        blas=(f"OpenBLAS {newest.openblas or 'not measured'} (numpy {newest.numpy})"
              if newest else "not measured"),
        kernel=(newest.kernel_text if newest and newest.kernel_text else "not measured"),
        axes=[AXIS_NAMES[a] for a in AXIS_NAMES if a in axes],
        environments=len({m.env_name for m in measurements}),
        full_runs=len(evidence.method_runs(measurements)),
        newest_commit=last.commit[:8] if last else "?",
        newest_date=(time.strftime("%Y-%m-%d", time.gmtime(last.date / 1000))
                     if last and last.date else "?"))


@dataclass
class Pick:
    """One machine's advice for one scenario and size in one environment."""
    machine: str
    cores: int
    grid: report.Grid | None     # None: this machine did not measure it

    @property
    def config(self):
        return report.named_config(self.grid) if self.grid else "not measured"

    @property
    def decided(self):
        return bool(self.grid and self.grid.decided)

    @property
    def threads(self):
        """Python x BLAS threads the named cell runs on this machine."""
        g = self.grid
        if not g or not g.chosen:
            return None
        return report.threads_of(g.cells[g.chosen].params.items(), self.cores)

    def text(self):
        """"use X" or "cannot tell (fastest measured: X)", with the threads."""
        g = self.grid
        if not g or not g.chosen:
            return "not measured"
        n = self.threads
        threads = f" = {n} thread{'' if n == 1 else 's'}" if n else ""
        said = f"{g.config(g.chosen)}{threads}"
        return f"use {said}" if g.decided else f"cannot tell (fastest measured: {said})"

    @property
    def time(self):
        return self.grid.chosen_time if self.grid else None

    @property
    def over_serial(self):
        g = self.grid
        return g.speedup(g.chosen, g.serial_time) if g and g.chosen else None

    @property
    def over_naive(self):
        g = self.grid
        return g.speedup(g.chosen, g.naive_time) if g and g.chosen else None


@dataclass
class Row:
    """One scenario at one size in one environment, on every machine."""
    benchmark: str
    scenario: str
    size: str
    env: str                     # the environment's label, e.g. "numpy 2.4.6"
    picks: list                  # Pick, one per machine, in the Fleet's order

    @property
    def verdict(self):
        """"same", "differs", "unsettled" (a machine cannot tell) or "missing"."""
        if any(p.grid is None or not p.grid.chosen for p in self.picks):
            return "missing"
        if not all(p.decided for p in self.picks):
            return "unsettled"
        return "same" if len({p.config for p in self.picks}) == 1 else "differs"


@dataclass
class Scenario:
    """One scenario at one size: a row per common environment, and the line."""
    benchmark: str
    scenario: str
    size: str
    rows: list = field(default_factory=list)   # Row

    def line(self):
        """Where the advice differs between machines, in one sentence."""
        by = {}
        for r in self.rows:
            by.setdefault(r.verdict, []).append(r)
        parts = []
        for r in by.get("differs", []):
            parts.append(f"differs on {r.env}: " + "; ".join(
                f"{p.machine} {p.text()}" for p in r.picks))
        if by.get("same"):
            r = by["same"][0]
            threads = ", ".join(f"{p.threads} on {p.machine}" for p in r.picks if p.threads)
            parts.append(f"the same on {_envs(by['same'])}: use {r.picks[0].config}"
                         + (f" (threads: {threads})" if threads else ""))
        if by.get("unsettled"):
            rows = by["unsettled"]
            unsure = sorted({p.machine for r in rows for p in r.picks if not p.decided})
            agree = [r for r in rows if len({p.config for p in r.picks}) == 1]
            apart = [r for r in rows if r not in agree]
            fastest = ("agrees on every one" if not apart else "differs on every one"
                       if not agree else f"agrees on {_envs(agree)}, differs on {_envs(apart)}")
            parts.append(f"not settled on {_envs(rows)} ({', '.join(unsure)} cannot tell; "
                         f"the fastest measured cell {fastest})")
        if by.get("missing"):
            rows = by["missing"]
            absent = sorted({p.machine for r in rows for p in r.picks
                             if p.grid is None or not p.grid.chosen})
            parts.append(f"not measured on {', '.join(absent)} in {_envs(rows)}")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "." if text else "Nothing in common."

    @property
    def differs(self):
        return any(r.verdict == "differs" for r in self.rows)


def _envs(rows):
    return ", ".join(r.env for r in rows)


@dataclass
class Fleet:
    """Every machine's report, and the scenarios across them."""
    machines: list               # machine names, in results order
    reports: dict                # machine -> report.Report
    common: list                 # environment labels every machine ran (numpy axis)
    scenarios: list              # Scenario
    summaries: dict = field(default_factory=dict)   # machine -> Summary


def cores_of(rep):
    """The cores a machine's labels mean: its usable cores as measured."""
    for e in rep.envs:
        if e.facts.get("usable_cores"):
            return int(e.facts["usable_cores"])
    try:
        return int(rep.info.get("num_cpu") or 1)
    except ValueError:
        return 1


def fleet(reports, summaries=None):
    """The cross-machine view of ``reports`` ({machine: report.Report}):
    the numpy-axis environments every machine ran (the advice environment,
    the pin-following one, first), and per scenario and size each machine's
    advice there."""
    names = list(reports)
    labels = [{e.label for e in reports[m].envs} for m in names]
    common = set.intersection(*labels) if labels else set()
    first = reports[names[0]].envs if names else []
    order = [e.label for e in first if e.label in common]
    common = sorted(order, key=lambda label: label != "numpy pinned")
    cores = {m: cores_of(reports[m]) for m in names}
    by_key = {}
    for m in names:
        for g in reports[m].grids:
            by_key.setdefault((g.benchmark, g.size), {}).setdefault(m, {})[g.env.label] = g
    scenarios = []
    for (benchmark, size), per_machine in by_key.items():
        any_grid = next(iter(next(iter(per_machine.values())).values()))
        s = Scenario(benchmark, any_grid.scenario, size)
        for env in common:
            s.rows.append(Row(benchmark, any_grid.scenario, size, env, [
                Pick(m, cores[m], per_machine.get(m, {}).get(env)) for m in names]))
        scenarios.append(s)
    # each report's grids are in the story's order; sizes keep theirs (a stable sort)
    rank = {b: i for i, b in enumerate(dict.fromkeys(
        g.benchmark for m in names for g in reports[m].grids))}
    scenarios.sort(key=lambda s: rank.get(s.benchmark, len(rank)))
    return Fleet(names, reports, common, scenarios, dict(summaries or {}))


def build(results_dir):
    """The Fleet of every machine under ``results_dir``."""
    reports = {m: report.build(results_dir, m) for m in results.machines(results_dir)}
    return fleet(reports, {m: summary(rep) for m, rep in reports.items()})
