import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


def run_cli(*args, env=None, cwd=None, timeout=120):
    """Run ``python -m npthreads ARGS`` the way a user would."""
    return subprocess.run([sys.executable, "-m", "npthreads", *args],
                          capture_output=True, text=True, env=env or dict(os.environ),
                          cwd=cwd or ROOT, timeout=timeout)
