"""The book: its static pages (method, deviations, limitations, bibliography), how chapters are
staged, and the smoke book built and read in headless Chromium with the network blocked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from azlib import book
from azlib.book import BOOK_SOURCE, STATIC_PAGES, build, deviations_table, notebook_names, stage
from azlib.config import REPO_ROOT, load_profile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
#: text of the cells the book must never show (parameters, papermill's injected cell, setup)
PLUMBING = ("out_dir =", "report.setup", "# Parameters", "injected-parameters")


# --- the static pages and the staging (fast) ----------------------------------------------------

def _fake_results(tmp_path: Path) -> Path:
    """A results folder holding an executed-looking copy of every chapter."""
    results = tmp_path / "results"
    (results / "notebooks").mkdir(parents=True)
    for name in notebook_names():
        notebook = nbformat.v4.new_notebook()
        cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
                 nbformat.v4.new_code_cell("profile = 'cpu'\nout_dir = None"),
                 nbformat.v4.new_code_cell("# Parameters\nout_dir = '../build'"),
                 nbformat.v4.new_code_cell("x = 1"),
                 nbformat.v4.new_code_cell("y = 2")]
        cells[1].metadata["tags"] = ["parameters"]
        cells[2].metadata["tags"] = ["injected-parameters"]
        cells[4].metadata["tags"] = ["remove-input"]
        notebook.cells = cells
        nbformat.write(notebook, results / "notebooks" / f"{name}.ipynb")
    return results


def test_static_pages_follow_the_front_page_and_chapters_hide_their_plumbing(tmp_path):
    staged = stage("cpu", _fake_results(tmp_path), tmp_path / "stage")
    toc = yaml.safe_load((staged / "_toc.yml").read_text())
    files = [entry["file"] for entry in toc["chapters"]]
    assert files[: len(STATIC_PAGES)] == list(STATIC_PAGES)
    assert files[len(STATIC_PAGES)] == f"chapters/{notebook_names()[0]}"
    for page in STATIC_PAGES:
        assert (staged / f"{page}.md").is_file(), page
    assert (staged / book.DEVIATIONS_TABLE).read_text() == deviations_table()
    chapter = nbformat.read(staged / "chapters" / f"{notebook_names()[0]}.ipynb", as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in chapter.cells]
    assert "remove-cell" in tags[1] and "remove-cell" in tags[2]   # parameters, injected
    assert tags[3] == ["hide-input"]        # code a reader may want: folded, one click away
    assert tags[4] == ["remove-input"]      # the chapter's own choice is kept


def test_deviations_table_shows_the_profiles_values():
    table = deviations_table()
    cpu, paper = load_profile("cpu"), load_profile("paper")
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in table.splitlines()[2:]}
    assert len(rows) == len(book.DEVIATIONS)
    assert rows["epochs"][:2] == [f"not stated (paper profile: {paper.train.epochs})", str(cpu.train.epochs)]
    assert rows["weight decay"][1] == f"{cpu.train.weight_decay:g}"
    assert rows["batch size (global)"][:2] == [str(paper.train.batch_size), str(cpu.train.batch_size)]
    assert rows["frames per clip K, stride"][1] == f"{cpu.clip.frames}, stride {cpu.clip.stride}"
    assert rows["optimizer"][:2] == [f"sgd, momentum {paper.train.momentum:g}", cpu.train.optimizer]
    assert rows["backbones"][1] == f"slim, first-stage width {cpu.model.width}"
    assert rows["LNet learning rate"][1] == "1× or 3× the backbone's, per row (chosen on validation)"
    assert f"{cpu.pretrain.train['epochs']} epochs" in rows["backbone pretraining"][1]
    assert rows["θ at the start of training"][1] == "the centre crop's framing"
    assert cpu.model.init_scale == "crop" and cpu.model.lnet_moments
    assert rows["dataset"][1] == "SynthActions" and rows["dataset"][0].startswith("HMDB51")


def test_limitations_state_the_cpu_profiles_values():
    text = (BOOK_SOURCE / "limitations.md").read_text()
    cpu = load_profile("cpu")
    low, high = cpu.synth.figure_height
    assert f"between {low:g} and {high:g} of the frame height" in text
    assert f"within {cpu.synth.centre_offset:g} of the frame's centre" in text
    training = round(cpu.synth.actors * cpu.synth.train_fraction)
    validation = round(training * cpu.validation)
    assert (f"{cpu.synth.actors} actors, split by actor into {training - validation} for "
            f"training, {validation} for validation\nand {cpu.synth.actors - training} for testing") in text
    videos = len(cpu.synth.classes) * cpu.synth.actors * cpu.synth.videos_per_actor_class
    assert f"{videos:,} videos" in text
    assert f"width {cpu.model.width}), {cpu.clip.crop}² inputs from {cpu.clip.resize[0]}×{cpu.clip.resize[1]}" in text
    assert f"{cpu.clip.frames}-frame clips" in text and f"{cpu.train.epochs} epochs of fine-tuning" in text
    assert cpu.synth.background_shapes == 2 and "two static distractor shapes" in text


def test_method_page_cites_only_what_the_bibliography_holds():
    method = (BOOK_SOURCE / "method.md").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", (BOOK_SOURCE / "references.bib").read_text(), re.M))
    cited = set(re.findall(r"\{cite:[pt]\}`([^`]+)`", method))
    assert cited and cited <= keys
    assert keys <= cited, f"listed but never cited: {keys - cited}"
    assert len(re.findall(r"^```\{math\}", method, re.M)) >= 10
    config = yaml.safe_load((BOOK_SOURCE / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    assert config["bibtex_bibfiles"] == ["references.bib"]


# --- the smoke book in Chromium (slow) ------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_book(smoke_results, tmp_path_factory):
    results_dir, outcomes = smoke_results
    failed = [n for n, o in outcomes.items() if isinstance(o, Exception)]
    if failed:
        pytest.fail(f"cannot build the book: notebooks failed under smoke: {failed}")
    output = tmp_path_factory.mktemp("book")
    return build("smoke", results_dir, output)


@pytest.mark.slow
def test_book_builds_with_every_chapter(smoke_book):
    html = smoke_book.parent
    for name in notebook_names():
        assert (html / "chapters" / f"{name}.html").is_file(), name
    assert "99.33" in (html / "inconsistencies.html").read_text()
    # the status page: per table, the runs' training time, commit, torch version and machine
    # (the cells' text, whether or not docutils wraps it in <p>)
    cells = re.findall(r"<td[^>]*>(?:<p>)?(.*?)(?:</p>)?</td>", (html / "status.html").read_text())
    for table in ("1", "4", "5", "6", "7"):
        assert table in cells, table
    assert any(re.fullmatch(r"[0-9a-f]{10}( \(uncommitted changes\))?", c) for c in cells)
    assert "2.14.1" in cells and any(re.fullmatch(r"\d+ min", c) for c in cells)
    assert "54.94" in (html / "chapters" / "00_paper.html").read_text()
    # MathJax comes with the book: a local script, no CDN
    method = (html / "method.html").read_text()
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', method, re.I)
    assert scripts and all(s.startswith("_static/mathjax/") for s in scripts), scripts
    assert (html / scripts[0]).is_file()
    built = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    unchecked = {p for p in built if not p.startswith(("_", "genindex", "search", "index"))} - set(PAGE_CHECKS)
    assert not unchecked, f"pages the browser test does not open: {unchecked}"
    for page in html.rglob("*.html"):
        assert not re.search(r'<(script|link)[^>]*(src|href)="(https?:)?//', page.read_text()), page


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium/ChromeDriver not installed (make test installs them with apt-get as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000",
                 # no network: every request goes to a proxy that does not exist ...
                 "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # ... and is blocked before it leaves the browser (file:// pages still load)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs",
                           {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    yield driver
    driver.quit()


def _tables(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('table')).map("
        "t => Array.from(t.querySelectorAll('td')).map(c => c.textContent.trim()))")


# each page: what the page must show
PAGE_CHECKS = ["intro.html", *(f"{p}.html" for p in STATIC_PAGES),
               *(f"chapters/{n}.html" for n in notebook_names()), "inconsistencies.html", "status.html"]


def _wider_than_column(driver):
    """Tables and images (shown) that stick out of the content column: [tag, src or text, width]."""
    return driver.execute_script("""
        var c = document.querySelector('article.bd-article') || document.querySelector('main');
        var col = c.getBoundingClientRect(), out = [];
        c.querySelectorAll('table, img').forEach(function (e) {
            var r = e.getBoundingClientRect();
            if (r.width === 0) return;  // not shown (a folded cell)
            if (r.width > col.width + 1 || r.left < col.left - 1 || r.right > col.right + 1)
                out.push([e.tagName, e.getAttribute('src') || e.textContent.slice(0, 60), r.width, col.width]);
        });
        return out;""")


def _wait_for(driver, script: str, timeout: float = 15.0):
    import time

    deadline = time.time() + timeout
    value = driver.execute_script(script)
    while not value and time.time() < deadline:
        time.sleep(0.2)
        value = driver.execute_script(script)
    return value


@pytest.mark.slow
def test_paper_tables_render_in_chromium(smoke_book, browser, tmp_path):
    html = smoke_book.parent
    browser.get((html / "index.html").as_uri())
    assert "Adaptive zooming" in browser.title or "azlib" in browser.title
    browser.get((html / "chapters" / "00_paper.html").as_uri())
    tables = _tables(browser)
    assert len(tables) >= 8, f"expected Tables 1-7 and the MACs table, found {len(tables)}"
    cells = {c for t in tables for c in t}
    for value in ("54.94", "93.33", "99.33", "67.95", "9.81", "40.71"):
        assert value in cells, value


# the figures each chapter draws whatever the profile (more appear where runs allow): a chapter
# whose figures went missing (not embedded in the executed notebook) fails here
FIGURES = {"01_modalities": 3, "07_fig2": 1, "10_calibration": 2}


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGE_CHECKS)
def test_every_page_renders_offline_within_its_column(smoke_book, browser, page):
    html = smoke_book.parent
    assert (html / page).is_file(), page
    browser.get((html / page).as_uri())
    _wait_for(browser, "return document.readyState === 'complete'")
    heading = browser.execute_script("var h = document.querySelector('main h1'); return h && h.textContent;")
    assert heading, f"{page}: no title rendered"
    text = browser.execute_script("return document.querySelector('main').textContent")
    shown = [p for p in PLUMBING if p in text]
    assert not shown, f"{page}: plumbing on the page: {shown}"
    for table in _tables(browser):
        assert any(c for c in table), f"{page}: an empty table"
    images = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img')).map("
        "i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
    broken = [src for src, ok in images if not ok]
    assert not broken, f"{page}: images that did not load: {broken}"
    name = Path(page).stem
    assert len(images) >= FIGURES.get(name, 0), f"{page}: {len(images)} figures shown"
    wide = _wider_than_column(browser)
    assert not wide, f"{page}: wider than the content column: {wide}"
    outside = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !/^(file|data|blob|about):/.test(n))")
    assert not outside, f"{page}: asked the network for {outside}"
    if name == "method":
        count = _wait_for(browser, "var n = document.querySelectorAll('mjx-container').length;"
                                   "return n >= 5 ? n : 0")
        assert count >= 5, "method: fewer than 5 equations rendered by MathJax"
    if name == "bibliography":
        assert "Jaderberg" in text
    if name == "deviations":
        assert "SynthActions-Pretrain" in text and "not stated" in text
    if page == "chapters/10_calibration.html":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "10_calibration.png"))


def assert_front_page(driver) -> None:
    """The front page (book/intro.md, generated by azlib/front.py on the front-page branch): the
    claims forest plot of chapter 09, the paper's citation, a headline table."""
    sources = driver.execute_script(
        "return Array.from(document.querySelectorAll('main img')).map(i => i.getAttribute('src'))")
    assert any("claims_forest" in (src or "") for src in sources), f"no claims forest among {sources}"
    text = driver.execute_script("return document.querySelector('main').textContent")
    assert "Shahabinejad" in text, "no citation of the paper"
    tables = [t for t in _tables(driver) if len(t) >= 4]
    assert tables, "no headline table"


@pytest.mark.slow
def test_front_page(smoke_book, browser):
    browser.get((smoke_book.parent / "index.html").as_uri())
    _wait_for(browser, "return document.readyState === 'complete' && !!document.querySelector('main h1')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "front_page.png"))
    assert (SCREENSHOTS / "front_page.png").stat().st_size > 10_000
    assert_front_page(browser)
