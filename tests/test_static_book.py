"""The book as a reader without a kernel sees it: the `make book` preview, built once, checked
as files and then opened in headless Chromium.

The preview executes every chapter with its widget state stored, so each page embeds its
explorers' precomputed pictures. In the browser, the scripts such pages load from public CDNs
(require.js, jQuery, @jupyter-widgets/html-manager, MathJax, Font Awesome) are served from npm
copies that the test setup installs into `.browser-assets/` (the machines reach the npm
registry and nothing else); any other outside request is refused and reported. With no kernel
anywhere, the test checks that math is typeset, that every explorer shows its controls and its
picture, that moving each control changes the picture, that no output line is longer than
2,000 characters and that no figure is wider than the text column.

Chromium comes from Debian, Playwright from PyPI, npm from Debian (`.ci/run` installs them).
Without them the browser tests fail under CI (or with FMKIT_REQUIRE_BROWSER=1) and are skipped,
with the reason, elsewhere.
"""

from __future__ import annotations

import json
import mimetypes
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
from chromium import CHROMIUM, launched

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402

CHAPTERS = sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")
)
ASSETS = ROOT / ".browser-assets"
NPM_PACKAGES = {  # what the pages load from CDNs, pinned
    "@jupyter-widgets/html-manager": "1.0.15",
    "requirejs": "2.1.10",
    "mathjax": "2.7.7",
    "font-awesome": "4.4.0",  # what matplotlib's animation player asks for
    "jquery": "3.7.1",
}
BOOK = "http://book.test/"  # the preview, served from its folder through the test's router
PAGE_LIMIT = 8_000_000  # bytes per chapter page
LINE_LIMIT = 2_000  # characters per output line
COLUMN = 660  # px: the book's text column at a 1280 px window
WINDOW = {"width": 1280, "height": 900}
NARROW = {"width": 800, "height": 900}  # leaves the explorers about the book's column

pytestmark = pytest.mark.slow


def _needed(problem: str):
    if os.environ.get("CI") or os.environ.get("FMKIT_REQUIRE_BROWSER"):
        pytest.fail(f"the static-book browser tests cannot run: {problem}")
    pytest.skip(f"static-book browser tests not run: {problem}")


def _explorer_cells(chapter: str) -> int:
    cells = nbformat.read(ROOT / chapter, 4).cells
    return sum(c.cell_type == "code" and "_explorer(" in c.source for c in cells)


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    """The preview, built once; FMKIT_BOOK_PREVIEW=<folder> reuses one already built there
    (`make book` writes _book/) instead of executing every chapter again."""
    if os.environ.get("FMKIT_BOOK_PREVIEW"):
        return pathlib.Path(os.environ["FMKIT_BOOK_PREVIEW"])
    out = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    build_book.preview(out)
    print(f"preview built in {time.perf_counter() - start:.0f} s")
    return out


# --------------------------------------------------------------------------- the files


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_renders_with_its_figures_explorers_and_no_errors(chapter, preview):
    name = pathlib.Path(chapter).stem
    page = (preview / f"{name}.html").read_text()
    cells = [c.source for c in nbformat.read(ROOT / chapter, 4).cells if c.cell_type == "code"]
    n_figures = sum("plt.show()" in c for c in cells)
    n_animations = sum("animation_html(" in c for c in cells)
    images = page.count('src="data:image/png;base64')
    assert images >= n_figures, f"{name}: {images} images for {n_figures} figure cells"
    assert page.count("new Animation(") == n_animations, f"{name}: every animation is in the page"
    frames = re.findall(r'frames\[\d+\] = "data:image/png;base64', page)
    assert len(frames) >= 5 * n_animations, f"{name}: the animations hold their frames"
    assert "Traceback (most recent call last)" not in page
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    state = re.search(
        r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S
    )
    n_explorers = _explorer_cells(chapter)
    if n_explorers:
        assert state, f"{name}: the page stores its widget state"
        models = json.loads(state.group(1))["state"].values()
        explorers = [m for m in models if "fmkit-explorer" in m["state"].get("_dom_classes", [])]
        assert len(explorers) == n_explorers, f"{name}: every explorer's widgets are in the page"
        links = [m for m in models if m["model_name"] == "DirectionalLinkModel"]
        assert links, f"{name}: the controls are linked to the pictures in the browser"
        assert page.count('type="application/vnd.jupyter.widget-view+json"') >= n_explorers


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_page_stays_small(chapter, preview):
    size = (preview / f"{pathlib.Path(chapter).stem}.html").stat().st_size
    assert size < PAGE_LIMIT, f"{chapter}: the page weighs {size / 1e6:.1f} MB"


