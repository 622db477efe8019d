"""Bad input is one line on stderr and a non-zero exit, never a traceback."""

import os

import pytest

from .conftest import ROOT, run_cli


@pytest.mark.parametrize("args,needle", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["bench", "--profile", "huge"], "invalid choice: 'huge'"),
    (["bench", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["publish", "--profile", "x"], "invalid choice: 'x'"),
])
def test_bad_arguments_give_one_line(args, needle):
    out = run_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_profile_in_the_environment_is_one_line():
    out = run_cli("bench", env=dict(os.environ, NPTHREADS_PROFILE="enormous"))
    assert out.returncode == 2
    assert out.stderr.strip() == ("npthreads: error: unknown profile 'enormous' in "
                                  "NPTHREADS_PROFILE; choose from quick, default, full")


def test_bad_machine_name_is_refused_before_anything_runs():
    out = run_cli("bench", "--profile", "quick",
                  env=dict(os.environ, NPTHREADS_MACHINE="../../etc"))
    assert out.returncode == 2
    assert "not a usable machine name" in out.stderr and "Traceback" not in out.stderr


def test_outside_the_repository_is_one_line(tmp_path):
    out = run_cli("bench", cwd=tmp_path)
    assert out.returncode == 2
    assert "no asv.conf.json here or above" in out.stderr


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("npthreads ")
    out = run_cli("--help")
    assert out.returncode == 0 and "bench" in out.stdout


def test_command_help_lists_the_command_options():
    out = run_cli("bench", "--help")
    assert out.returncode == 0
    assert "--profile" in out.stdout and "--no-publish" in out.stdout


def test_bench_refuses_a_corrupt_result_file_before_running(tmp_path):
    """The file is named in one line and nothing on disk is touched."""
    import shutil
    import subprocess
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    results = clone / ".asv" / "quick" / "results"
    (results / "box").mkdir(parents=True)
    (results / "benchmarks.json").write_text("{}")
    bad = results / "box" / "0123abcd-env.json"
    bad.write_text('{"results": {')
    out = run_cli("bench", "--profile", "quick", cwd=clone,
                  env=dict(os.environ, HOME=str(tmp_path), NPTHREADS_MACHINE="box"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "0123abcd-env.json" in out.stderr
    assert bad.read_text() == '{"results": {'
    assert not (clone / ".asv" / "env").exists()  # asv never started
    shutil.rmtree(clone)


def test_unwritable_machine_file_is_one_line(tmp_path):
    out = run_cli("bench", "--profile", "quick",
                  env=dict(os.environ, HOME=str(tmp_path / "no-such-home")))
    assert out.returncode == 2
    assert out.stderr.startswith("npthreads: error: cannot register the machine in")
    assert "Traceback" not in out.stderr
