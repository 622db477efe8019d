"""`npthreads publish` on a small two-machine fixture: every page, the right
numbers in the report, hostile names escaped, bad results refused in one line.

The fixture (written by tests/site_fixture.py into a temporary folder, so
no file with a hostile name lives in the repository) is published into a throw-away git repository, because ``asv publish`` looks its commit up
on branch ``main``.
"""

import dataclasses
import html
import itertools
import json
import os
import re
import statistics
import subprocess

import pytest

from npthreads import choice, report

from . import asv_files, site_fixture
from .conftest import run_cli

PLACEHOLDER = "c0ffee00" * 5
# The committed machines: eight full runs on 2 vCPUs, and the same host
# confined to one CPU by a cgroup quota (one run).
FULL, QUOTA = "amd-epyc-2cpu-24gib", "amd-epyc-2cpu-quota1-24gib"
HOSTILE = "<img src=x onerror=alert(1)>"
CONF = {"version": 1, "project": "fixture", "project_url": "", "repo": ".",
        "branches": ["main"], "dvcs": "git", "environment_type": "virtualenv",
        "benchmark_dir": "benchmarks", "results_dir": "results", "html_dir": "html"}


def make_repo(path):
    """A git repository holding asv.conf.json and the fixture results, whose
    placeholder commit is replaced by the repository's real one."""
    path.mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
           "-c", "commit.gpgsign=false"]
    (path / "asv.conf.json").write_text(json.dumps(CONF))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run(git + ["add", "asv.conf.json"], cwd=path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "fixture"], cwd=path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True,
                            text=True, check=True).stdout.strip()
    site_fixture.write(path / "results")
    for result in (path / "results").glob(f"*/{PLACEHOLDER[:8]}-*.json"):
        text = result.read_text().replace(PLACEHOLDER, commit)
        result.with_name(commit[:8] + result.name[8:]).write_text(text)
        result.unlink()
    return path


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """The fixture published once, the way a user runs it; -> html dir."""
    repo = make_repo(tmp_path_factory.mktemp("site") / "repo")
    out = run_cli("publish", "--profile", "default", cwd=repo, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return repo / "html"


def reports_of(html_dir):
    pages = sorted((html_dir / "reports").glob("*/index.html"))
    by_machine = {}
    for page in pages:
        title = re.search(r"<h1>Threads report: (.*)</h1>", page.read_text()).group(1)
        by_machine[html.unescape(title)] = page
    return by_machine


@pytest.mark.slow
def test_publish_writes_every_page(published):
    index = (published / "index.html").read_text()
    assert 'type="module"' in index and "assets/" in index      # tachyon, not asv's page
    assert 'href="reports/index.html"' in index                # the link to the reports
    assert "http" not in index                                 # nothing from the network
    assert json.loads((published / "commits.json").read_text()) == {}
    assert json.loads((published / "profiles.json").read_text()) == {"paths": {}}
    graphs = {p.relative_to(published / "graphs") for p in (published / "graphs").rglob("*.json")}
    samples = {p.relative_to(published / "samples")
               for p in (published / "samples").rglob("*.json")}
    assert graphs and graphs == samples
    # the machine facts are out of the graphs' paths: one selector, the machine
    params = json.loads((published / "index.json").read_text())["params"]
    assert "machine" in params and "num_cpu" not in params and "cpu" not in params
    pages = reports_of(published)
    assert set(pages) == {"fixture-2cpu", HOSTILE}
    listing = (published / "reports" / "index.html").read_text()
    assert 'href="machines.html"' in listing
    assert (published / "reports" / "machines.html").is_file()
    for page in pages.values():
        assert f'href="{page.parent.name}/index.html"' in listing
        text = page.read_text()
        images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', text)
        # five scenarios in the fixture: one heat map (one size) and one version plot each
        assert len(images) == 10, images
        for src, alt in images:
            assert (page.parent / src).stat().st_size > 2000 and len(alt) > 40
        assert not re.search(r'(src|href)="(https?:)?//', text)


@pytest.mark.slow
def test_report_tables_carry_the_numbers(published):
    text = reports_of(published)["fixture-2cpu"].read_text()
    # advice for numpy 2.4.6 (the newest): ThreadSplit's best is 1 Python
    # thread per core with 1 BLAS thread, 3.2 ms; 8 MFLOP in 3.2 ms is 2.62
    # GFLOP/s, 3% of the 100 GFLOP/s DGEMM peak; naive is 5.6 ms -> 1.75x.
    row = re.search(r"<tr><td>MatmulThreadSplit</td>.*?</tr>", text).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[2:10] == ["python_threads=cores, blas_threads=1", "3.2 ms", "1.75x", "2.00x",
                           "+0%", "this run", "2.62 GFLOP/s, 3% of DGEMM peak", "yes"]
    # the advice first, one sentence per scenario and size
    advice = text.split('<section id="advice"', 1)[1].split("</section>", 1)[0]
    sentences = re.findall(r"<li>(.*?)</li>", advice)
    assert len(sentences) == 5
    assert sentences[1].startswith("MatmulThreadSplit 64x64 x16 (cache): use a Python thread "
                                   "per core with BLAS at 1 thread (3.2 ms): 2.00x over serial, "
                                   "1.75x over the naive pool")
    assert advice.index("<ul") < advice.index("<table")
    # the tutorial's S2 loses to the serial loop: 0.57x, marked naive in the table
    assert "7 ms (0.57x) (naive)" in text and "5.6 ms (0.57x) (naive)" in text
    # the environments: OpenBLAS decoded from major*10000+minor*100+patch
    assert "<td>0.3.23</td>" in text and "<td>0.3.31</td>" in text
    assert "<td>Fixture CPU</td>" in text and "8.0 GiB" in text
    assert "failed" in text and "skipped" in text


def test_analysis_of_the_fixture(tmp_path):
    site_fixture.write(tmp_path / "results")
    rep = report.build(tmp_path / "results", "fixture-2cpu")
    assert [e.numpy for e in rep.envs] == ["1.26.4", "2.4.6"]
    assert [e.openblas for e in rep.envs] == ["0.3.23", "0.3.31"]
    # the kernel, and whether OpenBLAS detected it or the environment forced it
    assert rep.envs[0].kernel_text == "Zen (detected)"
    forced = dataclasses.replace(rep.envs[0], env_vars={"OPENBLAS_CORETYPE": "Haswell"})
    assert forced.kernel_text == "Zen (forced)"
    assert forced.blas_variables_text == "OPENBLAS_CORETYPE='Haswell'"
    figures = rep.figures()
    split = figures[("bench_matmul.MatmulThreadSplit.time_matmul_batch", "64x64 x16 (cache)")]
    old, new = split
    assert old.row_labels == ["1", "cores", "2xcores"] and old.col_labels == ["1", "cores"]
    assert old.fastest == ("cores", "1") and old.naive_cell is None
    assert old.serial_time == pytest.approx(8e-3) and old.naive_time == pytest.approx(7e-3)
    tutorial = figures[("bench_matmul.MatmulTutorial.time_matmul_batch", "64x64 x16 (cache)")]
    assert tutorial[0].naive_cell == ("ThreadPool()", "default")
    assert tutorial[0].fastest == ("serial loop", "default")
    assert tutorial[0].cells[("serial loop", "tasks/4")].status == "skipped"
    got = report.achieved(new)
    rate, unit, share = got.rate, got.unit, got.share
    assert unit == "GFLOP/s" and rate == pytest.approx(2 * 64**3 * 16 / 3.2e-3 / 1e9)
    assert share == pytest.approx(rate / 100.0)
    dot = figures[("bench_dot.DotBlasThreads.time_dot", "1e5 (cache)")][0]
    assert dot.row_name is None and dot.naive_cell == ("", "default")
    assert report.achieved(dot).unit == "GB/s"
    assert rep.advice_env() is rep.envs[-1]
    fill = figures[("bench_fill.FillManyArrays.time_fill", "128x128 x16 (cache)")][1]
    assert fill.cells[("ThreadPool(cores)", "tasks/workers")].status == "failed"
    # 0.88 ms against the serial 0.8 ms, every round alike: clearly slower,
    # and so are the pools; one run, so judged on this run alone
    assert fill.decided and fill.chosen == fill.fastest == ("serial loop", "default")
    assert fill.contenders() == [] and fill.basis == "this run" and not fill.pooled
    assert fill.ratio(("ThreadPool(cores)", "default")) == pytest.approx(1.1)


@pytest.mark.slow
def test_names_from_result_files_are_escaped(published):
    escaped = html.escape(HOSTILE, quote=True)
    for page in (published / "reports").rglob("*.html"):
        text = page.read_text()
        assert HOSTILE not in text and "<img src=x" not in text, page
    hostile_page = reports_of(published)[HOSTILE].read_text()
    assert escaped in hostile_page                    # the machine name, as text
    fixture_page = reports_of(published)["fixture-2cpu"].read_text()
    assert f"executor={escaped}" in fixture_page      # the param label, as text
    assert all(c.isalnum() or c in "-." for c in reports_of(published)[HOSTILE].parent.name)


@pytest.mark.slow
def test_a_corrupt_result_file_is_one_line(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "results" / "fixture-2cpu" / "deadbeef-broken.json").write_text('{"broken')
    out = run_cli("publish", "--profile", "default", cwd=repo, timeout=300)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()
    assert len(last) == 1 and "deadbeef-broken.json: not a readable asv result file" in last[0]
    assert "Traceback" not in out.stdout + out.stderr and "asv publish" not in out.stdout


def test_missing_results_is_one_line(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "asv.conf.json").write_text(json.dumps(CONF))
    out = run_cli("publish", "--profile", "default", cwd=repo, env=dict(os.environ))
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert out.stderr.strip().endswith("no benchmarks.json, nothing to publish "
                                       "(run `npthreads bench` first)")


def test_plot_labels_from_results_are_plain_text(tmp_path):
    """A label that matplotlib would parse as broken mathtext still plots."""
    from npthreads import plots
    from npthreads.results import Measurement

    label = r"cost $\frac{$ <b>"
    env = report.Env(name="env", numpy="2.4.6", python="3.11", commit="c" * 40, date=0,
                     facts={"openblas": 331})
    cells = {("", label): Measurement("m", "env", "c", "b.C.time_x", {"p": label}, 0.002,
                                      "ok", "seconds"),
             ("", "1"): Measurement("m", "env", "c", "b.C.time_x", {"p": "1"}, 0.004,
                                    "ok", "seconds")}
    grid = report.Grid(benchmark="b.C.time_x", scenario="C", size=label, env=env,
                       row_name=None, col_name=label, row_labels=[""],
                       col_labels=["1", label], cells=cells, fastest=("", label),
                       serial_time=0.004)
    plots.heatmap([grid], tmp_path / "heat.png")
    plots.version_axis([(label, [grid])], tmp_path / "versions.png")
    assert (tmp_path / "heat.png").stat().st_size > 1000
    assert (tmp_path / "versions.png").stat().st_size > 1000


def test_plots_drawn_in_worker_processes_are_the_ones_asked_for(tmp_path):
    """``plots.draw_all`` draws the report's figures in spawned processes:
    each file written, and a figure that cannot be written stops the caller
    with its error, not a silent gap in the page."""
    from npthreads import plots
    series = [("m", [1.5, None], [True, False])]
    jobs = [(plots.machine_speedups, (["a", "b"], series, tmp_path / f"f{i}.png"), {})
            for i in range(8)]
    plots.draw_all(jobs, 2)
    assert all((tmp_path / f"f{i}.png").stat().st_size > 1000 for i in range(8))
    jobs[3] = (plots.machine_speedups, (["a", "b"], series, tmp_path / "no" / "f.png"), {})
    with pytest.raises(FileNotFoundError):
        plots.draw_all(jobs, 2)


def _set_samples(results_dir, machine, numpy, benchmark, combo, samples):
    """Replace one combination's samples (and median) in a fixture result file."""
    path = next((results_dir / machine).glob(f"*numpy{numpy}-*.json"))
    data = json.loads(path.read_text())
    row = data["results"][benchmark]
    combos = list(itertools.product(*row[1]))
    i = combos.index(tuple(repr(v) for v in combo))
    row[asv_files.SAMPLES][i] = samples
    row[0][i] = statistics.median(samples)
    path.write_text(json.dumps(data))


def test_a_cell_within_the_noise_is_a_contender_and_fewest_threads_wins(tmp_path):
    """A cell the fastest cannot beat beyond the noise is a contender; when
    every contender fits the 25% margin, the fewest threads is recommended,
    with its margin stated, and the star and the table name it; a serial
    baseline whose rounds scatter carries no speed-up in a single run
    (issues 8, 16)."""
    from npthreads import pages
    results_dir = tmp_path / "results"
    site_fixture.write(results_dir)
    split = "bench_matmul.MatmulThreadSplit.time_matmul_batch"
    size = "64x64 x16 (cache)"
    # numpy 2.4.6 on 2 cores: ("cores", "1") is fastest at 3.2 ms; give the
    # single-threaded cell rounds that interleave with it, 3.1-3.3 ms.
    rounds = [3.1e-3, 3.3e-3] * 3
    _set_samples(results_dir, "fixture-2cpu", "2.4.6", split, (size, "1", "1"),
                 [r for r in rounds for _ in range(site_fixture.PER_ROUND)])
    rep = report.build(results_dir, "fixture-2cpu")
    grid = rep.figures()[(split, size)][1]
    assert grid.env.numpy == "2.4.6"
    assert set(grid.contenders()) | {grid.fastest} == {("1", "1"), ("cores", "1")}
    assert grid.decided and grid.chosen == ("1", "1")      # 1 thread against 2
    assert 1.0 <= grid.decision.margin <= choice.MARGIN
    assert grid.time(grid.chosen) <= grid.fastest_time * grid.decision.margin
    (table, _) = pages._advice_table(rep)
    row = next(r for r in table.rows if r.cells[0].text == "MatmulThreadSplit")
    assert row.cells[2].text == "python_threads=1, blas_threads=1"
    assert row.cells[6].text == grid.decision.margin_text()
    heat = pages._heat_table(rep.figures()[(split, size)])
    starred = [r.cells[0].text for r in heat.rows if "★" in r.cells[-1].text]
    assert starred == ["python_threads=1, blas_threads=1"]

    # The serial loop of MatmulTutorial (the MatmulThreadSplit baseline lives
    # in its own grid): rounds from 4 ms to 9 ms are no baseline.
    tutorial = "bench_matmul.MatmulTutorial.time_matmul_batch"
    scattered = [3.2e-3, 3.3e-3, 9e-3, 3.2e-3, 8.5e-3, 3.3e-3]
    _set_samples(results_dir, "fixture-2cpu", "2.4.6", tutorial,
                 (size, "serial loop", "default"),
                 [r for r in scattered for _ in range(site_fixture.PER_ROUND)])
    grid = report.build(results_dir, "fixture-2cpu").figures()[(tutorial, size)][1]
    assert grid.serial_time is None and "rounds" in grid.serial_disturbed


def test_cells_the_noise_cannot_bound_make_a_cannot_tell(tmp_path):
    """Rounds that scatter over 2x leave a cell neither clearly slower nor
    within 25%: the advice cannot tell, names the fastest measured and the
    contender with both figures and what would settle it, never a margin."""
    from npthreads import pages
    results_dir = tmp_path / "results"
    site_fixture.write(results_dir)
    split = "bench_matmul.MatmulThreadSplit.time_matmul_batch"
    size = "64x64 x16 (cache)"
    wide = [2.4e-3, 6.5e-3, 2.6e-3, 7e-3, 3.0e-3, 6.8e-3]
    _set_samples(results_dir, "fixture-2cpu", "2.4.6", split, (size, "1", "1"),
                 [r for r in wide for _ in range(site_fixture.PER_ROUND)])
    rep = report.build(results_dir, "fixture-2cpu")
    grid = rep.figures()[(split, size)][1]
    assert not grid.decided and grid.chosen == grid.fastest == ("cores", "1")
    assert ("1", "1") in grid.contenders() and grid.decision.margin is None
    (advice,) = [a for a in report.advice(rep) if a.grid is grid]
    sentence = advice.sentence()
    assert "cannot tell a Python thread per core with BLAS at 1 thread (3.2 ms" in sentence
    assert "1 Python thread with BLAS at 1 thread (" in sentence and "more runs" in sentence
    assert "within" not in sentence and "tie" not in sentence
    (table, _) = pages._advice_table(rep)
    row = next(r for r in table.rows if r.cells[0].text == "MatmulThreadSplit")
    assert row.cells[2].text.startswith("cannot tell: python_threads=cores, blas_threads=1 "
                                        "(fastest measured)")
    assert row.cells[6].text == "—"
    heat = pages._heat_table(rep.figures()[(split, size)])
    assert [r.cells[0].text for r in heat.rows if "☆" in r.cells[-1].text] == [
        "python_threads=cores, blas_threads=1"]


def test_hostile_values_are_shown_invalid_not_a_traceback(tmp_path, capsys):
    """Negative, infinite, zero and non-numeric values (a hand-edited file,
    another tool) become "invalid" with one warning line naming the file; the
    reports are still written (issue 9)."""
    from npthreads import pages
    results_dir = tmp_path / "results"
    site_fixture.write(results_dir)
    path = next((results_dir / "fixture-2cpu").glob("*numpy2.4.6-*.json"))
    data = json.loads(path.read_text())
    values = data["results"]["bench_matmul.MatmulThreadSplit.time_matmul_batch"][0]
    values[:4] = [-1.0, float("inf"), "fast", 0.0]
    path.write_text(json.dumps(data))
    written = pages.write_reports(results_dir, tmp_path / "reports")
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "invalid value" in line]
    assert warnings and all(str(path) in line for line in warnings)
    assert "4 invalid value(s)" in warnings[0]
    page = dict(written)["fixture-2cpu"].read_text()
    assert ">invalid<" in page


