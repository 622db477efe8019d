"""How ``npthreads compare`` shows its rows: a terminal table, a Markdown
table for a pull-request comment, or JSON for scripts.

Kept apart from the comparison so the verdict logic reads in one sitting;
every renderer gets the same rows and says the same things: what was
compared, how well this run can resolve a change (the negative control),
whether the two sides share a session, one line per scenario, then the rows,
largest change first.
"""

import json
import math

from . import evidence
from .units import format_value
from .verdicts import CHANGED, EXIT_SLOWER, FASTER, SLOWER, UNCHANGED, counts


def fmt_ratio(ratio):
    return "-" if ratio is None else f"{ratio:.2f}x"


def fmt_p(p):
    if p is None:
        return "-"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def fmt_params(params):
    return ", ".join(f"{k}={v}" for k, v in params.items())


def title(side_a, side_b):
    """"numpy 2.3.5 -> numpy 2.4.6 @ 9e39910a", or for commits
    "9e39910a -> 1234abcd in numpy pinned"."""
    if side_a.env_name == side_b.env_name:
        return (f"{side_a.commit[:8]} -> {side_b.commit[:8]} in "
                f"{side_b.describe(with_commit=False)}")
    if side_a.commit == side_b.commit:
        return (f"{side_a.describe(with_commit=False)} -> "
                f"{side_b.describe(with_commit=False)} @ {side_a.commit[:8]}")
    return f"{side_a.describe()} -> {side_b.describe()}"


def scenario_lines(rows):
    """One line per scenario: its verdict counts, the worst slowdown and
    the best speed-up with their parameters."""
    by_scenario = {}
    for r in rows:
        by_scenario.setdefault(r.scenario, []).append(r)
    lines = []
    for scenario, group in sorted(by_scenario.items()):
        parts = [f"{n} {v}" for v, n in counts(group).items() if n]
        slower = [r for r in group if r.verdict == SLOWER]
        faster = [r for r in group if r.verdict == FASTER]
        if slower:
            worst = max(slower, key=lambda r: r.ratio)
            parts.append(f"worst {fmt_ratio(worst.ratio)} [{fmt_params(worst.params)}]")
        if faster:
            best = min(faster, key=lambda r: r.ratio)
            parts.append(f"best {fmt_ratio(best.ratio)} [{fmt_params(best.params)}]")
        resolutions = [r.resolution for r in group if r.resolution]
        if resolutions:
            parts.append(f"resolves {min(resolutions):.2f}x-{max(resolutions):.2f}x")
        pooled = [r for r in group if r.pooled]
        if pooled:
            moved = [f"{n} {v}" for v, n in counts(pooled, "pooled").items()
                     if n and v in (SLOWER, FASTER)]
            widths = [r.pooled_resolution for r in pooled]
            parts.append(f"pooled over {max(r.pooled_runs for r in pooled)} runs: "
                         + (", ".join(moved) + ", " if moved else "nothing changed, ")
                         + f"resolves {min(widths):.2f}x-{max(widths):.2f}x")
        lines.append((scenario, ", ".join(parts)))
    return lines


def noise_line(c):
    """What the negative control says about this run."""
    noise = c.noise
    if not noise.control_pair:
        return ("no negative control in this run (no environment duplicates the "
                "pin-following one): resolutions from the rounds alone")
    (env_a, _), (env_b, _) = noise.control_pair
    sessions = (f"; {noise.runs} run(s) of this machine pooled; session-to-session "
                + (f"movement from {noise.session_runs} other runs" if noise.session_runs
                   else "movement unknown (fewer than two other full runs): a verdict "
                        "may not hold in the next session"))
    return (f"negative control: {_short(env_a)} vs {_short(env_b)} (the same numpy), "
            f"{noise.control_rows} rows; noise calibration x{noise.calibration:.2f}"
            + sessions)


def _short(env_name):
    """"virtualenv-py3.11-numpy2.4.6-..." -> "numpy2.4.6"."""
    for part in env_name.split("-"):
        if part.startswith("numpy") or part.startswith("NPTHREADS_NUMPY"):
            return part.replace("NPTHREADS_NUMPY", "numpy ")
    return env_name


