"""Install bel (editable) with its ``dev`` and ``docs`` extras into the running environment.

``make`` runs it once per change of ``pyproject.toml``. It installs with uv, which resolves the
same versions as pip from the same places in a fraction of the time (about 15 s instead of 70 s
on a 2-core machine). uv does not read pip's configuration, so the package sources pip is set up
with here (``pip config list``: index URLs, find-links, constraints, certificate) are handed on to
it, and, like pip, it takes the best version across all of them. Should uv fail for any reason,
pip installs instead: nothing but speed depends on uv.

    python -m tools.install          # what `make` runs, from the repository root
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

REQUIREMENT = "-e.[dev,docs]"
UV = "uv>=0.13,<0.14"


def pip_config() -> dict[str, str]:
    """``{key: value}`` of pip's configuration, environment variables winning over files."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in out.splitlines():
        match = re.fullmatch(r"(:env:|[\w-]+)\.([\w-]+)='(.*)'", line.strip())
        if match:
            (env if match[1] == ":env:" else files)[match[2]] = match[3]
    return files | env


def uv_arguments(config: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The uv options and environment variables that give uv pip's package sources."""
    options = {"index-url": "--default-index", "extra-index-url": "--index",
               "find-links": "--find-links", "constraint": "--constraint"}  # fmt: skip
    args = ["--index-strategy", "unsafe-best-match"]  # pip's way: the best version anywhere
    for key, option in options.items():
        for value in config.get(key, "").split():
            args += [option, value]
    env = {"SSL_CERT_FILE": config["cert"]} if "cert" in config else {}
    return args, env


def main() -> int:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    try:
        subprocess.run([*pip, UV], check=True)
        args, env = uv_arguments(pip_config())
        command = [sys.executable, "-m", "uv", "pip", "install", "--quiet",
                   "--python", sys.executable, *args, REQUIREMENT]  # fmt: skip
        subprocess.run(command, check=True, env=os.environ | env)
        return 0
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"install: uv failed ({error}); installing with pip instead", file=sys.stderr)
    print("install:", shlex.join([*pip, REQUIREMENT]), file=sys.stderr)
    return subprocess.run([*pip, REQUIREMENT]).returncode


if __name__ == "__main__":
    sys.exit(main())
