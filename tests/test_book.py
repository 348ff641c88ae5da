"""The Quarto book: its structure and its references. (tests/test_static_book.py builds the
`make book` preview and reads it in a browser, as a reader without a kernel does.)"""

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

CHAPTERS = sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")
)


def test_quarto_yml_passes_quartos_schema():
    if not CHECKER.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Quarto's schema checker is missing at {CHECKER}")
        pytest.skip(f"Quarto's schema checker is not beside this checkout ({CHECKER}); CI runs it")
    run = subprocess.run(
        [sys.executable, str(CHECKER), str(ROOT / "_quarto.yml")], capture_output=True, text=True
    )
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
    assert {
        "lipman2022flow",
        "liu2022rectified",
        "albergo2022building",
        "tong2023improving",
    } <= keys
    cited = set()
    for entry in build_book.chapters():
        path = ROOT / entry
        text = (
            path.read_text()
            if entry.endswith(".qmd")
            else "\n".join(
                c.source for c in nbformat.read(path, 4).cells if c.cell_type == "markdown"
            )
        )
        cited |= set(re.findall(r"(?<![\w.])-?@([a-z]+\d{4}\w*)", text))
    assert cited, "the chapters cite the papers"
    assert cited <= keys, f"cited but missing from references.bib: {cited - keys}"
    assert {"lipman2022flow"} <= cited


def test_chapters_are_committed_without_bulky_outputs():
    for chapter in CHAPTERS:
        nb = nbformat.read(ROOT / chapter, 4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out["output_type"] in {"stream", "execute_result"}, (
                    f"{chapter}: {out['output_type']}"
                )
                assert set(out.get("data", {})) <= {"text/plain"}, f"{chapter} stores rich output"
        assert len(json.dumps(nb)) < 100_000


def test_chapters_open_with_objectives_and_a_setup_cell_and_end_with_exercises():
    for chapter in CHAPTERS:
        cells = nbformat.read(ROOT / chapter, 4).cells
        assert cells[0].cell_type == "markdown" and "By the end of this chapter" in cells[0].source
        assert cells[1].cell_type == "code" and "seed_everything" in cells[1].source
        headings = [c.source for c in cells if c.cell_type == "markdown"]
        summary = next(i for i, h in enumerate(headings) if "## Summary" in h)
        assert any(h.startswith("## Exercises") for h in headings[summary:]), (
            f"{chapter} ends with exercises"
        )


def test_one_references_page_closes_the_book():
    listed = build_book.chapters()
    assert listed[-1] == "references.qmd", "the references page comes last"
    page = (ROOT / "references.qmd").read_text()
    assert re.search(r"^# References \{\.unnumbered\}", page, re.M)
    assert re.search(r"^::: \{#refs\}\n:::", page, re.M), "Quarto puts the bibliography in #refs"
    assert yaml.safe_load((ROOT / "_quarto.yml").read_text())["bibliography"] == "references.bib"


def test_the_preview_writes_citations_as_links_to_the_references_page():
    entries = build_book.bibliography()
    text = "Lipman et al. [-@lipman2022flow] and CNFs [@chen2018neural; @grathwohl2019ffjord]; see @sec-x."
    linked = build_book.link_citations(text, entries)
    assert "Lipman et al. ([2023](references.html#ref-lipman2022flow))" in linked
    assert (
        "([Chen et al. 2018](references.html#ref-chen2018neural); [Grathwohl et al. 2019]" in linked
    )
    assert linked.endswith("see @sec-x."), "cross-references are not citations"
    assert build_book.cited(text, entries) == [
        "lipman2022flow",
        "chen2018neural",
        "grathwohl2019ffjord",
    ]
