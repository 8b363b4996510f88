"""The explorer in a real browser: JupyterLab and Voila, headless Chromium, driven through the page.

Starts each server from this virtual environment on a free localhost port, with scratch folders for
everything it writes (HOME, Jupyter config / data / runtime, Lab settings and workspaces) and the
session's JAX compilation cache, in Debian's ``chromium`` (driven by ``playwright``; never
``playwright install``): JupyterLab runs all cells of a copy of
``notebooks/03_diversity_explorer.ipynb``; ``make explorer`` prints its address and serves the
panel-only app (``apps/explorer.ipynb``; the HTML it sends holds the live panel, no error),
opened at 1280 and 390 px, with no failed request or console error.
Then it checks that the panel renders, moves the members slider, clicks
``random_sign`` and Train through the page, and checks that the picture changes (and shows exactly
the explorer's picture for the state the controls show), with no traceback and no "Error
displaying widget". Screenshots go to ``tests/artifacts/`` (not committed).

Skipped with a reason when Chromium or playwright is missing, unless ``CI=true``: then it fails.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from bel.explorer import DiversityExplorer

from support import browser_page, free_port, require_browser, scratch_env, stop

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03_diversity_explorer.ipynb"
ARTIFACTS = ROOT / "tests" / "artifacts"


def _scratch(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A root folder holding a copy of notebook 03 without outputs, and a scratch environment."""
    root = tmp / "root"
    root.mkdir()
    # No outputs or execution counts: the learner's "Run All" then numbers every cell afresh,
    # which is how the JupyterLab test knows the run has finished.
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, root / NOTEBOOK.name)
    env = scratch_env(tmp)
    return root, env


@contextmanager
def _server(command: list[str], root: Path, env: dict[str, str], ready: str, log_path: Path):
    """Run a server in its own process group until ``ready`` answers; always stop it."""
    log = log_path.open("w")
    server = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kernels it starts stop with it
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (an error status is an answer): the server is up
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(
                        f"{command[0]} did not start:\n" + log_path.read_text()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, with scratch folders; stopped at teardown."""
    require_browser()
    scratch = tmp_path_factory.mktemp("lab")
    root, env = _scratch(scratch)
    # no news or update checks (no network, and no pop-up over the notebook)
    notification = Path(env["JUPYTERLAB_SETTINGS_DIR"], "@jupyterlab", "apputils-extension")
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # every cell in the page (not only the visible ones), so that the test can read all outputs
    tracker = Path(env["JUPYTERLAB_SETTINGS_DIR"], "@jupyterlab", "notebook-extension")
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).with_name("jupyter-lab")),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    base = f"http://127.0.0.1:{port}"
    with _server(command, root, env, f"{base}/api/status?token={token}", scratch / "lab.log"):
        yield base, token


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``make explorer`` (the panel-only app, apps/explorer.ipynb, in Voila) on a free port, with
    scratch folders and the session's compilation cache; idle kernels culled after 4 s (instead
    of 2 minutes) so that the test sees it; stopped at teardown."""
    require_browser()
    scratch = tmp_path_factory.mktemp("app")
    env = scratch_env(scratch)
    port = free_port()
    command = ["make", "-s", "-o", ".venv/.installed", "explorer", f"EXPLORER_PORT={port}",
               "EXPLORER_CULL=4", "EXPLORER_CULL_INTERVAL=1",
               "EXPLORER_ARGS=--Voila.ip=127.0.0.1"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with _server(command, ROOT, env, f"{base}/voila/static/", scratch / "app.log"):
        yield base, scratch / "app.log"


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _changed(before: bytes, after: bytes) -> float:
    a, b = _pixels(before), _pixels(after)
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).max(axis=2) > 8).mean())


def _image_bytes(image) -> bytes:
    """The PNG an ``<img>`` in the page shows (the bytes the kernel sent)."""
    return base64.b64decode(
        image.evaluate(
            """async (img) => {
                const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                let text = '';
                for (const b of bytes) text += String.fromCharCode(b);
                return btoa(text);
            }"""
        )
    )