def test_preview_has_an_index_and_a_references_page(preview):
    index = (preview / "index.html").read_text()
    for chapter in CHAPTERS:
        assert f'href="{pathlib.Path(chapter).stem}.html"' in index
    assert 'href="references.html"' in index
    references = (preview / "references.html").read_text()
    for key in ("lipman2022flow", "liu2022rectified", "albergo2022building", "tong2023improving"):
        assert f'id="ref-{key}"' in references, f"{key} is cited, so it is listed"
    chapter_one = (preview / "01-paths.html").read_text()
    assert 'href="references.html#ref-lipman2022flow"' in chapter_one, "citations link to the list"
    assert "[-@lipman2022flow]" not in chapter_one


# --------------------------------------------------------------------------- the browser


def _installed() -> bool:
    for name, version in NPM_PACKAGES.items():
        manifest = ASSETS / "node_modules" / name / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text())["version"] != version:
            return False
    return True


@pytest.fixture(scope="module")
def assets():
    """The CDN scripts' npm copies, installed once into .browser-assets/ (git-ignored)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _needed("Playwright is not installed (pip install playwright; never `playwright install`)")
    if not os.path.exists(CHROMIUM):
        _needed(f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium")
    if not _installed():
        npm = shutil.which("npm")
        if npm is None:
            _needed("npm is missing: apt-get install -y --no-install-recommends npm")
        specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
        ASSETS.mkdir(exist_ok=True)
        run = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(ASSETS),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--ignore-scripts",
                "--loglevel=error",
                *specs,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if run.returncode != 0 or not _installed():
            _needed(f"npm could not install {' '.join(specs)}: {run.stderr[-2000:]}")
    return ASSETS / "node_modules"


CDN_COPIES = [  # a CDN address -> the file in node_modules that holds the same script
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^/]+/require(?:\.min)?\.js",
        r"requirejs/require.js",
    ),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^/]+/([^?#]+)", r"mathjax/\1"),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/jquery/[^/]+/(jquery[^/?#]*\.js)",
        r"jquery/dist/\1",
    ),
    (
        r"https://(?:cdnjs\.cloudflare\.com/ajax/libs|maxcdn\.bootstrapcdn\.com)/font-awesome/[^/]+/([^?#]+)",
        r"font-awesome/\1",
    ),
    (
        r"https://(?:unpkg\.com|cdn\.jsdelivr\.net/npm)/((?:@[^/@]+/)?[^/@]+)(?:@[^/]+)?/([^?#]+)",
        r"\1/\2",
    ),
]


FONT = re.compile(r"\.(?:woff2?|ttf|eot|svg|otf)$")


class Router:
    """Serves the preview and the CDN scripts' npm copies; refuses and records the rest.

    A file the preview lacks gets a 404, as from any web server, and is recorded in
    ``missing``: html-manager's bundled Font Awesome 5 asks for its fonts beside the page (its
    publicPath), which no deployment has; the other widgets' icons come from Font Awesome 4."""

    def __init__(self, book: pathlib.Path, modules: pathlib.Path):
        self.book, self.modules, self.refused, self.missing = book, modules, [], []

    def _file(self, route, path: pathlib.Path, strip_integrity: bool = False):
        if not path.is_file():
            if route.request.url.startswith(BOOK):
                self.missing.append(route.request.url)
                return route.fulfill(status=404, body="not found")
            self.refused.append(f"{route.request.url} (no {path})")
            return route.abort()
        body = path.read_bytes()
        if strip_integrity:  # a page's hashes name the CDN's bytes, not these copies'
            body = re.sub(rb'\sintegrity="[^"]*"', b"", body)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return route.fulfill(
            status=200, body=body, content_type=kind, headers={"Access-Control-Allow-Origin": "*"}
        )

    def __call__(self, route):
        url = route.request.url
        if url.startswith(BOOK):
            name = url[len(BOOK) :].split("?")[0].split("#")[0] or "index.html"
            return self._file(route, self.book / name, strip_integrity=name.endswith(".html"))
        if url.startswith("https://api.cdnjs.com/libraries/mathjax"):  # MathJax's latest.js asks
            version = json.loads((self.modules / "mathjax" / "package.json").read_text())["version"]
            return route.fulfill(
                status=200,
                body=json.dumps({"version": version}),
                content_type="application/json",
                headers={"Access-Control-Allow-Origin": "*"},
            )
        for pattern, local in CDN_COPIES:
            match = re.fullmatch(pattern, url.split("?")[0])
            if match:
                return self._file(route, self.modules / match.expand(local))
        self.refused.append(url)
        return route.abort()


@pytest.fixture(scope="module")
def browser(assets):
    with launched() as chromium:
        yield chromium


PICTURE = """el => [...el.querySelectorAll('img.fmkit-picture')].map(i => i.getAttribute('src')).join('|')"""
READY = """n => {
  const boxes = [...document.querySelectorAll('.fmkit-explorer')];
  return boxes.length >= n && boxes.every(b => b.querySelector('img.fmkit-picture') && b.querySelector('.widget-html-content'));
}"""
MATH = """() => {
  const hub = window.MathJax && window.MathJax.Hub;
  const sources = document.querySelectorAll('script[type^="math/tex"]').length;
  const shown = document.querySelectorAll('.MathJax_CHTML, .MathJax_Display, .MathJax').length;
  const errors = document.querySelectorAll('.MathJax_Error, merror').length
    + (document.body.innerText.includes('Math Processing Error') ? 1 : 0);
  return {ready: !!hub && !hub.queue.pending && !hub.queue.running, sources, shown, errors};
}"""
LONG_LINES = """limit => [...document.querySelectorAll('.jp-OutputArea-output')]
  .flatMap(e => e.innerText.split('\\n')).filter(line => line.length > limit).map(line => line.slice(0, 120))"""
