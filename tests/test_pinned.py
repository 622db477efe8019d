"""The pin-following environment's install step (``npthreads.pinned``)."""

from importlib.metadata import version

import pytest

from npthreads import pinned

NUMPY = version("numpy")


@pytest.mark.parametrize("reqs, expected", [
    ([f"numpy=={NUMPY}"], True),
    ([f"numpy=={NUMPY}", f"threadpoolctl=={version('threadpoolctl')}"], True),
    (["numpy==1.0.0"], False),                 # another version: pip installs the pin
    ([f"numpy>={NUMPY}"], False),              # not an exact pin: pip decides
    (["no-such-package==1.0"], False),
])
def test_an_exact_pin_already_installed_needs_no_pip(reqs, expected):
    assert pinned.already_installed(reqs) is expected


def test_the_step_runs_pip_only_when_the_pin_is_missing(monkeypatch, capsys):
    monkeypatch.setenv("NPTHREADS_NUMPY", "pinned")
    calls = []
    monkeypatch.setattr(pinned.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    monkeypatch.setattr(pinned, "pinned_requirements", lambda: [f"numpy=={NUMPY}"])
    assert pinned.main() == 0 and calls == []
    assert "already installed" in capsys.readouterr().out
    monkeypatch.setattr(pinned, "pinned_requirements", lambda: ["numpy==1.0.0"])
    assert pinned.main() == 0 and calls and calls[0][-1] == "numpy==1.0.0"


def test_elsewhere_the_step_does_nothing(monkeypatch):
    monkeypatch.setenv("NPTHREADS_NUMPY", "")
    monkeypatch.setattr(pinned.subprocess, "call", lambda cmd: pytest.fail("pip ran"))
    assert pinned.main() == 0
