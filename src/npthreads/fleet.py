"""One suite, many machines: what the fleet workflow needs from the tools.

- ``npthreads merge DIR...``: copy the ``<machine>/`` folders of other runs
  (a CI runner's artifact, a colleague's results/) into this results/. asv
  keys everything on the machine folder, so merging is copying, with three
  refusals that keep two machines from being mixed up: a file that does not
  parse, a ``machine.json`` that disagrees with the folder of the same name
  already here, and two runs that measured different suites
  (``benchmarks.json``). An existing result file is never overwritten: a
  differing copy is reported and left out (asv keeps one result per commit
  and environment).
- ``npthreads machine-name``: the name a runner registers under, e.g.
  ``gha-linux-x64-amd-epyc-7763-4cpu``. A runner label is not a machine: the
  same label lands on different CPUs from one run to the next, and asv puts
  the CPU into every graph's path, so the CPU is in the name and a new kind
  of CPU is a new machine folder, not a step in another's history.
"""

import json
import os
import platform
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import UsageError, machine

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RESULT_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.json")
SESSIONS = "sessions.jsonl"
SUITE = "benchmarks.json"


# ---------------------------------------------------------------- names


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def cpu_slug(model):
    """'AMD EPYC 7763 64-Core Processor' -> 'amd-epyc-7763';
    'Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz' -> 'intel-xeon-platinum-8370c'."""
    text = re.sub(r"\((r|tm)\)", " ", str(model), flags=re.IGNORECASE)
    text = re.sub(r"@.*$", " ", text)
    text = re.sub(r"\b(\d+-core|cpu|processor|with .* graphics)\b", " ", text,
                  flags=re.IGNORECASE)
    return _slug(text) or "cpu"


def os_slug(system=None):
    system = (system or platform.system()).lower()
    return {"darwin": "macos"}.get(system, _slug(system) or "os")


def arch_slug(arch=None):
    arch = (arch or platform.machine()).lower()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        arch, _slug(arch) or "arch")


def fleet_name(prefix="gha", system=None, arch=None, cpu=None, cores=None):
    """``<prefix>-<os>-<arch>-<cpu>-<cores>cpu``, at most 64 characters (the
    CPU part is shortened to fit), e.g. ``gha-macos-arm64-apple-m1-virtual-3cpu``."""
    if not NAME.fullmatch(prefix or "") or len(prefix) > 20:
        raise UsageError(f"--prefix {prefix!r}: letters, digits, '.', '_' and '-', "
                         "at most 20 characters")
    cores = machine.usable_cores() if cores is None else cores
    head = f"{prefix}-{os_slug(system)}-{arch_slug(arch)}-"
    tail = f"-{cores}cpu"
    cpu = cpu_slug(machine.cpu_model() if cpu is None else cpu)
    cpu = cpu[:64 - len(head) - len(tail)].strip("-") or "cpu"
    return head + cpu + tail


class name_command:
    """``npthreads machine-name``: print ``fleet_name``."""

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--prefix", default="gha",
                            help="what runs the machine (default 'gha': a GitHub-hosted "
                                 "runner; e.g. 'self' for a self-hosted box)")

    @staticmethod
    def run(args):
        print(fleet_name(args.prefix))
        return 0


# ---------------------------------------------------------------- merge


def add_arguments(parser):
    parser.add_argument("sources", nargs="+", metavar="DIR",
                        help="a results folder (machine folders and benchmarks.json, e.g. "
                             "a downloaded artifact) or one machine folder")
    parser.add_argument("--into", metavar="DIR", default=None,
                        help="the results folder to merge into (default: the repository's, "
                             "results/)")


def run(args):
    from .asvrun import results_dir
    target = results_dir(args.into)
    summary = merge([Path(s) for s in args.sources], Path(target), say=print)
    print(summary.line(target))
    return 0


@dataclass
class Summary:
    machines: list = field(default_factory=list)
    new: int = 0
    same: int = 0
    kept: list = field(default_factory=list)   # (target file, source file)
    sessions: int = 0
    suite: str = "absent"

    def line(self, target):
        kept = (f", {len(self.kept)} kept as they were (the incoming copies differ)"
                if self.kept else "")
        return (f"[npthreads] merged {len(self.machines)} machine folder(s) into {target}: "
                f"{self.new} file(s) new, {self.same} identical{kept}; {self.sessions} "
                f"session line(s) added; benchmarks.json {self.suite}")


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; nothing merged") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); "
                         "nothing merged") from None
    except OSError as err:
        raise UsageError(f"{path}: {err.strerror}; nothing merged") from None


def _read_sessions(path):
    try:
        lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot be read ({err}); nothing merged") from None
    for number, line in enumerate(lines, 1):
        try:
            json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}: line {number} is not valid JSON ({err.msg}); "
                             "nothing merged") from None
    return lines


def _machine_folders(source):
    """(machine folders, benchmarks.json or None) of one source folder."""
    if not source.is_dir():
        raise UsageError(f"{source}: no such folder")
    if (source / "machine.json").is_file():
        return [source], None
    folders = sorted(p for p in source.iterdir() if p.is_dir() and not p.is_symlink()
                     and (p / "machine.json").is_file())
    for p in source.iterdir():
        if p.is_dir() and p not in folders and any(p.glob("*.json")):
            raise UsageError(f"{p}: result files but no machine.json; nothing merged")
    if not folders:
        raise UsageError(f"{source}: no machine folder in it (a folder with machine.json); "
                         "nothing merged")
    suite = source / SUITE
    return folders, suite if suite.is_file() else None


