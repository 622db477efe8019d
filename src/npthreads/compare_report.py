"""How ``npthreads compare`` shows its rows: a terminal table, a Markdown
table for a pull-request comment, or JSON for scripts.

Kept apart from the comparison so the verdict logic reads in one sitting;
every renderer gets the same rows and says the same things: what was
compared, one line per scenario, then the rows, largest change first.
"""

import json
import math

from . import compare as c


def fmt_value(value, unit):
    if value is None:
        return "-"
    if unit == "seconds":
        for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or suffix == "ns":
                return f"{value / scale:.3g}{suffix}"
    # Long units ("major*10000+minor*100+patch") would swamp the table.
    return f"{value:.4g} {unit}" if 0 < len(unit) <= 8 else f"{value:.4g}"


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
        counts = c.counts(group)
        parts = [f"{n} {v}" for v, n in counts.items() if n]
        slower = [r for r in group if r.verdict == c.SLOWER]
        faster = [r for r in group if r.verdict == c.FASTER]
        if slower:
            worst = max(slower, key=lambda r: r.ratio)
            parts.append(f"worst {fmt_ratio(worst.ratio)} [{fmt_params(worst.params)}]")
        if faster:
            best = min(faster, key=lambda r: r.ratio)
            parts.append(f"best {fmt_ratio(best.ratio)} [{fmt_params(best.params)}]")
        lines.append((scenario, ", ".join(parts)))
    return lines


def overall(context):
    counts = context["counts"]
    text = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    newly = context.get("newly_failing", 0)
    if context["exit_code"] == c.EXIT_SLOWER:
        verdict = f"exit 1: significant slowdowns beyond {context['factor']:g}x"
    else:
        verdict = f"exit 0: no significant slowdown beyond {context['factor']:g}x"
    if newly:
        verdict += f" ({newly} newly failing, reported, not gated)"
    return f"{text}; {verdict}"


def _criteria(context):
    return (f"factor {context['factor']:g} in the medians and the fastest samples, "
            f"Mann-Whitney U on the recorded samples, p < {context['threshold']:g}")


def _with_newly_failing(rows, context):
    return dict(context, newly_failing=sum(1 for r in rows if r.note == "newly failing"))


def render_text(side_a, side_b, rows, shown, context):
    context = _with_newly_failing(rows, context)
    out = [f"compare {title(side_a, side_b)} on {context['machine']}",
           f"  from: {side_a.env_name} @ {side_a.commit[:8]}",
           f"  to:   {side_b.env_name} @ {side_b.commit[:8]}",
           f"  ({_criteria(context)})", ""]
    table = [("verdict", "ratio", "fastest", "p", "from", "to", "n", "benchmark [params]")]
    for r in shown:
        what = r.name + (f" [{fmt_params(r.params)}]" if r.params else "")
        what += f"  ({r.note})" if r.note else ""
        table.append((r.verdict, fmt_ratio(r.ratio), fmt_ratio(r.fastest), fmt_p(r.p),
                      fmt_value(r.before, r.unit), fmt_value(r.after, r.unit),
                      f"{r.n_before}/{r.n_after}", what))
    widths = [max(len(row[i]) for row in table) for i in range(7)]
    for row in table:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 7)]
        out.append("  ".join(cells + [row[7]]))
    out += ["", "per scenario:"]
    out += [f"  {name}: {text}" for name, text in scenario_lines(rows)]
    out += ["", overall(context), ""]
    return "\n".join(out)


def render_markdown(side_a, side_b, rows, shown, context):
    context = _with_newly_failing(rows, context)
    out = [f"### npthreads compare: {title(side_a, side_b)}", "",
           f"Machine `{context['machine']}`; {_criteria(context)}.", "",
           f"**{overall(context)}**", ""]
    out += [f"- **{name}**: {text}" for name, text in scenario_lines(rows)]
    out += ["", "| verdict | ratio | fastest | p | from | to | n | benchmark | params |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in shown:
        verdict = f"**{r.verdict}**" if r.verdict in c.CHANGED else r.verdict
        note = f" ({r.note})" if r.note else ""
        cells = [verdict + note, fmt_ratio(r.ratio), fmt_ratio(r.fastest), fmt_p(r.p),
                 fmt_value(r.before, r.unit),
                 fmt_value(r.after, r.unit), f"{r.n_before}/{r.n_after}", f"`{r.name}`",
                 fmt_params(r.params)]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    if not shown:
        out.append("| (no rows) | | | | | | | | |")
    return "\n".join(out) + "\n"


def _side_json(side):
    return {"env_name": side.env_name, "commit": side.commit, "numpy": side.numpy,
            "openblas": side.openblas}


def _finite(x):
    return x if x is None or math.isfinite(x) else None


def render_json(side_a, side_b, rows, shown, context):
    context = _with_newly_failing(rows, context)
    data = {
        "from": _side_json(side_a), "to": _side_json(side_b),
        "machine": context["machine"], "factor": context["factor"],
        "p_threshold": context["threshold"], "counts": context["counts"],
        "newly_failing": context["newly_failing"], "exit_code": context["exit_code"],
        "scenarios": dict(scenario_lines(rows)),
        "rows": [{"benchmark": r.benchmark, "scenario": r.scenario, "params": r.params,
                  "unit": r.unit, "verdict": r.verdict, "note": r.note,
                  "from": _finite(r.before), "to": _finite(r.after),
                  "ratio": _finite(r.ratio), "fastest_ratio": _finite(r.fastest), "p": r.p,
                  "samples_from": r.n_before, "samples_to": r.n_after} for r in shown],
    }
    return json.dumps(data, indent=2) + "\n"
