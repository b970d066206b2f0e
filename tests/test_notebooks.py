"""Every notebook runs end to end under the smoke profile (into a temporary folder)."""

from __future__ import annotations

import json

import pytest

from azlib.book import notebook_names


@pytest.mark.slow
@pytest.mark.parametrize("name", notebook_names())
def test_notebook_runs_under_smoke(smoke_results, name):
    results_dir, outcomes = smoke_results
    outcome = outcomes[name]
    if isinstance(outcome, Exception):
        pytest.fail(f"notebooks/{name}.py failed under the smoke profile: {outcome}")
    executed = json.loads(outcome.read_text())
    assert executed["metadata"]["azlib"]["parameters"]["profile"] == "smoke"
    # the source is named as the repository sees it, the output by its name (outside the repo)
    assert executed["metadata"]["papermill"]["input_path"] == f"notebooks/{name}.py"
    assert executed["metadata"]["papermill"]["output_path"] == outcome.name
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # a chapter shows the reader no library warnings (tqdm.auto's IProgress one did, in every chapter)
    stderr = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
                     if o.get("name") == "stderr")
    assert "Warning" not in stderr, stderr[:500]
    # Tests never write into the repository's results/.
    assert "results_smoke" in str(outcome)


def test_failed_notebook_leaves_no_up_to_date_output(tmp_path):
    from azlib.notebook import run_notebook

    source = tmp_path / "99_broken.py"
    source.write_text('# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nraise RuntimeError("boom")\n')
    output = tmp_path / "out" / "99_broken.ipynb"
    with pytest.raises(Exception, match="boom"):
        run_notebook(source, output, {"profile": "smoke"}, progress=False)
    assert not output.exists()
    assert [p.name for p in (tmp_path / "out").glob(".99_broken.partial-*.ipynb")]  # kept to inspect


def test_make_reruns_only_what_changed(tmp_path):
    """Unchanged notebook + params + azlib: not re-run; an edited source: only that one re-runs."""
    import os
    import subprocess
    import time

    from azlib.config import REPO_ROOT

    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name, body in (("00_a", "x = 1"), ("01_b", "y = 2")):
        (notebooks / f"{name}.py").write_text(
            '# %% tags=["parameters"]\nprofile = "smoke"\nout_dir = None\ndata_root = None\n'
            f'device = "cpu"\n\n# %%\n{body}\n')
    results = tmp_path / "build"
    make = ["make", "-C", str(REPO_ROOT), "--no-print-directory", "PROFILE=smoke",
            f"NOTEBOOKS_DIR={notebooks}", f"BUILD={results}"]

    def question():  # make -q: exit 0 when everything is up to date
        return subprocess.run(make + ["-q", "notebooks"], capture_output=True).returncode

    assert question() != 0
    subprocess.run(make + ["notebooks"], check=True, capture_output=True)
    a, b = results / "notebooks" / "00_a.ipynb", results / "notebooks" / "01_b.ipynb"
    assert a.is_file() and b.is_file() and question() == 0
    stamp_a, stamp_b = a.stat().st_mtime_ns, b.stat().st_mtime_ns
    time.sleep(1.1)
    os.utime(notebooks / "01_b.py")
    assert question() != 0
    subprocess.run(make + ["notebooks"], check=True, capture_output=True)
    assert a.stat().st_mtime_ns == stamp_a and b.stat().st_mtime_ns > stamp_b
    # A notebook that raises: make fails and leaves no up-to-date output.
    (notebooks / "01_b.py").write_text('# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nraise ValueError("x")\n')
    assert subprocess.run(make + ["notebooks"], capture_output=True).returncode != 0
    assert question() != 0
