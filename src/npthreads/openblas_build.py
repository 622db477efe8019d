"""asv install step: run this environment's numpy on another OpenBLAS build.

Run by asv in every environment, after our wheel (``python -m
npthreads.openblas_build``). Where the matrix sets ``NPTHREADS_OPENBLAS`` to
a scipy-openblas64 version (e.g. ``0.3.27.44.6``) it downloads that wheel,
puts its library in place of the one numpy's wheel vendors and checks the
result; where the variable is empty or unset it does nothing.

Why this works: numpy >= 2.0 wheels vendor the very builds PyPI publishes as
scipy-openblas64, as ``numpy.libs/libscipy_openblas64_-<hash>.so`` (the hash
is the first 8 hex digits of the original library's sha256: numpy 2.4.6's
``-32a4b2a6`` is scipy-openblas64 0.3.31.188.0). numpy's extension modules
NEED that file name, so the swapped library keeps it; the libgfortran and
libquadmath the build NEEDs (by the names in its ELF dynamic section) are
copied beside it. numpy 1.26 links an OpenBLAS with other symbol names
(``libopenblas64_p``, ``cblas_dgemm64_``): it cannot take a build, and
scipy-openblas64 0.3.23.293.x exports those old names too.

The result is verified in a fresh interpreter of this environment:
threadpoolctl must report the requested OpenBLAS release and a gemm, a
solve and an eigvalsh must be right. Anything else is ONE line naming the
reason and exit 1, so asv refuses the environment instead of measuring a
numpy that runs some other OpenBLAS. numpy's own library is kept (in
``site-packages/.npthreads-openblas/``) and put back on refusal.

Runs inside asv's environments: the stdlib only here, numpy and
threadpoolctl only in the verifying subprocess.
"""

import argparse
import ctypes
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# The matrix variable naming the build swapped into an environment (empty:
# the wheel's own); the tools read it back from each result's env_vars.
OPENBLAS_VAR = "NPTHREADS_OPENBLAS"
PACKAGE = "scipy-openblas64"
# A directory to keep downloaded wheels in (pip skips a wheel already
# there); unset: a scratch directory, and pip's own cache.
WHEELS_ENV = "NPTHREADS_OPENBLAS_WHEELS"
# Beside numpy.libs: numpy's own library and what was swapped in. Hidden,
# so it is never imported as a package.
STATE_DIR = ".npthreads-openblas"
# numpy links scipy-openblas64 (scipy_*64_ symbols) from 2.0 on.
SWAPPABLE_FROM = (2, 0)
# The entry point whose presence says "scipy_ prefixed, ILP64": what numpy
# >= 2.0 calls. Builds before 0.3.24 export openblas_get_config64_ instead.
PREFIXED_SYMBOL = "scipy_openblas_get_config64_"


class Refusal(Exception):
    """Why this environment must not be measured, in a few words."""


def numbers(version):
    """The numbers of a version string, comparable in release order:
    "0.3.29.dev" -> (0, 3, 29). The one reading of a version, numpy's and
    OpenBLAS's alike (the report orders numpy versions by it)."""
    return tuple(int(x) for x in re.findall(r"\d+", str(version)))


def version_matches(reported, expected):
    """Does threadpoolctl's ``reported`` OpenBLAS version name the build
    ``expected``? OpenBLAS reports the release ("0.3.27" for the build
    0.3.27.44.6, "0.3.24.dev" for 0.3.24.95.1) or, from 0.3.31.188.0 on,
    the whole build version: the two must agree on the release and on
    every number both give."""
    r, e = numbers(reported), numbers(expected)
    if len(r) < 3 or len(e) < 3:
        return False
    n = min(len(r), len(e))
    return r[:n] == e[:n]


def same_version(a, b):
    """Equal as versions: trailing zeros do not count (0.3.26.0 is 0.3.26.0.0)."""
    x, y = numbers(a), numbers(b)
    n = max(len(x), len(y))
    return x + (0,) * (n - len(x)) == y + (0,) * (n - len(y))


# -- this environment's numpy ---------------------------------------------------

def numpy_library():
    """(numpy version, the OpenBLAS file numpy's wheel vendors), without
    importing numpy (its library is about to be replaced)."""
    try:
        version = importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        raise Refusal("numpy is not installed") from None
    if numbers(version)[:2] < SWAPPABLE_FROM:
        raise Refusal(f"numpy {version} links OpenBLAS under other symbol names "
                      "(libopenblas64_p); builds can be swapped from numpy 2.0 on")
    spec = importlib.util.find_spec("numpy")
    libs = Path(spec.origin).parent.parent / "numpy.libs"
    found = sorted(libs.glob("libscipy_openblas64_*.so"))
    if len(found) != 1:
        raise Refusal(f"numpy {version} has {len(found)} libscipy_openblas64_ libraries "
                      f"in {libs}, expected one (a numpy wheel from PyPI)")
    return version, found[0]


# -- the build -------------------------------------------------------------------

