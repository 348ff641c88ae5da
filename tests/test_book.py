"""The Quarto book: its structure, its references, and every chapter rendered to HTML
(the `make book` preview path, which is what a reader without Quarto gets)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHECKER = ROOT.parent / "shared" / "quarto" / "check_quarto.py"
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402

CHAPTERS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def test_quarto_yml_passes_quartos_schema():
    if not CHECKER.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Quarto's schema checker is missing at {CHECKER}")
        pytest.skip(f"Quarto's schema checker is not beside this checkout ({CHECKER}); CI runs it")
    run = subprocess.run([sys.executable, str(CHECKER), str(ROOT / "_quarto.yml")], capture_output=True, text=True)
    assert run.stdout.strip() == "OK", run.stdout + run.stderr


def test_the_book_lists_every_chapter_in_order_and_nothing_missing():
    listed = build_book.chapters()
    assert listed[0] == "index.qmd"
    for entry in listed:
        assert (ROOT / entry).exists(), f"_quarto.yml lists {entry}, which does not exist"
    notebooks = [e for e in listed if e.endswith(".ipynb")]
    assert notebooks == CHAPTERS, "every chapter notebook is listed, in numbered order"


def test_book_settings_are_deliberate():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    assert config["project"]["type"] == "book"
    assert config["execute"]["enabled"] is True and config["execute"]["freeze"] == "auto"
    html = config["format"]["html"]
    assert html["toc"] and html["number-sections"] and "code-fold" in html


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{(\w+),", (ROOT / "references.bib").read_text()))
    assert {"lipman2022flow", "liu2022rectified", "albergo2022building", "tong2023improving"} <= keys
    cited = set()
    for entry in build_book.chapters():
        path = ROOT / entry
        text = path.read_text() if entry.endswith(".qmd") else "\n".join(
            c.source for c in nbformat.read(path, 4).cells if c.cell_type == "markdown")
        cited |= set(re.findall(r"(?<![\w.])-?@([a-z]+\d{4}\w*)", text))
    assert cited, "the chapters cite the papers"
    assert cited <= keys, f"cited but missing from references.bib: {cited - keys}"
    assert {"lipman2022flow"} <= cited


def test_chapters_are_committed_without_bulky_outputs():
    for chapter in CHAPTERS:
        nb = nbformat.read(ROOT / chapter, 4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out["output_type"] in {"stream", "execute_result"}, f"{chapter}: {out['output_type']}"
                assert set(out.get("data", {})) <= {"text/plain"}, f"{chapter} stores rich output"
        assert len(json.dumps(nb)) < 100_000


def test_chapters_open_with_objectives_and_a_setup_cell_and_end_with_exercises():
    for chapter in CHAPTERS:
        cells = nbformat.read(ROOT / chapter, 4).cells
        assert cells[0].cell_type == "markdown" and "By the end of this chapter" in cells[0].source
        assert cells[1].cell_type == "code" and "seed_everything" in cells[1].source
        headings = [c.source for c in cells if c.cell_type == "markdown"]
        summary = next(i for i, h in enumerate(headings) if "## Summary" in h)
        assert any(h.startswith("## Exercises") for h in headings[summary:]), f"{chapter} ends with exercises"


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    build_book.preview(out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_renders_with_its_figures_and_no_errors(chapter, preview):
    name = pathlib.Path(chapter).stem
    page = (preview / f"{name}.html").read_text()
    cells = [c.source for c in nbformat.read(ROOT / chapter, 4).cells if c.cell_type == "code"]
    n_pictures = sum("plt.show()" in c or "_explorer(" in c for c in cells)  # figures and explorers
    n_animations = sum("animation_html(" in c for c in cells)
    images = page.count('src="data:image/png;base64')
    assert images >= n_pictures, f"{name}: {images} images for {n_pictures} figure cells"
    assert page.count("new Animation(") == n_animations, f"{name}: every animation is in the page"
    frames = re.findall(r'frames\[\d+\] = "data:image/png;base64', page)
    assert len(frames) >= 5 * n_animations, f"{name}: the animations hold their frames"
    assert "Traceback (most recent call last)" not in page and 'class="jp-OutputArea-output jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr"' not in page


@pytest.mark.slow
def test_preview_has_an_index_that_links_every_chapter(preview):
    index = (preview / "index.html").read_text()
    for chapter in CHAPTERS:
        assert f'href="{pathlib.Path(chapter).stem}.html"' in index
