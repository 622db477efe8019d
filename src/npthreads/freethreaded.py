"""A free-threaded CPython for the free-threaded axis: found, or built.

The free-threaded build (``python3.13t``, ``python3.14t``) runs Python
threads at the same time; numpy publishes wheels for it from 2.1 on. Where
none is installed, this module builds CPython from Debian's ``python3.13``
source package (Debian 13, "trixie") with ``--disable-gil`` into a cache
outside the repository, so the machine's Python and its apt configuration
stay as they were:

- the trixie ``deb-src`` entry lives in a private sources list, with private
  package lists and cache, passed to ``apt-get`` as ``-o`` options: nothing
  under /etc/apt or /var/lib/apt changes;
- only the upstream tarball is built (Debian's own patches are not applied):
  what ``make install`` gives is CPython as python.org ships it;
- an install is used only once it has been verified (``Py_GIL_DISABLED``);
  a half-finished one is removed and built again.

Elsewhere users get one from their distribution, python.org's installers or
``uv python install 3.13t``; this module finds those on ``PATH`` and in
pyenv first.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import UsageError

# The free-threaded interpreters the axis can use, newest last.
TAGS = ("3.13t", "3.14t")
# Where a built interpreter lives: outside the repository, shared by every
# clone on the machine, overridable for tests and for CI caches.
CACHE_ENV = "NPTHREADS_CACHE"
# Debian's source package, and the release that has it.
SOURCE_PACKAGE, SOURCE_SUITE = "python3.13", "trixie"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
VERIFIED = "npthreads-verified.json"
HOW_TO_GET = ("install one (python.org's installer, your distribution, or "
              "`uv python install 3.13t`) and put it on PATH")

# What an interpreter says about itself: run in it, so a GIL build named
# python3.13t is told apart from a free-threaded one.
PROBE = ("import json, platform, sys, sysconfig; print(json.dumps({"
         "'version': platform.python_version(), "
         "'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
         "'gil_enabled_now': getattr(sys, '_is_gil_enabled', lambda: True)()}))")


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str          # e.g. "3.13.5"

    @property
    def tag(self):
        """asv's name for it in ``pythons``: "3.13t"."""
        return ".".join(self.version.split(".")[:2]) + "t"


def cache_dir():
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "npthreads")


def probe(path, run=subprocess.run):
    """(Interpreter, "") for a free-threaded interpreter at ``path``, else
    (None, why not)."""
    try:
        out = run([str(path), "-c", PROBE], capture_output=True, text=True, timeout=60,
                  env={**os.environ, "PYTHON_GIL": ""})
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"{path}: does not run ({err.__class__.__name__})"
    if out.returncode:
        return None, f"{path}: exits {out.returncode}"
    try:
        facts = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, f"{path}: says nothing readable about itself"
    if not facts.get("gil_disabled"):
        return None, (f"{path}: CPython {facts.get('version', '?')} is not a free-threaded "
                      f"build (Py_GIL_DISABLED is not set)")
    if facts.get("gil_enabled_now"):
        return None, f"{path}: free-threaded, but it started with the GIL enabled"
    return Interpreter(Path(path), facts["version"]), ""


def candidates(tag):
    """Where a ``python<tag>`` may be: PATH, pyenv's versions, the cache."""
    name = f"python{tag}"
    found = []
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found += sorted(pyenv.glob(f"*/bin/{name}"))
    found += sorted((cache_dir() / "python").glob(f"*/bin/{name}"))
    unique = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def find(tags=TAGS, say=print, run=subprocess.run):
    """{tag: Interpreter} for each tag a verified free-threaded interpreter
    exists for; each candidate that is not one is said, not used."""
    found = {}
    for tag in tags:
        for path in candidates(tag):
            if _in_cache(path) and not (path.parents[1] / VERIFIED).is_file():
                continue      # a build that never finished: ``build`` replaces it
            interpreter, why = probe(path, run)
            if interpreter:
                found[tag] = interpreter
                break
            say(f"[free-threaded] skipped {why}")
    return found


def _in_cache(path):
    try:
        Path(path).relative_to(cache_dir())
        return True
    except ValueError:
        return False


# -- building one from Debian's source package -----------------------------------

def mirror(sources_dir=Path("/etc/apt")):
    """The Debian mirror the system's own apt uses (deb822 or one-line
    format), so the private list reaches what the machine can reach."""
    texts = []
    for path in [sources_dir / "sources.list"] + sorted((sources_dir / "sources.list.d").glob(
            "*.sources")) + sorted((sources_dir / "sources.list.d").glob("*.list")):
        try:
            texts.append(path.read_text())
        except OSError:
            continue
    for text in texts:
        for uri in re.findall(r"^\s*URIs:\s*(\S+)", text, re.M) + re.findall(
                r"^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M):
            if re.search(r"/debian/?$", uri):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def missing_tools(which=shutil.which):
    """The programs a build needs that this machine lacks."""
    needed = {"apt-get": "apt-get (a Debian or Ubuntu system)", "make": "make",
              "cc": "a C compiler (cc)"}
    return [what for program, what in needed.items() if not which(program)]


class Step:
    """Runs one build step with its output in the log, and says how long it
    took; a failing step is a one-line refusal naming the log."""

    def __init__(self, log, say, run=subprocess.run):
        self.log, self.say, self.run = log, say, run

    def __call__(self, what, argv, cwd=None, timeout=1800):
        self.say(f"[free-threaded] {what} ...")
        start = time.monotonic()
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(map(str, argv))}\n")
            log.flush()
            try:
                out = self.run([str(a) for a in argv], cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT, timeout=timeout)
            except (OSError, subprocess.SubprocessError) as err:
                raise UsageError(f"free-threaded Python: {what} failed "
                                 f"({err.__class__.__name__}); see {self.log}") from None
        if out.returncode:
            raise UsageError(f"free-threaded Python: {what} failed (exit {out.returncode}); "
                             f"last lines in {self.log}")
        self.say(f"[free-threaded] {what}: {time.monotonic() - start:.0f} s")


