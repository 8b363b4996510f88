"""Binder and conda, checked offline: no conda channel and no Docker daemon are needed.

- repo2docker (Binder's builder) prints the Dockerfile it would build: it must use
  binder/environment.yml and run binder/postBuild.
- environment.yml == binder/environment.yml, and both pin every runtime dependency of
  pyproject.toml at the version these tests run with.
- binder/postBuild runs twice in a scratch HOME against a fresh virtual environment that holds
  the pinned distributions (a stand-in for Binder's conda env), and leaves bel installed, both
  JupyterLab extensions enabled and the Jupytext default viewers in place.
- Every Binder link in the README opens a notebook that exists; `make binder-link` turns
  `git remote get-url origin` into real links.
"""

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment the tests run in (.venv/bin)
VIEWERS = {"python": "Jupytext Notebook"}
DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
SETTINGS_FILE = Path(".jupyter", "labconfig", "default_setting_overrides.json")
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/([^/\s]+/[^/\s]+)/HEAD\?labpath=([^)\s`]+)")
PATTERN = "https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/NAME.ipynb"
# PyPI name (canonical) -> conda-forge name, where they differ beyond "-" vs "_".
CONDA_NAME = {"matplotlib": "matplotlib-base"}


def _run(cmd, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    return subprocess.run([str(c) for c in cmd], **kwargs)


def _conda_pins(path: Path) -> dict[str, str]:
    """{canonical name: version} of the `name=version` entries of a conda environment file."""
    pins = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        name, _, version = dep.partition("=")
        pins[canonicalize_name(name)] = version
    return pins


# --- repo2docker ------------------------------------------------------------------------------


def test_repo2docker_builds_from_binder_folder():
    # --no-build needs no Docker daemon; the uid/name are Binder's, not this machine's root.
    out = _run(
        [BIN / "jupyter-repo2docker", "--no-build", "--debug", "--user-id", "1000",
         "--user-name", "jovyan", ROOT],
        cwd=ROOT,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "Building conda environment for python=3.11" in text
    assert "COPY --chown=1000:1000 src/binder/environment.yml" in text
    assert '--file "binder/environment.yml"' in text
    # With a binder/ folder the root environment.yml must play no part.
    assert not re.search(r"(?<!binder/)environment\.yml", text), "root environment.yml is used"
    assert "USER ${NB_USER}\n\n# Make sure that postBuild" in text  # postBuild runs as the user
    assert "RUN ./binder/postBuild" in text
    assert "binder/start" not in text  # no start script: nothing to do at launch


# --- environment files ------------------------------------------------------------------------


def test_environment_files_pin_the_runtime_dependencies():
    root_env, binder_env = ROOT / "environment.yml", ROOT / "binder" / "environment.yml"
    assert root_env.read_bytes() == binder_env.read_bytes(), "environment files differ"
    env = yaml.safe_load(root_env.read_text())
    assert env["name"] == "bel"
    assert env["channels"] == ["conda-forge", "nodefaults"]
    assert all(isinstance(d, str) for d in env["dependencies"]), "no pip section: see the header"
    pins = _conda_pins(root_env)
    assert pins.pop("python") == "3.11"
    assert "pip" in pins

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for req in map(Requirement, deps):
        name = canonicalize_name(req.name)
        conda = CONDA_NAME.get(name, name)
        assert conda in pins, f"{req.name} ({conda}) missing from environment.yml"
        pinned = Version(pins[conda])
        assert pinned in req.specifier, f"{conda}={pinned} outside pyproject's {req}"
        tested = Version(importlib.metadata.version(req.name))
        assert pinned == tested, f"{conda}={pinned}, but the tests run {req.name} {tested}"


# --- binder/postBuild -------------------------------------------------------------------------


def _mirror(src: Path, dst: Path, depth: int, skip=lambda name: False):
    """Real directories for `depth` levels below dst, symlinks into src beneath them."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if skip(item.name):
            continue
        if depth > 1 and item.is_dir() and not item.is_symlink():
            _mirror(item, dst / item.name, depth - 1)
        else:
            (dst / item.name).symlink_to(item)


def _not_for_stand_in(name: str) -> bool:
    return name == "__pycache__" or name.startswith(
        ("bel-", "__editable__.bel-", "__editable___bel_")
    )


def _stand_in_env(path: Path) -> Path:
    """A fresh venv holding the distributions the tests run with (= the pins), but not bel.

    `python -m venv --system-site-packages` would expose the *base* interpreter's packages, not
    this venv's, so the stand-in links this venv's site-packages entries and Jupyter data in,
    and gets console scripts bound to its own interpreter, as an installer would have made.
    """
    _run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    site = Path(sysconfig.get_paths()["purelib"])
    (new_site,) = path.glob("lib/python3*/site-packages")
    _mirror(site, new_site, 1, skip=_not_for_stand_in)
    _mirror(Path(sys.prefix, "share", "jupyter"), path / "share" / "jupyter", 2)
    shutil.copytree(Path(sys.prefix, "etc", "jupyter"), path / "etc" / "jupyter")
    python = path / "bin" / "python"
    for dist in importlib.metadata.distributions(path=[str(site)]):
        for ep in dist.entry_points.select(group="console_scripts"):
            script = path / "bin" / ep.name
            if script.exists():
                continue
            head = ep.attr.split(".")[0]
            script.write_text(
                f"#!{python}\nimport sys\nfrom {ep.module} import {head}\nsys.exit({ep.attr}())\n"
            )
            script.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The stand-in env and a copy of the repository after binder/postBuild ran twice."""
    tmp = tmp_path_factory.mktemp("binder")
    env_dir = _stand_in_env(tmp / "env")
    home, repo = tmp / "home", tmp / "repo"
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("bel", "binder"):
        shutil.copytree(ROOT / name, repo / name, ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, repo / name)
    # A setting postBuild must keep, and a stale viewer it must replace.
    settings = home / SETTINGS_FILE
    settings.parent.mkdir(parents=True)
    settings.write_text(
        json.dumps(
            {
                "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                DOCMANAGER: {"defaultViewers": {"python": "Editor"}},
            }
        )
    )

    venv_bins = {str(BIN), str(env_dir / "bin")}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in venv_bins]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "CONDA", "XDG_CONFIG_HOME"))
    }
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(env_dir / "bin"), *path]),
        PYTHONDONTWRITEBYTECODE="1",  # never write caches through the links into .venv
        PIP_NO_INPUT="1",
    )
    before = _run(["python", "-c", "import bel"], cwd=home, env=env)
    assert before.returncode != 0, "bel must not be in the stand-in before postBuild"
    runs = [_run([repo / "binder" / "postBuild"], cwd=repo, env=env, timeout=300) for _ in "12"]
    return {"env": env, "home": home, "repo": repo, "prefix": env_dir, "runs": runs}


def test_postbuild_runs_twice(built):
    for run in built["runs"]:
        assert run.returncode == 0, run.stdout + run.stderr
    # The stand-in really holds the pinned versions.
    pins = _conda_pins(ROOT / "binder" / "environment.yml")
    del pins["python"], pins["pip"]
    pypi = {conda: name for name, conda in CONDA_NAME.items()}
    names = [pypi.get(conda, conda) for conda in pins]
    code = (
        "import json, sys, importlib.metadata as m\n"
        "print(json.dumps([m.version(n) for n in sys.argv[1:]]))"
    )
    out = _run(["python", "-c", code, *names], env=built["env"], check=True)
    assert dict(zip(pins, json.loads(out.stdout), strict=True)) == pins


def test_postbuild_installs_bel_from_the_checkout(built):
    out = _run(
        ["python", "-c", "import bel; print(bel.__file__)"], cwd=built["home"], env=built["env"]
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(built["repo"])


def test_lab_extensions_enabled(built):
    out = _run(["jupyter", "labextension", "list"], env=built["env"])
    assert out.returncode == 0, out.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert str(built["prefix"]) in text, "listed the wrong environment"
    status = dict(re.findall(r"^\s*(\S+) v\S+ (enabled|disabled) +OK", text, flags=re.M))
    assert status.get("jupyterlab-jupytext") == "enabled", text
    assert status.get("@jupyter-widgets/jupyterlab-manager") == "enabled", text


def test_default_viewers_in_place(built):
    settings = json.loads((built["home"] / SETTINGS_FILE).read_text())
    assert settings[DOCMANAGER]["defaultViewers"] == VIEWERS
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    # And JupyterLab's own settings machinery (jupyterlab_server) turns them into the defaults.
    lab = built["prefix"] / "share" / "jupyter" / "lab"
    code = (
        "import json, sys; from jupyterlab_server.settings_utils import get_settings\n"
        "r, _ = get_settings(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4])\n"
        "print(json.dumps(r['schema']['properties']['defaultViewers']['default']))"
    )
    user = built["home"] / ".jupyter" / "lab" / "user-settings"
    args = [lab / "settings", lab / "schemas", user, DOCMANAGER]
    out = _run(["python", "-c", code, *args], env=built["env"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == VIEWERS


# --- README links and make binder-link --------------------------------------------------------


def test_readme_binder_links_open_existing_notebooks():
    readme = (ROOT / "README.md").read_text()
    assert readme.count(PATTERN) == 1, "README states the link pattern once"
    links = [link for link in BINDER_LINK.findall(readme) if link[1] != "notebooks/NAME.ipynb"]
    assert "https://mybinder.org/badge_logo.svg" in readme
    assert links, "no Binder link in README.md"
    assert links[0][1] == "notebooks/01_effective_weights.ipynb", "the top badge opens notebook 01"
    labpaths = [labpath for _, labpath in links]
    for name in NOTEBOOKS:
        assert f"notebooks/{name}.ipynb" in labpaths, f"{name} has no Binder badge"
    # OWNER/REPO stays a placeholder everywhere until the repository's public home is known.
    assert {repo for repo, _ in links} == {"OWNER/REPO"}
    missing = sorted({p for p in labpaths if not (ROOT / p).is_file()})
    assert not missing, f"README links to notebooks that do not exist: {missing}"


def _binder_link(tmp_path, remote):
    _run(["git", "init", "-q", tmp_path], check=True)
    if remote:
        _run(["git", "-C", tmp_path, "remote", "add", "origin", remote], check=True)
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "notebooks" / "01_demo.ipynb").write_text("{}")
    return _run(["make", "-s", "-f", ROOT / "Makefile", "binder-link"], cwd=tmp_path)


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/acme/bel.git",
        "https://github.com/acme/bel",
        "git@github.com:acme/bel.git",
        "ssh://git@github.com/acme/bel.git",
    ],
)
def test_make_binder_link(tmp_path, remote):
    out = _binder_link(tmp_path, remote)
    assert out.returncode == 0, out.stderr
    assert "https://mybinder.org/v2/gh/acme/bel/HEAD?labpath=notebooks/01_demo.ipynb" in out.stdout


@pytest.mark.parametrize("remote", [None, "https://gitlab.com/acme/bel.git"])
def test_make_binder_link_without_github_remote(tmp_path, remote):
    out = _binder_link(tmp_path, remote)
    assert out.returncode != 0
    assert "no GitHub remote" in out.stderr
    assert "mybinder.org/v2/gh/acme" not in out.stdout
