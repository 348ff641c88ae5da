"""Build the book: `quarto render` when Quarto is installed, else a plain HTML preview.

The preview executes every chapter listed in _quarto.yml with nbconvert, storing the widget
state, so each explorer's page embeds its precomputed pictures and its controls work in the
browser without a kernel, as in the Quarto book. It writes `_book/<chapter>.html`, a
`references.html` built from references.bib (the chapters' citations link to it, as in the
book) and an `index.html` that links them all.

    python tools/build_book.py [--preview] [--out DIR] [CHAPTER ...]

`--preview` builds the preview even if Quarto is present; naming chapters (paths as listed
in _quarto.yml, or their stems) builds only those.
"""

from __future__ import annotations

import argparse
import datetime
import html
import pathlib
import re
import shutil
import subprocess
import sys
import time

import mistune
import nbformat
import yaml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE_STYLE = "max-width:50em;margin:auto;font-family:sans-serif;line-height:1.5"


def chapters() -> list[str]:
    """Every file listed in the book, in order, parts flattened."""
    book = yaml.safe_load((ROOT / "_quarto.yml").read_text())["book"]
    listed = []
    for entry in book["chapters"]:
        if isinstance(entry, str):
            listed.append(entry)
        else:
            part = [entry["part"]] if entry["part"].endswith((".qmd", ".md", ".ipynb")) else []
            listed += part + entry.get("chapters", [])
    return listed + book.get("appendices", [])


# --------------------------------------------------------------------------- references


def bibliography(path: pathlib.Path = ROOT / "references.bib") -> dict[str, dict[str, str]]:
    """The entries of a BibTeX file: key -> fields (lower-case names, braces removed)."""
    entries = {}
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", path.read_text(), re.S):
        kind, key, body = match.groups()
        fields = {"type": kind.lower()}
        for name, value in re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", body):
            fields[name.lower()] = re.sub(r"\s+", " ", value.replace("{", "").replace("}", ""))
        entries[key] = fields
    return entries


def _surnames(entry: dict[str, str]) -> list[str]:
    return [name.split(",")[0].strip() for name in entry.get("author", "").split(" and ")]


def _authors_short(entry: dict[str, str]) -> str:
    names = _surnames(entry)
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def cited(text: str, keys) -> list[str]:
    """The bibliography keys that ``text`` cites, in order of first citation."""
    found = re.findall(r"(?<![\w.])-?@([A-Za-z][\w:-]*\d{4}\w*)", text)
    return list(dict.fromkeys(k for k in found if k in keys))


def link_citations(
    text: str, entries: dict[str, dict[str, str]], target: str = "references.html"
) -> str:
    """Markdown with pandoc citations (``[@a; @b]``, ``[-@a]``, narrative ``@a``) written out
    as author-year links to the references page, as the book renders them."""

    def one(key: str, suppress_author: bool, narrative: bool) -> str:
        entry = entries[key]
        year = entry.get("year", "n.d.")
        if narrative:
            return f"[{_authors_short(entry)} ({year})]({target}#ref-{key})"
        return f"[{year if suppress_author else _authors_short(entry) + ' ' + year}]({target}#ref-{key})"

    def group(match: re.Match) -> str:
        items = [item.strip() for item in match.group(1).split(";")]
        parsed = [(item.lstrip("-").lstrip("@"), item.startswith("-")) for item in items]
        if not all(key in entries for key, _ in parsed):
            return match.group(0)  # not (only) citations: leave it alone
        return "(" + "; ".join(one(key, suppress, False) for key, suppress in parsed) + ")"

    text = re.sub(r"\[((?:\s*-?@[\w:-]+\s*;?)+)\]", group, text)
    return re.sub(
        r"(?<![\w.\[(/#-])@([A-Za-z][\w:-]*\d{4}\w*)",
        lambda m: one(m.group(1), False, True) if m.group(1) in entries else m.group(0),
        text,
    )


def _reference_html(key: str, entry: dict[str, str]) -> str:
    names = entry.get("author", "").split(" and ")
    authors = ", ".join(n.strip() for n in names)
    venue = entry.get("booktitle") or entry.get("journal") or entry.get("howpublished") or ""
    parts = [
        f"{html.escape(authors)} ({html.escape(entry.get('year', 'n.d.'))}).",
        f"<em>{html.escape(entry.get('title', key))}</em>.",
    ]
    parts += [f"{html.escape(text)}." for text in (venue, entry.get("note", "")) if text]
    return f'<li id="ref-{html.escape(key)}">{" ".join(parts)}</li>'


