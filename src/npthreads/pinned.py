"""asv install step: give the pin-following environment the pinned numpy.

Run by asv (``python -m npthreads.pinned``) right after our wheel is
installed with ``--no-deps``. In the environment whose matrix sets
``NPTHREADS_NUMPY=pinned`` it installs the ``pinned`` extra recorded in the
wheel's own metadata, so the numpy comes from the benchmarked commit's
pyproject.toml; a commit that bumps the pin then shows as a step in asv's
history. Everywhere else it does nothing.
"""

import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires, version

MARKER = re.compile(r";\s*extra\s*==\s*['\"]pinned['\"]\s*$")
EXACT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)$")


def pinned_requirements():
    return [MARKER.sub("", req).strip() for req in requires("npthreads") or []
            if MARKER.search(req)]


def already_installed(reqs):
    """Whether every requirement is an exact pin (``name==version``) that the
    environment already has. asv installs our wheel again for every commit
    and round it measures, and each time pip took 1.6-2.4 s here to find
    nothing to do: 42 times in the end-to-end test's three commits."""
    for req in reqs:
        found = EXACT.match(req)
        if not found:
            return False
        name, wanted = found.groups()
        try:
            if version(name) != wanted:
                return False
        except PackageNotFoundError:
            return False
    return True


def main():
    if os.environ.get("NPTHREADS_NUMPY") != "pinned":
        return 0
    reqs = pinned_requirements()
    if not reqs:
        print("npthreads.pinned: the wheel declares no 'pinned' extra", file=sys.stderr)
        return 1
    if already_installed(reqs):
        print("npthreads.pinned: already installed:", " ".join(reqs))
        return 0
    print("npthreads.pinned: installing", " ".join(reqs))
    return subprocess.call([sys.executable, "-m", "pip", "install", *reqs])


if __name__ == "__main__":
    sys.exit(main())