def test_memory_bound_rows_are_judged_against_the_level_that_holds_them():
    """Issue 9, item 5: a cache-resident dot is judged against the cache's
    bandwidth, not reported at 200% of the memory triad."""
    facts = {"dgemm_peak_gflops": 90.0, "triad_gbytes_per_s": 20.0,
             "cache_bytes": {"L2": 2**20, "L3": 32 * 2**20},
             "cache_gbytes_per_s": {"L2": 66.0, "L3": 80.0}}
    assert report.limit_for(facts, "dot", 0.5 * 2**20) == report.Limit("L2 bandwidth", 66.0)
    assert report.limit_for(facts, "dot", 1.6e6) == report.Limit("L3 bandwidth", 80.0)
    assert report.limit_for(facts, "dot", 3.2e8) == report.Limit("memory triad", 20.0)
    assert report.limit_for(facts, "matmul", 1e12) == report.Limit("DGEMM peak", 90.0)
    # a run without cache levels cannot say where 1.6 MB sat: no share
    older = {"triad_gbytes_per_s": 20.0}
    assert report.limit_for(older, "dot", 1.6e6) is None
    assert report.Achieved(40.0, "GB/s", report.Limit("L3 bandwidth", 80.0)).share_text \
        == "50% of L3 bandwidth"
    assert report.Achieved(40.0, "GB/s", None).share_text == "—"



