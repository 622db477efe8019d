"""The one writer of asv result files in the tests (issue 11): asv 0.6's
format, version 2, a row per benchmark with one list per column."""

import json
from pathlib import Path

# asv 0.6's result columns, in its order (asv.results)
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a",
           "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number", "stats_repeat",
           "samples", "profile"]
SAMPLES = COLUMNS.index("samples")


def row(result, params, *, version="v1", started=0, duration=1.0, ci=(None, None),
        q25=None, q75=None, number=None, repeat=None, samples=None):
    """One benchmark's row: ``result`` (one value per combination), its
    ``params`` as asv stores them (lists of reprs), and the per-combination
    columns (None: not recorded)."""
    return [result, params, version, started, duration, ci[0], ci[1], q25, q75,
            number, repeat, samples, None]


def tracked(value, started=0):
    """A parameterless ``track_`` row."""
    return row([value], [], started=started, duration=0.1)


def result_file(commit, env_name, rows, *, requirements, date, python="3.11",
                params=None, env_vars=None):
    """A whole result file as a dict."""
    return {"commit_hash": commit, "env_name": env_name, "date": date,
            "params": params or {}, "python": python, "requirements": requirements,
            "env_vars": env_vars or {}, "result_columns": COLUMNS, "results": rows,
            "durations": {}, "version": 2}


def write(folder, data):
    """Write ``data`` where asv would: ``<folder>/<commit[:8]>-<env_name>.json``
    (asv writes NaN for a skipped combination; json.dumps does the same)."""
    path = Path(folder) / f"{data['commit_hash'][:8]}-{data['env_name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path