def download(build, dest):
    """The scipy-openblas64 wheel of ``build`` for this interpreter, fetched
    with pip into ``dest`` (pip reuses a wheel already there)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "--quiet", "--dest", str(dest), f"{PACKAGE}=={build}"],
        capture_output=True, text=True)
    wheels = [w for w in Path(dest).glob("scipy_openblas64-*.whl")
              if same_version(w.name.split("-")[1], build)]
    if proc.returncode != 0 or not wheels:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        why = errors[0] if errors else (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
        why = re.sub(r"\s*\(from versions:.*?\)", "", why)  # ~50 versions: not one line
        raise Refusal(f"pip cannot download {PACKAGE}=={build}: {why}")
    return sorted(wheels)[-1]


def unpack_libraries(wheel, dest):
    """The wheel's shared libraries, extracted into ``dest``; returns the
    OpenBLAS one (the others are what it NEEDs)."""
    dest = Path(dest)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = Path(info.filename).name
            if info.filename.startswith("scipy_openblas64/lib/") and ".so" in name:
                (dest / name).write_bytes(zf.read(info))
    blas = [p for p in dest.iterdir() if "openblas" in p.name]
    if len(blas) != 1:
        raise Refusal(f"{Path(wheel).name} holds {len(blas)} OpenBLAS libraries, expected one")
    return blas[0]


def elf_needed(path):
    """The DT_NEEDED names of a 64-bit little-endian ELF library: the files
    the dynamic linker will look for, by exactly these names. Read with the
    stdlib because readelf is not in every environment."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise Refusal(f"{Path(path).name} is not a 64-bit little-endian ELF library")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    needed = []
    for _, sh_type, _, _, offset, size, link, _, _, _ in sections:
        if sh_type != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strtab + value)
                needed.append(data[strtab + value:end].decode())
    return needed


def check_prefixed(library):
    """Refuse a build whose symbols are not the ones numpy >= 2.0 calls,
    before it replaces anything (numpy would not even import)."""
    try:
        lib = ctypes.CDLL(str(library))
    except OSError as err:
        raise Refusal(f"its library does not load: {err}") from None
    if not hasattr(lib, PREFIXED_SYMBOL):
        raise Refusal("its library exports no scipy_*64_ symbols, which numpy >= 2.0 "
                      "calls (a build from before the scipy-openblas naming)")


# -- the swap ---------------------------------------------------------------------

def _replace(src, target):
    """Copy ``src`` over ``target`` in one rename: a reader sees the old or
    the new file, never half of one."""
    tmp = target.with_name(target.name + ".npthreads-tmp")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dir(target):
    return target.parent.parent / STATE_DIR


def swapped_build(target):
    """The build this environment already runs (recorded at the swap, and the
    file is still the one swapped in), else None."""
    try:
        record = json.loads((state_dir(target) / "swapped.json").read_text())
    except (OSError, ValueError):
        return None
    return record.get("build") if record.get("sha256") == _sha256(target) else None


def swap(build, library, target):
    """Put ``library`` in place of numpy's ``target`` under numpy's file
    name, with every library it NEEDs from its wheel beside it; numpy's own
    is kept first. Returns the names copied beside it."""
    state = state_dir(target)
    own = state / "numpy-own" / target.name
    if not own.exists():
        own.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, own)
    copied, queue = [], list(elf_needed(library))
    while queue:
        name = queue.pop(0)
        src = library.parent / name
        if name in copied or not src.is_file():   # a system library (libc, libm...)
            continue
        _replace(src, target.parent / name)
        copied.append(name)
        queue.extend(elf_needed(src))
    _replace(library, target)
    (state / "swapped.json").write_text(json.dumps(
        {"build": build, "sha256": _sha256(target), "beside": copied}, indent=1) + "\n")
    return copied


def restore(target):
    """numpy's own library back in place (after a refusal)."""
    own = state_dir(target) / "numpy-own" / target.name
    if own.exists():
        _replace(own, target)
    (state_dir(target) / "swapped.json").unlink(missing_ok=True)


# -- the check ----------------------------------------------------------------------