def _canonical(data):
    """One text per JSON value: key order and spacing aside, and NaN equal to
    NaN (asv writes NaN for a skipped benchmark)."""
    return json.dumps(data, sort_keys=True)


def _diff(a, b):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return f"{a!r} here, {b!r} incoming"
    keys = sorted(set(a) | set(b), key=str)
    return ", ".join(f"{k}: {a.get(k)!r} here, {b.get(k)!r} incoming" for k in keys
                     if a.get(k) != b.get(k))


def _validate(sources, target):
    """Everything that could refuse, checked before anything is copied:
    returns ({name: [machine folders]}, {source benchmarks.json: parsed})."""
    folders, suites = {}, {}
    for source in sources:
        found, suite = _machine_folders(source)
        if suite:
            suites[suite] = _read_json(suite)
        for folder in found:
            name = folder.name
            if not NAME.fullmatch(name):
                raise UsageError(f"{folder}: {name!r} is not a usable machine name; "
                                 "nothing merged")
            info = _read_json(folder / "machine.json")
            if not isinstance(info, dict) or info.get("machine") != name:
                raise UsageError(f"{folder / 'machine.json'}: names machine "
                                 f"{info.get('machine') if isinstance(info, dict) else info!r}, "
                                 f"not its folder {name!r}; nothing merged")
            for path in sorted(folder.iterdir()):
                if path.is_symlink() or not path.is_file():
                    raise UsageError(f"{path}: not a plain file; nothing merged")
                if path.name == SESSIONS:
                    _read_sessions(path)
                elif RESULT_FILE.fullmatch(path.name):
                    _read_json(path)
            # the same name must mean the same machine, here and across sources
            for other in [target / name] + folders.get(name, []):
                if (other / "machine.json").is_file():
                    theirs = _read_json(other / "machine.json")
                    if _canonical(theirs) != _canonical(info):
                        raise UsageError(
                            f"{folder / 'machine.json'} disagrees with "
                            f"{other / 'machine.json'} ({_diff(theirs, info)}): two machines "
                            "under one name; rename one (NPTHREADS_MACHINE); nothing merged")
            folders.setdefault(name, []).append(folder)
    parsed = list(suites.items())
    for path, suite in parsed[1:]:
        if _canonical(suite) != _canonical(parsed[0][1]):
            raise UsageError(f"{path} and {parsed[0][0]} describe different suites (runs of "
                             "different commits?); merge them one at a time; nothing merged")
    if (target / SUITE).is_file():
        _read_json(target / SUITE)
    return folders, (parsed[0] if parsed else None)


def merge(sources, target, say=print):
    """Merge the machine folders of ``sources`` into ``target``; returns a
    ``Summary``. Refuses (``UsageError``, one line, nothing copied) on a file
    that does not parse, a machine.json that disagrees with the folder of
    the same name, or two sources with different benchmarks.json."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: not a folder")
    folders, suite = _validate(sources, target)
    summary = Summary()
    target.mkdir(parents=True, exist_ok=True)
    for name, incoming in sorted(folders.items()):
        dest = target / name
        fresh = not dest.exists()
        dest.mkdir(exist_ok=True)
        before = (summary.new, summary.same, len(summary.kept), summary.sessions)
        for folder in incoming:
            for path in sorted(folder.iterdir()):
                if path.name == "machine.json":  # the same as here: _validate
                    if not (dest / path.name).exists():
                        shutil.copyfile(path, dest / path.name)
                elif path.name == SESSIONS:
                    summary.sessions += _merge_sessions(path, dest / SESSIONS)
                elif RESULT_FILE.fullmatch(path.name):
                    _merge_file(path, dest / path.name, summary)
        new, same, kept, sessions = (a - b for a, b in zip(
            (summary.new, summary.same, len(summary.kept), summary.sessions), before))
        summary.machines.append(name)
        say(f"[npthreads] merge: {name}: {'a new machine, ' if fresh else ''}{new} file(s) "
            f"new, {same} identical" + (f", {kept} kept as they were" if kept else "")
            + f", {sessions} session line(s) added")
    for dest, path in summary.kept:
        say(f"[npthreads] merge: kept {dest}: the copy in {path} differs (asv keeps one "
            "result per commit and environment; measure a new commit to add a run)")
    if suite:
        path, parsed = suite
        here = target / SUITE
        if not here.is_file():
            summary.suite = "written"
        elif _canonical(_read_json(here)) == _canonical(parsed):
            summary.suite = "unchanged"
        else:
            summary.suite = f"replaced with {path}'s (the suite the merged runs measured)"
        if summary.suite != "unchanged":
            shutil.copyfile(path, here)
    return summary


def _merge_file(path, dest, summary):
    if not dest.exists():
        shutil.copyfile(path, dest)
        summary.new += 1
    elif (dest.read_bytes() == path.read_bytes()
          or _canonical(_read_json(dest)) == _canonical(_read_json(path))):
        summary.same += 1
    else:
        summary.kept.append((dest, path))


def _merge_sessions(path, dest):
    """Append the session lines of ``path`` that ``dest`` lacks; how many."""
    have = set(_read_sessions(dest)) if dest.exists() else set()
    add = [line for line in _read_sessions(path) if line not in have]
    if add:
        with open(dest, "a", encoding="utf-8") as f:
            for line in add:
                f.write(line + "\n")
    return len(add)