def session_lines(c):
    """Nothing when both sides share a session; else a plain statement and
    what differs between the two sessions."""
    side_a, side_b = c.side_a, c.side_b
    if c.one_session:
        # One session, yet two environments can still run different BLAS
        # builds or kernels (numpy 1.26.4 and 2.0.2 get Cooperlake here,
        # 2.1.3 on SkylakeX): a step may be the kernel, not numpy.
        facts_a, facts_b = side_a.facts(), side_b.facts()
        return [f"note: the sides ran different {fact}: {facts_a[fact]} -> {facts_b[fact]}"
                for fact in ("BLAS kernel", "thread variables")
                if facts_a[fact] != facts_b[fact]]
    if c.other_machine:
        lines = [f"the sides come from two machines ({c.machine} -> {c.other_machine}), "
                 "each judged with the larger of the two machines' noise; informative, "
                 "never gated"]
    else:
        lines = ["the two sides were measured in different sessions: the machine's drift "
                 "between them is in every ratio"
                 + ("; verdicts gate only on rows re-measured with --confirm"
                    if not c.confirmed else "; rows re-measured in one session by --confirm")]
    facts_a, facts_b = side_a.facts(), side_b.facts()
    for fact in facts_a:
        mark = "  " if facts_a[fact] == facts_b[fact] else "* "
        lines.append(f"  {mark}{fact}: {facts_a[fact]} -> {facts_b[fact]}")
    return lines


def overall(c):
    text = ", ".join(f"{n} {v}" for v, n in c.counts.items() if n)
    pooled = c.pooled_counts
    if any(pooled.values()):
        text += ("; pooled over the machine's runs: "
                 + ", ".join(f"{n} {v}" for v, n in pooled.items() if n))
    newly = c.newly_failing
    slower = c.counts[SLOWER] + pooled.get(SLOWER, 0)
    if c.exit_code == EXIT_SLOWER:
        verdict = "exit 1: slowdowns beyond each row's resolution"
    elif slower and c.other_machine:
        verdict = (f"exit 0: {slower} row(s) slower on {c.other_machine}; two machines "
                   "are compared, not gated")
    elif slower and not c.gated:
        verdict = (f"exit 0: {slower} row(s) look slower, but the sides come from different "
                   "sessions; not gated: re-measure them with --confirm")
    else:
        verdict = "exit 0: no slowdown beyond each row's resolution"
    if newly:
        verdict += f" ({newly} newly failing, reported, not gated)"
    return f"{text}; {verdict}"


def _criteria(c):
    return (f"changed = beyond max({c.factor:g}x, the row's resolution) with the "
            f"rounds separated (Mann-Whitney U over round medians, p < "
            f"{evidence.ROUND_ALPHA:g}); resolution = {evidence.Z:g} standard errors from the "
            "rounds, the negative control and the machine's other sessions")


def pooled_line(c):
    """How the pooled column was made, or why there is none."""
    runs = c.pooled_runs
    if runs:
        return (f"pooled: every full run of this machine that measured both environments "
                f"as this commit did, {runs} at most, combined by a random-effects "
                f"meta-analysis; changed = beyond max({c.factor:g}x, "
                f"{evidence.Z:g} calibrated standard errors)")
    return ""


def pooled_text(r):
    """ "slower 1.62x (resolves 1.19x, 5 runs)" or "-"."""
    if not r.pooled:
        return "-"
    return (f"{r.pooled} {fmt_ratio(r.pooled_ratio)} (resolves "
            f"{fmt_ratio(r.pooled_resolution)}, {r.pooled_runs} runs)")


def history_text(r):
    """ "slower in 2 of 3 other runs" for a row judged again elsewhere."""
    if not r.other_runs:
        return ""
    runs = "run" if r.other_runs == 1 else "runs"
    return f"{r.verdict} in {r.same_in_other_runs} of {r.other_runs} other {runs}"


def history_line(c):
    """Which other runs judged the slower and faster rows again (--history)."""
    judged = c.history
    if judged:
        return (f"other runs: slower and faster rows judged again in {len(judged)} other "
                f"full run(s) of this machine ({', '.join(commit[:8] for commit in judged)}), each "
                "on its own noise model")
    if c.history_asked:
        return "other runs: none of this machine's other full runs has both environments"
    return ""


def _note(r):
    parts = [x for x in (r.confirmed, history_text(r), r.note) if x]
    return "  (" + "; ".join(parts) + ")" if parts else ""