def test_openblas_builds_are_a_view_of_their_own(tmp_path):
    """Issue 10, item 4: environments with a swapped OpenBLAS build are the
    OpenBLAS view (anchored on the same numpy's own environment), not more
    numpy versions in the heat maps, the advice or the negative control."""
    from npthreads import pages
    results_dir = tmp_path / "results"
    site_fixture.write(results_dir)
    site_fixture.write_swapped(results_dir, "fixture-2cpu", "2.4.6", "0.3.27.44.6", 327)
    rep = report.build(results_dir, "fixture-2cpu")
    assert [e.label for e in rep.envs] == ["numpy 1.26.4", "numpy 2.4.6"]
    # in OpenBLAS release order: the wheel's own 0.3.31 after the swapped 0.3.27
    assert [e.label for e in rep.axis_envs] == ["numpy 2.4.6 + OpenBLAS 0.3.27.44.6",
                                                "numpy 2.4.6"]
    assert all(not g.env.openblas_build for g in rep.grids)
    dot = rep.figures(axis=True)[("bench_dot.DotBlasThreads.time_dot", "1e5 (cache)")]
    assert [g.env.openblas for g in dot] == ["0.3.27", "0.3.31"]
    assert all(len(a.named) == 2 for a in report.advice(rep))
    pages.machine_page(rep, tmp_path / "page")
    text = (tmp_path / "page" / "index.html").read_text()
    assert text.count("Across OpenBLAS builds (numpy 2.4.6)") == len(rep.specs)
    assert "numpy 2.4.6 + OpenBLAS 0.3.27.44.6 (OpenBLAS 0.3.27)" in text
    assert (tmp_path / "page" / "openblas-01.png").stat().st_size > 1000


