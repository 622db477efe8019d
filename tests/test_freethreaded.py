"""The free-threaded axis: the interpreter finder and builder with their
failure modes, the environments asv.conf.json declares, how results name
them, and one real run on CPython 3.13t (slow; builds the interpreter once
into the machine's cache if none is installed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from npthreads import UsageError, asvrun, freethreaded, results

from .conftest import ROOT, fresh_clone, run_cli


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(freethreaded.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    return tmp_path / "cache"


def test_a_python3_13t_that_is_not_free_threaded_is_skipped_with_the_reason(
        tmp_path, monkeypatch, empty_cache):
    """A GIL build under the free-threaded name (here the tools' own
    CPython) is probed, said, and not used."""
    fake = tmp_path / "bin" / "python3.13t"
    fake.parent.mkdir()
    fake.symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    said = []
    assert freethreaded.find(tags=("3.13t",), say=said.append) == {}
    assert len(said) == 1 and "is not a free-threaded build (Py_GIL_DISABLED" in said[0]
    with pytest.raises(UsageError, match=r"no free-threaded Python .* `uv python install 3.13t`"):
        freethreaded.ensure(say=said.append, allow_build=False)


def test_an_interpreter_that_does_not_run_is_a_reason_not_a_traceback(tmp_path):
    broken = tmp_path / "python3.13t"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    assert freethreaded.probe(broken) == (None, f"{broken}: exits 3")
    assert freethreaded.probe(tmp_path / "missing")[1].endswith("does not run (FileNotFoundError)")


@pytest.mark.parametrize("absent, named", [("cc", "a C compiler (cc)"), ("make", "make"),
                                           ("apt-get", "apt-get (a Debian or Ubuntu system)")])
def test_no_compiler_make_or_apt_is_a_one_line_refusal(absent, named, empty_cache):
    which = lambda program: None if program == absent else f"/usr/bin/{program}"  # noqa: E731
    with pytest.raises(UsageError) as refused:
        freethreaded.build(say=lambda line: None, which=which)
    message = str(refused.value)
    assert named in message and "cannot be built here" in message and "\n" not in message


def test_no_network_stops_at_apt_with_the_log_named(empty_cache):
    """apt-get update failing (no route to the mirror) is one line naming
    the step and the log; nothing half-built is left as an interpreter."""
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 100)
    with pytest.raises(UsageError, match=r"apt-get update .* failed \(exit 100\).*build-python.log"):
        freethreaded.build(say=lambda line: None, run=run,
                           which=lambda p: f"/usr/bin/{p}")
    assert calls[0][0] == "apt-get" and calls[0][-1] == "update"
    assert freethreaded.find(say=lambda line: None) == {}


def test_apt_reads_and_writes_only_the_private_tree(tmp_path):
    options = freethreaded.private_apt(tmp_path / "apt", "http://mirror.example/debian")
    values = [o.split("=", 1)[1] for o in options[1::2] if "=" in o and "::Dir" not in o
              and not o.startswith("APT::")]
    assert values and all(v.startswith(str(tmp_path / "apt")) for v in values)
    assert (tmp_path / "apt" / "sources.list").read_text().startswith("deb-src")
    assert "http://mirror.example/debian trixie main" in (
        tmp_path / "apt" / "sources.list").read_text()


def test_the_mirror_is_the_one_the_system_uses(tmp_path):
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert freethreaded.mirror(etc) == "http://mirror.example/debian"
    (etc / "sources.list.d" / "debian.sources").unlink()
    (etc / "sources.list").write_text("deb [arch=amd64] http://other.example/debian/ bookworm main\n")
    assert freethreaded.mirror(etc) == "http://other.example/debian"
    (etc / "sources.list").unlink()
    assert freethreaded.mirror(etc) == freethreaded.DEFAULT_MIRROR


def test_an_unfinished_build_in_the_cache_is_not_used(empty_cache, tmp_path):
    bin_dir = empty_cache / "python" / "cpython-3.13.5t" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3.13t").symlink_to(sys.executable)
    assert freethreaded.candidates("3.13t")[-1] == bin_dir / "python3.13t"
    said = []
    assert freethreaded.find(tags=("3.13t",), say=said.append) == {}
    assert said == []      # never probed: no verification stamp


def test_the_config_declares_each_numpy_with_the_gil_off_and_on():
    conf = asvrun.load_config(ROOT)
    threaded = [inc for inc in conf["include"] if asvrun.free_threaded(inc)]
    pairs = {(inc["req"]["numpy"], inc["env_nobuild"]["PYTHON_GIL"]) for inc in threaded}
    assert pairs == {(v, g) for v in ("2.1.3", "2.2.6", "2.3.5", "2.4.6") for g in "01"}
    # every other environment names PYTHON_GIL too (empty: unset), so no
    # history path says "env-PYTHON_GIL-null"
    assert all(inc["env_nobuild"]["PYTHON_GIL"] == "" for inc in conf["include"]
               if not asvrun.free_threaded(inc))
    assert conf["matrix"]["env_nobuild"]["PYTHON_GIL"] == ""


def test_each_axis_keeps_its_own_environments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    numpy_axis = json.loads(asvrun.profile_config(ROOT, "default").read_text())
    assert not any(asvrun.free_threaded(inc) for inc in numpy_axis["include"])
    threaded = json.loads(asvrun.profile_config(ROOT, "default",
                                                axis="freethreaded").read_text())
    assert {inc["python"] for inc in threaded["include"]} == {"3.13t"}
    assert len(threaded["include"]) == 8
    assert threaded["exclude"] == [{"req": {"numpy": "1\\.26\\.4"}}]
    quick = json.loads(asvrun.profile_config(ROOT, "quick", axis="freethreaded").read_text())
    assert [(i["req"]["numpy"], i["env_nobuild"]["PYTHON_GIL"]) for i in quick["include"]] \
        == [("2.4.6", "0"), ("2.4.6", "1")]
    with pytest.raises(UsageError, match="numpy 2.5.5 has no free-threaded environment"):
        asvrun.profile_config(ROOT, "default", numpy=["2.5.5"], axis="freethreaded")


def test_results_name_the_build_and_the_gil():
    def m(python, env_vars):
        return results.Measurement("m", "e", "c", "b.C.time_x", {}, 1.0, "ok", "seconds",
                                   python=python, env_vars=env_vars)
    off = m("3.13t", {"PYTHON_GIL": "0"})
    on = m("3.13t", {"PYTHON_GIL": "1"})
    gil_build = m("3.11", {"PYTHON_GIL": ""})
    assert (off.axis, off.gil, on.gil) == ("freethreaded", "off", "on")
    assert (gil_build.axis, gil_build.gil, gil_build.free_threaded) == ("numpy", "", False)
    assert m("3.11", {"NPTHREADS_OPENBLAS": "0.3.27.44.6"}).axis == "openblas"


@pytest.mark.slow
def test_a_real_quick_run_on_free_threaded_cpython(tmp_path):
    """`npthreads bench --axis freethreaded --profile quick` on a clone:
    numpy 2.4.6 on CPython 3.13t, PYTHON_GIL=0 and 1, in real virtualenvs;
    the results say which ran with the GIL, and every threaded cell's
    result was checked (a wrong one would be a failure, not a time). The
    interpreter comes from the machine's cache (built there once if none
    is installed: a few minutes)."""
    clone, env = fresh_clone(tmp_path, "ft-box", NPTHREADS_CACHE=os.environ.get(
        freethreaded.CACHE_ENV) or str(Path.home() / ".cache" / "npthreads"))
    out = run_cli("bench", "--axis", "freethreaded", "--profile", "quick", "--no-publish",
                  env=env, cwd=clone, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "[free-threaded] using" in out.stdout or "[free-threaded] verified" in out.stdout

    measured = results.load(clone / ".asv" / "quick" / "results", "ft-box")
    by_gil = {}
    for m in measured:
        assert m.axis == "freethreaded" and m.python == "3.13t"
        by_gil.setdefault(m.gil, []).append(m)
    assert set(by_gil) == {"on", "off"}
    gil_track = {m.gil: m.value for m in measured
                 if m.benchmark.endswith("track_gil_enabled")}
    assert gil_track == {"off": 0.0, "on": 1.0}
    failed = [(m.benchmark, m.params) for m in measured if m.status == "failed"]
    assert not failed, failed