def render_references(out_dir: pathlib.Path, keys: list[str]) -> pathlib.Path:
    """The references page: every cited work, by first author, as ``references.qmd`` shows it
    in the Quarto book."""
    entries = bibliography()
    ordered = sorted(
        keys, key=lambda k: (_surnames(entries[k])[0].lower(), entries[k].get("year", ""))
    )
    items = "".join(_reference_html(key, entries[key]) for key in ordered)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>References</title></head>"
        f"<body style='{PAGE_STYLE}'><p><a href='index.html'>Flow Matching, hands-on</a></p>"
        f"<h1>References</h1><ul style='list-style:none;padding:0'>{items}</ul></body></html>"
    )
    target = out_dir / "references.html"
    target.write_text(page)
    return target


# --------------------------------------------------------------------------- pages


def _seconds(cell) -> float:
    """How long a cell took to run, from the timing nbclient records."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda stamp: datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def render_notebook(path: pathlib.Path, out_dir: pathlib.Path) -> pathlib.Path:
    """Execute a chapter, storing its widget state, and export it to HTML with its citations
    linked to the references page."""
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=600, kernel_name="python3", store_widget_state=True).preprocess(
        nb, {"metadata": {"path": str(path.parent)}}
    )
    explorers = [
        _seconds(c) for c in nb.cells if c.cell_type == "code" and "_explorer(" in c.source
    ]
    if explorers:
        print(f"  {path.name}: explorer cells ran in {', '.join(f'{s:.1f} s' for s in explorers)}")
    entries = bibliography()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = link_citations(cell.source, entries)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    target = out_dir / path.with_suffix(".html").name
    target.write_text(body)
    return target


def render_markdown(
    path: pathlib.Path, out_dir: pathlib.Path, links: list[pathlib.Path]
) -> pathlib.Path:
    text = path.read_text()
    if text.startswith("---"):  # drop the YAML front matter
        text = text.split("---", 2)[2]
    text = re.sub(r"\]\(notebooks/([^)]+)\.ipynb\)", r"](\1.html)", text)  # chapter links
    text = re.sub(r"\s*\{[.#][^}]*\}", "", link_citations(text, bibliography()))  # {.unnumbered}
    items = "".join(f'<li><a href="{p.name}">{html.escape(p.stem)}</a></li>' for p in links)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Flow Matching, hands-on</title></head>"
        f"<body style='{PAGE_STYLE}'>{mistune.html(text)}"
        f"<h2>Chapters</h2><ol>{items}</ol></body></html>"
    )
    target = out_dir / "index.html"
    target.write_text(page)
    return target


def _source_text(entry: str) -> str:
    path = ROOT / entry
    if entry.endswith(".ipynb"):
        return "\n".join(
            c.source for c in nbformat.read(path, 4).cells if c.cell_type == "markdown"
        )
    return path.read_text()


def _wanted(entry: str, only: list[str] | None) -> bool:
    return not only or entry in only or pathlib.Path(entry).stem in only


def preview(out_dir: pathlib.Path, only: list[str] | None = None) -> list[pathlib.Path]:
    """Build the preview into ``out_dir``: the chapters (those named in ``only``, else all),
    the references page and the index. Returns the chapter pages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    listed = chapters()
    pages = []
    for entry in listed:
        if entry.endswith(".ipynb") and _wanted(entry, only):
            start = time.perf_counter()
            pages.append(render_notebook(ROOT / entry, out_dir))
            size = pages[-1].stat().st_size / 1e6
            print(f"rendered {entry} in {time.perf_counter() - start:.0f} s: {size:.1f} MB")
    keys = bibliography()
    cites = [
        key
        for entry in listed
        if not entry.startswith("references")
        for key in cited(_source_text(entry), keys)
    ]
    references = render_references(out_dir, list(dict.fromkeys(cites)))
    for entry in listed:
        if entry.endswith((".qmd", ".md")) and pathlib.Path(entry).stem == "index":
            render_markdown(ROOT / entry, out_dir, pages + [references])
    print(f"HTML preview in {out_dir}/index.html (install Quarto for the full book: quarto render)")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="build the nbconvert preview even if Quarto is installed",
    )
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "_book")
    parser.add_argument("chapters", nargs="*", help="build only these chapters (preview only)")
    args = parser.parse_args()
    if shutil.which("quarto") and not args.preview and not args.chapters:
        sys.exit(subprocess.call(["quarto", "render"], cwd=ROOT))
    preview(args.out, args.chapters or None)


if __name__ == "__main__":
    main()
