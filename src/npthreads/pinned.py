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
from importlib.metadata import requires

MARKER = re.compile(r";\s*extra\s*==\s*['\"]pinned['\"]\s*$")


def pinned_requirements():
    return [MARKER.sub("", req).strip() for req in requires("npthreads") or []
            if MARKER.search(req)]


def main():
    if os.environ.get("NPTHREADS_NUMPY") != "pinned":
        return 0
    reqs = pinned_requirements()
    if not reqs:
        print("npthreads.pinned: the wheel declares no 'pinned' extra", file=sys.stderr)
        return 1
    print("npthreads.pinned: installing", " ".join(reqs))
    return subprocess.call([sys.executable, "-m", "pip", "install", *reqs])


if __name__ == "__main__":
    sys.exit(main())
