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


def fresh_clone(tmp_path, machine, **env):
    """(clone, environment) for running a command as on a new machine: a
    git clone of this repository, a HOME of its own, pyenv's Pythons still
    found, the machine named ``machine``; ``env`` adds variables."""
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    return clone, dict(os.environ, HOME=str(home),
                       PYENV_ROOT=os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")),
                       NPTHREADS_MACHINE=machine, **env)
