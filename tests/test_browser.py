"""The chapters as a student meets them: JupyterLab in headless Chromium.

A private JupyterLab (127.0.0.1, a random token, a free port, its own settings and a copy of
the chapters) is started once; for every chapter the test runs all cells, checks that no
cell shows an error, then moves every control of every explorer (each slider by keyboard
and by drag, each dropdown option, each toggle button) and checks that the picture changed.
The explorers switch between precomputed pictures in the browser (fmkit.widgets), so a move
needs no kernel round trip; the kernel is still running and must stay error-free. It saves a
screenshot per chapter and the control-to-picture latencies under test-output/browser/, and
stops the server by its PID.

Chromium comes from Debian (`apt-get install -y --no-install-recommends chromium`), Playwright
from PyPI; `.ci/run` installs both. Without a browser the tests say so: they fail under CI
(or with FMKIT_REQUIRE_BROWSER=1) and are skipped, with that message, elsewhere.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import pytest
from chromium import CHROMIUM, launched

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "test-output" / "browser"
CHAPTERS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
LATENCIES: list[float] = []

pytestmark = pytest.mark.browser


def _require_browser():
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed (pip install playwright; never `playwright install`)"
    if problem is None and not os.path.exists(CHROMIUM):
        problem = f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium"
    if problem:
        if os.environ.get("CI") or os.environ.get("FMKIT_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests cannot run: {problem}")
        pytest.skip(f"browser tests not run: {problem}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings: pathlib.Path) -> None:
    """No news or update checks (there is no network); every cell stays in the DOM."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, content in files.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(content))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    home = tmp_path_factory.mktemp("lab")
    for chapter in CHAPTERS:
        shutil.copy(
            ROOT / "notebooks" / chapter, home / chapter
        )  # the committed files stay untouched
    _write_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home}",
        "--ServerApp.open_browser=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError as err:
                if server.poll() is not None or time.time() > deadline:
                    log_tail = (home / "server.log").read_text()[-2000:]
                    raise RuntimeError(f"JupyterLab did not start: {log_tail}") from err
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()  # by PID: the server shuts its kernels down
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    with launched() as chromium:
        yield chromium


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in front
ALL_RAN = """() => {
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
  return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
}"""
ERRORS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
  .map(e => e.innerText).filter(t => t.includes('Traceback') || /\\w+Error\\b/.test(t))"""


KERNEL_IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
  .some(e => e.textContent.includes('| Idle'))"""


PICTURE = """el => [...el.querySelectorAll('img.fmkit-picture')].map(i => i.getAttribute('src')).join('|')"""


def _changed(page, explorer, action) -> float:
    """Do ``action`` on an idle kernel; wait until the explorer shows a different picture (and
    the kernel is idle again, so nothing late can pass for the next move's); return
    milliseconds."""
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    before = explorer.evaluate(PICTURE)
    start = time.perf_counter()
    action()
    page.wait_for_function(
        "([el, old]) => (" + PICTURE + ")(el) !== old", arg=[explorer, before], timeout=15_000
    )
    elapsed = 1000 * (time.perf_counter() - start)
    LATENCIES.append(elapsed)
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    return elapsed


def _exercise(page, explorer) -> int:
    """Move every control of one explorer (sliders, toggle buttons, dropdowns); return how
    many moves changed the picture."""
    moves = 0
    for handle in explorer.query_selector_all(".noUi-handle"):
        handle.scroll_into_view_if_needed()
        handle.focus()
        key = (
            "ArrowLeft"
            if handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            else "ArrowRight"
        )
        _changed(page, explorer, lambda key=key: page.keyboard.press(key))
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        def drag(x=x, y=y):
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 60, y, steps=4)
            page.mouse.up()

        _changed(page, explorer, drag)
        moves += 2
    for button in explorer.query_selector_all("button.widget-toggle-button"):
        if "mod-active" not in (button.get_attribute("class") or ""):
            _changed(page, explorer, button.click)
            moves += 1
    for select in explorer.query_selector_all("select"):
        current = select.input_value()
        for value in [o.get_attribute("value") for o in select.query_selector_all("option")]:
            if value != current:
                _changed(
                    page, explorer, lambda select=select, value=value: select.select_option(value)
                )
                current = value
                moves += 1
    return moves


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_jupyterlab_and_every_control_redraws(chapter, lab, browser):
    base, token = lab
    OUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        start = time.perf_counter()
        stem = pathlib.Path(chapter).stem
        page.goto(
            f"{base}/lab/workspaces/{stem}/tree/{chapter}?token={token}"
        )  # a fresh workspace each
        page.wait_for_selector(f"{PANEL} .jp-CodeCell", timeout=60_000)
        page.get_by_text(re.compile(r"\| Idle")).first.wait_for(timeout=60_000)  # the kernel is up
        page.click("li.lm-MenuBar-item:has-text('Run')")
        page.click(".lm-Menu-item:has-text('Run All Cells')")
        page.wait_for_function(ALL_RAN, timeout=240_000, polling=1000)
        ran = time.perf_counter()
        assert page.evaluate(ERRORS) == [], f"{chapter}: a cell shows an error"
        explorers = page.query_selector_all(f"{PANEL} .fmkit-explorer")
        assert explorers, f"{chapter} has an explorer"
        for explorer in explorers:
            assert explorer.query_selector("img.fmkit-picture"), (
                f"{chapter}: an explorer without its picture"
            )
        for explorer in explorers:
            assert _exercise(page, explorer) >= 2
        assert page.evaluate(ERRORS) == [], f"{chapter}: moving a control raised an error"
        explorers[-1].scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / f"{stem}.png"))
        print(
            f"{chapter}: opened and ran in {ran - start:.0f} s, explored in {time.perf_counter() - ran:.0f} s"
        )
    finally:
        page.close()
    summary = {
        "moves": len(LATENCIES),
        "median_ms": statistics.median(LATENCIES),
        "max_ms": max(LATENCIES),
    }
    (OUT / "latency.json").write_text(json.dumps(summary, indent=2))
    print(f"slider/dropdown to new picture: {summary}")
