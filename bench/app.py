"""The explorer app (``make explorer``) in headless Chromium: seconds from the page request to the
panel's first picture, as a visitor meets them.

- ``app_first_picture_cold_s``: the first visit to a server started a moment ago with an empty
  JAX compilation cache (its pre-heated kernel is still being built; the page waits for it).
- ``app_first_picture_s``: median of three later visits, each once the next pre-heated kernel is
  ready (apps/voila.py; target <= 6 s with a warm compile cache).
- ``app_first_picture_restart_s``: the same after a restart, the compilation cache now warm.
- ``app_pooled_kernel_mb``: resident memory of the idle pre-heated kernel.

Needs Debian's ``chromium`` and ``playwright`` (as the browser tests do).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import free_port, launch, scratch_env, stop  # noqa: E402

POOL_READY = "is filled with 1 kernel(s)"


@contextmanager
def _app(env: dict[str, str], log: Path):
    port = free_port()
    command = ["make", "-s", "-o", ".venv/.installed", "explorer", f"EXPLORER_PORT={port}",
               "EXPLORER_CULL=5", "EXPLORER_CULL_INTERVAL=1",
               "EXPLORER_ARGS=--Voila.ip=127.0.0.1"]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}/", server
        finally:
            stop(server)


def _first_picture(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    start = time.monotonic()
    for _ in range(600):  # until the server answers
        try:
            page.goto(url, timeout=300_000)
            break
        except Exception:
            time.sleep(0.1)
    image = page.locator("img.widget-image").first.element_handle(timeout=300_000)
    page.wait_for_function("(i) => i.complete && i.naturalWidth > 0", arg=image, timeout=300_000)
    seconds = time.monotonic() - start
    page.close()
    return seconds


def _kernels(server: subprocess.Popen) -> list[tuple[int, float]]:
    """(pid, resident MB) of every ipykernel process the server has started."""
    ps = ["ps", "-eo", "pid=,ppid=,rss=,args="]
    rows = [line.split(None, 3) for line in subprocess.run(ps, capture_output=True, text=True)
            .stdout.splitlines()]  # fmt: skip
    parent = {int(r[0]): int(r[1]) for r in rows}

    def below(pid: int) -> bool:
        while pid > 1:
            if pid == server.pid:
                return True
            pid = parent.get(pid, 1)
        return False

    return [(int(r[0]), int(r[2]) / 1024) for r in rows
            if len(r) == 4 and "ipykernel" in r[3] and below(int(r[0]))]  # fmt: skip


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / 100


def _wait_for_pool(log: Path, server: subprocess.Popen, filled: int, quiet: bool = True) -> None:
    """Until Voila has started the ``filled``-th pooled kernel and, if ``quiet``, it has gone quiet
    (has run the app and compiled in the background): under 0.05 s of CPU time in a second."""
    deadline = time.monotonic() + 300
    while log.read_text().count(POOL_READY) < filled and time.monotonic() < deadline:
        time.sleep(0.2)
    used = -1.0
    while quiet and time.monotonic() < deadline:
        now = _cpu_seconds([pid for pid, _ in _kernels(server)])
        if now - used < 0.05:
            return
        used = now
        time.sleep(1)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        cache = Path(tmp, "cache")
        cache.mkdir()
        env = scratch_env(Path(tmp), cache)
        browser = launch(p)
        # a visit as soon as the server has started its pre-heated kernel (from then on Voila
        # hands that one to the page; a request before it would start a second kernel)
        with _app(env, Path(tmp, "cold.log")) as (url, server):
            _wait_for_pool(Path(tmp, "cold.log"), server, filled=1, quiet=False)
            print(f"app_first_picture_cold_s: {_first_picture(browser, url):.1f}")
        with _app(env, Path(tmp, "warm.log")) as (url, server):
            _wait_for_pool(Path(tmp, "warm.log"), server, filled=1, quiet=False)
            print(f"app_first_picture_restart_s: {_first_picture(browser, url):.1f}")
            warm = []
            for visit in range(3):
                _wait_for_pool(Path(tmp, "warm.log"), server, filled=visit + 2)
                if visit == 0:  # the newest kernel is the pooled one
                    print(f"app_pooled_kernel_mb: {max(_kernels(server))[1]:.0f}")
                warm.append(_first_picture(browser, url))
            print(f"app_first_picture_s: {statistics.median(warm):.1f}")
        browser.close()


if __name__ == "__main__":
    main()
