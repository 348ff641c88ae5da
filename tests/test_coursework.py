"""Coursework: exercises in every chapter, one source for both editions, the student edition
runs unfinished, and nbgrader grades the instructor's solutions full and the stubs zero."""

import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _graded(cells, key):
    return [c for c in cells if c.metadata.get("nbgrader", {}).get(key)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_implement_predict_and_explain_exercises(chapter):
    cells = _cells(chapter)
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "(implement)" in text and "(predict, then run)" in text
    assert "(explore)" in text or "(explain)" in text
    assert text.count("*Why it matters:*") >= 2
    solutions, checks = _graded(cells, "solution"), _graded(cells, "grade")
    assert solutions and len(solutions) == len(checks)
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    for cell in checks:
        assert "checks.check_" in cell.source and "### BEGIN HIDDEN TESTS" in cell.source
        assert cell.metadata.nbgrader["points"] > 0 and cell.metadata.nbgrader["locked"]
        assert cell.outputs and cell.outputs[0]["text"].startswith("✓"), "the instructor's solution passes its check"


def test_grade_ids_are_unique_across_the_course():
    ids = [c.metadata.nbgrader["grade_id"] for ch in CHAPTERS for c in _cells(ch) if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))


def test_student_source_stubs_solutions_and_drops_hidden_tests():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    assert make_student.student_source(source) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    check = "r = check(f)\n### BEGIN HIDDEN TESTS\nassert r\n### END HIDDEN TESTS\n"
    assert make_student.student_source(check) == "r = check(f)"


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_student.py"), "--out", str(out)], check=True)
    return out


def test_make_student_writes_every_chapter_without_solutions_or_outputs(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    for path in student_dir.glob("*.ipynb"):
        for cell in _cells(path):
            assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", [p.name for p in CHAPTERS])
def test_student_edition_runs_top_to_bottom_with_every_check_not_attempted(name, student_dir):
    nb = nbformat.read(student_dir / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    checks = _graded(nb.cells, "grade")
    assert checks
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "not attempted yet" in printed, printed


@pytest.fixture(scope="module")
def course(tmp_path_factory, student_dir):
    """A throwaway nbgrader course with chapter 1: released, then autograded for two students."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\nc.ExecutePreprocessor.timeout = 600\n")
    chapter = CHAPTERS[0].name
    (root / "source" / "ch01").mkdir(parents=True)
    shutil.copy(CHAPTERS[0], root / "source" / "ch01" / chapter)
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def nbgrader(*args):
        run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    nbgrader("generate_assignment", "ch01", "--force")
    for student, source in [("instructor", CHAPTERS[0]), ("unfinished", student_dir / chapter)]:
        (root / "submitted" / student / "ch01").mkdir(parents=True)
        shutil.copy(source, root / "submitted" / student / "ch01" / chapter)
    nbgrader("autograde", "ch01", "--create", "--force")
    return root


def test_nbgrader_releases_the_chapter_without_solutions(course):
    released = _cells(course / "release" / "ch01" / CHAPTERS[0].name)
    assert not any("BEGIN SOLUTION" in c.source or "HIDDEN TESTS" in c.source for c in released)
    assert all("raise NotImplementedError()" in c.source for c in _graded(released, "solution"))


def test_nbgrader_gives_full_marks_to_the_solutions_and_zero_to_the_stubs(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        full = gradebook.find_submission("ch01", "instructor")
        empty = gradebook.find_submission("ch01", "unfinished")
        assert full.max_score > 0
        assert full.score == full.max_score
        assert empty.score == 0