def test_the_committed_advice_keeps_its_promises(repo_root):
    """Issue 16 on the committed results: every advice row names one cell,
    the same in its heat map (★ or ☆) as in the table; a recommendation is
    never slower than the fastest measured cell beyond the margin it states,
    and no margin exceeds 25%; the grids are judged on the runs pooled."""
    from npthreads import evidence, pages, pooled, results
    results_dir = repo_root / "results"
    assert set(results.machines(results_dir)) >= {FULL, QUOTA}
    for machine in results.machines(results_dir):
        measured = results.load(results_dir, machine)
        runs = evidence.method_runs(measured)
        # benchmarks measured in fewer full runs than pooling needs (a
        # scenario added since) speak for this run only
        young = {b for b in {m.benchmark for m in measured}
                 if len({m.commit for m in measured
                         if m.benchmark == b and m.commit in runs}) < pooled.MIN_RUNS}
        _advice_keeps_its_promises(report.build(results_dir, machine),
                                   pooled_runs=len(runs) >= pooled.MIN_RUNS, young=young)


def _advice_keeps_its_promises(rep, pooled_runs, young=frozenset()):
    from npthreads import pages
    table, sentences = pages._advice_table(rep)
    rows = report.advice(rep)
    assert rows and len(table.rows) == len(rows) == len(sentences)
    env = rep.advice_env()
    assert env.numpy == "pinned" and not env.openblas_build
    figures = rep.figures()
    for a, row, sentence in zip(rows, table.rows, sentences):
        g = a.grid
        assert g.chosen and g.fastest and g.time(g.fastest) == min(
            g.time(k) for k in g.cells if g.time(k) is not None)
        if g.decided:
            margin = g.decision.margin
            assert 1.0 <= margin <= choice.MARGIN
            assert g.time(g.chosen) <= g.fastest_time * margin * (1 + 1e-9)
            assert row.cells[2].text == g.config(g.chosen)
            assert "cannot tell" not in sentence and " use " in sentence
        else:
            assert row.cells[2].text.startswith(f"cannot tell: {g.config(g.fastest)}")
            assert g.chosen == g.fastest and "more runs would settle it" in sentence
        # never the old wording: a tie of +429% "within noise"
        assert "tie" not in sentence and "within noise" not in sentence
        for percent in re.findall(r"within \+(\d+)%", sentence):
            assert int(percent) <= 25
        heat = pages._heat_table(figures[(g.benchmark, g.size)])
        column = [i for i, head in enumerate(heat.head) if head.startswith(env.label + " (")]
        (i,) = column
        starred = [r.cells[0].text for r in heat.rows if "★" in r.cells[i].text
                   or "☆" in r.cells[i].text]
        assert starred == [g.config(g.chosen)]
        assert ("★" if g.decided else "☆") in next(r.cells[i].text for r in heat.rows
                                                    if r.cells[0].text == starred[0])
    # five full runs: the grids with enough runs for every cell speak pooled
    pooled = [a for a in rows if a.grid.pooled]
    if pooled_runs:
        grown = [a for a in rows if a.grid.benchmark not in young]
        assert len(pooled) >= len(grown) - 3
    else:
        assert pooled == []
    assert all(a.grid.basis.startswith("pooled over ") for a in pooled)