def render_text(c, shown):
    """``shown`` of the comparison ``c``'s rows as a terminal table."""
    side_a, side_b, rows = c.side_a, c.side_b, c.rows
    where = f"{c.machine} -> {c.other_machine}" if c.other_machine else c.machine
    out = [f"compare {title(side_a, side_b)} on {where}",
           f"  from: {side_a.env_name} @ {side_a.commit[:8]}",
           f"  to:   {side_b.env_name} @ {side_b.commit[:8]}",
           f"  ({_criteria(c)})",
           f"  {noise_line(c)}"]
    out += [f"  {line}" for line in [history_line(c), pooled_line(c)] if line]
    out += [f"  {line}" for line in session_lines(c)]
    out.append("")
    table = [("verdict", "ratio", "resolves", "p", "from", "to", "rounds", "pooled",
              "benchmark [params]")]
    for r in shown:
        what = r.name + (f" [{fmt_params(r.params)}]" if r.params else "") + _note(r)
        table.append((r.verdict, fmt_ratio(r.ratio), fmt_ratio(r.resolution), fmt_p(r.p),
                      format_value(r.before, r.unit), format_value(r.after, r.unit),
                      f"{r.n_before}/{r.n_after}", pooled_text(r), what))
    widths = [max(len(row[i]) for row in table) for i in range(8)]
    for row in table:
        cells = ([row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 7)]
                 + [row[7].ljust(widths[7])])
        out.append("  ".join(cells + [row[8]]))
    unresolved = sum(1 for r in rows if r.verdict == UNCHANGED and r.resolution
                     and r.resolution > evidence.USEFUL)
    out += ["", "per scenario:"]
    out += [f"  {name}: {text}" for name, text in scenario_lines(rows)]
    if unresolved:
        pooled = [r.pooled_resolution for r in rows if r.verdict == UNCHANGED
                  and r.resolution and r.resolution > evidence.USEFUL and r.pooled_resolution]
        out.append(f"  {unresolved} unchanged row(s) cannot resolve a change below "
                   f"{evidence.USEFUL:g}x in this run"
                   + (f"; pooled over the machine's runs, {len(pooled)} of them resolve "
                      f"{min(pooled):.2f}x-{max(pooled):.2f}x" if pooled else ""))
    out += ["", overall(c), ""]
    return "\n".join(out)


def render_markdown(c, shown):
    """``shown`` of the comparison ``c``'s rows as a Markdown table."""
    out = [f"### npthreads compare: {title(c.side_a, c.side_b)}", "",
           f"Machine `{c.machine}`" + (f" -> `{c.other_machine}`" if c.other_machine else "")
           + f"; {_criteria(c)}; {noise_line(c)}"
           + (f"; {history_line(c)}." if history_line(c) else "."), ""]
    out += [f"> {line.strip()}" for line in session_lines(c)]
    out += ["", f"**{overall(c)}**", ""]
    out += [f"- **{name}**: {text}" for name, text in scenario_lines(c.rows)]
    out += [f"_{pooled_line(c)}._" for _ in [1] if pooled_line(c)]
    out += ["", "| verdict | ratio | resolves | p | from | to | rounds | pooled | benchmark "
            "| params |", "|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in shown:
        verdict = f"**{r.verdict}**" if r.verdict in CHANGED else r.verdict
        cells = [verdict + _note(r), fmt_ratio(r.ratio), fmt_ratio(r.resolution), fmt_p(r.p),
                 format_value(r.before, r.unit), format_value(r.after, r.unit),
                 f"{r.n_before}/{r.n_after}", pooled_text(r), f"`{r.name}`",
                 fmt_params(r.params)]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    if not shown:
        out.append("| (no rows) | | | | | | | | | |")
    return "\n".join(out) + "\n"


def _side_json(side):
    return {"env_name": side.env_name, "commit": side.commit, "numpy": side.numpy,
            "openblas": side.openblas, "facts": side.facts()}


def _finite(x):
    return x if x is None or math.isfinite(x) else None


def render_json(c, shown):
    """``shown`` of the comparison ``c``'s rows, and everything the verdicts
    stand on, as JSON."""
    noise = c.noise
    data = {
        "from": _side_json(c.side_a), "to": _side_json(c.side_b),
        "machine": c.machine, "other_machine": c.other_machine or None, "factor": c.factor,
        "round_alpha": evidence.ROUND_ALPHA, "z": evidence.Z,
        "control": {"envs": [env for env, _ in noise.control_pair],
                    "rows": noise.control_rows, "calibration": noise.calibration,
                    "runs_pooled": noise.runs, "session_runs": noise.session_runs},
        "one_session": c.one_session, "confirmed": c.confirmed,
        "gated": c.gated, "counts": c.counts,
        "other_runs": c.history,
        "newly_failing": c.newly_failing, "exit_code": c.exit_code,
        "pooled_runs": c.pooled_runs,
        "pooled_counts": c.pooled_counts,
        "scenarios": dict(scenario_lines(c.rows)),
        "rows": [{"benchmark": r.benchmark, "scenario": r.scenario, "params": r.params,
                  "unit": r.unit, "verdict": r.verdict, "note": r.note,
                  "confirmed": r.confirmed, "other_runs": r.other_runs,
                  "same_in_other_runs": r.same_in_other_runs,
                  "from": _finite(r.before), "to": _finite(r.after),
                  "ratio": _finite(r.ratio), "resolution": _finite(r.resolution),
                  "fastest_ratio": _finite(r.fastest), "p": r.p,
                  "rounds_from": r.n_before, "rounds_to": r.n_after,
                  "pooled": r.pooled or None, "pooled_ratio": _finite(r.pooled_ratio),
                  "pooled_resolution": _finite(r.pooled_resolution),
                  "pooled_runs": r.pooled_runs,
                  "distribution_from": r.spread_before, "distribution_to": r.spread_after}
                 for r in shown],
    }
    return json.dumps(data, indent=2) + "\n"
