"""The course's exercises, read from the chapters: the instructor's table in the README.

Each exercise is a markdown cell headed ``### Exercise K (kind): title`` with an
``*Objective:*`` line; its points are those of the graded cells that follow it (the check cell
of an implement or derive exercise, the answer-key cell of the others).

    python tools/exercises.py            # print the table as markdown
    python tools/exercises.py --check    # exit 1 unless the README holds the current table
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
from dataclasses import dataclass

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^### Exercise (\d+) \(([^)]+)\): (.+)$", re.M)
OBJECTIVE = re.compile(r"\*Objective:\*\s*(.+?)(?:\n\s*\n|\s\*|$)", re.S)
KINDS = ("implement", "derive", "predict, then run", "explain", "explore")
START, END = "<!-- exercises:start -->", "<!-- exercises:end -->"


@dataclass
class Exercise:
    chapter: int
    number: int
    kind: str
    title: str
    objective: str
    points: int
    cell: int  # index of its heading cell in the chapter


def chapters() -> list[pathlib.Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def exercises(path: pathlib.Path) -> list[Exercise]:
    """Every exercise of one chapter, in order, with the points of its graded cells."""
    cells = nbformat.read(path, as_version=4).cells
    chapter = int(path.name[:2])
    found: list[Exercise] = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        heading = HEADING.search(cell.source)
        if heading is None:
            if found and cell.metadata.get("nbgrader", {}).get("points"):
                found[-1].points += cell.metadata["nbgrader"]["points"]
            continue
        objective = OBJECTIVE.search(cell.source)
        found.append(
            Exercise(
                chapter,
                int(heading[1]),
                heading[2],
                heading[3].strip(),
                " ".join(objective[1].split()).rstrip(".") if objective else "",
                0,
                i,
            )
        )
        found[-1].points += cell.metadata.get("nbgrader", {}).get("points", 0)
    for exercise, following in zip(found, found[1:] + [None]):
        stop = following.cell if following else len(cells)
        exercise.points += sum(
            c.metadata.get("nbgrader", {}).get("points", 0)
            for c in cells[exercise.cell + 1 : stop]
            if c.cell_type == "code"
        )
    return found


def table() -> str:
    rows = ["| Ch. | Exercise | Kind | Objective it serves | Points |", "|---|---|---|---|---|"]
    total = 0
    for path in chapters():
        for ex in exercises(path):
            rows.append(
                f"| {ex.chapter} | {ex.number}. {ex.title} | {ex.kind} | {ex.objective} | {ex.points} |"
            )
            total += ex.points
    rows.append(f"| | **Total** | | | **{total}** |")
    return "\n".join(rows)


def readme_table() -> str:
    text = (ROOT / "README.md").read_text()
    if START not in text or END not in text:
        return ""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    current = table()
    if args.write:
        readme = ROOT / "README.md"
        text = readme.read_text()
        head, rest = text.split(START, 1)
        readme.write_text(f"{head}{START}\n{current}\n{END}{rest.split(END, 1)[1]}")
    elif args.check:
        sys.exit(
            0
            if readme_table() == current
            else "README's exercise table is stale: run tools/exercises.py --write"
        )
    else:
        print(current)


if __name__ == "__main__":
    main()
