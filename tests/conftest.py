"""Shared test configuration: hypothesis profiles and the session's JAX compilation cache.

Hypothesis: ``default`` turns deadlines off (the first example of every new shape pays for XLA
compilation, which has nothing to do with the code under test) and keeps the example count small
enough for a 2-core machine. ``thorough`` runs ten times as many examples, for occasional deeper
runs: ``HYPOTHESIS_PROFILE=thorough pytest`` (or ``make test-thorough``). Tests that need fewer
examples than the profile's (each example compiles) ask for a fraction of it,
``settings(max_examples=settings.default.max_examples // 4)``, so every ``@given`` test runs more
examples under ``thorough``.

JAX: one compilation cache folder for the session (``BEL_TEST_JAX_CACHE``), shared by the test
processes and every server and notebook kernel they start (tests/support.py), removed at the end;
all of them compile with XLA's older CPU fusion emitters, as bel's own programs do (below).
"""

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=240)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# pytest-xdist workers (`make test` runs two) inherit the folder from the controller, which made
# it, and which alone removes it at the end.
_OWNER = "BEL_TEST_JAX_CACHE" not in os.environ
if _OWNER:
    os.environ["BEL_TEST_JAX_CACHE"] = tempfile.mkdtemp(prefix="bel-test-jax-cache-")
_JAX_CACHE = os.environ["BEL_TEST_JAX_CACHE"]
# The test processes themselves use it too (set before anything imports jax): a program one worker,
# kernel or subprocess has compiled, the others load. tests/support.py's compiled() still sees a
# program loaded from the cache (JAX reports it as a compilation), so "compiles nothing" stays
# strict.
os.environ["JAX_COMPILATION_CACHE_DIR"] = _JAX_CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

# Every program of the test processes, and of the kernels, servers and subprocesses they start,
# compiles with XLA's older CPU fusion emitters, as bel's own programs do (bel/_jit.py): about a
# fifth less compile time for the tests' own programs and eager operations (test_layers and
# test_convert: 76 s -> 62 s). Both sides of every comparison compile alike; `make bench` and the
# notebooks outside the tests keep JAX's default for everything but bel's programs.
_EMITTERS = "--xla_cpu_use_fusion_emitters=false"
if _EMITTERS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_EMITTERS}".strip()


def pytest_unconfigure(config):
    if _OWNER:
        shutil.rmtree(_JAX_CACHE, ignore_errors=True)


# pytest-xdist: `make test` runs two workers with --dist loadgroup. The tests of a module whose
# module-scoped fixture is expensive (a subprocess with simulated devices, a server and a browser,
# a built panel or figure) form one group and run on one worker, so the fixture is built once;
# every other test goes to whichever worker is free.
_GROUPED = {"test_sharding", "test_book", "test_browser", "test_binder", "test_compare",
            "test_figure", "test_model", "test_widget"}  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in _GROUPED:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
