"""Write the student edition of every chapter.

The chapters as committed are the instructor's edition: solutions sit between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, grading asserts between ``### BEGIN HIDDEN
TESTS`` and ``### END HIDDEN TESTS`` (nbgrader's syntax, so ``nbgrader generate_assignment``
works on them unchanged). The student edition replaces each solution by a stub that raises
``NotImplementedError``, drops the hidden tests and clears every output. It still runs top to
bottom: each check then reports "not attempted yet". Answer keys are markdown cells marked as
nbgrader's manually graded answers (``solution`` and ``grade`` in their nbgrader metadata);
the student edition replaces each with "YOUR ANSWER HERE", as ``nbgrader generate_assignment``
does, so the student writes the answer where the key was.

    python tools/make_student.py [--out student]
"""

from __future__ import annotations

import argparse
import pathlib
import re

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S
)
HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.M | re.S
)


def stub(match: re.Match) -> str:
    indent = match.group(1)
    return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"


def student_source(source: str) -> str:
    """One cell's source with solutions stubbed and hidden tests removed."""
    return HIDDEN.sub("", SOLUTION.sub(stub, source)).rstrip("\n")


ANSWER_STUB = "YOUR ANSWER HERE"


def is_answer_key(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell holding an instructor's answer (nbgrader: a manually graded answer)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "markdown" and bool(meta.get("solution"))


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        cell.source = ANSWER_STUB if is_answer_key(cell) else student_source(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            tags = [t for t in cell.metadata.get("tags", []) if t != "nbval-check-output"]
            cell.metadata.pop("tags", None)
            if tags:
                cell.metadata["tags"] = tags
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "student")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        nb = student_edition(nbformat.read(path, as_version=4))
        nbformat.write(nb, args.out / path.name)
        print(f"student edition: {args.out / path.name}")


if __name__ == "__main__":
    main()
