"""Bring result files written by earlier sessions up to date: the one module
that rewrites asv's result files (``results`` only reads them).

Each migration changes only the fields it names, replaces a file whole or
not at all, and does nothing on a second pass. ``bench`` runs them all
through ``bring_up_to_date`` before asv runs.
"""

import json
import sys
from pathlib import Path

from .results import MACHINE_FIELDS, load_json, asv_env_name, asv_result_filename


def bring_up_to_date(results_dir, config, machine_facts):
    """Run every migration on ``results_dir``: the machine's files take its
    stable identity (``machine_facts``, as ``asvrun.register_machine``
    returns it), and every file names each matrix variable of the asv
    ``config`` (asv.conf.json itself). Returns one line per migration that
    changed something."""
    lines = []
    relabelled = stabilise_machine(results_dir, machine_facts)
    if relabelled:
        lines.append(f"results: {relabelled} file(s) of {machine_facts['machine']} re-labelled "
                     "with the machine's stable identity (one history series per environment)")
    renamed = name_every_matrix_variable(results_dir, config)
    if renamed:
        lines.append(f"results: {renamed} file(s) renamed with every matrix variable of "
                     "asv.conf.json, as asv names them now (one history series per "
                     "environment)")
    return lines


def _replace(path, text):
    """Write ``path`` whole or not at all: a migration interrupted half-way
    must not leave a result file cut short."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def stabilise_machine(results_dir, identity):
    """Give every result file of ``identity["machine"]`` (and its
    machine.json) the machine fields of ``identity``, so one environment is
    one asv graph series whatever session measured it. Only those fields
    change; each file is replaced atomically. Returns how many files
    changed."""
    folder = Path(results_dir) / identity["machine"]
    if not folder.is_dir():
        return 0
    wanted = {k: identity[k] for k in MACHINE_FIELDS if k in identity}
    changed = 0
    for path in sorted(folder.glob("*.json")):
        data = load_json(path)
        target = data if path.name == "machine.json" else data.get("params")
        if not isinstance(target, dict):
            continue
        if all(target.get(k) == v for k, v in wanted.items()):
            continue
        target.update(wanted)
        # as asv writes them: result files compact, machine.json indented
        _replace(path, json.dumps(data, indent=4, sort_keys=True) + "\n"
                 if path.name == "machine.json" else json.dumps(data))
        changed += 1
    return changed


def variables_every_environment_names(config):
    """{variable: value} for the matrix variables (``env`` and
    ``env_nobuild``) that the asv ``config`` gives every environment, the
    matrix with one value and each ``include`` entry its own: before such a
    variable was added, that one value is what every environment ran with
    (an empty NPTHREADS_OPENBLAS = numpy's own OpenBLAS)."""
    matrix = config.get("matrix") or {}
    found = {}
    for kind in ("env", "env_nobuild"):
        for var, values in (matrix.get(kind) or {}).items():
            values = values if isinstance(values, list) else [values]
            if len(values) == 1 and isinstance(values[0], str) and all(
                    var in (inc.get(kind) or {}) for inc in config.get("include", [])):
                found[var] = values[0]
    return found


def name_every_matrix_variable(results_dir, config):
    """Give every result file the matrix variables the asv ``config``
    names in every environment but the file lacks, with their one matrix
    value, under the environment and file name asv computes with them; so
    adding a variable to the matrix (NPTHREADS_OPENBLAS) keeps each
    environment one history series instead of starting a new one.

    Only ``env_vars``, ``env_name`` and the file name change (asv keeps
    matrix variables out of ``params``). The renamed file is written before
    the old one is removed; a file whose name asv would not have computed
    from its own fields, or whose new name is taken, is left as it is (one
    warning line). Idempotent. Returns how many files were renamed."""
    wanted = variables_every_environment_names(config)
    root = Path(results_dir)
    if not wanted or not root.is_dir():
        return 0
    renamed = 0
    for path in sorted(root.glob("*/*.json")):
        if path.name in ("machine.json", "benchmarks.json"):
            continue
        data = load_json(path)
        try:
            env_vars = dict(data["env_vars"] or {})
            old_name, python = data["env_name"], data["python"]
            requirements, commit = data["requirements"], data["commit_hash"]
        except (KeyError, TypeError):
            continue  # not an asv 0.6 result file; the reader names it
        missing = {k: v for k, v in wanted.items() if k not in env_vars}
        if not missing:
            continue
        tool = old_name.split(f"-py{python}-", 1)[0] if f"-py{python}-" in old_name else ""
        if (asv_env_name(tool, python, requirements, env_vars) != old_name
                or asv_result_filename(commit, old_name) != path.name):
            print(f"npthreads: warning: {path}: its name is not the one asv computes from "
                  "its fields; left as it is", file=sys.stderr)
            continue
        env_vars.update(missing)
        data["env_vars"] = env_vars
        data["env_name"] = asv_env_name(tool, python, requirements, env_vars)
        target = path.with_name(asv_result_filename(commit, data["env_name"]))
        if target.exists():
            print(f"npthreads: warning: {path}: {target.name} already exists; left as it is",
                  file=sys.stderr)
            continue
        _replace(target, json.dumps(data))
        path.unlink()
        renamed += 1
    return renamed