def test_advice_by_run_judges_each_run_on_the_runs_up_to_it(repo_root):
    """``npthreads reproducibility``'s advice: one text per run, each from
    the runs not newer than it (the oldest full run alone pools nothing)."""
    from npthreads import evidence, results
    results_dir = repo_root / "results"
    machine = FULL
    every = evidence.method_runs(results.load(results_dir, machine))
    runs = every[:3]
    by_run = report.advice_by_run(results_dir, machine, runs)
    assert by_run and all(len(v) == len(runs) for v in by_run.values())
    oldest = report.build(results_dir, machine, runs[-1])
    # pooled over the runs up to the oldest of the three, never a newer one
    known = len(every) - every.index(runs[-1])
    assert all(3 <= g.runs <= known for g in oldest.grids if g.pooled)


# -- many machines: the index, the same scenarios across machines, the history --

def test_the_committed_machines_side_by_side(repo_root):
    """machines.fleet on the committed results: the environments both
    machines ran, each machine's advice per scenario and size with the
    threads its labels mean there, and a line for every row."""
    from npthreads import machines
    fleet = machines.build(repo_root / "results")
    assert fleet.machines[:2] == [FULL, QUOTA]
    assert fleet.common == ["numpy pinned", "numpy 1.26.4", "numpy 2.4.6"]
    full, quota = fleet.summaries[FULL], fleet.summaries[QUOTA]
    assert (full.cores, quota.cores) == ("2", "1")
    assert full.axes == ["numpy", "openblas", "free-threaded"] and quota.axes == ["numpy"]
    assert full.full_runs >= 8 and quota.full_runs == 1 and quota.environments == 3
    assert full.blas == "OpenBLAS 0.3.34 (numpy 2.5.5)"
    assert quota.blas == "OpenBLAS 0.3.31 (numpy 2.4.6)"
    assert len(fleet.scenarios) >= 19
    for s in fleet.scenarios:
        assert [r.env for r in s.rows] == fleet.common and s.line().endswith(".")
        for r in s.rows:
            assert [p.machine for p in r.picks] == [FULL, QUOTA]
            grids = [p.grid for p in r.picks if p.grid]
            # the same labels on both machines: one grid, cell for cell
            assert all(g.col_labels == grids[0].col_labels
                       and g.row_labels == grids[0].row_labels for g in grids)
            for p in r.picks:
                if p.grid and p.grid.chosen:
                    assert p.threads and p.text().endswith(
                        ("thread", "threads", "thread)", "threads)")), p.text()
    # every scenario of the shared environments is measured on both machines
    assert all(r.verdict != "missing" for s in fleet.scenarios for r in s.rows)


