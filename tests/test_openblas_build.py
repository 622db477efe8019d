"""The OpenBLAS axis (issue 10): swapping scipy-openblas64 builds into a real
numpy, refusing what does not verify, the environments asv builds for each
axis, and the migration of the committed results to asv's new names.

The swaps are real: a fresh virtualenv with numpy from PyPI, wheels from
PyPI (kept in .asv/openblas-wheels between sessions), the module run the
way asv runs it, and threadpoolctl asked afterwards in a fresh interpreter.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from npthreads import asvrun, migrate, openblas_build, results

from . import asv_files
from .conftest import ROOT, run_cli

WHEELS = ROOT / ".asv" / "openblas-wheels"
BUILD = "0.3.27.44.6"           # numpy 2.1.3's build; threadpoolctl says "0.3.27"
OTHER = "0.3.26.0.4"
NUMPY_OWN = "0.3.31.188.0"      # the build numpy 2.4.6's wheel vendors


def _venv(path, *packages):
    subprocess.run([sys.executable, "-m", "virtualenv", "-q", str(path)], check=True,
                   timeout=300)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *packages], check=True, timeout=600, capture_output=True)
    return python


@pytest.fixture(scope="session")
def numpy2(tmp_path_factory):
    """A fresh virtualenv with numpy 2.4.6 and threadpoolctl, as asv makes them."""
    return _venv(tmp_path_factory.mktemp("numpy2") / "env", "numpy==2.4.6",
                 "threadpoolctl==3.8.0")


def _swap(python, build, *args):
    """``python -m npthreads.openblas_build`` in that environment, the way
    asv's install step runs it (our package from src/ instead of the wheel)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASV")}
    env.update(PYTHONPATH=str(ROOT / "src"), NPTHREADS_OPENBLAS=build,
               NPTHREADS_OPENBLAS_WHEELS=str(WHEELS))
    return subprocess.run([str(python), "-m", "npthreads.openblas_build", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def _loaded(python):
    """What threadpoolctl reports of numpy's OpenBLAS, in a fresh interpreter."""
    code = ("import json, numpy, threadpoolctl; print(json.dumps([(i['version'], i['filepath'])"
            " for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']))")
    out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_a_build_is_swapped_in_verified_and_reported(numpy2):
    out = _swap(numpy2, BUILD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "threadpoolctl reports OpenBLAS 0.3.27 " in out.stdout
    [(version, path)] = _loaded(numpy2)
    assert version == "0.3.27"
    # under numpy's own file name, with the libraries it NEEDs beside it
    libs = os.path.dirname(path)
    assert os.path.basename(path).startswith("libscipy_openblas64_-")
    assert "libgfortran-040039e1.so.5.0.0" in os.listdir(libs)
    # again: nothing downloaded or copied, the check alone
    again = _swap(numpy2, BUILD)
    assert again.returncode == 0 and again.stdout == out.stdout


def test_a_version_mismatch_is_refused_in_one_line(numpy2):
    """Ask for one build, tell the check to expect another: refused, and
    numpy is left with the OpenBLAS its wheel vendors."""
    out = _swap(numpy2, OTHER, "--expect", "0.3.27")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"npthreads: refusing OpenBLAS build {OTHER} in {numpy2.parent.parent}: "
        "loaded 0.3.26, asked 0.3.27"]
    assert [v for v, _ in _loaded(numpy2)] == [NUMPY_OWN]


def test_a_build_numpy_2_cannot_call_is_refused_before_the_swap(numpy2):
    """numpy 1.26.4's build exports cblas_dgemm64_, not scipy_cblas_dgemm64_."""
    out = _swap(numpy2, "0.3.23.293.2")
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1
    assert "exports no scipy_*64_ symbols" in out.stderr
    assert len(_loaded(numpy2)) == 1


@pytest.mark.parametrize("build,reason", [
    ("0.3.99.0.0", "pip cannot download scipy-openblas64==0.3.99.0.0"),
    ("latest", "'latest' is not a scipy-openblas64 version"),
])
def test_a_build_that_does_not_exist_is_one_line(numpy2, build, reason):
    out = _swap(numpy2, build)
    assert out.returncode == 1 and len(out.stderr.splitlines()) == 1
    assert reason in out.stderr and "Traceback" not in out.stderr


def test_no_build_asked_is_no_work(numpy2):
    out = _swap(numpy2, "")
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""


def test_numpy_1_26_is_refused(tmp_path):
    python = _venv(tmp_path / "env", "numpy==1.26.4")
    out = _swap(python, BUILD)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"npthreads: refusing OpenBLAS build {BUILD} in {tmp_path / 'env'}: numpy 1.26.4 links "
        "OpenBLAS under other symbol names (libopenblas64_p); builds can be swapped from "
        "numpy 2.0 on"]


@pytest.mark.parametrize("reported,expected,same", [
    ("0.3.27", "0.3.27.44.6", True),            # OpenBLAS reports the release
    ("0.3.24.dev", "0.3.24.95.1", True),        # ... or a development snapshot of it
    ("0.3.31.188.0", "0.3.31.188.0", True),     # from 0.3.31.188.0 on: the whole build
    ("0.3.31.188.0", "0.3.31", True),
    ("0.3.31.188.0", "0.3.31.126.5", False),
    ("0.3.26", "0.3.27", False),
    ("", "0.3.27", False),
    (None, "0.3.27", False),
])
def test_which_reported_versions_name_a_build(reported, expected, same):
    assert openblas_build.version_matches(reported, expected) is same


# -- the environments asv builds for each axis ------------------------------------

def _asv_names(config):
    """Every environment name asv computes from ``config``; asv skips an
    environment whose Python it cannot find, so a stand-in named like each
    interpreter the config asks for is put on PATH (the name is all asv
    needs here)."""
    from asv import environment
    from asv.config import Config
    conf = Config.load(str(config))
    pythons = set(conf.pythons) | {inc["python"] for inc in conf.include if "python" in inc}
    with tempfile.TemporaryDirectory() as stand_ins:
        for python in pythons:
            os.symlink(sys.executable, os.path.join(stand_ins, f"python{python}"))
        old = os.environ["PATH"]
        os.environ["PATH"] = stand_ins + os.pathsep + old
        try:
            return [e.name for e in environment.get_environments(conf, None, verbose=False)]
        finally:
            os.environ["PATH"] = old


def _builds_in(conf):
    return [asvrun.swapped_build(inc) for inc in conf.get("include", [])
            if asvrun.swapped_build(inc)]


def test_the_numpy_axis_builds_no_swapped_openblas():
    """`make bench` (15-minute budget) never builds the OpenBLAS axis."""
    path = asvrun.profile_config(ROOT, "default")
    assert _builds_in(json.loads(path.read_text())) == []
    names = _asv_names(path)
    assert len(names) == 8 and not any("NPTHREADS_OPENBLAS0" in n for n in names)
    assert all("-NPTHREADS_OPENBLAS-" in n for n in names)


def test_the_openblas_axis_is_its_builds_and_their_anchor():
    conf = asvrun.load_config(ROOT)
    builds = _builds_in(conf)
    path = asvrun.profile_config(ROOT, "default", axis="openblas")
    names = _asv_names(path)
    assert len(names) == len(builds) + 1
    assert all("numpy2.4.6" in n for n in names)
    anchor = [n for n in names if "-NPTHREADS_OPENBLAS-" in n]
    assert len(anchor) == 1
    assert sorted(n.split("NPTHREADS_OPENBLAS")[1].split("-")[0] for n in names
                  if n not in anchor) == sorted(builds)
    assert json.loads(path.read_text())["results_dir"] == str(ROOT / "results")


def test_an_anchor_measured_at_the_commit_stays_out_of_the_axis_run(tmp_path):
    """make bench measured numpy 2.4.6's own build at this commit: the axis
    run builds only the swapped environments, so the anchor's file keeps one
    session's values (and a run without those results still gets its anchor)."""
    commit = "c0ffee00" * 5
    every_class = {f"bench_x.{c}.time_y": asv_files.row([1e-3], [])
                   for c in asvrun.OPENBLAS_AXIS_BENCHMARKS}
    (tmp_path / "benchmarks.json").write_text(json.dumps(
        {name: {"params": [], "param_names": [], "type": "time", "unit": "seconds"}
         for name in every_class} | {"version": 2}))
    hosts = asvrun.axis_hosts(asvrun.load_config(ROOT))
    assert hosts == {"2.4.6"}
    folder = tmp_path / "box"
    for numpy in ("2.4.6", "2.3.5"):   # the anchor, and a numpy the axis does not run
        asv_files.write(folder, asv_files.result_file(
            commit, f"numpy{numpy}", every_class, requirements={"numpy": numpy}, date=1,
            env_vars={"NPTHREADS_OPENBLAS": "", "NPTHREADS_NUMPY": ""}))
    assert asvrun.measured_anchors(tmp_path, "box", commit, hosts) == {"2.4.6"}
    assert asvrun.measured_anchors(tmp_path, "box", "f" * 40, hosts) == set()  # other commit
    assert asvrun.measured_anchors(tmp_path, "box", commit, hosts, "Haswell") == set()
    assert asvrun.measured_anchors(tmp_path, "other-box", commit, hosts) == set()
    # one class missing: the anchor is measured again with the builds
    partial = dict(list(every_class.items())[1:])
    asv_files.write(folder, asv_files.result_file(
        "d" * 40, "numpy2.4.6", partial, requirements={"numpy": "2.4.6"}, date=1))
    assert asvrun.measured_anchors(tmp_path, "box", "d" * 40, hosts) == set()

    path = asvrun.profile_config(ROOT, "default", axis="openblas",
                                 measured_anchors={"2.4.6"})
    names = _asv_names(path)
    assert sorted(n.split("NPTHREADS_OPENBLAS")[1].split("-")[0] for n in names) == sorted(
        _builds_in(asvrun.load_config(ROOT)))


def test_the_openblas_axis_has_one_build_per_release_numpy_2_can_load():
    builds = _builds_in(asvrun.load_config(ROOT))
    releases = [tuple(openblas_build.numbers(b)[:3]) for b in builds]
    assert len(set(releases)) == len(builds) >= 9
    assert min(releases) >= (0, 3, 24)   # 0.3.23.293.x: the old symbol names


def test_the_openblas_axis_benchmarks_exist():
    """Each class the axis runs is in the suite, and the -b patterns pick
    exactly those classes."""
    import re
    source = "".join(p.read_text() for p in (ROOT / "benchmarks").glob("bench_*.py"))
    classes = set(re.findall(r"^class (\w+)", source, flags=re.M))
    assert set(asvrun.OPENBLAS_AXIS_BENCHMARKS) <= classes
    patterns = asvrun.axis_benchmarks("openblas")
    picked = {c for c in classes if any(re.search(p, f"bench_x.{c}.time_y") for p in patterns)}
    assert picked == set(asvrun.OPENBLAS_AXIS_BENCHMARKS)
    assert asvrun.axis_benchmarks("numpy") == []


def test_the_openblas_axis_with_numpy_is_one_line():
    out = run_cli("bench", "--axis", "openblas", "--numpy", "2.4.6")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "--numpy does not combine with --axis openblas" in out.stderr


# -- the migration to asv's new names -------------------------------------------

def test_committed_results_migrate_to_exactly_the_names_asv_computes(tmp_path):
    """A copy of the committed results, named as before NPTHREADS_OPENBLAS
    was in the matrix, migrates to the environment names asv computes for
    asv.conf.json and the file names asv writes; a second pass does nothing;
    nothing but env_name and env_vars changes, and no file is lost."""
    from asv import results as asv_results
    conf = asvrun.load_config(ROOT)
    copy = tmp_path / "results"
    shutil.copytree(ROOT / "results", copy)
    # the committed files are already migrated: take the variable out again
    before = {}
    for path in sorted(copy.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        if data["env_vars"].get(results.OPENBLAS_VAR):
            continue   # the OpenBLAS axis: named with its build from the start
        data["env_vars"].pop(results.OPENBLAS_VAR, None)
        data["env_name"] = data["env_name"].replace("-NPTHREADS_OPENBLAS-", "-")
        path.unlink()
        old = path.with_name(results.asv_result_filename(data["commit_hash"], data["env_name"]))
        old.write_text(json.dumps(data))
        before[(data["commit_hash"], data["env_name"])] = data
    assert before

    assert migrate.name_every_matrix_variable(copy, conf) == len(before)
    assert migrate.name_every_matrix_variable(copy, conf) == 0

    asv_names = set(_asv_names(ROOT / "asv.conf.json"))
    after = [p for p in copy.glob("*/*.json") if p.name != "machine.json"
             and not json.loads(p.read_text())["env_vars"].get(results.OPENBLAS_VAR)]
    assert len(after) == len(before)
    for path in after:
        data = json.loads(path.read_text())
        assert data["env_name"] in asv_names
        assert path.name == os.path.basename(
            asv_results.get_filename("m", data["commit_hash"], data["env_name"]))
        assert data["env_vars"][results.OPENBLAS_VAR] == ""
        old = before[(data["commit_hash"], data["env_name"].replace("-NPTHREADS_OPENBLAS-", "-"))]
        unchanged = {k: v for k, v in data.items() if k not in ("env_name", "env_vars")}
        assert json.dumps(unchanged) == json.dumps(
            {k: v for k, v in old.items() if k not in ("env_name", "env_vars")})
    # asv itself reads every migrated file back under its new name
    loaded = list(asv_results.iter_results(str(copy)))
    assert {r.env_name for r in loaded} <= asv_names
    assert len([r for r in loaded if "NPTHREADS_OPENBLAS-" in r.env_name]) == len(before)


def test_the_committed_results_are_named_as_asv_names_them_now():
    """Every committed result file carries every variable of asv.conf.json's
    matrix (else its environment is a second series: `npthreads bench`
    migrates them, this checks the commit did)."""
    asv_names = set(_asv_names(ROOT / "asv.conf.json"))
    for path in (ROOT / "results").glob("*/*.json"):
        if path.name != "machine.json":
            data = json.loads(path.read_text())
            assert data["env_name"] in asv_names, path.name
            assert path.name == results.asv_result_filename(data["commit_hash"],
                                                            data["env_name"])


def test_a_file_asv_would_not_have_named_so_is_left(tmp_path, capsys):
    folder = tmp_path / "box"
    folder.mkdir()
    data = {"commit_hash": "c" * 40, "env_name": "hand-made", "python": "3.11",
            "requirements": {}, "env_vars": {}, "params": {}, "results": {}}
    (folder / "cccccccc-hand-made.json").write_text(json.dumps(data))
    conf = {"matrix": {"env": {"NPTHREADS_OPENBLAS": [""]}}, "include": []}
    assert migrate.name_every_matrix_variable(tmp_path, conf) == 0
    assert (folder / "cccccccc-hand-made.json").exists()
    assert capsys.readouterr().err.count("\n") == 1