# Run in a fresh interpreter of this environment: the library is loaded the
# way the benchmarks load it. Integer-valued data keeps the gemm exact, so it
# is checked entry by entry against pure Python; 96x80x112 is above
# OpenBLAS's single-thread threshold (~64^3), so the threaded path runs too.
VERIFY = r"""
import json, math, sys
out = {}
try:
    import numpy as np
    import threadpoolctl
except Exception as err:
    lines = [l for l in str(err).splitlines() if l.strip()]
    out["import"] = next((l for l in lines if "Original error" in l), lines[0] if lines else repr(err))
    print(json.dumps(out)); sys.exit(0)
out["openblas"] = [{k: i.get(k) for k in ("version", "filepath", "architecture")}
                   for i in threadpoolctl.threadpool_info() if i.get("internal_api") == "openblas"]
m, k, n = 96, 80, 112
a = [[(3 * i + 5 * j) % 7 - 3 for j in range(k)] for i in range(m)]
b = [[(2 * i + 7 * j) % 5 - 2 for j in range(n)] for i in range(k)]
ref = [[sum(a[i][p] * b[p][j] for p in range(k)) for j in range(n)] for i in range(m)]
A, B = np.array(a, dtype=float), np.array(b, dtype=float)
wrong = sum(g != r for got in ((A @ B).tolist(), (B.T @ A.T).T.tolist())
            for gr, rr in zip(got, ref) for g, r in zip(gr, rr))
out["gemm"] = [wrong, 2 * m * n]
s = 60
M = [[s + 1 if i == j else 1 for j in range(s)] for i in range(s)]
x = [i - 30 for i in range(s)]
rhs = [sum(M[i][j] * x[j] for j in range(s)) for i in range(s)]
out["solve"] = float(np.max(np.abs(np.linalg.solve(np.array(M, float), np.array(rhs, float)) - x)))
t = 40
T = 2 * np.eye(t) - np.eye(t, k=1) - np.eye(t, k=-1)
exact = sorted(2 - 2 * math.cos(math.pi * j / (t + 1)) for j in range(1, t + 1))
out["eigvalsh"] = float(np.max(np.abs(np.linalg.eigvalsh(T) - exact)))
print(json.dumps(out))
"""
TOLERANCE = 1e-9


def verify(target, expected):
    """Check, in a fresh interpreter, that numpy runs the library at
    ``target``, that it reports the build ``expected`` and that it computes
    right. Returns what threadpoolctl says of it."""
    proc = subprocess.run([sys.executable, "-I", "-c", VERIFY], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise Refusal(f"the check crashed: {last}")
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Refusal("the check printed no result") from None
    if "import" in out:
        raise Refusal(f"numpy does not import with it: {out['import']}")
    found = out["openblas"]
    if len(found) != 1 or Path(found[0]["filepath"]).resolve() != target.resolve():
        where = ", ".join(str(f["filepath"]) for f in found) or "nowhere"
        raise Refusal(f"threadpoolctl finds OpenBLAS at {where}, not only at {target}")
    reported = found[0]["version"]
    if not version_matches(reported, expected):
        raise Refusal(f"loaded {reported}, asked {expected}")
    wrong, total = out["gemm"]
    if wrong:
        raise Refusal(f"gemm gives {wrong} wrong entries of {total}")
    for what in ("solve", "eigvalsh"):
        if not out[what] <= TOLERANCE:
            raise Refusal(f"{what} is off by {out[what]:.1e} (tolerance {TOLERANCE:g})")
    return found[0]


# -- the step -------------------------------------------------------------------------

def build_into_numpy(build, expected=None):
    """Make this environment's numpy run ``build`` and verify it (against
    ``expected``, default the build itself). Returns a line saying so."""
    if not re.fullmatch(r"\d+(\.\d+){2,4}", build):
        raise Refusal(f"{build!r} is not a {PACKAGE} version (e.g. 0.3.27.44.6)")
    _, target = numpy_library()
    try:
        if swapped_build(target) != build:
            with tempfile.TemporaryDirectory(prefix="npthreads-openblas-") as scratch:
                wheels = os.environ.get(WHEELS_ENV) or scratch
                Path(wheels).mkdir(parents=True, exist_ok=True)
                wheel = download(build, wheels)
                lib_dir = Path(scratch) / "lib"
                lib_dir.mkdir()
                library = unpack_libraries(wheel, lib_dir)
                check_prefixed(library)
                swap(build, library, target)
        found = verify(target, expected or build)
    except Refusal:
        # A refused environment runs numpy's own OpenBLAS, never a build
        # nobody checked (asv does not measure it either way).
        restore(target)
        raise
    return (f"threadpoolctl reports OpenBLAS {found['version']} ({found['architecture']}) "
            f"at numpy.libs/{target.name}; gemm, solve and eigvalsh are right")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Refusal(message)


def main(argv=None):
    parser = _Parser(prog="python -m npthreads.openblas_build",
                     description=f"swap the {PACKAGE} build named by ${OPENBLAS_VAR} into "
                                 "this environment's numpy and verify it")
    parser.add_argument("--expect", metavar="VERSION",
                        help="verify against this OpenBLAS version instead of the build's own "
                             "(to check the check: a mismatch must be refused)")
    build = os.environ.get(OPENBLAS_VAR, "").strip()
    where = os.environ.get("ASV_ENV_NAME") or sys.prefix
    try:
        args = parser.parse_args(argv)
        if not build:
            return 0  # the numpy wheel's own OpenBLAS: nothing to do
        done = build_into_numpy(build, args.expect)
    except Refusal as why:
        print(f"npthreads: refusing OpenBLAS build {build or '(none)'} in {where}: {why}",
              file=sys.stderr, flush=True)
        return 1
    print(f"npthreads: OpenBLAS build {build} in {where}: {done}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
