"""`make lab`, run the way the README says, opens the course for any user (root included):
JupyterLab on 127.0.0.1, behind a token, serving the chapters, from an environment that
carries what a student needs and no grading or browser-test tools."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` with no browser on a free port; yields (base url, token, log path)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_TOKEN", "VIRTUAL_ENV"))
    }
    env["JUPYTER_RUNTIME_DIR"] = str(log.parent / "runtime")
    with open(log, "w") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_ARGS=--no-browser --port={port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        token, deadline = None, time.monotonic() + 600  # the first run installs the environment
        while token is None and time.monotonic() < deadline:
            assert process.poll() is None, "make lab stopped:\n" + log.read_text()[-3000:]
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", log.read_text())
            token = found and found[1]
            time.sleep(0.5)
        assert token, "JupyterLab did not print its link with a token:\n" + log.read_text()[-3000:]
        yield f"http://127.0.0.1:{port}", token, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the server it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_make_lab_serves_every_chapter_behind_a_token(lab):
    base, token, _ = lab
    status, listing = _get(f"{base}/api/contents?token={token}")
    assert status == 200
    assert sorted(re.findall(r'"name": ?"(\d\d-[\w-]+\.ipynb)"', listing)) == CHAPTERS
    assert _get(f"{base}/lab/tree/{CHAPTERS[0]}?token={token}")[0] == 200
    assert _get(f"{base}/api/contents")[0] == 403, "without the token the server refuses"


def test_make_lab_listens_on_loopback_only_and_runs_as_root_too(lab):
    _, _, log = lab
    text = log.read_text()
    assert "--ip=127.0.0.1" in text and "--allow-root" in text
    assert "Running as root is not recommended" not in text or "--allow-root" in text


def test_the_students_lab_carries_no_grading_or_browser_test_tools(lab):
    _, _, log = lab
    text = log.read_text()
    assert "nbgrader" not in text, "the student's JupyterLab loads no nbgrader extension"
    venv = ROOT / os.environ.get("VENV", ".venv")
    for tool in ("nbgrader", "playwright", "pytest"):
        found = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {tool}"], capture_output=True
        )
        assert found.returncode != 0, f"{tool} is in the student's environment"
    assert (
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import fmkit, ipywidgets, torch"]
        ).returncode
        == 0
    )