def test_a_row_says_where_the_machines_differ():
    """Scenario.line: the same, differs, not settled, not measured."""
    from npthreads import machines

    def pick(machine, cores, config, decided):
        env = report.Env(name="e", numpy="2.4.6", python="3.11", commit="c" * 40, date=0,
                         facts={"usable_cores": cores})
        grid = report.Grid(benchmark="b.C.time_x", scenario="C", size="s", env=env,
                           row_name=None, col_name="blas_threads", row_labels=[""],
                           col_labels=["1", "cores"], cells={
                               ("", c): _measurement({"blas_threads": c}) for c in ("1", "cores")},
                           fastest=("", config), chosen=("", config))
        # Grid.decided reads only the decision's ``decided``
        grid.decision = type("Decision", (), {"decided": decided})()
        return machines.Pick(machine, cores, grid)

    def scenario(*rows):
        return machines.Scenario("b.C.time_x", "C", "s", [
            machines.Row("b.C.time_x", "C", "s", env, picks) for env, picks in rows])

    same = scenario(("numpy 2.4.6", [pick("a", 2, "cores", True), pick("b", 1, "cores", True)]))
    assert same.line() == ("The same on numpy 2.4.6: use blas_threads=cores "
                           "(threads: 2 on a, 1 on b).")
    differs = scenario(("numpy 2.4.6", [pick("a", 2, "cores", True), pick("b", 1, "1", True)]))
    assert differs.differs and differs.line() == (
        "Differs on numpy 2.4.6: a use blas_threads=cores = 2 threads; "
        "b use blas_threads=1 = 1 thread.")
    unsure = scenario(("numpy 2.4.6", [pick("a", 2, "cores", True), pick("b", 1, "1", False)]))
    assert unsure.line() == ("Not settled on numpy 2.4.6 (b cannot tell; the fastest "
                             "measured cell differs on every one).")
    missing = scenario(("numpy pinned", [pick("a", 2, "cores", True),
                                         machines.Pick("b", 1, None)]))
    assert missing.line() == "Not measured on b in numpy pinned."