def apt_options(private):
    """``apt-get -o`` options that keep every file apt reads or writes for
    the trixie sources inside ``private``."""
    return ["-o", f"Dir::Etc::SourceList={private / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={private / 'sources.list.d'}",
            "-o", f"Dir::State::Lists={private / 'lists'}",
            "-o", f"Dir::Cache={private / 'cache'}",
            "-o", "APT::Sandbox::User=root"]


def private_apt(root, mirror_uri):
    """A private apt tree under ``root`` whose only source is trixie's deb-src."""
    for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    signed = f" [signed-by={KEYRING}]" if Path(KEYRING).is_file() else ""
    (root / "sources.list").write_text(
        f"deb-src{signed} {mirror_uri} {SOURCE_SUITE} main\n")
    return apt_options(root)


def upstream_tarball(directory):
    found = sorted(p for p in Path(directory).glob(f"{SOURCE_PACKAGE}_*.orig.tar.*")
                   if p.suffix in (".xz", ".gz", ".bz2"))     # not the .asc signature
    if not found:
        raise UsageError(f"free-threaded Python: apt-get source gave no "
                         f"{SOURCE_PACKAGE}_*.orig.tar.* in {directory}")
    return found[-1]


def build(say=print, run=subprocess.run, which=shutil.which, jobs=None):
    """Build CPython with ``--disable-gil`` from Debian's source package
    into the cache; return the verified Interpreter. Refuses with one line
    where the machine cannot (no apt-get, compiler or make; no network)."""
    lacking = missing_tools(which)
    if lacking:
        raise UsageError(f"no free-threaded Python found, and it cannot be built here: "
                         f"{', '.join(lacking)} missing; {HOW_TO_GET}")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "build-python.log"
    log.write_text("")
    step = Step(log, say, run)
    jobs = jobs or os.cpu_count() or 1
    say(f"[free-threaded] building CPython {SOURCE_PACKAGE[6:]}t from Debian {SOURCE_SUITE}'s "
        f"source package into {cache} (about 4 minutes on 2 cores; log: {log})")
    with tempfile.TemporaryDirectory(prefix="npthreads-python-") as tmp:
        tmp = Path(tmp)
        options = private_apt(tmp / "apt", mirror())
        step("apt-get update (trixie deb-src only, private lists)",
             ["apt-get", *options, "update"], timeout=600)
        step(f"apt-get source {SOURCE_PACKAGE}",
             ["apt-get", *options, "source", "--download-only", SOURCE_PACKAGE],
             cwd=tmp, timeout=900)
        tarball = upstream_tarball(tmp)
        version = re.search(r"_(\d+\.\d+\.\d+)", tarball.name).group(1)
        say(f"[free-threaded] unpacking {tarball.name}")
        try:
            with tarfile.open(tarball) as archive:
                archive.extractall(tmp / "src", filter="data")
        except (tarfile.TarError, OSError) as err:
            raise UsageError(f"free-threaded Python: {tarball.name} does not unpack: "
                             f"{err}".splitlines()[0]) from None
        source = next(p for p in (tmp / "src").iterdir() if p.is_dir())
        prefix = cache / "python" / f"cpython-{version}t"
        if prefix.exists():
            shutil.rmtree(prefix)       # unverified: never finished
        step("configure --disable-gil", [source / "configure", "--disable-gil",
                                         f"--prefix={prefix}", "--with-ensurepip=install"],
             cwd=source)
        step(f"make -j{jobs}", ["make", f"-j{jobs}"], cwd=source, timeout=3600)
        step("make install", ["make", "install"], cwd=source, timeout=1800)
    tag = ".".join(version.split(".")[:2]) + "t"
    interpreter, why = probe(prefix / "bin" / f"python{tag}", run)
    if not interpreter:
        raise UsageError(f"free-threaded Python: the build is not usable: {why}")
    (prefix / VERIFIED).write_text(json.dumps({"version": interpreter.version,
                                               "source": f"Debian {SOURCE_SUITE} "
                                               f"{tarball.name}"}) + "\n")
    say(f"[free-threaded] verified: {interpreter.path} (CPython {interpreter.version}, "
        f"Py_GIL_DISABLED=1)")
    return interpreter


def ensure(say=print, allow_build=True):
    """{tag: Interpreter}: those found, or one built where none is and the
    machine can build it; a one-line refusal where neither works."""
    found = find(say=say)
    if found:
        for tag, interpreter in found.items():
            say(f"[free-threaded] using {interpreter.path} (CPython {interpreter.version})")
        return found
    if not allow_build:
        raise UsageError(f"no free-threaded Python (python3.13t / python3.14t) on PATH, in "
                         f"pyenv or in {cache_dir() / 'python'}; {HOW_TO_GET}")
    interpreter = build(say=say)
    return {interpreter.tag: interpreter}


def path_with(interpreters, path=None):
    """PATH with each interpreter's bin directory in front, so asv finds
    ``python3.13t``."""
    path = path if path is not None else os.environ.get("PATH", "")
    dirs = [str(i.path.parent) for i in interpreters.values()]
    return os.pathsep.join(dirs + [path])


def main(argv=None):
    """``python -m npthreads.freethreaded [--no-build]``: print the
    interpreter's path (building it if needed)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        found = ensure(say=lambda line: print(line, file=sys.stderr),
                       allow_build="--no-build" not in argv)
    except UsageError as err:
        print(f"npthreads: {err}", file=sys.stderr)
        return 2
    for interpreter in found.values():
        print(interpreter.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
