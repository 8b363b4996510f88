"""`make lab` starts for this machine's user (root included) and serves a page; `make explorer`
gets the options it needs. (That `make explorer` prints its address and serves the app is checked
in tests/test_browser.py, on the server its browser tests use: one Voila server fewer.)

Each server runs on a free localhost port with scratch Jupyter folders, is asked for its page, and
is always stopped (its whole process group) at the end. ``-o .venv/.installed`` keeps make from
reinstalling the environment the tests already run in.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request
from pathlib import Path

from support import free_port, scratch_env, stop

ROOT = Path(__file__).resolve().parents[1]


def _serve(args: list[str], env: dict[str, str], url: str, log: Path, timeout: float) -> str:
    """Run `make ARGS`, fetch `url` once it answers, stop the server; return the page."""
    with log.open("w") as out:
        server = subprocess.Popen(
            ["make", "-s", "-o", ".venv/.installed", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kernels stop with it
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response:
                        assert response.status == 200
                        return response.read().decode("utf-8", "replace")
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        out.flush()
                        raise AssertionError(
                            f"make {args[0]} did not serve {url}:\n{log.read_text()[-3000:]}"
                        ) from None
                    time.sleep(0.5)
        finally:
            stop(server)


def test_make_lab_starts_for_this_user_and_serves_jupyterlab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
                f"--ServerApp.port_retries=0 --IdentityProvider.token={token}")  # fmt: skip
    page = _serve(
        ["lab", f"LAB_ARGS={lab_args}"],
        scratch_env(tmp_path),
        f"http://127.0.0.1:{port}/lab?token={token}",
        tmp_path / "lab.log",
        timeout=120,
    )
    assert "JupyterLab" in page


def test_allow_root_is_passed_to_jupyterlab_only_for_root():
    out = subprocess.run(["make", "-n", "-o", ".venv/.installed", "lab"], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert ("--allow-root" in out.stdout) == (os.geteuid() == 0), out.stdout


def test_make_explorer_culls_idle_kernels_and_keeps_the_jupytext_extension_out():
    out = subprocess.run(["make", "-n", "-o", ".venv/.installed", "explorer"], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "apps/explorer.ipynb" in out.stdout
    assert "--MappingKernelManager.cull_idle_timeout=120" in out.stdout
    assert "--MappingKernelManager.cull_connected=False" in out.stdout
    assert "extension_denylist=\"['jupyterlab-jupytext']\"" in out.stdout
    assert "--template=bel" in out.stdout and "apps/share" in out.stdout