def _measurement(params):
    from npthreads.results import Measurement
    return Measurement("m", "e", "c", "b.C.time_x", params, 1e-3, "ok", "seconds")


def test_the_fixture_index_and_machines_page(tmp_path):
    """write_reports on the two fixture machines: the index names each one's
    cores, BLAS, kernel, axes and runs, links machines.html, and that page
    puts the numpy both ran side by side, names escaped."""
    from npthreads import pages
    results_dir = tmp_path / "results"
    site_fixture.write(results_dir)
    written = dict(pages.write_reports(results_dir, tmp_path / "reports"))
    index = (tmp_path / "reports" / "index.html").read_text()
    assert 'href="machines.html"' in index
    row = re.search(r"<tr><td><a [^>]*>fixture-2cpu</a>.*?</tr>", index).group(0)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    # memory as the machine's own page gives it, not asv's byte count
    assert cells[:9] == ["fixture-2cpu", "2", "Fixture CPU", "8.0 GiB",
                         "OpenBLAS 0.3.31 (numpy 2.4.6)", "Zen (detected)", "numpy", "2", "0"]
    page = (tmp_path / "reports" / "machines.html").read_text()
    assert "Environments every machine ran: numpy 2.4.6." in page
    assert HOSTILE not in page and html.escape(HOSTILE, quote=True) in page
    assert page.count('<section id="m') == 5
    # the same cell on both; its label means 4 threads on 4 cores, 2 on 2
    hostile = html.escape(HOSTILE, quote=True)
    assert ("The same on numpy 2.4.6: use python_threads=cores, blas_threads=1 "
            f"(threads: 4 on {hostile}, 2 on fixture-2cpu).") in page
    assert (tmp_path / "reports" / "machines.png").stat().st_size > 2000
    for machine_page in written.values():
        assert 'href="../machines.html"' in machine_page.read_text()