WIDE = """column => [...document.querySelectorAll('.jp-OutputArea-output img')]
  .filter(img => img.naturalWidth > column || img.getBoundingClientRect().width > column + 1)
  .map(img => `${img.alt || img.className || 'img'}: ${img.naturalWidth} px`)"""


OVERFLOWING = """() => [...document.querySelectorAll('.fmkit-explorer')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => `${e.scrollWidth} > ${e.clientWidth}`)"""


def _moved(page, explorer, action, what: str) -> None:
    """Do ``action``; the explorer's picture must become a different one."""
    from playwright.sync_api import TimeoutError

    before = explorer.evaluate(PICTURE)
    action()
    try:
        page.wait_for_function(
            "([el, old]) => (" + PICTURE + ")(el) !== old", arg=[explorer, before], timeout=10_000
        )
    except TimeoutError:
        pytest.fail(f"{what} did not change the picture (without a kernel)")


def _explore(page, explorer) -> int:
    """Move every control of one explorer; return how many moves changed its picture."""
    assert explorer.query_selector_all("input:not([type=hidden]), textarea") == [], (
        "no free-text or number boxes"
    )
    moves = 0
    for handle in explorer.query_selector_all(".noUi-handle"):
        handle.scroll_into_view_if_needed()
        handle.focus()
        key = (
            "ArrowLeft"
            if handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            else "ArrowRight"
        )
        label = handle.evaluate("h => h.closest('.widget-slider').querySelector('label').innerText")
        _moved(
            page,
            explorer,
            lambda key=key: page.keyboard.press(key),
            f"the {label} slider, by {key}",
        )
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        def drag(x=x, y=y):
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 60, y, steps=4)
            page.mouse.up()

        _moved(page, explorer, drag, f"the {label} slider, dragged")
        moves += 2
    for button in explorer.query_selector_all("button.widget-toggle-button"):
        if "mod-active" not in (button.get_attribute("class") or ""):
            _moved(page, explorer, button.click, f"the {button.inner_text()} button")
            moves += 1
    for select in explorer.query_selector_all("select"):
        current = select.input_value()
        for value in [o.get_attribute("value") for o in select.query_selector_all("option")]:
            if value != current:
                _moved(
                    page,
                    explorer,
                    lambda select=select, value=value: select.select_option(value),
                    f"choosing {value!r}",
                )
                current = value
                moves += 1
    return moves


@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_reader_without_a_kernel_sees_math_working_explorers_and_nothing_too_wide(
    chapter, preview, assets, browser
):
    name = pathlib.Path(chapter).stem
    router = Router(preview, assets)
    page = browser.new_page(viewport=WINDOW)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.route("**/*", router)
        start = time.perf_counter()
        page.goto(f"{BOOK}{name}.html", wait_until="load")
        n_explorers = _explorer_cells(chapter)
        page.wait_for_function(READY, arg=n_explorers, timeout=60_000)
        page.wait_for_function(f"() => ({MATH})().ready", timeout=60_000)
        math = page.evaluate(MATH)
        assert math["sources"] > 0 and math["shown"] >= math["sources"] and math["errors"] == 0, (
            f"{name}: {math}"
        )
        explorers = page.query_selector_all(".fmkit-explorer")
        assert len(explorers) == n_explorers
        moves = []
        for explorer in explorers:
            assert explorer.query_selector(".widget-html-content").inner_text().strip(), "a readout"
            moves.append(_explore(page, explorer))
            assert moves[-1] >= 2, f"{name}: an explorer with fewer than two working moves"
        assert page.evaluate(LONG_LINES, LINE_LIMIT) == [], (
            f"{name}: an output line is longer than {LINE_LIMIT}"
        )
        assert page.evaluate(WIDE, COLUMN) == [], (
            f"{name}: figures wider than the {COLUMN} px text column"
        )
        page.set_viewport_size(NARROW)  # a column narrower than the explorers' own width
        assert page.evaluate(OVERFLOWING) == [], f"{name}: an explorer overflows a narrow column"
        assert router.refused == [], f"{name}: requests no copy answers: {router.refused}"
        assert [url for url in router.missing if not FONT.search(url)] == [], (
            f"{name}: missing files"
        )
        assert errors == [], f"{name}: script errors: {errors}"
        print(
            f"{name}: {sum(moves)} moves over {n_explorers} explorer(s) in {time.perf_counter() - start:.0f} s"
        )
    finally:
        page.close()
