"""Coursework: exercises in every chapter, one source for both editions, the student edition
runs unfinished, and nbgrader grades the instructor's solutions full and the stubs zero."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import exercises  # noqa: E402
import make_student  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _graded(cells, key):
    return [c for c in cells if c.metadata.get("nbgrader", {}).get(key)]


def _exercises(chapter):
    return exercises.exercises(chapter)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_exercises_of_every_kind(chapter):
    found = _exercises(chapter)
    kinds = [ex.kind for ex in found]
    assert set(kinds) <= set(exercises.KINDS), kinds
    assert kinds.count("implement") >= 2 and kinds.count("derive") >= 1
    assert "predict, then run" in kinds and ("explain" in kinds or "explore" in kinds)
    assert [ex.number for ex in found] == list(range(1, len(found) + 1)), (
        "exercises are numbered 1, 2, 3, ..."
    )
    cells = _cells(chapter)
    for ex in found:
        text = cells[ex.cell].source
        assert len(exercises.HEADING.findall(text)) == 1, f"one exercise per cell: {ex.title}"
        assert "*Why it matters:*" in text and ex.objective, (
            f"exercise {ex.number} says why and which objective"
        )
        assert ex.points > 0, f"exercise {ex.number} carries points"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_graded_cells_follow_the_pattern(chapter):
    cells = _cells(chapter)
    solutions, checks = _graded(cells, "solution"), _graded(cells, "grade")
    code_solutions = [c for c in solutions if c.cell_type == "code"]
    code_checks = [c for c in checks if c.cell_type == "code"]
    assert code_solutions and len(code_solutions) == len(code_checks)
    for cell in code_solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    for cell in code_checks:
        assert "checks.check_" in cell.source and "### BEGIN HIDDEN TESTS" in cell.source
        assert cell.metadata.nbgrader["points"] > 0 and cell.metadata.nbgrader["locked"]
        assert cell.outputs and cell.outputs[0]["text"].startswith("✓"), (
            "the instructor's solution passes its check"
        )
        hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[
            0
        ]
        asserts = [
            line
            for line in hidden.splitlines()
            if line.strip().startswith(("assert", "torch.testing.assert"))
        ]
        assert len(asserts) >= 2, f"hidden tests test more than the visible check:\n{cell.source}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_predict_explain_and_explore_exercise_has_an_answer_key(chapter):
    cells = _cells(chapter)
    for ex in _exercises(chapter):
        if ex.kind in ("implement", "derive"):
            continue
        key = cells[ex.cell + 1]
        meta = key.metadata.get("nbgrader", {})
        assert key.cell_type == "markdown" and meta.get("solution") and meta.get("grade"), (
            f"exercise {ex.number} ({ex.kind}) is followed by its answer key"
        )
        assert meta["points"] > 0 and meta["grade_id"].startswith(f"ch{int(chapter.name[:2])}-")
        assert "Answer key" in key.source and len(key.source) > 80


def _normalised_lines(code):
    """Code lines as compared for copying: no comments, docstrings, blank lines or spaces, and
    no leading `return` or assignment target, so `return a + b` copies `x = a + b`."""
    lines, in_doc = [], False
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.count('"""') % 2 == 1:
            in_doc = not in_doc
            continue
        if in_doc or stripped.startswith(("#", '"""', "def ")) or not stripped:
            continue
        stripped = re.sub(r"\s+#.*$", "", stripped)
        stripped = re.sub(r"^return\s+", "", stripped)
        stripped = re.sub(r"^[A-Za-z_][\w, ]*=(?!=)", "", stripped)
        lines.append(re.sub(r"\s+", "", stripped))
    return [line for line in lines if line]


def _solution_body(source):
    return source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_implement_solution_is_a_copy_of_an_earlier_cell(chapter):
    cells = _cells(chapter)
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        solution = set(_normalised_lines(_solution_body(cell.source)))
        assert solution, cell.source
        for earlier in cells[:i]:
            if earlier.cell_type == "code" and not earlier.metadata.get("nbgrader"):
                assert not solution <= set(_normalised_lines(earlier.source)), (
                    f"the solution of {cell.metadata.nbgrader['grade_id']} repeats an earlier cell:\n{earlier.source}"
                )


