"""What the tests that start servers or drive Chromium share (imported by those test modules).

Debian's Chromium driven by playwright; a free localhost port; scratch Jupyter folders so that no
test reads or writes the user's own settings; stopping a server's whole process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jax
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
SCRATCH = ("HOME", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
           "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR",
           "MPLCONFIGDIR")  # fmt: skip


def require_browser():
    """playwright's sync API, or a skip (a failure in CI) saying what is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium ({CHROMIUM}; install Debian's `chromium` package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[dev]')")
        sync_playwright = None
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: not skipping)")
        pytest.skip(message)
    return sync_playwright


def launch(playwright):
    """Debian's Chromium, headless, started by ``playwright``."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots of browser tests


@contextmanager
def browser_page(width: int, height: int, failure_png: str) -> Iterator:
    """A Chromium page ``width`` × ``height`` px (a skip, or a failure under CI=true, without
    Chromium); if the block raises, the page's screenshot goes to ``tests/artifacts/FAILURE_PNG``.
    The browser is always closed."""
    sync_playwright = require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        except Exception:
            if not page.is_closed():
                page.screenshot(path=str(ARTIFACTS / failure_png))
            raise
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jax_cache() -> Path:
    """The one JAX compilation cache of this test session (tests/conftest.py makes it): every
    server and kernel the tests start shares it, so each program compiles once per session."""
    return Path(os.environ["BEL_TEST_JAX_CACHE"])


def scratch_env(tmp: Path, cache: Path | None = None) -> dict[str, str]:
    """This environment with every Jupyter, IPython and matplotlib folder (and HOME) under ``tmp``,
    in a folder named after its variable; JAX's compilation cache is ``cache``, by default the
    session's (:func:`jax_cache`), also where the Makefile looks for it (``$HOME/.cache/bel/jax``).
    """
    cache = cache or jax_cache()
    env = dict(os.environ)
    for name in SCRATCH:
        (tmp / name).mkdir()
        env[name] = str(tmp / name)
    (tmp / "HOME" / ".cache" / "bel").mkdir(parents=True)
    (tmp / "HOME" / ".cache" / "bel" / "jax").symlink_to(cache, target_is_directory=True)
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def stop(server: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it started."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@contextmanager
def compiled() -> Iterator[list[float]]:
    """The seconds of every program XLA compiles inside the ``with`` block (a list, filled live)."""
    seconds: list[float] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            seconds.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield seconds
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