def test_one_series_per_machine_moves_the_facts_out_of_the_paths(tmp_path):
    """Two machines with different num_cpu: the graphs move to paths without
    the machine facts (tachyon's machine selector keeps the others as they
    were), a benchmark an environment never ran gets an empty graph, and
    regressions.json follows the move."""
    from npthreads import regressions, site
    a = {"machine": "a", "num_cpu": "2", "cpu": "X", "python": "3.11", "numpy": "2.4.6",
         "branch": "main"}
    b = dict(a, machine="b", num_cpu="1")
    index = {"params": {"machine": ["a", "b"], "num_cpu": ["1", "2"], "cpu": ["X"],
                        "python": ["3.11"], "numpy": ["2.4.6"], "branch": ["main"]},
             "graph_param_list": [a, b], "benchmarks": {"one": {}, "two": {}}}
    (tmp_path / "index.json").write_text(json.dumps(index))
    for entry, names in ((a, ["one", "two"]), (b, ["one"])):
        for name in names:
            path = tmp_path / regressions.graph_path(entry, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps([[1, 0.5]]))
    old = regressions.graph_path(a, "two")
    (tmp_path / "regressions.json").write_text(json.dumps(
        {"regressions": [["two", old, {"machine": "a", "num_cpu": "2"}, None, 2, 1,
                          [[1, 2, 1, 2]]]]}))
    assert site.one_series_per_machine(tmp_path) == 1
    data = json.loads((tmp_path / "index.json").read_text())
    assert set(data["params"]) == {"machine", "python", "numpy", "branch"}
    new_b = data["graph_param_list"][1]
    assert new_b == {"machine": "b", "python": "3.11", "numpy": "2.4.6", "branch": "main"}
    assert json.loads((tmp_path / regressions.graph_path(new_b, "one")).read_text()) == \
        [[1, 0.5]]
    assert json.loads((tmp_path / regressions.graph_path(new_b, "two")).read_text()) == []
    assert not (tmp_path / old).exists()
    (entry,) = json.loads((tmp_path / "regressions.json").read_text())["regressions"]
    assert entry[1] == regressions.graph_path(data["graph_param_list"][0], "two")
    assert entry[2] == {"machine": "a"}
    assert {p.name for p in (tmp_path / "graphs").iterdir()} == {"branch-main"}