def _wait_for_change(image, before: bytes, what: str, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _image_bytes(image)
        if _changed(before, now) > 0.005:
            return now
        time.sleep(0.25)
    raise AssertionError(
        f"the explorer's figure did not change within {timeout:.0f} s after {what}"
    )


@functools.cache
def _reference_png() -> bytes:
    """The explorer's picture for 6 members and random signs, drawn here (once per module)."""
    reference = DiversityExplorer(members=6, init="random_sign")
    assert reference.wait_ready(timeout=300)  # its warm-up thread ends inside the first test
    return reference.png


def _drive_the_panel(page, panel, name: str) -> None:
    """Members slider, random_sign and Train through the page; the picture follows each."""
    image = panel.locator("img.widget-image").first
    image.wait_for(timeout=60_000)
    assert image.bounding_box()["width"] >= 900, "the explorer's picture is not shown 1:1"
    page.wait_for_function(
        "(panel) => panel.innerText.includes('ready')", arg=panel.element_handle(), timeout=60_000
    )
    before = _image_bytes(image)
    panel.screenshot(path=str(ARTIFACTS / f"03_{name}_panel_start.png"))

    # the members slider: focus its handle and step it up with the keyboard
    members = panel.locator(".widget-slider", has_text="members").first
    members.locator(".noUi-handle").first.focus()
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    assert members.locator(".widget-readout").first.inner_text().strip() == "6"
    after_members = _wait_for_change(image, before, "moving the members slider")
    panel.screenshot(path=str(ARTIFACTS / f"03_{name}_panel_members_6.png"))

    # init: click the random_sign toggle button; the kernel may still be busy with earlier
    # changes, so wait for the end state: exactly the explorer's picture for these controls
    panel.get_by_role("button", name="random_sign").first.click()
    _wait_for_change(image, after_members, "switching init to random_sign")
    expected = _reference_png()
    deadline = time.monotonic() + 60
    while _changed(_image_bytes(image), expected) > 0 and time.monotonic() < deadline:
        time.sleep(0.25)
    shown = _image_bytes(image)
    assert _changed(shown, expected) == 0.0, "the page shows a stale or mixed picture"
    assert _changed(before, shown) > 0.02
    panel.screenshot(path=str(ARTIFACTS / f"03_{name}_panel_random_sign.png"))
    assert "Could not" not in panel.inner_text()

    # Train: the progress bar fills, the status reports the training, the picture changes
    panel.get_by_role("button", name="Train").first.click()
    page.wait_for_function(
        "(panel) => panel.innerText.includes('trained 300 steps')",
        arg=panel.element_handle(),
        timeout=120_000,
    )
    bar = panel.locator(".progress-bar").first
    assert bar.evaluate("e => e.style.width") == "100%"
    _wait_for_change(image, shown, "training")
    panel.screenshot(path=str(ARTIFACTS / f"03_{name}_panel_trained.png"))


def _no_errors(text: str, errors: list[str]) -> None:
    assert "Error displaying widget" not in text
    assert "Traceback" not in text
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_explorer_renders_and_responds_in_jupyterlab(lab):
    require_browser()
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    base, token = lab
    with browser_page(1500, 1100, "03_lab_failure.png") as page:
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
        page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
        # the kernel must be up before "Run All" (the toolbar's kernel status says idle)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
            timeout=90_000
        )
        # JupyterLab may ask which kernel to start for a notebook without outputs: accept
        select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")
        try:
            select.wait_for(timeout=5_000)
            select.click()
        except PlaywrightTimeoutError:
            pass
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        # every code cell has run when each one shows an execution count, [1]: ... [n]:
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll(
                    '.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
                return prompts.length > 10 && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
            }""",
            timeout=300_000,
        )
        page.screenshot(path=str(ARTIFACTS / "03_lab_after_run_all.png"), full_page=False)
        _no_errors(page.locator(".jp-Notebook").first.inner_text(), errors)
        panel = page.locator(".jp-OutputArea-output .widget-vbox").first
        panel.scroll_into_view_if_needed()
        _drive_the_panel(page, panel, "lab")
        _no_errors(page.locator(".jp-Notebook").first.inner_text(), errors)


def _watch(page) -> list[str]:
    """Everything that went wrong on the page: script errors, console errors, failed requests."""
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    return problems


@contextmanager
def _app_page(app: str, width: int):
    """The app at ``width`` px in Chromium: yields the page, its problems (see :func:`_watch`),
    the panel's image, the seconds from the request to the first picture and the HTML the server
    sent. Screenshots of the page as it loaded (and as it failed) go to ``tests/artifacts/``."""
    with browser_page(width, 900, f"app_{width}_failure.png") as page:
        problems = _watch(page)
        start = time.monotonic()
        response = page.goto(f"{app}/", timeout=600_000)  # Voila sends the page once the app ran
        image = page.locator("img.widget-image").first
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0",
            arg=image.element_handle(timeout=300_000), timeout=300_000,
        )  # fmt: skip
        seconds = time.monotonic() - start
        print(f"app at {width} px: first picture {seconds:.1f} s after the request")
        page.screenshot(path=str(ARTIFACTS / f"app_{width}.png"), full_page=True)
        yield page, problems, image, seconds, response.text()


def _kernels_started(log: Path) -> list[str]:
    """The ids of the kernels the server has started (Voila logs each; its REST API is closed)."""
    return re.findall(r"Kernel started: ([0-9a-f-]+)", log.read_text())


def _culled(log: Path) -> set[str]:
    """The ids of the kernels the server has culled (jupyter_server logs "Culling … (id) …")."""
    return set(re.findall(r"Culling .*?\(([0-9a-f-]+)\)", log.read_text()))


def test_make_explorer_prints_its_address_and_serves_the_app_which_responds_at_1280_px(app):
    base, log = app
    with _app_page(base, 1280) as (page, problems, image, _, html):
        # `make explorer` said where to look (the fixture passed EXPLORER_PORT)
        assert f"http://localhost:{base.rsplit(':', 1)[1]}/" in log.read_text().splitlines()[0]
        assert "<title>explorer</title>" in html
        assert "application/vnd.jupyter.widget-view+json" in html  # the live panel
        # a cell that failed would show its traceback, or Voila's note that a cell failed
        assert "Traceback" not in html and "There was an error when executing cell" not in html
        text = page.locator("body").inner_text()
        assert "BatchEnsemble diversity explorer" in text and "random_sign" in text
        assert "Exercise" not in text and "%load" not in text and "solutions" not in text
        assert page.locator("img.widget-image").count() == 1  # the panel's picture only
        panel = page.locator(".widget-vbox").first
        _drive_the_panel(page, panel, "app")
        _no_errors(page.locator("body").inner_text(), problems)


def test_the_app_is_usable_at_390_px_and_its_kernel_is_culled_after_the_page_closes(app):
    # After the 1280 px test, this page gets the kernel Voila pre-heated after that visit; it has
    # been idle for longer than EXPLORER_CULL by now, which apps/voila.py's kernel manager must not
    # hold against it (without it, the culler shuts it down before the page connects).
    base, log = app
    with _app_page(base, 390) as (page, problems, image, _, _html):
        # the page itself does not scroll sideways: the controls stack, the picture scrolls
        # inside its own box
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page is {width} px wide at 390 px"
        for slider in page.locator(".widget-slider").all():
            track = slider.locator(".slider-container").first.bounding_box()
            assert track is not None and track["width"] >= 100, "a slider's track vanished"
            assert track["x"] + track["width"] <= 390 + 1, "a slider runs off the screen"
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('.widget-label, .widget-label-basic')]
                .filter(l => l.offsetParent && l.scrollWidth > l.clientWidth + 1)
                .map(l => l.textContent)"""
        )
        assert not clipped, f"labels cut short at 390 px: {clipped}"
        before = _image_bytes(image)
        members = page.locator(".widget-slider", has_text="members").first
        members.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        _wait_for_change(image, before, "moving the members slider at 390 px")
        page.screenshot(path=str(ARTIFACTS / "app_390_members_5.png"), full_page=True)
        _no_errors(page.locator("body").inner_text(), problems)
        # this page's kernel, as the page itself names it (with a pre-heated kernel, Voila has
        # already started the next one, so the log's newest kernel is not this page's)
        kernel = page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        assert kernel in _kernels_started(log)
        assert kernel not in _culled(log)  # kept while the page is open
        page.close()
    deadline = time.monotonic() + 60  # culled 4 s after the page closed (EXPLORER_CULL=4)
    while kernel not in _culled(log) and time.monotonic() < deadline:
        time.sleep(1)
    assert kernel in _culled(log), "the kernel outlived its page by a minute"
