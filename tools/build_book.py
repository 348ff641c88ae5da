"""Build the book: `quarto render` when Quarto is installed, else a plain HTML preview.

The preview executes every chapter listed in _quarto.yml with nbconvert (widget state not
stored, so each explorer shows its static picture) and writes `_book/<chapter>.html` plus an
`index.html` that links them, so a reader without Quarto can still look at everything.

    python tools/build_book.py [--preview]      # --preview: skip Quarto even if present
"""

from __future__ import annotations

import argparse
import html
import re
import pathlib
import shutil
import subprocess
import sys

import mistune
import nbformat
import yaml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = pathlib.Path(__file__).resolve().parents[1]


def chapters() -> list[str]:
    """Every file listed in the book, in order, parts flattened."""
    book = yaml.safe_load((ROOT / "_quarto.yml").read_text())["book"]
    listed = []
    for entry in book["chapters"]:
        if isinstance(entry, str):
            listed.append(entry)
        else:
            listed += ([entry["part"]] if entry["part"].endswith((".qmd", ".md", ".ipynb")) else []) + entry.get("chapters", [])
    return listed + book.get("appendices", [])


def render_notebook(path: pathlib.Path, out_dir: pathlib.Path) -> pathlib.Path:
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=600, kernel_name="python3", store_widget_state=False).preprocess(
        nb, {"metadata": {"path": str(path.parent)}})
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    target = out_dir / path.with_suffix(".html").name
    target.write_text(body)
    return target


def render_markdown(path: pathlib.Path, out_dir: pathlib.Path, links: list[pathlib.Path]) -> pathlib.Path:
    text = path.read_text()
    if text.startswith("---"):  # drop the YAML front matter
        text = text.split("---", 2)[2]
    text = re.sub(r"\]\(notebooks/([^)]+)\.ipynb\)", r"](\1.html)", text)  # chapter links
    items = "".join(f'<li><a href="{p.name}">{html.escape(p.stem)}</a></li>' for p in links)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Flow Matching, hands-on</title></head>"
            f"<body style='max-width:50em;margin:auto;font-family:sans-serif'>{mistune.html(text)}"
            f"<h2>Chapters</h2><ol>{items}</ol></body></html>")
    target = out_dir / "index.html"
    target.write_text(page)
    return target


def preview(out_dir: pathlib.Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    for entry in chapters():
        if entry.endswith(".ipynb"):
            pages.append(render_notebook(ROOT / entry, out_dir))
            print(f"rendered {entry}")
    for entry in chapters():
        if entry.endswith((".qmd", ".md")) and pathlib.Path(entry).stem == "index":
            render_markdown(ROOT / entry, out_dir, pages)
    print(f"HTML preview in {out_dir}/index.html (install Quarto for the full book: quarto render)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preview", action="store_true", help="build the nbconvert preview even if Quarto is installed")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "_book")
    args = parser.parse_args()
    if shutil.which("quarto") and not args.preview:
        sys.exit(subprocess.call(["quarto", "render"], cwd=ROOT))
    preview(args.out)


if __name__ == "__main__":
    main()
