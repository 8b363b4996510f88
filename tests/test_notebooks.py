"""Every notebook is paired, the pair agrees, and it runs top to bottom in a fresh kernel."""

from __future__ import annotations

import pytest

from tools.notebooks import NOTEBOOKS, execute, inputs, stems

from support import jax_cache

NAMES = stems()  # tests/test_book.py checks that there are some


@pytest.fixture(scope="module", autouse=True)
def _shared_compilation_cache():
    """The kernels started here share the session's JAX compilation cache (tests/support.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAX_COMPILATION_CACHE_DIR", str(jax_cache()))
        patch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        yield


@pytest.mark.parametrize("name", NAMES)
def test_pair_exists(name):
    missing = [s for s in (".py", ".ipynb") if not (NOTEBOOKS / f"{name}{s}").exists()]
    assert not missing, f"notebook {name} lacks its paired {missing} (run `make notebooks`)"


@pytest.mark.parametrize("name", NAMES)
def test_pair_inputs_agree(name):
    py, ipynb = NOTEBOOKS / f"{name}.py", NOTEBOOKS / f"{name}.ipynb"
    if not (py.exists() and ipynb.exists()):
        pytest.fail(f"notebook {name} is not paired")
    assert inputs(py) == inputs(ipynb), (
        f"{py.name} and {ipynb.name} differ in their inputs: run `make notebooks`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_committed_ipynb_carries_outputs(name):
    nb_cells = __import__("jupytext").read(NOTEBOOKS / f"{name}.ipynb").cells
    code = [c for c in nb_cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), (
        f"{name}.ipynb is not fully executed: run `make notebooks`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_clean(name):
    nb, _ = execute(NOTEBOOKS / f"{name}.py")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