def test_the_copy_detector_sees_through_renaming_a_result():
    shown = "x_t = (1 - t) * x_0 + t * x_1   # the point on the line\ntarget = x_1 - x_0"
    assert set(_normalised_lines("return (1 - t) * x_0 + t * x_1")) <= set(_normalised_lines(shown))
    assert not set(
        _normalised_lines("t = torch.as_tensor(t)\nreturn (1 - t) * x_0 + t * x_1")
    ) <= set(_normalised_lines(shown))


def test_the_readme_holds_the_current_exercise_table():
    assert exercises.readme_table() == exercises.table(), "run: python tools/exercises.py --write"


def test_grade_ids_are_unique_across_the_course():
    ids = [
        c.metadata.nbgrader["grade_id"]
        for ch in CHAPTERS
        for c in _cells(ch)
        if "nbgrader" in c.metadata
    ]
    assert len(ids) == len(set(ids))


def test_student_source_stubs_solutions_and_drops_hidden_tests():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    assert (
        make_student.student_source(source)
        == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    check = "r = check(f)\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS\n"
    assert make_student.student_source(check) == "r = check(f)"


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_student.py"), "--out", str(out)], check=True
    )
    return out


def test_make_student_writes_every_chapter_without_solutions_or_outputs(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    for path in student_dir.glob("*.ipynb"):
        for cell in _cells(path):
            assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
            assert "Answer key" not in cell.source
            if make_student.is_answer_key(cell):
                assert cell.source == make_student.ANSWER_STUB
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in CHAPTERS])
def test_student_edition_runs_top_to_bottom_with_every_check_not_attempted(name, student_dir):
    nb = nbformat.read(student_dir / name, as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    checks = [c for c in _graded(nb.cells, "grade") if c.cell_type == "code"]
    assert checks
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "not attempted yet" in printed, printed


@pytest.fixture(scope="module")
def course(tmp_path_factory, student_dir):
    """A throwaway nbgrader course with chapter 1: released, then autograded for two students."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\nc.ExecutePreprocessor.timeout = 600\n"
    )
    chapter = CHAPTERS[0].name
    (root / "source" / "ch01").mkdir(parents=True)
    shutil.copy(CHAPTERS[0], root / "source" / "ch01" / chapter)
    env = {
        **os.environ,
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }

    def nbgrader(*args):
        run = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    nbgrader("generate_assignment", "ch01", "--force")
    for student, source in [("instructor", CHAPTERS[0]), ("unfinished", student_dir / chapter)]:
        (root / "submitted" / student / "ch01").mkdir(parents=True)
        shutil.copy(source, root / "submitted" / student / "ch01" / chapter)
    nbgrader("autograde", "ch01", "--create", "--force")
    return root


@pytest.mark.slow
def test_nbgrader_releases_the_chapter_without_solutions(course):
    released = _cells(course / "release" / "ch01" / CHAPTERS[0].name)
    assert not any("BEGIN SOLUTION" in c.source or "HIDDEN TESTS" in c.source for c in released)
    assert not any("Answer key" in c.source for c in released)
    keys = [c for c in _graded(released, "solution") if c.cell_type == "markdown"]
    assert keys and all(c.source == "YOUR ANSWER HERE" for c in keys)
    assert all(
        "raise NotImplementedError()" in c.source
        for c in _graded(released, "solution")
        if c.cell_type == "code"
    )


@pytest.mark.slow
def test_nbgrader_gives_full_marks_to_the_solutions_and_zero_to_the_stubs(course):
    """Autograded cells: full marks for the instructor's solutions, zero for the stubs. The
    answer-key cells are graded by hand; the unfinished edition's unchanged ones score zero."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        chapter = CHAPTERS[0].stem
        full = gradebook.find_submission_notebook(chapter, "ch01", "instructor")
        empty = gradebook.find_submission_notebook(chapter, "ch01", "unfinished")
        auto = [g for g in full.grades if g.cell_type == "code"]
        manual = [g for g in full.grades if g.cell_type == "markdown"]
        assert auto and manual
        assert all(g.score == g.max_score for g in auto)
        assert all(g.needs_manual_grade for g in manual), (
            "the instructor's answers wait for a human"
        )
        assert empty.score == 0 and not any(g.needs_manual_grade for g in empty.grades)
